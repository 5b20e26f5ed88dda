"""Call-frequency caps as values: what a call claims, and what the store answers.

A cap ("no more than 3 calls to a person over 24 hours on the same subject", Fla. Stat.
501.616(6)(b)) cannot be judged by reading a count and deciding: two nodes would each see
2 calls and both allow a fourth. So the policy only says what the call *claims* (subject,
window, cap, one claim per rule); a store checks every claim and, only when all hold,
counts the call — in one atomic step (one Lua script on Redis, one SQLite transaction
embedded). The engine asks for that step last (``RESERVING``), when every other rule has
allowed the call, so a BLOCKed call is never counted.

``Ledger`` is the same check-and-reserve over an in-memory list: the reference the store
tests compare with, and what statute situations use. Pure: the caller gives the instant.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

__all__ = ["RECORD_ONLY_CAP", "SKEW_MS", "Counted", "FrequencyClaim", "FrequencyResult", "Held",
           "Ledger", "count_instants", "judge_claims"]

# Counts are kept this much longer than the longest window, and old ones are trimmed from
# the earlier of the call's instant and the store's wall clock: nodes whose clocks (or
# checks in flight) differ by less than this never trim a call another still counts, and a
# call stamped in the future (a wrong clock, a client's ``at``) cannot trim today's counts.
SKEW_MS = 3_600_000
# The cap of a claim that only records the call under another count (a campaign naming a
# subject also counts in its seller's count, ``CallFrequency.claims``): never reached, so
# the claim never refuses a call; every store records a call under every claim's subject.
RECORD_ONLY_CAP = 2**31 - 1


@dataclass(frozen=True, slots=True)
class FrequencyClaim:
    """One rule's cap over one subject: at most ``cap`` calls in ``window_s`` seconds.

    ``subject`` is the counter's name without the number ("seller:acme"); the store adds
    the number's keyed hash, so every claim is per called number.
    """

    rule_id: str
    subject: str
    window_s: int
    cap: int
    # Whether a call exactly ``window_s`` before counts (the window closed at its start):
    # the stricter reading of "over a 24-hour period", a site's choice (pack readings).
    closed: bool = False

    def after_ms(self, at_ms: int) -> int:
        """The window's exclusive lower bound (ms): a call counts when stamped after it."""
        return at_ms - self.window_s * 1000 - (1 if self.closed else 0)


@dataclass(frozen=True, slots=True)
class Counted:
    """What a granted reservation wrote, as the compliance record carries it (``counted``):
    the rows a store that lost the commit can write again from the record.

    ``mark`` is the store's commit mark (strictly increasing in commit order across every
    process of the file): a record whose mark is past the store's last mark after a
    restart names a commit the file lost."""

    mark: int
    stamp_ms: int  # the instant the call was counted at (ms)
    subjects: tuple[str, ...]  # one row per subject, keyed by the number's hash


@dataclass(frozen=True, slots=True)
class Held:
    """What a granted reservation wrote, whichever store and whatever proves it: the rows
    a withdrawn ALLOW gives back (``FrequencyStore.release``) — one per subject, keyed by
    the number's hash, stamped ``stamp_ms``. Never recorded."""

    stamp_ms: int
    subjects: tuple[str, ...]
    # The store's own name for the rows, when it has one (Redis: the sorted sets' member):
    # a release takes exactly those rows, so one run twice frees nothing more.
    member: str = ""


