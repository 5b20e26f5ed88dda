"""A list version as chunks: one 32-bit roaring bitmap per area code, SHA-256 each.

Both backends (files on disk, keys in Redis) store exactly these bytes and this manifest,
so a node verifies every chunk before it serves a version, whatever the backend.
A 10-digit number NPA-NXX-XXXX is bit NXXXXXX (< 2^32) of its area code's bitmap.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime

from pyroaring import BitMap, FrozenBitMap

from callguard.errors import StoreError
from callguard.stores.interfaces import ListMeta
from callguard.stores.list_files import ParsedList

__all__ = [
    "AREA_SPAN",
    "BitmapSnapshot",
    "BuiltVersion",
    "apply_delta",
    "build_chunks",
    "decode_chunk",
    "from_bitmaps",
    "manifest_from_json",
    "manifest_to_json",
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

    @property
    def count(self) -> int:
        """Distinct numbers in the version."""
        return sum(self.counts.values())


def build_chunks(parsed: ParsedList | BuiltVersion) -> BuiltVersion:
    """Build one bitmap per area code (duplicates collapse)."""
    if isinstance(parsed, BuiltVersion):
        return parsed
    return from_bitmaps({area: BitMap(numbers) for area, numbers in parsed.by_area.items()})


def apply_delta(base: BitmapSnapshot, additions: ParsedList,
                deletions: ParsedList) -> BuiltVersion:
    """The base version plus additions minus deletions, as a new version's chunks."""
    bitmaps = {area: BitMap(chunk) for area, chunk in base.chunks.items()}
    for area, numbers in additions.by_area.items():
        bitmaps.setdefault(area, BitMap()).update(numbers)
    for area, numbers in deletions.by_area.items():
        if area in bitmaps:
            bitmaps[area].difference_update(BitMap(numbers))
    return from_bitmaps({area: bm for area, bm in bitmaps.items() if bm})


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


def decode_chunk(data: bytes | None, expected_sha: str, where: str) -> FrozenBitMap:
    """Verify and deserialize one chunk; a missing or altered chunk refuses the version."""
    if data is None:
        raise StoreError(f"{where} is missing; version refused")
    if hashlib.sha256(data).hexdigest() != expected_sha:
        raise StoreError(f"{where} is corrupt or truncated (SHA-256 mismatch); version refused")
    return FrozenBitMap.deserialize(data)


def manifest_to_json(meta: ListMeta, built: BuiltVersion, files: dict[int, str]) -> bytes:
    """The manifest: metadata, and per area code the chunk's name, digest and count."""
    return json.dumps({
        "name": meta.name,
        "version": meta.version,
        "published": meta.published.isoformat() if meta.published else None,
        "imported_at": meta.imported_at.isoformat(),
        "count": meta.count,
        "area_codes": sorted(meta.area_codes) if meta.area_codes is not None else "all",
        "source": meta.source,
        "chunks": {str(area): {"file": files[area], "sha256": built.digests[area],
                               "count": built.counts[area]} for area in built.chunks},
    }, indent=1).encode()


def manifest_from_json(raw: bytes | None, where: str) -> tuple[ListMeta, dict[int, dict[str, str]]]:
    """Parse a manifest; raise StoreError when it is missing or unreadable."""
    if raw is None:
        raise StoreError(f"{where}: manifest missing")
    try:
        doc = json.loads(raw)
        areas = doc["area_codes"]
        meta = ListMeta(
            name=str(doc["name"]),
            version=int(doc["version"]),
            published=date.fromisoformat(doc["published"]) if doc["published"] else None,
            imported_at=datetime.fromisoformat(doc["imported_at"]),
            count=int(doc["count"]),
            area_codes=None if areas == "all" else frozenset(int(a) for a in areas),
            source=str(doc["source"]),
        )
        chunks = {int(area): info for area, info in doc["chunks"].items()}
    except (ValueError, KeyError, TypeError) as exc:
        raise StoreError(f"{where}: manifest unreadable ({exc})") from None
    return meta, chunks
