"""``callguard attributes``: import and inspect number attribute lists.

Wireless, ported-to-wireless, ported-to-wireline and litigator lists are number sets read
like do-not-call files; reassigned data is ``NUMBER,DATE`` lines (the last permanent
disconnect). Each kind is published as a version of the reserved list ``attr-<kind>``
through the same store as the do-not-call lists (manifest SHA-256, atomic switch, Redis
replica), so ``dnc status`` and ``dnc rollback --list attr-<kind>`` work on them too.
Membership checks and counts only: nothing here exports the numbers of a list.
"""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import click
from rich.markup import escape
from rich.table import Table

from callguard.cli import output
from callguard.cli.common import EXIT_INTERNAL, CliState, parse_published, run
from callguard.cli.list_record import list_change_fields
from callguard.cli.lists import (
    MAX_SHRINK_HELP,
    _covers,
    _current_meta,
    _publish,
    _recorded,
    _with_registry,
    built_or_exit,
    refused_import,
)
from callguard.cli.render import print_json
from callguard.errors import ListImportError, StoreError
from callguard.stores.attributes import AttributeKind, list_name, parse_dated_file
from callguard.stores.attributes.dated import ParsedDated
from callguard.stores.embedded.lists import EmbeddedListRegistry
from callguard.stores.list_files import ParsedList, parse_list_file
from callguard.stores.redis.lists import RedisListRegistry

__all__ = ["attributes"]

_err = output.console(stderr=True)
# What each kind changes, for ``status`` and the README.
EFFECT = {
    AttributeKind.WIRELESS: "with ported-wireless: a number on neither is a landline for "
                            "47 CFR 64.1200(a)(2)",
    AttributeKind.PORTED_WIRELESS: "numbers ported into wireless service stay wireless",
    AttributeKind.PORTED_WIRELINE: "a wireless block's number ported to a landline is one",
    AttributeKind.REASSIGNED: "consent given on or before the last permanent disconnect is "
                              "void (47 CFR 64.1200(m))",
    AttributeKind.LITIGATOR: "house policy house-litigators: listed numbers are not called",
}


@click.group()
def attributes() -> None:
    """Number attribute lists: wireless, ported, reassigned, litigator."""


