"""A list version as chunks: one 32-bit roaring bitmap per area code, SHA-256 each.

Both backends (files on disk, keys in Redis) store exactly these bytes and this manifest,
so a node verifies every chunk before it serves a version, whatever the backend.
A 10-digit number NPA-NXX-XXXX is bit NXXXXXX (< 2^32) of its area code's bitmap.

The manifest itself carries a SHA-256 (``checksum``) over everything else in it — which
area code each chunk is, the published date the freshness rules read, the coverage, the
version, the counts — in a canonical serialisation (sorted keys, no whitespace). A
manifest that does not match it (an edited area code, a moved date) or has none is
refused like a corrupt chunk. This catches corruption and hand edits; it is not a
signature: whoever can write the data directory or Redis can also recompute it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from pyroaring import BitMap, FrozenBitMap

from callguard.errors import StoreError
from callguard.stores.attributes.dated import (
    DATED_CODEC,
    DatedChunk,
    DatedSnapshot,
    ParsedDated,
    build_dated,
    decode_dated_chunk,
)
from callguard.stores.interfaces import ListMeta
from callguard.stores.list_files import ParsedList

__all__ = [
    "AREA_SPAN",
    "BitmapSnapshot",
    "BuiltVersion",
    "apply_delta",
    "build_chunks",
    "decode_chunk",
    "decode_version_chunk",
    "from_bitmaps",
    "manifest_from_json",
    "manifest_to_json",
    "snapshot_of",
    "stale_base",
]

AREA_SPAN = 10_000_000


@dataclass(frozen=True, slots=True)
class BitmapSnapshot:
    """One immutable list version in memory: a frozen bitmap per area code."""

    meta: ListMeta
    chunks: dict[int, FrozenBitMap]

    def contains(self, national: int) -> bool:
        """Whether the 10-digit number is listed."""
        chunk = self.chunks.get(national // AREA_SPAN)
        return chunk is not None and (national % AREA_SPAN) in chunk

    def covers(self, area_code: int) -> bool:
        """Whether the version speaks for the area code."""
        areas = self.meta.area_codes
        return areas is None or area_code in areas


@dataclass(frozen=True, slots=True)
class BuiltVersion:
    """Serialized chunks of a new version, with their digests and counts."""

    chunks: dict[int, bytes]
    digests: dict[int, str]
    counts: dict[int, int]
    codec: str = "roaring"  # or "dated" (reassigned data: callguard.stores.attributes)
    # A delta's result: the version it was applied to, which must still be current when it
    # is published (else another import's changes since are undone: ``apply_delta``).
    base: int | None = None

    @property
    def suffix(self) -> str:
        """File name suffix of a chunk of this codec."""
        return "roar" if self.codec == "roaring" else self.codec

    @property
    def count(self) -> int:
        """Distinct numbers in the version."""
        return sum(self.counts.values())


def build_chunks(parsed: ParsedList | ParsedDated | BuiltVersion) -> BuiltVersion:
    """Build one bitmap per area code (duplicates collapse); dated data as dated chunks."""
    if isinstance(parsed, BuiltVersion):
        return parsed
    if isinstance(parsed, ParsedDated):
        return BuiltVersion(*build_dated(parsed), codec=DATED_CODEC)
    return from_bitmaps({area: BitMap(numbers) for area, numbers in parsed.by_area.items()})


def apply_delta(base: BitmapSnapshot, additions: ParsedList,
                deletions: ParsedList) -> BuiltVersion:
    """The base version plus additions minus deletions, as a new version's chunks, naming
    its base (``BuiltVersion.base``): the publishers refuse it once another version is
    current. Two deltas on one base, imported at once, both published: the second made
    current the base plus its own changes only, and the first's additions — numbers
    acknowledged as listed — were gone, their calls ALLOWed (hsto21)."""
    bitmaps = {area: BitMap(chunk) for area, chunk in base.chunks.items()}
    for area, numbers in additions.by_area.items():
        bitmaps.setdefault(area, BitMap()).update(numbers)
    for area, numbers in deletions.by_area.items():
        if area in bitmaps:
            bitmaps[area].difference_update(BitMap(numbers))
    built = from_bitmaps({area: bm for area, bm in bitmaps.items() if bm})
    return BuiltVersion(built.chunks, built.digests, built.counts, base=base.meta.version)


def stale_base(name: str, base: int, current: int | None) -> StoreError:
    """The refusal of a delta on ``base`` when ``current`` is current instead."""
    now = "none" if current is None else f"v{current}"
    return StoreError(f"list {name}: the delta's base v{base} is no longer the current "
                      f"version ({now}: another import or a rollback published meanwhile); "
                      "nothing was published: import the deltas in order, on the current "
                      "version")


def from_bitmaps(bitmaps: dict[int, BitMap]) -> BuiltVersion:
    """Serialize bitmaps into chunks with digests and counts."""
    chunks: dict[int, bytes] = {}
    digests: dict[int, str] = {}
    counts: dict[int, int] = {}
    for area, bitmap in sorted(bitmaps.items()):
        data = bitmap.serialize()
        chunks[area], digests[area], counts[area] = (
            data, hashlib.sha256(data).hexdigest(), len(bitmap))
    return BuiltVersion(chunks, digests, counts)


def decode_chunk(data: bytes | None, expected_sha: str, where: str,
                 expected_count: int | None = None) -> FrozenBitMap:
    """Verify and deserialize one chunk; a missing or altered chunk refuses the version."""
    if data is None:
        raise StoreError(f"{where} is missing; version refused")
    if hashlib.sha256(data).hexdigest() != expected_sha:
        raise StoreError(f"{where} is corrupt or truncated (SHA-256 mismatch); version refused")
    try:
        bitmap = FrozenBitMap.deserialize(data)
    except (ValueError, IndexError, OverflowError, MemoryError) as exc:
        # Its digest matched: the manifest was written for these very bytes (a writer's bug,
        # a hand "repair"). A StoreError like any corrupt chunk, not pyroaring's error out
        # of the loader: that took a starting node down, or a running one's reloads.
        raise StoreError(f"{where} cannot be read as a bitmap ({type(exc).__name__}); "
                         "version refused — import the list again") from None
    if expected_count is not None and len(bitmap) != expected_count:
        raise StoreError(f"{where} holds {len(bitmap)} numbers, its manifest says "
                         f"{expected_count}; version refused")
    return bitmap


def _canonical(doc: dict[str, Any]) -> bytes:
    """The bytes the manifest checksum covers: every field but the checksum, sorted."""
    body = {key: value for key, value in doc.items() if key != "checksum"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def _checksum(doc: dict[str, Any]) -> str:
    return "sha256:" + hashlib.sha256(_canonical(doc)).hexdigest()


def manifest_to_json(meta: ListMeta, built: BuiltVersion, files: dict[int, str]) -> bytes:
    """The manifest: metadata, per area code the chunk's name, digest and count, and the
    checksum over all of it."""
    doc: dict[str, Any] = {
        "name": meta.name,
        "version": meta.version,
        "published": meta.published.isoformat() if meta.published else None,
        "imported_at": meta.imported_at.isoformat(),
        "count": meta.count,
        "area_codes": sorted(meta.area_codes) if meta.area_codes is not None else "all",
        "source": meta.source,
        "chunks": {str(area): {"file": files[area], "sha256": built.digests[area],
                               "count": built.counts[area]} for area in built.chunks},
    }
    if built.codec != "roaring":  # absent: roaring (every manifest written before codecs)
        doc["codec"] = built.codec
    doc["checksum"] = _checksum(doc)
    return json.dumps(doc, indent=1).encode()


def _verified(raw: bytes, where: str) -> dict[str, Any]:
    """The manifest's fields, once its checksum matches them."""
    try:
        doc = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise StoreError(f"{where}: manifest unreadable ({type(exc).__name__}); version "
                         "refused") from None
    if not isinstance(doc, dict):
        raise StoreError(f"{where}: manifest is not a JSON object; version refused")
    given = doc.get("checksum")
    if not isinstance(given, str):
        raise StoreError(f"{where}: manifest has no checksum (written by a callguard before "
                         "manifest checksums, or stripped); version refused — import the "
                         "list again")
    if not hmac.compare_digest(given, _checksum(doc)):
        raise StoreError(f"{where}: manifest does not match its checksum (edited or corrupt: "
                         "area codes, dates and coverage cannot be trusted); version refused")
    return doc


