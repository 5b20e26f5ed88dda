"""``callguard scrub``: the daily pre-dial scrub of a lead file through the full gate.

Every row is decided exactly as a live call would be (same gate, same compliance record),
at the instant the calls are planned for. The output CSV is the input plus verdict, rule,
reason, decision id and the list versions read (do-not-call and number attribute lists,
``callguard_lists``); a malformed row is reported and written with a BLOCK, never skipped.
"""

from __future__ import annotations

import asyncio
import csv
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, ProgressColumn, Task, TextColumn
from rich.table import Table
from rich.text import Text

from callguard.cli.common import CliState, campaign_or_exit, parse_instant, run, usage_error
from callguard.decision import Decision
from callguard.gate import CheckRequest
from callguard.policy import DialingMode

__all__ = ["lists_read", "scrub"]

_NUMBER_COLUMNS = ("phone", "number", "telephone", "phone_number", "tel")
_LOCATION_COLUMNS = ("zip", "postal_code", "zipcode", "tz", "time_zone", "timezone")
ADDED = ("callguard_verdict", "callguard_rule", "callguard_reason", "callguard_decision_id",
         "callguard_lists")
_WINDOW = 256  # rows decided together (the output keeps the input's order)


def _write_row(writer: Any, header: list[str], row: list[str], decision: Decision,
               verdicts: Counter[str], rules: Counter[str]) -> None:
    deciding = decision.verdict.deciding
    rule = deciding.rule_id if deciding else ""
    verdicts[decision.verdict.verdict] += 1
    rules[rule or "ALLOW"] += 1
    padded = (row + [""] * len(header))[:len(header)]
    writer.writerow([*padded, decision.verdict.verdict, rule, decision.verdict.reason,
                     decision.decision_id, lists_read(decision)])


def lists_read(decision: Decision) -> str:
    """``attr-wireless v3; national v12``: every list version the decision read (do-not-call
    and number attribute lists alike), as in its compliance record's ``lists``."""
    return "; ".join(f"{name} v{version}" for name, version in decision.verdict.lists)


class _RowRate(ProgressColumn):
    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.0f} rows/s" if speed else "", style="progress.data.speed")


def _pick(fields: list[str], wanted: str | None, candidates: tuple[str, ...],
          what: str, *, required: bool) -> str | None:
    if wanted is not None:
        if wanted not in fields:
            usage_error(f"--{what}-column {wanted!r} is not a column; columns: {fields}")
        return wanted
    lowered = {f.lower(): f for f in fields}
    for name in candidates:
        if name in lowered:
            return lowered[name]
    if required:
        usage_error(f"no {what} column found (looked for {', '.join(candidates)}); "
                    f"name it with --{what}-column")
    return None


@click.command()
@click.argument("leads", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option("--campaign", required=True)
@click.option("--at", "at_text", required=True, metavar="ISO-8601",
              help="When the calls will be placed (with UTC offset).")
@click.option("--mode", type=click.Choice([m.value for m in DialingMode]))
@click.option("--output", type=click.Path(path_type=Path),
              help="Output CSV; default: LEADS with .scrubbed.csv.")
@click.option("--number-column", help="Column holding the phone number.")
@click.option("--location-column", help="Column holding a ZIP code or IANA time zone.")
@click.pass_obj
def scrub(state: CliState, leads: Path, campaign: str, at_text: str, mode: str | None,
          output: Path | None, number_column: str | None,
          location_column: str | None) -> None:
    """Decide every row of LEADS for CAMPAIGN at --at; write verdicts and a summary."""
    at = parse_instant(at_text)
    campaign_or_exit(state.settings, campaign)
    target = output or leads.with_suffix(".scrubbed.csv")
    header, rows = _read(leads)
    number_col = _pick(header, number_column, _NUMBER_COLUMNS, "number", required=True)
    location_col = _pick(header, location_column, _LOCATION_COLUMNS, "location",
                         required=False)
    number_index = header.index(number_col) if number_col else 0
    location_index = header.index(location_col) if location_col else None
    runtime = state.runtime()
    err = Console(stderr=True)
    verdicts: Counter[str] = Counter()
    rules: Counter[str] = Counter()
    malformed: list[str] = []

    async def go() -> None:
        await runtime.start()
        try:
            with target.open("w", newline="", encoding="utf-8") as out, Progress(
                    TextColumn("scrubbing"), BarColumn(), TextColumn("{task.completed:,}/"
                    "{task.total:,} rows"), _RowRate(), console=err) as progress:
                writer = csv.writer(out)
                writer.writerow([*header, *ADDED])
                task = progress.add_task("scrub", total=len(rows))

                def request(row: list[str]) -> CheckRequest:
                    number = row[number_index] if number_index < len(row) else ""
                    location = (row[location_index] if location_index is not None
                                and location_index < len(row) else None)
                    return CheckRequest(number=number, campaign=campaign, mode=mode, at=at,
                                        location=location or None, front="scrub")

                # Rows are decided _WINDOW at a time: their compliance records share one
                # write (and one fdatasync under [log] durability = "group").
                for first in range(0, len(rows), _WINDOW):
                    window = rows[first:first + _WINDOW]
                    decisions = await asyncio.gather(
                        *(runtime.gate.check(request(row)) for row in window))
                    for line, row, decision in zip(range(first + 2, first + 2 + len(window)),
                                                   window, decisions, strict=True):
                        if len(row) != len(header):
                            malformed.append(f"line {line}: {len(row)} fields, header has "
                                             f"{len(header)}")
                        _write_row(writer, header, row, decision, verdicts, rules)
                        progress.advance(task)
        finally:
            await runtime.aclose()

    run(go())
    title = f"scrub of {leads.name} for {campaign} at {at.isoformat()}"
    _summary(err, title, verdicts, rules, malformed)
    err.print(f"wrote {target} ({len(rows):,} rows)", highlight=False)
    sys.exit(0)


def _read(leads: Path) -> tuple[list[str], list[list[str]]]:
    with leads.open(newline="", encoding="utf-8", errors="replace") as handle:
        reader = csv.reader(handle)
        try:
            header = next(reader)
        except StopIteration:
            usage_error(f"{leads} is empty")
        return header, list(reader)


def _summary(err: Console, title: str, verdicts: Counter[str], rules: Counter[str],
             malformed: list[str]) -> None:
    table = Table("verdict / deciding rule", "rows", title=title)
    for verdict, count in verdicts.most_common():
        table.add_row(f"[bold]{verdict}[/]", f"{count:,}")
    for rule, count in rules.most_common():
        if rule != "ALLOW":
            table.add_row(f"  {rule}", f"{count:,}")
    err.print(table)
    for problem in malformed[:20]:
        err.print(f"[yellow]malformed {problem}[/] (decided and written, not skipped)",
                  highlight=False)
