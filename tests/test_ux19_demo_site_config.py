"""`callguard demo` with a site's configuration still shows the demo.

After README's `callguard init /etc/callguard`, a site's file is given by --config or by
CALLGUARD_CONFIG (callguard-admin sets it). The demo took that file, whose campaigns are
the site's: every case of its table — "manual call, 10:30, unlisted", ... — came out BLOCK
``callguard:unknown-campaign``, under labels that promise otherwise. It now runs on the
bundled demo configuration, says so, and its "try:" line names that file.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from callguard.resources import bundled_config

ROOT = Path(__file__).resolve().parents[1]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLGUARD_")}
    return {**env, "COLUMNS": "250", **extra}


@pytest.mark.parametrize("how", ["option", "environment"])
def test_demo_ignores_a_site_configuration(tmp_path: Path, how: str) -> None:
    site = tmp_path / "etc"
    subprocess.run([sys.executable, "-m", "callguard", "init", str(site)], check=True,
                   capture_output=True, env=_env(), cwd=ROOT, timeout=120)
    config = site / "callguard.toml"
    text = config.read_text()
    for old in ("ut-solar-manual", "ut-solar-predictive"):
        assert f'id = "{old}"' in text
        text = text.replace(f'id = "{old}"', f'id = "acme-{old}"')
    config.write_text(text)
    args = ["--config", str(config)] if how == "option" else []
    env = _env(CALLGUARD_CONFIG=str(config)) if how == "environment" else _env()
    done = subprocess.run([sys.executable, "-m", "callguard", *args, "demo", "--data-dir",
                           str(tmp_path / "demo")], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=180, check=False)
    assert done.returncode == 0, done.stderr
    assert "unknown-campaign" not in done.stdout, done.stdout
    first = next(line for line in done.stdout.splitlines()
                 if "manual call, 10:30, unlisted" in line)
    assert "ALLOW" in first, first
    assert f"not {config}" in done.stdout
    assert f"try: callguard --config {bundled_config()} --data-dir" in done.stdout
