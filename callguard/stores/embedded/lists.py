"""Lists on local disk: one roaring bitmap per area code per version, switched atomically.

Layout under ``<data_dir>/lists/<name>/``::

    v3/manifest.json     metadata and the SHA-256 of every chunk
    v3/npa-801.roar      32-bit bitmap of NXX*10000+line for area code 801
    CURRENT              "3" — replaced with os.replace, so readers see old or new, never half

A version directory is written completely (and fsync'd) before CURRENT names it, and a
chunk whose SHA-256 does not match its manifest refuses the whole version.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from pyroaring import BitMap, FrozenBitMap

from callguard.errors import StoreError
from callguard.stores.interfaces import ListMeta
from callguard.stores.list_files import ParsedList

__all__ = ["BitmapSnapshot", "EmbeddedListRegistry", "write_version"]

_AREA_SPAN = 10_000_000


@dataclass(frozen=True, slots=True)
class BitmapSnapshot:
    """One immutable list version in memory: a frozen bitmap per area code."""

    meta: ListMeta
    chunks: dict[int, FrozenBitMap]

    def contains(self, national: int) -> bool:
        """Whether the 10-digit number is listed."""
        chunk = self.chunks.get(national // _AREA_SPAN)
        return chunk is not None and (national % _AREA_SPAN) in chunk

    def covers(self, area_code: int) -> bool:
        """Whether the version speaks for the area code."""
        areas = self.meta.area_codes
        return areas is None or area_code in areas


def _fsync_write(path: Path, data: bytes) -> None:
    with path.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def _meta_to_json(meta: ListMeta, chunks: dict[str, dict[str, object]]) -> bytes:
    return json.dumps({
        "name": meta.name,
        "version": meta.version,
        "published": meta.published.isoformat() if meta.published else None,
        "imported_at": meta.imported_at.isoformat(),
        "count": meta.count,
        "area_codes": sorted(meta.area_codes) if meta.area_codes is not None else "all",
        "source": meta.source,
        "chunks": chunks,
    }, indent=1).encode()


def _meta_from_json(doc: dict[str, object]) -> ListMeta:
    areas = doc["area_codes"]
    published = doc["published"]
    return ListMeta(
        name=str(doc["name"]),
        version=int(str(doc["version"])),
        published=date.fromisoformat(str(published)) if published else None,
        imported_at=datetime.fromisoformat(str(doc["imported_at"])),
        count=int(str(doc["count"])),
        area_codes=None if areas == "all" else frozenset(int(a) for a in areas),  # type: ignore[attr-defined]
        source=str(doc["source"]),
    )


def _list_dir(root: Path, name: str) -> Path:
    return root / "lists" / name


def _current_version(list_dir: Path) -> int | None:
    try:
        return int((list_dir / "CURRENT").read_text().strip())
    except FileNotFoundError:
        return None
    except ValueError as exc:
        raise StoreError(f"{list_dir}/CURRENT is corrupt: {exc}") from None


def write_version(
    root: Path,
    name: str,
    parsed: ParsedList,
    *,
    published: date | None,
    area_codes: frozenset[int] | None,
    source: str,
) -> ListMeta:
    """Write a complete new version beside the current one, then switch CURRENT to it."""
    list_dir = _list_dir(root, name)
    list_dir.mkdir(parents=True, exist_ok=True)
    existing = [int(p.name[1:]) for p in list_dir.glob("v*") if p.name[1:].isdigit()]
    version = max(existing, default=0) + 1
    staging = list_dir / f".staging-v{version}-{os.getpid()}"
    staging.mkdir()
    chunks: dict[str, dict[str, object]] = {}
    count = 0
    for area, numbers in sorted(parsed.by_area.items()):
        bitmap = BitMap(numbers)
        data = bitmap.serialize()
        file_name = f"npa-{area}.roar"
        _fsync_write(staging / file_name, data)
        chunks[str(area)] = {"file": file_name, "sha256": hashlib.sha256(data).hexdigest(),
                             "count": len(bitmap)}
        count += len(bitmap)
    meta = ListMeta(name, version, published, datetime.now(UTC), count, area_codes, source)
    _fsync_write(staging / "manifest.json", _meta_to_json(meta, chunks))
    os.replace(staging, list_dir / f"v{version}")
    pointer = list_dir / f".CURRENT-{os.getpid()}"
    _fsync_write(pointer, f"{version}\n".encode())
    os.replace(pointer, list_dir / "CURRENT")
    return meta


def load_version(root: Path, name: str, version: int) -> BitmapSnapshot:
    """Read and verify one version; raise StoreError naming the bad chunk."""
    version_dir = _list_dir(root, name) / f"v{version}"
    try:
        doc = json.loads((version_dir / "manifest.json").read_bytes())
        meta = _meta_from_json(doc)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise StoreError(f"list {name} v{version}: manifest unreadable ({exc})") from None
    chunks: dict[int, FrozenBitMap] = {}
    for area, info in doc["chunks"].items():
        path = version_dir / info["file"]
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise StoreError(f"list {name} v{version}: chunk {path.name} missing ({exc})") from None
        if hashlib.sha256(data).hexdigest() != info["sha256"]:
            raise StoreError(
                f"list {name} v{version}: chunk {path.name} is corrupt or truncated "
                "(SHA-256 mismatch); version refused"
            )
        chunks[int(area)] = FrozenBitMap.deserialize(data)
    return BitmapSnapshot(meta, chunks)


class EmbeddedListRegistry:
    """The current version of every list under ``<data_dir>/lists``, held in memory."""

    def __init__(self, root: Path) -> None:
        self._root = root
        self._snapshots: dict[str, BitmapSnapshot] = {}
        self.errors: dict[str, str] = {}
        self.reload()

    def reload(self) -> None:
        """Load every list whose CURRENT moved; a bad version keeps the old one serving."""
        lists_dir = self._root / "lists"
        if not lists_dir.is_dir():
            return
        for list_dir in sorted(p for p in lists_dir.iterdir() if p.is_dir()):
            name = list_dir.name
            try:
                version = _current_version(list_dir)
                loaded = self._snapshots.get(name)
                if version is None or (loaded and loaded.meta.version == version):
                    continue
                self._snapshots[name] = load_version(self._root, name, version)
                self.errors.pop(name, None)
            except StoreError as exc:
                self.errors[name] = str(exc)

    def snapshot(self, name: str) -> BitmapSnapshot | None:
        """The current version of ``name``."""
        return self._snapshots.get(name)

    def names(self) -> tuple[str, ...]:
        """Every loaded list."""
        return tuple(sorted(self._snapshots))
