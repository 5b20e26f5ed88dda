"""The compliance record, schema 1 (docs/record-format.md): values in, one JSON line out.

A direct orjson encoder, independent of operational logging: no structlog configuration,
test helper or processor chain can change or strip a record (bench/bench_log.py measures
it beside a ``structlog.wrap_logger`` chain doing the same work). A passing rule costs
one letter against its pack's id, version and digest; only outcomes that block or were
exempted carry their reason. Every string a peer could fill is kept only when it is a
plausible id of its kind (``callguard.compliance.fields``); free text loses every written
number through ``redact_digits``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import orjson

from callguard.compliance.fields import FieldGuard, redact_line, safe_channel
from callguard.compliance.logkey import NumberProtector
from callguard.decision import Decision
from callguard.memo import remember
from callguard.numbers.parse import split_extension
from callguard.numbers.redact import has_digit_run, redact_digits
from callguard.policy import Pack, Status, Verdict
from callguard.policy.frequency import Counted
from callguard.stores.writes import (
    AddCompanyDnc,
    AddConsent,
    EndEbr,
    RecordEbr,
    RecordWrite,
    RevokeConsent,
)
from callguard.utc import zone_info

__all__ = ["DECISION_SCHEMA", "LETTERS", "SCHEMA", "RecordEncoder", "utc_ms"]

SCHEMA = 1  # every kind but the decision
# The decision record: 2 adds ``places_call`` (false: an answer no call is placed on, a
# `check --at` question; absent: the front places the call on an ALLOW). A schema-1
# decision cannot tell the two apart.
DECISION_SCHEMA = 2
# One letter per rule of a pack, in pack order; "n": not evaluated (absent from outcomes).
LETTERS = {Status.PASS: "p", Status.BLOCK: "b", Status.EXEMPT: "e",
           Status.NOT_APPLICABLE: "-"}
_NOT_EVALUATED = "n"
# Keyed by the plain string value: an Enum member's __hash__ runs in Python, a str's is
# cached — this is on every decision's path.
_LETTER_OF = {status.value: letter for status, letter in LETTERS.items()}
_CARRIED = frozenset({Status.BLOCK.value, Status.EXEMPT.value})
_ZONE_CACHE_LIMIT = 4096
_REASON_CACHE_LIMIT = 8192
_PIECE_CACHE_LIMIT = 4096
_DUMPS = orjson.dumps
_TOKEN = re.compile(r"[0-9a-f]{8,64}")  # a record store's id (``secrets.token_hex``)
_NEWLINE = orjson.OPT_APPEND_NEWLINE
# Channel names: the counter suffix is kept, numbers in the resource taken out.
_CHANNEL_FIELDS = frozenset({"channel", "called_channel"})
# Fixed pieces of a decision line (``RecordEncoder.decision_line``).
_HEAD = b'{"schema":%d,"event":"decision","logged_at":"' % DECISION_SCHEMA
_QUESTION = b',"places_call":false'
_ALLOWED = b'"verdict":"ALLOW"'
_BLOCKED = b'"verdict":"BLOCK"'


class _Seconds:
    """``YYYY-MM-DDTHH:MM:SS`` of one second, formatted once per second it is asked for."""

    __slots__ = ("second", "text")

    def __init__(self) -> None:
        self.second = -1
        self.text = ""

    def format(self, epoch: float) -> str:
        """``2026-12-04T17:30:00.012Z``."""
        second, ms = divmod(int(epoch * 1000), 1000)
        if second != self.second:
            self.text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self.second = second
        return f"{self.text}.{ms:03d}Z"


_logged = _Seconds()  # records are written in time order: one strftime per second
_judged = _Seconds()


def utc_ms(epoch: float | None = None) -> str:
    """``2026-12-04T17:30:00.012Z``: a UTC instant to the millisecond (default: now)."""
    return _logged.format(time.time() if epoch is None else epoch)


def _instant(at: datetime) -> str:
    return _judged.format(at.timestamp())


def _json(value: object) -> bytes:
    """One JSON value as orjson writes it inside a record (``_DUMPS`` of a dict)."""
    return _DUMPS(value)


def _unparsed_last4(raw: str) -> str:
    """The last four ASCII digits of an input that is no number, an extension's not
    among them: "801-364-0188 x204" ends "0188", the line's, not "8204" (hnew25)."""
    return "".join(c for c in split_extension(raw)[0] if "0" <= c <= "9")[-4:]


