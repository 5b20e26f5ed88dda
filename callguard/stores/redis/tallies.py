"""Abandonment tallies in Redis: every node adds to the same per-campaign daily hash.

One hash per campaign and day (``callguard:abandonment:<campaign>:<YYYY-MM-DD>``, fields
``answered`` and ``abandoned``), incremented with HINCRBY and expiring 40 days after its
last write, so the 30-day window needs no clean-up.
"""

from __future__ import annotations

from datetime import date, timedelta

from redis import asyncio as aioredis
from redis.exceptions import RedisError

from callguard.errors import StoreError

__all__ = ["RedisTallies"]

_TTL_S = 40 * 86_400


class RedisTallies:
    """HINCRBY on write, one pipelined HMGET per day on read."""

    def __init__(self, client: aioredis.Redis, prefix: str = "callguard:abandonment") -> None:
        self._client = client
        self._prefix = prefix

    def _key(self, campaign: str, day: date) -> str:
        return f"{self._prefix}:{campaign}:{day.isoformat()}"

    async def add(self, campaign: str, day: date, *, abandoned: bool) -> None:
        """Count one answered call (atomic: MULTI/EXEC)."""
        key = self._key(campaign, day)
        try:
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.hincrby(key, "answered", 1)
                if abandoned:
                    pipe.hincrby(key, "abandoned", 1)
                pipe.expire(key, _TTL_S)
                await pipe.execute()
        except (RedisError, OSError) as exc:
            raise StoreError(f"abandonment tallies in Redis: {exc}") from None

    async def window(self, campaign: str, first: date, last: date) -> tuple[int, int]:
        """(answered, abandoned) over the days from ``first`` to ``last``."""
        days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
        try:
            async with self._client.pipeline(transaction=False) as pipe:
                for day in days:
                    pipe.hmget(self._key(campaign, day), "answered", "abandoned")
                rows = await pipe.execute()
        except (RedisError, OSError) as exc:
            raise StoreError(f"abandonment tallies in Redis: {exc}") from None
        answered = sum(int(a or 0) for a, _ in rows)
        abandoned = sum(int(b or 0) for _, b in rows)
        return answered, abandoned

    async def aclose(self) -> None:
        """Close the client."""
        await self._client.aclose()
