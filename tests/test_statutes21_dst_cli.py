"""hacc21: the called party's local time on the days the clocks change, through the real CLI
(``callguard check --at``, a site made by ``callguard init``, real list files).

The statute cases (``*.hacc21.tests.toml``) judge these instants in the engine; here the same
instants go through the gate a site runs, so a front that read an instant in the caller's
zone, in a fixed offset or on the wall clock would fail. (--published cannot be in the
future, so the spring change is 2026's.) The words: 15 O.S. 775C.4 (as
reported, pack notes) 'before 8 a.m. or after 8 p.m.' local time of the called party;
Md. Code, Com. Law 14-4502(c)(1) (as reported) 'in the called party's time zone';
47 CFR 64.1200(c)(1) 'local time at the called party's location'.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.test_config_check import cli

CAMPAIGN = """
[[campaigns]]
id = "h21-manual"
solicitor = "hacc21-dst"
caller_id = "+12125550161"
default_mode = "manual"
origin_state = "NY"
"""


def _site(tmp_path: Path, published: str) -> Path:
    made = cli("init", str(tmp_path / "site"))
    assert made.returncode == 0, made.stderr
    config = tmp_path / "site" / "callguard.toml"
    config.write_text(config.read_text() + CAMPAIGN)
    listing = tmp_path / "list.txt"
    listing.write_text("8015550199\n")
    for name in ("national", "ok-state", "fl-state", "ut-state"):
        done = cli("--config", str(config), "dnc", "import", str(listing), "--list", name,
                   "--published", published, "--covers", "all")
        assert done.returncode == 0, done.stderr
    return config


def _check(config: Path, number: str, at: str) -> tuple[str, str | None]:
    done = cli("--config", str(config), "check", number, "--campaign", "h21-manual",
               "--at", at, "--json")
    assert done.returncode in (0, 1), done.stderr
    verdict = json.loads(done.stdout)
    return verdict["verdict"], verdict.get("rule")


# (published, number, instant, verdict, deciding rule): each instant read in the other
# offset of the zone (the one before or after the change) would get the other verdict.
FALL_BACK = [  # 2026-11-01, 2 a.m. -> 1 a.m.
    ("+19185550142", "2026-11-01T13:30:00Z", "BLOCK", "us-federal:64.1200(c)(1)"),  # 7:30 CST
    ("+19185550142", "2026-11-01T14:00:00Z", "ALLOW", None),  # 8:00 CST
    ("+19185550142", "2026-11-02T02:00:30Z", "BLOCK", "us-ok:775C.4:hours"),  # 8:00:30 p.m.
    ("+19185550142", "2026-11-02T01:59:59Z", "ALLOW", None),  # 7:59:59 p.m. CST
    ("+13015550142", "2026-11-01T12:30:00Z", "BLOCK", "us-federal:64.1200(c)(1)"),  # 7:30 EST
    ("+13015550142", "2026-11-02T01:00:30Z", "BLOCK", "us-md:14-4502:hours"),  # 8:00:30 p.m.
]
SPRING_FORWARD = [  # 2026-03-08 (a Sunday: neither pack has a Sunday rule), 2 a.m. -> 3 a.m.
    ("+19185550142", "2026-03-08T13:30:00Z", "ALLOW", None),  # 8:30 CDT
    ("+19185550142", "2026-03-08T12:59:59Z", "BLOCK", "us-federal:64.1200(c)(1)"),  # 7:59:59
    ("+19185550142", "2026-03-09T01:00:30Z", "BLOCK", "us-ok:775C.4:hours"),  # 8:00:30 p.m.
    ("+13015550142", "2026-03-08T12:30:00Z", "ALLOW", None),  # 8:30 EDT
    # 8:00:00 p.m. EDT: an end of 14-4502(c)(1)'s forbidden hours, blocked by us-md's default
    # since 2026.12.15 (us-md:between-hours = ends-forbidden); read as EST it would be 7 p.m.
    ("+13015550142", "2026-03-09T00:00:00Z", "BLOCK", "us-md:14-4502:hours"),
    ("+13015550142", "2026-03-08T23:59:59Z", "ALLOW", None),  # 7:59:59 p.m. EDT
    ("+13015550142", "2026-03-09T00:00:01Z", "BLOCK", "us-md:14-4502:hours"),
]


@pytest.mark.parametrize(("published", "cases"), [("2026-10-30", FALL_BACK),
                                                  ("2026-03-06", SPRING_FORWARD)])
def test_the_called_partys_clock_on_dst_days(tmp_path, published, cases) -> None:
    config = _site(tmp_path, published)
    got = [(number, at, *_check(config, number, at)) for number, at, _, _ in cases]
    assert got == [(number, at, verdict, rule) for number, at, verdict, rule in cases]