def _offset(delta: timedelta | None) -> str:
    minutes = int(delta.total_seconds()) // 60 if delta is not None else 0
    sign = "-" if minutes < 0 else "+"
    hours, rest = divmod(abs(minutes), 60)
    return f"{sign}{hours:02d}:{rest:02d}"


def _zone_tag(label: str) -> str:
    """The short tag of a zone source sentence (see ``policy.zones.resolve_zones``)."""
    if label.startswith("area code"):
        return "npa"
    if label.startswith("CRM postal code"):
        return "zip"
    if label.startswith("CRM time zone"):
        return "crm-zone"
    if label.startswith("fallback"):
        return "fallback"
    if label.startswith("number"):
        return "number"
    return "other"


def _zone_tags(zones: tuple[str, ...], sources: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    tags: dict[str, str] = {}
    for source in sources:
        label, _, listed = source.rpartition(": ")
        tag = _zone_tag(label)
        for zone in zones if tag == "fallback" else listed.split(", "):
            tags.setdefault(zone, tag)
    return tuple((zone, tags.get(zone, "other")) for zone in zones)


def _counted(counted: Counted) -> dict[str, Any]:
    """``counted`` of a decision record: the rows its call-frequency reservation wrote."""
    return {"mark": counted.mark, "stamp_ms": counted.stamp_ms,
            "subjects": list(counted.subjects)}


def _counted_piece(counted: Counted) -> bytes:
    return b',"counted":' + _json(_counted(counted))


class RecordEncoder:
    """Turns decisions, record changes and call events into schema-1 lines (bytes + LF)."""

    def __init__(self, protector: NumberProtector, *, node: str, packs: Mapping[str, Pack],
                 campaigns: Collection[str], enabled: Sequence[str]) -> None:
        self.protector = protector
        self.key_id = protector.key_id
        self.node = node
        self.fields = FieldGuard(protector.hash, campaigns)
        self._rules = {pack_id: (tuple(r.rule_id for r in pack.rules), pack.digest)
                       for pack_id, pack in packs.items()}
        # Open questions a pack's site reads otherwise than the pack's default, by pack:
        # the record names them (``readings``) so that ``explain`` reads them so too.
        self._readings = {pack_id: readings for pack_id, pack in packs.items() if (readings := {
            i.id: i.chosen for i in pack.interpretations if not i.is_default})}
        # Every pack this process judges calls with (the enabled ones: a campaign naming
        # another is refused), for ``packs_loaded``.
        judged = [p for p in enabled if p in packs]
        self._loaded = [[pack_id, packs[pack_id].version, packs[pack_id].digest,
                         packs[pack_id].kind] for pack_id in judged]
        self._loaded_readings = {name: option for pack_id in judged
                                 for name, option in self._readings.get(pack_id, {}).items()}
        self._reasons: dict[str, str] = {}
        # Rule ids and citations of the packs that redact_digits would read as a number
        # ("us-fl:501.059(4)", "Fla. Stat. 501.616(6)(a)": seven digits): kept whole in
        # reasons, longest first. Each is one of the packs' own strings, prefix included,
        # so only text that is exactly a citation is spared.
        self._citations = sorted({text for pack in packs.values() for rule in pack.versioned
                                  for version in rule.versions
                                  for text in (version.rule.rule_id, version.rule.citation)
                                  if has_digit_run(text)}, key=len, reverse=True)
        self._zones_at: dict[tuple[tuple[str, ...], tuple[str, ...], int],
                             list[list[str]]] = {}
        # JSON pieces of ``decision_line``, each by what it depends on.
        self._node_piece = b'","node":' + _json(node) + b',"decision_id":'
        self._key_piece = b',"key_id":' + _json(self.key_id)
        self._verdicts: dict[tuple[bool, str, str], bytes] = {}
        self._who: dict[tuple[str, str, str | None, str | None, str | None],
                        tuple[bytes, bytes]] = {}
        self._shapes: dict[tuple[int, ...], tuple[object, object, bytes]] = {}
        self._lists: dict[tuple[tuple[str, int], ...], bytes] = {}
        self._zone_pieces: dict[tuple[tuple[str, ...], tuple[str, ...], int], bytes] = {}

    # --- decisions ------------------------------------------------------------------------

    def decision(self, decision: Decision) -> bytes:
        """The decision record of docs/record-format.md, one line."""
        return self.decision_line(decision, utc_ms())

    def decision_line(self, decision: Decision, logged_at: str) -> bytes:
        """``orjson.dumps(decision_fields(...))`` + LF, byte for byte, built from pieces.

        Most of a record depends on a few things that repeat from call to call: the
        verdict's shape (its packs and outcomes — rules' outcomes are shared values, see
        ``Rule.outcome``), the campaign, the zones, the lists. Their JSON is remembered
        by those; what is new each time (ids, instants, the number's hash) is dumped by
        orjson value by value and the pieces are joined. Measured on the 5,000 decisions
        of ``bench/bench_gate.py``, encoding alone: ~half the CPU of building the dict and
        dumping it. tests/test_compliance_log.py compares the bytes on every kind of
        decision.
        """
        verdict = decision.verdict
        deciding = verdict.deciding
        if deciding is None:
            judged = _ALLOWED if verdict.allowed else _BLOCKED
        else:
            said = (verdict.allowed, deciding.rule_id, verdict.reason)
            judged = self._verdicts.get(said) or remember(self._verdicts, said, b"".join((
                _ALLOWED if verdict.allowed else _BLOCKED, b',"rule":', _json(deciding.rule_id),
                b',"reason":', _json(self._redacted(verdict.reason)))), _PIECE_CACHE_LIMIT)
        campaign, mode = decision.campaign, decision.mode
        named = (decision.front, decision.campaign_id,
                 None if campaign is None else campaign.solicitor,
                 None if mode is None else mode._value_,
                 None if campaign is None else campaign.telemarketer)
        who = self._who.get(named) or remember(self._who, named, self._who_piece(*named),
                                                _PIECE_CACHE_LIMIT)
        number = decision.number
        if number is not None:
            e164 = number.e164
            hashed = self.protector.hash(e164).encode()
            last4 = _json(e164[-4:])
            unparsed = b""
        else:
            raw = decision.raw_number.strip()
            hashed = self.protector.hash(raw).encode()
            last4 = _json(_unparsed_last4(raw))
            unparsed = b',"number_parsed":false'
        epoch = decision.at.timestamp()
        outcomes = verdict.outcomes
        ids = (id(verdict.packs), *map(id, outcomes))
        shape = self._shapes.get(ids)
        if shape is None:  # the entry holds the objects: their ids cannot be reused
            shape = remember(self._shapes, ids, (verdict.packs, outcomes, self._shape(
                verdict)), _PIECE_CACHE_LIMIT)
        lists = verdict.lists
        listed = self._lists.get(lists) or remember(
            self._lists, lists, _json(dict(lists)), _PIECE_CACHE_LIMIT)
        linkedid = decision.linkedid
        reference = decision.reference
        withdraws = decision.withdraws
        return b"".join((
            _HEAD, logged_at.encode(), self._node_piece, _json(decision.decision_id),
            b',"at":"', _judged.format(epoch).encode(), who[0], judged, who[1],
            b',"number_hash":"', hashed, b'","number_last4":', last4, unparsed,
            self._key_piece, self._zones_json(verdict, decision.at, epoch), shape[2],
            b',"lists":', listed,
            b',"linkedid":' + _json(self.fields.linkedid(linkedid)) if linkedid else b"",
            b',"reference":' + _json(self.fields.reference(reference)) if reference else b"",
            b',"withdraws":' + _json(self.fields.decision_id(withdraws)) if withdraws else b"",
            b"" if decision.counted is None else _counted_piece(decision.counted),
            b"" if decision.places_call else _QUESTION,
            b',"latency_us":', b"%d}\n" % int(decision.latency_us)))

    def _who_piece(self, front: str, campaign_id: str, solicitor: str | None,
                   mode: str | None, telemarketer: str | None = None) -> tuple[bytes, bytes]:
        """The pieces before and after the verdict that name the front and campaign (and
        the call centre making the campaign's calls, when it names one)."""
        after = b',"campaign":' + _json(self.fields.campaign(campaign_id))
        if solicitor is not None:
            after += b',"solicitor":' + _json(solicitor)
        if telemarketer is not None:
            after += b',"telemarketer":' + _json(telemarketer)
        if mode is not None:
            after += b',"mode":' + _json(mode)
        return b'","front":' + _json(front) + b",", after

    def _shape(self, verdict: Verdict) -> bytes:
        """``_shape_fields`` as the JSON piece of a decision line."""
        return b"," + _DUMPS(self._shape_fields(verdict))[1:-1]

    def _shape_fields(self, verdict: Verdict) -> dict[str, Any]:
        """``"packs"``, ``"readings"`` and ``"outcomes"``: what the verdict's shape gives."""
        record: dict[str, Any] = {"packs": self._packs(verdict)}
        if self._readings:
            readings = {name: option for applied in verdict.packs if applied.applies
                        for name, option in self._readings.get(applied.pack_id, {}).items()}
            if readings:
                record["readings"] = readings
        carried = [
            {"rule": o.rule_id, "status": o.status.value, "reason": self._redacted(o.reason)}
            for o in verdict.outcomes if o.status._value_ in _CARRIED]
        if carried:
            record["outcomes"] = carried
        return record

    def _zones_json(self, verdict: Verdict, at: datetime, epoch: float) -> bytes:
        """``"zones":[...]`` of ``_zones``, remembered as JSON."""
        key = (verdict.time_zones, verdict.zone_sources, int(epoch) // 60)
        piece = self._zone_pieces.get(key)
        if piece is None:
            piece = remember(self._zone_pieces, key, b',"zones":' + _json(
                self._zones(verdict, at)), _ZONE_CACHE_LIMIT)
        return piece

    def decision_fields(self, decision: Decision, logged_at: str | None = None
                        ) -> dict[str, Any]:
        """The decision record as a dict (what ``decision`` writes, as JSON)."""
        verdict = decision.verdict
        record: dict[str, Any] = {
            "schema": DECISION_SCHEMA, "event": "decision",
            "logged_at": utc_ms() if logged_at is None else logged_at, "node": self.node,
            "decision_id": decision.decision_id, "at": _instant(decision.at),
            "front": decision.front, "verdict": verdict.verdict,
        }
        deciding = verdict.deciding
        if deciding is not None:
            record["rule"] = deciding.rule_id
            record["reason"] = self._redacted(verdict.reason)
        record["campaign"] = self.fields.campaign(decision.campaign_id)
        campaign = decision.campaign
        if campaign is not None:
            record["solicitor"] = campaign.solicitor
            if campaign.telemarketer is not None:  # absent: the seller made its own calls
                record["telemarketer"] = campaign.telemarketer
        if decision.mode is not None:
            record["mode"] = decision.mode.value
        self._number(record, decision)
        record["zones"] = self._zones(verdict, decision.at)
        record.update(self._shape_fields(verdict))
        record["lists"] = dict(verdict.lists)
        # No "obligations": they follow from the packs that applied (their digests cover
        # the obligations) and the mode; `callguard explain` rebuilds them.
        if decision.linkedid:
            record["linkedid"] = self.fields.linkedid(decision.linkedid)
        if decision.reference:
            record["reference"] = self.fields.reference(decision.reference)
        if decision.withdraws:  # an earlier answer to the same call, withdrawn by this one
            record["withdraws"] = self.fields.decision_id(decision.withdraws)
        if decision.counted is not None:  # the count's rows, proved by this record
            record["counted"] = _counted(decision.counted)
        if not decision.places_call:  # a question: no call is placed on this answer
            record["places_call"] = False
        record["latency_us"] = int(decision.latency_us)
        return record

    def _redacted(self, text: str) -> str:
        """``redact_digits``, remembered: most reasons repeat ("number is on national v12");
        the packs' own citations survive it whole."""
        done = self._reasons.get(text)
        if done is None:
            done = remember(self._reasons, text, self._redact(text), _REASON_CACHE_LIMIT)
        return done

    def _redact(self, text: str) -> str:
        spared = [c for c in self._citations if c in text]
        if not spared:
            return redact_digits(text)
        for index, citation in enumerate(spared):  # a private-use mark: no digit, no separator
            text = text.replace(citation, f"\x00{chr(0xE000 + index)}\x00")
        text = redact_digits(text)
        for index, citation in enumerate(spared):
            text = text.replace(f"\x00{chr(0xE000 + index)}\x00", citation)
        return text

    def _number(self, record: dict[str, Any], decision: Decision) -> None:
        number = decision.number
        if number is not None:
            record["number_hash"] = self.protector.hash(number.e164)
            record["number_last4"] = number.e164[-4:]
        else:
            raw = decision.raw_number.strip()
            record["number_hash"] = self.protector.hash(raw)
            record["number_last4"] = _unparsed_last4(raw)
            record["number_parsed"] = False
        record["key_id"] = self.key_id

    def _zones(self, verdict: Verdict, at: datetime) -> list[list[str]]:
        """``[[zone, utc_offset, source], ...]``; one computation per kind of call a minute."""
        minute = int(at.timestamp()) // 60  # every offset change falls on a whole minute
        key = (verdict.time_zones, verdict.zone_sources, minute)
        zones = self._zones_at.get(key)
        if zones is None:
            tags = _zone_tags(verdict.time_zones, verdict.zone_sources)
            zones = remember(self._zones_at, key, [
                [zone, _offset(at.astimezone(zone_info(zone)).utcoffset()), tag]
                for zone, tag in tags], _ZONE_CACHE_LIMIT)
        return zones

    def _packs(self, verdict: Verdict) -> list[list[str]]:
        """The packs that applied, each with one letter per rule; a pack out of the call's
        scope (or not in effect on its date) is not named: the ``packs-loaded`` record of
        the node says which packs, at which versions, every call was judged under. (Naming
        each cost ~36 bytes per statute pack loaded in every record, and made ``explain``
        of a Utah call ask for the Florida pack of the day.)"""
        letter = {o.rule_id: _LETTER_OF[o.status._value_] for o in verdict.outcomes}
        packs: list[list[str]] = []
        for applied in verdict.packs:
            if not applied.applies:
                continue
            rule_ids, digest = self._rules.get(applied.pack_id, ((), ""))
            letters = "".join([letter.get(r, _NOT_EVALUATED) for r in rule_ids])
            packs.append([applied.pack_id, applied.version, digest, letters])
        return packs

    def packs_loaded(self) -> bytes:
        """``event: packs-loaded``: every pack this node judges calls with (id, version,
        digest, kind) and the site's readings of open questions — written before a process's
        first decision (``Runtime.start_deciding``) and by ``serve`` each UTC day, so the
        packs a call was judged under, those out of its scope included, are those of the
        latest such record of its node before the decision."""
        record: dict[str, Any] = {"schema": SCHEMA, "event": "packs-loaded",
                                  "logged_at": utc_ms(), "node": self.node,
                                  "packs": self._loaded}
        if self._loaded_readings:
            record["readings"] = self._loaded_readings
        return _DUMPS(record, option=_NEWLINE)

    def store_adopted(self, *, backend: str, store_id: str, previous_backend: str | None,
                      previous_id: str | None, records: int) -> bytes:
        """``event: store-adopted``: this node's consent/EBR/do-not-call store is one the data
        dir had not served from (the operator accepted a lost or replaced one): which,
        which before (ids kept only as the hex tokens they are), and its records then."""
        record: dict[str, Any] = {
            "schema": SCHEMA, "event": "store-adopted", "logged_at": utc_ms(),
            "node": self.node, "backend": _store_backend(backend),
            "store_id": _store_token(store_id), "previous_id": _store_token(previous_id),
            "records": records}
        if previous_backend is not None:
            record["previous_backend"] = _store_backend(previous_backend)
        return _DUMPS(record, option=_NEWLINE)

    # --- record changes -------------------------------------------------------------------

    def journal(self, write: RecordWrite, changed: int) -> bytes:
        """A consent / EBR / company-DNC change with the facts written (instants, dates, the
        evidence's reference), never the evidence itself; the number hashed."""
        record: dict[str, Any] = {
            "schema": SCHEMA, "event": "record", "logged_at": utc_ms(), "node": self.node,
            "action": write.action, "solicitor": redact_line(write.solicitor),
            "number_hash": self.protector.hash(write.number),
            "number_last4": write.number[-4:], "key_id": self.key_id, "changed": changed,
        }
        # Each change carries the facts the store was given, not only that it changed: the
        # instant a consent was given or a request made is what the gate reads, and it
        # may lie days before the record is logged (`--granted`, an import).
        match write:
            case AddConsent(record=consent, source=source, evidence=evidence):
                record["kind"] = consent.kind.value
                record["source"] = self.fields.source(source)
                record["granted_at"] = _instant(consent.granted_at)
                if consent.expires_at is not None:
                    record["expires_at"] = _instant(consent.expires_at)
                if consent.window is not None:
                    start, end = consent.window
                    record["window"] = f"{start:%H:%M}-{end:%H:%M}"
                if evidence:
                    # The reference to the proof (a file name, a ticket), never the proof;
                    # numbers in it taken out like any free text: the store keeps it whole.
                    record["evidence_ref"] = redact_line(evidence)
            case RevokeConsent(kind=kind, source=source, at=at):
                # The kind named and every kind it ended (64.1200(a)(10): either
                # automated kind ends both): which revocation ended which consent.
                record["kind"] = "all" if kind is None else kind.value
                record["ends"] = [k.value for k in write.ends]
                record["source"] = self.fields.source(source)
                record["revoked_at"] = _instant(at)
            case AddCompanyDnc(source=source, at=at):
                record["source"] = self.fields.source(source)
                record["requested_at"] = _instant(at)
            case EndEbr(source=source, at=at):
                record["source"] = self.fields.source(source)
                record["ended_at"] = _instant(at)
            case RecordEbr(last_transaction=transaction, last_inquiry=inquiry):
                if transaction is not None:
                    record["last_transaction"] = transaction.isoformat()
                if inquiry is not None:
                    record["last_inquiry"] = inquiry.isoformat()
        return _DUMPS(record, option=_NEWLINE)

    # --- call events and the log's own events ---------------------------------------------

    def event(self, name: str, fields: Mapping[str, Any]) -> bytes:
        """A later record of a call (line release, caller ID, ...) or of the log (purge)."""
        record: dict[str, Any] = {"schema": SCHEMA, "event": name, "logged_at": utc_ms(),
                                  "node": self.node}
        for key, value in fields.items():
            if value is not None:
                record[key] = self._field(key, value)
        return _DUMPS(record, option=_NEWLINE)

    def _field(self, key: str, value: Any) -> Any:
        if key == "decision_id" and isinstance(value, str):
            return self.fields.decision_id(value)
        if key == "linkedid" and isinstance(value, str):
            return self.fields.linkedid(value)
        if key in _CHANNEL_FIELDS and isinstance(value, str):
            return safe_channel(value)
        if key == "still_up" and isinstance(value, Iterable) and not isinstance(value, str):
            return [safe_channel(str(v)) for v in value]
        if key == "hangups_sent" and isinstance(value, Mapping):
            return {safe_channel(str(k)): v for k, v in value.items()}
        return _clean(value)


def _store_token(value: str | None) -> str | None:
    """A store id or Redis marker as written (32 hex); anything else is not named (None)."""
    return value if value is not None and _TOKEN.fullmatch(value) else None


def _store_backend(value: str) -> str:
    return value if value in ("embedded", "redis") else "unknown"


def _clean(value: Any) -> Any:
    """Any other value: strings (and strings inside lists and maps) lose their numbers."""
    if isinstance(value, str):
        return redact_digits(value)
    if isinstance(value, Mapping):
        return {redact_digits(str(k)): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value
