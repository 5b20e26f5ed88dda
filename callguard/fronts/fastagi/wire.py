"""FastAGI on the wire: the header block, replies, and one safely quoted ``EXEC MSet``.

panoramisk 1.4 parses a reply line well (``parse_agi_result``) but its reading is
unsafe at the edge, as the Asterisk 22.10.1 recordings show: ``Application.handler``
loops forever when a peer closes before the blank line; ``Request.send_command`` reads
one line, so an unsolicited ``HANGUP`` leaves the real reply unread for the next command,
and a multi-line ``520-`` usage block is only half read. ``AgiChannel`` replaces the
reading and keeps panoramisk's parser.

Asterisk writes each ``agi_arg_N: value`` line unescaped (res_agi.c ``setup_env``), so a
newline inside a dialplan value adds header lines of the caller's choosing. A key that
appears twice is therefore never resolved by "last one wins" (or first): the block is
``Ambiguous`` and the server answers BLOCK. So is a block a blank line inside a value cut
short (``setup_env`` goes on writing the later arguments and its own closing blank line
after it: bytes after our blank line, before we said anything, are that tail), and one
whose arguments carry a line that is no header or a control character (a CR), and one
whose arguments hold any other character ``str.isprintable`` refuses (a no-break space, a
zero-width one), named as it is. So is one with a line that is no header among the
channel's own lines, before the arguments (a line break in a caller ID: ``setup_env``
writes ``agi_calleridname`` unescaped too). A tail that comes only after our answer is
read before Asterisk's replies (``AgiChannel.tail_seen``), and its first line may read as
the reply itself; so an answer stands only once ``AgiChannel.confirm`` has read a reply
only Asterisk can write (the fresh id the answer set, echoed by ``GET VARIABLE``) with
nothing before it.
Reasons never quote a digit run (they reach the log): ``redact_digits``; a peer's text
(a line, a header's name, a script) is quoted ``clipped`` — cut back, then redacted — so
the work is bounded whatever the peer sent; ``quoted`` when ``repr`` spells it.
"""

from __future__ import annotations

import asyncio
import fcntl
import re
import socket
import struct
import termios
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from panoramisk.fast_agi import Request
from panoramisk.utils import parse_agi_result

from callguard.numbers.parse import named_character
from callguard.numbers.redact import clipped, redact_digits
from callguard.numbers.redact import clipped_repr as quoted

__all__ = [
    "AGI_LINE_MAX",
    "CHECK_HANGUP",
    "SKIP_PAST_LIMIT",
    "AgiChannel",
    "AmbiguousHeaders",
    "AnswerTooLong",
    "ChannelGone",
    "HeaderError",
    "WriteStalled",
    "bound_writes",
    "close_bounded",
    "encode_mset",
    "quoted",
    "read_headers",
    "send_bounded",
]

_HEADER_LINE = re.compile(r"^(agi_[a-z0-9_]+): ?(.*)$")
_REPLY_LINE = re.compile(r"^[0-9]{3}[ -]")
_MAX_TAIL = 65536
# Bytes of a block past ``max_header_bytes`` read, at most, looking for its blank line
# (``_skip_block``): no Asterisk writes a block that long.
SKIP_PAST_LIMIT = 65536
_HANGUP = b"HANGUP\n"
_GONE_SETTLE = 0.1  # s: how long a lone HANGUP after the block waits for what follows it
# s: how long a close that would be a reset waits, at most, for the peer to acknowledge
# what the kernel still holds for it (``_acknowledged``), polled from _ACK_POLL s on.
_ACK_WAIT = 0.3
# The poll's first pause, doubled at each look up to _ACK_POLL_MAX: an acknowledgement on
# a LAN comes within a millisecond or two; a peer that never acknowledges (its window
# shut on purpose) costs about 9 looks in the 0.3 s, not 30 (hrev158: 4,096 such sockets
# polled every 10 ms were ~400,000 wakeups a second on the loop)
_ACK_POLL = 0.002
_ACK_POLL_MAX = 0.05
_TCP_CLOSE = 7  # include/net/tcp_states.h: the state a reset leaves a socket in
_APP_SPECIAL = re.compile(r'([\\"()\[\],{}])')
_MAX_VALUE = 400
# Bytes of one command line Asterisk reads whole, its LF included: res_agi.c ``run_agi``
# reads commands into ``char buf[AGI_BUF_LEN]`` (2048) with ``fgets``, ``while (len > 1)``,
# so a longer line is cut at 2047 bytes, run so, and its rest run as the next command.
AGI_LINE_MAX = 2048 - 1
# Values ``encode_mset`` may cut to fit that line, in this order: free text only (the
# decision's id, verdict, cause, caller ID and FOLLOW are never cut).
_CUTTABLE = ("CALLGUARD_REASON", "CALLGUARD_RULE")
# Characters of a header's name a reason quotes: Asterisk's are at most 20
# ("agi_calleridname"); a value's line break can forge one as long as the block, and the
# reason goes to the log, the answer and the compliance record.
_QUOTED_KEY = 40
# Lines of a 520 usage block kept: res_agi.c ``agi_handle_command`` writes "520-...", the
# command's fixed usage text (a few lines; 1 for SET VARIABLE, 2 for GET VARIABLE in the
# lab) and "520 End of proper usage."; more is read, not kept. Each kept line at most
# _MAX_VALUE characters (``_cut``): a line may be as long as the reader's limit
# ([fastagi] max_header_bytes, no upper bound), and the log quotes a few hundred.
_MAX_USAGE = 16
# Asked before a check is decided (``AgiChannel.hung_up``): res_agi.c ``handle_getvariable``
# reads a name ending in ")" with ``ast_func_read``; func_channel.c's ``checkhangup`` is
# ``ast_check_hangup(chan) ? "1" : "0"``. Dead-safe in the command table, so answered in
# dead mode too (a hangup handler, a Gosub from h), where 511 meets CHANNEL STATUS.
CHECK_HANGUP = "GET VARIABLE CHANNEL(checkhangup)"
# Its two answers, whole lines as ``handle_getvariable`` writes them ("200 result=1 (%s)\n"):
# panoramisk's parse reads a value out of lines Asterisk never writes ("200 result=1 (0)x",
# "0200 result=1 (0)", a second "result=" pair), so it is not asked (review hrev94).
_HUNG_UP = {"200 result=1 (0)": False, "200 result=1 (1)": True}


