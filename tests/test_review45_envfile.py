"""callguard-admin's secrets.env reader, reviewed (hrev45) against systemd's
``parse_env_file_internal`` (src/basic/env-file.c) and ``read_full_stream_full``
(src/basic/fileio.c), and as a program root runs.

- systemd reads the file's bytes: ``\\r`` ends a line (``NEWLINE`` is "\\n\\r") and is kept
  inside quotes. Python's text mode turned ``\\r\\n`` into ``\\n``, so a backslash at the end
  of a CRLF line joined the next assignment onto the value (systemd eats the ``\\r`` and
  ends the line at the ``\\n``).
- A NUL: systemd refuses the whole file (EBADMSG); the reader raised a bare ValueError
  from ``os.environ.update`` (a traceback, exit 1).
- Not UTF-8: the error named a byte position and the byte, not the line.
- An error printed the text before ``=``, which on a mistyped line may be a secret.
- Root: the file's variables were put in root's own environment before it ran ``setpriv``
  found on the file's ``PATH``, ``LD_PRELOAD`` honoured: whoever could write the file ran
  code as root. The file was not checked for who can write it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from callguard.envfile import EnvFileError, parse_bytes
from tests.admin_venv import admin_python

ROOT = Path(__file__).resolve().parent.parent
ADMIN = ROOT / "systemd" / "callguard-admin"

as_root = pytest.mark.skipif(os.geteuid() != 0 or shutil.which("id") is None,
                             reason="callguard-admin re-runs itself with sudo otherwise")


def admin(env_file: Path, *args: str, bin_: str = "/usr/bin/env",
          **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ADMIN), *args],
        env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "CALLGUARD_SERVICE_USER": "nobody",
             "CALLGUARD_ENV_FILE": str(env_file), "CALLGUARD_BIN": bin_,
             "CALLGUARD_PYTHON": admin_python(), **extra},
        capture_output=True, text=True, check=False, timeout=30)


def env_of(output: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in output.splitlines() if "=" in line)


def secrets(tmp_path: Path, data: bytes, mode: int = 0o600) -> Path:
    path = tmp_path / "secrets.env"
    path.write_bytes(data)
    path.chmod(mode)
    return path


def test_crlf_lines_read_as_systemd_reads_them() -> None:
    # VALUE_ESCAPE eats the \r, VALUE ends the line at the \n; quotes keep both.
    assert parse_bytes(b"A=foo\\\r\nB=bar\r\n") == {"A": "foo", "B": "bar"}
    assert parse_bytes(b'A="x\r\ny"\r\nB=\'p\rq\'\r\n') == {"A": "x\r\ny", "B": "p\rq"}
    assert parse_bytes(b"A=1\rB=2\r") == {"A": "1", "B": "2"}  # a lone \r ends a line
    assert parse_bytes(b"# caf\xe9 in a comment\nA=1\n") == {"A": "1"}  # never pushed


def test_errors_name_the_line_never_the_text() -> None:
    with pytest.raises(EnvFileError, match=r"^line 3: a NUL") as nul:
        parse_bytes(b"A=1\r\n\r\nB=s3cr\0t\n")
    assert "s3cr" not in str(nul.value)
    with pytest.raises(EnvFileError, match=r"^line 2: B's value is not UTF-8") as latin:
        parse_bytes(b"A=1\nB=s3cr\xe9t\n")
    assert "s3cr" not in str(latin.value)
    with pytest.raises(EnvFileError, match=r"^line 3: the text before") as key:
        parse_bytes(b'A="two\nlines"\nhunter2 x=1\n')  # the line the assignment starts on
    assert "hunter2" not in str(key.value)


@as_root
def test_admin_reads_a_crlf_file_as_the_service_gets_it(tmp_path) -> None:
    result = admin(secrets(tmp_path, b"CALLGUARD_A=foo\\\r\nCALLGUARD_B=bar\r\n"))
    assert result.returncode == 0, result.stderr
    got = env_of(result.stdout)
    assert (got["CALLGUARD_A"], got["CALLGUARD_B"]) == ("foo", "bar")


@as_root
@pytest.mark.parametrize(("data", "said"), [
    (b"CALLGUARD_A=1\nCALLGUARD_B=s3cr\0t\n", "line 2: a NUL byte"),
    (b"CALLGUARD_A=1\nCALLGUARD_B=s3cr\xe9t\n", "line 2: CALLGUARD_B's value is not UTF-8"),
    (b"CALLGUARD_A=1\nexport CALLGUARD_B=s3cret\n", "line 2: the text before"),
])
def test_admin_refuses_what_systemd_refuses_naming_the_line(tmp_path, data, said) -> None:
    env_file = secrets(tmp_path, data)
    result = admin(env_file, "-c", "echo ran", bin_="/bin/sh")
    assert result.returncode == 2, result.stderr
    assert "ran" not in result.stdout
    assert f"cannot read {env_file}: {said}" in result.stderr
    assert "Traceback" not in result.stderr
    assert "s3cr" not in result.stderr
    assert "0xe9" not in result.stderr


def _trap(tmp_path: Path) -> tuple[Path, Path]:
    """A directory whose programs record that root ran them, and the record."""
    trap = tmp_path / "trap"
    trap.mkdir()
    marker = tmp_path / "ran-as"
    for name in ("setpriv", "python3", "env", "sh", "id"):
        program = trap / name
        program.write_text(f"#!/bin/sh\n/usr/bin/id -u >> {marker}\n")
        program.chmod(0o755)
    trap.chmod(0o755)
    tmp_path.chmod(0o777)  # nobody may run what is in there, and write its record
    return trap, marker


@as_root
def test_the_files_path_and_preload_never_reach_root(tmp_path) -> None:
    """PATH (and LD_PRELOAD, PYTHONPATH) in secrets.env apply to the service user's
    command, as to the service; root runs nothing with them."""
    trap, marker = _trap(tmp_path)
    # Not in tmp_path, which nobody may write: root reads no file from such a directory.
    env_file = secrets(Path(tempfile.mkdtemp()), f"PATH={trap}\nCALLGUARD_A=1\n".encode())
    result = admin(env_file)
    assert result.returncode == 0, result.stderr
    ran_as = marker.read_text().split() if marker.exists() else []
    assert "0" not in ran_as, "a program on secrets.env's PATH ran as root"
    got = env_of(result.stdout)
    assert (got["PATH"], got["CALLGUARD_A"]) == (str(trap), "1")  # the command has them


@as_root
@pytest.mark.parametrize(("mode", "owner"), [(0o620, 0), (0o606, 0), (0o600, 65534)])
def test_a_file_root_alone_did_not_write_is_refused_unread(tmp_path, mode, owner) -> None:
    env_file = secrets(tmp_path, b"CALLGUARD_A=s3cret\n", mode)
    os.chown(env_file, owner, 0)
    result = admin(env_file, "-c", "echo ran", bin_="/bin/sh")
    assert result.returncode == 2, result.stderr
    assert "ran" not in result.stdout
    assert "only root may write it" in result.stderr
    assert "s3cret" not in result.stderr


@as_root
def test_a_fifo_is_refused_not_waited_on(tmp_path) -> None:
    fifo = tmp_path / "secrets.env"
    os.mkfifo(fifo, 0o600)
    result = admin(fifo, "-c", "echo ran", bin_="/bin/sh")
    assert result.returncode == 2, result.stderr
    assert "not a regular file" in result.stderr


def test_a_line_after_a_comment_ending_in_a_backslash_is_refused() -> None:
    """env-file.c COMMENT_ESCAPE: before systemd 254 (Debian 12, RHEL 9, Ubuntu 22.04)
    the line after ``# ...\\`` was part of the comment, from 254 it is read: the service
    may lack a secret the CLI gets (a CALLGUARD_LOG_KEY, and the CLI's number hashes are
    not the service's). Where both versions agree, it is read."""
    with pytest.raises(EnvFileError, match=r"^line 2: the comment before it ends in a "):
        parse_bytes(b"# the token \\\nCALLGUARD_HTTP_TOKEN=0123456789abcdef0123\n")
    with pytest.raises(EnvFileError, match=r"^line 1: the comment"):  # a lone \r ends lines
        parse_bytes(b"# x \\\rA=1\r")
    # Before 254 the "\r" of a CRLF was the escaped character and the "\n" ended the comment.
    assert parse_bytes(b"# x \\\r\nA=1\r\n") == {"A": "1"}
    assert parse_bytes(b"# x \\\n\nA=1\n") == {"A": "1"}      # an empty line between
    assert parse_bytes(b"# x \\\n# y\nA=1\n") == {"A": "1"}   # a comment either way
    assert parse_bytes(b"# x \\y\nA=1\n") == {"A": "1"}       # no backslash-newline
