"""Review of the withheld-caller-ID reading (hrev31).

``withheld_presentation`` read only the first Privacy and the first Remote-Party-ID line,
a Remote-Party-ID's parameters only after a ``>``, and an anonymous From's user as sent:
an INVITE with ``Privacy: none`` then ``Privacy: id`` (two lines; RFC 3323 writes one, a
B2BUA that adds its own writes two), a second Remote-Party-ID with ``privacy=full``, a
Remote-Party-ID without angle brackets, or ``From: <sip:%61nonymous@…>`` (§19.1.4: user
parts compare unescaped) was ALLOWed — a 302 whose redirected INVITE keeps those headers
(RFC 3261 §8.1.3.4) and reaches the trunk with its caller ID withheld (47 CFR
64.1601(e)(2): a telemarketer may not block it). Now each is BLOCKed, said in fixed words.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from callguard.fronts.sip.mapping import withheld_presentation
from tests.serve_node import ServeNode, write_lists
from tests.test_sip_withheld_caller_id import _ask, _caller_id_outcome, _headers

RPID = "Remote-Party-ID: <sip:+18015550100@x>;party=calling;privacy="


@pytest.mark.parametrize(("extra", "sender", "said"), [
    ("Privacy: none\r\nPrivacy: id\r\n", None, "Privacy: id"),
    ("Privacy: session\r\nPrivacy: header\r\n", None, "Privacy: header"),
    (f"{RPID}off\r\n{RPID}full\r\n", None, "Remote-Party-ID privacy=full"),
    ("Remote-Party-ID: <sip:+18015550100@x>;privacy=off, "
     "<sip:+18015550100@y>;privacy=full\r\n", None, "Remote-Party-ID privacy=full"),
    ("Remote-Party-ID: sip:+18015550100@x;party=calling;privacy=full\r\n", None,
     "Remote-Party-ID privacy=full"),
    ("Remote-Party-ID: \"Doe, John\" <sip:+18015550100@x>;privacy=uri\r\n", None,
     "Remote-Party-ID privacy=uri"),
    ("", "<sip:%61nonymous@pbx.example>;tag=1", "From: anonymous"),
    ("", "<sip:bob@%61nonymous.invalid>;tag=1", "From: anonymous"),
    ("", '"<a:b>" <sip:anonymous@pbx.example>;tag=1', "From: anonymous"),
])
def test_every_line_and_form_that_withholds_the_caller_id_is_read(extra, sender, said):
    headers = _headers(extra) if sender is None else _headers(extra, sender)
    assert withheld_presentation(headers) == said


@pytest.mark.parametrize(("extra", "sender"), [
    ("Privacy: none\r\nPrivacy: session\r\n", "<sip:dialer@x>;tag=1"),
    (f"{RPID}off\r\n{RPID}off\r\n", "<sip:dialer@x>;tag=1"),
    ("Remote-Party-ID: sip:+18015550100@x;party=calling;privacy=off\r\n",
     "<sip:dialer@x>;tag=1"),
    ("", "<sip:anonymous.bob@x>;tag=1"),
    ("", '"Anonymous" <sip:+18015550100@pbx.example>;tag=1'),  # a name, the number shown
])
def test_a_presented_caller_id_is_still_not_withheld(extra, sender):
    assert withheld_presentation(_headers(extra, sender)) is None


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeNode]:
    serve = ServeNode(tmp_path_factory.mktemp("hrev31") / "node")
    write_lists(serve.data, [8015550199])
    serve.start()
    yield serve
    serve.stop()


@pytest.mark.parametrize("extra", [
    "Privacy: none\r\nPrivacy: id\r\n",
    f"{RPID}off\r\n{RPID}full\r\n",
    "Remote-Party-ID: sip:+18015550100@x;party=calling;privacy=full\r\n",
])
def test_over_a_real_socket_a_second_line_withholding_it_is_a_603(node, extra):
    record = _ask(node, f"r{time.time_ns()}", extra)
    assert record["answer"].startswith("SIP/2.0 603 "), record["answer"]
    outcome = _caller_id_outcome(record)
    assert isinstance(outcome, dict)
    assert outcome["status"] == "block"
    assert "withheld (" in outcome["reason"]
    assert "8015550100" not in str(record)
