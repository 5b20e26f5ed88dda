"""The AMI session: events into the call tracker, its effects out as AMI actions.

panoramisk's Manager does the framing, login, ping and action/response matching. Its
habits are changed at this edge:

- it reconnects at a fixed interval: here exponential backoff from ``reconnect_min_ms``
  to ``reconnect_max_s`` (below the smallest release limit, checked at load), reset at
  login;
- it replays actions that were in flight when the connection dropped: here none are
  replayed (after a reconnect the picture is rebuilt from ``CoreShowChannels`` and the
  tracker decides again what to hang up);
- one message it cannot handle ends the session (``AMIProtocol.data_received`` parses and
  dispatches a whole read; an exception there makes asyncio close the transport): here
  every message is handled on its own, an error is counted and logged, the session and
  the rest of the read go on, and a peer that never ends a message cannot grow the
  buffer past ``_MAX_PENDING_BYTES`` (the message is dropped, and its tail up to its
  blank line with it: never read as a message of its own);
- it decodes each read apart, so a UTF-8 character cut between two reads was lost: here
  one incremental decoder per connection;
- it ends a message at CRLFCRLF only, so a message ended ``\\r\\n\\n`` (Asterisk's own
  CoreShowChannelMap, asterisk/asterisk#761) or written with bare LFs swallowed the next
  one (a Hangup lost); and it joined every read to all the text pending and split it
  again (quadratic in a long message): here a blank line is CRLF or LF, and each read is
  searched once (``_GuardedProtocol._frame``);
- it logs through the standard library in plain text ("Not able to reconnect"): here
  through structlog, as JSON, with numbers taken out;
- it sends a Ping every 10 s but never looks for the answer, so a session that goes
  silent without closing (a stuck manager thread, a firewall dropping the idle flow
  without a reset) stayed "connected" until TCP gave up (~15 min): here a Ping every
  ``_PING_S``, and a session that answers nothing within the action timeout of a request
  (the Login, a Ping) is dropped and made again. Only a Response is an answer: a manager
  that goes on sending events (or its banner) but handles no action stayed "logged in"
  with every Hangup unanswered. Silence is counted from the request, not from the last
  byte, so a pause of callguard's own loop is not taken for it (asyncio runs the
  callbacks of a read before the timers due in the same turn). And only a Response to an
  action callguard sent (its ActionID awaited): a manager that sends Responses without
  one (or with another's) answers none of ours.

Two manager sessions, one user. Asterisk runs one session's actions one after another on
that session's thread and writes its events from the same thread between them (manager.c
``session_do`` loops on ``do_message``, which runs ``process_events`` then reads one
action and hands it to ``process_message``, which calls the action's handler in place and
then ``process_events`` again). A Getvar that stalls there (``action_getvar`` ->
``ast_func_read`` of a slow function, a channel lock held) held up the next action of the
session — another call's release Hangup — and every event. The Getvars therefore go on a
second session (``_reader``: the same host and user, ``Events: off``), logged in only while
the main one is (with manager.conf ``allowmultiplelogin = no`` a read session logged in
first would have the main one refused "Login Already In Use"), dropped with it, silent
ones dropped as the main one's are; while it is down for a moment (dropped, its backoff)
every read answers "unknown" (None), as a read that fails, and the Hangups, Pings,
CoreShowChannels and events of the main session never wait behind a read. When it cannot
log in at all (refused: manager.conf ``allowmultiplelogin = no`` for the user, manager.c
``process_message``; or closed before its Login is answered) the reads go on the main
session as before, with the stall risk, said once (``ami_reads_on_main_session``): lost,
they found no call again without channelvars, and read no DIALSTATUS or DIALEDPEERNUMBER
after an outage (releases), no from_user (the caller ID).

A read's answer no longer comes after the events the main session had queued before it
(``process_events`` ran ahead of each action on the one session): a read of a channel just
gone may say "No such channel" before its Hangup event is read (hrev124).
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import logging
import re
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping
from typing import Any

import structlog
from panoramisk import Manager
from panoramisk.actions import Action
from panoramisk.ami_protocol import AMIProtocol
from panoramisk.message import Message

from callguard.numbers.redact import clipped, redact_digits
from callguard.watchdog.calls import (
    USED_EVENTS,
    CallTracker,
    Effect,
    FindNumber,
    HangupChannel,
    ReadVariable,
    holding_bridges,
)
from callguard.watchdog.events import DamagedEvent, normalize, safe_channel
from callguard.watchdog.recorded import RecordedNumbers
from callguard.watchdog.settings import AmiSettings

__all__ = ["AmiSettings", "AmiWatchdog", "Backoff", "route_panoramisk_logs",
           "transfer_events_warning"]

_log = structlog.get_logger("callguard.ami")
_TICK_S = 0.02
_EOL = "\r\n"
# A blank line: CRLF CRLF, or LF LF (an LF peer; CRLF then LF: asterisk/asterisk#761). LF
# then CRLF is a value's trailing LF (``_GuardedProtocol._frame``).
_BLANK_LINE = re.compile("\r\n\r\n|\n\n")
_MAX_PENDING_BYTES = 1 << 20  # an unterminated message past 1 MiB is dropped
# A piece between two blank lines that names neither an Event nor a Response (the banner
# comes in one piece with the Login's Response) is the tail of the message before it, cut
# by a value that ends in CRLF: Asterisk writes header values as they are, nothing escapes
# CR or LF in them (manager.c ``__manager_event`` appends the event's body with
# ``ast_str_append_va`` and ``astman_append`` formats with ``ast_str_set_va``, both written
# by ``send_string``; manager_channels.c ``ast_manager_build_channel_state_string_prefix``
# writes ``%sCallerIDName: %s\r\n``). A name from ``${CURL()}`` or a CNAM lookup ending
# "ACME\r\n" makes a blank line before the event's Uniqueid and Linkedid
# (AllStarLink/app_rpt#395 saw it from a ``ctime()`` value). Such a tail is glued back
# (``_GuardedProtocol._glue``).
_MESSAGE_KEYS = ("event", "response")
# Headers Asterisk writes one line each, repeated in one message: channelvars
# (manager_channels.c, ``ChanVariable: %s=%s``, also prefixed "DestChanVariable" ...) and
# the Status action's Variables (manager.c ``action_status``, ``Variable: %s=%s``).
_REPEATED_KEYS = ("chanvariable", "variable")  # ``str.endswith``
# A header Asterisk writes at most once in a message (every other, ``_REPEATED_KEYS`` once
# a variable name, ``_LINE_KEYS`` any number of times), found twice: a value carrying CR LF
# wrote it (hwd32: a caller name "X\r\nUniqueid: V" put its event on channel V, the first
# Uniqueid winning in ``normalize``). Such a message is dropped unread and counted lost
# (the picture is taken again): the tracker never acts on it. Checked on the events the
# tracker reads and on Responses (``_damaged``). ``Output``: manager.c ``action_command``
# (Asterisk 14+) writes one line of the CLI's output each; ``action_userevent`` copies
# any header the client sent (UserEvent: not read, not checked).
_LINE_KEYS = ("output",)
# A header Asterisk writes before any value of a message (manager.c
# ``astman_send_response_full`` right after ``Response``; the list events' ``idText``
# right after ``Event``): never in a tail cut off by a value (``_GuardedProtocol._is_tail``).
_HEAD_KEYS = frozenset({"actionid"})
_LOOK_AHEAD = 64  # characters of the text after a message looked at to know what it begins
# A message kept back for its tail is handed over at most this long after it was read
# (hrev143): a read ending on "Ev", half a character or any text that is no message start
# kept it back until the next read, seconds later on a quiet line (a called party's Hangup
# held past 47 U.S.C. 227(d)(3)(B)'s 5 s). A tail arriving later finds no message: lost,
# and the picture is taken again, as before hwd30.
_TAIL_WAIT_S = 0.1
_GLUED_SAID_S = 60.0  # ``ami_message_glued`` said at most this often a session; counted always
_REBUILD_RETRY_S = 1.0
# The picture's event hold (``_held``: events arriving while the picture is taken, applied
# after it) ends this long after it began once CoreShowChannels is answered: BridgeList,
# asked then, waits what is left, ``_BRIDGE_LIST_MIN_S`` at least, never its
# ``action_timeout_ms`` (2 s). A called party's Hangup arriving in the hold is released
# only when the hold ends; after a restart that release may still wait for the number's
# digest (``number_lookup_s``, 1 s), its AppDial leg's DIALEDPEERNUMBER read (a Getvar,
# ``action_timeout_ms``) and the transfer variables (``transfer_check_s``, 0.5 s): with an
# unanswered BridgeList's 2 s on top, a prerecorded call's 5 s (47 U.S.C. 227(d)(3)(B))
# was passed (hwd23). BridgeList unanswered in time: the picture is read without it, as
# when it is refused (the conservative reading, ``_holding_bridges``). Even so a picture
# taking its whole action timeout (2 s) and BridgeList's 0.2 s, then the digest (1 s) and
# the Getvar (2 s), sent the release 5.2 s after the Hangup (hrev141): those later waits
# now share one budget from the Hangup's arrival (its held time), the limit less
# ``calls.RELEASE_MARGIN_S`` (``CallTracker._budget_spent``, hwd31).
_HOLD_S = 1.0
_BRIDGE_LIST_MIN_S = 0.2
_MAX_HELD_EVENTS = 500_000  # events held while the picture is taken (~1 s of a busy PBX)
# A picture taken again after a message dropped unread (``_events_lost``) at most this
# often: a lost Hangup is released within it plus a picture, inside the 5 s of 47 U.S.C.
# 227(d)(3)(B) while CoreShowChannels is answered within the action timeout (hrev156,
# fake AMI, its list 1.9 s late: 3.55 s from a Hangup lost 0.35 s after the last
# resync; up to 2 s + 2 s + BridgeList's 0.2 s). Answered later than that, the picture
# fails and is asked again with more time (``_PICTURE_TIMEOUT_MAX_S``): the lost Hangup's
# line is released late, and its line-release says so (``within_limit`` false).
_RESYNC_MIN_S = 2.0
# A picture whose CoreShowChannels timed out is asked again with twice the time, up to
# this (or ``action_timeout_ms`` if longer); one answered within ``action_timeout_ms``
# brings the normal timeout back. manager.c ``action_coreshowchannels`` writes the list
# ack (``astman_send_listack``), walks every channel, then the Complete event
# (``astman_send_list_complete_start``/``_end``), all in the session's own thread with no
# limit of its own: a late list still comes whole, and the actions sent after it (a
# Ping, the next CoreShowChannels) wait behind it (``session_do`` -> ``do_message``, one
# action at a time). With the same timeout every time, a list slower than it was never
# read and a Hangup dropped unread meanwhile never released (hrev156: the list 2.5 s
# late, the line still up 12 s later). The events are held while the list is awaited
# (``_held``): a seen Hangup arriving in that hold waits for it too, as long as the list
# takes, and is recorded at its own arrival time. Applied sooner it would not release
# sooner: its Hangup action, on this session, waits in Asterisk behind the list
# (``do_message`` -> ``process_message``, one action at a time) and only times out here
# (``hangup_unanswered``; tests/test_hrev164_seen_hangup_slow_list.py).
_PICTURE_TIMEOUT_MAX_S = 8.0
# While a picture is under way a resync due looks again this often: it is taken as soon as
# that picture's hold ends (looked at every ``_RESYNC_MIN_S``, a loss in a login picture's
# hold waited up to 2 s more for its picture: hrev138). The first look is already
# ``_RESYNC_MIN_S`` after the last resync, so this makes no storm.
_RESYNC_RECHECK_S = 0.05
_PING_S = 1.0  # a Ping this often once logged in (panoramisk's default: 10 s)
_GONE = "No such channel"
# The actions the watchdog sends, and the manager.conf write= class each needs (manager.c
# registers Hangup with system|call, Getvar with call|reporting, CoreShowChannels with
# system|reporting; one of them is enough: process_message tests writeperm & authority).
_NEEDED_ACTIONS = {"Hangup": "call", "Getvar": "call", "CoreShowChannels": "reporting"}
# While Asterisk refuses the session Hangup, log in again this often. manager.c copies a
# user's write= into the session at login and never again ('manager reload' changes what
# the next login gets): the admin's fix reaches callguard only through a new login.
_RELOGIN_REFUSED_S = 15.0
# After Asterisk refused the Login (wrong secret, ACL deny, user unknown: manager.c
# ``action_login`` sleeps 1 s, answers "Authentication failed" and closes), the next try
# waits at least this long, doubling to the second: the reconnect backoff (2 s at most, for
# an Asterisk that went away) made ~1200 failed logins an hour in Asterisk's log.
_LOGIN_REFUSED_S = 5.0
_LOGIN_REFUSED_MAX_S = 30.0
_USED = frozenset(USED_EVENTS)
# A channel's Hangup event read this long after Asterisk answered callguard's Hangup action
# with Success: the events are late. manager.c ``action_hangup`` soft-hangs the channel
# and answers at once, from the session's own thread; the Hangup event comes through the
# stasis message bus, whose backlog under load (Asterisk warns "task processor queue
# reached 500 scheduled tasks") delays every event alike — and ``timestampevents`` would
# not show it: ``__manager_event_sessions_va`` stamps ``ast_tvnow()`` when the manager
# formats the event, after that queue. The tracker times events at their arrival.
_LATE_S = 1.0
_LATE_SAID_S = 60.0  # said at most this often; counted each time
_ACCEPTED_MAX = 10_000  # Hangups accepted whose event has not come (dropped beyond)


def _hangup_target(effect: HangupChannel) -> str:
    """What an AMI ``Hangup`` names as its Channel: the Uniqueid (``_hangup``), except one
    that starts with "/". Asterisk's own never does, but a dialer may choose a Uniqueid
    (Originate ``ChannelId``, ARI ``channelId``: any text), and manager.c
    ``ast_manager_hangup_helper`` reads a Channel starting with "/" as a /regex/ over every
    channel's name and hangs up each it matches — other, live calls among them (hrev68).
    Such a channel is named by its name."""
    uniqueid = effect.uniqueid
    return uniqueid if uniqueid and not uniqueid.startswith("/") else effect.channel


def transfer_events_warning(settings: AmiSettings) -> str | None:
    """What an admin must know when a transfer by the called party can only be seen by its
    event (``grace_seconds = 0``), or None.

    With no grace the release does not wait for the transfer variables
    (``CallTracker._check_transfer``), so a blind or attended transfer by the called party
    is told from its hangup only by its BlindTransfer/AttendedTransfer event. Whether the
    AMI user receives those is manager.conf's ``eventfilter``, which callguard cannot read:
    no AMI action reports a user's filters (the ``Filter`` action only adds one to the
    session), and ``GetConfig``, which could read manager.conf, needs write=system or config
    (manager.c registers it with ``EVENT_FLAG_SYSTEM | EVENT_FLAG_CONFIG``) — more than
    callguard's user should hold, manager.conf having every user's secret. So it is said,
    not checked. The default stays 0 (README "why the grace defaults to 0"): with the events
    filtered out, a grace trades hanging up a real transfer for holding the line after a
    failed one — the second is what 13-25a-103(5)(e) and 227(d)(3)(B) forbid."""
    if settings.grace_seconds > 0:
        return None
    return ("[ami] grace_seconds = 0: a transfer by the called party is told from its hangup "
            "only by its BlindTransfer/AttendedTransfer event, and callguard cannot see "
            "manager.conf's eventfilter over AMI. If the filter of the AMI user leaves them "
            "out, such a transfer is hung up as the hangup it looks like. Keep both in the "
            "filter (asterisk-dialplan/manager-callguard.conf passes them). A grace above 0 "
            "(0.5) reads the channels' BLINDTRANSFER and ATTENDEDTRANSFER instead, but with "
            "the events filtered out a failed transfer by the called party leaves them set, "
            "and its hangup then holds the line unreleased (README: why the grace defaults "
            "to 0)")


class Backoff:
    """Delays that double from ``low`` to ``high``; ``reset`` after a good connection."""

    def __init__(self, low: float, high: float) -> None:
        self.low, self.high = low, high
        self._next = low
        self._cap = high

    def next(self) -> float:
        """The delay before the next attempt."""
        delay = self._next
        self._next = min(self._cap, self._next * 2)
        return delay

    def refused(self, low: float, high: float) -> None:
        """Asterisk refused the login: wait at least ``low``, doubling to ``high``, until a
        login succeeds. A wrong secret or a missing permit is not fixed by retrying; each
        try costs Asterisk a NOTICE and a security event (manager.c ``authenticate``) that
        fail2ban-style jails count against this host."""
        self._cap = max(self.high, high)
        self._next = min(self._cap, max(self._next, low))

    def reset(self) -> None:
        """Connected and logged in: start from the shortest delay again."""
        self._next = self.low
        self._cap = self.high


class _PanoramiskLog:
    """panoramisk's ``log`` object, writing through structlog (JSON, numbers redacted).

    Its debug lines (one per message received) are dropped unformatted: they cost more
    than the watchdog's own work; its info lines ("Sending awaiting actions" at every
    login) are dropped too. Warnings and errors ("Not able to reconnect") are kept."""

    def __init__(self) -> None:
        self._log = structlog.get_logger("panoramisk")

    def debug(self, msg: str, *args: Any) -> None:
        del msg, args

    def _line(self, level: str, msg: str, args: tuple[Any, ...]) -> None:
        try:
            text = msg % args if args else str(msg)
        except (TypeError, ValueError):
            text = str(msg)
        getattr(self._log, level)("panoramisk", message=clipped(text, 500))

    def info(self, msg: str, *args: Any) -> None:
        del msg, args

    def warning(self, msg: str, *args: Any) -> None:
        self._line("warning", msg, args)

    def error(self, msg: str, *args: Any) -> None:
        self._line("error", msg, args)

    def exception(self, msg: str, *args: Any) -> None:
        self._line("error", msg, args)


class _StructlogHandler(logging.Handler):
    """Standard-library records of panoramisk's own loggers, into structlog."""

    def __init__(self) -> None:
        super().__init__(level=logging.INFO)
        self._sink = _PanoramiskLog()

    def emit(self, record: logging.LogRecord) -> None:
        level = ("error" if record.levelno >= logging.ERROR else
                 "warning" if record.levelno >= logging.WARNING else "info")
        self._sink._line(level, record.getMessage(), ())  # noqa: SLF001 - one module


