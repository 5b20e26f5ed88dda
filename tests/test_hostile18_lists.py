"""Hostile list files, round 18 (hlist18).

A download manager that preallocates (aria2c, several browsers, any segmented download)
writes the file at its full size first and fills it as pieces arrive: stopped early, the
file has the right size and a stretch of zeros where a piece never came. Those zeros were
read as malformed lines under ``--max-bad-share``: on the registry's fixed-width form a
1 MiB hole is ~95,000 rows, 0.04 % of the national list, so it was published and every
number in the hole was called as not listed; on the line forms the whole hole (no line
break in it) was ONE bad line, whatever its size. A zero-filled stretch is refused whole.

A file with old-Mac line ends (CR only) whose size happened to be a multiple of 11 was
taken for the fixed-width form (no LF in its head, so no row to disprove it) and refused
as 100 % malformed, though the line parser reads CR ends: a good list refused.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from callguard.errors import ListImportError
from callguard.stores.list_files import parse_delta_file, parse_list_file

NUMBERS = [8015550000 + 3 * i for i in range(3000)]


def _fixed(numbers: list[int]) -> bytes:
    return b"".join(b"%d\n" % n for n in numbers)


@pytest.mark.parametrize("where", ["tail", "middle"])
def test_a_zero_filled_stretch_in_a_fixed_width_file_is_refused(tmp_path: Path,
                                                                where: str) -> None:
    data = bytearray(_fixed(NUMBERS))
    start = len(data) - 22 if where == "tail" else 11 * 1000 + 4  # a hole across rows
    data[start:start + 22] = b"\0" * 22  # 1 or 2 whole rows: under the 0.1 % limit
    path = tmp_path / "national.txt"
    path.write_bytes(bytes(data))
    with pytest.raises(ListImportError, match="stretch of zeros") as refused:
        parse_list_file(path)
    assert "Fetch the file again" in str(refused.value)
    assert "5550" not in str(refused.value)


@pytest.mark.parametrize("ending", ["\n", "\r\n"])
def test_a_zero_filled_stretch_in_a_line_file_is_refused(tmp_path: Path,
                                                         ending: str) -> None:
    """The hole swallows many lines into one (no line break among zeros)."""
    text = "".join(f"+1 {n}{ending}" for n in NUMBERS).encode()
    hole = 4096  # ~270 numbers gone; before: one bad line of 3000
    data = text[:20_000] + b"\0" * hole + text[20_000 + hole:]
    path = tmp_path / "state.txt"
    path.write_bytes(data)
    with pytest.raises(ListImportError, match="stretch of zeros"):
        parse_list_file(path)
    delta = tmp_path / "delta.txt"
    text = "".join(f"+{n}{ending}" for n in NUMBERS).encode()
    delta.write_bytes(text[:20_000] + b"\0" * hole + text[20_000 + hole:])
    with pytest.raises(ListImportError, match="stretch of zeros"):
        parse_delta_file(delta)


def test_a_stray_nul_is_still_one_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "stray.txt"
    path.write_bytes(b"80155\x0000101\n" + _fixed(NUMBERS))
    assert (parse_list_file(path).bad, parse_list_file(path).count) == (1, 3000)


def test_a_cr_only_file_of_fixed_width_size_is_read(tmp_path: Path) -> None:
    path = tmp_path / "mac.txt"
    path.write_bytes(b"".join(b"%d\r" % n for n in NUMBERS))
    assert path.stat().st_size % 11 == 0
    parsed = parse_list_file(path)
    assert (parsed.count, parsed.bad) == (3000, 0)


def _forge_chunk(root: Path, name: str, version: int, data: bytes) -> None:
    """Replace a chunk and make its manifest agree (digest, checksum): a writer's bug or a
    hand "repair" — the digests pass, only the bitmap itself cannot be read."""
    import hashlib
    import json

    from callguard.stores.list_chunks import _checksum

    folder = root / "lists" / name / f"v{version}"
    manifest = folder / "manifest.json"
    doc = json.loads(manifest.read_text())
    for info in doc["chunks"].values():
        (folder / info["file"]).write_bytes(data)
        info["sha256"] = hashlib.sha256(data).hexdigest()
    doc["checksum"] = _checksum(doc)
    manifest.write_text(json.dumps(doc))


def _publish(root: Path, name: str, text: str) -> None:
    from callguard.stores.embedded.lists import write_version

    path = root / f"{name}.txt"
    path.write_text(text)
    write_version(root, name, parse_list_file(path), published=None, area_codes=None,
                  source=path.name)


@pytest.mark.parametrize("junk", [b"junk", b""])
def test_a_chunk_that_is_no_bitmap_refuses_the_version_not_the_node(tmp_path: Path,
                                                                    junk: bytes) -> None:
    """A bitmap that fails to deserialize is a refused version (the gate blocks for want
    of the list; a previous good version keeps serving) — not a ValueError/IndexError
    out of the loader that takes the node down at start or stops its reloads."""
    from callguard.stores.embedded.lists import EmbeddedListRegistry

    _publish(tmp_path, "national", "8015550101\n")
    _forge_chunk(tmp_path, "national", 1, junk)
    fresh = EmbeddedListRegistry(tmp_path)
    assert fresh.snapshot("national") is None
    assert "cannot be read as a bitmap" in fresh.errors["national"]

    _publish(tmp_path, "good", "8015550101\n")
    running = EmbeddedListRegistry(tmp_path)
    _publish(tmp_path, "good", "8015550202\n")
    _forge_chunk(tmp_path, "good", 2, junk)
    running.reload()
    snapshot = running.snapshot("good")
    assert snapshot is not None
    assert snapshot.meta.version == 1
    assert snapshot.contains(8015550101)


def test_a_file_of_zeros_at_the_registry_size_is_refused_as_zeros(tmp_path: Path) -> None:
    """A preallocated download that never got a byte: all zeros, a multiple of 11 bytes."""
    path = tmp_path / "national.txt"
    path.write_bytes(b"\0" * 11 * 100_000)
    with pytest.raises(ListImportError, match="stretch of zeros"):
        parse_list_file(path)


@pytest.mark.parametrize(("fill", "reason"), [(b"\0", "stretch of zeros"),
                                             (b"8", "longer than 8,192 characters")])
def test_an_overlong_line_is_refused_without_reading_it_whole(tmp_path: Path, fill: bytes,
                                                              reason: str) -> None:
    """A file with no line break for megabytes (zeros of an unfinished download, a binary
    file) was read as ONE line, whole, into memory (the import on a node's host, a file of
    gigabytes) — and counted one bad line among thousands. No list line is that long."""
    import tracemalloc

    path = tmp_path / "odd.txt"
    path.write_bytes(_fixed(NUMBERS[:1500]) + fill * 16_000_000 + b"\n"
                     + _fixed(NUMBERS[1500:]))
    tracemalloc.start()
    try:
        with pytest.raises(ListImportError, match=reason) as refused:
            parse_list_file(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4_000_000, peak
    assert "5550" not in str(refused.value)


async def test_a_slower_concurrent_import_never_moves_redis_current_back(
        redis_server: object) -> None:
    """Two `dnc import` of one list at once (a cron job and an admin): each takes its
    version number at the start; the one that took the older number and finished last
    made it current — over the newer one every node had loaded, which they then refused
    as a restored backup, while a node restarted served the older list. The late one now
    publishes nothing and says so; current stays the newer version."""
    import asyncio

    from callguard.errors import StoreError
    from callguard.stores.redis.lists import RedisListPublisher
    from tests.test_redis_lists import connect, listing

    release = asyncio.Event()

    class Slow(RedisListPublisher):
        async def _switch(self, name: str, version: int) -> None:
            await release.wait()  # the other import completes meanwhile
            await super()._switch(name, version)

    client = connect(redis_server.url)  # type: ignore[attr-defined]
    try:
        def publish(publisher: RedisListPublisher, number: int) -> object:
            return publisher.publish("national", listing([number]), published=None,
                                     area_codes=None, source="t")
        slow = asyncio.ensure_future(publish(Slow(client), 8015550101))
        while await client.get("callguard:list:national:seq") is None:
            await asyncio.sleep(0.001)
        newer = await publish(RedisListPublisher(client), 8015550202)
        assert newer.version == 2  # type: ignore[attr-defined]
        release.set()
        with pytest.raises(StoreError, match="newer version"):
            await slow
        assert int(await client.get("callguard:list:national:current")) == 2
        assert await client.get("callguard:list:national:v1:manifest") is None
    finally:
        await client.aclose()


def test_import_rollback_import_rollback_never_serves_the_withdrawn_version(
        tmp_path: Path) -> None:
    """v2 was rolled back (a bad copy: numbers missing); v3 imported; a rollback of v3 went
    to "the newest version older than the current one" — v2, the version withdrawn, and
    its missing numbers were called as not listed again. Redis goes back to v1 (its
    ``previous`` pointer); the embedded store now does too, also for a node that starts
    on a refused current."""
    from callguard.errors import NothingToRollBack
    from callguard.stores.embedded.lists import EmbeddedListRegistry, rollback_version

    _publish(tmp_path, "national", "8015550101\n8015550202\n")
    _publish(tmp_path, "national", "8015550101\n")  # v2: lost a number
    assert rollback_version(tmp_path, "national") == 1
    _publish(tmp_path, "national", "8015550101\n8015550202\n8015550303\n")  # v3
    assert rollback_version(tmp_path, "national") == 1
    with pytest.raises(NothingToRollBack):
        rollback_version(tmp_path, "national")

    current = tmp_path / "lists" / "national" / "CURRENT"
    current.write_text("3\n")
    (tmp_path / "lists" / "national" / "v3" / "manifest.json").write_text("{}")
    snapshot = EmbeddedListRegistry(tmp_path).snapshot("national")
    assert snapshot is not None
    assert snapshot.meta.version == 1


def test_two_embedded_imports_at_once_leave_the_newer_current(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch
                                                              ) -> None:
    """The embedded store's race: import A (v2) still verifying its chunks while import B
    takes v3 and makes it current; A then wrote CURRENT=2 over it. Imports of one list now
    take turns (a lock in its directory), so B is v3 and current when both are done."""
    import threading

    from callguard.stores.embedded import lists as module

    _publish(tmp_path, "national", "8015550101\n")
    real_load = module.load_version
    paused, go = threading.Event(), threading.Event()

    def slow_load(root: Path, name: str, version: int) -> object:
        if version == 2:
            paused.set()
            go.wait(10)
        return real_load(root, name, version)

    monkeypatch.setattr(module, "load_version", slow_load)
    a = threading.Thread(target=_publish, args=(tmp_path, "national", "8015550202\n"))
    b = threading.Thread(target=_publish, args=(tmp_path, "national", "8015550303\n"))
    a.start()
    assert paused.wait(10)
    b.start()
    b.join(0.5)  # before: B published v3 here; now it waits for A
    go.set()
    a.join(10)
    b.join(10)
    registry = module.EmbeddedListRegistry(tmp_path)
    snapshot = registry.snapshot("national")
    assert snapshot is not None
    assert snapshot.meta.version == 3
    assert snapshot.contains(8015550303)


def test_a_fifo_or_a_directory_is_named_as_such_not_as_missing(tmp_path: Path) -> None:
    """`dnc import` of a named pipe (a process substitution, `<(zcat ...)`) or a directory
    was refused as "no such file", though it is right there: say what it is."""
    import os

    fifo = tmp_path / "list.fifo"
    os.mkfifo(fifo)
    for path in (fifo, tmp_path):
        with pytest.raises(ListImportError, match="not a regular file"):
            parse_list_file(path)
        with pytest.raises(ListImportError, match="not a regular file"):
            parse_delta_file(path)
