"""Review of hnet19's SIP and HTTP fronts — hrev59.

- A content coding that ``coding.inflate`` does not decode was quoted in its error as
  sent, cut at 40 characters: a phone number in it was quoted in clear (and cut, a number
  the cut fell inside kept its first digits). Quoted as ``clipped`` quotes it now.
- A BLOCK's ``X-Callguard-Reason`` was the verdict's reason cut at 300 characters, not
  redacted: the gate redacts what it knows to be the caller's input, but the header is
  the last place a number could pass into a dialer's log, a PBX's CDR or a SIP trace
  (Homer, sngrep) in clear. Redacted first, then cut (a cut never leaves a number's first
  digits in clear: the whole reason is redacted before it).
- The shipped ``callguard.toml`` did not name ``[sip] max_in_flight`` nor
  ``max_in_flight_per_source``: an admin reading it did not know either cap existed.
"""

from __future__ import annotations

import asyncio
import tomllib
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from callguard.config import load_settings
from callguard.decision import Decision
from callguard.fronts.dual_stack import source_holder
from callguard.fronts.http.coding import CodingError, inflate
from callguard.fronts.sip.mapping import decision_headers
from callguard.fronts.sip.server import SipSettings
from callguard.policy.core import refusal
from tests.conftest import ROOT
from tests.test_net19_sip import _final_for
from tests.test_sip import QUIET_T1, Client, _Slowed, cancel, front, invite

__all__ = ["front"]

NUMBER = "8015550123"


async def test_an_unknown_coding_is_quoted_with_its_number_redacted() -> None:
    with pytest.raises(CodingError) as caught:
        await inflate(b"x", f"br-{NUMBER}", 1024)
    assert "5550123" not in str(caught.value), caught.value
    assert "0123" in str(caught.value)  # the last four, as every redaction keeps them


def _blocked(reason: str) -> Decision:
    verdict = replace(refusal("callguard:test", "callguard house rule", "x"), reason=reason)
    return Decision(decision_id="d1", verdict=verdict, at=datetime(2026, 11, 25, tzinfo=UTC),
                    number=None, raw_number="", campaign=None, campaign_id="c",
                    mode=None, front="sip", latency_us=0.0)


@pytest.mark.parametrize("reason", [f"Blocked: {NUMBER} is listed",
                                    # a number the cut at 300 falls inside
                                    "y" * 290 + f" {NUMBER}"],
                         ids=["short", "cut-at-300"])
def test_the_reason_header_holds_no_number_in_clear(reason: str) -> None:
    status, headers = decision_headers(_blocked(reason), trunk="sip:{number}@t",
                                       identity_header="P-Asserted-Identity",
                                       block_status=603)
    assert status == 603
    shown = dict(headers)["X-Callguard-Reason"]
    assert len(shown) <= 300
    assert "801555" not in shown, shown  # the cut fell inside it: its first digits
    assert "5550123" not in shown, shown


def test_the_shipped_config_names_the_sip_in_flight_caps(tmp_path) -> None:
    """Both keys in [sip], at the defaults the code has, and the loader takes them."""
    text = (ROOT / "callguard" / "data" / "callguard.toml").read_text()
    sip = tomllib.loads(text)["sip"]
    assert sip["max_in_flight"] == SipSettings().max_in_flight
    assert sip["max_in_flight_per_source"] == SipSettings().max_in_flight_per_source
    changed = text.replace("max_in_flight_per_source = 512", "max_in_flight_per_source = 7"
                           ).replace('packs_dir = "jurisdictions"', 'packs_dir = ""')
    assert changed != text
    (tmp_path / "callguard.toml").write_text(changed)
    assert load_settings(tmp_path / "callguard.toml").sip.max_in_flight_per_source == 7


# --- pins: what the review checked holds, kept so that it keeps holding --------------------


@pytest.mark.parametrize(("address", "source"), [
    ("::ffff:10.1.2.3", "10.1.2.3"),  # an IPv4 peer through a dual-stack socket: itself,
    ("::ffff:10.1.2.4", "10.1.2.4"),  # never all of IPv4 as one /64 (::ffff:0:0/64)
    ("10.1.2.3", "10.1.2.3"),
    ("2001:db8::1", "2001:db8::/64"),
    ("2001:db8::ffff:1", "2001:db8::/64"),
])
def test_an_in_flight_source_is_an_ipv4_address_or_an_ipv6_64(address: str,
                                                              source: str) -> None:
    assert source_holder(address) == source


class _Failing:
    """The real gate, failing after a while (a store that raises): the INVITE gets 500."""

    def __init__(self, gate: object) -> None:
        self.gate = gate

    async def check(self, request: object, *, budget_s: float | None = None) -> Decision:
        await asyncio.sleep(0.2)
        raise RuntimeError("the store went away")


async def test_a_source_gets_its_places_back_on_every_answer(front) -> None:
    """One place per source: an INVITE answered 500 (the gate raised) and one withdrawn by
    its CANCEL (487) each give their place back; a leak would answer that dialer 503
    for as long as the node runs."""
    server = await front(max_in_flight_per_source=1, budget_ms=5000, t1_ms=QUIET_T1)
    real = server.gate
    server.gate = _Failing(real)
    client = Client(server.port)
    client.send(invite("e1"))
    assert (await _final_for(client, b"z9hG4bKe1;")).startswith(b"SIP/2.0 500 ")
    server.gate = _Slowed(real, 0.5)
    client.send(invite("c1"))
    await asyncio.sleep(0.2)
    client.send(cancel("c1"))
    assert (await _final_for(client, b"z9hG4bKc1;", 10)).startswith(b"SIP/2.0 200 ")
    assert (await _final_for(client, b"z9hG4bKc1;", 10)).startswith(b"SIP/2.0 487 ")
    for _ in range(100):
        if not server._deciding_by:  # the count itself is the point
            break
        await asyncio.sleep(0.02)
    assert server._deciding_by == {}
    server.gate = real
    client.send(invite("ok"))
    assert (await _final_for(client, b"z9hG4bKok;")).startswith(b"SIP/2.0 302 ")
    assert server.stats.counts["refused_source_busy"] == 0
