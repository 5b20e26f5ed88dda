"""Issue 15.3: Redis durability is checked on every reconnect, and a server that lost its
data is noticed — with a real redis-server killed and restarted with ``--appendonly no``
and an empty data directory, under a real `callguard serve` and under the store itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import redis
from redis import asyncio as aioredis
from redis.exceptions import OutOfMemoryError

from callguard.errors import StoreError
from callguard.stores.redis.client import open_client
from callguard.stores.redis.high_water import SEQ_KEY
from callguard.stores.redis.records import (
    CONFIG_PATTERNS,
    MARKER_KEY,
    RecordsSettings,
    RedisRecords,
)
from callguard.stores.redis.records import _key as _key_of
from callguard.stores.writes import AddCompanyDnc
from tests.redis_proxy import RedisProxy
from tests.serve_node import AT, ServeNode, write_lists

SELLER = "beehive-solar"
T0 = datetime(2026, 11, 20, tzinfo=UTC)


def _restart_weak_and_empty(server, tmp_path) -> None:
    """SIGKILL, then the same port with appendonly no and a new, empty data dir."""
    server.kill()
    server.data_dir = tmp_path / "redis-empty"
    server.data_dir.mkdir()
    server.appendonly = "no"
    server.start()


@contextlib.asynccontextmanager
async def _running(records: RedisRecords, admin_url: str) -> AsyncIterator[aioredis.Redis]:
    """``records`` started, with an admin client on the server to change it under them;
    both closed after."""
    admin = aioredis.from_url(admin_url)
    try:
        await records.start()
        yield admin
    finally:
        await admin.aclose()
        await records.aclose()


async def _kill_others(admin: aioredis.Redis) -> int:
    """CLIENT KILL every normal client but the admin's own connection."""
    return int(await admin.execute_command("CLIENT", "KILL", "TYPE", "normal", "SKIPME",
                                           "yes"))


