"""Consent, EBR and company-DNC records in Redis, shared by every node.

One hash per solicitor and number, ``callguard:rec:<solicitor>:<e164>``, with fields
``c:<n>`` (one JSON consent each), ``ebr`` and ``dnc``. A batch of writes is one Lua
script: atomic, and written to the AOF as one unit. A write is acknowledged only when
durable: Debian 12's Redis 7.0 has no ``WAITAOF``, so the node checks at start that the
server runs ``appendonly yes`` with ``appendfsync always`` (it fsyncs before it replies),
or it waits for replicas with ``WAIT`` after each batch (``durability = "replicas"``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

import orjson
import structlog
from redis import asyncio as aioredis
from redis.exceptions import RedisError, ResponseError

from callguard.errors import StoreError
from callguard.policy import CompanyDncRecord, ConsentKind, ConsentRecord, EbrRecord
from callguard.stores.writes import (
    AddCompanyDnc,
    AddConsent,
    EndEbr,
    RecordEbr,
    RecordSheet,
    RecordWrite,
    RevokeConsent,
    StoredConsent,
)

__all__ = ["RecordsSettings", "RedisRecords", "check_durability"]

_log = structlog.get_logger("callguard.records")

# KEYS[i] receives the write ARGV[i] (JSON); returns rows changed per write. Redis does
# not roll back a script that fails midway, so every write is decoded and checked first.
_APPLY = """
local results = {}
local ops = {}
local known = {consent = true, revoke = true, ebr = true, ['end'] = true, dnc = true}
local function live(value) return value ~= nil and value ~= cjson.null end
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
    local n = redis.call('HINCRBY', key, 'seq', 1)
    redis.call('HSET', key, 'c:' .. string.format('%010d', n), cjson.encode(op))
    results[i] = 1
  elseif t == 'revoke' then
    local count = 0
    local all = redis.call('HGETALL', key)
    for j = 1, #all, 2 do
      if string.sub(all[j], 1, 2) == 'c:' then
        local c = cjson.decode(all[j + 1])
        if c.kind == op.kind and not live(c.revoked_at) then
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
return results
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
        case RevokeConsent(_, _, kind, at, source):
            op = {"t": "revoke", "kind": kind.value, "at": _utc(at), "source": source}
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
    window = data.get("window")
    expires, revoked = _text(data.get("expires_at")), _text(data.get("revoked_at"))
    record = ConsentRecord(
        kind=ConsentKind(data["kind"]),
        granted_at=datetime.fromisoformat(data["granted_at"]),
        expires_at=datetime.fromisoformat(expires) if expires else None,
        revoked_at=datetime.fromisoformat(revoked) if revoked else None,
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
    return EbrRecord(date.fromisoformat(transaction) if transaction else None,
                     date.fromisoformat(inquiry) if inquiry else None,
                     datetime.fromisoformat(ended) if ended else None)


def _dnc(raw: bytes | None) -> CompanyDncRecord | None:
    if raw is None:
        return None
    data = orjson.loads(raw)
    return CompanyDncRecord(datetime.fromisoformat(data["added_at"]), str(data["source"]))


async def check_durability(client: aioredis.Redis, settings: RecordsSettings) -> str | None:
    """Why an acknowledged write could be lost on this server, or None when it cannot."""
    if settings.durability == "replicas":
        info = await client.info("replication")
        replicas = int(info.get("connected_slaves", 0))
        if replicas < settings.wait_replicas:
            return (f"durability = \"replicas\" needs {settings.wait_replicas} replica(s); "
                    f"{replicas} connected")
        return None
    try:
        raw: Any = await client.config_get("append*")
    except ResponseError as exc:  # CONFIG renamed or forbidden by ACL
        return f"cannot read the server's AOF settings ({exc}); durability unknown"
    config = {_decoded(k): _decoded(v) for k, v in raw.items()}
    appendonly, fsync = _text(config.get("appendonly")), _text(config.get("appendfsync"))
    if appendonly != "yes" or fsync != "always":
        return (f"the Redis server runs appendonly={appendonly} appendfsync={fsync}; an "
                "acknowledged record could be lost in a crash. Set appendonly yes and "
                "appendfsync always, or durability = \"replicas\" with WAIT")
    return None


def _decoded(value: Any) -> Any:
    return value.decode() if isinstance(value, bytes) else value


class RedisRecords:
    """The three record kinds in Redis; reads only what a rule asked for."""

    def __init__(self, client: aioredis.Redis, settings: RecordsSettings) -> None:
        self._client = client
        self._settings = settings
        self._apply = client.register_script(_APPLY)

    async def start(self) -> None:
        """Check durability; refuse (StoreError) or warn loudly, as configured."""
        try:
            problem = await check_durability(self._client, self._settings)
        except RedisError as exc:
            raise StoreError(f"record store (Redis) unreachable: {exc}") from None
        if problem is None:
            return
        if self._settings.on_weak_durability == "warn":
            _log.error("records_not_durable", problem=problem)
            return
        raise StoreError(f"record store (Redis): {problem} "
                         "(or on_weak_durability = \"warn\" to start anyway)")

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()

    async def _call(self, what: str, command: Any) -> Any:
        try:
            return await command
        except RedisError as exc:
            raise StoreError(f"record store (Redis) {what} failed: {exc}") from None

    async def consents(self, solicitor: str, e164: str) -> tuple[ConsentRecord, ...]:
        """Every consent of the number to the solicitor (one HGETALL)."""
        return tuple(c.record for c in await self._stored_consents(solicitor, e164))

    async def _stored_consents(self, solicitor: str, e164: str) -> list[StoredConsent]:
        fields = await self._call("read", self._client.hgetall(_key(solicitor, e164)))
        return [_consent(value) for name, value in sorted(fields.items())
                if name.startswith(b"c:")]

    async def ebr(self, solicitor: str, e164: str) -> EbrRecord | None:
        """The relationship record, or None."""
        return _ebr(await self._call("read", self._client.hget(_key(solicitor, e164), "ebr")))

    async def company_dnc(self, solicitor: str, e164: str) -> CompanyDncRecord | None:
        """The do-not-call record, or None."""
        return _dnc(await self._call("read", self._client.hget(_key(solicitor, e164), "dnc")))

    async def sheet(self, solicitor: str, e164: str) -> RecordSheet:
        """Everything stored about the number for the solicitor."""
        return RecordSheet(tuple(await self._stored_consents(solicitor, e164)),
                           await self.ebr(solicitor, e164),
                           await self.company_dnc(solicitor, e164))

    async def apply(self, writes: Sequence[RecordWrite]) -> tuple[int, ...]:
        """One atomic script for the batch; then WAIT for replicas when so configured."""
        if not writes:
            return ()
        keys = [_key(w.solicitor, w.number) for w in writes]
        args = [_encode(w) for w in writes]
        changed = await self._call("write", self._apply(keys=keys, args=args))
        if self._settings.durability == "replicas":
            acked = await self._call("WAIT", self._client.wait(
                self._settings.wait_replicas, self._settings.wait_timeout_ms))
            if int(acked) < self._settings.wait_replicas:
                raise StoreError(
                    f"record store (Redis): write reached {acked} of "
                    f"{self._settings.wait_replicas} replica(s) within "
                    f"{self._settings.wait_timeout_ms} ms; not acknowledged as durable")
        return tuple(int(c) for c in changed)
