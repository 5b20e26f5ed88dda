"""The gate over the real embedded stores: facts fetched only when needed, fail closed,
exactly one compliance record per decision, no clear number in the log."""

from __future__ import annotations

import asyncio
import json
import re
import time
from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from callguard.compliance.testing import CapturingTarget
from callguard.config import load_settings
from callguard.errors import StoreError, UsageError
from callguard.gate import CheckRequest, Withdrawal
from callguard.policy import ConsentKind, ConsentRecord
from callguard.runtime import open_runtime
from callguard.stores.embedded.lists import write_version
from callguard.stores.list_files import parse_list_file
from callguard.stores.writes import AddCompanyDnc, AddConsent

AT = datetime.fromisoformat("2026-07-22T11:00:00-06:00")


class CountingRecords:
    """The real SQLite store, with a count of every read (a spy, not a fake)."""

    def __init__(self, inner):
        self.inner = inner
        self.reads: list[str] = []
        self.fail = False

    def __getattr__(self, name):
        return getattr(self.inner, name)

    async def _read(self, name, *args):
        self.reads.append(name)
        if self.fail:
            raise StoreError("record store unreachable (simulated)")
        return await getattr(self.inner, name)(*args)

    async def consents(self, *args):
        return await self._read("consents", *args)

    async def ebr(self, *args):
        return await self._read("ebr", *args)

    async def company_dnc(self, *args):
        return await self._read("company_dnc", *args)


@pytest.fixture
async def runtime(tmp_path):
    listing = tmp_path / "national.txt"
    listing.write_text("8015550199\n")
    for name in ("national", "ut-state"):
        write_version(tmp_path, name, parse_list_file(listing), published=date(2026, 7, 20),
                      area_codes=None, source="test")
    settings = load_settings(data_dir=tmp_path)
    rt = open_runtime(settings)
    spy = CountingRecords(rt.records)
    rt.gate._records = spy
    rt.spy = spy
    yield rt
    await rt.aclose()


async def check(rt, number="8015550123", campaign="ut-solar-manual", **kw):
    return await rt.gate.check(CheckRequest(number, campaign, at=kw.pop("at", AT), **kw))


def hanging(cancelled: asyncio.Event):
    """A store read that never answers; ``cancelled`` is set when it is cancelled."""

    async def hangs(*_args):
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    return hangs


class TestFactsOnDemand:
    """Reads happen only when a rule needs the fact."""

    async def test_manual_call_in_hours_unlisted_reads_only_company_dnc(self, runtime):
        """64.1200(d)(3) always needs the seller's list; nothing else is read."""
        decision = await check(runtime)
        assert decision.allowed, decision.verdict.reason
        assert runtime.spy.reads == ["company_dnc"]

    async def test_predictive_call_reads_consent_and_ebr(self, runtime):
        """64.1200(a)(2) would block and accepts only written consent: consent is read, EBR not."""
        decision = await check(runtime, mode="predictive")
        assert not decision.allowed
        assert sorted(runtime.spy.reads) == ["company_dnc", "consents"]

    async def test_written_consent_in_the_store_allows_predictive(self, runtime):
        """A consent written through the store is seen by the next decision."""
        await runtime.gate.write([AddConsent(
            "beehive-solar", "+18015550123",
            ConsentRecord(ConsentKind.WRITTEN, datetime(2026, 1, 1, tzinfo=UTC)),
            "test", "form-1")])
        assert (await check(runtime, mode="predictive")).allowed

    async def test_ami_required_blocks_unfollowed_automated_fastagi_calls(self, runtime):
        """[ami] required: while no AMI session could release the line, a predictive or
        prerecorded FastAGI call is BLOCKed citing why (before any store is read, so
        nothing is counted); manual calls and other fronts are not concerned."""
        await runtime.gate.write([AddConsent(
            "beehive-solar", "+18015550123",
            ConsentRecord(ConsentKind.WRITTEN, datetime(2026, 1, 1, tzinfo=UTC)),
            "test", "form-1")])
        down = [True]
        runtime.gate.unwatched = lambda: "AMI down (test)" if down[0] else None
        runtime.spy.reads.clear()
        for mode in ("predictive", "prerecorded"):
            blocked = await check(runtime, mode=mode, front="fastagi")
            assert not blocked.allowed
            assert blocked.verdict.deciding.rule_id == "callguard:line-release-unwatched"
            assert "AMI down (test)" in blocked.verdict.reason
        assert runtime.spy.reads == []
        assert (await check(runtime, mode="manual", front="fastagi")).allowed
        assert (await check(runtime, mode="predictive", front="http")).allowed
        down[0] = False
        assert (await check(runtime, mode="predictive", front="fastagi",
                            linkedid="1795326441.70")).allowed

    async def test_ami_required_blocks_an_automated_fastagi_call_with_no_linkedid(
            self, runtime):
        """[ami] required, AMI up: a predictive or prerecorded FastAGI call whose dialplan
        passed no LINKEDID is BLOCKed — the watchdog follows by that Linkedid (node.py
        ``observe``), so nobody here could release its line. A header block cut short
        by a blank line inside an earlier argument (res_agi.c ``setup_env`` writes each
        ``agi_arg_N`` unescaped) loses it the same way."""
        await runtime.gate.write([AddConsent(
            "beehive-solar", "+18015550123",
            ConsentRecord(ConsentKind.WRITTEN, datetime(2026, 1, 1, tzinfo=UTC)),
            "test", "form-1")])
        runtime.gate.unwatched = lambda: None
        for mode in ("predictive", "prerecorded"):
            blocked = await check(runtime, mode=mode, front="fastagi")
            assert blocked.verdict.deciding.rule_id == "callguard:line-release-unwatched"
            assert "no LINKEDID" in blocked.verdict.reason
        assert (await check(runtime, mode="manual", front="fastagi")).allowed
        assert (await check(runtime, mode="predictive", front="fastagi",
                            linkedid="1795326441.70")).allowed
        runtime.gate.unwatched = None  # [ami] not required: as before
        assert (await check(runtime, mode="predictive", front="fastagi")).allowed

    async def test_opt_out_binds_every_campaign_of_the_solicitor(self, runtime):
        """64.1200(d)(3): recorded via one campaign, blocks the other campaign of the seller."""
        await runtime.gate.write([AddCompanyDnc("beehive-solar", "+18015550123", AT, "t")])
        decision = await check(runtime, campaign="ut-solar-predictive", mode="manual")
        assert decision.verdict.deciding.rule_id == "us-federal:64.1200(d)(3)"


