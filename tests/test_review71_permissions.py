"""Review of 2085b76: main's PermissionError line must itself never fail, and must know an
admin's path reached through a symlink.

``admins_path`` runs inside main's ``except PermissionError``: an error of its own there
was a bare traceback and exit 1 (``check``'s BLOCK, ``health``'s "down"). It asked
``Path(arg).exists()`` of every argument, which raises PermissionError itself in a working
directory this user may not search — the ordinary ``sudo -u callguard callguard tail``
from /root — and ``expanduser()`` raises RuntimeError on ``~nosuchuser/...``. And callguard
opens some paths resolved (``packs_dir``): with /etc/callguard a symlink, an unreadable
pack file of the admin's read "internal error", callguard's bug.
"""

from __future__ import annotations

import io
import os
import shutil
import sys
import tempfile
import traceback
from pathlib import Path

import pytest
from rich.console import Console

from callguard.cli import main as cli_main
from callguard.config import chosen_packs_dir
from tests.log_files import KEY_HEX, config
from tests.test_ux20_permissions import _run, site  # noqa: F401 - the fixture

NOBODY = 65534


def _as_nobody_in(cwd: Path, argv: list[str]) -> tuple[int, str]:
    """``callguard ARGV`` in a forked child that became uid/gid 65534 in ``cwd`` (the
    interpreter lives under /root here, so no subprocess could run as another user)."""
    # What the child imports on its way, imported now: it may not read /root's library.
    import pwd  # noqa: F401

    import callguard.cli.locate
    import callguard.cli.logs
    import callguard.resources
    import callguard.tomlfile  # noqa: F401

    Console(file=io.StringIO()).print("[red]warm[/red] up")
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 97
        try:
            os.close(read)
            out = os.fdopen(write, "w")
            sys.stdout = sys.stderr = out
            os.chdir(cwd)
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            sys.argv = ["callguard", *argv]
            try:
                cli_main.main()
                code = 0
            except SystemExit as done:
                code = done.code if isinstance(done.code, int) else 1
            except BaseException:  # noqa: BLE001 - what escaped main, shown to the test
                traceback.print_exc(file=out)
                code = 98
            out.flush()
        finally:
            os._exit(code)
    os.close(write)
    with os.fdopen(read) as pipe:
        text = pipe.read()
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), text


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to become another user")
def test_an_unreadable_log_from_a_directory_this_user_may_not_search(tmp_path, monkeypatch):
    """The case the line was made for: an admin outside the service's group (here: nobody)
    runs ``tail`` from a home it may not search. It was a bare traceback, exit 1."""
    for name in ("CALLGUARD_CONFIG", "CALLGUARD_DATA_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CALLGUARD_LOG_KEY", KEY_HEX)
    site_dir = Path(tempfile.mkdtemp(prefix="review71-", dir="/tmp"))  # pytest's is 0700
    try:
        site_dir.chmod(0o755)
        (site_dir / "data").mkdir(mode=0o755)
        path = config(site_dir, site_dir / "data")
        path.chmod(0o644)
        log = site_dir / "data" / "compliance.jsonl"
        log.write_text("{}\n")
        log.chmod(0o600)  # the service's, root's here
        home = tmp_path / "root-home"
        home.mkdir(mode=0o700)
        code, said = _as_nobody_in(home, ["--config", str(path), "tail"])
    finally:
        shutil.rmtree(site_dir)
    assert "Traceback" not in said, said
    assert code == 2, said
    assert f"permission denied: {log}" in " ".join(said.split())


def test_a_pack_file_through_a_symlinked_configuration_directory(site, monkeypatch,  # noqa: F811
                                                                   capsys):
    """/etc/callguard a link: callguard opens the packs resolved, so that is the name."""
    real = site.parent
    link = real.parent / "etc-link"
    link.symlink_to(real, target_is_directory=True)
    through = link / site.name
    pack = chosen_packs_dir(through, "jurisdictions") / "us-ut.toml"
    assert real in pack.parents  # the name a PermissionError on it carries
    code, err = _run(monkeypatch, capsys, PermissionError(13, "Permission denied", str(pack)),
                     "--config", str(through))
    assert code == 2, err
    assert f"permission denied: {pack}" in err


def test_an_argument_naming_no_home_does_not_break_the_line(site, monkeypatch,  # noqa: F811
                                                            capsys):
    """``~nosuchuser/...`` on the command line: expanduser raised RuntimeError, and main
    ended in a traceback instead of "permission denied"."""
    key = site.parent.parent / "data" / "log.key"
    code, err = _run(monkeypatch, capsys, PermissionError(13, "Permission denied", str(key)),
                     "--config", str(site), after=("~nosuchuser-review71/leads.csv",))
    assert code == 2, err
    assert f"permission denied: {key}" in err


def test_a_file_named_in_a_directory_this_user_may_not_search(site, monkeypatch,  # noqa: F811
                                                              capsys, tmp_path):
    """``dnc import national.txt`` from a home the user may not search: the file is not
    found there (no ``exists()``), and is the admin's all the same. It read "internal
    error", callguard's bug."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.chdir(home)  # national.txt not to be seen from here
    code, err = _run(monkeypatch, capsys,
                     PermissionError(13, "Permission denied", "national.txt"),
                     "--config", str(site), after=("national.txt",))
    assert code == 2, err
    assert "permission denied: national.txt" in err


def test_a_relative_argument_with_dotdot_opened_resolved(site, monkeypatch, capsys,  # noqa: F811
                                                         tmp_path):
    """``--file ../copies/c.jsonl`` given, the file opened resolved: one path, two names."""
    (tmp_path / "copies").mkdir()
    (tmp_path / "home").mkdir()
    monkeypatch.chdir(tmp_path / "home")
    opened = (Path("../copies/c.jsonl")).resolve()
    code, err = _run(monkeypatch, capsys, PermissionError(13, "Permission denied", str(opened)),
                     "--config", str(site), after=("../copies/c.jsonl",))
    assert code == 2, err
