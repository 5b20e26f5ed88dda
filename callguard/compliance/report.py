"""Totals of decisions by verdict, rule and campaign, and a self-contained HTML chart.

The chart is plain inline SVG in one HTML file: no script, no network, so a supervisor
can open it anywhere and a compliance officer can attach it to a file.
"""

from __future__ import annotations

import html
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

__all__ = ["Totals", "render_html", "tally"]


@dataclass(slots=True)
class Totals:
    """Counts over the decision records of a time range."""

    decisions: int = 0
    by_verdict: Counter[str] = field(default_factory=Counter)
    by_rule: Counter[str] = field(default_factory=Counter)
    by_campaign: Counter[str] = field(default_factory=Counter)
    by_campaign_verdict: Counter[tuple[str, str]] = field(default_factory=Counter)
    by_hour: Counter[str] = field(default_factory=Counter)
    first: str | None = None
    last: str | None = None


def tally(records: Iterable[dict[str, object]]) -> Totals:
    """Count the ``decision`` records; other events (record changes) are left out."""
    totals = Totals()
    for record in records:
        if record.get("event") != "decision":
            continue
        verdict = str(record.get("verdict"))
        campaign = str(record.get("campaign"))
        totals.decisions += 1
        totals.by_verdict[verdict] += 1
        totals.by_campaign[campaign] += 1
        totals.by_campaign_verdict[(campaign, verdict)] += 1
        if verdict == "BLOCK":
            totals.by_rule[str(record.get("rule"))] += 1
        logged = str(record.get("logged_at", ""))
        totals.by_hour[logged[:13]] += 1
        totals.first = min(totals.first or logged, logged)
        totals.last = max(totals.last or logged, logged)
    return totals


_COLOURS = {"ALLOW": "#2e7d32", "BLOCK": "#c62828"}


def _bars(title: str, rows: list[tuple[str, int]], colour: str = "#1565c0") -> str:
    if not rows:
        return f"<h2>{html.escape(title)}</h2><p>none</p>"
    top = max(count for _, count in rows) or 1
    height = 24 * len(rows) + 10
    parts = [f'<h2>{html.escape(title)}</h2><svg width="900" height="{height}" '
             'xmlns="http://www.w3.org/2000/svg" font-family="sans-serif" font-size="13">']
    for index, (label, count) in enumerate(rows):
        y = 5 + index * 24
        width = max(1, round(500 * count / top))
        fill = _COLOURS.get(label, colour)
        parts.append(f'<text x="0" y="{y + 15}">{html.escape(label[:48])}</text>'
                     f'<rect x="330" y="{y}" width="{width}" height="18" fill="{fill}"/>'
                     f'<text x="{336 + width}" y="{y + 15}">{count}</text>')
    parts.append("</svg>")
    return "".join(parts)


def render_html(totals: Totals, *, since: datetime | None, until: datetime | None,
                generated: datetime) -> str:
    """One HTML page with a bar chart per dimension."""
    span = f"{since.isoformat() if since else 'the beginning'} to " \
           f"{until.isoformat() if until else 'now'}"
    sections = [
        _bars("Decisions by verdict", totals.by_verdict.most_common()),
        _bars("Blocks by deciding rule", totals.by_rule.most_common()),
        _bars("Decisions by campaign", totals.by_campaign.most_common()),
        _bars("Decisions per hour (UTC)", sorted(totals.by_hour.items())),
    ]
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>callguard report</title>"
        "<style>body{font-family:sans-serif;margin:2em}h2{margin-top:1.5em}</style></head>"
        f"<body><h1>callguard compliance report</h1><p>{totals.decisions} decisions, "
        f"{html.escape(span)}; generated {html.escape(generated.isoformat())}. "
        "Numbers never appear in this report.</p>"
        + "".join(sections) + "</body></html>"
    )