class HeaderError(Exception):
    """The peer did not send a well-formed AGI header block in time."""

    def __init__(self, reason: str, *, kind: str = "malformed", ended: bool = False,
                 skipped: int = 0) -> None:
        super().__init__(reason)
        self.kind = kind  # counted: header_timeout, header_too_large, ...
        # A BLOCK can still be answered (``too_large``): the block's blank line came (the
        # rest read past, not kept) and the peer waits for a command, or reading stopped
        # at ``SKIP_PAST_LIMIT`` and Asterisk reads the answer once its writes give up
        # (``_skip_block``).
        self.ended = ended
        self.skipped = skipped  # bytes of a too-large block read past (``_skip_block``)


class AmbiguousHeaders(HeaderError):
    """A FastAGI block that does not say one thing — a key given twice (``repeated``), a
    tail after its blank line (``cut``), a line in its arguments that is no header or
    carries a control character (``control``) or another character no argument has, such
    as a no-break space (``character``): answered BLOCK."""

    def __init__(self, reason: str, headers: dict[str, str], kind: str = "repeated") -> None:
        super().__init__(reason, kind=kind)
        self.headers = headers  # each key's first value, for the compliance record only


class ChannelGone(Exception):
    """Asterisk said the channel is gone right after its block, before we answered: a
    ``HANGUP`` line, or its close. res_agi.c ``run_agi`` writes ``HANGUP`` only once the
    channel hung up (``ast_read`` returned NULL: ``needhup``); with AGIEXITONHANGUP it then
    leaves at once, writes a second one and closes (with AGISIGHUP=no, the close alone).
    ``agi_exec_full`` returns -1 (AGISTATUS=HANGUP): no Dial() follows this AGI(),
    whatever is answered.

    ``refused``: the block was refused too (``AmbiguousHeaders``: its reason, its
    ``kind``): what the record says besides the hang-up. Raised so only when the hang-up
    cannot have been a value's own line: the peer closed, or a HANGUP line came with no
    tail of a cut block around it (a blank line inside a value can put a ``HANGUP`` line
    of the caller's choosing after the block's blank line)."""

    def __init__(self, headers: dict[str, str], refused: AmbiguousHeaders | None = None,
                 ) -> None:
        super().__init__("the channel hung up before callguard answered")
        self.headers = headers
        self.refused = str(refused) if refused is not None else None
        self.kind = refused.kind if refused is not None else ""


class WriteStalled(Exception):
    """The peer stopped reading what callguard writes: ``send_bounded`` could not hand a
    command to the kernel within its time limit, and the connection was aborted. What
    was written before may or may not have been read (``run_agi`` reads with ``fgets``
    from a buffered ``FILE``: a line the kernel delivered is run, one cut by the reset is
    not), so nothing is known of the answer's fate."""

    def __init__(self, timeout: float) -> None:
        super().__init__(f"the peer read nothing callguard wrote for {timeout:g} s")
        self.decision_id = ""  # the answer being written, when one was (``_deliver``)
        self.verdict = ""


