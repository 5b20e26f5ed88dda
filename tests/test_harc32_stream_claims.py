"""The stream archiver's own pending entries trimmed, and a takeover run (harc32).

harc30 leaves a pending entry trimmed before its commit pending for ever: the group then
tells other hosts (`report` on an officer's) that it was never archived. ``XAUTOCLAIM``
(run when another consumer name left entries pending: an archiver renamed by a new
hostname) takes every pending entry idle longer than its min-idle-time, the archiver's
own included, and since Redis 7.0 removes those no longer in the stream from the group's
pending list, returning their ids as deleted (t_stream.c, xautoclaimCommand). Two runs
more than ``STALE_MS`` apart: the archiver's own trimmed entries were dropped from the
group, and an officer's `report` read them as archived (exit 0).

Real redis-server on a free port, real records (`callguard check` on two nodes), real
`archive --stream` runs. The ten minutes are not waited for: ``XCLAIM ... IDLE`` sets
how long an entry has been idle.
"""

from __future__ import annotations

import os
import re
import socket

import orjson
import redis

from callguard.compliance.archive.ingest import STALE_MS
from tests.log_files import cli
from tests.test_harc30_stream_gaps import GROUP, _archive, _check, _node_configs
from tests.test_hoff25_officer_stream import KEY, _officer


def _age(client, consumer: str) -> None:
    """Every entry pending for ``consumer``: idle longer than the takeover time."""
    for entry in client.xpending_range(KEY, GROUP, min="-", max="+", count=1000,
                                       consumername=consumer):
        client.xclaim(KEY, GROUP, consumer, 0, [entry["message_id"]],
                      idle=STALE_MS + 60_000, justid=True)


def test_own_pending_trimmed_entries_survive_a_takeover(tmp_path, redis_server):
    paths = _node_configs(tmp_path, redis_server)
    _check(paths["node-a"], "+18015550101", "2026-12-07T17:00:00Z")
    _archive(paths)
    _check(paths["node-b"], "+18015550103", "2026-12-07T17:20:00Z")
    _check(paths["node-a"], "+18015550105", "2026-12-07T17:30:00Z")
    client = redis.Redis.from_url(redis_server.url)
    me = socket.gethostname()
    # this archiver read them, then was killed before its commit
    mine = [i.decode() for i, _ in client.xreadgroup(GROUP, me, {KEY: ">"})[0][1]]
    # an archiver under an older hostname read one more, and was never seen again
    _check(paths["node-b"], "+18015550107", "2026-12-07T17:40:00Z")
    theirs = [i.decode() for i, _ in client.xreadgroup(GROUP, "old-host", {KEY: ">"})[0][1]]
    _age(client, me)
    _age(client, "old-host")
    # the cap keeps the last entry (old-host's last: taken over and archived)
    client.xtrim(KEY, maxlen=1, approximate=False)
    lost = len(mine) + len(theirs) - 1
    run = orjson.loads(_archive(paths).stdout)
    assert run["stream_lost"] == lost, run
    manifest = orjson.loads((tmp_path / "node-a" / "archive" / "manifest.json").read_bytes())
    assert [(g["kind"], g["entries"]) for g in manifest["stream_gaps"]] == [("lost", lost)]
    # the lost entries stay pending: the group tells other hosts they were never archived
    officer = cli("report", "--json", config_path=_officer(tmp_path, redis_server))
    # before: exit 0, "trimmed after the archiver took and acknowledged them" (pending 0)
    assert officer.returncode == 1, (officer.stdout, officer.stderr)
    assert client.xpending(KEY, GROUP)["pending"] == lost, client.xpending(KEY, GROUP)
    # a later run (the entries still idle past the takeover time): nothing counted again,
    # nothing dropped (aging them again here would be an XCLAIM: it drops trimmed entries)
    again = orjson.loads(_archive(paths).stdout)
    assert again["stream_lost"] == 0, again
    assert client.xpending(KEY, GROUP)["pending"] == lost


