"""``callguard packs check FILE`` and ``callguard packs show ID``: the law as data, read back.

``check`` loads one pack file against the closed schema (every key, type and range), runs
the statute cases beside it, and lists what is about to run out; ``show`` prints a
configured pack as it applies on a date: each rule's citation, the parameters in force and
their version, the interpretive notes, the readings the site chose, the calendar's days.
"""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.markup import escape

from callguard.case_files import CASES_SUFFIX, cases_beside, read_suite
from callguard.cli import output
from callguard.cli.common import EXIT_BLOCK, CliState, parse_date, usage_error
from callguard.cli.render import print_json
from callguard.config import load_pack_file
from callguard.errors import ConfigError
from callguard.policy import Pack
from callguard.policy.cases import run_case
from callguard.policy.expiry import expiry_warnings

__all__ = ["packs"]


@click.group()
def packs() -> None:
    """Jurisdiction packs: check a pack file, show a configured pack."""


def _no_cases(console: Console, what: str, *, accepted: bool) -> int:
    """A pack with no statute cases proves nothing: 1 failure unless the admin accepts it."""
    if accepted:
        console.print(f"[yellow]no statute cases[/yellow]: {escape(what)}; accepted "
                      "(--allow-no-cases): nothing about this pack was tested",
                      highlight=False)
        return 0
    console.print(f"[red]no statute cases[/red]: {escape(what)}; a pack with no cases "
                  "proves nothing (pass --allow-no-cases to accept it untested)",
                  highlight=False)
    return 1


def _run_cases(console: Console, path: Path, *, allow_no_cases: bool) -> int:
    """Run one cases file; print failures; return how many failed (an empty file is one)."""
    try:
        suite = read_suite(path)
    except ConfigError as exc:
        usage_error(f"statute cases: {exc}")
    if not suite.cases:
        return _no_cases(console, f"{path.name} holds no case", accepted=allow_no_cases)
    failed = 0
    for case in suite.cases:
        result = run_case(suite, case)
        if result.passed:
            continue
        failed += 1
        console.print(f"[red]FAIL[/red] {escape(case.name)}", highlight=False)
        for problem in result.problems:
            console.print(f"  {escape(problem)}", highlight=False)
        console.print(f"  words: {escape(case.words)}", highlight=False)
        console.print(f"  reason: {escape(result.verdict.reason)}", highlight=False)
    passed = len(suite.cases) - failed
    colour = "green" if not failed else "red"
    console.print(f"statute cases {path.name}: [{colour}]{passed} of {len(suite.cases)} "
                  f"pass[/{colour}]", highlight=False)
    return failed


@packs.command("check")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--on", "on_text", metavar="DATE", help="Date for the expiry warnings; default "
              "today (UTC).")
@click.option("--within-days", type=click.IntRange(min=0), default=30, show_default=True,
              help="Warn about what ends within this many days.")
@click.option("--allow-no-cases", is_flag=True, help="Accept a pack with no statute cases "
              "(no cases file beside it, or one with no case): exit 0 with a warning "
              "instead of 1.")
def check_pack(file: Path, on_text: str | None, within_days: int,
               allow_no_cases: bool) -> None:
    """Check a pack FILE (every key, type, range) and run the statute cases beside it.

    Exit 0: valid and every case passes; 1: a case fails, or there is no case (unless
    --allow-no-cases); 2: the file is refused. A FILE ending in .tests.toml runs those
    cases against the packs they name.
    """
    console = output.console()
    # a mistyped --on is refused before anything is said ("valid ..." then exit 2 read as
    # a verdict on the pack), and before the cases run
    today = parse_date("--on", on_text) if on_text else datetime.now(UTC).date()
    if file.name.endswith(CASES_SUFFIX):
        failed = _run_cases(console, file, allow_no_cases=allow_no_cases)
        sys.exit(EXIT_BLOCK if failed else 0)
    try:
        pack = load_pack_file(file)
    except ConfigError as exc:
        usage_error(f"pack refused: {exc}")
    console.print(f"[green]valid[/green] {escape(_summary(pack))}", highlight=False)
    for warning in expiry_warnings({pack.id: pack}, today, within_days):
        console.print(f"[yellow]warning[/yellow] {escape(warning.message)}", highlight=False)
    cases = cases_beside(file)
    if cases is None:
        failed = _no_cases(console, f"{file.stem}{CASES_SUFFIX} is missing beside the pack",
                           accepted=allow_no_cases)
    else:
        failed = _run_cases(console, cases, allow_no_cases=allow_no_cases)
    sys.exit(EXIT_BLOCK if failed else 0)