async def send_bounded(writer: asyncio.StreamWriter, data: bytes, timeout: float) -> None:
    """Write ``data`` and wait, at most ``timeout``, until the kernel took all of it.

    The session's transport keeps no write buffer of its own (``bound_writes``: high-water
    mark 0), so ``drain`` waits exactly while the kernel's send buffer is full: a peer
    that stops reading (or a wedged Asterisk) would park the session there for ever,
    with its socket and memory. On expiry the connection is aborted (a reset: no
    buffered bytes left waiting for a reader that never comes) and WriteStalled raised."""
    writer.write(data)
    if writer.transport.get_write_buffer_size() == 0 and not writer.transport.is_closing():
        return  # all in the kernel already: the usual case, no await
    # Closing (the peer reset or closed): ``drain`` raises ConnectionError as before, so
    # the session learns it at once (``_deliver``: Asterisk closed before confirming).
    try:
        async with asyncio.timeout(timeout):
            await writer.drain()
    except TimeoutError:
        writer.transport.abort()
        raise WriteStalled(timeout) from None


def bound_writes(writer: asyncio.StreamWriter) -> None:
    """Make every write of the session wait for the kernel (``send_bounded``)."""
    writer.transport.set_write_buffer_limits(high=0)


async def close_bounded(writer: asyncio.StreamWriter, timeout: float) -> bool:
    """Close the connection; bytes still unsent get ``timeout`` to reach the kernel, then
    the connection is aborted (asyncio's ``close`` otherwise waits for them for ever,
    holding the socket). Whether it closed cleanly (False: aborted, bytes lost).

    A close with the peer's bytes left unread in the kernel is a reset, which drops what
    the kernel still holds for the peer (``_acknowledged``): it waits first, at most
    ``_ACK_WAIT``, for the peer to acknowledge it (False when it did not)."""
    transport = writer.transport
    kept = True
    if transport.get_write_buffer_size() == 0 and not transport.is_closing():
        try:
            kept = await _acknowledged(writer, min(timeout, _ACK_WAIT))
        except asyncio.CancelledError:
            writer.close()  # a stop cut the wait short: closed all the same (hrev158)
            raise
    writer.close()
    if transport.get_write_buffer_size() == 0:
        return kept
    try:
        async with asyncio.timeout(timeout):
            await writer.wait_closed()
    except TimeoutError:
        transport.abort()
        return False
    except (ConnectionError, OSError):
        pass
    return True


def _queued(writer: asyncio.StreamWriter, request: int | None) -> int:
    """Bytes in the kernel's queue ``request`` names for the session's socket (0 where
    unknown: no socket, closed, or no such ioctl on this system)."""
    sock = writer.get_extra_info("socket")
    if sock is None or request is None:
        return 0
    try:
        raw = fcntl.ioctl(sock.fileno(), request, b"\0\0\0\0")
    except (OSError, ValueError):
        return 0
    return int(struct.unpack("i", raw)[0])


def _reset(writer: asyncio.StreamWriter) -> bool:
    """Whether the peer reset the connection already (Linux ``TCP_INFO``: TCP_CLOSE). The
    queues keep their counts after a reset (the socket keeps ``write_seq - snd_una`` and
    its receive queue), though nothing will be acknowledged any more: not to be waited
    for (hrev158). Reads the state only (``SO_ERROR`` would clear the error)."""
    sock = writer.get_extra_info("socket")
    request = getattr(socket, "TCP_INFO", None)
    if sock is None or request is None:
        return False
    try:
        return bool(sock.getsockopt(socket.IPPROTO_TCP, request, 1)[0] == _TCP_CLOSE)
    except (OSError, ValueError, IndexError):
        return False


