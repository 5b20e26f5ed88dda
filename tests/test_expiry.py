"""Law running out: packs, calendars and list copies that end with nothing to follow them."""

from __future__ import annotations

import asyncio
import tomllib
from dataclasses import dataclass
from datetime import UTC, date, datetime

from prometheus_client import CollectorRegistry, generate_latest

from callguard.config import load_settings
from callguard.fronts.http.readiness import Check
from callguard.law_expiry import ExpiryCollector, ExpiryReadiness, LawExpiry
from callguard.policy import pack_from_mapping
from callguard.policy.expiry import expiry_warnings
from tests.conftest import PACKS, PACKS_DIR


def ut_doc(**pack_keys) -> dict:
    doc = tomllib.loads((PACKS_DIR / "us-ut.toml").read_text())
    doc["pack"].update(pack_keys)
    return doc


class TestPureWarnings:
    """``expiry_warnings``: what ends within N days with no successor."""

    def test_nothing_ends_in_the_shipped_packs(self):
        assert expiry_warnings(PACKS, date(2026, 12, 3), 30) == []

    def test_a_pack_ending_within_the_window(self):
        pack = pack_from_mapping(ut_doc(effective_until=date(2027, 1, 1)))
        (warning,) = expiry_warnings({"us-ut": pack}, date(2026, 12, 3), 30)
        assert (warning.kind, warning.name, warning.days_left) == ("pack", "us-ut", 29)
        assert "no enabled pack succeeds it" in warning.message

    def test_a_pack_ending_after_the_window_is_quiet(self):
        pack = pack_from_mapping(ut_doc(effective_until=date(2027, 3, 1)))
        assert expiry_warnings({"us-ut": pack}, date(2026, 12, 3), 30) == []

    def test_a_successor_silences_the_warning(self):
        old = pack_from_mapping(ut_doc(effective_until=date(2027, 1, 1)))
        new_doc = ut_doc(effective_from=date(2027, 1, 1), succeeds="us-ut", id="us-ut-2027",
                         version="2027.1.0")
        for section in ("rules", "calendars", "interpretations"):
            for entry in new_doc.get(section, []):
                entry["id"] = entry["id"].replace("us-ut:", "us-ut-2027:", 1)
                for option in entry.get("options", {}).values():
                    for change in option.get("overrides", []):
                        change["rule"] = change["rule"].replace("us-ut:", "us-ut-2027:", 1)
            for entry in new_doc.get("rules", []):
                if entry.get("calendar"):
                    entry["calendar"] = entry["calendar"].replace("us-ut:", "us-ut-2027:", 1)
        new = pack_from_mapping(new_doc)
        assert expiry_warnings({"us-ut": old, "us-ut-2027": new}, date(2026, 12, 3), 30) == []

    def test_an_ended_pack_is_still_reported(self):
        pack = pack_from_mapping(ut_doc(effective_until=date(2026, 12, 1)))
        (warning,) = expiry_warnings({"us-ut": pack}, date(2026, 12, 3), 30)
        assert warning.days_left == -2
        assert "ended on 2026-12-01" in warning.message

    def test_a_calendar_ending_without_a_later_version(self):
        doc = ut_doc()
        versions = doc["calendars"][0]["versions"]
        del versions[-1]  # no text from 2027-01-01: the 2026-05-06 one ends 2026-12-20
        versions[-1]["effective_until"] = date(2026, 12, 20)
        (warning,) = expiry_warnings({"us-ut": pack_from_mapping(doc)}, date(2026, 12, 3), 30)
        assert (warning.kind, warning.name, warning.days_left) == (
            "calendar", "us-ut:legal-holidays", 17)

    def test_list_copies_going_stale(self):
        """national: 31 days (federal), warned with a quarter of its 32 usable days left
        (hexp25; 9 days left is quiet now); ut-state: 3 months (H.B. 45)."""
        found = expiry_warnings(PACKS, date(2026, 12, 4), 10,
                                {"national": date(2026, 11, 10), "ut-state": date(2026, 11, 1)})
        assert [(w.name, w.ends, w.days_left) for w in found] == [
            ("national", date(2026, 12, 12), 8)]
        assert "import a newer copy" in found[0].message

    def test_an_undated_list_is_reported(self):
        (warning,) = expiry_warnings(PACKS, date(2026, 12, 3), 10, {"national": None})
        assert "no published date" in warning.message


