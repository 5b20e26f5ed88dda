"""A relative ``[log] file`` means the same file whatever directory a command runs in.

It was resolved against the working directory: ``config check`` run in /etc/callguard
and ``serve`` under systemd (working directory /) named two different files, and
``tail``/``evidence`` run from the admin's home read neither. It is now resolved against
the configuration file's directory, as ``data_dir``, ``token_file`` and ``secret_file``
are, by the one rule ``datadir.log_file`` that ``runtime.log_path`` and ``cli.locate``
share.
"""

from __future__ import annotations

from callguard.cli.locate import locate
from callguard.config import load_settings
from callguard.runtime import log_path
from tests.log_files import config


def test_relative_log_file_is_beside_the_configuration(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("CALLGUARD_DATA_DIR", raising=False)
    etc = tmp_path / "etc"
    etc.mkdir()
    path = config(etc, tmp_path / "data")
    path.write_text(path.read_text().replace('file = ""', 'file = "logs/compliance.jsonl"', 1))
    expected = etc / "logs" / "compliance.jsonl"
    elsewhere = tmp_path / "home"
    elsewhere.mkdir()
    for cwd in (etc, elsewhere, tmp_path):
        monkeypatch.chdir(cwd)
        assert log_path(load_settings(path)) == expected, cwd
        assert locate(path, None).log_file == expected, cwd


def test_relative_configuration_path_and_relative_log_file(tmp_path, monkeypatch) -> None:
    """``--config etc/node-a.toml`` from the parent: the log is still etc/logs/..."""
    monkeypatch.delenv("CALLGUARD_DATA_DIR", raising=False)
    etc = tmp_path / "etc"
    etc.mkdir()
    path = config(etc, tmp_path / "data")
    path.write_text(path.read_text().replace('file = ""', 'file = "logs/c.jsonl"', 1))
    monkeypatch.chdir(tmp_path)
    relative = path.relative_to(tmp_path)
    assert log_path(load_settings(relative)) == etc / "logs" / "c.jsonl"
    assert locate(relative, None).log_file == etc / "logs" / "c.jsonl"


def test_absolute_stdout_and_default_unchanged(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("CALLGUARD_DATA_DIR", raising=False)
    path = config(tmp_path, tmp_path / "data")
    assert log_path(load_settings(path)) == tmp_path / "data" / "compliance.jsonl"
    for target, expected in (("-", None), (str(tmp_path / "x.jsonl"), tmp_path / "x.jsonl")):
        path.write_text(config(tmp_path, tmp_path / "data").read_text().replace(
            'file = ""', f'file = "{target}"', 1))
        assert log_path(load_settings(path)) == expected
        assert locate(path, None).log_file == expected
