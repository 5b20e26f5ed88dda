"""``callguard evidence``: everything known about one number, or one decision.

The document a seller hands to counsel when a complaint arrives: each decision with its
list versions, packs and versions, verdict and rule, node and front (an answer a later
decision withdrew says so, and by which: ``withdrawn_by``); each later record
of the call; each consent/EBR/DNC change for the number, and, for each decision, those
changes of its seller logged before it. Numbers never appear in clear (the last four
digits and the keyed hash only). Exit codes as ``tail``: 1 when records in range were
hashed with another key (the lookup cannot match them), 2 for a usage error.
"""

from __future__ import annotations

import csv
import html
import io
import sys
from collections.abc import Callable
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any, NoReturn

import click
import orjson

from callguard.cli.common import (
    CliState,
    err_console,
    log_to_read_or_exit,
    output_path_or_exit,
    own_files_or_exit,
    usage_error,
    zone_or_exit,
)
from callguard.cli.locate import LogPlace
from callguard.cli.logs import (
    EXIT_INCOMPLETE,
    NOTHING_RECORDED_YET,
    decision_id_or_exit,
    field_text,
    hash_number,
    house_policies,
    place_or_exit,
    range_or_exit,
    shown,
)
from callguard.cli.render import called_party_times
from callguard.cli.unarchived_stream import StreamUnreadableError
from callguard.compliance.archive.evidence import Evidence, LiveLines, add_standing, gather
from callguard.compliance.archive.store import Archive, gap_notes, read_through_commits
from callguard.compliance.fields import redact_line
from callguard.compliance.reader import Record, listed_again_if_purged, log_exists
from callguard.compliance.report import spreadsheet_cell
from callguard.numbers.redact import redact_digits
from callguard.utc import zulu

__all__ = ["evidence"]


def _log_or_exit(place: LogPlace, file_path: Path | None) -> Path | None:
    """``--file`` or this node's log; one no command can read (a directory: ``[log] file
    = "/var/log/callguard"``) is a usage error saying so, not "internal error:
    IsADirectoryError" (hnew30)."""
    log_to_read_or_exit(file_path, place.log_file, place.data_dir)
    return file_path or place.log_file


@click.command()
@click.argument("number", required=False)
@click.option("--decision", "decision_id", metavar="ID", help="One decision instead.")
@click.option("--from", "first", metavar="WHEN", help="Calls from (ISO date/instant, or 7d ago).")
@click.option("--to", "last", metavar="WHEN", help="Calls before (as --from).")
@click.option("--tz", default="UTC", show_default=True,
              help="The zone of a --from/--to without a UTC offset, e.g. America/Denver "
                   "(the called party's: a day there is not the UTC day).")
@click.option("--format", "form", type=click.Choice(["text", "json", "csv", "html"]),
              default="text", show_default=True,
              help="text (terminal), json, csv (one row per record) or html (a page).")
@click.option("--json", "as_json", is_flag=True, help="Same as --format json.")
@click.option("--output", type=click.Path(path_type=Path, dir_okay=False),
              help="Write to this file instead of standard output ('-': standard output, "
                   "as scrub's --output -).")
@click.option("--archive", "archive_dir", type=click.Path(path_type=Path, file_okay=False),
              help="The archive; default: <data dir>/archive.")
@click.option("--file", "file_path", type=click.Path(path_type=Path),
              help="The log whose unarchived records are read too; default: this node's.")