async def _acknowledged(writer: asyncio.StreamWriter, bound: float) -> bool:
    """Wait, at most ``bound`` s and polling (the loop goes on), while the peer has not
    acknowledged every byte sent to it (Linux ``TIOCOUTQ``, SIOCOUTQ on a TCP socket:
    unsent and unacknowledged bytes) and a close would be a reset (its bytes left unread
    in the kernel, ``FIONREAD``). Whether nothing is at stake at the close.

    Linux's ``tcp_close`` answers unread data with ``tcp_send_active_reset`` and drops
    the socket, its send and retransmit queues with it: callguard's answer still queued
    (the peer's window closed) or lost on the way is never sent (again), and only what
    reached the peer's kernel stays readable there. The BLOCK to a block read no further
    (``_skip_block``) is such a close: Asterisk reads the answer in res_agi.c
    ``run_agi`` with ``fgets``; without it the read fails (``ferror``, not EINTR or
    EAGAIN: ``break``), ``buf`` stays empty and the script "completed": AGISTATUS
    SUCCESS with no CALLGUARD_VERDICT, which the shipped dialplan BLOCKs as "gave no
    usable answer", not with the reason. Acknowledged, the answer is in Asterisk's
    kernel, and the reset leaves it readable. A close with nothing unread is a FIN:
    the kernel keeps sending what it holds, nothing to wait for."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + bound
    outq = getattr(termios, "TIOCOUTQ", None)
    inq = getattr(termios, "FIONREAD", None)
    pause = _ACK_POLL
    while _queued(writer, outq) and _queued(writer, inq) and not _reset(writer):
        left = deadline - loop.time()
        if left <= 0:
            return False
        await asyncio.sleep(min(pause, left))
        pause = min(pause * 2, _ACK_POLL_MAX)
    return True


async def read_headers(reader: asyncio.StreamReader, timeout: float, *,
                       limit: int = 0) -> dict[str, str]:
    """Read the ``agi_*`` block up to the blank line; bounded in size and time.

    ``limit``: the reader's own (``max_header_bytes``); a block past it is read past up
    to ``limit + SKIP_PAST_LIMIT`` bytes in all, no more (``_skip_block``).

    What was read with it is looked at (``_cut_tail``), nothing waited for: a tail that
    comes later is caught after the answer (``AgiChannel.confirm``), whatever its first
    line, before the answer can stand."""
    deadline = asyncio.get_running_loop().time() + timeout
    try:
        async with asyncio.timeout(timeout):
            block = await reader.readuntil(b"\n\n")
    except TimeoutError:
        raise HeaderError("no complete header block in time", kind="timeout") from None
    except asyncio.IncompleteReadError as exc:
        if not exc.partial:  # connected and closed: a TCP health check, no Asterisk
            raise HeaderError("peer closed before sending anything", kind="probe") from None
        raise HeaderError(f"peer closed after {len(exc.partial)} bytes, before the blank "
                          "line", kind="closed") from None
    except asyncio.LimitOverrunError:
        ended, capped, skipped = await _skip_block(reader, deadline,
                                                   limit + SKIP_PAST_LIMIT)
        reason = "header block larger than the limit"
        if capped:
            reason = (f"{reason}, no blank line {SKIP_PAST_LIMIT} bytes past it (no "
                      "Asterisk writes a block that long): read no further")
        raise HeaderError(reason, kind="too_large", ended=ended or capped,
                          skipped=skipped) from None
    # Asterisk writes channel data as the channel holds it (a Latin-1 caller name from a
    # CRM or an ISDN display): a byte that is not UTF-8 becomes U+FFFD, so a line the
    # decision does not read cannot refuse the call, and one it reads (number, campaign,
    # route) no longer matches anything and is a recorded BLOCK.
    parsed = _parse_block(block.decode("utf-8", errors="replace"))
    headers = parsed.headers
    if headers.get("agi_network") != "yes":
        raise HeaderError("not a FastAGI header block (no 'agi_network: yes')")
    args = sum(1 for key in headers if key.startswith("agi_arg_"))
    cut, gone = await _cut_tail(reader, deadline)
    if cut and not reader.at_eof():
        gone = False  # a HANGUP line among a cut block's tail may be a value's own line
    try:
        _refuse_channel_line(headers, parsed.repeated, parsed.channel)
        _refuse_ambiguous(headers, parsed.repeated, parsed.broken, parsed.odd, cut, args)
    except AmbiguousHeaders as exc:
        if gone:  # refused, and hung up as well: the record says both (``ChannelGone``)
            raise ChannelGone(headers, exc) from None
        raise
    if gone:
        raise ChannelGone(headers)
    return headers


@dataclass
class _Block:
    """A header block's lines, read (``_parse_block``), with what may refuse it."""

    headers: dict[str, str] = field(default_factory=dict)  # each key's first value
    repeated: list[str] = field(default_factory=list)
    broken: str = ""  # the first argument line that is no header, or holds a control char
    odd: str = ""  # else: the first argument holding another character no argument has
    channel: str = ""  # the header a line that is no header followed, before the arguments


def _parse_block(text: str) -> _Block:
    """The lines of a block (``text``, its blank line included), each fault noted; raises
    HeaderError for a line that is no header before ``agi_network: yes`` (no Asterisk
    wrote it: launch_netscript's first line is that one)."""
    parsed = _Block()
    headers = parsed.headers
    key = ""
    for line in text[:-2].split("\n"):
        match = _HEADER_LINE.match(line)
        if match is None:
            if headers.get("agi_network") != "yes":
                # ``quoted``: spelt, cut back to a letter, then redacted (bounded work; a
                # cut inside a number never leaves its head, six digits, in clear).
                raise HeaderError(f"malformed header line {quoted(line, 60)}")
            if "agi_arg_1" in headers:
                parsed.broken = parsed.broken or "a line that is no header"
            else:
                parsed.channel = parsed.channel or key
            continue
        key = match.group(1)
        if key.startswith("agi_arg_") and not line.isprintable():
            found = _unfit(line)
            named = clipped(key, _QUOTED_KEY)
            if found[0] == "control":
                parsed.broken = parsed.broken or f"{named}: {found[1]}"
            else:
                parsed.odd = parsed.odd or f"the AGI argument {named} holds {found[1]}"
        if key in headers:
            parsed.repeated.append(key)
            continue
        headers[key] = match.group(2)
    return parsed


