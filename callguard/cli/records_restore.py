"""``callguard records-accept-older``: accept, deliberately, a Redis record store older than
this node's mark (high_water.py), recording that it did.

The node refuses a store restored from an older backup: a do-not-call request or consent
revocation recorded since may be missing (47 CFR 64.1200(d)(3)). Restoring the newest
backup clears that on its own; when there is none, the operator re-records the lost
changes and runs this on each node's data dir. It writes ``event: records-older-accepted``
(the node's mark and the store's counter) to the compliance log, durable, and only then
lowers the remembered mark; a running node picks it up at its next ``/readyz`` probe.
The mark adopted is the store's counter with the store's id for it (not past the value
acknowledged as durable, ``callguard:records-acked``, as a read raises it): a store
restored and then written past the mark (another history: its id for the mark is not this
node's) is accepted the same way, and so is one whose id for the mark is gone (cannot tell).

The call-frequency counts kept in the same server have their own mark
(``frequency-redis-high-water.json``): a backup usually holds the same record counter, and
the calls counted since are gone (a capped number could be called once too often). When
the server's counter (``callguard:freq-seq``) is below that mark, or a node found it so
(the file says ``"refusing": true``: the server's counter may have caught up since, the
lost calls still missing), or the file is damaged, the same command writes ``event:
frequency-older-accepted`` (both marks, the reason), durable, and only then sets the mark
to the server's counter with an acceptance token; a running node refusing the counts
adopts it at its next ``/readyz`` probe or call. Before, the operator deleted the file by
hand and restarted the node, and nothing recorded it.
"""

from __future__ import annotations

import click
from redis.exceptions import RedisError
from rich.markup import escape

from callguard.cli.common import EXIT_INTERNAL, CliState, err_console, redis_hint, run
from callguard.cli.output import console
from callguard.errors import CallguardError, StoreError
from callguard.runtime import Runtime, redis_client
from callguard.stores.redis.frequency import HIGH_WATER_FILE as COUNTS_FILE
from callguard.stores.redis.frequency import SEQ_KEY as COUNTS_SEQ_KEY
from callguard.stores.redis.frequency import accept_mark
from callguard.stores.redis.frequency import read_mark as read_counts_mark
from callguard.stores.redis.high_water import (
    ACKED_KEY,
    HIGH_WATER_FILE,
    IDS_KEY,
    SEQ_KEY,
    acknowledged,
    read_mark,
    store_counter,
    store_id,
    write_high_water,
)
from callguard.stores.redis.records import MARKER_KEY
from callguard.stores.redis.remembered import MARKER_FILE, read_marker

__all__ = ["records_accept_older"]


@click.command("records-accept-older",
               help="Accept the Redis record store as it is although it is older than this "
                    "node's mark (restored from an older backup): re-record the lost do-not-"
                    "call requests and revocations first. Writes a compliance record.")
@click.option("--reason", required=True, help="Why (kept in the compliance record).")
@click.pass_obj
def records_accept_older(state: CliState, reason: str) -> None:
    """Lower this data dir's mark to the store's counter, after recording that it did."""
    try:
        text = run(_accept(state.runtime(lists=False), reason))
    except (CallguardError, RedisError) as exc:
        err_console.print(f"[red]not accepted:[/red] {escape(str(exc))}{redis_hint(str(exc))}",
                          highlight=False)
        raise SystemExit(EXIT_INTERNAL) from None
    console().print(text, highlight=False)


