"""A Uniqueid a dialer chose that starts with "/" is not sent as the Hangup's Channel (hrev68).

hwd20 (5a4c8c0) names the channel of an AMI Hangup by its Uniqueid. Asterisk's own are
"<epoch>.<n>" (or "<systemname>-<epoch>.<n>"), but a dialer may choose one: manager.c
``action_originate`` takes ``ChannelId``/``OtherChannelId`` as the new channels' Uniqueids
(``assignedids``, checked only for length), ARI ``channelId`` likewise. manager.c
``ast_manager_hangup_helper`` looks a Channel up by name or Uniqueid only when it does NOT
start with "/"; one that does is a /regex/ matched against every channel's name, and each
match is hung up. Such a Uniqueid is named by the channel's name instead.

Real TCP with tests/fake_ami, which records the actions sent.
"""

from __future__ import annotations

from callguard.watchdog.ami import AmiSettings, AmiWatchdog
from callguard.watchdog.calls import CallTracker, HangupChannel, TrackerSettings
from tests.fake_ami import FakeAmi
from tests.test_watchdog import until


async def test_a_uniqueid_starting_with_a_slash_is_not_sent_as_a_regex():
    fake = FakeAmi()
    port = await fake.start()
    name, chosen = "PJSIP/itsp-00000001", "/itsp/"
    other = "PJSIP/itsp-00000002"  # another call's channel the regex would match
    fake.live[name] = {"Channel": name, "Uniqueid": chosen, "Linkedid": chosen}
    fake.live[other] = {"Channel": other, "Uniqueid": "1800.7", "Linkedid": "1800.7"}
    settings = AmiSettings(enabled=True, port=port, reconnect_min_ms=50,
                           reconnect_max_s=0.1, action_timeout_ms=1000)
    watchdog = AmiWatchdog(settings, fake.secret,
                           CallTracker(TrackerSettings(), report=lambda *a, **k: None))
    await watchdog.start()
    try:
        await until(lambda: watchdog.rebuilt)
        watchdog.run([HangupChannel(chosen, name, 1, chosen)])
        await until(lambda: name not in fake.live, timeout=3)
        sent = [a["Channel"] for _, a in fake.actions if a.get("Action") == "Hangup"]
        assert sent == [name]
        assert not any(channel.startswith("/") for channel in sent)
        assert other in fake.live
    finally:
        await watchdog.aclose()
        await fake.close()
