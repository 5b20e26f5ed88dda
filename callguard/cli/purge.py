"""``callguard purge``: destroy what is older than the retention period, and say so.

Destroying evidence is not undone, so purge first says what it would destroy and does it
only with ``--yes``; each ``--yes`` run writes a ``purge`` record of itself through the
compliance log (up to when, and how much it destroyed where: zero when nothing was due), like
any other record. Neither that record nor ``--json`` says "destroyed" of a run that destroyed
nothing: a compliance officer reads the word as records gone.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click
import orjson
from rich.markup import escape

from callguard.cli import output
from callguard.cli.common import EXIT_INTERNAL, CliState, run, usage_error
from callguard.cli.logs import EXIT_INCOMPLETE
from callguard.compliance.archive.store import Archive
from callguard.compliance.purge import PurgeResult, purge_files, purge_stream
from callguard.compliance.reader import log_exists
from callguard.utc import zulu

__all__ = ["purge"]


@click.command()
@click.option("--older-than", "days", type=click.IntRange(min=1, max=36_600),
              help="Days to keep; default: [log] retention_days.")
@click.option("--file", "file_path", type=click.Path(path_type=Path),
              help="The compliance log to purge; default: this node's (its archive and "
              "stream too). With --file only that log (and the stream with --stream).")
@click.option("--stream/--no-stream", default=None,
              help="Also trim the Redis stream; default: when [log] redis_stream is on "
              "and no --file is given.")
@click.option("--yes", is_flag=True, help="Destroy. Without it purge says what it would "
              "destroy and exits 1 (0 when nothing is past the cutoff).")
@click.option("--dry-run", is_flag=True, help="Only count what would be destroyed (exit 0).")
@click.option("--below-retention", is_flag=True,
              help="Allow --older-than shorter than [log] retention_days with --yes.")
@click.option("--json", "as_json", is_flag=True, help="The outcome as one JSON object.")
@click.pass_obj
def purge(state: CliState, days: int | None, file_path: Path | None, stream: bool | None,
          yes: bool, dry_run: bool, below_retention: bool, as_json: bool) -> None:
    """Destroy compliance records older than the retention period (Utah Code 13-44-201,
    subsection unverified: destroy records holding personal information that are not to
    be retained)."""
    from callguard.runtime import log_path  # noqa: PLC0415 - lazy, like every command

    if yes and dry_run:  # destroy, or only count: not both
        usage_error("--yes destroys and --dry-run only counts: give one of them")
    settings = state.settings
    keep = days if days is not None else settings.log.retention_days
    if keep <= 0:
        usage_error("--older-than must be a positive number of days")
    _check_retention(keep, settings.log.retention_days, destroy=yes and not dry_run,
                     allowed=below_retention)
    if file_path is not None and not log_exists(file_path):
        usage_error(f"--file {file_path}: no such compliance log")
    if file_path is None and not settings.data_dir.is_dir():
        usage_error(f"no data directory at {settings.data_dir}: check --data-dir / "
                    "CALLGUARD_DATA_DIR (nothing was purged)")
    destroy = yes and not dry_run
    cutoff = datetime.now(UTC) - timedelta(days=keep)
    path = file_path or log_path(settings)
    # --file names one log: this node's archive and stream are not that log's (a purge of
    # another file destroyed the node's own archived days and stream entries).
    with_stream = stream if stream is not None else (
        settings.log.redis_stream and file_path is None)
    archive = Archive(settings.data_dir / "archive")
    if not with_stream and not archive.exists() and (path is None or not log_exists(path)):
        # a data dir that exists but is not a node's: purging "nothing" there would also
        # write the purge record, making a log, a log key and record stores in it
        log = "this node logs to stdout ([log] file = \"-\")" if path is None else (
            f"no compliance log at {path}")
        usage_error(f"{log} and no archive at {archive.root}: check --data-dir / "
                    "CALLGUARD_DATA_DIR and [log] file (nothing was purged or created)")
    if destroy:  # nothing is destroyed unless every place can be purged and recorded
        _ready_or_exit(state, cutoff, with_stream=with_stream,
                       archive=archive if file_path is None and archive.exists() else None)
    outcome: dict[str, Any] = {"cutoff": zulu(cutoff), "older_than_days": keep,
                               "mode": "destroy" if destroy else
                               ("dry-run" if dry_run else "preview")}
    if path is not None and log_exists(path):
        files = purge_files(path, cutoff, dry_run=not destroy,
                            counts_store=settings.data_dir / "frequency.sqlite3")
        outcome["file"] = _file_outcome(path, files)
    if file_path is None and archive.exists():  # whole days only: a day partition is kept
        # while any of it is due
        days, rows = archive.drop_days_before(cutoff.date(), dry_run=not destroy)
        outcome["archive"] = {"path": str(archive.root), "days_deleted": days,
                              "removed": rows}
    if with_stream:
        outcome["stream"] = {"key": settings.log.stream_key,
                             "removed": run(_trim(state, cutoff, dry_run=not destroy))}
    # true only when something is gone: a --yes run with nothing due destroyed nothing
    outcome["destroyed"] = destroy and _due(outcome)
    _show(outcome, as_json)  # first: what is gone is said even if its record then fails
    if destroy:
        _record_purge(state, outcome, named=file_path)
    if not yes and not dry_run:
        if not _due(outcome):  # "run again with --yes to destroy it": there is no "it"
            print("nothing is past the cutoff: nothing to destroy",  # noqa: T201
                  file=sys.stderr)
            return
        print("nothing was destroyed: run again with --yes to destroy it",  # noqa: T201
              file=sys.stderr)
        sys.exit(EXIT_INCOMPLETE)


def _ready_or_exit(state: CliState, cutoff: datetime, *, with_stream: bool,
                   archive: Archive | None) -> None:
    """Before anything is destroyed: the stream can be trimmed (when purged too), and the
    log key the purge record is written with is usable. An empty or short
    CALLGUARD_LOG_KEY failed the record after the records were gone: "usage error" and
    exit 2 read as "nothing happened", and no purge record told `report` and `evidence`
    that their zeros before the cutoff were destroyed records. The record is written
    through the node's runtime (log, stores), opened here once and closed: a damaged
    records.sqlite3 failed it after the records were gone (review 73), with no word that
    they were. The archive's days are counted first (its lock, its manifest): a damaged
    manifest.json was found after the log's segments were deleted (review 73)."""
    from callguard.cli.common import err_console  # noqa: PLC0415
    from callguard.compliance.logkey import LogKeyError, load_log_key  # noqa: PLC0415

    if archive is not None:
        try:
            archive.drop_days_before(cutoff.date(), dry_run=True)
        except Exception as exc:  # noqa: BLE001 - whatever it is, nothing is gone yet
            err_console.print(f"[red]error:[/red] archive {escape(str(archive.root))}: "
                              f"{escape(f'{type(exc).__name__}: {exc}')}")
            err_console.print("nothing was purged: the archive is purged with the log, and "
                              "it could not be read")
            sys.exit(EXIT_INTERNAL)
    if with_stream:
        run(_trim(state, cutoff, dry_run=True))
    try:
        load_log_key(state.settings.data_dir)
    except LogKeyError as exc:
        usage_error(f"{exc} (nothing was purged: the purge record is written with this key)")

    async def opened() -> None:  # not held: a rewritten current file is a new inode
        await state.runtime(lists=False).aclose()

    try:
        run(opened())
    except (SystemExit, OSError) as exc:
        if isinstance(exc, OSError):
            err_console.print(f"[red]error:[/red] {escape(str(exc))}")
        err_console.print("nothing was purged: the purge record is written through this "
                          "node's compliance log and stores, which could not be opened")
        sys.exit(exc.code if isinstance(exc, SystemExit) else EXIT_INTERNAL)


