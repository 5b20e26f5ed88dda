"""Issue 15.1 on every front of a real `callguard serve` (FastAGI, SIP, HTTP) and the CLI:
any string whose ASCII-digit form is a listed or opted-out number is never ALLOWed, and
any opt-out acknowledged binds the ASCII form (hypothesis over the digit scripts the
hostile run used, and more). On main, full-width or Arabic-Indic digits walked past the
seller's do-not-call list on all of them, and an opt-out given so bound nothing.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import socket
import uuid
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis import asyncio as aioredis

from callguard.errors import StoreError
from callguard.fronts.fastagi import contract as c
from callguard.stores.embedded.records import EmbeddedRecords
from callguard.stores.redis.records import RecordsSettings, RedisRecords
from callguard.stores.writes import AddCompanyDnc
from tests.fake_asterisk import agi_session
from tests.serve_node import AT, ServeNode, write_lists
from tests.test_numbers import DIGIT_ZEROS, spelled

LISTED = "8015550199"  # on the national registry and the state list
OPTED_OUT = "8015550166"  # on the seller's own do-not-call list (ASCII opt-out)
UT = "ut-solar-manual"
EXAMPLES = settings(max_examples=40, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])
FEW = settings(max_examples=8, deadline=None,
               suppress_health_check=[HealthCheck.function_scoped_fixture])

# How a number is written around its digits; the SIP ones fit a URI's user part.
TEMPLATES = ("{a}{b}{c}", "({a}) {b}-{c}", "{a}.{b}.{c}", "+1 {a} {b} {c}", "1{a}{b}{c}",
             "9{a}{b}{c}", "tel:+1{a}{b}{c}", "\uff0b\uff11{a}{b}{c}", "{a}-{b}-{c}")
SIP_TEMPLATES = ("{a}{b}{c}", "{a}-{b}-{c}", "+1{a}{b}{c}", "1{a}{b}{c}", "{a}.{b}.{c}")


def written(number: str, zeros: list[str], template: str) -> str:
    """``number`` (10 ASCII digits) spelled digit by digit in the scripts of ``zeros``."""
    text = spelled(number, zeros)
    return template.format(a=text[:3], b=text[3:6], c=text[6:])


def scripts() -> st.SearchStrategy[list[str]]:
    """Ten digit scripts, at least one of them not ASCII."""
    return st.lists(st.sampled_from(DIGIT_ZEROS), min_size=10, max_size=10).filter(
        lambda zeros: any(z != "0" for z in zeros))


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    """A serving node whose lists hold LISTED and whose seller's list holds OPTED_OUT."""
    node = ServeNode(tmp_path_factory.mktemp("canonical"))
    write_lists(node.data, [int(LISTED)])
    node.start()
    assert node.json("/v1/opt-out", {"number": OPTED_OUT, "campaign": UT})[0] == 200
    yield node
    node.stop()


_fresh = itertools.count(10)


def fresh_number() -> str:
    """A valid Utah number used by no other example."""
    return f"801555{next(_fresh):04d}"


def http_verdict(node: ServeNode, number: str) -> dict:
    status, body = node.json("/v1/check", {"number": number, "campaign": UT, "at": AT})
    assert status == 200, body
    return body


def sip_answer(node: ServeNode, number_text: str) -> str:
    """The status line the SIP front answers an INVITE for ``number_text`` with ('' if
    none)."""
    call_id = uuid.uuid4().hex
    invite = (f"INVITE sip:{number_text}@127.0.0.1 SIP/2.0\r\n"
              f"Via: SIP/2.0/UDP 127.0.0.1:5999;rport;branch=z9hG4bK{call_id[:12]}\r\n"
              f"From: <sip:dialer@127.0.0.1>;tag=1\r\nTo: <sip:{number_text}@127.0.0.1>\r\n"
              f"Call-ID: {call_id}\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\n"
              f"X-Callguard-Campaign: {UT}\r\nContent-Length: 0\r\n\r\n").encode()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(5)
        sock.sendto(invite, ("127.0.0.1", node.sip_port))
        try:
            reply = sock.recv(65536).decode("utf-8", errors="replace")
            while reply.startswith("SIP/2.0 1"):  # a 100 Trying (a slow decision): wait on
                reply = sock.recv(65536).decode("utf-8", errors="replace")
        except TimeoutError:
            return ""
        ack = (f"ACK sip:{number_text}@127.0.0.1 SIP/2.0\r\n"
               f"Via: SIP/2.0/UDP 127.0.0.1:5999;rport;branch=z9hG4bK{call_id[:12]}\r\n"
               f"From: <sip:dialer@127.0.0.1>;tag=1\r\nTo: <sip:{number_text}@127.0.0.1>\r\n"
               f"Call-ID: {call_id}\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n").encode()
        sock.sendto(ack, ("127.0.0.1", node.sip_port))
    return reply.split("\r\n", 1)[0]


