"""hrev100: ``pytest -m watchdog`` selects the watchdog's tests that reach it through another
test module's helpers.

hwd23's marker (tests/conftest.py) looks at a module's own top-level imports: a pure-tracker
test that drives ``CallTracker`` only through ``tests.test_review68_unproven_dial``'s or
``tests.test_asterisk19_ring``'s helpers imports neither ``callguard.watchdog`` nor the fake
AMI itself, and was left out — 7 files, 18 tests (hrev74's second outage and supervisor
peer, hrev68's calling leg, hrev96's queue order, review 55's and review 60's forwarded
rings, the ring heard from its first RINGING; of review 55's 7 only the one named for the
watchdog was in). A module that imports from a test module the group holds is in
the group; one that borrows CLI helpers from a module whose only watchdog import is inside
a test body (``test_records_cli`` from ``test_compliance_log``) is not.
"""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT

BORROWING = {
    "tests/test_hrev96_queue_real_order.py": 3,
    "tests/test_review55_ring.py": 7,
    "tests/test_review60_ring.py": 2,
    "tests/test_review68_calling_leg.py": 3,
    "tests/test_review74_second_outage.py": 1,
    "tests/test_review74_supervisor_peer.py": 1,
    "tests/test_ring_heard.py": 2,
}


def _selected(*paths: str) -> dict[str, int]:
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--co", "-q",
         "-m", "watchdog", *paths],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode in (0, 5), run.stdout + run.stderr
    counts: dict[str, int] = {}
    for line in run.stdout.splitlines():
        path, sep, count = line.rpartition(": ")
        if sep and path.startswith("tests/") and count.isdigit():
            counts[path] = int(count)
    return counts


def test_watchdog_tests_borrowing_another_modules_helpers_are_selected():
    assert _selected(*BORROWING) == BORROWING


def test_a_cli_test_borrowing_from_a_mixed_module_is_not():
    assert _selected("tests/test_records_cli.py") == {}