class TestRecordsJudgedAt:
    """Every record made before the decision binds it, whatever instant the client sends
    (a statute case, deciding at the call's own instant, sees later records as not made)."""

    async def test_a_request_after_the_client_instant_binds_a_call_placed_now(self, runtime):
        """64.1200(d)(3): a dialer sending an earlier ``at`` (a queued call) cannot dodge a
        do-not-call request made since; the request was made before the decision."""
        later = datetime.fromisoformat("2026-07-23T11:00:00-06:00")
        await runtime.gate.write([AddCompanyDnc("beehive-solar", "+18015550123", later, "t")])
        decision = await check(runtime)
        assert decision.verdict.deciding.rule_id == "us-federal:64.1200(d)(3)"

    async def test_a_question_about_an_earlier_instant_is_bound_too(self, runtime):
        """``check --at`` of a past day (no call placed), asked after the request: still
        BLOCK — an opted-out number is never ALLOWed once the request is on record."""
        later = datetime.fromisoformat("2026-07-23T11:00:00-06:00")
        await runtime.gate.write([AddCompanyDnc("beehive-solar", "+18015550123", later, "t")])
        decision = await check(runtime, places_call=False)
        assert decision.verdict.deciding.rule_id == "us-federal:64.1200(d)(3)"

    async def test_a_revocation_after_the_client_instant_binds_a_call_placed_now(self, runtime):
        """64.1200(a)(10): the consent revoked since the client's ``at`` is gone for a call
        placed now, and for a question asked now."""
        from callguard.stores.writes import RevokeConsent

        await runtime.gate.write([AddConsent(
            "beehive-solar", "+18015550123",
            ConsentRecord(ConsentKind.WRITTEN, datetime(2026, 1, 1, tzinfo=UTC)),
            "test", "form-1")])
        await runtime.gate.write([RevokeConsent(
            "beehive-solar", "+18015550123", ConsentKind.WRITTEN,
            datetime.fromisoformat("2026-07-23T11:00:00-06:00"), "t")])
        assert not (await check(runtime, mode="predictive")).allowed
        assert not (await check(runtime, mode="predictive", places_call=False)).allowed