def manifest_from_json(raw: bytes | None, where: str, *, name: str | None = None,
                       version: int | None = None
                       ) -> tuple[ListMeta, dict[int, dict[str, Any]]]:
    """Parse and verify a manifest; raise StoreError when it is missing, unreadable, does
    not match its checksum, or is not the version it was loaded as."""
    if raw is None:
        raise StoreError(f"{where}: manifest missing")
    doc = _verified(raw, where)
    try:
        areas = doc["area_codes"]
        meta = ListMeta(
            name=str(doc["name"]),
            version=int(doc["version"]),
            published=date.fromisoformat(doc["published"]) if doc["published"] else None,
            imported_at=datetime.fromisoformat(doc["imported_at"]),
            count=int(doc["count"]),
            area_codes=None if areas == "all" else frozenset(int(a) for a in areas),
            source=str(doc["source"]),
            codec=str(doc.get("codec", "roaring")),
        )
        chunks = {int(area): dict(info) for area, info in doc["chunks"].items()}
        counted = sum(int(info["count"]) for info in chunks.values())
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise StoreError(f"{where}: manifest unreadable ({exc})") from None
    _consistent(meta, chunks, counted, where, name, version)
    return meta, chunks


def _consistent(meta: ListMeta, chunks: dict[int, dict[str, Any]], counted: int, where: str,
                name: str | None, version: int | None) -> None:
    """A manifest must describe the version it is read as, and add up."""
    if meta.codec not in ("roaring", DATED_CODEC):
        raise StoreError(f"{where}: manifest names chunk codec {meta.codec!r}, which this "
                         "callguard cannot read; version refused")
    if name is not None and meta.name != name:
        raise StoreError(f"{where}: manifest names list {meta.name!r}; version refused")
    if version is not None and meta.version != version:
        raise StoreError(f"{where}: manifest is v{meta.version}'s; version refused")
    if any(not 200 <= area <= 999 for area in chunks):
        raise StoreError(f"{where}: manifest names an area code outside 200-999; refused")
    if counted != meta.count:
        raise StoreError(f"{where}: manifest counts {counted} numbers in its chunks but "
                         f"{meta.count} in all; version refused")


def decode_version_chunk(meta: ListMeta, data: bytes | None, expected_sha: str, where: str,
                         expected_count: int | None = None) -> FrozenBitMap | DatedChunk:
    """Verify and decode one chunk with the codec its manifest names."""
    if meta.codec == DATED_CODEC:
        return decode_dated_chunk(data, expected_sha, where, expected_count)
    return decode_chunk(data, expected_sha, where, expected_count)


def snapshot_of(meta: ListMeta, chunks: dict[int, Any]) -> BitmapSnapshot | DatedSnapshot:
    """The in-memory version for decoded chunks of the manifest's codec."""
    if meta.codec == DATED_CODEC:
        return DatedSnapshot(meta, chunks)
    return BitmapSnapshot(meta, chunks)
