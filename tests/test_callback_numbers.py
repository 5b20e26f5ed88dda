"""Caller IDs no one can call back (47 CFR 64.1601(e)(1)): the classification table, and
``config check`` naming each campaign that presents one, through the real CLI."""

from __future__ import annotations

import json

import pytest

from callguard.numbers import NumberParser
from callguard.numbers.callback import unreachable
from tests.test_config_check import cli, import_lists, site  # noqa: F401 - the fixture

# (number, class or None): every class at its edges, and what is NOT listed on purpose
TABLE = [
    ("+18015550100", "fictional"),  # the starter's, first of the reserved range
    ("+12125550199", "fictional"),  # the starter's, last of it
    ("+18015550142", "fictional"),
    ("+18015550099", None),  # just below: a 555 line released for assignment
    ("+18015550200", None),  # just above
    ("+18015555555", None),  # 555 lines outside 01xx may be in service
    ("+18015551212", "directory"),
    ("+18012115555", "n11-exchange"),
    ("+18019115555", "n11-exchange"),
    ("+18014115555", "n11-exchange"),
    ("+18011115555", None),  # 111 is not an N11 service code (an NXX cannot start with 1)
    ("+18012125555", None),  # 212 as an exchange is an ordinary one
    ("+12115550123", "n11-area-code"),
    ("+19115550123", "n11-area-code"),
    ("+18019585555", "test-exchange"),
    ("+18019595555", "test-exchange"),
    ("+18019505555", "carrier-access"),
    ("+18019765555", None),  # 976: not known either way, not listed
    ("+18005550100", None),  # toll-free: 555 is an ordinary exchange there
    ("+18882115555", None),  # toll-free may use N11 exchanges
    ("+19002115555", None),  # 900 too (refused as premium-rate by the rule, not here)
    ("+16009115555", None),
    ("+15002115555", None),  # 5XX (non-geographic, the parser accepts it): not listed
    ("+15005550100", None),
    ("+15339505555", None),
    ("+18018675309", None),  # well-formed, not a listed class: not proof it reaches anyone
    ("+442079460123", None),  # not NANP
    ("+1801555010", None),  # not E.164 NANP length
    ("", None),
]


@pytest.mark.parametrize(("number", "kind"), TABLE)
def test_the_classes_at_their_edges(number: str, kind: str | None) -> None:
    found = unreachable(number)
    assert (found.kind if found else None) == kind
    if found:  # the words never hold the whole number (they reach /readyz and logs)
        assert number[2:] not in found.why
        assert number[5:] not in found.why


def test_the_parser_accepts_what_the_table_catches() -> None:
    """Why the table exists: libphonenumber calls these valid, so the configuration loads
    them and the gate presents them (the N11 area codes it refuses already)."""
    parser = NumberParser()
    for number, kind in TABLE:
        if kind not in (None, "n11-area-code"):
            assert parser.parse(number).e164 == number


def test_config_check_names_each_campaign_whose_caller_id_reaches_no_one(site) -> None:  # noqa: F811
    """The starter configuration keeps the NANP's fictional numbers (555-0100..0199): an
    operator who forgets to replace them is told, per campaign, with the number, why and the
    citation; serve would still start (exit 0 once the lists are imported)."""
    assert "fictional 555-0100..0199" in site.read_text()  # init's header says so too
    import_lists(site)
    result = cli("--config", str(site), "config", "check")
    assert result.returncode == 0, result.stdout + result.stderr
    warned = [x for x in result.stderr.splitlines() if x.startswith("warning: campaign")]
    assert len(warned) == 3, result.stderr
    for campaign, number in (("insurance-reminders", "+12125550199"),
                             ("ut-solar-manual", "+18015550100"),
                             ("ut-solar-predictive", "+18015550100")):
        line = next(x for x in warned if f"campaign {campaign!r}" in x)
        assert f"caller ID {number}" in line
        assert "reserved for fictional use" in line
        assert "47 CFR 64.1601(e)(1)" in line
    assert "(3 warning(s) on stderr)" in result.stdout
    as_json = json.loads(cli("--config", str(site), "config", "check", "--json").stdout)
    assert as_json["ok"] is True
    assert sum("64.1601(e)(1)" in w for w in as_json["warnings"]) == 3
    # the operator puts the seller's numbers in: no warning left
    text = site.read_text().replace('"+18015550100"', '"+18015551000"').replace(
        '"+12125550199"', '"+12125551000"')
    site.write_text(text)
    fixed = cli("--config", str(site), "config", "check")
    assert fixed.returncode == 0, fixed.stderr
    assert "64.1601" not in fixed.stderr
    assert "warning(s)" not in fixed.stdout