def _check_retention(keep: int, retention: int, *, destroy: bool, allowed: bool) -> None:
    """Destroying evidence the node's own policy keeps cannot be undone: a mistyped
    --older-than (30 for 3000) must not do it without a second word."""
    if keep >= retention:
        return
    if destroy and not allowed:
        usage_error(f"--older-than {keep} is shorter than [log] retention_days = {retention}: "
                    "add --below-retention to destroy records the retention period keeps "
                    "(nothing was purged)")
    print(f"note: --older-than {keep} is shorter than [log] retention_days = "  # noqa: T201
          f"{retention}", file=sys.stderr)


def _due(outcome: dict[str, Any]) -> bool:
    """Whether a preview found anything to remove, delete or rewrite anywhere."""
    file, archive = outcome.get("file", {}), outcome.get("archive", {})
    return any((file.get("removed"), file.get("files_deleted"), file.get("files_rewritten"),
                archive.get("removed"), archive.get("days_deleted"),
                outcome.get("stream", {}).get("removed")))


def _file_outcome(path: Path, files: PurgeResult) -> dict[str, Any]:
    return {"path": str(path), "removed": files.removed, "kept": files.kept,
            "files_deleted": files.files_deleted, "files_rewritten": files.files_rewritten,
            "files_held": files.files_held, "notes": files.notes,
            "files": [{"path": f.path, "action": f.action, "removed": f.removed,
                       "kept": f.kept} for f in files.files if f.action != "keep"]}


