"""hwd23: an unanswered BridgeList no longer holds a restart's events for its whole
``action_timeout_ms``.

After every login ``AmiWatchdog._rebuild`` takes the picture (CoreShowChannels) and then
asks BridgeList (manager_bridges.c ``manager_bridges_list``) for the holding bridges;
events arriving meanwhile are held (``_held``) and applied after the picture. A called
party hanging up in that hold is released only when it ends. BridgeList unanswered, the
hold lasted its whole ``action_timeout_ms`` (2 s by default) on top of the picture, and
after a restart that release may still wait for the number's digest (1 s), its AppDial
leg's DIALEDPEERNUMBER Getvar (up to 2 s) and the transfer variables (0.5 s): past the 5 s
of 47 U.S.C. 227(d)(3)(B) for a prerecorded call. Now the hold ends ``_HOLD_S`` (1 s)
after it began once the picture is answered; BridgeList gets what is left, the picture
then read without it (as when it is refused).

Over the fake AMI (tests/fake_ami.py, a real socket). The call is SYNTHESISED (a dialer's
Local pair, its ``;2`` Dial()ing the trunk, channelvars on), and so is the BridgeList that
Asterisk never answers and the called party's Hangup sent as BridgeList arrives.
"""

from __future__ import annotations

import asyncio
import time

from callguard.fronts.fastagi.contract import VAR_FOLLOW
from callguard.watchdog.ami import AmiSettings, AmiWatchdog
from callguard.watchdog.calls import CallTracker, TrackerSettings
from tests.fake_ami import FakeAmi
from tests.test_watchdog import carried, until, written

CALL = "1795600000.0"
ONE, TWO = "Local/100@callguard-dial-00000001;1", "Local/100@callguard-dial-00000001;2"
TRUNK = "PJSIP/trunk-00000002"  # the called party
IDS = {ONE: CALL, TWO: "1795600000.1", TRUNK: "1795600000.2"}
APPS = {ONE: "Playback", TWO: "Dial", TRUNK: "AppDial"}


class _SilentBridgeList(FakeAmi):
    """Never answers BridgeList (``answer``: False); the called party hangs up as it is
    asked, so its Hangup comes while the picture's events are held."""

    answer: bool = False
    hung_up_at: float | None = None

    def bridge_listing(self, action: dict[str, str]) -> str:
        if self.hung_up_at is None:
            self.hung_up_at = time.monotonic()
            hangup = self._synth_hangup(TRUNK)
            del self.live[TRUNK]
            asyncio.get_running_loop().create_task(self.send([hangup]))
        return super().bridge_listing(action) if self.answer else ""


def _fake(*, answer: bool) -> _SilentBridgeList:
    fake = _SilentBridgeList(channelvars=(VAR_FOLLOW,), bridge_list=[])
    fake.answer = answer
    value = carried(mode="prerecorded", limit=5.0, decision="d-hwd23-hold")
    for name, uniqueid in IDS.items():
        fake.live[name] = {"Event": "Newchannel", "Channel": name, "Uniqueid": uniqueid,
                           "Linkedid": CALL, "ChannelState": "6", "ChannelStateDesc": "Up"}
        fake.names[uniqueid] = name
        fake.applications[name] = APPS[name]
        fake.set_variable(name, VAR_FOLLOW, value)
    return fake


async def _release_delay(*, answer: bool) -> tuple[float, list[tuple[str, dict]]]:
    """Seconds from the called party's Hangup leaving the fake to callguard's first Hangup
    action, with the default ``action_timeout_ms`` (2000); returned once the call's
    line-release is written."""
    fake = _fake(answer=answer)
    port = await fake.start()
    reports: list[tuple[str, dict]] = []
    tracker = CallTracker(TrackerSettings(), report=written(reports))
    watchdog = AmiWatchdog(AmiSettings(enabled=True, port=port, reconnect_min_ms=50,
                                       reconnect_max_s=0.5), fake.secret, tracker)
    assert watchdog.settings.action_timeout_ms == 2000
    await watchdog.start()
    try:
        await until(lambda: bool(fake.hangups()), timeout=6.0)
        sent = next(at for at, action in fake.actions if action.get("Action") == "Hangup")
        assert fake.hung_up_at is not None
        await until(lambda: any(name == "line-release" for name, _ in reports), timeout=6.0)
        return sent - fake.hung_up_at, reports
    finally:
        await watchdog.aclose()
        await fake.close()


async def test_an_unanswered_bridge_list_holds_the_release_one_second_at_most():
    """Fails before hwd23: the release went out ~2.0 s after the called party's Hangup."""
    delay, _ = await _release_delay(answer=False)
    assert delay < 1.5, delay


async def test_control_bridge_list_answered_the_release_goes_at_once():
    delay, reports = await _release_delay(answer=True)
    assert delay < 0.9, delay  # no hold to wait out (a loaded 2-core host: margin)
    assert [f["ended_by"] for name, f in reports if name == "line-release"] == [
        "called-party"]


async def test_the_release_is_recorded_with_the_hold_in_it():
    """The record is measured between event arrivals: the held Hangup keeps its own
    arrival time, so the hold is in ``release_ms``, not hidden (and within 5 s now)."""
    delay, reports = await _release_delay(answer=False)
    [record] = [f for name, f in reports if name == "line-release"]
    assert record["ended_by"] == "called-party"
    assert record["release_ms"] >= delay * 1000 - 100  # from the Hangup's own arrival
    assert record["within_limit"] is True
