"""callguard installed for real, outside the clone: the wheel, README's steps, serve.

The README block "On a host with systemd, step by step" runs word for word under a
temporary prefix: ``/opt``, ``/etc``, ``/var/lib``, ``/usr/local/sbin`` and ``/srv`` are
moved under it, the clone URL is this repository (its committed HEAD), ``useradd`` and
``systemctl`` are left out (they need a real host) and the user ``callguard`` is ``nobody``
(``callguard-admin`` really switches to it). The venv it makes is then used as a plain
``pip install`` of the wheel: ``callguard demo``, ``config check``, ``serve`` with
``/openapi.json`` and ``/healthz``, and ``callguard health``, all run from a directory
outside the clone with a clean environment. About 40 s (pip installs the dependencies).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import stat
import subprocess
import tempfile
import time
import urllib.request
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest

from callguard.fronts.http.spec import openapi_document
from tests.conftest import ROOT
from tests.redis_server import free_port

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("setpriv") is None or shutil.which("git") is None,
    reason="runs README's steps as root (callguard-admin switches user with setpriv)")

TOKEN = "install-test-token-0123456789"


def readme_block() -> str:
    text = (ROOT / "README.md").read_text()
    section = text[text.index("### On a host with systemd, step by step"):]
    start = section.index("```sh\n") + 6
    return section[start:section.index("\n```", start)]




def test_readme_steps_import_each_list_with_the_coverage_it_has() -> None:
    """The national registry's download holds the area codes of the subscription: `seen`
    (README, "CLI"; the option's help). The steps said `--covers all`, which reads a number
    of an area code never downloaded as "not listed" and ALLOWs it. A state's list names
    the state's residents whatever their area code: `all`. The steps imported ut-state
    covering 801,385,435: every call of a Utah-origin H.B. 45 campaign to another area
    code, and to a Utah resident's out-of-state number, was BLOCKed "does not cover"."""
    text = (ROOT / "README.md").read_text()
    lines = [*readme_block().splitlines(),
             *(line for line in text.splitlines()
               if " root " in line and "callguard-admin dnc import" in line)]
    imports = [line for line in lines if " dnc import " in line]
    assert {"national", "ut-state"} <= {line.split("--list ")[1].split()[0] for line in imports}
    for line in imports:
        words = line.rstrip("`").split()
        if "--covers" not in words:  # a cron line folded over two README lines
            continue
        wanted = "seen" if words[words.index("--list") + 1] == "national" else "all"
        assert words[words.index("--covers") + 1] == wanted, line


@pytest.fixture(scope="module")
def host():
    """README's steps under a prefix; yields the prefix and a clean environment."""
    prefix = Path(tempfile.mkdtemp(prefix="callguard-host-"))
    prefix.chmod(0o755)  # `nobody` must reach the venv, the configuration and the lists
    try:
        lists = prefix / "srv" / "lists"
        lists.mkdir(parents=True)
        # Registry copies as a registry sends them (the demo lists hold a malformed line).
        (lists / "national.txt").write_text("8015550199\n2125550143\n4155550120\n")
        (lists / "ut-state.txt").write_text("8015550111\n3855550122\n")
        for sub in ("etc/systemd/system", "usr/local/sbin", "var/lib", "home"):
            (prefix / sub).mkdir(parents=True, exist_ok=True)
        script = readme_block()
        today = datetime.now(UTC).date().isoformat()
        for place in ("/opt/callguard", "/etc/callguard", "/var/lib/callguard",
                      "/etc/systemd/system/", "/usr/local/sbin/", "/srv/lists/"):
            script = script.replace(place, f"{prefix}{place}")
        script = script.replace("https://git.example.net/callguard.git", str(ROOT))
        script = script.replace("-o callguard -g callguard", "-o nobody -g nogroup")
        script = script.replace("--published 2026-11-20", f"--published {today}")
        kept = [line for line in script.splitlines()
                if not line.startswith(("useradd ", "systemctl "))]
        assert len(kept) == len(script.splitlines()) - 2
        env = {
            "PATH": f"{prefix}/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME": str(prefix / "home"), "LANG": "C.UTF-8",
            # what the unit's values are on a real host, moved under the prefix
            "CALLGUARD_SERVICE_USER": "nobody",
            "CALLGUARD_ENV_FILE": f"{prefix}/etc/callguard/secrets.env",
            "CALLGUARD_BIN": f"{prefix}/opt/callguard/bin/callguard",
            "CALLGUARD_CONFIG": f"{prefix}/etc/callguard/callguard.toml",
            "CALLGUARD_DATA_DIR": f"{prefix}/var/lib/callguard",
        }
        # systemd-analyze verify needs the unit's ExecStart to exist: point the installed
        # unit's /opt/callguard at the prefix's before verifying (the command is unchanged).
        prelude = ("set -euo pipefail\n"
                   "systemd-analyze() { sed -i 's#=/opt/callguard/#=" + str(prefix)
                   + "/opt/callguard/#' \"${@: -1}\"; command systemd-analyze \"$@\"; }\n")
        result = subprocess.run(["/bin/bash", "-c", prelude + "\n".join(kept)], cwd=prefix,
                                env=env, capture_output=True, text=True, timeout=300,
                                check=False)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        yield prefix, result
    finally:
        shutil.rmtree(prefix, ignore_errors=True)


def clean_env(prefix: Path, **extra: str) -> dict[str, str]:
    return {"PATH": f"{prefix}/opt/callguard/bin:/usr/bin:/bin", "HOME": str(prefix / "home"),
            "LANG": "C.UTF-8", "COLUMNS": "200", **extra}


def installed(prefix: Path, *args: str, env: dict[str, str] | None = None,
              check: bool = False) -> subprocess.CompletedProcess[str]:
    work = prefix / "home"
    return subprocess.run([str(prefix / "opt" / "callguard" / "bin" / "callguard"), *args],
                          cwd=work, env=env or clean_env(prefix), capture_output=True,
                          text=True, timeout=120, check=check)


def test_readme_steps_end_in_a_passing_config_check(host) -> None:
    prefix, result = host
    assert f"configuration {prefix}/etc/callguard/callguard.toml: ok" in result.stdout
    data = prefix / "var" / "lib" / "callguard"
    # Every file callguard-admin made belongs to the service user, none to root.
    made = list(data.rglob("*"))
    assert made
    assert {p.stat().st_uid for p in made} == {pwd_uid("nobody")}
    secrets = prefix / "etc" / "callguard" / "secrets.env"
    assert stat.S_IMODE(secrets.stat().st_mode) == 0o600


def pwd_uid(name: str) -> int:
    import pwd

    return pwd.getpwnam(name).pw_uid


def test_the_package_is_the_installed_one_not_the_clone(host) -> None:
    prefix, _ = host
    venv_python = prefix / "opt" / "callguard" / "bin" / "python"
    where = subprocess.run([str(venv_python), "-c", "import callguard; print(callguard.__file__)"],
                           cwd=prefix / "home", env=clean_env(prefix), capture_output=True,
                           text=True, check=True).stdout.strip()
    assert where.startswith(f"{prefix}/opt/callguard/lib/"), where
    assert "site-packages" in where


def test_demo_and_dnc_status_run_from_the_wheel(host) -> None:
    prefix, _ = host
    demo = installed(prefix, "demo")
    assert demo.returncode == 0, demo.stderr
    assert "ALLOW" in demo.stdout
    assert "BLOCK" in demo.stdout
    status = installed(prefix, "dnc", "status", "--json")
    assert status.returncode == 0, status.stderr
    using = [json.loads(line) for line in status.stderr.splitlines()
             if line.startswith("{") and '"using"' in line]
    assert using
    assert using[0]["data_dir"] == f"{prefix}/home/.local/share/callguard"
    assert "site-packages" in using[0]["config"]


def test_config_check_of_the_bundled_demo_names_what_is_missing(host) -> None:
    prefix, _ = host
    result = installed(prefix, "config", "check", "--json")
    assert result.returncode == 2
    data = json.loads(result.stdout)
    assert data["packs_dir"].startswith(f"{prefix}/opt/callguard/lib/")
    assert [p["id"] for p in data["packs"]] == ["us-federal", "us-fl", "us-md", "us-ok", "us-ut",
                                                "us-ut-hb45-2000"]
    assert any("national" in p and "callguard dnc import" in p for p in data["problems"])


def test_wheel_holds_every_data_file(tmp_path) -> None:
    """Every file under callguard/data in git is in the wheel (package-data globs)."""
    source = tmp_path / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source)
    shutil.copytree(ROOT / "callguard", source / "callguard",
                    ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run([str(Path(os.sys.executable).parent / "pip"), "wheel", "--no-deps", "-q",
                    "-w", str(tmp_path / "dist"), str(source)], check=True,
                   capture_output=True, timeout=120)
    wheel = next((tmp_path / "dist").glob("callguard-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    tracked = [p.relative_to(ROOT).as_posix() for p in (ROOT / "callguard" / "data").rglob("*")
               if p.is_file() and "__pycache__" not in p.parts]
    assert tracked
    assert sorted(set(tracked) - names) == []


def test_serve_from_the_wheel_answers_openapi_and_health(host) -> None:
    prefix, _ = host
    site = prefix / "site"
    made = installed(prefix, "init", str(site))
    assert made.returncode == 0, made.stderr
    http_port, agi_port = free_port(), free_port()
    config = site / "callguard.toml"
    text = config.read_text()
    text = re.sub(r"(\[http\]\n(?:#.*\n)*)enabled = false\n", r"\1enabled = true\n", text)
    text = text.replace("port = 8080", f"port = {http_port}").replace(
        "port = 4573\n", f"port = {agi_port}\n")
    config.write_text(text)
    env = clean_env(prefix, CALLGUARD_CONFIG=str(config), CALLGUARD_HTTP_TOKEN=TOKEN)
    process = subprocess.Popen([str(prefix / "opt" / "callguard" / "bin" / "callguard"),
                                "serve"], cwd=prefix / "home", env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/healthz",
                                            timeout=2) as answer:
                    assert answer.status == 200
                    break
            except OSError:
                assert process.poll() is None, process.stderr.read() if process.stderr else ""
                assert time.monotonic() < deadline, "serve did not answer /healthz"
                time.sleep(0.3)
        with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/openapi.json",
                                    timeout=5) as answer:
            spec = json.loads(answer.read())
        # The shipped file with the Decision schema taken inline (callguard.fronts.http.spec).
        assert spec == json.loads(openapi_document())
        health = installed(prefix, "health", "--live", env=env)
        assert health.returncode == 0, health.stdout + health.stderr
        assert f":{http_port}/healthz" in health.stdout
        # No list imported yet: alive, but it cannot decide (exit 4, the list named).
        ready = installed(prefix, "health", env=env)
        assert ready.returncode == 4, ready.stdout + ready.stderr
        assert f"not ready: http://127.0.0.1:{http_port}/readyz" in ready.stdout
        assert "list:national" in ready.stdout
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    serving = [json.loads(line) for line in stderr.splitlines()
               if line.startswith("{") and '"serving"' in line]
    assert serving, stderr[-2000:]
    assert serving[0]["config"] == str(config)
    assert serving[0]["data_dir"] == str(site / "data")
    # Nothing listens any more: the health check says so.
    assert installed(prefix, "health", env=env).returncode == 1
