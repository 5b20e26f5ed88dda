"""Lists on local disk: one roaring bitmap per area code per version, switched atomically.

Layout under ``<data_dir>/lists/<name>/``::

    v3/manifest.json     metadata and the SHA-256 of every chunk
    v3/npa-801.roar      32-bit bitmap of NXX*10000+line for area code 801
    CURRENT              "3" — replaced with os.replace, so readers see old or new, never half

A version directory is written completely (and fsync'd) before CURRENT names it, and a
chunk whose SHA-256 does not match its manifest refuses the whole version.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

from pyroaring import FrozenBitMap

from callguard.errors import StoreError
from callguard.stores.interfaces import ListMeta
from callguard.stores.list_chunks import (
    BitmapSnapshot,
    BuiltVersion,
    build_chunks,
    decode_chunk,
    manifest_from_json,
    manifest_to_json,
)
from callguard.stores.list_files import ParsedList

__all__ = ["BitmapSnapshot", "EmbeddedListRegistry", "rollback_version", "write_version"]


def _fsync_write(path: Path, data: bytes) -> None:
    with path.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


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
    parsed: ParsedList | BuiltVersion,
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
    built = build_chunks(parsed)
    files = {area: f"npa-{area}.roar" for area in built.chunks}
    for area, data in built.chunks.items():
        _fsync_write(staging / files[area], data)
    meta = ListMeta(name, version, published, datetime.now(UTC), built.count, area_codes, source)
    _fsync_write(staging / "manifest.json", manifest_to_json(meta, built, files))
    os.replace(staging, list_dir / f"v{version}")
    load_version(root, name, version)  # read back and verify every chunk before switching
    pointer = list_dir / f".CURRENT-{os.getpid()}"
    _fsync_write(pointer, f"{version}\n".encode())
    os.replace(pointer, list_dir / "CURRENT")
    return meta


def _chunks(root: Path, name: str, version: int) -> Iterator[BitmapSnapshot | None]:
    """Verify and decode one area code per step (None), then yield the whole snapshot."""
    version_dir = _list_dir(root, name) / f"v{version}"
    where = f"list {name} v{version}"
    try:
        raw: bytes | None = (version_dir / "manifest.json").read_bytes()
    except OSError:
        raw = None
    meta, infos = manifest_from_json(raw, where)
    chunks: dict[int, FrozenBitMap] = {}
    for area, info in infos.items():
        try:
            data: bytes | None = (version_dir / info["file"]).read_bytes()
        except OSError:
            data = None
        chunks[area] = decode_chunk(data, info["sha256"], f"{where}: chunk {info['file']}")
        yield None
    yield BitmapSnapshot(meta, chunks)


def load_version(root: Path, name: str, version: int) -> BitmapSnapshot:
    """Read and verify one version; raise StoreError naming the bad chunk."""
    *_, snapshot = _chunks(root, name, version)
    assert snapshot is not None
    return snapshot


async def load_version_async(root: Path, name: str, version: int) -> BitmapSnapshot:
    """The same, yielding to the event loop between area codes (a node keeps answering)."""
    snapshot = None
    for step in _chunks(root, name, version):
        snapshot = step
        await asyncio.sleep(0)
    assert snapshot is not None
    return snapshot


def rollback_version(root: Path, name: str) -> int:
    """Point CURRENT back at the newest version older than the current one."""
    list_dir = _list_dir(root, name)
    current = _current_version(list_dir)
    if current is None:
        raise StoreError(f"list {name} has no current version")
    older = sorted(int(p.name[1:]) for p in list_dir.glob("v*")
                   if p.name[1:].isdigit() and int(p.name[1:]) < current)
    if not older:
        raise StoreError(f"list {name} v{current} has no previous version to roll back to")
    load_version(root, name, older[-1])  # refuse to roll back onto a damaged version
    pointer = list_dir / f".CURRENT-{os.getpid()}"
    _fsync_write(pointer, f"{older[-1]}\n".encode())
    os.replace(pointer, list_dir / "CURRENT")
    return older[-1]


class EmbeddedListRegistry:
    """The current version of every list under ``<data_dir>/lists``, held in memory."""

    def __init__(self, root: Path) -> None:
        self._root = root
        self._snapshots: dict[str, BitmapSnapshot] = {}
        self.errors: dict[str, str] = {}
        self.reload()

    def _moved(self) -> Iterator[tuple[str, int]]:
        lists_dir = self._root / "lists"
        if not lists_dir.is_dir():
            return
        for list_dir in sorted(p for p in lists_dir.iterdir() if p.is_dir()):
            try:
                version = _current_version(list_dir)
            except StoreError as exc:
                self.errors[list_dir.name] = str(exc)
                continue
            loaded = self._snapshots.get(list_dir.name)
            if version is not None and not (loaded and loaded.meta.version == version):
                yield list_dir.name, version

    def reload(self) -> None:
        """Load every list whose CURRENT moved; a bad version keeps the old one serving."""
        for name, version in self._moved():
            try:
                self._snapshots[name] = load_version(self._root, name, version)
                self.errors.pop(name, None)
            except StoreError as exc:
                self.errors[name] = str(exc)

    async def reload_async(self) -> None:
        """``reload`` for a serving node: one area code at a time, then swap the reference."""
        for name, version in self._moved():
            try:
                self._snapshots[name] = await load_version_async(self._root, name, version)
                self.errors.pop(name, None)
            except StoreError as exc:
                self.errors[name] = str(exc)

    def snapshot(self, name: str) -> BitmapSnapshot | None:
        """The current version of ``name``."""
        return self._snapshots.get(name)

    def names(self) -> tuple[str, ...]:
        """Every loaded list."""
        return tuple(sorted(self._snapshots))
