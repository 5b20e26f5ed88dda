"""``callguard archive``: closed segments (or the stream) into the Parquet archive.

Run it from cron or a systemd timer (every few minutes), or as its own service with
``--watch``: it runs in its own process at low CPU priority with one DuckDB thread, so
a node that decides calls is never stalled by it (the writers' lock is not taken at all:
closed segments are never written again). On several nodes sharing one Redis Stream,
run ONE archiver with ``--stream`` (a consumer group: each entry is archived once, and
a crash re-delivers only what was not committed). Each run compacts the days that are
over and rewrites the days of each month that ended more than ``--months-after-days``
ago as one file per table (store.py, "Month files").
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from dataclasses import asdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import click
import orjson
from click.core import ParameterSource
from rich.markup import escape

from callguard.cli.common import (
    CliState,
    err_console,
    log_to_read_or_exit,
    one_source_or_exit,
    run,
    usage_error,
)
from callguard.compliance.archive.ingest import ArchiveRun, archive_files, archive_stream
from callguard.compliance.archive.store import Archive, StreamGap
from callguard.compliance.reader import log_exists

__all__ = ["archive"]

# A month is rewritten as one file a week after it ended: records archived late for it
# (a node's segments archived days late) come before, and rewrite it if they come after.
MONTHS_AFTER_DAYS = 7


@click.command()
@click.option("--archive", "archive_dir", type=click.Path(path_type=Path, file_okay=False),
              help="Where the archive lives; default: <data dir>/archive.")
@click.option("--file", "file_path", type=click.Path(path_type=Path),
              help="The log whose closed segments are archived; default: this node's.")
@click.option("--stream", is_flag=True,
              help="Archive the Redis Stream of every node (run one archiver) instead.")
@click.option("--keep-segments-days", type=click.IntRange(min=-1), default=30, show_default=True,
              help="Delete closed segments this long after they were archived (-1: keep); "
                   "one that still proves call-frequency counts the store lost in an OS "
                   "restart is kept until they are written back.")
@click.option("--compact-all", is_flag=True,
              help="Compact every day now, today included (default: days before yesterday).")
@click.option("--months-after-days", type=click.IntRange(min=-1), default=MONTHS_AFTER_DAYS,
              show_default=True,
              help="Rewrite the days of each UTC month that ended more than this many days "
                   "ago as one file per table (-1: never); a lookup opens a file per month, "
                   "not per day.")
@click.option("--watch", type=click.FloatRange(min=1), metavar="SECONDS",
              help="Keep running, archiving every SECONDS (at least 1), until SIGTERM.")
@click.option("--threads", type=click.IntRange(min=1), default=1, show_default=True,
              help="DuckDB threads (keep 1 on a host that decides calls).")
@click.option("--json", "as_json", is_flag=True, help="What was archived as JSON.")
@click.option("--compress-only", is_flag=True,
              help="Only compress this node's closed segments, archiving nothing: each "
                   "node's cron when ONE archiver reads the stream (archive --stream).")
@click.option("--gaps", "list_gaps", is_flag=True,
              help="Only list what the stream archiver could not archive (entries lost "
                   "or refused, kept in the manifest for ever), archiving nothing.")
@click.option("--ack-gap", "ack_gap", metavar="ID",
              help="Acknowledge the stream gap ID (from --gaps) with --by and --note, "
                   "archiving nothing: it stays listed, marked, and no longer makes "
                   "report, evidence or explain answer incomplete.")
@click.option("--by", "ack_by", metavar="NAME", help="With --ack-gap: who acknowledges it.")
@click.option("--note", "ack_note", metavar="TEXT",
              help="With --ack-gap: what was found (e.g. the node's log archived with "
                   "--file).")
@click.pass_obj
def archive(state: CliState, archive_dir: Path | None, file_path: Path | None, stream: bool,
            keep_segments_days: int, compact_all: bool, months_after_days: int,
            watch: float | None, threads: int, as_json: bool, compress_only: bool,
            list_gaps: bool = False, ack_gap: str | None = None, ack_by: str | None = None,
            ack_note: str | None = None) -> None:
    """Compress closed log segments and archive them (or the stream) as Parquet by day."""
    from callguard.runtime import log_path  # noqa: PLC0415

    with contextlib.suppress(OSError):
        os.nice(10)  # maintenance yields the CPU to deciding
    one_source_or_exit(file_path, stream)
    settings = state.settings
    target = Archive(archive_dir or settings.data_dir / "archive")
    log = file_path or log_path(settings)
    if ack_gap is not None or ack_by is not None or ack_note is not None:
        _ack_gap(target, ack_gap, ack_by, ack_note, as_json=as_json, listing=list_gaps)
        return
    if list_gaps:
        _list_gaps(target, as_json=as_json)
        return
    if not stream:  # [log] file checked only where it is archived (LOG_USE: READS)
        log_to_read_or_exit(file_path, log_path(settings), settings.data_dir)
    if compress_only:
        _compress_only(log, stream=stream, archive_dir=archive_dir, watch=watch,
                       as_json=as_json)
        return
    _refuse_nothing_to_archive(settings.data_dir, target, log, file_path, stream=stream,
                               archive_dir=archive_dir)
    compact_before = datetime.now(UTC).date() + timedelta(days=1) if compact_all else None
    keep = timedelta(days=keep_segments_days) if keep_segments_days >= 0 else None
    months = timedelta(days=months_after_days) if months_after_days >= 0 else None
    stopping = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    while True:
        started = time.monotonic()
        if stream:
            done = run(_stream(state, target, threads, compact_before, _before(months)))
        else:
            assert log is not None
            done = archive_files(target, log, threads=threads, compact_before=compact_before,
                                 keep_segments=keep, months_before=_before(months),
                                 counts_store=settings.data_dir / "frequency.sqlite3")
        _show(done, time.monotonic() - started, as_json,
              None if stream or log is None else (log, settings.log.rotate_mb))
        if watch is None or stopping:
            return
        deadline = time.monotonic() + watch
        while time.monotonic() < deadline and not stopping:
            time.sleep(min(1.0, watch))
        if stopping:
            return



def _refuse_nothing_to_archive(data_dir: Path, target: Archive, log: Path | None,
                               file_path: Path | None, *, stream: bool,
                               archive_dir: Path | None) -> None:
    """Exit 2 (nothing archived or created) where a typo would archive nothing, silently,
    every few minutes: no log to archive, no data dir, or a data dir that is no node's."""
    if not stream and (log is None or (file_path is not None and not log_exists(log))):
        usage_error(f"no compliance log to archive at {log}: give --file, or --stream")
    if archive_dir is None and not data_dir.is_dir():
        # a mistyped --data-dir in a cron line would archive nothing, forever, silently (or,
        # with --stream, make the mistyped directory and an archive in it)
        usage_error(f"no data directory at {data_dir}: check --data-dir / "
                    "CALLGUARD_DATA_DIR (nothing was archived or created)")
    if (not stream and file_path is None and log is not None and not log_exists(log)
            and not target.exists()):
        # a data dir that is not a node's (nothing was ever logged there): archiving
        # nothing there, every few minutes, would hide the typo and create an archive
        usage_error(f"no compliance log at {log} (nor closed segments beside it) and no "
                    f"archive at {target.root}: check --data-dir / CALLGUARD_DATA_DIR and "
                    "[log] file (nothing was archived or created)")


