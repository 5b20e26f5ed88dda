"""The SIP front as a hostile or merely unusual peer finds it (hsip14), over real sockets.

First the To header's tag, read one way for the whole front (``wire.header_tag``).

Three checks once read it three ways: a regex after the last ``>`` (the 481 of an INVITE
in a dialog), and a substring test for ``;tag=`` (the tag a response adds, and whether a
tagless INVITE may be a forked copy). The substring test was fooled by ``;tag=`` inside a
quoted display-name (``To: "a;tag=b" <sip:…>``) or inside the angle-bracketed URI (a URI
parameter): callguard decided the INVITE and answered its 302 with no To tag — RFC 3261
§8.2.6.2: the UAS MUST add a tag to the To of a response when the request's To has
none; without it the dialer cannot tell this answer's dialog from another's (§12.1.1).

The parser is tested on its own against the grammar (§25.1: ``To = ( name-addr /
addr-spec ) *( SEMI to-param )``, §20.10 for parameters after an addr-spec), then through
the front over a real UDP and TCP socket.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from callguard.fronts.sip.mapping import quote
from callguard.fronts.sip.server import SipFront
from callguard.fronts.sip.wire import header_tag
from tests.test_sip import ALLOWED, QUIET_T1, TRUNK, Client, compliance, invite, make_runtime

# (value, the header's tag) — from RFC 3261's examples (§20.39, §20.20, §25.1) and its
# grammar's corners
CASES = [
    ("<sip:8015550123@gw>", None),
    ("Bob <sip:bob@biloxi.com>;tag=a6c85cf", "a6c85cf"),  # §20.39's example
    ('"Bob" <sip:bob@biloxi.com>;tag=a6c85cf', "a6c85cf"),
    ("sip:+12125551212@server.phone2net.com;tag=887s", "887s"),  # §20.20: an addr-spec
    ("sip:bob@biloxi.com;user=phone;tag=x1", "x1"),  # §20.10: all header parameters
    ("tel:+18015550123;tag=t1", "t1"),
    ("sip:bob@biloxi.com", None),
    ('sip:bob@biloxi.com;foo="x;tag=y"', None),
    # the defect: ";tag=" in a quoted display-name is text
    ('"a;tag=b" <sip:8015550123@gw>', None),
    ('"a;tag=b" <sip:8015550123@gw>;tag=c', "c"),
    ('"a\\";tag=b" <sip:8015550123@gw>', None),  # an escaped quote does not end it
    ('"a\\\\" <sip:8015550123@gw>;tag=c', "c"),  # an escaped backslash, then the end
    ('"<sip:x;tag=1>" <sip:8015550123@gw>', None),  # brackets in the display-name
    ("Tag Team <sip:8015550123@gw>", None),  # display-name tokens
    # a URI parameter inside <...> is the URI's, not the header's
    ("<sip:8015550123@gw;tag=b>", None),
    ("<sip:8015550123@gw;tag=b>;tag=c", "c"),
    ("<tel:+18015550123;tag=b>", None),
    # SWS around SEMI and EQUAL; parameter names in any case (§7.3.1)
    ("<sip:8015550123@gw> ; TAG = c", "c"),
    ("<sip:8015550123@gw>\t;\ttag\t=\tc", "c"),
    ("<sip:8015550123@gw>;Tag=AbC", "AbC"),  # the value keeps its case
    # other parameters
    ("<sip:8015550123@gw>;ttag=c", None),
    ("<sip:8015550123@gw>;tagx=c", None),
    ("<sip:8015550123@gw>;x-tag=c", None),
    ("<sip:8015550123@gw>;foo=tag", None),
    ('<sip:8015550123@gw>;foo="a;tag=b"', None),  # gen-value = quoted-string
    ('<sip:8015550123@gw>;foo="a\\";tag=b"', None),
    ('<sip:8015550123@gw>;foo="a;tag=b";tag=c', "c"),
    ("<sip:8015550123@gw>;foo;tag=c;bar=1", "c"),
    # a tag with no value is still a tag (the request claims a dialog)
    ("<sip:8015550123@gw>;tag", ""),
    ("<sip:8015550123@gw>;tag=", ""),
    # values that break the grammar (an unbalanced quote, an unclosed "<"): read as the
    # 481 check read them before, a ";tag=" after the last ">" (or anywhere without one)
    ('"unclosed <sip:8015550123@gw>;tag=c', "c"),
    ("<sip:8015550123@gw;tag=c", "c"),
    ('"12" Pizza" <sip:8015550123@gw>;tag=c', "c"),  # an unescaped inch mark
    ('"12" Pizza" <sip:8015550123@gw>', None),
    ('"a;tag=b <sip:8015550123@gw>', None),
    ("", None),
]


@pytest.fixture
async def front(tmp_path) -> AsyncIterator[Callable[..., Awaitable[SipFront]]]:
    """A SIP front in this process on free ports, on the real gate (tests/test_sip.py's
    runtime: embedded lists and records), T1 long enough that no timer G copy interferes."""
    runtime = make_runtime(tmp_path)
    made: list[SipFront] = []

    async def make(**changes) -> SipFront:
        sip = replace(runtime.settings.sip, **{"port": 0, "trunk": TRUNK, "t1_ms": QUIET_T1,
                                               "max_retransmits": 3, **changes})
        server = SipFront(runtime.gate, sip)
        server.runtime = runtime  # type: ignore[attr-defined]  # compliance() reads it
        await server.start()
        made.append(server)
        return server

    yield make
    for server in made:
        await server.close()
    await runtime.aclose()


@pytest.mark.parametrize(("value", "tag"), CASES)
def test_header_tag(value: str, tag: str | None) -> None:
    assert header_tag(value) == tag


_TOKEN = st.text(st.sampled_from("abcXYZ019-.!%*_+`'~"), min_size=1, max_size=8)
_TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=20)


@given(name=_TEXT, uri_params=st.lists(st.tuples(st.sampled_from(["tag", "user", "TAG"]),
                                                 _TOKEN), max_size=3),
       params=st.lists(st.tuples(_TOKEN.filter(lambda t: t.lower() != "tag"),
                                 st.one_of(_TOKEN, _TEXT.map(quote))), max_size=3),
       tag=st.one_of(st.none(), _TOKEN), spaces=st.sampled_from(["", " ", "\t", " \t "]))
def test_header_tag_of_generated_name_addrs(name, uri_params, params, tag, spaces):
    """§25.1: ``[ display-name ] LAQUOT addr-spec RAQUOT *( SEMI to-param )``, the
    display-name any text quoted (``mapping.quote``: quotes and backslashes escaped), the
    URI with any parameters (``tag`` among them), generic-params with token or
    quoted-string values: the header's tag is the tag-param, or None."""
    uri = "sip:x@y" + "".join(f";{k}={v}" for k, v in uri_params)
    value = f"{quote(name)} <{uri}>" + "".join(f"{spaces};{spaces}{k}={v}" for k, v in params)
    if tag is not None:
        value += f"{spaces};{spaces}tag{spaces}={spaces}{tag}"
    assert header_tag(value) == tag


