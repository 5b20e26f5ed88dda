"""A fake Asterisk FastAGI client that replays recorded traffic over a real TCP socket.

Asterisk itself is not packaged for this OS. The header blocks are the recorded bytes of
Asterisk 22.10.1 (shared/fixtures/asterisk/agi/lab-asterisk-22.10.1/*.fastagi.rx.txt), with
only the lines that carry the URL and the AGI() arguments rewritten to callguard's
contract; the reply patterns (HANGUP lines, 511, multi-line 520) are cut from the same
recordings. The one reply no recording holds, ``GET VARIABLE`` after an ``EXEC MSet``, is
synthesised from res_agi.c (``asterisk_answer``).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path

from callguard.fronts.fastagi.wire import AGI_LINE_MAX
from tests.asterisk_replica import exec_mset_variables

LAB = (Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "asterisk" / "agi"
       / "lab-asterisk-22.10.1")


def recorded(name: str) -> bytes:
    """The bytes Asterisk sent in one recorded session."""
    return (LAB / f"{name}.fastagi.rx.txt").read_bytes()


def recorded_headers(name: str = "agi-normal.01-callguard") -> list[bytes]:
    """The recorded header block, as lines (LF), without the blank line."""
    block = recorded(name).split(b"\n\n", 1)[0]
    return block.split(b"\n")


def reply_after_headers(name: str) -> bytes:
    """What Asterisk sent after the header block in a recording."""
    return recorded(name).split(b"\n\n", 1)[1]


# Reply patterns, cut from the recordings.
REPLY_OK = b"200 result=0\n"
REPLY_HANGUP_THEN_511 = reply_after_headers("agi-slow.01-slow")  # HANGUP then 511 ...
REPLY_HANGUP_THEN_OK = b"HANGUP\n" + REPLY_OK  # unsolicited HANGUP before the reply
REPLY_520_BLOCK = b"\n".join(reply_after_headers("agi-errors.01-errors").split(b"\n")[1:5]) + b"\n"


def header_block(script: str, args: list[str], *, source: str = "agi-normal.01-callguard",
                 host: str = "127.0.0.1", port: int = 4573) -> bytes:
    """A recorded block with our URL and arguments in place of the recording's."""
    lines = []
    for line in recorded_headers(source):
        key = line.split(b":", 1)[0]
        if key == b"agi_network_script":
            lines.append(f"agi_network_script: {script}".encode())
        elif key == b"agi_request":
            lines.append(f"agi_request: agi://{host}:{port}/{script}".encode())
        elif key.startswith(b"agi_arg_"):
            continue
        else:
            lines.append(line)
    lines.extend(f"agi_arg_{i}: {arg}".encode() for i, arg in enumerate(args, start=1))
    return b"\n".join(lines) + b"\n\n"


# Dialplan functions a live channel answers (``asterisk_answer``).
FUNCTIONS = {"CHANNEL(checkhangup)": "0"}


def asterisk_answer(command: str, channel: dict[str, str], reply: bytes) -> bytes:
    """What Asterisk writes for ``command`` on a channel holding ``channel``'s variables.

    ``EXEC MSet``: ``reply`` (a recorded pattern); the channel takes the variables when
    that pattern holds a ``200`` line (MSet ran), not on a 511 or a 520. ``GET VARIABLE
    NAME``: SYNTHESISED from the source, not recorded — res_agi.c ``handle_getvariable``
    writes ``"200 result=1 (%s)\n"`` with the value, or ``"200 result=0\n"`` when the
    variable is unset (the same shape as the recorded replies to other GET VARIABLEs:
    agi-errors ``200 result=1 (two words)``, agi-normal ``200 result=0``); it is dead-safe
    in res_agi's command table, so it answers so on a dead channel too. A name ending in
    ``)`` is a function read (``ast_func_read``): ``CHANNEL(checkhangup)`` is func_channel.c's
    ``ast_check_hangup(chan) ? "1" : "0"``, "0" (live) unless ``channel`` says otherwise.
    Anything else: ``reply``."""
    words = command.split(" ", 2)
    if len(words) == 3 and [w.upper() for w in words[:2]] == ["GET", "VARIABLE"]:
        value = channel.get(words[2], FUNCTIONS.get(words[2]))
        return b"200 result=0\n" if value is None else f"200 result=1 ({value})\n".encode()
    if command.upper().startswith("EXEC MSET") and b"\n200 " in b"\n" + reply:
        channel.update(exec_mset_variables(command))
    return reply


@dataclass
class SessionResult:
    """What the fake Asterisk saw: commands received, the variables every MSet asked to
    set (taken or not), timings."""

    commands: list[str] = field(default_factory=list)
    variables: dict[str, str] = field(default_factory=dict)
    closed_by_server: bool = False
    seconds: float = 0.0  # connect to the server's close (the read-back and close included)
    answered: float | None = None  # connect to the first MSet: what [fastagi] budget_ms bounds


async def agi_session(port: int, script: str, args: list[str], *, reply: bytes = REPLY_OK,
                      timeout: float = 5.0) -> SessionResult:
    """Connect, send headers, answer each command with ``reply``, read until EOF."""
    result = SessionResult()
    channel: dict[str, str] = {}  # the variables the channel holds, as Asterisk would
    started = time.perf_counter()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(header_block(script, args, port=port))
        await writer.drain()
        async with asyncio.timeout(timeout):
            while True:
                try:
                    line = await reader.readline()
                except ConnectionResetError:
                    line = b""
                if not line:
                    result.closed_by_server = True
                    break
                # res_agi.c run_agi reads a command into buf[AGI_BUF_LEN] (2048) with
                # fgets: a longer line would run cut there, its rest as a next command.
                assert len(line) <= AGI_LINE_MAX, f"run_agi would cut this {len(line)}-byte line"
                command = line.decode().rstrip("\n")
                result.commands.append(command)
                if command.upper().startswith("EXEC MSET"):
                    result.variables.update(exec_mset_variables(command))
                    if result.answered is None:
                        result.answered = time.perf_counter() - started
                writer.write(asterisk_answer(command, channel, reply))
                try:
                    await writer.drain()
                except ConnectionResetError:
                    result.closed_by_server = True
                    break
    finally:
        writer.close()
        result.seconds = time.perf_counter() - started
    return result