async def _accept(runtime: Runtime, reason: str) -> str:
    settings = runtime.settings
    try:
        if settings.records.backend != "redis":
            return "records are not in Redis: nothing to accept"
        data_dir = settings.data_dir
        marker = read_marker(data_dir / MARKER_FILE)
        path = data_dir / HIGH_WATER_FILE
        mark: int | None
        try:
            mark, mark_id = read_mark(path, marker) if marker is not None else (0, None)
        except StoreError:  # damaged: its message sends the operator here
            mark, mark_id = None, None
        client = redis_client(settings, socket_timeout=2)
        try:
            async with client.pipeline(transaction=True) as pipe:  # one moment of the store
                pipe.get(MARKER_KEY)
                pipe.get(SEQ_KEY)
                pipe.get(ACKED_KEY)
                pipe.hget(IDS_KEY, str(mark or 0))
                pipe.get(COUNTS_SEQ_KEY)
                token, seq, acked, at_mark, counts_seq = await pipe.execute()
            top = acknowledged(seq, acked)  # not past what was acknowledged (high_water.py)
            at_top = await client.hget(IDS_KEY, str(top))  # that value's
        finally:
            await client.aclose()
        if marker is None:
            raise CallguardError(f"this data dir has no {MARKER_FILE} (no node served the "
                                 "Redis record store from it): there is no mark to accept "
                                 "against; run it in the data dir of the node that refuses")
        if (token.decode() if isinstance(token, bytes) else token) != marker:
            raise CallguardError("the Redis server is not the store this node relies on (its "
                                 f"durability marker differs): see {MARKER_FILE} in the README")
        on_server = store_counter(seq)
        if on_server < 0:
            raise CallguardError(f"the store's record counter ({SEQ_KEY}) is not a number: "
                                 "the key was written by something other than callguard; "
                                 "nothing accepted")
        counts_on_server = store_counter(counts_seq)
        if counts_on_server < 0:
            raise CallguardError(f"the store's call-frequency counter ({COUNTS_SEQ_KEY}) is "
                                 "not a number: the key was written by something other than "
                                 "callguard; nothing accepted")
        same = mark_id is None or store_id(at_mark) == mark_id  # None: the node knows no id
        writer, encoder = runtime.compliance.writer, runtime.compliance.encoder
        if mark is not None and on_server >= mark and same:
            said = f"the store is not behind this node's mark ({on_server} >= {mark})"
        else:
            await writer.write(encoder.event("records-older-accepted", {
                "node_mark": "damaged" if mark is None else mark, "store_mark": on_server,
                "reason": reason}))
            write_high_water(path, marker, top, store_id(at_top))
            said = (f"accepted: this node's mark ({HIGH_WATER_FILE}) set from "
                    f"{mark if mark is not None else 'a damaged value'} to {top} "
                    "(event records-older-accepted written)")
        return "\n".join((said, await _accept_counts(runtime, marker, counts_on_server,
                                                       reason)))
    finally:
        await runtime.aclose()


async def _accept_counts(runtime: Runtime, marker: str, on_server: int, reason: str) -> str:
    """The call-frequency counts' mark, as ``_accept`` does the records': recorded first,
    then set to the server's counter (``on_server``) with an acceptance token."""
    path = runtime.settings.data_dir / COUNTS_FILE
    mark: int | None
    try:
        mark, _, refusing = read_counts_mark(path, marker)
    except StoreError:  # damaged: its message sends the operator here
        mark, refusing = None, True
    # A node that found the server behind says so in the file: the groups run since (the
    # one that found it, other nodes' first ones) may have brought the server's counter
    # back to the mark with the lost calls still missing.
    if mark is not None and on_server >= mark and not refusing:
        return (f"the call-frequency counts are not behind this node's mark "
                f"({on_server} >= {mark})")
    writer, encoder = runtime.compliance.writer, runtime.compliance.encoder
    await writer.write(encoder.event("frequency-older-accepted", {
        "node_mark": "damaged" if mark is None else mark, "store_mark": on_server,
        "reason": reason}))
    accept_mark(path, marker, on_server)
    return (f"accepted: the call-frequency counts' mark ({COUNTS_FILE}) set from "
            f"{mark if mark is not None else 'a damaged value'} to {on_server}; calls "
            "counted in the lost period are not counted (event frequency-older-accepted "
            "written)")
