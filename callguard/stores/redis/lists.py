"""Lists shared through Redis, served from an in-process replica on every node.

Keys (one per area code per version — never one giant value, which would stall the loop)::

    callguard:lists                       set of list names
    callguard:list:<name>:seq             version counter (INCR; a new number is also above
                                          current, previous and every withdrawn one)
    callguard:list:<name>:v<N>:manifest   JSON manifest, SHA-256 per chunk
    callguard:list:<name>:v<N>:npa:<NPA>  one serialized 32-bit roaring bitmap
    callguard:list:<name>:current         the published version
    callguard:list:<name>:previous        the one before it, kept for rollback (after a
                                          rollback: the newest one older than current)
    callguard:list:<name>:withdrawn       set of "<N>:<manifest sha256>": versions a
                                          rollback withdrew (a node serving one follows
                                          the rollback back to an older import)
    callguard:list:<name>:dropped         JSON: `dnc drop` removed the list (the version
                                          and when); gone with its next import

Publishing writes and reads back every chunk, then switches ``current`` and ``previous`` in
one MULTI/EXEC, then announces ``<name>:<N>`` on ``callguard:lists:published``. A node
loads a version chunk by chunk, yielding to the event loop between area codes, verifies
every SHA-256 (and the manifest's own checksum) and only then swaps its snapshot
reference: lookups never see half a version and never leave the process. A node that
loses Redis keeps serving its last good replica (the list-freshness rules block once it is
too old) and catches up on reconnect.

A published version imported before the one a node serves, when no rollback withdrew the
served one, is Redis restored from an older backup (or a replica promoted before it had
the newest import): the node refuses it and keeps serving its newer copy — the older one
lacks every number registered since, and would ALLOW calls to them — and says so loudly
(``list_version_went_back`` warning, ``callguard_list_went_back_total``, ``/readyz`` not
ready) until a newer import is published. ``serve`` keeps the last version it served in
its data dir (``remember_in``): restarted, it refuses the older one too, and serves none of
that list (every call in its scope BLOCKed) rather than the older copy; the CLI on that
data dir reads the file and refuses the same. "Older" is imported
earlier *and* numbered no higher: a restore brings back the version counter, so an import
made after it is numbered anew and imported later; a newer import made on a host whose
clock is behind still has a higher number and is taken.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import math
import re
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, NamedTuple

import structlog
from pyroaring import FrozenBitMap
from redis import asyncio as aioredis
from redis.exceptions import RedisError, ResponseError, WatchError

from callguard.errors import NothingToRollBack, StoreError
from callguard.policy.rules.number_kind import (
    LITIGATOR_LIST,
    PORTED_WIRELESS_LIST,
    PORTED_WIRELINE_LIST,
    REASSIGNED_LIST,
    WIRELESS_LIST,
)
from callguard.stores.attributes.dated import DatedChunk, DatedSnapshot, ParsedDated
from callguard.stores.embedded.identity import write_atomically
from callguard.stores.interfaces import ListMeta
from callguard.stores.list_chunks import (
    BitmapSnapshot,
    BuiltVersion,
    build_chunks,
    decode_version_chunk,
    manifest_from_json,
    manifest_to_json,
    snapshot_of,
    stale_base,
)
from callguard.stores.list_files import ParsedList

_Snapshot = BitmapSnapshot | DatedSnapshot

__all__ = ["CHANNEL", "LIST_SOCKET_SECONDS", "SERVED_LISTS_FILE", "RedisListPublisher",
           "RedisListRegistry"]

CHANNEL = "callguard:lists:published"
_NAMES = "callguard:lists"
_BATCH = 32
_WITHDRAWN = "withdrawn"
_DROPPED = "dropped"  # callguard:list:<name>:dropped: `dnc drop` made, until imported again
SERVED_LISTS_FILE = "redis-lists-served.json"  # in serve's data dir: see remember_in
_CLOSE_SECONDS = 1.0
# With no announcement for this long, a serving node syncs every list all the same: a Redis
# emptied under it (FLUSHALL, an empty replica promoted without a dropped connection)
# announces nothing, and the node said nothing of it until its connection dropped (hsto22).
_CHECK_SECONDS = 30.0
# Every command of a list client (``socket_timeout``), the follower's and the CLI's: a Redis
# that accepts but stops answering (paused, swapping, a half-open link) held a sync without
# end — the node went on deciding on its copies, which were never refreshed, and nothing
# said so; ``dnc status`` hung (hsto23). A chunk (an area code's bitmap, about 1 MB at most)
# reads in far less on any link a node should use.
LIST_SOCKET_SECONDS = 10.0
# The next version number: ``seq`` + 1, and above current, previous and every withdrawn
# version. A counter behind them (the key evicted — touched once an import, it goes first
# under allkeys-lru —, deleted, a partial restore) otherwise numbered every import below
# current: refused by ``_switch`` as older, forever, and its discard deleted the old
# version of that number, a rollback's target (hrev53). One script: atomic.
_NEXT_VERSION = """
local v = redis.call('INCR', KEYS[1])
local floor = 0
for i = 2, 3 do
  local x = tonumber(redis.call('GET', KEYS[i]) or '0') or 0
  if x > floor then floor = x end
end
for _, m in ipairs(redis.call('SMEMBERS', KEYS[4])) do
  local x = tonumber(string.match(m, '^(%d+):') or '0') or 0
  if x > floor then floor = x end
end
if v <= floor then
  v = floor + 1
  redis.call('SET', KEYS[1], v)