def route_panoramisk_logs() -> None:
    """panoramisk's ``logging`` loggers write JSON through structlog, not plain text."""
    logger = logging.getLogger("panoramisk")
    if not any(isinstance(h, _StructlogHandler) for h in logger.handlers):
        logger.addHandler(_StructlogHandler())
    logger.propagate = False
    logger.setLevel(logging.INFO)


def _damaged(message: Message, block: str) -> str | None:
    """The header found twice in a message the watchdog reads (an event the tracker uses,
    a Response, an action's list item: a picture's CoreShowChannel), None if none: see
    ``_LINE_KEYS``. A variable counts once a name and value: the same line twice misleads
    nobody (a name listed twice in channelvars)."""
    name = message.get("Event")
    if not ("Response" in message or "ActionID" in message
            or (isinstance(name, str) and name in _USED) or isinstance(name, list)):
        return None  # not read (an unused event may repeat what it likes: UserEvent)
    # the common case at a third of the cost: panoramisk's store (case-insensitive, plus
    # "content") holds one string per header line, so no name was read twice
    store = getattr(message, "_store", None)
    if (isinstance(store, dict) and len(store) == block.count(": ") + 1
            and all(type(pair[1]) is str for pair in store.values())):
        return None
    seen: set[str] = set()
    for line in block.split(_EOL):
        key, sep, value = line.partition(":")
        if not sep:
            continue
        key = key.strip().lower()
        if key.endswith(_LINE_KEYS):
            continue
        if key.endswith(_REPEATED_KEYS):
            variable, _, set_to = value.strip().partition("=")
            if f"{key}={variable}" in seen and f"{key}={variable}={set_to}" not in seen:
                return key
            seen.update((f"{key}={variable}", f"{key}={variable}={set_to}"))
            continue
        if key in seen:
            return key
        seen.add(key)
    return None


class AnswerUnreadable(ConnectionError):
    """An action's answer dropped unread (``_GuardedProtocol._unreadable``): handled as an
    answer lost with its session, never as a value."""


