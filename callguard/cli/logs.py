"""Supervisor commands over the compliance log: ``tail``, ``report``, ``purge``.

``tail`` of a file must answer in well under 0.2 s on a gigabyte log, so this module
imports only what reading needs; the settings, Redis and the hashing key are loaded when
an option asks for them (``--stream``, ``--number``, an unknown ``--campaign``).

Exit codes: 0 a complete answer; 1 an incomplete one (records this lookup cannot read:
hashed with another key, or of a schema this version does not know; or, for ``purge``,
nothing destroyed because ``--yes`` was not given); 2 a usage error (unknown file or
campaign, no key); 3 an internal error.
"""

from __future__ import annotations

import contextlib
import re
import signal
import socket
import sys
from collections.abc import Callable, Coroutine, Iterable, Iterator
from datetime import UTC, datetime, timedelta, tzinfo
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click
import orjson
from rich.markup import escape

from callguard.cli import output
from callguard.cli.common import (
    CliState,
    err_console,
    log_to_read_or_exit,
    one_source_or_exit,
    output_path_or_exit,
    own_files_or_exit,
    run,
    usage_error,
    window_or_exit,
    zone_or_exit,
)
from callguard.cli.locate import LogPlace, e164, locate
from callguard.compliance.fields import canonical_decision_id
from callguard.compliance.reader import (
    ReadStats,
    Record,
    RecordFilter,
    listed_again_if_purged,
    log_exists,
    oldest_first,
    parse_line,
)
from callguard.errors import CallguardError, ConfigError, NumberError
from callguard.front_names import ALL_FRONTS
from callguard.numbers.parse import number_reason, quoted_number
from callguard.utc import YEARS, leap_second, out_of_years, skipped, wall_instant

if TYPE_CHECKING:
    from rich.text import Text

__all__ = ["EXIT_INCOMPLETE", "LogQuery", "field_text", "hash_number", "house_policies",
           "instant_option", "place_or_exit", "range_or_exit", "report", "shown", "tail"]

