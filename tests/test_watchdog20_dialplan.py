"""[callguard-dial] clears the Dial() result variables before it asks (hwd20).

After an outage the watchdog reads the dialling leg's DIALSTATUS, DIALEDPEERNAME and
DIALEDPEERNUMBER (``CallTracker._resume``) to learn how the call ended. A channel that
ran a Dial() before (a dialer asking twice on one channel, an agent's earlier call) keeps
them until this call's Dial() clears them (app_dial.c ``dial_exec_full`` sets the three
to "" first): a callguard restarted between the ALLOW and the Dial() read an old ANSWER
as this call's. Cleared before the AGI, as Dial() clears them, the window is closed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.test_dialplan import TEXT, extensions

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("variable", ["DIALSTATUS", "DIALEDPEERNUMBER", "DIALEDPEERNAME"])
def test_the_dial_result_is_cleared_before_asking(variable):
    steps = extensions(TEXT, "callguard-dial")["s"]
    agi = next(i for i, a in enumerate(steps) if a.startswith("AGI("))
    assert f"Set({variable}=)" in steps[:agi], variable


def test_the_docker_dialplan_includes_the_shipped_one():
    """docker/asterisk/extensions.conf has no [callguard-dial] of its own to drift."""
    text = (ROOT / "docker/asterisk/extensions.conf").read_text()
    assert '#include "callguard/extensions-callguard.conf"' in text
    assert "[callguard-dial]" not in text
