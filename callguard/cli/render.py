"""Decisions for people (rich) and for machines (JSON)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table

from callguard.decision import Decision

__all__ = ["called_party_times", "print_decision", "print_json"]

_STATUS_STYLE = {"pass": "green", "exempt": "yellow", "block": "bold red",
                 "not-applicable": "dim"}


def print_json(data: Any) -> None:
    """One JSON document on stdout."""
    print(json.dumps(data, indent=2))  # noqa: T201 - the CLI's machine output


def print_decision(console: Console, decision: Decision, *, detail: bool = True) -> None:
    """The verdict, its reason, and (with detail) every rule's outcome."""
    data = decision.to_dict()
    colour = "green" if decision.allowed else "red"
    # escaped: a reason names a redacted number as "[number …0142]", which rich would read
    # as markup and drop (and what a user typed is never markup either)
    header = (f"[bold {colour}]{data['verdict']}[/]  {escape(str(data['number']))}  campaign "
              f"{escape(str(data['campaign']))}")
    if data["mode"]:
        header += f"  ({data['mode']})"
    lines = [header, escape(data["reason"])]
    if data["local_times"]:
        lines.append("local time: " + "; ".join(
            f"{t['local'][11:16]} {t['zone']}" for t in data["local_times"]))
    if data["lists"]:
        lines.append("lists: " + ", ".join(f"{x['name']} v{x['version']}" for x in data["lists"]))
    lines.append(f"decision {data['decision_id']}")
    console.print(Panel("\n".join(lines), border_style=colour, expand=False), highlight=False)
    if not detail:
        return
    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    table.add_column("rule")
    table.add_column("outcome")
    table.add_column("reason", overflow="fold")
    for outcome in data["outcomes"]:
        style = _STATUS_STYLE[outcome["status"]]
        table.add_row(escape(outcome["rule"]), f"[{style}]{outcome['status']}[/]",
                      escape(outcome["reason"]))
    console.print(table, highlight=False)
    packs = "; ".join(f"{p['id']} {p['version']}: {'applies' if p['applies'] else 'skipped'}"
                      f" ({p['why']})" for p in data["packs"])
    # refused before any pack was read (a number that is not dialable, an unknown
    # campaign): "packs: " and nothing read as a display fault
    packs = packs or f"none read (decided by {data['rule']} before any pack)"
    console.print(f"[dim]packs: {escape(packs)}[/]", highlight=False)


def called_party_times(record: Mapping[str, Any]) -> str:
    """The decision's instant in each zone it was judged in, with the zone's offset as the
    record states it ("2026-12-07 10:00 -07:00 America/Denver"): the time the calling-hour
    rules read, which the UTC instant alone leaves the reader to work out."""
    try:
        at = datetime.fromisoformat(str(record.get("at")))
    except ValueError:
        return ""
    out = []
    for zone in record.get("zones") or []:
        if not (isinstance(zone, list) and len(zone) >= 2):
            continue
        try:
            offset = datetime.strptime(str(zone[1]), "%z").utcoffset()
        except ValueError:
            continue
        if offset is not None:
            local = at.astimezone(timezone(offset))
            out.append(f"{local:%Y-%m-%d %H:%M} {zone[1]} {zone[0]}")
    return "; ".join(out) or "unknown (no zone on record)"