def _refuse_channel_line(headers: dict[str, str], repeated: list[str], after: str) -> None:
    """Raise AmbiguousHeaders when a line that is no header came among the channel's own
    lines, before the arguments (``after``: the header it followed). res_agi.c
    ``setup_env`` writes ``agi_callerid: %s`` and ``agi_calleridname: %s`` as the channel
    holds them, so a line break in a caller ID (a CRM lookup, a ``Set(CALLERID(name)=...)``)
    splits its line. Answered BLOCK and recorded, as one among the arguments is (it was
    closed unanswered: no record, and the dialplan could say only "no usable answer");
    the line itself is not quoted (a caller's name). A key given twice says more (a forged
    argument line): ``_refuse_ambiguous`` answers it."""
    if not after or repeated:
        return
    after = clipped(after, _QUOTED_KEY)  # a value can forge any agi_<digits> name
    raise AmbiguousHeaders(
        f"a line of the AGI header block after {after}, before the arguments, is no header "
        f"(a line break inside the channel's {after.removeprefix('agi_')} value?): the block "
        "cannot be read as Asterisk wrote it", headers, kind="control")


def _refuse_ambiguous(headers: dict[str, str], repeated: list[str], broken: str, odd: str,
                      cut: bool, args: int) -> None:
    """Raise AmbiguousHeaders for the first fault found in a block (answered BLOCK)."""
    if repeated:
        # "agi_8015550123": forged; a forged name may be as long as the block.
        names = clipped(", ".join(sorted(set(repeated))), 3 * _QUOTED_KEY)
        raise AmbiguousHeaders(f"the AGI header block gives {names} more than once (a newline "
                               "inside a dialplan value?)", headers)
    if broken:
        raise AmbiguousHeaders(
            f"the AGI arguments hold a control character or a line break "
            f"({redact_digits(broken)}; a CR or LF inside a dialplan value?)", headers,
            kind="control")
    if odd:
        # Not a line break: no header is forged. Still refused, and said as it is — no
        # argument (number, campaign id, mode, linkedid, location) is written with one, so
        # the value was pasted from a document or a CRM, and a number never holds one.
        raise AmbiguousHeaders(
            f"{redact_digits(odd)}: no argument is written with one (a value pasted from a "
            "document or a CRM?); remove it from the value the dialplan passes", headers,
            kind="character")
    if cut:
        raise AmbiguousHeaders(
            f"the AGI header block went on after its blank line, {args} argument(s) in (a "
            "blank line inside a dialplan value cut it short): the arguments after it were "
            "not read", headers, kind="cut")


def _unfit(line: str) -> tuple[str, str]:
    """The first character of ``line`` that ``str.isprintable`` refuses, named, with its
    kind: ``control`` for a control character or a line or paragraph separator (a line
    break to some reader), else ``character`` (a space other than the ASCII one, like the
    no-break space; an invisible format character; a private or unassigned code point)."""
    char = next(c for c in line if not c.isprintable())
    category = unicodedata.category(char)
    label = named_character(char)  # "U+00A0 NO-BREAK SPACE": never printable ASCII here
    if category == "Cc" or category in ("Zl", "Zp"):
        return "control", label
    what = {"Zs": "a space that is not the ASCII one",
            "Cf": "an invisible format character"}.get(category, "an unassigned or "
                                                                "private-use character")
    if not unicodedata.name(char, ""):
        label += " (no name)"
    return "character", f"{label}, {what}"


async def _cut_tail(reader: asyncio.StreamReader, deadline: float) -> tuple[bool, bool]:
    """Whether the peer sent anything after the blank line before our answer (only what
    was already read, or the end of a HANGUP line cut between reads), and whether it said
    the channel is gone (a HANGUP line, or its close: ``ChannelGone``). Asterisk says nothing
    between its block and our first command: res_agi.c ``setup_env`` writes the block line
    by line, then ``run_agi`` reads a command. So any byte here is the rest of a block a
    blank line inside a value cut short; it is read up to its own blank line, so the reply
    to our answer is read in step."""
    loop = asyncio.get_running_loop()
    tail = b""
    gone = settled = False
    wait = 0.0  # a read with bytes buffered returns at once; none: no tail yet
    while True:
        try:
            async with asyncio.timeout(wait):
                more = await reader.read(_MAX_TAIL)
        except TimeoutError:
            more = b""
        tail += more
        # Asterisk's one unsolicited line (the channel hung up while we decide: res_agi.c
        # ``run_agi`` writes "HANGUP") is no tail; the reply reader skips it anyway.
        while tail.startswith(_HANGUP):
            tail = tail[len(_HANGUP):]
            gone = True
        if more and tail and _HANGUP.startswith(tail):
            wait = max(0.0, deadline - loop.time())  # a HANGUP line cut between two reads
        elif gone and not tail and not settled and not reader.at_eof():
            # A HANGUP line alone, the peer still open. Asterisk's (AGIEXITONHANGUP: a
            # second one and its close follow at once; without it, nothing more) or a
            # value's own line after a blank line in it, the rest of the block on its way
            # (setup_env writes line by line: a segment may end right after it). Only on
            # this path, once: what comes in _GONE_SETTLE says which — more of a block
            # is a cut one (BLOCK, counted header_cut), not a hang-up.
            settled = True
            wait = min(_GONE_SETTLE, max(0.0, deadline - loop.time()))
        else:
            break
    if not tail:
        return False, gone or reader.at_eof()
    if not tail.endswith(b"\n\n"):
        try:
            async with asyncio.timeout(max(0.0, deadline - loop.time())):
                await reader.readuntil(b"\n\n")
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass  # the answer (BLOCK) goes out all the same
    return True, gone


