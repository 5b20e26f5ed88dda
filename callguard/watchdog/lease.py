"""Which node acts when several watch one Asterisk: the follower lease.

Every node with ``[ami] enabled`` follows every allowed automated call it sees (the call
carries what is needed, ``carry.py``), but only the node holding the lease for that
Asterisk acts: sends Hangup, reads the caller ID, writes the records, counts abandonment.
The others are hot standbys with the same picture.

``RedisLease`` (``[records] backend = "redis"``, shared by every node): the lease is a key
per Asterisk (``callguard:watchdog:lease:<host>:<port>``, so every node must name the
Asterisk with the same ``[ami] host`` and ``port``) holding ``node|instance|wall clock``,
renewed every ``lease_ms / 3`` while the node is logged in to Asterisk and has its
picture; it expires after ``lease_ms``. A node that dies, stalls or loses its AMI session
stops renewing; a standby takes over within ``lease_ms`` plus one renewal interval (2 s
with the default 1500 ms). A restarted node takes its own lease back at once (same node
name). ``callguard:watchdog:seen:<host>:<port>`` keeps the time of the last renewal on the
Redis server's clock (``TIME``: the nodes' own clocks may disagree), so whoever acts next
knows since when nobody was watching.

Records are written once: before writing a record about a call, the acting node sets
``callguard:watchdog:done:<decision id>:<record kind>`` (SET NX, two days); a node that
finds it set writes nothing. That covers the moments around a takeover, when the old and
the new follower may both have seen the end of a call. The mark is set by a script that
also reads the record store's durability marker: on a server that lost its data (a
FLUSHALL, a restart without its AOF) a mark set now proves nothing about one wiped with
it, so the record is written — a lost line-release is worse than a second one — logged as
``watchdog_record_unchecked``, and the record store is told (it refuses reads and writes
until the data is back). A mark another node set after the loss still stops a second write.

When Redis cannot be reached, every node with a working AMI session acts (a second Hangup
for a channel already gone is harmless; an unreleased line is a violation), and records
are written without the once-only check — duplicates are possible then, and logged.

``SoleFollower`` (embedded backend: one watchdog per Asterisk): always acts; it keeps the
wall clock of its last watching moment in the data dir, with the boot's id and clock, so a
restarted node bounds the delay of what it releases by the time it was away (by the boot
clock in the same boot: a wall clock stepped meanwhile does not shorten it).
"""

from __future__ import annotations

import enum
import functools
import time
import uuid
from pathlib import Path
from typing import Protocol

import structlog
from redis import asyncio as aioredis
from redis.exceptions import RedisError

from callguard.stores.redis.records import MARKER_KEY, RedisRecords

__all__ = ["FollowerLease", "Holding", "RedisLease", "SoleFollower"]

_log = structlog.get_logger("callguard.watchdog")
_DONE_TTL_S = 2 * 86_400

