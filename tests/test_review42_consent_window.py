"""Review 42: a consent window stored with a UTC offset, judged as 'no consent' (hacc18).

Since examiner 8 the calling-hours and rest-day rules BLOCK themselves naming the record and
the fix instead of raising ``callguard:internal-error``. What must hold beside it: once the
consent is recorded again (readable), the BLOCK no longer tells the admin to re-record it
(review 39's reading: the readable one decides); a relationship still lifts 64.1200(c)(1)
and (c)(2) while 16 CFR 310.4(c) BLOCKs naming the fix; a revoked or do-not-call-withdrawn
consent is named as that, not as one to re-record; an autodialer rule names what it needs."""

from __future__ import annotations

import json
import sqlite3

from tests.test_cli import cli

NUMBER = "8015550177"
CAMPAIGN = ("--campaign", "ut-solar-manual")
LATE = "2026-12-07T21:30:00-07:00"  # a Monday after 9 p.m. in Utah: needs a consent


def _lists(data_dir, listed: str = "8015550199") -> None:
    for name in ("national", "ut-state"):
        listing = data_dir / "list.txt"
        listing.write_text(f"{listed}\n")
        assert cli("dnc", "import", str(listing), "--list", name, "--published", "2026-12-05",
                   "--covers", "all", data_dir=data_dir).returncode == 0


def _old_consent(data_dir) -> None:
    """A calling-hours consent 20:00-23:00 its window stored with +00:00 (an older version)."""
    assert cli("consent", "add", NUMBER, *CAMPAIGN, "--kind", "calling-hours", "--window",
               "20:00-23:00", "--granted", "2026-12-01T10:00:00-07:00",
               data_dir=data_dir).returncode == 0
    with sqlite3.connect(data_dir / "records.sqlite3") as db:
        db.execute("UPDATE consent SET window_start = '20:00:00+00:00'")


def _check(data_dir, *extra: str, at: str = LATE):
    result = cli("check", NUMBER, *CAMPAIGN, *extra, "--at", at, "--json", data_dir=data_dir)
    return result.returncode, json.loads(result.stdout)


def _outcomes(verdict) -> dict[str, dict]:
    return {o["rule"]: o for o in verdict["outcomes"]}


def test_re_recorded_outside_its_hours_the_block_asks_no_second_re_record(tmp_path):
    """The fix done (the consent recorded again, 20:00-21:15): a call at 21:30 is outside
    the readable consent, which decides; the BLOCK says after 9 p.m., not 're-record the
    consent' once more (that would send the admin to record other hours to lift it)."""
    _lists(tmp_path)
    _old_consent(tmp_path)
    assert cli("consent", "add", NUMBER, *CAMPAIGN, "--kind", "calling-hours", "--window",
               "20:00-21:15", "--granted", "2026-12-01T10:00:01-07:00",
               data_dir=tmp_path).returncode == 0
    code, verdict = _check(tmp_path)
    assert code == 1, verdict
    for rule in ("us-federal:64.1200(c)(1)", "us-federal:310.4(c)",
                 "us-ut:13-25a-103(3):hours"):
        reason = _outcomes(verdict)[rule]["reason"]
        assert _outcomes(verdict)[rule]["status"] == "block", reason
        assert "after 9:00 p.m." in reason
        assert "re-record" not in reason, reason
        assert "stored with UTC offset" not in reason, reason


def test_a_relationship_lifts_the_fcc_rules_and_310_4_c_names_the_fix(tmp_path):
    """On the registry with a purchase a month ago: 64.1200(c)(1) and (c)(2) are exempt by
    the relationship ((f)(5), (f)(15)(ii)); 16 CFR 310.4(c) takes no relationship and the
    unreadable consent lifts nothing: it BLOCKs naming the record and the fix."""
    _lists(tmp_path, NUMBER)
    _old_consent(tmp_path)
    assert cli("ebr", "add", NUMBER, *CAMPAIGN, "--last-transaction", "2026-11-02",
               data_dir=tmp_path).returncode == 0
    code, verdict = _check(tmp_path)
    assert code == 1, verdict
    assert "internal-error" not in json.dumps(verdict)
    status = _outcomes(verdict)
    assert status["us-federal:64.1200(c)(1)"]["status"] == "exempt", status
    assert status["us-federal:64.1200(c)(2)"]["status"] == "exempt", status
    reason = status["us-federal:310.4(c)"]["reason"]
    assert status["us-federal:310.4(c)"]["status"] == "block"
    assert "window 20:00-23:00 stored with UTC offset +00:00" in reason
    assert "re-record the consent" in reason


