"""``callguard demo``: a newcomer's first run — demo lists, records and ten decisions.

Instants are chosen relative to today (the lists are published today, and a list older
than 31 days would block every call), on the next day Utah allows calls (not a Sunday or
legal holiday; a Saturday counts).

It always runs on the bundled demo configuration: its cases name the demo's campaigns
(``ut-solar-manual``, ...), and a site's configuration (``--config``, or the
``CALLGUARD_CONFIG`` that callguard-admin sets) turned every case into a BLOCK
``callguard:unknown-campaign`` under the demo's labels.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import click
from rich.markup import escape
from rich.table import Table

from callguard.cli import output
from callguard.cli.common import CliState, run, usage_error
from callguard.cli.ownership import announce, root_trap
from callguard.compliance.sinks import LogSettings
from callguard.config import Settings, load_settings
from callguard.datadir import resolved_path
from callguard.decision import Decision
from callguard.errors import ConfigError
from callguard.gate import CheckRequest, Gate
from callguard.policy import ConsentKind, ConsentRecord
from callguard.policy.calendar import Calendar
from callguard.resources import bundled_config, demo_list
from callguard.runtime import Runtime, open_runtime
from callguard.stores.embedded.lists import write_version
from callguard.stores.list_files import parse_list_file
from callguard.stores.redis.records import RecordsSettings
from callguard.stores.writes import AddCompanyDnc, AddConsent
from callguard.utc import zone_info

__all__ = ["demo"]

_DENVER = zone_info("America/Denver")


def _utah_calendar(settings: Settings) -> Calendar | None:
    """The Utah legal-holiday calendar of the us-ut pack (63G-1-301), when loaded."""
    pack = settings.packs.get("us-ut")
    return pack.calendars.get("us-ut:legal-holidays") if pack else None


def _holiday(calendar: Calendar | None, day: date) -> bool:
    found = calendar.holidays_on(day) if calendar else ()
    return found is None or any(h.name != "Sunday" for h in found)


def _next_day(today: date, *, sunday: bool, calendar: Calendar | None) -> date:
    day = today + timedelta(days=1)
    while (day.weekday() == 6) != sunday or _holiday(calendar, day):
        day += timedelta(days=1)
    return day


def _at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), _DENVER)


def _ask(number: str, campaign: str, at: datetime) -> CheckRequest:
    """A question (``places_call`` false, as `check --at`): the demo dials no one. Logged
    as calls, its ten answers were ten calls in `report` of any data dir it ran in."""
    return CheckRequest(number, campaign, at=at, places_call=False)


def _cases(today: date, calendar: Calendar | None) -> list[tuple[str, CheckRequest]]:
    work = _next_day(today, sunday=False, calendar=calendar)
    sunday = _next_day(today, sunday=True, calendar=calendar)
    manual, predictive = "ut-solar-manual", "ut-solar-predictive"
    morning = _at(work, 10, 30)
    return [
        ("manual call, 10:30, unlisted", _ask("801-555-0142", manual, morning)),
        ("number on the national registry", _ask("8015550199", manual, morning)),
        ("08:30: federal and Utah allow, H.B. 45 says 9 a.m.",
         _ask("(801) 555-0142", manual, _at(work, 8, 30))),
        ("Sunday in Utah", _ask("8015550142", manual, _at(sunday, 12))),
        ("predictive, no written consent",
         _ask("8015550142", predictive, _at(work, 11))),
        ("predictive, written consent on record",
         _ask("+1 801 555 0177", predictive, _at(work, 11))),
        ("asked the seller not to call", _ask("8015550166", manual, _at(work, 11))),
        ("toll-free: local time unknown", _ask("8005550100", manual, _at(work, 11))),
        ("list does not cover area code 303", _ask("3035550142", manual, _at(work, 11))),
        ("not a dialable number", _ask("555-0123", manual, _at(work, 11))),
    ]


async def _prepare(gate: Gate, solicitor: str, today: date) -> None:
    granted = datetime.combine(today - timedelta(days=30), time(), UTC)
    await gate.write([
        AddConsent(solicitor, "+18015550177", ConsentRecord(ConsentKind.WRITTEN, granted),
                   "demo", "demo-form-0177"),
        AddCompanyDnc(solicitor, "+18015550166", datetime.now(UTC), "demo"),
    ])


async def _decide_all(runtime: Runtime, today: date) -> list[tuple[str, Decision]]:
    await runtime.start_deciding()
    try:
        await _prepare(runtime.gate, "beehive-solar", today)
        cases = _cases(today, _utah_calendar(runtime.settings))
        return [(label, await runtime.gate.check(request)) for label, request in cases]
    finally:
        await runtime.aclose()


# Written into every directory the demo uses: the demo publishes its own lists (a serving
# node would reload them), so it writes only where it wrote before or where nothing is.
DEMO_MARKER = ".callguard-demo"


def _demo_dir_or_exit(path: Path) -> None:
    """Refuse a directory that holds anything the demo did not make (a node's data dir)."""
    if not path.exists() or (path / DEMO_MARKER).exists():
        return
    if not path.is_dir():
        usage_error(f"--data-dir {path} is not a directory")
    held = sorted(p.name for p in path.iterdir())
    if held:
        usage_error(f"--data-dir {path} is not a demo directory: it holds "
                    f"{', '.join(held[:5])}{' ...' if len(held) > 5 else ''}; the demo "
                    "publishes its own lists and records there (a node serving it would "
                    "use them). Give a new or empty directory")


def _demo_settings(state: CliState) -> tuple[Settings, Path | None]:
    """The bundled demo configuration's settings, and the site configuration given instead
    (None when none was): the demo's cases need the demo's campaigns."""
    chosen = state.config_option or os.environ.get("CALLGUARD_CONFIG")
    if not chosen or Path(chosen).resolve() == bundled_config().resolve():
        return state.settings, None
    return load_settings(bundled_config()), Path(chosen)


@click.command()
@click.option("--data-dir", "data_dir", type=click.Path(path_type=Path),
              help="Keep the demo data here (a new, empty or earlier demo directory); "
                   "default: a fresh temporary directory.")
@click.pass_obj
def demo(state: CliState, data_dir: Path | None) -> None:
    """Import the demo lists, record demo consent, and show ALLOW and BLOCK decisions.

    The demo writes its own directory: --data-dir, given after demo or before it
    (callguard --data-dir DIR demo, the form its "try:" line prints), else a fresh
    temporary one; never the one CALLGUARD_DATA_DIR names (callguard-admin sets that to
    the service's).
    """
    base, site = _demo_settings(state)
    given = state.data_dir_option
    if data_dir is not None and given is not None and data_dir.resolve() != given.resolve():
        usage_error(f"--data-dir given twice ({given} before demo, {data_dir} after it): "
                    "give one")
    data_dir = data_dir or given
    if data_dir is not None:
        try:  # a link loop: exit 2 with the reason (it was "internal error", exit 3)
            resolved = resolved_path(data_dir, f"--data-dir {data_dir}", "--data-dir")
        except ConfigError as exc:
            usage_error(str(exc))
        refusal = root_trap(replace(base, data_dir=resolved), None)
        if refusal:
            usage_error(refusal)
        _demo_dir_or_exit(data_dir)
    target = data_dir or Path(tempfile.mkdtemp(prefix="callguard-demo-"))
    try:
        target.mkdir(parents=True, exist_ok=True)
        _show(base, site, target, given=data_dir is not None)
    except BaseException:
        # a fresh directory of a demo that failed (or was interrupted) before its "try:"
        # line is no use to anyone: it was left in /tmp on every failed run (hsml27)
        if data_dir is None:
            shutil.rmtree(target, ignore_errors=True)
        raise
    if data_dir is None:  # the "try:" line needs it; it was left behind unsaid
        output.console().print(f"remove when done: rm -r {target.resolve()}",
                               highlight=False)


def _show(base: Settings, site: Path | None, target: Path, *, given: bool) -> None:
    """The demo in ``target``: its lists, records and decisions, and the "try:" line."""
    (target / DEMO_MARKER).touch()
    # The demo writes its lists to disk, so it always runs on the embedded backend.
    settings = replace(base, data_dir=target.resolve(), lists_backend="embedded",
                       log=LogSettings(), records=RecordsSettings(),
                       data_dir_source="demo --data-dir" if given else
                       "demo: a fresh temporary directory")
    announce(settings, "demo", own=True)
    today = datetime.now(_DENVER).date()
    console = output.console()
    if site is not None:
        console.print(f"the demo runs on the bundled demo configuration ({bundled_config()}), "
                      f"not {site}: its cases call the demo's campaigns", highlight=False)
    for name in ("national", "ut-state"):
        parsed = parse_list_file(demo_list(name), max_bad_share=0.5)
        # The demo copy of the national registry speaks for these area codes only, so a
        # call to 303 shows the fail-closed coverage block.
        covers = frozenset({801, 385, 435, 212, 415, 800}) if name == "national" else None
        meta = write_version(settings.data_dir, name, parsed, published=today,
                             area_codes=covers, source=f"{name}.txt")
        shown = f": {'; '.join(parsed.bad_examples)}" if parsed.bad_examples else ""
        console.print(f"imported demo list [bold]{name}[/] v{meta.version}: {meta.count} "
                      f"numbers, {parsed.bad} malformed line(s) reported{escape(shown)}",
                      highlight=False)
    table = Table("case", "verdict", "reason (deciding rule and citation)",
                  title="callguard demo decisions", show_lines=True)
    decided = run(_decide_all(open_runtime(settings), today))
    for label, decision in decided:
        data = decision.to_dict()
        colour = "green" if decision.allowed else "red"
        table.add_row(label, f"[bold {colour}]{data['verdict']}[/]", escape(data["reason"]))
    output.print_table(console, table)
    console.print(f"data dir: {settings.data_dir}  (compliance log: "
                  f"{settings.data_dir / 'compliance.jsonl'})", highlight=False)
    # The first case's instant (10:30 in Denver on a day Utah allows calls): the line
    # answers as the table did whatever the hour, and without the clock ("now", refused
    # while the kernel reports it unsynchronised, as on many VMs and containers).
    morning = decided[0][1].at.astimezone(_DENVER).isoformat()
    named = f"--config {bundled_config()} " if site is not None else ""
    console.print(f"try: callguard {named}--data-dir {settings.data_dir} check 8015550142 "
                  f"--campaign ut-solar-manual --at {morning}", highlight=False)
