"""How callguard opens a Redis client: redis-py's defaults, less two.

redis-py 8.1 turns "maintenance notifications" (RESP3 push messages of Redis Enterprise and
Redis Cloud) on as "auto" for every TCP client, and with them on, its pool skips the check
that an idle pooled connection is still open (redis/redis-py#4252, fixed upstream by
#4260): a connection the server closed while idle (``CLIENT KILL``, its ``timeout``, a
firewall's) was handed out again, and the next command failed on it — a write or a count
that cannot be retried, so the call BLOCKed. callguard runs on one Redis primary (with
replicas), which sends no such notices: they are off, and a closed connection is replaced
before anything is sent on it.

And a client with a ``socket_timeout`` sends each command under ``asyncio.wait_for``
(redis-py's ``Connection.send_packed_command``), which on Python 3.11 loses a cancellation
that arrives while the send is under way and the send then completes (CPython gh-86296,
fixed in 3.12 by building ``wait_for`` on ``asyncio.timeout``): the command "succeeds", the
task goes on as if never cancelled. A send completes at once, so the cancel of a task
looping on Redis was lost about one time in three (hfix23: the supervisors' page follows
the Redis Stream with an XREAD a second; a page closed, or a stop, cancelled its follower,
which went on for ever, and ``serve`` never finished its stop after SIGTERM). Every
connection here gives back a cancel that arrived during its send (``_CancelKept``).
"""

from __future__ import annotations

import asyncio
from typing import Any

from redis import asyncio as aioredis
from redis.asyncio.connection import AbstractConnection
from redis.maint_notifications import MaintNotificationsConfig

__all__ = ["open_client"]


class _CancelKept(AbstractConnection):
    """A connection whose send never swallows its task's cancellation."""

    async def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        task = asyncio.current_task()
        asked = task.cancelling() if task is not None else 0
        await super().send_packed_command(command, check_health)
        if task is not None and task.cancelling() > asked:
            # Cancelled during the send and the send returned anyway: the cancel was
            # swallowed (asyncio.wait_for, Python 3.11). Raise it as the read would have,
            # the connection closed first: its reply, unread, must not answer the next
            # command sent on it.
            await self.disconnect(nowait=True)
            raise asyncio.CancelledError


_KEPT: dict[type[AbstractConnection], type[AbstractConnection]] = {}


def _kept(connection_class: type[AbstractConnection]) -> type[AbstractConnection]:
    """``connection_class`` (TCP, TLS or Unix socket, as the URL says) with ``_CancelKept``,
    one class each."""
    if connection_class not in _KEPT:
        _KEPT[connection_class] = type(f"CancelKept{connection_class.__name__}",
                                       (_CancelKept, connection_class), {})
    return _KEPT[connection_class]


def open_client(url: str, **options: Any) -> aioredis.Redis:
    """``redis.asyncio.from_url`` with maintenance notifications off and every cancel kept."""
    client = aioredis.from_url(url, maint_notifications_config=MaintNotificationsConfig(
        enabled=False), **options)
    pool = client.connection_pool
    pool.connection_class = _kept(pool.connection_class)
    return client
