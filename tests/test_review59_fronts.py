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

import tomllib
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from callguard.config import load_settings
from callguard.decision import Decision
from callguard.fronts.http.coding import CodingError, inflate
from callguard.fronts.sip.mapping import decision_headers
from callguard.fronts.sip.server import SipSettings
from callguard.policy.core import refusal
from tests.conftest import ROOT

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