def _summary(pack: Pack) -> str:
    until = f" until {pack.effective_until}" if pack.effective_until else ""
    return (f"{pack.id} {pack.version} ({pack.kind}): {len(pack.rules)} rules, "
            f"{len(pack.calendars)} calendar(s), {len(pack.interpretations)} "
            f"interpretation(s), in force from {pack.effective_from}{until}")


def _pack_data(pack: Pack, on: date) -> dict[str, Any]:
    """Everything ``show`` prints, as data (also the --json form)."""
    rules = []
    for versioned in pack.versioned:
        current = versioned.on(on)
        rules.append({
            "id": versioned.rule_id, "kind": versioned.kind,
            "citation": current.rule.citation, "source": current.source,
            "modes": sorted(m.value for m in current.rule.modes),
            "version": current.rule.version,
            "parameters": {k: _plain(v) for k, v in sorted(current.params.items())
                           if k not in ("kind", "id", "citation", "source", "modes", "notes")},
            "notes": list(current.params.get("notes", [])),
            "amendments": [v.effective_from.isoformat() for v in versioned.versions[1:]],
        })
    return {
        "id": pack.id, "kind": pack.kind, "version": pack.version, "title": pack.title,
        "effective_from": pack.effective_from.isoformat(),
        "effective_until": pack.effective_until.isoformat() if pack.effective_until else None,
        "succeeds": pack.succeeds, "source": pack.source, "notes": list(pack.notes),
        "on": on.isoformat(), "in_effect": pack.in_effect(on),
        "scope": {"always": pack.scope.always, "called_party_state": pack.scope.state,
                  "called_party_area_codes": sorted(pack.scope.area_codes),
                  "origin_states": sorted(pack.scope.origin_states),
                  "notes": list(pack.scope.notes)},
        "rules": rules,
        "interpretations": [{
            "id": i.id, "question": i.question, "default": i.default, "chosen": i.chosen,
            "options": dict(i.options), "notes": list(i.notes)} for i in pack.interpretations],
        "calendars": [{
            "id": c.id, "title": c.title, "citation": c.citation, "notes": list(c.notes),
            "versions": [{"effective_from": v.effective_from.isoformat(),
                          "effective_until": (v.effective_until.isoformat()
                                              if v.effective_until else None),
                          "source": v.source, "notes": list(v.notes)} for v in c.versions],
            "holidays": [{"date": h.day.isoformat(), "name": h.name, "citation": h.citation,
                          "moved_from": h.moved_from.isoformat() if h.moved_from else None}
                         for h in c.holidays_in(on.year)],
        } for c in pack.calendars.values()],
        "obligations": [{"kind": o.kind, "seconds": o.seconds, "rings": o.rings,
                         "modes": sorted(m.value for m in o.modes), "citation": o.citation,
                         "source": o.source, "notes": list(o.notes)} for o in pack.obligations],
    }


