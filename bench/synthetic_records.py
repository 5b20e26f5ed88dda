"""Realistic compliance records (schema 1, docs/record-format.md) for benchmarks and tests.

Decisions of six campaigns on three fronts plus nightly scrubs, ~80 % ALLOW, blocks for
the rules that block in practice (national and state lists, company DNC, hours,
wireless without consent); numbers drawn from a pool so that a number is called several
times over the period (as a lead list is worked); after each answered predictive or
prerecorded call a ``line-release`` record a minute later, with the watchdog's figures;
consent/DNC record changes; rare violation risks and caller-ID mismatches. Time runs
forward (calls between 9:00 and 21:00 Mountain time), so ``logged_at`` is in file order
as a node writes it. Deterministic for a seed.
"""

from __future__ import annotations

import hashlib
import heapq
import hmac
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

KEY = bytes.fromhex("ab" * 32)

_PACKS = {  # pack id -> (version, digest, rule count)
    "us-federal": ("2026.11.0", "5d1c09e2", 7),
    "us-ut": ("2026.11.0", "a4b1f37c", 5),
    "us-ut-hb45-2000": ("2026.11.1", "0c9e2d51", 7),
}
_ALLOW_OUTCOMES = {
    "manual": {"us-federal": "ppppp-p", "us-ut": "pp-pp", "us-ut-hb45-2000": "ppppp--"},
    "predictive": {"us-federal": "ppppp-p", "us-ut": "pp-pp", "us-ut-hb45-2000": "ppppp--"},
    "prerecorded": {"us-federal": "pppppep", "us-ut": "ppepp", "us-ut-hb45-2000": "ppppppp"},
}
# (rule, pack, position in the pack, share of blocks, reason)
_BLOCKS = [
    ("us-federal:64.1200(c)(2)", "us-federal", 2, 0.45,
     "number ending 0123 is on list 'national' v{lists[national]}"),
    ("us-ut-hb45-2000:13-26a-105(1)(b)", "us-ut-hb45-2000", 1, 0.15,
     "number ending 0123 is on list 'ut-state' v{lists[ut-state]}"),
    ("us-federal:64.1200(d)(3)", "us-federal", 3, 0.15,
     "on {solicitor}'s do-not-call list since 2026-03-02"),
    ("us-ut:13-25a-103(3):hours", "us-ut", 0, 0.10,
     "local time 21:14 in America/Denver is outside 8:00 a.m. to 9:00 p.m."),
    ("us-federal:64.1200(a)(2)", "us-federal", 4, 0.15,
     "predictive calls to a possibly wireless number need written consent to {solicitor}; "
     "none on record"),
]
_CAMPAIGNS = [  # id, solicitor, mode, share
    ("ut-solar-manual", "beehive-solar", "manual", 0.25),
    ("ut-solar-predictive", "beehive-solar", "predictive", 0.30),
    ("insurance-reminders", "granite-insurance", "prerecorded", 0.10),
    ("ut-roofing-predictive", "wasatch-roofing", "predictive", 0.15),
    ("ut-roofing-manual", "wasatch-roofing", "manual", 0.10),
    ("ut-internet-predictive", "canyon-fiber", "predictive", 0.10),
]
_FRONTS = [("fastagi", 0.80), ("sip", 0.12), ("http", 0.08)]
_MOUNTAIN = timedelta(hours=-7)


def _pick(rng: random.Random, weighted: list[Any], weight_index: int = -1) -> Any:
    point = rng.random() * sum(w[weight_index] for w in weighted)
    for item in weighted:
        point -= item[weight_index]
        if point <= 0:
            return item
    return weighted[-1]


def _iso(instant: datetime) -> str:
    return instant.strftime("%Y-%m-%dT%H:%M:%S.") + f"{instant.microsecond // 1000:03d}Z"


def uuid7(instant: datetime, rng: random.Random) -> str:
    """A UUIDv7 for ``instant`` (time-ordered, like callguard's decision ids)."""
    millis = int(instant.timestamp() * 1000)
    rand = rng.getrandbits(74)
    value = (millis << 80) | (0x7 << 76) | ((rand >> 62) & 0xFFF) << 64
    value |= (0b10 << 62) | (rand & ((1 << 62) - 1))
    return str(uuid.UUID(int=value))


