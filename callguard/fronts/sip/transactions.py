"""Server transactions (RFC 3261 §17.2): one decision per INVITE, however often it arrives.

Pure: no sockets and no clock. The front hands every request to ``receive`` with the
time, and the final response to ``respond``; ``due(now)`` yields the retransmissions the
timers ask for and forgets finished transactions. Over UDP an INVITE's final response is
sent again at T1, 2·T1, … capped at T2 until the ACK arrives (timer G) or 64·T1 pass
(timer H); the ACK is absorbed and the transaction lingers T4 to absorb copies of it
(timer I). A non-INVITE transaction keeps its response 64·T1 for retransmitted requests
(timer J). Over TCP nothing is retransmitted and timers I and J are zero.

An INVITE still without its final response ``TimerSettings.trying`` after it arrived gets
a 100 (Trying) (§17.2.1; made by the front on demand, ``proceeding``), over every
transport; a retransmitted INVITE then gets the 100 again, "the most recent provisional
response". A decision taken in a few milliseconds costs one timer entry and sends nothing.

An acknowledged INVITE lingers as its expiry time and To tag alone (``_lingering``,
``_lingering_tags``: a late CANCEL's 200 carries the tag, §9.2), not as a
``_Transaction``: at 2,000 calls/s some 10,000 transactions wait out T4, and as objects
the garbage collector walked them on every older-generation pass (they were nine in ten
of the live tracked objects a loaded node held, and its full collections paused it for
tens of milliseconds); a float or a string in a dict is not tracked at all.

Retransmission follows §17.2.1 to timer H: timer G sends the final response again at
T1, then at intervals doubling up to T2 (T1, 2·T1, 4·T1, T2, T2, …) until the ACK or
64·T1 — ten copies at the RFC's T2 = 8·T1, the last 63·T1 after the first. (The table
once stopped after ``max_retransmits`` copies, six: the last at 31·T1 = 15.5 s, and a
dialer whose copies were lost heard nothing for the second half of timer H although the
RFC has the server keep sending.) A copy is due a whole interval after the one before it
was due, not after the tick that sent it, so a late tick does not push the schedule past
timer H (and a copy due before timer H is sent by a tick that comes after both); a tick
later than a whole interval sends one copy, not a burst.

Only final responses of 300-699 are ever given to an INVITE transaction: a redirect
server answers an INVITE with a redirect or a refusal (§8.3), never a 2xx. A 2xx ends the
INVITE server transaction at once and its retransmission is the UAS core's (§13.3.1.4,
§17.2.1), acknowledged by an ACK of another branch that this table would never match:
``respond`` refuses one rather than retransmit it to timer H.

Two bounds make the server useless as an amplifier: the table has a maximum size (a new
request beyond it is refused, not stored; requests other than INVITE and a CANCEL of one
kept take half of it at most, so a flood of them leaves room for the calls; such a CANCEL
is taken even past the bound, one per kept INVITE: twice the bound at worst), and a
transaction answers at most ``max_retransmits`` retransmitted requests with its final
response (and as many, before it, with its 100 (Trying)) — 10 by default, the most an
RFC 3261 client sends: a non-INVITE client's timer E at T2 = 8·T1 (an INVITE client's
timer A sends 6). Each answer goes where the first went (§18.2.2: the request that made
the transaction), not to the retransmission's own source — unless that was a connection
now closed, when a copy from the same address (a new connection, or UDP) takes them
(``move``: the front's ``_answered_at``, hsip26), never another host's (hrev135); moved
to datagrams, an INVITE's answer is sent again by timer G to its timer H (hsip30). So one
INVITE costs at most 1 + 10 (timer G) + 10 copies of its final response over 64·T1, to
the allowed source that asked, one per request beyond timer G's; timer G's are the RFC's
own, and its ACK stops them. Moved to datagrams, a transaction sends no more bytes than
the datagrams that asked for it allow (``move``'s ``budget``, ``credit``, ``spend``; the
front's ``_over_budget``): the datagram that moves it may be a small copy of a large
request begun over TCP, its source forged (hrev144).
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from enum import Enum
from typing import cast

__all__ = ["Receipt", "ServerTransactions", "TimerSettings", "cancelled_key", "transaction_key"]

MAGIC_COOKIE = "z9hG4bK"  # RFC 3261 §8.1.1.7: branches that are unique per transaction


@dataclass(frozen=True, slots=True)
class TimerSettings:
    """RFC 3261 §17 timers and our bounds; the defaults are the RFC's.

    ``trying``: how long an INVITE may wait for its final response before it gets a
    100 (Trying). §17.2.1 asks for the 100 unless the TU will answer within 200 ms, and
    the decision budget is 250 ms, so that cannot be promised; but nearly every decision
    takes a few milliseconds, and a 100 for each would double what the front sends. At
    100 ms (plus the front's 20 ms tick) every INVITE has either its answer or a 100
    within 200 ms — long before the client's first retransmission at T1 (what the 100
    quenches), and early enough for a CANCEL, which §9.1 forbids before a provisional.
    """

    t1: float = 0.5
    t2: float = 4.0
    t4: float = 5.0
    max_transactions: int = 65_536
    max_retransmits: int = 10  # retransmitted requests answered, per transaction
    trying: float = 0.1

    def __post_init__(self) -> None:
        if not 0 < self.t1 <= self.t2:
            # timer G would fire every T2 < T1: more than 64 copies before timer H
            raise ValueError(f"timers need 0 < T1 <= T2 (T1 {self.t1}, T2 {self.t2})")
        if self.max_transactions < 2:
            # the requests other than INVITE take half the table at most: half of 1 is 0,
            # and every OPTIONS was refused; one of the one place for them would let a
            # single OPTIONS lock every INVITE out for 64·T1 (hsip30)
            raise ValueError(f"max_transactions {self.max_transactions}: 2 at least, a "
                             "place for an INVITE and one for another request")


def transaction_key(*, branch: str | None, sent_by: str, method: str, call_id: str,
                    cseq: int, from_tag: str) -> Hashable:
    """§17.2.3: the top Via's branch and sent-by; the ACK of an INVITE matches the INVITE.

    Requests from RFC 2543 clients (no magic cookie) fall back to Call-ID, CSeq number,
    From tag and sent-by.
    """
    kind = "INVITE" if method in ("INVITE", "ACK") else method
    if branch and branch.startswith(MAGIC_COOKIE):
        return (branch, sent_by, kind)
    return ("2543", call_id, cseq, from_tag, sent_by, kind)


def cancelled_key(key: Hashable) -> Hashable:
    """The key of the INVITE that a CANCEL keyed ``key`` cancels (§9.2: matched as §17.2.3
    matches, on the same top Via, the method aside).

    Made from the CANCEL's own key, which was read from its Via exactly as the INVITE's
    was from the same Via (§9.1: the CANCEL copies it): reading it again another way could
    disagree on a legal spelling (``host : port``, ``:05070``, a second branch) and answer
    481 to a CANCEL of a pending INVITE."""
    return (*cast(tuple[Hashable, ...], key)[:-1], "INVITE")


class Receipt(Enum):
    """What to do with a request, as the transaction table sees it."""

    NEW = "new"  # decide and respond
    PENDING = "pending"  # a retransmission while the decision is under way: absorb, or
    # send again the 100 (Trying) already sent
    RESEND = "resend"  # a retransmission after the final response: send it again
    ABSORBED = "absorbed"  # an ACK, or a retransmission past the cap: nothing to send
    STRAY_ACK = "stray-ack"  # an ACK that matches no transaction
    FULL = "full"  # the table is at its bound: refuse
    REUSED = "reused"  # the key of a transaction, but another request (``identity``):
    # refused, never given that transaction's answer
    MERGED = "merged"  # §8.2.2.2: the request of a live transaction come by another path
    # (another branch): 482, never decided a second time


@dataclass(slots=True)
class _Transaction:
    invite: bool
    reliable: bool
    response: bytes | None = None
    dest: object = None
    sends: int = 0  # final-response copies sent for retransmitted requests (not timer G)
    interval: float = 0.0
    next_send: float | None = None
    expires: float | None = None
    wake: float | None = None
    trying: Callable[[], bytes | None] | None = None  # makes the 100 when it is due
    trying_at: float | None = None
    provisional: bytes | None = None  # the 100 sent, for retransmitted INVITEs
    provisional_sends: int = 0  # its copies sent after the first
    tag: str | None = None  # the final response's To tag (a late CANCEL's 200 reuses it)
    identity: int | None = None  # what a retransmission repeats, hashed (``receive``)
    merge: str | None = None  # Call-ID, From tag and CSeq of a tagless INVITE (§8.2.2.2)
    budget: int | None = None  # bytes it may still send over UDP, moved there (``move``)
    waiting: int = 0  # bytes datagram copies brought before a move (``credit``)
    waiting_for: object = None  # where the copies ``waiting`` counts had answers sent


@dataclass
class ServerTransactions:
    """The table of live server transactions, keyed by ``transaction_key``."""

    settings: TimerSettings = field(default_factory=TimerSettings)
    counts: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self._table: dict[Hashable, _Transaction] = {}
        self._lingering: dict[Hashable, float] = {}  # acknowledged INVITE -> when it goes
        self._lingering_tags: dict[Hashable, str] = {}  # ... and its To tag (strings and
        # floats: nothing for the garbage collector to walk)
        self._lingering_ids: dict[Hashable, int] = {}  # ... and its request's identity
        self._lingering_merges: dict[Hashable, str] = {}  # ... and its merge id
        self._merging: dict[str, Hashable] = {}  # merge id -> its live transaction's key
        self._timers: list[tuple[float, int, Hashable]] = []
        self._seq = 0
        self._others = 0  # live non-INVITE transactions (``_open``: at most half the table)

    def __len__(self) -> int:
        return len(self._table) + len(self._lingering)

    def receive(self, key: Hashable, method: str, *, reliable: bool, now: float,
                identity: int | None = None,
                merge: str | None = None) -> tuple[Receipt, bytes | None]:
        """A request arrived; the receipt, and the response to send again if any.

        ``identity`` (``wire.Identity``: the request line, Call-ID, CSeq and question
        headers, hashed) tells a retransmission from another request that reuses a transaction's
        key (a dialer that repeats a branch): §17.2.3 matches by branch alone, and the
        other request was given this transaction's answer — a 302 to the number the first
        one asked about, for a call nothing decided or recorded. Such a request is
        ``REUSED``.

        ``merge`` (an INVITE without a To tag: its Call-ID, From tag and CSeq) finds the
        same request arrived by another path — a proxy forking it twice to this server, or
        a loop — under another key: §8.2.2.2, "the UAS core SHOULD generate a 482 (Loop
        Detected)". Decided again, it was a second decision and a second compliance record
        for one call (and its call-frequency count twice). Such a request is ``MERGED``
        while the first transaction lives (to its timer H, or T4 after its ACK)."""
        if method != "ACK" and not self.repeats(key, identity):
            self.counts["branch_reused"] += 1
            return Receipt.REUSED, None
        if key in self._lingering:  # an acknowledged INVITE (timer I running)
            if method != "ACK":
                self.counts["after_ack"] += 1
            return Receipt.ABSORBED, None
        tx = self._table.get(key)
        if method == "ACK":
            if tx is None or not tx.invite:
                return Receipt.STRAY_ACK, None
            if tx.response is not None:
                self._linger(key, now + (0.0 if tx.reliable else self.settings.t4))
            return Receipt.ABSORBED, None
        if tx is not None:
            if tx.response is None:
                if tx.provisional is None or tx.budget is not None:  # withheld: ``due``
                    return Receipt.PENDING, None
                if tx.provisional_sends >= self.settings.max_retransmits:
                    self.counts["retransmit_capped"] += 1
                    return Receipt.PENDING, None
                tx.provisional_sends += 1
                return Receipt.PENDING, tx.provisional
            if tx.sends >= self.settings.max_retransmits:
                self.counts["retransmit_capped"] += 1
                return Receipt.ABSORBED, None
            tx.sends += 1
            return Receipt.RESEND, tx.response
        return self._open(key, method, reliable=reliable, identity=identity, merge=merge), None

    def _open(self, key: Hashable, method: str, *, reliable: bool, identity: int | None,
              merge: str | None) -> Receipt:
        """A request of no transaction: a new one, unless merged or the table is full."""
        if merge is not None:
            first = self._merging.get(merge)
            if first is not None and first != key:
                self.counts["merged"] += 1
                return Receipt.MERGED
        invite = method == "INVITE"
        cancels = method == "CANCEL" and self._cancels_live(key)
        if len(self) >= self.settings.max_transactions and not cancels:
            # A CANCEL of a kept INVITE is admitted past the bound (§9.2: it is answered
            # 200 and its INVITE 487): refused 503 with the table full, the withdrawn call
            # went on being decided and was answered 302 (hsip30). Its key is its
            # INVITE's, the method aside: one at most per kept INVITE, so the table holds
            # twice ``max_transactions`` at worst.
            self.counts["table_full"] += 1
            return Receipt.FULL
        if not invite and self._others >= self.settings.max_transactions // 2 and not (
                cancels):
            # OPTIONS, BYE and the like keep their place 64·T1 (timer J) over UDP: one
            # peer's flood of them (2,048 a second, a fifth of rate_per_source) filled the
            # table, and every dialer's INVITE was answered 503 for as long as it went on
            # (hsip26). They take half the table at most; a CANCEL of a live INVITE is
            # never refused here (it withdraws a call, and there are no more of them than
            # INVITEs) — a CANCEL of none is one more such request: a flood of them
            # filled the other half as the OPTIONS had (hrev135).
            self.counts["table_full_others"] += 1
            return Receipt.FULL
        self._table[key] = _Transaction(invite=invite, reliable=reliable,
                                        identity=identity, merge=merge)
        if not invite:
            self._others += 1
        if merge is not None:
            self._merging[merge] = key
        return Receipt.NEW

    def _cancels_live(self, key: Hashable) -> bool:
        """Whether the CANCEL keyed ``key`` matches an INVITE transaction still kept."""
        invite = cancelled_key(key)
        return invite in self._table or invite in self._lingering

    def repeats(self, key: Hashable, identity: int | None) -> bool:
        """False when ``key`` has a transaction whose request is not ``identity`` (either
        unknown: True)."""
        if identity is None:
            return True
        known = self._lingering_ids.get(key)
        if known is None:
            tx = self._table.get(key)
            known = tx.identity if tx is not None else None
        return known is None or known == identity

    def proceeding(self, key: Hashable, trying: Callable[[], bytes | None], dest: object,
                   *, now: float) -> None:
        """An INVITE is being decided: if it has no final response ``settings.trying``
        from now, ``due`` makes its 100 (Trying) with ``trying`` and sends it to ``dest``
        (None from ``trying``: nothing is sent)."""
        tx = self._table.get(key)
        if tx is None or not tx.invite or tx.response is not None:
            return
        tx.trying, tx.dest = trying, dest
        tx.trying_at = now + self.settings.trying
        self._schedule(key, tx, expires=tx.expires)

    def respond(self, key: Hashable, response: bytes, dest: object, *, now: float,
                tag: str | None = None, undecided: bool = False) -> None:
        """The final response (To tag ``tag``) was sent once; keep it, start the timers
        (ValueError for a 2xx to an INVITE: not this layer's to retransmit, see above).

        ``undecided``: the answer decided nothing (a 503 past ``max_in_flight``): the
        request may come again under another branch — its dialer's retry after
        Retry-After (§21.5.4), or its failover back to this node (RFC 3263 §4.3) — with
        the same Call-ID, From tag and CSeq, and is decided then. Its merge id is released
        (§8.2.2.2 merges a copy so one request is not decided twice; this one was decided
        no time): it was answered 482 for as long as the 503's transaction lived (timer H,
        32 s)."""
        tx = self._table.get(key)
        if tx is None or tx.response is not None:
            return
        if tx.invite and response.startswith(b"SIP/2.0 2"):
            raise ValueError("a 2xx to an INVITE is retransmitted by the UAS core "
                             "(RFC 3261 §13.3.1.4), not the server transaction")
        if undecided:
            self._unmerge(key, tx.merge)
            tx.merge = None
        tx.response, tx.dest, tx.tag = response, dest, tag
        tx.trying = tx.trying_at = tx.provisional = None
        t1 = self.settings.t1
        if tx.invite and not tx.reliable:
            tx.interval = t1
            tx.next_send = now + t1
        self._schedule(key, tx, expires=now + (64 * t1 if tx.invite or not tx.reliable
                                               else 0.0))

    def answered(self, key: Hashable) -> bool | None:
        """None: no such transaction; False: deciding; True: its final response is sent."""
        if key in self._lingering:
            return True
        tx = self._table.get(key)
        return None if tx is None else tx.response is not None

    def destination(self, key: Hashable) -> object:
        """Where the transaction's responses go (as given to ``respond``/``proceeding``),
        or None."""
        tx = self._table.get(key)
        return None if tx is None else tx.dest

    def move(self, key: Hashable, dest: object, *, reliable: bool, now: float,
             budget: int | None = None) -> None:
        """The transaction's answers go to ``dest`` from now on (its first connection
        closed: the front's ``_answered_at``), over a transport ``reliable`` or not.

        Moved from a stream to datagrams, it sends there ``budget`` bytes at most (None:
        no bound), its answers and timer G's copies counted (``spend``), and as many more
        as each datagram asking again brings (``credit``). The datagram that moves it is
        a spoofable source and may be much smaller than the request that made the answer:
        a 287-byte copy of an 8 KB INVITE begun over TCP had its 7 KB answer sent 9
        times, 220 times what it sent, to the TCP peer's address (hrev144).

        Moved from a stream to datagrams, an INVITE's final response is retransmitted by
        timer G from ``now`` (the copy just sent) until its ACK or timer H, which keeps
        its time (§17.2.1: G is for unreliable transports; a transaction begun over TCP
        kept G off when moved to UDP, hsip30); its ACK then lingers T4 (timer I). Not
        answered yet, G starts with the answer (``respond``)."""
        tx = self._table.get(key)
        if tx is None:
            return
        tx.dest = dest
        if reliable and tx.budget is not None:
            # back to a stream (a connection's handshake: no spoofed source) from a
            # bounded move to datagrams, which any datagram naming the dialer's host
            # could make (hsip33): as begun, timer G off again, no bound
            tx.reliable, tx.budget, tx.next_send = True, None, None
            self._schedule(key, tx, expires=tx.expires)
            return
        if reliable or not tx.reliable:
            return
        tx.reliable = False
        tx.budget = None if budget is None else budget + tx.waiting
        tx.waiting, tx.waiting_for = 0, None
        if tx.invite and tx.response is not None and tx.next_send is None:
            tx.interval = self.settings.t1
            tx.next_send = now + self.settings.t1
            self._schedule(key, tx, expires=tx.expires)

    def bounded(self, key: Hashable) -> int | None:
        """The bytes a transaction moved to datagrams may still send (``move``), or None
        (no such transaction, or no bound)."""
        tx = self._table.get(key)
        return None if tx is None else tx.budget

    def credit(self, key: Hashable, size: int, dest: object = None) -> None:
        """A datagram of the transaction's request came again: its bound grows by
        ``size`` (the front's: the datagram and ``_ANSWER_OWN_BYTES``), if it has one.
        Not moved yet (begun over a stream), the bytes wait for the move (``waiting``):
        the copies that could not pay for the answer alone pay for it together
        (hsip33), and what is sent stays within what came in. Only copies naming the
        same ``dest`` (where their answers go) pay together: one naming another resets
        the count. Else one small spoofed copy with another port on the dialer's host,
        sent after the dialer's, moved the answer there, paid for by the dialer's
        copies, and the dialer's copies after it paid for answers sent there (hrev161)."""
        tx = self._table.get(key)
        if tx is None:
            return
        if tx.budget is not None:
            tx.budget += size
        elif tx.reliable:
            if dest != tx.waiting_for:
                tx.waiting, tx.waiting_for = 0, dest
            tx.waiting += size

    def waiting(self, key: Hashable, dest: object = None) -> int:
        """The bytes datagram copies naming ``dest`` brought to a transaction not moved
        (``credit``)."""
        tx = self._table.get(key)
        return 0 if tx is None or tx.waiting_for != dest else tx.waiting

    def spend(self, key: Hashable, size: int) -> bool:
        """Whether ``size`` bytes may be sent for the transaction (taken from its bound,
        ``move``); False counted ``moved_answer_capped``."""
        tx = self._table.get(key)
        return tx is None or self._spend(tx, size)

    def resend_size(self, key: Hashable) -> int:
        """The size of what a retransmission of the request over UDP, moved there, would
        be sent: its final response; 0 while deciding (a moved transaction's 100 is
        withheld, ``due``)."""
        tx = self._table.get(key)
        return 0 if tx is None or tx.response is None else len(tx.response)

    def _spend(self, tx: _Transaction, size: int) -> bool:
        if tx.budget is None:
            return True
        if size > tx.budget:
            self.counts["moved_answer_capped"] += 1
            return False
        tx.budget -= size
        return True

    def final_tag(self, key: Hashable) -> str | None:
        """The To tag of the final response sent for ``key``, if it is still known: the
        200 to a CANCEL of an answered INVITE carries it (§9.2)."""
        tag = self._lingering_tags.get(key)
        if tag is not None:
            return tag
        tx = self._table.get(key)
        return None if tx is None else tx.tag

    def forget(self, key: Hashable) -> None:
        """A request that will never be answered (its front dropped it)."""
        tx = self._table.pop(key, None)
        if tx is not None and not tx.invite:
            self._others -= 1
        self._lingering.pop(key, None)
        self._lingering_tags.pop(key, None)
        self._lingering_ids.pop(key, None)
        self._unmerge(key, tx.merge if tx is not None else
                      self._lingering_merges.pop(key, None))

    def due(self, now: float) -> list[tuple[bytes, object]]:
        """Retransmissions and 100 (Trying)s whose time has come, to send; expired
        transactions are forgotten."""
        out: list[tuple[bytes, object]] = []
        while self._timers and self._timers[0][0] <= now:
            wake, _, key = heapq.heappop(self._timers)
            if self._lingering.get(key) == wake:
                del self._lingering[key]  # timer I: the ACK's copies have had their time
                self._lingering_tags.pop(key, None)
                self._lingering_ids.pop(key, None)
                self._unmerge(key, self._lingering_merges.pop(key, None))
                continue
            tx = self._table.get(key)
            if tx is None or tx.wake != wake:
                continue  # rescheduled or gone: a stale heap entry
            if tx.expires is not None and tx.expires <= now:
                if (tx.next_send is not None and tx.next_send < tx.expires
                        and tx.response is not None  # a late tick: G fired before H
                        and self._spend(tx, len(tx.response))):
                    self.counts["retransmitted"] += 1
                    out.append((tx.response, tx.dest))
                del self._table[key]
                self._unmerge(key, tx.merge)
                if not tx.invite:
                    self._others -= 1
                if tx.invite and tx.response is not None:
                    self.counts["no_ack"] += 1  # timer H: the client never confirmed
                continue
            if tx.trying_at is not None and tx.trying_at <= now:
                trying, tx.trying, tx.trying_at = tx.trying, None, None
                tx.provisional = trying() if trying is not None else None
                if tx.provisional is not None and tx.budget is not None:
                    # Moved to UDP (``move``'s bound): no 100. A client given one is
                    # "Proceeding" and sends its INVITE no more (RFC 3261 §17.1.1.2),
                    # and its copies are what pay for the final response: a 100 that
                    # took the bound left the 302 unsent, the dialer waiting (hrev153).
                    self.counts["moved_trying_withheld"] += 1
                elif tx.provisional is not None:
                    self.counts["trying"] += 1
                    out.append((tx.provisional, tx.dest))
            if tx.next_send is not None and tx.next_send <= now and tx.response is not None:
                if self._spend(tx, len(tx.response)):  # else past a move's bound: skipped
                    self.counts["retransmitted"] += 1  # timer G (§17.2.1): to H or ACK
                    out.append((tx.response, tx.dest))
                tx.interval = min(2 * tx.interval, self.settings.t2)
                following = tx.next_send + tx.interval
                tx.next_send = following if following > now else now + tx.interval
            self._schedule(key, tx, expires=tx.expires)
        return out

    def _linger(self, key: Hashable, expires: float) -> None:
        """The ACK arrived: keep only when to forget the transaction."""
        tx = self._table.pop(key)
        self._lingering[key] = expires
        if tx.tag is not None:
            self._lingering_tags[key] = tx.tag
        if tx.identity is not None:
            self._lingering_ids[key] = tx.identity
        if tx.merge is not None:
            self._lingering_merges[key] = tx.merge
        self._seq += 1
        heapq.heappush(self._timers, (expires, self._seq, key))

    def _unmerge(self, key: Hashable, merge: str | None) -> None:
        """The transaction ``key`` is gone: its merge id no longer finds it."""
        if merge is not None and self._merging.get(merge) == key:
            del self._merging[merge]

    def _schedule(self, key: Hashable, tx: _Transaction, *, expires: float | None) -> None:
        tx.expires = expires
        times = [t for t in (tx.trying_at, tx.next_send, tx.expires) if t is not None]
        tx.wake = min(times) if times else None
        if tx.wake is not None:
            self._seq += 1
            heapq.heappush(self._timers, (tx.wake, self._seq, key))
