"""Decisions for people (rich) and for machines (JSON)."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table

from callguard.decision import Decision

__all__ = ["print_decision", "print_json"]

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
    console.print(f"[dim]packs: {escape(packs)}[/]", highlight=False)
