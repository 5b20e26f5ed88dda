"""Mutation-testing gaps in hsip14's To/From tag reading and request identity (hmut14).

Each test here kills a mutant of callguard/fronts/sip/wire.py that the hsip14 tests let
live; each is a case RFC 3261 allows, over real sockets where the front is concerned.
"""

from __future__ import annotations

from callguard.fronts.sip.wire import header_tag
from tests.test_sip import ALLOWED, Client, compliance, invite, options
from tests.test_sip14 import front  # noqa: F401  # the fixture


def test_an_escaped_quote_in_the_display_name_then_a_quoted_gen_value_with_brackets():
    """§25.1: ``display-name = *(token LWS) / quoted-string`` with ``quoted-pair`` (``\\"``)
    inside, and ``gen-value = token / host / quoted-string`` — a quoted-string may hold
    ``<`` and ``>``. The display-name must be skipped honouring its quoted-pairs: read as
    ending at the escaped quote, the value broke off and its parameters were looked for
    after the last ``>`` (inside ``"<>"``), where the tag is not found: a request in a
    dialog taken for a new call."""
    value = f'"a\\"" <sip:{ALLOWED}@gw>;x="<>";tag=c'
    assert header_tag(value) == "c"
    assert header_tag(f'"a\\"" <sip:{ALLOWED}@gw>;x="<>"') is None


def test_an_addr_spec_with_a_quoted_gen_value_holding_brackets():
    """§20.10: without angle brackets every ``;`` parameter is a header parameter; they
    start at the first ``;``. A gen-value's quoted-string may hold ``<`` and ``>``
    (§25.1): the parameters are not to be looked for after its ``>``."""
    assert header_tag(f'sip:{ALLOWED}@gw;x="a>b";tag=c') == "c"
    assert header_tag(f'sip:{ALLOWED}@gw;x="<>";tag=c') == "c"


async def test_bare_lf_folding_is_part_of_what_a_retransmission_repeats(front):  # noqa: F811
    """The front reads a request whose lines end in a bare LF (``wire.parse``), folding
    included (§7.3.1: a continuation line starts with SP or HTAB). The identity of a
    retransmission must read the same continuation lines: read only after CRLF, a request
    for another campaign, folded and under a reused branch, was given the first's 302."""
    server = await front()
    client = Client(server.port)
    first = (invite("lffold").replace(b"X-Callguard-Campaign: ", b"X-Callguard-Campaign:\r\n ")
             .replace(b"\r\n", b"\n"))
    client.send(first)
    [reply] = [r for r in await client.replies(0.3) if not r.startswith(b"SIP/2.0 100 ")]
    assert reply.startswith(b"SIP/2.0 302 "), reply  # the folded value is read whole
    [record] = compliance(server)
    assert record["campaign"] == "ut-solar-manual"
    other = first.replace(b"\n ut-solar-manual\n", b"\n another-campaign\n")
    assert other != first
    client.send(other)
    [reply] = [r for r in await client.replies(0.3) if not r.startswith(b"SIP/2.0 100 ")]
    assert reply.startswith(b"SIP/2.0 400 "), reply
    assert b"branch already used by another request" in reply
    assert len(compliance(server)) == 1


async def test_an_invite_without_a_from_is_400_naming_it_not_decided(front):  # noqa: F811
    """RFC 3261 §8.1.1: To, From, CSeq, Call-ID, Max-Forwards and Via are required; a
    request without From cannot be read as one question (§8.2.2.2's merge needs its tag;
    §21.4.1: 400, the reason saying the problem). 400 naming the header, nothing decided.
    Without the check the INVITE went on to the gate and was decided."""
    server = await front()
    data = invite("nofrom").replace(b"From: <sip:dialer@127.0.0.1>;tag=fnofrom\r\n", b"")
    assert b"From:" not in data
    client = Client(server.port)
    client.send(data)
    [reply] = await client.replies(0.3)
    assert reply.startswith(b"SIP/2.0 400 "), reply
    assert b'399 callguard "missing from"' in reply.lower()
    assert server.stats.counts["missing_headers"] == 1
    assert compliance(server) == []