@click.pass_obj
def evidence(state: CliState, number: str | None, decision_id: str | None,
             first: str | None, last: str | None, tz: str, form: str, output: Path | None,
             archive_dir: Path | None, file_path: Path | None, as_json: bool) -> None:
    """Every decision and record change for NUMBER (or --decision ID), archive and live."""
    zone = zone_or_exit(tz)  # before reading anything
    if as_json:
        if form not in ("text", "json"):
            usage_error(f"--json and --format {form}: give one of them")
        form = "json"
    if (number is None) == (decision_id is None):
        usage_error("give a NUMBER or --decision ID (one of them)")
    decision_id = decision_id_or_exit(decision_id)
    if output is not None and str(output) == "-":  # was a file named "-" in the cwd
        output = None
    if output is not None:
        output_path_or_exit("--output", output)  # before reading five years of records
    place = place_or_exit(state)
    archive = Archive(archive_dir or place.archive_dir)
    log = _log_or_exit(place, file_path)
    own_files_or_exit("--output", output, data_dir=place.data_dir, archive=archive.root,
                      logs=(place.log_file, file_path))
    if file_path is not None and not log_exists(file_path):
        usage_error(f"--file {file_path}: no such compliance log")
    if archive_dir is not None and not archive.exists():  # else: the live log alone, exit 0
        usage_error(f"--archive {archive_dir}: no archive there (no manifest.json)")
    # With [log] redis_stream the stream holds every node's unarchived records: an
    # officer's host (or a node yet to log) with no file nor archive of its own still
    # reads it; this refused "nothing to read" (hoff24).
    if not archive.exists() and (log is None or not log_exists(log)) and not (
            file_path is None and place.redis_stream):
        usage_error(f"nothing to read: no archive at {archive.root} and no compliance log at "
                    f"{log}: {NOTHING_RECORDED_YET}; check --data-dir / CALLGUARD_DATA_DIR, "
                    "--archive, --file")
    # elsewhere: entries trimmed once the archiver had them (its archive's, hoff26)
    number_hash, key_id, key_source, last4, elsewhere = None, None, "", None, list[str]()
    if number is not None:
        number_hash, key_id, key_source, last4 = hash_number(state, number)
    since, until = _range_or_exit(first, last, zone)

    def read() -> tuple[Evidence, str | None]:
        # trimmed: why records may be missing (the stream trimmed past the archive)
        # read again on a new manifest: the last read says it
        live, trimmed, elsewhere[:] = LiveLines.of_log(log, archive), list[str](), []
        note = (_add_stream(state, archive, live, trimmed, elsewhere)
                if place.redis_stream else None)
        found = gather(archive, live, number_hash=number_hash, decision_id=decision_id,
                       first=since, last=until)
        if found.decisions and (decision_id is not None or since or until):
            # The records in force before each decision were not all read: those logged
            # before --from, or (one decision) every change of its number. Read them all.
            again = LiveLines.of_log(log, archive)
            if place.redis_stream:
                note = _add_stream(state, archive, again, trimmed, elsewhere) or note
            add_standing(found, archive, again)
        return found, note or (trimmed[-1] if trimmed else None)

    found, stream_note = _read_or_exit(archive, read)
    _keep_purge(found, _made_at(decision_id) or since, log)
    query: dict[str, Any] = {
        "number_last4": last4, "number_hash": number_hash, "key_id": key_id,
        "decision_id": decision_id, "from": first, "to": last,
        # the instants the range was read as (a date alone: midnight in --tz)
        "tz": tz, "from_instant": zulu(since, "milliseconds") if since else None,
        "to_instant": zulu(until, "milliseconds") if until else None,
        "generated": zulu(datetime.now(UTC), "seconds"),
        "archive": str(archive.root.resolve()) if archive.exists() else None,
        # an archive committed with nothing in it (`archive` ran before any segment closed):
        # "0 archived day(s) (the archive at DIR)" read as days searched (hrev118)
        "archive_empty": archive.exists() and not archive.manifest().parts,
        # where it was looked for, when there is none ("(no archive)" did not say where)
        "archive_missing": None if archive.exists() else str(archive.root.resolve()),
        # the configured packs that are not enacted law (house policies), or why unknown
        **dict(zip(("not_law", "not_law_unread"), house_policies(state), strict=True)),
        # Beside the history, what the record store holds now (a consent granted before
        # a purge's cutoff, or recorded by a process whose log is not read, is there only).
        **({"stored_now": _stored_now(state, number, _sellers(found))}
           if number is not None else {})}
    # What the answer could not include, written into the document too: said on stderr
    # alone, a file of "decisions: none" looked up with another key read, years later,
    # as a number never called.
    query["notes"], query["incomplete"] = _notes(found, key_id, key_source, stream_note,
                                                 decision_id, elsewhere, archive)
    text = {"json": _json, "csv": _csv, "html": _html, "text": _text}[form](query, found)
    if output is not None:
        output.write_text(text)
        # said on stderr, as `report --html` and `scrub` say what they wrote (it was silent)
        from rich.markup import escape  # noqa: PLC0415 - see _finish
        err_console.print(f"wrote {escape(str(output))} ({form}: {len(found.decisions)} "
                          f"decision(s), {len(found.events)} other record(s))",
                          highlight=False)
    else:
        sys.stdout.write(text)
    if decision_id is not None and not found.decisions:
        _not_found(decision_id, found, stream_note or (elsewhere[0] if elsewhere else None))
    _finish(found, query["notes"], incomplete=query["incomplete"])


def _sellers(found: Evidence) -> set[str]:
    """The sellers the number's history names (its decisions and record changes)."""
    return {who for record in (*found.decisions, *found.events)
            if isinstance(who := record.get("solicitor"), str) and who}


def _stored_now(state: CliState, number: str, named: set[str]) -> dict[str, Any]:
    """The number's records as stored now, per configured seller, read as the gate reads
    them now (``consent show``'s reading); or why they could not be read (no record store
    on this host, a lost one, Redis down) — said, never fatal: the history stands alone.
    Free text (a source, an evidence reference) loses its numbers, as in the log."""
    from callguard.cli.records import (  # noqa: PLC0415 - the store only here
        reassigned_or_why,
        revoke_all_rules,
        sheet_data,
        store_name,
        stored_now,
    )
    from callguard.config import load_settings  # noqa: PLC0415
    from callguard.errors import CallguardError  # noqa: PLC0415

    now = datetime.now(UTC)
    try:
        # Loaded here, not through ``state.settings``: a configuration this host cannot
        # load whole (packs elsewhere) leaves the history answered, the section unread.
        settings = state._settings or load_settings(  # noqa: SLF001 - loaded once if at all
            state.config_option, data_dir=state.data_dir_option)
        store = store_name(settings)
        info = settings.parser().parse(number)
        sheets = stored_now(settings, info.e164, named)
        revoke_all = revoke_all_rules(settings, info)
        reassigned = reassigned_or_why(settings, info)
    except (CallguardError, OSError) as exc:
        return {"read_at": zulu(now, "seconds"),
                "unavailable": redact_digits(f"the record store was not read: {exc}")}
    # The store read is named: a host's own store (another data dir, a test one) beside
    # an archive copied from the site answered "consent none" for every seller, unnamed.
    return {"read_at": zulu(now, "seconds"), "store": redact_line(store), "sellers": {
        who: _without_numbers(sheet_data(sheet, revoke_all, now, reassigned))
        for who, sheet in sheets.items()},
        # the reassigned-number data the consents were read against (null: none loaded)
        "reassigned_data": None if reassigned is None else _without_numbers(reassigned.as_data())}


