"""hrev129 (review of hexp25): the list copy's narrower warning window never hides a copy
that already BLOCKs, and its "usable life" is the gate's own.

hexp25 warns about a list copy only when a quarter of its usable life is left. The copies
that matter most are the ones the gate already refuses: stale by age, stale because the next
quarterly listing took its place, or undated. They must be reported whatever the window
(at start, in /readyz's ``law-expiry`` detail and in ``callguard_law_ends_in_seconds``).
A copy never loaded, or dated in the future, is not a ``law-expiry`` matter (it never was):
``/readyz``'s ``list:NAME`` check fails for it (tests/test_hrev104_readyz_copy_day.py,
tests/test_review18_readyz.py).
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from callguard.policy.expiry import copy_window, expiry_warnings, list_limits
from callguard.policy.model import ListCheck
from callguard.policy.outcome import Status
from callguard.policy.rules.lists import ListFreshness
from tests.conftest import PACKS


def _lists_warned(found):
    return [(w.name, w.ends, w.days_left) for w in found if w.kind == "list"]


class TestBlockingCopiesAreAlwaysReported:
    """With the defaults (30 days, no ``copy_warning_days``) and with the narrowest window."""

    @pytest.mark.parametrize("copy_days", [None, 1])
    @pytest.mark.parametrize("age", [32, 33, 40, 400])
    def test_a_national_copy_past_its_age(self, age, copy_days):
        today = date(2026, 12, 7)
        published = today - timedelta(days=age)
        found = expiry_warnings(PACKS, today, 30, {"national": published},
                                copy_days=copy_days)
        stale = published + timedelta(days=32)
        assert _lists_warned(found) == [("national", stale, 32 - age)]
        assert "stale since" in found[0].message

    @pytest.mark.parametrize("copy_days", [None, 1])
    def test_a_quarterly_listing_the_next_one_replaced(self, copy_days):
        """fl-state (superseded on 01-01, 04-01, 07-01, 10-01): the 10-01 copy is stale from
        01-01 however young by its age rule."""
        found = expiry_warnings(PACKS, date(2027, 1, 2), 30, {"fl-state": date(2026, 10, 1)},
                                copy_days=copy_days)
        assert _lists_warned(found) == [("fl-state", date(2027, 1, 1), -1)]

    @pytest.mark.parametrize("copy_days", [None, 1])
    @pytest.mark.parametrize("name", ["national", "fl-state", "ok-state", "ut-state"])
    def test_an_undated_copy(self, name, copy_days):
        found = expiry_warnings(PACKS, date(2026, 12, 7), 30, {name: None},
                                copy_days=copy_days)
        assert [(w.name, w.days_left) for w in found] == [(name, 0)]
        assert "no published date" in found[0].message

    @pytest.mark.parametrize("within", [1, 5, 30])
    def test_a_narrow_expiry_warning_days_still_reports_a_stale_copy(self, within):
        found = expiry_warnings(PACKS, date(2026, 12, 7), within,
                                {"national": date(2026, 10, 1)})
        assert [w.days_left for w in found] == [(date(2026, 11, 2) - date(2026, 12, 7)).days]


def _rules(name: str) -> list[ListFreshness]:
    return [r for p in PACKS.values() for r in p.rules
            if isinstance(r, ListFreshness) and r.list_name == name]


def _gate_first_block(rule: ListFreshness, published: date) -> date:
    """The first day the gate's own judgement (``ListFreshness._judge``) BLOCKs the copy."""
    check = ListCheck(rule.list_name, 1, published, listed=False, covered=True)
    day = published
    while rule._judge(check, day).status is not Status.BLOCK:  # the gate's own rule
        day += timedelta(days=1)
    return day


class TestUsableLifeIsTheGates:
    """``copy_window``'s life is ``list_limits``'s first stale day, which must be the first
    day the gate's rule BLOCKs: no second age computation that could drift."""

    @pytest.mark.parametrize("name", ["national", "fl-state", "ok-state", "ut-state"])
    @pytest.mark.parametrize("published", [date(2026, 1, 1), date(2026, 2, 28),
                                           date(2026, 3, 31), date(2026, 6, 30),
                                           date(2026, 9, 15), date(2026, 12, 31),
                                           date(2028, 2, 29)])
    def test_first_stale_day_is_the_gates(self, name, published):
        rules = _rules(name)
        assert rules, name
        stale = list_limits(PACKS.values(), {name: published})[name]
        assert stale == min(_gate_first_block(rule, published) for rule in rules)
        window = copy_window(published, stale, 30)
        assert 1 <= window <= 30
        assert window == max(1, min(30, -(-(stale - published).days // 4)))


def test_a_real_serve_reports_a_stale_copy_with_the_defaults(tmp_path):
    """The real ``callguard serve`` with the shipped configuration (no copy_warning_days):
    a national copy 40 days old (stale for 8 days) is warned about at start, in /readyz's
    ``law-expiry`` detail and as a negative ``callguard_law_ends_in_seconds``, and /readyz
    is 503 (the gate BLOCKs every call it reads the list for)."""
    import json
    import os
    import subprocess
    import sys
    from datetime import UTC, datetime

    from tests.conftest import ROOT
    from tests.redis_server import free_port
    from tests.test_http import TOKEN, _lists, http, wait_healthy

    data = tmp_path / "data"
    today = datetime.now(UTC).date()
    _lists(data, today - timedelta(days=40))
    port, agi = free_port(), free_port()
    text = (ROOT / "callguard" / "data" / "callguard.toml").read_text()
    assert "\ncopy_warning_days" not in text  # the shipped default: the quarter rule
    text = text.replace('packs_dir = "jurisdictions"', 'packs_dir = ""')
    head, rest = text.split("[http]\n", 1)
    text = head + "[http]\n" + rest.replace("enabled = false", "enabled = true", 1)
    text = text.replace("port = 8080", f"port = {port}").replace("port = 4573\n",
                                                                 f"port = {agi}\n")
    text = text.replace("require_clock_sync = true", "require_clock_sync = false")
    config = tmp_path / "callguard.toml"
    config.write_text(text)
    env = {**os.environ, "CALLGUARD_HTTP_TOKEN": TOKEN, "CALLGUARD_DATA_DIR": str(data)}
    process = subprocess.Popen([sys.executable, "-m", "callguard", "--config", str(config),
                                "serve"], env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    try:
        wait_healthy(port, process)
        status, body = http(port, "/readyz", token=None)
        checks = {c["name"]: c for c in json.loads(body)["checks"]}
        assert status == 503
        assert not checks["list:national"]["ok"]
        assert checks["law-expiry"]["ok"]
        assert (f"list national's current copy is stale since {today - timedelta(days=8)}"
                in checks["law-expiry"]["detail"])
        _, metrics = http(port, "/metrics")
        assert ('callguard_law_ends_in_seconds{kind="list",name="national"} -691200.0'
                in metrics)
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=20)
    assert '"name":"national"' in stderr.decode().replace(" ", "")
    assert "law_expiring" in stderr.decode()