class TestStore:
    """RedisRecords against the real server."""

    async def test_a_reconnect_to_an_emptied_weak_server_is_refused(self, tmp_path,
                                                                   redis_server):
        """Commands after the restart reconnect (the first may fail on the dead socket);
        the connect hook checks the server before a command runs on the new connection:
        no write is acknowledged and a read does not answer "no record" (main: both went
        through)."""
        records = RedisRecords(aioredis.from_url(redis_server.url, socket_timeout=2),
                               RecordsSettings())
        await records.start()
        try:
            await records.apply([AddCompanyDnc(SELLER, "+18015550142", T0, "agent")])
            assert await records.company_dnc(SELLER, "+18015550142") is not None
            _restart_weak_and_empty(redis_server, tmp_path)
            reasons = []
            for _ in range(3):  # every attempt refused; once reconnected, for the reason
                with pytest.raises(StoreError) as refused:
                    await records.apply([AddCompanyDnc(SELLER, "+18015550143", T0, "agent")])
                reasons.append(str(refused.value))
            assert "lost its data" in reasons[-1], reasons
            with pytest.raises(StoreError, match="lost its data"):
                await records.company_dnc(SELLER, "+18015550142")
            assert "appendonly=no" in records.weak
            assert records.refusing_writes is not None
        finally:
            await records.aclose()

    async def test_a_server_without_read_only_scripts_is_read_with_evalsha(self, tmp_path):
        """Redis before 7.0 has no EVALSHA_RO (here: renamed away, as it answers the same
        "unknown command"): reads fall back to EVALSHA instead of failing every call, and
        no log line quotes the command (its text holds the key, the number in it)."""
        from structlog.testing import capture_logs

        from tests.redis_server import RedisServer

        server = RedisServer(tmp_path / "old", extra=("--rename-command", "EVALSHA_RO", ""))
        server.data_dir.mkdir()
        server.start()
        records = RedisRecords(aioredis.from_url(server.url, socket_timeout=2),
                               RecordsSettings())
        try:
            await records.start()
            await records.apply([AddCompanyDnc(SELLER, "+18015550142", T0, "agent")])
            with capture_logs() as logs:
                assert await records.company_dnc(SELLER, "+18015550142") is not None
                assert await records.company_dnc(SELLER, "+18015550143") is None
            assert [e["event"] for e in logs] == ["redis_without_read_only_scripts"]
            assert "8015550142" not in repr(logs)
        finally:
            await records.aclose()
            server.stop()

    async def test_weak_server_refuses_writes_and_recovers(self, redis_server):
        """CONFIG SET appendonly no on the live server (data intact): writes are refused,
        reads still answer; back to appendonly yes, writes are acknowledged again."""
        records = RedisRecords(aioredis.from_url(redis_server.url, socket_timeout=2),
                               RecordsSettings())
        async with _running(records, redis_server.url) as admin:
            await admin.config_set("appendonly", "no")
            assert "appendonly=no" in await records.verify()
            with pytest.raises(StoreError, match="not durable"):
                await records.apply([AddCompanyDnc(SELLER, "+18015550144", T0, "agent")])
            assert await records.company_dnc(SELLER, "+18015550144") is None
            await admin.config_set("appendonly", "yes")
            for _ in range(100):  # the AOF rewrite that turning it on starts
                if (await admin.info("persistence")).get("aof_rewrite_in_progress") == 0:
                    break
                await asyncio.sleep(0.05)
            assert await records.verify() is None
            assert await records.apply([AddCompanyDnc(SELLER, "+18015550144", T0, "a")]) == (1,)

    async def test_flushall_while_connected_is_noticed_by_the_next_read(self, redis_server):
        """FLUSHALL on the live server (no reconnect, no probe): the next read does not
        answer "no record" for a number whose do-not-call record was just wiped (main: it
        read None until the next reload tick or /readyz probe)."""
        records = RedisRecords(aioredis.from_url(redis_server.url, socket_timeout=2),
                               RecordsSettings())
        async with _running(records, redis_server.url) as admin:
            await records.apply([AddCompanyDnc(SELLER, "+18015550145", T0, "agent")])
            seq = await admin.get(SEQ_KEY)
            await admin.flushall()
            with pytest.raises(StoreError, match="lost its data"):
                await records.company_dnc(SELLER, "+18015550145")
            with pytest.raises(StoreError, match="lost its data"):
                await records.consents(SELLER, "+18015550145")
            with pytest.raises(StoreError, match="lost its data"):
                await records.apply([AddCompanyDnc(SELLER, "+18015550146", T0, "agent")])
            assert await admin.exists(_key_of(SELLER, "+18015550146")) == 0
            await admin.mset({MARKER_KEY: records._token, SEQ_KEY: seq})  # the data restored
            assert await records.verify() is None  # the next probe or reload tick
            assert await records.company_dnc(SELLER, "+18015550145") is None

    async def test_appendfsync_switched_off_at_runtime_refuses_the_next_write(
            self, redis_server):
        """CONFIG SET appendfsync no (or everysec) on the live server: the next write is
        not acknowledged, without waiting for a probe (main: acknowledged until the next
        reload tick or /readyz)."""
        records = RedisRecords(aioredis.from_url(redis_server.url, socket_timeout=2),
                               RecordsSettings())
        async with _running(records, redis_server.url) as admin:
            for setting in ("no", "everysec"):
                await admin.config_set("appendfsync", setting)
                with pytest.raises(StoreError, match=f"appendfsync={setting}"):
                    await records.apply([AddCompanyDnc(SELLER, "+18015550147", T0, "a")])
                await admin.config_set("appendfsync", "always")
                assert await records.verify() is None  # the next probe or reload tick
            assert await records.apply([AddCompanyDnc(SELLER, "+18015550148", T0, "a")]) == (1,)

    async def test_appendfsync_set_back_to_always_is_written_to_at_once(self, redis_server):
        """appendfsync switched to everysec: the next write is refused at once (and every
        one after it); switched back to always, the next write is acknowledged — no probe,
        no reload tick between (main: refused until one asked the server again)."""
        records = RedisRecords(aioredis.from_url(redis_server.url, socket_timeout=2),
                               RecordsSettings())
        async with _running(records, redis_server.url) as admin:
            try:
                await admin.config_set("appendfsync", "everysec")
                for number in ("+18015550160", "+18015550161"):
                    with pytest.raises(StoreError, match="appendfsync=everysec"):
                        await records.apply([AddCompanyDnc(SELLER, number, T0, "a")])
                assert await admin.exists(_key_of(SELLER, "+18015550161")) == 0
                await admin.config_set("appendfsync", "always")
                assert await records.apply([AddCompanyDnc(SELLER, "+18015550161", T0, "a")]) == (1,)
                assert records.refusing_writes is None
                await admin.config_set("appendfsync", "no")
                with pytest.raises(StoreError, match="appendfsync=no"):
                    await records.apply([AddCompanyDnc(SELLER, "+18015550162", T0, "a")])
            finally:
                await admin.config_set("appendfsync", "always")

    async def test_a_server_no_longer_evicting_is_read_at_once(self, redis_server):
        """maxmemory-policy allkeys-lru refuses reads; back to noeviction, the next read
        answers without a probe (main: refused until the next reload tick or /readyz)."""
        records = RedisRecords(aioredis.from_url(redis_server.url, socket_timeout=2),
                               RecordsSettings(on_weak_durability="warn"))
        async with _running(records, redis_server.url) as admin:
            try:
                await records.apply([AddCompanyDnc(SELLER, "+18015550163", T0, "agent")])
                await admin.config_set("maxmemory-policy", "allkeys-lru")
                await records.verify()
                with pytest.raises(StoreError, match="may evict"):
                    await records.company_dnc(SELLER, "+18015550163")
                await admin.config_set("maxmemory-policy", "noeviction")
                assert await records.company_dnc(SELLER, "+18015550163") is not None
            finally:
                await admin.config_set("maxmemory-policy", "noeviction")

    async def test_concurrent_refusals_share_one_recheck(self, redis_server):
        """Fifty writes refused at once on a weak server ask it again once between them,
        not fifty times (the recheck is shared by every caller waiting for it)."""
        records = RedisRecords(aioredis.from_url(redis_server.url, socket_timeout=2),
                               RecordsSettings())
        async with _running(records, redis_server.url) as admin:
            try:
                await admin.config_set("appendfsync", "everysec")
                await records.verify()
                await admin.config_resetstat()
                results = await asyncio.gather(*(
                    records.apply([AddCompanyDnc(SELLER, f"+1801555{n:04d}", T0, "a")])
                    for n in range(50)), return_exceptions=True)
                assert all(isinstance(r, StoreError) for r in results)
                stats = await admin.info("commandstats")
                assert stats["cmdstat_config|get"]["calls"] == len(CONFIG_PATTERNS)
                assert "cmdstat_evalsha" not in stats, "nothing written"
            finally:
                await admin.config_set("appendfsync", "always")

    async def test_an_idle_connection_the_server_killed_is_replaced_before_use(
            self, redis_server):
        """CLIENT KILL of the node's connections while idle: the next read and the next
        write run on a new connection (main, with redis-py 8.1's pool: the first command
        after the kill failed on the closed one — a BLOCK, and an opt-out refused)."""
        records = RedisRecords(open_client(redis_server.url, socket_timeout=2),
                               RecordsSettings())
        async with _running(records, redis_server.url) as admin:
            await records.apply([AddCompanyDnc(SELLER, "+18015550164", T0, "agent")])
            for attempt in ("read", "write"):
                assert await _kill_others(admin) >= 1
                await asyncio.sleep(0.2)  # the close reaches this process
                if attempt == "read":
                    assert await records.company_dnc(SELLER, "+18015550164") is not None
                else:
                    assert await records.apply([AddCompanyDnc(SELLER, "+18015550165", T0,
                                                              "a")]) == (1,)

    async def test_a_read_whose_connection_drops_mid_command_is_read_again(
            self, redis_server):
        """The connection drops with a read in flight (its answer lost): the read is run
        once more on a fresh connection and answers (main: the call BLOCKed). A write whose
        connection drops is not run again — it fails, nothing acknowledged — and one whose
        request never reached the server leaves nothing behind; the next write goes
        through. Two drops in a row: the read fails (fail closed)."""
        proxy = RedisProxy(redis_server.port)
        await proxy.start()
        records = RedisRecords(open_client(proxy.url, socket_timeout=2), RecordsSettings())
        try:
            async with _running(records, redis_server.url) as admin:
                await records.apply([AddCompanyDnc(SELLER, "+18015550166", T0, "agent")])
                for after_reply in (True, False):
                    proxy.cut_next(after_reply=after_reply)
                    assert await records.company_dnc(SELLER, "+18015550166") is not None
                proxy.cut_next(after_reply=False)
                with pytest.raises(StoreError, match="write failed"):
                    await records.apply([AddCompanyDnc(SELLER, "+18015550167", T0, "a")])
                assert await admin.exists(_key_of(SELLER, "+18015550167")) == 0
                assert await records.apply([AddCompanyDnc(SELLER, "+18015550167", T0, "a")]) == (1,)
                assert proxy.cut == 3
                proxy.cut_next(after_reply=True, times=2)  # the read, then its fresh connection
                with pytest.raises(StoreError, match="read failed"):
                    await records.company_dnc(SELLER, "+18015550166")
                assert proxy.cut == 5
        finally:
            await proxy.aclose()

    async def test_a_full_server_still_answers_reads_and_refuses_writes(self, redis_server):
        """maxmemory reached under noeviction: a write is refused (nothing acknowledged),
        while reads keep answering, so calls that only read keep being decided; no error
        names the number (a MULTI around the read was refused whole under OOM, and
        redis-py's pipeline error quotes the command, key and number included)."""
        records = RedisRecords(aioredis.from_url(redis_server.url, socket_timeout=2),
                               RecordsSettings())
        async with _running(records, redis_server.url) as admin:
            await records.apply([AddCompanyDnc(SELLER, "+18015550149", T0, "agent")])
            used = int((await admin.info("memory"))["used_memory"])
            await admin.config_set("maxmemory", str(used + 1024))
            with pytest.raises(OutOfMemoryError):
                await admin.set("filler", "x" * 200_000)
            with pytest.raises(StoreError) as refused:
                await records.apply([AddCompanyDnc(SELLER, "+18015550150", T0, "agent")])
            assert "5550150" not in str(refused.value)
            assert await records.company_dnc(SELLER, "+18015550149") is not None
            assert await records.consents(SELLER, "+18015550149") == ()
            assert await records.ebr(SELLER, "+18015550149") is None
            await admin.config_set("maxmemory", "0")
            assert await records.apply([AddCompanyDnc(SELLER, "+18015550150", T0, "a")]) == (1,)

    async def test_a_server_switched_to_evict_refuses_reads_too(self, redis_server):
        """CONFIG SET maxmemory-policy allkeys-lru while serving: a full server may now
        evict a do-not-call record, which would then read as "none" — reads are refused
        (the gate BLOCKs), not only writes (main: reads went on answering). Back to
        noeviction, they answer again."""
        records = RedisRecords(aioredis.from_url(redis_server.url, socket_timeout=2),
                               RecordsSettings(on_weak_durability="warn"))
        async with _running(records, redis_server.url) as admin:
            await records.apply([AddCompanyDnc(SELLER, "+18015550151", T0, "agent")])
            await admin.config_set("maxmemory-policy", "allkeys-lru")
            await records.verify()  # the next probe or reload tick (warn: writes go on)
            assert "may evict" in records.weak
            with pytest.raises(StoreError, match="may evict"):
                await records.company_dnc(SELLER, "+18015550151")
            await admin.config_set("maxmemory-policy", "noeviction")
            await records.verify()
            assert records.weak is None
            assert await records.company_dnc(SELLER, "+18015550151") is not None

    async def test_reads_answer_while_writes_are_paused(self, redis_server):
        """CLIENT PAUSE WRITE (what a manual FAILOVER does for a few seconds): reads keep
        answering at once, so calls that only read keep being decided; a write waits and
        fails on the client's timeout, not acknowledged. A script read must go as
        EVALSHA_RO — a plain EVALSHA is paused like a write."""
        records = RedisRecords(aioredis.from_url(redis_server.url, socket_timeout=1),
                               RecordsSettings())
        async with _running(records, redis_server.url) as admin:
            try:
                await records.apply([AddCompanyDnc(SELLER, "+18015550152", T0, "agent")])
                await admin.execute_command("CLIENT", "PAUSE", "3000", "WRITE")
                started = asyncio.get_running_loop().time()
                assert await records.company_dnc(SELLER, "+18015550152") is not None
                assert await records.consents(SELLER, "+18015550152") == ()
                assert asyncio.get_running_loop().time() - started < 0.5
                with pytest.raises(StoreError):
                    await records.apply([AddCompanyDnc(SELLER, "+18015550153", T0, "agent")])
            finally:
                await admin.execute_command("CLIENT", "UNPAUSE")

    async def test_evicting_server_is_weak(self, redis_server):
        """maxmemory-policy allkeys-lru may evict a do-not-call record: not durable."""
        admin = aioredis.from_url(redis_server.url)
        await admin.config_set("maxmemory-policy", "allkeys-lru")
        await admin.aclose()
        records = RedisRecords(aioredis.from_url(redis_server.url), RecordsSettings())
        with pytest.raises(StoreError, match="maxmemory-policy=allkeys-lru"):
            await records.start()
        await records.aclose()

    async def test_nodes_share_one_marker(self, redis_server):
        """The first node writes the marker; the second adopts it (a restart of one node
        cannot make another believe the data is intact)."""
        a = RedisRecords(aioredis.from_url(redis_server.url), RecordsSettings())
        b = RedisRecords(aioredis.from_url(redis_server.url), RecordsSettings())
        await a.start()
        await b.start()
        try:
            assert a._token == b._token
            admin = aioredis.from_url(redis_server.url)
            await admin.set(MARKER_KEY, "someone else's")
            await admin.aclose()
            assert "lost its data" in await a.verify()
            assert "lost its data" in await b.verify()
        finally:
            await a.aclose()
            await b.aclose()


