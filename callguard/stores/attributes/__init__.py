"""Number attribute lists: wireless, ported, reassigned and litigator data.

They are stored, versioned, verified and replicated exactly like the do-not-call lists
(``callguard.stores.list_chunks``), under reserved list names ``attr-<kind>``; the
reassigned data uses the dated chunk codec (``dated``) because a bitmap cannot hold a
disconnect date.
"""

from callguard.stores.attributes.dated import (
    DATED_CODEC,
    DatedChunk,
    DatedSnapshot,
    ParsedDated,
    build_dated,
    decode_dated_chunk,
    parse_dated_file,
)
from callguard.stores.attributes.kinds import AttributeKind, kind_of, list_name
from callguard.stores.attributes.lookup import list_check

__all__ = [
    "DATED_CODEC",
    "AttributeKind",
    "DatedChunk",
    "DatedSnapshot",
    "ParsedDated",
    "build_dated",
    "decode_dated_chunk",
    "kind_of",
    "list_check",
    "list_name",
    "parse_dated_file",
]
