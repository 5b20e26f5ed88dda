"""The picture of live calls, built from AMI events, and what the law asks of each.

Pure: no I/O and no clock. The AMI driver feeds events with the instant it received
them and carries out the effects returned (``HangupChannel``, ``ReadVariable``); records
go to the ``report`` callback. Every call is grouped by Linkedid (all legs of one call,
Local halves included, share it). The called party's channel is the ``DestChannel`` of a
``DialBegin`` that a channel of the call made — never guessed from the technology (an
originated leg's DialBegin has no caller block and is not a called party).

Release (13-25a-103(5)(e); 47 U.S.C. 227(d)(3)(B)): when the called party's channel
hangs up first, every other channel of the call still up is hung up after the grace;
Hangup events confirm; unconfirmed channels are retried; a channel still up at the
limit is a violation risk.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "USED_EVENTS",
    "CallTracker",
    "Followed",
    "HangupChannel",
    "ReadVariable",
    "TrackerSettings",
    "presentation_allowed",
]

Event = Mapping[str, str]
Report = Callable[..., None]

_BRIDGE_WITHIN_S = 2.0  # 64.1200(a)(7): a live agent within 2 s (of the greeting's end)
_MAX_PENDING = 10_000
_PENDING_TTL_S = 600.0

# CALLERID(num-pres) names and their numbers (callerid.c pres_types; lab:agi-pres-all).
_PRESENTATIONS = {
    "allowed_not_screened": 0, "allowed_passed_screen": 1, "allowed_failed_screen": 2,
    "allowed": 3, "prohib_not_screened": 32, "prohib_passed_screen": 33,
    "prohib_failed_screen": 34, "prohib": 35, "unavailable": 67,
}
_RESTRICTION_BITS = 0x60


def presentation_allowed(value: str) -> bool | None:
    """Whether a presentation (a name or a number) lets the number be shown; None if unknown."""
    text = value.strip().lower()
    number = _PRESENTATIONS.get(text)
    if number is None:
        if not text.isdigit():
            return None
        number = int(text)
    return number & _RESTRICTION_BITS == 0


@dataclass(frozen=True, slots=True)
class HangupChannel:
    """Effect: send AMI ``Hangup`` for this channel."""

    linkedid: str
    channel: str
    attempt: int


@dataclass(frozen=True, slots=True)
class ReadVariable:
    """Effect: send AMI ``Getvar`` and give the value to ``CallTracker.variable_read``."""

    linkedid: str
    channel: str
    variable: str


Effect = HangupChannel | ReadVariable


@dataclass(frozen=True, slots=True)
class TrackerSettings:
    """Grace before our Hangup, retry interval, and the predictive abandonment window."""

    grace_s: float = 0.0
    retry_s: float = 0.5
    bridge_within_s: float = _BRIDGE_WITHIN_S


@dataclass(frozen=True, slots=True)
class Followed:
    """A call the gate allowed in predictive or prerecorded mode, to be watched."""

    decision_id: str
    linkedid: str
    campaign: str
    mode: str
    limit_s: float  # the smallest applicable release limit (5 s federal prerecorded, 25 s Utah)
    limit_citation: str
    caller_id: str  # the number the gate set for presentation
    registered_at: float = 0.0


@dataclass(slots=True)
class _Call:
    linkedid: str
    channels: dict[str, str] = field(default_factory=dict)  # uniqueid -> channel name
    partners: dict[str, str] = field(default_factory=dict)  # Local half -> other half
    followed: Followed | None = None
    dialled: set[str] = field(default_factory=set)  # DestChannel of DialBegins by the call
    dest: str | None = None  # the called party's channel (answered, or the only one dialled)
    called_side: set[str] = field(default_factory=set)  # every hop towards the called party
    transferred: bool = False
    dial_status: str | None = None
    answered_at: float | None = None
    bridged_at: float | None = None
    abandonment: str | None = None  # "bridged" | "abandoned", for predictive calls
    first_hangup: str | None = None  # channel name of the call's first Hangup
    called_hangup_at: float | None = None
    release_due: float | None = None
    hangups: dict[str, int] = field(default_factory=dict)  # channel -> attempts sent
    first_action_at: float | None = None
    risk_logged: bool = False
    presented: str | None = None  # ConnectedLineNum on the called party's channel
    outage_s: float | None = None  # set when the call's end happened while AMI was away


def _digits(number: str) -> str:
    text = "".join(c for c in number if c.isdigit())
    return text[1:] if len(text) == 11 and text.startswith("1") else text


class CallTracker:
    """Calls by Linkedid; followed calls get release enforcement and their records."""

    def __init__(self, settings: TrackerSettings, report: Report,
                 observe_release: Callable[[float], None] = lambda s: None,
                 violation: Callable[[], None] = lambda: None,
                 answered: Callable[[str, bool], None] = lambda campaign, abandoned: None,
                 ) -> None:
        self.settings = settings
        self._report = report
        self._observe_release = observe_release
        self._violation = violation
        self._answered = answered
        self.calls: dict[str, _Call] = {}
        self._pending: OrderedDict[str, Followed] = OrderedDict()
        self.disconnected_at: float | None = None

    # --- what the gate tells us ---------------------------------------------------------

    def follow(self, followed: Followed) -> None:
        """Watch the call with this Linkedid (the gate allowed it)."""
        call = self.calls.get(followed.linkedid)
        if call is not None:
            call.followed = followed
            return
        self._pending[followed.linkedid] = followed
        while len(self._pending) > _MAX_PENDING:
            self._pending.popitem(last=False)

    # --- events ---------------------------------------------------------------------------

    def feed(self, event: Event, now: float) -> list[Effect]:
        """One AMI event received at ``now`` (monotonic seconds)."""
        method = _HANDLERS.get(event.get("Event", ""))
        if method is None:
            return []
        handler: Callable[[Event, float], list[Effect]] = getattr(self, method)
        return handler(event, now)

    def _newchannel(self, event: Event, now: float) -> list[Effect]:
        linkedid, uniqueid, name = (event.get("Linkedid", ""), event.get("Uniqueid", ""),
                                    event.get("Channel", ""))
        if not linkedid or not uniqueid:
            return []
        call = self.calls.get(linkedid)
        if call is None:
            call = self.calls[linkedid] = _Call(linkedid, followed=self._pending.pop(linkedid,
                                                                                   None))
        call.channels[uniqueid] = name
        del now
        return []

    def _local_bridge(self, event: Event, now: float) -> list[Effect]:
        one, two = event.get("LocalOneChannel", ""), event.get("LocalTwoChannel", "")
        call = self.calls.get(event.get("LocalOneLinkedid", ""))
        if call is not None and one and two:
            call.partners[one] = two
            call.partners[two] = one
        del now
        return []

    def _dial_begin(self, event: Event, now: float) -> list[Effect]:
        caller = event.get("Channel")
        if not caller:  # an originated leg: nothing of the call dialled it
            return []
        call = self.calls.get(event.get("Linkedid", ""))
        dest = event.get("DestChannel", "")
        if call is None or not dest:
            return []
        if caller in self._side(call):
            # The far half of a Local channel dialling on: the called party is the next hop.
            call.dest = dest
            call.dialled.add(dest)
            call.called_side.add(dest)
            return []
        call.dialled.add(dest)
        if len(call.dialled) == 1:
            call.dest = dest
            call.called_side.add(dest)
        presented = event.get("DestConnectedLineNum")
        if presented and dest == call.dest:
            call.presented = presented
        del now
        return []

    def _dial_end(self, event: Event, now: float) -> list[Effect]:
        if not event.get("Channel"):
            return []
        call = self.calls.get(event.get("Linkedid", ""))
        dest = event.get("DestChannel", "")
        if call is None or dest not in call.dialled:
            return []
        status = event.get("DialStatus", "")
        if status == "ANSWER":
            if dest not in call.called_side:  # one of several dialled legs answered
                call.dest = dest
                call.called_side.add(dest)
            call.dial_status = status
            call.answered_at = call.answered_at or now
            presented = event.get("DestConnectedLineNum")
            if presented:
                call.presented = presented
            if call.followed is not None:
                return [ReadVariable(call.linkedid, dest, "CONNECTEDLINE(num-pres)")]
        elif call.dial_status is None and dest == call.dest:
            call.dial_status = status
        return []

    def _connected_line(self, event: Event, now: float) -> list[Effect]:
        call = self.calls.get(event.get("Linkedid", ""))
        if call is not None and event.get("Channel") == call.dest:
            call.presented = event.get("ConnectedLineNum") or call.presented
        del now
        return []

    def _transfer(self, event: Event, now: float) -> list[Effect]:
        """A transfer hands the call on: the called party leaving is not the call ending."""
        for key, value in event.items():
            if key.endswith("Linkedid") and value in self.calls:
                self.calls[value].transferred = True
        del now
        return []

    def _bridge_enter(self, event: Event, now: float) -> list[Effect]:
        call = self.calls.get(event.get("Linkedid", ""))
        if call is None or event.get("Channel") != call.dest or call.answered_at is None:
            return []
        if call.bridged_at is None:
            call.bridged_at = now
            self._judge_abandonment(call, now)
        return []

    def _hangup(self, event: Event, now: float) -> list[Effect]:
        linkedid, uniqueid = event.get("Linkedid", ""), event.get("Uniqueid", "")
        call = self.calls.get(linkedid)
        if call is None:
            return []
        name = call.channels.pop(uniqueid, event.get("Channel", ""))
        if call.first_hangup is None:
            call.first_hangup = name
        effects: list[Effect] = []
        if name == call.dest:
            self._judge_abandonment(call, now)
            if self._called_party_ended(call):
                call.called_hangup_at = now
                call.release_due = now + min(self.settings.grace_s, self._limit(call))
                effects = self.due(now, only=call)
        if not call.channels:
            self._finish(call, now)
        return effects

    # --- time -----------------------------------------------------------------------------

    def due(self, now: float, only: _Call | None = None) -> list[Effect]:
        """Hangups whose grace or retry time has come; violation risks past the limit."""
        effects: list[Effect] = []
        for call in (only,) if only is not None else tuple(self.calls.values()):
            if call is None:
                continue
            if call.answered_at is not None and call.abandonment is None and (
                    now - call.answered_at >= self.settings.bridge_within_s):
                self._judge_abandonment(call, now)
            if call.release_due is None or now < call.release_due:
                continue
            self._check_limit(call, now)
            targets = self._leftovers(call)
            for channel in targets:
                attempt = call.hangups.get(channel, 0) + 1
                call.hangups[channel] = attempt
                effects.append(HangupChannel(call.linkedid, channel, attempt))
            if targets and call.first_action_at is None:
                call.first_action_at = now
            call.release_due = now + self.settings.retry_s if targets else None
        for linkedid, followed in list(self._pending.items()):
            if now - followed.registered_at > _PENDING_TTL_S:
                del self._pending[linkedid]
        return effects

    def variable_read(self, linkedid: str, channel: str, variable: str, value: str | None,
                      ) -> None:
        """The presentation read from the called party's channel: compare with the gate's."""
        call = self.calls.get(linkedid)
        if call is None or call.followed is None:
            return
        followed = call.followed
        allowed = presentation_allowed(value) if value is not None else None
        presented = call.presented or ""
        number_ok = _digits(presented) == _digits(followed.caller_id)
        if allowed is True and number_ok:
            return
        citation = ("47 CFR 64.1601(e); Utah Code 13-25a-103(6); "
                    "H.B. 45 (2000, as introduced), proposed 13-26a-106(4)")
        if allowed is None and number_ok:
            # not a mismatch: the presentation could not be read (the channel was gone,
            # AMI was away, or Asterisk answered a value we do not know)
            self._report("caller-id-unverified", decision_id=followed.decision_id,
                         campaign=followed.campaign, channel=channel, variable=variable,
                         presentation=value, citation=citation)
            return
        self._report("caller-id-mismatch", decision_id=followed.decision_id,
                     campaign=followed.campaign, channel=channel, variable=variable,
                     presentation=value, presentation_allowed=allowed,
                     presented_last4=presented[-4:] if presented else None,
                     expected_last4=followed.caller_id[-4:], citation=citation)

    # --- after a reconnect ----------------------------------------------------------------

    def disconnected(self, now: float) -> None:
        """AMI is gone: events are missed until ``reconcile``."""
        if self.disconnected_at is None:
            self.disconnected_at = now

    def reconcile(self, live: Iterable[Event], now: float) -> list[Effect]:
        """Rebuild from ``CoreShowChannel`` items after a (re)connect; release leftovers.

        A followed call whose called party is gone but other channels are still up is
        released now; its delay is known only to lie between 0 and the outage, so the
        outage is logged as the bound, and as a violation risk when it passes the limit.
        """
        since = self.disconnected_at
        self.disconnected_at = None
        outage = now - since if since is not None else 0.0
        seen: dict[str, dict[str, Event]] = {}
        for item in live:
            linkedid, uniqueid = item.get("Linkedid", ""), item.get("Uniqueid", "")
            if linkedid and uniqueid:
                seen.setdefault(linkedid, {})[uniqueid] = item
        for linkedid, items in seen.items():
            call = self.calls.get(linkedid)
            if call is None:
                call = self.calls[linkedid] = _Call(
                    linkedid, followed=self._pending.pop(linkedid, None))
            for uniqueid, item in items.items():
                call.channels[uniqueid] = item.get("Channel", "")
            if call.dest is None:
                # Asterisk names a Dial()'s outgoing leg's application "AppDial".
                dialled = [i.get("Channel", "") for i in items.values()
                           if i.get("Application") == "AppDial"]
                if len(dialled) == 1:
                    call.dest = dialled[0]
                    call.dialled.add(dialled[0])
                    call.called_side.add(dialled[0])
                    if items and any(i.get("ChannelState") == "6" for i in items.values()):
                        call.answered_at = call.answered_at or now
                        call.dial_status = call.dial_status or "ANSWER"
        effects: list[Effect] = []
        for linkedid, call in list(self.calls.items()):
            present = seen.get(linkedid, {})
            for uniqueid in [u for u in call.channels if u not in present]:
                del call.channels[uniqueid]
            dest_gone = call.dest is not None and call.dest not in call.channels.values()
            # Who hung up first is unknown: the called party is gone, so the rest must go.
            if (dest_gone and call.called_hangup_at is None and call.followed is not None
                    and call.answered_at is not None and self._leftovers(call)):
                call.called_hangup_at = now - outage  # the earliest it can have been
                call.outage_s = outage
                call.release_due = now
                effects.extend(self.due(now, only=call))
            if not call.channels:
                call.outage_s = call.outage_s if call.outage_s is not None else outage
                self._finish(call, now)
        return effects

    # --- decisions ------------------------------------------------------------------------

    def _called_party_ended(self, call: _Call) -> bool:
        """Answered, followed, not transferred, and the called party's side went first."""
        if (call.followed is None or call.answered_at is None or call.dest is None
                or call.transferred or not self._leftovers(call)):
            return False
        return call.first_hangup is None or call.first_hangup in self._side(call)

    @staticmethod
    def _side(call: _Call) -> set[str]:
        """The called party's channels: every hop and each hop's Local partner."""
        side = set(call.called_side)
        side.update(call.partners[name] for name in call.called_side if name in call.partners)
        return side

    def _leftovers(self, call: _Call) -> list[str]:
        side = self._side(call)
        return [name for name in call.channels.values() if name not in side]

    @staticmethod
    def _limit(call: _Call) -> float:
        return call.followed.limit_s if call.followed is not None else 0.0

    def _check_limit(self, call: _Call, now: float) -> None:
        if call.risk_logged or call.called_hangup_at is None or call.followed is None:
            return
        elapsed = now - call.called_hangup_at
        if elapsed < call.followed.limit_s or not self._leftovers(call):
            return
        self._risk(call, elapsed, "channels still up past the release limit after the called "
                   "party hung up" + (" (AMI was disconnected: the hangup time is unknown and "
                                      "may be as early as the outage began)"
                                      if call.outage_s else ""))

    def _risk(self, call: _Call, elapsed: float, reason: str) -> None:
        """Count and record a violation risk, once per call."""
        followed = call.followed
        if followed is None or call.risk_logged:
            return
        call.risk_logged = True
        self._violation()
        self._report("violation-risk", decision_id=followed.decision_id,
                     campaign=followed.campaign, mode=followed.mode,
                     limit_s=followed.limit_s, citation=followed.limit_citation,
                     elapsed_ms=round(elapsed * 1000, 1),
                     still_up=sorted(self._leftovers(call)),
                     ami_outage_s=round(call.outage_s, 3) if call.outage_s else None,
                     reason=reason)

    def _judge_abandonment(self, call: _Call, now: float) -> None:
        followed = call.followed
        if (followed is None or followed.mode != "predictive" or call.answered_at is None
                or call.abandonment is not None):
            return
        bridged = call.bridged_at is not None and (
            call.bridged_at - call.answered_at <= self.settings.bridge_within_s)
        if not bridged and call.bridged_at is None and (
                now - call.answered_at < self.settings.bridge_within_s
                and call.dest in call.channels.values()):
            return  # still inside the window
        call.abandonment = "bridged" if bridged else "abandoned"
        self._answered(followed.campaign, not bridged)

    def _finish(self, call: _Call, now: float) -> None:
        del self.calls[call.linkedid]
        followed = call.followed
        if followed is None:
            return
        if call.answered_at is not None and call.abandonment is None:
            self._judge_abandonment(call, now + self.settings.bridge_within_s)
        fields: dict[str, Any] = {
            "decision_id": followed.decision_id, "campaign": followed.campaign,
            "mode": followed.mode, "dial_status": call.dial_status,
            "called_channel": call.dest,
            "limit_s": followed.limit_s, "limit_citation": followed.limit_citation,
            "grace_s": self.settings.grace_s,
            "hangups_sent": dict(sorted(call.hangups.items())),
        }
        if call.abandonment is not None:
            fields["agent_within_2s"] = call.abandonment == "bridged"
        if call.called_hangup_at is None:
            ended = "not-answered" if call.answered_at is None else (
                "transferred" if call.transferred else "caller")
            fields.update(ended_by=ended, release_ms=None)
            if call.outage_s:
                fields.update(ended_by="unknown (AMI disconnected)",
                              ami_outage_s=round(call.outage_s, 3))
        else:
            release = now - call.called_hangup_at
            fields.update(ended_by="called-party", release_ms=round(release * 1000, 3),
                          first_action_ms=round((call.first_action_at - call.called_hangup_at)
                                                * 1000, 3)
                          if call.first_action_at is not None else None,
                          within_limit=release <= followed.limit_s and not call.risk_logged)
            if call.outage_s:
                fields["ami_outage_s"] = round(call.outage_s, 3)
                fields["release_ms_is_upper_bound"] = True
            self._observe_release(release)
            if release > followed.limit_s:
                self._risk(call, release, "the last channel went after the release limit")
        self._report("line-release", **fields)


# Event name -> handler method: the events the watchdog reads (manager.conf's filters pass
# exactly these).
_HANDLERS: dict[str, str] = {
    "Newchannel": "_newchannel",
    "LocalBridge": "_local_bridge",
    "DialBegin": "_dial_begin",
    "DialEnd": "_dial_end",
    "NewConnectedLine": "_connected_line",
    "BridgeEnter": "_bridge_enter",
    "BlindTransfer": "_transfer",
    "AttendedTransfer": "_transfer",
    "Hangup": "_hangup",
}
USED_EVENTS = tuple(_HANDLERS)