EXIT_INCOMPLETE = 1
T = TypeVar("T")
_DURATION = re.compile(r"^(\d+)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}



# A record change's facts, in this order (the instants the gate reads; the evidence's
# reference; where the change came from).
_RECORD_FACTS = ("source", "granted_at", "expires_at", "window", "evidence_ref", "revoked_at",
                 "requested_at", "ended_at", "last_transaction", "last_inquiry")

# The end of a day as ISO 8601 spells it (2026-12-31T24:00): the next day's midnight.
_END_OF_DAY = re.compile(r"^(\d{4}-\d\d-\d\d)[T ]24(?::00(?::00(?:\.0+)?)?)?(?=$|[Zz+-])")
_ENDS = ("--until", "--to")  # the options that end a range (before them)
# A site just set up (`init`, nothing served) has the right data dir and no log yet: said
# first, before the wrong data dir it may also be (hnew33)
NOTHING_RECORDED_YET = ("nothing has been recorded in this data dir yet (serve, check, scrub "
                        "and the record commands write the log), or it is not the node's")
_DATE_ONLY = re.compile(r"^\d{4}-?\d\d-?\d\d$")  # what fromisoformat reads as midnight


def instant_option(option: str, text: str | None, zone: tzinfo = UTC) -> datetime | None:
    """ISO date, ISO instant (in ``zone`` if no offset is given: UTC, or the zone a report
    counts days in, so its dates are that zone's midnights), or a duration ago like 7d.

    One reading for every command's range (`tail`, `report`, `evidence`): a wall time the
    zone shows twice or never is resolved by ``utc.wall_instant`` (and said on stderr);
    an instant outside ``utc.YEARS``, a leap second or a duration past them is refused
    (exit 2) as `check --at` refuses it, where `report --until 9999-12-31` was an
    internal error (OverflowError)."""
    if text is None:
        return None
    match = _DURATION.match(text)
    if match:
        try:
            value = datetime.now(UTC) - timedelta(**{_UNITS[match[2]]: int(match[1])})
        except OverflowError:
            value = datetime.min.replace(tzinfo=UTC)
        return _in_years_or_exit(option, text, value)
    parsed = _parsed(text)
    if parsed is None:
        before = leap_second(text)
        if before is not None:
            usage_error(f"{option} {text!r} is a leap second (:60), which callguard cannot "
                        f"represent; give the second before it ({before}) or after it")
        now = datetime.now(zone)  # examples of today, in the range's zone (they were
        today = now.date().isoformat()  # fixed 2026-11-22 dates, a year stale soon, hcli33)
        # hnew33's wording (348ac732) with today's examples (hrev165)
        usage_error(f"{option} {text!r}: use a date ({today}), an instant with its UTC "
                    f"offset ({today}T08:00:00{now.isoformat()[-6:]}) or a time back from "
                    "now in s, m, h or d (2h; yesterday: 1d)")
    value = parsed
    if value.tzinfo is None:  # a date alone, or T24:00: where that day begins
        day = _END_OF_DAY.match(text) is not None or _DATE_ONLY.match(text) is not None
        value, note = wall_instant(value, zone, end=option in _ENDS, day=day)
        if note is not None:
            err_console.print(f"[yellow]note:[/yellow] {escape(f'{option} {note}')}",
                              highlight=False)
    return _in_years_or_exit(option, text, value)


def range_or_exit(first: tuple[str, str | None], last: tuple[str, str | None],
                  zone: tzinfo = UTC) -> tuple[datetime | None, datetime | None]:
    """A range's two options (name, text) as instants, in order: the one reading of
    `tail`, `report` and `evidence`. Two bounds inside a spring-forward gap are one instant
    (no clock showed any time between them): said so, not "swap them"."""
    since, until = instant_option(*first, zone), instant_option(*last, zone)
    if since is not None and since == until and any(
            _skipped(text, zone) for _, text in (first, last)):
        usage_error(f"{first[0]} {first[1]} and {last[0]} {last[1]} are one instant in "
                    f"{zone}: the clocks skipped the time between them (the notes above), "
                    f"no instant lies between them; widen the window")
    window_or_exit(since, until, names=(first[0], last[0]))
    return since, until


def _parsed(text: str) -> datetime | None:
    """``text`` as ``fromisoformat`` reads it, ``T24:00`` as the next day's midnight; None
    when it is neither."""
    end_of_day = _END_OF_DAY.match(text)
    try:
        if end_of_day:
            return datetime.fromisoformat(
                end_of_day[1] + "T00:00" + text[end_of_day.end():]) + timedelta(days=1)
        return datetime.fromisoformat(text)
    except (ValueError, OverflowError):
        return None


def _skipped(text: str | None, zone: tzinfo) -> bool:
    """Whether ``text`` is a wall time ``zone`` never showed (a spring-forward gap): two
    such bounds are one instant. Not so of two texts naming one instant otherwise
    (`--since 2026-12-02 --until 2026-12-01T24:00` in UTC was told "both fall in the time
    the clocks skipped in UTC")."""
    value = None if text is None or _DURATION.match(text) else _parsed(text)
    return value is not None and value.tzinfo is None and skipped(value, zone)


def _in_years_or_exit(option: str, text: str, value: datetime) -> datetime:
    if out_of_years(value):
        usage_error(f"{option} {text!r} must fall in the years {YEARS[0]}-{YEARS[1]} (UTC); "
                    f"leave {option} out for no bound")
    return value


class LogQuery:
    """One supervisor's question: the filter, where to read, and the honest footnotes."""

    def __init__(self, state: CliState, options: dict[str, Any]) -> None:
        self.state = state
        self.campaign: str | None = options.get("campaign")
        self.rule: str | None = options.get("rule")
        self.node: str | None = options.get("node")
        self.key_source = ""
        key_id = None
        number_hash = None
        if options.get("number") is not None:
            number_hash, key_id = self._hash(options["number"])
        decision_id = decision_id_or_exit(options.get("decision"))
        self.decision_id = decision_id
        since, until = range_or_exit(("--since", options.get("since")),
                                     ("--until", options.get("until")))
        self.filter = RecordFilter(
            campaign=self.campaign, verdict=options.get("verdict"), rule=options.get("rule"),
            since=since, until=until, number_hash=number_hash,
            event=options.get("event"), decision_id=decision_id,
            front=options.get("front"), node=options.get("node"))
        self.stats = ReadStats(key_id=key_id)
        # where a campaign nothing matched may still be named (``_campaign_unknown``): the
        # archive the command read or was given, and whether it read the Redis stream
        self.archive: Any = None
        self.stream = False
        self.command = "tail"

    def _hash(self, number: str) -> tuple[str, str]:
        """The number's keyed hash and the key's fingerprint; the key is only read."""
        number_hash, key_id, self.key_source, _ = hash_number(self.state, number)
        return number_hash, key_id

    def log_file(self, file_path: Path | None) -> Path:
        """The log to read: ``--file`` or this node's; a missing one is a usage error."""
        if file_path is not None:
            path = file_path
            log_to_read_or_exit(path, None, None)
            if not log_exists(path):
                usage_error(f"--file {path}: no such compliance log (nor closed segments "
                            f"{path.name}.*Z beside it); give the path of a node's log")
            return path
        place = place_or_exit(self.state)
        if place.log_file is None:
            usage_error("this node logs to stdout ([log] file = \"-\"); give --file or "
                        "--stream")
        log_to_read_or_exit(None, place.log_file, place.data_dir)
        if not log_exists(place.log_file):
            if (place.archive_dir / "manifest.json").exists():
                # not a wrong data dir: every segment was archived and deleted, and
                # nothing was logged since (serve writes at its start)
                usage_error(f"no compliance log at {place.log_file}: this data dir's records "
                            f"are in its archive ({place.archive_dir}), which tail does not "
                            "read; use `callguard evidence NUMBER` / `--decision ID` or "
                            "`callguard report` (or --stream)")
            if place.redis_stream:
                # an officer's host: the records are in the stream, not "nothing recorded"
                # (which an officer reads as no calls) (hrev166)
                usage_error(f"no compliance log at {place.log_file} (data dir "
                            f"{place.data_dir}): with [log] redis_stream on, the records no "
                            "archiver has taken yet are in the Redis stream; give --stream "
                            "(or --file a node's log), or check --data-dir / "
                            "CALLGUARD_DATA_DIR and [log] file")
            usage_error(f"no compliance log at {place.log_file} (data dir {place.data_dir}): "
                        f"{NOTHING_RECORDED_YET}; check --data-dir / CALLGUARD_DATA_DIR and "
                        "[log] file, or give --file or --stream")
        return place.log_file

    def finish(self, matched: int, *, exit_incomplete: bool = True) -> list[str]:
        """Say what the answer could not include; exit non-zero when that matters (or,
        without ``exit_incomplete``, return the notes that make it incomplete: the report
        is printed first, and says them)."""
        stats, notes, incomplete = self.stats, [], False
        missing: list[str] = []
        if stats.torn:
            notes.append(f"{stats.torn} line(s) were not JSON records (torn by a crash?) "
                         "and were skipped")
        if stats.unknown_schema:
            incomplete = True
            kinds = ", ".join(f"schema {k}: {n}" for k, n in sorted(stats.unknown_schema.items()))
            notes.append(f"records of a schema this callguard does not know were not read "
                         f"({kinds}); upgrade callguard to read them")
            missing.append(notes[-1])
        if stats.other_keys:
            incomplete = True
            others = ", ".join(f"{k} ({n})" for k, n in stats.other_keys.most_common())
            notes.append(f"--number was hashed with key {stats.key_id} ({self.key_source}), "
                         f"but records were hashed with other keys: {others}; this lookup "
                         "cannot match them. Use the nodes' key (CALLGUARD_LOG_KEY, or the "
                         "log.key of their --data-dir)")
            missing.append(notes[-1])
        if stats.unkeyed:
            notes.append(f"{stats.unkeyed} older record(s) carry no key_id: whether they "
                         "were hashed with this key cannot be checked")
        for note in notes:
            _warn(note)
        if self.rule is not None and matched == 0:
            self._rule_unknown()
        if self.campaign is not None and matched == 0 and (
                self.campaign not in stats.campaigns):
            self._campaign_unknown()
        if self.node is not None and matched == 0 and self.node not in stats.nodes:
            self._node_unknown()
        if incomplete and exit_incomplete:
            sys.exit(EXIT_INCOMPLETE)
        return missing

    def _rule_unknown(self) -> None:
        """Nothing matched --rule: say so when it is no rule of the configured packs (a
        typo, or an id of an older pack version), rather than answer with silence."""
        assert self.rule is not None
        rules = {r.rule_id for pack in self.state.settings.packs.values() for r in pack.rules}
        if self.rule in rules or self.rule.startswith("callguard:"):
            return
        _warn(f"no record matched --rule {self.rule!r}, which is no rule of the configured "
              "packs (ids look like us-ut:13-25a-103(3):hours or us-federal:64.1200(c)(2); "
              "`callguard packs show ID` lists a pack's); an older pack version's id "
              "matches only the records decided with it")

    def _node_unknown(self) -> None:
        """Nothing matched --node and no record read names it: a mistyped node name
        (dialer-1 for dialer-01) answered "0 decisions" in silence."""
        me = self.state.settings.log.node or socket.gethostname()
        _warn(f"no record matched --node {self.node!r}, and no record read names that node "
              f"(names are exact; this node writes as {me!r}, [log] node or the host name)")

    def _campaign_unknown(self) -> None:
        configured = self.state.settings.campaigns
        if self.campaign is None or self.campaign in configured:
            return
        from callguard.compliance.archive.store import Archive  # noqa: PLC0415

        archive = self.archive or Archive(place_or_exit(self.state).archive_dir)
        if self.campaign in _archived_values(archive, "campaign"):
            # a retired campaign: refused as a typo, though its calls are archived
            reads = ("`report --stream` does not read (`report` without --stream and "
                     "`evidence` do)" if self.command == "report" else
                     "`tail` does not read (`report --campaign` and `evidence` do)")
            _warn(f"--campaign {self.campaign!r} is not configured now and no record read "
                  f"here matched; its records are in the archive at {archive.root}, "
                  f"which {reads}")
            return
        if self.stream and from_redis(self.state, _in_stream(self.state, "campaign",
                                                             self.campaign)):
            return  # in the stream, outside the range read: its zeros are the answer
        known = ", ".join(sorted(configured)) or "none configured"
        hint = "" if not self.stream else (
            "; records trimmed from the stream are in the archiver's archive: give its "
            "--archive DIR" if self.command == "report" else
            "; records trimmed from the stream are in the archiver's archive, which `tail` "
            "does not read: `report --archive DIR --campaign` or `evidence` do")
        usage_error(f"--campaign {self.campaign!r} is not configured and appears in no record "
                    f"read; configured campaigns: {known}{hint}")




def record_kinds() -> tuple[str, ...]:
    """Record kinds: one JSON Schema each, so a new kind is known by adding its schema."""
    from callguard.resources import record_schemas_dir  # noqa: PLC0415

    return tuple(sorted(p.stem for p in record_schemas_dir().glob("*.json")))


def decision_id_or_exit(value: str | None) -> str | None:
    """The decision id as records spell it; anything but a UUID is a usage error.

    A UUID typed in capitals or without hyphens names the same decision, so it is
    normalised rather than answered with "not found".
    """
    if value is None:
        return None
    canonical = canonical_decision_id(value)
    if canonical is None:
        usage_error(f"--decision {value!r} is not a decision id (a UUID such as "
                    "01a2415c-7c3e-7d2a-9b1e-5f0c3d2e1a40)")
    return canonical


def place_or_exit(state: CliState) -> LogPlace:
    """Where this node's log and archive are (a light read of the configuration)."""
    try:
        return locate(state.config_option, state.data_dir_option)
    except ConfigError as exc:
        usage_error(f"configuration: {exc}")


def hash_number(state: CliState, number: str) -> tuple[str, str, str, str]:
    """(hash, key id, where the key came from, last four digits) of a number to look up.

    The key is read, never created; a missing one, or a number that is not dialable, is
    a usage error.
    """
    from callguard.compliance.logkey import (  # noqa: PLC0415
        LogKeyError,
        NumberProtector,
        read_log_key,
    )

    place = place_or_exit(state)
    try:
        key, source = read_log_key(place.data_dir)
    except LogKeyError as exc:
        usage_error(str(exc))
    try:
        normal = e164(place, number)
    except NumberError as exc:
        # stderr: never in clear; the number quoted once (hnew30: "number 'garbage':
        # 'garbage' contains letters")
        usage_error(number_reason(quoted_number(number), str(exc)))
    hasher = NumberProtector(key)
    return hasher.hash(normal), hasher.key_id, source, normal[-4:]


def from_redis(state: CliState, coro: Coroutine[Any, Any, T]) -> T:
    """Run a read of the Redis stream; Redis down or refusing is a usage error with the fix."""
    from redis.exceptions import AuthenticationError, RedisError  # noqa: PLC0415

    try:
        return run(coro)
    except AuthenticationError as exc:
        coro.close()
        usage_error(f"--stream: Redis refused the credentials ({exc}); check "
                    "CALLGUARD_REDIS_URL / [redis] url")
    except (RedisError, OSError) as exc:
        coro.close()
        usage_error(f"--stream: Redis at [redis] url is not reachable ({exc}); start Redis "
                    "or fix CALLGUARD_REDIS_URL / [redis] url, or read this node's file "
                    "without --stream")


def _warn(message: str) -> None:
    err_console.print(f"[yellow]note:[/yellow] {escape(message)}", highlight=False)


def _source_options(function: Callable[..., Any]) -> Callable[..., Any]:
    function = click.option("--stream", is_flag=True,
                            help="Read the Redis stream of every node instead of a file.")(
        function)
    return click.option("--file", "file_path", type=click.Path(path_type=Path),
                        help="A compliance log file; default: this node's.")(function)


def _filter_options(function: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed([
        click.option("--campaign", help="Campaign id."),
        click.option("--verdict", type=click.Choice(["ALLOW", "BLOCK"], case_sensitive=False),
                     metavar="[ALLOW|BLOCK]",
                     help="Decisions with this verdict."),
        click.option("--rule", help="Deciding rule id, e.g. us-ut:13-25a-103(3):hours."),
        click.option("--since", metavar="WHEN",
                     help="ISO date/instant (UTC without an offset), or 15m, 2h, 7d ago."),
        click.option("--until", metavar="WHEN", help="Records before (as --since)."),
        click.option("--number", help="Matched by its keyed hash (same key as the nodes)."),
        click.option("--decision", metavar="ID", help="One decision and its later records."),
        click.option("--front", type=click.Choice(ALL_FRONTS), help="The front asked."),
        click.option("--node", help="The node that wrote the record."),
        click.option("--event", type=click.Choice(record_kinds()),
                     help="Record kind (one JSON Schema each)."),
    ]):
        function = option(function)
    return function


# A control character in a field (a newline or an ESC in an opt-out's `source`, sent over
# HTTP or read from a CSV) shown as its Unicode control picture (␤, ␛), one character for
# one, so a record stays one line and no field can forge a line or drive the terminal.
_CONTROL_PICTURES = {**{code: 0x2400 + code for code in range(0x20)}, 0x7F: 0x2421,
                     **dict.fromkeys(range(0x80, 0xA0), 0xFFFD)}


def shown(text: str) -> str:
    """``text`` with every control character replaced by a visible one of the same length."""
    return text.translate(_CONTROL_PICTURES)


def field_text(value: Any) -> str:
    """A record field's value for people: a scalar as it is, a list or object as compact
    JSON (tail's ``field=value``, evidence's ``field: value``); never a control character."""
    if isinstance(value, str | int | float | bool):
        return shown(str(value))
    return orjson.dumps(value).decode()


def _line(record: Record) -> Text:
    """One record as a coloured human line."""
    from rich.text import Text  # noqa: PLC0415 - not needed for --json

    logged = str(record.get("logged_at", ""))[:19].replace("T", " ") + "Z"  # UTC, said
    text = Text(f"{logged} ", style="dim")
    text.append(f"{record.get('node', '?')!s:<12} ", style="cyan")
    last4 = f"…{record.get('number_last4', '')}" if record.get("number_last4") else ""
    event = record.get("event")
    if event == "decision":
        verdict = str(record.get("verdict"))
        text.append(f"{verdict:<5} ", style="bold green" if verdict == "ALLOW" else "bold red")
        text.append(f"{record.get('campaign')} {last4} {record.get('mode') or ''} "
                    f"{record.get('front') or ''} ")
        if record.get("places_call") is False:  # schema 2: a `check --at` question
            text.append("(question: no call placed) ")
        if verdict != "ALLOW":
            text.append(f"{record.get('rule') or ''} ", style="red")
        text.append(str(record.get("reason") or ""), style="" if verdict == "ALLOW" else "red")
    elif event == "record":
        text.append("REC   ", style="bold yellow")
        # only the fields the record has ("ebr-recorded … source=" read as a blank source)
        parts = [str(record.get("action")), str(record.get("solicitor")), last4,
                 str(record.get("kind") or ""),
                 # a revocation: every kind it ended (autodialer or written ends both)
                 *([f"ends={','.join(map(str, record['ends']))}"]
                   if isinstance(record.get("ends"), list) else []),
                 *(f"{key}={record[key]}" for key in _RECORD_FACTS
                   if record.get(key) not in (None, "")),
                 "(changed nothing)" if record.get("changed") == 0 else ""]
        text.append(" ".join(part for part in parts if part))
    else:
        text.append(f"{str(event).upper():<5} ", style="bold magenta")
        # field=value, as the record holds them (a nested value as compact JSON)
        text.append(" ".join(
            f"{k}={field_text(v)}" for k, v in record.items()
            if k not in ("event", "node", "logged_at", "level", "schema", "key_id")))
    text.plain = shown(text.plain)  # one character for one: the styles keep their places
    return text


def _printer(as_json: bool) -> Callable[[Record], None]:
    if as_json:
        out = sys.stdout

        def show_json(record: Record) -> None:
            out.write(orjson.dumps(record).decode() + "\n")
            out.flush()

        return show_json
    console = output.console()
    return lambda record: console.print(_line(record))


class _LinesType(click.ParamType["int | None"]):
    """``-n``: a count of records (0 is none, as ``tail -n 0``) or ``all`` (None)."""

    name = "N|all"

    def convert(self, value: object, param: click.Parameter | None,
                ctx: click.Context | None) -> int | None:
        if value is None or isinstance(value, int):
            return value
        text = str(value).strip().lower()
        if text == "all":
            return None
        if re.fullmatch(r"[0-9]{1,9}", text):
            return int(text)
        self.fail(f"{value!r}: give 0 or a positive number of records (0: none; with -f, "
                  "only new ones) or all", param, ctx)
        return None  # unreachable: fail raises


_LINES = _LinesType()


def _interrupt(signum: int, frame: object) -> NoReturn:
    """SIGTERM ends a follow as quietly as Ctrl-C."""
    raise KeyboardInterrupt


@click.command()
@_source_options
@_filter_options
@click.option("-f", "--follow", is_flag=True, help="Keep printing new records.")
@click.option("-n", "--lines", type=_LINES, default="20", show_default=True, metavar="N|all",
              help="How many matching records to print before following: 0 none (with "
                   "-f: only new ones), all: every one.")
@click.option("--json", "as_json", is_flag=True, help="JSON lines, for tools.")
@click.pass_obj
def tail(state: CliState, /, file_path: Path | None, stream: bool, follow: bool,
         lines: int | None, as_json: bool, **options: Any) -> None:
    """Show compliance records of this node (a file) or of every node (--stream).

    Reads from the end: the newest records first, never a whole file.
    """
    one_source_or_exit(file_path, stream)
    if follow and options.get("until") is not None:
        usage_error("-f shows records as they are written, after any --until: give one of "
                    "them")
    query = LogQuery(state, options)
    query.stream = stream
    show = _printer(as_json)
    signal.signal(signal.SIGTERM, _interrupt)
    shown = 0
    try:
        if stream:
            shown = from_redis(query.state, _tail_stream(query, show, follow, lines))
        else:
            shown = _tail_file(query, query.log_file(file_path), show, follow, lines)
    except KeyboardInterrupt:
        pass
    query.finish(shown)
    if lines == 0:  # nothing asked for: an empty answer is the complete one (as tail(1))
        if not follow:
            # -n 0 meant every record until 2026-12: a script written then would now read
            # an empty log (exit 0) and report no BLOCK, no release, no risk
            _warn("-n 0 asks for no record, so none is shown; every matching record: -n all "
                  "(-n 0 meant that before)")
        return
    if query.decision_id is not None and not shown and not follow:
        # a lookup, like `evidence --decision` and `explain`: empty output is no answer
        where = "the Redis stream" if stream else "the log and its closed segments"
        _warn(f"no record of decision {query.decision_id} in {where}; archived records "
              f"whose segments were deleted: callguard evidence --decision "
              f"{query.decision_id}")
        sys.exit(EXIT_INCOMPLETE)
    if not shown and not follow and query.decision_id is None:
        # silence read as "the command did nothing" (stderr; exit 0: a log without such a
        # record is a complete answer)
        where = "the Redis stream" if stream else "the log and its closed segments"
        _warn(f"no record matched in {where}" + _archive_hint(state))


def _archive_hint(state: CliState) -> str:
    """Where else the records may be: "no record matched" of a number whose calls were
    archived (their segments deleted) read, after a complaint, as a number never called."""
    from callguard.compliance.archive.store import Archive  # noqa: PLC0415

    try:
        archive = Archive(locate(state.config_option, state.data_dir_option).archive_dir)
        if not archive.exists():
            return ""
        days = archive.manifest().days()
    except (CallguardError, OSError, ValueError) as exc:
        # a hint never changes the answer: the log read was complete (exit 0), and an
        # archive a newer archiver wrote (or a damaged one) made it exit 2 or 3, unsaid
        return (f"; whether the archive holds older records could not be read ({exc}); "
                "`callguard evidence` and `callguard report` read the archive")
    if not days:
        return ""
    return (f"; `tail` does not read the archive at {archive.root} ({len(days)} day(s), "
            f"{days[0]} to {days[-1]}): `callguard evidence NUMBER` (or --decision ID) and "
            "`callguard report` read it")


def _tail_file(query: LogQuery, path: Path, show: Callable[[Record], None], follow: bool,
               lines: int | None) -> int:
    from callguard.compliance.file_tail import tail_file  # noqa: PLC0415

    # The backlog and the follow from one start, as the supervisor page's feed takes them
    # (``tail_file``: found before the backlog, so a heal meanwhile is followed, hlog24).
    handle = path.open("rb") if follow or path.exists() else None
    try:
        shown = 0
        for record in tail_file(path, handle, query.filter, query.stats, lines=lines,
                                follow=follow):
            show(record)
            shown += 1
        return shown
    finally:
        if handle is not None:
            handle.close()


async def _tail_stream(query: LogQuery, show: Callable[[Record], None], follow: bool,
                       lines: int | None) -> int:
    from callguard.compliance.reader import (  # noqa: PLC0415 - Redis only when asked
        follow_stream,
        newest_id,
        read_stream,
        read_stream_newest,
    )
    from callguard.runtime import redis_client  # noqa: PLC0415

    settings = query.state.settings
    client = redis_client(settings)
    key = settings.log.stream_key
    wanted, stats = query.filter, query.stats

    def keep(record: Record) -> bool:
        return stats.observe(record) and wanted.matches(record)

    try:
        # Everything up to this id is backlog; a follow starts right after it, so no record
        # is shown twice or missed in between.
        top = await newest_id(client, key)
        backlog: list[Record] = []
        if lines == 0:
            pass
        elif lines is not None:
            # Newest first, so -n stops after N matching records instead of reading the
            # whole stream.
            async for record in read_stream_newest(client, key, since=wanted.since,
                                                   until=wanted.until, end=top):
                if keep(record):
                    backlog.append(record)
                    if len(backlog) == lines:
                        break
            backlog.reverse()
        else:
            backlog = [r async for r in read_stream(client, key, since=wanted.since,
                                                    until=wanted.until, end=top) if keep(r)]
        for record in backlog:
            show(record)
        shown = len(backlog)
        if follow:
            async for record in follow_stream(client, key, top):
                if keep(record):
                    show(record)
                    shown += 1
        return shown
    finally:
        await client.aclose()


@click.command()
@_source_options
@click.option("--archive", "archive_dir", type=click.Path(path_type=Path, file_okay=False),
              help="The archive; default: <data dir>/archive (when it exists).")
@click.option("--since", metavar="WHEN", help="Calls from (ISO date/instant, or 7d ago); "
              "without a UTC offset, in --tz.")
@click.option("--until", metavar="WHEN", help="Calls before (as --since).")
@click.option("--tz", default="UTC", show_default=True,
              help="Days in this zone, e.g. America/Denver (the called parties' or the "
                   "campaign's).")
@click.option("--campaign", help="Campaign id.")
@click.option("--verdict", type=click.Choice(["ALLOW", "BLOCK"], case_sensitive=False),
              metavar="[ALLOW|BLOCK]",
              help="Calls with this verdict.")
@click.option("--rule", help="Deciding rule id.")
@click.option("--front", type=click.Choice(ALL_FRONTS), help="The front asked (scrubs are not "
              "calls).")
@click.option("--node", help="The node that wrote the records.")
@click.option("--telemarketer", metavar="NAME", help="Calls a call centre placed for its "
              "sellers (the campaigns' telemarketer, as the records name it).")
@click.option("--json", "as_json", is_flag=True, help="Every figure as one JSON object.")
@click.option("--csv", "as_csv", is_flag=True, help="Day x campaign x verdict x rule as CSV.")
@click.option("--html", "html_path", type=click.Path(path_type=Path, dir_okay=False),
              help="Also write a self-contained HTML page (tables and charts) here.")
@click.pass_obj
def report(state: CliState, /, file_path: Path | None, stream: bool, archive_dir: Path | None,
           since: str | None, until: str | None, tz: str, campaign: str | None,
           verdict: str | None, rule: str | None, front: str | None, node: str | None,
           telemarketer: str | None, as_json: bool, as_csv: bool,
           html_path: Path | None) -> None:
    """Calls by day, campaign, verdict and rule; scrubs apart; the watchdog's figures."""
    one_source_or_exit(file_path, stream)
    if as_json and as_csv:  # one standard output: the CSV was silently not printed
        usage_error("--json and --csv both print to standard output: give one of them")

    from callguard.compliance import report as figures  # noqa: PLC0415
    from callguard.compliance.archive.store import Archive  # noqa: PLC0415

    zone = zone_or_exit(tz)
    if html_path is not None and str(html_path) == "-":  # was a file named "-" in the cwd
        usage_error("--html -: the page is written to a file beside the report, which "
                    "takes standard output; give a path such as report.html")
    if html_path is not None:
        output_path_or_exit("--html", html_path)  # before scanning, not after
    first_at, last_at = range_or_exit(("--since", since), ("--until", until), zone)
    query = figures.ReportQuery(since=first_at, until=last_at, tz=tz,
                                campaign=campaign, verdict=verdict, rule=rule, front=front,
                                node=node, telemarketer=telemarketer)
    log_query = LogQuery(state, {"campaign": campaign, "rule": rule, "node": node})
    place = place_or_exit(state)
    archive = Archive(archive_dir or place.archive_dir)
    log_query.archive, log_query.stream, log_query.command = archive, stream, "report"
    if archive_dir is not None and not archive.exists():
        usage_error(f"--archive {archive_dir}: no archive there (no manifest.json)")
    own_files_or_exit("--html", html_path, data_dir=place.data_dir, archive=archive.root,
                      logs=(place.log_file, file_path))
    # Unarchived records are read from two days before --since to the end, whatever
    # --until, and before that the HTTP checks' decisions alone (the range is applied to
    # each call's instant ``at``): an HTTP check may name a day a month away either side
    # of when it was logged. Cut at --until, a call dated back was in no ranged report
    # until archived; cut at --since, a call dated ahead was missing from its day's report
    # until archived. The earlier lines are matched as bytes first (``needles``), few parsed.
    reading = RecordFilter(since=query.since - timedelta(days=2) if query.since else None)
    ahead = None if reading.since is None else RecordFilter(
        event="decision", front="http", until=reading.since)
    path = _report_log(log_query, place, archive, file_path, stream=stream)
    from callguard.compliance.archive.live import report_with_live  # noqa: PLC0415

    # [log] redis_stream: the other nodes' records no archiver has taken yet are in the
    # stream, not in this node's file; read only the file and the archive, a report left
    # their calls out, "0 decisions" for a minute of node-b's (hoff24, hfix24). The stream
    # after the archive's position is read whole (dated in SQL, as --stream); a decision
    # also in this node's file is counted once (``union_view``, by decision id). With
    # --file too, as `evidence --file` reads it: the stream was left out unsaid (hoff25).
    streamed: dict[str, str] | None = (  # what the last read of it was, or why none
        {} if not stream and place.redis_stream else None)

    def unarchived(manifest: Any) -> Iterable[Record]:
        log_query.stats = ReadStats(key_id=log_query.stats.key_id)  # counted once a read
        if stream:  # --stream: the stream only (bounded: read whole, dated in SQL)
            return from_redis(state, _collect_stream(log_query, RecordFilter()))
        records = _unarchived(path, manifest, reading, log_query.stats)
        if ahead is not None:
            # a torn line is counted by the read of its time alone (``reading``)
            records = chain(_unarchived(path, manifest, ahead, ReadStats()), records)
        # the stream's entries kept as the file's lines are (``reading``, ``ahead``): every
        # entry after the archive's position was held in memory whatever --since, ~770 MB
        # for 100,000 entries before the range (hrev121)
        return records if streamed is None else chain(records, _stream_records(
            state, manifest, log_query.stats, streamed,
            lambda r: reading.matches(r) or (ahead is not None and ahead.matches(r))))

    done = listed_again_if_purged(lambda: report_with_live(
        archive, unarchived, query, archived=not stream, threads=2,
        first=query.since.date() - timedelta(days=2) if query.since else None,
        last=query.until.date() + timedelta(days=2) if query.until else None,
        generated=datetime.now(UTC), log=path,
        unarchived_name="the Redis stream of every node" if stream else None))
    done.not_law, done.not_law_unread = house_policies(state)
    if done.purged is not None:  # zeros before the cutoff: destroyed, not "no calls"
        err_console.print(f"[yellow]note:[/yellow] {escape(_plain(figures.purged_note(done)))}",
                          highlight=False)
    if done.adopted:  # the store the calls read was replaced: a caveat on every figure
        err_console.print(f"[yellow]note:[/yellow] {escape(_plain(figures.adopted_note(done)))}",
                          highlight=False)
    matched = (done.total(done.calls) + done.total(done.scrubs)
               + done.total(done.questions) + done.total(done.withdrawn))
    if not matched:  # a --node or --rule nothing names: refused, not answered with zeros
        _filters_known_or_exit(state, node, rule, archive if not stream else None, path,
                               log_query.stats.nodes)
        _campaign_known(campaign, archive if not stream else None, path, log_query.stats)
        if telemarketer is not None:
            _telemarketer_known_or_exit(state, telemarketer, archive if not stream else None,
                                        path, stream)
    # Incomplete (records of a schema this callguard does not know): exit 1 AFTER the
    # report, which says so in its sources; it exited before, printing no report at all
    # (no JSON, no CSV, no page) for one record a newer node wrote.
    missing = log_query.finish(matched, exit_incomplete=False)
    missing += _stream_sources(done, streamed) + (
        [] if stream else _archive_gaps(done, archive, query.since, query.until))
    if missing:
        done.sources = {**done.sources, "not_read": missing}
    _print_report(done, html_path, as_json=as_json, as_csv=as_csv,
                  # not asked again when house_policies could not load it: said once
                  watchdog=None if done.not_law_unread else _watchdog_enabled(state))
    if missing:
        sys.exit(EXIT_INCOMPLETE)


def _report_log(log_query: LogQuery, place: LogPlace, archive: Any, file_path: Path | None,
                *, stream: bool) -> Path | None:
    """The log file `report` reads beside the archive (and the stream), if any. An
    officer's host with [log] redis_stream and no log (nor archive) of its own reads the
    stream, as `evidence` and `explain` do: it was refused "no compliance log", exit 2
    (hoff25); the sources then name the stream alone."""
    if stream:
        return None
    if file_path is None and place.redis_stream and not archive.exists() and (
            place.log_file is None or not log_exists(place.log_file)):
        return None
    if file_path is not None or not archive.exists():
        return log_query.log_file(file_path)
    log_to_read_or_exit(None, place.log_file, place.data_dir)
    return place.log_file


def _print_report(done: Any, html_path: Path | None, *, as_json: bool, as_csv: bool,
                  watchdog: bool | None = None) -> None:
    """The report as asked: JSON, CSV or tables on standard output, and the page.
    ``watchdog``: whether the configuration enables [ami] (None: not known here)."""
    from callguard.compliance import report as figures  # noqa: PLC0415

    if html_path is not None:
        html_path.write_text(figures.render_html(done))
    if as_json:
        print(orjson.dumps(figures.to_json(done)).decode())  # noqa: T201
    elif as_csv:
        sys.stdout.write(figures.render_csv(done))
    else:
        _report_tables(done, watchdog=watchdog)
        if html_path is not None:
            print(f"page: {html_path}")  # noqa: T201


def _filters_known_or_exit(state: CliState, node: str | None, rule: str | None, archive: Any,
                           path: Path | None, nodes_read: set[str]) -> None:
    if node is not None and node not in nodes_read:
        _node_known_or_exit(node, archive, path, nodes_read)
    if rule is not None:
        _rule_known_or_exit(state, rule, archive, path)


def _campaign_known(campaign: str | None, archive: Any, path: Path | None,
                    stats: ReadStats) -> None:
    """A retired campaign (no longer configured) whose records are archived, or in the log
    outside the range read, is known: its zeros are an answer, not a typo (LogQuery.finish
    refused it: "appears in no record read")."""
    if campaign is not None and campaign not in stats.campaigns and (
            campaign in _archived_values(archive, "campaign")
            or _logged(path, "campaign", campaign)):
        stats.campaigns.add(campaign)


def _telemarketer_known_or_exit(state: CliState, name: str, archive: Any, path: Path | None,
                                stream: bool) -> None:
    """A --telemarketer no campaign configures and no record names (the archive's, the
    whole unarchived log or stream) is a usage error, as --campaign: a mistyped call centre
    answered "0 calls", exit 0, and the --json or --csv filed said it placed none. Only
    asked when nothing matched."""
    from callguard.errors import CallguardError  # noqa: PLC0415

    configured: set[str] = set()
    # no configuration here (a copied archive): the records alone say
    with contextlib.suppress(CallguardError, OSError, SystemExit):
        configured = {c.telemarketer for c in state.settings.campaigns.values()
                      if c.telemarketer}
    if name in configured or _archived_centre(archive, name) or (
            _logged(path, "telemarketer", name)) or (
            stream and from_redis(state, _in_stream(state, "telemarketer", name))):
        return
    usage_error(f"--telemarketer {name!r}: no campaign configures that call centre and no "
                "record names it (names are exact); call centres configured: "
                + (", ".join(sorted(configured)) or "none"))


def _archived_centre(archive: Any, name: str) -> bool:
    """Whether a decision of the whole archive names the call centre (its ``body``)."""
    from callguard.compliance.archive.columns import DECISIONS  # noqa: PLC0415
    from callguard.compliance.archive.store import (  # noqa: PLC0415
        connect,
        read_through_commits,
        union_view,
    )

    if archive is None or not archive.exists():
        return False
    needle = '"telemarketer":' + orjson.dumps(name).decode()

    def archived() -> bool:
        manifest, connection = archive.manifest(), connect(threads=2)
        view = union_view(archive, manifest, DECISIONS)
        return connection.execute(
            f"SELECT 1 FROM ({view}) WHERE contains(body, ?) LIMIT 1",  # noqa: S608
            [needle]).fetchone() is not None
    return read_through_commits(archive, archived)


def _node_known_or_exit(node: str, archive: Any, path: Path | None,
                        read: set[str]) -> None:
    """A --node no record names (the archive's, the unarchived log's before the range read)
    is a usage error: a mistyped name answered "0 decisions", exit 0, and the --json or
    --csv filed said the node made no call. Only asked when nothing matched."""
    named = set(read) | _archived_values(archive, "node")
    if node in named or _logged(path, "node", node):
        return
    shown = ", ".join(sorted(named)[:20]) or "none"
    usage_error(f"--node {node!r}: no record read names that node (names are exact); "
                f"nodes in the records: {shown}")


def _rule_known_or_exit(state: CliState, rule: str, archive: Any, path: Path | None) -> None:
    """A --rule that is no rule of the configured packs and that no record names (an older
    pack version's id is, in its records) is a usage error, as --node: a mistyped id
    answered "0 blocks", exit 0, with a note on stderr beside a --json or --csv of zeros."""
    from callguard.errors import CallguardError  # noqa: PLC0415

    if rule.startswith("callguard:"):
        return
    try:
        if any(r.rule_id == rule for pack in state.settings.packs.values()
               for r in pack.rules):
            return
    except (CallguardError, OSError, SystemExit):
        pass  # packs not loadable here (a copied archive): the records alone say
    if rule in _archived_values(archive, "rule", events=False) or _logged(path, "rule", rule):
        return
    usage_error(f"--rule {rule!r} is no rule of the configured packs and no record names it "
                "(ids look like us-ut:13-25a-103(3):hours or us-federal:64.1200(c)(2); "
                "`callguard packs show ID` lists a pack's)")


def _archived_values(archive: Any, column: str, *, events: bool = True) -> set[str]:
    """The distinct values of a column (``node``, ``rule``, ``campaign``) over the whole
    archive."""
    from callguard.compliance.archive.columns import DECISIONS, EVENTS  # noqa: PLC0415
    from callguard.compliance.archive.store import (  # noqa: PLC0415
        connect,
        read_through_commits,
        union_view,
    )

    if archive is None or not archive.exists():
        return set()
    tables = (DECISIONS, EVENTS) if events else (DECISIONS,)
    assert column in ("node", "rule", "campaign")  # a column name in SQL text: never a user's value

    def archived() -> set[str]:
        manifest, connection = archive.manifest(), connect(threads=2)
        views = [union_view(archive, manifest, table) for table in tables]
        return {row[0] for view in views for row in connection.execute(
            f"SELECT DISTINCT {column} FROM ({view})").fetchall()  # noqa: S608
            if isinstance(row[0], str)}
    return read_through_commits(archive, archived)


async def _in_stream(state: CliState, field: str, value: str) -> bool:
    """Whether an entry of the whole Redis stream has ``"field":"value"``, matched as bytes
    (a `tail --stream --since` reads only the entries after --since: a campaign named
    before it was refused as a typo)."""
    from callguard.compliance.reader import stream_pages  # noqa: PLC0415
    from callguard.runtime import redis_client  # noqa: PLC0415

    client = redis_client(state.settings)
    needle = f'"{field}":'.encode() + orjson.dumps(value)
    try:
        async for entries in stream_pages(client, state.settings.log.stream_key, "-"):
            if any(needle in fields.get(b"r", b"") for _, fields in entries):
                return True
        return False
    finally:
        await client.aclose()


def _logged(path: Path | None, field: str, value: str) -> bool:
    """Whether a line of the unarchived log (all of it, not only the range read) has
    ``"field":"value"``, matched as bytes."""
    from callguard.compliance.segments import Segment, closed_segments  # noqa: PLC0415

    if path is None:
        return False
    needle = f'"{field}":'.encode() + orjson.dumps(value)
    for segment in [*closed_segments(path), *([Segment(path, None)] if path.exists() else [])]:
        with contextlib.suppress(FileNotFoundError):
            if any(needle in line for line in segment.lines()):
                return True
    return False


def house_policies(state: CliState) -> tuple[dict[str, str], str | None]:
    """The configured packs that are not enacted law, by id (their titles), and None; or
    nothing and why, when the configuration or its packs cannot be loaded here (a report of
    an archive copied to counsel): an empty answer alone read as "no house policy"."""
    from callguard.errors import CallguardError  # noqa: PLC0415

    try:
        packs = state.settings.packs
    except (CallguardError, OSError) as exc:
        return {}, f"the packs could not be loaded here ({exc})"
    except SystemExit:  # the loader said why on standard error
        return {}, "the configuration or its packs could not be loaded here (see the error)"
    return {pack.id: pack.title for pack in packs.values() if not pack.is_statute}, None


def _unarchived(path: Path | None, manifest: Any, wanted: RecordFilter,
                stats: ReadStats) -> Iterator[Record]:
    """Records of the log's segments the archive does not hold, and of its current file."""
    if path is None:
        return iter(())
    # a segment holding records the archive could not read is read here too (its other
    # records are counted once: ``union_view``)
    archived = set(manifest.segments) - set(manifest.refused)
    # a segment archived and deleted since the manifest was read: raised, and the report
    # read again on the new manifest (``report_with_live``), never passed over
    return oldest_first(path, wanted, stats, vanished_raises=True,
                        skip=lambda segment: str(segment.plain) in archived)


def _stream_records(state: CliState, manifest: Any, stats: ReadStats,
                    said: dict[str, str], wanted: Callable[[Record], bool],
                    ) -> Iterator[Record]:
    """`report`'s records of the stream after ``manifest``'s position (every node's not
    archived yet) that ``wanted`` keeps, as evidence reads them; ``said`` gets their
    ``name``, or why Redis could not be read (``unread``: the report is then incomplete)."""
    from callguard.cli.unarchived_stream import (  # noqa: PLC0415 - Redis only here
        StreamUnreadableError,
        stream_after_archive,
    )

    said.clear()  # read again on a new manifest: the last read is the one reported
    trimmed: list[str] = []
    elsewhere: list[str] = []
    try:
        said["name"], lines = stream_after_archive(state, manifest, trimmed, elsewhere)
        if trimmed:  # records may be missing: the report is then incomplete (hoff25)
            said["trimmed"] = trimmed[0]
        if elsewhere:  # trimmed once the archiver had them: a warning, not INCOMPLETE
            said["elsewhere"] = elsewhere[0]  # (hoff26)
    except StreamUnreadableError as exc:
        said["unread"] = str(exc)
        return
    try:
        for line in lines:
            record = parse_line(line)
            if record is None:
                stats.torn += 1
            elif stats.observe(record) and wanted(record):
                yield record
    except StreamUnreadableError as exc:  # lost mid-read: the report is incomplete
        said["unread"] = str(exc)


def _archive_gaps(done: Any, archive: Any, since: datetime | None,
                  until: datetime | None) -> list[str]:
    """What the stream archiver found lost or refused, or a node could not send, kept in
    the archive (its run's log line alone said it, gone after rotation: harc30), for a
    range those records can be of; warned, and the report INCOMPLETE. Those an officer
    acknowledged are warned too and named in ``sources.acknowledged_gaps``, not making it
    INCOMPLETE (harc33)."""
    if not archive.exists():
        return []
    from callguard.compliance.archive.store import gap_notes  # noqa: PLC0415

    manifest = archive.manifest()
    notes = gap_notes(manifest, since, until)
    for note in notes:
        _warn(note)
    # acknowledged by an officer (`archive --ack-gap`, harc33): warned, each naming who
    # answered for it, and no longer making the report INCOMPLETE
    acknowledged = gap_notes(manifest, since, until, acknowledged=True)
    for note in acknowledged:
        _warn(note)
    if acknowledged:
        done.sources = {**done.sources, "acknowledged_gaps": acknowledged}
    return notes


def _stream_sources(done: Any, streamed: dict[str, str] | None) -> list[str]:
    """Name the stream read in the report's sources beside the file; when Redis could not
    be read, warn and return why (the report is printed, INCOMPLETE, exit 1: never a
    silent partial report)."""
    if streamed is None:
        return []
    if "name" in streamed:
        done.sources = {**done.sources, "unarchived": " and ".join(
            n for n in (done.sources.get("unarchived"), streamed["name"]) if n)}
    said = [streamed[k] for k in ("unread", "trimmed") if k in streamed]
    for note in said:
        _warn(note)
    if "elsewhere" in streamed:  # the archiver's, not read here: said, not INCOMPLETE
        _warn(streamed["elsewhere"])  # (it was, on every report once trimmed: hoff26)
        done.sources = {**done.sources, "elsewhere": [streamed["elsewhere"]]}
    return said


def _watchdog_enabled(state: CliState) -> bool | None:
    """Whether the configuration enables the AMI watchdog; None when it cannot be loaded
    here (a report of an archive copied to counsel, as ``house_policies``)."""
    from callguard.errors import CallguardError  # noqa: PLC0415

    try:
        return bool(state.settings.ami.enabled)
    except (CallguardError, OSError, SystemExit):
        return None


def _plain(text: str) -> str:
    """A report's note as a terminal shows it: without markdown's backticks, which a
    terminal prints as they are ("2 `callguard check --at` question(s)"); the JSON and
    the page keep the text (hcli33)."""
    return text.replace("`", "")


def _report_tables(done: Any, *, watchdog: bool | None = None) -> None:
    from rich.table import Table  # noqa: PLC0415

    from callguard.compliance import report as figures  # noqa: PLC0415

    console = output.console()
    calls, scrubs = done.calls, done.scrubs
    total = done.total(calls)
    shown = "; ".join(f"{k}: {v}" for k, v in done.query.shown().items())
    withdrawn = done.total(done.withdrawn)
    asked = done.total(done.questions)
    # the filters are the command line's words (a call centre's name may hold "[/]"): text,
    # not console markup (an internal error, exit 3, before: hrev106)
    console.print(f"[bold]{total + done.total(scrubs) + asked + withdrawn}[/] decisions: "
                  f"{total} calls, {done.total(scrubs)} scrub decisions and {asked} "
                  "check --at questions counted apart"
                  + (f", {figures.withdrawn_note(done)}" if withdrawn else "")
                  + f" ({done.first or '-'} … {done.last or '-'}); {escape(shown)}")
    console.print(escape(_plain(figures.sources_note(done))), highlight=False)
    if (fronts := figures.fronts_note(done)) is not None:
        console.print(escape(_plain(fronts)), highlight=False)
    if done.purged is not None:
        console.print(f"[bold]purged:[/] {escape(_plain(figures.purged_note(done)))}",
                      highlight=False)
    if done.adopted:
        console.print(f"[bold]caveat:[/] {escape(_plain(figures.adopted_note(done)))}",
                      highlight=False)
    questions = done.questions
    by_day = Table("day", "campaign", "ALLOW", "BLOCK", "scrubs", "questions",
                   title=f"calls by day ({done.query.tz}) and campaign")
    # each table summed by day and campaign once (asked per day: days x rows, review 61)
    cells = [done.summed(calls, 0, 1, verdict="ALLOW"), done.summed(calls, 0, 1, verdict="BLOCK"),
             done.summed(scrubs, 0, 1), done.summed(questions, 0, 1)]
    campaigns: dict[str, set[str]] = {}
    for key in (*calls, *scrubs, *questions):
        campaigns.setdefault(key[0], set()).add(key[1])
    for day in done.days:
        for campaign in sorted(campaigns.get(day, ())) or ["-"]:
            by_day.add_row(day, escape(campaign),  # an id may hold "[/]": text, not markup
                           *(str(cell.get((day, campaign), 0)) for cell in cells))
    output.print_table(console, by_day)
    blocks = done.total(calls, verdict="BLOCK")
    rules = Table("deciding rule", "blocks", "share of blocks", title="blocked calls by rule")
    for rule, count in done.by(calls, 3, verdict="BLOCK").items():
        rules.add_row(figures.rule_label(done, rule), str(count),
                      f"{100 * count / max(1, blocks):.1f} %")
    if blocks:
        output.print_table(console, rules)
    else:  # one line: a title over no row read as a report cut short (hnew33)
        console.print("blocked calls by rule: none", highlight=False)
    if note := figures.not_law_note(done):
        console.print(escape(_plain(note)), highlight=False)
    if centred := figures.by_telemarketer(done):  # as the page and the JSON
        centres = Table("call centre (telemarketer)", "campaign", "calls", "ALLOW", "BLOCK",
                        title="calls placed by a call centre for the seller")
        for row in centred:  # a configured name, shown as written (not console markup)
            centres.add_row(escape(row["telemarketer"]), escape(row["campaign"]),
                            str(row["calls"]),
                            str(row["allow"]), str(row["block"]))
        output.print_table(console, centres)
    _watchdog_table(console, done, watchdog)


def _watchdog_table(console: Any, done: Any, watchdog: bool | None) -> None:
    """The watchdog's figures by campaign; one line instead when the configuration does
    not enable it and the period holds none of its records."""
    from rich.table import Table  # noqa: PLC0415

    from callguard.compliance import report as figures  # noqa: PLC0415

    watch = Table("campaign", "line releases", "p50 ms", "p99 ms", "max ms", "violation risks",
                  "caller-ID mismatches", "abandonment 30 d", title="the watchdog" + (
                      f" ({scope})" if (scope := figures.watchdog_scope(done.query)) else ""))
    for campaign in sorted(set(done.releases) | {c for c, _ in done.watched}
                           | set(done.abandonment)):
        release = done.releases.get(campaign, {})
        abandon = done.abandonment.get(campaign)
        watch.add_row(escape(campaign), str(release.get("released", 0)),
                      _ms(release.get("p50_ms")),
                      _ms(release.get("p99_ms")), _ms(release.get("max_ms")),
                      str(done.watched.get((campaign, "violation-risk"), 0)),
                      str(done.watched.get((campaign, "caller-id-mismatch"), 0)),
                      f"{100 * abandon['rate']:.2f} % of {abandon['answered']}"
                      if abandon else "-")
    if not watch.rows and watchdog is False:
        # [ami] enabled = false and no record of an earlier watchdog in the period: a
        # table of "none" read as a watchdog that ran and saw nothing (hsml27)
        console.print("watchdog: not enabled in this configuration", highlight=False)
        return
    if not watch.rows:  # as the page: an empty box reads as a fault
        watch.add_row("none", *["-"] * 7)
    output.print_table(console, watch)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


async def _collect_stream(query: LogQuery, wanted: RecordFilter) -> list[Record]:
    from callguard.compliance.reader import read_stream  # noqa: PLC0415
    from callguard.runtime import redis_client  # noqa: PLC0415

    settings = query.state.settings
    client = redis_client(settings)
    stats = query.stats
    try:
        return [r async for r in read_stream(client, settings.log.stream_key,
                                             since=wanted.since, until=wanted.until)
                if stats.observe(r) and wanted.matches(r)]
    finally:
        await client.aclose()