def _to(reply: bytes) -> str:
    return next(line[4:] for line in reply.decode().split("\r\n") if line.startswith("To: "))


def _tagged(request: bytes, to: str) -> bytes:
    plain = f"To: <sip:{ALLOWED}@127.0.0.1>".encode()
    assert plain in request
    return request.replace(plain, b"To: " + to.encode())


async def _final(reader: asyncio.StreamReader) -> bytes:
    while True:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 2)
        if not head.startswith(b"SIP/2.0 100 "):
            return head


async def _ask(server, data: bytes, over: str) -> bytes:
    """The final answer to one INVITE over a real UDP or TCP socket."""
    if over == "udp":
        client = Client(server.port)
        client.send(data)
        replies = [r for r in await client.replies(0.3) if not r.startswith(b"SIP/2.0 100 ")]
        assert len(replies) == 1, replies
        return replies[0]
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        writer.write(data.replace(b"SIP/2.0/UDP", b"SIP/2.0/TCP"))
        return await _final(reader)
    finally:
        writer.close()


@pytest.mark.parametrize("over", ["udp", "tcp"])
@pytest.mark.parametrize("to", [f'"a;tag=b" <sip:{ALLOWED}@127.0.0.1>',
                                f'"a\\";tag=b" <sip:{ALLOWED}@127.0.0.1>',
                                f"<sip:{ALLOWED}@127.0.0.1;tag=b>"],
                         ids=["display-name", "escaped-quote", "uri-parameter"])
async def test_a_tag_lookalike_in_the_to_still_gets_our_tag(front, to, over):
    """§8.2.6.2: the 302 to an INVITE whose To has no tag carries one; ``;tag=`` in the
    display-name or the URI is not one. Before, the 302 echoed the To untagged."""
    server = await front()
    reply = await _ask(server, _tagged(invite(f"lk{over}"), to), over)
    assert reply.startswith(b"SIP/2.0 302 "), reply
    answered = _to(reply)
    assert answered.startswith(to + ";tag="), answered
    assert re.fullmatch(r"[0-9a-f]{12}", header_tag(answered) or ""), answered
    assert [r["verdict"] for r in compliance(server)] == ["ALLOW"]