@dataclass
class _Meta:
    published: date | None


@dataclass
class _Snapshot:
    meta: _Meta


class _Lists:
    """A list registry holding one dated copy (the interface the node's registries keep)."""

    def __init__(self, published: dict[str, date | None]) -> None:
        self._published = published

    def names(self):
        return sorted(self._published)

    def snapshot(self, name):
        return _Snapshot(_Meta(self._published[name]))


class TestOnTheNode:
    """The same warnings at start, in /readyz and as a metric."""

    def expiry(self) -> LawExpiry:
        settings = load_settings()
        # 8 days left: a quarter of the copy's 32 usable days (hexp25)
        lists = _Lists({"national": date(2026, 11, 9)})
        return LawExpiry(settings, lists, clock=lambda: datetime(2026, 12, 3, tzinfo=UTC))

    def test_metric(self):
        registry = CollectorRegistry()
        registry.register(ExpiryCollector(self.expiry()))
        text = generate_latest(registry).decode()
        assert 'callguard_law_ends_in_seconds{kind="list",name="national"} 691200.0' in text

    def test_readiness_detail_is_a_warning_not_a_failure(self):
        class _Inner:
            async def run(self):
                return [Check("clock", True, "synchronised")]

        readiness = ExpiryReadiness(_Inner(), self.expiry())  # type: ignore[arg-type]
        checks = asyncio.run(readiness.run())
        assert [c.name for c in checks] == ["clock", "law-expiry"]
        assert checks[-1].ok
        assert "national's current copy is stale from 2026-12-11" in checks[-1].detail


def test_serve_warns_at_start_in_readyz_and_in_metrics(tmp_path):
    """The real `callguard serve`: a national copy 25 days old ends within 30 days."""
    import os
    import subprocess
    import sys
    import time
    from datetime import timedelta

    from tests.conftest import ROOT
    from tests.redis_server import free_port
    from tests.test_http import TOKEN, _lists, http

    data = tmp_path / "data"
    _lists(data, datetime.now(UTC).date() - timedelta(days=25))
    port, agi = free_port(), free_port()
    text = (ROOT / "callguard" / "data" / "callguard.toml").read_text()
    text = text.replace('packs_dir = "jurisdictions"',
                        'packs_dir = ""')
    head, rest = text.split("[http]\n", 1)
    text = head + "[http]\n" + rest.replace("enabled = false", "enabled = true", 1)
    text = text.replace("port = 8080", f"port = {port}").replace("port = 4573\n", f"port = {agi}\n")
    text = text.replace("require_clock_sync = true", "require_clock_sync = false")
    config = tmp_path / "callguard.toml"
    config.write_text(text)
    env = {**os.environ, "CALLGUARD_HTTP_TOKEN": TOKEN, "CALLGUARD_DATA_DIR": str(data)}
    process = subprocess.Popen([sys.executable, "-m", "callguard", "--config", str(config),
                                "serve"], env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if http(port, "/healthz", token=None)[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "serve did not start"
            time.sleep(0.1)
        status, body = http(port, "/readyz", token=None)
        check = next(c for c in __import__("json").loads(body)["checks"]
                     if c["name"] == "law-expiry")
        assert check["ok"]
        assert "list national's current copy is stale from" in check["detail"]
        _, metrics = http(port, "/metrics")
        assert 'callguard_law_ends_in_seconds{kind="list",name="national"} 604800.0' in metrics
        assert status in (200, 503)
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=20)
    assert "law_expiring" in stderr.decode()
