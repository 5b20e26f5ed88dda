"""``callguard dnc``: import list files as new versions, roll back, check one number, status.

Use is limited to compliance (H.B. 45 proposed 13-26a-106(1)(i)): membership checks and
counts only; nothing here exports the numbers of a list.
"""

from __future__ import annotations

import difflib
import errno
import re
import sys
from collections.abc import Collection
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, NoReturn

import click
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from callguard.cli.common import (
    EXIT_BLOCK,
    EXIT_INTERNAL,
    EXIT_USAGE,
    CliState,
    invocation,
    number_or_exit,
    parse_published,
    run,
    usage_error,
)
from callguard.cli.list_record import list_change_fields, record_list_change
from callguard.cli.output import console, extensions_said
from callguard.cli.render import print_json
from callguard.config import Settings
from callguard.errors import CallguardError, ListImportError, NothingToRollBack, StoreError
from callguard.fronts.http.readiness import freshness_days, judged_day
from callguard.policy.rules.exemptions import lists_read as rule_reads
from callguard.policy.rules.number_kind import KIND_LISTS, LITIGATOR_LIST, REASSIGNED_LIST
from callguard.runtime import gate_packs, redis_client
from callguard.stores.attributes.dated import ParsedDated
from callguard.stores.attributes.kinds import kind_of
from callguard.stores.embedded.lists import (
    EmbeddedListRegistry,
    drop_list,
    rollback_version,
    write_version,
)
from callguard.stores.interfaces import ListMeta
from callguard.stores.list_chunks import BitmapSnapshot, BuiltVersion, apply_delta, build_chunks
from callguard.stores.list_files import ParsedList, parse_delta_file, parse_list_file
from callguard.stores.redis.lists import (
    LIST_SOCKET_SECONDS,
    SERVED_LISTS_FILE,
    RedisListPublisher,
    RedisListRegistry,
)

__all__ = ["MAX_SHRINK_HELP", "built_or_exit", "dnc", "import_command", "lists_read",
           "missing_lists"]

MAX_SHRINK_HELP = ("Refuse the file when the new version would hold fewer numbers than the "
                   "current one by more than this share (a download cut short); 1: any "
                   "drop.")

_err = console(stderr=True)


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


async def _with_registry(settings: Settings, action: Any, *, only: str | None = None,
                         as_served: bool = True) -> Any:
    """Run ``action(registry)`` against the configured backend's current versions
    (from Redis, only the list ``only`` when it is given; with ``as_served``, a version
    older than ``serve`` last served on this data dir refused, as serve refuses it)."""
    if settings.lists_backend == "redis":
        client = redis_client(settings, socket_timeout=LIST_SOCKET_SECONDS)
        registry = RedisListRegistry(client)
        try:
            if as_served:
                registry.remember_in(settings.data_dir / SERVED_LISTS_FILE, write=False)
            await (registry.sync_one(only) if only else registry.sync())
            return action(registry)
        finally:
            await client.aclose()
    return action(EmbeddedListRegistry(settings.data_dir))


@click.group()
def dnc() -> None:
    """Do-not-call lists: import, rollback, drop, check, status."""


