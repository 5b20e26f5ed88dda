"""Mutation-testing gaps in ``withheld_presentation`` (hmut15), and one fail-open it found.

THE BUG: only the FIRST ``Privacy`` and the FIRST ``Remote-Party-ID`` header line were
read. An INVITE with ``Privacy: none`` then ``Privacy: id`` (or a second Remote-Party-ID,
``party=calling;privacy=full``) was ALLOWed with a 302, and the redirected INVITE carried
both lines to the trunk (RFC 3261 §8.1.3.4), which may honour the later one: a
telemarketing call with its caller ID blocked (47 CFR 64.1601(e)). The SIP front refuses a
repeated To/From/Call-ID/CSeq and question header, not these. Now every line is read.

The rest each failed one mutant every other test let pass: the comma between priv-values,
a parameter name or value in capitals, a space before ``privacy``, FreeSWITCH's
``privacy=no`` (sofia.c writes ``no`` for a presented ID), an empty ``privacy=`` (fail
closed: it may hide), a From whose host alone is ``anonymous.invalid`` (RFC 3323 §4.1.1.3),
and the 16-character bound on a token said as sent.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from callguard.fronts.sip.mapping import withheld_presentation
from tests.serve_node import ServeNode, write_lists
from tests.test_sip_withheld_caller_id import _ask, _caller_id_outcome, _headers

RPID = "Remote-Party-ID: <sip:+18015550100@x>"


@pytest.mark.parametrize(("extra", "said"), [
    ("Privacy: none\r\nPrivacy: id\r\n", "Privacy: id"),
    ("Privacy: none, id\r\n", "Privacy: id"),
    (f"{RPID};party=called\r\n{RPID};party=calling;privacy=full\r\n",
     "Remote-Party-ID privacy=full"),
    (f"{RPID};privacy=off\r\n{RPID};privacy=full\r\n", "Remote-Party-ID privacy=full"),
    (f"{RPID};party=calling;Privacy=Full\r\n", "Remote-Party-ID privacy=full"),
    (f"{RPID};party=calling; privacy=name\r\n", "Remote-Party-ID privacy=name"),
    (f"{RPID};privacy=\r\n", "Remote-Party-ID privacy=(unrecognized)"),
    ("Privacy: abcdefghijklmnop\r\n", "Privacy: abcdefghijklmnop"),  # 16: said as sent
    ("Privacy: abcdefghijklmnopq\r\n", "Privacy: (unrecognized)"),  # 17: fixed words
])
def test_every_line_and_form_that_withholds_is_read(extra, said):
    assert withheld_presentation(_headers(extra)) == said


def test_an_anonymous_invalid_host_alone_withholds():
    """RFC 3323 §4.1.1.3: the host ``anonymous.invalid`` says the From is anonymised,
    whatever the user part."""
    assert withheld_presentation(_headers("", "<sip:caller@anonymous.invalid>;tag=1")) == (
        "From: anonymous")


@pytest.mark.parametrize("extra", [
    f"{RPID};party=calling;privacy=no\r\n",  # FreeSWITCH: presented
    f"{RPID};party=calling;privacy=off\r\n{RPID};party=called;privacy=no\r\n",
    "Privacy: none\r\nPrivacy: session\r\n",
])
def test_lines_that_all_present_do_not_withhold(extra):
    assert withheld_presentation(_headers(extra)) is None


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeNode]:
    serve = ServeNode(tmp_path_factory.mktemp("sipwithheld2") / "node")
    write_lists(serve.data, [8015550199])
    serve.start()
    yield serve
    serve.stop()


def test_over_a_real_socket_a_second_privacy_line_is_answered_603(node):
    """The fail-open end to end: ``Privacy: none`` then ``Privacy: id`` was a 302."""
    record = _ask(node, "twoprivacy1", "Privacy: none\r\nPrivacy: id\r\n")
    assert record["answer"].startswith("SIP/2.0 603 "), record["answer"]
    outcome = _caller_id_outcome(record)
    assert isinstance(outcome, dict)
    assert "withheld (Privacy: id)" in outcome["reason"]