def _serving(tmp_path: Path, redis_url: str, **options: Any) -> ServeNode:
    """A `callguard serve` started with its records in Redis and 8015550199 listed."""
    node = ServeNode(tmp_path / "node", redis_url=redis_url, redis_records=True, **options)
    write_lists(node.data, [8015550199])
    node.start()
    return node


def _opted_out(node: ServeNode) -> dict[str, str]:
    """Opt a number out over HTTP (200: durable) and see it BLOCKed by the seller's list;
    the check that shows it."""
    optout = {"number": "8015550142", "campaign": "ut-solar-predictive"}
    assert node.json("/v1/opt-out", optout)[0] == 200
    check = {"number": "8015550142", "campaign": "ut-solar-manual", "at": AT}
    assert node.json("/v1/check", check)[1]["rule"] == "us-federal:64.1200(d)(3)"
    return check


class TestServe:
    """The issue's run: records in Redis on an AOF server, then Redis killed and restarted
    with --appendonly no and empty. main kept answering /v1/opt-out 200, ALLOWed a number
    opted out earlier, and /readyz said ready."""

    def test_opt_out_refused_check_blocked_readiness_and_metrics_say_why(self, tmp_path,
                                                                       redis_server):
        node = _serving(tmp_path, redis_server.url)
        try:
            check = _opted_out(node)
            status, ready = node.json("/readyz", token=None)
            assert status == 200, ready
            assert node.metric("callguard_records_durable") == 1

            _restart_weak_and_empty(redis_server, tmp_path)

            status, body = node.json("/v1/opt-out", {"number": "8015550143",
                                                      "campaign": "ut-solar-predictive"})
            assert status == 503, body
            assert "not recorded" in body["error"]
            decision = node.json("/v1/check", check)[1]
            assert decision["verdict"] == "BLOCK", decision
            assert decision["rule"] == "callguard:store-unavailable"
            status, ready = node.json("/readyz", token=None)
            assert status == 503
            detail = {c["name"]: c for c in ready["checks"]}["records_durability"]
            assert not detail["ok"]
            assert "lost its data" in detail["detail"]
            assert node.metric("callguard_records_durable") == 0
            assert node.events("records_data_lost")
        finally:
            node.stop()

    def test_flushall_and_fsync_off_while_serving_are_refused_at_once(self, tmp_path,
                                                                    redis_server):
        """A serving node whose reload tick is far off (so no probe rescues it): FLUSHALL
        wipes an opt-out and a Florida number's three counted calls — the next checks are
        BLOCKed callguard:store-unavailable (main: the opted-out number and a fourth
        Florida call were ALLOWed); then, the data restored, appendfsync switched to
        everysec — an opt-out is answered 503, not 200."""
        node = _serving(tmp_path, redis_server.url, reload_seconds=600)
        admin = redis.Redis.from_url(redis_server.url)
        try:
            optout = {"number": "8015550142", "campaign": "ut-solar-predictive"}
            assert node.json("/v1/opt-out", optout)[0] == 200
            opted = {"number": "8015550142", "campaign": "ut-solar-manual", "at": AT}
            florida = {"number": "3055550123", "campaign": "ut-solar-manual", "at": AT}
            verdicts = [node.json("/v1/check", florida)[1]["verdict"] for _ in range(4)]
            assert verdicts == ["ALLOW", "ALLOW", "ALLOW", "BLOCK"]
            marker, seq = admin.mget(MARKER_KEY, SEQ_KEY)

            admin.flushall()
            for check in (opted, florida):
                decision = node.json("/v1/check", check)[1]
                assert decision["verdict"] == "BLOCK", decision
                assert decision["rule"] == "callguard:store-unavailable", decision
                assert "lost its data" in decision["reason"]
            assert node.json("/v1/opt-out", {"number": "8015550143",
                                             "campaign": "ut-solar-predictive"})[0] == 503

            admin.mset({MARKER_KEY: marker, SEQ_KEY: seq})  # as if the AOF were restored
            status, ready = node.json("/readyz", token=None)  # the probe: serving again
            assert status == 200, ready
            admin.config_set("appendfsync", "everysec")
            status, body = node.json("/v1/opt-out", {**optout, "number": "8015550144"})
            assert status == 503, body
            assert "appendfsync=everysec" in body["error"]
            assert node.json("/v1/check", florida)[1]["rule"] == "callguard:store-unavailable"
            admin.config_set("appendfsync", "always")  # no probe: the next write serves
            assert node.json("/v1/opt-out", {**optout, "number": "8015550144"})[0] == 200
            assert node.json("/readyz", token=None)[0] == 200
            assert "8015550142" not in node.stderr()
            assert "8015550144" not in node.stderr()
        finally:
            admin.close()
            node.stop()


    def test_the_first_calls_after_a_client_kill_are_decided(self, tmp_path, redis_server):
        """CLIENT KILL of every connection of a serving node: the next check (a read and a
        count) and the next opt-out (a write) are answered on new connections, not
        BLOCKed callguard:store-unavailable / refused 503 (main: the first of each failed
        on its closed connection)."""
        node = _serving(tmp_path, redis_server.url, reload_seconds=600)
        admin = redis.Redis.from_url(redis_server.url)
        try:
            check = _opted_out(node)
            florida = {"number": "3055550123", "campaign": "ut-solar-manual", "at": AT}
            assert node.json("/v1/check", florida)[1]["verdict"] == "ALLOW"
            for _ in range(2):
                admin.execute_command("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes")
                time.sleep(0.2)
                decision = node.json("/v1/check", florida)[1]
                assert decision["verdict"] == "ALLOW", decision
                admin.execute_command("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes")
                time.sleep(0.2)
                assert node.json("/v1/check", check)[1]["rule"] == "us-federal:64.1200(d)(3)"
                admin.execute_command("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes")
                time.sleep(0.2)
                status, body = node.json("/v1/opt-out", {"number": "8015550143",
                                                          "campaign": "ut-solar-predictive"})
                assert status == 200, body
        finally:
            admin.close()
            node.stop()


