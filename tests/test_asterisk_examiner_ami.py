"""The AMI watchdog against what Asterisk 22's manager.c answers, not only what the lab saw.

Examiner tests (session 16): each replays over real TCP the bytes Asterisk's source shows
it would send in a case the lab recordings do not hold.

- manager.c ``process_message``: an action the user's ``write=`` does not cover is
  answered at once ``Response: Error`` / ``Message: Permission denied`` (``if
  (s->session->writeperm & act_found->authority || act_found->authority == 0) ... else
  astman_send_error(s, m, "Permission denied")``). ``CoreShowChannels`` is registered with
  ``EVENT_FLAG_SYSTEM | EVENT_FLAG_REPORTING``: a manager.conf user written ``write =
  call`` (the shipped file says ``call,reporting``; an admin trimming it to the call
  class is the likely slip) gets that refusal, and no ``EventList`` follows.
"""

from __future__ import annotations

import asyncio
import time

import pytest
import structlog.testing

from callguard.watchdog.ami import AmiSettings, AmiWatchdog
from callguard.watchdog.calls import CallTracker, TrackerSettings
from tests.fake_ami import FakeAmi, lab_events
from tests.test_watchdog import CALL_01, CALLED_01, CALLER_01, Node, until, with_g_option


class RefusingPicture(FakeAmi):
    """A manager whose callguard user lacks ``reporting`` (and ``system``) in ``write=``:
    manager.c process_message refuses CoreShowChannels with a lone Error."""

    async def _action(self, writer, action):  # type: ignore[override]
        if action.get("Action", "").lower() == "coreshowchannels":
            self.actions.append((time.monotonic(), action))
            writer.write(self._reply(action, Response="Error",
                                     Message="Permission denied").encode())
            await writer.drain()
            return
        await super()._action(writer, action)


async def _started(fake: FakeAmi, reports: list) -> AmiWatchdog:
    port = await fake.start()
    settings = AmiSettings(enabled=True, port=port, reconnect_min_ms=50,
                           reconnect_max_s=0.5, action_timeout_ms=1000)
    tracker = CallTracker(TrackerSettings(grace_s=0, retry_s=0.2),
                          report=lambda name, **fields: reports.append((name, fields)))
    watchdog = AmiWatchdog(settings, fake.secret, tracker)
    await watchdog.start()
    return watchdog


class TestPictureRefused:
    async def test_the_refusal_is_said_with_asterisks_words_at_once(self):
        """A refused CoreShowChannels is an answer: it was taken for silence and waited
        out to the action timeout, then logged as a bare ``TimeoutError`` every cycle,
        never naming the permission the admin must add."""
        fake = RefusingPicture()
        watchdog = None
        try:
            with structlog.testing.capture_logs() as logs:
                watchdog = await _started(fake, [])
                await fake.logged_in.wait()
                asked = time.monotonic()
                await until(lambda: any(e["event"] == "ami_rebuild_failed" for e in logs),
                            timeout=3.0)
                took = time.monotonic() - asked
                # retried every second, said once (a reload reaches only a new login)
                await until(lambda: sum(a.get("Action") == "CoreShowChannels"
                                        for _, a in fake.actions) >= 3, timeout=5.0)
                # the fake counts an action when it reads it; the watchdog counts the
                # refusal when it reads the answer, a moment later (under load, later)
                await until(lambda: watchdog.stats["rebuild_refused"] >= 3, timeout=5.0)
            failed = [e for e in logs if e["event"] == "ami_rebuild_failed"]
            assert len(failed) == 1, failed
            assert "Permission denied" in str(failed[0]), failed
            assert took < 0.5, f"the refusal was waited out for {took:.2f} s"
            assert watchdog.stats["rebuild_refused"] >= 3
        finally:
            if watchdog is not None:
                await watchdog.aclose()
            await fake.close()

    async def test_a_refused_picture_does_not_hold_the_release(self):
        """Events read while the picture is asked for are held and replayed after it. A
        refusal waited out to the action timeout (2 s by default) held the called party's
        Hangup that long, and again on every retry: the line released 2 s late, out of a
        federal budget of 5 s (227(d)(3)(B))."""
        fake = RefusingPicture()
        n = Node(fake, retry=0.2)
        port = await fake.start()
        settings = AmiSettings(enabled=True, port=port, reconnect_min_ms=50,
                               reconnect_max_s=0.5, action_timeout_ms=1000)
        n.watchdog = AmiWatchdog(settings, fake.secret, n.tracker)
        try:
            events = lab_events(CALL_01)
            before, held = with_g_option(events, CALLED_01)
            fake.hold(held)
            n.follow(events)
            await n.watchdog.start()
            await until(lambda: any(a.get("Action") == "CoreShowChannels"
                                    for _, a in fake.actions))
            sent = time.monotonic()
            await fake.send(before)
            await until(lambda: sorted(fake.hangups()) == CALLER_01, timeout=4.0)
            first = min(t for t, a in fake.actions if a.get("Action") == "Hangup")
            assert first - sent < 0.5, f"released {first - sent:.2f} s after the hangup"
        finally:
            await n.stop()