def _list_gaps(target: Archive, *, as_json: bool) -> None:
    """``--gaps``: the archive's ``StreamGap`` records, each as `report` and `evidence`
    say it (an officer asks which periods a report of this archive cannot be complete
    for: a report reaching one exits 1). Exit 0, reading nothing else; 2 with no archive."""
    if not target.exists():
        usage_error(f"no archive at {target.root}: give --archive DIR")
    gaps = target.manifest().stream_gaps
    if as_json:
        print(orjson.dumps({"archive": str(target.root), "stream_gaps": [  # noqa: T201
            _gap_json(g) for g in gaps]}).decode(), flush=True)
        return
    for gap in gaps:
        status = "acknowledged" if gap.acknowledged else "open"
        click.echo(f"{gap.ident} {gap.kind} ({status}): {gap.said()}")
    if not gaps:
        click.echo(f"no stream gaps in the archive {target.root}")


def _gap_json(gap: StreamGap) -> dict[str, Any]:
    """A gap for ``--gaps --json`` and ``--ack-gap --json``: its fields, its id, whether
    acknowledged, and the words `report` and `evidence` say."""
    return {"id": gap.ident, **asdict(gap), "acknowledged": gap.acknowledged,
            "said": gap.said()}


def _ack_gap(target: Archive, ident: str | None, by: str | None, note: str | None, *,
             as_json: bool, listing: bool) -> None:
    """``--ack-gap ID --by NAME --note TEXT``: an officer answers for a gap (harc33). It
    stays in the manifest (the record of a loss is evidence), marked; exit 2 naming what is
    wrong (no archive, no such gap, already acknowledged, a missing --by or --note)."""
    if listing or ident is None or not (by or "").strip() or not (note or "").strip():
        usage_error("--ack-gap ID --by NAME --note TEXT go together (the id from "
                    "`callguard archive --gaps`), without --gaps; nothing was changed")
    if not target.exists():
        usage_error(f"no archive at {target.root}: give --archive DIR")
    try:
        gap = target.acknowledge_gap(ident, by or "", note or "")
    except ValueError as exc:
        usage_error(str(exc))
    if as_json:
        print(orjson.dumps({"archive": str(target.root),  # noqa: T201
                            "acknowledged": _gap_json(gap)}).decode(), flush=True)
        return
    click.echo(f"acknowledged stream gap {gap.ident} ({gap.kind}) by {gap.acked_by} on "
               f"{gap.acked_at}; it stays listed in `callguard archive --gaps`")