class TestFailClosed:
    """Errors become BLOCK with the reason, and the gate keeps serving."""

    async def test_store_failure_blocks_with_reason(self, runtime):
        """Redis or SQLite gone mid-call: BLOCK callguard:store-unavailable."""
        runtime.spy.fail = True
        decision = await check(runtime)
        assert decision.verdict.deciding.rule_id == "callguard:store-unavailable"
        assert "unreachable" in decision.verdict.reason
        runtime.spy.fail = False
        assert (await check(runtime)).allowed

    @pytest.mark.parametrize(("number", "campaign", "extra", "rule"), [
        ("", "ut-solar-manual", {}, "callguard:number-not-dialable"),
        ("abc", "ut-solar-manual", {}, "callguard:number-not-dialable"),
        ("8015550123", "nope", {}, "callguard:unknown-campaign"),
        ("8015550123", "ut-solar-manual", {"location": "Mars/Base"}, "callguard:bad-location"),
        ("8015550123", "ut-solar-manual", {"mode": "robocall"}, "callguard:unknown-mode"),
    ])
    async def test_bad_input_blocks(self, runtime, number, campaign, extra, rule):
        """Garbage in is a BLOCK naming what was wrong."""
        decision = await check(runtime, number, campaign, **extra)
        assert not decision.allowed
        assert decision.verdict.deciding.rule_id == rule

    async def test_a_campaign_with_a_no_break_space_is_named_as_such(self, runtime):
        """'ut-solar\xa0manual' reads as the configured id: the reason names the character."""
        decision = await check(runtime, "8015550123", "ut-solar\u00a0manual")
        assert decision.verdict.deciding.rule_id == "callguard:unknown-campaign"
        assert "(it holds U+00A0 NO-BREAK SPACE, which no configured id has)" in (
            decision.verdict.reason)

    @pytest.mark.parametrize(("campaign", "extra"), [
        ("8015557734", {}),  # NUMBER and CAMPAIGN swapped by a dialplan
        ("x" * 54 + "8015557734", {}),  # a long value the reason cuts
        ("ut-solar-manual", {"mode": "8015557734"}),
        # repr spells an unprintable character by its code point: redacted before it was
        # spelt, 'x\U00080155' + '57734' (five digits) was quoted with 8015557734 in clear
        ("x\U0008015557734", {}),
        ("ut-solar-manual", {"mode": "x\U0008015557734"}),
        ("ut-solar-manual", {"mode": "x\x80155" + "57734"}),
    ])
    async def test_a_refused_value_is_quoted_without_a_number(self, runtime, campaign,
                                                              extra):
        """The reason reaches every front's answer (FastAGI's CALLGUARD_REASON, SIP's
        header, HTTP's body) and their logs: a number given as the campaign or the mode
        is quoted by its last four, never in clear, not even its first digits."""
        decision = await check(runtime, "8015550123", campaign, **extra)
        assert decision.verdict.deciding.rule_id in ("callguard:unknown-campaign",
                                                     "callguard:unknown-mode")
        assert "801555" not in decision.verdict.reason
        assert "7734" in decision.verdict.reason or "\u2026" in decision.verdict.reason

    async def test_an_opt_out_for_a_number_given_as_campaign_quotes_no_number(self,
                                                                            runtime):
        with pytest.raises(UsageError) as refused:
            await runtime.gate.opt_out("8015550123", "8015557734", source="test")
        assert "is not configured" in str(refused.value)
        assert "801555" not in str(refused.value)

    async def test_an_opt_out_for_an_unprintable_campaign_quotes_no_number(self, runtime):
        with pytest.raises(UsageError) as refused:
            await runtime.gate.opt_out("8015550123", "x\U0008015557734", source="test")
        assert "801555" not in str(refused.value)

    async def test_the_instant_decided_is_the_millisecond_recorded(self, runtime):
        """An ``at`` past the millisecond is decided as the record keeps it: 9:00:00.0005
        p.m. and 9:00:00.000 p.m. are one answer (the record's replay agrees)."""
        close = datetime.fromisoformat("2026-07-22T21:00:00-06:00")
        exact = await check(runtime, at=close)
        later = await check(runtime, at=close.replace(microsecond=500))
        assert later.at == close
        assert later.verdict.deciding == exact.verdict.deciding
        assert later.allowed == exact.allowed

    async def test_unloaded_list_blocks(self, tmp_path):
        """No national list at all: every call is blocked, not read as 'not listed'."""
        rt = open_runtime(load_settings(data_dir=tmp_path))
        try:
            decision = await rt.gate.check(CheckRequest("8015550123", "ut-solar-manual", at=AT))
        finally:
            await rt.aclose()
        assert decision.verdict.deciding.rule_id == "us-federal:64.1200(c)(2)(i)(D)"
        assert "not loaded" in decision.verdict.reason

    async def test_a_bug_in_a_rule_blocks(self, runtime, monkeypatch):
        """An exception inside the policy is an internal-error BLOCK, not a crash."""
        def explode(*_a, **_k):
            raise RuntimeError("boom")
        monkeypatch.setattr(runtime.gate._policy, "decide", explode)
        decision = await check(runtime)
        assert decision.verdict.deciding.rule_id == "callguard:internal-error"

    async def test_log_failure_turns_allow_into_block(self, runtime):
        """An ALLOW whose compliance record cannot be written is not an ALLOW."""
        def broken(_decision):
            raise OSError("disk full")
        runtime.gate._record = broken
        decision = await check(runtime)
        assert not decision.allowed
        assert "compliance record could not be written" in decision.verdict.reason


