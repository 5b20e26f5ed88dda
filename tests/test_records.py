"""Consent, EBR and company-DNC records on both backends (SQLite and a real redis-server).

The same assertions run against each store; the Redis-only tests share records between
two nodes, crash the server mid-write, and check the durability gate at start.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta

import pytest
from redis import asyncio as aioredis

from callguard.config import load_settings
from callguard.errors import StoreError
from callguard.gate import CheckRequest
from callguard.policy import AUTOMATED_CONSENT, ConsentKind, ConsentRecord
from callguard.runtime import open_runtime
from callguard.stores.embedded.lists import write_version
from callguard.stores.embedded.records import EmbeddedRecords
from callguard.stores.list_files import ParsedList
from callguard.stores.redis.high_water import ACKED_KEY, IDS_KEY, SEQ_KEY
from callguard.stores.redis.records import MARKER_KEY, RecordsSettings, RedisRecords
from callguard.stores.writes import (
    AddCompanyDnc,
    AddConsent,
    EndEbr,
    RecordEbr,
    RevokeConsent,
)
from tests.redis_server import RedisServer

SELLER, OTHER = "beehive-solar", "granite-insurance"
NUMBER = "+18015550123"
T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)
# A Wednesday 11:00 in Denver: inside every calling window.
AT = datetime(2026, 11, 25, 18, 0, tzinfo=UTC)


@pytest.fixture(params=["embedded", "redis"])
async def store(request, tmp_path):
    """Each backend, empty."""
    if request.param == "embedded":
        records = EmbeddedRecords(tmp_path / "records.sqlite3")
        yield records
        await records.aclose()
        return
    server = RedisServer(tmp_path / "redis")
    server.data_dir.mkdir()
    server.start()
    records = RedisRecords(aioredis.from_url(server.url, socket_timeout=2), RecordsSettings())
    await records.start()
    yield records
    await records.aclose()
    server.stop()


class TestSemantics:
    """What each write means, identical on both backends."""

    async def test_consent_revocation_is_immediate_and_recorded(self, store):
        """Revocation takes effect at once (we do not use the 10 business days) with its source."""
        granted = AddConsent(SELLER, NUMBER, ConsentRecord(ConsentKind.AUTODIALER, T0),
                             "crm", "form-17")
        assert await store.apply([granted]) == (1,)
        assert [c.valid_at(T0 + timedelta(days=1)) for c in
                await store.consents(SELLER, NUMBER)] == [True]
        revoke_at = T0 + timedelta(days=2)
        assert await store.apply([RevokeConsent(SELLER, NUMBER, ConsentKind.AUTODIALER,
                                                revoke_at, "call-recording")]) == (1,)
        (stored,) = (await store.sheet(SELLER, NUMBER)).consents
        assert stored.record.revoked_at == revoke_at
        assert stored.revoked_source == "call-recording"
        assert (stored.source, stored.evidence) == ("crm", "form-17")
        assert not stored.record.valid_at(revoke_at + timedelta(seconds=1))
        # Revoking again changes nothing; another kind is untouched.
        assert await store.apply([RevokeConsent(SELLER, NUMBER, ConsentKind.AUTODIALER,
                                                revoke_at, "x")]) == (0,)

    async def test_revoking_either_automated_kind_ends_both(self, store):
        """47 CFR 64.1200(a)(10): "stop robocalling me", recorded as an autodialer
        revocation, left the written consent live and the gate allowed prerecorded calls.
        It ends every consent to automated calls; calling-hours and fax stay; ``None``
        (``--kind all``) ends every kind."""
        window = (time(21, 0), time(22, 0))
        for kind in ConsentKind:
            record = ConsentRecord(kind, T0, window=window if kind is ConsentKind.CALLING_HOURS
                                   else None)
            await store.apply([AddConsent(SELLER, NUMBER, record, "crm")])
        at = T0 + timedelta(days=2)
        assert await store.apply([RevokeConsent(SELLER, NUMBER, ConsentKind.AUTODIALER, at,
                                                "call")]) == (2,)
        later = at + timedelta(seconds=1)
        live = {c.record.kind for c in (await store.sheet(SELLER, NUMBER)).consents
                if c.record.valid_at(later)}
        assert live == {ConsentKind.CALLING_HOURS, ConsentKind.FAX}
        assert {c.revoked_source for c in (await store.sheet(SELLER, NUMBER)).consents
                if c.record.kind in AUTOMATED_CONSENT} == {"call"}
        # The reverse order of words: a written revocation reaches an autodialer consent.
        await store.apply([AddConsent(OTHER, NUMBER, ConsentRecord(ConsentKind.AUTODIALER, T0),
                                      "crm")])
        assert await store.apply([RevokeConsent(OTHER, NUMBER, ConsentKind.WRITTEN, at,
                                                "x")]) == (1,)
        assert await store.apply([RevokeConsent(SELLER, NUMBER, None, at, "all")]) == (2,)
        assert not any(c.valid_at(later) for c in await store.consents(SELLER, NUMBER))
        assert not any(c.valid_at(later) for c in await store.consents(OTHER, NUMBER))

    async def test_the_same_consent_again_is_not_a_second_one(self, store):
        """A retried write or a file imported twice stores the consent once; one that differs
        in any field (here its evidence, or its window) is another consent."""
        record = ConsentRecord(ConsentKind.CALLING_HOURS, T0, expires_at=T0 + timedelta(days=9),
                               window=(time(7, 0), time(22, 0)))
        granted = AddConsent(SELLER, NUMBER, record, "crm", "form-17")
        assert await store.apply([granted, granted]) == (1, 0)
        assert await store.apply([granted]) == (0,)
        assert len((await store.sheet(SELLER, NUMBER)).consents) == 1
        other_window = replace(record, window=(time(7, 0), time(21, 0)))
        assert await store.apply([replace(granted, evidence="form-18"),
                                  replace(granted, record=other_window),
                                  replace(granted, record=replace(record, expires_at=None)),
                                  replace(granted, record=replace(record, window=None))]
                                 ) == (1, 1, 1, 1)
        # A revoked consent replayed stays revoked: the replay is the same consent.
        await store.apply([RevokeConsent(SELLER, NUMBER, ConsentKind.CALLING_HOURS, T0, "x")])
        assert await store.apply([granted]) == (0,)
        assert not any(c.valid_at(T0 + timedelta(days=1))
                       for c in await store.consents(SELLER, NUMBER))

    async def test_consent_belongs_to_one_solicitor(self, store):
        """13-25a-103(2): consent to this specific solicitor; another seller sees none."""
        await store.apply([AddConsent(SELLER, NUMBER, ConsentRecord(ConsentKind.WRITTEN, T0),
                                      "crm")])
        assert await store.consents(OTHER, NUMBER) == ()

    async def test_calling_hours_consent_keeps_its_window_and_expiry(self, store):
        """13-25a-103(3) consent to other hours: the window and expiry round-trip exactly."""
        record = ConsentRecord(ConsentKind.CALLING_HOURS, T0, expires_at=T0 + timedelta(days=90),
                               window=(time(7, 0), time(22, 30)))
        await store.apply([AddConsent(SELLER, NUMBER, record, "web")])
        assert await store.consents(SELLER, NUMBER) == (record,)

    async def test_ebr_keeps_the_later_dates(self, store):
        """A transaction or inquiry only moves its date forward."""
        await store.apply([RecordEbr(SELLER, NUMBER, last_transaction=date(2026, 5, 1))])
        await store.apply([RecordEbr(SELLER, NUMBER, last_transaction=date(2026, 1, 1),
                                     last_inquiry=date(2026, 2, 1))])
        ebr = await store.ebr(SELLER, NUMBER)
        assert (ebr.last_transaction, ebr.last_inquiry, ebr.ended_at) == (
            date(2026, 5, 1), date(2026, 2, 1), None)

    async def test_do_not_call_request_ends_the_relationship(self, store):
        """64.1200(d)(3) request: on the seller's list, and the EBR no longer exempts."""
        await store.apply([RecordEbr(SELLER, NUMBER, last_transaction=date(2026, 5, 1))])
        assert await store.apply([AddCompanyDnc(SELLER, NUMBER, T0, "agent-desktop")]) == (1,)
        assert (await store.ebr(SELLER, NUMBER)).ended_at == T0
        dnc = await store.company_dnc(SELLER, NUMBER)
        assert (dnc.added_at, dnc.source) == (T0, "agent-desktop")
        # A second request keeps the first date (the 5 years of (d)(6) run from it).
        assert await store.apply([AddCompanyDnc(SELLER, NUMBER, T0 + timedelta(days=9),
                                                "x")]) == (0,)
        assert (await store.company_dnc(SELLER, NUMBER)).added_at == T0
        assert await store.company_dnc(OTHER, NUMBER) is None

    async def test_ending_a_relationship(self, store):
        """EndEbr ends a live relationship once; without one it changes nothing."""
        assert await store.apply([EndEbr(SELLER, NUMBER, T0, "cli")]) == (0,)
        await store.apply([RecordEbr(SELLER, NUMBER, last_inquiry=date(2026, 5, 1))])
        assert await store.apply([EndEbr(SELLER, NUMBER, T0, "cli")]) == (1,)
        assert (await store.ebr(SELLER, NUMBER)).ended_at == T0

    async def test_batch_is_atomic_and_ordered(self, store):
        """A batch lands whole: consent then its revocation, in one call."""
        changed = await store.apply([
            AddConsent(SELLER, NUMBER, ConsentRecord(ConsentKind.WRITTEN, T0), "csv"),
            AddConsent(SELLER, "+18015550124", ConsentRecord(ConsentKind.WRITTEN, T0), "csv"),
            RevokeConsent(SELLER, NUMBER, ConsentKind.WRITTEN, T0, "csv"),
        ])
        assert changed == (1, 1, 1)
        assert (await store.consents(SELLER, NUMBER))[0].revoked_at == T0
        assert (await store.consents(SELLER, "+18015550124"))[0].revoked_at is None


