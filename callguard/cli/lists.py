"""``callguard dnc``: import list files as new versions, and show what is loaded.

Use is limited to compliance (H.B. 45 proposed 13-26a-106(1)(i)): membership checks and
counts only; nothing here exports the numbers of a list.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from callguard.cli.common import EXIT_BLOCK, CliState, parse_date, usage_error
from callguard.cli.render import print_json
from callguard.errors import ListImportError
from callguard.stores.embedded.lists import EmbeddedListRegistry, write_version
from callguard.stores.list_files import parse_list_file

__all__ = ["dnc"]


def _covers(text: str) -> frozenset[int] | None:
    if text == "all":
        return None
    try:
        areas = frozenset(int(a) for a in text.split(","))
    except ValueError:
        usage_error(f"--covers {text!r}: use 'all' or area codes like 801,385,435")
    if not all(200 <= a <= 999 for a in areas):
        usage_error(f"--covers {text!r}: area codes are 3 digits from 200 to 999")
    return areas


@click.group()
def dnc() -> None:
    """Do-not-call lists: import, status."""


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
@click.pass_obj
def import_(state: CliState, file: Path, name: str, published: str, covers: str,
            max_bad_share: float) -> None:
    """Import FILE as a new version of a list and publish it atomically."""
    published_on = parse_date("--published", published)
    if not name.replace("-", "").replace("_", "").isalnum():
        usage_error(f"--list {name!r}: use letters, digits, - and _")
    console = Console(stderr=True)
    try:
        parsed = parse_list_file(file, max_bad_share=max_bad_share)
    except ListImportError as exc:
        console.print(f"[red]refused:[/red] {exc}", highlight=False)
        sys.exit(EXIT_BLOCK)
    areas = frozenset(parsed.by_area) if covers == "seen" else _covers(covers)
    meta = write_version(state.settings.data_dir, name, parsed, published=published_on,
                         area_codes=areas, source=file.name)
    console.print(f"published [bold]{name} v{meta.version}[/]: {meta.count} numbers, "
                  f"{parsed.bad} malformed line(s) skipped", highlight=False)
    for example in parsed.bad_examples:
        console.print(f"  [yellow]{example}[/]", highlight=False)


@dnc.command("status")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def status(state: CliState, as_json: bool) -> None:
    """Lists, current versions, counts, coverage and ages."""
    registry = EmbeddedListRegistry(state.settings.data_dir)
    today = datetime.now(UTC).date()
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
    if as_json:
        print_json({"lists": rows, "errors": registry.errors})
        return
    table = Table("list", "version", "numbers", "published", "age (days)", "covers", "source")
    for row in rows:
        covers = row["covers"]
        table.add_row(str(row["list"]), str(row["version"]), str(row["count"]),
                      str(row["published"]), str(row["age_days"]),
                      covers if isinstance(covers, str) else ",".join(map(str, covers)),
                      str(row["source"]))
    console = Console()
    console.print(table)
    for name, error in registry.errors.items():
        console.print(f"[red]{name}: {error}[/]", highlight=False)