async def _trim(state: CliState, cutoff: datetime, *, dry_run: bool) -> int:
    from callguard.runtime import redis_client  # noqa: PLC0415

    client = redis_client(state.settings)
    try:
        return await purge_stream(client, state.settings.log.stream_key, cutoff,
                                  dry_run=dry_run)
    finally:
        await client.aclose()


def _record_purge(state: CliState, outcome: dict[str, Any], *, named: Path | None) -> None:
    """A ``purge`` record through the node's own compliance log (file and stream).

    Its fields are those of ``callguard/data/schemas/purge.json``: ``removed`` counts records by
    where they were destroyed (files, stream, archive; 0 where nothing was), ``deleted`` the
    log segments deleted or rewritten and the archive's day partitions deleted, and
    ``destroyed`` whether anything at all is gone.
    """
    cutoff = datetime.fromisoformat(outcome["cutoff"])
    removed = {where: outcome[where]["removed"] for where in ("file", "stream", "archive")
               if where in outcome}
    deleted = {}
    if "file" in outcome:
        deleted["segments"] = outcome["file"]["files_deleted"]
        deleted["segments_rewritten"] = outcome["file"]["files_rewritten"]
    if "archive" in outcome:
        deleted["archive_days"] = outcome["archive"]["days_deleted"]
    stamp = cutoff.strftime("%Y-%m-%dT%H:%M:%S.") + f"{cutoff.microsecond // 1000:03d}Z"
    fields = {"cutoff": stamp, "retention_days": outcome["older_than_days"],
              "removed": {("files" if k == "file" else k): v for k, v in removed.items()},
              "deleted": deleted, "destroyed": outcome["destroyed"], "dry_run": False}
    if named is not None:  # --file: the log purged is not this node's own
        fields["file"] = str(named.resolve())

    async def write() -> None:
        runtime = state.runtime(lists=False)  # the purge record: no list is read
        try:
            if runtime.stream is not None:
                runtime.stream.start()
            runtime.compliance.event("purge", **fields)
        finally:
            await runtime.aclose()

    try:
        run(write())
    except OSError as exc:
        from callguard.cli.common import err_console  # noqa: PLC0415

        err_console.print(f"[red]error:[/red] the purge was done but its record could not be "
                          f"written: {exc}")
        sys.exit(EXIT_INTERNAL)


def _show(outcome: dict[str, Any], as_json: bool) -> None:
    for note in outcome.get("file", {}).get("notes", []):  # on stderr in both forms
        print(f"warning: {note}", file=sys.stderr)  # noqa: T201
    if as_json:
        print(orjson.dumps(outcome).decode())  # noqa: T201
        return
    console = output.console()
    done = outcome["mode"] == "destroy"
    verb = "removed" if done else "would remove"
    cutoff = datetime.fromisoformat(outcome["cutoff"])
    if done and not outcome["destroyed"]:  # not "removed 0 record(s)": nothing happened
        console.print(f"nothing is past the cutoff ({cutoff:%Y-%m-%d %H:%M} UTC): nothing "
                      "was destroyed; this run is recorded (a purge record, 0 removed)")
        return
    if "file" in outcome:
        file = outcome["file"]
        deleted = "deleted" if done else "would delete"
        console.print(f"{file['path']}: {verb} {file['removed']} record(s) logged before "
                      f"{cutoff:%Y-%m-%d %H:%M} UTC, kept {file['kept']} in the files "
                      f"rewritten; {deleted} {file['files_deleted']} closed segment(s)")
    if "archive" in outcome:
        console.print(f"archive {outcome['archive']['path']}: {verb} "
                      f"{outcome['archive']['removed']} record(s) in "
                      f"{outcome['archive']['days_deleted']} whole day(s)")
    if "stream" in outcome:
        console.print(f"stream {outcome['stream']['key']}: {verb} "
                      f"{outcome['stream']['removed']} entr(y/ies)")