def _compress_only(log: Path | None, *, stream: bool, archive_dir: Path | None,
                   watch: float | None, as_json: bool) -> None:
    """``--compress-only``: with one archiver reading the stream (``archive --stream``),
    each node's closed segments were never compressed (only plain ``archive`` did it, and
    building a second, per-node archive besides); this compresses them and archives
    nothing (hfix24)."""
    from callguard.compliance.compress import compress_closed  # noqa: PLC0415

    context = click.get_current_context()
    given = [f"--{name.replace('_', '-')}" for name in (
        "keep_segments_days", "compact_all", "months_after_days", "threads")
        if context.get_parameter_source(name) is ParameterSource.COMMANDLINE]
    if stream or archive_dir is not None or watch is not None or given:
        usage_error("--compress-only compresses this node's closed segments and archives "
                    "nothing: give it without --stream, --archive, --watch, "
                    "--keep-segments-days, --compact-all, --months-after-days or --threads "
                    "(run it from cron)")
    if log is None or not log_exists(log):
        usage_error(f"--compress-only: no compliance log at {log} (nor closed segments "
                    "beside it): check --data-dir / CALLGUARD_DATA_DIR, [log] file or --file")
    started = time.monotonic()
    done = compress_closed(log)
    seconds = round(time.monotonic() - started, 3)
    if as_json:
        print(orjson.dumps({"compressed": len(done), "files": [str(p) for p in done],  # noqa: T201
                            "seconds": seconds}).decode(), flush=True)
        return
    print(f"compressed {len(done)} closed segment(s) of {log} in {seconds:.1f} s; "  # noqa: T201
          "archived nothing (--compress-only)", flush=True)


def _before(months: timedelta | None) -> date | None:
    """Months that ended before this day are rolled up (evaluated each run: --watch)."""
    return None if months is None else datetime.now(UTC).date() - months


async def _stream(state: CliState, target: Archive, threads: int,
                  compact_before: Any, months_before: date | None) -> ArchiveRun:
    from callguard.runtime import redis_client  # noqa: PLC0415

    client = redis_client(state.settings)
    try:
        return await archive_stream(target, client, state.settings.log.stream_key,
                                    threads=threads, compact_before=compact_before,
                                    months_before=months_before)
    finally:
        await client.aclose()


def _waiting(current: tuple[Path, int] | None) -> int:
    """Bytes of the current file: records only a rotation makes archivable."""
    if current is None:
        return 0
    try:
        return current[0].stat().st_size
    except OSError:
        return 0


def _show(done: ArchiveRun, seconds: float, as_json: bool,
          current: tuple[Path, int] | None = None) -> None:
    for note in done.notes:  # on stderr in both forms: what was lost is never quiet
        err_console.print(f"[yellow]warning:[/yellow] {escape(note)}")
    waiting = _waiting(current)
    figures = {**asdict(done), "seconds": round(seconds, 3),
               **({} if current is None else {"current_file_bytes": waiting})}
    if as_json:
        print(orjson.dumps(figures).decode(), flush=True)  # noqa: T201
        return
    print(f"archived {done.decisions} decision(s) and {done.events} other record(s) from "  # noqa: T201
          f"{done.segments} segment(s) and {done.stream_entries} stream entr(y/ies) in "
          f"{seconds:.1f} s; compressed {done.compressed} segment(s), compacted "
          f"{done.compacted_days} day(s), wrote {done.month_files} month file(s); torn "
          f"lines {done.torn} (records recovered {done.recovered}), refused {done.refused}",
          flush=True)
    if current is not None and waiting:
        # "archived 0" alone read as "nothing to archive" over a file full of records
        print(f"not archived yet: the current file {current[0]} ({waiting} bytes); only "  # noqa: T201
              f"closed segments are, and the node closes it when it passes [log] rotate_mb "
              f"= {current[1]} — evidence and report read it meanwhile", flush=True)
