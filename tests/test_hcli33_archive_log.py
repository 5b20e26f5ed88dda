"""`archive --file` archives the file it is given, whatever ``[log] file`` says (hcli33).

`archive` was a WRITES command in ``common.LOG_USE``: refused up front when ``[log] file``
is a directory, also with ``--file COPY`` (or ``--stream``), which never open it. It is
checked where it will read, as the readers are: ``[log] file`` only when neither is given.
Real parts: the CLI in a subprocess, a site made by ``callguard init`` (hcli32's fixtures).
"""

from __future__ import annotations

from pathlib import Path

from tests.test_hcli32_log_use import _said, broken, copy, site  # noqa: F401 - fixtures
from tests.test_hnew30_log_file_unusable import _cli


def test_archive_of_a_given_file_is_not_refused(
        broken: tuple[str, Path], copy: Path, tmp_path: Path) -> None:  # noqa: F811
    config, log_dir = broken
    done = _cli("--config", config, "archive", "--file", str(copy), "--archive",
                str(tmp_path / "archive"), "--compact-all", "--json")
    assert _said(log_dir) not in done.stderr
    assert done.returncode == 0, done.stderr
    assert not any(log_dir.iterdir())


def test_archive_of_its_own_log_is_still_refused(broken: tuple[str, Path]) -> None:  # noqa: F811
    config, log_dir = broken
    done = _cli("--config", config, "archive")
    assert done.returncode == 2, done.stderr
    assert _said(log_dir) in done.stderr
    assert "Traceback" not in done.stderr


def _loop(where: Path) -> Path:
    """``where/a`` -> ``b`` -> ``a``: a symbolic link loop."""
    where.mkdir(parents=True, exist_ok=True)
    (where / "b").symlink_to(where / "a")
    (where / "a").symlink_to(where / "b")
    return where / "a"


def test_a_log_file_through_a_symlink_loop_is_a_usage_error(tmp_path: Path) -> None:
    """A relative ``[log] file`` is resolved against the configuration's directory; through
    a link loop that was "internal error: RuntimeError: Symlink loop" (exit 3)."""
    _loop(tmp_path / "loop")
    config = tmp_path / "callguard.toml"
    config.write_text('[log]\nfile = "loop/a/compliance.jsonl"\n')
    (tmp_path / "data").mkdir(mode=0o700)
    for args in (["tail"], ["check", "8015550142", "--campaign", "ut-solar-manual"]):
        done = _cli("--config", str(config), "--data-dir", str(tmp_path / "data"), *args)
        assert done.returncode == 2, (args, done.stderr)
        assert "symbolic link loop" in done.stderr, done.stderr
        assert "internal error" not in done.stderr


def test_demo_in_a_symlink_loop_is_a_usage_error(tmp_path: Path) -> None:
    loop = _loop(tmp_path / "loop")
    done = _cli("demo", "--data-dir", str(loop))
    assert done.returncode == 2, done.stderr
    assert "symbolic link loop" in done.stderr, done.stderr
    assert "internal error" not in done.stderr


def test_a_log_file_that_is_itself_a_loop_is_not_told_to_be_a_directory(
        tmp_path: Path) -> None:
    """hrev165: ``[log] file = "loop/a"`` with a -> b -> a said "point the link at a
    directory": done, every command then refuses the [log] file as a directory."""
    _loop(tmp_path / "loop")
    config = tmp_path / "callguard.toml"
    config.write_text('[log]\nfile = "loop/a"\n')
    (tmp_path / "data").mkdir(mode=0o700)
    done = _cli("--config", str(config), "--data-dir", str(tmp_path / "data"), "tail")
    said = " ".join(done.stderr.split())
    assert done.returncode == 2, done.stderr
    assert "symbolic link loop" in said, said
    assert "point the link at a directory" not in said, said
    assert "the log file" in said, said
