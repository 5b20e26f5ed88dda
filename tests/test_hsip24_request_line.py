"""Hostile SIP input the redirect front still accepted (hsip24): the request line and
Max-Forwards.

1. A request line that is not ``Method SP Request-URI SP SIP-Version`` (RFC 3261 §7.1,
   §25.1: one SP each; §7.1 "The elements are separated by single space (SP)
   characters"): two spaces, a tab, a space before the method or after the version. Each
   was decided as a call. Now a 400 ``Malformed Request-Line`` (``bad_request_line``),
   nothing decided or recorded.
2. ``Max-Forwards`` (§20.22, §25.1: ``1*DIGIT``, 0-255): ``-1``, ``x``, ``256``, an empty
   value, two rows were decided. Now a 400 naming the header, nothing decided.
   ``Max-Forwards: 0`` is still decided: callguard is a redirect server (README), which
   forwards nothing; §16.3's 483 is a proxy's check before forwarding, and §8.2 (the UAS
   checks a redirect server makes, §8.3) has none.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from callguard.fronts.sip.wire import max_forwards_ok, request_line_ok
from tests.serve_node import ServeNode
from tests.sip_front_client import (
    GOOD_URI,
    ask,
    ask_tcp,
    invite,
    listed_node,
    no_digits_logged,
    records,
    status,
)


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeNode]:
    yield from listed_node(tmp_path_factory.mktemp("hsip24"))


# --- 1. the request line ------------------------------------------------------------------

BAD_LINES = [
    f"INVITE  {GOOD_URI} SIP/2.0",  # two SP after the method
    f"INVITE {GOOD_URI}  SIP/2.0",  # two SP before the version
    f"INVITE\t{GOOD_URI} SIP/2.0",  # HTAB for SP
    f"INVITE {GOOD_URI}\tSIP/2.0",
    f"INVITE {GOOD_URI} SIP/2.0 ",  # trailing SP
    f"INVITE {GOOD_URI} SIP/2.0\t",
    f" INVITE {GOOD_URI} SIP/2.0",  # leading SP
]


@pytest.mark.parametrize("line", BAD_LINES)
def test_a_request_line_not_single_spaced_is_not_read(line: str) -> None:
    assert not request_line_ok(invite(line=line))


@pytest.mark.parametrize("line", [
    f"INVITE {GOOD_URI} SIP/2.0", f"INVITE {GOOD_URI} sip/2.0",
    "OPTIONS sip:127.0.0.1 SIP/2.0", "NEWMETHOD sip:a@b;x=y?h=v SIP/2.0",
])
def test_a_single_spaced_request_line_is_read(line: str) -> None:
    assert request_line_ok(invite(line=line))
    assert request_line_ok((line + "\n").encode())  # a lone LF is tolerated (as before)


@pytest.mark.parametrize("line", BAD_LINES)
def test_a_malformed_request_line_is_a_400_nothing_decided(node: ServeNode, line: str) -> None:
    before = len(records(node))
    answer = ask(node, invite(line=line))
    assert answer.startswith("SIP/2.0 400 Malformed Request-Line\r\n"), answer
    assert "Contact:" not in answer
    assert "X-Callguard-Decision" not in answer
    time.sleep(0.1)
    assert len(records(node)) == before
    assert ask(node, invite()).startswith("SIP/2.0 302 ")  # the front goes on serving
    no_digits_logged(node)


@pytest.mark.parametrize("line", BAD_LINES[:3])
def test_a_malformed_request_line_over_tcp_is_a_400(node: ServeNode, line: str) -> None:
    before = len(records(node))
    answer = ask_tcp(node, invite(line=line, transport="TCP"))
    assert answer.startswith("SIP/2.0 400 Malformed Request-Line\r\n"), answer
    time.sleep(0.1)
    assert len(records(node)) == before


def test_a_wrong_version_is_still_505(node: ServeNode) -> None:
    assert status(ask(node, invite(line=f"INVITE {GOOD_URI} SIP/3.0"))) == 505


# --- 2. Max-Forwards ----------------------------------------------------------------------

BAD_MAX_FORWARDS = ["-1", "x", "70x", "+5", "256", "1e3", "\u0667\u0660", "70, 69", ""]


@pytest.mark.parametrize("value", BAD_MAX_FORWARDS)
def test_a_max_forwards_not_one_number_in_range_is_refused(value: str) -> None:
    assert not max_forwards_ok([value])


def test_max_forwards_given_twice_is_refused() -> None:
    assert not max_forwards_ok(["70", "70"])


@pytest.mark.parametrize("values", [None, [], ["0"], ["70"], ["255"], [" 70 "], ["070"]])
def test_a_max_forwards_in_range_or_none_is_read(values: list[str] | None) -> None:
    assert max_forwards_ok(values)


@pytest.mark.parametrize("value", BAD_MAX_FORWARDS)
def test_a_bad_max_forwards_is_a_400_nothing_decided(node: ServeNode, value: str) -> None:
    before = len(records(node))
    answer = ask(node, invite(extra=f"Max-Forwards: {value}\r\n"))
    assert answer.startswith("SIP/2.0 400 "), answer
    assert "Max-Forwards" in answer.split("\r\n\r\n")[0].split("Warning:", 1)[1], answer
    assert "X-Callguard-Decision" not in answer
    time.sleep(0.1)
    assert len(records(node)) == before
    no_digits_logged(node)


def test_two_max_forwards_rows_are_a_400(node: ServeNode) -> None:
    answer = ask(node, invite(extra="Max-Forwards: 70\r\nMax-Forwards: 1\r\n"))
    assert status(answer) == 400, answer


@pytest.mark.parametrize("value", ["0", "1", "70", "255"])
def test_a_redirect_server_answers_max_forwards_zero(node: ServeNode, value: str) -> None:
    """§16.3's 483 guards a proxy's forwarding; a redirect server forwards nothing (its
    302 is an answer, §8.3), so an INVITE with no hops left is decided as any other."""
    answer = ask(node, invite(extra=f"Max-Forwards: {value}\r\n"))
    assert answer.startswith("SIP/2.0 302 "), answer
