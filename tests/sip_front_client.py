"""A dialer's side of the SIP redirect front over real sockets: one INVITE, its first final
answer over UDP or TCP, the decisions it recorded (hsip24's and hrev116's tests share it).
A serve node for it: ``tests.serve_node.ServeNode`` with a list holding 801-555-0199.
"""

from __future__ import annotations

import json
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

from tests.serve_node import AT, ServeNode, write_lists

__all__ = ["GOOD_URI", "UT", "ask", "ask_tcp", "invite", "listed_node", "no_digits_logged",
           "records", "status"]

UT = "ut-solar-manual"
GOOD_URI = "sip:8015550123@127.0.0.1"


def listed_node(root: Path) -> Iterator[ServeNode]:
    """A running serve node under ROOT whose do-not-call list holds 801-555-0199."""
    serve = ServeNode(root / "node", clock_at=AT)
    write_lists(serve.data, [8015550199])
    serve.start()
    yield serve
    serve.stop()


def invite(uri: str = GOOD_URI, *, line: str | None = None, extra: str = "",
           transport: str = "UDP") -> bytes:
    branch = uuid.uuid4().hex[:12]
    start = line if line is not None else f"INVITE {uri} SIP/2.0"
    return (f"{start}\r\n"
            f"Via: SIP/2.0/{transport} 127.0.0.1:5999;rport;branch=z9hG4bK{branch}\r\n"
            f"From: <sip:dialer@127.0.0.1>;tag=f{branch}\r\nTo: <sip:callee@127.0.0.1>\r\n"
            f"Call-ID: {branch}@dialer\r\nCSeq: 1 INVITE\r\n{extra}"
            f"X-Callguard-Campaign: {UT}\r\nContent-Length: 0\r\n\r\n").encode()


def _final(read: object) -> str:
    while True:
        answer = read()  # type: ignore[operator]
        if not answer.startswith("SIP/2.0 100 "):
            return str(answer)


def ask(node: ServeNode, data: bytes) -> str:
    """The first final answer to one request over UDP."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(5)
        sock.sendto(data, ("127.0.0.1", node.sip_port))
        return _final(lambda: sock.recv(65536).decode())


def ask_tcp(node: ServeNode, data: bytes) -> str:
    """The first final answer to one request over TCP."""
    with socket.create_connection(("127.0.0.1", node.sip_port), timeout=5) as sock:
        sock.sendall(data)
        return _final(lambda: sock.recv(65536).decode())


def records(node: ServeNode) -> list[dict[str, object]]:
    log = node.data / "compliance.jsonl"
    lines = log.read_text().splitlines() if log.exists() else []
    return [r for r in map(json.loads, lines) if r.get("event") == "decision"]


def status(answer: str) -> int:
    return int(answer.split(" ", 2)[1])


def no_digits_logged(node: ServeNode) -> None:
    stderr = node.stderr()
    for digits in ("8015550123", "8015550199", "5550123", "5550199"):
        assert digits not in stderr
