"""A SIP question whose call would go out with its caller ID withheld is BLOCKed (lead, from
hhos15's finding).

The SIP front answers ALLOW with a 302; RFC 3261 §8.1.3.4 has the dialer's redirected
INVITE keep the original's headers, so an INVITE carrying ``Privacy: id`` (RFC 3325),
``header`` or ``user`` (RFC 3323), a Remote-Party-ID ``privacy=full`` or an anonymous From
(RFC 3323 §4.1.1.3) reaches the trunk with them: a telemarketing call with its caller ID
blocked, which 47 CFR 64.1601(e) forbids and no consent lifts. Before, such an INVITE was
ALLOWed like any other. Now the caller-ID rules BLOCK it, saying what withheld it, in fixed
words (no header text, so no number, reaches the record).
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from callguard.fronts.sip.mapping import withheld_presentation
from callguard.fronts.sip.wire import parse
from callguard.policy import Status
from callguard.policy.rules import Context
from tests.conftest import PACKS
from tests.serve_node import ServeNode, write_lists
from tests.test_engine import context_for


def _headers(extra: str, sender: str = "<sip:dialer@x>;tag=1"):
    raw = ("INVITE sip:8015550123@gw SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5099;branch=z9hG4bK1\r\n"
           f"From: {sender}\r\nTo: <sip:8015550123@gw>\r\nCall-ID: w1\r\nCSeq: 1 INVITE\r\n"
           f"{extra}Content-Length: 0\r\n\r\n").encode()
    return parse(raw).headers


@pytest.mark.parametrize(("extra", "sender", "said"), [
    ("Privacy: id\r\n", None, "Privacy: id"),
    ("Privacy: ID\r\n", None, "Privacy: id"),
    ("Privacy: header;user\r\n", None, "Privacy: header;user"),
    ("Privacy: session;id;critical\r\n", None, "Privacy: id;critical"),
    ("Privacy: 8015550123\r\n", None, "Privacy: (unrecognized)"),
    ("Remote-Party-ID: <sip:+18015550100@x>;party=calling;privacy=full\r\n", None,
     "Remote-Party-ID privacy=full"),
    ("Remote-Party-ID: <sip:+18015550100@x>;privacy=\"uri\"\r\n", None,
     "Remote-Party-ID privacy=uri"),
    ("", '"Anonymous" <sip:anonymous@anonymous.invalid>;tag=1', "From: anonymous"),
    ("", "<sip:Anonymous@pbx.example>;tag=1", "From: anonymous"),
    ("", "sip:anonymous@anonymous.invalid;tag=1", "From: anonymous"),
    ("P-Asserted-Identity: <sip:anonymous@anonymous.invalid>\r\n", None,
     "P-Asserted-Identity: anonymous"),
    ("P-Asserted-Identity: <tel:+18015550100>\r\n"
     "P-Asserted-Identity: \"Anonymous\" <sip:anonymous@x>\r\n", None,
     "P-Asserted-Identity: anonymous"),
    ("P-Preferred-Identity: sip:Anonymous@pbx.example\r\n", None,
     "P-Preferred-Identity: anonymous"),
    # (hrev33) RFC 3325 §9.1: one line may carry both identities, comma-separated; the
    # anonymous one was missed when it was not the first
    ("P-Asserted-Identity: <tel:+18015550100>, <sip:anonymous@anonymous.invalid>\r\n", None,
     "P-Asserted-Identity: anonymous"),
    ("P-Asserted-Identity: \"A, B\" <tel:+18015550100>,sip:anonymous@anonymous.invalid\r\n",
     None, "P-Asserted-Identity: anonymous"),
])
def test_what_withholds_the_caller_id_is_read_and_said_in_fixed_words(extra, sender, said):
    headers = _headers(extra) if sender is None else _headers(extra, sender)
    assert withheld_presentation(headers) == said


@pytest.mark.parametrize(("extra", "sender"), [
    ("", "<sip:dialer@x>;tag=1"),
    ("Privacy: none\r\n", "<sip:dialer@x>;tag=1"),
    ("Privacy: session\r\n", "<sip:dialer@x>;tag=1"),
    ("Remote-Party-ID: <sip:+18015550100@x>;privacy=off\r\n", "<sip:dialer@x>;tag=1"),
    ("Remote-Party-ID: <sip:+18015550100@x>;party=calling\r\n", "<sip:dialer@x>;tag=1"),
    ("", '"Anonymous Solar" <sip:agent7@pbx.example>;tag=1'),  # a name is not a withheld ID
    ("P-Asserted-Identity: <tel:+18015550100>\r\n", "<sip:dialer@x>;tag=1"),
    ("P-Preferred-Identity: \"Anonymous Solar\" <sip:+18015550100@x>\r\n",
     "<sip:dialer@x>;tag=1"),
    ("P-Asserted-Identity: \"Anonymous, Solar\" <sip:+18015550100@x>, <tel:+18015550100>\r\n",
     "<sip:dialer@x>;tag=1"),
])
def test_a_presented_caller_id_is_not_withheld(extra, sender):
    assert withheld_presentation(_headers(extra, sender)) is None


def test_the_caller_id_rule_blocks_a_withheld_presentation():
    """The rule's PASS is memoised by the campaign's number: a withheld presentation must
    not get the PASS kept for that number (asked after a presented call, as a node would)."""
    ctx = context_for("2026-07-22T12:00:00-06:00")
    rule = next(r for r in PACKS["us-federal"].rules if r.rule_id == "us-federal:64.1601(e)")
    assert rule.evaluate(ctx).status is Status.PASS
    withheld = replace(ctx.attempt, presentation_withheld="Privacy: id")
    outcome = rule.evaluate(Context(withheld, ctx.facts, ctx.local, ctx.local_unknown_reason,
                                    ctx.call_date))
    assert outcome.status is Status.BLOCK
    assert "withheld (Privacy: id)" in outcome.reason


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeNode]:
    serve = ServeNode(tmp_path_factory.mktemp("sipwithheld") / "node")
    write_lists(serve.data, [8015550199])
    serve.start()
    yield serve
    serve.stop()


def _ask(node: ServeNode, call_id: str, extra: str) -> dict:
    data = ("INVITE sip:8015550123@gw SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:5099;branch=z9hG4bK{call_id};rport\r\n"
            f"From: <sip:dialer@x>;tag=1\r\nTo: <sip:8015550123@gw>\r\n"
            f"Call-ID: {call_id}\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\n{extra}"
            "X-Callguard-Campaign: ut-solar-manual\r\nContent-Length: 0\r\n\r\n").encode()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(5)
        sock.sendto(data, ("127.0.0.1", node.sip_port))
        answer = sock.recv(65536)
        while answer.startswith(b"SIP/2.0 100 "):
            answer = sock.recv(65536)
    decision = next(line.split(b":", 1)[1].strip().decode() for line in answer.split(b"\r\n")
                    if line.lower().startswith(b"x-callguard-decision:"))
    log = Path(node.data) / "compliance.jsonl"
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        for line in log.read_bytes().splitlines():
            if decision.encode() in line:
                record = json.loads(line)
                record["answer"] = answer.split(b"\r\n", 1)[0].decode()
                return record
        time.sleep(0.05)
    raise AssertionError(f"no record of {decision}")


def _caller_id_outcome(record: dict) -> dict | None:
    """The caller-ID rule's outcome when it did not pass (a compact record lists only
    those; a passed rule is a letter of its pack's string)."""
    return next((o for o in record.get("outcomes", [])
                 if o["rule"] == "us-federal:64.1601(e)"), None)


def test_over_a_real_socket_a_withheld_caller_id_is_answered_603_and_recorded(node):
    """Whatever the hour (the node decides at its clock), the INVITE with ``Privacy: id`` is
    answered 603 and its record holds the caller-ID rule's BLOCK with the reason; the same
    INVITE without it has the rule passed (not among the record's outcomes)."""
    shown = _ask(node, f"p{time.time_ns()}", "Privacy: none\r\n")
    assert "outcomes" in shown or shown["verdict"] == "ALLOW"
    assert _caller_id_outcome(shown) is None
    hidden = _ask(node, f"h{time.time_ns()}", "Privacy: id\r\n")
    assert hidden["answer"].startswith("SIP/2.0 603 "), hidden["answer"]
    assert hidden["verdict"] == "BLOCK"
    outcome = _caller_id_outcome(hidden)
    assert isinstance(outcome, dict)
    assert outcome["status"] == "block"
    assert "withheld (Privacy: id)" in outcome["reason"]
