"""The archivers' consumer group on the record stream, and reading XINFO's answers.

Light (no DuckDB): ``ingest`` archives through the group, and `explain`, `evidence` and
`report` (``callguard.cli.unarchived_stream``) ask it whether the stream was trimmed past
what was archived, without loading the archive's engine.
"""

from __future__ import annotations

__all__ = ["GROUP", "entry_key", "text"]

GROUP = "callguard-archive"


def text(value: object) -> str:
    """A value of a Redis answer as text (redis-py gives bytes without decode_responses)."""
    return value.decode() if isinstance(value, bytes) else str(value)


def entry_key(entry_id: str) -> tuple[int, int]:
    """A stream entry id (``ms-seq``; ``ms`` alone is ``ms-0``) in the order Redis keeps."""
    millis, _, serial = entry_id.partition("-")
    return int(millis), int(serial or 0)