def test_the_summary_with_errors_counts_the_warnings_too(site) -> None:  # noqa: F811
    """Right after `init` (no list imported): main's last line said "2 problem(s)" under
    three caller-ID warnings, as if the errors were all there was to fix."""
    result = cli("--config", str(site), "config", "check")
    assert result.returncode == 2, result.stdout + result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.endswith(": 2 problem(s), 3 warning(s)"), last


def test_an_n11_exchange_is_named_too(site) -> None:  # noqa: F811
    import_lists(site)
    site.write_text(site.read_text().replace('"+12125550199"', '"+12129115555"'))
    result = cli("--config", str(site), "config", "check", "--json")
    assert result.returncode == 0, result.stderr
    (line,) = [w for w in json.loads(result.stdout)["warnings"] if "insurance-reminders" in w]
    assert "exchange 911 is an N11 service code" in line


def test_serve_says_it_at_start_and_in_readyz(tmp_path) -> None:
    """The real `callguard serve` on the bundled configuration: one warning per campaign at
    start, and a `caller-id` check in /readyz (ok: the node serves), the number never in
    clear (its last four digits only)."""
    import os
    import subprocess
    import sys
    import time
    from datetime import UTC, datetime

    from tests.conftest import ROOT
    from tests.redis_server import free_port
    from tests.test_http import TOKEN, _lists, http

    data = tmp_path / "data"
    _lists(data, datetime.now(UTC).date())
    port, agi = free_port(), free_port()
    text = (ROOT / "callguard" / "data" / "callguard.toml").read_text()
    text = text.replace('packs_dir = "jurisdictions"', 'packs_dir = ""')
    head, rest = text.split("[http]\n", 1)
    text = head + "[http]\n" + rest.replace("enabled = false", "enabled = true", 1)
    text = text.replace("port = 8080", f"port = {port}").replace("port = 4573\n", f"port = {agi}\n")
    text = text.replace("require_clock_sync = true", "require_clock_sync = false")
    config = tmp_path / "callguard.toml"
    config.write_text(text)
    env = {**os.environ, "CALLGUARD_HTTP_TOKEN": TOKEN, "CALLGUARD_DATA_DIR": str(data)}
    env.pop("CALLGUARD_CONFIG", None)
    process = subprocess.Popen([sys.executable, "-m", "callguard", "--config", str(config),
                                "serve"], env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if http(port, "/healthz", token=None)[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "serve did not start"
            time.sleep(0.1)
        _, body = http(port, "/readyz", token=None)
        check = next(c for c in json.loads(body)["checks"] if c["name"] == "caller-id")
        assert check["ok"]
        for campaign in ("insurance-reminders", "ut-solar-manual", "ut-solar-predictive"):
            assert f"campaign {campaign!r} presents a caller ID" in check["detail"]
        assert "(...0100)" in check["detail"]
        assert "64.1601(e)(1)" in check["detail"]
        assert "5550100" not in check["detail"]
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=20)
    events = [json.loads(x) for x in stderr.decode().splitlines() if x.startswith("{")]
    warned = [e for e in events if e["event"] == "caller_id_unreachable"]
    assert sorted(e["campaign"] for e in warned) == [
        "insurance-reminders", "ut-solar-manual", "ut-solar-predictive"]
    assert all(e["level"] == "warning" and e["kind"] == "fictional" for e in warned)
    assert "5550100" not in stderr.decode()
    assert "5550199" not in stderr.decode()
