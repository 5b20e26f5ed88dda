"""Consent, EBR and company-DNC records in Redis, shared by every node.

One hash per solicitor and number, ``callguard:rec:<solicitor>:<e164>``, with fields
``c:<n>`` (one JSON consent each), ``ebr`` and ``dnc``. A batch of writes is one Lua
script: atomic, and written to the AOF as one unit. A write is acknowledged only when
durable: Debian 12's Redis 7.0 has no ``WAITAOF``, so the node checks that the server runs
``appendonly yes`` with ``appendfsync always`` (it fsyncs before it replies) and does not
evict keys, or it waits for replicas with ``WAIT`` after each batch
(``durability = "replicas"``).

The check is made at start **and on every (re)connection** (redis-py's connect hook, so a
command that reconnects transparently is checked before it runs): a server restarted with
``--appendonly no`` is noticed. A server that lost its data is noticed by a marker,
``callguard:durability-marker``, holding a random token the first node writes at start
(``SET NX``) and every node remembers: gone or changed, the data this node relied on is
gone (an opt-out written earlier may be missing). While the server is weak, writes are
refused (StoreError: nothing acknowledged); while its data is lost, reads are refused too
(the gate BLOCKs: a missing do-not-call record must not read as "none"). Readiness and
``callguard_records_durable`` say so. A lost state clears when the marker comes back (the
AOF restored). A node given a data dir file (``remember``, ``remembered.py``) relies at
start on the marker it adopted before, so a server that lost its data while the node was
down is in the lost state from the first call; without the file (or once it is removed) a
start adopts the marker it then finds. A store restored from an older backup keeps its
marker: a record counter written by every write and read beside every read, against the
highest one this node saw, tells it (``high_water.py``; the ``behind`` state).

A write, count or read about to be refused for the server's state asks the server again
first (``recheck``: its settings and the marker, one round trip shared by every caller
waiting): a server set right again (``CONFIG SET appendfsync always``, the marker restored)
serves at once, not at the next probe or reload tick; one that turns weak is still refused
at once, by the settings read right after each write and with each group of counts.

A read whose connection turns out closed (a ``CLIENT KILL``, a restarted server, a
firewall's idle timeout racing the command) is run once more on a fresh connection
(``read_once_more``): it changes nothing, so running it twice is harmless. A write is not:
it may have run before its connection dropped, so it fails (nothing acknowledged).
"""

from __future__ import annotations

import asyncio
import inspect
import secrets
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time
from pathlib import Path
from typing import Any, TypeVar

import orjson
import structlog
from redis import asyncio as aioredis
from redis.asyncio.client import Pipeline
from redis.asyncio.connection import AbstractConnection
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from callguard.errors import StoreError
from callguard.policy import CompanyDncRecord, ConsentKind, ConsentRecord, EbrRecord
from callguard.stores.redis.high_water import (
    ACKED_KEY,
    HIGH_WATER_FILE,
    ID_WINDOW,
    IDS_KEY,
    SEQ_KEY,
    HighWater,
    acknowledged,
    behind_reason,
    diverged,
    read_state,
    store_counter,
    store_id,
)
from callguard.stores.redis.remembered import read_marker, rely_on, remember_marker
from callguard.stores.stored_times import stored_date, stored_instant
from callguard.stores.writes import (
    AddCompanyDnc,
    AddConsent,
    EndEbr,
    RecordEbr,
    RecordSheet,
    RecordWrite,
    RevokeConsent,
    StoredConsent,
    check_canonical,
)

__all__ = ["MARKER_KEY", "RecordsSettings", "RedisRecords", "check_durability", "judge_config",
           "queue_config", "read_once_more"]

MARKER_KEY = "callguard:durability-marker"

_log = structlog.get_logger("callguard.records")

