"""The compliance record of a list change (``event: list-change``).

A list import, rollback or drop changes what every later call is judged against, so the
log that proves each call also says when each list version came and went
(``callguard/data/schemas/list-change.json``). Only the log is opened, not the node's stores: a
250-million-number list is not loaded again to write one line.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from callguard.compliance.logkey import NumberProtector, load_log_key
from callguard.config import Settings
from callguard.runtime import open_compliance_log
from callguard.stores.interfaces import ListMeta

__all__ = ["list_change_fields", "record_list_change"]


def list_change_fields(action: str, meta: ListMeta, **extra: Any) -> dict[str, Any]:
    """The record's fields for ``action`` (``publish``, ``rollback``, ``drop``) of a version."""
    published: date | None = meta.published
    fields: dict[str, Any] = {
        "action": action, "list": meta.name, "version": meta.version, "count": meta.count,
        "published": published.isoformat() if published else None,
        "covers": "all" if meta.area_codes is None else sorted(meta.area_codes),
        "source": meta.source}
    fields.update({k: v for k, v in extra.items() if v is not None})
    return {k: v for k, v in fields.items() if v is not None}


async def record_list_change(settings: Settings, fields: dict[str, Any]) -> None:
    """Write the record; return once it is durable (raise OSError/RecordWriteError if not)."""
    log, stream = open_compliance_log(settings, NumberProtector(load_log_key(settings.data_dir)))
    if stream is not None:
        stream.start()
    try:
        await log.writer.write(log.encoder.event("list-change", fields))
    finally:
        await log.aclose()
        if stream is not None:
            await stream.aclose()
