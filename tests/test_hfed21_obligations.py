"""The duties after dialling that the federal and Utah packs give each dialing mode.

47 CFR 64.1200(a)(6) (15 seconds or four rings before an unanswered telemarketing call is
disconnected) reaches every telemarketing call, dialled by a person or a machine; Utah
13-25a-103(5)(e) (hang up within 25 seconds of the called party's hangup) reaches the
telephone solicitor's own hangup as well as the automated system's. 47 U.S.C. 227(d)(3)(B)
(105 Stat. 2400: "systems that are used to transmit any artificial or prerecorded voice
message ... any such system will automatically release the called party's line within 5
seconds") also reaches a predictive dialer that plays the abandonment message of
64.1200(a)(7)(i): encoded from us-federal 2026.12.17 (the lead, on hfed21's reading; FOR
COUNSEL in the pack's notes).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from callguard.policy import ConsentKind, ConsentRecord, DialingMode
from tests.conftest import NY_CAMPAIGN, decide

WRITTEN = (ConsentRecord(ConsentKind.WRITTEN, datetime(2026, 1, 1, tzinfo=UTC)),)
AT = "2026-07-22T11:00:00-06:00"  # a Wednesday, 11 a.m. in Salt Lake City, 1 p.m. in New York
VOICE = (DialingMode.MANUAL, DialingMode.PREDICTIVE, DialingMode.PRERECORDED)


@pytest.mark.parametrize("mode", VOICE)
@pytest.mark.parametrize("number", ["8015550123", "2125550123", "3055550123"])
def test_min_ring_reaches_every_voice_mode(number: str, mode: DialingMode) -> None:
    """64.1200(a)(6): 'an unanswered telemarketing call', whoever dials it."""
    result = decide(number, AT, mode=mode, consents=WRITTEN)
    assert result.obligations.min_ring_seconds == 15
    assert result.obligations.min_rings == 4
    assert result.obligations.min_ring_citation == "47 CFR 64.1200(a)(6)"


def test_utah_release_reaches_a_manual_call() -> None:
    """13-25a-103(5)(e): 'hang up the phone, or ... disconnect the automated telephone
    dialing system' within 25 seconds: the person's own hangup too."""
    result = decide("8015550123", AT, mode=DialingMode.MANUAL, consents=WRITTEN)
    assert result.obligations.line_release_seconds == 25
    assert result.obligations.line_release_citation == "Utah Code 13-25a-103(5)(e)"


def test_prerecorded_release_is_the_federal_5_seconds_outside_utah() -> None:
    result = decide("2125550123", "2026-07-22T13:00:00-04:00", campaign=NY_CAMPAIGN,
                    mode=DialingMode.PRERECORDED, consents=WRITTEN)
    assert result.obligations.line_release_seconds == 5
    assert result.obligations.line_release_citation == "47 U.S.C. 227(d)(3)(B); 47 CFR 68.318"


@pytest.mark.parametrize("number", ["8015550123", "2125550123"])
def test_predictive_release_is_the_federal_5_seconds(number: str) -> None:
    result = decide(number, AT, mode=DialingMode.PREDICTIVE, consents=WRITTEN)
    assert result.obligations.line_release_seconds == 5
    assert result.obligations.line_release_citation == "47 U.S.C. 227(d)(3)(B); 47 CFR 68.318"