def _without_numbers(value: Any) -> Any:
    if isinstance(value, str):  # one-line text: a number across a comma or line break too
        return redact_line(value)
    if isinstance(value, dict):
        return {k: _without_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_numbers(v) for v in value]
    return value


def _stored_lines(stored: dict[str, Any]) -> list[str]:
    """The records as stored now, one line per seller and record, for people."""
    head = f"records as stored now (read {stored['read_at']}; the gate reads these now)"
    if "unavailable" in stored:
        return [f"{head}: {stored['unavailable']}"]
    lines = [f"{head} in {stored['store']}:" if "store" in stored else head + ":"]
    if unread := (stored.get("reassigned_data") or {}).get("unread"):
        lines.append(f"  {unread}")
    if not stored["sellers"]:
        lines.append("  no seller: none is configured and the history names none")
    for who, sheet in stored["sellers"].items():
        for c in sheet["consents"]:
            state = ((f"valid now ({c['void_in_other_zones']})"
                      if c.get("void_in_other_zones") else "valid now") if c["valid_now"] else
                     f"not valid now ({c['unreadable']})" if c.get("unreadable") else
                     f"not valid now ({c['void_reassigned']})" if c.get("void_reassigned")
                     else f"not valid now ({c['withdrawn_by_request']})"
                     if c.get("withdrawn_by_request") else
                     f"not valid now (ended by the {c['ended_by_revocation_of']} revocation)"
                     if c["ended_by_revocation_of"] else
                     f"not valid now (void under {c['void_under'][0]['pack']})"
                     if c["void_under"] else "not valid now")
            lines.append("  " + "; ".join([f"{k} {v}" for k, v in (
                ("seller", who), ("consent", c["kind"]), ("granted", c["granted_at"]),
                ("expires", c["expires_at"]), ("window", c["window"]),
                ("revoked", c["revoked_at"]), ("revoked by", c["revoked_source"]),
                ("source", c["source"]), ("evidence", c["evidence"] or None)) if v]
                + [state]))
        if not sheet["consents"]:
            lines.append(f"  seller {who}; consent none")

        lines.append(f"  seller {who}; business relationship "
                     + _pairs(sheet["ebr"]))
        lines.append(f"  seller {who}; company do-not-call " + _pairs(sheet["company_dnc"]))
    return lines


def _pairs(record: dict[str, Any] | None) -> str:
    if record is None:
        return "none"
    return ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in record.items()
                     if v not in (None, "")) or "recorded"


def _range_or_exit(first: str | None, last: str | None,
                   zone: tzinfo) -> tuple[datetime | None, datetime | None]:
    """--from and --to as instants (a date alone: midnight in ``zone``), in order."""
    return range_or_exit(("--from", first), ("--to", last), zone)


def _read_or_exit(archive: Archive, read: Callable[[], tuple[Evidence, str | None]],
                  ) -> tuple[Evidence, str | None]:
    """``read`` through an archiver's commits and a purge; Redis lost in the middle of
    reading the stream is said, naming it, and exits 1 (no document: it would miss
    records unsaid). It was an internal error, exit 3 (hoff25)."""
    try:
        # an archiver may commit; a purge may remove a segment listed (review 61)
        return listed_again_if_purged(lambda: read_through_commits(archive, read))
    except StreamUnreadableError as exc:
        err_console.print(f"error: Redis was lost while the stream was read: {exc}; no "
                          "evidence written (it would miss records): ask again once Redis "
                          "answers", highlight=False, markup=False)
        sys.exit(EXIT_INCOMPLETE)


def _add_stream(state: CliState, archive: Archive, live: LiveLines,
                trimmed: list[str] | None = None,
                elsewhere: list[str] | None = None) -> str | None:
    """With ``[log] redis_stream``, the stream's entries after the archive's position
    (every node's records not archived yet) added to ``live``; a note when Redis cannot
    be reached (``stream_after_archive``, which `report` reads too). ``trimmed`` gets why
    records may be missing when the stream was trimmed past that position, ``elsewhere``
    that the entries trimmed were the archiver's (in its archive, not read here)."""
    from callguard.cli.unarchived_stream import (  # noqa: PLC0415 - Redis only here
        stream_after_archive,
    )

    try:
        live.add(*stream_after_archive(state, archive.manifest(), trimmed, elsewhere))
    except StreamUnreadableError as exc:
        return str(exc)
    return None


def _notes(found: Evidence, key_id: str | None, key_source: str,
           stream_note: str | None = None, decision_id: str | None = None,
           elsewhere: list[str] | None = None,
           archive: Archive | None = None) -> tuple[list[str], bool]:
    """What the answer could not include, and whether that makes it incomplete (exit 1).
    A purge or a replaced store is not here: the documents say it in their own place."""
    # what the stream archiver found lost or refused, kept in the archive (harc30): any
    # number's records may be among them, whatever the range (a call is dated by its
    # instant, which may be far from when it was written)
    manifest = archive.manifest() if archive is not None and archive.exists() else None
    notes = gap_notes(manifest) if manifest is not None else []
    incomplete = bool(notes)
    # gaps an officer acknowledged (`archive --ack-gap`, harc33): still said, each with who
    # answered for it, and no longer making the answer incomplete
    notes += gap_notes(manifest, acknowledged=True) if manifest is not None else []
    if decision_id is not None and not found.decisions:
        notes.append(_nowhere(decision_id))
        incomplete = True
    if stream_note is not None:
        notes.append(stream_note)
        incomplete = True
    # Records the archiver took before the trim are in its archive (the host to query is
    # named): not a loss, but not read here, so this answer is incomplete all the same (exit
    # 1): "decisions: none" read by a script on the exit code or `incomplete` must not say
    # "never called" (`report` warns instead: its counts are a summary, not a history).
    said = [n for n in dict.fromkeys(elsewhere or ()) if n != stream_note]
    notes.extend(said)
    incomplete = incomplete or bool(said)
    if key_id is not None:
        others = sorted(found.key_ids - {key_id, "none"})
        if others:
            incomplete = True
            notes.append(f"the number was hashed with key {key_id} ({key_source}), but "
                         f"records in range were hashed with other keys: {', '.join(others)}; "
                         "this lookup cannot match them. Use the nodes' key "
                         "(CALLGUARD_LOG_KEY, or the log.key of their --data-dir)")
        if "none" in found.key_ids:
            notes.append("older records in range carry no key_id: whether they were hashed "
                         "with this key cannot be checked")
    if found.unreadable:
        notes.append(f"{found.unreadable} unarchived line(s) were torn and skipped")
    if found.refused:
        incomplete = True
        notes.append(f"{found.refused} record(s) of a schema this callguard does not know "
                     "were not read; upgrade callguard to read them")
    return notes, incomplete


