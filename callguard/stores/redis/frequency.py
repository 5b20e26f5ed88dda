"""Call-frequency counts in Redis: one sorted set per number and subject, every node's.

Key ``callguard:freq:{<hash>}:<subject>`` (the hash tag keeps every subject of one number in
one cluster slot, so one script may touch them all); members are one random token per
counted call, scored by the call's instant in milliseconds. The check-and-reserve is ONE
Lua script — one round trip, atomic against every other node: drop calls older than the
retention, count each claim's window, and only when every claim is under its cap add the
call to every subject and set the expiry to the retention (the longest window of any
loaded rule, so a shorter rule's call never trims a longer rule's count).

A count that could be lost (the record store's durability guard, shared: a Redis that
stopped fsyncing or lost its data) refuses the reservation (StoreError): BLOCK.
"""

from __future__ import annotations

import inspect
import secrets
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from redis import asyncio as aioredis
from redis.exceptions import RedisError

from callguard.errors import StoreError
from callguard.policy.frequency import SKEW_MS, FrequencyClaim, FrequencyResult

__all__ = ["RedisFrequency"]

# KEYS: the distinct subject keys. ARGV: trim bound (ms: this and older go), retention
# (ms), member, the call's instant (ms), then per claim: key index, window start (ms,
# exclusive), cap. Returns {refused claim (1-based) or 0, count per claim...}.
_RESERVE_SCRIPT = """
local trim, keep, member, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
for _, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', trim)
end
local result = {0}
for c = 1, (#ARGV - 4) / 3 do
  local base = 4 + (c - 1) * 3
  local key = KEYS[tonumber(ARGV[base + 1])]
  local count = redis.call('ZCOUNT', key, '(' .. ARGV[base + 2], '+inf')
  result[c + 1] = count
  if result[1] == 0 and count >= tonumber(ARGV[base + 3]) then result[1] = c end
end
if result[1] == 0 then
  for _, key in ipairs(KEYS) do
    redis.call('ZADD', key, now, member)
    redis.call('PEXPIRE', key, keep)
  end
end
return result
"""


def _wall() -> datetime:
    return datetime.now(UTC)


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


class RedisFrequency:
    """The check-and-reserve as one script per call."""

    def __init__(self, client: aioredis.Redis, hasher: Callable[[str], str], *,
                 retention_s: int, refusing: Callable[[], str | None] = lambda: None,
                 clock: Callable[[], datetime] = _wall) -> None:
        self._client = client
        self._clock = clock
        self._hash = hasher
        self._retention_ms = retention_s * 1000
        self._refusing = refusing
        self._script = client.register_script(_RESERVE_SCRIPT)

    def _key(self, digest: str, subject: str) -> str:
        return f"callguard:freq:{{{digest}}}:{subject}"

    async def reserve(self, e164: str, claims: Sequence[FrequencyClaim],
                      at: datetime) -> FrequencyResult:
        """One EVALSHA; StoreError when Redis does not answer or cannot be trusted."""
        if not claims:
            return FrequencyResult((), (), None)
        self._guard()
        digest = self._hash(e164)
        subjects = list(dict.fromkeys(c.subject for c in claims))
        now = _ms(at)
        keep = max(self._retention_ms, *(c.window_s * 1000 for c in claims)) + SKEW_MS
        trim = min(now, _ms(self._clock())) - keep
        args: list[str | int] = [trim, keep, secrets.token_hex(8), now]
        for claim in claims:
            args += [subjects.index(claim.subject) + 1, now - claim.window_s * 1000, claim.cap]
        command = self._script(keys=[self._key(digest, s) for s in subjects], args=args)
        try:
            raw = await command
        except (RedisError, OSError) as exc:
            if inspect.iscoroutine(command):
                command.close()
            raise StoreError(f"call-frequency counts (Redis) unavailable: {exc}; the call "
                             "was not counted") from None
        self._guard()
        refused = int(raw[0])
        return FrequencyResult(tuple(claims), tuple(int(n) for n in raw[1:]),
                               refused - 1 if refused else None)

    def _guard(self) -> None:
        reason = self._refusing()
        if reason is not None:
            raise StoreError(f"call-frequency counts (Redis) cannot be trusted: {reason}")

    async def aclose(self) -> None:
        """Close the client."""
        await self._client.aclose()