end
return v
"""
# The sweep's delete of a version's chunks (``_sweep``), only while that version has no
# manifest and is not current, in one script: checked first and deleted after, an import
# writing its manifest and switching in between lost its chunks while current (hsto20).
_SWEEP = """
if redis.call('EXISTS', KEYS[1]) == 1 or redis.call('GET', KEYS[2]) == ARGV[1] then
  return 0
end
return redis.call('DEL', unpack(KEYS, 3))
"""
_log = structlog.get_logger("callguard.lists")


def _bytes(value: Any) -> bytes | None:
    """Values as bytes (the client is created without decode_responses)."""
    if value is None or isinstance(value, bytes):
        return value
    return str(value).encode()


def _key(name: str, suffix: str) -> str:
    return f"callguard:list:{name}:{suffix}"


def _chunk_key(name: str, version: int, area: int) -> str:
    return _key(name, f"v{version}:npa:{area}")


def _manifest_key(name: str, version: int) -> str:
    return _key(name, f"v{version}:manifest")


# redis-py names the pipeline command that failed, with its arguments: a chunk's binary
# bitmap, up to kilobytes of it, printed to the operator's terminal (control bytes too).
_PIPELINE_COMMAND = re.compile(r"Command # \d+ \(.*\) of pipeline caused error: ", re.DOTALL)


def _redis_failed(name: str, exc: RedisError) -> StoreError:
    """The refusal of an import Redis failed: its reason without the command's bytes, and
    a full server said as such."""
    text = _PIPELINE_COMMAND.sub("", str(exc)).strip("()',\" ").rstrip(".")
    if "maxmemory" in text:
        text = (f"{text}: Redis is full (maxmemory reached); free memory there or raise its "
                "maxmemory, then import again")
    return StoreError(f"list {name}: Redis failed during publish ({text}); the current "
                      "version is unchanged")


async def _refuse_eviction(client: aioredis.Redis, name: str) -> None:
    """Refuse to publish on a server that may evict keys (``allkeys-*``): it evicted the
    versions of a list, ``current`` included, as imports filled it — a node started then
    served none of the list and BLOCKed every call in its scope, and an import was
    refused as "npa N is missing" (hsto20). A server whose settings cannot be read
    (CONFIG renamed or forbidden) is taken as it is."""
    try:
        answer = await client.config_get("maxmemory-policy")
    except ResponseError:
        return
    values: dict[Any, Any] = dict(answer)
    policy = _bytes(values.get("maxmemory-policy") or values.get(b"maxmemory-policy"))
    text = (policy or b"").decode(errors="replace")
    if text.startswith("allkeys"):
        raise StoreError(f"list {name}: the Redis server runs maxmemory-policy={text}, "
                         "which may evict the list's versions (a node started after one is "
                         "evicted serves none, and BLOCKs every call in its scope); nothing "
                         "was published. Set maxmemory-policy noeviction")


def _newer_published(name: str, current: int, version: int) -> StoreError:
    """The refusal of import ``version`` of ``name``: ``current`` is newer."""
    return StoreError(
        f"list {name}: a newer version v{current} was published while this import "
        f"(v{version}) ran; nothing was published. See `callguard dnc status`, then import "
        "this file again if it is the newer copy")


class RedisListPublisher:
    """Writes new versions and moves the current pointer."""

    def __init__(self, client: aioredis.Redis) -> None:
        self._client = client
        # The chunk keys of each import under way, which its switch requires (``_switch``)
        self._written: dict[tuple[str, int], list[str]] = {}
        # The base version of each delta under way, which must be current at its switch
        self._bases: dict[tuple[str, int], int | None] = {}

    async def publish(
        self,
        name: str,
        parsed: ParsedList | ParsedDated | BuiltVersion,
        *,
        published: date | None,
        area_codes: frozenset[int] | None,
        source: str,
    ) -> ListMeta:
        """Write every chunk, check it, then switch ``current`` atomically and announce.

        A failure before the switch deletes what this import wrote (its chunks were left:
        a whole list's worth of memory each time, until Redis's maxmemory refused or
        evicted other keys); a switch made sweeps the chunks such failures left behind
        when the delete could not run (Redis gone, the process killed)."""
        client = self._client
        try:
            await _refuse_eviction(client, name)
            version = int(await client.eval(_NEXT_VERSION, 4, *(
                _key(name, k) for k in ("seq", "current", "previous", _WITHDRAWN))))
        except RedisError as exc:
            raise _redis_failed(name, exc) from None
        switched = False
        try:
            built = build_chunks(parsed)
            areas = list(built.chunks)
            for start in range(0, len(areas), _BATCH):
                pipe = client.pipeline(transaction=False)
                for area in areas[start:start + _BATCH]:
                    pipe.set(_chunk_key(name, version, area), built.chunks[area])
                await pipe.execute()
            meta = ListMeta(name, version, published, datetime.now(UTC), built.count,
                            area_codes, source, built.codec)
            for start in range(0, len(areas), _BATCH):
                batch = areas[start:start + _BATCH]
                stored = await client.mget([_chunk_key(name, version, a) for a in batch])
                for area, data in zip(batch, stored, strict=True):
                    decode_version_chunk(meta, _bytes(data), built.digests[area],
                                         f"list {name} v{version} npa {area}")
            files = {area: _chunk_key(name, version, area) for area in areas}
            self._written[(name, version)] = list(files.values())
            await client.set(_manifest_key(name, version), manifest_to_json(meta, built, files))
            self._bases[(name, version)] = built.base
            await self._switch(name, version)
            switched = True
            await client.publish(CHANNEL, f"{name}:{version}")
        except RedisError as exc:
            if switched:  # only the announcement failed: nodes find it on their next sync
                _log.warning("list_publish_unannounced", list=name, version=version,
                             error=str(exc))
                return meta
            await self._discard_quietly(name, version)
            raise _redis_failed(name, exc) from None
        except StoreError:  # a chunk that does not read back, a newer import
            if switched:
                raise
            await self._discard_quietly(name, version)
            # A newer import's sweep (below) took this one's chunks: say that, not "missing"
            newer = await self._newer_than(name, version)
            if newer is not None:
                raise newer from None
            raise
        except BaseException:  # Ctrl-C, a cancelled task
            if not switched:
                await self._discard_quietly(name, version)
            raise
        await self._sweep(name, version)
        return meta

    async def _newer_than(self, name: str, version: int) -> StoreError | None:
        """The refusal of import ``version`` when a newer one is current, else None."""
        try:
            current = await self._client.get(_key(name, "current"))
        except (RedisError, OSError):
            return None
        if current is None or int(current) <= version:
            return None
        return _newer_published(name, int(current), version)

    async def _discard_quietly(self, name: str, version: int) -> None:
        """``_discard``, when Redis lets it: gone, the next publish's ``_sweep`` does it.
        Never the current version: a switch whose EXEC ran while the import failed or was
        cancelled (its reply never read) made it current; deleted, no node could load it
        and one started after served none of the list (hrev58)."""
        self._written.pop((name, version), None)
        self._bases.pop((name, version), None)
        try:
            current = await self._client.get(_key(name, "current"))
            if current is not None and int(current) == version:
                _log.warning("list_import_switched_unseen", list=name, version=version,
                             why="the switch ran but its reply was lost; the version is "
                                 "current and kept",
                             fix="see `callguard dnc status`")
                return
            await self._discard(name, version)
        except (RedisError, OSError) as exc:
            _log.warning("list_import_chunks_left", list=name, version=version,
                         error=str(exc), fix="the next import of the list removes them")

    async def _sweep(self, name: str, current: int) -> None:
        """Delete the chunks of versions below ``current`` that have no manifest: an import
        that failed and could not delete them. An import still running with a lower number
        may yet switch (a rollback brings ``current`` below it): one that has written its
        manifest is kept (``_SWEEP``), and one whose chunks were taken before it did is
        refused by ``_switch``. Best effort: the publish is done."""
        prefix = _key(name, "v")
        try:
            orphans: dict[int, list[bytes]] = {}
            async for raw in self._client.scan_iter(match=_key(name, "v*:npa:*"), count=1000):
                key = _bytes(raw) or b""
                number = key.decode()[len(prefix):].split(":", 1)[0]
                if number.isdigit() and int(number) < current:
                    orphans.setdefault(int(number), []).append(key)
            for version, keys in sorted(orphans.items()):
                # A version kept for rollback, or an import that wrote its manifest since
                # the scan, is kept: checked and deleted in one script (``_SWEEP``).
                removed = 0
                for start in range(0, len(keys), 500):
                    batch = keys[start:start + 500]
                    removed += int(await self._client.eval(
                        _SWEEP, 2 + len(batch), _manifest_key(name, version),
                        _key(name, "current"), *batch, str(version)))
                if removed:
                    _log.info("list_import_chunks_removed", list=name, version=version,
                              keys=removed)
        except (RedisError, OSError) as exc:
            _log.warning("list_import_chunks_left", list=name, error=str(exc),
                         fix="the next import of the list removes them")

    async def _switch(self, name: str, version: int) -> None:
        """Make ``version`` current, never over a newer one: two imports of a list at once
        each take a number at the start, and the older one finishing last moved current
        back — every node had loaded the newer and refused the older as a restored backup,
        a node restarted served it (hlist18). ``current`` is watched meanwhile.

        Never without its manifest and every chunk this import wrote, watched too: a newer
        import's sweep took the chunks of this one (no manifest yet), a rollback then
        brought ``current`` below it, and this one switched to a version no node could
        load — a node started after served none of the list, every call BLOCKed (hsto20).

        A delta (its base: the version it was applied to) only over its base, in the same
        watched transaction: two deltas on one base at once both switched, and the second
        undid the first's additions (hsto21).
        """
        pointer = _key(name, "current")
        needed = [_manifest_key(name, version), *self._written.pop((name, version), ())]
        base = self._bases.pop((name, version), None)
        while True:
            async with self._client.pipeline(transaction=True) as pipe:
                await pipe.watch(pointer, *needed)
                current = await pipe.get(pointer)
                if current is not None and int(current) == version:
                    # Our EXEC ran and its reply was lost (redis-py: WatchError, read as
                    # a rival switch): switched again, ``previous`` became this version
                    # itself and a rollback of it went nowhere (hrev58). No other writes
                    # this number (INCR; a rollback names an older one): done.
                    break
                if current is not None and int(current) > version:
                    await self._discard(name, version)
                    raise _newer_published(name, int(current), version)
                if base is not None and (current is None or int(current) != base):
                    await self._discard(name, version)
                    raise stale_base(name, base, None if current is None else int(current))
                present = int(await pipe.exists(*needed))
                if present < len(needed):
                    raise StoreError(
                        f"list {name}: {len(needed) - present} of the {len(needed)} keys "
                        f"this import (v{version}) wrote were gone from Redis before it was "
                        "made current (removed by another import's clean-up after a "
                        "rollback, or evicted under maxmemory?); nothing was published: "
                        "import the file again")
                pipe.multi()  # type: ignore[no-untyped-call]  # redis-py leaves it untyped
                if current is not None:
                    pipe.set(_key(name, "previous"), current)
                pipe.set(pointer, version)
                pipe.sadd(_NAMES, name)
                pipe.delete(_key(name, _DROPPED))
                try:
                    await pipe.execute()
                    break
                except WatchError:
                    continue  # another import switched meanwhile: look again

    async def _discard(self, name: str, version: int) -> None:
        """Remove a version never made current (its manifest first: no half version)."""
        await self._client.delete(_manifest_key(name, version))
        keys = [key async for key in self._client.scan_iter(
            match=_key(name, f"v{version}:npa:*"), count=1000)]
        if keys:
            await self._client.delete(*keys)

    async def rollback(self, name: str) -> int:
        """Make ``previous`` current, and the newest version older than it ``previous``
        (none left: no ``previous``), as the embedded backend goes back; return the
        version now current. Swapping the two made a second rollback publish again the
        import the first had undone. ``current`` and ``previous`` are watched: an import
        landing meanwhile would otherwise be skipped without being recorded withdrawn, and
        every node serving it would refuse the rollback as a restored backup."""
        pointers = (_key(name, "current"), _key(name, "previous"))
        async with self._client.pipeline(transaction=True) as pipe:
            await pipe.watch(*pointers)
            current, previous = await pipe.mget(*pointers)
            if current is None or previous is None:
                raise NothingToRollBack(f"list {name} has no previous version to roll back "
                                        "to")
            target = int(previous)
            # Its keys watched and read whole first, as the embedded backend loads the
            # version it goes back to: a ``previous`` whose chunks were evicted (maxmemory)
            # or removed became current though no node could load it — every node kept
            # serving the version rolled back from, the operator told it was undone, and a
            # node started after served none of the list (hsto20).
            await self._verified(pipe, name, target)
            older = await self._newest_before(name, target)
            manifest = _bytes(await pipe.get(_manifest_key(name, int(current))))
            pipe.multi()  # type: ignore[no-untyped-call]  # redis-py leaves it untyped
            pipe.sadd(_key(name, _WITHDRAWN), _signature_text(int(current), manifest))
            pipe.set(_key(name, "current"), target)
            if older is None:
                pipe.delete(_key(name, "previous"))
            else:
                pipe.set(_key(name, "previous"), older)
            try:
                await pipe.execute()
            except WatchError:
                raise StoreError(f"list {name}: its current version changed while rolling "
                                 f"back from v{int(current)} (an import?); nothing rolled "
                                 "back: see `callguard dnc status`, then run it again if "
                                 "still wanted") from None
        await self._client.publish(CHANNEL, f"{name}:{target}")
        return target

    async def _verified(self, pipe: Any, name: str, version: int) -> None:
        """Watch every key of ``version`` on ``pipe`` (a change before its EXEC fails it),
        then read each chunk back against its manifest; StoreError naming what fails."""
        where = f"list {name} v{version}"
        await pipe.watch(_manifest_key(name, version))
        manifest = _bytes(await self._client.get(_manifest_key(name, version)))
        try:
            meta, infos = manifest_from_json(manifest, where, name=name, version=version)
            files = [str(info["file"]) for info in infos.values()]
            if files:  # an empty list has none
                await pipe.watch(*files)
            for area, info in infos.items():
                data = _bytes(await self._client.get(str(info["file"])))
                decode_version_chunk(meta, data, str(info["sha256"]), f"{where}: npa {area}",
                                     int(info["count"]))
        except StoreError as exc:
            raise StoreError(f"list {name}: cannot roll back to v{version}: {exc} (evicted "
                             "under maxmemory, or removed?); nothing was rolled back. Import "
                             "a good copy instead") from None

    async def _newest_before(self, name: str, version: int) -> int | None:
        """The newest version of ``name`` older than ``version`` whose manifest is stored."""
        prefix, suffix = _key(name, "v"), ":manifest"
        older = []
        async for raw in self._client.scan_iter(match=_key(name, "v*:manifest"), count=1000):
            key = (_bytes(raw) or b"").decode()
            number = key[len(prefix):-len(suffix)] if key.startswith(prefix) and (
                key.endswith(suffix)) else ""
            if number.isdigit() and int(number) < version:
                older.append(int(number))
        return max(older, default=None)


    async def drop(self, name: str) -> int:
        """Remove a list from Redis (every version; its ``seq`` stays, so a list created
        again later never reuses a version number); return the version that was current.

        A ``dropped`` key records it (the version and when) until the list is imported
        again, and the drop is announced: every node stops serving its copy and forgets it
        served one (``RedisListRegistry``). Before, a node kept serving it until restarted
        — a stale copy of a scope list went on BLOCKing every call — and a node with no
        record of the drop could not tell it from a Redis that lost its data."""
        current = await self._client.get(_key(name, "current"))
        if current is None:
            raise StoreError(f"list {name} has no current version in Redis; nothing dropped")
        keep = {_key(name, "seq").encode(), _key(name, _DROPPED).encode()}
        keys = [k async for k in self._client.scan_iter(match=_key(name, "*"), count=1000)
                if _bytes(k) not in keep]
        pipe = self._client.pipeline(transaction=True)
        pipe.srem(_NAMES, name)
        for start in range(0, len(keys), 500):
            pipe.delete(*keys[start:start + 500])
        pipe.set(_key(name, _DROPPED), json.dumps(
            {"version": int(current), "dropped_at": datetime.now(UTC).isoformat()}))
        await pipe.execute()
        with contextlib.suppress(RedisError, OSError):  # nodes find it on their next sync
            await self._client.publish(CHANNEL, f"{name}:{_DROPPED}")
        return int(current)


def _lost_effect(name: str) -> str:
    """What a node serving no copy of ``name``, lost from Redis, does meanwhile, and the fix.

    An attribute list is no do-not-call list: its rules read "no data", not "not loaded"
    (hsto23: the text said every call in its scope was BLOCKed, while a lost
    ``attr-reassigned`` left every consent honoured unchecked)."""
    effect = {
        REASSIGNED_LIST: "the gate reads it as unread, not as no data (hrea24): a call "
                         "resting on a consent valid at the call is BLOCKed (the "
                         "disconnects it held may void that consent, 47 CFR 64.1200(m)); "
                         "a call with none is decided by the other rules",
        WIRELESS_LIST: "every number reads as wireless or of unknown kind (no landline)",
        PORTED_WIRELESS_LIST: "every number reads as wireless or of unknown kind (no "
                              "landline)",
        PORTED_WIRELINE_LIST: "no port to wireline is seen (such numbers read as wireless)",
    }.get(name)
    if effect is not None:
        return (f"{effect}. Fix: import the newest copy again (`callguard attributes import "
                f"FILE --kind {name.removeprefix('attr-')} ...`)")
    fix = ("`callguard attributes import FILE --kind litigator ...`"
           if name == LITIGATOR_LIST else f"`callguard dnc import FILE --list {name} ...`")
    drop = "" if name.startswith("attr-") else (
        f"; to stop calling its state, import it, then `callguard dnc drop {name} --yes`")
    return ("every call in its scope is BLOCKed, [lists] not_loaded notwithstanding. Fix: "
            f"import the newest copy again ({fix}){drop}")


class _Served(NamedTuple):
    """A version served: its number, manifest digest and import time."""

    version: int
    digest: str
    imported_at: datetime


def _read_served(path: Path) -> dict[str, _Served]:
    """The versions ``serve`` last served, from its data dir; none when there is no file.
    An unreadable file is the node's to report: raised as a StoreError."""
    try:
        doc = json.loads(path.read_bytes())
        return {str(name): _Served(int(v["version"]), str(v["digest"]),
                                   datetime.fromisoformat(str(v["imported_at"])))
                for name, v in doc.items()}
    except FileNotFoundError:
        return {}
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
        raise StoreError(f"{path}: unreadable ({type(exc).__name__}: {exc}); it keeps the "
                         "list versions this node last served, so that one restored from "
                         "an older backup is refused. Remove it, then import your newest "
                         "lists before starting the node (without it, an older copy "
                         "in Redis is not recognised)") from None