async def test_two_invites_differing_only_in_the_from_tag_are_two_calls(front):  # noqa: F811
    """§8.2.2.2: a tagless INVITE is a merged copy (482) only if its From tag, Call-ID and
    CSeq all match an ongoing transaction's. Two requests with the same Call-ID and CSeq
    under other From tags are two requests, each decided. The From's ``;tag=`` in its
    display-name is text (§25.1, ``header_tag``): the tags that differ are after the
    ``>``."""
    server = await front()
    client = Client(server.port)
    plain = b"From: <sip:dialer@127.0.0.1>;tag=f"
    first = invite("ft1").replace(plain, b'From: "d;tag=x" <sip:dialer@127.0.0.1>;tag=one-')
    second = (invite("ft1").replace(plain, b'From: "d;tag=x" <sip:dialer@127.0.0.1>;tag=two-')
              .replace(b"branch=z9hG4bKft1", b"branch=z9hG4bKft2"))
    client.send(first)
    client.send(second)
    replies = sorted(r.split(b"\r\n", 1)[0] for r in await client.replies(0.3)
                     if not r.startswith(b"SIP/2.0 100 "))
    assert replies == [b"SIP/2.0 302 Moved Temporarily"] * 2
    assert len(compliance(server)) == 2
    assert server.stats.counts["merged"] == 0


async def test_a_copy_whose_to_has_an_empty_tag_is_a_dialog_not_a_merge(front):  # noqa: F811
    """§8.2.2.2 merges only a request with no To tag; ``;tag`` without a value is a tag
    (``header_tag`` gives ""): such a copy of a decided INVITE under another branch is a
    request this server cannot read (hhos15: a tag is a token of one character or more,
    §25.1: 400; it was the 481 of a dialog), never a fork (482) or a new call."""
    server = await front()
    client = Client(server.port)
    first = invite("et1")
    client.send(first)
    [reply] = [r for r in await client.replies(0.3) if not r.startswith(b"SIP/2.0 100 ")]
    assert reply.startswith(b"SIP/2.0 302 "), reply
    copy = (first.replace(f"To: <sip:{ALLOWED}@127.0.0.1>".encode(),
                          f"To: <sip:{ALLOWED}@127.0.0.1>;tag".encode())
            .replace(b"branch=z9hG4bKet1", b"branch=z9hG4bKet2"))
    client.send(copy)
    [reply] = [r for r in await client.replies(0.3) if not r.startswith(b"SIP/2.0 100 ")]
    assert reply.startswith(b"SIP/2.0 400 "), reply
    assert server.stats.counts["merged"] == 0
    assert len(compliance(server)) == 1


async def test_an_options_with_a_question_header_twice_is_answered(front):  # noqa: F811
    """The campaign, mode and location headers are an INVITE's question (``repeated``:
    two values say two things, so the INVITE is refused). An OPTIONS asks nothing of the
    gate (§11.2: answered as to an INVITE's capabilities, nothing decided): a keepalive
    that copies a dialer's header set twice is still answered 200."""
    server = await front()
    client = Client(server.port)
    data = options("opt2").replace(
        b"Content-Length", b"X-Callguard-Campaign: a\r\nX-Callguard-Campaign: b\r\nContent-Length")
    client.send(data)
    [reply] = await client.replies(0.3)
    assert reply.startswith(b"SIP/2.0 200 "), reply
    assert server.stats.counts["repeated_header"] == 0


async def test_a_request_in_another_version_without_a_via_is_not_answered(front):  # noqa: F811
    """A response goes where the request's top Via says (§18.2.2); a request with no Via
    names nowhere to answer, so it is counted and dropped — the 505 of another version
    (§21.5.18) as the 400s of ``_unreadable``. One branch now answers all of them: it
    must keep asking for the Via."""
    server = await front()
    client = Client(server.port)
    client.send(invite("nv3").replace(b" SIP/2.0\r\n", b" SIP/3.0\r\n", 1)
                .replace(b"Via: SIP/2.0/UDP 127.0.0.1:5999;rport;branch=z9hG4bKnv3\r\n", b""))
    assert await client.silence(0.3) == []
    assert server.stats.counts["bad_version"] == 1
    client.send(options("nv3b"))  # and the front goes on
    [reply] = await client.replies(0.3)
    assert reply.startswith(b"SIP/2.0 200 "), reply
    assert compliance(server) == []