class TestRedisBatchValidation:
    """Redis does not roll back a failing script: the script checks everything first."""

    async def test_malformed_write_leaves_nothing(self, redis_server):
        client = aioredis.from_url(redis_server.url)
        records = RedisRecords(client, RecordsSettings())
        script = records._apply
        with pytest.raises(Exception, match="malformed; nothing written"):
            await script(keys=["callguard:rec:s:+1", "callguard:rec:s:+2", ACKED_KEY, IDS_KEY,
                               SEQ_KEY, MARKER_KEY],
                         args=[b'{"t":"dnc","at":"2026-01-01T00:00:00+00:00","source":"x"}',
                               b'{"t":"bogus"}', b"set", b"id", b"", b"0", b""])  # unchecked
        assert await client.exists("callguard:rec:s:+1") == 0
        await client.aclose()


def _node(tmp_path, name, url):
    """A node with fresh lists, records and log in Redis."""
    data = tmp_path / name
    listed = ParsedList()
    listed.by_area[801] = [5550199]
    for list_name in ("national", "ut-state"):
        write_version(data, list_name, listed, published=AT.date(), area_codes=None,
                      source="t")
    settings = load_settings(data_dir=data)
    settings = replace(settings, records=RecordsSettings(backend="redis"), redis_url=url,
                       log=replace(settings.log, node=name))
    runtime = open_runtime(settings)
    runtime.gate._clock = lambda: AT
    return runtime