async def test_a_forked_copy_with_such_a_to_is_merged_not_decided_twice(front):
    """§8.2.2.2: a tagless INVITE under a second Via branch with the first one's Call-ID,
    From tag and CSeq is a copy (482). A display-name holding ``;tag=`` made the To read
    as tagged, so the copy was decided and recorded a second time."""
    server = await front()
    client = Client(server.port)
    first = _tagged(invite("fk1"), f'"a;tag=b" <sip:{ALLOWED}@127.0.0.1>')
    top = b"Via: SIP/2.0/UDP 127.0.0.1:5999;rport;branch=z9hG4bKfk1"
    forked = first.replace(top, b"Via: SIP/2.0/UDP 127.0.0.1:5998;rport;branch=z9hG4bKfk2"
                           b"\r\n" + top)
    client.send(first)
    client.send(forked)
    replies = sorted(r.split(b"\r\n", 1)[0] for r in await client.replies(0.3))
    assert replies == [b"SIP/2.0 302 Moved Temporarily", b"SIP/2.0 482 Loop Detected"]
    assert len(compliance(server)) == 1
    assert server.stats.counts["merged"] == 1


async def test_a_tag_inside_a_quoted_parameter_value_is_no_dialog(front):
    """``;foo="a;tag=b"`` is one generic-param whose value is a quoted-string: no tag.
    The 481 check read it as one and refused a new call as a request in a dialog."""
    server = await front()
    to = f'<sip:{ALLOWED}@127.0.0.1>;foo="a;tag=b"'
    reply = await _ask(server, _tagged(invite("qp"), to), "udp")
    assert reply.startswith(b"SIP/2.0 302 "), reply
    assert _to(reply).startswith(to + ";tag=")
    assert len(compliance(server)) == 1


async def test_a_tag_without_a_value_is_no_new_call(front):
    """``To: <…>;tag`` (the parameter there, its token missing) is no new call: nothing
    decided, and no second tag written after it. Before, it was decided and the 302's To
    read ``<…>;tag;tag=…``: two tags. It breaks §25.1's grammar (a tag is a token of one
    character or more), so the answer is a 400 naming it (hhos15), no longer the 481 of a
    dialog it does not name (tests/test_hostile15_sip.py)."""
    server = await front()
    reply = await _ask(server, _tagged(invite("nv"), f"<sip:{ALLOWED}@127.0.0.1>;tag"),
                       "udp")
    assert reply.startswith(b"SIP/2.0 400 "), reply
    assert _to(reply).count("tag") == 1
    assert compliance(server) == []


async def test_a_to_that_breaks_the_grammar_after_a_tag_is_no_new_call(front):
    """A display-name with an unescaped quote (``"12" Pizza"``, three quotes) breaks
    §25.1's grammar; real stacks refuse such a To. header_tag read it as having no
    parameters at all, so a request in a dialog (``;tag=`` after the ``>``) was decided
    as a new call: recorded (a call attempt the called party never got, counted toward
    its caps) and answered 302 with a second To tag. Before hsip14 the 481 check read the
    tag after the last ``>``; it does again: 481, nothing decided, no tag added."""
    server = await front()
    to = f'"12" Pizza" <sip:{ALLOWED}@127.0.0.1>;tag=dlg1'
    reply = await _ask(server, _tagged(invite("bq"), to), "udp")
    assert reply.startswith(b"SIP/2.0 481 "), reply
    assert _to(reply) == to
    assert compliance(server) == []
    untagged = f'"12" Pizza" <sip:{ALLOWED}@127.0.0.1>'  # no tag: a new call, tagged by us
    reply = await _ask(server, _tagged(invite("bq2"), untagged), "udp")
    assert reply.startswith(b"SIP/2.0 302 "), reply
    assert _to(reply).startswith(untagged + ";tag=")
    assert len(compliance(server)) == 1


