"""The watchdog's AMI Hangup names a channel by its Uniqueid, not by its name (hwd20).

A channel name is handed out again after an Asterisk restart: the channel counter starts
over, so ``PJSIP/itsp-00000001`` of the call callguard was releasing may be a new, live
call a moment later. manager.c ``action_hangup`` -> ``ast_manager_hangup_helper`` looks a
Channel not starting with "/" up with ``ast_channel_get_by_name``, which tries the name,
then the Uniqueid (channelstorage.c ``channelstorage_by_name_prefix_or_uniqueid`` in 22.x;
channel.c ``ast_channel_get_by_name_prefix`` before). A Uniqueid is the start's epoch and
a counter: not handed out again. A Hangup by Uniqueid for the old call finds nothing.

REPLAYS lab call-01 (real Asterisk 22.10.1 AMI traffic, ../shared/fixtures) through the
pure tracker; the AMI test is over real TCP with tests/fake_ami (which looks a Channel up
as Asterisk does, name first, then Uniqueid).
"""

from __future__ import annotations

import asyncio

from callguard.watchdog.ami import AmiSettings, AmiWatchdog
from callguard.watchdog.calls import CallTracker, HangupChannel, ReadVariable, TrackerSettings
from tests.fake_ami import FakeAmi
from tests.test_watchdog import CALL_01, CALLED_01, lab_events, parse, replay, until


def test_each_hangup_carries_the_uniqueid_its_call_knows_the_channel_by():
    events = [parse(e) for e in lab_events(CALL_01)]
    linkedid = events[0]["Linkedid"]
    cut = next(i for i, e in enumerate(events) if e.get("Event") == "Hangup"
               and e.get("Channel") == CALLED_01)
    tracker, _, effects = replay(events[:cut + 1], [linkedid])
    effects += [(100.0, e) for e in tracker.due(100.0)]
    hangups = [e for _, e in effects if isinstance(e, HangupChannel)]
    assert hangups
    ids = {e["Channel"]: e["Uniqueid"] for e in events if e.get("Event") == "Newchannel"}
    for hangup in hangups:
        assert hangup.uniqueid == ids[hangup.channel], hangup


async def test_a_hangup_for_a_gone_call_does_not_hang_up_a_new_call_with_its_name():
    """After a restart Asterisk's PJSIP/itsp-00000001 is a new call (Uniqueid 1800.1); the
    Hangup the tracker meant for the old one (Uniqueid 1733.41) finds no channel."""
    fake = FakeAmi()
    port = await fake.start()
    name = "PJSIP/itsp-00000001"
    fake.live[name] = {"Channel": name, "Uniqueid": "1800.1", "Linkedid": "1800.1"}
    settings = AmiSettings(enabled=True, port=port, reconnect_min_ms=50,
                           reconnect_max_s=0.1, action_timeout_ms=1000)
    watchdog = AmiWatchdog(settings, fake.secret,
                           CallTracker(TrackerSettings(), report=lambda *a, **k: None))
    await watchdog.start()
    try:
        await until(lambda: watchdog.rebuilt)
        watchdog.run([HangupChannel("1733.40", name, 2, "1733.41")])
        await until(lambda: watchdog.stats.get("hangup_already_gone", 0)
                    + watchdog.stats.get("hangup_refused", 0) >= 1, timeout=3)
        assert name in fake.live, "a live call was hung up by a reused name"
        assert [a["Channel"] for _, a in fake.actions if a.get("Action") == "Hangup"] == [
            "1733.41"]
        watchdog.run([HangupChannel("1800.1", name, 1, "1800.1")])
        await until(lambda: name not in fake.live, timeout=3)  # by Uniqueid it is found
    finally:
        await watchdog.aclose()
        await fake.close()


async def test_a_getvar_for_a_gone_call_does_not_read_a_new_call_with_its_name():
    """The same for a read, sent while the picture after the login is pending (``_getvar``
    does not wait for it): the tracker still holds PJSIP/itsp-00000001 as Uniqueid
    1733.41; Asterisk's channel of that name now is a new call (1800.1) whose DIALSTATUS is
    ANSWER. Read by name, that ANSWER spoke for the old call."""
    fake = FakeAmi()
    port = await fake.start()
    name = "PJSIP/itsp-00000001"
    fake.live[name] = {"Channel": name, "Uniqueid": "1800.1", "Linkedid": "1800.1"}
    fake.variables[(name, "DIALSTATUS")] = "ANSWER"
    original = fake._action
    asked: list[float] = []

    async def slow_picture(writer, action):
        if action.get("Action", "").lower() == "coreshowchannels":
            asked.append(0.0)

            async def later():
                await asyncio.sleep(1.0)
                await original(writer, action)
            asyncio.ensure_future(later())  # noqa: RUF006 - ends with the fake
            return None
        return await original(writer, action)

    fake._action = slow_picture  # type: ignore[method-assign]
    tracker = CallTracker(TrackerSettings(), report=lambda *a, **k: None)
    tracker.feed({"Event": "Newchannel", "Channel": name, "Uniqueid": "1733.41",
                  "Linkedid": "1733.40", "ChannelState": "6"}, 0.0)
    read: list[tuple[str, str | None]] = []
    original_read = tracker.variable_read

    def variable_read(linkedid, channel, variable, value, now):
        if variable == "DIALSTATUS":
            read.append((channel, value))
        return original_read(linkedid, channel, variable, value, now)

    tracker.variable_read = variable_read  # type: ignore[method-assign]
    settings = AmiSettings(enabled=True, port=port, reconnect_min_ms=50,
                           reconnect_max_s=0.1, action_timeout_ms=3000)
    watchdog = AmiWatchdog(settings, fake.secret, tracker)
    await watchdog.start()
    try:
        await until(lambda: asked, timeout=3)  # the picture asked, not yet answered
        assert not watchdog.rebuilt
        watchdog.run([ReadVariable("1733.40", name, "DIALSTATUS")])
        await until(lambda: read, timeout=3)
        assert read == [(name, None)]  # no such channel: unreadable, not the new ANSWER
        assert [a["Channel"] for _, a in fake.actions if a.get("Action") == "Getvar"
                and a.get("Variable") == "DIALSTATUS"] == ["1733.41"]
    finally:
        await watchdog.aclose()
        await fake.close()