class _GuardedProtocol(AMIProtocol):  # type: ignore[misc]
    """One message at a time: a bad one is counted and dropped, the session goes on.

    Reads are decoded with one incremental decoder per connection: TCP may cut a
    multi-byte UTF-8 character (a caller name, a channel name) between two reads, and
    panoramisk's ``data.decode(encoding, "ignore")`` of each read dropped both halves.
    """

    _decoder: codecs.IncrementalDecoder | None = None
    _decoding: str | None = None
    _skipping = False  # the rest of a message dropped as too long, up to its blank line
    _tail = ""  # the last characters read (a blank line may be cut between two reads)
    _pending_len = 0
    # The last message framed, kept back while its tail may be arriving (``data_received``):
    # its text, the tails glued to it, its header names (lower case, read at its first
    # tail), its length.
    _held: list[str] | None = None
    _held_keys: set[str] | None = None
    _held_len = 0
    _held_timer: asyncio.TimerHandle | None = None  # hands it over at ``_TAIL_WAIT_S``
    _glued = 0  # tails glued back on this connection
    _glued_said: float | None = None

    def __init__(self) -> None:
        super().__init__()
        self._pending: list[str] = []  # the text of the message not yet ended, by read

    def _decode(self, data: bytes) -> str:
        """``data`` as text; bytes that end a read mid-character wait for the next one.
        Invalid bytes are dropped, as panoramisk's decode ("ignore") drops them. The
        encoding is the Manager's (``utf8``), set on the protocol once connected; before
        that (the banner) panoramisk reads ASCII."""
        encoding = getattr(self, "encoding", "ascii")
        decoder = self._decoder
        if decoder is None or encoding != self._decoding:
            pending = decoder.getstate()[0] if decoder is not None else b""
            decoder = self._decoder = codecs.getincrementaldecoder(encoding)("ignore")
            self._decoding = encoding
            data = pending + data
        return decoder.decode(data)

    def _frame(self, text: str) -> list[str]:
        """The messages ``text`` completes, in order (as written); the rest kept.

        A message ends at a blank line: CRLF CRLF, or an LF followed by a bare LF (a peer
        writing LF alone, and Asterisk's own ``\\r\\n\\n`` ending CoreShowChannelMap:
        asterisk/asterisk#761, 18.19+ and 20.4+). Read as CRLFCRLF only, such a message
        swallowed the next one up to its blank line: a called party's Hangup behind it
        was lost. A bare LF followed by CRLF ends no message: it is the end of a value
        Asterisk wrote raw (manager_channels.c
        ``ast_manager_build_channel_state_string_prefix`` writes ``CallerIDName: %s\\r\\n``
        and each channelvars ``ChanVariable: %s=%s\\r\\n`` as they are; a name or a
        variable set from ``${CURL(...)}`` or ``${SHELL(...)}`` keeps the trailing
        newline). Taken for a blank line (hrev133), it cut every event and CoreShowChannel
        item of such a channel before its Uniqueid: the called party's Hangup named no
        channel, the pictures missed the calling legs, and the line was never released.
        A read is searched by itself, with the last three characters before it (a blank
        line cut between reads): the pending text is joined once, when its message ends.
        Joined and searched again at every read, a 1 MB message arriving 512 bytes a
        read cost the loop 1.6 s (quadratic)."""
        if not text:
            return []
        probe = self._tail + text
        self._tail = probe[-3:]
        if "\n\n" not in probe and "\r\n\r\n" not in probe:
            if self._skipping:  # the dropped message's tail: only its end matters
                self._pending = [self._tail]
                return []
            self._pending.append(text)
            self._pending_len += len(text)
            if self._pending_len > _MAX_PENDING_BYTES:
                self._too_long()
            return []
        self._pending.append(text)
        *complete, rest = _BLANK_LINE.split("".join(self._pending))
        self._pending, self._pending_len = [rest] if rest else [], len(rest)
        self._tail = rest[-3:]
        if self._skipping:  # what follows a cut is that message's tail, not a message
            self._skipping = False
            complete = complete[1:]
        if self._pending_len > _MAX_PENDING_BYTES:
            self._too_long()
        return complete

    def _too_long(self) -> None:
        """The pending message passed ``_MAX_PENDING_BYTES``: dropped, and its tail up to
        its blank line with it (never read as a message of its own). A message held for
        its tail was read before it: handed over first, so the loss is said after it
        (hrev149; on hrev143 the loss came first, the held Hangup after)."""
        self._release()
        self._bad(ValueError(f"unterminated message past {_MAX_PENDING_BYTES} bytes"))
        self._pending, self._pending_len = ([self._tail] if self._tail else []), 0
        self._skipping = True

    def data_received(self, data: bytes) -> None:
        """The messages a read completes, each handled on its own.

        A piece that panoramisk would not read as a message (no ``Event`` nor ``Response``
        header, in any case) is the tail of the message before it when that message is still
        here: a value ending in CRLF cut it (``_MESSAGE_KEYS``: Asterisk's source), and its
        Uniqueid, Linkedid and channel variables came after the cut. Dropped as "no Event
        header", a called party's Hangup so cut was lost and the line released only by a
        picture taken again (hrev138). The tail is glued back (``_glue``), counted and said
        (``ami_message_glued``), and no picture is asked: nothing was lost. A message is
        kept back for its tail only while the text after it has begun and is not a new
        message (``_tail_coming``): a read ending at a blank line delivers at once. So a
        tail whose head ended the previous read finds no message: dropped and counted as
        lost (the picture is taken again), as is a piece with no message before it. A piece
        that is no tail of the held message (``_is_tail``) drops that message too
        (``_drop_held``: a value may have written it, hwd32)."""
        text = self._decode(data)
        if getattr(self, "version", None) is None and text.startswith("Asterisk Call Manager/"):
            self.version = text.partition("\r\n")[0].partition("/")[2].strip()
        for each in self._frame(text):
            block = each.strip()
            if not block:
                continue
            if _EOL not in block:  # a peer writing LF alone: its LFs end lines
                block = block.replace("\n", _EOL)
            # in a CRLF message a bare LF is a value's, as Asterisk wrote it: never a line
            # end (a name "x\nUniqueid: 1.1" adds no Uniqueid)
            lines = block.split(_EOL)
            _key = self._key
            if any(_key(line) in _MESSAGE_KEYS for line in lines):
                self._release()  # (an Event line first: one line looked at)
                self._held, self._held_keys, self._held_len = [block], None, len(block)
            elif self._held is not None and self._is_tail(lines):
                self._glue(lines)
            else:
                if self._held is not None:  # a piece repeating its headers: no tail of it
                    self._drop_held()
                self._deliver(block)  # no Event header and no message before it: dropped
        if self._held is not None:
            if not self._tail_coming():
                self._release()
            elif self._held_timer is None:
                self._hold_bounded()

    def _hold_bounded(self) -> None:
        """The held message handed over ``_TAIL_WAIT_S`` after it was kept back, whatever
        comes (a tail arriving over several reads does not extend it). Fed outside a
        running loop (framing tests), it waits for the next read."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._held_timer = loop.call_later(_TAIL_WAIT_S, self._tail_late)

    def _tail_late(self) -> None:
        self._held_timer = None
        if not self.closed:
            self._release()

    @staticmethod
    def _key(line: str) -> str:
        """A header line's name, in lower case ("" for a line with none)."""
        return line.partition(":")[0].strip().lower()

    def _tail_coming(self) -> bool:
        """Whether the text read after the held message has begun something that is not a
        new message (its tail, arriving): at most ``_LOOK_AHEAD`` characters looked at,
        and the bytes of a character cut between reads."""
        if self._skipping:
            return False
        start = ""
        for part in self._pending:
            start += part[:_LOOK_AHEAD]
            if len(start) >= _LOOK_AHEAD:
                break
        start = start[:_LOOK_AHEAD].lstrip("\r\n").lower()
        if not start:
            # nothing, or line ends only: the message is handled now; but for the first
            # bytes of a character the decoder holds (no message begins so)
            decoder = self._decoder
            return decoder is not None and bool(decoder.getstate()[0])
        for key in _MESSAGE_KEYS:
            if start.startswith(key + ":"):
                return False
            if (key + ":").startswith(start):
                return True  # "Eve": not known yet
        return True

    def _is_tail(self, lines: list[str]) -> bool:
        """Whether ``lines`` may be the held message's tail: Asterisk writes each header of
        a message once but for ``_REPEATED_KEYS``, so a piece repeating one of the
        message's (or its tails') headers is another message damaged (an "Evnt: Hangup"
        of a proxy), not the rest of this one. Glued, the Linkedid of another call went
        onto this message and nothing was counted lost (hrev143): dropped and lost, the
        picture is taken again."""
        assert self._held is not None
        _key = self._key
        keys = self._held_keys
        if keys is None:  # the message's own names, read at its first tail only
            keys = self._held_keys = {_key(line) for line in self._held[0].split(_EOL)}
        return not any(":" in line and (
            (key := _key(line)) in _HEAD_KEYS
            or (key in keys and not key.endswith(_REPEATED_KEYS))) for line in lines)

    def _drop_held(self) -> None:
        """The held message, followed by a piece that is neither a new message nor its tail,
        dropped unread and counted lost (hwd32). Such a piece is the real tail of a message
        cut by a value, and what is held may be a message that value wrote: a caller name
        "X\r\n\r\nEvent: Hangup\r\nUniqueid: <another call's>\r\n\r\n" made a Hangup
        of a called party still talking; handed over (hrev143), its line was released. A
        real message so dropped is recovered by the picture taken again (``_bad``)."""
        self._held = None
        timer, self._held_timer = self._held_timer, None
        if timer is not None:
            timer.cancel()
        self._bad(ValueError("a message followed by a piece that is not its tail: suspect "
                             "(a header value with line breaks may have written it)"))

    def _glue(self, lines: list[str]) -> None:
        """The tail of the held message added to it (``_is_tail``). A line with no header
        name it repeats is left out (the first wins, as ``normalize`` keeps the first of a
        message's own repeats), but for the variables, which Asterisk writes one line each."""
        assert self._held is not None
        assert self._held_keys is not None  # read by ``_is_tail``
        _key = self._key
        keys = self._held_keys
        kept = [line for line in lines
                if (key := _key(line)) not in keys or key.endswith(_REPEATED_KEYS)]
        if kept:
            keys.update(_key(line) for line in kept)
            tail = _EOL.join(kept)
            self._held.append(tail)
            self._held_len += len(tail) + len(_EOL)
        self._glued += 1
        factory = self.factory
        # counted by the factory when it asks to be (``AmiWatchdog``: messages_glued),
        # always on the connection (``_glued``) and in the log
        glued = getattr(factory, "message_glued", None)
        if glued is not None:
            glued()
        now = time.monotonic()
        if self._glued_said is None or now - self._glued_said >= _GLUED_SAID_S:
            self._glued_said = now
            _log.warning("ami_message_glued", glued=self._glued, lines=len(lines),
                         effect="an AMI message was cut by a header value ending in a line "
                                "break (Asterisk writes values as they are): its tail was "
                                "read back into it",
                         fix="strip the line break where the dialplan sets the value "
                             "(CALLERID(name), CONNECTEDLINE(name), a channelvars variable "
                             "set from CURL, SHELL or a CNAM lookup)")
        if self._held_len > _MAX_PENDING_BYTES:
            self._held = None
            self._bad(ValueError(f"message past {_MAX_PENDING_BYTES} bytes"))

    def _release(self) -> None:
        """The held message, with any tail glued to it, handled now."""
        held, self._held = self._held, None
        timer, self._held_timer = self._held_timer, None
        if timer is not None:
            timer.cancel()
        if held is not None:
            self._deliver(_EOL.join(held))

    def _deliver(self, block: str) -> None:
        factory = self.factory
        try:
            message = Message.from_line(block)
            if message is not None and (repeated := _damaged(message, block)) is not None:
                self._bad(ValueError(f"header {clipped(repeated, 60)} repeated (a header "
                                     "value with line breaks)"))
                self._unreadable(message)
                return
            if message is None:
                # no "Event: " nor "Response: " header as panoramisk spells them (an
                # "event: Hangup" of a proxy that changed the case): counted, not
                # dropped unseen
                self._bad(ValueError("neither an Event nor a Response header"))
                return
            if factory is not None and "Response" in message and (
                    message.id in self.responses or message.action_id in self.responses):
                factory.asked = None  # an answer: the session handles actions
                if message.get("Ping") == "Pong":
                    factory.pong()
            self.handle_message(message)
        except Exception as exc:  # noqa: BLE001 - one message must not end the session
            self._bad(exc)

    def connection_lost(self, exc: Exception | None) -> None:
        """A message held for a tail that will not come is handled first: it was read."""
        if not self.closed:
            self._release()
        super().connection_lost(exc)

    def close(self) -> None:
        """Fail the actions still waiting for an answer, at once.

        panoramisk drops them from ``responses`` and leaves their futures pending: a
        Getvar in flight was answered "unknown" only at the action timeout — by then on
        the next session, whose picture may say otherwise, and a Hangup it decided was
        sent there. Failed now, what they decide finds no session (``_hangup`` sends
        nothing) and the rebuild after the reconnect decides again."""
        waiting = [action.future for action in self.responses.values()
                   if not action.future.done()]
        timer, self._held_timer = self._held_timer, None
        if timer is not None:  # a closed session hands nothing over (connection_lost first)
            timer.cancel()
        super().close()
        for future in waiting:
            if not future.done():
                future.set_exception(ConnectionError("AMI connection lost before the answer"))
                future.exception()  # retrieved: a Ping's future nobody awaits logs nothing

    def _unreadable(self, message: Message) -> None:
        """A damaged Response (``_damaged``) fails the one-message action it answers at
        once: a Getvar whose value held a line break and "Value: ..." (manager.c
        ``action_getvar`` writes ``Value: %s\\r\\n`` raw) was waited out to the action
        timeout, 2 s of a release's budget, to read "unknown" all the same (hwd34). Its
        ActionID is Asterisk's own: written right after ``Response``, before any value
        (``_HEAD_KEYS``). A list's answer is left to its list (a lost item: hrev138)."""
        if "Response" not in message:
            return
        action_id = message.get("ActionID")
        if isinstance(action_id, list):
            action_id = action_id[0] if action_id else None
        action = self.responses.get(action_id) if isinstance(action_id, str) else None
        if action is None or action.as_list or action.responses or action.future.done():
            return
        self.responses.pop(action_id, None)
        self.responses.pop(action.id, None)
        action.future.set_exception(AnswerUnreadable("the answer held a header twice (a "
                                                     "value with line breaks): unread"))

    def _bad(self, exc: Exception) -> None:
        """A message dropped unread: counted, and — it may have been an event (a Hangup) —
        said to the main session's owner (``AmiWatchdog._events_lost``)."""
        factory = self.factory
        if factory is not None and hasattr(factory, "bad_message"):
            factory.bad_message(exc)
        lost = getattr(factory, "events_lost", None)
        if lost is not None:
            lost()