async def _skip_block(reader: asyncio.StreamReader, deadline: float, cap: int,
                      ) -> tuple[bool, bool, int]:
    """Read past (never keep) the rest of a block larger than the reader's limit, up to
    its blank line, by the header deadline and at most ``cap`` bytes in all (the part
    the limit held included): whether it came, whether reading stopped at ``cap``
    instead, and the bytes read. res_agi.c ``setup_env`` writes the whole block, then
    ``run_agi`` waits for a command; closing on a block left unread ended the session
    with no answer (an RST, the unread bytes with it), and the dialplan said only that
    callguard gave no usable answer.

    Bounded in bytes too (``SKIP_PAST_LIMIT``): read to the deadline, a peer streaming
    at loopback speed was read some hundred MB, a core's worth, for nothing. No Asterisk
    writes a block that long: the arguments and the URL are the AGI() data, at most
    pbx.c's ``EXT_DATA_SIZE`` (8192) once substituted, split into res_agi.c's
    ``MAX_ARGS`` (128) ``agi_arg_N: %s`` lines (``agi_exec_full``, ``setup_env``), about
    10 KB; the channel's own lines, caller ID and name, DNID and RDNIS each at most
    another EXT_DATA_SIZE when a dialplan Set() them, so under 44 KB even so. Reading
    stops there, and the BLOCK goes out all the same (``HeaderError.ended``): Asterisk
    can still read it, as the two directions of a TCP socket are apart. ``setup_env``
    ignores what each ``ast_agi_send`` returns (``ast_carefulwrite`` gives a write 100
    ms, then fails), so a writer callguard stopped reading goes on to ``run_agi``, whose
    ``fgets`` reads the answer; the close that follows is a reset (bytes left unread), and
    Linux keeps what came before a reset readable (tests/test_hagi30_fastagi.py reads
    it so), so ``run_agi`` runs the MSet, then reads the end (``!buf[0]``: "completed"):
    AGISTATUS SUCCESS with CALLGUARD_VERDICT BLOCK (``agi_exec_full``). What the reset
    keeps is what reached Asterisk: bytes still in callguard's send queue (unacknowledged,
    a segment lost on the way) are dropped with it, never sent again, so the close waits,
    bounded, until the answer is acknowledged (``close_bounded``, ``_acknowledged``); only
    a peer past what Asterisk writes comes here."""
    loop = asyncio.get_running_loop()
    last = b""
    read = 0
    try:
        async with asyncio.timeout(max(0.0, deadline - loop.time())):
            while read < cap:
                chunk = await reader.read(min(_MAX_TAIL, cap - read))
                if not chunk:
                    return False, False, read  # closed: nobody waits for an answer
                read += len(chunk)
                if b"\n\n" in last + chunk:
                    return True, False, read
                last = chunk[-1:]
            return False, True, read
    except (TimeoutError, ConnectionError, OSError):
        pass  # no end in time, or the peer reset: a too-large block all the same
    return False, False, read


def _is_tail(line: str, in_tail: bool) -> bool:
    """Whether a line read for a reply belongs to a cut block's tail instead: a header
    line or a blank line, or, once in a tail, any line that is no reply (a value's own
    line break inside the tail)."""
    if line == "" or _HEADER_LINE.match(line):
        return True
    return in_tail and not _REPLY_LINE.match(line)


def _cut(line: str) -> str:
    """``line`` kept at most ``_MAX_VALUE`` characters, cut back to a letter as ``clipped``
    cuts (no run holds a letter: a number the cut fell inside never keeps its head)."""
    if len(line) <= _MAX_VALUE:
        return line
    end = _MAX_VALUE
    while end and not line[end - 1].isalpha():
        end -= 1
    return line[:end] + "\u2026"


def _clean(value: str) -> str:
    """Printable, single-line, bounded: what may travel inside one AGI line."""
    text = value[:_MAX_VALUE]
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else " " for c in text)


