"""A Redis command of callguard's clients never swallows its task's cancellation (hfix23).

redis-py sends each command of a client with a ``socket_timeout`` under
``asyncio.wait_for``, and Python 3.11's ``wait_for`` returns the result when the awaited
send is done by the time it sees the cancel (CPython gh-86296; 3.12 rebuilt it): the
cancel is lost, and the task goes on. Since hsto23 gave every client a ``socket_timeout``,
the supervisors' page's Redis Stream follower (an XREAD a second) lost the cancel of a
closed page or of a stop about one time in three, went on for ever, and ``serve`` never
finished its stop after SIGTERM (tests/test_supervisor_page.py, stream: SIGKILLed).

Real redis-server. The first test cancels a command exactly while its send is awaited
(found by walking the task's awaits, not by timing); the second cancels a stream follower
at random moments while records arrive, as the page's follower is.
"""

from __future__ import annotations

import asyncio
import random

from callguard.stores.redis.client import open_client

SOCKET_TIMEOUT = 30.0  # runtime.COMMAND_SECONDS: what the page's client gets
ENDED_WITHIN_S = 5.0  # a cancelled command ends at once; this only bounds a failure


def _awaiting(task: asyncio.Task, name: str) -> bool:
    """The task is suspended inside a coroutine called ``name``."""
    coro = task.get_coro()
    while coro is not None and hasattr(coro, "cr_code"):
        if coro.cr_code.co_name == name:
            return True
        coro = coro.cr_await
    return False


async def _ended(task: asyncio.Task) -> bool:
    done, _ = await asyncio.wait({task}, timeout=ENDED_WITHIN_S)
    return bool(done)


async def test_a_cancel_during_the_send_is_raised_and_no_reply_is_left_behind(redis_server):
    client = open_client(redis_server.url, socket_timeout=SOCKET_TIMEOUT)
    try:
        await client.set("a", b"A")
        await client.set("b", b"B")
        for attempt in range(20):
            task = asyncio.create_task(client.get("a"))
            while not _awaiting(task, "send_packed_command"):
                assert not task.done(), "the GET ended before its send was seen"
                await asyncio.sleep(0)
            task.cancel()
            assert await _ended(task), "the cancelled GET never ended"
            assert task.cancelled(), (
                f"attempt {attempt}: cancelled during its send, the GET returned "
                f"{task.result()!r}: the cancel was swallowed")
            # The cancelled GET's reply was never read: it must not answer this one.
            assert await client.get("b") == b"B"
    finally:
        await client.aclose()


async def test_a_stream_follower_ends_on_every_cancel_while_records_arrive(redis_server):
    client = open_client(redis_server.url, socket_timeout=SOCKET_TIMEOUT)
    writer = open_client(redis_server.url, socket_timeout=SOCKET_TIMEOUT)
    stop = asyncio.Event()

    async def add() -> None:
        while not stop.is_set():
            await writer.xadd("s", {"r": b"x"}, maxlen=1000)
            await asyncio.sleep(0.002)

    async def follow() -> None:  # as compliance.reader.follow_stream
        last = "$"
        while True:
            answer = await client.xread({"s": last}, block=1000, count=500)
            for _, entries in answer or []:
                if entries:
                    last = entries[-1][0]

    adding = asyncio.create_task(add())
    rng = random.Random(23)
    try:
        for attempt in range(60):
            task = asyncio.create_task(follow())
            await asyncio.sleep(rng.uniform(0.005, 0.03))
            task.cancel()
            ended = await _ended(task)
            while not task.done():  # not to leave it following past the test
                task.cancel()
                await asyncio.wait({task}, timeout=0.5)
            assert ended, f"attempt {attempt}: the cancelled follower went on following"
    finally:
        stop.set()
        await adding
        await client.aclose()
        await writer.aclose()