def _finish(found: Evidence, notes: list[str], *, incomplete: bool) -> None:
    """The notes on standard error (the purge and a replaced store among them, in the
    order said before), exit 1 when incomplete."""
    from rich.markup import escape  # noqa: PLC0415

    keyed = [n for n in notes if not n.endswith("torn and skipped")
             and not n.endswith("upgrade callguard to read them")]
    said = [*keyed, *map(_purged, found.purges), *map(_adopted, found.adoptions),
            *(n for n in notes if n not in keyed)]
    for note in said:
        err_console.print(f"[yellow]note:[/yellow] {escape(note)}", highlight=False)
    if incomplete:
        sys.exit(EXIT_INCOMPLETE)


def _nowhere(decision_id: str) -> str:
    return (f"no decision {decision_id} in the archive or the unarchived log (another "
            "node's? check --data-dir, --archive, --file)")


def _not_found(decision_id: str, found: Evidence, stream_note: str | None = None,
               ) -> NoReturn:
    """Exit 1 for a decision found nowhere; a purge that may have destroyed it is named,
    and a stream that was not read or was trimmed before it was archived (hoff25)."""
    err_console.print(_nowhere(decision_id), highlight=False, markup=False)
    if stream_note is not None:
        err_console.print(f"note: {stream_note}", highlight=False, markup=False)
    for purge in found.purges:  # or made before a purge's cutoff: destroyed, said
        err_console.print(f"note: {_purged(purge)}", highlight=False, markup=False)
    sys.exit(EXIT_INCOMPLETE)


def _keep_purge(found: Evidence, since: datetime | None, log: Path | None) -> None:
    """Keep in ``found.purges`` the purge to name: of what is read (``_purged_here``),
    one that reached into the range, or (decisions found) any: the records in force
    beside each decision are then the changes logged since its cutoff only."""
    found.purges = [p for p in found.purges if _purged_here(p, log)]
    purge = found.purged_within(since) or (found.purged_within(None) if found.decisions
                                           else None)
    found.purges = [purge] if purge is not None else []


def _made_at(decision_id: str | None) -> datetime | None:
    """When a decision id was made: a UUIDv7's first 48 bits, ms since the epoch (None:
    no id, or not a v7). A --decision found nowhere named any purge, also one whose cutoff
    is before the id was made (a decision it cannot have destroyed: another node's)."""
    if decision_id is None or decision_id[14:15] != "7":
        return None
    return datetime.fromtimestamp(int(decision_id.replace("-", "")[:12], 16) / 1000, UTC)


def _purged_here(purge: Record, log: Path | None) -> bool:
    """Whether a purge destroyed records of what is read: one of another log
    (``purge --file OTHER``: its record names it) did not, unless it trimmed the stream
    or the archive too; it was named beside this log's calls as if they were gone."""
    named = purge.get("file")
    if not isinstance(named, str) or (log is not None and Path(named) == log.resolve()):
        return True
    removed = purge.get("removed")
    return isinstance(removed, dict) and any(
        isinstance(n, int) and n > 0 for where, n in removed.items() if where != "files")


def _purged(purge: Record) -> str:
    """What a purge that reached into the range destroyed, in words: without it, a number
    whose calls were purged read "decisions: none", as a number never called."""
    return (f"records logged before {_second(purge.get('cutoff'))} (not necessarily all) "
            "were destroyed by "
            f"`callguard purge` ({_second(purge.get('logged_at'))}, node "
            f"{purge.get('node', '?')}, retention {purge.get('retention_days', '?')} days): "
            "calls and record changes before then may be missing from this answer (a purge "
            "of the archive removes whole days; one of the log may keep held segments), "
            "whether or not there were any, and the records in force beside each decision "
            "may omit consent, business-relationship and do-not-call changes logged before "
            "then")


def _adopted(record: Record) -> str:
    """A record store accepted anew up to the range's end (``store-adopted``), in words:
    "was the opt-out on record then?" is answered by a store that held only what was put
    back in it since."""
    previous = record.get("previous_id")
    return (f"the record store was replaced on {_second(record.get('logged_at'))} (node "
            f"{record.get('node', '?')}, {record.get('backend', '?')} store "
            f"{record.get('store_id') or '?'} adopted with {record.get('records', '?')} "
            "record(s), in place of "
            + (f"{record.get('previous_backend', '?')} store {previous}" if previous
               else "a store not named")
            + "): consent, business-relationship and do-not-call records made before then "
            "were in force in the store only if re-imported; the record changes listed are "
            "the log's, not the store's")