# KEYS: lease, seen. ARGV: node, instance, wall clock, ttl ms.
# Returns {1 if held now, the previous value or "", the previous seen or ""}.
# ``seen`` is "<the Redis server's clock (TIME)> <the writing node's wall clock>": the node
# that reads it after a restart may run a clock skewed from the writer's, and after a
# failover the server's clock is another server's; ``last_seen`` takes the longer gap.
_HOLD = """
redis.replicate_commands()
local cur = redis.call('GET', KEYS[1])
local seen = redis.call('GET', KEYS[2])
if cur then
  local node = string.match(cur, '^(.*)|[^|]*|[^|]*$')
  if node ~= ARGV[1] then
    return {0, cur, seen or ''}
  end
end
redis.call('SET', KEYS[1], ARGV[1] .. '|' .. ARGV[2] .. '|' .. ARGV[3], 'PX', ARGV[4])
local t = redis.call('TIME')
redis.call('SET', KEYS[2], t[1] .. '.' .. string.format('%06d', t[2]) .. ' ' .. ARGV[3],
           'EX', 86400)
return {1, cur or '', seen or ''}
"""
# KEYS: seen. Returns {the seen value or "", the server's clock now}.
_SEEN = """
local t = redis.call('TIME')
return {redis.call('GET', KEYS[1]) or '', t[1] .. '.' .. string.format('%06d', t[2])}
"""
# KEYS: lease. ARGV: node, instance. Deletes the lease only when this process holds it.
_GIVE_UP = """
local cur = redis.call('GET', KEYS[1])
if cur and string.match(cur, '^(.*|[^|]*)|[^|]*$') == ARGV[1] .. '|' .. ARGV[2] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


# KEYS: the record's mark, the durability marker. ARGV: node, ttl s, the marker's token
# ("": not checked). Returns 0: set before (another node wrote the record); 1: set now;
# 2: set now, but on a server that lost its data (an earlier mark may have gone with it).
_FIRST = """
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2]) then return 0 end
if ARGV[3] ~= '' and redis.call('GET', KEYS[2]) ~= ARGV[3] then return 2 end
return 1
"""


class Holding(enum.Enum):
    """The answer of ``hold``."""

    HELD = "held"  # this node acts
    OTHER = "other"  # another node acts
    UNKNOWN = "unknown"  # the lease store cannot be reached: act (fail safe)


class FollowerLease(Protocol):
    """Who acts for one Asterisk, and once-only records."""

    shared: bool

    async def hold(self) -> Holding:
        """Take or renew the lease (call only while logged in, with a picture)."""

    async def give_up(self) -> None:
        """Stop acting now (AMI lost, shutting down), so a standby takes over sooner."""

    async def last_seen(self) -> float | None:
        """Wall clock of the last moment a follower of this Asterisk was watching."""

    async def first(self, decision_id: str, kind: str) -> bool:
        """True if no node wrote this record yet (and now none will but this one)."""

    async def aclose(self) -> None:
        """Release what the lease holds open."""


@functools.cache
def _boot_id() -> str:
    """This boot's id (Linux), or "" where there is none."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def _boottime() -> float:
    clock = getattr(time, "CLOCK_BOOTTIME", time.CLOCK_MONOTONIC)
    return time.clock_gettime(clock)


def _since_boot() -> str:
    """" <boot id> <boot clock>" for the alive file, or "" without a boot id."""
    boot = _boot_id()
    return f" {boot} {_boottime():.3f}" if boot else ""


class SoleFollower:
    """One watchdog per Asterisk (embedded backend): always acts."""

    shared = False

    def __init__(self, alive_file: Path) -> None:
        self._path = alive_file

    async def hold(self) -> Holding:
        """Always held; remember that this node is watching now: the wall clock, and the
        boot's own clock with its id (``_since_boot``)."""
        try:
            self._path.write_text(f"{time.time():.3f}{_since_boot()}\n")
        except OSError as exc:
            _log.warning("watchdog_alive_unwritable", path=str(self._path),
                         reason=exc.strerror)
        return Holding.HELD

    async def give_up(self) -> None:
        """Nothing to hand over."""

    async def last_seen(self) -> float | None:
        """From the file the previous run of this node kept, on today's wall clock.

        In the same boot the time away is the boot clock's (CLOCK_BOOTTIME: counts
        suspend, never stepped): a wall clock stepped back while the node was away (NTP
        or an admin correcting an unsynchronised clock) made the gap read shorter, and a
        release delay bounded by it a false "within the limit". The longer of the two gaps
        is kept: a guest its hypervisor paused (live migration, a snapshot) may stop the
        boot clock with it while the wall clock is put right on resume — then the boot
        clock's gap is the short one. Too long says "not proven"; too short is false."""
        try:
            fields = self._path.read_text().split()
            wall = float(fields[0])
        except (OSError, ValueError, IndexError):
            return None
        if len(fields) == 3 and fields[1] == _boot_id():
            try:
                away = _boottime() - float(fields[2])
            except ValueError:
                return wall
            if away >= 0:
                return min(wall, time.time() - away)
        return wall

    async def first(self, decision_id: str, kind: str) -> bool:
        """One node: every record is the first."""
        del decision_id, kind
        return True

    async def aclose(self) -> None:
        """Nothing open."""