class _ListAction(Action):  # type: ignore[misc]
    """A list action (``as_list``) whose lone refusal is its answer.

    manager.c ``process_message`` answers an action the user's ``write=`` does not cover
    with one ``Response: Error`` / ``Message: Permission denied`` and no list after it.
    panoramisk's ``as_list`` waits for a ``...Complete`` event that never comes, so the
    refusal was waited out to the action timeout (events held meanwhile) and logged as a
    bare timeout. A first message that is an Error completes the action with it."""

    def add_message(self, message: Message) -> bool:
        if not self.responses and message.get("Response") in ("Error", "Fail", "Failure"):
            self.responses.append(message)
            if not self.future.done():
                self.future.set_result(message)
            return True
        return bool(super().add_message(message))


class _Manager(Manager):  # type: ignore[misc]
    """panoramisk's Manager with backoff, no replays, guarded messages and a clean stop."""

    def __init__(self, backoff: Backoff, bad_message: Callable[[Exception], None], *,
                 role: str = "main", may_connect: Callable[[], bool] = lambda: True,
                 dial_timeout: float = 2.0, **config: Any) -> None:
        self._backoff = backoff
        # A TCP connect unanswered this long fails as an unreachable one (``connect``).
        self.dial_timeout = dial_timeout
        self.role = role  # "main": events, Hangups; "read": Getvars only (``_reader``)
        self._may_connect = may_connect
        self.dialing = False  # a connection attempt is under way
        self.bad_message = bad_message
        self.stopping = False
        self.asked: float | None = None  # when a request went out unanswered since
        # Every event Asterisk queued for this session before this moment (monotonic) has
        # been read: the send time of the last Ping answered (manager.c ``do_message`` runs
        # ``process_events`` before it reads an action, so the events queued before the
        # Ping arrived are written ahead of its Pong). A drop loses only later events.
        self.complete_at: float | None = None
        self._pings: deque[float] = deque(maxlen=64)  # send times of Pings unanswered
        self._refusal_said = False
        self._unreachable_said = False  # "Not able to reconnect" logged since the last login
        self.was_logged_in = False  # the session that ends was logged in
        # The last attempt ended without a login (refused, unreachable, closed before its
        # Login was answered while ``may_connect`` allowed it), and when an attempt settles
        # (logged in or failed): the read session's callers fall back on the main one.
        self.failed = False
        self.settled = asyncio.Event()
        # Called when a message is dropped unread (``_GuardedProtocol._bad``); the main
        # session's is ``AmiWatchdog._events_lost``, the read session has no events.
        self.events_lost: Callable[[], None] | None = None
        super().__init__(forgetable_actions=("ping", "login", "hangup", "getvar",
                                             "coreshowchannels"),
                         protocol_factory=_GuardedProtocol, log=_PanoramiskLog(), **config)

    @property
    def reconnect_timeout(self) -> float:
        """Read by panoramisk when a connection attempt fails."""
        return self._backoff.next()

    @reconnect_timeout.setter
    def reconnect_timeout(self, value: float) -> None:
        del value  # panoramisk sets its fixed interval; the backoff replaces it

    def connect(self, run_forever: bool = False, on_startup: Any = None,
                on_shutdown: Any = None) -> Any:
        """Not after ``close``, not while ``may_connect`` says no, not twice at once; a
        connect unanswered within ``dial_timeout`` fails as an unreachable one.

        panoramisk's ``create_connection`` has no timeout: a SYN that is dropped (a
        firewall limiting new connections to the manager port, a listen backlog full)
        left the session "connecting" until the kernel gave up (Linux ``tcp_syn_retries``
        6: ~127 s), no retry meanwhile — for the read session every read waited the
        action timeout and answered "unknown" while the main session was up (hrev130).
        ``TimeoutError`` is an ``OSError``: ``connection_made`` retries at the backoff,
        and the read session's callers fall back on the main one (``failed``)."""
        del run_forever, on_startup, on_shutdown  # the loop is the caller's
        if (self.stopping or self.dialing or self._connected
                or not self._may_connect()):
            return None
        self.dialing = True
        self.settled.clear()
        dial = self.loop.create_connection(self.config["protocol_factory"],
                                           self.config["host"], self.config["port"],
                                           ssl=self.config["ssl"])
        task = self.loop.create_task(asyncio.wait_for(dial, self.dial_timeout))
        task.add_done_callback(self.connection_made)
        return task

    def connection_made(self, f: Any) -> None:
        """A new session; its Login goes out now and must be answered.

        A connection refused (Asterisk down, the manager port closed) is said once per
        episode (panoramisk's "Not able to reconnect"), then retried quietly: one line every
        backoff interval, hours long, hid the rest of the log (``ami_not_logged_in`` and
        ``callguard_ami_up`` = 0 keep saying it)."""
        self.dialing = False
        if f.cancelled():
            return  # the loop is closing
        if self.stopping and f.exception() is None:
            # connected after ``close`` (a connect under way at shutdown): never logged in
            f.result()[0].close()
            return
        if isinstance(f.exception(), OSError):
            self.failed = True
            self.settled.set()
            if self._unreachable_said:
                if not self.stopping:
                    self.loop.call_later(self._backoff.next(), self.connect)
                return
            self._unreachable_said = True
        self.was_logged_in = False
        self.asked = time.monotonic()
        self.complete_at = self.asked  # nothing of this session lost yet
        self._pings.clear()
        super().connection_made(f)

    def login(self, future: asyncio.Future[Any]) -> bool:
        """panoramisk's Login answer; a refusal is said once, with Asterisk's words (then
        Asterisk closes and the backoff retries: lab ami-login-failed)."""
        if future.cancelled() or future.exception() is not None:
            # the session went before the answer (``_GuardedProtocol.close``): retried
            self.authenticated_future = None
            return False
        ok = bool(super().login(future))
        self.failed = not ok
        self.settled.set()
        if ok:
            self._refusal_said = False
            self._unreachable_said = False
            self.was_logged_in = True
            return ok
        message = str(future.result().get("Message", ""))
        in_use = "already in use" in message.lower()
        if in_use and self.role == "read":
            # the main session holds the user's one login: not freed by waiting
            self._backoff.refused(_LOGIN_REFUSED_S, _LOGIN_REFUSED_MAX_S)
            retry = (f"in {_LOGIN_REFUSED_S:g} s, then up to {_LOGIN_REFUSED_MAX_S:g} s "
                     "apart until a login succeeds")
        elif in_use:
            # this node's previous session (a restart) goes within a second or two: the
            # reconnect pace, not the refused-login one, or its calls wait unwatched
            retry = "at the reconnect backoff"
        else:
            self._backoff.refused(_LOGIN_REFUSED_S, _LOGIN_REFUSED_MAX_S)
            retry = (f"in {_LOGIN_REFUSED_S:g} s, then up to {_LOGIN_REFUSED_MAX_S:g} s "
                     "apart until a login succeeds")
        if not self._refusal_said:
            self._refusal_said = True
            if in_use and self.role == "read":
                fix = ("callguard logs in twice with [ami] username (a second, read-only "
                       "session for Getvars): set allowmultiplelogin = yes for this user in "
                       "manager.conf (the user's section, or [general]); until then the "
                       "Getvars go on the main session (ami_reads_on_main_session)")
            elif in_use:
                # manager.c process_message with [general] allowmultiplelogin = no: the
                # user has a session already (another callguard node, or this node's
                # previous session not yet closed by Asterisk); refused after 1 s, closed.
                fix = ("manager.conf [general] has allowmultiplelogin = no and this user is "
                       "logged in elsewhere: give each callguard node its own AMI user "
                       "([ami] username), or set allowmultiplelogin = yes")
            else:
                fix = ("check [ami] username and the secret (CALLGUARD_AMI_SECRET), and "
                       "manager.conf: the user's secret, permit and read/write")
            _log.warning("ami_login_refused", message=clipped(message, 200), fix=fix,
                         retry=retry, **({} if self.role == "main" else {"session": self.role}))
        return ok

    def ping(self) -> None:
        """panoramisk's Ping, remembered until the session says anything."""
        if self.asked is None:
            self.asked = time.monotonic()
        self._pings.append(time.monotonic())
        super().ping()

    def pong(self) -> None:
        """A Pong read: the events queued before its Ping reached Asterisk are all read."""
        if self._pings:
            self.complete_at = self._pings.popleft()

    def drop_if_silent(self, limit: float) -> float | None:
        """Abort a session that answered nothing ``limit`` seconds after a request
        (connection_lost then reconnects); how long it was silent, or None."""
        asked, protocol = self.asked, getattr(self, "protocol", None)
        if (asked is None or not self._connected or protocol is None
                or getattr(protocol, "closed", True)):
            return None
        silent = time.monotonic() - asked
        if silent <= limit:
            return None
        self.asked = None  # once per session
        protocol.transport.abort()  # close() would wait to flush to a peer that is gone
        return silent

    def connection_lost(self, exc: Exception | None) -> None:
        """Reconnect after the next backoff delay (panoramisk's fixed interval replaced)."""
        self._connected = False
        self.authenticated = False
        if not self.was_logged_in and not self.stopping and self._may_connect():
            self.failed = True  # closed before a login (a connection limit, authlimit)
        self.settled.set()
        self.loop.call_soon(self.on_disconnect, self, exc)
        pinger: asyncio.TimerHandle | None = getattr(self, "pinger", None)
        if pinger is not None:
            pinger.cancel()
        self.pinger = None
        self.awaiting_actions.clear()
        if not self.stopping:
            self.loop.call_later(self._backoff.next(), self.connect)

    @property
    def ready(self) -> bool:
        """Connected and logged in."""
        return bool(self._connected and self.authenticated and self.protocol is not None
                    and not self.protocol.closed)