# manager.c action_listcommands: one Success message, a line per action the user's write=
# allows, "<Action>: <synopsis> (Priv: <classes>)". Synopses as Asterisk 22 registers them.
_LISTED = {
    "Hangup": "Hangup channel. (Priv: system,call,all)",
    "Getvar": "Gets a channel variable or function value. (Priv: call,reporting,all)",
    "CoreShowChannels": "List currently active channels. (Priv: system,reporting,all)",
    "Ping": "Keepalive command. (Priv: <none>)",
    "ListCommands": "List available manager commands. (Priv: <none>)",
}


class Listing(FakeAmi):
    """A manager that answers ListCommands with what a user allowed ``allowed`` gets."""

    allowed: tuple[str, ...] = tuple(_LISTED)

    async def _action(self, writer, action):  # type: ignore[override]
        if action.get("Action", "").lower() == "listcommands":
            self.actions.append((time.monotonic(), action))
            lines = ["Response: Success", f"ActionID: {action.get('ActionID', '')}"]
            lines += [f"{name}: {text}" for name, text in _LISTED.items()
                      if name in self.allowed]
            writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
            await writer.drain()
            return
        await super()._action(writer, action)


class TestPermissionsSaidAtLogin:
    """A user written ``write = reporting`` (or ``write = system``, without call) is
    refused every Hangup (manager.c process_message: "Permission denied"): the first
    called party's hangup would find it out, with the line held. ListCommands says so at
    login."""

    async def test_a_user_refused_hangup_is_said_at_login(self):
        fake = Listing()
        fake.allowed = ("Getvar", "CoreShowChannels", "Ping", "ListCommands")
        watchdog = None
        try:
            with structlog.testing.capture_logs() as logs:
                watchdog = await _started(fake, [])
                await until(lambda: any(e["event"] == "ami_actions_refused" for e in logs))
            said = next(e for e in logs if e["event"] == "ami_actions_refused")
            assert said["actions"] == ["Hangup"]
            assert "write=" in said["fix"]
            assert "call" in said["fix"]
            assert watchdog.refused_actions == ("Hangup",)
        finally:
            if watchdog is not None:
                await watchdog.aclose()
            await fake.close()

    @pytest.mark.parametrize("blocked", [True, False])
    async def test_required_blocks_automated_calls_while_hangup_is_refused(self, blocked):
        """``[ami] required``: a session Asterisk refuses Hangup can release no line, so
        automated calls are BLOCKed as when logged out; allowed Hangup, they are not."""
        from types import SimpleNamespace

        from callguard.cli.serve import _unwatched

        fake = Listing()
        if blocked:
            fake.allowed = ("Getvar", "CoreShowChannels", "Ping", "ListCommands")
        watchdog = None
        try:
            watchdog = await _started(fake, [])
            await until(lambda: any(a.get("Action") == "ListCommands"
                                    for _, a in fake.actions))
            await until(lambda: watchdog.rebuilt)
            if blocked:
                await until(lambda: watchdog.refused_actions == ("Hangup",))
            unwatched = _unwatched(SimpleNamespace(host="pbx", port=5038),  # type: ignore[arg-type]
                                   [SimpleNamespace(ami=watchdog)])  # type: ignore[list-item]
            reason = unwatched()
            if blocked:
                assert reason is not None
                assert "refuses callguard's AMI user the Hangup action" in reason
            else:
                assert reason is None
        finally:
            if watchdog is not None:
                await watchdog.aclose()
            await fake.close()

    async def test_a_user_allowed_everything_hears_nothing(self):
        fake = Listing()
        watchdog = None
        try:
            with structlog.testing.capture_logs() as logs:
                watchdog = await _started(fake, [])
                await until(lambda: any(a.get("Action") == "ListCommands"
                                        for _, a in fake.actions))
                await until(lambda: watchdog.rebuilt)
            assert not [e for e in logs if e["event"] == "ami_actions_refused"]
            assert watchdog.refused_actions == ()
        finally:
            if watchdog is not None:
                await watchdog.aclose()
            await fake.close()