# KEYS[i] receives the write ARGV[i] (JSON); returns rows changed per write. Redis does
# not roll back a script that fails midway, so every write is decoded and checked first.
# The last key and argument are the durability marker and the token this node relies on
# (empty: not checked yet): a server flushed under a live connection writes nothing. The
# ones before them are the record counter and this node's mark (high_water.py), and the
# counter's ids with this node's id for its mark ('': none known) and the new value's id: a
# store restored from an older backup (its counter lower, or its id for the mark another)
# writes nothing; the counter's new value ends the results. The id of the value ID_WINDOW
# back is dropped (one per write: the ids stay bounded). Before them: the acknowledged
# counter (high_water.py) and 'set' (aof-always: this write is durable when it returns, the
# counter set to its value) or '' (replicas: raised after WAIT, _ACK; a store without it
# takes the values before this write, which the previous version marked as read).
_APPLY = """
local marker, token = table.remove(KEYS), table.remove(ARGV)
local seqkey, markfield = table.remove(KEYS), table.remove(ARGV)
local mark = tonumber(markfield)
local idskey, markid = table.remove(KEYS), table.remove(ARGV)
local newid = table.remove(ARGV)
local ackedkey, ackmode = table.remove(KEYS), table.remove(ARGV)
if token ~= '' and redis.call('GET', marker) ~= token then
  return redis.error_reply('MARKER the durability marker is gone or changed; nothing written')
end
local before = tonumber(redis.call('GET', seqkey) or '0')
local at = redis.call('HGET', idskey, markfield)
if before < mark or (markid ~= '' and at and at ~= markid) then
  return redis.error_reply('BEHIND ' .. before .. ' ' .. (at or '-') .. ' the store is older '
                           .. 'than this node mark; nothing written')
end
local results = {}
local ops = {}
local known = {consent = true, revoke = true, ebr = true, ['end'] = true, dnc = true}
local function live(value) return value ~= nil and value ~= cjson.null end
local function text(value) if live(value) then return tostring(value) end return '' end
local function window(value)
  if type(value) ~= 'table' then return '' end
  return text(value[1]) .. '/' .. text(value[2])
end
local function same_consent(c, op)
  for _, field in ipairs({'kind', 'granted_at', 'expires_at', 'source', 'evidence'}) do
    if text(c[field]) ~= text(op[field]) then return false end
  end
  return window(c.window) == window(op.window)
end
if #KEYS ~= #ARGV then return redis.error_reply('one write per key') end
for i = 1, #ARGV do
  local ok, op = pcall(cjson.decode, ARGV[i])
  if not ok or type(op) ~= 'table' or not known[op.t] then
    return redis.error_reply('record write ' .. i .. ' is malformed; nothing written')
  end
  ops[i] = op
end
for i, key in ipairs(KEYS) do
  local op = ops[i]
  local t = op.t
  op.t = nil
  if t == 'consent' then
    -- The same consent again (a retried write, a file imported twice) is not a second one.
    results[i] = 1
    local all = redis.call('HGETALL', key)
    for j = 1, #all, 2 do
      if string.sub(all[j], 1, 2) == 'c:' then
        local c = cjson.decode(all[j + 1])
        if same_consent(c, op) then results[i] = 0 end
      end
    end
    if results[i] == 1 then
      local n = redis.call('HINCRBY', key, 'seq', 1)
      redis.call('HSET', key, 'c:' .. string.format('%010d', n), cjson.encode(op))
    end
  elseif t == 'revoke' then
    local count = 0
    local ends = {}
    for _, k in ipairs(op.kinds) do ends[k] = true end
    local all = redis.call('HGETALL', key)
    for j = 1, #all, 2 do
      if string.sub(all[j], 1, 2) == 'c:' then
        local c = cjson.decode(all[j + 1])
        if ends[c.kind] and not live(c.revoked_at) then
          c.revoked_at = op.at
          c.revoked_source = op.source
          redis.call('HSET', key, all[j], cjson.encode(c))
          count = count + 1
        end
      end
    end
    results[i] = count
  elseif t == 'ebr' then
    local cur = redis.call('HGET', key, 'ebr')
    local e = {}
    if cur then e = cjson.decode(cur) end
    for _, field in ipairs({'last_transaction', 'last_inquiry'}) do
      if live(op[field]) and (not live(e[field]) or op[field] > e[field]) then
        e[field] = op[field]
      end
    end
    redis.call('HSET', key, 'ebr', cjson.encode(e))
    results[i] = 1
  elseif t == 'end' then
    local cur = redis.call('HGET', key, 'ebr')
    results[i] = 0
    if cur then
      local e = cjson.decode(cur)
      if not live(e.ended_at) then
        e.ended_at = op.at
        redis.call('HSET', key, 'ebr', cjson.encode(e))
        results[i] = 1
      end
    end
  elseif t == 'dnc' then
    results[i] = redis.call('HSETNX', key, 'dnc',
                            cjson.encode({added_at = op.at, source = op.source}))
    local cur = redis.call('HGET', key, 'ebr')
    if cur then
      local e = cjson.decode(cur)
      if not live(e.ended_at) then
        e.ended_at = op.at
        redis.call('HSET', key, 'ebr', cjson.encode(e))
      end
    end
  end
end
local seq = redis.call('INCR', seqkey)
redis.call('HSET', idskey, string.format('%d', seq), newid)  -- as Python writes it, never 1e+14
redis.call('HDEL', idskey, string.format('%d', seq - """ + str(ID_WINDOW) + """))
if ackmode == 'set' then
  redis.call('SET', ackedkey, string.format('%d', seq))
elseif not redis.call('GET', ackedkey) then
  redis.call('SET', ackedkey, string.format('%d', before))
end
results[#results + 1] = seq
return results
"""


# KEYS: the record's hash, the durability marker, the record counter, its ids, the
# acknowledged counter. ARGV: this node's mark, HGET or HGETALL, then its field. Returns
# {the answer (false: none), the marker (false: gone), the counter (false: none), the id
# for the mark, the id for the value the mark may rise to (false: none), that value}: the
# ids are what tells a restored store written past the mark; the value is the counter, but
# not past the acknowledged one (high_water.acknowledged, the same rule).
_READ = """
local seq = redis.call('GET', KEYS[3])
local top, s, a = seq, tonumber(seq), tonumber(redis.call('GET', KEYS[5]) or '')
if s and a and a >= 0 and a == math.floor(a) and a < s then top = string.format('%d', a) end
return {redis.call(ARGV[2], KEYS[1], unpack(ARGV, 3)), redis.call('GET', KEYS[2]), seq,
        redis.call('HGET', KEYS[4], ARGV[1]), top and redis.call('HGET', KEYS[4], top), top}
"""

