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


def _nothing_unarchived_lost(info: dict[str, Any], group: dict[str, Any] | None,
                             after: str) -> bool:
    """Whether the archivers' ``group`` (XINFO GROUPS) shows that only archived entries
    were trimmed: it delivered the archive's last entry ``after`` as its
    ``entries-read``-th, and the ``entries-added`` since are all still there (``length``;
    after ``after``'s own trim every entry kept is newer). Unknown (no group, another
    delivery since, Redis < 7, a counter Redis cannot tell after an XDEL): False."""
    if group is None or _text(group.get("last-delivered-id") or "") != after:
        return False
    read, added = group.get("entries-read"), info.get("entries-added")
    if read is None or added is None:
        return False
    return int(added) - int(read) <= int(info.get("length") or 0)


def trimmed_past(info: dict[str, Any], key: str, after: str,
                 group: dict[str, Any] | None = None) -> str | None:
    """Why the stream's entries after the archive's position ``after`` are not all there
    (XINFO STREAM's ``info``), or None. The nodes trim the stream by MAXLEN, oldest first;
    Redis 7.0 leaves ``max-deleted-entry-id`` at 0-0 on a trim (XDEL alone moves it), so
    the trim is seen by the first entry: after ``after``, the archive's last entry itself
    is gone, and so is any entry between it and the first kept (hoff25). With nothing
    archived (``0-0``), ``entries-added`` (Redis >= 7) against the length counts them."""
    first = info.get("first-entry")
    first_id = _text(first[0]) if first else _text(info.get("last-generated-id") or "0-0")
    if after not in ("0", "0-0"):
        if _id_key(first_id) <= _id_key(after):
            return None
        # trimmed exactly through the archive's last entry (a purge's MINID, MAXLEN after
        # a lag): nothing unarchived gone, no alarm on every report (review hrev128)
        if _nothing_unarchived_lost(info, group, after):
            return None
        return (f"the record stream {key} was trimmed past the archive's position: its "
                f"last archived entry {after} is gone and its first entry now is "
                f"{first_id}; entries between them, if any, were deleted (the stream's "
                "MAXLEN, or a purge) before any archiver took them, so records may be "
                "missing here. Each node's log file still holds its records: archive them "
                "with `callguard archive --file`; raise [log] stream_maxlen or archive "
                "more often")
    added = info.get("entries-added")
    if added is None or int(added) <= int(info.get("length") or 0):
        return None
    gone = int(added) - int(info.get("length") or 0)
    return (f"{gone} entr(y/ies) were trimmed from the record stream {key} before "
            f"{first_id}, and no archive was read here: those records are in the "
            "archiver's archive (give --archive DIR, or read on the archiver's host), or "
            "lost if no archiver took them")


def stream_after_archive(state: CliState, manifest: Manifest,
                         trimmed: list[str] | None = None) -> tuple[str, Iterator[bytes]]:
    """``(name, lines)``: the stream's entries after ``manifest``'s position in it, as
    log lines, and what they are (``redis stream KEY after ID``). The settings are loaded
    only here (the light read of ``place_or_exit`` said the stream is on). Raises
    :class:`StreamUnreadableError` when Redis cannot be reached. When the stream was
    trimmed past that position, ``trimmed`` (if given) gets why (``trimmed_past``)."""
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
            info: Any = client.xinfo_stream(key)
            groups: Any = client.xinfo_groups(key)
            group = next((g for g in groups if _text(g.get("name")) == ARCHIVE_GROUP), None)
            if (why := trimmed_past(info, key, after, group)) is not None:
                trimmed.append(why)
    except (RedisError, OSError) as exc:
        raise unreadable(exc) from exc
    return f"redis stream {key} after {after}", lines()
