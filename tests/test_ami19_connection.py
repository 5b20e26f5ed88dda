"""The AMI connection against a manager that refuses, or is not there (examiner hami19).

Over real TCP with the fake manager (tests/fake_ami.py). Asterisk's side, from manager.c:
``action_login`` answers a failed ``authenticate`` (wrong secret, unknown user, the
user's permit/deny ACL) with ``sleep(1)``, ``Response: Error`` / ``Message:
Authentication failed`` and closes the session; each failure is a NOTICE in Asterisk's
log and a security event.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time

import pytest
import structlog

from callguard.watchdog import ami
from callguard.watchdog.ami import AmiSettings, AmiWatchdog
from callguard.watchdog.calls import CallTracker, HangupChannel, ReadVariable, TrackerSettings
from tests.fake_ami import FakeAmi
from tests.redis_server import free_port
from tests.test_watchdog import until


def _tracker() -> CallTracker:
    return CallTracker(TrackerSettings(), report=lambda *a, **k: None)


def _logins(fake: FakeAmi) -> list[float]:
    return [at for at, action in fake.actions if action.get("Action") == "Login"]


class TestRefusedLogin:
    async def test_a_refused_login_is_retried_seconds_apart_not_at_the_reconnect_pace(
            self, monkeypatch):
        """The reconnect backoff (2 s at most, for an Asterisk that went away) also paced
        the retries of a refused login: with Asterisk's 1 s sleep, ~1200 "failed to
        authenticate" NOTICEs and security events an hour — what fail2ban's asterisk jail
        bans a host for. Now a refused login waits ``_LOGIN_REFUSED_S`` doubling to
        ``_LOGIN_REFUSED_MAX_S``; a good login resets the backoff; the retries say
        nothing more (no "ami_disconnected" for sessions that never logged in)."""
        monkeypatch.setattr(ami, "_LOGIN_REFUSED_S", 0.6, raising=False)
        monkeypatch.setattr(ami, "_LOGIN_REFUSED_MAX_S", 1.0, raising=False)
        fake = FakeAmi(secret="the-right-one")
        port = await fake.start()
        settings = AmiSettings(enabled=True, port=port, reconnect_min_ms=50,
                               reconnect_max_s=0.1, action_timeout_ms=1000)
        with structlog.testing.capture_logs() as logs:
            watchdog = AmiWatchdog(settings, "a-wrong-one", _tracker())
            await watchdog.start()
            try:
                await until(lambda: len(_logins(fake)) >= 4, timeout=10)
                tried = _logins(fake)
                gaps = [b - a for a, b in itertools.pairwise(tried)]
                assert all(gap >= 0.55 for gap in gaps), gaps
                assert gaps[-1] >= 0.95, gaps  # doubled to the cap
                said = len(logs)
                fake.secret = "a-wrong-one"  # the admin fixes manager.conf
                await until(lambda: fake.logins == 1, timeout=5)
                await until(lambda: watchdog.rebuilt)
                assert not [e for e in logs[:said] if e["event"] == "ami_disconnected"], logs
                dropped = time.monotonic()
                await fake.drop()  # Asterisk restarts: back at the reconnect pace
                await until(lambda: fake.logins == 2, timeout=5)
                assert time.monotonic() - dropped < 0.5
            finally:
                await watchdog.aclose()
                await fake.close()
        refused = [e for e in logs if e["event"] == "ami_login_refused"]
        assert len(refused) == 1, logs
        assert "30 s" not in refused[0]["retry"]
        assert "0.6 s" in refused[0]["retry"]
        assert [e for e in logs if e["event"] == "ami_disconnected"], logs  # a real one


class TestManagerNotListening:
    async def test_connection_refused_is_said_once_per_episode(self):
        """Nothing listening at the manager port: panoramisk's "Not able to reconnect"
        (no host, no cause) came once per retry — 1800 lines an hour at the 2 s backoff,
        drowning the rest of the log. Now once until a login, then once again."""
        port = free_port()
        settings = AmiSettings(enabled=True, port=port, reconnect_min_ms=50,
                               reconnect_max_s=0.1, action_timeout_ms=1000)
        fake = FakeAmi()
        with structlog.testing.capture_logs() as logs:
            watchdog = AmiWatchdog(settings, fake.secret, _tracker())
            await watchdog.start()
            try:
                await asyncio.sleep(1.0)  # about ten attempts
                unreachable = [e for e in logs if e.get("message") == "Not able to reconnect"]
                assert len(unreachable) == 1, logs
                fake._server = await asyncio.start_server(
                    fake._serve, "127.0.0.1", port)
                await fake.start()
                await until(lambda: watchdog.rebuilt)
                await fake.close()  # Asterisk stops again: a new episode
                await asyncio.sleep(1.0)
            finally:
                await watchdog.aclose()
                await fake.close()
        unreachable = [e for e in logs if e.get("message") == "Not able to reconnect"]
        assert len(unreachable) == 2, logs


class TestLateEvents:
    """Asterisk answers a Hangup action at once (manager.c ``action_hangup``, the session's
    own thread), while the channel's Hangup event comes through the stasis bus, behind
    whatever backlog it has. The tracker times events at their arrival: a backlog that
    drains between the called party's Hangup event and the last channel's made a release
    read shorter than it was, and nothing said the events were late."""

    async def _release(self, monkeypatch, delay: float) -> tuple[AmiWatchdog, list]:
        monkeypatch.setattr(ami, "_LATE_S", 0.4, raising=False)
        fake = FakeAmi(honour_hangup=False)
        port = await fake.start()
        channel = "PJSIP/agent-0000002a"
        snapshot = {"Channel": channel, "Uniqueid": "1733.42", "Linkedid": "1733.40"}
        fake.live[channel] = snapshot
        settings = AmiSettings(enabled=True, port=port, reconnect_min_ms=50,
                               reconnect_max_s=0.1, action_timeout_ms=1000)
        with structlog.testing.capture_logs() as logs:
            watchdog = AmiWatchdog(settings, fake.secret, _tracker())
            await watchdog.start()
            try:
                await until(lambda: watchdog.rebuilt)
                watchdog.run([HangupChannel("1733.40", channel, 1)])
                await until(lambda: channel in fake.hangups())
                await asyncio.sleep(delay)  # the stasis backlog
                await fake.send(["\r\n".join([
                    "Event: Hangup", "Privilege: call,all", f"Channel: {channel}",
                    "Uniqueid: 1733.42", "Linkedid: 1733.40", "Cause: 16"])])
                await until(lambda: watchdog.event_lag_s is not None)
            finally:
                await watchdog.aclose()
                await fake.close()
        return watchdog, logs

    async def test_a_hangup_event_read_late_after_asterisk_accepted_it_is_said(
            self, monkeypatch):
        watchdog, logs = await self._release(monkeypatch, 0.8)
        assert watchdog.stats.get("events_late") == 1
        late = [e for e in logs if e["event"] == "ami_events_late"]
        assert len(late) == 1, logs
        assert late[0]["seconds"] >= 0.75
        assert "not a proof" in late[0]["effect"]

    async def test_a_prompt_hangup_event_says_nothing(self, monkeypatch):
        watchdog, logs = await self._release(monkeypatch, 0.0)
        assert watchdog.event_lag_s is not None
        assert watchdog.event_lag_s < 0.4
        assert not watchdog.stats.get("events_late")
        assert not [e for e in logs if e["event"] == "ami_events_late"]


class TestLoginUnanswered:
    """A peer that takes the TCP connection and answers nothing (a wrong port: Asterisk's
    TLS manager, another service; an Asterisk whose manager threads are stuck): the Login
    was dropped after the action timeout and retried, each time a bare "ami_silent" —
    neither where nor what to check. Now one error naming host, port, whether a banner
    came, and the fix; the retries go on quietly."""

    @pytest.mark.parametrize("banner", [b"", b"Asterisk Call Manager/9.0.0\r\n"],
                             ids=["no-banner", "banner-then-silence"])
    async def test_said_once_with_what_to_check(self, banner):
        async def mute(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.write(banner)
            with contextlib.suppress(ConnectionError):
                await reader.read()  # until callguard gives up
            writer.close()

        server = await asyncio.start_server(mute, "127.0.0.1", 0)
        port = int(server.sockets[0].getsockname()[1])
        settings = AmiSettings(enabled=True, port=port, reconnect_min_ms=50,
                               reconnect_max_s=0.1, action_timeout_ms=200)
        with structlog.testing.capture_logs() as logs:
            watchdog = AmiWatchdog(settings, "s", _tracker())
            await watchdog.start()
            try:
                await until(lambda: watchdog.stats["ami_silent"] >= 3)
            finally:
                await watchdog.aclose()
                server.close()
                await server.wait_closed()
        said = [e for e in logs if e["event"] == "ami_login_unanswered"]
        assert len(said) == 1, logs
        assert said[0]["port"] == port
        assert not [e for e in logs if e["event"] in ("ami_silent", "ami_disconnected")]
        if banner:
            assert said[0]["banner"] == "9.0.0"
            assert "overloaded" in said[0]["fix"]
        else:
            assert said[0]["banner"] is None
            assert "TLS" in said[0]["fix"]


class TestUnreadMessages:
    async def test_a_message_without_event_or_response_header_is_counted(self):
        """panoramisk keeps only a block with an ``Event`` or ``Response`` header spelt
        so: ``event: Hangup`` (a proxy that changed the case) was dropped unseen — no
        count, no log. Asterisk spells them so (manager.c); anything else is now counted
        as a malformed message and logged, and the session goes on."""
        fake = FakeAmi()
        port = await fake.start()
        settings = AmiSettings(enabled=True, port=port, reconnect_min_ms=50,
                               reconnect_max_s=0.1, action_timeout_ms=1000)
        watchdog = AmiWatchdog(settings, fake.secret, _tracker())
        await watchdog.start()
        try:
            await until(lambda: watchdog.rebuilt)
            await fake.send_raw(b"event: Hangup\r\nChannel: PJSIP/a-00000001\r\n\r\n"
                                b"\r\n\r\n")  # a stray blank line is nothing
            await until(lambda: watchdog.stats["malformed_messages"] >= 1)
            await asyncio.sleep(0.1)
            assert watchdog.stats["malformed_messages"] == 1
            assert watchdog.connected
        finally:
            await watchdog.aclose()
            await fake.close()


class TestInFlight:
    async def test_a_getvar_in_flight_at_a_drop_is_answered_unknown_at_once(self):
        """Asterisk goes (restart, network) while a Getvar waits for its answer: panoramisk
        left the future pending, so "unknown" came at the action timeout — after the
        reconnect, where the Hangup it led to was sent on the new session against the
        picture's own decision. Now the answer is "unknown" as the session ends."""
        fake = FakeAmi()
        port = await fake.start()
        settings = AmiSettings(enabled=True, port=port, reconnect_min_ms=50,
                               reconnect_max_s=0.1, action_timeout_ms=3000)
        tracker = _tracker()
        answers: list[tuple[float, str | None, bool]] = []
        watchdog = AmiWatchdog(settings, fake.secret, tracker)

        def read(linkedid, channel, variable, value, now):
            answers.append((time.monotonic(), value, watchdog.connected))
            return []

        tracker.variable_read = read  # type: ignore[method-assign]
        original = fake._action

        async def drop_on_getvar(writer, action):
            if action.get("Action", "").lower() == "getvar":
                fake.actions.append((time.monotonic(), action))
                await fake.drop()
                return None
            return await original(writer, action)

        fake._action = drop_on_getvar  # type: ignore[method-assign]
        await watchdog.start()
        try:
            await until(lambda: watchdog.rebuilt)
            asked = time.monotonic()
            watchdog.run([ReadVariable("1733.40", "PJSIP/itsp-0000002b", "BLINDTRANSFER")])
            await until(lambda: bool(answers), timeout=5)
            at, value, connected = answers[0]
            assert value is None
            assert at - asked < 1.0, at - asked
            assert not connected  # decided while no session can act on it
        finally:
            await watchdog.aclose()
            await fake.close()


