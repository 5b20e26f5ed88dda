"""`evidence NUMBER` beside the history: the records as stored now, per seller; and a
consent revoked itself is not said to be ended by another consent's revocation."""

from __future__ import annotations

import json

from tests.test_cli import cli

NUMBER = "8015550123"


def _record(data_dir) -> None:
    for args in (["consent", "add", NUMBER, "--kind", "written", "--granted",
                  "2026-11-01T12:00:00Z", "--source", "web", "--evidence", "form-A17.pdf"],
                 ["consent", "add", NUMBER, "--kind", "calling-hours", "--window",
                  "09:00-21:30", "--granted", "2026-11-01T12:00:00Z"],
                 ["consent", "revoke", NUMBER, "--kind", "autodialer", "--source", "agent"],
                 ["internal-dnc", "add", NUMBER]):
        assert cli(*args, "--campaign", "ut-solar-manual",
                   data_dir=data_dir).returncode == 0, args
    assert cli("check", NUMBER, "--campaign", "ut-solar-manual", "--at",
               "2026-12-08T11:00:00-07:00", data_dir=data_dir).returncode == 1


def test_evidence_shows_the_records_as_stored_now(tmp_path):
    """An officer asked "what stands for this number today" ran `consent show` once per
    seller beside `evidence` (which read the log alone: a consent granted before a purge's
    cutoff, or written where the log is not read, was in neither answer)."""
    _record(tmp_path)
    result = cli("evidence", NUMBER, "--json", data_dir=tmp_path)
    assert result.returncode == 0, result.stderr
    assert NUMBER not in result.stdout
    stored = json.loads(result.stdout)["stored_now"]
    assert stored["read_at"].endswith("Z")
    beehive = stored["sellers"]["beehive-solar"]
    by_kind = {c["kind"]: c for c in beehive["consents"]}
    assert by_kind["written"]["evidence"] == "form-A17.pdf"
    assert by_kind["written"]["revoked_source"] == "agent"
    assert by_kind["written"]["valid_now"] is False
    # withdrawn by the do-not-call request recorded after it, as the gate reads it
    assert by_kind["calling-hours"]["valid_now"] is False
    assert "do-not-call request" in by_kind["calling-hours"]["withdrawn_by_request"]
    assert by_kind["calling-hours"]["window"] == "09:00-21:30"
    assert beehive["company_dnc"]["source"] == "cli"
    assert stored["sellers"]["granite-insurance"] == {"consents": [], "ebr": None,
                                                      "company_dnc": None}
    text = cli("evidence", NUMBER, data_dir=tmp_path).stdout
    assert "records as stored now" in text
    assert "seller beehive-solar; consent written; granted 2026-11-01T12:00:00Z" in text
    assert "evidence form-A17.pdf" in text
    assert "seller granite-insurance; company do-not-call none" in text
    page = cli("evidence", NUMBER, "--format", "html", data_dir=tmp_path).stdout
    assert "Records as stored now" in page


def test_evidence_without_a_record_store_says_so_and_answers(tmp_path):
    """No record store on this host (an archive copied to counsel's machine): the history
    is answered, the section says why it is missing, never "none"."""
    _record(tmp_path)
    (tmp_path / "records.sqlite3").rename(tmp_path / "elsewhere.sqlite3")
    result = cli("evidence", NUMBER, "--json", data_dir=tmp_path)
    assert result.returncode == 0, result.stderr
    stored = json.loads(result.stdout)["stored_now"]
    assert "sellers" not in stored
    assert stored["unavailable"].startswith("the record store was not read")
    assert json.loads(result.stdout)["decisions"]


def test_a_consent_revoked_itself_is_not_said_ended_by_another_revocation(tmp_path):
    """`consent revoke --kind autodialer` marks the written consents revoked; `show` said
    "no (ended by the written revocation)" — a revocation of written consent nobody made
    (the log's record says autodialer), read off the other written consent's mark."""
    for args in (["consent", "add", NUMBER, "--kind", "written", "--granted",
                  "2026-11-01T12:00:00Z"],
                 ["consent", "add", NUMBER, "--kind", "written", "--granted",
                  "2026-11-02T12:00:00Z"],
                 ["consent", "revoke", NUMBER, "--kind", "autodialer"]):
        assert cli(*args, "--campaign", "ut-solar-manual", data_dir=tmp_path).returncode == 0
    shown = json.loads(cli("consent", "show", NUMBER, "--campaign", "ut-solar-manual",
                           "--json", data_dir=tmp_path).stdout)
    assert [c["valid_now"] for c in shown["consents"]] == [False, False]
    assert [c["ended_by_revocation_of"] for c in shown["consents"]] == [None, None]
    assert all(c["revoked_at"] for c in shown["consents"])


def test_evidence_of_one_decision_lists_the_records_in_force_with_their_facts(tmp_path):
    """`evidence --decision ID` (text) said "0 record change(s)" and a count of 4 "records
    before", naming none; the table had no decision id to give `explain`."""
    _record(tmp_path)
    records = [json.loads(line) for line in
               (tmp_path / "compliance.jsonl").read_text().splitlines()]
    (decision,) = [r for r in records if r["event"] == "decision"]
    result = cli("evidence", "--decision", decision["decision_id"], data_dir=tmp_path)
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert decision["decision_id"] in text.split("records in force", 1)[0]
    standing = text.split("records in force before", 1)[1]
    assert "consent-added (written)" in standing
    assert "granted at 2026-11-01T12:00:00.000Z" in standing
    assert "evidence ref form-A17.pdf" in standing
    assert "window 09:00-21:30" in standing
    assert "consent-revoked (autodialer)" in standing
    assert "company-dnc-added" in standing


def test_a_seller_the_history_names_is_read_though_no_campaign_has_it_now(tmp_path):
    """Only the configured campaigns' sellers were read: a seller whose campaigns were
    renamed or removed since (a complaint is about its calls) still has its consent and
    do-not-call records in the store, and the section left it out as if it had none."""
    from pathlib import Path

    import callguard

    _record(tmp_path)
    data = Path(callguard.__file__).parent / "data"
    config = tmp_path / "renamed.toml"
    config.write_text((data / "callguard.toml").read_text()
                      .replace('packs_dir = "jurisdictions"',
                               f'packs_dir = "{data / "jurisdictions"}"')
                      .replace('"beehive-solar"', '"beehive-solar-2027"'))
    result = cli("--config", str(config), "evidence", NUMBER, "--json", data_dir=tmp_path)
    assert result.returncode == 0, result.stderr
    stored = json.loads(result.stdout)["stored_now"]
    sellers = stored["sellers"]
    assert sellers["beehive-solar-2027"]["consents"] == []
    assert sellers["beehive-solar"]["company_dnc"]["source"] == "cli"
    assert {c["kind"] for c in sellers["beehive-solar"]["consents"]} == {
        "written", "calling-hours"}
    # the store read is named (a host's own beside an archive copied from the site)
    assert stored["store"] == str(tmp_path / "records.sqlite3")
    text = cli("--config", str(config), "evidence", NUMBER, data_dir=tmp_path).stdout
    assert f"in {tmp_path / 'records.sqlite3'}:" in " ".join(text.split())
    assert "seller beehive-solar; consent written" in text