def test_quarantine_is_private_and_takes_unknown_entry_kinds(tmp_path, redis_server):
    """A refused record and an entry with no record field (a newer node's marker) are
    both quarantined, the file 0600 like the archive's parts and manifest (before: 0644,
    and the marker entry acknowledged with no word: not archived, not refused)."""
    paths = _node_configs(tmp_path, redis_server)
    _check(paths["node-a"], "+18015550101", "2026-12-07T17:00:00Z")
    client = redis.Redis.from_url(redis_server.url)
    newer = orjson.loads(client.xrange(KEY)[0][1][b"r"])
    newer["schema"] = 99
    client.xadd(KEY, {"r": orjson.dumps(newer)})
    client.xadd(KEY, {"gap": "node-b", "after": "12", "until": "40"})
    run = orjson.loads(_archive(paths).stdout)
    assert run["refused"] == 2, run
    archive = tmp_path / "node-a" / "archive"
    quarantine = archive / f"quarantine/stream-{KEY.replace(':', '_')}.jsonl"
    lines = quarantine.read_bytes().splitlines()
    assert orjson.loads(lines[1]) == {"gap": "node-b", "after": "12", "until": "40"}
    assert quarantine.stat().st_mode & 0o777 == 0o600
    assert (archive / "manifest.json").stat().st_mode & 0o777 == 0o600
    gaps = orjson.loads((archive / "manifest.json").read_bytes())["stream_gaps"]
    assert [(g["kind"], g["entries"]) for g in gaps] == [("refused", 2)]
    # a file an earlier callguard made 0644 is narrowed by the next write
    quarantine.chmod(0o644)
    client.xadd(KEY, {"gap": "node-a"})
    _archive(paths)
    assert quarantine.stat().st_mode & 0o777 == 0o600
    # fields not UTF-8 (hrev159: UnicodeDecodeError, every run after stopped at the entry)
    client.xadd(KEY, {b"gap\xff": b"\xfe"})
    assert orjson.loads(_archive(paths).stdout)["refused"] == 1
    assert orjson.loads(quarantine.read_bytes().splitlines()[-1]) == {"gap\\xff": "\\xfe"}


def test_explain_not_found_names_the_archive_gaps(tmp_path, redis_server):
    """Another node's decision trimmed before the archiver read it: on the archive host
    `explain` said "not found" (exit 1) as if never decided; it names the gap (exit 5)."""
    paths = _node_configs(tmp_path, redis_server)
    _check(paths["node-a"], "+18015550101", "2026-12-07T17:00:00Z")
    lost = _check(paths["node-b"], "+18015550102", "2026-12-07T17:10:00Z")
    _check(paths["node-a"], "+18015550104", "2026-12-07T17:30:00Z")
    client = redis.Redis.from_url(redis_server.url)
    client.xtrim(KEY, maxlen=1, approximate=False)
    assert orjson.loads(_archive(paths).stdout)["stream_lost"] > 0
    done = cli("explain", lost, "--json", config_path=paths["node-a"])
    assert done.returncode == 5, (done.returncode, done.stdout, done.stderr)
    said = orjson.loads(done.stdout)
    assert said["status"] == "archive-has-gaps", said
    assert "trimmed before they were archived" in said["archive_gaps"][0]
    assert "may be among what the archive does not hold" in " ".join(done.stderr.split())
    # a decision id of long after the gap (UUIDv7: 2484) is not near it: plain not found
    later = "0ec1b0b3-6c00-7000-8000-000000000000"
    assert cli("explain", later, config_path=paths["node-a"]).returncode == 1
    # an id whose UUIDv7 instant is past year 9999 (no decision's): no instant to read,
    # every gap can hold it (hrev159: a traceback, ValueError year 10889 out of range)
    beyond = cli("explain", "ffffffff-ffff-7fff-bfff-ffffffffffff", config_path=paths["node-a"])
    assert beyond.returncode == 5, (beyond.returncode, beyond.stderr)


