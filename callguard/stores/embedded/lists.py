"""Lists on local disk: one roaring bitmap per area code per version, switched atomically.

Layout under ``<data_dir>/lists/<name>/``::

    v3/manifest.json     metadata and the SHA-256 of every chunk
    v3/npa-801.roar      32-bit bitmap of NXX*10000+line for area code 801
                         (npa-801.dated for reassigned data: callguard.stores.attributes)
    CURRENT              "3" — replaced with os.replace, so readers see old or new, never half
    .import-lock         empty; imports and rollbacks of the list take turns on it (flock)

A version directory is written completely (and fsync'd) before CURRENT names it, and a
chunk whose SHA-256 does not match its manifest, or a manifest that does not match its own
checksum, refuses the whole version. A write that fails (a full disk) removes what it
staged. A refused version is logged once and not read again until CURRENT or its
manifest changes; a node that starts on a refused version serves the newest older one
that verifies (and says so), rather than no list at all. A file error (a directory where
CURRENT should be, no file descriptors left) is the list's error, never the node's end.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import re
import shutil
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import structlog
from pyroaring import FrozenBitMap

from callguard.compliance.segments import fsync_path
from callguard.errors import NothingToRollBack, StoreError
from callguard.stores.attributes.dated import DatedChunk, DatedSnapshot, ParsedDated
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

__all__ = ["BitmapSnapshot", "EmbeddedListRegistry", "current_version", "drop_list",
           "list_path", "rollback_version", "write_version"]

_log = structlog.get_logger("callguard.lists")
# lists-dropped/<name>-<UTC stamp> (``drop_list``)
_DROPPED_DIR = re.compile(r"[A-Za-z0-9_-]+-\d{8}T\d{6}Z")


def _fsync_write(path: Path, data: bytes) -> None:
    with path.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def list_path(root: Path, name: str) -> Path:
    """The directory of list ``name`` under the data directory ``root``."""
    return root / "lists" / name


def current_version(list_dir: Path) -> int | None:
    """The version ``list_dir/CURRENT`` names, or None when there is none yet (a
    ``StoreError`` when it cannot be read or is corrupt)."""
    try:
        text = (list_dir / "CURRENT").read_text()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:  # a directory, no permission, EMFILE, ...
        reason = exc.strerror if isinstance(exc, OSError) else "not text"
        raise StoreError(f"{list_dir}/CURRENT cannot be read ({reason})") from None
    try:
        return int(text.strip())
    except ValueError:
        raise StoreError(f"{list_dir}/CURRENT is corrupt (not a version number)") from None


def _versions(list_dir: Path) -> list[int]:
    """The version directories present, oldest first."""
    return sorted(int(p.name[1:]) for p in list_dir.glob("v*")
                  if p.name[1:].isascii() and p.name[1:].isdigit())


_WITHDRAWN = "WITHDRAWN"  # in a version's directory: a rollback took it back


def _servable_before(list_dir: Path, version: int) -> list[int]:
    """The versions older than ``version`` no rollback withdrew, oldest first: import,
    rollback, import, rollback went back to the version the first rollback withdrew (a
    bad copy, numbers missing), called as not listed again (hlist18); Redis's ``previous``
    pointer never did."""
    return [v for v in _versions(list_dir)
            if v < version and not (list_dir / f"v{v}" / _WITHDRAWN).exists()]


_LOCK_FILE = ".import-lock"  # in a list's directory; never a version (those are v<N>)


@contextlib.contextmanager
def _import_lock(list_dir: Path) -> Iterator[None]:
    """One import (or rollback) of a list at a time, across processes: two at once each
    took a version number, and the older one, finishing last (its chunks still being
    verified), wrote CURRENT back over the newer one (hlist18). A lock of the kernel's
    (flock), released when its process ends, however it ends; the other import takes
    seconds: wait for it. On a file opened for writing, not the directory: on NFS flock
    is an fcntl lock, and an exclusive one needs a descriptor open for writing (flock(2),
    NOTES) — on the directory every import and rollback failed there (EBADF; hrev53)."""
    lock = list_dir / _LOCK_FILE
    try:
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        except PermissionError:  # another user's (a `sudo` import): a local flock needs no
            fd = os.open(lock, os.O_RDONLY)  # write access
    except OSError as exc:
        raise StoreError(f"{list_dir}: cannot open {_LOCK_FILE} to lock it "
                         f"({exc.strerror}); nothing was changed") from None
    try:
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:  # said, or a wait behind a stuck import looks hung
                _log.warning("list_import_waiting", list=list_dir.name, lock=str(lock),
                             why="another import or rollback of this list is running")
                fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError as exc:
            raise StoreError(f"{list_dir}/{_LOCK_FILE} cannot be locked ({exc.strerror}); "
                             "nothing was changed") from None
        yield
    finally:
        os.close(fd)  # releases the lock


def write_version(
    root: Path,
    name: str,
    parsed: ParsedList | ParsedDated | BuiltVersion,
    *,
    published: date | None,
    area_codes: frozenset[int] | None,
    source: str,
) -> ListMeta:
    """Write a complete new version beside the current one, then switch CURRENT to it.

    Raises StoreError when the version cannot be written (a full disk): what was staged is
    removed and CURRENT is untouched.
    """
    list_dir = list_path(root, name)
    try:
        list_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"list {name}: {list_dir} cannot be written ({exc.strerror}); "
                         "nothing was published") from None
    with _import_lock(list_dir):
        return _write_locked(root, list_dir, name, parsed, published=published,
                             area_codes=area_codes, source=source)


def _remove_leftovers(list_dir: Path, name: str) -> None:
    """Remove what imports killed mid-way (SIGKILL, a power cut) left: their staging
    directories, a list's worth of disk each, and pointer files. They stayed forever; a
    few crashes filled the disk, refusing the next import and the record and count writes
    of the stores beside them (every call a cap covers BLOCKed). Only under the import lock:
    then no import or rollback of the list is running, and whatever is staged is dead.
    Best effort: the import goes on."""
    try:
        found = [p for p in list_dir.iterdir()
                 if p.name.startswith((".staging-v", ".CURRENT-"))]
    except OSError:
        return
    with contextlib.suppress(OSError, StoreError):  # CURRENT unreadable: versions kept
        for version_dir in _never_current(list_dir):
            # Renamed out first, in one step: a removal failing half-way left a damaged
            # version that a rollback would refuse to go back past.
            dead = list_dir / f".staging-{version_dir.name}-never-current"
            with contextlib.suppress(OSError):
                os.replace(version_dir, dead)
                found.append(dead)
    for path in found:
        with contextlib.suppress(OSError):
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
            _log.info("list_import_leftover_removed", list=name, path=str(path))


def _never_current(list_dir: Path) -> list[Path]:
    """The version directories above CURRENT that no rollback withdrew: renamed in by an
    import killed before CURRENT named it (its read-back, the longest step, runs between).
    Kept, the next import numbered above it, and a rollback (or a node refusing its
    current version) went back to it — an import never said done, a wrong file the
    operator stopped (hrev72). Under the import lock; none while CURRENT is missing."""
    current = current_version(list_dir)
    if current is None:
        return []
    return [list_dir / f"v{v}" for v in _versions(list_dir)
            if v > current and not (list_dir / f"v{v}" / _WITHDRAWN).exists()]


def _write_locked(root: Path, list_dir: Path, name: str,
                  parsed: ParsedList | ParsedDated | BuiltVersion, *, published: date | None,
                  area_codes: frozenset[int] | None, source: str) -> ListMeta:
    """write_version's work, its list's import lock held."""
    if isinstance(parsed, BuiltVersion) and parsed.base is not None:
        # A delta: its base still current, checked under the lock the switch is made in.
        current = current_version(list_dir)
        if current != parsed.base:
            raise stale_base(name, parsed.base, current)
    _remove_leftovers(list_dir, name)
    try:
        version = max(_versions(list_dir), default=0) + 1
    except OSError as exc:
        raise StoreError(f"list {name}: {list_dir} cannot be read ({exc.strerror}); "
                         "nothing was published") from None
    staging = list_dir / f".staging-v{version}-{os.getpid()}"
    pointer = list_dir / f".CURRENT-{os.getpid()}"
    try:
        staging.mkdir()
        built = build_chunks(parsed)
        files = {area: f"npa-{area}.{built.suffix}" for area in built.chunks}
        for area, data in built.chunks.items():
            _fsync_write(staging / files[area], data)
        meta = ListMeta(name, version, published, datetime.now(UTC), built.count, area_codes,
                        source, built.codec)
        _fsync_write(staging / "manifest.json", manifest_to_json(meta, built, files))
        fsync_path(staging)  # its entries: the files fsync'd, their names not yet
        os.replace(staging, list_dir / f"v{version}")
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise StoreError(f"list {name} v{version} could not be written ({exc.strerror}); "
                         "nothing was published, the current version is unchanged") from None
    try:
        load_version(root, name, version)  # read back and verify every chunk before switching
        fsync_path(list_dir)  # the version's directory, renamed in, before CURRENT names it
        _fsync_write(pointer, f"{version}\n".encode())
        os.replace(pointer, list_dir / "CURRENT")
    except (OSError, StoreError) as exc:
        with contextlib.suppress(OSError):
            pointer.unlink(missing_ok=True)
        shutil.rmtree(list_dir / f"v{version}", ignore_errors=True)
        reason = exc.strerror if isinstance(exc, OSError) else str(exc)
        raise StoreError(f"list {name} v{version} could not be published ({reason}); the "
                         "current version is unchanged") from None
    except BaseException:  # Ctrl-C in the read-back: no version left behind (hrev72)
        _unpublished(list_dir, pointer, version)
        raise
    _switched_durably(list_dir, name, version, "then import the file again")
    return meta


def _unpublished(list_dir: Path, pointer: Path, version: int) -> None:
    """Remove ``version``, stopped (KeyboardInterrupt) before CURRENT named it; kept when
    CURRENT does (the stop came after the rename) or cannot be read: never the current
    version. Left, it was a version like any other (``_never_current``)."""
    with contextlib.suppress(OSError):
        pointer.unlink(missing_ok=True)
    try:
        if current_version(list_dir) == version:
            return
    except StoreError:
        return
    shutil.rmtree(list_dir / f"v{version}", ignore_errors=True)


def _switched_durably(list_dir: Path, name: str, version: int, then: str) -> None:
    """fsync the list's directory after CURRENT was replaced: the rename is on disk only
    then. Without it an import (or rollback) said done came back undone after a power cut —
    the older copy current again, lacking every number listed since, and the node started
    on it ALLOWed calls to them (hsto20). A failure here is said, never taken back: nodes
    may already serve ``version``."""
    try:
        fsync_path(list_dir)
    except OSError as exc:
        raise StoreError(f"list {name}: v{version} is current, but {list_dir} could not be "
                         f"synced ({exc.strerror}): a power cut may bring back the version "
                         f"before it. Check the disk; {then}") from None


_Snapshot = BitmapSnapshot | DatedSnapshot


def _chunks(root: Path, name: str, version: int) -> Iterator[_Snapshot | None]:
    """Verify and decode one area code per step (None), then yield the whole snapshot."""
    version_dir = list_path(root, name) / f"v{version}"
    where = f"list {name} v{version}"
    try:
        raw: bytes | None = (version_dir / "manifest.json").read_bytes()
    except OSError:
        raw = None
    meta, infos = manifest_from_json(raw, where, name=name, version=version)
    chunks: dict[int, FrozenBitMap | DatedChunk] = {}
    for area, info in infos.items():
        file = str(info["file"])
        try:
            data: bytes | None = (version_dir / Path(file).name).read_bytes()
        except OSError:
            data = None
        chunks[area] = decode_version_chunk(meta, data, str(info["sha256"]),
                                            f"{where}: chunk {file}", int(info["count"]))
        yield None
    yield snapshot_of(meta, chunks)


def load_version(root: Path, name: str, version: int) -> _Snapshot:
    """Read and verify one version; raise StoreError naming the bad chunk."""
    *_, snapshot = _chunks(root, name, version)
    assert snapshot is not None
    return snapshot


async def load_version_async(root: Path, name: str, version: int) -> _Snapshot:
    """The same, yielding to the event loop between area codes (a node keeps answering)."""
    snapshot = None
    for step in _chunks(root, name, version):
        snapshot = step
        await asyncio.sleep(0)
    assert snapshot is not None
    return snapshot


def rollback_version(root: Path, name: str) -> int:
    """Point CURRENT back at the newest version older than the current one."""
    list_dir = list_path(root, name)
    if current_version(list_dir) is None:
        raise NothingToRollBack(f"list {name} has no current version")
    with _import_lock(list_dir):  # an import switching meanwhile is not skipped unmarked
        return _roll_back_locked(root, list_dir, name)


def _roll_back_locked(root: Path, list_dir: Path, name: str) -> int:
    """rollback_version's work, its list's import lock held."""
    current = current_version(list_dir)
    if current is None:
        raise NothingToRollBack(f"list {name} has no current version")
    older = _servable_before(list_dir, current)
    if not older:
        raise NothingToRollBack(f"list {name} v{current} has no previous version to roll "
                                "back to")
    load_version(root, name, older[-1])  # refuse to roll back onto a damaged version
    withdrawn = list_dir / f"v{current}" / _WITHDRAWN
    pointer = list_dir / f".CURRENT-{os.getpid()}"
    try:
        with contextlib.suppress(FileNotFoundError):  # its directory gone: nothing to mark
            _fsync_write(withdrawn, b"withdrawn by a rollback\n")
            fsync_path(withdrawn.parent)  # the mark's name, before CURRENT moves back
        _fsync_write(pointer, f"{older[-1]}\n".encode())
        os.replace(pointer, list_dir / "CURRENT")
    except OSError as exc:
        # A version directory of another user (an import run with sudo), a full disk: the
        # raw OSError was an internal error. Nothing rolled back, and the mark undone: it
        # would make a later rollback skip this version, still current.
        for path in (pointer, withdrawn):
            with contextlib.suppress(OSError):
                path.unlink()
        raise StoreError(f"list {name}: cannot roll back from v{current} "
                         f"({exc.strerror}: {exc.filename}); nothing was rolled back, "
                         f"v{current} is still current. Run it as the user who owns the "
                         "list's files (or make them writable, or free space), then again"
                         ) from None
    _switched_durably(list_dir, name, older[-1], "after a restart, `callguard dnc status` "
                      "shows which version is current")
    return older[-1]


def _drop_stamp(dirname: str) -> datetime:
    """When ``drop_list`` made ``lists-dropped/<name>-<UTC stamp>`` (whole seconds); a
    stamp that is no time (a hand-made name) as long ago: no drop of any copy served."""
    try:
        return datetime.strptime(dirname.rsplit("-", 1)[1] + "+0000", "%Y%m%dT%H%M%SZ%z")
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)


def drop_list(root: Path, name: str) -> int:
    """Move a list out of ``lists/`` (to ``lists-dropped/<name>-<UTC stamp>/``, kept for the
    record) in one rename; return the version that was current. A node serving it stops
    at its next reload (``EmbeddedListRegistry._forget_dropped``); none loads it again."""
    list_dir = list_path(root, name)
    current = current_version(list_dir)
    if current is None:
        raise StoreError(f"list {name} has no current version; nothing dropped")
    kept = root / "lists-dropped" / f"{name}-{datetime.now(UTC):%Y%m%dT%H%M%SZ}"
    try:
        kept.parent.mkdir(exist_ok=True)
        os.replace(list_dir, kept)
    except OSError as exc:
        raise StoreError(f"list {name} could not be dropped ({exc.strerror}); it is "
                         "unchanged") from None
    return current


def _manifest_stamp(list_dir: Path, version: int) -> tuple[int, int, int] | None:
    """What changes when a version's manifest is replaced or repaired."""
    try:
        st = os.stat(list_dir / f"v{version}" / "manifest.json")
    except OSError:
        return None
    return st.st_ino, st.st_mtime_ns, st.st_size


