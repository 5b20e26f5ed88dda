"""A token that is set but too short, or a token_file that cannot be read, is named as
such: `config check` said "set CALLGUARD_HTTP_TOKEN ..." to an admin who had set it, and a
missing token_file was "[http] token_file: No such file or directory", without its path."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import ROOT


def _check(config, env_extra):
    env = {k: v for k, v in os.environ.items() if k != "CALLGUARD_HTTP_TOKEN"}
    env.update(env_extra)
    return subprocess.run([sys.executable, "-m", "callguard", "--config", str(config),
                           "config", "check"], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=60, check=False)


def _site(tmp_path, token_file=""):
    made = subprocess.run([sys.executable, "-m", "callguard", "init", str(tmp_path / "etc")],
                          cwd=ROOT, capture_output=True, text=True, timeout=60, check=True)
    assert made.returncode == 0
    config = tmp_path / "etc" / "callguard.toml"
    text = config.read_text().replace(
        'enabled = false\nhost = "127.0.0.1"\nport = 8080\ntoken_file = ""',
        f'enabled = true\nhost = "127.0.0.1"\nport = 8080\ntoken_file = "{token_file}"', 1)
    assert "enabled = true\nhost" in text
    config.write_text(text)
    return config


def test_a_short_token_is_named_with_its_length_never_its_value(tmp_path) -> None:
    result = _check(_site(tmp_path), {"CALLGUARD_HTTP_TOKEN": "short-secret"})
    assert result.returncode == 2
    assert "the token from CALLGUARD_HTTP_TOKEN has 12 character(s)" in result.stderr
    assert "short-secret" not in result.stderr + result.stdout


def test_an_unreadable_token_file_is_named_with_its_path(tmp_path) -> None:
    result = _check(_site(tmp_path, "http_token"), {})
    assert result.returncode == 2
    assert f"token_file {tmp_path / 'etc' / 'http_token'}: No such file" in result.stderr