@dnc.command("import")
@click.argument("file", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option("--list", "name", required=True,
              help="List name: one the enabled packs read (e.g. national, ut-state).")
@click.option("--published", required=True, metavar="DATE",
              help="Date the registry published this copy (its age is checked per call).")
@click.option("--covers", metavar="all|seen|AREA,...",
              help="Area codes this copy speaks for; a number elsewhere is BLOCKed, never "
                   "read as not listed. 'all' for a state's list (it names the state's "
                   "residents whatever their area code); 'seen' (the area codes in the file) "
                   "or your subscription's area codes for the national registry. Default: "
                   "'seen' for national; for another list, the current version's coverage "
                   "(its first import must say).")
@click.option("--new-list", is_flag=True,
              help="Create a list no enabled pack reads yet (else such a name is refused).")
@click.option("--max-bad-share", type=click.FloatRange(0, 1), default=0.001, show_default=True,
              help="Refuse the whole file when more than this share of lines is malformed.")
@click.option("--max-shrink", type=click.FloatRange(0, 1), default=0.1, show_default=True,
              help=MAX_SHRINK_HELP + " Not for --delta-base (its deletions are explicit).")
@click.option("--delta-base", type=int, metavar="VERSION",
              help="FILE is a delta (+NUMBER / -NUMBER lines) against this current version.")
@click.pass_obj
def import_(state: CliState, file: Path, name: str, published: str, covers: str | None,
            new_list: bool, max_bad_share: float, max_shrink: float,
            delta_base: int | None) -> None:
    """Import FILE as a new version of a list and publish it atomically.

    FILE is text: one number a line, or the registry's 'area code,number' lines (gzip'd,
    or zipped alone in a ZIP archive, or not). A spreadsheet is refused: save it as CSV
    first (Excel "CSV UTF-8", LibreOffice "Text CSV"); unzip a ZIP of several files."""
    published_on = parse_published("--published", published)  # never in the future
    _name_or_exit(name)
    if name.startswith("attr-"):  # issue 18: reserved for number attribute lists
        usage_error(f"--list {name!r}: attr-* names are number attribute lists; import them "
                    "with `callguard attributes import --kind ...`")
    settings = state.settings
    if not new_list:
        _read_by_packs_or_exit(settings, name, "--new-list")
    covers = _covers_choice(settings, name, covers)
    areas_wanted = None if covers == "seen" else _covers(covers)
    if delta_base is not None:
        _import_delta(settings, file, name, published_on, covers, areas_wanted,
                      delta_base, max_bad_share)
        return
    parsed = _parse_with_progress(file, max_bad_share)
    areas = frozenset(parsed.by_area) if covers == "seen" else areas_wanted
    built = built_or_exit(settings, name, parsed, file, max_shrink)
    try:
        meta = run(_publish(settings, name, built, published_on, areas, file.name))
    except StoreError as exc:
        _err.print(f"[red]not published:[/red] {escape(str(exc))}", highlight=False)
        sys.exit(EXIT_INTERNAL)
    duplicates = parsed.count - meta.count
    _recorded(settings, list_change_fields("publish", meta, duplicates=duplicates,
                                           malformed=parsed.bad))
    shown = "all area codes" if areas is None else (
        f"{len(areas)} area code(s)" + (" (seen in the file)" if covers == "seen" else ""))
    _err.print(f"published [bold]{name} v{meta.version}[/]: {meta.count:,} numbers, covering "
               f"{shown}; {duplicates:,} duplicate number(s) dropped, {parsed.bad} malformed "
               "line(s) skipped", highlight=False)
    if parsed.header is not None:
        _err.print(f"  first line read as a header and skipped: {escape(repr(parsed.header))}",
                   highlight=False)
    extensions_said(_err, parsed.extensions, "listed")
    for example in parsed.bad_examples:
        _err.print(f"  [yellow]{escape(example)}[/]", highlight=False)


def _name_or_exit(name: str) -> None:
    if not name.replace("-", "").replace("_", "").isalnum():
        usage_error(f"--list {name!r}: use letters, digits, - and _")


def lists_read(settings: Settings, *, applied: bool = False) -> dict[str, list[str]]:
    """Every list a rule of an enabled pack reads, with the packs that read it, as the
    gate fetches them (``exemptions.lists_read``: a rule's own lists and the
    reassigned-number data a consent it accepts is read against). With ``applied``, only
    the packs the gate can apply to a call (``runtime.gate_packs``: every statute pack,
    and the house policies a campaign opts into): the lists whose absence BLOCKs a call."""
    today = datetime.now(UTC).date()
    packs = (gate_packs(settings) if applied
             else {pack_id: settings.packs[pack_id] for pack_id in settings.enabled_packs})
    found: dict[str, list[str]] = {}
    for pack_id, pack in packs.items():
        for rule in (*pack.rules, *pack.rules_on(today)):
            for list_name in rule_reads(rule):
                readers = found.setdefault(list_name, [])
                if pack_id not in readers:
                    readers.append(pack_id)
    return found


# Attribute lists whose absence keeps the conservative behaviour (issue 18: every number
# possibly wireless; consent honoured without 64.1200(m)'s safe harbor): not missing.
_OPTIONAL = frozenset({*KIND_LISTS, REASSIGNED_LIST})


def missing_lists(settings: Settings, have: Collection[str]) -> dict[str, list[str]]:
    """The lists the gate reads for a call that have no version in ``have`` and whose absence
    BLOCKs the calls they cover, with their readers: not the optional attribute lists, nor
    those [lists] not_loaded names (absent on purpose). `dnc status` and serve's
    ``lists_missing`` both say these; the litigator list is one (a campaign opting into
    house-litigators has its every call BLOCKed without it), and `dnc status`, leaving out
    every attr-* name, said nothing while serve and /readyz did (hadm25)."""
    return {name: packs for name, packs in sorted(lists_read(settings, applied=True).items())
            if name not in have and name not in _OPTIONAL
            and name not in settings.lists_not_loaded}


def import_command(name: str) -> str:
    """The command that imports list ``name``: an attribute list (attr-litigator) is
    `attributes import`'s, `dnc import` refuses its name."""
    kind = kind_of(name)
    return (f"attributes import FILE --kind {kind.value}" if kind is not None
            else f"dnc import FILE --list {name}")


def _read_by_packs_or_exit(settings: Settings, name: str, escape_hatch: str) -> None:
    """A name no enabled pack reads is almost always a typo (``nationl``)."""
    read = lists_read(settings)
    if name in read:
        return
    close = difflib.get_close_matches(name, list(read), n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    usage_error(f"--list {name!r}: no enabled pack reads a list of that name ({hint}the packs "
                f"read: {', '.join(sorted(read)) or 'none'}); give {escape_hatch} to create "
                "it anyway")


def _current_meta(settings: Settings, name: str, *, as_served: bool = True
                  ) -> ListMeta | None:
    snapshot = run(_with_registry(settings, lambda r: r.snapshot(name), only=name,
                                  as_served=as_served))
    return None if snapshot is None else snapshot.meta


def _covers_choice(settings: Settings, name: str, covers: str | None) -> str:
    """``--covers`` as given, else what the list's form implies (see the option's help).
    A list a pack's scope reads (``fl-state``: its people are the state's whatever their
    area code) covers every area code or none: a number in an area code a partial copy
    leaves out would read as out of the state's scope, and its call be ALLOWed (hrev34)."""
    if name in settings.policy().scope_lists:
        if covers not in (None, "all"):
            usage_error(f"--covers {covers!r}: {name} names the state's people whatever "
                        "their area code (a pack's scope reads it), so a copy of it covers "
                        "'all'")
        # Not the current copy's coverage: a copy imported partial before its pack read it
        # as a scope list (ok-state before us-ok 2026.12.17) stayed partial on every later
        # import, and the gate counts such a copy as unread (hrev83).
        return "all"
    if covers is not None:
        return covers
    if name == "national":
        return "seen"  # the registry's download holds exactly the area codes subscribed
    current = _current_meta(settings, name, as_served=False)  # a restored copy's too
    if current is None:
        usage_error(f"--covers is needed for the first import of {name}: 'all' for a "
                    "state's list (it names the state's residents whatever their area "
                    "code), or the area codes this copy speaks for (e.g. 801,385,435); later "
                    "imports keep the coverage of the current version")
    return "all" if current.area_codes is None else ",".join(
        str(a) for a in sorted(current.area_codes))


def _parse_with_progress(file: Path, max_bad_share: float) -> ParsedList:
    """Parse the list file with a progress display: bytes read of the file's size (of a
    gzip file, compressed bytes: its size is what is known), percent, ETA, numbers, rate."""
    size = file.stat().st_size
    with Progress(TextColumn("reading {task.fields[file]}"), BarColumn(), DownloadColumn(),
                  TaskProgressColumn(), TimeRemainingColumn(),
                  TextColumn("{task.fields[numbers]:,} numbers"), _Rate(), console=_err,
                  transient=False) as progress:
        task = progress.add_task("import", total=size or None, file=file.name, numbers=0)

        def advance(numbers: int, read: int) -> None:
            progress.update(task, completed=read, numbers=numbers)

        try:
            parsed = parse_list_file(file, max_bad_share=max_bad_share, on_progress=advance)
        except ListImportError as exc:
            progress.stop()
            refused_import(exc, max_bad_share)
        # Read whole: the bar at the file's end. The last count was of the bytes consumed,
        # short of the size for a ZIP (its central directory, after the member: 98-99 %).
        progress.update(task, completed=size)
        return parsed


# The parsers' refusal for the share of bad lines (stores.list_files): "N of M lines malformed"
_MALFORMED = re.compile(r"(\d+) of (\d+) lines malformed")


def refused_import(exc: ListImportError, max_bad_share: float, *,
                   dated: bool = False) -> NoReturn:
    """A list file refused whole, exit 1; for too many malformed lines, what to do: the
    refusal gave the counts and the limit but not the option, and an admin with a file
    known to carry a few odd lines could not tell how to proceed."""
    _err.print(f"[red]refused:[/red] {escape(str(exc))}", highlight=False)
    counts = _MALFORMED.search(str(exc))
    if counts and int(counts[1]) * 2 > int(counts[2]):
        # most lines: not a few odd ones but a file in another form (hnew30: a CRM's CSV
        # export, "name,phone", was told to raise --max-bad-share, which cannot help)
        # ``dated`` (reassigned, NUMBER,DATE lines): "keep only the number column" made
        # every line malformed again (hrev145)
        _err.print("look at the lines shown: most lines are not what a list holds — " + (
            "NUMBER,DATE a line (2026-11-02 or 20261102). A spreadsheet or CRM export "
            "with other columns (a name, an id): keep only the number and date columns "
            "and import that (e.g. `cut -d, -f2,3 FILE > disconnects.txt` for the 2nd "
            "and 3rd)" if dated else
            "one number a line, or the registry's 'area code,number' lines. A "
            "spreadsheet or CRM export with other columns (a name, an id): keep "
            "only the number column and import that (e.g. `cut -d, -f2 FILE > "
            "numbers.txt` for the 2nd column)") + "; a higher --max-bad-share does not "
                   "make such a file readable", highlight=False, markup=False)
    elif "malformed" in str(exc):  # the parsers' one refusal for the share of bad lines
        _err.print(f"look at the lines shown: a wrong file or a format callguard does not "
                   f"read is refused on purpose. If they are expected (a few comments, "
                   f"numbers of another country), import again with a higher "
                   f"--max-bad-share (now {max_bad_share:g}, i.e. {max_bad_share:.2%}; "
                   f"e.g. --max-bad-share 0.01)", highlight=False)
    sys.exit(EXIT_BLOCK)


def built_or_exit(settings: Settings, name: str, parsed: ParsedList | ParsedDated,
                  file: Path, max_shrink: float) -> BuiltVersion:
    """The new version's chunks, refused (exit 1) when it holds far fewer numbers than the
    current version: a registry download cut short at a line boundary parses cleanly, and
    every number it lost would read as not listed (or, for a wireless list, as a
    landline)."""
    built = build_chunks(parsed)
    if max_shrink >= 1:
        return built
    try:
        # what Redis holds, even a copy older than this node last served (Redis restored):
        # the re-import that fixes it is checked like any other, never waved through
        current = _current_meta(settings, name, as_served=False)
    except StoreError as exc:
        _err.print(f"[red]not published:[/red] the current version of {name} cannot be read "
                   f"to compare counts ({escape(str(exc))})", highlight=False)
        sys.exit(EXIT_INTERNAL)
    if current is None or current.count == 0:
        return built
    drop = 1 - built.count / current.count
    if drop > max_shrink:
        _err.print(
            f"[red]refused:[/red] {escape(file.name)}: {built.count:,} numbers against "
            f"{current.count:,} in the current {name} v{current.version} (a drop of "
            f"{drop:.1%}, limit {max_shrink:.0%}); a download cut short? nothing was "
            "imported. If the list really shrank (a smaller subscription), give "
            "--max-shrink 1", highlight=False)
        sys.exit(EXIT_BLOCK)
    return built


def _recorded(settings: Settings, fields: dict[str, Any]) -> None:
    """Write the list change to the compliance log; a failure is said plainly (exit 3; 2
    for a read-only file system, with its fix: the admin's, not callguard's fault)."""
    try:
        run(record_list_change(settings, fields))
    except (OSError, CallguardError) as exc:
        read_only = any(isinstance(e, OSError) and e.errno == errno.EROFS
                        for e in (exc, exc.__cause__))
        fix = ("; the file system is mounted read-only: mount it read-write, or under the "
               "systemd unit (ProtectSystem=strict) add the log's directory to "
               "ReadWritePaths=") if read_only else ""
        _err.print(f"[red]error:[/red] the list change was made but its compliance record "
                   f"could not be written ({escape(str(exc))}){fix}; write down: "
                   f"{escape(str(fields))}", highlight=False)
        sys.exit(EXIT_USAGE if read_only else EXIT_INTERNAL)


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
        refused_import(exc, max_bad_share)
    except StoreError as exc:
        _err.print(f"[red]not published:[/red] {escape(str(exc))}", highlight=False)
        sys.exit(EXIT_BLOCK)
    _recorded(settings, list_change_fields("publish", meta, delta_base=base_version,
                                           malformed=report.bad))
    _err.print(f"published [bold]{name} v{meta.version}[/] (delta on v{base_version}): "
               f"{meta.count:,} numbers, {report.bad} malformed line(s) skipped",
               highlight=False)
    extensions_said(_err, report.extensions, "listed")


@dnc.command("rollback")
@click.option("--list", "name", required=True,
              help="The list whose previous version becomes current again.")
@click.pass_obj
def rollback(state: CliState, name: str) -> None:
    """Make the previous version of a list current again, on every node."""
    settings = state.settings

    async def go() -> int:
        if settings.lists_backend == "redis":
            client = redis_client(settings, socket_timeout=LIST_SOCKET_SECONDS)
            try:
                return await RedisListPublisher(client).rollback(name)
            finally:
                await client.aclose()
        return rollback_version(settings.data_dir, name)

    try:
        version = run(go())
    except NothingToRollBack as exc:  # asked of a list with no earlier version: nothing failed
        usage_error(f"{exc}; nothing rolled back (see `callguard dnc status`)")
    except StoreError as exc:
        _err.print(f"[red]not rolled back:[/red] {escape(str(exc))}", highlight=False)
        sys.exit(EXIT_BLOCK)
    snapshot, refused = run(_with_registry(
        settings, lambda r: (r.snapshot(name), r.errors.get(name)), only=name))
    if snapshot is None and refused:
        # Done in Redis whether or not this node takes it (it served a newer copy, Redis
        # since restored from an older backup): recorded as published there all the same.
        snapshot = run(_with_registry(settings, lambda r: r.snapshot(name), only=name,
                                      as_served=False))
    if snapshot is not None:
        _recorded(settings, list_change_fields("rollback", snapshot.meta))
    _err.print(f"{name} is back at v{version}", highlight=False)
    if refused:
        _err.print(f"[yellow]warning:[/yellow] {escape(refused)}", highlight=False)


@dnc.command("drop")
@click.argument("name", metavar="LIST")
@click.option("--yes", is_flag=True,
              help="Drop a list an enabled pack reads (a state this site no longer calls); "
                   "the list must be named in [lists] not_loaded.")
@click.pass_obj
def drop(state: CliState, name: str, yes: bool) -> None:
    """Remove LIST on every node: one no enabled pack reads (a mistyped import), or, with
    --yes, one a pack reads that the configuration names in [lists] not_loaded (a site that
    has stopped calling the state).

    The change is written to the compliance log. Without that setting a list a pack reads is
    refused: import a good copy or roll back instead. Dropped, it is judged as never loaded:
    calls its pack reaches by area code or CRM location are BLOCKed naming it, and a number
    on it elsewhere (a Floridian's New York mobile) is no longer found.
    """
    _name_or_exit(name)
    settings = state.settings
    readers = lists_read(settings).get(name)
    if readers:
        _read_list_drop_or_exit(settings, name, readers, yes)
    meta = _current_meta(settings, name, as_served=False)  # what Redis holds is dropped
    if meta is None:
        usage_error(f"no list {name!r} to drop (see `callguard dnc status`)")

    async def go() -> int:
        if settings.lists_backend == "redis":
            client = redis_client(settings, socket_timeout=LIST_SOCKET_SECONDS)
            try:
                return await RedisListPublisher(client).drop(name)
            finally:
                await client.aclose()
        return drop_list(settings.data_dir, name)

    try:
        run(go())
    except StoreError as exc:
        _err.print(f"[red]not dropped:[/red] {escape(str(exc))}", highlight=False)
        sys.exit(EXIT_INTERNAL)
    _recorded(settings, list_change_fields("drop", meta, read_by=readers,
                                           not_loaded=True if readers else None))
    _err.print(f"dropped {name} (was v{meta.version}, {meta.count:,} numbers); recorded in "
               "the compliance log", highlight=False)
    if readers:
        _err.print(escape(f"{name} is not loaded on purpose ([lists] not_loaded): calls "
                          f"{', '.join(readers)} reach by area code or CRM location are "
                          "BLOCKed naming it; a number on it elsewhere is no longer found. To "
                          f"call there again, import it and remove {name} from [lists] "
                          "not_loaded"), highlight=False)


def _read_list_drop_or_exit(settings: Settings, name: str, readers: list[str],
                            yes: bool) -> None:
    """A list a pack reads is dropped only by a site that says, in its configuration, that
    it does without it (``[lists] not_loaded``: read by every node and by ``config check``),
    and with --yes. Refused, a stale copy of a scope list BLOCKed every call of the site,
    nationwide, for as long as it stayed (hsto22); importing it for ever was the only way."""
    read_by = ", ".join(readers)
    if name not in settings.lists_not_loaded:
        usage_error(f"list {name} is read by {read_by}: dropping it would BLOCK every call "
                    f"in their scope; import a good copy or `dnc rollback --list {name}` "
                    f"instead. A site that no longer calls there names {name} in [lists] "
                    f"not_loaded of its configuration (every node's), then runs `dnc drop "
                    f"{name} --yes`")
    if not yes:
        usage_error(f"list {name} is read by {read_by}, and [lists] not_loaded names it: "
                    f"dropped, calls they reach by area code or CRM location are BLOCKed "
                    f"naming it, and a number on it in another area code is no longer found. "
                    f"Give --yes to drop it on every node (recorded in the compliance log)")


@dnc.command("check", epilog=(
    "\b\nExit 0: no do-not-call list holds NUMBER, and every one covers its area code.\n"
    "Exit 1: a do-not-call list holds it, or one does not cover its area code, or one has\n"
    "        no version served (refused: the gate BLOCKs all three). Attribute lists\n"
    "        (attr-wireless, ...) are shown, not counted; the litigator list counts (its\n"
    "        pack does not call a listed number).\n"
    "Exit 2: usage error (a number that is not dialable, no do-not-call list loaded)."))
@click.argument("number")
@click.option("--json", "as_json", is_flag=True, help="The lists holding it as JSON.")
@click.pass_obj
def check_number(state: CliState, number: str, as_json: bool) -> None:
    """Which lists (and versions) hold NUMBER — membership only, nothing else."""
    settings = state.settings
    info = number_or_exit(settings, number)

    def look(registry: EmbeddedListRegistry | RedisListRegistry
             ) -> tuple[list[dict[str, Any]], dict[str, str]]:
        rows = []
        for name in registry.names():
            snapshot = registry.snapshot(name)
            assert snapshot is not None
            area = info.area_code or 0
            rows.append({"list": name, "version": snapshot.meta.version,
                         "do_not_call": _is_do_not_call(name),
                         "covered": snapshot.covers(area),
                         "listed": snapshot.contains(info.national)})
        unserved = {name: error for name, error in registry.errors.items()
                    if registry.snapshot(name) is None and _is_do_not_call(name)}
        return rows, unserved

    rows, unserved = run(_with_registry(settings, look))
    # A list whose version is refused (a truncated chunk, a copy Redis lost) and none
    # served: the gate BLOCKs every call in its scope. It read "no list is loaded: check
    # --data-dir", a wrong fix, and a list loaded beside it hid it (hsto22).
    for name, error in sorted(unserved.items()):
        _err.print(f"[red]{escape(name)}: no version served[/] ({escape(error)})",
                   highlight=False)
    if not any(row["do_not_call"] for row in rows) and not unserved:
        # a wrong data dir (or Redis) would read as "not listed" anywhere
        where = ("in Redis at [redis] url" if settings.lists_backend == "redis" else
                 f"in data dir {settings.data_dir}")
        loaded = "no list is loaded" if not rows else "no do-not-call list is loaded"
        usage_error(f"{loaded} {where}: check --data-dir / CALLGUARD_DATA_DIR, or "
                    f"import one ({invocation(settings)} dnc import FILE --list NAME "
                    "--published DATE)")
    # fail closed, as the gate: a list that does not cover the area code cannot show
    # that the number is not on it
    held = bool(unserved) or any(
        row["do_not_call"] and (row["listed"] or not row["covered"]) for row in rows)
    if as_json:
        print_json({"number": info.e164, "lists": rows, "not_served": unserved})
    else:
        for row in rows:
            state_text = ("listed" if row["listed"] else "not listed") if row["covered"] else (
                f"area code {info.area_code} not covered")
            if not row["do_not_call"]:
                state_text += " (attribute list: not a do-not-call listing)"
            console().print(f"{row['list']} v{row['version']}: {state_text}", highlight=False)
    if held:
        sys.exit(EXIT_BLOCK)


def _is_do_not_call(name: str) -> bool:
    """A do-not-call list, or the litigator list (a listed number is not called); the other
    attribute lists say what a number is (wireless, ported), not that it is not called."""
    return not name.startswith("attr-") or name == LITIGATOR_LIST


@dnc.command("status")
@click.option("--json", "as_json", is_flag=True, help="Every list's versions as JSON.")
@click.pass_obj
def status(state: CliState, as_json: bool) -> None:
    """Lists, current versions, counts, coverage and ages."""
    now = datetime.now(UTC)
    # Each copy's age on the date its freshness rules judge it on (a state's list: the
    # state's date, as the gate and /readyz judge it); on UTC's, a Florida copy read a day
    # older from 7 p.m. Eastern (hsto23). The national list: the latest date of a called
    # party in the site's regions, as /readyz (heng24). A list of no rule: on UTC's.
    settings = state.settings
    rules = freshness_days({k: settings.packs[k] for k in settings.enabled_packs},
                           settings.regions)

    def list_day(name: str) -> date:
        return max((judged_day(now, zones) for rule, zones in rules
                    if rule.list_name == name), default=now.date())

    def collect(registry: EmbeddedListRegistry | RedisListRegistry) -> dict[str, Any]:
        rows: list[dict[str, Any]] = []
        for name in registry.names():
            snapshot = registry.snapshot(name)
            assert snapshot is not None
            meta = snapshot.meta
            rows.append({
                "list": name, "version": meta.version, "count": meta.count,
                "published": meta.published.isoformat() if meta.published else None,
                "age_days": ((list_day(name) - meta.published).days
                             if meta.published else None),
                "covers": "all" if meta.area_codes is None else sorted(meta.area_codes),
                "source": meta.source,
            })
        return {"lists": rows, "errors": dict(registry.errors)}

    data = run(_with_registry(state.settings, collect))
    settings = state.settings
    have = {row["list"] for row in data["lists"]}
    # The lists the gate reads that have no version: every call they cover is BLOCKed
    # (the optional attribute lists are `attributes status`'s; [lists] not_loaded is on
    # purpose).
    data["missing"] = [{"list": name, "read_by": packs} for name, packs
                       in missing_lists(settings, have).items()]
    # ... and those absent on purpose (a dropped state's list): said, not hidden (hsto22)
    data["not_loaded"] = [{"list": name, "read_by": packs} for name, packs
                          in sorted(lists_read(settings).items())
                          if name not in have and name in settings.lists_not_loaded]
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
    out = console()
    where = ("Redis" if settings.lists_backend == "redis"
             else f"data dir {settings.data_dir}")
    if data["lists"]:
        out.print(table)
    else:  # an empty table reads as a fault of the command, not of the data dir
        out.print(f"no list imported in {where}", highlight=False)
    for name, error in data["errors"].items():
        out.print(f"[red]{escape(f'{name}: {error}')}[/]", highlight=False)
    for row in data["missing"]:
        out.print(f"[red]{escape(row['list'])}: no version[/] (read by "
                  f"{escape(', '.join(row['read_by']))}): every call it covers is BLOCKed; "
                  f"import it with `{escape(invocation(settings))} "
                  f"{escape(import_command(row['list']))} --published DATE --covers ...`",
                  highlight=False)
    for row in data["not_loaded"]:
        out.print(escape(f"{row['list']}: not loaded on purpose ([lists] not_loaded; read by "
                         f"{', '.join(row['read_by'])}): calls they reach by area code or "
                         "CRM location are BLOCKed naming it"), highlight=False)