class TestLoginInUse:
    async def test_login_already_in_use_is_retried_at_the_reconnect_pace(self, monkeypatch):
        """manager.c with ``[general] allowmultiplelogin = no`` answers "Login Already In
        Use" while the user's previous session lives — after a restart of this node, for
        the second or two Asterisk takes to see it gone. Not a wrong secret: retried at the
        reconnect backoff, not 5 s later with the node's calls unwatched meanwhile."""
        monkeypatch.setattr(ami, "_LOGIN_REFUSED_S", 3.0)
        fake = FakeAmi()
        port = await fake.start()
        original = fake._action
        refusals = [1]

        async def in_use_once(writer, action):
            if action.get("Action", "").lower() == "login" and refusals:
                refusals.pop()
                fake.actions.append((time.monotonic(), action))
                writer.write(fake._reply(action, Response="Error",
                                         Message="Login Already In Use").encode())
                await writer.drain()
                writer.close()
                return None
            return await original(writer, action)

        fake._action = in_use_once  # type: ignore[method-assign]
        settings = AmiSettings(enabled=True, port=port, reconnect_min_ms=50,
                               reconnect_max_s=0.1, action_timeout_ms=1000)
        with structlog.testing.capture_logs() as logs:
            watchdog = AmiWatchdog(settings, fake.secret, _tracker())
            started = time.monotonic()
            await watchdog.start()
            try:
                await until(lambda: watchdog.rebuilt, timeout=5)
                assert time.monotonic() - started < 1.5
            finally:
                await watchdog.aclose()
                await fake.close()
        refused = [e for e in logs if e["event"] == "ami_login_refused"]
        assert len(refused) == 1
        assert "allowmultiplelogin" in refused[0]["fix"]
        assert refused[0]["retry"] == "at the reconnect backoff"


