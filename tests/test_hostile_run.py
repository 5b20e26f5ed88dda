"""Issue 15.6: a hostile run, then a scan of every byte the node wrote.

A real `callguard serve` (FastAGI, SIP over UDP and TCP, HTTP; compliance log to a file
and to a Redis Stream) is fed hostile input carrying phone numbers in every argument,
header and field — ASCII, full-width, Arabic-Indic, with separators, in the number's place
and in every other place (a dialplan that swaps NUMBER and CAMPAIGN; a Call-ID; a JSON
field name; a malformed header line; an HTTP request line). Then the compliance log file,
the stream, stderr and /metrics are scanned: no run of 7 or more digits (any script,
written with the separators people use) from any number used may appear.

Values the node makes itself from its clock or its key are blanked before the scan
(ISO timestamps, UUIDs, 64-hex hashes, stream ids, metric sample values, decimal
fractions): their digits are not numbers, and scanning them would only find chance.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import time
import unicodedata
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import pytest
import redis

from callguard.fronts.fastagi import contract as c
from tests.fake_asterisk import agi_session, header_block
from tests.redis_server import RedisServer
from tests.serve_node import AT, ServeNode, write_lists
from tests.test_numbers import spelled

# The numbers of the run (none of them a campaign's caller ID, which the node may print).
NUMBERS = ("8015550166", "8015550199", "4165550123", "2125550147", "3855550134",
           "4355550181", "6175550172", "8005550188", "8015550142", "8015550143")
LISTED = ("8015550199",)
INTERNATIONAL = ("442079460958",)
UT = "ut-solar-manual"
WIDE, ARABIC, NKO = "\uff10", "\u0660", "\u07c0"


def forms(number: str) -> list[str]:
    """The ways a hostile peer writes one number."""
    a, b, c_ = number[:3], number[3:6], number[6:]
    return [number, f"+1{number}", f"1{number}", f"({a}) {b}-{c_}", f"{a}.{b}.{c_}",
            f"+1 {a} {b} {c_}", spelled(number, [WIDE] * 10), spelled(number, [ARABIC] * 10),
            spelled(number, [NKO, "0"] * 5), f"tel:+1{number}", f"{number} ext 5",
            f"{number[:9]}\u00b2" + number[9:],
            # split by what ends a run: a CSV's commas, semicolons, colons; shaped like a
            # date or a clock time at one end
            f"{a},{b},{c_}", f"1,{a},{b},{c_}", f"{a};{b};{c_}", f"{a}:{b}:{c_}",
            f"{number[:4]}-{number[4:6]}-{number[6:]}", f"{a}-{b}-{c_[:2]}:{c_[2:]}"]


ALL_FORMS = [form for number in NUMBERS for form in forms(number)]


@dataclass
class Run:
    """The node after the hostile run, and what it wrote."""

    node: ServeNode
    stream: list[bytes] = field(default_factory=list)
    metrics: str = ""
    log: str = ""


# --- the attack -----------------------------------------------------------------------------


async def _fastagi(node: ServeNode) -> None:
    port = node.agi_port
    limit = asyncio.Semaphore(16)

    async def session(script: str, args: list[str]) -> None:
        async with limit:
            await agi_session(port, script, args)

    async def raw(data: bytes) -> None:
        async with limit:
            await _raw(port, data)

    jobs = []
    for number in NUMBERS:
        jobs += [session(c.ROUTE_CHECK, [form, UT, "", "1795326441.70", "84101"])
                 for form in forms(number)]
        jobs += [
            # every argument a number: a dialplan that swaps them, a CRM that fills them so
            session(c.ROUTE_CHECK, [number, number, number, number, number]),
            session(c.ROUTE_CHECK, [UT, number, "", f"{number}.7", f"+1{number}"]),
            session(c.ROUTE_CHECK, [number, UT, number, number, number]),
            session(c.ROUTE_CHECK, [number, UT, "", "1.1", f"84101\nagi_arg_1: {number}"]),
            session(c.ROUTE_CHECK, [number, UT, "", "1.1", "84101", number]),
            session(c.ROUTE_OPTOUT, [spelled(number, [WIDE] * 10), UT, "", f"linked-{number}"]),
            session(c.ROUTE_OPTOUT, [number, number, number, number]),
            session(f"callguard-{number}", [number]),
            raw(header_block(c.ROUTE_CHECK, [number])[:-1] + b"\xfe\xff\n\n"),
        ]
        jobs += [raw(text.encode("utf-8", errors="surrogateescape")) for text in (
            f"agi_network: yes\nagi_arg_1 {number}\n\n",
            f"agi_network: yes\n{number}\n\n",
            f"agi_network: yes\nagi_callerid: {number}\nagi_arg_1: \udcff{number}\n\n",
            f"agi_arg_1: {number}\n\n")]
    await asyncio.gather(*jobs)


async def _raw(port: int, data: bytes) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    await writer.drain()
    try:
        async with asyncio.timeout(3):
            while await reader.readline():
                writer.write(b"200 result=0\n")
    except (TimeoutError, ConnectionError):
        pass
    writer.close()


def _invite(uri_user: str, *, campaign: str = UT, extra: str = "", call_id: str = "",
            transport: str = "UDP") -> bytes:
    call_id = call_id or uuid.uuid4().hex
    return (f"INVITE sip:{uri_user}@127.0.0.1 SIP/2.0\r\n"
            f"Via: SIP/2.0/{transport} 127.0.0.1:5999;branch=z9hG4bK{uuid.uuid4().hex[:16]}"
            f"\r\nFrom: <sip:{uri_user}@127.0.0.1>;tag=1\r\nTo: <sip:{uri_user}@127.0.0.1>\r\n"
            f"Call-ID: {call_id}\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\n"
            f"X-Callguard-Campaign: {campaign}\r\n{extra}Content-Length: 0\r\n\r\n").encode()


def _sip(node: ServeNode) -> None:
    port = node.sip_port
    datagrams = []
    for number in NUMBERS:
        datagrams += [_invite(form.replace(" ", "")) for form in forms(number)]
        datagrams += [
            _invite(number, campaign=number, call_id=f"{number}@dialer",
                    extra=f"X-Callguard-Mode: {number}\r\nX-Callguard-Location: {number}\r\n"
                          f"X-Other: {number}\r\n"),
            _invite("8015550123", campaign=UT, call_id=f"+1 {number}",
                    extra=f"X-Callguard-Location: +1{number}\r\n"),
            _invite(number, extra=f"Require: {number}\r\n"),
            f"OPTIONS sip:{number}@127.0.0.1 SIP/2.0\r\nCall-ID: {number}\r\n\r\n".encode(),
            f"INVITE sip:{number}@127.0.0.1 SIP/2.0\r\nVia: {number}\r\n"
            f"CSeq: {number} INVITE\r\nCall-ID: x\r\n\r\n".encode(),
            f"{number} {number} {number}\r\n\r\n".encode(),
            f"SIP/2.0 200 OK\r\nCall-ID: {number}\r\n\r\n".encode(),
            _invite(f"{number}@evil;user=phone", call_id=number)[:-30] + b"\xff\xfe",
            _invite(number, extra=f"Content-Type: {number}\r\n").replace(
                b"Content-Length: 0", f"Content-Length: {number}".encode()),
        ]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for data in datagrams:
            sock.sendto(data, ("127.0.0.1", port))
            time.sleep(0.002)
        sock.settimeout(1.0)
        try:
            while sock.recv(65536):  # the answers (and their retransmissions) until quiet
                pass
        except TimeoutError:
            pass
    for number in NUMBERS[:4]:
        with socket.create_connection(("127.0.0.1", port), timeout=3) as tcp:
            tcp.sendall(_invite(number, call_id=number, transport="TCP"))
            tcp.sendall(_invite(spelled(number, [WIDE] * 10), campaign=number,
                                transport="TCP"))
            tcp.sendall(f"GARBAGE {number}\r\nContent-Length: {number}\r\n\r\n".encode())
            tcp.settimeout(0.5)
            try:
                while tcp.recv(65536):
                    pass
            except (TimeoutError, ConnectionError):
                pass


def _http(node: ServeNode) -> None:
    jobs: list[tuple] = []
    for number in NUMBERS:
        for form in forms(number):
            jobs.append(("/v1/check", {"number": form, "campaign": UT, "at": AT}, {}))
            jobs.append(("/v1/opt-out", {"number": form, "campaign": UT, "source": form}, {}))
        jobs += [
            ("/v1/check", {"number": number, "campaign": number, "mode": number,
                           "location": number, "reference": number, "at": AT}, {}),
            ("/v1/check", {"number": number, "campaign": UT, "at": number}, {}),
            ("/v1/check", {"number": number, "campaign": UT, "mode": number,
                           "location": number, "reference": number, "at": AT}, {}),
            ("/v1/check", {"number": "8015550123", "campaign": UT, "reference": number,
                           "location": f"+1 {number}", "at": AT}, {}),
            ("/v1/opt-out", {"number": number, "campaign": number, "source": number}, {}),
            ("/v1/check", {number: number, "campaign": UT}, {}),
            ("/v1/check", None, {"raw": f'{{"number": {number}}}'.encode()}),
            ("/v1/check", None, {"raw": f'{{"number": "{number}"'.encode()}),
            (f"/v1/check/{number}", {"number": number}, {}),
            (f"/v1/check?number={number}", {"number": number, "campaign": UT}, {}),
            ("/v1/check", {"number": number}, {"token": number}),
            ("/v1/check", {"number": number, "campaign": UT},
             {"headers": {"Content-Type": f"application/json; charset={number}",
                          "X-Number": number}}),
        ]
    raws = [raw.encode() for number in NUMBERS for raw in (
        f"GET /{number} HTTP/1.1\r\nHost: {number}\r\nConnection: close\r\n\r\n",
        f"{number} / HTTP/1.1\r\n\r\n",
        f"GET / HTTP/{number}\r\n\r\n",
        f"POST /v1/check HTTP/1.1\r\nHost: x\r\nContent-Length: {number}\r\n\r\n",
        f"GET /healthz HTTP/1.1\r\n{number}\r\n\r\n",
        f"GET /healthz HTTP/1.1\r\nX: \x00{number}\r\n\r\n")]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda job: node.http(job[0], job[1], **job[2]), jobs))
        list(pool.map(lambda raw: _raw_http(node, raw), raws))


def _raw_http(node: ServeNode, data: bytes) -> None:
    with socket.create_connection(("127.0.0.1", node.http_port), timeout=3) as sock:
        sock.sendall(data)
        sock.settimeout(1)
        try:
            while sock.recv(65536):
                pass
        except (TimeoutError, ConnectionError):
            pass


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory) -> Run:
    """The node, attacked on every front, then stopped; everything it wrote."""
    root = tmp_path_factory.mktemp("hostile")
    server = RedisServer(root / "redis")
    server.data_dir.mkdir()
    server.start()
    node = ServeNode(root / "node", redis_url=server.url, redis_stream=True)
    write_lists(node.data, [int(n) for n in LISTED])
    node.start()
    run = Run(node)
    try:
        asyncio.run(_fastagi(node))
        _sip(node)
        _http(node)
        log_path = node.data / "compliance.jsonl"
        lines = lambda: len(log_path.read_text().splitlines())  # noqa: E731
        node.until(lambda: node.metric("callguard_log_stream_records_total",
                                       '{outcome="sent"}') >= lines(), what="stream drained")
        run.metrics = node.http("/metrics")[1]
        assert node.alive()
    finally:
        node.stop()
    run.log = log_path.read_text()
    client = redis.Redis(port=server.port)
    run.stream = [fields[b"r"] for _, fields in client.xrange("callguard:compliance")]
    client.close()
    server.stop()
    return run


# --- the scan -------------------------------------------------------------------------------

_MADE_BY_THE_NODE = re.compile(
    r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?"  # instants
    r"|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"  # UUIDs (decision ids)
    r"|(?<![0-9a-fA-F])[0-9a-f]{64}(?![0-9a-fA-F])"  # keyed hashes
    r"|(?<![\d.])\d+\.\d+(?:[eE][+-]?\d+)?(?![\d.])"  # one decimal fraction (latency, ...)
    r"|(?<=\} )\S+$|(?<=^callguard_)\S+ \S+$")  # metric sample values
_SEPARATORS = frozenset(" \t().-/+\u00a0,;:")
_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")


def _digit(char: str) -> str | None:
    if "0" <= char <= "9":
        return char
    if char.isascii():
        return None
    value = unicodedata.digit(char, None)
    return None if value is None else str(value)


def digit_runs(text: str) -> Iterator[tuple[str, str]]:
    """(ASCII digits, the text they came from) of every run of digits of any script,
    up to two separators between them."""
    text = _ESCAPE.sub(lambda m: chr(int(m[1], 16)), text)
    digits: list[str] = []
    start = last = -1
    gap = 0
    for index, char in enumerate(text + "\n\n\n"):
        value = _digit(char)
        if value is not None:
            if start < 0:
                start = index
            digits.append(value)
            last, gap = index, 0
        elif start >= 0 and char in _SEPARATORS and gap < 2:
            gap += 1
        elif start >= 0:
            yield "".join(digits), text[max(0, start - 30):last + 30]
            digits, start, gap = [], -1, 0


WINDOWS = {number[i:i + 7] for number in (*NUMBERS, *(f"1{n}" for n in NUMBERS),
                                          *INTERNATIONAL)
           for i in range(len(number) - 6)}


def leaks(text: str) -> list[str]:
    """Every place in ``text`` where 7+ digits of a number used appear."""
    found = []
    for line in text.splitlines():
        blanked = _MADE_BY_THE_NODE.sub(lambda m: "_" * len(m[0]), line)
        for digits, where in digit_runs(blanked):
            if len(digits) >= 7 and any(w in digits for w in WINDOWS):
                found.append(where)
    return found


def record_fields(text: str) -> dict[str, int]:
    """For JSON lines: which field (dotted path) holds each leak, and how often."""
    fields: dict[str, int] = {}

    def walk(value: object, path: str) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if leaks(str(key)):
                    fields[f"{path}<key>"] = fields.get(f"{path}<key>", 0) + 1
                walk(item, f"{path}.{key}" if path else str(key))
        elif isinstance(value, list):
            for item in value:
                walk(item, f"{path}[]")
        elif isinstance(value, str) and leaks(value):
            fields[path] = fields.get(path, 0) + 1

    for line in text.splitlines():
        try:
            walk(json.loads(line), "")
        except ValueError:
            if leaks(line):
                fields["<not JSON>"] = fields.get("<not JSON>", 0) + 1
    return fields


class TestScanner:
    """The scan itself finds what it must and only that."""

    def test_finds_every_form_and_ignores_the_nodes_own_digits(self):
        for form in ALL_FORMS:
            assert leaks(f'{{"reason": "{form} is bad"}}'), form
        assert leaks('{"reason": "\\uff18\\uff10\\uff11\\uff15\\uff15\\uff15\\uff10166"}')
        clean = ('{"decision_id": "01932c4e-8015-7555-8199-801555016622", "at": '
                 '"2026-11-25T18:00:00.801555+00:00", "latency_us": 8015550.166, '
                 '"number_hash": "' + "8015550166abcdef" * 4 + '", "number_last4": "0166"}')
        assert leaks(clean) == []


class TestHostileRun:
    """No number in clear, anywhere the node wrote."""

    def test_the_run_reached_every_front(self, hostile_run):
        """Sanity: decisions from all three fronts are in the log, the stream has them."""
        fronts = {json.loads(line).get("front") for line in hostile_run.log.splitlines()}
        assert {"fastagi", "sip", "http"} <= fronts
        assert len(hostile_run.stream) == len(hostile_run.log.splitlines())
        assert hostile_run.node.stderr()

    def test_stderr_has_no_number(self, hostile_run):
        """Operational events (bad AGI headers, dropped SIP requests, aiohttp's bad-request
        tracebacks) quote peer input only through redact_digits."""
        found = leaks(hostile_run.node.stderr())
        assert found == [], found[:10]

    def test_metrics_have_no_number(self, hostile_run):
        """Peers cannot mint labels: campaigns, methods and events are fixed sets."""
        found = leaks(hostile_run.metrics)
        assert found == [], found[:10]

    def test_compliance_log_and_stream_have_no_number(self, hostile_run):
        """Every record in the file and in the stream (issue-16 owns the record fields)."""
        fields = record_fields(hostile_run.log)
        fields.update({f"stream:{k}": v for k, v in record_fields(
            "\n".join(r.decode("utf-8", errors="replace") for r in hostile_run.stream)
        ).items()})
        print(json.dumps(fields, indent=1, sort_keys=True))  # noqa: T201 - for the report
        assert fields == {}, fields
