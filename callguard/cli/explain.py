"""``callguard explain DECISION_ID``: one compliance record rendered back in full.

The record is found in the node's log file and its rotated segments (newest first), the
archive, or with ``[log] redis_stream`` the stream after the archive's position (another
node's decision not archived yet), or read from standard input (``-``: a record line,
e.g. from ``callguard evidence --json``).
Every rule's citation and sentence come from the packs the record names, checked against
the recorded version and digest.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

import click
import orjson
from rich.console import Console
from rich.markup import escape
from rich.text import Text

from callguard.cli.common import (
    EXIT_BLOCK,
    CliState,
    err_console,
    log_to_read_or_exit,
    usage_error,
)
from callguard.cli.logs import NOTHING_RECORDED_YET, place_or_exit
from callguard.cli.output import console
from callguard.cli.render import called_party_times, print_json
from callguard.compliance.explain import ExplainError, Explanation, explain
from callguard.compliance.reader import ReadStats, RecordFilter, log_exists, newest_first
from callguard.config import load_pack_file, pack_files
from callguard.errors import ConfigError
from callguard.policy import Pack
from callguard.runtime import log_path

__all__ = ["explain_command"]

_ID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_STYLE = {"pass": "green", "exempt": "yellow", "block": "bold red", "not-applicable": "dim",
          "not-evaluated": "dim"}


def _decision(line: bytes) -> dict[str, Any] | None:
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    return record if isinstance(record, dict) and record.get("event") == "decision" else None


def find_record(path: Path, decision_id: str) -> dict[str, Any] | None:
    """The decision record with this id in the log file or its closed segments (plain or
    compressed), newest first, read as ``tail`` reads them."""
    wanted = RecordFilter(event="decision", decision_id=decision_id.lower())
    return next(newest_first(path, wanted, ReadStats()), None)


@dataclass(frozen=True, slots=True)
class _Withdrawing(RecordFilter):
    """The decision that withdrew ``withdraws`` (a BLOCK naming it: FastAGI saw the
    channel hang up while the ALLOW was answered; the call was not placed on it)."""

    withdraws: str = ""

    def matches(self, record: dict[str, Any]) -> bool:
        return record.get("event") == "decision" and record.get("withdraws") == self.withdraws

    def needles(self) -> tuple[bytes, ...]:
        return (b'"withdraws":"' + self.withdraws.encode() + b'"',)


def withdrawn_by(path: Path | None, archive: Any, decision_id: str) -> dict[str, Any] | None:
    """The later decision that withdrew this one, in the log (newest first) or the
    archive, or None: `explain` of a withdrawn ALLOW said "Allowed", as if the call had
    been placed on it (`evidence` and `report` say it was withdrawn)."""
    if path is not None and log_exists(path):
        found = next(newest_first(path, _Withdrawing(withdraws=decision_id), ReadStats()),
                     None)
        if found is not None:
            return found
    if archive is None or not archive.exists():
        return None
    from callguard.compliance.archive.evidence import LiveLines, gather  # noqa: PLC0415

    evidence = gather(archive, LiveLines(), decision_id=decision_id)
    by = evidence.withdrawals.get(decision_id)
    return next((dict(d) for d in evidence.decisions if d.get("decision_id") == by), None)


def _archived(archive: Any, decision_id: str) -> dict[str, Any] | None:
    """The decision record with this id in the archive, as it was logged."""
    from callguard.compliance.archive.evidence import LiveLines, gather  # noqa: PLC0415

    found = gather(archive, LiveLines(), decision_id=decision_id.lower())
    return dict(found.decisions[0]) if found.decisions else None


def _streamed(state: CliState, archive: Any, decision_id: str, trimmed: list[str],
              elsewhere: list[str] | None = None,
              ) -> tuple[dict[str, Any] | None, dict[str, Any] | None, str, str | None]:
    """The decision in the Redis stream after the archive's position (another node's,
    not archived yet), the decision that withdrew it, where it was looked for, and why
    the stream could not be read (None: it was); ``trimmed`` gets why a decision may be
    missing from it (trimmed past the archive's position), ``elsewhere`` that entries
    trimmed were the archiver's (in its archive, not read here)."""
    from callguard.cli.evidence import _add_stream  # noqa: PLC0415 - Redis only here
    from callguard.cli.unarchived_stream import StreamUnreadableError  # noqa: PLC0415
    from callguard.compliance.archive.evidence import LiveLines, gather  # noqa: PLC0415

    live = LiveLines()
    note = _add_stream(state, archive, live, trimmed, elsewhere)
    where = (live.sources[0] if live.sources
             else f"the redis stream {state.settings.log.stream_key}")
    if note is not None:
        return None, None, where, note
    try:
        found = gather(archive, live, decision_id=decision_id)
    except StreamUnreadableError as exc:  # Redis lost between two batches: not searched
        return None, None, where, f"Redis was lost while it was read: {exc}"  # (hoff25)
    record = next((dict(d) for d in found.decisions
                   if d.get("decision_id") == decision_id), None)
    by = found.withdrawals.get(decision_id)
    withdrawer = next((dict(d) for d in found.decisions if d.get("decision_id") == by), None)
    return record, withdrawer, where, None


def _load_packs(directory: Path, readings: dict[str, str]) -> dict[str, Pack]:
    """The packs of ``directory``, reading open questions as the record did."""
    if not directory.is_dir():
        usage_error(f"--packs-dir {directory} is not a directory")
    packs: dict[str, Pack] = {}
    for path in pack_files(directory):
        try:
            pack = load_pack_file(path, choices=readings)
        except ConfigError as exc:
            usage_error(str(exc))
        packs[pack.id] = pack
    return packs


def _render(console: Console, done: Explanation, withdrawn: dict[str, Any] | None) -> None:
    record = done.record
    colour = "green" if record.get("verdict") == "ALLOW" else "red"
    console.print(f"[bold {colour}]{record.get('verdict')}[/]  decision "
                  f"{record.get('decision_id')}", highlight=False)
    if withdrawn is not None:
        console.print(f"[bold red]WITHDRAWN[/] {escape(_withdrawn_text(withdrawn))}",
                      highlight=False)
    console.print(escape(done.reason), highlight=False)
    facts = [
        ("at", f"{record.get('at')} (UTC; logged {record.get('logged_at')})"),
        ("called party's local time", called_party_times(record)),
        ("front / node", f"{record.get('front')} / {record.get('node')}"
                         # schema 2: an answer no call was placed on (`check --at`)
                         + (" — a question: no call placed" if record.get("places_call") is False
                            else "")),
        ("campaign", f"{record.get('campaign')} (solicitor {record.get('solicitor', '-')}, "
                     f"mode {record.get('mode', '-')})"),
        # the call centre that placed the call for the seller (absent: the seller itself)
        *([("call centre", f"{record['telemarketer']} (telemarketer, placing the call for "
                           f"solicitor {record.get('solicitor', '-')})")]
          if record.get("telemarketer") else []),
        ("number", f"…{record.get('number_last4', '')} (hash {str(record.get('number_hash'))[:12]}…"
                   f", key {record.get('key_id')})"),
        ("zones", "; ".join(f"{z} ({o}, {t})" for z, o, t in record.get("zones", [])) or "-"),
        ("lists", ", ".join(f"{n} v{v}" for n, v in record.get("lists", {}).items()) or "-"),
    ]
    for key in ("linkedid", "reference", "withdraws"):
        if key in record:
            facts.append((key, str(record[key])))
    facts.extend(("duty", duty) for duty in done.obligations)
    if done.day is not None and len(done.days) > 1:  # zones straddling midnight (htz23)
        facts.append(("call date", f"{done.day} (the called party's latest: ages are judged "
                      "on it); packs and parameter versions were read for every candidate "
                      f"zone's date: {', '.join(str(d) for d in done.days)}"))
    elif done.day is not None:
        facts.append(("call date", f"{done.day} (the called party's; packs read for it)"))
    for name, option in dict(record.get("readings") or {}).items():
        facts.append(("reading", f"{name} = {option} (not the pack's default)"))
    for label, value in facts:
        console.print(f"  [bold]{label}:[/] {escape(value)}", highlight=False)
    for refusal in done.refusals:
        console.print(f"  [bold red]{escape(str(refusal['rule']))}[/]: "
                      f"{escape(str(refusal['reason']))}", highlight=False)
    for pack in done.packs:
        title = (f"{pack.id} {pack.version} (digest {pack.digest}) — {pack.title}: "
                 f"{'applied' if pack.applied else pack.why}")
        # The title is a line of its own, after a blank one: as the table's title rich
        # padded it with spaces to the table's width (hundreds, piped) and wrapped it there.
        console.print()
        if not pack.rules:
            console.print(f"[dim]{escape(title)}[/]", highlight=False)
            continue
        console.print(f"[bold]{escape(title)}[/]", highlight=False)
        # One block per rule, not a five-column table: in 80 columns the table folded rule
        # ids and left the sentence a few letters wide. The block's first line names the
        # rule, its citation and the date its parameters in force took effect (and any
        # reading this site chose) — not the parameters themselves; the sentence follows.
        for rule in pack.rules:
            text = rule.sentence if rule.reason is None else f"{rule.sentence} — {rule.reason}"
            head = (Text.assemble((rule.rule, "bold"), f"  {rule.citation}",
                                  (f"  (parameters in force from {rule.version})", "dim"))
                    if not rule.versions else Text.assemble(
                        (rule.rule, "bold"), "  ", "; ".join(
                            f"{v['citation']} (parameters in force from {v['version']}, "
                            f"on {v['day']})" for v in rule.versions),
                        ("  (each judged; the strictest outcome stood: the record does "
                         "not say which version gave it)", "dim")))
            _hanging(console, Text(rule.status, style=_STYLE[rule.status]),
                     [head, Text(text)])


def _withdrawn_text(by: dict[str, Any]) -> str:
    return (f"by decision {by.get('decision_id')} ({by.get('verdict')} "
            f"{by.get('rule') or ''}, logged {by.get('logged_at')}): no call was placed on "
            "this answer; the call is counted as that decision")


_STATUS_WIDTH = max(len(status) for status in _STYLE)


def _hanging(console: Console, label: Text, paragraphs: list[Text]) -> None:
    """``label`` in a column of its own, the paragraphs wrapped beside it (no trailing
    spaces: a table pads every cell, to 100,000 columns when piped)."""
    indent = 2 + _STATUS_WIDTH + 2
    width = max(console.width - indent, 20)
    first = True
    for paragraph in paragraphs:
        for line in paragraph.wrap(console, width):
            line.rstrip()
            if first:
                label.pad_right(_STATUS_WIDTH - label.cell_len)
                console.print(Text.assemble("  ", label, "  ", line), highlight=False,
                              soft_wrap=True)
                first = False
            else:
                console.print(Text.assemble(" " * indent, line), highlight=False,
                              soft_wrap=True)


def _find(state: CliState, decision_id: str, file: Path | None, *, as_json: bool = False,
          ) -> tuple[dict[str, Any], str, dict[str, Any] | None]:
    """The decision record, where it was found, and the decision that withdrew it: in the
    log and its segments, else the archive, else (``[log] redis_stream``) the stream after
    the archive's position; when it is nowhere, exit naming where it was looked for and
    why the answer may not be final (``_nowhere_exit``)."""
    path = file or log_path(state.settings)
    log_to_read_or_exit(file, path, state.settings.data_dir)  # [log] file, unless --file
    if file is not None and not log_exists(file):
        usage_error(f"--file {file}: no compliance log there (nor closed segments "
                    "beside it); give the path of a node's log")
    # the archive keeps decisions for years after their segments are deleted
    from callguard.compliance.archive.store import Archive  # noqa: PLC0415 - DuckDB

    place = place_or_exit(state)
    archive = Archive(place.archive_dir) if file is None else None
    in_archive = archive is not None and archive.exists()
    in_log = path is not None and log_exists(path)
    # [log] redis_stream: every node's records not archived yet are in the stream, as
    # `evidence --decision` reads them; without it, a decision of another node was
    # "not found" until the next `archive --stream` (hoff24)
    in_stream = file is None and place.redis_stream
    if not in_log and not in_archive and not in_stream:  # a wrong --data-dir is not
        if path is None:                                 # "not found"
            usage_error("the log goes to stdout ([log] file = \"-\") and there is no "
                        "archive; give --file")
        usage_error(f"no compliance log at {path} and no archive (data dir "
                    f"{state.settings.data_dir}): {NOTHING_RECORDED_YET}; check --data-dir "
                    "/ CALLGUARD_DATA_DIR and [log] file, or give --file")
    found = find_record(path, decision_id) if in_log and path is not None else None
    source = f"the log {path} (or its rotated segments)"
    if found is None and in_archive and archive is not None:
        found = _archived(archive, decision_id)
        source = f"the archive {archive.root.resolve()}"
    streamed: tuple[dict[str, Any] | None, dict[str, Any] | None, str, str | None] | None
    streamed = None
    trimmed: list[str] = []
    elsewhere: list[str] = []
    if found is None and in_stream and archive is not None:
        streamed = _streamed(state, archive, decision_id.lower(), trimmed, elsewhere)
        found, source = streamed[0], streamed[2]
    if found is None:
        unread = streamed[3] if streamed is not None else None
        # a stream that could not be read is not a place searched (hrev118)
        places = ([f"{path} or its rotated segments"] if in_log else []) + (
            [f"the archive {archive.root}"] if in_archive and archive is not None else []
        ) + ([streamed[2]] if streamed is not None and unread is None else [])
        gaps, acked = (_gaps_reaching(archive, decision_id) if in_archive and archive
                       else ([], []))
        _nowhere_exit(decision_id, places, unread, trimmed, elsewhere, as_json=as_json,
                      gaps=gaps, acked=acked)
    withdrawer = streamed[1] if streamed is not None else withdrawn_by(
        path if file is not None or in_log else None,
        archive if in_archive else None, decision_id.lower())
    return found, source, withdrawer


def _gaps_reaching(archive: Any, decision_id: str) -> tuple[list[str], list[str]]:
    """The archive's stream gaps (``StreamGap``: entries lost or refused) that can hold
    this decision: those written after the instant a UUIDv7 id carries (its first 48 bits,
    ms since the epoch: a record is added after its call is decided), every gap for an id
    of another version. Before harc32 a decision lost in a gap read as never decided.
    Second: those an officer acknowledged (harc33: named, no longer exit 5)."""
    from callguard.compliance.archive.store import gap_notes  # noqa: PLC0415

    number = int(decision_id.replace("-", ""), 16)
    at = None
    if (number >> 76) & 0xF == 7:
        try:
            at = datetime.fromtimestamp((number >> 80) / 1000, UTC)
        except (ValueError, OverflowError):  # past year 9999: no instant (hrev159)
            at = None
    manifest = archive.manifest()
    return gap_notes(manifest, at, None), gap_notes(manifest, at, None, acknowledged=True)


# Why a decision was not found, each its own exit code (hoff26: all were 1, told apart
# by stderr alone): 1 every place searched, 4 a place not searched (the stream unread),
# 5 it may have been trimmed from the stream before any archiver took it (records lost
# here), 6 the stream was trimmed after the archiver took it (in its archive, elsewhere).
EXIT_NOT_FOUND, EXIT_NOT_SEARCHED, EXIT_MAY_BE_TRIMMED, EXIT_IN_ARCHIVERS_ARCHIVE = 1, 4, 5, 6


def _nowhere_exit(decision_id: str, places: list[str], unread: str | None,
                  trimmed: list[str], elsewhere: list[str], *, as_json: bool,
                  gaps: list[str] | None = None, acked: list[str] | None = None,
                  ) -> NoReturn:
    """Say a decision was found nowhere — and why that may not be final — on stderr (each
    reason its own line) and, with ``--json``, as a document on stdout; exit with the code
    of the first reason that applies (``EXIT_NOT_SEARCHED`` before ``EXIT_MAY_BE_TRIMMED``
    before ``EXIT_IN_ARCHIVERS_ARCHIVE`` before ``EXIT_NOT_FOUND``)."""
    status, code = next(((s, c) for s, c, said in (
        ("not-searched", EXIT_NOT_SEARCHED, unread is not None),
        ("may-have-been-trimmed", EXIT_MAY_BE_TRIMMED, bool(trimmed)),
        ("archive-has-gaps", EXIT_MAY_BE_TRIMMED, bool(gaps)),
        ("in-the-archivers-archive", EXIT_IN_ARCHIVERS_ARCHIVE, bool(elsewhere)))
        if said), ("not-found", EXIT_NOT_FOUND))
    err_console.print(f"[red]not found:[/red] no decision {escape(decision_id)} in "
                      f"{escape(' or '.join(places))}" if places else
                      f"[red]not found:[/red] decision {escape(decision_id)}: nothing "
                      "could be read", highlight=False)
    if unread is not None:
        err_console.print(f"[yellow]note:[/yellow] not searched: {escape(unread)}",
                          highlight=False)
    for why in trimmed:  # not "never decided": it may be among the records trimmed
        err_console.print(f"[yellow]note:[/yellow] it may have been trimmed before it "
                          f"was archived: {escape(why)}", highlight=False)
    for why in gaps or []:  # the archiver could not archive some entries of its time
        err_console.print(f"[yellow]note:[/yellow] it may be among what the archive does "
                          f"not hold: {escape(why)}", highlight=False)
    # An acknowledged gap is named, and no longer exit 5: the officer who acknowledged it
    # looked into it (the node's log archived, or the loss found to hold no call), so
    # "not found" stands as the answer (exit 1, or the code of another reason) — never 0,
    # which says "explained" (harc33); said as "it may be among" all the same: the
    # acknowledged loss may hold it, and "not found" alone reads "never decided" (hrev169).
    for why in acked or []:
        err_console.print(f"[yellow]note:[/yellow] it may be among what the archive does "
                          f"not hold, a gap of its time an officer acknowledged: "
                          f"{escape(why)}", highlight=False)
    for why in elsewhere:  # trimmed once the archiver had it: its archive may hold it
        err_console.print(f"[yellow]note:[/yellow] not here: it may be in the archiver's "
                          f"archive: {escape(why)}", highlight=False)
    if as_json:
        print_json({"decision_id": decision_id.lower(), "found": False, "status": status,
                    "exit": code, "searched": places, "not_searched": unread,
                    "may_have_been_trimmed": trimmed, "in_the_archivers_archive": elsewhere,
                    "archive_gaps": gaps or [], "acknowledged_gaps": acked or []})
    sys.exit(code)


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
    """Render DECISION_ID's record in full: every rule, citation and sentence ('-': stdin).

    \b
    Exit codes (a decision not found: `--json` prints {"found": false, "status", ...}):
      0  explained
      1  not found: no such decision in the log, the archive nor (with [log]
         redis_stream) the stream, every one searched; or the packs named cannot
         explain it ("cannot explain:")
      2  usage: not a decision id, no log, archive or stream to search
      3  internal error
      4  not found, and not searched: the stream could not be read ("not searched:")
      5  not found, and it may have been trimmed from the stream before any archiver
         took it: lost here; each node's log file holds it ("it may have been trimmed");
         or the archive has stream gaps of its time (`callguard archive --gaps`;
         "it may be among what the archive does not hold"); a gap acknowledged
         (`archive --ack-gap`) is named ("acknowledged") but exits 1
      6  not found here: the stream was trimmed after the archiver took its entries;
         run explain on the archive host ("not here:")
    """
    withdrawer: dict[str, Any] | None = None  # standard input: not looked for
    if decision_id == "-":
        record = _decision(sys.stdin.buffer.read().strip())
        if record is None:
            usage_error("standard input is not one decision record (a JSON line)")
        source = "standard input"
    else:
        if not _ID.fullmatch(decision_id):
            usage_error(f"{decision_id!r} is not a decision id (a UUID)")
        record, source, withdrawer = _find(state, decision_id, file, as_json=as_json)
    readings = {str(k): str(v) for k, v in dict(record.get("readings") or {}).items()}
    packs = (_load_packs(packs_dir, readings) if packs_dir
             else dict(state.settings.packs))
    try:
        done = explain(record, packs)
    except (ExplainError, KeyError, ValueError, TypeError) as exc:
        err_console.print(f"[red]cannot explain:[/red] {escape(str(exc))}", highlight=False)
        sys.exit(EXIT_BLOCK)
    # What the page is built from: counsel handed an explanation could not tell whether the
    # record came from the node's log or a copied archive, nor whose pack texts the
    # sentences are (the digests say they match the record, not where they were read).
    texts = packs_dir or state.settings.packs_dir
    read_from = {"record": source,
                 "pack_texts": str(texts.resolve()) if texts else "the configured packs"}
    withdrawal = None if withdrawer is None else {
        "by": withdrawer.get("decision_id"), "verdict": withdrawer.get("verdict"),
        "rule": withdrawer.get("rule"), "logged_at": withdrawer.get("logged_at"),
        "note": _withdrawn_text(withdrawer)}
    if as_json:
        print_json({**done.to_dict(), "withdrawn": withdrawal, "explained_from": read_from})
    else:
        _render(console(), done, withdrawer)
        console().print(escape(f"read from: the record in {read_from['record']}; rule "
                               f"citations and sentences from the packs in "
                               f"{read_from['pack_texts']} (versions and digests as "
                               "recorded)"), highlight=False)
