"""Every configuration error names the file to edit.

An admin with /etc/callguard/callguard.toml, a copy in a container and the bundled demo
reads "campaign 'ut-solar-manual': default_mode 'manul'" from ``serve`` or ``config check``
and has to guess which file: the sections ([http], [log], ...) named their file, but the
campaigns, the readings ([interpretations]), the proclaimed days' calendar, packs_dir and
the closing line of ``config check`` did not.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from callguard.config import config_problems, load_settings
from callguard.errors import ConfigError
from tests.conftest import PACKS_DIR

ROOT = Path(__file__).resolve().parents[1]

CAMPAIGN = """
[[campaigns]]
id = "c1"
solicitor = "s"
caller_id = "+18015550100"
"""


def _write(tmp_path: Path, body: str, packs: str = str(PACKS_DIR)) -> Path:
    """The file; a body of top-level keys (``campaigns = 3``) goes above [callguard]."""
    path = tmp_path / "site.toml"
    head = f"[callguard]\npacks_dir = '{packs}'\n"
    path.write_text(body + head if body.startswith("campaigns =") else head + body)
    return path


@pytest.mark.parametrize(("body", "packs", "said"), [
    (CAMPAIGN + "default_mode = 'manul'\n", None, "default_mode 'manul'"),
    (CAMPAIGN + "house_policy = ['us-ut-hb45-2000']\n", None, "unknown key(s) house_policy"),
    (CAMPAIGN + "registration = { number = 'x', expire = 2027-01-01 }\n", None,
     "unknown key(s) expire"),
    (CAMPAIGN.replace('id = "c1"\n', ""), None, "every campaign needs id"),
    (CAMPAIGN + CAMPAIGN, None, "defined twice"),
    ("campaigns = 3\n", None, "write each campaign as a [[campaigns]] entry"),
    ("campaigns = [3]\n", None, "must be a table"),
    ("[interpretations]\n'us-ut:between-hour' = 'ends-callable'\n", None,
     "[interpretations]: unknown us-ut:between-hour"),
    ("[[proclaimed_days]]\ncalendar = 'us-ut:holidays'\ndate = 2026-11-27\nname = 'x'\n"
     "citation = 'y'\n", None, "unknown calendar us-ut:holidays"),
    ("", "no-such-packs", "is not a directory"),
])
def test_every_problem_names_the_file(tmp_path: Path, body: str, packs: str | None,
                                      said: str) -> None:
    path = _write(tmp_path, body, packs or str(PACKS_DIR))
    with pytest.raises(ConfigError) as caught:
        load_settings(path, data_dir=tmp_path)
    problems = config_problems(caught.value)
    assert any(said in p for p in problems), problems
    unnamed = [p for p in problems if str(path) not in p]
    assert unnamed == [], f"problems that do not name {path}: {unnamed}"


def test_config_check_names_the_file_on_every_line(tmp_path: Path) -> None:
    """The real CLI: each error line and the closing count name the file."""
    path = _write(tmp_path, CAMPAIGN + "default_mode = 'manul'\n[http]\nenabeld = true\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLGUARD_")}
    done = subprocess.run([sys.executable, "-m", "callguard", "--config", str(path),
                           "--data-dir", str(tmp_path), "config", "check"],
                          capture_output=True, text=True, env=env, cwd=ROOT, check=False)
    assert done.returncode == 2, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 3, lines  # two problems and the count
    assert all(str(path) in line for line in lines), lines


@pytest.mark.parametrize(("section", "said"), [
    ('[fastagi]\nhost = "0.0.0.0"\n', "[fastagi] host 0.0.0.0 listens beyond this host"),
    ('[fastagi]\nallowed_sources = []\n', "[fastagi] allowed_sources is empty"),
])
def test_config_check_warns_of_a_front_no_one_else_may_ask(tmp_path: Path, section: str,
                                                          said: str) -> None:
    """A listener on every interface that admits loopback alone refuses every remote PBX
    without a log line; config check says so (exit status unchanged)."""
    path = _write(tmp_path, CAMPAIGN + section)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLGUARD_")}
    done = subprocess.run([sys.executable, "-m", "callguard", "--config", str(path),
                           "--data-dir", str(tmp_path), "config", "check"],
                          capture_output=True, text=True, env=env, cwd=ROOT, check=False)
    assert "Traceback" not in done.stderr
    assert any(line.startswith("warning: ") and said in line
               for line in done.stderr.splitlines()), done.stderr


def test_config_check_is_quiet_about_a_loopback_front(tmp_path: Path) -> None:
    path = _write(tmp_path, CAMPAIGN + '[fastagi]\nhost = "127.0.0.1"\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLGUARD_")}
    done = subprocess.run([sys.executable, "-m", "callguard", "--config", str(path),
                           "--data-dir", str(tmp_path), "config", "check"],
                          capture_output=True, text=True, env=env, cwd=ROOT, check=False)
    assert "allowed_sources" not in done.stderr, done.stderr


def test_ami_secret_file_is_relative_to_the_configuration(tmp_path: Path) -> None:
    """[ami] secret_file = "ami.secret" was read from the working directory: `config check`
    run in /etc/callguard found it, `serve` under systemd (working directory /) did not.
    Now it is beside the configuration file, as [http] token_file always was."""
    site = tmp_path / "etc"
    site.mkdir()
    (site / "ami.secret").write_text("amisecret-0123456789")
    path = _write(site, CAMPAIGN + '[ami]\nenabled = true\nsecret_file = "ami.secret"\n')
    assert load_settings(path, data_dir=tmp_path).ami.secret() == "amisecret-0123456789"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLGUARD_")}
    done = subprocess.run([sys.executable, "-m", "callguard", "--config", str(path),
                           "--data-dir", str(tmp_path), "config", "check"],
                          capture_output=True, text=True, env=env, cwd=ROOT, check=False)
    assert "[ami] secret_file" not in done.stderr, done.stderr
    assert f"secret_file {site / 'ami.secret'}" in done.stdout, done.stdout