_Signature = tuple[object, ...]


class EmbeddedListRegistry:
    """The current version of every list under ``<data_dir>/lists``, held in memory."""

    def __init__(self, root: Path) -> None:
        self._root = root
        self._snapshots: dict[str, _Snapshot] = {}
        self.errors: dict[str, str] = {}
        self.faults = 0  # reload passes that hit a file error (counted in metrics)
        self._refused: dict[str, _Signature] = {}  # what was refused, as it stood
        self._started = False  # the versions found at start are not said one by one
        self.reload()
        self._started = True

    def _pending(self) -> Iterator[tuple[str, int, _Signature]]:
        """Lists whose CURRENT names a version not served and not already refused as is."""
        lists_dir = self._root / "lists"
        try:
            dirs = sorted(p for p in lists_dir.iterdir() if p.is_dir())
        except FileNotFoundError:
            return
        except OSError as exc:
            self._fault(f"{lists_dir} cannot be read ({exc.strerror})")
            return
        for list_dir in dirs:
            name = list_dir.name
            loaded = self._snapshots.get(name)
            try:
                version = current_version(list_dir)
            except StoreError as exc:
                self._refuse(name, None, ("current", str(exc)), str(exc))
                continue
            if version is None:
                continue
            if loaded is not None and loaded.meta.version == version:
                self._recovered(name)
                continue
            signature: _Signature = (version, _manifest_stamp(list_dir, version))
            if self._refused.get(name) != signature:
                yield name, version, signature

    def _forget_dropped(self) -> None:
        """Stop serving a list ``dnc drop`` moved to ``lists-dropped/``: a node kept it until
        restarted, and a stale copy of a scope list went on BLOCKing every call in its
        state's scope (hsto22). A list directory gone any other way keeps serving, and so
        does one a drop older than the copy served names: fl-state dropped, imported again,
        then its directory lost read as dropped, and the node forgot the copy (hrev93)."""
        lists_dir, dropped = self._root / "lists", self._root / "lists-dropped"
        for name in [n for n in self._snapshots if not (lists_dir / n).is_dir()]:
            imported = self._snapshots[name].meta.imported_at.astimezone(UTC)
            try:
                gone = any(_DROPPED_DIR.fullmatch(p.name) and p.name.rsplit("-", 1)[0] == name
                           and _drop_stamp(p.name) >= imported.replace(microsecond=0)
                           for p in dropped.iterdir())
            except OSError:
                continue
            if gone:
                snapshot = self._snapshots.pop(name)
                self.errors.pop(name, None)
                self._refused.pop(name, None)
                _log.warning("list_dropped", list=name, version=snapshot.meta.version,
                             effect="no copy served: calls in its scope are judged without it")

    def reload(self) -> None:
        """Load every list whose CURRENT moved; a bad version keeps the old one serving."""
        self._forget_dropped()
        for name, version, signature in self._pending():
            try:
                snapshot = load_version(self._root, name, version)
            except StoreError as exc:
                self._refuse(name, version, signature, str(exc))
                continue
            self._serve(name, snapshot)

    async def reload_async(self) -> None:
        """``reload`` for a serving node: one area code at a time, then swap the reference."""
        self._forget_dropped()
        for name, version, signature in self._pending():
            try:
                snapshot = await load_version_async(self._root, name, version)
            except StoreError as exc:
                self._refuse(name, version, signature, str(exc))
                continue
            self._serve(name, snapshot)

    def _serve(self, name: str, snapshot: _Snapshot) -> None:
        # A version taken after start is said (an admin who imported a list reads in the
        # node's log when it took it; it was said only after an error), and one that ends
        # an error; not each found at start (every CLI command would print them).
        self._snapshots[name] = snapshot
        self._refused.pop(name, None)
        if self.errors.pop(name, None) is not None or self._started:
            _log.info("list_version_loaded", list=name, version=snapshot.meta.version,
                      count=snapshot.meta.count)

    def _recovered(self, name: str) -> None:
        """CURRENT names the version served again (a rollback, a repaired pointer)."""
        if self.errors.pop(name, None) is not None:
            self._refused.pop(name, None)
            _log.info("list_error_cleared", list=name,
                      version=self._snapshots[name].meta.version)

    def _refuse(self, name: str, version: int | None, signature: _Signature,
                reason: str) -> None:
        """Record (and log once) why the current version is not served; fall back to the
        newest older version that verifies when nothing of the list is served yet."""
        if self._refused.get(name) == signature:
            return
        self._refused[name] = signature
        if name not in self._snapshots and version is not None:
            self._fall_back(name, version)
        loaded = self._snapshots.get(name)
        serving = f"serving v{loaded.meta.version}" if loaded else (
            "no version served: every call in its scope is BLOCKed")
        self.errors[name] = f"{reason}; {serving}"
        _log.error("list_version_refused", list=name, version=version, error=reason,
                   serving=loaded.meta.version if loaded else None)

    def _fall_back(self, name: str, refused: int) -> None:
        list_dir = list_path(self._root, name)
        try:
            older = _servable_before(list_dir, refused)
        except OSError:
            return
        for version in reversed(older):
            try:
                self._snapshots[name] = load_version(self._root, name, version)
            except StoreError:
                continue
            return

    def _fault(self, reason: str) -> None:
        self.faults += 1
        _log.error("list_reload_failed", error=reason)

    def snapshot(self, name: str) -> _Snapshot | None:
        """The current version of ``name``."""
        return self._snapshots.get(name)

    def names(self) -> tuple[str, ...]:
        """Every loaded list."""
        return tuple(sorted(self._snapshots))
