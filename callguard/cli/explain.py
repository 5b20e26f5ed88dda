"""``callguard explain DECISION_ID``: one compliance record rendered back in full.

The record is found in the node's log file and its rotated segments (newest first), or
read from standard input (``-``: a record line, e.g. from ``callguard evidence --json``).
Every rule's citation and sentence come from the packs the record names, checked against
the recorded version and digest.
"""

from __future__ import annotations

import gzip
import mmap
import re
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import orjson
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from callguard.cli.common import EXIT_BLOCK, CliState, err_console, usage_error
from callguard.cli.render import print_json
from callguard.compliance.explain import ExplainError, Explanation, explain
from callguard.compliance.sinks import rotated_files
from callguard.errors import ConfigError
from callguard.policy import Pack, pack_from_mapping
from callguard.runtime import log_path

__all__ = ["explain_command"]

_ID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_STYLE = {"pass": "green", "exempt": "yellow", "block": "bold red", "not-applicable": "dim",
          "not-evaluated": "dim"}


def _line_at(data: bytes | mmap.mmap, at: int) -> bytes:
    start = data.rfind(b"\n", 0, at) + 1
    end = data.find(b"\n", at)
    return bytes(data[start:end if end >= 0 else len(data)])


def _find_in(path: Path, needle: bytes) -> dict[str, Any] | None:
    if path.suffix == ".gz":
        with gzip.open(path, "rb") as compressed:
            for line in compressed:
                if needle in line:
                    return _decision(line)
        return None
    if path.stat().st_size == 0:
        return None
    with path.open("rb") as handle, mmap.mmap(handle.fileno(), 0,
                                              access=mmap.ACCESS_READ) as data:
        at = data.find(needle)
        while at >= 0:
            found = _decision(_line_at(data, at))
            if found is not None:
                return found
            at = data.find(needle, at + 1)
    return None


def _decision(line: bytes) -> dict[str, Any] | None:
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    return record if isinstance(record, dict) and record.get("event") == "decision" else None


def _files(path: Path) -> Iterator[Path]:
    if path.exists():
        yield path
    yield from reversed(rotated_files(path))
    yield from sorted(path.parent.glob(path.name + ".*Z.gz"), reverse=True)


def find_record(path: Path, decision_id: str) -> dict[str, Any] | None:
    """The decision record with this id in the log file or its segments, newest first."""
    needle = f'"decision_id":"{decision_id.lower()}"'.encode()
    for candidate in _files(path):
        found = _find_in(candidate, needle)
        if found is not None:
            return found
    return None


def _load_packs(directory: Path) -> dict[str, Pack]:
    if not directory.is_dir():
        usage_error(f"--packs-dir {directory} is not a directory")
    packs: dict[str, Pack] = {}
    for path in sorted(directory.glob("*.toml")):
        try:
            pack = pack_from_mapping(tomllib.loads(path.read_text()), origin=str(path))
        except (tomllib.TOMLDecodeError, ConfigError) as exc:
            usage_error(f"{path}: {exc}")
        packs[pack.id] = pack
    return packs


def _render(console: Console, done: Explanation) -> None:
    record = done.record
    colour = "green" if record.get("verdict") == "ALLOW" else "red"
    console.print(f"[bold {colour}]{record.get('verdict')}[/]  decision "
                  f"{record.get('decision_id')}", highlight=False)
    console.print(escape(done.reason), highlight=False)
    facts = [
        ("at", f"{record.get('at')} (logged {record.get('logged_at')})"),
        ("front / node", f"{record.get('front')} / {record.get('node')}"),
        ("campaign", f"{record.get('campaign')} (solicitor {record.get('solicitor', '-')}, "
                     f"mode {record.get('mode', '-')})"),
        ("number", f"…{record.get('number_last4', '')} (hash {str(record.get('number_hash'))[:12]}…"
                   f", key {record.get('key_id')})"),
        ("zones", "; ".join(f"{z} ({o}, {t})" for z, o, t in record.get("zones", [])) or "-"),
        ("lists", ", ".join(f"{n} v{v}" for n, v in record.get("lists", {}).items()) or "-"),
    ]
    for key in ("linkedid", "reference"):
        if key in record:
            facts.append((key, str(record[key])))
    facts.extend(("duty", duty) for duty in done.obligations)
    for label, value in facts:
        console.print(f"  [bold]{label}:[/] {escape(value)}", highlight=False)
    for refusal in done.refusals:
        console.print(f"  [bold red]{escape(str(refusal['rule']))}[/]: "
                      f"{escape(str(refusal['reason']))}", highlight=False)
    for pack in done.packs:
        title = (f"{pack.id} {pack.version} (digest {pack.digest}) — {pack.title}: "
                 f"{'applied' if pack.applied else pack.why}")
        if not pack.rules:
            console.print(f"  [dim]{escape(title)}[/]", highlight=False)
            continue
        table = Table(title=escape(title), title_justify="left", show_lines=False)
        for column in ("status", "rule", "citation", "law / this call"):
            table.add_column(column, overflow="fold")
        for rule in pack.rules:
            text = rule.sentence if rule.reason is None else f"{rule.sentence} — {rule.reason}"
            table.add_row(f"[{_STYLE[rule.status]}]{rule.status}[/]", escape(rule.rule),
                          escape(rule.citation), escape(text))
        console.print(table)


@click.command("explain")
@click.argument("decision_id")
@click.option("--file", "file", type=click.Path(path_type=Path),
              help="Log file to search (its rotated segments too); default: the node's.")
@click.option("--packs-dir", type=click.Path(path_type=Path),
              help="Packs the decision was made with; default: the configured packs_dir.")
@click.option("--json", "as_json", is_flag=True, help="Print the explanation as JSON.")
@click.pass_obj
def explain_command(state: CliState, decision_id: str, file: Path | None,
                    packs_dir: Path | None, as_json: bool) -> None:
    """Render DECISION_ID's record in full: every rule, citation and sentence ('-': stdin)."""
    if decision_id == "-":
        record = _decision(sys.stdin.buffer.read().strip())
        if record is None:
            usage_error("standard input is not one decision record (a JSON line)")
    else:
        if not _ID.fullmatch(decision_id):
            usage_error(f"{decision_id!r} is not a decision id (a UUID)")
        path = file or log_path(state.settings)
        if path is None:
            usage_error("the log goes to stdout ([log] file = \"-\"); give --file")
        if file is not None and not file.exists():
            usage_error(f"--file {file} does not exist")
        found = find_record(path, decision_id)
        if found is None:
            err_console.print(f"[red]not found:[/red] no decision {escape(decision_id)} in "
                              f"{escape(str(path))} or its rotated segments", highlight=False)
            sys.exit(EXIT_BLOCK)
        record = found
    packs = _load_packs(packs_dir) if packs_dir else dict(state.settings.packs)
    try:
        done = explain(record, packs)
    except (ExplainError, KeyError, ValueError, TypeError) as exc:
        err_console.print(f"[red]cannot explain:[/red] {escape(str(exc))}", highlight=False)
        sys.exit(EXIT_BLOCK)
    if as_json:
        print_json(done.to_dict())
    else:
        _render(Console(), done)