class RedisLease:
    """The lease and the once-only marks in Redis, shared by every node."""

    shared = True

    def __init__(self, client: aioredis.Redis, *, asterisk: str, node: str, ttl_ms: int,
                 instance: str | None = None, guard: RedisRecords | None = None) -> None:
        self._client = client
        # EVALSHA once loaded (redis-py's Script loads it again after a server restart):
        # one call per record, so the script's text is not sent each time.
        self._first = client.register_script(_FIRST)
        self._records = guard  # whose durability marker tells a mark that was wiped
        self._lease = f"callguard:watchdog:lease:{asterisk.lower()}"
        self._seen = f"callguard:watchdog:seen:{asterisk.lower()}"
        self.node, self.ttl_ms = node, ttl_ms
        self.instance = instance or uuid.uuid4().hex[:12]  # this process
        self.previous: str = ""  # the lease value found when this node last took it
        self._down = False

    async def hold(self) -> Holding:
        """Take the lease if free or ours (this node, this or a previous run), else not."""
        try:
            held, previous, _seen = await self._client.eval(
                _HOLD, 2, self._lease, self._seen, self.node, self.instance,
                f"{time.time():.3f}", str(self.ttl_ms))
        except (RedisError, OSError) as exc:
            self._unreachable(exc)
            return Holding.UNKNOWN
        self._reachable()
        if int(held):
            self.previous = previous.decode() if isinstance(previous, bytes) else previous
            return Holding.HELD
        return Holding.OTHER

    async def give_up(self) -> None:
        """Delete the lease if this process holds it."""
        try:
            await self._client.eval(_GIVE_UP, 1, self._lease, self.node, self.instance)
        except (RedisError, OSError) as exc:
            self._unreachable(exc)

    async def last_seen(self) -> float | None:
        """The last renewal by any node, on this node's wall clock.

        Written and read on the Redis server's clock: the node that renewed may run a
        clock ahead of this one (an unsynchronised host), and the gap read across two
        clocks came out shorter by the skew — every release after the restart bounded
        by it a false "within the limit". The server's clock alone is not one clock either:
        after a failover (Sentinel, a managed Redis promoting its replica) the key was
        written on the old master's. So the writer's wall clock is kept beside it and the
        longer gap is taken — a bound too long says "not proven", one too short says
        "within the limit" falsely. A value of one number (an earlier version's: hami19
        wrote the server's clock, older ones the writer's) is read both ways, the longer
        kept."""
        try:
            seen, now = await self._client.eval(_SEEN, 1, self._seen)
        except (RedisError, OSError) as exc:
            self._unreachable(exc)
            return None
        try:
            fields = (seen.decode() if isinstance(seen, bytes) else str(seen)).split()
            server = float(fields[0])
            wall = float(fields[1]) if len(fields) > 1 else server
            away = max(float(now) - server, time.time() - wall)
        except (IndexError, TypeError, ValueError, UnicodeDecodeError):
            return None  # none, or unreadable: the first picture bounds by the calls' age
        return time.time() - max(0.0, away)

    async def first(self, decision_id: str, kind: str) -> bool:
        """SET NX on the record's mark; unreachable Redis, or one that lost its data:
        write anyway (and say so)."""
        token = self._records.marker if self._records is not None else ""
        try:
            answer = int(await self._first(
                keys=[f"callguard:watchdog:done:{decision_id}:{kind}", MARKER_KEY],
                args=[self.node, str(_DONE_TTL_S), token]))
        except (RedisError, OSError) as exc:
            self._unreachable(exc)
            _log.warning("watchdog_record_unchecked", kind=kind, decision_id=decision_id,
                         reason="Redis unreachable: written without the once-only check")
            return True
        if answer == 2:
            if self._records is not None:
                self._records.marker_seen(False)
            _log.warning("watchdog_record_unchecked", kind=kind, decision_id=decision_id,
                         reason=f"the Redis server lost its data ({MARKER_KEY} gone or "
                         "changed): a mark another node set before may be gone; written, "
                         "possibly a second time")
        return answer != 0

    async def aclose(self) -> None:
        """Close the client."""
        await self._client.aclose()

    def _unreachable(self, exc: BaseException) -> None:
        if not self._down:
            self._down = True
            _log.error("watchdog_lease_unreachable", reason=str(exc) or type(exc).__name__,
                       effect="every node with an AMI session acts until Redis is back")

    def _reachable(self) -> None:
        if self._down:
            self._down = False
            _log.info("watchdog_lease_reachable")
