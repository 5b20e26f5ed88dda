"""The AMI connection layer against a hostile manager: huge messages, garbage banners.

Over real TCP with the fake manager (tests/fake_ami.py); the call-tracking logic is not
exercised here beyond "the session goes on".
"""

from __future__ import annotations

import pytest

from callguard.watchdog import ami
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