def _later(found: Evidence, decision: Record) -> list[Record]:
    return [e for e in found.events if e.get("decision_id") == decision.get("decision_id")
            and e.get("event") != "record"]


def _document(query: dict[str, Any], found: Evidence) -> dict[str, Any]:
    asked = {k: v for k, v in query.items() if k not in _NOT_ASKED}
    return {
        "query": asked,
        # what the answer could not include (another hashing key, an unread stream, a
        # decision found nowhere...), and whether that makes it incomplete (exit 1)
        "notes": query.get("notes", []), "incomplete": bool(query.get("incomplete")),
        # a NUMBER's records in the store as they are now ({"sellers": ...} or
        # {"unavailable": why}); absent for --decision
        **({"stored_now": query["stored_now"]} if "stored_now" in query else {}),
        "sources": {"archive": query.get("archive"), "archive_days": found.archive_days,
                    "archive_missing": query.get("archive_missing"),
                    "archive_empty": bool(query.get("archive_empty")),
                    "live": found.live_sources, "note": _read_from(query, found)},
        # the packs that are not enacted law (house policies): a deciding rule of one is
        # the seller's choice, not a section of law (null: not checked, see _unread)
        "not_enacted_law": None if query.get("not_law_unread") else query.get("not_law"),
        "not_enacted_law_unread": query.get("not_law_unread"),
        # the purge that destroyed records in the range asked (none: nothing was purged)
        "purged": [{**p, "note": _purged(p)} for p in found.purges],
        # the record store accepted anew up to the range's end (none: never replaced)
        "store_adopted": [{**a, "note": _adopted(a)} for a in found.adoptions],
        "decisions": [{**d, **_withdrawn(found, d), "later_records": _later(found, d),
                       "records_in_force": found.records_before(d),
                       "packs_loaded": found.packs_loaded_before(d)}
                      for d in found.decisions],
        "record_changes": [e for e in found.events if e.get("event") == "record"],
        "other_records": [e for e in found.events
                          if e.get("event") not in ("record", "packs-loaded")
                          and not any(e.get("decision_id") == d.get("decision_id")
                                      for d in found.decisions)],
    }


# Query keys that are not what was asked (the document's "query" and the page's line).
_NOT_ASKED = frozenset({"stored_now", "archive", "archive_missing", "not_law",
                        "not_law_unread", "notes", "incomplete"})


def _law(query: dict[str, Any], record: Record) -> str:
    """Whether a record's deciding rule is a house policy's (as `report` marks it), or why
    that is unknown; blank for enacted law or no rule."""
    rule = record.get("rule")
    if not isinstance(rule, str) or not rule or record.get("event") != "decision":
        return ""
    if query.get("not_law_unread"):
        return f"not checked: {query['not_law_unread']}"
    return ("house policy, not enacted law"
            if rule.split(":", 1)[0] in (query.get("not_law") or {}) else "")


def _rule(query: dict[str, Any], record: Record) -> str:
    """The deciding rule, a house policy's marked (a bare id reads as a section of law)."""
    rule = str(record.get("rule") or "")
    law = _law(query, record)
    return f"{rule} (house policy, not enacted law)" if law.startswith("house") else rule


def _withdrawn(found: Evidence, decision: Record) -> dict[str, str]:
    """``{"withdrawn_by": id}`` for an answer a later decision withdrew, else nothing."""
    by = found.withdrawn_by(decision)
    return {} if by is None else {"withdrawn_by": by}


_QUESTION = "(a question: no call placed)"  # beside the verdict of a `check --at` answer
_SCRUBBED = "(a scrub: no call placed)"  # beside the verdict of a scrub row's decision


def places_call(record: Record) -> bool | None:
    """Whether a call was placed on this answer (None: not a decision). A `check --at`
    question says ``places_call`` false (schema 2) and a scrub is no call; a record of
    schema 1 does not say, and is counted as a call, as `report` counts it."""
    if record.get("event") != "decision":
        return None
    return record.get("places_call") is not False and record.get("front") != "scrub"


def _verdict(found: Evidence, decision: Record) -> str:
    """The verdict, and whether this answer was withdrawn, or withdrew an earlier one."""
    verdict = str(decision.get("verdict", ""))
    if decision.get("places_call") is False:  # schema 2: a `check --at` question
        verdict += f" {_QUESTION}"
    elif decision.get("front") == "scrub":  # its bare ALLOW beside the calls read as one
        verdict += f" {_SCRUBBED}"
    by = found.withdrawn_by(decision)
    if by is not None:
        return f"{verdict} withdrawn by {by}"
    if decision.get("withdraws"):
        return f"{verdict} (withdraws {decision['withdraws']})"
    return verdict


def _json(query: dict[str, Any], found: Evidence) -> str:
    return orjson.dumps(_document(query, found), option=orjson.OPT_INDENT_2).decode() + "\n"


def _packs(record: Record) -> str:
    packs = record.get("packs") or []
    out = []
    for pack in packs:
        if isinstance(pack, list) and len(pack) >= 2:  # schema 1: [id, version, digest, ...]
            out.append(f"{pack[0]} {pack[1]}")
        elif isinstance(pack, dict):  # legacy
            out.append(f"{pack.get('id')} {pack.get('version')}")
    return "; ".join(out)