class TestComplianceRecord:
    """One record per decision, numbers protected."""

    async def test_exactly_one_record_per_decision(self, runtime):
        """A capturing target sees one 'decision' record carrying the decision id."""
        capture = CapturingTarget()
        runtime.compliance.writer.target = capture
        first = await check(runtime)
        second = await check(runtime, "8015550199")
        events = [e for e in capture.records if e["event"] == "decision"]
        assert [e["decision_id"] for e in events] == [first.decision_id, second.decision_id]
        assert events[1]["verdict"] == "BLOCK"
        assert events[1]["rule"] == "us-federal:64.1200(c)(2)"

    async def test_log_file_has_no_clear_number(self, runtime):
        """The real sink: only a keyed hash and the last four digits."""
        numbers = ["8015550123", "8015550199", "+1 (435) 555-0142"]
        for number in numbers:
            await check(runtime, number)
        text = (runtime.settings.data_dir / "compliance.jsonl").read_text()
        records = [json.loads(line) for line in text.splitlines()]
        assert len(records) == 3
        for digits in ("8015550123", "8015550199", "4355550142", "5550123", "5550142"):
            assert digits not in re.sub(r"[^0-9]", "", json.dumps([r.get("reason") for r in
                                                                  records]))
            assert digits not in text
        assert records[0]["number_last4"] == "0123"
        assert records[0]["number_hash"] == runtime.protector.hash("+18015550123")


async def test_replace_settings_keeps_validation(tmp_path):
    """A settings copy with another data dir opens its own stores (used by the demo)."""
    settings = replace(load_settings(data_dir=tmp_path), data_dir=tmp_path / "other")
    rt = open_runtime(settings)
    await rt.aclose()
    assert (tmp_path / "other" / "records.sqlite3").exists()


class TestTimeBudget:
    """``budget_s``: the budget is armed only once deciding waits, with the same deadline."""

    async def test_a_decision_that_never_waits_is_decided(self, runtime):
        """The embedded stores answer without waiting: the verdict, no time-budget BLOCK."""
        decision = await runtime.gate.check(CheckRequest("8015550123", "ut-solar-manual",
                                                         at=AT), budget_s=0.25)
        assert decision.allowed, decision.verdict.reason

    async def test_a_store_that_waits_but_answers_in_time_is_heard(self, runtime):
        """A read that suspends (as Redis does) and answers within the budget decides."""
        real = runtime.spy.company_dnc

        async def slowish(*args):
            await asyncio.sleep(0.01)
            await asyncio.sleep(0)
            return await real(*args)

        runtime.spy.company_dnc = slowish
        decision = await runtime.gate.check(CheckRequest("8015550199", "ut-solar-manual",
                                                         at=AT), budget_s=0.5)
        assert decision.verdict.deciding.rule_id == "us-federal:64.1200(c)(2)"
        assert runtime.spy.reads[0] == "company_dnc"

    async def test_a_store_slower_than_the_budget_blocks(self, runtime):
        """The read is cancelled at the deadline; BLOCK callguard:time-budget."""
        cancelled = asyncio.Event()
        runtime.spy.company_dnc = hanging(cancelled)
        loop = asyncio.get_running_loop()
        started = loop.time()
        decision = await runtime.gate.check(CheckRequest("8015550123", "ut-solar-manual",
                                                         at=AT), budget_s=0.05)
        assert decision.verdict.deciding.rule_id == "callguard:time-budget"
        assert loop.time() - started < 1
        assert cancelled.is_set()

    async def test_a_deadline_already_past_when_deciding_first_waits_blocks(
            self, runtime, monkeypatch):
        """The synchronous steps ran past the budget, then deciding waits: BLOCK at once
        (the deadline counts from the check, not from the first wait)."""
        plan = runtime.gate._policy.plan

        def slow_plan(attempt):
            time.sleep(0.25)
            return plan(attempt)

        async def waits(*args):
            await asyncio.sleep(1.0)

        monkeypatch.setattr(runtime.gate._policy, "plan", slow_plan)
        runtime.spy.company_dnc = waits
        loop = asyncio.get_running_loop()
        started = loop.time()
        decision = await runtime.gate.check(CheckRequest("8015550123", "ut-solar-manual",
                                                         at=AT), budget_s=0.2)
        assert decision.verdict.deciding.rule_id == "callguard:time-budget"
        assert loop.time() - started < 0.4

    async def test_cancelling_the_front_cancels_deciding(self, runtime):
        """A front that goes away cancels the check: not turned into a verdict."""
        entered = asyncio.Event()

        async def hangs(*_args):
            entered.set()
            await asyncio.sleep(10)

        runtime.spy.company_dnc = hangs
        task = asyncio.create_task(runtime.gate.check(
            CheckRequest("8015550123", "ut-solar-manual", at=AT), budget_s=5))
        await entered.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