class TestNeverAllowed:
    """Any spelling of a listed or opted-out number is BLOCKed, on every front."""

    @EXAMPLES
    @given(zeros=scripts(), template=st.sampled_from(TEMPLATES),
           number=st.sampled_from([LISTED, OPTED_OUT]))
    def test_http(self, node, zeros, template, number):
        decision = http_verdict(node, written(number, zeros, template))
        assert decision["verdict"] == "BLOCK", decision
        assert decision["rule"] in ("us-federal:64.1200(c)(2)", "us-federal:64.1200(d)(3)")

    @EXAMPLES
    @given(zeros=scripts(), template=st.sampled_from(TEMPLATES),
           number=st.sampled_from([LISTED, OPTED_OUT]))
    def test_fastagi(self, node, zeros, template, number):
        result = asyncio.run(agi_session(node.agi_port, c.ROUTE_CHECK,
                                         [written(number, zeros, template), UT, "", "1.1", ""]))
        assert result.variables[c.VAR_VERDICT] == "BLOCK", result.variables

    @EXAMPLES
    @given(zeros=scripts(), template=st.sampled_from(SIP_TEMPLATES),
           number=st.sampled_from([LISTED, OPTED_OUT]))
    def test_sip(self, node, zeros, template, number):
        status = sip_answer(node, written(number, zeros, template))
        assert not status.startswith("SIP/2.0 302"), status
        assert status.startswith("SIP/2.0 603"), status

    @FEW
    @given(zeros=scripts(), number=st.sampled_from([LISTED, OPTED_OUT]))
    def test_cli(self, node, zeros, number):
        result = node.cli("check", spelled(number, zeros), "--campaign", UT, "--at", AT,
                          "--json")
        assert result.returncode == 1, result.stderr
        assert json.loads(result.stdout)["verdict"] == "BLOCK"

    def test_the_ascii_forms_are_the_ones_blocked(self, node):
        """The control: the same numbers in ASCII are BLOCKed for the same rules, and an
        unlisted one in full-width digits is ALLOWed with an ASCII E.164."""
        assert http_verdict(node, LISTED)["rule"] == "us-federal:64.1200(c)(2)"
        assert http_verdict(node, OPTED_OUT)["rule"] == "us-federal:64.1200(d)(3)"
        allowed = http_verdict(node, spelled("8015550123", ["\uff10"] * 10))
        assert (allowed["verdict"], allowed["number"]) == ("ALLOW", "+18015550123")


class TestOptOutsBindTheAsciiForm:
    """An opt-out acknowledged in any spelling is found by the ASCII number."""

    def _blocked_in_ascii(self, node: ServeNode, number: str) -> None:
        decision = http_verdict(node, number)
        assert decision["rule"] == "us-federal:64.1200(d)(3)", decision

    @EXAMPLES
    @given(zeros=scripts(), template=st.sampled_from(TEMPLATES))
    def test_http(self, node, zeros, template):
        number = fresh_number()
        status, body = node.json("/v1/opt-out", {"number": written(number, zeros, template),
                                                 "campaign": "ut-solar-predictive"})
        assert (status, body["number_last4"]) == (200, number[-4:]), body
        self._blocked_in_ascii(node, number)

    @EXAMPLES
    @given(zeros=scripts(), template=st.sampled_from(TEMPLATES))
    def test_fastagi(self, node, zeros, template):
        number = fresh_number()
        result = asyncio.run(agi_session(node.agi_port, c.ROUTE_OPTOUT,
                                         [written(number, zeros, template), UT, "", "1.1"]))
        assert result.variables[c.OPTOUT_RESULT] == "OK", result.variables
        self._blocked_in_ascii(node, number)

    @FEW
    @given(zeros=scripts())
    def test_cli_internal_dnc(self, node, zeros):
        number = fresh_number()
        result = node.cli("internal-dnc", "add", spelled(number, zeros), "--campaign", UT)
        assert result.returncode == 0, result.stderr
        self._blocked_in_ascii(node, number)

    def test_cli_consent_and_csv_import_bind_the_ascii_form(self, node, tmp_path):
        """consent add and a CSV import in full-width digits are shown for the ASCII
        number (the same parser, one canonical form)."""
        number = fresh_number()
        wide = spelled(number, ["\uff10"] * 10)
        added = node.cli("consent", "add", wide, "--campaign", UT, "--kind", "written",
                         "--granted", "2026-11-01T00:00:00+00:00")
        assert added.returncode == 0, added.stderr
        csv = tmp_path / "dnc.csv"
        other = fresh_number()
        arabic_indic = spelled(other, ["\u0660"] * 10)
        csv.write_text(f"number\n{arabic_indic}\n", encoding="utf-8")
        imported = node.cli("internal-dnc", "import", str(csv), "--solicitor", "beehive-solar")
        assert imported.returncode == 0, imported.stderr
        sheet = json.loads(node.cli("consent", "show", number, "--campaign", UT,
                                    "--json").stdout)
        assert [c["kind"] for c in sheet["consents"]] == ["written"]
        self._blocked_in_ascii(node, other)

    def test_superscripts_are_refused_with_a_reason_not_an_error(self, node):
        """A superscript digit is a 400 naming it (main: an internal error whose traceback
        printed the number), and a BLOCK on the check."""
        status, body = node.json("/v1/opt-out", {"number": "801555016\u00b2", "campaign": UT})
        assert status == 400
        assert "not a decimal digit" in body["error"]
        decision = http_verdict(node, "801555016\u00b2")
        assert decision["rule"] == "callguard:number-not-dialable"
        assert "8015550" not in decision["reason"]


class TestStoresKeyOnlyTheCanonicalForm:
    """Both record stores refuse a write keyed by anything but ASCII E.164 (main stored
    "+1" and full-width digits as its own record, which no lookup of the number ever
    found)."""

    @pytest.mark.parametrize("number", ["+1\uff18\uff10\uff115550166", "8015550166",
                                        "+1 801 555 0166", "+1801555016\u00b2"])
    async def test_embedded_and_redis(self, tmp_path, redis_server, number):
        write = AddCompanyDnc("beehive-solar", number, datetime.now(UTC), "t")
        embedded = EmbeddedRecords(tmp_path / "records.sqlite3")
        shared = RedisRecords(aioredis.from_url(redis_server.url), RecordsSettings())
        try:
            for store in (embedded, shared):
                with pytest.raises(StoreError, match=r"canonical E\.164"):
                    await store.apply([write])
        finally:
            await embedded.aclose()
            await shared.aclose()