def _lists(record: Record) -> str:
    lists = record.get("lists")
    if isinstance(lists, dict):
        return "; ".join(f"{k} v{v}" for k, v in lists.items())
    if isinstance(lists, list):  # legacy: [{"name", "version"}]
        return "; ".join(f"{x.get('name')} v{x.get('version')}" for x in lists
                         if isinstance(x, dict))
    return ""


_COLUMNS = ["logged_at", "event", "at", "decision_id", "node", "front", "campaign",
            "solicitor", "mode", "verdict", "rule", "reason", "number_last4", "lists",
            "packs", "detail", "withdrawn_by"]  # withdrawn_by: added last, kept last
# The call centre that placed a decision's call for the seller (the record's
# ``telemarketer``, absent when the seller called itself): the CSV's last column, and a
# column of the page's and the text's decisions when one of them names it.
_TELEMARKETER = "telemarketer"
_SHOWN = set(_COLUMNS) | {"schema", "key_id", "number_hash", _TELEMARKETER}


def _centred(found: Evidence) -> bool:
    """Whether a decision shown names a call centre (its column is shown then only: the
    evidence of a site whose campaigns name none is the page it was)."""
    return any(isinstance(d.get(_TELEMARKETER), str) for d in found.decisions)


def _detail(record: Record) -> dict[str, Any]:
    """The fields of a record that no column shows (what a record change changed, what a
    later record of the call says)."""
    return {k: v for k, v in record.items() if k not in _SHOWN}


def _readable(record: Record, separator: str) -> str:
    """The detail as ``field: value`` pairs for people (the CSV keeps it JSON)."""
    return separator.join(f"{k}: {field_text(v)}" for k, v in _detail(record).items())


def _row(record: Record) -> dict[str, str]:
    detail = _detail(record)
    row = {c: "" if record.get(c) is None else str(record.get(c))
           for c in (*_COLUMNS, _TELEMARKETER)}
    row.update(lists=_lists(record), packs=_packs(record),
               detail=orjson.dumps(detail).decode() if detail else "")
    return row


# The CSV's last columns say what the JSON and the page say beside the records: the
# hashing key's fingerprint of each record, whether its deciding rule is a house policy's,
# what was read (the same on every row: a CSV handed on alone still names its sources),
# and whether a call was placed on a decision (true/false; empty on other rows). The
# verdict cell is the gate's verdict alone: "ALLOW (a question: no call placed)" there was
# missed by a script keeping verdict == "ALLOW", and a scrub's ALLOW read as a call.
_CSV_COLUMNS = [*_COLUMNS, "key_id", "law", "read_from", "places_call", _TELEMARKETER]


def _csv(query: dict[str, Any], found: Evidence) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=_CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    read_from = _read_from(query, found)
    for note in query.get("notes", []):  # first: a CSV of no row but its header said nothing
        writer.writerow(dict.fromkeys(_CSV_COLUMNS, "") | {
            "event": "note", "detail": spreadsheet_cell(note), "read_from": read_from})
    for record in sorted([*found.timeline(), *found.purges, *found.adoptions], key=lambda r: str(
            r.get("logged_at", ""))):  # a purge in range: its row says what is gone
        placed = places_call(record)
        row = {**_row(record), "withdrawn_by": found.withdrawn_by(record) or "",
               "key_id": str(record.get("key_id") or ""),
               "law": _law(query, record), "read_from": read_from,
               "places_call": "" if placed is None else str(placed).lower()}
        # opened in a spreadsheet: no cell runs as a formula (a campaign id "=...")
        writer.writerow({k: spreadsheet_cell(v) for k, v in row.items()})
    if "stored_now" in query:  # as the text and the page end: what the gate reads now (a
        # consent void or withdrawn since said so); the CSV alone left it out
        for line in _stored_lines(query["stored_now"]):
            writer.writerow(dict.fromkeys(_CSV_COLUMNS, "") | {
                "event": "stored-now", "detail": spreadsheet_cell(line.strip()),
                "read_from": spreadsheet_cell(read_from)})
    return out.getvalue()


def _kinds(found: Evidence) -> tuple[list[Record], list[Record], list[Record]]:
    """The records besides decisions, as the page and the text group them: record changes,
    later records of the calls, the packs the node had loaded."""
    changes = [e for e in found.events if e.get("event") == "record"]
    later = [e for e in found.events if e.get("event") not in ("record", "packs-loaded")]
    loaded = [e for e in found.events if e.get("event") == "packs-loaded"]
    return changes, later, loaded


# A record change's facts (the instants the gate reads, the evidence's reference), named
# beside it where the records in force are listed: "consent-added (written)" alone did not
# say when the consent was given nor where its proof is.
_FACTS = ("granted_at", "expires_at", "window", "evidence_ref", "revoked_at", "requested_at",
          "ended_at", "last_transaction", "last_inquiry", "source")


def _in_force(change: Record) -> str:
    """One record change as a decision's page cell names it: when, what, which kind, where,
    and the facts it wrote."""
    kind = change.get("kind")
    said = [f"{key.replace('_', ' ')} {change[key]}" for key in _FACTS
            if change.get(key) not in (None, "")]
    # A revocation names every kind it ended (64.1200(a)(10): either automated kind ends
    # both), and a change that changed nothing says so: "consent-revoked (written)" stood
    # in force before a call when no consent had been there to revoke.
    ends = change.get("ends")
    if isinstance(ends, list) and ends and ends != [kind]:
        said.insert(0, "ends " + " and ".join(map(str, ends)))
    if change.get("changed") == 0:
        said.insert(0, "changed nothing in the record store")
    facts = ", ".join(said)
    return " ".join(str(part) for part in (
        _second(change.get("logged_at")), change.get("action", change.get("event", "")),
        f"({kind})" if kind else "", f"[{change.get('node', '')}]",
        f"— {facts}" if facts else "") if part)