# Under durability = "replicas", once WAIT saw a write replicated: raise the acknowledged
# counter (KEYS[1]) to its value (ARGV[1]), if the store's id for that value is still the
# write's (ARGV[2]; KEYS[2] the ids: not a store restored meanwhile). Replication is in
# order: every value below it was replicated too. Returns 1 when the store still holds the
# write (its id, or its id dropped from the window with the counter acknowledged past it),
# 0 when not (failed over or restored since WAIT: the write is not acknowledged). Running
# it twice changes nothing more (never lowers): it may be retried on a fresh connection.
_ACK = """
local value = tonumber(ARGV[1])
local at = redis.call('HGET', KEYS[2], ARGV[1])
local acked = tonumber(redis.call('GET', KEYS[1]) or '') or -1
if at == ARGV[2] then
  if acked < value then redis.call('SET', KEYS[1], ARGV[1]) end
  return 1
end
if not at and acked >= value then return 1 end
return 0
"""


@dataclass(frozen=True, slots=True)
class RecordsSettings:
    """``[records]``: where records live and how a Redis write is made durable."""

    backend: str = "embedded"  # or "redis"
    durability: str = "aof-always"  # or "replicas" (WAIT after every batch)
    on_weak_durability: str = "refuse"  # or "warn": start anyway, loudly
    wait_replicas: int = 1
    wait_timeout_ms: int = 500


def _key(solicitor: str, e164: str) -> str:
    return f"callguard:rec:{solicitor}:{e164}"