def _utc(moment: datetime) -> datetime:
    """An import time, comparable: one written without an offset was UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _write_served(path: Path, doc: dict[str, Any]) -> None:
    """Replace ``path`` whole with ``doc`` (never half a file) and make the rename durable
    (``write_atomically``: without the directory's fsync a power cut may undo it, and the
    node restarted would compare with an older version than it served). Run off the loop
    (a thread)."""
    write_atomically(path, json.dumps(doc, indent=1))


def _signature_text(version: int, manifest: bytes | None) -> str:
    """A version as the ``withdrawn`` set names it: its number and its manifest's digest
    (numbers alone repeat after a Redis lost its data)."""
    return f"{version}:{hashlib.sha256(manifest or b'').hexdigest()}"


class RedisListRegistry:
    """The node's replica: current versions in memory, kept in step through pub/sub."""

    def __init__(self, client: aioredis.Redis, *, retry_seconds: float = 1.0,
                 check_seconds: float = _CHECK_SECONDS,
                 stalled_seconds: float | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._client = client
        self._retry = retry_seconds
        self._check = check_seconds
        # A full sync more than this ago: the lists no longer follow Redis (``sync_problem``)
        self._stalled = (stalled_seconds if stalled_seconds is not None
                         else 2 * check_seconds + LIST_SOCKET_SECONDS)
        self._clock = clock
        self.synced_at: float | None = None  # ``clock`` at the end of the last full sync
        self._sync_failed: str | None = None  # why the last sync failed, until one completes
        self._stall_said = False
        self._watcher: asyncio.Task[None] | None = None
        self._snapshots: dict[str, _Snapshot] = {}
        self.errors: dict[str, str] = {}
        self.connected = False
        self._task: asyncio.Task[None] | None = None
        self._loading: dict[str, asyncio.Lock] = {}
        self._refused: dict[str, tuple[int, str]] = {}  # version and manifest digest
        self._serving: dict[str, tuple[int, str]] = {}  # the same, of the loaded version
        self.went_back: Counter[str] = Counter()  # older versions refused, by list
        self._served_file: Path | None = None
        self._floor: dict[str, _Served] = {}  # last served, from the file (a restart)
        self._gone: dict[str, int] = {}  # served here, no longer in Redis: version served
        self._writing = asyncio.Lock()  # one write of the file at a time
        self._closing = False
        self.on_loaded: Callable[[ListMeta], Awaitable[None] | None] | None = None

    def remember_in(self, path: Path, *, write: bool = True) -> None:
        """Refuse a version older than the one ``path`` (``serve``'s data dir) names, as if
        still served; with ``write`` (``serve``) keep it there as versions are served. The
        CLI reads it only: a scrub or ``dnc status`` after a restore refuses the older copy
        as the node does."""
        self._floor = _read_served(path)
        self._served_file = path if write else None

    async def _remember(self, name: str, meta: ListMeta, digest: str) -> None:
        """Write the version now served of ``name`` (replaced whole: never half a file),
        off the loop — an fsync on a busy disk would stall every call being decided — and
        one write at a time (two lists may load at once; each write holds every list)."""
        self._floor[name] = _Served(meta.version, digest, meta.imported_at)
        await self._write_floor()

    async def _write_floor(self) -> None:
        """Write every version served (``_remember``) to the file, when ``serve`` keeps it."""
        path = self._served_file
        if path is None:
            return
        async with self._writing:
            doc = {n: {"version": s.version, "digest": s.digest,
                       "imported_at": s.imported_at.isoformat()}
                   for n, s in sorted(self._floor.items())}
            try:
                await asyncio.to_thread(_write_served, path, doc)
            except OSError as exc:  # a restart would not know it: say so, keep serving
                _log.warning("lists_served_unwritten", path=str(path), error=str(exc))

    def snapshot(self, name: str) -> _Snapshot | None:
        """The current version of ``name`` (no network hop)."""
        return self._snapshots.get(name)

    def names(self) -> tuple[str, ...]:
        """Every list with a loaded version."""
        return tuple(sorted(self._snapshots))

    async def start(self) -> None:
        """Load every current version once, then follow announcements in the background."""
        try:
            await self.sync()
            self.connected = True
        except RedisError as exc:
            _log.warning("redis_unavailable_at_start", error=str(exc))
        self._task = asyncio.ensure_future(self._follow())
        self._watcher = asyncio.ensure_future(self._watch())

    async def close(self) -> None:
        """Stop following (bounded: a dead connection must not hold up shutdown).

        Python 3.11's ``asyncio.wait_for`` (in ``_close_quietly``) can swallow a
        cancellation that lands as its inner call completes (cpython gh-86296), and the
        follower would then subscribe again and listen forever — holding up the loop's
        shutdown. So the follower also checks ``_closing``, and the cancel is repeated.
        """
        self._closing = True
        if self._watcher is not None:
            self._watcher.cancel()
            await asyncio.wait({self._watcher}, timeout=_CLOSE_SECONDS)
        task = self._task
        for _ in range(3):
            if task is None or task.done():
                return
            task.cancel()
            await asyncio.wait({task}, timeout=_CLOSE_SECONDS)

    async def sync(self) -> None:
        """Load every list whose current version differs from the replica's; of a list
        served here (or, by the data dir's file, before a restart) that Redis no longer
        holds, say so (``sync_one``)."""
        try:
            members = await self._client.smembers(_NAMES)
            names = {n.decode() if isinstance(n, bytes) else str(n) for n in members}
            for name in sorted(names | set(self._snapshots) | set(self._floor)):
                await self.sync_one(name)
        except (RedisError, OSError) as exc:
            self._sync_failed = f"{type(exc).__name__}: {exc}"
            raise
        self.synced_at = self._clock()
        self._sync_failed = None
        if self._stall_said:
            self._stall_said = False
            _log.info("list_sync_resumed")

    def sync_problem(self) -> str | None:
        """Why the lists no longer follow Redis, or None: no full sync for more than
        ``stalled_seconds`` (by default twice the period of the full sync, plus a
        command's timeout). Judged on the clock when asked, not by the follower, so a
        follower stuck anywhere still shows (hsto23). The node decides on the copies it
        holds meanwhile — the freshness rules judge them by their own age —, but an import
        or a rollback made since is not seen, nor a list Redis lost."""
        now = self._clock()
        if self.synced_at is not None and now - self.synced_at <= self._stalled:
            return None
        since = ("no full sync has completed since start" if self.synced_at is None else
                 f"the last full sync completed {now - self.synced_at:.0f} s ago")
        failed = f" (last attempt: {self._sync_failed})" if self._sync_failed else ""
        held = ", ".join(f"{n} v{s.meta.version}" for n, s in sorted(self._snapshots.items()))
        return (f"the lists do not follow Redis: {since}{failed}. This node decides on the "
                f"copies it holds ({held or 'none'}), judged by their own age; an import or "
                "rollback made since is not seen. Fix: see that Redis answers ([redis] url; "
                "`redis-cli ping`)")

    def sync_age(self) -> float:
        """Seconds since the last full sync completed (infinite: none has)."""
        return math.inf if self.synced_at is None else self._clock() - self.synced_at

    async def _watch(self) -> None:
        """Say once (``list_sync_stalled``) when the lists stop following Redis, however
        the follower is held; ``list_sync_resumed`` says when they follow again."""
        while not self._closing:
            await asyncio.sleep(min(self._check, self._stalled) / 2)
            problem = self.sync_problem()
            if problem is not None and not self._stall_said:
                self._stall_said = True
                _log.error("list_sync_stalled", problem=problem,
                           lists={n: s.meta.version for n, s in self._snapshots.items()})

    async def sync_one(self, name: str) -> None:
        """Bring one list up to its current version; a bad version keeps the old one (or,
        when the node has none yet, the ``previous`` one that verifies). A refused version
        is logged once and not read again while its manifest is unchanged."""
        lock = self._loading.setdefault(name, asyncio.Lock())
        async with lock:
            raw = await self._client.get(_key(name, "current"))
            if raw is None:
                await self._absent(name)
                return
            if self._gone.pop(name, None) is not None:
                _log.info("list_back_in_redis", list=name)
            version = int(raw)
            loaded = self._snapshots.get(name)
            manifest = _bytes(await self._client.get(_manifest_key(name, version)))
            signature = (version, hashlib.sha256(manifest or b"").hexdigest())
            # The number alone is not the version: a Redis that lost its data counts from
            # 1 again, and a new import would reuse the number of the copy served here.
            if loaded is not None and self._serving.get(name) == signature:
                if self.errors.pop(name, None) is not None:
                    _log.info("list_error_cleared", list=name, version=version)
                return
            if self._refused.get(name) == signature:
                return
            try:
                snapshot = await self._load(name, version, manifest)
            except StoreError as exc:
                self._refused[name] = signature
                if loaded is None:
                    loaded = await self._previous(name, version)
                serving = f"serving v{loaded.meta.version}" if loaded else (
                    "no version served: every call in its scope is BLOCKed")
                self.errors[name] = f"{exc}; {serving}"
                _log.error("list_version_refused", list=name, version=version, error=str(exc),
                           serving=loaded.meta.version if loaded else None)
                return
            if await self._went_back(name, loaded is not None, snapshot):
                self._refused[name] = signature
                return
            self._snapshots[name] = snapshot
            self._serving[name] = signature
            self._refused.pop(name, None)
            self.errors.pop(name, None)
            _log.info("list_version_loaded", list=name, version=version,
                      count=snapshot.meta.count)
            await self._remember(name, snapshot.meta, signature[1])

    async def _absent(self, name: str) -> None:
        """Redis holds no current version of ``name``: dropped on purpose (``dnc drop``
        left its record), the copy served here is forgotten; else Redis lost it. A copy
        served keeps serving (``_gone_from_redis``); none served but one served before a
        restart (the data dir's file) is an error, so the list reads as unread (BLOCK
        with this reason), never as absent on purpose (``[lists] not_loaded``).

        A drop record older than the copy served here (or, by the data dir's file, before
        a restart) is no drop of that copy: a Redis restored from a backup taken between
        the drop and the next import holds the record again and no version, and the node
        forgot the newer copy it served, reading the list as not loaded on purpose (hrev93).
        Such a copy is lost, as with no record; an unreadable record is no drop either."""
        record = await self._client.get(_key(name, _DROPPED))
        if self._drop_covers(name, record):
            await self._dropped(name)
            return
        self._gone_from_redis(name)
        served = self._floor.get(name)
        if name in self._snapshots or served is None:
            return
        if name not in self.errors:
            _log.error("list_lost_from_redis", list=name, last_served=served.version,
                       fix=f"import the newest copy of {name} again")
        self.errors[name] = (
            f"list {name}: this node served v{served.version} (imported "
            f"{served.imported_at:%Y-%m-%d %H:%M} UTC), and Redis now holds no version of it "
            + ("and no record of a `dnc drop` of it" if record is None else
               "and a record of a `dnc drop` of an older version only (a backup restored?)")
            + ": Redis lost its data (restarted without its AOF, "
            f"FLUSHALL, an empty replica)? No copy is served: {_lost_effect(name)}")

    def _drop_covers(self, name: str, raw: Any) -> bool:
        """Whether a ``dropped`` record (``drop``: the version then current) drops the
        copy this node serves, or served before a restart: none newer than it."""
        if raw is None:
            return False
        try:
            dropped = int(json.loads(_bytes(raw) or b"")["version"])
        except (ValueError, TypeError, KeyError):
            _log.error("list_drop_record_unreadable", list=name)
            return False
        snapshot = self._snapshots.get(name)
        served = self._floor.get(name)
        newer = [v for v in (snapshot.meta.version if snapshot else None,
                             served.version if served else None)
                 if v is not None and v > dropped]
        if newer and name not in self._gone and name not in self.errors:  # said once
            _log.error("list_drop_record_older_than_served", list=name, dropped=dropped,
                       served=max(newer), why="a Redis restored from a backup taken between "
                       "a `dnc drop` and the next import?",
                       fix=f"import the newest copy of {name} again (then `dnc drop {name} "
                       "--yes` to stop calling its state)")
        return not newer

    async def _dropped(self, name: str) -> None:
        """``dnc drop`` removed ``name``: stop serving it and forget it was served (a node
        restarted after must not read it as lost)."""
        snapshot = self._snapshots.pop(name, None)
        self._serving.pop(name, None)
        self._refused.pop(name, None)
        self._gone.pop(name, None)
        self.errors.pop(name, None)
        if snapshot is not None:
            _log.warning("list_dropped", list=name, version=snapshot.meta.version,
                         effect="no copy served: calls in its scope are judged without it")
        if self._floor.pop(name, None) is not None:
            await self._write_floor()

    def _gone_from_redis(self, name: str) -> None:
        """A list served here that Redis no longer holds (restarted without its data,
        FLUSHALL, a failover to an empty replica; not a ``dnc drop``): this node keeps serving
        its copy (the freshness rules block once it is too old), but a node started now
        serves none, and BLOCKs every call in the list's scope. It was silent: said once
        (``list_gone_from_redis``), with the fix, until the list is back."""
        snapshot = self._snapshots.get(name)
        if snapshot is None or name in self._gone:
            return
        self._gone[name] = snapshot.meta.version
        _log.warning("list_gone_from_redis", list=name, serving=snapshot.meta.version,
                     why="Redis holds no current version of it, nor a record of a drop "
                         "(restarted empty, flushed, failed over to an empty replica)",
                     effect="this node serves its copy; a node started now serves none "
                            "and BLOCKs every call in its scope",
                     fix=f"import the newest copy of {name} again")

    async def _went_back(self, name: str, serving: bool, published: _Snapshot) -> bool:
        """Whether ``published`` is older than the version this node serves (or, restarted,
        last served) and no rollback withdrew that one; if so, say so everywhere. Serving
        it: that copy stays. Restarted: none is served, every call in scope BLOCKed."""
        served, older = self._floor.get(name), published.meta
        if served is None or _utc(older.imported_at) >= _utc(served.imported_at) or (
                older.version > served.version):
            return False
        if await self._client.sismember(_key(name, _WITHDRAWN),
                                        f"{served.version}:{served.digest}"):
            _log.info("list_rolled_back", list=name, version=older.version,
                      withdrawn=served.version)
            return False
        self.went_back[name] += 1
        kept = (f"Serving v{served.version}, which has every number registered since (the "
                "older copy would ALLOW calls to them)" if serving else
                f"This node last served v{served.version} and serves no version of {name} "
                "now: every call in its scope is BLOCKed (the older copy would ALLOW calls to "
                "numbers registered since)")
        self.errors[name] = (
            f"list {name}: Redis now publishes v{older.version} (imported "
            f"{older.imported_at:%Y-%m-%d %H:%M} UTC), older than v{served.version} "
            f"(imported {served.imported_at:%Y-%m-%d %H:%M} UTC) "
            f"{'served here' if serving else 'this node last served'}, and no `dnc "
            f"rollback` withdrew it: Redis restored from an older backup? {kept}. Fix: "
            f"import the newest copy again (`callguard dnc import FILE --list {name} ...`); "
            "to serve an older copy on purpose, import that file again")
        _log.warning("list_version_went_back", list=name, published=older.version,
                     published_imported_at=older.imported_at.isoformat(),
                     serving=served.version if serving else None,
                     last_served=served.version,
                     last_served_imported_at=served.imported_at.isoformat(),
                     fix=f"import the newest copy of {name} again")
        return True

    async def _previous(self, name: str, refused: int) -> _Snapshot | None:
        """The ``previous`` version, served when the current one is refused at start."""
        raw = await self._client.get(_key(name, "previous"))
        if raw is None or int(raw) == refused:
            return None
        version = int(raw)
        manifest = _bytes(await self._client.get(_manifest_key(name, version)))
        try:
            snapshot = await self._load(name, version, manifest)
        except StoreError:
            return None
        if await self._went_back(name, False, snapshot):
            return None
        self._snapshots[name] = snapshot
        self._serving[name] = (version, hashlib.sha256(manifest or b"").hexdigest())
        await self._remember(name, snapshot.meta, self._serving[name][1])
        return snapshot

    async def _load(self, name: str, version: int, manifest: bytes | None) -> _Snapshot:
        where = f"list {name} v{version}"
        meta, infos = manifest_from_json(manifest, where, name=name, version=version)
        chunks: dict[int, FrozenBitMap | DatedChunk] = {}
        for area, info in infos.items():
            data = _bytes(await self._client.get(str(info["file"])))
            chunks[area] = decode_version_chunk(meta, data, str(info["sha256"]),
                                                f"{where}: npa {area}", int(info["count"]))
            await asyncio.sleep(0)  # one area code at a time: the loop never stalls long
        return snapshot_of(meta, chunks)

    async def _follow(self) -> None:
        while not self._closing:
            pubsub = self._client.pubsub()
            try:
                await pubsub.subscribe(CHANNEL)
                await self.sync()  # catch up on anything published while we were away
                if not self.connected:
                    _log.info("redis_reconnected")
                self.connected = True
                due = self._clock() + self._check
                while not self._closing:
                    # A full sync every ``check`` seconds whatever the announcements: waited
                    # for ``check`` after each one, a list announced more often than that
                    # (an import cron, a busy attribute feed) kept it from ever running,
                    # and a Redis emptied under the node went unsaid (hsto23).
                    message = await pubsub.get_message(
                        ignore_subscribe_messages=True,
                        timeout=max(0.0, min(self._check, due - self._clock())))
                    if message is not None and message.get("type") == "message":
                        await self._announced(message["data"])
                    if self._clock() >= due:
                        await self.sync()
                        due = self._clock() + self._check
            except (RedisError, OSError) as exc:
                self._sync_failed = f"{type(exc).__name__}: {exc}"
                if self.connected:
                    _log.warning("redis_lost_serving_replica", error=str(exc),
                                 lists={n: s.meta.version for n, s in self._snapshots.items()})
                self.connected = False
                await asyncio.sleep(self._retry)
            finally:
                await _close_quietly(pubsub)

    async def _announced(self, data: Any) -> None:
        text = data.decode() if isinstance(data, bytes) else str(data)
        name = text.rsplit(":", 1)[0]
        await self.sync_one(name)


async def _close_quietly(pubsub: Any) -> None:
    # Closing a pub/sub whose connection died can wait forever (seen with redis-py 8.1 after
    # a SIGKILLed server): bound it.
    with contextlib.suppress(RedisError, OSError, TimeoutError):
        await asyncio.wait_for(pubsub.aclose(), _CLOSE_SECONDS)