class InUse(FakeAmi):
    """manager.c process_message with ``[general] allowmultiplelogin = no`` and the user
    already logged in: ``sleep(1)``, ``Response: Error`` / ``Message: Login Already In
    Use``, and the session is closed (``return -1``)."""

    async def _action(self, writer, action):  # type: ignore[override]
        if action.get("Action", "").lower() == "login":
            self.actions.append((time.monotonic(), action))
            writer.write(self._reply(action, Response="Error",
                                     Message="Login Already In Use").encode())
            await writer.drain()
            writer.close()
            return
        await super()._action(writer, action)


async def test_login_already_in_use_names_allowmultiplelogin():
    """Several callguard nodes share the default [ami] username; an Asterisk that allows
    one login per user refuses the others. The fix said was "check the secret"."""
    fake = InUse()
    watchdog = None
    try:
        with structlog.testing.capture_logs() as logs:
            watchdog = await _started(fake, [])
            await until(lambda: any(e["event"] == "ami_login_refused" for e in logs))
        said = next(e for e in logs if e["event"] == "ami_login_refused")
        assert said["message"] == "Login Already In Use"
        assert "allowmultiplelogin" in said["fix"]
    finally:
        if watchdog is not None:
            await watchdog.aclose()
        await fake.close()


class RightsFromLogin(Listing):
    """manager.c ``authenticate`` copies the user's ``write=`` into the session at login
    ("so that in the event of a reload and a configuration change, the session parameters
    are not changed"), and ``action_listcommands`` lists by the session's copy: a
    ``manager reload`` changes what the next login gets, never a live session's rights."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.granted: dict[object, tuple[str, ...]] = {}

    async def _action(self, writer, action):  # type: ignore[override]
        name = action.get("Action", "").lower()
        if name == "login":
            self.granted[writer] = self.allowed
        if name == "listcommands":
            now, self.allowed = self.allowed, self.granted.get(writer, self.allowed)
            try:
                await super()._action(writer, action)
            finally:
                self.allowed = now
            return
        await super()._action(writer, action)


async def test_a_hangup_fixed_and_reloaded_unblocks_calls_without_a_restart(monkeypatch):
    """The log says: add call to write=, then 'manager reload'. The live session keeps
    the rights it logged in with, so ``refused_actions`` (learnt at login only) BLOCKed
    every automated call until callguard was restarted. While Hangup is refused the
    watchdog logs in again now and then (it can release no line anyway); a session
    allowed everything is left alone."""
    from types import SimpleNamespace

    from callguard.cli.serve import _unwatched
    from callguard.watchdog import ami

    monkeypatch.setattr(ami, "_RELOGIN_REFUSED_S", 0.3, raising=False)
    fake = RightsFromLogin()
    fake.allowed = ("Getvar", "CoreShowChannels", "Ping", "ListCommands")
    watchdog = None
    try:
        watchdog = await _started(fake, [])
        unwatched = _unwatched(SimpleNamespace(host="pbx", port=5038),  # type: ignore[arg-type]
                               [SimpleNamespace(ami=watchdog)])  # type: ignore[list-item]
        await until(lambda: watchdog.refused_actions == ("Hangup",))
        assert unwatched() is not None
        fake.allowed = tuple(_LISTED)  # manager.conf fixed, 'manager reload'
        await until(lambda: watchdog.connected and watchdog.refused_actions == ()
                    and unwatched() is None, timeout=3.0)
        logins = fake.logins
        await asyncio.sleep(1.0)  # several intervals: an allowed session stays
        assert fake.logins == logins
        assert watchdog.connected
    finally:
        if watchdog is not None:
            await watchdog.aclose()
        await fake.close()
