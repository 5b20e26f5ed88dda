"""The FastAGI front: Asterisk asks, callguard answers within its time budget, or BLOCKs.

Thin by design: turn the header block into a ``CheckRequest``, ask the gate, answer with
one ``EXEC MSet``. Everything that can go wrong at the edge is bounded: source addresses
(allowlist), concurrent sessions (cap), header size and time, the decision's time budget
(Asterisk never times out a silent FastAGI server, so the budget is ours), the reply wait.
A session that cannot finish ends in a closed socket, and the shipped dialplan treats a
missing ``CALLGUARD_VERDICT`` as BLOCK — never ALLOW.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import structlog
from panoramisk.fast_agi import Application

from callguard.decision import Decision
from callguard.errors import CallguardError
from callguard.fdlimit import OPT_OUT_HEADROOM
from callguard.fronts.dual_stack import (
    as_written,
    dual_stack_listener,
    plain_network,
    source_allowed,
)
from callguard.fronts.fastagi import contract as c
from callguard.fronts.fastagi.kindlog import KindLog
from callguard.fronts.fastagi.settings import FastAgiSettings
from callguard.fronts.fastagi.wire import (
    AGI_LINE_MAX,
    CHECK_HANGUP,
    AgiChannel,
    AmbiguousHeaders,
    AnswerTooLong,
    ChannelGone,
    HeaderError,
    WriteStalled,
    bound_writes,
    close_bounded,
    encode_mset,
    quoted,
    read_headers,
    send_bounded,
)
from callguard.fronts.opt_out import opt_out_reason
from callguard.gate import RELEASE_SKIPPED, TIME_BUDGET, CheckRequest, Gate
from callguard.memo import remember
from callguard.numbers.redact import clipped, has_digit_run, redact_digits
from callguard.policy import Verdict, refusal
from callguard.policy.core import FAIL_CLOSED, INTERNAL_ERROR, NOT_DIALABLE

__all__ = ["FastAgiServer", "FastAgiSettings", "liveness_warning"]

TIMEOUT_RULE = TIME_BUDGET
UNKNOWN_ROUTE_RULE = "callguard:unknown-route"
BUSY_RULE = "callguard:busy"
BAD_REQUEST_RULE = "callguard:bad-agi-request"
HUNG_UP_RULE = "callguard:hung-up"
_QUOTED_REPLY = 300  # characters of a refused reply logged (a 520 block's usage text)
_REFUSED_LOG_S = 60.0  # a refused source is logged at most once a minute
_REFUSED_LOG_SOURCES = 32  # sources remembered for that (past them: one line a minute)
_REASON_MEMO = 4096  # reasons remembered redacted (a BLOCK's time of day makes them vary)
_MIN_BACKLOG = 100  # asyncio's own default listen backlog
_DEAD_EXTENSION = "h"  # run only on a channel being hung up (``_dead_channel``)
_log = structlog.get_logger("callguard.fastagi")


def liveness_warning(settings: FastAgiSettings, *, ami: bool) -> str | None:
    """What ``config check`` and serve's start say when ``ask_liveness`` is on: the question
    (``CHECK_HANGUP``) is answered only with func_channel loaded in Asterisk. res_agi.c
    ``handle_getvariable`` reads a name ending in ")" with ``ast_func_read``; with no
    CHANNEL function that read fails and the reply is ``200 result=0``, which says neither
    live nor hung up: every check is then BLOCKed (``liveness_unknown``). callguard cannot
    see Asterisk's modules from here; ``ami``: the AMI is configured, so the operator can
    ask it (``ModuleCheck``) — callguard does not (the watchdog owns that connection)."""
    if not settings.ask_liveness:
        return None
    how = ("check it over the AMI: 'Action: ModuleCheck' with 'Module: func_channel' "
           "(Response: Success with its version when loaded)" if ami else
           "check it on the Asterisk console: 'module show like func_channel'")
    return ("[fastagi] ask_liveness = true: before each check callguard asks Asterisk "
            f"'{CHECK_HANGUP}', which only func_channel answers; without func_channel loaded "
            "Asterisk replies '200 result=0' and EVERY check is BLOCKed "
            f"(callguard:bad-agi-request, counted liveness_unknown); {how}, or set "
            "ask_liveness = false")


def _refused_sources_log() -> KindLog:
    """``fastagi_refused_source``: a line a minute per source, ``refused`` the connections
    since its last one; ``_REFUSED_LOG_SOURCES`` sources remembered, all others under
    ``source`` "*" (a scan cannot fill the log, nor the table)."""
    return KindLog(_log, "fastagi_refused_source", _REFUSED_LOG_S, kind_field="source",
                   count_field="refused", period_field=None, kinds=_REFUSED_LOG_SOURCES)


def _connections_capped_log() -> KindLog:
    """``fastagi_connections_capped``: a line a minute, ``refused`` the connections closed
    at ``max_connections`` since the last one."""
    return KindLog(_log, "fastagi_connections_capped", _REFUSED_LOG_S, kind_field=None,
                   count_field="refused", period_field=None)


@dataclass
class FastAgiStats:
    """Counters an operator (and the metrics endpoint) can read."""

    counts: Counter[str] = field(default_factory=Counter)
    active: int = 0  # sessions past their header block
    connected: int = 0  # open sockets


class FastAgiServer(Application):  # type: ignore[misc]
    """panoramisk's Application with a bounded handler and callguard's two routes."""

    def __init__(self, gate: Gate, settings: FastAgiSettings,
                 follow: Callable[[Decision], str | None] | None = None) -> None:
        super().__init__(loop=asyncio.get_running_loop())
        self.gate = gate
        self.settings = settings
        self._follow = follow  # the watchdog's __CALLGUARD_FOLLOW value for an ALLOW
        self.stats = FastAgiStats()
        self._networks = [plain_network(s) for s in settings.allowed_sources]
        self._server: asyncio.Server | None = None
        # ALLOWs being answered, by decision id: what a withdrawal gives back (_withdraw).
        self._answering: dict[str, Decision] = {}
        self._reasons: dict[str, str] = {}  # verdict reason -> as answered (``_reason``)
        # The front's once-a-minute lines, one mechanism (``KindLog``).
        self._refused_log = _refused_sources_log()
        self._capped_log = _connections_capped_log()
        self._bad_headers = KindLog(_log, "fastagi_bad_headers", _REFUSED_LOG_S)
        self.add_route(c.ROUTE_CHECK, self._check)
        self.add_route(c.ROUTE_OPTOUT, self._optout)

    async def start(self) -> None:
        """Listen; the StreamReader limit bounds the header block.

        The listen backlog is ``max_connections`` (at least asyncio's 100; the kernel caps
        it at net.core.somaxconn): a burst of calls met while the loop is busy waits in the
        kernel's queue. Past asyncio's 100 Linux dropped the handshakes, and Asterisk,
        which gives a connect MAX_AGI_CONNECT, 2000 ms (res_agi.c ``handle_connection``),
        ended those calls AGISTATUS=FAILURE: BLOCKed as "callguard not reached" after a
        stall of about a second (one retransmitted SYN, at 1 s)."""
        backlog = max(_MIN_BACKLOG, self.settings.max_connections)
        sock = dual_stack_listener(self.settings.host, self.settings.port)
        if sock is None:
            self._server = await asyncio.start_server(
                self.handler, self.settings.host, self.settings.port,
                limit=self.settings.max_header_bytes, reuse_address=True, backlog=backlog)
        else:  # host "::": IPv4 Asterisks too (asyncio alone would set IPV6_V6ONLY)
            self._server = await asyncio.start_server(
                self.handler, sock=sock, limit=self.settings.max_header_bytes,
                backlog=backlog)
        _log.info("fastagi_listening", host=self.settings.host, port=self.port)

    @property
    def port(self) -> int:
        """The bound port (useful when configured as 0)."""
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        """Stop accepting; sessions under way finish on their own deadlines."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def _allowed(self, writer: asyncio.StreamWriter) -> bool:
        peer = writer.get_extra_info("peername")
        try:
            source = str(peer[0])
        except (TypeError, IndexError):
            source = "?"
        if source != "?" and source_allowed(self._networks, source):
            return True
        self._log_refused(source)
        return False

    def _log_capped(self) -> None:
        """Say that a connection was closed at ``max_connections``, a line a minute at most
        (``refused``: closed since the last line; ``_connections_capped_log``). Closed
        unanswered, the call's dialplan says only ``callguard:no-answer``: without this
        line nothing tells the operator that sockets still sending their header block
        (slow or idle peers) held them all."""
        self._capped_log.note(
            "", cap=self.settings.max_connections,
            fix="peers hold sockets without finishing their header block (see "
                "header_timeout in the counts); raise [fastagi] max_connections "
                "only if the open-files limit allows it")

    def _log_refused(self, source: str) -> None:
        """Say that ``source`` was refused: an Asterisk missing from ``allowed_sources``
        otherwise shows only ``callguard:no-answer`` on every call, and the operator no
        address to add. A line a minute per source at most (``refused`` counts the
        connections since its last line), and a minute's line for all others once
        ``_REFUSED_LOG_SOURCES`` are remembered: a scan cannot fill the log
        (``_refused_sources_log``). The address only, never a byte the peer sent, as
        ``allowed_sources`` would list it (``as_written``): on ``host = "::"`` an IPv4
        Asterisk was named ``::ffff:10.1.2.3``, where SIP's and HTTP's lines (StrangerLog)
        name ``10.1.2.3``."""
        self._refused_log.note(
            as_written(source),
            fix="add this Asterisk's address to [fastagi] allowed_sources, or "
                "keep the peer away from the FastAGI port")

    async def handler(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """One FastAGI session. Replaces panoramisk's handler (see wire.py for why)."""
        counts = self.stats.counts
        counts["connections"] += 1
        if not self._allowed(writer):
            counts["refused_source"] += 1
            writer.close()
            return
        if self.stats.connected >= self.settings.max_connections:
            counts["refused_busy"] += 1
            writer.close()
            self._log_capped()
            return
        self.stats.connected += 1
        bound_writes(writer)
        try:
            await self._serve(reader, writer)
        except WriteStalled as exc:
            self._stalled(exc)
        except HeaderError as exc:
            if exc.kind == "probe":  # `callguard health`, a HEALTHCHECK, a balancer's probe
                counts["probe"] += 1  # every 15 s: no warning, nothing wrong
                _log.debug("fastagi_probe")
                return
            counts["bad_headers"] += 1
            counts[f"header_{exc.kind}"] += 1
            # One line per kind a minute at most, with a count (``KindLog``): each peer's
            # was a line, so 400 silent connections wrote 400; the counters count each.
            # Answered or not, apart: an answered too-large block's line stood for the
            # unanswered ones of its minute (their dialplan got no answer at all).
            self._bad_headers.note(exc.kind, apart="answered" if exc.ended else "",
                                   reason=redact_digits(str(exc)), answered=exc.ended,
                                   **({"skipped": exc.skipped} if exc.skipped else {}))
            if exc.ended:
                await self._refuse_unread(writer)
        except (ConnectionError, TimeoutError, OSError) as exc:
            counts["reply_failed"] += 1
            _log.warning("fastagi_session_failed", error=type(exc).__name__)
        finally:
            # Counted until closed: ``close_bounded`` may wait (the peer's acknowledgement,
            # unsent bytes), the socket open, and ``max_connections`` bounds open sockets
            # (sized under the open-files limit); the stop's drain waits for it too.
            try:
                if not await close_bounded(writer, self.settings.reply_timeout_ms / 1000):
                    counts["close_aborted"] += 1
            finally:
                self.stats.connected -= 1

    async def _refuse_unread(self, writer: asyncio.StreamWriter) -> None:
        """A block larger than ``max_header_bytes`` whose end came, or that was read no
        further (``HeaderError.ended``; wire.py ``_skip_block``: Asterisk reads the answer
        once its writes give up): Asterisk waits for a command, so it is answered BLOCK
        with the reason (and opt-out
        FAILED: its route was not read), as at the session cap — nothing decided, nothing
        recorded, no slot held for the reply. The shipped dialplan then logs that reason,
        not "gave no usable answer" with a hint at ``allowed_sources``."""
        limit = self.settings.max_header_bytes
        answer = {
            c.VAR_VERDICT: "BLOCK",
            c.VAR_RULE: BAD_REQUEST_RULE,
            c.VAR_REASON: f"the AGI header block is larger than [fastagi] max_header_bytes "
                          f"({limit} bytes): not read, nothing decided; call not placed",
            c.VAR_CAUSE: str(self.settings.block_cause),
            c.OPTOUT_RESULT: "FAILED",
        }
        try:
            await send_bounded(writer, encode_mset(answer).encode() + b"\n",
                               self.settings.reply_timeout_ms / 1000)
        except (WriteStalled, ConnectionError, OSError):
            self.stats.counts["reply_failed"] += 1
            return
        self.stats.counts["too_large_answered"] += 1

    def _stalled(self, exc: WriteStalled) -> None:
        """The peer stopped reading while callguard wrote (``send_bounded``): the
        connection was aborted, the session ends, others go on. What was decided stays
        as recorded, and the log says the answer's fate is unknown: a recorded ALLOW may
        have been read and run by Asterisk before it stopped reading (its MSet line
        whole in Asterisk's buffer), so it stays on record and counted against its caps
        (an over-count blocks a lawful call at worst; a withdrawal on record would
        under-count a call Asterisk may have placed). A BLOCK, or no answer, places no
        call either way (the shipped dialplan dials only on CALLGUARD_VERDICT ALLOW)."""
        counts = self.stats.counts
        counts["write_stalled"] += 1
        if exc.verdict == "ALLOW":
            counts["answer_delivery_unknown"] += 1
            effect = ("the ALLOW stays on record and counted against its caps: Asterisk "
                      "may have read it before it stopped reading")
        elif exc.verdict:
            effect = "the BLOCK stays on record; no call is placed on it either way"
        else:
            effect = ("what was recorded stands as written (a withdrawal stays unconfirmed, "
                      "an opt-out stays recorded); nothing else was decided here")
        # The id under a key the log redactor leaves whole (SAFE_KEYS); never a number.
        _log.warning("fastagi_write_stalled", error=str(exc), verdict=exc.verdict or None,
                     decision_id=exc.decision_id or None, effect=effect,
                     fix="Asterisk stopped reading its FastAGI socket: a wedged Asterisk, "
                         "or a peer that is no Asterisk")

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # Idle or slow peers hold only a socket until the header timeout; the session cap
        # counts those that sent a whole header block, so they cannot starve real calls.
        refused: str | None = None
        gone = False
        try:
            headers = await read_headers(reader, self.settings.header_timeout_ms / 1000,
                                         limit=self.settings.max_header_bytes)
        except AmbiguousHeaders as exc:  # answered: BLOCK, or opt-out FAILED
            headers, refused = exc.headers, str(exc)
            self.stats.counts[f"header_{exc.kind}"] += 1
            _log.warning("fastagi_ambiguous_headers", reason=redact_digits(refused))
        except ChannelGone as exc:
            headers, gone, refused = exc.headers, True, exc.refused
            if exc.kind:
                self.stats.counts[f"header_{exc.kind}"] += 1
        script = headers.get("agi_network_script", "").split("?", 1)[0]
        # An opt-out has headroom of its own (as many sessions again): checks filling the
        # cap must not cost a called party's do-not-call request (64.1200(d)(3)), which is
        # made once, often by a caller about to hang up, who never hears a FAILED.
        cap = self.settings.max_sessions * (OPT_OUT_HEADROOM if script == c.ROUTE_OPTOUT
                                            else 1)
        if self.stats.active >= cap:
            self.stats.counts["refused_busy"] += 1
            # BLOCK with the reason, not a bare close (the dialplan's NOTICE line would say
            # nothing); decided and recorded never, and no slot held for Asterisk's reply.
            await send_bounded(writer, encode_mset(self._busy(script)).encode() + b"\n",
                               self.settings.reply_timeout_ms / 1000)
            return
        self.stats.active += 1
        try:
            if gone and script == c.ROUTE_CHECK:
                await self._hung_up(headers, refused=refused)
                return
            # An opt-out whose channel went is still recorded: the request was made.
            await self._answer(headers, reader, writer, refused)
        finally:
            self.stats.active -= 1

    async def _hung_up(self, headers: dict[str, str], withdraws: str | None = None,
                       *, closed: bool = False, asked: bool = False,
                       refused: str | None = None) -> None:
        """Asterisk said the channel is gone before we answered (``ChannelGone``): AGI()
        has returned -1 and no Dial() follows, so the call is not decided (an ALLOW would
        be a record of a call cleared that Asterisk never placed, and would take a slot
        of the number's call-frequency cap) but recorded BLOCK with the reason; nothing is
        sent (AGIEXITONHANGUP: Asterisk has closed). When the HANGUP came only while an
        ALLOW was being answered, the BLOCK withdraws it (``withdraws``: reports count
        the call once, as this BLOCK) and its cap reservation is given back.

        ``closed``: no HANGUP line, but Asterisk closed the socket before confirming the
        answer (AGISIGHUP=no writes none). res_agi.c ``run_agi`` leaves its loop, and so
        closes the FastAGI socket, only once our side closed (EOF), or at once after the
        hangup is noticed with AGIEXITONHANGUP (``if (exit_on_hangup) break;``: AGISTATUS
        HANGUP, ``agi_exec_full`` returns -1), or on a failure (``No channel, no fd?``:
        AGISTATUS FAILURE); the shipped dialplan dials only on AGISTATUS SUCCESS, so no
        Dial() follows this ALLOW: it was never delivered.

        ``asked``: Asterisk closed while callguard asked whether the channel is live
        (``AgiChannel.hung_up``), before anything was decided: as with the block.

        ``refused``: the block's arguments were refused as well (``ChannelGone.refused``):
        the call is recorded as hung up (what ended it: no Dial() follows) and the reason
        names the refusal too; it was recorded ``bad-agi-request`` alone, as if Asterisk
        had been waiting for the answer."""
        self.stats.counts["hung_up"] += 1
        if withdraws:
            self.stats.counts["withdrawn"] += 1
        if asked:
            why = ("the channel hung up as callguard asked Asterisk whether it was live "
                   "(Asterisk closed the FastAGI connection before it answered: AGI() left "
                   "on a hangup); not decided, call not placed")
        elif closed:
            why = ("Asterisk closed the FastAGI connection while callguard answered, before "
                   "it confirmed the answer (AGI() left on a hangup: AGISTATUS HANGUP, or "
                   "failed): the session's first answer is withdrawn; call not placed")
        elif withdraws:
            why = ("the channel hung up while callguard answered (Asterisk's HANGUP came "
                   "before its reply): the session's first answer is withdrawn; AGI() ends "
                   "HANGUP, call not placed")
        else:
            why = ("the channel hung up before callguard answered (Asterisk's HANGUP or its "
                   "close came with the AGI header block: a caller who gave up, or the "
                   "dialplan's backstop while callguard was stalled); AGI() had returned, "
                   "call not placed")
        if refused:
            self.stats.counts["bad_request"] += 1
            why = f"{why}; its arguments were refused as well: {refused}"
        await self._withdraw(self._request(headers, withdraws),
                             refusal(HUNG_UP_RULE, FAIL_CLOSED, why))
        self.stats.counts["block"] += 1
        _log.info("fastagi_hung_up_while_answering" if withdraws
                  else "fastagi_hung_up_before_answer", route=c.ROUTE_CHECK,
                  closed=closed)

    async def _withdraw(self, request: CheckRequest, verdict: Verdict) -> Decision:
        """Record the BLOCK; when it withdraws an ALLOW being answered, give back that
        ALLOW's cap reservation once the BLOCK is on record (``Gate.withdraw``: a crash
        between the two over-counts, never the other way; a BLOCK not recorded, or a
        release not written, keeps the count, logged by the gate)."""
        withdrawn = self._answering.pop(request.withdraws or "", None)
        decision, released = await self.gate.withdraw(request, verdict, withdrawn,
                                                      started=time.perf_counter())
        if released is not None:
            self.stats.counts["cap_released" if released else "cap_release_failed"] += 1
        return decision

    async def _answer(self, headers: dict[str, str], reader: asyncio.StreamReader,
                      writer: asyncio.StreamWriter, refused: str | None) -> None:
        script = headers.get("agi_network_script", "")
        name = script.split("?", 1)[0]
        route = self._route.get(name)
        channel = AgiChannel(headers, reader, writer,
                             reply_timeout=self.settings.reply_timeout_ms / 1000)
        if route is None:
            variables = self._unknown_route(script)
        else:
            refused = refused or _no_args(name, headers) or _unexpected_args(name, headers)
            hung_up: bool | None = False
            # Asked with the arguments refused too: a hangup handler's check is on a dead
            # channel whatever its arguments, and the record says so (``_dead_channel``).
            if (self.settings.ask_liveness and name == c.ROUTE_CHECK
                    and headers.get("agi_extension") != _DEAD_EXTENSION):
                try:
                    hung_up = await channel.hung_up()
                except TimeoutError:
                    hung_up = None
                except (ConnectionError, OSError):
                    # Asterisk closed as we asked (AGIEXITONHANGUP: HANGUP, then its close).
                    await self._hung_up(headers, asked=True)
                    return
                if hung_up and channel.tail_seen:
                    # A cut block's tail came before the reply: its lines are a caller's
                    # (a "HANGUP" among them too: run_agi writes its own only after the
                    # whole block), and so may the "dead" answer be. Refused, not hung up.
                    hung_up = False
                if hung_up is None:
                    self.stats.counts["liveness_unknown"] += 1
                    refused = refused or (
                        f"Asterisk did not say whether the channel is live ({CHECK_HANGUP} "
                        "answered neither 0 nor 1 in time: is func_channel loaded?)")
                elif not hung_up and channel.tail_seen and refused is None:
                    # The rest of a cut block came before the question's reply (``send_command``):
                    # known before deciding, so refused now, not decided on arguments a value's
                    # line breaks may have forged and then withdrawn (``_late_tail``). The whole
                    # tail precedes Asterisk's reply (setup_env, then run_agi): the flag is
                    # spent; more tail later sets it again and withdraws as before.
                    channel.tail_seen = False
                    self.stats.counts["header_cut"] += 1
                    refused = ("the AGI header block went on after its blank line, seen before "
                               "deciding (a blank line inside a dialplan value cut it short): "
                               "its arguments may be forged")
            if hung_up:
                variables = await self._dead_channel(self._request(headers), asked=True,
                                                     refused=refused)
            else:
                variables = await route(headers, refused)
        # An ALLOW registered in ``_answering`` (``_check``) leaves it on every path.
        decision_id = variables.get(c.VAR_DECISION_ID, "")
        try:
            await self._deliver(name, headers, variables, decision_id, channel)
        finally:
            self._answering.pop(decision_id, None)

    async def _deliver(self, name: str, headers: dict[str, str], variables: dict[str, str],
                       decision_id: str, channel: AgiChannel) -> None:
        """Send the answer, confirm it, withdraw it when it cannot stand (``_answer``)."""
        if name == c.ROUTE_OPTOUT:  # always a route (``__init__``)
            variables[c.OPTOUT_ID] = str(uuid.uuid4())
        try:
            command = encode_mset(variables)
        except AnswerTooLong as exc:
            variables = await self._too_long(name, headers, variables, exc)
            decision_id = variables.get(c.VAR_DECISION_ID, "")
            command = encode_mset(variables)
        # The answer's own reply is the one counted; a withdrawing answer's is not.
        withdrawn = closed = False
        try:
            reply, confirmed = await self._send_confirmed(channel, variables, command)
            if channel.tail_seen or not confirmed:
                withdrawn = True
                await self._late_tail(name, headers, variables, channel)
        except TimeoutError:
            raise
        except WriteStalled as exc:
            # Asterisk stopped reading: the answer's fate is unknown (``_stalled``).
            exc.decision_id, exc.verdict = decision_id, variables.get(c.VAR_VERDICT, "")
            if name == c.ROUTE_OPTOUT or withdrawn:
                # An opt-out is recorded before its answer; a withdrawal's BLOCK is on
                # record already, saying the call is placed only if Asterisk kept the
                # first answer (``_give_back`` keeps the count: unconfirmed).
                exc.verdict = ""
            raise
        except (ConnectionError, OSError):
            # Asterisk closed (or reset) before confirming the answer: see _hung_up.
            closed = True
            raise
        finally:
            if ((channel.hangup_seen or closed) and not withdrawn and name == c.ROUTE_CHECK
                    and variables.get(c.VAR_VERDICT) == "ALLOW"):
                # Asterisk's HANGUP came while we answered: AGI() ends HANGUP (run_agi
                # keeps AGI_RESULT_HANGUP once needhup was set) and no Dial() follows.
                await self._hung_up(headers, withdraws=decision_id or None,
                                    closed=closed and not channel.hangup_seen)
        self.stats.counts["answered"] += 1
        if reply.get("status_code") != 200 or "error" in reply:
            self.stats.counts["answer_not_accepted"] += 1
            _log.warning("fastagi_answer_not_accepted",
                         reply=clipped(str(reply.get("msg") or reply), _QUOTED_REPLY))

    async def _too_long(self, route: str, headers: dict[str, str],
                        variables: dict[str, str], exc: AnswerTooLong) -> dict[str, str]:
        """The answer does not fit on run_agi's line even with its free text cut
        (``encode_mset``: res_agi.c ``run_agi`` reads a command with ``fgets`` into
        ``buf[AGI_BUF_LEN]``; a longer line runs cut, its rest as a next command): it is
        never sent. What goes instead, fail closed, and fits (a BLOCK's only uncut values
        are its verdict, id and cause): a check's ALLOW is withdrawn by a recorded BLOCK
        ``callguard:internal-error`` naming it (``withdraws``) and its cap reservation
        given back (``_withdraw``): nothing of it reached Asterisk, so the record says
        what the channel gets. An opt-out, recorded already, is answered FAILED (the
        agent records it again; an entry only ever blocks). Any other answer keeps its
        verdict's fields but the reason. No answer of today's can be too long (wire.py
        ``AnswerTooLong``); before this the session ended unanswered with the ALLOW
        recorded and counted (the exception escaped the handler)."""
        self.stats.counts["answer_too_long"] += 1
        first = variables.get(c.VAR_DECISION_ID, "")
        why = (f"callguard's answer did not fit on one AGI line ({exc.size} bytes with "
               f"its free text cut, run_agi reads {AGI_LINE_MAX}): never sent")
        _log.error("fastagi_answer_too_long", route=route, decision_id=first or None,
                   error=str(exc), effect=(
                       "answered BLOCK (an ALLOW withdrawn by a recorded BLOCK, its cap "
                       "reservation given back); an opt-out answered FAILED"),
                   fix="a value the answer carries uncut (FOLLOW, the caller ID) grew "
                       "past what Asterisk reads on one line: report it")
        if route == c.ROUTE_OPTOUT:
            self.stats.counts["optout_failed"] += 1
            return {c.OPTOUT_RESULT: "FAILED", c.VAR_REASON: f"{why}; record it again",
                    c.OPTOUT_ID: variables[c.OPTOUT_ID]}
        if route == c.ROUTE_CHECK and variables.get(c.VAR_VERDICT) == "ALLOW" and first:
            decision = await self._withdraw(self._request(headers, first), refusal(
                INTERNAL_ERROR, FAIL_CLOSED,
                f"{why}; the ALLOW decided for this call is withdrawn by this BLOCK, sent "
                "in its place; call not placed"))
            self.stats.counts["block"] += 1
            self.stats.counts["withdrawn"] += 1
            return self._variables(decision)
        kept = {name: variables[name] for name in (c.VAR_DECISION_ID, c.OPTOUT_RESULT)
                if name in variables}
        return {c.VAR_VERDICT: "BLOCK", c.VAR_RULE: variables.get(c.VAR_RULE) or
                INTERNAL_ERROR, c.VAR_REASON: f"{why}; call not placed",
                c.VAR_CAUSE: str(self.settings.block_cause), **kept}

    async def _send_confirmed(self, channel: AgiChannel, variables: dict[str, str],
                              command: str) -> tuple[dict[str, Any], bool]:
        """Send the answer and read Asterisk's reply, then confirm Asterisk wrote that
        reply (``AgiChannel.confirm`` on the answer's fresh id): the reply and whether it
        is confirmed. An answer with no id (an unknown route's BLOCK, decided on no
        argument) needs no confirming. A reply or a confirmation that does not come in
        time leaves unknown what was read for what: unconfirmed, so withdrawn while the
        socket is open (a closed one raises, as before: nothing more can be said)."""
        name = next((n for n in (c.VAR_DECISION_ID, c.OPTOUT_ID) if variables.get(n)), "")
        if not name:
            return await channel.send_command(command), True
        reply: dict[str, Any] = {"error": "AGITimeout", "msg": "no reply in time"}
        try:
            reply = await channel.send_command(command)
            confirmed = await channel.confirm(name, variables[name])
        except TimeoutError:
            confirmed = False
        if not confirmed:
            self.stats.counts["answer_unconfirmed"] += 1
        return reply, confirmed

    async def _late_tail(self, route: str, headers: dict[str, str],
                         variables: dict[str, str], channel: AgiChannel,
                         ) -> dict[str, Any] | None:
        """The answer is not confirmed: the tail of a cut block came only after it
        (``AgiChannel.tail_seen``), or what was read as Asterisk's reply was not (text or a
        reply's line from a value came before Asterisk confirmed the answer's id).

        The answer was decided on arguments a value's line breaks may have forged; the
        dialplan reads the variables only when the session ends, so a second ``MSet``
        still replaces them: a check is answered BLOCK, recorded right after the first
        answer's record and naming it (``withdraws``: reports count the BLOCK as the call,
        not the withdrawn answer; ``evidence`` shows it withdrawn). A reason never carries
        the id: a UUID's digit groups read as a number to the redaction. An
        opt-out is answered FAILED (its campaign may have been forged, so the right
        seller may not have it); what it wrote stays. Returns the reply to the second
        answer, or None when there was none."""
        if channel.tail_seen:
            self.stats.counts["header_cut"] += 1
            self.stats.counts["header_cut_late"] += 1
            seen = ("the AGI header block went on after its blank line, seen only after the "
                    "answer")
        else:
            seen = ("Asterisk did not confirm the answer: what came back before its "
                    "confirmation was no reply of Asterisk's (a line break inside a dialplan "
                    "value?), or nothing came in time")
        # The id under a key the log redactor leaves whole (SAFE_KEYS): a decision id's
        # digit runs ("…a2-9271-7775-…") read as a phone number under any other key.
        _log.warning("fastagi_cut_block_after_answer" if channel.tail_seen
                     else "fastagi_answer_unconfirmed", route=route,
                     **({"optout_id": variables[c.OPTOUT_ID]} if c.OPTOUT_ID in variables
                        else {"decision_id": variables.get(c.VAR_DECISION_ID, "")}))
        if route == c.ROUTE_OPTOUT:
            # The seller the opt-out went to may have been forged: the agent must record
            # it again (what was written stays: a do-not-call entry only ever blocks).
            failed = {c.OPTOUT_RESULT: "FAILED", c.VAR_REASON: (
                f"{seen}: the campaign may not be the one asked for; record it again")}
            self.stats.counts["optout_failed"] += 1
            self.stats.counts["withdrawn"] += 1
            again: dict[str, Any] = await channel.send_command(encode_mset(failed))
            return again
        if route != c.ROUTE_CHECK:
            return None
        withdrawn = variables.get(c.VAR_DECISION_ID) or None
        why = (f"{seen} (a blank line inside a dialplan value cut it short)"
               if channel.tail_seen else seen)
        allow = self._answering.pop(withdrawn or "", None)
        decision, recorded = await self.gate.withdraw(
            self._request(headers, withdrawn), refusal(
                BAD_REQUEST_RULE, FAIL_CLOSED,
                # Written before Asterisk confirms the BLOCK: "not placed" is not known
                # here (an unconfirmed withdrawal keeps the count and logs
                # fastagi_withdrawal_unconfirmed).
                f"{why}: the session's first answer is withdrawn by this BLOCK, sent in "
                "its place; the call is placed only if Asterisk kept the first answer "
                "(then the log says fastagi_withdrawal_unconfirmed)"),
            None, started=time.perf_counter(), release=False)
        self.stats.counts["block"] += 1
        self.stats.counts["withdrawn"] += 1
        block = self._variables(decision)
        block[f"__{c.VAR_FOLLOW}"] = ""  # the first answer may have set it
        confirmed = False
        try:
            reply: dict[str, Any] = await channel.send_command(encode_mset(block))
            confirmed = await self._confirmed(channel, decision.decision_id)
        finally:
            await self._give_back(allow, recorded=bool(recorded), confirmed=confirmed)
        return reply

    async def _confirmed(self, channel: AgiChannel, decision_id: str) -> bool:
        """Whether Asterisk confirmed the withdrawing BLOCK: ``GET VARIABLE`` reads back
        the BLOCK's own decision id (``AgiChannel.confirm``), so the channel holds the BLOCK
        and not the ALLOW. No confirmation in time: not confirmed. Lines before it do not
        unconfirm it (``strict=False``): an Asterisk slower than ``reply_timeout`` on the
        first answer puts that reply, then the BLOCK's own, before the read-back, and only
        the BLOCK's MSet, run after the ALLOW's, can have set the id it reads."""
        try:
            return await channel.confirm(c.VAR_DECISION_ID, decision_id, strict=False)
        except TimeoutError:
            return False

    async def _give_back(self, allow: Decision | None, *, recorded: bool,
                         confirmed: bool) -> None:
        """The late-tail withdrawal's reservation: given back only when the BLOCK is on
        record AND Asterisk confirmed it. Asterisk had the ALLOW before the BLOCK went
        out (res_agi.c ``setup_env`` writes the whole block, then ``run_agi`` reads and
        runs our first MSet): a BLOCK it did not take (refused, unanswered, the socket
        closed) leaves the ALLOW on the channel, and AGI() may end SUCCESS and Dial() on
        it. The reservation then stays — an over-count blocks a lawful call at worst, an
        under-count lets a capped number be called once too often — and the log says so
        (the record's BLOCK says the first answer was withdrawn; this says the switch may
        not have taken it)."""
        if allow is None or allow.held is None:
            return
        if recorded and confirmed:
            released = await self.gate.release(allow)
            self.stats.counts["cap_released" if released else "cap_release_failed"] += 1
            return
        self.stats.counts["cap_kept_unconfirmed" if recorded else "cap_kept_unrecorded"] += 1
        _log.warning("fastagi_withdrawal_unconfirmed" if recorded
                     else "frequency_release_skipped",
                     decision_id=allow.decision_id,
                     effect=("Asterisk did not confirm the withdrawing BLOCK: the ALLOW may "
                             "stand on the channel and be dialled; it stays counted against "
                             "its caps" if recorded else RELEASE_SKIPPED))

    def _request(self, headers: dict[str, str], withdraws: str | None = None,
                 ) -> CheckRequest:
        return CheckRequest(
            number=headers.get(c.ARG_NUMBER, ""),
            campaign=headers.get(c.ARG_CAMPAIGN, ""),
            mode=headers.get(c.ARG_MODE) or None,
            location=headers.get(c.ARG_LOCATION) or None,
            linkedid=headers.get(c.ARG_LINKEDID) or None,
            front="fastagi",
            channel=headers.get("agi_channel") or None,
            withdraws=withdraws,
        )

    async def _check(self, headers: dict[str, str], refused: str | None) -> dict[str, str]:
        request = self._request(headers)
        if headers.get("agi_extension") == _DEAD_EXTENSION:
            return await self._dead_channel(request, refused=refused)
        dial = not_dialable(request.number) if refused is None and request.number else None
        if refused is not None or dial is not None:
            self.stats.counts["bad_request"] += 1
            rule, why = (BAD_REQUEST_RULE, refused) if dial is None else (NOT_DIALABLE, dial)
            decision = await self.gate.refuse(request, refusal(
                rule, FAIL_CLOSED, f"{why}; call not placed"), started=time.perf_counter())
            self.stats.counts["block"] += 1
            return self._variables(decision)
        # The gate owns the budget: past it the decision is a recorded BLOCK, so the
        # record and the answer agree.
        decision = await self.gate.check(request, budget_s=self.settings.budget_ms / 1000)
        deciding = decision.verdict.deciding
        if deciding is not None and deciding.rule_id == TIMEOUT_RULE:
            self.stats.counts["over_budget"] += 1
        self.stats.counts["allow" if decision.allowed else "block"] += 1
        if decision.allowed and decision.held is not None:
            self._answering[decision.decision_id] = decision
        try:
            return self._variables(decision)
        except BaseException:
            # Never answered: nothing will withdraw it (``_answer`` drops it past here).
            self._answering.pop(decision.decision_id, None)
            raise

    async def _dead_channel(self, request: CheckRequest, *, asked: bool = False,
                            refused: str | None = None) -> dict[str, str]:
        """A check asked on a channel already hung up, so no call can follow on it.
        Recorded BLOCK (not decided: an ALLOW would be on record and count against the
        number's call-frequency cap for a call never placed).

        ``asked``: Asterisk said so when asked (``AgiChannel.hung_up``, before every check
        outside ``h``): CHANNEL(checkhangup) is 1, or a HANGUP line came first. A hangup
        handler runs on a channel marked hung up (main/pbx_hangup_handler.c
        ``ast_pbx_hangup_handler_run``: ``ast_softhangup_nolock(chan,
        AST_SOFTHANGUP_HANGUP_EXEC)`` before the handlers), as a Gosub from ``h`` does, in
        their own context and extension; res_agi.c ``setup_env`` writes the same block as
        on a live channel, and the answer code of callguard's own commands says nothing
        (EXEC, SET and GET VARIABLE are dead-safe: 200 in dead mode). The question costs a
        round trip on every live check, so it is asked only with ``ask_liveness``.

        Otherwise a check from the ``h`` extension, not asked (``agi_extension`` says it):
        the ``h`` extension runs once the channel is hung up (lab recording agi-deadagi:
        ``agi_extension: h``, CHANNEL STATUS answered 511), so res_agi.c ``agi_exec`` starts
        ``agi_exec_full`` in dead mode: ``run_agi`` never reads the channel, so sends no
        HANGUP line (``ChannelGone`` never fires); ``EXEC`` and ``GET VARIABLE`` still run
        (dead-safe in the command table: the BLOCK goes out and is confirmed as usual);
        AGI() ends SUCCESS. A dialplan that jumps to ``h`` on a live channel is BLOCKed
        too: fail closed, with this reason."""
        self.stats.counts["dead_channel"] += 1
        why = ("the channel is already hung up (asked, Asterisk answered CHANNEL(checkhangup) "
               "1 or wrote HANGUP: AGI() ran in a hangup handler, a Gosub from h, or after "
               "the caller left)"
               if asked else
               "AGI() ran in the h extension, on a channel already hung up (Asterisk runs "
               "the check in dead mode)")
        if refused:  # the arguments were refused too: said, the hang-up first
            self.stats.counts["bad_request"] += 1
            why = f"{why}; its arguments were refused as well: {refused}"
        decision = await self.gate.refuse(request, refusal(
            HUNG_UP_RULE, FAIL_CLOSED,
            f"{why}: no Dial() can follow; not decided, call not placed"),
            started=time.perf_counter())
        self.stats.counts["block"] += 1
        _log.info("fastagi_dead_channel", route=c.ROUTE_CHECK)
        return self._variables(decision)

    def _variables(self, decision: Decision) -> dict[str, str]:
        deciding = decision.verdict.deciding
        variables = {
            c.VAR_VERDICT: decision.verdict.verdict,
            c.VAR_RULE: deciding.rule_id if deciding else "",
            c.VAR_REASON: self._reason(decision.verdict),
            c.VAR_DECISION_ID: decision.decision_id,
            c.VAR_CAUSE: "" if decision.allowed else str(self.settings.block_cause),
        }
        if decision.allowed and decision.campaign is not None:
            variables[c.VAR_CALLERID_NUM] = decision.campaign.caller_id
            variables[c.VAR_CALLERID_PRES] = c.PRESENTATION_ALLOWED
            variables[c.VAR_CALLERNAME_PRES] = c.PRESENTATION_ALLOWED
            follow = self._follow(decision) if self._follow is not None else None
            if follow:
                variables[f"__{c.VAR_FOLLOW}"] = follow
        return variables

    def _reason(self, verdict: Verdict) -> str:
        """The verdict's reason as answered: the shipped dialplan logs it (NOTICE), so a
        reason quoting what it was asked with ("campaign '8015550123' is not configured":
        NUMBER and CAMPAIGN swapped) must not put the number in Asterisk's log. Remembered
        per reason, as the record's is: redacting costs 50-160 µs, and every ALLOW of a
        campaign says the same sentence."""
        done = self._reasons.get(verdict.reason)
        if done is None:
            done = remember(self._reasons, verdict.reason, _redacted_reason(verdict),
                            _REASON_MEMO)
        return done

    async def _optout(self, headers: dict[str, str], refused: str | None) -> dict[str, Any]:
        request = self._request(headers)
        if refused is not None:
            self.stats.counts["bad_request"] += 1
            self.stats.counts["optout_failed"] += 1
            return {c.OPTOUT_RESULT: "FAILED", c.VAR_REASON: f"{refused}; nothing recorded"}
        try:
            e164 = await self.gate.opt_out(request.number, request.campaign,
                                           source=f"fastagi:{request.linkedid or '-'}")
        except CallguardError as exc:
            self.stats.counts["optout_failed"] += 1
            # The dialplan logs the reason: a number quoted in it (a swapped NUMBER and
            # CAMPAIGN) is taken out, as the gate does for a check's reason.
            return {c.OPTOUT_RESULT: "FAILED", c.VAR_REASON: redact_digits(str(exc))}
        self.stats.counts["optout"] += 1
        return {c.OPTOUT_RESULT: "OK", c.VAR_REASON: opt_out_reason(
            e164, self.gate.opt_out_lists(request.campaign))}

    def _busy(self, route: str) -> dict[str, str]:
        """The route's own refusal: a call's BLOCK, or the opt-out's FAILED."""
        if route == c.ROUTE_OPTOUT:
            busy = (f"callguard has {OPT_OUT_HEADROOM * self.settings.max_sessions} "
                    "sessions under way (opt-outs: twice [fastagi] max_sessions)")
            return {c.OPTOUT_RESULT: "FAILED", c.VAR_REASON: f"{busy}; nothing recorded"}
        busy = (f"callguard has {self.settings.max_sessions} sessions under way "
                "([fastagi] max_sessions)")
        return {
            c.VAR_VERDICT: "BLOCK",
            c.VAR_RULE: BUSY_RULE,
            c.VAR_REASON: f"{busy}; call not placed",
            c.VAR_CAUSE: str(self.settings.block_cause),
        }

    def _unknown_route(self, script: str) -> dict[str, str]:
        """BLOCK, naming both routes: an opt-out's URL misspelt ("callguard_optout") was
        told "use callguard", and an admin who followed it sent the do-not-call request to
        the check route, which decides it as a call (4 arguments fit the check's 5): an
        ALLOW recorded and counted against the number's caps, the request never recorded.
        ``CALLGUARD_OPTOUT`` FAILED too, so either dialplan reads a refusal."""
        self.stats.counts["unknown_route"] += 1
        use = (f"use {c.ROUTE_CHECK} to check a call, {c.ROUTE_OPTOUT} to record a "
               "do-not-call request")
        # No path in the URL (agi://HOST:PORT): launch_netscript sends no
        # agi_network_script line at all; "no FastAGI route ''" named nothing to fix.
        missing = not script.split("?", 1)[0]
        return {
            c.VAR_VERDICT: "BLOCK",
            c.VAR_RULE: UNKNOWN_ROUTE_RULE,
            c.VAR_REASON: (f"the AGI URL names no script (agi://HOST:PORT with no path: "
                           f"agi_network_script missing or empty); {use}: "
                           f"agi://HOST:PORT/{c.ROUTE_CHECK}" if missing else
                           f"no FastAGI route {quoted(script, 40)}; {use}"),
            c.VAR_CAUSE: str(self.settings.block_cause),
            c.OPTOUT_RESULT: "FAILED",
        }


def _redacted_reason(verdict: Verdict) -> str:
    """``redact_digits`` of the reason, the deciding rule's id and citation spared, as
    CALLGUARD_RULE and the record show them: "us-ut-hb45-2000:13-26a-106(1)(f)" reads as
    a number to the redaction ("45-2000:13-26"), so every call H.B. 45's hours blocked was
    logged "Blocked by us-ut-hb[number …1326]a-…". They are the pack's own text, never
    the peer's; what lies between them is redacted piece by piece."""
    deciding = verdict.deciding
    spared = sorted({text for text in (deciding.rule_id, deciding.citation)
                     if text and text in verdict.reason and has_digit_run(text)},
                    key=len, reverse=True) if deciding is not None else []
    if not spared:
        return redact_digits(verdict.reason)
    pieces = re.split(f"({'|'.join(map(re.escape, spared))})", verdict.reason)
    return "".join(piece if index % 2 else redact_digits(piece)
                   for index, piece in enumerate(pieces))


_EXPECTED_ARGS = {route: frozenset(f"agi_arg_{i}" for i in range(1, count + 1))
                  for route, count in c.ARG_COUNT.items()}


def not_dialable(number: str) -> str | None:
    """Why ``number`` cannot be dialled as the number callguard checks, or None.

    The shipped dialplan dials ARG1 exactly as given (``PJSIP/${ARG1}@trunk``, or
    ``TECH/trunk/${ARG1}``), while the number parser reads through spelling (spaces, other
    digit scripts, ``tel:``, a SIP URI's user part). So an ALLOW is given only to a plain
    ASCII digit string with an optional leading ``+``: what Asterisk dials is then what
    was checked, and a URI naming another host, or characters Dial() reads as syntax, never
    reach the trunk.
    """
    body = number[1:] if number.startswith("+") else number
    if body.isascii() and body.isdigit():
        return None
    return ("ARG1 is dialled as given, so it must be ASCII digits with an optional "
            "leading + (what is dialled must be what was checked)")


# The arguments each route takes, in contract.py's order, as many as ``ARG_COUNT`` says.
_ARG_NAMES = {route: ",".join(("NUMBER", "CAMPAIGN", "MODE", "LINKEDID", "LOCATION")[:count])
              for route, count in c.ARG_COUNT.items()}


def _no_args(route: str, headers: dict[str, str]) -> str | None:
    """Why a request with no AGI() argument at all is refused, or None. Without it the
    gate answered "campaign '' is not configured" (an opt-out's FAILED said the same):
    the admin was sent to the campaigns, when the dialplan had called AGI() with the URL
    alone and NUMBER was missing as well."""
    if any(key.startswith("agi_arg_") for key in headers):
        return None
    return (f"the dialplan passed no arguments: route {route} takes {_ARG_NAMES[route]} "
            f"after the URL (AGI(agi://HOST:PORT/{route},{_ARG_NAMES[route]}))")


def _unexpected_args(route: str, headers: dict[str, str]) -> str | None:
    """Why the arguments are not the contract's (more than the route takes), or None."""
    expected = _EXPECTED_ARGS[route]
    extra = sorted(k for k in headers if k.startswith("agi_arg_") and k not in expected)
    if not extra:
        return None
    return (f"the dialplan passed {clipped(', '.join(extra[:3]), 120)}, but route {route} "
            f"takes {c.ARG_COUNT[route]} arguments (a comma or newline inside a value?)")