class TestWithdrawal:
    """A front's CANCEL (SIP, RFC 3261 §9.2) while the gate decides: until the record is
    written it stops a waiting decision and turns an ALLOW into the recorded BLOCK
    callguard:cancelled; once the record is being written it changes nothing."""

    @staticmethod
    def _records(runtime) -> list[dict]:
        text = (runtime.settings.data_dir / "compliance.jsonl").read_text()
        return [json.loads(line) for line in text.splitlines()]

    async def test_withdrawn_before_deciding_reads_nothing_and_is_recorded(self, runtime):
        withdrawal = Withdrawal()
        assert withdrawal.withdraw()
        decision = await check(runtime, withdrawal=withdrawal)
        assert decision.verdict.deciding.rule_id == "callguard:cancelled"
        assert withdrawal.honoured
        assert runtime.spy.reads == []
        [record] = self._records(runtime)
        assert (record["verdict"], record["rule"]) == ("BLOCK", "callguard:cancelled")
        assert record["decision_id"] == decision.decision_id

    async def test_withdrawn_while_deciding_waits_stops_the_wait(self, runtime):
        """The store read is cancelled at once, as at the time budget, and the BLOCK
        names the withdrawal, not the budget."""
        cancelled = asyncio.Event()
        runtime.spy.company_dnc = hanging(cancelled)
        withdrawal = Withdrawal()
        loop = asyncio.get_running_loop()
        loop.call_later(0.05, withdrawal.withdraw)
        started = loop.time()
        decision = await runtime.gate.check(CheckRequest(
            "8015550123", "ut-solar-manual", at=AT, withdrawal=withdrawal), budget_s=5)
        assert loop.time() - started < 1
        assert cancelled.is_set()
        assert decision.verdict.deciding.rule_id == "callguard:cancelled"
        assert withdrawal.honoured
        assert self._records(runtime)[-1]["rule"] == "callguard:cancelled"

    async def test_withdrawn_while_the_record_is_written_changes_nothing(self, runtime):
        """The record of the ALLOW is on its way: the decision is final, the withdrawal
        refused, and the ALLOW is what was recorded and is returned."""
        real = runtime.gate._record
        withdrawal = Withdrawal()
        refused: list[bool] = []

        async def slow_record(decision):
            refused.append(withdrawal.withdraw())
            await asyncio.sleep(0.01)
            await real(decision)

        runtime.gate._record = slow_record
        decision = await check(runtime, withdrawal=withdrawal)
        assert refused == [False]
        assert decision.allowed
        assert not withdrawal.honoured
        assert self._records(runtime)[-1]["verdict"] == "ALLOW"

    async def test_seal_turns_an_allow_into_cancelled_and_keeps_a_block(self, runtime):
        allowed = await check(runtime)
        blocked = await check(runtime, "8015550199")
        for verdict, rule in ((allowed.verdict, "callguard:cancelled"),
                              (blocked.verdict, "us-federal:64.1200(c)(2)")):
            withdrawal = Withdrawal()
            withdrawal.withdraw()
            sealed = withdrawal.seal(verdict)
            assert not sealed.allowed
            assert sealed.deciding.rule_id == rule
            assert withdrawal.honoured
            assert not withdrawal.withdraw()  # final from here
        untouched = Withdrawal()
        assert untouched.seal(allowed.verdict) is allowed.verdict
        assert not untouched.honoured