class TestAuth:
    """A Redis that requires a password (requirepass), as the shipped compose file runs."""

    def test_right_password_serves_wrong_or_none_refuses_to_start_saying_why(
            self, tmp_path, redis_server):
        """The right CALLGUARD_REDIS_PASSWORD: an opt-out is recorded and BLOCKs the
        number. A wrong one, or none: the node does not start, says the record store
        refused the password (not an "internal error") and never prints the password."""
        admin = redis.Redis.from_url(redis_server.url)
        admin.config_set("requirepass", "pw-0123456789abcdef")
        admin.close()
        for name, password in (("wrong", "pw-wrong-fedcba987"), ("none", "")):
            node = ServeNode(tmp_path / name, redis_url=redis_server.url, redis_records=True,
                             env_extra={"CALLGUARD_REDIS_PASSWORD": password})
            write_lists(node.data, [8015550199])
            node.start(wait=False)
            assert node.process is not None
            assert node.process.wait(timeout=30) == 3
            err = node.stderr()
            assert "internal error" not in err, err
            assert "record store (Redis)" in err
            assert "CALLGUARD_REDIS_PASSWORD" in err
            assert "pw-wrong" not in err
            assert "pw-0123" not in err
        node = ServeNode(tmp_path / "right", redis_url=redis_server.url, redis_records=True,
                         env_extra={"CALLGUARD_REDIS_PASSWORD": "pw-0123456789abcdef"})
        write_lists(node.data, [8015550199])
        node.start()
        try:
            _opted_out(node)
            assert "pw-0123" not in node.stderr()
        finally:
            node.stop()