class _Retrying(CallTracker):
    """A call mid-release when Asterisk went: its Hangup retried every 0.2 s by name."""

    def __init__(self) -> None:
        super().__init__(TrackerSettings(), report=lambda *a, **k: None)
        self._next = 0.0

    def due(self, now, only=None):
        if now < self._next:
            return []
        self._next = now + 0.2
        return [HangupChannel("1733.40", "PJSIP/itsp-00000001", 1)]

    def reconcile(self, live, now, *, lots=None):
        return []  # the picture has no such call: nothing to release


class TestRestartedAsterisk:
    async def test_no_hangup_by_an_old_name_before_the_picture_after_a_login(self):
        """Asterisk restarted: its channel counter starts again, so ``PJSIP/itsp-00000001``
        may now be a new, live call. The tracker's retries for the old call went out by
        name as soon as the session logged in, before the picture (CoreShowChannels) that
        tells the old call gone. Now they wait for it; the reconcile decides again."""
        fake = FakeAmi()
        port = await fake.start()
        original = fake._action
        answered: list[float] = []

        async def slow_picture(writer, action):
            if action.get("Action", "").lower() == "coreshowchannels":
                async def later():
                    await asyncio.sleep(0.8)  # a busy Asterisk lists its channels
                    answered.append(time.monotonic())
                    await original(writer, action)
                asyncio.ensure_future(later())  # noqa: RUF006 - ends with the fake
                return None
            return await original(writer, action)

        fake._action = slow_picture  # type: ignore[method-assign]
        settings = AmiSettings(enabled=True, port=port, reconnect_min_ms=50,
                               reconnect_max_s=0.1, action_timeout_ms=3000)
        watchdog = AmiWatchdog(settings, fake.secret, _Retrying())
        await watchdog.start()
        try:
            await until(lambda: bool(answered), timeout=5)
            await until(lambda: watchdog.rebuilt, timeout=5)
            await until(lambda: bool(fake.hangups()), timeout=5)  # after it: they go
            early = [at for at, action in fake.actions
                     if action.get("Action") == "Hangup" and at < answered[0]]
            assert early == []
            assert watchdog.stats["hangup_deferred_to_picture"] >= 2
        finally:
            await watchdog.aclose()
            await fake.close()