class AmiWatchdog:
    """Follows allowed automated calls over AMI and releases the line when the law says."""

    def __init__(self, settings: AmiSettings, secret: str, tracker: CallTracker, *,
                 on_state: Callable[[bool], None] = lambda up: None,
                 on_rebuilt: Callable[[int], None] = lambda followed: None,
                 clock: Callable[[], float] = time.monotonic,
                 numbers: RecordedNumbers | None = None) -> None:
        route_panoramisk_logs()
        self.numbers = numbers  # answers FindNumber from the compliance log; None: nothing
        self.settings = settings
        self.tracker = tracker
        self.stats: Counter[str] = Counter()
        tracker.warn = self._tracker_warning
        self.rebuilt = False  # a picture was taken since the last login
        # Actions Asterisk would refuse this user (ListCommands at login), by name: with
        # "Hangup" among them no line can be released.
        self.refused_actions: tuple[str, ...] = ()
        self._refusal_said = False  # a refused picture was logged since the last login
        self._on_state = on_state
        self._on_rebuilt = on_rebuilt
        self._clock = clock
        self._backoff = Backoff(settings.reconnect_min_ms / 1000, settings.reconnect_max_s)
        self._manager = _Manager(
            self._backoff, self._bad_message, dial_timeout=settings.action_timeout_ms / 1000,
            host=settings.host, port=settings.port,
            username=settings.username, secret=secret, events="call",
            on_login=self._on_login, on_disconnect=self._on_disconnect,
            ping_delay=_PING_S, ping_interval=_PING_S, reconnect_timeout=1,
            loop=asyncio.get_running_loop())
        self._manager.register_event("*", self._on_event)
        self._manager.events_lost = self._events_lost
        # a message cut by a value ending in CRLF, its tail glued back (``_GuardedProtocol``)
        self._manager.message_glued = self._message_glued
        self._resync_due = False  # a picture is asked for after a message dropped unread
        self._resynced: float | None = None  # when the last such picture was asked
        self._lost_at: float | None = None  # the first loss that picture is to cover (clock)
        # CoreShowChannels' timeout now (``_PICTURE_TIMEOUT_MAX_S``; a Ping behind a list
        # waits as long: ``_tick``), and ami_picture_slow said this episode
        self._picture_timeout_s = settings.action_timeout_ms / 1000
        self._picture_slow_said = False
        self._listed_at: float | None = None  # the last CoreShowChannels asked (monotonic)
        # The Getvars' own session (module docstring): no events, logged in only while the
        # main session is, with its own backoff of the same settings.
        self._read_backoff = Backoff(settings.reconnect_min_ms / 1000,
                                     settings.reconnect_max_s)
        self._reader = _Manager(
            self._read_backoff, self._bad_message, role="read",
            may_connect=lambda: self._manager.ready,
            dial_timeout=settings.action_timeout_ms / 1000, host=settings.host,
            port=settings.port, username=settings.username, secret=secret, events="off",
            on_login=self._on_read_login, on_disconnect=self._on_read_disconnect,
            ping_delay=_PING_S, ping_interval=_PING_S, reconnect_timeout=1,
            loop=asyncio.get_running_loop())
        self._reader.message_glued = self._message_glued
        self._main_reads_said = False  # ami_reads_on_main_session said since a read login
        self._tasks: set[asyncio.Task[None]] = set()
        self._ticker: asyncio.Task[None] | None = None
        self._warned_channelvars = False
        # Between login and the picture, events are held and replayed after it: an event
        # read while the CoreShowChannels list is still arriving would find no call yet.
        self._held: list[tuple[dict[str, str], float]] | None = None
        self._held_since = 0.0  # when that hold began (time.monotonic)
        # No login of this session has reached ``_on_login`` yet: panoramisk sets
        # ``authenticated`` and only schedules ``on_login`` (call_soon), so for one turn the
        # session is "connected" with no picture pending (``_hangup``).
        self._login_unseen = True
        # Uniqueid (or name) the Hangup action named -> when Asterisk answered it with
        # Success (monotonic), until its Hangup event is read: how late the events are
        # (``_late``).
        self._accepted: dict[str, float] = {}
        self.event_lag_s: float | None = None  # the last lag measured that way
        self._late_said: float | None = None
        self._login_unanswered_said = False  # ami_login_unanswered said since a login
        self._resync_said: float | None = None  # ami_events_lost said then (monotonic)

    @property
    def connected(self) -> bool:
        """Logged in to Asterisk right now."""
        return self._manager.ready

    @property
    def reading(self) -> bool:
        """The read session (Getvars) is logged in right now."""
        return self._reader.ready

    async def start(self, *, known_until: float | None = None) -> None:
        """Connect (in the background, retrying) and start the timer loop.

        ``known_until``: the last instant (this clock) a follower is known to have watched
        the calls; delays of releases made after the first picture are bounded by it. None:
        not known (no alive file, no lease key) — the process start bounds nothing, so the
        first picture bounds each call's outage by the call's own age."""
        now = self._clock()
        self.tracker.disconnected(known_until if known_until is not None else now,
                                  bounded=known_until is not None)
        warning = transfer_events_warning(self.settings)
        if warning is not None:
            _log.warning("ami_transfer_events_unchecked", message=warning)
        self._manager.connect()
        self._ticker = asyncio.create_task(self._tick())

    async def aclose(self) -> None:
        """Stop reconnecting, close the session, wait for actions in flight."""
        self._manager.stopping = True
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.numbers is not None:
            await self.numbers.aclose()
        self._reader.stopping = True
        self._reader.close()
        self._manager.close()

    def run(self, effects: list[Effect]) -> None:
        """Carry out the tracker's effects (also for the node, on taking over)."""
        for effect in effects:
            if isinstance(effect, HangupChannel):
                self._spawn(self._hangup(effect))
            elif isinstance(effect, ReadVariable):
                self._spawn(self._getvar(effect))
            elif isinstance(effect, FindNumber):
                self._find_number(effect)

    # --- panoramisk callbacks -------------------------------------------------------------

    def _on_event(self, manager: Manager, event: Mapping[str, Any]) -> None:
        del manager
        name = event.get("Event")
        if not isinstance(name, str) or name not in _USED:
            return  # without manager.conf's filters most events are of no use here
        if name == "Hangup" and self._accepted:
            self._late(event)
        if self._held is not None:
            if len(self._held) < _MAX_HELD_EVENTS:
                self._held.append((normalize(event), self._clock()))
            else:
                # dropped as a message read unread is: it may be a called party's Hangup
                # the picture under way was asked too early to show (``_events_lost``)
                self.stats["events_lost_during_picture"] += 1
                self._events_lost()
            return
        self._feed(normalize(event), self._clock(), event)

    def _feed(self, event: dict[str, str], at: float, raw: Mapping[str, Any]) -> None:
        try:
            effects = self.tracker.feed(event, at)
        except DamagedEvent as exc:  # not acted on: counted, said, the picture taken again
            self._bad_message(exc)
            self._events_lost()
            return
        except Exception as exc:  # noqa: BLE001 - one event must not end the session
            self._event_failed(raw, exc)
            return
        if effects:
            self.run(effects)

    def _replay(self) -> None:
        """The events held while the picture was taken, in order, at their own times."""
        held, self._held = self._held or [], None
        for event, at in held:
            self._feed(event, at, event)

    def _late(self, event: Mapping[str, Any]) -> None:
        """The Hangup event of a channel Asterisk accepted to hang up: how late it is read.

        The tracker times every event at its arrival: a release delay is the gap between
        two arrivals, and events late by a backlog that drains meanwhile make it read
        shorter than it was. This measure says so (log, ``events_late``) — it cannot
        correct the records."""
        channel = event.get("Channel")
        accepted = None
        for key in (event.get("Uniqueid"), channel):  # the action named one or the other
            if isinstance(key, str) and accepted is None:
                accepted = self._accepted.pop(key, None)
        if accepted is None:
            return
        lag = time.monotonic() - accepted
        self.event_lag_s = lag
        if lag <= _LATE_S:
            return
        self.stats["events_late"] += 1
        now = time.monotonic()
        if self._late_said is not None and now - self._late_said < _LATE_SAID_S:
            return
        self._late_said = now
        _log.warning("ami_events_late", seconds=round(lag, 3),
                     channel=safe_channel(channel if isinstance(channel, str) else None),
                     effect="AMI events reach callguard late (Asterisk's event queue is "
                            "behind): release delays are measured between event arrivals "
                            "and may read shorter than they were; records written "
                            "meanwhile are not a proof of release in time",
                     fix="reduce Asterisk's load or the events sent to callguard's AMI "
                         "user (the shipped eventfilter); Asterisk logs 'task processor "
                         "queue reached' when its stasis queue is behind")

    def _event_failed(self, event: Mapping[str, Any], exc: Exception) -> None:
        self.stats["event_errors"] += 1
        name = event.get("Event") if isinstance(event, Mapping) else None
        _log.error("ami_event_failed", ami_event=clipped(str(name), 60),
                   error=type(exc).__name__, reason=clipped(str(exc), 200))

    def _message_glued(self) -> None:
        self.stats["messages_glued"] += 1

    def _bad_message(self, exc: Exception) -> None:
        self.stats["malformed_messages"] += 1
        _log.warning("ami_message_dropped", error=type(exc).__name__,
                     reason=clipped(str(exc), 200))

    def _on_login(self, manager: Manager) -> None:
        del manager
        self._login_unseen = False  # the picture's hold (``_held``) takes over below
        self._backoff.reset()
        self._on_state(True)
        _log.info("ami_logged_in", host=self.settings.host, port=self.settings.port)
        self._held = []
        self._held_since = time.monotonic()
        self._refusal_said = False
        self._login_unanswered_said = False
        # A new session's list is asked with the action timeout: a list the last session
        # left unanswered may have been a path lost (no answer, no FIN), not a slow list,
        # and kept doubled every dead path as a list was asked was waited out longer:
        # 4 s, then 8 s, each silent as long (``_tick``; hrev168). Slow again, it doubles
        # again (``_picture_timed_out``).
        self._picture_time_normal()
        self._spawn(self._rebuild())
        self._spawn(self._check_permissions())
        self._reader.connect()  # nothing if it is up or on its way

    def _on_read_login(self, manager: Manager) -> None:
        del manager
        self._read_backoff.reset()
        if not self._manager.ready:  # the main session went meanwhile: not without it
            self._drop_reader()
            return
        self._main_reads_said = False
        _log.info("ami_read_session_logged_in", host=self.settings.host,
                  port=self.settings.port)

    def _on_read_disconnect(self, manager: Manager, exc: Exception | None) -> None:
        del manager
        if not self._reader.stopping and self._reader.was_logged_in:
            _log.warning("ami_read_session_down",
                         reason=clipped(str(exc), 200) if exc else "closed",
                         effect="Getvar reads answer unknown until it is back (from_user "
                                "unverified); releases go on over the main session")

    def _reader_coming(self) -> bool:
        """The read session is connecting or logging in (not refused, not in backoff)."""
        reader = self._reader
        return bool(reader.dialing or (reader._connected  # noqa: SLF001 - panoramisk's
                                       and not getattr(reader, "authenticated", False)
                                       and getattr(reader, "authenticated_future", None)))

    def _drop_reader(self) -> None:
        protocol = getattr(self._reader, "protocol", None)
        if protocol is not None and not getattr(protocol, "closed", True):
            protocol.transport.abort()

    async def _check_permissions(self) -> None:
        """Say at login, not at the first release, that Asterisk refuses this user an
        action the watchdog needs. manager.c ``action_listcommands`` (itself open to every
        user) answers one message with a ``<Action>: <synopsis> (Priv: ...)`` line for
        each action the user's ``write=`` allows; a ``Hangup`` refused later is answered
        ``Permission denied``, and the line stays up (retried, a violation risk)."""
        try:
            reply = await self._send({"Action": "ListCommands"})
        except (TimeoutError, ConnectionError):
            return  # the session's own checks (silence, reconnect) see to it
        if not isinstance(reply, Mapping) or reply.get("Response") != "Success":
            return  # an Asterisk without the action: nothing learnt
        refused = tuple(name for name in _NEEDED_ACTIONS if name not in reply)
        self.refused_actions = refused
        if refused:
            self.stats["actions_refused"] += 1
            classes = sorted({_NEEDED_ACTIONS[name] for name in refused})
            _log.error("ami_actions_refused", actions=list(refused),
                       effect=("no line can be released: every Hangup will be refused"
                               if "Hangup" in refused else
                               "calls are not found again after a reconnect"),
                       fix=f"add {','.join(classes)} to write= of callguard's user in "
                           "manager.conf (the shipped file: write = call,reporting), then "
                           "'manager reload'; Asterisk gives a session the rights of its "
                           "login: "
                           + (f"callguard logs in again every {_RELOGIN_REFUSED_S:g} s while "
                              "Hangup is refused" if "Hangup" in refused else
                              "restart callguard (or its AMI session) to take them"))
            if "Hangup" in refused:
                asyncio.get_running_loop().call_later(
                    _RELOGIN_REFUSED_S, self._relogin_refused,
                    getattr(self._manager, "protocol", None))

    def _relogin_refused(self, protocol: Any) -> None:
        """Drop the session Asterisk refuses Hangup (it reconnects at once and asks
        ListCommands again): automated calls stay BLOCKed only as long as manager.conf
        refuses it, not until callguard restarts. Not a later session, nor after close."""
        if (self._manager.stopping or protocol is None
                or protocol is not getattr(self._manager, "protocol", None)
                or getattr(protocol, "closed", True) or "Hangup" not in self.refused_actions):
            return
        self.stats["relogin_refused"] += 1
        _log.info("ami_relogin", reason="Asterisk refuses this session Hangup; a new login "
                                        "gets manager.conf's rights as reloaded")
        self._manager.protocol.transport.abort()  # the same session: checked above

    def _on_disconnect(self, manager: Manager, exc: Exception | None) -> None:
        del manager
        # The read session goes with the main one, and comes back after its next login:
        # never logged in alone (allowmultiplelogin = no would refuse the main one).
        self._drop_reader()
        self.rebuilt = False
        self._login_unseen = True
        self._held = None  # events not applied before a disconnect are lost with it
        self._accepted.clear()  # their Hangup events were lost with the session
        # Events were lost from the last moment the session was known to have delivered
        # everything, not from now: Asterisk drops a session whose writes block past
        # manager.conf ``writetimeout`` (manager.c ``send_string`` -> ``write_error``,
        # ``process_events`` -1, ``session_do`` ends), which a stall of this loop (a GC
        # pause, a slow disk) causes, and the drop is read only once the loop runs again.
        # Counted from then, the release's "upper bound" was none (hast11 (b)).
        complete = self._manager.complete_at
        lag = max(0.0, time.monotonic() - complete) if complete is not None else 0.0
        since = self._clock() - lag
        # A message of that session dropped unread before (``_events_lost``): its picture
        # is now the next login's, the outage begun at the loss at the latest; and its
        # wait no longer stands "due", or a loss on the next session would ask for none.
        if self._lost_at is not None:
            since = min(since, self._lost_at)
        self._lost_at = None
        self._resync_due = False
        self.tracker.disconnected(since)
        self._on_state(False)
        if not self._manager.stopping and self._manager.was_logged_in:
            # only a session that was up: a refused login or a silent banner closes one that
            # never was, and saying "disconnected" at every retry hid why (ami_login_refused)
            _log.warning("ami_disconnected", reason=clipped(str(exc), 200) if exc else "closed")

    # --- work -----------------------------------------------------------------------------

    def _items_lost(self) -> int:
        """Messages of the main session dropped unread so far (``_events_lost``), events
        dropped from a full picture hold aside: those are events, never a picture's item."""
        return self.stats["events_lost"] - self.stats["events_lost_during_picture"]

    async def _rebuild(self, *, retaken: bool = False) -> None:
        """After every login: the live channels, so no call is forgotten or left unfollowed.

        A message dropped unread while the list arrived may have been one of its
        ``CoreShowChannel`` items: read as it is, the picture said that channel was gone,
        and a called party still talking was taken for one who hung up while AMI was away
        — ``reconcile`` hung up the calling legs of a live call (hrev138). Such a picture
        is taken again at once, the events still held (``retaken``); a second one that
        loses a message too is read as it is, so a stream that always loses something
        holds no release back (a channel that can never be read is taken for gone)."""
        session = getattr(self._manager, "protocol", None)
        lost = self._items_lost()
        # Taken again, the list has what is left of the first one's action timeout, counted
        # from the hold's start: the hold ends as late as one picture's could, never two
        # (each up to ``action_timeout_ms``: a called party's Hangup held 2 s more before
        # its release began, hrev141). Unanswered by then, it fails as a first list does:
        # the events are applied and the picture asked again shortly, the lossy one unread.
        limit = self._picture_timeout_s  # longer after a list answered late
        timeout = (self._held_since + limit - time.monotonic()) if retaken else limit
        if timeout <= 0:
            self._rebuild_failed("no time left to list the channels again")
            return
        asked = self._listed_at = time.monotonic()
        try:
            reply = await self._send({"Action": "CoreShowChannels"}, as_list=True,
                                     timeout=timeout, limit=limit)
        except TimeoutError:
            self._picture_timed_out(timeout)
            return
        except ConnectionError as exc:
            self._rebuild_failed(str(exc) or type(exc).__name__)
            return
        self._picture_answered(time.monotonic() - asked)
        if not isinstance(reply, list):  # refused (_ListAction): no picture was taken
            self.stats["rebuild_refused"] += 1
            if not self._refusal_said:
                # said once per login: the retry every second would repeat it
                self._refusal_said = True
                message = redact_digits(str(reply.get("Message", ""))[:200])
                _log.error("ami_rebuild_failed", reason=message or "refused",
                           fix="give callguard's AMI user write = call,reporting in "
                               "manager.conf (CoreShowChannels needs reporting or system), "
                               "'manager reload', then restart callguard: Asterisk keeps a "
                               "session's rights from its login")
            self._replay()
            if self.connected:
                asyncio.get_running_loop().call_later(_REBUILD_RETRY_S, self._rebuild_again)
            return
        if self._items_lost() != lost and not retaken:
            self.stats["pictures_retaken"] += 1
            _log.warning("ami_picture_retaken", lost=self._items_lost() - lost,
                         effect="a message was dropped unread while the live channels were "
                                "listed: the list is asked again before it is read, so a "
                                "channel it left out is not taken for gone")
            if self.connected and getattr(self._manager, "protocol", None) is session:
                self._spawn(self._rebuild(retaken=True))  # the hold (``_held``) goes on
            return
        items = [normalize(m) for m in reply if m.get("Event") == "CoreShowChannel"]
        lots = await self._holding_bridges(
            max(_BRIDGE_LIST_MIN_S, self._held_since + _HOLD_S - time.monotonic()))
        if not self.connected or getattr(self._manager, "protocol", None) is not session:
            # The session went while BridgeList was awaited (hrev91): its picture is of a
            # session gone. Read now, reconcile cleared the outage _on_disconnect had just
            # begun (the next picture bounded nothing by it) and set rebuilt with no
            # session. The next login's rebuild takes its own picture; its hold is its own.
            return
        try:
            effects = self.tracker.reconcile(items, self._clock(), lots=lots)
        except Exception as exc:  # noqa: BLE001 - the session goes on; events still flow
            self._event_failed({"Event": "CoreShowChannel"}, exc)
            self._replay()
            if self.connected:  # taken again, as a refused one: not rebuilt, this node
                # never held the lease (node.py ``_lease_step``) for the session (hrev91)
                asyncio.get_running_loop().call_later(_REBUILD_RETRY_S, self._rebuild_again)
            return
        self.run(effects)
        self._replay()
        self.stats["rebuilds"] += 1
        self.rebuilt = True
        followed = self.tracker.followed
        _log.info("ami_rebuilt", channels=len(items), calls=len(self.tracker.calls),
                  followed=followed)
        if items and not self.tracker.channelvars_seen and not self._warned_channelvars:
            self._warned_channelvars = True
            _log.warning("ami_channelvars_missing",
                         fix="add CALLGUARD_FOLLOW to channelvars in [general] of "
                             "manager.conf; until then calls are found again with Getvar")
        self._on_rebuilt(followed)

    def _picture_timed_out(self, waited: float) -> None:
        """CoreShowChannels unanswered within its timeout: the next picture gets twice
        the time (``_PICTURE_TIMEOUT_MAX_S``), or a list slower than it is never read."""
        self.stats["pictures_timed_out"] += 1
        normal = self.settings.action_timeout_ms / 1000
        self._picture_timeout_s = min(max(normal, _PICTURE_TIMEOUT_MAX_S),
                                      self._picture_timeout_s * 2)
        self._rebuild_failed(f"CoreShowChannels unanswered in {waited:.3f} s; asked again "
                             f"with {self._picture_timeout_s:g} s")

    def _picture_time_normal(self) -> None:
        """CoreShowChannels asked with ``action_timeout_ms`` again, a new slow spell to be
        said (``ami_picture_slow``)."""
        self._picture_timeout_s = self.settings.action_timeout_ms / 1000
        self._picture_slow_said = False

    def _picture_answered(self, took: float) -> None:
        """CoreShowChannels answered after ``took`` seconds: later than
        ``action_timeout_ms``, said once an episode (``ami_picture_slow``) and counted
        (``pictures_slow``); within it, the normal timeout is back."""
        normal = self.settings.action_timeout_ms / 1000
        if took <= normal:
            self._picture_time_normal()
            return
        self.stats["pictures_slow"] += 1
        if self._picture_slow_said:
            return
        self._picture_slow_said = True
        _log.warning("ami_picture_slow", seconds=round(took, 3),
                     action_timeout_s=normal, timeout_s=self._picture_timeout_s,
                     effect="Asterisk lists its channels (CoreShowChannels) later than "
                            "[ami] action_timeout_ms: a Hangup lost meanwhile is released "
                            "only after the list, possibly past the release limit (its "
                            "line-release says within_limit false), and events wait for "
                            "the list",
                     fix="reduce Asterisk's load or channel count; callguard waits up to "
                         f"{max(normal, _PICTURE_TIMEOUT_MAX_S):g} s for the list and "
                         "goes back to action_timeout_ms once it is answered in time")

    def _rebuild_failed(self, reason: str) -> None:
        """The list unanswered in time (or the session gone): the held events are applied,
        and while still logged in the picture is asked again shortly."""
        _log.error("ami_rebuild_failed", reason=reason)
        self._replay()
        if self.connected:  # still logged in: take the picture again shortly
            asyncio.get_running_loop().call_later(_REBUILD_RETRY_S, self._rebuild_again)

    async def _holding_bridges(self, wait: float) -> list[str] | None:
        """The parking lots and holding bridges up now (AMI ``BridgeList``: manager_bridges.c
        ``manager_bridges_list``, registered with authority 0, so no ``write=`` class is
        needed), which a picture cannot name (``CallTracker.reconcile``); None when it is
        refused or not answered within ``wait`` (``_HOLD_S``): the picture is read as
        before."""
        try:
            reply = await self._send({"Action": "BridgeList"}, as_list=True, timeout=wait)
        except (TimeoutError, ConnectionError) as exc:
            _log.warning("ami_bridge_list_failed", reason=str(exc) or type(exc).__name__)
            return None
        if not isinstance(reply, list):
            return None
        return holding_bridges(normalize(m) for m in reply)

    def _events_lost(self) -> None:
        """A message of the main session was dropped unread (too long, no Event header,
        an error reading it): it may have been a called party's Hangup, and no later
        event says that channel went — the calling legs held the line until the next
        reconnect, for ever on a steady session. The picture is taken again, as after a
        reconnect (the tracker's outage bounded from the first loss: every event before
        it was read),
        and ``reconcile`` releases what it finds left of a call whose called party is
        gone. Not more often than every ``_RESYNC_MIN_S``: a peer sending junk makes one
        picture each, never a storm (each holds the events up to ``_HOLD_S``)."""
        self.stats["events_lost"] += 1
        if self._lost_at is None:
            # the outage begins at the first loss (its event arrived now at the latest),
            # not when the picture is asked: that waits up to ``_RESYNC_MIN_S``, longer
            # behind a picture under way, and a release counted from it read short
            self._lost_at = self._clock()
        if self._resync_due:
            return
        self._resync_due = True
        wait = (0.0 if self._resynced is None
                else max(0.0, self._resynced + _RESYNC_MIN_S - time.monotonic()))
        asyncio.get_running_loop().call_later(wait, self._resync,
                                              getattr(self._manager, "protocol", None))

    def _resync(self, protocol: Any) -> None:
        if (not self.connected or protocol is None
                or protocol is not getattr(self._manager, "protocol", None)):
            # that session went: ``_on_disconnect`` took its loss into the outage, and the
            # next login takes a picture (the state is the next session's now)
            return
        if self._held is not None or self._login_unseen:
            # a picture under way, whose list may have been written before the loss
            asyncio.get_running_loop().call_later(_RESYNC_RECHECK_S, self._resync, protocol)
            return
        self._resync_due = False
        self._resynced = time.monotonic()
        self.stats["resyncs"] += 1
        if self._resync_said is None or self._resynced - self._resync_said >= _LATE_SAID_S:
            self._resync_said = self._resynced
            _log.warning("ami_events_lost", lost=self.stats["events_lost"],
                         effect="an AMI message could not be read (ami_message_dropped): "
                                "the live channels are read again (CoreShowChannels), as "
                                "after a reconnect, so a Hangup it held leaves no line up")
        lost_at, self._lost_at = self._lost_at, None
        self.tracker.disconnected(lost_at if lost_at is not None else self._clock())
        self._held = []
        self._held_since = time.monotonic()
        self._spawn(self._rebuild())

    def _rebuild_again(self) -> None:
        if (self.connected and self._held is None
                and (not self.rebuilt or self.tracker.disconnected_at is not None)):
            self._held = []
            self._held_since = time.monotonic()
            self._spawn(self._rebuild())

    async def _tick(self) -> None:
        normal = self.settings.action_timeout_ms / 1000
        while True:
            await asyncio.sleep(_TICK_S)
            # A Ping sent behind a CoreShowChannels is answered after the list (manager.c
            # handles one action at a time), even one whose wait timed out (Asterisk still
            # writes it): while lists are slow, the session is silent as long as one may take
            # — while one may be under way, not ever after: the longer timeout stays until a
            # picture answered in time, and pictures come only after a loss or a login, so a
            # dead session was noticed up to 8 s late for as long as it lasted (hrev164)
            listed = self._listed_at
            listing = (listed is not None
                       and time.monotonic() - listed < self._picture_timeout_s + normal)
            silence = max(normal, self._picture_timeout_s) if listing else normal
            protocol = getattr(self._manager, "protocol", None)
            was_up = self._manager.was_logged_in
            read_silent = self._reader.drop_if_silent(normal)
            if read_silent is not None:
                # a read Asterisk does not answer (a stalled function read): the reads in
                # flight answer unknown, the session is made again; the main one is not
                # touched (``_reader``)
                self.stats["ami_read_silent"] += 1
                _log.warning("ami_silent", seconds=round(read_silent, 1), session="read",
                             effect="read session dropped; reconnecting")
            silent = self._manager.drop_if_silent(silence)
            if silent is not None:
                self.stats["ami_silent"] += 1
                if was_up:
                    _log.warning("ami_silent", seconds=round(silent, 1),
                                 effect="session dropped; reconnecting")
                else:
                    self._login_unanswered(silent, getattr(protocol, "version", None))
            try:
                effects = self.tracker.due(self._clock())
            except Exception as exc:  # noqa: BLE001 - the timer loop must go on
                self._event_failed({"Event": "tick"}, exc)
                continue
            if effects:
                self.run(effects)

    def _login_unanswered(self, silent: float, banner: str | None) -> None:
        """A session dropped before its Login was answered: said once until a login, with
        what to check ("ami_silent" at every retry said neither where nor why)."""
        if self._login_unanswered_said:
            return
        self._login_unanswered_said = True
        _log.error("ami_login_unanswered", host=self.settings.host, port=self.settings.port,
                   seconds=round(silent, 1), banner=clipped(banner, 60) if banner else None,
                   fix=("the peer took the connection but sent no 'Asterisk Call Manager' "
                        "banner: check [ami] host and port name Asterisk's manager "
                        "(manager.conf [general] port, not the TLS or HTTP one)"
                        if not banner else
                        "Asterisk's manager answered the connection but not the Login: an "
                        "Asterisk overloaded or stuck (its manager threads); retrying"))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _hangup(self, effect: HangupChannel) -> None:
        if not self.connected:
            return  # the rebuild after the reconnect decides again
        if self._held is not None or self._login_unseen:
            # The picture after a login is being taken (or the login is not yet handed to
            # ``_on_login``, which asks for it): the only Hangups due now are the
            # tracker's retries for channels named before the login. After an Asterisk
            # restart those names are handed out again from the start (the channel
            # counter restarts), possibly to a new, live call; the picture's reconcile,
            # a moment later, decides again by Uniqueid.
            self.stats["hangup_deferred_to_picture"] += 1
            return
        channel = safe_channel(effect.channel)
        # The action names the channel by its Uniqueid: manager.c ``action_hangup`` ->
        # ``ast_manager_hangup_helper`` looks a Channel not starting with "/" up with
        # ``ast_channel_get_by_name``, which (channelstorage.c
        # ``channelstorage_by_name_prefix_or_uniqueid``, 22.x; channel.c
        # ``ast_channel_get_by_name_prefix`` before it) tries the name, then the Uniqueid. A
        # name never equals a Uniqueid (a name is "Tech/...", a Uniqueid has no "/"), and a
        # Uniqueid is not handed out again after a restart (channel_internal_api.c
        # ``ast_channel_internal_alloc``: the second the channel was created, then a
        # counter — or the id a dialer's Originate gave, ChannelId, the dialer's to keep
        # unique), where a name is: a Hangup by name, sent in the moment between
        # Asterisk's restart and the picture, could hang up a new, live call.
        target = _hangup_target(effect)
        self.stats["hangup_sent"] += 1
        self.tracker.hangup_sent(effect.linkedid, self._clock(), effect.channel)
        try:
            reply = await self._send({"Action": "Hangup", "Channel": target,
                                      "Cause": "16"})
        except (TimeoutError, ConnectionError) as exc:
            self.stats["hangup_unanswered"] += 1
            _log.warning("ami_hangup_unanswered", channel=channel,
                         reason=str(exc) or type(exc).__name__)
            return
        if reply.get("Response") == "Success":
            if len(self._accepted) >= _ACCEPTED_MAX:
                self._accepted.clear()  # events never came for these: measure afresh
            self._accepted[target] = time.monotonic()
            return
        if reply.get("Message") == _GONE:
            # Already gone: hanging up one half of a Local pair takes the other, or the
            # channel ended on its own. The line is free; that is the outcome wanted.
            self.stats["hangup_already_gone"] += 1
            _log.debug("ami_hangup_already_gone", channel=channel, attempt=effect.attempt)
            return
        self.stats["hangup_refused"] += 1
        _log.warning("ami_hangup_refused", channel=channel,
                     message=redact_digits(str(reply.get("Message"))[:200]),
                     attempt=effect.attempt)

    def _tracker_warning(self, name: str, **fields: Any) -> None:
        """What the tracker must say to an admin (``CallTracker.warn``): logged, and counted
        in ``callguard_watchdog_events_total`` under the name less its ``watchdog_``."""
        self.stats[name.removeprefix("watchdog_")] += 1
        _log.warning(name, **fields)

    async def _getvar(self, effect: ReadVariable) -> None:
        value: str | None = None
        on_main = effect.main_ok and not self._reader.ready and self.connected
        if (not self._reader.ready and not self._reader_coming() and not on_main
                and not (self._reader.failed and self.connected)):
            # no read session for now (dropped, waiting its backoff, the main one away):
            # unknown, as a read that fails — never a value (``_reader``)
            self.stats["getvar_no_read_session"] += 1
        else:
            self.stats["getvar_sent"] += 1
            # By Uniqueid where the call knows the channel (as ``_hangup``: manager.c
            # ``action_getvar`` looks it up with ``ast_channel_get_by_name`` too): read by
            # a name handed out again after a restart, a new call's DIALSTATUS or follow
            # variable would speak for this one. A channel the call does not hold (the
            # asking channel before its Newchannel) is named as the gate was told.
            target = self.tracker.uniqueid_of(effect.linkedid, effect.channel)
            action = {"Action": "Getvar", "Channel": target or effect.channel,
                      "Variable": effect.variable}
            if not effect.channel:
                # A function of no channel (an endpoint's from_user, calls.py
                # ``pjsip_endpoint``): manager.c ``action_getvar`` reads it on a dummy
                # channel when no Channel is given, so the called party hanging up
                # meanwhile does not make it "No such channel".
                del action["Channel"]
            try:
                if on_main:
                    # A plain variable asked again (``ReadVariable.main_ok``) while the read
                    # session is down or logging in: its backoff outlasts the retry, and
                    # unread twice the call is not followed again at all.
                    self.stats["getvar_again_on_main_session"] += 1
                    reply = await self._send(action)
                else:
                    reply = await self._read(action)
                if reply.get("Response") == "Success":
                    # An unset variable is "Success" with an empty value, never "(null)":
                    # manager.c ``action_getvar`` answers ``astman_append(s, "Variable:
                    # %s\r\nValue: %s\r\n\r\n", varname, S_OR(varval, ""))`` (read at
                    # gtjoseph/asterisk 5948d4a0, a 22-era tree with the advanced event
                    # filters, and the same line in a 13 LTS tree). "" is "not set"
                    # (``CallTracker.variable_read``: ``_carries_nothing``, no
                    # DIALEDPEERNUMBER); None is unreadable. Only Asterisk 1.x, whose
                    # action_getvar printed ``varval`` unguarded, could say "(null)".
                    value = reply.get("Value", "")
                    value = value if isinstance(value, str) else None
            except (TimeoutError, ConnectionError):
                value = None
        try:
            effects = self.tracker.variable_read(effect.linkedid, effect.channel,
                                                 effect.variable, value, self._clock())
        except Exception as exc:  # noqa: BLE001 - the session goes on
            self._event_failed({"Event": "Getvar"}, exc)
            return
        if effects:
            self.run(effects)

    def _find_number(self, effect: FindNumber) -> None:
        """The decision's number digest, from the record (``recorded.py``), answered on the
        loop; with no record to look in, "none" at once (on the next turn: ``run`` may be
        running inside a tracker call)."""
        if self.numbers is not None:
            self.numbers.find(effect.linkedid, effect.decision_id, self._number_found)
            return
        asyncio.get_running_loop().call_soon(self._number_found, effect.linkedid,
                                             effect.decision_id, None)

    def _number_found(self, linkedid: str, decision_id: str, number_hash: str | None) -> None:
        self.stats["number_found" if number_hash else "number_not_found"] += 1
        try:
            effects = self.tracker.number_found(linkedid, decision_id, number_hash,
                                                self._clock())
        except Exception as exc:  # noqa: BLE001 - the session goes on
            self._event_failed({"Event": "FindNumber"}, exc)
            return
        if effects:
            self.run(effects)

    async def _read(self, action: dict[str, str]) -> Any:
        """A Getvar on the read session (``_reader``), answered within the action timeout —
        the time the read session may still take to log in (just after the main login:
        the picture's reads) counted in it."""
        limit = self.settings.action_timeout_ms / 1000
        asked = time.monotonic()
        reader = self._reader
        if not reader.ready and not reader.failed:
            # logging in (just after the main login): its login, or its failure, decides
            await asyncio.wait_for(reader.settled.wait(), limit)
            if not reader.ready and not reader.failed:
                raise ConnectionError("AMI read session not connected")
        if not reader.ready:
            # It cannot log in (manager.conf allowmultiplelogin = no for this user,
            # a limit on connections, a secret changed since the main login): read on the
            # main session, as before two sessions — with its risk, said once (a read
            # Asterisk is slow on holds a Hangup behind it) — rather than lose every read:
            # the follow variable that finds a call again, DIALSTATUS and DIALEDPEERNUMBER
            # after an outage (a release), the from_user (the caller ID).
            self.stats["getvar_on_main_session"] += 1
            if not self._main_reads_said:
                self._main_reads_said = True
                _log.warning("ami_reads_on_main_session",
                             effect="Getvar reads go on the main AMI session until the read "
                                    "session logs in: a read Asterisk is slow to answer "
                                    "delays a release Hangup sent behind it",
                             fix="let callguard's AMI user log in twice per node "
                                 "(manager.conf allowmultiplelogin = yes in its section)")
            return await self._send(action, timeout=max(0.001,
                                                        limit - (time.monotonic() - asked)))
        future = reader.send_action(action)
        return await asyncio.wait_for(future, max(0.001, limit - (time.monotonic() - asked)))

    async def _send(self, action: dict[str, str], *, as_list: bool | None = None,
                    timeout: float | None = None, limit: float | None = None) -> Any:
        """The action's answer within ``timeout``, never past ``limit`` (by default
        ``action_timeout_ms``; a picture's may be longer: ``_PICTURE_TIMEOUT_MAX_S``)."""
        if not self.connected:
            raise ConnectionError("AMI not connected")
        if as_list:
            future = self._manager.send_action(_ListAction(action, as_list=True), as_list=True)
        else:
            future = self._manager.send_action(action, as_list=as_list)
        if limit is None:
            limit = self.settings.action_timeout_ms / 1000
        return await asyncio.wait_for(future, limit if timeout is None else min(timeout, limit))
