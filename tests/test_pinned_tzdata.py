"""Calling hours are judged with the pinned tzdata package's zone rules, not the host's
(lead, from hrev30's review): ``zoneinfo`` prefers /usr/share/zoneinfo, so two nodes on
hosts with different tzdata releases could judge one call at two local times."""

from __future__ import annotations

import subprocess
import sys
import zoneinfo
from importlib import resources

import callguard  # noqa: F401 - importing callguard is what pins the zone source


def test_zoneinfo_reads_no_host_directory() -> None:
    assert zoneinfo.TZPATH == ()


def test_a_zone_is_the_packaged_one_even_when_the_host_has_another(tmp_path) -> None:
    """A host directory whose America/Denver is Tokyo's rules (PYTHONTZPATH points at
    it) does not change the zone callguard uses."""
    host = tmp_path / "zoneinfo" / "America"
    host.mkdir(parents=True)
    host.joinpath("Denver").write_bytes(
        resources.files("tzdata.zoneinfo").joinpath("Asia", "Tokyo").read_bytes())
    script = ("import callguard, datetime, zoneinfo;"
              "print(datetime.datetime(2026, 7, 1, 12, tzinfo=datetime.UTC)"
              ".astimezone(zoneinfo.ZoneInfo('America/Denver')).hour)")
    env = {"PYTHONTZPATH": str(tmp_path / "zoneinfo"), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                         text=True, check=True).stdout.strip()
    assert out == "6"  # 12:00 UTC is 06:00 MDT, not Tokyo's 21:00
    without = script.replace("import callguard, ", "import ")
    host_hour = subprocess.run([sys.executable, "-c", without], env=env, capture_output=True,
                               text=True, check=True).stdout.strip()
    assert host_hour == "21"  # the premise: zoneinfo alone reads the host directory


def test_a_zone_read_before_callguard_is_imported_is_not_kept(tmp_path) -> None:
    """ZoneInfo caches by name: a program (a plugin host, an embedding service) that read
    America/Denver from the host before importing callguard left callguard that zone."""
    host = tmp_path / "zoneinfo" / "America"
    host.mkdir(parents=True)
    host.joinpath("Denver").write_bytes(
        resources.files("tzdata.zoneinfo").joinpath("Asia", "Tokyo").read_bytes())
    script = ("import datetime, zoneinfo; zoneinfo.ZoneInfo('America/Denver');"
              "import callguard;"
              "print(datetime.datetime(2026, 7, 1, 12, tzinfo=datetime.UTC)"
              ".astimezone(zoneinfo.ZoneInfo('America/Denver')).hour)")
    env = {"PYTHONTZPATH": str(tmp_path / "zoneinfo"), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                         text=True, check=True).stdout.strip()
    assert out == "6"
