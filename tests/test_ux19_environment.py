"""A mistyped CALLGUARD_* variable is named, never ignored without a word.

secrets.env is the unit's EnvironmentFile and callguard-admin's: a typo there
(``CALLGUARD_LOG_KY=...``) was ignored, and the node made a log.key of its own, so its
records were hashed under a key no other node has and an evidence search across nodes
missed them. ``config check`` warns (exit status unchanged) and ``serve`` logs
``environment_unknown`` at start, each naming the variable and the one it may have meant,
never its value. Run as an admin runs them: the real CLI in a subprocess.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson

from callguard.config import KNOWN_ENVIRONMENT, environment_warnings

ROOT = Path(__file__).resolve().parents[1]
SECRET = "0123456789abcdef0123456789abcdef"  # must never be printed


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLGUARD_")}
    return {**env, **extra}


def _site(tmp_path: Path) -> Path:
    subprocess.run([sys.executable, "-m", "callguard", "init", str(tmp_path / "etc")],
                   check=True, capture_output=True, env=_env(), cwd=ROOT, timeout=120)
    config = tmp_path / "etc" / "callguard.toml"
    text = config.read_text()
    assert "\nport = 4573\n" in text
    config.write_text(text.replace("\nport = 4573\n", "\nport = 0\n", 1))
    return config


def test_known_names_are_not_warned() -> None:
    assert environment_warnings(dict.fromkeys(KNOWN_ENVIRONMENT, "x")) == []
    assert environment_warnings({"PATH": "/bin", "CALLGUARDX": "y"}) == []


def test_config_check_names_a_mistyped_secret(tmp_path: Path) -> None:
    config = _site(tmp_path)
    done = subprocess.run([sys.executable, "-m", "callguard", "--config", str(config),
                           "config", "check"], capture_output=True, text=True,
                          env=_env(CALLGUARD_LOG_KY=SECRET), cwd=ROOT, timeout=120,
                          check=False)
    warned = [line for line in done.stderr.splitlines() if "CALLGUARD_LOG_KY " in line]
    assert len(warned) == 1, done.stderr
    assert "did you mean CALLGUARD_LOG_KEY?" in warned[0]
    assert SECRET not in done.stdout + done.stderr


def test_serve_logs_a_mistyped_secret_at_start(tmp_path: Path) -> None:
    config = _site(tmp_path)
    node = subprocess.Popen([sys.executable, "-m", "callguard", "--config", str(config),
                             "serve"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            env=_env(CALLGUARD_REDIS_PASSWD=SECRET), cwd=ROOT)
    events: list[dict] = []
    try:
        assert node.stdout is not None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = node.stdout.readline()
            if not line:
                break
            try:
                events.append(orjson.loads(line))
            except orjson.JSONDecodeError:
                continue
            if events[-1].get("event") == "serving":
                break
    finally:
        node.send_signal(signal.SIGTERM)
        rest, _ = node.communicate(timeout=30)
    names = [e.get("event") for e in events]
    assert "serving" in names, names
    (unknown,) = [e for e in events if e.get("event") == "environment_unknown"]
    assert names.index("environment_unknown") < names.index("serving")
    assert "CALLGUARD_REDIS_PASSWD" in unknown["detail"]
    assert "did you mean CALLGUARD_REDIS_PASSWORD?" in unknown["detail"]
    assert unknown["level"] == "warning"
    assert SECRET.encode() not in rest
    assert all(SECRET not in str(e) for e in events)