class TestSharedAcrossNodes:
    """Two nodes on one real Redis."""

    async def test_revoke_on_node_a_blocks_next_check_on_node_b(self, tmp_path, redis_server):
        """Predictive needs written consent (64.1200(a)(2)); revoked on A, B blocks at once."""
        a, b = _node(tmp_path, "a", redis_server.url), _node(tmp_path, "b", redis_server.url)
        await a.start()
        await b.start()
        try:
            request = CheckRequest(NUMBER, "ut-solar-predictive", at=AT, front="test")
            await a.gate.write([AddConsent(SELLER, NUMBER, ConsentRecord(
                ConsentKind.WRITTEN, T0), "crm", "form-1")])
            assert (await b.gate.check(request)).allowed
            await a.gate.write([RevokeConsent(SELLER, NUMBER, ConsentKind.WRITTEN, AT,
                                              "phone")])
            decision = await b.gate.check(request)
            assert not decision.allowed
            assert decision.verdict.deciding.rule_id == "us-federal:64.1200(a)(2)"
        finally:
            await a.aclose()
            await b.aclose()

    async def test_opt_out_on_a_binds_b(self, tmp_path, redis_server):
        """A negative response at one node's agent is on every node's list (64.1200(d)(3))."""
        a, b = _node(tmp_path, "a", redis_server.url), _node(tmp_path, "b", redis_server.url)
        await a.start()
        await b.start()
        try:
            await a.gate.opt_out("8015550123", "ut-solar-manual", source="agent")
            decision = await b.gate.check(CheckRequest(NUMBER, "ut-solar-predictive",
                                                       mode="manual", at=AT))
            assert decision.verdict.deciding.rule_id == "us-federal:64.1200(d)(3)"
        finally:
            await a.aclose()
            await b.aclose()

    async def test_redis_gone_mid_call_blocks_with_reason(self, tmp_path, redis_server):
        """The store is unreachable: BLOCK store-unavailable, and the node keeps serving."""
        node = _node(tmp_path, "a", redis_server.url)
        await node.start()
        try:
            redis_server.kill()
            decision = await node.gate.check(CheckRequest(NUMBER, "ut-solar-manual", at=AT))
            assert not decision.allowed
            assert decision.verdict.deciding.rule_id == "callguard:store-unavailable"
            assert "record store (Redis)" in decision.verdict.reason
            redis_server.start()
            decision = await node.gate.check(CheckRequest(NUMBER, "ut-solar-manual", at=AT))
            assert decision.allowed, decision.verdict.reason
        finally:
            await node.aclose()