def _escape_app(value: str) -> str:
    # Asterisk's __ast_app_separate_args counts ( and [ even inside quotes; a backslash
    # makes the next character literal. Escaping each special character is safe for all.
    # { and } too: with AGIEXECFULL=yes res_agi.c handle_exec substitutes ${...} (and
    # $[...]) in EXEC's data before MSet splits it, so a campaign or location quoted in a
    # reason could name a variable whose value injects pairs (CALLGUARD_VERDICT=ALLOW);
    # "$\{" is not substituted, and MSet's parse drops the backslash.
    # ``value`` is ``_clean`` already (``encode_mset``).
    return _APP_SPECIAL.sub(r"\\\1", value)


def encode_mset(variables: dict[str, str]) -> str:
    """``EXEC MSet "A=1,B=2"``: one AGI command, values quoted for both parsing layers,
    at most ``AGI_LINE_MAX`` bytes with its LF.

    ``_MAX_VALUE`` bounds a value in characters, but a character is up to 4 bytes of
    UTF-8 and a quote or a backslash 4 once escaped: a whole ALLOW (nine pairs) with a
    400-character reason of those came to 2,300 bytes, which Asterisk ran cut (the pairs
    after the cut never set: caller-ID presentation, FOLLOW). The free text
    (``_CUTTABLE``) is cut back, as ``_cut`` cuts, until the line fits; an answer that
    still does not fit raises ``AnswerTooLong`` rather than go out to be run cut."""
    values = {name: _clean(value) for name, value in variables.items()}
    command = _mset_line(values)
    size = len(command.encode()) + 1  # its LF too
    for name in _CUTTABLE:
        while size > AGI_LINE_MAX and values.get(name):
            text = values[name].removesuffix("\u2026")
            values[name] = _cut_to(text, max(0, len(text) - max(1, (size - AGI_LINE_MAX) // 4)))
            command = _mset_line(values)
            size = len(command.encode()) + 1
    if size > AGI_LINE_MAX:
        raise AnswerTooLong(size, values)
    return command


class AnswerTooLong(ValueError):
    """The answer does not fit run_agi's line even with its free text cut away: never
    written, as Asterisk would run it cut (the pairs before the cut set, an ALLOW's
    caller-ID presentation or FOLLOW perhaps not, the rest run as a next command). No
    answer of today's can: its uncut values come to about 660 bytes at most (an E.164
    caller ID, a UUID, FOLLOW at most 380 ASCII bytes). The message names the values and
    their sizes, never a value (a caller ID is a phone number)."""

    def __init__(self, size: int, values: dict[str, str]) -> None:
        # What each value takes on the line, escaped for both parsers, in bytes.
        sizes = ", ".join(
            f"{name} {len(_mset_line({name: value}).encode()) - len(_mset_line({name: ''}))} B"
            for name, value in values.items())
        super().__init__(f"the answer is {size} bytes with its LF, over run_agi's "
                         f"{AGI_LINE_MAX} (res_agi.c AGI_BUF_LEN), with its free text "
                         f"cut away ({sizes}): not sent")
        self.size = size


def _mset_line(values: dict[str, str]) -> str:
    """The command for values ``_clean`` already made printable and bounded."""
    app_args = ",".join(f"{name}={_escape_app(value)}" for name, value in values.items())
    agi_arg = app_args.replace("\\", "\\\\").replace('"', '\\"')
    return f'EXEC MSet "{agi_arg}"'


def _cut_to(text: str, end: int) -> str:
    """``text`` cut to at most ``end`` characters and back to a letter (a digit run the
    cut fell inside never keeps its head), marked with an ellipsis; "" when none is left."""
    if end >= len(text):
        return text
    while end and not text[end - 1].isalpha():
        end -= 1
    return text[:end] + "\u2026" if end else ""


class AgiChannel(Request):  # type: ignore[misc]
    """panoramisk's Request with reading that stays in step with Asterisk."""

    def __init__(self, headers: dict[str, str], reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter, *, reply_timeout: float) -> None:
        super().__init__(app=None, headers=headers, reader=reader, writer=writer)
        self.reply_timeout = reply_timeout
        self.hangup_seen = False
        self.tail_seen = False  # the rest of a cut header block came before the reply
        self.reply_line = ""  # the line ``send_command`` last parsed, as read

    async def send_command(self, command: str) -> dict[str, Any]:
        """Send one command; skip HANGUP and 100 lines; read a whole 520 block.

        Header lines (or a blank line) before the reply are the tail of a header block a
        blank line inside a value cut short, which came too late for ``read_headers`` to
        see (setup_env writes line by line; TCP may carry the rest a round trip later).
        Asterisk writes that whole block before it reads any command (res_agi.c
        ``setup_env`` then ``run_agi``), so TCP's order puts it before the reply: it is
        read, flagged (``tail_seen``), and the reply is read after it. The caller must not
        let the answer stand: the dialplan reads the variables only when the session
        ends, so a later ``MSet`` still overrides them."""
        self.reply_line = ""
        await self._send(command)
        async with asyncio.timeout(self.reply_timeout):
            while True:
                line = await self._past_hangup()
                if _is_tail(line, self.tail_seen):
                    self.tail_seen = True
                    continue
                if line.startswith("100 "):
                    continue
                if line.startswith("520-"):
                    usage = [_cut(line)]
                    last = line
                    while not last.startswith("520 "):
                        last = await self._line()
                        if _HEADER_LINE.match(last):
                            # No usage text holds a header line: the "520-" was a cut
                            # block's tail opening with a reply's line; read on for the
                            # reply (else no "520 " line would ever end this block).
                            self.tail_seen = True
                            break
                        # Read to its end (in step), kept only up to _MAX_USAGE lines: a
                        # peer's endless block held every line until reply_timeout.
                        if len(usage) < _MAX_USAGE or last.startswith("520 "):
                            usage.append(_cut(last))
                    else:
                        return {"status_code": 520, "error": "AGIUsageError",
                                "msg": "\n".join(usage)}
                    continue
                self.reply_line = line
                try:
                    result: dict[str, Any] = parse_agi_result(line)
                except ValueError:  # no status code: "garbage", an empty line
                    return {"error": "AGIBadReply",
                            "msg": f"not an AGI reply: {quoted(line, 60)}"}
                return result

    async def hung_up(self) -> bool | None:
        """Whether Asterisk says the channel is hung up (``CHECK_HANGUP``): True, False, or
        None when its reply says neither (``200 result=0``: the function could not be
        read, func_channel not loaded; a 5xx; any line but Asterisk's two, whole: fail
        closed). A HANGUP line before the reply says it too (res_agi.c ``run_agi`` writes
        one only once ``ast_read`` found the channel gone).
        Bounded by ``reply_timeout`` (TimeoutError); a close raises ConnectionError."""
        reply = await self.send_command(CHECK_HANGUP)
        if self.hangup_seen:
            return True
        if reply.get("status_code") != 200 or "error" in reply:
            return None
        return _HUNG_UP.get(self.reply_line)

    async def confirm(self, variable: str, value: str, *, strict: bool = True) -> bool:
        """Whether Asterisk itself answered the last command: ``variable`` holds ``value``
        (a fresh random id that command set) and nothing but HANGUP came before saying so.

        Sends ``GET VARIABLE``, only now that the last reply is read: res_agi.c ``run_agi``
        reads commands with ``fgets`` from a buffered ``FILE`` and waits on the socket, so
        a second command sent in the same segment may sit in its buffer unread.
        ``handle_getvariable`` answers ``200 result=1 (<value>)``: no tail can write it, as
        no dialplan value knows the id. A tail of a cut block (``setup_env`` writes all of
        it before ``run_agi`` reads a command) lies before every reply of Asterisk's, and
        always ends with a blank line, so when the line taken for the last reply was the
        tail's, the real reply and that blank line come before this one. Reads up to that
        reply, whatever comes first (header or blank lines on the way set ``tail_seen``),
        so a withdrawing answer goes out in step, never behind an unanswered command;
        bounded by ``reply_timeout`` (TimeoutError: a refused MSet leaves the variable
        without the id, so the reply never comes). False when anything came first, unless
        not ``strict``: a withdrawing BLOCK needs only its id read back (the lines before
        are late replies to the commands it followed, or a tail: neither can set the id)."""
        await self._send(f"GET VARIABLE {variable}")
        expected = f"200 result=1 ({value})"
        clean = True
        async with asyncio.timeout(self.reply_timeout):
            while True:
                line = await self._past_hangup()
                if line == expected:
                    return clean or not strict
                clean = False
                if _is_tail(line, False):
                    self.tail_seen = True

    async def _send(self, command: str) -> None:
        # Bounded as the reply is (``reply_timeout``): WriteStalled, the connection aborted.
        await send_bounded(self.writer, command.encode() + b"\n", self.reply_timeout)

    async def _past_hangup(self) -> str:
        """The next line but HANGUP, which Asterisk may send before any reply (noted in
        ``hangup_seen``)."""
        while (line := await self._line()) == "HANGUP":
            self.hangup_seen = True
        return line

    async def _line(self) -> str:
        try:
            raw: bytes = await self.reader.readline()
        except ValueError:
            # A line past the reader's limit is no reply of Asterisk's to our commands
            # (short result lines; GET VARIABLE of our own id): a cut block's tail (an
            # agi_arg_N value that long). Read as a blank line — a tail — not as a reset:
            # closing here left the first answer standing, and Asterisk, which wrote the
            # whole block before reading our MSet (res_agi.c setup_env, then run_agi), ran
            # it and, at our close, ended AGI() SUCCESS and dialled on it.
            self.tail_seen = True
            return ""
        if not raw.endswith(b"\n"):
            raise ConnectionResetError("Asterisk closed the AGI connection")
        return raw[:-1].decode("utf-8", errors="replace")