@attributes.command("import")
@click.argument("file", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option("--kind", required=True, type=click.Choice([k.value for k in AttributeKind]),
              help="What the file says about its numbers.")
@click.option("--published", required=True, metavar="DATE",
              help="Date the provider produced this copy (its age is checked per call).")
@click.option("--covers", default="seen", show_default=True,
              help="Area codes this copy speaks for: 'all', a comma list, or 'seen'. A "
                   "wireless or ported-wireless copy speaks only for those its file holds "
                   "numbers in, whatever is given (the import says which are left out).")
@click.option("--max-bad-share", type=click.FloatRange(0, 1), default=0.001, show_default=True,
              help="Refuse the whole file when more than this share of lines is malformed.")
@click.option("--max-shrink", type=click.FloatRange(0, 1), default=0.1, show_default=True,
              help=MAX_SHRINK_HELP)
@click.pass_obj
def import_(state: CliState, file: Path, kind: str, published: str, covers: str,
            max_bad_share: float, max_shrink: float) -> None:
    """Import FILE as a new version of one attribute list and publish it atomically.

    FILE is text, one number a line (reassigned: NUMBER,YYYY-MM-DD), gzip'd, zipped alone
    in a ZIP archive, or not. A spreadsheet is refused: save it as CSV first (Excel "CSV
    UTF-8", LibreOffice "Text CSV"); unzip a ZIP of several files."""
    published_on = parse_published("--published", published)
    areas_wanted = None if covers == "seen" else _covers(covers)
    which = AttributeKind(kind)
    name = list_name(which)
    parsed: ParsedList | ParsedDated
    try:
        if which is AttributeKind.REASSIGNED:
            parsed = parse_dated_file(file, max_bad_share=max_bad_share)
        else:
            # a number listed ported-wireline is shown wireline (calls let through): only
            # a line that is one number is read, never a line's number from an extension
            parsed = parse_list_file(file, max_bad_share=max_bad_share,
                                     extensions=which is not AttributeKind.PORTED_WIRELINE)
    except ListImportError as exc:
        refused_import(exc, max_bad_share, dated=which is AttributeKind.REASSIGNED)
    areas = frozenset(parsed.by_area) if covers == "seen" else areas_wanted
    narrowed = _narrowed(which, parsed, areas)
    if narrowed is not None:
        areas, said = narrowed
        _err.print(f"  [yellow]{escape(said)}[/]", highlight=False)
    dropped = _no_longer_covered(state, which, areas)
    built = built_or_exit(state.settings, name, parsed, file, max_shrink)
    try:
        meta = run(_publish(state.settings, name, built, published_on, areas, file.name))
    except StoreError as exc:
        _err.print(f"[red]not published:[/red] {escape(str(exc))}", highlight=False)
        sys.exit(EXIT_INTERNAL)
    # In the compliance log like a do-not-call list's: decisions name attr-* versions too.
    # numbers read less those stored (a reassigned file's count is of distinct numbers)
    duplicates = (parsed.read if isinstance(parsed, ParsedDated) else parsed.count) - meta.count
    _recorded(state.settings, list_change_fields("publish", meta, duplicates=duplicates,
                                                 malformed=parsed.bad))
    shown = "all area codes" if areas is None else (
        f"{len(areas)} area code(s)" + (" (seen in the file)" if covers == "seen" else ""))
    _err.print(f"published [bold]{name} v{meta.version}[/] ({which.value}): "
               f"{meta.count:,} numbers, covering {shown}; {parsed.bad} malformed line(s) "
               "skipped", highlight=False)
    if parsed.header is not None:
        _err.print(f"  first line read as a header and skipped: {escape(repr(parsed.header))}",
                   highlight=False)
    if dropped:
        _err.print(f"  [yellow]{escape(dropped)}[/]", highlight=False)
    if isinstance(parsed, ParsedDated) and parsed.differing:
        _err.print(f"  {parsed.differing:,} number(s) given again with another disconnect "
                   "date: the latest kept (the last permanent disconnect)", highlight=False)
    if isinstance(parsed, ParsedDated) and (late := _after(parsed, published_on)):
        # kept (they void consent given on or before them: such calls are blocked), but a
        # copy cannot know a disconnect after its own date: a damaged or misdated file
        _err.print(f"  [yellow]{late:,} disconnect date(s) after the copy's published date "
                   f"{published_on}: a copy cannot know a later disconnect; check the file "
                   "and --published (kept: consent given on or before them is void)[/]",
                   highlight=False)
    if isinstance(parsed, ParsedList) and parsed.extensions:  # as `dnc import` says it
        _err.print(f"  {parsed.extensions:,} number(s) had an extension (x12, ;ext=12, ...): "
                   "listed as the number without it", highlight=False)
    for example in parsed.bad_examples:
        _err.print(f"  [yellow]{escape(example)}[/]", highlight=False)


# The lists whose holding a number marks it wireless: an area code they cover holding none
# of its numbers shows every number there as a landline (64.1200(a)(2) lifted).
_MARKS_WIRELESS = frozenset({AttributeKind.WIRELESS, AttributeKind.PORTED_WIRELESS})


def _narrowed(which: AttributeKind, parsed: ParsedList | ParsedDated,
              areas: frozenset[int] | None) -> tuple[frozenset[int], str] | None:
    """The coverage of a wireless or ported-to-wireless copy cut to the area codes its file
    holds numbers in, and what to say, or None when nothing is cut.

    A Utah wireless file imported with ``--covers all`` showed a New York number as a
    landline, and a predictive call to it needed no written consent: a wireless list with
    no number in an area code does not speak for it (every area code has wireless numbers),
    and a ported list without one is no copy of that area code's ports. Left out, the area
    code is of unknown kind (fail closed), as for ``--covers seen``."""
    if which not in _MARKS_WIRELESS:
        return None
    seen = frozenset(parsed.by_area)
    if areas is None:
        return seen, (f"--covers all: {list_name(which)} covers only the {len(seen)} area "
                      "code(s) its file holds numbers in; an area code without one would "
                      "show every number there as a landline (47 CFR 64.1200(a)(2))")
    empty = areas - seen
    if not empty:
        return None
    shown = ", ".join(str(code) for code in sorted(empty)[:10])
    more = f" and {len(empty) - 10} more" if len(empty) > 10 else ""
    return areas & seen, (f"--covers: area code(s) {shown}{more} left out of "
                          f"{list_name(which)}: its file holds no number there, and covering "
                          "them would show every number there as a landline (47 CFR "
                          "64.1200(a)(2))")


def _no_longer_covered(state: CliState, which: AttributeKind,
                       areas: frozenset[int] | None) -> str | None:
    """What to say of the area codes the current wireless or ported-to-wireless version
    covers and this copy does not, or None.

    A national file with no number in an area code (or a re-import with ``--covers all``,
    cut to its numbers' area codes) turns every number there from a landline into one of
    unknown kind: each predictive call to it then needs written consent. Named, the admin
    sees which calls will be BLOCKed before the dialer does."""
    if which not in _MARKS_WIRELESS or areas is None:
        return None
    name = list_name(which)
    try:
        current = _current_meta(state.settings, name, as_served=False)
    except StoreError as exc:
        return f"the current {name} could not be read to compare coverage ({exc})"
    if current is None:
        return None
    gone = (None if current.area_codes is None
            else sorted(current.area_codes - areas))
    if gone == []:
        return None
    shown = ("every area code but those it holds numbers in" if gone is None else
             ", ".join(str(code) for code in gone[:10])
             + (f" and {len(gone) - 10} more" if len(gone) > 10 else ""))
    return (f"no longer covered (covered by {name} v{current.version}): {shown}: numbers "
            "there are of unknown kind, and a predictive call to one needs written consent "
            "(47 CFR 64.1200(a)(2))")


def _covered_empty(snapshot: object) -> str | list[int]:
    """The area codes a wireless or ported-to-wireless version covers but holds no number
    in ("all": it covers every area code), or [] when none. A version published before
    ``_narrowed`` (or one ``dnc rollback`` goes back to) may still cover them, and the gate
    reads each number there as a landline: ``status`` says so, so it is imported again."""
    meta = getattr(snapshot, "meta", None)
    chunks = getattr(snapshot, "chunks", None)
    if meta is None or not isinstance(chunks, dict):
        return []
    held = {area for area, chunk in chunks.items() if len(chunk)}
    if meta.area_codes is None:
        return "all"
    return sorted(meta.area_codes - held)


def _after(parsed: ParsedDated, published: date) -> int:
    """How many disconnect dates fall after the copy's published date."""
    limit = published.toordinal() - date(1970, 1, 1).toordinal()  # the codec's days
    return sum(1 for days in parsed.by_area.values() for day in days.values() if day > limit)


@attributes.command("status")
@click.option("--json", "as_json", is_flag=True, help="Every kind's version as JSON.")
@click.pass_obj
def status(state: CliState, as_json: bool) -> None:
    """Each attribute kind: current version, count, age, coverage, and what it changes."""
    today = datetime.now(UTC).date()

    def collect(registry: EmbeddedListRegistry | RedisListRegistry) -> dict[str, Any]:
        rows: list[dict[str, Any]] = []
        for kind in AttributeKind:
            name = list_name(kind)
            snapshot = registry.snapshot(name)
            row: dict[str, Any] = {"kind": kind.value, "list": name, "loaded": False,
                                   "effect": EFFECT[kind],
                                   "error": registry.errors.get(name)}
            if snapshot is not None:
                meta = snapshot.meta
                row.update(loaded=True, version=meta.version, count=meta.count,
                           published=meta.published.isoformat() if meta.published else None,
                           age_days=(today - meta.published).days if meta.published else None,
                           covers="all" if meta.area_codes is None else len(meta.area_codes),
                           area_codes=None if meta.area_codes is None else sorted(
                               meta.area_codes),
                           codec=meta.codec, source=meta.source)
                if kind in _MARKS_WIRELESS:
                    row["covered_without_numbers"] = _covered_empty(snapshot)
            rows.append(row)
        return {"attributes": rows}

    data = run(_with_registry(state.settings, collect))
    if as_json:
        print_json(data)
        return
    table = Table("kind", "version", "numbers", "published", "age (days)", "area codes")
    for row in data["attributes"]:
        if not row["loaded"]:
            table.add_row(row["kind"], "-", "not loaded", "", "", "")
            continue
        table.add_row(row["kind"], str(row["version"]), f"{row['count']:,}",
                      str(row["published"]), str(row["age_days"]),
                      "all" if row["area_codes"] is None else
                      ",".join(str(code) for code in row["area_codes"]))
    console = output.console()  # off a terminal: whole cells, no "…"
    console.print(table)
    for row in data["attributes"]:
        console.print(f"{row['kind']}: {row['effect']}", highlight=False)
    for row in data["attributes"]:
        if empty := row.get("covered_without_numbers"):
            shown = "every area code but those it holds numbers in" if empty == "all" else (
                ", ".join(str(code) for code in empty[:10])
                + (f" and {len(empty) - 10} more" if len(empty) > 10 else ""))
            console.print(f"[yellow]{row['list']} v{row['version']} covers area codes its "
                          f"file holds no number in ({shown}): every number there reads as "
                          "a landline (47 CFR 64.1200(a)(2)); imported before a wireless "
                          "copy was cut to its numbers' area codes, or rolled back to such "
                          f"a version: import the file again (`attributes import FILE --kind "
                          f"{row['kind']} ...`)[/]", highlight=False)
    for row in data["attributes"]:
        if row["error"]:
            said = escape(f"{row['list']}: {row['error']}")  # the reason names paths
            console.print(f"[red]{said}[/]", highlight=False)