def e164(index: int) -> str:
    """The pool's numbers: Utah and a few neighbours' area codes."""
    area = (801, 385, 435, 208, 702, 303)[index % 6]
    return f"+1{area}{2000000 + (index * 7919) % 7999999:07d}"


def number_hash(e164_number: str, key: bytes = KEY) -> str:
    """HMAC-SHA-256 of the E.164 form, as ``NumberProtector.hash``."""
    return hmac.new(key, e164_number.encode(), hashlib.sha256).hexdigest()


def key_id(key: bytes = KEY) -> str:
    """The key's fingerprint, as ``NumberProtector.key_id``."""
    return hmac.new(key, b"callguard key id", hashlib.sha256).hexdigest()[:8]


@dataclass
class Factory:
    """Records for ``count`` decisions from ``start`` over ``days`` days."""

    count: int
    start: datetime = datetime(2026, 1, 5, tzinfo=UTC)
    days: int = 30
    node: str = "node-a"
    seed: int = 1
    key: bytes = KEY
    pool: int = 0  # distinct numbers; 0: a quarter of the decisions
    packs_loaded: bool = False  # a packs-loaded record at start and each UTC day, as serve

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.pool = self.pool or max(10, self.count // 4)
        self.key_id = key_id(self.key)
        self._hashes: dict[int, str] = {}

    def number(self, index: int) -> tuple[str, str]:
        """(hash, last4) of pool number ``index``."""
        if index not in self._hashes:
            self._hashes[index] = number_hash(e164(index), self.key)
        return self._hashes[index], e164(index)[-4:]

    def _instants(self) -> Iterator[datetime]:
        per_day = [self.count // self.days + (1 if d < self.count % self.days else 0)
                   for d in range(self.days)]
        for day, calls in enumerate(per_day):
            opening = self.start.replace(hour=16) + timedelta(days=day)  # 9:00 Mountain
            offsets = sorted(self.rng.random() * 12 * 3600 for _ in range(calls))
            for offset in offsets:
                yield opening + timedelta(seconds=offset)

    def records(self) -> Iterator[dict[str, Any]]:
        """Every record, in ``logged_at`` order."""
        later: list[tuple[str, int, dict[str, Any]]] = []
        serial = 0
        if self.packs_loaded:  # serve: one before the first decision, then one each UTC day
            first = self.start.replace(hour=0, minute=0, second=0, microsecond=0)
            for day in range(self.days + 2):
                serial += 1
                instant = first + timedelta(days=day, milliseconds=250)
                heapq.heappush(later, (_iso(instant), serial, self.loaded(instant)))
        for at in self._instants():
            logged = _iso(at + timedelta(microseconds=self.rng.randint(200, 3000)))
            while later and later[0][0] <= logged:
                yield heapq.heappop(later)[2]
            decision = self.decision(at, logged)
            yield decision
            for follow in self.followers(decision, at):
                serial += 1
                heapq.heappush(later, (follow["logged_at"], serial, follow))
        while later:
            yield heapq.heappop(later)[2]

    def lines(self) -> Iterator[bytes]:
        """Every record as a JSON line, as the log file holds them."""
        for record in self.records():
            yield orjson.dumps(record) + b"\n"

    def loaded(self, instant: datetime) -> dict[str, Any]:
        """The node's packs-loaded record (every pack it judges calls with)."""
        return {"schema": 1, "event": "packs-loaded", "logged_at": _iso(instant),
                "node": self.node,
                "packs": [[p, version, digest, "statute"]
                          for p, (version, digest, _) in _PACKS.items()]}

    def decision(self, at: datetime, logged: str) -> dict[str, Any]:
        """One decision record."""
        rng = self.rng
        campaign, solicitor, mode, _ = _pick(rng, _CAMPAIGNS)
        front = "scrub" if rng.random() < 0.08 else _pick(rng, _FRONTS)[0]
        hashed, last4 = self.number(rng.randrange(self.pool))
        day = (at - self.start).days
        lists = {"national": 40 + day // 7, "ut-state": 12 + day // 30}
        outcomes = dict(_ALLOW_OUTCOMES[mode])
        record: dict[str, Any] = {
            "schema": 1, "event": "decision", "logged_at": logged, "node": self.node,
            "key_id": self.key_id, "decision_id": uuid7(at, rng), "at": _iso(at),
            "front": front, "verdict": "ALLOW", "campaign": campaign, "solicitor": solicitor,
            "mode": mode, "number_hash": hashed, "number_last4": last4,
            "zones": [["America/Denver", "-07:00", "npa"]],
        }
        if rng.random() < 0.2:
            rule, pack, position, _, reason = _pick(rng, _BLOCKS, 3)
            text = reason.format(lists=lists, solicitor=solicitor).replace("0123", last4)
            letters = list(outcomes[pack])
            letters[position] = "b"
            outcomes[pack] = "".join(letters)
            record.update(verdict="BLOCK", rule=rule, reason=f"Blocked by {rule}: {text}.")
            record["outcomes"] = [{"rule": rule, "status": "block", "reason": text}]
        else:
            record["outcomes"] = []
        record["packs"] = [[p, _PACKS[p][0], _PACKS[p][1], outcomes[p]] for p in _PACKS]
        record["lists"] = lists
        if mode != "manual" and record["verdict"] == "ALLOW":
            record["obligations"] = {"line_release_s": 25 if mode == "predictive" else 5,
                                     "min_ring_s": 15, "min_rings": 4}
        if front == "fastagi":
            record["linkedid"] = f"{int(at.timestamp())}.{rng.randint(1, 99999)}"
        elif front == "sip":
            record["reference"] = f"{rng.getrandbits(64):016x}@dialer"
        record["latency_us"] = int(rng.lognormvariate(6.0, 0.4))
        return record

    def followers(self, decision: dict[str, Any], at: datetime) -> list[dict[str, Any]]:
        """The watchdog's records of an allowed automated call, and record changes."""
        rng = self.rng
        out: list[dict[str, Any]] = []
        common = {"schema": 1, "node": self.node}
        if rng.random() < 0.01:
            out.append({**common, "event": "record",
                        "logged_at": _iso(at + timedelta(seconds=rng.randint(5, 600))),
                        "key_id": self.key_id, "action": "company-dnc-added",
                        "solicitor": decision["solicitor"],
                        "number_hash": decision["number_hash"],
                        "number_last4": decision["number_last4"], "changed": 1,
                        "source": "agent"})
        if decision["verdict"] != "ALLOW" or decision["mode"] == "manual" or (
                decision["front"] == "scrub"):
            return out
        limit = decision["obligations"]["line_release_s"]
        ended = at + timedelta(seconds=rng.randint(20, 240))
        release_ms = round(rng.lognormvariate(3.0, 0.6), 3)
        answered = rng.random() < 0.6
        fields: dict[str, Any] = {
            **common, "event": "line-release", "logged_at": _iso(ended),
            "decision_id": decision["decision_id"], "campaign": decision["campaign"],
            "mode": decision["mode"], "dial_status": "ANSWER" if answered else "NOANSWER",
            "limit_s": limit, "grace_s": 0.0,
            "ended_by": "called-party" if answered else "not-answered",
            "release_ms": release_ms if answered else None,
            "within_limit": True if answered else None,
        }
        if answered and decision["mode"] == "predictive":
            fields["agent_within_2s"] = rng.random() > 0.02
        out.append(fields)
        if rng.random() < 0.0005:
            out.append({**common, "event": "violation-risk",
                        "logged_at": _iso(ended + timedelta(seconds=limit)),
                        "decision_id": decision["decision_id"],
                        "campaign": decision["campaign"], "mode": decision["mode"],
                        "limit_s": limit, "elapsed_ms": limit * 1000 + 850.0,
                        "still_up": ["PJSIP/agent-0001"],
                        "reason": "channels still up past the release limit after the "
                                  "called party hung up"})
        if rng.random() < 0.0005:
            out.append({**common, "event": "caller-id-mismatch",
                        "logged_at": _iso(at + timedelta(seconds=2)),
                        "decision_id": decision["decision_id"],
                        "campaign": decision["campaign"], "presentation_allowed": False,
                        "expected_last4": "0100", "presented_last4": "0100"})
        return out
