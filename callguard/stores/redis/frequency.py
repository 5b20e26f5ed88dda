"""Call-frequency counts in Redis: one sorted set per number and subject, every node's.

Key ``callguard:freq:{<hash>}:<subject>`` (the hash tag keeps every subject of one number in
one cluster slot); members are one random token per counted call, scored by the call's
instant in milliseconds. The check-and-reserve is a Lua script — atomic against every
other node: drop calls older than the retention, count each claim's window, and only when
every claim is under its cap add the call to every subject and set the expiry to the
retention (the longest window of any loaded rule, so a shorter rule's call never trims a
longer rule's count).

One script carries every reservation a node has in flight (group commit,
``callguard.stores.frequency_batch``): Redis runs a script whole, so the group is as atomic
as one reservation, and each reservation in it sees the ones before it. Every decision is
still in exactly one EVALSHA (one round trip), and a group is answered only after the
server's AOF fsync (``appendfsync always``) — one fsync per group instead of one per call
— or, under ``durability = "replicas"``, after a WAIT saw the replicas take it.
A group spans many numbers, so its keys span cluster slots: like the record store, counts
need one primary (with replicas), not a Redis Cluster.

A count that could be lost (the record store's durability guard, shared: a Redis that
stopped fsyncing or lost its data) refuses the reservation (StoreError): BLOCK, as does a
script that fails or a Redis that does not answer — for every reservation of the group.
The script itself checks the durability marker and the server's settings are read in the
same round trip, so a FLUSHALL or a CONFIG SET appendfsync on the live server refuses the
next group, not one after the record store's next probe; a reservation or count about to
be refused for the server's state has the record store ask again first (``recheck``), so
a server set right again counts at once. A ``volatile-*`` eviction policy with ``maxmemory``
set, which the record store accepts (record keys never expire), is refused too: count keys
expire, so it evicts them (read beside each group and count, ``EVICTION_PATTERNS``).

A server back on an older copy (a restored backup, a replica promoted behind) keeps the
marker and, when no record was written since, the record store's high-water mark: the
calls counted since are gone and a capped number would be called once too often. So every
group also raises the counts' own counter (``SEQ_KEY``) and the node keeps the highest of
the groups it acknowledged (a refused one may be lost with nothing lost): a group that
makes a value already seen, or a scrub's count that reads one below it, refuses the server
(``frequency_store_behind``). The mark is kept in the data dir too (``HIGH_WATER_FILE``,
written within ``SAVE_EVERY_S`` and at close), so a node started after the restore refuses
as well; so is the refusal (``"refusing": true``): the group that found the server behind
ran there all the same, and so did other nodes' first ones, so the server's counter soon
reaches the mark again with the lost calls still missing — a node restarted then served
the older counts, accepted by no one. Removing the file (and restarting) accepts the
server as it is, and so does ``callguard records-accept-older`` (it records the acceptance
in the compliance log first, then sets the file to the server's counter with a token
saying so; a running node adopts it at its next ``/readyz`` probe or call). What no node
can see: groups of another node that died before saving its mark.

A scrub's count (read only) whose connection turns out closed is read once more on a fresh
connection. A reservation is not retried: its script may have run before the connection
dropped, and run again it would count the call twice — its member is a random token drawn
per group, not the call's decision id (``reserve`` is never given one), so nothing makes a
second run idempotent. It fails (the gate BLOCKs); the next call runs on a new connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import structlog
from redis import asyncio as aioredis
from redis.exceptions import NoScriptError, RedisError, ResponseError

from callguard.errors import StoreError
from callguard.frozen import quick_init
from callguard.policy.frequency import SKEW_MS, FrequencyClaim, FrequencyResult, Held
from callguard.stores.embedded.identity import write_atomically
from callguard.stores.frequency_batch import GroupCommit
from callguard.stores.interfaces import CountAfter
from callguard.stores.redis.records import (
    MARKER_KEY,
    RedisRecords,
    parse_config,
    queue_config,
    read_once_more,
)

__all__ = ["HIGH_WATER_FILE", "SEQ_KEY", "RedisFrequency", "accept_mark", "read_mark"]

_log = structlog.get_logger("callguard.frequency")

# KEYS: the distinct subject keys of the group. ARGV[1]: one string of space-separated
# fields (one argument, not one per field: redis-py encodes and packs each argument in
# Python, ~130 per group of 8), per reservation in turn: trim bound (ms: this and older
# go), retention (ms), member, the instant the call is counted at (ms), the instant its
# windows end at (ms), the number of its keys and their indexes in KEYS, the number of its
# claims and, per claim: key index, window start (ms, exclusive), cap. Returns one string,
# per reservation (space-separated) "refused,stamp,count,...": the refused claim (1-based)
# or 0, the instant the call was counted at, then the count per claim — what the same
# reservations made one by one would answer (one string: parsed at once, not element by
# element). The last key is the record store's durability marker and ARGV[2] the token
# this node relies on (empty: not checked): counts on a server flushed or emptied under a
# live connection are refused whole, never counted from zero. The key before it is the
# groups' counter (``SEQ_KEY``), raised by every group and returned first ("<counter>
# <answer> <answer> ..."): a server back on an older copy answers a value this node
# already saw.
#
# Whose clock counts: the server's. A reservation whose instant lies within ARGV[3] ms of
# the server's TIME (a node deciding now, its clock seconds off) has its windows end no
# later than the server's instant and is counted no earlier than it: a node whose clock is
# behind cannot count a call as older than it is, nor one ahead judge its window from the
# future — either let a capped number be called once too often, by real time. Both only
# ever raise a count. An instant farther off (a question about another day, a synthetic
# clock) is judged as sent.
_RESERVE_SCRIPT = """
if ARGV[2] ~= '' and redis.call('GET', KEYS[#KEYS]) ~= ARGV[2] then
  return redis.error_reply('MARKER the durability marker is gone or changed; nothing counted')
end
redis.replicate_commands()
local seq = redis.call('INCR', KEYS[#KEYS - 1])
local clock = redis.call('TIME')
local server = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local near = tonumber(ARGV[3])
local a = {}
for field in string.gmatch(ARGV[1], '%S+') do a[#a + 1] = field end
local results = {}
local i = 1
while i <= #a do
  local trim, keep, member = a[i], a[i + 1], a[i + 2]
  local stamp, ends = tonumber(a[i + 3]), tonumber(a[i + 4])
  local keys = {}
  for k = 1, tonumber(a[i + 5]) do keys[k] = KEYS[tonumber(a[i + 5 + k])] end
  i = i + 6 + #keys
  local shift = 0
  if math.abs(ends - server) <= near then
    if ends > server then shift = ends - server end
    if stamp < server then stamp = server end
  end
  for _, key in ipairs(keys) do
    redis.call('ZREMRANGEBYSCORE', key, '-inf', trim)
  end
  local result = {0, string.format('%d', stamp)}
  for c = 1, tonumber(a[i]) do
    local base = i + 1 + (c - 1) * 3
    local after = string.format('%d', tonumber(a[base + 1]) - shift)
    local count = redis.call('ZCOUNT', KEYS[tonumber(a[base])], '(' .. after, '+inf')
    result[c + 2] = count
    if result[1] == 0 and count >= tonumber(a[base + 2]) then result[1] = c end
  end
  i = i + 1 + (#result - 2) * 3
  if result[1] == 0 then
    for _, key in ipairs(keys) do
      redis.call('ZADD', key, result[2], member)
      redis.call('PEXPIRE', key, keep)
    end
  end
  results[#results + 1] = table.concat(result, ',')
end
return seq .. ' ' .. table.concat(results, ' ')
"""

# KEYS: a withdrawn ALLOW's subject keys; ARGV[1]: the instant it was counted at (ms),
# ARGV[2]: its member (empty: unknown). Removes that member from each key — a release run
# twice frees nothing more — or, without one, one member scored at that instant, all in
# one script (atomic against every node's reservations); returns how many. Two calls of
# one number counted at the same millisecond are the same count, so which member goes
# changes no count.
_RELEASE_SCRIPT = """
local removed = 0
for _, key in ipairs(KEYS) do
  local member = ARGV[2]
  if member == '' then
    member = redis.call('ZRANGEBYSCORE', key, ARGV[1], ARGV[1], 'LIMIT', 0, 1)[1]
  end
  if member then
    removed = removed + redis.call('ZREM', key, member)
  end
end
return removed
"""

# Raised by every group's script (every node's): the counts' own high-water mark. The
# record store's marks (``high_water.py``) move only with record writes, which calls do
# not make: a backup taken an hour ago usually holds the same record counter and marker,
# and every call counted since is gone from it.
SEQ_KEY = "callguard:freq-seq"
# The highest value of it this node saw, kept in its data dir beside the record store's
# marker file (with the marker it belongs to), so a node started after the restore refuses
# too. Written at most every ``SAVE_EVERY_S`` off the loop (no answer waits for it) and at
# close: a node that dies within that time forgets the last groups only.
HIGH_WATER_FILE = "frequency-redis-high-water.json"
# The acceptance token's field in it (``accept_mark``), and the refusal's (a node found
# the server behind: kept until accepted, across restarts).
ACCEPTED = "accepted"
REFUSING = "refusing"
SAVE_EVERY_S = 1.0
# A save that keeps failing (a full disk, a read-only data dir) is logged at most this often.
UNSAVED_LOG_EVERY_S = 60.0

# Reservations in one script at most: the server runs nothing else while a script runs.
GROUP_LIMIT = 256

# Read beside every group and count (same round trip): a ``volatile-*`` policy the record
# store accepts (record keys never expire) evicts counts, which do, once ``maxmemory`` is
# reached — an evicted count is an ALLOW past a cap.
EVICTION_PATTERNS = ("maxmemory-policy", "maxmemory")


def evicts_counts(answers: Sequence[Any]) -> str | None:
    """Why the server may evict counts, from CONFIG GET of ``EVICTION_PATTERNS``, or
    None. Settings that cannot be read (CONFIG forbidden, a managed Redis) are the record
    store's to judge, as before (refused, or served under ``on_weak_durability = "warn"``)."""
    config = parse_config(answers)
    if isinstance(config, str):
        return None
    policy, limit = _text(config.get("maxmemory-policy")), _text(config.get("maxmemory"))
    if policy is None or policy == "noeviction" or limit in (None, "0"):
        return None  # nothing evicts (allkeys-* is refused by the record store anyway)
    return (f"the Redis server runs maxmemory-policy={policy} with maxmemory={limit}: it "
            "evicts call-frequency counts (they expire), and an evicted count lets a capped "
            "number be called too often; set noeviction")


@quick_init
@dataclass(frozen=True, slots=True)
class _Reservation:
    """One call's claims, ready for the script (keys named, instants in ms)."""

    keys: tuple[str, ...]
    claims: tuple[FrequencyClaim, ...]
    key_of_claim: tuple[int, ...]  # index into keys, per claim
    trim: int
    keep: int
    now: int  # the instant the windows end at (ms)
    stamp: int  # the instant the call is counted at (ms; not before ``now``)


def _wall() -> datetime:
    return datetime.now(UTC)


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


class RedisFrequency:
    """The check-and-reserve: one script per group of reservations in flight."""

    def __init__(self, client: aioredis.Redis, hasher: Callable[[str], str], *,
                 retention_s: int, refusing: Callable[[], str | None] = lambda: None,
                 clock: Callable[[], datetime] = _wall, group_limit: int = GROUP_LIMIT,
                 guard: RedisRecords | None = None, remember: Path | None = None) -> None:
        self._client = client
        self._clock = clock
        self._hash = hasher
        self._retention_ms = retention_s * 1000
        self._refusing = refusing
        self._records = guard  # judges the marker and the settings read beside each group
        self._script = client.register_script(_RESERVE_SCRIPT)
        self._release = client.register_script(_RELEASE_SCRIPT)
        self._group: GroupCommit[_Reservation, FrequencyResult] = GroupCommit(
            self._commit, limit=group_limit, what="call-frequency counts (Redis)")
        # The highest groups' counter (SEQ_KEY) this node saw, and why the server is
        # refused once it answered one not above it (kept while the process runs; the
        # mark also in HIGH_WATER_FILE).
        self._seq_known = 0
        self._behind: str | None = None
        # The acceptance token the mark file held when read (``accept_mark``): one seen
        # already accepts nothing more; and the file's (inode, mtime, size) last looked at
        # while behind, so a probe re-reads it only once it changed.
        self._accepted: str | None = None
        self._looked: tuple[int, int, int] | None = None
        self._refusal_kept = False  # the refusal is in the mark file
        self._damaged: str | None = None  # why the mark file could not be read
        at = guard.remembered_at if guard is not None else None
        self._path = remember or (at.with_name(HIGH_WATER_FILE) if at is not None else None)
        self._loaded = self._path is None
        self._saved = 0
        self._saving: asyncio.Task[None] | None = None
        self._unsaved_logged: float | None = None  # loop time of the last such warning
        self._unsaved = 0  # failed saves since it

    @property
    def behind(self) -> str | None:
        """Why the server is refused as holding fewer counts than this node saw, or None.
        While refused, the mark file is looked at (a stat; read once it changed): an
        acceptance written since by ``callguard records-accept-older`` (``accept_mark``)
        is adopted, and the node serves again — at the next ``/readyz`` probe or call, as
        the record store picks up its own acceptance. Before, only a restart did: a node
        a balancer had taken out as not ready was never sent the call that would tell it."""
        if not self._loaded and self._records is not None and self._records.marker:
            if self._damaged is not None and self._behind == self._damaged:
                self._behind = None  # read again: accepted (rewritten) or still damaged
            try:
                self._load()
                self._damaged = None
            except StoreError as exc:  # a damaged file: refused (not ready) until accepted
                self._behind = self._damaged = str(exc)
        if self._behind is not None:
            self._adopt_accepted()
        return self._behind

    @behind.setter
    def behind(self, reason: str | None) -> None:
        self._behind = reason

    def _adopt_accepted(self) -> None:
        path = self._path
        marker = self._records.marker if self._records is not None else ""
        if path is None or not marker:
            return
        try:
            st = path.stat()
        except OSError:
            return
        seen = (st.st_ino, st.st_mtime_ns, st.st_size)
        if seen == self._looked:
            return
        self._looked = seen
        try:
            seq, token, refused = read_mark(path, marker)
        except (StoreError, OSError):
            return
        # A refusal beside it was written after it (``accept_mark`` clears one): a server
        # found behind since the acceptance, not accepted — left refused.
        if token is None or token == self._accepted or refused:
            return
        _log.warning("frequency_older_accepted", node_mark=seq, was=self._seq_known)
        self._accepted = token
        self._seq_known = self._saved = seq
        self._loaded = True
        self._behind = None
        self._refusal_kept = False

    def _key(self, digest: str, subject: str) -> str:
        return f"callguard:freq:{{{digest}}}:{subject}"

    async def reserve(self, e164: str, claims: Sequence[FrequencyClaim],
                      at: datetime, stamp: datetime | None = None, *,
                      recorded: bool = True) -> FrequencyResult:
        """In the next script (one EVALSHA for the group); StoreError when Redis does not
        answer or cannot be trusted. ``recorded``: unused (Redis's own durability)."""
        if not claims:
            return FrequencyResult((), (), None)
        if self.behind is not None or self._refusing() is not None:
            await self._ready()
        self._load()
        return await self._group.submit(self._reservation(e164, claims, at, stamp))

    async def reserve_all(self, batch: Sequence[CountAfter]
                          ) -> list[FrequencyResult | BaseException]:
        """Counts after their answers, queued at once (in the next scripts); each its
        result or its StoreError (Redis not trusted: every one)."""
        if self.behind is not None or self._refusing() is not None:
            try:
                await self._ready()
            except StoreError as exc:
                return [exc] * len(batch)
        try:
            self._load()
        except StoreError as exc:
            return [exc] * len(batch)
        futures = self._group.submit_many([self._reservation(e164, claims, at, stamp)
                                           for e164, claims, at, stamp in batch if claims])
        done = iter(await asyncio.gather(*futures, return_exceptions=True))
        return [next(done) if claims else FrequencyResult((), (), None)
                for _, claims, _, _ in batch]

    def _reservation(self, e164: str, claims: Sequence[FrequencyClaim], at: datetime,
                     stamp: datetime | None) -> _Reservation:
        digest = self._hash(e164)
        now = _ms(at)
        if len(claims) == 1:  # most calls: one cap's claim (the steps below, for one)
            claim = claims[0]
            keys: tuple[str, ...] = (self._key(digest, claim.subject),)
            key_of_claim: tuple[int, ...] = (0,)
            keep = max(self._retention_ms, claim.window_s * 1000) + SKEW_MS
        else:
            subjects = list(dict.fromkeys(c.subject for c in claims))
            keys = tuple(self._key(digest, s) for s in subjects)
            key_of_claim = tuple(subjects.index(c.subject) for c in claims)
            keep = max(self._retention_ms, *(c.window_s * 1000 for c in claims)) + SKEW_MS
        trim = min(now, _ms(self._clock())) - keep
        return _Reservation(keys, tuple(claims), key_of_claim, trim, keep, now,
                            now if stamp is None else _ms(stamp))

    async def release(self, e164: str, held: Held) -> int:
        """Give back a withdrawn ALLOW's reservation (``held``): one member per subject, in
        one script. The members removed; StoreError when Redis did not answer (the
        reservation then stays, or went: never retried, as a second run could take another
        call's member of the same instant)."""
        digest = self._hash(e164)
        keys = [self._key(digest, subject) for subject in held.subjects]
        try:
            return int(await self._release(keys=keys, args=[held.stamp_ms, held.member]))
        except (RedisError, OSError) as exc:
            raise StoreError(f"call-frequency counts (Redis) unavailable: {exc}; the "
                             "withdrawn call may stay counted") from None

    async def count(self, e164: str, claims: Sequence[FrequencyClaim],
                    at: datetime) -> tuple[int, ...]:
        """Read only (a scrub): ZCOUNT of each claim's window on the same keys the script
        counts, its window ended as the script ends it (the server's ``TIME``, read in the
        same round trip); nothing added, trimmed or expired. StoreError when Redis does not
        answer or cannot be trusted."""
        if not claims:
            return ()
        await self._ready()
        self._load()
        digest = self._hash(e164)
        now = _ms(at)
        # The mark when the reads are sent, not when they are judged: a group on another
        # connection may be answered (and raise the mark) before them though the server
        # ran their GET first — the counter then reads below the mark, with nothing lost.
        known = self._seq_known

        async def read() -> list[Any]:
            # not a MULTI: a full server refuses one whole, though this writes nothing
            async with self._client.pipeline(transaction=False) as pipe:
                pipe.time()  # whose clock counts: the server's, as in the script
                for claim in claims:
                    key, after = self._key(digest, claim.subject), claim.after_ms(now)
                    pipe.zcount(key, f"({after}", "+inf")
                    # the calls a window ended at the server's instant may add (the node
                    # ahead of it by up to SKEW_MS): a few of one number, with their stamps
                    pipe.zrangebyscore(key, f"({after - SKEW_MS}", after, withscores=True)
                pipe.get(MARKER_KEY)  # after the counts: a flush between reads as lost
                pipe.get(SEQ_KEY)  # after them too: a restore between reads as older
                if self._records is not None:
                    _queue_eviction(pipe)
                return list(await pipe.execute(raise_on_error=False))

        try:
            answers = await read_once_more(self._client, read)
            evicts = None
            if self._records is not None:
                evicts = evicts_counts(answers[-len(EVICTION_PATTERNS):])
                del answers[-len(EVICTION_PATTERNS):]
            for answer in answers:
                if isinstance(answer, Exception):
                    raise answer
            clock, *raw, marker, seq = answers
        except (RedisError, OSError) as exc:
            raise StoreError(f"call-frequency counts (Redis) unavailable: {exc}; the count "
                             "could not be read") from None
        if evicts is not None:
            raise StoreError(f"call-frequency counts (Redis) cannot be trusted: {evicts}")
        if self._records is not None and self._records.marker:
            self._records.marker_seen(_text(marker) == self._records.marker)
        if int(seq or 0) < known:  # equal: no group since this node's last
            self._went_behind(int(seq or 0))
        self._guard()
        server = int(clock[0]) * 1000 + int(clock[1]) // 1000
        shift = now - server if 0 < now - server <= SKEW_MS else 0  # the script's rule
        return tuple(int(n) + sum(1 for _, score in margin if score > after - shift)
                     for n, margin, after in zip(raw[::2], raw[1::2],
                                                 (c.after_ms(now) for c in claims),
                                                 strict=True))

    async def _commit(self, group: Sequence[_Reservation]) -> list[FrequencyResult]:
        keys: dict[str, int] = {}  # key -> its 1-based index in KEYS
        args: list[str | int] = []
        members = secrets.token_hex(8 * len(group))  # 8 random bytes per call, drawn at once
        for n, r in enumerate(group):
            index = [keys.setdefault(k, len(keys) + 1) for k in r.keys]
            args += [r.trim, r.keep, members[16 * n:16 * n + 16], r.stamp, r.now,
                     len(index), *index, len(r.claims)]
            for claim, k in zip(r.claims, r.key_of_claim, strict=True):
                args += [index[k], claim.after_ms(r.now), claim.cap]
        try:
            raw = await self._run([*keys, SEQ_KEY, MARKER_KEY], " ".join(map(str, args)))
        except ResponseError as exc:
            if str(exc).startswith("MARKER") and self._records is not None:
                self._records.marker_seen(False)
                self._guard()
            raise StoreError(f"call-frequency counts (Redis) unavailable: {exc}; the call "
                             "was not counted") from None
        except (RedisError, OSError) as exc:  # the answer lost: the script may have run
            raise StoreError(f"call-frequency counts (Redis) unavailable: {exc}; the call "
                             "may or may not have been counted (once at most)") from None
        seq, *answers = (raw.decode() if isinstance(raw, bytes) else str(raw)).split(" ")
        if int(seq) <= self._seq_known:  # this group's raise made a value already seen
            self._went_behind(int(seq) - 1)
        self._guard()  # refused (settings read beside it, marker): nothing acknowledged,
        # so the mark stays — a crash of the weak server losing only this group is no loss
        self._seq_known = max(self._seq_known, int(seq))
        self._save_soon()
        return [_result(r, [int(n) for n in answer.split(",")], members[16 * n:16 * n + 16])
                for n, (r, answer) in enumerate(zip(group, answers, strict=True))]

    def _went_behind(self, on_server: int, *, said: str | None = None) -> None:
        """Refuse the server from now on: it holds fewer counted groups than this node
        already saw (an older backup, a replica promoted behind): every call counted since
        is missing, and a count read there lets a capped number be called once too often."""
        if self._behind is None:
            seen = (f"groups counted: {on_server} there, {self._seq_known} seen here"
                    if said is None else f"as {HIGH_WATER_FILE} says since it was found so")
            self._behind = (
                "the Redis server holds fewer call-frequency counts than this node already "
                f"saw ({seen}; "
                "restored from an older backup?): calls counted since are missing, so every "
                "capped call is BLOCKed. Restore the newest backup, then accept that the "
                "calls of the lost period go uncounted: `callguard records-accept-older "
                "--reason ...` on this node's data dir")
            _log.warning("frequency_store_behind", problem=self._behind,
                         node_mark=self._seq_known, store_mark=on_server)
            if not self._refusal_kept:
                self._save_soon(0)  # kept in the file: a restart refuses too

    async def _run(self, keys: list[str], fields: str) -> Any:
        """EVALSHA, and in the same round trip the server's AOF and eviction settings
        (judged by the record store before any answer: a CONFIG SET appendfsync at
        runtime refuses this group, not one after the next probe). Under ``durability =
        "replicas"`` (the server need not fsync) a WAIT on the same connection, in the same
        round trip, as the record store WAITs after its writes: a group fewer replicas took
        is not acknowledged (a failover would forget its counts)."""
        token = self._records.marker if self._records is not None else ""
        wait = self._records.replicas_wait if self._records is not None else None
        for attempt in (1, 2):
            async with self._client.pipeline(transaction=False) as pipe:
                pipe.evalsha(self._script.sha, len(keys), *keys, fields, token, SKEW_MS)
                if wait is not None:
                    pipe.execute_command("WAIT", *wait)
                if self._records is not None:
                    queue_config(pipe)
                    _queue_eviction(pipe)
                ran, *answers = await pipe.execute(raise_on_error=False)
            if isinstance(ran, NoScriptError) and attempt == 1:
                await self._client.script_load(_RESERVE_SCRIPT)  # a restarted server
                continue
            waited = answers.pop(0) if wait is not None else None
            evicts = None
            if self._records is not None:
                evicts = evicts_counts(answers[-len(EVICTION_PATTERNS):])
                self._records.config_seen(answers[:-len(EVICTION_PATTERNS)])
            if isinstance(ran, Exception):
                raise ran
            if evicts is not None:  # the group ran: counted, refused (an over-count)
                raise StoreError(f"call-frequency counts (Redis) cannot be trusted: {evicts}; "
                                 "the call was counted")
            if wait is not None and (not isinstance(waited, int) or waited < wait[0]):
                raise StoreError(
                    f"call-frequency counts (Redis): {waited} of {wait[0]} replica(s) took "
                    f"the count within {wait[1]} ms; the call may or may not have been "
                    "counted (once at most), and a failover could forget it")
            return ran
        raise AssertionError("unreachable")

    async def _ready(self) -> None:
        """Refuse as ``_guard`` does, after the record store asked the server again."""
        if self._refusing() is not None and self._records is not None:
            await self._records.recheck()
        self._guard()

    def _guard(self) -> None:
        reason = self._behind or self._refusing()
        if reason is not None:
            raise StoreError(f"call-frequency counts (Redis) cannot be trusted: {reason}")

    def _load(self) -> None:
        """The mark this data dir remembers for the store this node relies on (once, at
        the first use: the record store knows its marker by then). StoreError when the file
        cannot be read or is damaged (fail closed: a damaged mark would let an older store
        through); another store's mark (a server accepted anew) is none."""
        if self._loaded or self._path is None:
            return
        marker = self._records.marker if self._records is not None else ""
        seq, self._accepted, refusing = read_mark(self._path, marker)
        self._loaded = True
        if refusing and self._behind is None:  # refused before the restart: still
            self._refusal_kept = True
            self._went_behind(seq, said="the mark file")
        self._seq_known = self._saved = max(self._seq_known, seq)

    def _save_soon(self, after: float | None = None) -> None:
        if self._path is None or (self._saving is not None and not self._saving.done()):
            return  # the save in flight writes what is pending once it is done
        self._saving = asyncio.get_running_loop().create_task(
            self._save(SAVE_EVERY_S if after is None else after))

    async def _save(self, after: float) -> None:
        """Remember the mark (temp + fsync + rename, in a worker thread); a failure is
        logged: the mark in memory still guards this process."""
        await asyncio.sleep(after)
        while True:
            seq, path, refusing = self._seq_known, self._path, self._behind is not None
            marker = self._records.marker if self._records is not None else ""
            if path is None or not marker or (seq <= self._saved and (
                    not refusing or self._refusal_kept)):
                return
            if not await self._write_mark(path, marker, seq, refusing):
                return

    async def _write_mark(self, path: Path, marker: str, seq: int, refusing: bool) -> bool:
        try:
            held = await asyncio.to_thread(_remember_mark, path, marker, seq, refusing,
                                           self._accepted)
        except OSError as exc:
            self._unsaved += 1
            now = asyncio.get_running_loop().time()
            if (self._unsaved_logged is None
                    or now - self._unsaved_logged >= UNSAVED_LOG_EVERY_S):
                self._unsaved_logged = now
                _log.warning("frequency_high_water_unsaved", error=exc.strerror or str(exc),
                             failed_saves=self._unsaved, effect="a node restarted after "
                             "Redis is restored from an older backup may not notice the "
                             "counts it lost")
                self._unsaved = 0
            return False
        if held is _DEFERRED:  # an acceptance this node has not adopted: ``behind`` will
            return False
        if not refusing:  # in step with the file: its acceptance is no news to this node
            self._accepted = held if isinstance(held, str) else self._accepted
        self._saved = max(self._saved, seq)
        self._refusal_kept = self._refusal_kept or refusing
        return True

    async def aclose(self) -> None:
        """Remember the mark, close the client."""
        if self._saving is not None and not self._saving.done():
            self._saving.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._saving
        await self._save(0)
        await self._client.aclose()


# One writer of a mark file at a time in this process: ``aclose`` cancels a save whose
# worker thread goes on, then saves again; both wrote one temp file (``write_atomically``
# names it by pid), each truncating the other's, and one rename failed.
_WRITING = threading.Lock()


# ``_remember_mark``'s answer when it wrote nothing: an acceptance the writer had not seen.
_DEFERRED = object()


def _remember_mark(path: Path, marker: str, seq: int, refusing: bool = False,
                   known: str | None = None) -> object:
    """Write the mark (and ``refusing``: the server found behind) unless the file already
    holds as much for the same marker (another process of this data dir, a CLI beside the
    node, saved a later value); the acceptance token the file holds then (or None). A
    refusal it holds stays (only ``accept_mark`` clears one), and so does an acceptance
    token (a node not yet told of it still adopts it).

    A refusal is not written over an acceptance other than ``known`` (the one the writer
    last saw): ``_DEFERRED``. The operator accepted a restored server before this node
    noticed it (no capped call since the restore); the node's first group then found it
    behind and wrote its old mark and the refusal over the acceptance, adopted it with that
    mark, and refused again for good — the acceptance used up, its record written, every
    capped call BLOCKed until the command was run a second time (hrev86)."""
    mark: dict[str, Any] = {"marker": marker, "seq": seq}
    token: str | None = None
    with _WRITING:
        with contextlib.suppress(OSError, ValueError, TypeError, AttributeError, KeyError):
            data = orjson.loads(path.read_bytes())
            if data.get("marker") == marker:
                held = int(data["seq"])
                said = data.get(REFUSING) is True
                token = data[ACCEPTED] if isinstance(data.get(ACCEPTED), str) else None
                if refusing and token is not None and token != known:
                    return _DEFERRED
                if held >= seq and (said or not refusing):
                    return token
                mark["seq"] = max(seq, held)
                refusing = refusing or said
                if token is not None:
                    mark[ACCEPTED] = token
        if refusing:
            mark[REFUSING] = True
        write_atomically(path, orjson.dumps(mark).decode() + "\n")
    return token


def read_mark(path: Path, marker: str) -> tuple[int, str | None, bool]:
    """The counts' mark a data dir keeps for the store of ``marker`` (0: none, or another
    store's), the acceptance token it holds (``accept_mark``; None: none), and whether a
    node found the server behind (refused until accepted). StoreError when the file cannot
    be read or is damaged (fail closed: a damaged mark would let an older server through)."""
    try:
        data = orjson.loads(path.read_bytes())
        if data.get("marker") != marker:
            return 0, None, False
        token = data.get(ACCEPTED)
        return (int(data["seq"]), token if isinstance(token, str) else None,
                data.get(REFUSING) is True)
    except FileNotFoundError:
        return 0, None, False
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
        raise StoreError(f"call-frequency counts (Redis): cannot read {path.name}: {exc}; "
                         "accept the server's counts as they are with `callguard "
                         "records-accept-older --reason ...`") from None


def accept_mark(path: Path, marker: str, seq: int) -> str:
    """Set the mark to ``seq`` (the server's counter) with a new acceptance token, which a
    node refusing the server as behind adopts (``RedisFrequency.behind``); the token.
    Written after the acceptance is on record (``callguard records-accept-older``)."""
    token = secrets.token_hex(8)
    with _WRITING:
        write_atomically(path, orjson.dumps({"marker": marker, "seq": seq, ACCEPTED: token}
                                            ).decode() + "\n")
    return token


def _queue_eviction(pipe: Any) -> None:
    for pattern in EVICTION_PATTERNS:
        pipe.execute_command("CONFIG", "GET", pattern)


def _text(value: Any) -> str | None:
    return value.decode() if isinstance(value, bytes) else value


def _result(reservation: _Reservation, answer: Sequence[int],
            member: str) -> FrequencyResult:
    refused, stamp = int(answer[0]), int(answer[1])  # stamp: as the server counted it
    held = None if refused else Held(stamp, tuple(dict.fromkeys(
        c.subject for c in reservation.claims)), member)
    return FrequencyResult(reservation.claims, tuple(int(n) for n in answer[2:]),
                           refused - 1 if refused else None, held=held)
