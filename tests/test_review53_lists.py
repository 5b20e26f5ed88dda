"""Review of hlist18's list-import changes (hrev53).

1. Redis: hlist18 refused a switch when ``current`` is newer than the import's number.
   A version counter (``seq``) behind ``current`` — the key evicted (it is the list key
   touched least often, first to go under an ``allkeys-lru`` policy), deleted by hand, a
   partial restore — made EVERY later import refused "a newer version vN was published
   while this import ran", forever: the list could no longer be updated (stale, then every
   call BLOCKed by the freshness rules). A number is now taken above current, previous and
   every withdrawn version.
2. Embedded: the import lock was ``flock(LOCK_EX)`` on the list's directory opened
   read-only. On NFS, flock is emulated with fcntl byte-range locks, and "in order to
   place an exclusive lock, the file must be opened for writing" (flock(2), NOTES): a
   directory cannot be, so every import and rollback on a data dir on NFS failed (EBADF).
   The lock is now taken on a lock file opened for writing.
"""

from __future__ import annotations

import errno
import fcntl
import os
from pathlib import Path

import pytest

from callguard.stores.list_files import parse_list_file


async def test_an_import_after_the_version_counter_went_back_is_published(
        redis_server: object) -> None:
    from callguard.stores.redis.lists import RedisListPublisher
    from tests.test_redis_lists import connect, listing

    client = connect(redis_server.url)  # type: ignore[attr-defined]
    try:
        publisher = RedisListPublisher(client)
        for number in (8015550101, 8015550202, 8015550303):
            await publisher.publish("national", listing([number]), published=None,
                                    area_codes=None, source="t")
        assert await publisher.rollback("national") == 2  # v3 withdrawn
        await client.delete("callguard:list:national:seq")  # evicted / lost
        meta = await publisher.publish("national", listing([8015550404]), published=None,
                                       area_codes=None, source="t")
        assert meta.version == 4  # above every version known, the withdrawn one too
        assert int(await client.get("callguard:list:national:current")) == 4
        again = await publisher.publish("national", listing([8015550505]), published=None,
                                        area_codes=None, source="t")
        assert again.version == 5
    finally:
        await client.aclose()


def _nfs_flock(real: object) -> object:
    """flock as an NFS client does it (flock(2), NOTES): an fcntl lock, so an exclusive
    lock needs a descriptor open for writing — EBADF otherwise. The kernel part is real."""
    def flock(fd: int, operation: int) -> None:
        mode = fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE
        if operation & fcntl.LOCK_EX and mode == os.O_RDONLY:
            raise OSError(errno.EBADF, os.strerror(errno.EBADF))
        real(fd, operation)  # type: ignore[operator]
    return flock


def test_imports_and_rollbacks_work_where_flock_is_nfs_emulated(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from callguard.stores.embedded import lists as module

    monkeypatch.setattr(module.fcntl, "flock", _nfs_flock(fcntl.flock))
    for text in ("8015550101\n8015550202\n", "8015550101\n"):
        path = tmp_path / "national.txt"
        path.write_text(text)
        module.write_version(tmp_path, "national", parse_list_file(path), published=None,
                             area_codes=None, source=path.name)
    assert module.rollback_version(tmp_path, "national") == 1
    registry = module.EmbeddedListRegistry(tmp_path)
    assert registry.errors == {}
    snapshot = registry.snapshot("national")
    assert snapshot is not None
    assert snapshot.contains(8015550202)


def test_a_zero_filled_stretch_in_a_reassigned_numbers_file_is_refused(
        tmp_path: Path) -> None:
    """hlist18 refused a stretch of zeros in list and delta files, not in a reassigned-
    numbers file (its own parser): a hole under 8,192 bytes (no line break in it) was ONE
    bad line under the 0.1 % limit, every reassignment in it lost — a consent given by a
    number's former subscriber then read as still good, the new one called."""
    from callguard.errors import ListImportError
    from callguard.stores.attributes.dated import parse_dated_file

    text = "".join(f"{8015550000 + 3 * i},2026-0{1 + i % 9}-15\n"
                   for i in range(3000)).encode()
    hole = 4096
    path = tmp_path / "reassigned.csv"
    path.write_bytes(text[:20_000] + b"\0" * hole + text[20_000 + hole:])
    with pytest.raises(ListImportError, match="stretch of zeros"):
        parse_dated_file(path)


def test_an_import_waiting_for_another_says_so(tmp_path: Path) -> None:
    """The lock waited without a word: an import behind a stuck one (a stopped shell job,
    a hung NFS server) looked like callguard had hung. It now says what it waits for."""
    import threading

    import structlog

    from callguard.stores.embedded import lists as module

    path = tmp_path / "national.txt"
    path.write_text("8015550101\n")
    parsed = parse_list_file(path)
    module.write_version(tmp_path, "national", parsed, published=None, area_codes=None,
                         source=path.name)
    fd = os.open(tmp_path / "lists" / "national" / ".import-lock", os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)  # another process's import, still running
    with structlog.testing.capture_logs() as logs:
        thread = threading.Thread(target=module.write_version, args=(tmp_path, "national",
                                  parsed), kwargs={"published": None, "area_codes": None,
                                                   "source": path.name})
        thread.start()
        thread.join(0.5)
        assert thread.is_alive()  # still waits: one at a time
        os.close(fd)
        thread.join(10)
    assert not thread.is_alive()
    assert any(e["event"] == "list_import_waiting" for e in logs), logs
