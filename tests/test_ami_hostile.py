"""The AMI connection layer against a hostile manager: huge messages, garbage banners.

Over real TCP with the fake manager (tests/fake_ami.py); the call-tracking logic is not
exercised here beyond "the session goes on".
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import pytest

from callguard.watchdog import ami
from callguard.watchdog.ami import AmiSettings, AmiWatchdog
from callguard.watchdog.calls import CallTracker, TrackerSettings
from tests.fake_ami import FakeAmi
from tests.test_watchdog import Node, until


@pytest.fixture
async def node():
    made = await Node(FakeAmi()).start()
    yield made
    await made.stop()


class TestOversizedMessage:
    async def test_the_tail_of_a_dropped_message_is_not_read_as_a_message(self, node):
        """A message past _MAX_PENDING_BYTES is dropped; what arrives after the cut, up
        to its blank line, is the rest of that message — it was parsed as a message of
        its own, so a value's tail ("...\r\nEvent: Shutdown") chose what was dispatched."""
        seen: list[str] = []
        assert node.watchdog is not None
        manager = node.watchdog._manager
        manager.register_event("UserEvent", lambda _m, event: seen.append(
            str(event.get("UserEvent"))))
        head = b"Event: VarSet\r\nVariable: X\r\nValue: " + b"x" * 65536
        await node.fake.send_raw(head)
        for _ in range(ami._MAX_PENDING_BYTES // 65536 + 2):
            await node.fake.send_raw(b"x" * 65536)
        await node.fake.send_raw(b"\r\nEvent: UserEvent\r\nUserEvent: smuggled\r\n\r\n"
                                 b"Event: UserEvent\r\nUserEvent: next\r\n\r\n")
        await until(lambda: "next" in seen)
        assert seen == ["next"]
        assert node.watchdog.stats["malformed_messages"] == 1
        assert node.fake.logins == 1  # the session went on



Manager = Callable[[asyncio.StreamReader, asyncio.StreamWriter, asyncio.Event], Awaitable[None]]


async def _log_in(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bytes:
    """The banner and an accepted Login, as Asterisk answers them; the Login read."""
    writer.write(b"Asterisk Call Manager/11.0.0\r\n")
    login = await reader.readuntil(b"\r\n\r\n")
    action_id = next(line.split(b": ", 1)[1] for line in login.split(b"\r\n")
                     if line.lower().startswith(b"actionid: "))
    writer.write(b"Response: Success\r\nActionID: " + action_id
                 + b"\r\nMessage: Authentication accepted\r\n\r\n")
    return login


async def _dropped_as_silent(after_login: Manager) -> None:
    """A manager that logs callguard in, then ``after_login``: the session must be taken
    for silent (an unanswered Ping after the action timeout) and made again."""
    accepted: list[float] = []
    done = asyncio.Event()

    async def manager(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        at = time.monotonic()
        if b"events: off" not in (await _log_in(reader, writer)).lower():
            accepted.append(at)  # not callguard's read session (Getvars; ami.py _reader)
        await after_login(reader, writer, done)
        writer.close()

    server = await asyncio.start_server(manager, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    tracker = CallTracker(TrackerSettings(grace_s=0, retry_s=0.2),
                          report=lambda name, **fields: None)
    watchdog = AmiWatchdog(AmiSettings(enabled=True, port=port, reconnect_min_ms=50,
                                       reconnect_max_s=0.2, action_timeout_ms=500),
                           "secret", tracker)
    await watchdog.start()
    try:
        await until(lambda: watchdog.connected)
        await until(lambda: len(accepted) >= 2, timeout=5)  # 1 s Ping + 0.5 s
        assert watchdog.stats["ami_silent"] >= 1
    finally:
        done.set()
        await watchdog.aclose()
        server.close()


class TestActionsUnanswered:
    async def test_a_manager_that_sends_events_but_answers_nothing_is_left(self):
        """Any byte counted as the session answering, so a manager that goes on sending
        events but answers no action (its action handling stuck, or a peer that stopped
        reading what callguard writes) stayed "logged in" for good: ami_up 1, every
        Hangup unanswered, no line released. An unanswered Ping now ends the session
        after the action timeout, as silence does, and it is made again."""

        async def events_only(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                              done: asyncio.Event) -> None:
            while not done.is_set() and not writer.is_closing():  # reads nothing more
                writer.write(b"Event: VarSet\r\nChannel: PJSIP/x-1\r\nVariable: A\r\n"
                             b"Value: 1\r\nUniqueid: 1.1\r\nLinkedid: 1.1\r\n\r\n")
                await asyncio.sleep(0.05)

        await _dropped_as_silent(events_only)

    async def test_responses_that_answer_no_action_of_ours_are_no_answer(self):
        """A manager that answers every action with a Response carrying no ActionID (or
        another's) handles none of callguard's: panoramisk drops them unmatched, every
        Hangup and Ping stays unanswered. Any Response counted as the session answering,
        so such a session stayed "logged in" for good; now it is dropped after the
        action timeout, as silence is, and made again."""

        async def stray_responses(reader: asyncio.StreamReader,
                                  writer: asyncio.StreamWriter, done: asyncio.Event) -> None:
            try:
                while not done.is_set():
                    await reader.readuntil(b"\r\n\r\n")  # an action: a stray answer
                    writer.write(b"Response: Success\r\nPing: Pong\r\n\r\n"
                                 b"Response: Success\r\nActionID: not-yours\r\n\r\n")
            except (asyncio.IncompleteReadError, ConnectionError):
                pass

        await _dropped_as_silent(stray_responses)