@dataclass(frozen=True, slots=True)
class FrequencyResult:
    """The store's answer: the calls counted before this one, per claim, and whether the
    call was counted (every claim held) or not (``refused`` is the first claim over cap)."""

    claims: tuple[FrequencyClaim, ...]
    counts: tuple[int, ...]
    refused: int | None  # index into claims, or None: the call is counted
    # Per claim, how many of ``counts`` are a scrub run's earlier ALLOWed rows (held in
    # memory by the run, never stored); empty: none.
    tentative: tuple[int, ...] = ()
    # The rows written, when the store's counts are proved by the compliance log (embedded
    # ``synchronous=NORMAL``); None otherwise.
    counted: Counted | None = None
    # The rows written when the call was counted (granted), for a release; None otherwise.
    held: Held | None = None

    @property
    def granted(self) -> bool:
        """Whether the call was counted against every cap."""
        return self.refused is None

    def tentative_for(self, rule_id: str, own: FrequencyClaim | None = None) -> int:
        """How many of the count of ``rule_id`` (of its claim ``own``, as ``count_for``)
        are earlier rows of the same scrub run."""
        index = self._index(rule_id, own)
        return self.tentative[index] if index is not None and index < len(self.tentative) else 0

    def count_for(self, rule_id: str, own: FrequencyClaim | None = None
                  ) -> tuple[FrequencyClaim, int] | None:
        """The claim of ``rule_id`` and its count before this call, or None: the claim
        equal to ``own`` when given (two parameter versions of one cap judge one call when
        its candidate zones are on two dates, htz23: each reads its own window's count,
        hrev105), else the first claim of the id. None when ``own`` is given and absent:
        another version's claim of the id has another window (read, a 72-hour version
        passed on a 24-hour count, hrev110); the rule BLOCKs without its count."""
        index = self._index(rule_id, own)
        return None if index is None else (self.claims[index], self.counts[index])

    def _index(self, rule_id: str, own: FrequencyClaim | None) -> int | None:
        for index, claim in enumerate(self.claims):
            if claim.rule_id == rule_id and (own is None or claim == own):
                return index
        return None


def judge_claims(claims: Sequence[FrequencyClaim],
                 history: Sequence[tuple[str, datetime]], at: datetime) -> FrequencyResult:
    """Check every claim against ``history`` ((subject, instant) of counted calls).

    A call counts in a window when it lies in ``(at - window, +inf)``: one exactly a window
    ago is outside (inside when the claim's window is ``closed``), and one stamped later
    than ``at`` (another node's clock ahead) counts.
    """
    counts: list[int] = []
    refused: int | None = None
    for index, claim in enumerate(claims):
        after = claim.after_ms(_ms(at))
        count = sum(1 for subject, when in history
                    if subject == claim.subject and _ms(when) > after)
        counts.append(count)
        if refused is None and count >= claim.cap:
            refused = index
    return FrequencyResult(tuple(claims), tuple(counts), refused)


def count_instants(at: datetime, asked: datetime | None,
                   places_call: bool) -> tuple[datetime, datetime]:
    """(the instant the windows end at, the instant the call is counted at).

    A call placed on the answer is placed when the gate is asked, whatever instant the
    client sent (``POST /v1/check`` takes an ``at``): windows are judged from the earlier
    of the two and the call counted at the later, so an ``at`` ahead of the clock cannot
    move earlier calls out of the window, nor one behind it count the call as older than
    it is (either way the cap could be passed). A question that places no call is judged
    at its own instant.
    """
    if not places_call or asked is None:
        return at, at
    return (asked, at) if asked < at else (at, asked)


def _ms(instant: datetime) -> int:
    """An instant in whole milliseconds, as the stores keep it."""
    return int(instant.timestamp() * 1000)


@dataclass(slots=True)
class Ledger:
    """Counted calls per number in memory: the reference check-and-reserve."""

    calls: dict[str, list[tuple[str, datetime]]] = field(default_factory=dict)

    def reserve(self, number: str, claims: Sequence[FrequencyClaim],
                at: datetime, stamp: datetime | None = None) -> FrequencyResult:
        """Check every claim in its window before ``at``; count the call, at ``stamp``
        (default ``at``), under each claim's subject when all hold."""
        history = self.calls.setdefault(number, [])
        result = judge_claims(claims, history, at)
        if result.granted:
            history.extend((subject, stamp or at) for subject in dict.fromkeys(
                c.subject for c in claims))
        return result

    def judge(self, number: str, counted: Sequence[FrequencyClaim],
              read: Sequence[FrequencyClaim], at: datetime,
              stamp: datetime | None = None) -> FrequencyResult:
        """``read`` claims (a front the rule does not count) checked read-only, then, when
        they hold, the ``counted`` ones reserved: what the gate's fetch does on a store."""
        if not read:
            return self.reserve(number, counted, at, stamp)
        peeked = judge_claims(read, self.calls.get(number, ()), at)
        if not peeked.granted or not counted:
            return peeked
        reserved = self.reserve(number, counted, at, stamp)
        refused = None if reserved.granted else len(read) + (reserved.refused or 0)
        return FrequencyResult((*read, *reserved.claims), (*peeked.counts, *reserved.counts),
                               refused)