def test_revoked_it_is_named_revoked_not_one_to_re_record(tmp_path):
    """Revoked by the person: it lifts nothing because it was revoked; the fix named is not
    to record it again (a revoked consent recorded again would be a consent not given)."""
    _lists(tmp_path)
    _old_consent(tmp_path)
    assert cli("consent", "revoke", NUMBER, *CAMPAIGN, "--kind", "calling-hours",
               data_dir=tmp_path).returncode == 0
    code, verdict = _check(tmp_path, at="2026-12-09T21:30:00-07:00")
    assert code == 1, verdict
    reason = _outcomes(verdict)["us-federal:310.4(c)"]["reason"]
    assert "revoked" in reason, reason
    assert "re-record" not in reason, reason


def test_a_do_not_call_request_withdraws_it_and_blocks(tmp_path):
    """The request after the consent: 64.1200(d)(3) BLOCKs, the consent is named withdrawn
    by the request, not one to re-record."""
    _lists(tmp_path)
    _old_consent(tmp_path)
    assert cli("internal-dnc", "add", NUMBER, *CAMPAIGN, data_dir=tmp_path).returncode == 0
    code, verdict = _check(tmp_path, at="2026-12-09T21:30:00-07:00")
    assert code == 1, verdict
    status = _outcomes(verdict)
    assert status["us-federal:64.1200(d)(3)"]["status"] == "block", status
    reason = status["us-federal:310.4(c)"]["reason"]
    assert "withdrawn by the do-not-call request" in reason, reason
    assert "re-record" not in reason, reason


def test_a_written_consent_stored_with_a_window_is_named_a_fix_the_cli_accepts(tmp_path):
    """An older callguard took ``--window`` on any kind (refused since hux10): a written
    consent stored with an offset window lifts no calling-hours rule, and the fix named must
    be one ``consent add`` accepts: the consent recorded again without a window (it said
    ``--kind written --window``, which ``consent add`` refuses)."""
    _lists(tmp_path)
    assert cli("consent", "add", NUMBER, *CAMPAIGN, "--kind", "written", "--granted",
               "2026-12-01T10:00:00-07:00", data_dir=tmp_path).returncode == 0
    with sqlite3.connect(tmp_path / "records.sqlite3") as db:
        db.execute("UPDATE consent SET window_start = '20:00:00+00:00', "
                   "window_end = '23:00:00'")
    code, verdict = _check(tmp_path)
    assert code == 1, verdict
    status = _outcomes(verdict)
    reason = status["us-federal:64.1200(c)(1)"]["reason"]
    assert status["us-federal:64.1200(c)(1)"]["status"] == "block", reason
    assert "window 20:00-23:00 stored with UTC offset +00:00" in reason
    start = reason.index("`callguard consent add ") + len("`callguard ")
    command = reason[start:reason.index("`", start)].split()
    assert "--window" not in command, reason
    fix = [{"NUMBER": NUMBER, "WHEN": "2026-12-01T10:00:00-07:00"}.get(w, w) for w in command]
    assert cli(*fix, *CAMPAIGN, data_dir=tmp_path).returncode == 0, fix
    _code, verdict = _check(tmp_path)
    assert _outcomes(verdict)["us-federal:64.1200(c)(1)"]["status"] == "exempt", verdict


def test_a_written_consent_with_an_offset_window_lifts_no_autodialer_rule(tmp_path):
    """64.1200(a)(2) reads no window, so it honoured a written consent whose window was
    stored with an offset and ALLOWed a predictive call at noon, while `consent show` and
    `evidence` called the same consent not valid now. Which hours (if any) the person agreed
    to cannot be known: it lifts nothing, (a)(2) BLOCKs naming the fix, and the consent
    recorded again (the command named) lifts it."""
    predictive = ("--campaign", "ut-solar-predictive")
    _lists(tmp_path)
    assert cli("consent", "add", NUMBER, *predictive, "--kind", "written", "--granted",
               "2026-12-01T10:00:00-07:00", data_dir=tmp_path).returncode == 0
    with sqlite3.connect(tmp_path / "records.sqlite3") as db:
        db.execute("UPDATE consent SET window_start = '20:00:00+00:00', "
                   "window_end = '23:00:00'")
    noon = "2026-12-07T12:00:00-07:00"
    result = cli("check", NUMBER, *predictive, "--at", noon, "--json", data_dir=tmp_path)
    verdict = json.loads(result.stdout)
    assert result.returncode == 1, verdict
    outcome = _outcomes(verdict)["us-federal:64.1200(a)(2)"]
    assert outcome["status"] == "block", outcome
    assert "stored with UTC offset +00:00" in outcome["reason"]
    assert "consent add NUMBER --kind written --granted WHEN" in outcome["reason"]
    assert cli("consent", "add", NUMBER, *predictive, "--kind", "written", "--granted",
               "2026-12-01T10:00:00-07:00", data_dir=tmp_path).returncode == 0
    result = cli("check", NUMBER, *predictive, "--at", noon, "--json", data_dir=tmp_path)
    assert result.returncode == 0, result.stdout
