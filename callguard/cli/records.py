"""Record commands: add, revoke/end, show and import for company DNC, consent and EBR.

Every write goes through the gate (``Gate.write``): applied atomically, acknowledged
only when durable, and journalled in the compliance log with the number hashed.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any, TypeVar

import click
from redis.exceptions import RedisError
from rich.markup import escape
from rich.table import Table

from callguard.cli.common import (
    EXIT_INTERNAL,
    EXIT_USAGE,
    CliState,
    e164_or_exit,
    err_console,
    number_or_exit,
    parse_date,
    parse_instant,
    parse_past_date,
    redis_hint,
    run,
    usage_error,
)
from callguard.cli.output import console, extensions_said, print_table
from callguard.cli.render import print_json
from callguard.config import Settings, redacted_url
from callguard.errors import CallguardError, StoreError, UsageError
from callguard.numbers import NumberInfo
from callguard.policy import ConsentKind, ConsentRecord, ended_by_revocation
from callguard.policy.rules.exemptions import (
    Exemptions,
    earliest_local_date,
    revocation_on_or_after,
    unreadable_window,
    window_offsets,
)
from callguard.policy.rules.number_kind import REASSIGNED_LIST
from callguard.policy.zones import resolve_zones
from callguard.runtime import Runtime, redis_client
from callguard.stores.attributes.lookup import list_check
from callguard.stores.embedded.identity import id_path, lost_message
from callguard.stores.embedded.lists import current_version, list_path, load_version
from callguard.stores.embedded.records import EmbeddedRecords
from callguard.stores.record_csv import COLUMNS, parse_window, read_record_file
from callguard.stores.redis.high_water import check_store_not_behind
from callguard.stores.redis.records import MARKER_KEY, RedisRecords
from callguard.stores.redis.remembered import MARKER_FILE, read_marker
from callguard.stores.writes import (
    AddCompanyDnc,
    AddConsent,
    EndEbr,
    RecordEbr,
    RecordSheet,
    RecordWrite,
    RevokeConsent,
)
from callguard.utc import zone_info, zulu

__all__ = ["consent", "ebr", "internal_dnc"]

_console = console(stderr=True)
_KINDS = click.Choice([k.value for k in ConsentKind])
T = TypeVar("T")


def _on_runtime(state: CliState, action: Callable[[Runtime], Coroutine[Any, Any, T]]) -> T:
    """Open the node (its record stores and log; no list: recording reads none), run one
    action, close; a store error exits 3 with the reason."""
    runtime = state.runtime(lists=False)

    async def go() -> T:
        try:
            await runtime.start()
            return await action(runtime)
        finally:
            await runtime.aclose()

    try:
        return run(go())
    except CallguardError as exc:
        err_console.print(f"[red]not recorded:[/red] {escape(str(exc))}{redis_hint(str(exc))}",
                          highlight=False)
        raise SystemExit(EXIT_INTERNAL) from None


def _solicitors(state: CliState, telemarketers: bool = False) -> frozenset[str]:
    """The configured sellers; with ``telemarketers``, the campaigns' call centres too
    (they keep a do-not-call list, never consent or a relationship: those are the seller's,
    and the gate reads them under the seller only)."""
    campaigns = state.settings.campaigns.values()
    return frozenset(c.solicitor for c in campaigns) | (frozenset(
        c.telemarketer for c in campaigns if c.telemarketer) if telemarketers else frozenset())


def _solicitor(state: CliState, campaign: str | None, solicitor: str | None,
               telemarketers: bool = False) -> str:
    """The solicitor named directly or through one of its campaigns (``--solicitor`` may
    name a campaign's telemarketer when ``telemarketers``: its do-not-call list)."""
    if (campaign is None) == (solicitor is None):
        usage_error("give --campaign or --solicitor (records belong to the solicitor)")
    if campaign is not None:
        found = state.settings.campaigns.get(campaign)
        if found is None:
            usage_error(f"unknown campaign {campaign!r}; known: "
                        f"{', '.join(sorted(state.settings.campaigns))}")
        return found.solicitor
    known = _solicitors(state, telemarketers)
    if solicitor not in known:
        if solicitor in _solicitors(state, True):
            usage_error(f"{solicitor!r} is a campaign's telemarketer: it keeps a do-not-call "
                        "list (internal-dnc), while consent and business relationships "
                        "belong to the seller; give the seller's --solicitor or --campaign")
        usage_error(f"unknown solicitor {solicitor!r}; known: {', '.join(sorted(known))}")
    return str(solicitor)


def _write(state: CliState, writes: Sequence[RecordWrite]) -> tuple[int, ...]:
    return _on_runtime(state, lambda runtime: runtime.gate.write(writes))


def _who(function: Callable[..., Any]) -> Callable[..., Any]:
    """--campaign / --solicitor options."""
    function = click.option("--solicitor", help="The seller the records belong to.")(function)
    return click.option("--campaign", help="Any campaign of the solicitor.")(function)


def _window(text: str | None) -> tuple[time, time] | None:
    if text is None:
        return None
    try:
        return parse_window(text)  # no seconds, no UTC offset (see parse_window)
    except UsageError as exc:
        usage_error(f"--{exc}")


def _import(state: CliState, kind: str, path: Path, solicitor: str | None,
            dry_run: bool) -> None:
    """Check every row; on any error report them all and write nothing."""
    try:
        parsed = read_record_file(path, kind, parser=state.settings.parser(),
                                  solicitors=_solicitors(state, kind == "internal-dnc"),
                                  solicitor=solicitor)
    except UsageError as exc:
        usage_error(str(exc))
    if parsed.errors:
        table = Table("line", "reason", title=f"{path}: {len(parsed.errors)} of {parsed.rows} "
                      "row(s) rejected — nothing imported")
        for error in parsed.errors[:50]:
            table.add_row(str(error.line), escape(error.reason))  # "[number …0142]"
        print_table(_console, table)
        if len(parsed.errors) > 50:
            _console.print(f"… and {len(parsed.errors) - 50} more", highlight=False)
        raise SystemExit(EXIT_USAGE)
    if not parsed.rows:  # a header alone: an export cut short, or the wrong file
        usage_error(f"{path}: no rows after the header; nothing imported")
    if dry_run:
        _console.print(f"{path}: {parsed.rows} row(s) valid (dry run: nothing written)")
        extensions_said(_console, parsed.extensions, "recorded")
        return
    changed = _write(state, parsed.writes)
    _console.print(f"{path}: {parsed.rows} row(s) imported atomically ({sum(changed)} "
                   "record(s) changed)", highlight=False)
    extensions_said(_console, parsed.extensions, "recorded")


def _import_command(group: click.Group, kind: str) -> None:
    required, optional = COLUMNS[kind]

    @group.command("import", help=f"Import a CSV (header: {', '.join(required)}; optional "
                   f"{', '.join(optional)}). Every row is checked; any bad row, nothing "
                   "is written.")
    @click.argument("path", type=click.Path(path_type=Path, dir_okay=False))
    @click.option("--solicitor", help="For rows without a solicitor column.")
    @click.option("--campaign", help="For rows without a solicitor column: the seller of "
                  "this campaign (as every other record command takes it).")
    @click.option("--dry-run", is_flag=True, help="Check the rows, write nothing.")
    @click.pass_obj
    def command(state: CliState, path: Path, solicitor: str | None, campaign: str | None,
                dry_run: bool) -> None:
        if campaign is not None:
            solicitor = _solicitor(state, campaign, solicitor)
        _import(state, kind, path, solicitor, dry_run)


def _show_command(group: click.Group, title: str) -> None:
    @group.command("show", help=f"Show the {title} and every other record of NUMBER for a "
                   "solicitor.")
    @click.argument("number")
    @_who
    @click.option("--json", "as_json", is_flag=True, help="Every record as JSON.")
    @click.pass_obj
    def command(state: CliState, number: str, campaign: str | None, solicitor: str | None,
                as_json: bool) -> None:
        who = _solicitor(state, campaign, solicitor, telemarketers=True)
        info = number_or_exit(state.settings, number)
        sheet = _read_sheet(state, who, info.e164)
        _print_sheet(sheet, who, info.e164, as_json, _revoke_all_rules(state.settings, info),
                     reassigned_or_why(state.settings, info))


def _read_sheet(state: CliState, solicitor: str, e164: str) -> RecordSheet:
    """What is stored for the number and solicitor. The store is opened alone: reading
    makes no log line, no log key and no store, and a data dir holding no record store (or
    a Redis holding no callguard records) is a usage error (it would answer "none" to "did
    this number opt out?")."""
    settings = state.settings
    if settings.records.backend == "redis":
        reading = _redis_sheet(settings, solicitor, e164)
    else:
        path = settings.data_dir / "records.sqlite3"
        if not path.exists() and id_path(path).exists():  # made here once, now gone
            err_console.print(f"[red]cannot read:[/red] {escape(lost_message(path))}",
                              highlight=False)
            raise SystemExit(EXIT_INTERNAL)
        if not path.exists():
            usage_error(f"no record store at {path}: nothing was ever recorded in data dir "
                        f"{settings.data_dir}; check --data-dir / CALLGUARD_DATA_DIR (the "
                        "service's data dir holds its records)")
        reading = _embedded_sheet(path, solicitor, e164)
    try:
        return run(reading)
    except UsageError as exc:
        usage_error(str(exc))
    except CallguardError as exc:
        err_console.print(f"[red]cannot read:[/red] {escape(str(exc))}{redis_hint(str(exc))}",
                          highlight=False)
        raise SystemExit(EXIT_INTERNAL) from None


def store_name(settings: Settings) -> str:
    """The record store this host reads, as ``evidence`` names it (a password never)."""
    if settings.records.backend == "redis":
        return f"Redis {redacted_url(settings.redis_url)}"
    return str(settings.data_dir / "records.sqlite3")


def stored_now(settings: Settings, e164: str,
               also: Iterable[str] = ()) -> dict[str, RecordSheet]:
    """What the record store holds now for ``e164``, per configured seller and each seller
    in ``also`` (those the number's history names: a seller whose campaigns were since
    removed from the configuration still has its records, and a complaint is about its
    calls). ``evidence`` shows it beside the history. Raises CallguardError (never exits)
    when the store cannot answer: none in the data dir, lost, or unreachable."""
    solicitors = sorted({c.solicitor for c in settings.campaigns.values()} | set(also)
                        | {c.telemarketer for c in settings.campaigns.values() if c.telemarketer})

    async def read(sheet: Callable[[str], Coroutine[Any, Any, RecordSheet]],
                   ) -> dict[str, RecordSheet]:
        return {who: await sheet(who) for who in solicitors}

    if settings.records.backend == "redis":
        return run(read(lambda who: _redis_sheet(settings, who, e164)))
    path = settings.data_dir / "records.sqlite3"
    if not path.exists():
        raise UsageError(lost_message(path) if id_path(path).exists() else
                         f"no record store at {path}: nothing was ever recorded in this "
                         "data dir")
    return run(read(lambda who: _embedded_sheet(path, who, e164)))


async def _embedded_sheet(path: Path, solicitor: str, e164: str) -> RecordSheet:
    store = EmbeddedRecords(path)
    try:
        return await store.sheet(solicitor, e164)
    finally:
        await store.aclose()


async def _redis_sheet(settings: Settings, solicitor: str, e164: str) -> RecordSheet:
    """The shared store; one without callguard's durability marker holds no records —
    never used, or it lost them. One without the marker this data dir's node relies on
    (remembered.py) lost them too, even when a fresh marker is there now."""
    remembered_at = settings.data_dir / MARKER_FILE
    remembered = read_marker(remembered_at)
    client = redis_client(settings, socket_timeout=2)
    store = RedisRecords(client, settings.records)
    try:
        marker = await client.get(MARKER_KEY)
        if remembered is not None and (
                marker.decode() if isinstance(marker, bytes) else marker) != remembered:
            raise StoreError(
                f"the Redis server lost its data ({MARKER_KEY} is not the one "
                f"{remembered_at} remembers): an earlier record may be missing; restore its "
                f"AOF, or accept the server as it is: remove {remembered_at}, re-import the "
                "records, then restart the node")
        if marker is None:
            raise UsageError(
                f"the record store in Redis ({redacted_url(settings.redis_url)}) holds no "
                "callguard records: never written, or the server lost its data; "
                "check [redis] url / [records] backend")
        await check_store_not_behind(client, settings.data_dir, remembered)  # restored
        return await store.sheet(solicitor, e164)
    except RedisError as exc:
        raise StoreError(f"record store (Redis) unreachable: {exc}") from None
    finally:
        await store.aclose()


@dataclass(frozen=True, slots=True)
class _RevokeAll:
    """Rules of one enabled pack that carry a revoke-all date (``revoke_all_from``): a
    revocation of any kind made on or after it ends the automated consents they exempt."""

    pack: str
    rules: tuple[str, ...]
    start: date
    kinds: frozenset[ConsentKind]
    zones: tuple[str, ...]  # the number's zones, as the gate resolves them without a CRM

    def reaches(self, revoked_at: datetime) -> bool:
        """As the gate (``Exemptions._revokes_all``): in the number's zones."""
        return revocation_on_or_after(self.start, revoked_at, map(zone_info, self.zones))


def _revoke_all_rules(settings: Settings, number: NumberInfo) -> tuple[_RevokeAll, ...]:
    """The enabled packs' rules in force today that apply a revoke-all date (today and the
    number's zones as the gate reads them for a call now, without a CRM location: a
    location in a zone further east can only make a call's date later)."""
    policy = settings.policy_settings
    zones = resolve_zones(number, None, max_zones=policy.max_candidate_zones,
                          every_zone_fallback=policy.every_zone_fallback).zones
    now = datetime.now(UTC)
    today = max((now.astimezone(zone_info(z)).date() for z in zones), default=now.date())
    found: dict[tuple[str, date, frozenset[ConsentKind]], list[str]] = {}
    for pack_id in settings.enabled_packs:
        pack = settings.packs[pack_id]
        if not pack.in_effect(today):
            continue
        for rule in pack.rules_on(today):
            exemptions = getattr(rule, "exemptions", None)
            if isinstance(exemptions, Exemptions) and exemptions.revoke_all_from is not None:
                found.setdefault((pack.id, exemptions.revoke_all_from,
                                  exemptions.consent_kinds), []).append(rule.rule_id)
    return tuple(_RevokeAll(pack, tuple(rules), start, kinds, tuple(zones))
                 for (pack, start, kinds), rules in found.items())


@dataclass(frozen=True, slots=True)
class Reassigned:
    """What the reassigned-number data the gate reads says of the number now (47 CFR
    64.1200(m)): a consent (or relationship) dated on or before its last permanent
    disconnect was the previous subscriber's, void in every rule (``Exemptions``). `consent
    show` and `evidence` said "valid now: yes" for it while every call resting on it was
    BLOCKed; or why the data could not be read (``unread``)."""

    version: str  # "attr-reassigned v3", as a decision names it
    disconnected: date | None
    zones: tuple[str, ...]  # the number's zones, as the gate resolves them without a CRM
    unread: str | None = None

    def voids(self, given: datetime | date) -> bool:
        """Whether a record given at ``given`` (an instant: its earliest date among the
        number's zones, ``earliest_local_date`` as the gate's ``consent_date`` reads it) is
        on or before the disconnect."""
        if self.disconnected is None:
            return False
        if isinstance(given, datetime):
            given = earliest_local_date(given, map(zone_info, self.zones))
        return given <= self.disconnected

    def voids_elsewhere(self, given: datetime) -> str | None:
        """Why a consent valid in the number's own zones is void for some calls, or None.

        The gate reads the consent's date in every zone of the call (``consent_date``): the
        number's, a CRM time zone or location's and a state listing's too, which this read
        cannot know. Given the day after the disconnect in the number's zones but still on
        or before it west of them (--tz America/Los_Angeles for a Denver number), "valid
        now: yes" stood beside a gate that BLOCKed the call as void."""
        if self.disconnected is None or self.voids(given):
            return None
        west = given.astimezone(zone_info("Etc/GMT+12")).date()  # UTC-12: the last date
        if west > self.disconnected:
            return None
        return (f"void for a call whose CRM time zone or location (or a state list) places "
                f"the called party where it was given on or before {self.disconnected}, "
                f"west of {', '.join(self.zones) or 'UTC'}: {self.reason()}")

    def reason(self, what: str = "") -> str:
        """Why a record is void (``what`` void: ...), for people."""
        why = (f"the number was permanently disconnected on {self.disconnected} per "
               f"{self.version} (47 CFR 64.1200(m): given by the previous subscriber; the "
               "new subscriber gave no consent)")
        return f"{what} void: {why}" if what else why

    def as_data(self) -> dict[str, Any]:
        if self.unread is not None:
            return {"unread": self.unread}
        return {"list": self.version, "disconnected": (
            None if self.disconnected is None else self.disconnected.isoformat())}


def reassigned_or_why(settings: Settings, number: NumberInfo) -> Reassigned | None:
    """The reassigned-number data's current version for ``number`` (None: none loaded), or
    a ``Reassigned`` saying why it could not be read (never fatal: the records stand)."""
    policy = settings.policy_settings
    zones = tuple(resolve_zones(number, None, max_zones=policy.max_candidate_zones,
                                every_zone_fallback=policy.every_zone_fallback).zones)
    try:
        if settings.lists_backend == "redis":
            from callguard.cli.lists import _with_registry  # noqa: PLC0415 - Redis only here

            check = run(_with_registry(settings, lambda registry: list_check(
                REASSIGNED_LIST, registry.snapshot(REASSIGNED_LIST), number),
                only=REASSIGNED_LIST))
        else:  # this one list only: the registry would load the national list too
            version = current_version(list_path(settings.data_dir, REASSIGNED_LIST))
            check = None if version is None else list_check(
                REASSIGNED_LIST, load_version(settings.data_dir, REASSIGNED_LIST, version),
                number)
    except (CallguardError, RedisError, OSError) as exc:
        return Reassigned(REASSIGNED_LIST, None, zones,
                          unread=f"reassigned-number data not read ({exc}): whether a "
                          "consent is void under 47 CFR 64.1200(m) is not said here")
    if check is None:
        return None
    return Reassigned(f"{check.name} v{check.version}", check.disconnected, zones)


def _void_under(record: ConsentRecord, records: list[ConsentRecord], now: datetime,
                revoke_all: tuple[_RevokeAll, ...]) -> list[dict[str, Any]]:
    """Each pack under whose revoke-all date another revocation ended ``record`` (one no
    revocation ends whatever the pack: ``ended_by_revocation`` without a date), and why."""
    void = []
    for rules in revoke_all:
        if record.kind not in rules.kinds:
            continue
        by = ended_by_revocation(record, records, now, rules.reaches)
        if by is None or by.revoked_at is None:
            continue
        void.append({
            "pack": rules.pack, "rules": list(rules.rules),
            "revoke_all_from": rules.start.isoformat(),
            "ended_by_revocation_of": by.kind.value, "revoked_at": _iso(by.revoked_at),
            "reason": (f"ended by the revocation of {by.kind.value} consent "
                       f"{_utc(_iso(by.revoked_at))} (47 CFR 64.1200(a)(10) revoke-all, "
                       f"from {rules.start}: a revocation of any consent ends every consent "
                       f"to automated calls; {', '.join(rules.rules)})")})
    return void


def _print_sheet(sheet: RecordSheet, solicitor: str, e164: str, as_json: bool,
                 revoke_all: tuple[_RevokeAll, ...] = (),
                 reassigned: Reassigned | None = None) -> None:
    data = {"solicitor": solicitor, "number": e164,
            **sheet_data(sheet, revoke_all, datetime.now(UTC), reassigned),
            # the data read (null: none loaded; {"unread": why} when it could not be read)
            "reassigned_data": None if reassigned is None else reassigned.as_data()}
    if as_json:
        print_json(data)
        return
    consents = data["consents"]
    out = console()
    out.print(f"[bold]{e164}[/] with [bold]{solicitor}[/]", highlight=False)
    if not consents:  # a table of headings alone read as a display fault
        out.print("consent: none", highlight=False)
    # Every instant in UTC, said in the heading; the window is the called party's clock.
    table = Table("kind", "granted (UTC)", "expires (UTC, exclusive)",
                  "window (called party's time)", "revoked (UTC)", "source", "evidence",
                  "valid now", title="consent")
    for c in consents:
        table.add_row(str(c["kind"]), _utc(c["granted_at"]), _utc(c["expires_at"]),
                      str(c["window"] or ""),
                      escape(f"{_utc(c['revoked_at'])} {c['revoked_source'] or ''}".strip()),
                      escape(str(c["source"])), escape(str(c["evidence"])),
                      valid_text(c))
    if consents:
        print_table(out, table)
    if reassigned is not None and reassigned.unread is not None:
        out.print(f"[yellow]{escape(reassigned.unread)}[/]", highlight=False)
    out.print(f"business relationship: {escape(_fields(data['ebr']))}", highlight=False)
    out.print(f"company do-not-call: {escape(_fields(data['company_dnc']))}", highlight=False)


def _window_text(window: tuple[time, time] | None) -> str | None:
    """``HH:MM-HH:MM``; with the UTC offset an older callguard stored (``20:00+00:00``),
    which ``%H:%M`` dropped: the officer read a window the gate could not."""
    return None if window is None else window_offsets(window)


def _unreadable(record: ConsentRecord) -> str | None:
    """Why the gate cannot use this consent at all (its window stored with an offset), or
    None: "valid now" said yes while every check needing it BLOCKed."""
    window = record.window
    if window is None or all(t.tzinfo is None for t in window):
        return None
    return unreadable_window(record)


def valid_text(consent: dict[str, Any]) -> str:
    """A consent's "valid now" cell (rich markup): yes, or no and what ended it."""
    if consent["valid_now"]:
        elsewhere = consent.get("void_in_other_zones")
        return "[green]yes[/]" + (f" ({escape(elsewhere)})" if elsewhere else "")
    if consent.get("unreadable"):
        return "[red]no[/] (window stored with a UTC offset: re-record the consent)"
    for why in ("void_reassigned", "withdrawn_by_request"):
        if consent.get(why):
            return f"[red]no[/] ({escape(consent[why])})"
    if consent["ended_by_revocation_of"]:
        return f"[red]no[/] (ended by the {consent['ended_by_revocation_of']} revocation)"
    return _void_text(consent["void_under"])


def revoke_all_rules(settings: Settings, number: NumberInfo) -> tuple[_RevokeAll, ...]:
    """The enabled packs' revoke-all dates for ``number`` (``evidence`` reads them too)."""
    return _revoke_all_rules(settings, number)


def sheet_data(sheet: RecordSheet, revoke_all: tuple[_RevokeAll, ...],
               now: datetime, reassigned: Reassigned | None = None) -> dict[str, Any]:
    """What is stored for one number and seller, as ``consent show --json`` and
    ``evidence`` say it (no number in it): each consent read as the gate reads it at
    ``now`` (the reassigned-number data's disconnect included), the relationship and the
    do-not-call request."""
    records = [c.record for c in sheet.consents]
    # only a consent standing now is said void or withdrawn, as the gate's reason names
    # them (``Exemptions.withdrawn``): one revoked itself was said "withdrawn by the
    # do-not-call request" where the gate says "revoked INSTANT"
    standing = [r for r in records if r.valid_at(now)]
    standing_ids = {id(r) for r in standing}
    gone = {id(r): reassigned.reason("consent") for r in standing
            if reassigned is not None and reassigned.voids(r.granted_at)}
    # as the gate (``Exemptions``): a do-not-call request to the seller withdraws every
    # consent given before it; one given since counts again. "valid now: yes" stood beside
    # the request, and the gate's reason said "withdrawn by the do-not-call request".
    dnc = sheet.company_dnc
    asked = dnc if dnc is not None and dnc.made_by(now) else None
    withdrawn = {id(r): f"withdrawn by the do-not-call request of {_utc(_iso(asked.added_at))} "
                 "(47 CFR 64.1200(a)(10), (d)(3): a consent given after it counts again)"
                 for r in standing if asked is not None and r.granted_at <= asked.added_at}

    # as the gate reads them: a revocation of an automated kind ends both automated kinds
    # in every pack; one of any kind does too under a pack's revoke-all date (``void_under``)
    # A consent revoked itself says so (its revoked column): naming another consent's
    # revocation as what ended it ("ended by the written revocation" for one a revocation
    # of autodialer consent revoked, both written consents marked at once) was untrue.
    revoked = {id(r) for r in records if r.revoked_at is not None and r.revoked_at <= now}
    ended = {id(r): None if id(r) in revoked else ended_by_revocation(r, records, now)
             for r in records}
    void = {id(r): [] if ended[id(r)] is not None or id(r) in revoked
            else _void_under(r, records, now, revoke_all) for r in records}
    consents: list[dict[str, Any]] = [{
        "kind": c.record.kind.value, "granted_at": _iso(c.record.granted_at),
        "expires_at": _iso(c.record.expires_at),
        "window": _window_text(c.record.window),
        "unreadable": _unreadable(c.record),
        "revoked_at": _iso(c.record.revoked_at),
        "revoked_source": c.revoked_source, "source": c.source, "evidence": c.evidence,
        "valid_now": (c.record.valid_at(now) and ended[id(c.record)] is None
                      and not void[id(c.record)] and _unreadable(c.record) is None
                      and id(c.record) not in gone and id(c.record) not in withdrawn),
        "void_reassigned": gone.get(id(c.record)),
        "void_in_other_zones": (reassigned.voids_elsewhere(c.record.granted_at)
                                if reassigned is not None and id(c.record) in standing_ids
                                else None),
        "withdrawn_by_request": withdrawn.get(id(c.record)),
        "ended_by_revocation_of": (None if (by := ended[id(c.record)]) is None
                                   else by.kind.value),
        "void_under": void[id(c.record)],
    } for c in sheet.consents]
    ebr = sheet.ebr
    lasts = [d for d in (ebr.last_transaction, ebr.last_inquiry) if d is not None] if ebr else []
    return {
        "consents": consents,
        "ebr": None if ebr is None else {
            "last_transaction": str(ebr.last_transaction) if ebr.last_transaction else None,
            "last_inquiry": str(ebr.last_inquiry) if ebr.last_inquiry else None,
            "ended_at": _iso(ebr.ended_at),
            # as the gate: a relationship whose last date is on or before the disconnect
            # was the previous subscriber's (``Exemptions``)
            "void": (reassigned.reason()
                     if reassigned is not None and lasts
                     and reassigned.voids(max(lasts)) else None)},
        "company_dnc": None if dnc is None else {"added_at": _iso(dnc.added_at),
                                                 "source": dnc.source},
    }


def _void_text(void: list[dict[str, Any]]) -> str:
    """``no`` and, for a consent void under a pack's revoke-all date, which and why (the
    whole reason, rules named, in ``--json``)."""
    if not void:
        return "[red]no[/]"
    return "[red]no[/] (" + "; ".join(escape(
        f"void under {v['pack']}: ended by the {v['ended_by_revocation_of']} revocation "
        f"{_utc(v['revoked_at'])}, revoke-all from {v['revoke_all_from']}") for v in void) + ")"


def _iso(instant: datetime | None) -> str | None:
    """A stored instant for --json: UTC with Z, as every command writes one (the stores'
    isoformat said +00:00 beside the records' and `tail`'s Z)."""
    return None if instant is None else zulu(instant.astimezone(UTC))


def _utc(text: object) -> str:
    """An ISO instant as ``2026-12-05 02:39:17Z`` (to the second), or empty."""
    if not isinstance(text, str) or not text:
        return ""
    return f"{datetime.fromisoformat(text).astimezone(UTC):%Y-%m-%d %H:%M:%SZ}"


def _fields(record: Any) -> str:
    """``key value; ...`` of the fields that are set, or ``none`` (never a Python dict)."""
    if record is None:
        return "none"
    # instants as every other one here (2026-12-05 08:28:35Z), not Python's isoformat
    shown = "; ".join(f"{key.replace('_', ' ')} {_utc(value) if key.endswith('_at') else value}"
                      for key, value in record.items() if value is not None)
    return shown or "recorded"


@click.group("internal-dnc")
def internal_dnc() -> None:
    """The solicitor's own do-not-call list (47 CFR 64.1200(d)(3)); kept 5 years ((d)(6))."""


@internal_dnc.command("add")
@click.argument("number")
@_who
@click.option("--source", default="cli", show_default=True, help="Where the request came from.")
@click.pass_obj
def dnc_add(state: CliState, number: str, campaign: str | None, solicitor: str | None,
            source: str) -> None:
    """Record a do-not-call request; binds every campaign of the solicitor, on every node.

    There is no revoke: the request is honoured for 5 years (64.1200(d)(6)); a later
    express written consent is recorded as consent.
    """
    who = _solicitor(state, campaign, solicitor, telemarketers=True)
    e164 = e164_or_exit(state.settings, number)
    _write(state, [AddCompanyDnc(who, e164, datetime.now(UTC), source)])
    _console.print(f"…{e164[-4:]} is on {who}'s do-not-call list", highlight=False)


@click.group()
def consent() -> None:
    """Consent of a called party to a solicitor."""


def consent_expiry(text: str, number: NumberInfo) -> datetime:
    """The instant a consent given ``--expires`` ends (exclusive).

    A DATE is the last day the consent holds, as the called party's local date — the date
    of the call every date-based check uses: the consent holds for calls whose date is DATE
    or earlier, so it ends when DATE ends in the number's time zone (the first of its zones
    to end it; UTC for a number without geography). An ISO-8601 instant with a UTC offset
    is taken as the exclusive end itself.
    """
    if "T" in text:
        try:
            instant = datetime.fromisoformat(text)
        except ValueError:
            usage_error(f"--expires {text!r} is neither a date (YYYY-MM-DD) nor an ISO-8601 "
                        "instant")
        if instant.tzinfo is None:
            usage_error(f"--expires {text!r} has no UTC offset; add one, or give a date")
        return parse_instant(text, "--expires").astimezone(UTC)  # its years, as --at's
    day = parse_date("--expires", text)
    zones = number.zones if number.geographic and number.zones else ("UTC",)
    after = day + timedelta(days=1)
    return min(datetime.combine(after, time(), zone_info(zone)) for zone in zones).astimezone(UTC)


@consent.command("add")
@click.argument("number")
@_who
@click.option("--kind", required=True, type=_KINDS,
              help="What the called party consented to (the rule it lifts).")
@click.option("--expires", metavar="DATE|INSTANT",
              help="Last day the consent holds, the called party's local date (it ends when "
                   "that day ends in the number's time zone); or the exact end, an ISO-8601 "
                   "instant with offset.")
@click.option("--granted", metavar="ISO-8601", help="When it was given; default: now.")
@click.option("--window", metavar="HH:MM-HH:MM",
              help="For calling-hours consent: the window, on the called party's clock "
                   "(22:00-02:00 crosses midnight).")
@click.option("--source", default="cli", show_default=True,
              help="How the consent was given (web form, call, ...), kept with it.")
@click.option("--evidence", default="", help="Reference to the evidence (never the evidence).")
@click.pass_obj
def consent_add(state: CliState, number: str, campaign: str | None, solicitor: str | None,
                kind: str, expires: str | None, granted: str | None, window: str | None,
                source: str, evidence: str) -> None:
    """Record consent of NUMBER to the solicitor."""
    who = _solicitor(state, campaign, solicitor)
    info = number_or_exit(state.settings, number)
    expires_at = consent_expiry(expires, info) if expires else None
    if kind == ConsentKind.CALLING_HOURS and window is None:
        usage_error("calling-hours consent needs --window HH:MM-HH:MM")
    if window is not None and kind != ConsentKind.CALLING_HOURS:
        usage_error(f"--window is for calling-hours consent only; a {kind} consent has no "
                    "window (it would be stored and read as if it limited the consent)")
    now = datetime.now(UTC)
    granted_at = parse_instant(granted, "--granted") if granted else now
    if granted_at > now:  # as a CSV import's granted_at: not given yet, so not on record
        usage_error(f"--granted {granted} is in the future (now: {now:%Y-%m-%dT%H:%MZ}); "
                    "record a consent once it is given")
    if expires_at is not None and expires_at <= granted_at:
        usage_error(f"--expires ends the consent at {expires_at:%Y-%m-%dT%H:%MZ}, not after "
                    f"it was given ({granted_at:%Y-%m-%dT%H:%MZ}): nothing would be consented")
    record = ConsentRecord(
        kind=ConsentKind(kind),
        granted_at=granted_at,
        expires_at=expires_at,
        window=_window(window),
    )
    e164 = info.e164
    _write(state, [AddConsent(who, e164, record, source, evidence)])
    until = f" until {expires_at:%Y-%m-%dT%H:%MZ} (exclusive)" if expires_at else ""
    if expires is not None and "T" not in expires:  # a date: say it as it was given
        until = (f"; it holds through {expires}, the called party's date (it ends "
                 f"{expires_at:%Y-%m-%dT%H:%MZ})")
    _console.print(f"{kind} consent of …{e164[-4:]} to {who} recorded{until}",
                   highlight=False)
    if expires_at is not None and expires_at <= now:
        # Kept as evidence of what was consented then; it lifts no rule for a call now.
        err_console.print("[yellow]warning:[/yellow] this consent has already expired: it is "
                          "on record, but no call from now on is allowed by it", highlight=False)


_REVOKE_HELP = (
    "The kind of consent the called party withdrew. autodialer or written: ends BOTH (every "
    "consent to autodialed or prerecorded calls; 47 CFR 64.1200(a)(10): revoking prior "
    "express consent includes prior express written consent, and the reverse). "
    "calling-hours: ends only consent to calls outside the hours. fax: ends only consent to "
    "faxes. all: ends every consent to the seller. From the revoke-all date in the federal "
    "pack (2027-01-31) a revocation of any kind also ends every consent to automated calls "
    "at the gate. To stop every call, record `internal-dnc add` as well.")


@consent.command("revoke")
@click.argument("number")
@_who
@click.option("--kind", required=True, type=click.Choice([*_KINDS.choices, "all"]),
              help=_REVOKE_HELP)
@click.option("--source", default="cli", show_default=True, help="How it was revoked.")
@click.pass_obj
def consent_revoke(state: CliState, number: str, campaign: str | None, solicitor: str | None,
                   kind: str, source: str) -> None:
    """Revoke consent at once (the law allows 10 business days; we do it now).

    Revoking autodialer or written consent ends both kinds; --kind all ends every kind.
    """
    who = _solicitor(state, campaign, solicitor)
    e164 = e164_or_exit(state.settings, number)
    write = RevokeConsent(who, e164, None if kind == "all" else ConsentKind(kind),
                          datetime.now(UTC), source)
    kinds = ", ".join(k.value for k in write.ends)
    (count,) = _write(state, [write])
    if count:
        _console.print(f"revoked {count} consent(s) of …{e164[-4:]} to {who} (a revocation "
                       f"of {kind} consent ends: {kinds})", highlight=False)
        return
    # As `ebr end` says "was not live": the request is journalled either way, but "revoked
    # 0" read as done when the number or the kind was mistyped and a consent stays live.
    live = "" if write.kind is None else " or ".join(k.value for k in write.ends) + " "
    err_console.print(f"[yellow]warning:[/yellow] no live {live}consent of …{e164[-4:]} to "
                      f"{escape(who)} was on record: nothing revoked (the request is in the "
                      "compliance log); check the number, --kind and the seller with "
                      "`callguard consent show`", highlight=False)


@click.group()
def ebr() -> None:
    """Established business relationships."""


@ebr.command("add")
@click.argument("number")
@_who
@click.option("--last-transaction", metavar="DATE",
              help="Date of the last purchase or transaction (give this or --last-inquiry).")
@click.option("--last-inquiry", metavar="DATE",
              help="Date of the last inquiry or application by the called party.")
@click.pass_obj
def ebr_add(state: CliState, number: str, campaign: str | None, solicitor: str | None,
            last_transaction: str | None, last_inquiry: str | None) -> None:
    """Record a purchase/transaction or an inquiry/application."""
    if (last_transaction is None) == (last_inquiry is None):
        usage_error("give exactly one of --last-transaction and --last-inquiry")
    who = _solicitor(state, campaign, solicitor)
    transaction = (parse_past_date("--last-transaction", last_transaction, "a transaction")
                   if last_transaction else None)
    inquiry = (parse_past_date("--last-inquiry", last_inquiry, "an inquiry")
               if last_inquiry else None)
    e164 = e164_or_exit(state.settings, number)
    _write(state, [RecordEbr(who, e164, transaction, inquiry)])
    _console.print(f"business relationship of …{e164[-4:]} with {who} recorded",
                   highlight=False)


@ebr.command("end")
@click.argument("number")
@_who
@click.option("--source", default="cli", show_default=True,
              help="Why or how the relationship ended, kept with the record.")
@click.pass_obj
def ebr_end(state: CliState, number: str, campaign: str | None, solicitor: str | None,
            source: str) -> None:
    """End the relationship now (a do-not-call request ends it by itself)."""
    who = _solicitor(state, campaign, solicitor)
    e164 = e164_or_exit(state.settings, number)
    (count,) = _write(state, [EndEbr(who, e164, datetime.now(UTC), source)])
    _console.print(f"business relationship of …{e164[-4:]} with {who} "
                   f"{'ended' if count else 'was not live'}", highlight=False)


for _group, _kind, _title in ((internal_dnc, "internal-dnc", "do-not-call record"),
                              (consent, "consent", "consents"),
                              (ebr, "ebr", "business relationship")):
    _import_command(_group, _kind)
    _show_command(_group, _title)
