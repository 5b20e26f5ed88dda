"""How callguard opens a Redis client: redis-py's defaults, less one.

redis-py 8.1 turns "maintenance notifications" (RESP3 push messages of Redis Enterprise and
Redis Cloud) on as "auto" for every TCP client, and with them on, its pool skips the check
that an idle pooled connection is still open (redis/redis-py#4252, fixed upstream by
#4260): a connection the server closed while idle (``CLIENT KILL``, its ``timeout``, a
firewall's) was handed out again, and the next command failed on it — a write or a count
that cannot be retried, so the call BLOCKed. callguard runs on one Redis primary (with
replicas), which sends no such notices: they are off, and a closed connection is replaced
before anything is sent on it.
"""

from __future__ import annotations

from typing import Any

from redis import asyncio as aioredis
from redis.maint_notifications import MaintNotificationsConfig

__all__ = ["open_client"]


def open_client(url: str, **options: Any) -> aioredis.Redis:
    """``redis.asyncio.from_url`` with maintenance notifications off."""
    return aioredis.from_url(url, maint_notifications_config=MaintNotificationsConfig(
        enabled=False), **options)