def _read_from(query: dict[str, Any], found: Evidence) -> str:
    """``N archived day(s) (the archive at DIR) and M unarchived file(s) (PATHS)``: the
    counts alone did not say whose log or which archive copy the history came from."""
    archive = query.get("archive")
    empty = ", which holds nothing yet" if query.get("archive_empty") else ""
    where = (f" (the archive at {archive}{empty})" if archive else
             f" (no archive at {query['archive_missing']})" if query.get("archive_missing")
             else " (no archive)")
    files = ", ".join(found.live_sources)
    return (f"{found.archive_days} archived day(s){where} and {len(found.live_sources)} "
            f"unarchived file(s)" + (f" ({files})" if files else ""))


def _range_text(query: dict[str, Any]) -> str:
    """The range as asked and as read, and how a decision is dated in it."""
    first = query["from_instant"] or "the first record"
    last = query["to_instant"] or "the last record"
    asked = ", ".join(f"--{k} {query[k]}" for k in ("from", "to") if query.get(k))
    return (f"range: {first} until {last} (asked: {asked}; a date alone is midnight in "
            f"{query['tz']}); a call placed is dated by its instant, a `check --at` or "
            "a scrub by when it was asked")


def _zone(name: object) -> tzinfo | None:
    """The zone --tz named, unless UTC (whose column the table has already)."""
    from zoneinfo import ZoneInfo  # noqa: PLC0415

    if not isinstance(name, str) or name.upper() in ("UTC", "Z", "ETC/UTC"):
        return None
    try:
        return ZoneInfo(name)
    except (ValueError, KeyError):
        return None


def _in_zone(stamp: object, zone: tzinfo) -> str:
    """A record's instant in ``zone``, to the second, with its offset."""
    try:
        instant = datetime.fromisoformat(str(stamp))
    except ValueError:
        return ""
    return instant.astimezone(zone).isoformat(timespec="seconds")


def _second(stamp: object) -> str:
    """A record's UTC instant to the second, still saying Z (`2026-12-05T10:59:36Z`): the
    text table cut the stamp to 19 characters, so its cells read as no zone in particular
    beside the page's, `tail`'s and the records' Z."""
    text = str(stamp or "")
    return f"{text[:19]}Z" if len(text) >= 19 else text  # 19: YYYY-MM-DDTHH:MM:SS


_INSTANTS = frozenset({"logged_at", "at", "local"})  # never folded at their hyphens
_CLASSES = {**dict.fromkeys(_INSTANTS, " class=t"), "detail": " class=d",
            "in_force": " class=d"}
# The page's column headings: the zone of every instant said (the cells are UTC, `Z`).
_HEADINGS = {"logged_at": "logged at (UTC)", "at": "call at (UTC)",
             "local": "called party's local time", "decision_id": "decision id",
             "number_last4": "number (last 4)", "lists": "list versions",
             "packs": "packs (version)",
             "in_force": "records in force (changes logged before it)"}


def _html(query: dict[str, Any], found: Evidence) -> str:
    def cell(record: Record, column: str) -> str:
        if column == "detail":
            return _readable(record, "\n")  # one field a line (white-space: pre-line)
        if column == "verdict":
            return _verdict(found, record)
        if column == "in_force":  # the records as they stood: the page said nothing of them
            return "\n".join(_in_force(change) for change in found.records_before(record)
                             ) or "none"
        if column == "at_zone" and zone is not None:
            return _in_zone(record.get("at"), zone)
        if column == "rule":
            return _rule(query, record)
        return called_party_times(record) if column == "local" else _row(record)[column]

    zone = _zone(query.get("tz"))  # the zone the officer named, beside UTC (as the text)
    headings = {**_HEADINGS, "at_zone": f"call at ({query.get('tz')})"}

    def table(title: str, records: list[Record], columns: list[str]) -> str:
        head = "".join(f"<th>{html.escape(headings.get(c, c))}</th>" for c in columns)
        body = "".join("<tr>" + "".join(
            f"<td{_CLASSES.get(c, ' class=t' if c == 'at_zone' else '')}>"
            f"{html.escape(cell(r, c))}</td>"
            for c in columns) + "</tr>" for r in records) or (
            f"<tr><td colspan='{len(columns)}'>none</td></tr>")  # an empty box reads as a fault
        return (f"<h2>{html.escape(title)} ({len(records)})</h2>"
                f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")

    asked = ", ".join(f"{k} = {v}" for k, v in query.items()
                      if v is not None and k != "number_hash" and k not in _NOT_ASKED)
    stored = ("<h2>Records as stored now</h2><p class=d>"
              + html.escape("\n".join(_stored_lines(query["stored_now"])))
              + "</p>") if "stored_now" in query else ""
    decision_columns = ["logged_at", "at", *(["at_zone"] if zone is not None else []),
                        "local", "decision_id", "node", "front",
                        "campaign", "solicitor",
                        *([_TELEMARKETER] if _centred(found) else []),
                        "mode", "verdict", "rule", "reason", "lists", "packs", "in_force"]
    changes, later, loaded = _kinds(found)
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<title>callguard evidence</title>"
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;"
        "margin-bottom:2em}th,td{border:1px solid #bbb;padding:4px 8px;font-size:13px;"
        "text-align:left;vertical-align:top}th{background:#eee}.t{white-space:nowrap}"
        ".d{white-space:pre-line}"
        "</style></head><body>"
        f"<h1>callguard evidence</h1><p>{html.escape(asked)}. Read: "
        f"{html.escape(_read_from(query, found))}. Numbers never "
        "appear in clear: last four digits and keyed hash only.</p>"
        + "".join(f"<p class=note><strong>Note:</strong> {html.escape(note)}</p>"
                  for note in query.get("notes", []))
        + "".join(f"<p class=purged><strong>Purged:</strong> {html.escape(_purged(p))}.</p>"
                  for p in found.purges)
        + "".join(f"<p class=adopted><strong>Record store replaced:</strong> "
                  f"{html.escape(_adopted(a))}.</p>" for a in found.adoptions)
        + table("Decisions", found.decisions, decision_columns)
        + table("Record changes (consent, business relationship, do-not-call)", changes,
                ["logged_at", "node", "solicitor", "number_last4", "detail"])
        + table("Later records of these calls", later,
                ["logged_at", "event", "decision_id", "node", "campaign", "detail"])
        + table("Packs loaded by the node before these decisions (those out of a call's "
                "scope too)", loaded, ["logged_at", "node", "packs"])
        + stored + "</body></html>\n")