class TestDurability:
    """Acknowledged means durable, or the write is refused with its reason."""

    async def test_opt_outs_during_a_crash_are_durable_or_refused(self, tmp_path, redis_server):
        """SIGKILL the server while opt-outs stream in; every acknowledged one survives."""
        node = _node(tmp_path, "a", redis_server.url)
        await node.start()
        acknowledged: list[str] = []
        refused: list[str] = []
        reasons: set[str] = set()

        async def writer(worker: int) -> None:
            for i in range(150):
                number = f"80155{worker}{i:04d}"
                try:
                    acknowledged.append(await node.gate.opt_out(number, "ut-solar-manual",
                                                                source="agent"))
                except StoreError as exc:
                    reasons.add(str(exc).split(" failed")[0])
                    refused.append(number)
                await asyncio.sleep(0.002)

        async def crash() -> None:
            await asyncio.sleep(0.15)
            await asyncio.to_thread(redis_server.kill)
            await asyncio.sleep(0.3)
            await asyncio.to_thread(redis_server.start)

        try:
            await asyncio.wait_for(asyncio.gather(writer(1), writer(2), crash()), 60)
        finally:
            await node.aclose()
        assert refused, "the crash refused nothing: it did not happen mid-stream"
        assert reasons == {"record store (Redis) write"}
        assert acknowledged
        redis_server.kill()  # and once more, after the last acknowledgement
        redis_server.start()
        check = RedisRecords(aioredis.from_url(redis_server.url), RecordsSettings())
        try:
            lost = [n for n in acknowledged if await check.company_dnc(SELLER, n) is None]
        finally:
            await check.aclose()
        assert lost == []

    async def test_start_refuses_a_server_without_fsync_always(self, tmp_path):
        """appendfsync everysec can lose a second of acknowledged writes: refuse, or warn."""
        server = RedisServer(tmp_path / "weak", appendfsync="everysec")
        server.data_dir.mkdir()
        server.start()
        try:
            refusing = RedisRecords(aioredis.from_url(server.url), RecordsSettings())
            with pytest.raises(StoreError, match="appendfsync=everysec"):
                await refusing.start()
            await refusing.aclose()
            warning = RedisRecords(aioredis.from_url(server.url),
                                   RecordsSettings(on_weak_durability="warn"))
            await warning.start()  # starts, having logged records_not_durable
            await warning.aclose()
        finally:
            server.stop()

    async def test_wait_for_replicas_refuses_unreplicated_writes(self, redis_server):
        """durability = replicas with no replica: start refuses; a write is not acknowledged."""
        settings = RecordsSettings(durability="replicas", wait_replicas=1, wait_timeout_ms=50)
        records = RedisRecords(aioredis.from_url(redis_server.url), settings)
        with pytest.raises(StoreError, match="needs 1 replica"):
            await records.start()
        with pytest.raises(StoreError, match="0 of 1 replica"):
            await records.apply([AddCompanyDnc(SELLER, NUMBER, T0, "x")])
        await records.aclose()

    async def test_replicated_write_is_acknowledged(self, tmp_path, redis_server):
        """With a real replica attached, WAIT confirms and the write is acknowledged."""
        replica = RedisServer(tmp_path / "replica")
        replica.data_dir.mkdir()
        replica.start()
        client = aioredis.from_url(replica.url)
        try:
            await client.execute_command("REPLICAOF", "127.0.0.1", str(redis_server.port))
            primary = aioredis.from_url(redis_server.url)
            for _ in range(200):  # online on the primary AND the link up on the replica
                info = await primary.info("replication")
                link = await client.info("replication")
                if (info.get("slave0", {}).get("state") == "online"
                        and link.get("master_link_status") == "up"):
                    break
                await asyncio.sleep(0.05)
            await primary.aclose()
            # A shared 2-core machine can delay the replica's ACK past the default 500 ms.
            records = RedisRecords(aioredis.from_url(redis_server.url),
                                   RecordsSettings(durability="replicas", wait_replicas=1,
                                                   wait_timeout_ms=5000))
            await records.start()
            assert await records.apply([AddCompanyDnc(SELLER, NUMBER, T0, "x")]) == (1,)
            await records.aclose()
        finally:
            with contextlib.suppress(Exception):
                await client.aclose()
            replica.kill()  # a replica's SIGTERM shutdown can wait on its link; not under test