def _plain(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _printer(console: Console) -> Any:
    def line(text: str = "") -> None:
        console.print(escape(text), highlight=False, soft_wrap=True)
    return line


def _print_head(line: Any, data: dict[str, Any]) -> None:
    until = f" until {data['effective_until']}" if data["effective_until"] else ""
    line(f"{data['id']} {data['version']} — {data['title']}")
    line(f"  {data['kind']}; in force from {data['effective_from']}{until}; on {data['on']}: "
         f"{'in force' if data['in_effect'] else 'NOT in force'}")
    line(f"  source: {data['source']}")
    for note in data["notes"]:
        line(f"  note: {note}")
    scope = data["scope"]
    where = ("every call" if scope["always"] else
             f"called party in {scope['called_party_state']} (area codes "
             f"{', '.join(map(str, scope['called_party_area_codes']))}); origin states "
             f"{', '.join(scope['origin_states']) or 'none'}")
    line(f"  scope: {where}")
    for note in scope["notes"]:
        line(f"    note: {note}")


def _print_rules(line: Any, data: dict[str, Any]) -> None:
    for rule in data["rules"]:
        line()
        line(f"{rule['id']}  [{rule['kind']}]  {rule['citation']}")
        line(f"  source: {rule['source']}")
        line(f"  modes: {', '.join(rule['modes'])}; parameters in force on {data['on']} "
             f"(version {rule['version']}): {rule['parameters'] or 'none'}")
        if rule["amendments"]:
            line(f"  amendments from: {', '.join(rule['amendments'])}")
        for note in rule["notes"]:
            line(f"  note: {note}")


def _print_interpretations(line: Any, data: dict[str, Any]) -> None:
    for item in data["interpretations"]:
        line()
        chosen = ("default" if item["chosen"] == item["default"]
                  else f"CHOSEN BY THIS SITE (default {item['default']})")
        line(f"interpretation {item['id']}: {item['question']}")
        for option, meaning in item["options"].items():
            if option == item["chosen"]:
                line(f"  -> {option}: {meaning} [{chosen}]")
            else:
                line(f"     {option}: {meaning}")
        for note in item["notes"]:
            line(f"  note: {note}")


def _print_calendars(line: Any, data: dict[str, Any]) -> None:
    for calendar in data["calendars"]:
        line()
        line(f"calendar {calendar['id']} — {calendar['title']} ({calendar['citation']})")
        for version in calendar["versions"]:
            until = f" until {version['effective_until']}" if version["effective_until"] else ""
            line(f"  version from {version['effective_from']}{until}: {version['source']}")
            for note in version["notes"]:
                line(f"    note: {note}")
        for note in calendar["notes"]:
            line(f"  note: {note}")
        line(f"  legal holidays in {data['on'][:4]} (besides every Sunday):")
        for holiday in calendar["holidays"]:
            moved = f", moved from {holiday['moved_from']}" if holiday["moved_from"] else ""
            line(f"    {holiday['date']} {holiday['name']} ({holiday['citation']}{moved})")


def _print_obligations(line: Any, data: dict[str, Any]) -> None:
    for obligation in data["obligations"]:
        line()
        rings = f" / {obligation['rings']} rings" if obligation["rings"] else ""
        line(f"obligation {obligation['kind']}: {obligation['seconds']:g} s{rings} "
             f"({', '.join(obligation['modes'])}) — {obligation['citation']}")
        for note in obligation["notes"]:
            line(f"  note: {note}")


def _print_pack(console: Console, data: dict[str, Any]) -> None:
    line = _printer(console)
    for part in (_print_head, _print_rules, _print_interpretations, _print_calendars,
                 _print_obligations):
        part(line, data)


@packs.command("show")
@click.argument("pack_id", metavar="ID")
@click.option("--on", "on_text", metavar="DATE", help="Show the parameters in force on this "
              "date; default today (UTC).")
@click.option("--json", "as_json", is_flag=True, help="The pack as JSON.")
@click.pass_obj
def show_pack(state: CliState, pack_id: str, on_text: str | None, as_json: bool) -> None:
    """Show a configured pack: rules, citations, parameters in force, notes, readings."""
    settings = state.settings
    pack = settings.packs.get(pack_id)
    if pack is None:
        usage_error(f"unknown pack {pack_id!r}; configured: {', '.join(sorted(settings.packs))}")
    on = parse_date("--on", on_text) if on_text else datetime.now(UTC).date()
    data = _pack_data(pack, on)
    data["enabled"] = pack_id in settings.enabled_packs
    if as_json:
        print_json(data)
        return
    _print_pack(output.console(), data)
