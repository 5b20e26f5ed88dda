"""A record CSV row's reason quotes its number once, redacted (hcli32).

``_e164`` wrapped the parser's reason, which quotes the number itself, in "number QUOTED:":
``number '[number …0142]x': '[number …0142]x' contains letters``, the same cell twice
for the operator to read (and twice in cron mail). Now as the CLI's ``number_or_exit``
says it (``numbers.parse.number_reason``, one place): "number '[number …0142]x' contains
letters ...". No number in clear either way.

Real parts: the importer's pure core, read directly.
"""

from __future__ import annotations

import re

import pytest

from callguard.numbers import NumberParser
from callguard.stores.record_csv import read_record_csv


def _reason(number: str, kind: str = "internal-dnc") -> str:
    done = read_record_csv(["number,solicitor", f"{number},acme"], kind,
                           parser=NumberParser(), solicitors=frozenset({"acme"}))
    assert len(done.errors) == 1, done
    return done.errors[0].reason


@pytest.mark.parametrize(("number", "said"), [
    ("8015550142x", "number '[number …0142]x' contains letters"),
    ("garbage", "number 'garbage' contains letters"),
    ("+44 20 7946 0958", "number [number …0958] is in region GB"),
    ("801555014", "number '[number …5014]': only 9 digits"),
])
def test_the_number_is_quoted_once(number: str, said: str) -> None:
    reason = _reason(number)
    assert reason.startswith(said), reason
    mark = re.search(r"\[number …\d{4}\]", reason)
    assert reason.count(mark.group() if mark else repr(number)) == 1, reason
    assert not re.search(r"\d{5}", reason), reason


def test_an_extension_on_a_consent_is_quoted_once() -> None:
    reason = _reason("801-555-0142 x12", "ebr")
    assert reason.count("[number …0142 x…]") == 1, reason
    assert not re.search(r"\d{5}", reason), reason
