"""``callguard dnc``: import list files as new versions, roll back, check one number, status.

Use is limited to compliance (H.B. 45 proposed 13-26a-106(1)(i)): membership checks and
counts only; nothing here exports the numbers of a list.
"""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import Progress, ProgressColumn, SpinnerColumn, Task, TextColumn
from rich.table import Table
from rich.text import Text

from callguard.cli.common import (
    EXIT_BLOCK,
    EXIT_INTERNAL,
    CliState,
    number_or_exit,
    parse_published,
    run,
    usage_error,
)
from callguard.cli.render import print_json
from callguard.config import Settings
from callguard.errors import ListImportError, StoreError
from callguard.runtime import redis_client
from callguard.stores.attributes.dated import ParsedDated
from callguard.stores.embedded.lists import (
    EmbeddedListRegistry,
    rollback_version,
    write_version,
)
from callguard.stores.interfaces import ListMeta
from callguard.stores.list_chunks import BitmapSnapshot, BuiltVersion, apply_delta
from callguard.stores.list_files import ParsedList, parse_delta_file, parse_list_file
from callguard.stores.redis.lists import RedisListPublisher, RedisListRegistry

__all__ = ["dnc"]

_err = Console(stderr=True)


class _Rate(ProgressColumn):
    """Numbers per second."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.0f} numbers/s" if speed else "", style="progress.data.speed")


def _covers(text: str) -> frozenset[int] | None:
    if text == "all":
        return None
    try:
        areas = frozenset(int(a) for a in text.split(","))
    except ValueError:
        usage_error(f"--covers {text!r}: use 'all', 'seen' or area codes like 801,385,435")
    if not all(200 <= a <= 999 for a in areas):
        usage_error(f"--covers {text!r}: area codes are 3 digits from 200 to 999")
    return areas


async def _current(settings: Settings, name: str) -> BitmapSnapshot | None:
    """The current version of one list, read from the configured backend."""

    def pick(registry: EmbeddedListRegistry | RedisListRegistry) -> BitmapSnapshot | None:
        if name in registry.errors:
            raise StoreError(registry.errors[name])
        snapshot = registry.snapshot(name)
        if snapshot is not None and not isinstance(snapshot, BitmapSnapshot):
            raise StoreError(f"list {name} holds dated data; deltas apply to bitmap lists")
        return snapshot

    result: BitmapSnapshot | None = await _with_registry(settings, pick, only=name)
    return result


async def _delta(settings: Settings, name: str, file: Path, base_version: int,
                 max_bad_share: float) -> tuple[BuiltVersion, BitmapSnapshot, ParsedList]:
    base = await _current(settings, name)
    if base is None:
        raise StoreError(f"list {name} has no current version to apply a delta to")
    if base.meta.version != base_version:
        raise StoreError(f"delta base v{base_version} is not the current version of {name} "
                         f"(v{base.meta.version}); import the deltas in order")
    delta = parse_delta_file(file, max_bad_share=max_bad_share)
    return apply_delta(base, delta.additions, delta.deletions), base, delta.additions


async def _publish(settings: Settings, name: str,
                   parsed: ParsedList | ParsedDated | BuiltVersion,
                   published: date,
                   areas: frozenset[int] | None, source: str) -> ListMeta:
    if settings.lists_backend == "redis":
        client = redis_client(settings)
        try:
            return await RedisListPublisher(client).publish(
                name, parsed, published=published, area_codes=areas, source=source)
        finally:
            await client.aclose()
    return write_version(settings.data_dir, name, parsed, published=published,
                         area_codes=areas, source=source)


async def _with_registry(settings: Settings, action: Any, *, only: str | None = None) -> Any:
    """Run ``action(registry)`` against the configured backend's current versions
    (from Redis, only the list ``only`` when it is given)."""
    if settings.lists_backend == "redis":
        client = redis_client(settings)
        registry = RedisListRegistry(client)
        try:
            await (registry.sync_one(only) if only else registry.sync())
            return action(registry)
        finally:
            await client.aclose()
    return action(EmbeddedListRegistry(settings.data_dir))


@click.group()
def dnc() -> None:
    """Do-not-call lists: import, rollback, check, status."""


@dnc.command("import")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--list", "name", required=True, help="List name, e.g. national or ut-state.")
@click.option("--published", required=True, metavar="DATE",
              help="Date the registry published this copy (its age is checked per call).")
@click.option("--covers", default="seen", show_default=True,
              help="Area codes this copy speaks for: 'all', a comma list, or 'seen' "
                   "(those present in the file).")
@click.option("--max-bad-share", default=0.001, show_default=True,
              help="Refuse the whole file when more than this share of lines is malformed.")
@click.option("--delta-base", type=int, metavar="VERSION",
              help="FILE is a delta (+NUMBER / -NUMBER lines) against this current version.")
@click.pass_obj
def import_(state: CliState, file: Path, name: str, published: str, covers: str,
            max_bad_share: float, delta_base: int | None) -> None:
    """Import FILE as a new version of a list and publish it atomically."""
    published_on = parse_published("--published", published)  # never in the future
    if not name.replace("-", "").replace("_", "").isalnum():
        usage_error(f"--list {name!r}: use letters, digits, - and _")
    if name.startswith("attr-"):  # issue 18: reserved for number attribute lists
        usage_error(f"--list {name!r}: attr-* names are number attribute lists; import them "
                    "with `callguard attributes import --kind ...`")
    areas_wanted = None if covers == "seen" else _covers(covers)
    if delta_base is not None:
        _import_delta(state.settings, file, name, published_on, covers, areas_wanted,
                      delta_base, max_bad_share)
        return
    with Progress(SpinnerColumn(), TextColumn("reading {task.fields[file]}"),
                  TextColumn("{task.completed:,.0f} numbers"), _Rate(), console=_err,
                  transient=False) as progress:
        task = progress.add_task("import", total=None, file=file.name)
        try:
            parsed = parse_list_file(file, max_bad_share=max_bad_share,
                                     on_progress=lambda n: progress.update(task, completed=n))
        except ListImportError as exc:
            progress.stop()
            _err.print(f"[red]refused:[/red] {exc}", highlight=False)
            sys.exit(EXIT_BLOCK)
    areas = frozenset(parsed.by_area) if covers == "seen" else areas_wanted
    try:
        meta = run(_publish(state.settings, name, parsed, published_on, areas, file.name))
    except StoreError as exc:
        _err.print(f"[red]not published:[/red] {exc}", highlight=False)
        sys.exit(EXIT_INTERNAL)
    _err.print(f"published [bold]{name} v{meta.version}[/]: {meta.count:,} numbers, "
               f"{parsed.bad} malformed line(s) skipped", highlight=False)
    for example in parsed.bad_examples:
        _err.print(f"  [yellow]{example}[/]", highlight=False)


def _import_delta(settings: Settings, file: Path, name: str, published: date, covers: str,
                  areas_wanted: frozenset[int] | None, base_version: int,
                  max_bad_share: float) -> None:
    async def go() -> tuple[ListMeta, ParsedList]:
        built, base, report = await _delta(settings, name, file, base_version, max_bad_share)
        areas = base.meta.area_codes if covers == "seen" else areas_wanted
        return await _publish(settings, name, built, published, areas,
                              f"{file.name} (delta on v{base_version})"), report

    try:
        meta, report = run(go())
    except ListImportError as exc:
        _err.print(f"[red]refused:[/red] {exc}", highlight=False)
        sys.exit(EXIT_BLOCK)
    except StoreError as exc:
        _err.print(f"[red]not published:[/red] {exc}", highlight=False)
        sys.exit(EXIT_BLOCK)
    _err.print(f"published [bold]{name} v{meta.version}[/] (delta on v{base_version}): "
               f"{meta.count:,} numbers, {report.bad} malformed line(s) skipped",
               highlight=False)


@dnc.command("rollback")
@click.option("--list", "name", required=True)
@click.pass_obj
def rollback(state: CliState, name: str) -> None:
    """Make the previous version of a list current again, on every node."""
    settings = state.settings

    async def go() -> int:
        if settings.lists_backend == "redis":
            client = redis_client(settings)
            try:
                return await RedisListPublisher(client).rollback(name)
            finally:
                await client.aclose()
        return rollback_version(settings.data_dir, name)

    try:
        version = run(go())
    except StoreError as exc:
        _err.print(f"[red]not rolled back:[/red] {exc}", highlight=False)
        sys.exit(EXIT_BLOCK)
    _err.print(f"{name} is back at v{version}", highlight=False)


@dnc.command("check")
@click.argument("number")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def check_number(state: CliState, number: str, as_json: bool) -> None:
    """Which lists (and versions) hold NUMBER — membership only, nothing else."""
    settings = state.settings
    info = number_or_exit(settings, number)

    def look(registry: EmbeddedListRegistry | RedisListRegistry) -> list[dict[str, Any]]:
        rows = []
        for name in registry.names():
            snapshot = registry.snapshot(name)
            assert snapshot is not None
            area = info.area_code or 0
            rows.append({"list": name, "version": snapshot.meta.version,
                         "covered": snapshot.covers(area),
                         "listed": snapshot.contains(info.national)})
        return rows

    rows = run(_with_registry(settings, look))
    if as_json:
        print_json({"number": info.e164, "lists": rows})
        return
    for row in rows:
        state_text = ("listed" if row["listed"] else "not listed") if row["covered"] else (
            f"area code {info.area_code} not covered")
        Console().print(f"{row['list']} v{row['version']}: {state_text}", highlight=False)


@dnc.command("status")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def status(state: CliState, as_json: bool) -> None:
    """Lists, current versions, counts, coverage and ages."""
    today = datetime.now(UTC).date()

    def collect(registry: EmbeddedListRegistry | RedisListRegistry) -> dict[str, Any]:
        rows: list[dict[str, Any]] = []
        for name in registry.names():
            snapshot = registry.snapshot(name)
            assert snapshot is not None
            meta = snapshot.meta
            rows.append({
                "list": name, "version": meta.version, "count": meta.count,
                "published": meta.published.isoformat() if meta.published else None,
                "age_days": (today - meta.published).days if meta.published else None,
                "covers": "all" if meta.area_codes is None else sorted(meta.area_codes),
                "source": meta.source,
            })
        return {"lists": rows, "errors": dict(registry.errors)}

    data = run(_with_registry(state.settings, collect))
    if as_json:
        print_json(data)
        return
    table = Table("list", "version", "numbers", "published", "age (days)", "covers", "source")
    for row in data["lists"]:
        covers = row["covers"]
        table.add_row(str(row["list"]), str(row["version"]), f"{row['count']:,}",
                      str(row["published"]), str(row["age_days"]),
                      covers if isinstance(covers, str) else ",".join(map(str, covers)),
                      str(row["source"]))
    console = Console()
    console.print(table)
    for name, error in data["errors"].items():
        console.print(f"[red]{name}: {error}[/]", highlight=False)