@pytest.mark.parametrize(("extra", "name"), [
    (f"To: <sip:{ALLOWED}@127.0.0.1>;tag=other", "To"),
    (f"t: <sip:{ALLOWED}@127.0.0.1>", "To"),  # the compact form is the same header
    ("From: <sip:someone@127.0.0.1>;tag=other", "From"),
    ("Call-ID: another@dialer", "Call-ID"),
    ("CSeq: 2 INVITE", "CSeq"),
])
async def test_an_identifying_header_given_twice_is_400_not_decided(front, extra, name):
    """RFC 3261 §7.3.1: a header may come in several rows only if it is a comma-separated
    list; To, From, Call-ID and CSeq are single values (§25.1). With two To rows (the
    second tagged) the front decided a new call on the first while the next element may
    read the second as a request in a dialog; with two Call-IDs the record's reference
    was whichever came first. 400, nothing decided, nothing recorded."""
    server = await front()
    data = invite("tw").replace(b"Max-Forwards: 70\r\n",
                                f"Max-Forwards: 70\r\n{extra}\r\n".encode())
    reply = await _ask(server, data, "udp")
    assert reply.startswith(b"SIP/2.0 400 "), reply
    assert f'399 callguard "{name} given more than once"'.encode() in reply
    assert compliance(server) == []
    # an ACK is never answered; under an RFC 2543 branch (no magic cookie) it is parsed,
    # so it reaches the same check (a cookie branch would be matched unparsed, ``peek``)
    ack = (data.replace(b"INVITE sip:", b"ACK sip:").replace(b" INVITE\r\n", b" ACK\r\n")
           .replace(b"branch=z9hG4bKtw", b"branch=rfc2543tw"))
    client = Client(server.port)
    client.send(ack)
    assert await client.silence(0.2) == []
    assert server.stats.counts["repeated_header"] == 2  # the INVITE, then the ACK


async def test_a_folded_question_header_is_part_of_what_a_retransmission_repeats(front):
    """A retransmission repeats its request line, Call-ID and question headers; another
    request under the same branch is a 400 (``branch_reused``), never the first one's
    answer. The comparison read each header's first line only: with the campaign folded
    onto a continuation line (§7.3.1), a request for another campaign under a reused
    branch read as a retransmission and was given the 302 decided for the first."""
    server = await front()
    client = Client(server.port)
    first = invite("fold").replace(b"X-Callguard-Campaign: ", b"X-Callguard-Campaign:\r\n ")
    client.send(first)
    [reply] = await client.replies(0.3)
    assert reply.startswith(b"SIP/2.0 302 "), reply  # the folded value is read whole
    [record] = compliance(server)
    assert record["campaign"] == "ut-solar-manual"
    other = first.replace(b"\r\n ut-solar-manual\r\n", b"\r\n another-campaign\r\n")
    assert other != first
    client.send(other)
    [reply] = await client.replies(0.3)
    assert reply.startswith(b"SIP/2.0 400 "), reply
    assert b"branch already used by another request" in reply
    assert server.stats.counts["branch_reused"] == 1
    client.send(first)  # the real retransmission still gets its answer
    [again] = await client.replies(0.3)
    assert again.startswith(b"SIP/2.0 302 "), again
    assert len(compliance(server)) == 1


async def test_folded_listed_and_missing_headers_read_as_the_grammar_says(front):
    """Pins (these passed before): a To folded over continuation lines (§7.3.1) whose tag
    is on the last one is a To with a tag (481, nothing decided); Vias as a comma list
    and as rows are echoed in order, the top one stamped (§8.2.6.2, §18.2.1); an INVITE
    without Max-Forwards is decided (§16.3 step 3: "this check is passed" — and a
    redirect server forwards nothing)."""
    server = await front()
    folded = invite("fd1").replace(
        f"To: <sip:{ALLOWED}@127.0.0.1>".encode(),
        f"To:\r\n <sip:{ALLOWED}@127.0.0.1>\r\n\t;tag=dialog1".encode())
    reply = await _ask(server, folded, "udp")
    assert reply.startswith(b"SIP/2.0 481 "), reply
    assert compliance(server) == []
    top = b"Via: SIP/2.0/UDP 127.0.0.1:5999;rport;branch=z9hG4bKfd2"
    vias = invite("fd2").replace(top, top + b", SIP/2.0/TCP 10.0.0.2;branch=z9hG4bKp2"
                                 b"\r\nv: SIP/2.0/UDP 10.0.0.3:5070;branch=z9hG4bKp3")
    reply = await _ask(server, vias, "udp")
    assert reply.startswith(b"SIP/2.0 302 "), reply
    echoed = [line for line in reply.decode().split("\r\n") if line.startswith("Via: ")]
    assert [v.split(";branch=")[1].split(";")[0] for v in echoed] == [
        "z9hG4bKfd2", "z9hG4bKp2", "z9hG4bKp3"]
    assert ";received=127.0.0.1" in echoed[0]
    assert all("received" not in v for v in echoed[1:])
    reply = await _ask(server, invite("fd3").replace(b"Max-Forwards: 70\r\n", b""), "udp")
    assert reply.startswith(b"SIP/2.0 302 "), reply
    assert len(compliance(server)) == 2
