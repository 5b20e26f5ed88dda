"""SIGTERM drain, reviewed (hrev45): the AMI watchdog keeps working while the FastAGI
sessions in flight finish. The node closed the watchdog first (its AMI session, its lease)
and only then drained FastAGI for up to 15 s: an automated call decided in the drain was
BLOCKed ``line-release-unwatched`` under ``[ami] required`` (allowed and unfollowed
without it), and no line a followed prerecorded call held was released meanwhile (the
5 s of 47 U.S.C. 227(d)(3)(B), Utah's 25 s of 13-25a-103(5)(e): the watchdog's alone)."""

from __future__ import annotations

import asyncio
import signal

from callguard.fronts.fastagi import contract as c
from tests.asterisk_replica import exec_mset_variables
from tests.fake_ami import FakeAmi
from tests.fake_asterisk import REPLY_OK, asterisk_answer, header_block
from tests.serve_node import AT, ServeNode, write_lists


async def _drained_session(tmp_path) -> tuple[dict[str, str], list[int]]:
    fake = FakeAmi()
    port = await fake.start()
    node = ServeNode(tmp_path, clock_at=AT,
                     extra_ami={"port = 5038": f"port = {port}",
                                "required = false": "required = true"},
                     env_extra={"CALLGUARD_AMI_SECRET": fake.secret})
    write_lists(node.data, [])
    await asyncio.to_thread(node.start)
    sessions: list[int] = []
    try:
        await asyncio.wait_for(fake.logged_in.wait(), 15)
        reader, writer = await asyncio.open_connection("127.0.0.1", node.agi_port)
        block = header_block(c.ROUTE_CHECK, ["8015550123", "ut-solar-predictive",
                                             "predictive", "1.1", ""], port=node.agi_port)
        writer.write(block[:40])  # in flight: connected, its header not yet whole
        await writer.drain()
        assert node.process is not None
        node.process.send_signal(signal.SIGTERM)
        await asyncio.sleep(1.0)  # the node is stopping; the session is under its 2 s
        sessions.append(fake.sessions)
        try:  # a new call is refused while the one in flight is still to be decided
            _, late = await asyncio.open_connection("127.0.0.1", node.agi_port)
            late.close()
            sessions.append(-1)
        except ConnectionRefusedError:
            pass
        writer.write(block[40:])
        await writer.drain()
        variables: dict[str, str] = {}
        channel: dict[str, str] = {}
        async with asyncio.timeout(10):
            while line := await reader.readline():
                command = line.decode().rstrip("\n")
                if command.upper().startswith("EXEC MSET"):
                    variables.update(exec_mset_variables(command))
                writer.write(asterisk_answer(command, channel, REPLY_OK))
                await writer.drain()
        writer.close()
        assert await asyncio.to_thread(node.process.wait, 20) == 0
    finally:
        await asyncio.to_thread(node.stop)
        await fake.close()
    return variables, sessions


def test_the_watchdog_follows_calls_decided_while_draining(tmp_path) -> None:
    variables, sessions = asyncio.run(_drained_session(tmp_path))
    assert variables, "the session in flight got no answer"
    assert variables.get(c.VAR_RULE) != "callguard:line-release-unwatched", variables
    # [1]: logged in to AMI during the drain, and no new FastAGI connection taken (-1)
    assert sessions == [1], "AMI closed during the drain, or a new call accepted in it"
