"""secrets.env: callguard-admin must hand the CLI exactly what systemd's EnvironmentFile=
hands the service (systemd.exec(5); src/basic/env-file.c, parse_env_file_internal), and run
nothing found in it. It used to source the file with the shell's "." as root: "$x" was
expanded (or stopped the command under set -u), "$(...)" ran as root, "a b" ran "b"."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from callguard.envfile import EnvFileError, parse
from tests.admin_venv import admin_python

ROOT = Path(__file__).resolve().parent.parent
ADMIN = ROOT / "systemd" / "callguard-admin"

# Each line as an admin may write it, and the value systemd.exec(5) says the service gets.
CASES = {
    "A_DOLLAR": ("A_DOLLAR=pa$word", "pa$word"),
    "A_SUBST": ('A_SUBST="x$(touch {marker})y"', "x$(touch {marker})y"),
    "A_BACKQUOTE": ("A_BACKQUOTE=x`touch {marker}`", "x`touch {marker}`"),
    "A_SPACE": ("A_SPACE=two words", "two words"),
    "A_TRAILING": ("A_TRAILING=value   # a comment", "value   # a comment"),
    "A_SINGLE": ("A_SINGLE='it$ \"is\" kept'", 'it$ "is" kept'),
    "A_DOUBLE": ('A_DOUBLE=" \\$x \\" \\n "', ' $x " \\n '),
    "A_ESCAPED": ("A_ESCAPED=a\\ b\\\\c", "a b\\c"),
    "A_AROUND": ("  A_AROUND  =   padded   ", "padded"),
    "A_EMPTY": ("A_EMPTY=", ""),
}


def env_text(marker: Path) -> str:
    lines = ["# comment", "; also a comment", "", "NO_EQUALS_IS_IGNORED"]
    lines += [line.format(marker=marker) for line, _ in CASES.values()]
    return "\n".join(lines) + "\n"


def expected(marker: Path) -> dict[str, str]:
    return {name: value.format(marker=marker) for name, (_, value) in CASES.items()}


def test_parse_follows_systemd_rules(tmp_path) -> None:
    marker = tmp_path / "ran"
    assert parse(env_text(marker)) == expected(marker)
    assert parse("K=one\\\ntwo\n") == {"K": "onetwo"}           # backslash-newline joins
    assert parse("K='multi\nline'") == {"K": "multi\nline"}    # quotes span lines
    assert parse("K=1\nK=2\n") == {"K": "2"}                   # the last one wins
    assert parse("K=no newline at the end") == {"K": "no newline at the end"}


def test_a_name_systemd_would_drop_is_refused() -> None:
    with pytest.raises(EnvFileError, match="line 2"):
        parse("OK=1\nexport TOKEN=x\n")
    with pytest.raises(EnvFileError):
        parse("CALLGUARD-HTTP-TOKEN=x\n")


@pytest.mark.skipif(shutil.which("setpriv") is None or os.geteuid() != 0,
                    reason="needs root and util-linux's setpriv")
def test_admin_hands_the_command_what_systemd_hands_the_service(tmp_path) -> None:
    marker = tmp_path / "ran-as-root"
    env_file = tmp_path / "secrets.env"
    env_file.write_text(env_text(marker))
    env_file.chmod(0o600)
    result = subprocess.run(
        [str(ADMIN)],
        env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "CALLGUARD_SERVICE_USER": "nobody",
             "CALLGUARD_ENV_FILE": str(env_file), "CALLGUARD_BIN": "/usr/bin/env",
             "CALLGUARD_PYTHON": admin_python()},
        capture_output=True, text=True, check=False, timeout=30)
    assert result.returncode == 0, result.stderr
    got = {}
    for line in result.stdout.split("\n"):
        name, _, value = line.partition("=")
        if name.startswith("A_"):
            got[name] = value
    # A_SINGLE's and A_DOUBLE's values hold no newline, so env's lines split cleanly.
    assert got == expected(marker)
    assert not marker.exists(), "a command in secrets.env ran as root"


@pytest.mark.skipif(shutil.which("setpriv") is None or os.geteuid() != 0,
                    reason="needs root and util-linux's setpriv")
def test_admin_names_the_bad_line_and_runs_nothing(tmp_path) -> None:
    env_file = tmp_path / "secrets.env"
    env_file.write_text("CALLGUARD_HTTP_TOKEN=0123456789abcdef0123\nexport X=1\n")
    result = subprocess.run(
        [str(ADMIN), "-c", "echo ran"],
        env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "CALLGUARD_SERVICE_USER": "nobody",
             "CALLGUARD_ENV_FILE": str(env_file), "CALLGUARD_BIN": "/bin/sh",
             "CALLGUARD_PYTHON": admin_python()},
        capture_output=True, text=True, check=False, timeout=30)
    assert result.returncode == 2
    assert "ran" not in result.stdout
    assert f"cannot read {env_file}: line 2" in result.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="callguard-admin re-runs itself with sudo otherwise")
def test_admin_without_callguard_beside_its_bin_says_where_it_looked(tmp_path) -> None:
    result = subprocess.run(
        [str(ADMIN), "config", "check"],
        env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "CALLGUARD_SERVICE_USER": "nobody",
             "CALLGUARD_BIN": str(tmp_path / "bin" / "callguard")},
        capture_output=True, text=True, check=False, timeout=30)
    assert result.returncode == 2
    assert f"no {tmp_path / 'bin' / 'python'}" in result.stderr
    assert "CALLGUARD_BIN" in result.stderr
