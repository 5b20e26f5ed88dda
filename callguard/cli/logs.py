"""Supervisor commands over the compliance log: ``tail``, ``report``, ``purge``."""

from __future__ import annotations

import re
import signal
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click
import orjson
from rich.console import Console
from rich.table import Table
from rich.text import Text

from callguard.audit import NumberProtector, load_log_key
from callguard.cli.common import CliState, e164_or_exit, run, usage_error
from callguard.compliance.purge import purge_files, purge_stream
from callguard.compliance.reader import (
    CAUGHT_UP,
    RecordFilter,
    follow_stream,
    newest_id,
    read_files,
    read_stream,
    read_stream_newest,
)
from callguard.compliance.report import render_html, tally
from callguard.runtime import log_path, redis_client

__all__ = ["purge", "report", "tail"]

Record = dict[str, Any]
_DURATION = re.compile(r"^(\d+)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def _instant(option: str, text: str | None) -> datetime | None:
    """ISO date, ISO instant (UTC if no offset is given), or a duration ago like 15m, 7d."""
    if text is None:
        return None
    match = _DURATION.match(text)
    if match:
        return datetime.now(UTC) - timedelta(**{_UNITS[match[2]]: int(match[1])})
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        usage_error(f"{option} {text!r}: use 2026-11-22, 2026-11-22T08:00:00-07:00 or 2h")
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _filter(state: CliState, campaign: str | None, verdict: str | None, rule: str | None,
            since: str | None, until: str | None, number: str | None) -> RecordFilter:
    number_hash = None
    if number is not None:
        e164 = e164_or_exit(state.settings, number)
        number_hash = NumberProtector(load_log_key(state.settings.data_dir)).hash(e164)
    return RecordFilter(campaign=campaign, verdict=verdict, rule=rule,
                        since=_instant("--since", since), until=_instant("--until", until),
                        number_hash=number_hash)


def _source_options(function: Callable[..., Any]) -> Callable[..., Any]:
    function = click.option("--stream", is_flag=True,
                            help="Read the Redis stream of every node instead of a file.")(
        function)
    return click.option("--file", "file_path", type=click.Path(path_type=Path),
                        help="A compliance log file; default: this node's.")(function)


def _filter_options(function: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed([
        click.option("--campaign"),
        click.option("--verdict", type=click.Choice(["ALLOW", "BLOCK"])),
        click.option("--rule", help="Deciding rule id, e.g. us-ut:13-25a-103(1)(a)."),
        click.option("--since", metavar="WHEN", help="ISO date/instant, or 15m, 2h, 7d ago."),
        click.option("--until", metavar="WHEN"),
        click.option("--number", help="Matched by its keyed hash (same key as the nodes)."),
    ]):
        function = option(function)
    return function


def _file(state: CliState, file_path: Path | None) -> Path:
    path = file_path or log_path(state.settings)
    if path is None:
        usage_error("this node logs to stdout ([log] file = \"-\"); give --file or --stream")
    return path


def _line(record: Record) -> Text:
    """One record as a coloured human line."""
    logged = str(record.get("logged_at", ""))[:19].replace("T", " ")
    text = Text(f"{logged} ", style="dim")
    text.append(f"{record.get('node', '?')!s:<12} ", style="cyan")
    last4 = f"…{record.get('number_last4', '')}" if record.get("number_last4") else ""
    event = record.get("event")
    if event == "decision":
        verdict = str(record.get("verdict"))
        text.append(f"{verdict:<5} ", style="bold green" if verdict == "ALLOW" else "bold red")
        text.append(f"{record.get('campaign')} {last4} {record.get('mode') or ''} ")
        text.append(str(record.get("reason") or ""), style="" if verdict == "ALLOW" else "red")
    elif event == "record":
        text.append("REC   ", style="bold yellow")
        text.append(f"{record.get('action')} {record.get('solicitor')} {last4} "
                    f"{record.get('kind') or ''} source={record.get('source') or ''}")
    else:
        text.append(f"{str(event).upper():<5} ", style="bold magenta")
        rest = {k: v for k, v in record.items()
                if k not in ("event", "node", "logged_at", "level")}
        text.append(orjson.dumps(rest).decode())
    return text


def _printer(as_json: bool) -> Callable[[Record], None]:
    console = Console(highlight=False, soft_wrap=True)
    if as_json:
        return lambda record: print(orjson.dumps(record).decode(), flush=True)  # noqa: T201
    return lambda record: console.print(_line(record))


def _interrupt(signum: int, frame: object) -> None:
    """SIGTERM ends a follow as quietly as Ctrl-C."""
    raise KeyboardInterrupt


@click.command()
@_source_options
@_filter_options
@click.option("-f", "--follow", is_flag=True, help="Keep printing new records.")
@click.option("-n", "--lines", default=20, show_default=True,
              help="How many matching records to print before following (0: all).")
@click.option("--json", "as_json", is_flag=True, help="JSON lines, for tools.")
@click.pass_obj
def tail(state: CliState, file_path: Path | None, stream: bool, campaign: str | None,
         verdict: str | None, rule: str | None, since: str | None, until: str | None,
         number: str | None, follow: bool, lines: int, as_json: bool) -> None:
    """Show compliance records of this node (a file) or of every node (--stream)."""
    wanted = _filter(state, campaign, verdict, rule, since, until, number)
    show = _printer(as_json)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        if stream:
            run(_tail_stream(state, wanted, show, follow, lines))
        else:
            _tail_file(_file(state, file_path), wanted, show, follow, lines)
    except KeyboardInterrupt:
        return


def _tail_file(path: Path, wanted: RecordFilter, show: Callable[[Record], None],
               follow: bool, lines: int) -> None:
    backlog: deque[Record] = deque(maxlen=lines or None)
    caught_up = False
    for record in read_files(path, follow=follow):
        if record is CAUGHT_UP:
            caught_up = True
            for old in backlog:
                show(old)
            continue
        if not wanted.matches(record):
            continue
        if caught_up:
            show(record)
        else:
            backlog.append(record)
    if not caught_up:
        for old in backlog:
            show(old)


async def _tail_stream(state: CliState, wanted: RecordFilter, show: Callable[[Record], None],
                       follow: bool, lines: int) -> None:
    client = redis_client(state.settings)
    key = state.settings.log.stream_key
    try:
        # Everything up to this id is backlog; a follow starts right after it, so no record
        # is shown twice or missed in between.
        top = await newest_id(client, key)
        if lines:
            # Newest first, so -n stops after N matching records instead of reading the
            # whole stream.
            backlog: list[Record] = []
            async for record in read_stream_newest(client, key, since=wanted.since,
                                                   until=wanted.until, end=top):
                if wanted.matches(record):
                    backlog.append(record)
                    if len(backlog) == lines:
                        break
            backlog.reverse()
        else:
            backlog = [r async for r in read_stream(client, key, since=wanted.since,
                                                    until=wanted.until, end=top)
                       if wanted.matches(r)]
        for record in backlog:
            show(record)
        if follow:
            async for record in follow_stream(client, key, top):
                if wanted.matches(record):
                    show(record)
    finally:
        await client.aclose()


@click.command()
@_source_options
@_filter_options
@click.option("--html", "html_path", type=click.Path(path_type=Path, dir_okay=False),
              help="Also write a self-contained HTML chart page here.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def report(state: CliState, file_path: Path | None, stream: bool, campaign: str | None,
           verdict: str | None, rule: str | None, since: str | None, until: str | None,
           number: str | None, html_path: Path | None, as_json: bool) -> None:
    """Totals of decisions by verdict, deciding rule and campaign for a time range."""
    wanted = _filter(state, campaign, verdict, rule, since, until, number)
    if stream:
        records = run(_collect_stream(state, wanted))
    else:
        records = [r for r in read_files(_file(state, file_path))
                   if r is not None and wanted.matches(r)]
    totals = tally(records)
    if html_path is not None:
        html_path.write_text(render_html(totals, since=wanted.since, until=wanted.until,
                                         generated=datetime.now(UTC)))
    if as_json:
        print(orjson.dumps({  # noqa: T201
            "decisions": totals.decisions, "by_verdict": dict(totals.by_verdict),
            "by_rule": dict(totals.by_rule), "by_campaign": dict(totals.by_campaign),
            "first": totals.first, "last": totals.last}).decode())
        return
    console = Console(highlight=False)
    console.print(f"[bold]{totals.decisions}[/] decisions "
                  f"({totals.first or '-'} … {totals.last or '-'})")
    for title, counter in (("verdict", totals.by_verdict), ("blocks by rule", totals.by_rule),
                           ("campaign", totals.by_campaign)):
        table = Table(title, "count", "share")
        for key, count in counter.most_common():
            table.add_row(key, str(count), f"{100 * count / max(1, totals.decisions):.1f} %")
        console.print(table)
    if html_path is not None:
        console.print(f"chart: {html_path}")


async def _collect_stream(state: CliState, wanted: RecordFilter) -> list[Record]:
    client = redis_client(state.settings)
    try:
        return [r async for r in read_stream(client, state.settings.log.stream_key,
                                             since=wanted.since, until=wanted.until)
                if wanted.matches(r)]
    finally:
        await client.aclose()


@click.command()
@click.option("--older-than", "days", type=int,
              help="Days to keep; default: [log] retention_days.")
@click.option("--file", "file_path", type=click.Path(path_type=Path))
@click.option("--stream/--no-stream", default=None,
              help="Also trim the Redis stream; default: when [log] redis_stream is on.")
@click.option("--dry-run", is_flag=True, help="Count what would be destroyed.")
@click.pass_obj
def purge(state: CliState, days: int | None, file_path: Path | None, stream: bool | None,
          dry_run: bool) -> None:
    """Destroy compliance records older than the retention period (13-44-201)."""
    keep = days if days is not None else state.settings.log.retention_days
    if keep <= 0:
        usage_error("--older-than must be a positive number of days")
    cutoff = datetime.now(UTC) - timedelta(days=keep)
    console = Console(highlight=False)
    verb = "would remove" if dry_run else "removed"
    path = file_path or log_path(state.settings)
    if path is not None:
        result = purge_files(path, cutoff, dry_run=dry_run)
        console.print(f"{path}: {verb} {result.removed} record(s) logged before "
                      f"{cutoff:%Y-%m-%d %H:%M} UTC, kept {result.kept}, deleted "
                      f"{result.files_deleted} rotated file(s)")
    if stream if stream is not None else state.settings.log.redis_stream:
        async def trim() -> int:
            client = redis_client(state.settings)
            try:
                return await purge_stream(client, state.settings.log.stream_key, cutoff,
                                          dry_run=dry_run)
            finally:
                await client.aclose()
        console.print(f"stream {state.settings.log.stream_key}: {verb} {run(trim())} "
                      "entr(y/ies)")



