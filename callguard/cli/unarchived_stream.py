"""The Redis record stream after the archive's position: every node's records no archiver
has taken yet, with ``[log] redis_stream`` (one reader for `evidence`, `explain` and
`report`, hoff24 / hfix24). Redis is imported only when a command reads the stream."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from callguard.compliance.archive.stream_group import GROUP as ARCHIVE_GROUP
from callguard.compliance.archive.stream_group import entry_key as _id_key
from callguard.compliance.archive.stream_group import text as _text

if TYPE_CHECKING:
    from callguard.cli.common import CliState
    from callguard.compliance.archive.store import Manifest


class StreamUnreadableError(Exception):
    """Redis could not be reached: the message says what is missing and the fix."""


def _unread_and_gone(info: dict[str, Any], group: dict[str, Any] | None,
                     first_id: str, beyond: int | None = None) -> int | None:
    """How many entries the archivers' ``group`` never read are gone from the stream:
    ``entries-added`` - ``entries-read`` (its lag) against the entries still there after
    its ``last-delivered-id`` — every one of the stream's (``length``) when that is before
    the first entry, else ``beyond`` (counted by the caller). A group delivered past the
    first entry has not read every trimmed one: it skips what was trimmed before it got
    there (an archiver behind by more than the MAXLEN, then reading on; review hrev139).
    None: unknown (no group, Redis < 7, a counter Redis cannot tell after an XDEL past the
    group, ``beyond`` not counted)."""
    if group is None:
        return None
    read, added = group.get("entries-read"), info.get("entries-added")
    if read is None or added is None:
        return None
    if _id_key(_text(group.get("last-delivered-id") or "0-0")) < _id_key(first_id):
        beyond = int(info.get("length") or 0)
    if beyond is None:
        return None
    return max(0, int(added) - int(read) - beyond)


def _nothing_unarchived_lost(info: dict[str, Any], group: dict[str, Any] | None,
                             after: str) -> bool:
    """Whether the archivers' ``group`` (XINFO GROUPS) shows that only archived entries
    were trimmed: it delivered nothing past the archive's last entry ``after`` and every
    entry it has not read is still there (hrev128). Unknown: False."""
    if group is None or _id_key(_text(group.get("last-delivered-id") or "0-0")) > _id_key(
            after):
        return False
    first = info.get("first-entry")
    first_id = _text(first[0]) if first else _text(info.get("last-generated-id") or "0-0")
    return _unread_and_gone(info, group, first_id) == 0


def stream_gap(info: dict[str, Any], key: str, after: str,
               group: dict[str, Any] | None = None, pending: int | None = None,
               consumers: tuple[str, ...] = (),
               beyond: int | None = None) -> tuple[str | None, str | None]:
    """``(lost, elsewhere)``: why the stream's entries after the archive's position
    ``after`` are not all there (XINFO STREAM's ``info``), as two notes, each None when
    it does not apply (hoff26):

    - ``lost``: entries were trimmed that no archiver is shown to have committed —
      trimmed before the archivers' ``group`` read them, or delivered and still
      ``pending`` (unacknowledged: the archiver commits, then acknowledges), or Redis
      cannot tell (no group, no counters). Records may be missing: INCOMPLETE, exit 1.
    - ``elsewhere``: every entry trimmed past ``after`` was delivered to the group and
      acknowledged, so committed to the archiver's archive — which is not the one read
      here (a host with no archive of its own: ``after`` is 0-0). A warning: query the
      archive host; it said INCOMPLETE on every report once the stream was trimmed.

    The nodes trim the stream by MAXLEN, oldest first; Redis 7.0 leaves
    ``max-deleted-entry-id`` at 0-0 on a trim (XDEL alone moves it), so the trim is seen
    by the first entry: after ``after``, the archive's last entry itself is gone (hoff25).
    With nothing archived (``0-0``), ``entries-added`` (Redis >= 7) against the length
    counts them. ``pending``: the group's pending entries between ``after`` and the first
    entry (None: not asked); ``beyond``: the stream's entries after the group's
    ``last-delivered-id`` (None: not counted; needed when that is past the first entry)."""
    first = info.get("first-entry")
    first_id = _text(first[0]) if first else _text(info.get("last-generated-id") or "0-0")
    archived = after not in ("0", "0-0")
    if archived and _id_key(first_id) <= _id_key(after):
        return None, None
    added, length = info.get("entries-added"), int(info.get("length") or 0)
    if not archived and (added is None or int(added) <= length):
        return None, None
    if archived and _nothing_unarchived_lost(info, group, after):
        # trimmed exactly through the archive's last entry (a purge's MINID, MAXLEN after
        # a lag): nothing unarchived gone, no alarm on every report (review hrev128)
        return None, None
    unread = _unread_and_gone(info, group, first_id, beyond)
    if unread == 0 and pending == 0:
        took = f"group {ARCHIVE_GROUP}" + (f", consumer(s) {', '.join(consumers)}" if consumers
                                   else "")
        gone = (f"entries after this archive's position {after}" if archived else
                f"{int(added or 0) - length} entr(y/ies)")
        return None, (f"{gone} of the record stream {key}, before its first entry now "
                      f"{first_id}, were trimmed after the archiver ({took}) took and "
                      "acknowledged them: they are archived by the archiver, not read "
                      "here — query the archive host (or give --archive DIR with its "
                      "archive)")
    if archived:
        return (f"the record stream {key} was trimmed past the archive's position: its "
                f"last archived entry {after} is gone and its first entry now is "
                f"{first_id}; entries between them, if any, were deleted (the stream's "
                "MAXLEN, or a purge) before any archiver took them, so records may be "
                "missing here. Each node's log file still holds its records: archive them "
                "with `callguard archive --file`; raise [log] stream_maxlen or archive "
                "more often"), None
    gone_n = int(added or 0) - length
    why = ("trimmed before the archiver's group read them" if unread
           else f"delivered to the archiver and not acknowledged ({pending} pending: not "
                "committed yet, or its archiver was killed)" if pending
           else "and Redis cannot tell whether an archiver took them")
    return (f"{gone_n} entr(y/ies) were trimmed from the record stream {key} before "
            f"{first_id}, and no archive was read here: {why}; those records may be "
            "missing (give --archive DIR, or read on the archiver's host; each node's log "
            "file still holds its records: `callguard archive --file`)"), None


def trimmed_past(info: dict[str, Any], key: str, after: str,
                 group: dict[str, Any] | None = None) -> str | None:
    """Why records may be missing after the archive's position ``after`` (``stream_gap``'s
    ``lost``; without the group's pending entries, an entry delivered past ``after`` is
    not taken as committed)."""
    return stream_gap(info, key, after, group)[0]


def stream_after_archive(state: CliState, manifest: Manifest,
                         trimmed: list[str] | None = None,
                         elsewhere: list[str] | None = None,
                         ) -> tuple[str, Iterator[bytes]]:
    """``(name, lines)``: the stream's entries after ``manifest``'s position in it, as
    log lines, and what they are (``redis stream KEY after ID``). The settings are loaded
    only here (the light read of ``place_or_exit`` said the stream is on). Raises
    :class:`StreamUnreadableError` when Redis cannot be reached. When the stream was
    trimmed past that position, ``trimmed`` (if given) gets why records may be missing,
    and ``elsewhere`` (if given) that the entries trimmed are the archiver's, not read
    here (``stream_gap``)."""
    import redis  # noqa: PLC0415 - Redis only here
    from redis.exceptions import RedisError  # noqa: PLC0415

    from callguard.compliance.archive.evidence import stream_tail  # noqa: PLC0415

    settings = state.settings
    key = settings.log.stream_key
    after = manifest.stream.get(key, "0-0")
    client = redis.Redis.from_url(settings.redis_url,
                                  password=os.environ.get("CALLGUARD_REDIS_PASSWORD") or None,
                                  socket_connect_timeout=2, socket_timeout=30)
    def unreadable(exc: Exception) -> StreamUnreadableError:
        return StreamUnreadableError(
            f"the record stream {key} could not be read ({exc}): records of other nodes "
            "not archived yet are missing; start Redis or fix [redis] url")

    def lines() -> Iterator[bytes]:  # Redis lost between two batches: said, not a trace
        try:
            yield from stream_tail(client, key, after)
        except (RedisError, OSError) as exc:
            raise unreadable(exc) from exc

    try:
        client.ping()
        if trimmed is not None and client.exists(key):
            # one snapshot: the group reading between two XINFO would hide a loss
            snapshot = client.pipeline(transaction=True)
            snapshot.xinfo_stream(key)
            snapshot.xinfo_groups(key)
            info, groups = snapshot.execute()
            group = next((g for g in groups if _text(g.get("name")) == ARCHIVE_GROUP), None)
            pending, consumers = _pending_trimmed(client, key, info, after, group)
            lost, other = stream_gap(info, key, after, group, pending, consumers,
                                     _beyond(client, key, info, group))
            if lost is not None:
                trimmed.append(lost)
            if other is not None and elsewhere is not None:
                elsewhere.append(other)
    except (RedisError, OSError) as exc:
        raise unreadable(exc) from exc
    return f"redis stream {key} after {after}", lines()


def _pending_trimmed(client: Any, key: str, info: dict[str, Any], after: str,
                     group: dict[str, Any] | None) -> tuple[int | None, tuple[str, ...]]:
    """The group's pending entries between ``after`` and the stream's first entry (gone,
    delivered, not acknowledged: not committed), and its consumers' names (the archivers'
    hosts). ``(None, ())`` with no group or nothing trimmed past ``after``."""
    first = info.get("first-entry")
    if group is None or not first or _id_key(_text(first[0])) <= _id_key(after):
        return None, ()
    low = "-" if after in ("0", "0-0") else f"({after}"
    pending = client.xpending_range(key, ARCHIVE_GROUP, min=low, max=f"({_text(first[0])}",
                                    count=1000)
    consumers = tuple(_text(c.get("name")) for c in client.xinfo_consumers(key, ARCHIVE_GROUP))
    return len(pending), consumers


def _beyond(client: Any, key: str, info: dict[str, Any],
            group: dict[str, Any] | None) -> int | None:
    """The stream's entries after the group's ``last-delivered-id`` up to the snapshot's
    last one, when the group delivered past the stream's first entry (``stream_gap``'s
    ``beyond``; review hrev139); None otherwise. Entries trimmed since the snapshot are
    not counted: a loss is then over-, never under-said."""
    first = info.get("first-entry")
    if group is None or not first:
        return None
    last = _text(group.get("last-delivered-id") or "0-0")
    if _id_key(last) < _id_key(_text(first[0])):
        return None
    end, count, start = _text(info.get("last-generated-id") or "0-0"), 0, f"({last}"
    while _id_key(last) < _id_key(end):
        page: Any = client.xrange(key, min=start, max=end, count=10_000)
        if not page:
            break
        count += len(page)
        last = _text(page[-1][0])
        start = f"({last}"
    return count
