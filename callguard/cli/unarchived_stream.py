"""The Redis record stream after the archive's position: every node's records no archiver
has taken yet, with ``[log] redis_stream`` (one reader for `evidence`, `explain` and
`report`, hoff24 / hfix24). Redis is imported only when a command reads the stream."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from callguard.cli.common import CliState
    from callguard.compliance.archive.store import Manifest


class StreamUnreadableError(Exception):
    """Redis could not be reached: the message says what is missing and the fix."""


def stream_after_archive(state: CliState, manifest: Manifest) -> tuple[str, Iterator[bytes]]:
    """``(name, lines)``: the stream's entries after ``manifest``'s position in it, as
    log lines, and what they are (``redis stream KEY after ID``). The settings are loaded
    only here (the light read of ``place_or_exit`` said the stream is on). Raises
    :class:`StreamUnreadableError` when Redis cannot be reached."""
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
    except (RedisError, OSError) as exc:
        raise unreadable(exc) from exc
    return f"redis stream {key} after {after}", lines()