def test_archive_gaps_lists_them(tmp_path, redis_server):
    """`archive --gaps`: what the stream archiver could not archive, for an officer to
    see which periods a report of this archive cannot be complete for."""
    paths = _node_configs(tmp_path, redis_server)
    _check(paths["node-a"], "+18015550101", "2026-12-07T17:00:00Z")
    _check(paths["node-b"], "+18015550102", "2026-12-07T17:10:00Z")
    none = cli("archive", "--gaps", config_path=paths["node-a"])
    assert none.returncode == 2, none.stdout  # no archive yet: said, not an empty list
    redis.Redis.from_url(redis_server.url).xtrim(KEY, maxlen=1, approximate=False)
    _archive(paths)
    listed = cli("archive", "--gaps", "--json", config_path=paths["node-a"])
    assert listed.returncode == 0, listed.stderr
    gaps = orjson.loads(listed.stdout)["stream_gaps"]
    assert [g["kind"] for g in gaps] == ["lost"]
    assert "trimmed before they were archived" in gaps[0]["said"]
    text = cli("archive", "--gaps", config_path=paths["node-a"])
    # since harc33 each line leads with the gap's id (for `--ack-gap`) and its status
    assert re.match(r"[0-9a-f]{10} lost \(open\): the archiver found", text.stdout), \
        text.stdout
    assert text.stdout.startswith(f"{gaps[0]['id']} lost (open): "), text.stdout


def test_quarantine_directory_is_private_under_umask_022(tmp_path, redis_server):
    """The quarantine directory is made 0700 (hrev159): made by ``mkdir`` under the
    usual umask 022 it was 0755, every local user could list it (the stream key in its
    file names) and read its sizes; one an earlier callguard made 0755 is narrowed."""
    paths = _node_configs(tmp_path, redis_server)
    _check(paths["node-a"], "+18015550101", "2026-12-07T17:00:00Z")
    client = redis.Redis.from_url(redis_server.url)
    client.xadd(KEY, {"gap": "node-b"})
    before = os.umask(0o022)
    try:
        assert orjson.loads(_archive(paths).stdout)["refused"] == 1
        quarantine = tmp_path / "node-a" / "archive" / "quarantine"
        assert quarantine.stat().st_mode & 0o777 == 0o700, oct(quarantine.stat().st_mode)
        quarantine.chmod(0o755)  # as an earlier callguard left it
        client.xadd(KEY, {"gap": "node-a"})
        _archive(paths)
        assert quarantine.stat().st_mode & 0o777 == 0o700, oct(quarantine.stat().st_mode)
    finally:
        os.umask(before)


async def test_entries_claimed_by_another_meanwhile_are_not_lost(redis_server):
    """Between the XRANGE (still in the stream?) and the XCLAIM, another archiver took
    the stale entries (its XCLAIM reset their idle time), so this XCLAIM moved none: they
    were counted lost (a ``lost`` gap in the manifest, `report` INCOMPLETE) though they
    are in the stream and pending for the other archiver, which archives them (hrev159).
    Not moved is not trimmed: only those no longer in the stream are lost."""
    from redis.asyncio import Redis

    from callguard.compliance.archive.ingest import _take_over

    class Racing(Redis):  # the real server; the other archiver's XCLAIM comes first
        async def xclaim(self, name, groupname, consumername, min_idle_time, message_ids,
                         **kwargs):
            await super().xclaim(name, groupname, "other-archiver", 0, message_ids,
                                 justid=True)
            return await super().xclaim(name, groupname, consumername, min_idle_time,
                                        message_ids, **kwargs)

    client = Racing.from_url(redis_server.url)
    try:
        await client.xgroup_create("s", GROUP, id="0", mkstream=True)
        ids = [(await client.xadd("s", {"r": b"{}"})).decode() for _ in range(3)]
        await client.xreadgroup(GROUP, "old-host", {"s": ">"})
        await Redis.xclaim(client, "s", GROUP, "old-host", 0, ids, idle=STALE_MS + 60_000,
                           justid=True)
        lost, taken, gone = await _take_over(client, "s", "me", "0-0", [], [])
        assert (lost, taken, gone) == (0, set(), []), (lost, taken, gone)
        assert (await client.xpending("s", GROUP))["pending"] == 3
    finally:
        await client.aclose()