def _utc(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()


def _encode(write: RecordWrite) -> bytes:
    op: dict[str, Any]
    match write:
        case AddConsent(_, _, record, source, evidence):
            op = {"t": "consent", "kind": record.kind.value,
                  "granted_at": _utc(record.granted_at), "source": source,
                  "evidence": evidence}
            if record.expires_at:
                op["expires_at"] = _utc(record.expires_at)
            if record.window:
                op["window"] = [record.window[0].isoformat(), record.window[1].isoformat()]
        case RevokeConsent(_, _, _, at, source):
            op = {"t": "revoke", "kinds": [k.value for k in write.ends], "at": _utc(at),
                  "source": source}
        case RecordEbr(_, _, transaction, inquiry):
            op = {"t": "ebr"}
            if transaction:
                op["last_transaction"] = transaction.isoformat()
            if inquiry:
                op["last_inquiry"] = inquiry.isoformat()
        case EndEbr(_, _, at, source):
            op = {"t": "end", "at": _utc(at), "source": source}
        case AddCompanyDnc(_, _, at, source):
            op = {"t": "dnc", "at": _utc(at), "source": source}
    return orjson.dumps(op)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _consent(raw: bytes) -> StoredConsent:
    data = orjson.loads(raw)
    what = f"the Redis record store's {data.get('kind')} consent of the number"
    window = data.get("window")
    expires, revoked = _text(data.get("expires_at")), _text(data.get("revoked_at"))
    record = ConsentRecord(
        kind=ConsentKind(data["kind"]),
        granted_at=stored_instant(str(data["granted_at"]), what, "granted_at"),
        expires_at=stored_instant(expires, what, "expires_at") if expires else None,
        revoked_at=stored_instant(revoked, what, "revoked_at") if revoked else None,
        window=(time.fromisoformat(window[0]), time.fromisoformat(window[1]))
        if isinstance(window, list) and len(window) == 2 else None,
    )
    return StoredConsent(record, str(data.get("source", "")), str(data.get("evidence", "")),
                         _text(data.get("revoked_source")))


def _ebr(raw: bytes | None) -> EbrRecord | None:
    if raw is None:
        return None
    data = orjson.loads(raw)
    transaction, inquiry, ended = (_text(data.get(k)) for k in
                                   ("last_transaction", "last_inquiry", "ended_at"))
    what = "the Redis record store's business relationship record of the number"
    return EbrRecord(stored_date(transaction, what, "last_transaction")
                     if transaction else None,
                     stored_date(inquiry, what, "last_inquiry") if inquiry else None,
                     stored_instant(ended, what, "ended_at") if ended else None)


def _dnc(raw: bytes | None) -> CompanyDncRecord | None:
    if raw is None:
        return None
    data = orjson.loads(raw)
    return CompanyDncRecord(
        stored_instant(str(data["added_at"]),
                       "the Redis record store's company do-not-call record of the number",
                       "added_at"), str(data["source"]))


EVICTS = "may evict records"  # in the reason: reads are refused too (an evicted one is "none")


def judge_config(config: Mapping[str, Any], settings: RecordsSettings) -> str | None:
    """Why this server configuration could lose an acknowledged record, or None."""
    policy = _text(config.get("maxmemory-policy"))
    if policy is not None and policy.startswith("allkeys"):
        return (f"the Redis server runs maxmemory-policy={policy}, which {EVICTS}; "
                "set noeviction")
    if settings.durability == "replicas":
        return None
    appendonly, fsync = _text(config.get("appendonly")), _text(config.get("appendfsync"))
    if appendonly != "yes" or fsync != "always":
        return (f"the Redis server runs appendonly={appendonly} appendfsync={fsync}; an "
                "acknowledged record could be lost in a crash. Set appendonly yes and "
                "appendfsync always, or durability = \"replicas\" with WAIT")
    return None


# Exact names, no glob: each a dictionary lookup on the server (one per group of counts).
CONFIG_PATTERNS = ("appendonly", "appendfsync", "maxmemory-policy")


def queue_config(pipe: Pipeline) -> None:
    """Queue CONFIG GET of each of ``CONFIG_PATTERNS`` on ``pipe``, in the round trip of
    what else it carries (their answers: ``parse_config``, via ``config_seen``)."""
    for pattern in CONFIG_PATTERNS:
        pipe.execute_command("CONFIG", "GET", pattern)


def parse_config(answers: Sequence[Any]) -> dict[str, Any] | str:
    """The answers to CONFIG GET of each of ``CONFIG_PATTERNS`` (an answer may be the
    ResponseError a pipeline returned): the settings, or why they cannot be read."""
    config: dict[str, Any] = {}
    for raw in answers:
        if isinstance(raw, Exception):  # CONFIG renamed or forbidden by ACL
            return f"cannot read the server's settings ({raw}); durability unknown"
        pairs = raw.items() if isinstance(raw, dict) else zip(raw[::2], raw[1::2], strict=True)
        config.update({_decoded(k): _decoded(v) for k, v in pairs})
    return config


async def _server_config(ask: Any) -> dict[str, Any] | str:
    """The server's AOF and eviction settings, or why they cannot be read."""
    answers: list[Any] = []
    for pattern in CONFIG_PATTERNS:
        try:
            answers.append(await ask("CONFIG", "GET", pattern))
        except ResponseError as exc:
            answers.append(exc)
    return parse_config(answers)


async def check_durability(client: aioredis.Redis, settings: RecordsSettings) -> str | None:
    """Why an acknowledged write could be lost on this server, or None when it cannot."""
    if settings.durability == "replicas":
        info = await client.info("replication")
        replicas = int(info.get("connected_slaves", 0))
        if replicas < settings.wait_replicas:
            return (f"durability = \"replicas\" needs {settings.wait_replicas} replica(s); "
                    f"{replicas} connected")
    config = await _server_config(client.execute_command)
    return config if isinstance(config, str) else judge_config(config, settings)


T = TypeVar("T")


async def read_once_more(client: aioredis.Redis, read: Callable[[], Awaitable[T]]) -> T:
    """Run a read-only command; if its connection was found closed, once more on a fresh
    one (every idle connection of the pool dropped first: a CLIENT KILL or a restart closed
    them all). Only for reads: a write or a count may have run before its connection
    dropped. A timeout is not retried (a slow server would make the call wait twice)."""
    try:
        return await read()
    except RedisConnectionError:
        await client.connection_pool.disconnect(inuse_connections=False)
        return await read()


def _bytes(value: Any) -> bytes | None:
    return value.encode() if isinstance(value, str) else value


def _decoded(value: Any) -> Any:
    return value.decode() if isinstance(value, bytes) else value


class RedisRecords:
    """The three record kinds in Redis; reads only what a rule asked for."""

    def __init__(self, client: aioredis.Redis, settings: RecordsSettings, *,
                 remember: Path | None = None) -> None:
        self._client = client
        self._remember = remember  # where the adopted marker is kept (remembered.py)
        self._settings = settings
        self._apply = client.register_script(_APPLY)
        self._read_script = client.register_script(_READ)
        self._ack = client.register_script(_ACK)
        self._read_only_scripts = True  # EVALSHA_RO (Redis 7.0+); off when the server lacks it
        self._token: bytes | None = None  # the marker this node relies on (set at start)
        self.weak: str | None = None  # why an acknowledged write could be lost right now
        self.lost: str | None = None  # why the server's records cannot be trusted
        self._rechecking: asyncio.Task[None] | None = None  # one recheck for every waiter
        self._told_restart = False  # the way out taken while running: logged once
        # The highest record counter seen, remembered beside the marker (high_water.py).
        self._high = HighWater(remember.with_name(HIGH_WATER_FILE) if remember else None)
        self.behind: str | None = None  # why the store is older than this node's mark
        self.went_back = 0  # times the store was found behind (a metric)
        # Every connection the pool makes (first, or after a drop) is checked before use.
        client.connection_pool.connection_kwargs["redis_connect_func"] = self._on_connect

    async def start(self) -> None:
        """Check durability; refuse (StoreError) or warn loudly, as configured; then write
        (or adopt) the durability marker."""
        try:
            problem = await check_durability(self._client, self._settings)
        except RedisError as exc:
            raise StoreError(f"record store (Redis) unreachable: {exc}") from None
        if problem is not None:
            if self._settings.on_weak_durability != "warn":
                raise StoreError(f"record store (Redis): {problem} "
                                 "(or on_weak_durability = \"warn\" to start anyway)")
            _log.error("records_not_durable", problem=problem)
        remembered = read_marker(self._remember) if self._remember is not None else None
        try:
            if remembered is None:  # a remembered marker is never written over (module doc)
                await self._client.set(MARKER_KEY, secrets.token_hex(16), nx=True)
            token, seq, acked = await self._client.mget(MARKER_KEY, SEQ_KEY, ACKED_KEY)
        except RedisError as exc:
            raise StoreError(f"record store (Redis) unreachable: {exc}") from None
        on_server = _decoded(token)
        rely, remember = rely_on(remembered, on_server)
        if remember and rely is not None and self._remember is not None:
            remember_marker(self._remember, rely)
        self._token = rely.encode() if rely is not None else None
        self._high.load(rely)
        if self._high.refusing:  # refused before its restart: until its id is back
            self._went_behind(store_counter(seq), "remembered")
        floor, floor_id = self._high.known, self._high.known_id
        top = acknowledged(seq, acked)
        try:  # a node down through a restore rewritten past its mark: the id tells
            at_floor, at_counter = await self._client.hmget(IDS_KEY, [floor, top])
        except RedisError as exc:
            raise StoreError(f"record store (Redis) unreachable: {exc}") from None
        self._judge(problem, marker_ok=rely == on_server)
        self.seq_seen(seq, floor, floor_id=floor_id, at_floor=at_floor, at_counter=at_counter,
                      top=top)
        await self._high.kept(self._high.known)

    @property
    def refusing_writes(self) -> str | None:
        """Why a write would not be acknowledged now, or None."""
        if self.lost is not None:
            return self._lost_now()
        if self.behind is not None:
            return self.behind
        if self.weak is not None and self._settings.on_weak_durability != "warn":
            return self.weak
        return None

    def _lost_now(self) -> str | None:
        """``lost``, or once the operator accepted the server while this node runs (the
        remembered marker file removed, or written anew by an import that adopted the
        server's marker) that a restart is what is left: this node still relies on the
        marker it found gone, and refuses until it restarts."""
        lost = self.lost
        if lost is None or self._remember is None:
            return lost
        try:
            remembered = read_marker(self._remember)
        except StoreError:
            return lost
        if remembered is not None and remembered.encode() == self._token:
            return lost
        pending = (f"restart the node: {self._remember.name} was removed or written anew, so "
                   "the Redis server is accepted as it is at the next start; until then every "
                   "call is BLOCKed (this process still relies on the marker it found gone: the "
                   "server lost its data)")
        if not self._told_restart:
            self._told_restart = True
            _log.warning("records_accepted_restart_needed", detail=pending)
        return pending

    @property
    def replicas_wait(self) -> tuple[int, int] | None:
        """(replicas, timeout ms) a write WAITs for (``durability = "replicas"``), or
        None: the server's own fsync makes it durable."""
        if self._settings.durability != "replicas":
            return None
        return self._settings.wait_replicas, self._settings.wait_timeout_ms

    @property
    def remembered_at(self) -> Path | None:
        """The marker file in this node's data dir (None: nothing remembered): other
        marks of this store are kept beside it."""
        return self._remember

    @property
    def marker(self) -> str:
        """The marker token this node relies on ("" before ``start``: not checked)."""
        return self._token.decode() if self._token else ""

    def marker_seen(self, ok: bool) -> None:
        """A command read the marker beside its own work (a FLUSHALL or an emptied server
        under a live connection is noticed by the command itself, not the next probe)."""
        self._judge(self.weak, marker_ok=ok)

    def seq_seen(self, raw: Any, floor: int, *, floor_id: str | None = None,
                 at_floor: Any = None, at_counter: Any = None, top: Any = None) -> None:
        """The store's record counter, read by a command sent when this node's mark was
        ``floor`` (its id ``floor_id``), with the store's ids for the mark and for the
        counter: below the mark, or another id for it (restored, then written past it), the
        store is behind (high_water.py); else the mark rises. Against the mark at sending,
        not now: a write on another connection may have raised it since, and the read ran
        before that write. Once behind, only the counter back at the mark with the id this
        node knows for it clears it (the newest backup restored): an id the store no longer
        holds does not. Judged only on the store this node relies on (another is the
        marker's concern). A mark lowered since sending (``records-accept-older``) is the
        one to judge by, without ids (they were sent for the old one). The mark rises to
        ``top`` (``acknowledged``: not past what was acknowledged as durable), ``at_counter``
        the store's id for it; None: to the counter (this node's own acknowledged write)."""
        if self._token is None or self.lost is not None or isinstance(raw, Exception):
            return
        lowered = floor > self._high.known  # since sending: the store accepted
        floor = min(floor, self._high.known)
        on_server = store_counter(raw)
        other = not lowered and diverged(floor_id, at_floor)
        unproven = (self.behind is not None and self._high.known_id is not None
                    and (lowered or floor != self._high.known
                         or store_id(at_floor) != self._high.known_id))
        if on_server < floor or other or (self.behind is not None and (
                on_server < self._high.known or unproven)):
            if self.behind is None:
                self._went_behind(on_server, "another" if other else "older")
            return
        if self.behind is not None:
            _log.info("records_store_caught_up", store_mark=on_server)
            self.behind = None
            self._high.refuse(False)
        rise = on_server if top is None else min(on_server, store_counter(top))
        self._high.seen(rise, store_id(at_counter))

    def _went_behind(self, on_server: int, history: str) -> None:
        """Refuse the store, and say so in the mark file (a restart refuses too: it could
        not tell once the store dropped the id for the mark)."""
        self.behind = behind_reason(self._high.path)
        self.went_back += 1
        _log.warning("records_store_behind", problem=self.behind, node_mark=self._high.known,
                     store_mark=on_server, history=history)
        self._high.refuse(True)

    async def _accepted(self) -> None:
        """While behind: whether ``callguard records-accept-older`` lowered the remembered
        mark (the operator accepted the store as it is); read off the event loop."""
        path = self._high.path
        if self.behind is None or path is None:
            return
        try:
            seq, seq_id, refusing = await asyncio.to_thread(read_state, path,
                                                            self._high.marker)
        except StoreError:
            return
        high = self._high
        if (seq, seq_id) not in ((high.known, high.known_id), (high.saved, high.saved_id)):
            _log.warning("records_older_accepted", node_mark=seq)
            high.adopt(seq, seq_id, refusing)
            self.behind = None

    def config_seen(self, answers: Sequence[Any]) -> None:
        """CONFIG GET answers read right after a write: judged now (a CONFIG SET
        appendfsync at runtime refuses the write's acknowledgement, not the next one's
        after a probe)."""
        config = parse_config(answers)
        problem = config if isinstance(config, str) else judge_config(config, self._settings)
        self._judge(problem, marker_ok=self.lost is None)

    @property
    def refusing_reads(self) -> str | None:
        """Why a record read would not be trusted now, or None."""
        if self.lost is not None:
            return self._lost_now()
        if self.behind is not None:
            return self.behind
        if self.weak is not None and EVICTS in self.weak:  # warned or not: a record read
            return self.weak  # as "none" may have been evicted
        return None

    @property
    def refusing_counts(self) -> str | None:
        """Why a call-frequency count would not be trusted now (the writes' reasons, and
        a server that may evict, warned or not: an evicted count is an ALLOW past a cap)."""
        if self.weak is not None and EVICTS in self.weak:
            return self.weak
        return self.refusing_writes

    async def recheck(self) -> None:
        """Read the server's settings and the marker again before refusing for them (a
        server set right again serves at once). Callers that arrive while one recheck is
        in flight share it. A server that does not answer leaves the refusal standing."""
        task = self._rechecking
        if task is None or task.done():
            task = self._rechecking = asyncio.get_running_loop().create_task(self._reread())
        await asyncio.shield(task)

    async def _reread(self) -> None:
        await self._accepted()
        floor, floor_id = self._high.known, self._high.known_id
        try:
            async with self._client.pipeline(transaction=False) as pipe:
                queue_config(pipe)
                pipe.get(MARKER_KEY)
                pipe.get(SEQ_KEY)
                pipe.get(ACKED_KEY)
                pipe.hget(IDS_KEY, str(floor))
                *answers, marker, seq, acked, at_floor = await pipe.execute(
                    raise_on_error=False)
            at_counter = None  # an id stays with its value: read apart, still that value's
            top = floor if isinstance(acked, Exception) else acknowledged(seq, acked)
            if not isinstance(seq, Exception) and top > floor:
                at_counter = await self._client.hget(IDS_KEY, str(top))
        except (RedisError, OSError):
            return
        if self._token is not None and not isinstance(marker, Exception):
            self.marker_seen(_bytes(marker) == self._token)
        self.config_seen(answers)
        self.seq_seen(seq, floor, floor_id=floor_id,
                      at_floor=None if isinstance(at_floor, Exception) else at_floor,
                      at_counter=at_counter, top=top)

    async def verify(self) -> str | None:
        """Ask the server again (readiness does, every probe); return ``refusing_writes``."""
        await self._accepted()
        try:
            await self._check(self._client.execute_command)
        except RedisError as exc:
            return f"record store (Redis) unreachable: {exc}"
        return self.refusing_writes

    async def _on_connect(self, connection: AbstractConnection) -> None:
        """redis-py's connect hook: authenticate, then check the server before first use."""
        await connection.on_connect()

        async def ask(*args: Any) -> Any:
            await connection.send_command(*args)
            return await connection.read_response()

        try:
            await self._check(ask)
        except (RedisConnectionError, RedisTimeoutError):
            raise
        except RedisError as exc:
            self._judge(f"cannot check the server ({exc}); durability unknown", marker_ok=True)

    async def _check(self, ask: Any) -> None:
        config = await _server_config(ask)
        problem = config if isinstance(config, str) else judge_config(config, self._settings)
        marker_ok = True
        if self._token is not None:
            marker = await ask("GET", MARKER_KEY)
            marker_ok = (marker.encode() if isinstance(marker, str) else marker) == self._token
        self._judge(problem, marker_ok=marker_ok)
        if self._token is not None:
            floor, floor_id = self._high.known, self._high.known_id
            seq, acked = await ask("MGET", SEQ_KEY, ACKED_KEY)
            top = acknowledged(seq, acked)
            at_floor, at_counter = await ask("HMGET", IDS_KEY, floor, top)
            self.seq_seen(seq, floor, floor_id=floor_id, at_floor=at_floor,
                          at_counter=at_counter, top=top)

    def _judge(self, problem: str | None, *, marker_ok: bool) -> None:
        """Record the server's state; log each change once."""
        lost = None if marker_ok else (
            f"the Redis server lost its data ({MARKER_KEY} is gone or changed: restarted "
            "without its AOF, flushed, or replaced); an earlier record may be missing"
            + (f" (restore its AOF; or accept the server as it is: remove {self._remember}, "
               "re-import the records (refused until then), then restart the node)"
               if self._remember is not None else ""))
        if problem != self.weak:
            if problem is None:
                _log.info("records_durable_again")
            else:
                _log.error("records_not_durable", problem=problem,
                           refusing=self._settings.on_weak_durability != "warn")
            self.weak = problem
        if lost != self.lost:
            if lost is None:
                _log.info("records_data_back")
            else:
                _log.error("records_data_lost", problem=lost)
            self.lost = lost

    def _guard_write(self) -> None:
        reason = self.refusing_writes
        if reason is not None:
            raise StoreError(f"record store (Redis) is not durable: {reason}; "
                             "not acknowledged")

    def _guard_read(self) -> None:
        reason = self.refusing_reads
        if reason is not None:
            raise StoreError(f"record store (Redis) cannot be trusted: {reason}")

    async def count_records(self) -> int:
        """The record hashes on the server (one per seller and number): a ``store-adopted``
        record's count, once per adoption (a SCAN, not on any call's path)."""
        try:
            return sum([1 async for _ in self._client.scan_iter(match="callguard:rec:*",
                                                                count=1000)])
        except RedisError as exc:
            raise StoreError(f"record store (Redis) unreachable: {exc}") from None

    async def aclose(self) -> None:
        """Keep the mark seen last (high_water.py), close the connection pool."""
        await self._high.flush()
        await self._client.aclose()

    async def _call(self, what: str, command: Awaitable[Any]) -> Any:
        """Run one command; a reconnect inside it is checked, so judge before and after."""
        guard = self._guard_read if what == "read" else self._guard_write
        try:
            guard()
        except StoreError:
            if inspect.iscoroutine(command):
                command.close()  # never sent
            raise
        try:
            result = await command
        except RedisError as exc:
            raise StoreError(f"record store (Redis) {what} failed: {exc}") from None
        guard()
        return result

    async def _read(self, *command: str) -> Any:
        """One read with the marker beside it, in one script (atomic, one round trip,
        answered by a full server too, which refuses a MULTI whole): a server flushed or
        emptied under a live connection is refused, never read as "none"; one that finds
        the marker back (the AOF restored) clears the lost state. A closed connection:
        once more on a fresh one."""
        floor, floor_id = self._high.known, self._high.known_id
        sha, words = self._read_script.sha, (command[1], MARKER_KEY, SEQ_KEY, IDS_KEY,
                                             ACKED_KEY, str(floor), command[0], *command[2:])

        async def read() -> Any:
            try:  # _RO: a read-only script runs while writes are paused (a FAILOVER)
                return await self._run_read(sha, words)
            except NoScriptError:  # a restarted server
                await self._client.script_load(_READ)
                return await self._run_read(sha, words)

        try:
            value, marker, seq, at_floor, at_top, top = await read_once_more(self._client, read)
        except RedisError as exc:
            raise StoreError(f"record store (Redis) read failed: {exc}") from None
        if self._token is not None:
            self.marker_seen(_bytes(marker) == self._token)
            self.seq_seen(seq, floor, floor_id=floor_id, at_floor=at_floor, at_counter=at_top,
                          top=top if top is not None else 0)
        if self.lost is None and self.refusing_reads is not None:
            await self.recheck()  # a server no longer evicting answers at once
        self._guard_read()
        return value

    async def _run_read(self, sha: str, words: tuple[str, ...]) -> Any:
        """EVALSHA_RO; EVALSHA on a server older than 7.0 (which has no read-only form: its
        reads then wait while writes are paused, and fail closed past the budget)."""
        if self._read_only_scripts:
            try:
                return await self._client.evalsha_ro(sha, 5, *words)
            except ResponseError as exc:
                if "unknown command" not in str(exc).lower():
                    raise
                self._read_only_scripts = False
                _log.warning("redis_without_read_only_scripts")  # its text quotes the key
        return await self._client.evalsha(sha, 5, *words)

    async def consents(self, solicitor: str, e164: str) -> tuple[ConsentRecord, ...]:
        """Every consent of the number to the solicitor (one HGETALL)."""
        return tuple(c.record for c in await self._stored_consents(solicitor, e164))

    async def _stored_consents(self, solicitor: str, e164: str) -> list[StoredConsent]:
        flat = await self._read("HGETALL", _key(solicitor, e164))
        fields = dict(zip(flat[::2], flat[1::2], strict=True))
        return [_consent(value) for name, value in sorted(fields.items())
                if name.startswith(b"c:")]

    async def ebr(self, solicitor: str, e164: str) -> EbrRecord | None:
        """The relationship record, or None."""
        return _ebr(await self._read("HGET", _key(solicitor, e164), "ebr"))

    async def company_dnc(self, solicitor: str, e164: str) -> CompanyDncRecord | None:
        """The do-not-call record, or None."""
        return _dnc(await self._read("HGET", _key(solicitor, e164), "dnc"))

    async def sheet(self, solicitor: str, e164: str) -> RecordSheet:
        """Everything stored about the number for the solicitor."""
        return RecordSheet(tuple(await self._stored_consents(solicitor, e164)),
                           await self.ebr(solicitor, e164),
                           await self.company_dnc(solicitor, e164))

    async def apply(self, writes: Sequence[RecordWrite]) -> tuple[int, ...]:
        """One atomic script for the batch; then WAIT for replicas when so configured."""
        if not writes:
            return ()
        check_canonical(writes)
        keys = [_key(w.solicitor, w.number) for w in writes]
        args = [_encode(w) for w in writes]
        if self.refusing_writes is not None:
            await self.recheck()  # a server set right again is written to at once
        self._guard_write()
        replicas = self._settings.durability == "replicas"
        # WAIT counts the replicas that acknowledged the last write of ITS connection: sent
        # on another pooled connection (the write's taken by a read meanwhile) it returned
        # at once, the write acknowledged before any replica had it. One connection for both.
        own = self._client.client()
        try:
            return await self._apply_on(own, keys, args, replicas)
        finally:
            await own.aclose()

    async def _apply_on(self, own: aioredis.Redis, keys: list[str], args: list[bytes],
                        replicas: bool) -> tuple[int, ...]:
        """``apply``'s script and its WAIT on one connection (``own``)."""
        try:  # connected first: a failure here sent nothing (below, the script may have run)
            await own.initialize()
        except RedisError as exc:
            raise StoreError(f"record store (Redis) write failed: unreachable ({exc}); "
                             "nothing was sent") from None
        try:
            floor, floor_id = self._high.known, self._high.known_id
            seq_id = secrets.token_hex(8)  # this write's id for the counter value it makes
            *changed, seq = await self._apply(
                keys=[*keys, ACKED_KEY, IDS_KEY, SEQ_KEY, MARKER_KEY],
                args=[*args, "" if replicas else "set", seq_id, floor_id or "", str(floor),
                      self.marker], client=own)
            async with self._client.pipeline(transaction=False) as pipe:
                queue_config(pipe)
                self.config_seen(await pipe.execute(raise_on_error=False))
        except ResponseError as exc:
            if str(exc).startswith("MARKER"):
                self.marker_seen(False)
                self._guard_write()
            if str(exc).startswith("BEHIND"):
                _, counter, at, *_ = str(exc).split()
                self.seq_seen(counter, floor, floor_id=floor_id,
                              at_floor=None if at == "-" else at, top=0)  # nothing to rise to
                self._guard_write()
            raise StoreError(f"record store (Redis) write failed: {exc}") from None
        except (RedisConnectionError, RedisTimeoutError) as exc:
            # Sent, and its answer lost (a stalled fsync past the timeout, a dropped
            # connection): the server may have run it. It was said "write failed", read as
            # "not recorded" — an opt-out or a consent then in force with no record-change
            # in the compliance log, and nothing telling anyone to write it again (hsto21).
            raise StoreError(
                f"record store (Redis) write failed, its answer lost ({exc}): it may have "
                "been recorded all the same, and no record-change is in the compliance log; "
                "run it again (a write run twice changes nothing) so that it is") from None
        except RedisError as exc:
            raise StoreError(f"record store (Redis) write failed: {exc}") from None
        self._guard_write()
        if replicas:
            acked = await self._call("WAIT", own.wait(
                self._settings.wait_replicas, self._settings.wait_timeout_ms))
            if int(acked) < self._settings.wait_replicas:
                raise StoreError(
                    f"record store (Redis): write reached {acked} of "
                    f"{self._settings.wait_replicas} replica(s) within "
                    f"{self._settings.wait_timeout_ms} ms; not acknowledged as durable")
            # Other nodes' marks rise only to the acknowledged counter (high_water.py): a
            # write acknowledged below it is one a restore could lose unnoticed by the nodes
            # that read it (an opt-out read as none). Not raised, not acknowledged.
            try:
                held = await read_once_more(self._client, lambda: self._ack(
                    keys=[ACKED_KEY, IDS_KEY], args=[str(seq), seq_id]))
            except RedisError as exc:
                raise StoreError(f"record store (Redis): write replicated, but {ACKED_KEY} "
                                 f"could not be raised ({exc}); not acknowledged as durable "
                                 "(write it again)") from None
            if not int(held):
                raise StoreError("record store (Redis): the write is no longer in the store "
                                 "(failed over or restored after WAIT); not acknowledged")
        # The mark rises only with an acknowledged write: one WAIT did not see replicated,
        # lost in a failover, must not leave this node refusing the promoted replica (its
        # id for that value another's). A read of it meanwhile raises it all the same.
        self.seq_seen(seq, floor, floor_id=floor_id, at_floor=floor_id, at_counter=seq_id)
        await self._high.kept(int(seq))  # the mark on disk before the acknowledgement
        return tuple(int(c) for c in changed)