def _text(query: dict[str, Any], found: Evidence) -> str:
    from rich.markup import escape  # noqa: PLC0415
    from rich.table import Table  # noqa: PLC0415

    from callguard.cli.output import console as uncut  # noqa: PLC0415

    out = io.StringIO()
    console = uncut(file=out, terminal=False)  # evidence is never cut, on a screen or not
    who = (f"number …{query['number_last4']} (key {query['key_id']})"
           if query["number_last4"] else f"decision {query['decision_id']}")
    changes, later, loaded = _kinds(found)
    withdrawn = sum(found.withdrawn_by(d) is not None for d in found.decisions)
    console.print(f"[bold]{who}[/]: {len(found.decisions)} decision(s)"
                  + (f" ({withdrawn} withdrawn)" if withdrawn else "") + f", {len(changes)} "
                  f"record change(s), {len(later)} later record(s) of these calls, "
                  f"{len(loaded)} record(s) of the packs loaded; read "
                  f"{escape(_read_from(query, found))}")
    for note in query.get("notes", []):  # in the saved file too, not on stderr alone
        console.print(f"[bold]note:[/] {escape(shown(note))}", highlight=False)
    ranged = query["from_instant"] or query["to_instant"]
    if ranged:
        # The range asked and how a decision is dated in it: with --from/--to the page said
        # "decisions: none" beside no range at all, for a number whose `check --at` of that
        # day was made (and dated) the week before.
        console.print(escape(_range_text(query)), highlight=False)
    for purge in found.purges:  # before "decisions: none", which it qualifies
        console.print(f"[bold]purged:[/] {escape(_purged(purge))}", highlight=False)
    for adoption in found.adoptions:
        console.print(f"[bold]caveat:[/] {escape(shown(_adopted(adoption)))}",
                      highlight=False)
    # in the order they were made; `at` is the instant judged (a scrub's planned call)
    # the zone the officer named (--tz) beside UTC: the page spoke UTC alone
    zone = _zone(query.get("tz"))
    named = [f"at ({query['tz']})"] if zone is not None else []
    centred = _centred(found)
    table = Table("logged (UTC)", "at (UTC)", *named, "decision id", "node", "front",
                  "campaign", *([_TELEMARKETER] if centred else []), "verdict", "rule",
                  "lists", "packs", "records before")
    for decision in found.decisions:  # every cell escaped: records are data, not markup
        table.add_row(*map(escape, (
            _second(decision.get("logged_at")), _second(decision.get("at")),
            *([_in_zone(decision.get("at"), zone)] if zone is not None else []),
            str(decision.get("decision_id", "")),
            str(decision.get("node", "")), str(decision.get("front", "")),
            str(decision.get("campaign", "")),
            *([_row(decision)[_TELEMARKETER]] if centred else []), _verdict(found, decision),
            _rule(query, decision), _lists(decision), _packs(decision),
            str(len(found.records_before(decision))))))
    # no decision: said in words, as the page's "none" (headings alone read as a fault)
    console.print(table if found.decisions else
                  "decisions: none in the range" if ranged else "decisions: none",
                  highlight=False)
    # What stood before each decision, listed (the table's count alone left `--decision`
    # saying "0 record change(s)" beside "records before: 4", and none of them named).
    for decision in found.decisions:
        standing = found.records_before(decision)
        # never a control character of a record's text on the terminal (``shown``)
        console.print(escape(shown(
            f"records in force before {decision.get('decision_id')} (changes of "
            f"{decision.get('solicitor', '?')}"
            + (f" and of its call centre {centre}" if isinstance(
                centre := decision.get(_TELEMARKETER), str) else "")
            + " for the number logged before it): "
            f"{len(standing) or 'none'}")), highlight=False)
        for change in standing:
            console.print(f"  {escape(shown(_in_force(change)))}", highlight=False)
    if found.events:
        others = Table("logged at (UTC)", "event", "node", "detail")
        for event in found.events:
            row = _row(event)
            detail = (f"loaded: {row['packs']}" if event.get("event") == "packs-loaded"
                      else _readable(event, "; "))
            others.add_row(*map(escape, (_second(row["logged_at"]), row["event"], row["node"],
                                         detail)))
        console.print(others)
    if "stored_now" in query:
        for line in _stored_lines(query["stored_now"]):
            console.print(escape(shown(line)), highlight=False)
    return out.getvalue()