_OTHER_PROCESS = """
import asyncio, sys
from datetime import datetime, UTC
from pathlib import Path
from callguard.stores.embedded.records import EmbeddedRecords
from callguard.stores.writes import AddCompanyDnc, RecordEbr
store = EmbeddedRecords(Path(sys.argv[1]))
writes = [AddCompanyDnc(sys.argv[2], sys.argv[3], datetime(2026, 3, 2, tzinfo=UTC), "other")]
if len(sys.argv) > 4:  # a write of another kind only: the counter moves, the table does not
    writes = [RecordEbr(sys.argv[2], sys.argv[3], None, None)]
asyncio.run(store.apply(writes))
store.close()
"""


def _other_process(path, *args):
    import subprocess
    import sys
    subprocess.run([sys.executable, "-c", _OTHER_PROCESS, str(path), *args], check=True,
                   timeout=60)


class TestCompanyDncInMemory:
    """The embedded store answers "no do-not-call record" from memory (a set of every
    record's hash), kept exact across processes by the insert log and the change counter."""

    @pytest.fixture
    async def kept(self, tmp_path):
        store = EmbeddedRecords(tmp_path / "records.sqlite3")
        await store.apply([AddCompanyDnc(SELLER, "+18015550100", T0, "crm")])
        store.keep_dnc_set()
        assert store._dnc is not None
        yield store
        await store.aclose()

    async def test_an_absent_number_is_answered_without_reading_the_table(self, kept,
                                                                          monkeypatch):
        """Not in the set: no query (a read that raises shows none was made)."""
        def no_read(*_args):
            raise AssertionError("the table was read")
        monkeypatch.setattr(kept, "_read", no_read)
        assert await kept.company_dnc(SELLER, NUMBER) is None

    async def test_a_record_made_before_is_found_with_its_details(self, kept):
        """In the set: the table gives the record itself."""
        record = await kept.company_dnc(SELLER, "+18015550100")
        assert record is not None
        assert record.source == "crm"
        assert await kept.company_dnc(OTHER, "+18015550100") is None

    async def test_a_deleted_record_leaves_no_copy_of_its_number_in_the_log(self, kept,
                                                                          tmp_path):
        """The insert log holds numbers in clear: it keeps none longer than the record."""
        path = tmp_path / "records.sqlite3"
        with contextlib.closing(sqlite3.connect(path)) as other:
            other.execute("DELETE FROM company_dnc WHERE number = '+18015550100'")
            other.commit()
            left = other.execute("SELECT count(*) FROM company_dnc_added").fetchone()[0]
        assert left == 0
        assert await kept.company_dnc(SELLER, "+18015550100") is None

    async def test_another_process_adding_a_record_is_seen_at_the_next_lookup(self, kept,
                                                                               tmp_path):
        """`records add` or an opt-out on another serve, on the same file: the next lookup
        here finds it (without the change counter the set would still say no)."""
        assert await kept.company_dnc(SELLER, NUMBER) is None
        _other_process(tmp_path / "records.sqlite3", SELLER, NUMBER)
        record = await kept.company_dnc(SELLER, NUMBER)
        assert record is not None
        assert record.source == "other"
        _other_process(tmp_path / "records.sqlite3", OTHER, NUMBER, "ebr-only")
        assert await kept.company_dnc(OTHER, NUMBER) is None
        _other_process(tmp_path / "records.sqlite3", OTHER, NUMBER)
        assert await kept.company_dnc(OTHER, NUMBER) is not None

    async def test_another_store_of_this_process_closing_changes_nothing(self, kept,
                                                                          tmp_path):
        """A second store on the file (a CLI command in-process) keeps, writes and closes:
        the first still follows every writer (the shared wal-index mapping is never
        closed, so neither are the locks of this process's connections)."""
        second = EmbeddedRecords(tmp_path / "records.sqlite3")
        second.keep_dnc_set()
        await second.apply([AddCompanyDnc(OTHER, "+18015550100", T0, "second")])
        second.close()
        assert (await kept.company_dnc(OTHER, "+18015550100")).source == "second"
        _other_process(tmp_path / "records.sqlite3", SELLER, NUMBER)
        assert (await kept.company_dnc(SELLER, NUMBER)).source == "other"

    async def test_its_own_opt_out_is_seen_at_once(self, kept):
        """An opt-out through this store: durable on return, and then found."""
        assert await kept.company_dnc(SELLER, NUMBER) is None
        await kept.apply([AddCompanyDnc(SELLER, NUMBER, T0, "fastagi")])
        assert await kept.company_dnc(SELLER, NUMBER) is not None

    async def test_a_store_made_before_the_log_existed(self, tmp_path):
        """A file written by an older callguard (no log table, no trigger): its records are
        read whole at start; inserts made after, by any writer, are logged."""
        import sqlite3
        path = tmp_path / "records.sqlite3"
        EmbeddedRecords(path).close()
        db = sqlite3.connect(path, isolation_level=None)
        db.executescript("DROP TRIGGER company_dnc_insert; DROP TRIGGER company_dnc_update; "
                         "DROP TABLE company_dnc_added;")
        db.execute("INSERT INTO company_dnc VALUES (?, ?, ?, ?)",
                   (SELLER, NUMBER, T0.isoformat(), "old"))
        db.close()
        store = EmbeddedRecords(path)
        try:
            store.keep_dnc_set()
            assert (await store.company_dnc(SELLER, NUMBER)).source == "old"
            _other_process(path, OTHER, NUMBER)
            assert (await store.company_dnc(OTHER, NUMBER)).source == "other"
        finally:
            store.close()

    async def test_too_many_records_are_not_kept(self, tmp_path, monkeypatch):
        """Above DNC_SET_LIMIT the table is read on every lookup, as before; also when the
        set grows past it."""
        import callguard.stores.embedded.records as module
        monkeypatch.setattr(module, "DNC_SET_LIMIT", 1)
        store = EmbeddedRecords(tmp_path / "records.sqlite3")
        try:
            store.keep_dnc_set()
            assert store._dnc is not None
            await store.apply([AddCompanyDnc(SELLER, "+18015550100", T0, "crm"),
                               AddCompanyDnc(SELLER, NUMBER, T0, "crm")])
            assert await store.company_dnc(SELLER, NUMBER) is not None
            assert store._dnc is None
            store.close()
            store = EmbeddedRecords(tmp_path / "records.sqlite3")
            store.keep_dnc_set()
            assert store._dnc is None
            assert await store.company_dnc(SELLER, NUMBER) is not None
        finally:
            store.close()
