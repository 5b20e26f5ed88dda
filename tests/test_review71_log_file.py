"""Review of 88a0cb3: a relative ``[log] file`` moved from the working directory to the
configuration's, and a log left at the old place is out of every reader's sight.

``tail``, ``evidence``, ``report``, the supervisor page, ``archive`` and ``purge`` now all
read the new place (one rule, ``datadir.log_file``). A node whose relative file was read
against a working directory where it could write (a unit with ``WorkingDirectory=``)
starts writing beside the configuration after the upgrade: the records before it are
found by no command and never purged at their retention. Every start says so, naming
both places, while the old file (or a rotated segment of it) is there.
"""

from __future__ import annotations

from pathlib import Path

from structlog.testing import capture_logs

from callguard.compliance.logkey import NumberProtector
from callguard.config import load_settings
from callguard.runtime import open_compliance_log
from tests.log_files import config


def _site(tmp_path: Path) -> Path:
    etc = tmp_path / "etc"
    etc.mkdir()
    path = config(etc, tmp_path / "data")
    path.write_text(path.read_text().replace('file = ""', 'file = "logs/c.jsonl"', 1))
    return path


def _warnings(path: Path) -> list[dict[str, object]]:
    with capture_logs() as logs:
        open_compliance_log(load_settings(path), NumberProtector(b"k" * 32))
    return [entry for entry in logs if entry["event"] == "compliance_log_moved"]


def test_a_log_left_in_the_old_working_directory_is_named_at_start(tmp_path, monkeypatch):
    monkeypatch.delenv("CALLGUARD_DATA_DIR", raising=False)
    path = _site(tmp_path)
    old = tmp_path / "var" / "logs" / "c.jsonl"
    old.parent.mkdir(parents=True)
    old.write_text("{}\n")
    monkeypatch.chdir(tmp_path / "var")  # where serve ran, and wrote, before
    said = _warnings(path)
    assert len(said) == 1, said
    assert said[0]["was"] == str(old)
    assert said[0]["now"] == str(tmp_path / "etc" / "logs" / "c.jsonl")


def test_a_rotated_segment_alone_is_named_too(tmp_path, monkeypatch):
    monkeypatch.delenv("CALLGUARD_DATA_DIR", raising=False)
    path = _site(tmp_path)
    old = tmp_path / "var" / "logs" / "c.jsonl"
    old.parent.mkdir(parents=True)
    (old.parent / "c.jsonl.20261201T000000Z").write_text("{}\n")
    monkeypatch.chdir(tmp_path / "var")
    assert len(_warnings(path)) == 1


def test_no_warning_where_the_places_agree_or_nothing_was_left(tmp_path, monkeypatch):
    monkeypatch.delenv("CALLGUARD_DATA_DIR", raising=False)
    path = _site(tmp_path)
    (tmp_path / "etc" / "logs").mkdir()
    (tmp_path / "etc" / "logs" / "c.jsonl").write_text("{}\n")
    monkeypatch.chdir(tmp_path / "etc")  # the same file either way
    assert _warnings(path) == []
    monkeypatch.chdir(tmp_path)  # nothing at tmp_path/logs
    assert _warnings(path) == []
