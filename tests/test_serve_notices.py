"""What ``serve`` tells an admin about a part that is not working, through the real CLI."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from tests.conftest import ROOT
from tests.redis_server import free_port


def test_serve_says_what_to_do_while_ami_is_not_logged_in(tmp_path):
    """[ami] enabled, nothing listening at its port: panoramisk's "Not able to reconnect"
    (no address, no cause) was the only line, again and again. Now one warning names the
    host, the port and what to check, once per episode."""
    fastagi, ami = free_port(), free_port()
    text = (ROOT / "callguard" / "data" / "callguard.toml").read_text()
    text = text.replace('packs_dir = "jurisdictions"', 'packs_dir = ""').replace(
        "port = 4573", f"port = {fastagi}").replace(
        'enabled = false\nhost = "127.0.0.1"\nport = 5038',
        f'enabled = true\nhost = "127.0.0.1"\nport = {ami}')
    assert f"port = {ami}" in text
    config = tmp_path / "ami.toml"
    config.write_text(text)
    data = tmp_path / "data"
    data.mkdir()
    lines = serve_lines(config, data, 0.3, 3,  # ten ticks: one notice, not one a tick
                        CALLGUARD_AMI_SECRET="not-the-real-one")
    notices = [line for line in lines if '"ami_not_logged_in"' in line]
    assert len(notices) == 1, "".join(lines)
    assert f'"port":{ami}' in notices[0]
    assert "CALLGUARD_AMI_SECRET" in notices[0]
    assert "enabled = yes" in notices[0]


def serve_lines(config: Path, data: Path, reload_s: float, ticks_s: float,
                **env_extra: str) -> list[str]:
    """``serve`` with ``config`` on ``data`` (no other CALLGUARD_ variable but
    ``env_extra``): its stderr lines, read until ``ticks_s`` after "serving" (30 s at most
    for it), then stopped."""
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("CALLGUARD_")},
           **env_extra, "CALLGUARD_DATA_DIR": str(data)}
    node = subprocess.Popen(
        [sys.executable, "-m", "callguard", "--config", str(config), "serve",
         "--reload-seconds", str(reload_s)], stderr=subprocess.PIPE, text=True, env=env,
        cwd=ROOT)
    lines: list[str] = []
    assert node.stderr is not None
    reader = threading.Thread(target=lambda: lines.extend(node.stderr), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not any('"serving"' in x for x in lines):
            time.sleep(0.1)
        time.sleep(ticks_s)
    finally:
        node.terminate()
        node.wait(timeout=20)
        reader.join(timeout=5)
    return lines
