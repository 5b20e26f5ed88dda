"""Counts proved by the compliance log (issue 18, session 15): the embedded store commits
``synchronous=NORMAL`` only when every granted reservation travels in a record synced
before the answer, and writes back from the logs, after an OS restart, what the file lost.

Real files throughout: a node's runtime writes the records; a lost commit is made by
putting back a copy of the SQLite file taken before it (what a power loss leaves: the file
without its last commits), and a new boot id says the OS restarted.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from jsonschema import Draft202012Validator

from callguard.errors import StoreError
from callguard.policy.frequency import FrequencyClaim
from callguard.stores.embedded.frequency import CountsLog, EmbeddedFrequency, boot_id

ROOT = Path(__file__).resolve().parent.parent
NOON = datetime(2026, 7, 22, 16, 0, tzinfo=UTC)  # noon EDT, a Wednesday
SELLER = "seller:beehive-solar"
DAY = FrequencyClaim("probe", SELLER, 86_400, 1_000)


def _lists(data: Path) -> None:
    from callguard.stores.embedded.lists import write_version
    from callguard.stores.list_files import parse_list_file

    listing = data / "list.txt"
    listing.write_text("3055550199\n")
    for name in ("national", "fl-state", "ut-state"):
        write_version(data, name, parse_list_file(listing), published=date(2026, 7, 20),
                      area_codes=None, source="test")


def _settings(data: Path, log: Path | None = None, durability: str = "group"):
    from callguard.config import load_settings

    settings = load_settings(data_dir=data)
    changed = {"durability": durability}
    if log is not None:
        changed["file"] = str(log)
    return dataclasses.replace(settings, log=dataclasses.replace(settings.log, **changed))


async def _check(data: Path, numbers: list[str], *, snapshot_after: int | None = None,
                 crash: bool = False, **how) -> list:
    """Decide ``numbers`` on a node; with ``snapshot_after`` copy the counts file after
    that many decisions (``_lose_commits`` puts it back: the commits after it lost);
    ``crash``: the process ends without closing its store (its log stays registered)."""
    from callguard.gate import CheckRequest
    from callguard.runtime import open_runtime

    runtime = open_runtime(_settings(data, **how))
    await runtime.start_deciding()
    decisions = []
    try:
        for i, number in enumerate(numbers):
            if i == snapshot_after:
                _snapshot(data)
            decisions.append(await runtime.gate.check(CheckRequest(
                number, "ut-solar-manual", at=NOON + timedelta(minutes=i), front="fastagi")))
        return decisions
    finally:
        if crash:
            runtime.frequency._instance = None  # no clean close: stays registered
        await runtime.aclose()


def _records(log: Path) -> list[dict]:
    return [r for r in map(orjson.loads, log.read_bytes().splitlines())
            if r.get("event") == "decision"]


def _hasher(data: Path):
    from callguard.compliance.logkey import NumberProtector, load_log_key

    return NumberProtector(load_log_key(data))


def _store(data: Path, *, boot: str, log: Path | None = None) -> EmbeddedFrequency:
    protector = _hasher(data)
    return EmbeddedFrequency(
        data / "frequency.sqlite3", protector.hash, retention_s=86_400, boot=lambda: boot,
        counts_log=None if log is None else CountsLog(log, protector.key_id))


def _count(store: EmbeddedFrequency, number: str) -> int:
    return store.count_batch([(f"+1{number}", (DAY,), NOON + timedelta(hours=1))])[0][0]


def _snapshot(data: Path) -> None:
    """A copy of the counts file and its WAL as they are now, every commit so far in."""
    db = data / "frequency.sqlite3"
    for name in (db, Path(f"{db}-wal")):
        shutil.copy(name, data / f"before-{name.name}")


def _lose_commits(data: Path) -> None:
    """The file as a power loss leaves it: without the commits made since the copy (in
    NORMAL, only those; every FULL commit before it, registrations included, is kept)."""
    db = data / "frequency.sqlite3"
    Path(f"{db}-shm").unlink(missing_ok=True)
    for name in (db, Path(f"{db}-wal")):
        shutil.copy(data / f"before-{name.name}", name)


def _synchronous(store: EmbeddedFrequency) -> int:
    return int(store._db.execute("PRAGMA synchronous").fetchone()[0])


async def test_a_capped_allow_carries_its_rows_and_the_store_commits_normal(tmp_path):
    """The shipped configuration (log file, ``group``): the record names the rows; NORMAL."""
    from callguard.runtime import open_runtime

    _lists(tmp_path)
    [decision] = await _check(tmp_path, ["3055550123"])
    assert decision.allowed, decision.verdict.reason
    [record] = _records(tmp_path / "compliance.jsonl")
    counted = record["counted"]
    assert counted["subjects"] == [SELLER]
    assert counted["mark"] > 0
    assert counted["stamp_ms"] >= int(NOON.timestamp() * 1000)
    runtime = open_runtime(_settings(tmp_path))
    try:
        assert _synchronous(runtime.frequency) == 1  # NORMAL
        encoder = runtime.compliance.encoder  # the line built from pieces = the dict dumped
        line = encoder.decision_line(decision, record["logged_at"])
        assert line == orjson.dumps(encoder.decision_fields(decision, record["logged_at"]),
                                    option=orjson.OPT_APPEND_NEWLINE)
        assert b'"counted":{"mark":' in line
    finally:
        await runtime.aclose()
    # The record validates against the shipped schema, ``counted`` included.
    schema = orjson.loads((ROOT / "callguard/data/schemas/decision.json").read_bytes())
    Draft202012Validator(schema).validate(record)
    assert not Draft202012Validator(schema).is_valid({**record, "counted": {
        **counted, "subjects": []}})


@pytest.mark.parametrize("how", [{"durability": "none"}, {"log": Path("-")}])
async def test_a_log_that_proves_nothing_keeps_full(tmp_path, how):
    """``durability = "none"`` or records on stdout: FULL, and no record names rows."""
    from callguard.runtime import open_runtime

    _lists(tmp_path)
    if how.get("log") == Path("-"):
        how = {"log": "-"}
    runtime = open_runtime(_settings(tmp_path, **how))
    try:
        assert _synchronous(runtime.frequency) == 2  # FULL
        assert not runtime.frequency.proved_by_log
    finally:
        await runtime.aclose()
    if "durability" in how:
        [decision] = await _check(tmp_path, ["3055550123"], **how)
        assert decision.allowed
        assert "counted" not in _records(tmp_path / "compliance.jsonl")[0]


async def test_a_lost_commit_is_written_back_from_the_log_exactly_once(tmp_path):
    """Commits lost with the OS come back from the records at the next opening, once."""
    _lists(tmp_path)
    await _check(tmp_path, ["3055550123", "3055550123", "3055550124", "3055550124"],
                 snapshot_after=1, crash=True)
    _lose_commits(tmp_path)
    store = _store(tmp_path, boot="after the power loss")
    try:
        assert store.written_back == 3
        assert _count(store, "3055550123") == 2
        assert _count(store, "3055550124") == 2
    finally:
        await store.aclose()
    again = _store(tmp_path, boot="the boot after that")  # read again: nothing past the mark
    try:
        assert again.written_back == 0
        assert _count(again, "3055550123") == 2
    finally:
        await again.aclose()
    # Without the write-back (the boot the copy was taken in) the counts are short.
    _lose_commits(tmp_path)
    same_boot = _store(tmp_path, boot=boot_id() or "")
    try:
        assert same_boot.written_back == 0
        assert _count(same_boot, "3055550123") == 1
    finally:
        await same_boot.aclose()


async def test_a_record_stamped_early_at_the_end_hides_no_lost_commit(tmp_path):
    """The write-back reads the log newest first back to an hour before the file's last
    commit. A record written last but stamped three hours earlier (a clock stepped back, a
    writer that stalled) stood at the end: the walk stopped at it and the lost commits'
    records before it were never read. They are now, and the walk still ends (a log of
    nothing but such records is read no further than ``_PAST_HORIZON_FIRST`` of them)."""
    _lists(tmp_path)
    await _check(tmp_path, ["3055550123", "3055550123", "3055550124", "3055550124"],
                 snapshot_after=1, crash=True)
    log = tmp_path / "compliance.jsonl"
    late = {k: v for k, v in _records(log)[0].items() if k != "counted"}
    late["logged_at"] = (datetime.now(UTC) - timedelta(hours=3)).strftime(
        "%Y-%m-%dT%H:%M:%S.000Z")
    with log.open("ab") as handle:
        handle.write(orjson.dumps(late) + b"\n")
    _lose_commits(tmp_path)
    store = _store(tmp_path, boot="after the power loss")
    try:
        assert store.written_back == 3
        assert _count(store, "3055550124") == 2
    finally:
        await store.aclose()


async def test_a_clock_stepped_back_then_many_blocks_hide_no_lost_commit(tmp_path):
    """The lost commits' records, then the clock stepped back more than an hour and
    ``_PAST_HORIZON`` decisions that commit nothing (BLOCKs: no count, so no FULL commit
    makes the lost ones durable), then the OS crash. Every record after the lost ones is
    stamped before the horizon: a walk that stops after that many such records in a row
    stopped before it reached the lost commits (the fourth call then got an ALLOW)."""
    from callguard.stores.embedded import frequency as module

    _lists(tmp_path)
    await _check(tmp_path, ["3055550123", "3055550123", "3055550124", "3055550124"],
                 snapshot_after=1, crash=True)
    log = tmp_path / "compliance.jsonl"
    blocked = {k: v for k, v in _records(log)[0].items() if k != "counted"}
    blocked["logged_at"] = (datetime.now(UTC) - timedelta(hours=3)).strftime(
        "%Y-%m-%dT%H:%M:%S.000Z")
    with log.open("ab") as handle:
        handle.write((orjson.dumps(blocked) + b"\n") * module._PAST_HORIZON)
    _lose_commits(tmp_path)
    store = _store(tmp_path, boot="after the power loss")
    try:
        assert store.written_back == 3
        assert _count(store, "3055550124") == 2
    finally:
        await store.aclose()


@pytest.mark.parametrize(("log", "read", "found"), [
    # (newest last) a lost commit's record, then BLOCKs stamped after a clock stepped back
    (["lost"] + ["early"] * 50, 51 + 100, 1),
    # a log idle for hours, its counts kept by the file: no further than the usual bound
    (["early kept"] * 500, 10, 0),
    # idle for hours, no record carries a count: read further, but not the whole log
    (["early"] * 500, 100, 0),
    # recent records down to the horizon, then the usual bound past it
    (["early"] * 500 + ["recent"] * 20, 30, 0),
])
def test_the_write_back_walk_ends_past_the_lost_commits_only(tmp_path, monkeypatch, log,
                                                              read, found):
    """How far ``_lost`` reads a log (bounds made small): past the lost commits' records
    even when every record after them is stamped early, and never the whole log."""
    from callguard.compliance import reader
    from callguard.stores.embedded import frequency as module

    monkeypatch.setattr(module, "_PAST_HORIZON", 10)
    monkeypatch.setattr(module, "_PAST_HORIZON_FIRST", 100)
    now = datetime.now(UTC)
    last = int(now.timestamp() * 1000)

    def line(kind: str) -> bytes:
        at = now - timedelta(hours=3) if kind.startswith("early") else now
        record = {"event": "decision", "schema": 1, "key_id": "k", "number_hash": "h",
                  "logged_at": at.strftime("%Y-%m-%dT%H:%M:%S.000Z")}
        if kind not in {"early", "recent"}:
            mark = last + 1 if kind == "lost" else last - 5
            record["counted"] = {"mark": mark, "stamp_ms": last, "subjects": [SELLER]}
        return orjson.dumps(record) + b"\n"

    path = tmp_path / "compliance.jsonl"
    path.write_bytes(b"".join(map(line, log)))
    seen = 0

    def counting(*args, **kwargs):
        nonlocal seen
        for record in reader.newest_first(*args, **kwargs):
            seen += 1
            yield record

    monkeypatch.setattr(module, "newest_first", counting)
    rows = module._lost(path, "k", last, last)
    assert (min(seen, len(log)), len(rows)) == (min(read, len(log)), found)


async def test_a_fourth_call_after_the_power_loss_is_still_blocked(tmp_path,
                                                                  monkeypatch):
    """Three ALLOWs whose commits were lost: the fourth call is blocked after the restart."""
    _lists(tmp_path)
    decisions = await _check(tmp_path, ["3055550100", *["3055550123"] * 3],
                             snapshot_after=1, crash=True)
    assert all(d.allowed for d in decisions)
    _lose_commits(tmp_path)
    monkeypatch.setattr("callguard.stores.embedded.frequency.boot_id", lambda: "rebooted")
    [fourth] = await _check(tmp_path, ["3055550123"])
    assert not fourth.allowed
    assert "501.616" in fourth.verdict.deciding.rule_id
    # The same lost commits with no write-back (same boot): the fourth call would pass.
    monkeypatch.undo()
    _lose_commits(tmp_path)
    [unproved] = await _check(tmp_path, ["3055550123"])
    assert unproved.allowed


_WORKER = textwrap.dedent("""
    import asyncio, dataclasses, os, sys
    from datetime import UTC, datetime, timedelta
    from pathlib import Path
    from callguard.config import load_settings
    from callguard.gate import CheckRequest
    from callguard.runtime import open_runtime

    data, log, first = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    noon = datetime(2026, 7, 22, 16, 0, tzinfo=UTC)

    async def main():
        settings = load_settings(data_dir=data)
        settings = dataclasses.replace(settings, log=dataclasses.replace(settings.log,
                                                                         file=log))
        runtime = open_runtime(settings)
        await runtime.start_deciding()
        for i in range(3):
            decision = await runtime.gate.check(CheckRequest(
                f"305555{first + i:04d}", "ut-solar-manual",
                at=noon + timedelta(minutes=i), front="fastagi"))
            assert decision.allowed, decision.verdict.reason
        os._exit(0)  # dies with the OS: nothing closed, its log stays registered

    asyncio.run(main())
""")


async def test_two_processes_with_two_logs_are_written_back_from_both(tmp_path):
    """Two processes share the counts file, each with its own log: after the power loss
    an opener with no log of its own (FULL) writes back the rows of both."""
    _lists(tmp_path)
    first = EmbeddedFrequency(tmp_path / "frequency.sqlite3", _hasher(tmp_path).hash,
                              retention_s=86_400)
    first._db.close()  # the file exists, empty
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    workers = [subprocess.Popen([sys.executable, "-c", _WORKER, str(tmp_path),
                                 str(tmp_path / f"log-{n}.jsonl"), str(100 * n)], env=env)
               for n in (1, 2)]
    assert [w.wait(timeout=120) for w in workers] == [0, 0]
    marks = [r["counted"]["mark"] for n in (1, 2)
             for r in _records(tmp_path / f"log-{n}.jsonl")]
    assert len(marks) == 6
    assert len(set(marks)) == 6  # one commit order across processes
    # What the power loss leaves: each process's registration (a FULL commit) and none of
    # the counts (NORMAL commits after it), the mark back where it was.
    db = sqlite3.connect(tmp_path / "frequency.sqlite3")
    with db:
        assert db.execute("SELECT count(*) FROM frequency_logs").fetchone()[0] == 2
        assert db.execute("SELECT count(*) FROM frequency").fetchone()[0] == 6
        db.execute("DELETE FROM frequency")
        db.execute("UPDATE frequency_mark SET mark = ?", (min(marks) - 1,))
    db.close()
    store = _store(tmp_path, boot="after the power loss")
    try:
        assert not store.proved_by_log
        assert _synchronous(store) == 2
        assert store.written_back == 6
        assert [_count(store, f"305555{n:04d}") for n in (100, 101, 102, 200, 201, 202)] == [
            1] * 6
    finally:
        await store.aclose()


async def test_a_log_that_cannot_be_read_fails_the_opening(tmp_path):
    """A registered log gone (or not a file) when a write-back is due: StoreError, not a
    store that may be short of counts."""
    _lists(tmp_path)
    await _check(tmp_path, ["3055550123"], crash=True)
    log = tmp_path / "compliance.jsonl"
    log.unlink()
    with pytest.raises(StoreError, match="could not be proved complete"):
        _store(tmp_path, boot="after the power loss")
    log.mkdir()  # in the file's place: cannot be read as one
    with pytest.raises(StoreError, match="could not be proved complete"):
        _store(tmp_path, boot="after the power loss")
    log.rmdir()
    log.write_bytes(b"")  # readable again (empty): the opening goes on
    store = _store(tmp_path, boot="after the power loss")
    await store.aclose()


async def test_a_clean_close_makes_the_counts_durable_and_takes_the_log_off(tmp_path):
    """A process that closes syncs its counts (one FULL commit) and unregisters its log: a
    log renamed or removed after it is never asked for."""
    _lists(tmp_path)
    await _check(tmp_path, ["3055550123"])
    (tmp_path / "compliance.jsonl").unlink()
    store = _store(tmp_path, boot="after the power loss")
    try:
        assert store.written_back == 0
        assert _count(store, "3055550123") == 1
    finally:
        await store.aclose()


async def test_a_record_hashed_with_another_key_fails_the_opening(tmp_path):
    """The rows could not be keyed as the store keys them: fail closed."""
    _lists(tmp_path)
    await _check(tmp_path, ["3055550100", "3055550123"], snapshot_after=1, crash=True)
    _lose_commits(tmp_path)
    log = tmp_path / "compliance.jsonl"
    lines = log.read_bytes().replace(b'"key_id":"', b'"key_id":"0').splitlines(keepends=True)
    log.write_bytes(b"".join(lines))
    with pytest.raises(StoreError, match="hashed with key"):
        _store(tmp_path, boot="after the power loss")


async def test_a_record_whose_rows_cannot_be_read_fails_the_opening(tmp_path):
    """A lost commit's record that does not say its rows (a mangled ``counted``): the count
    cannot be proved, so the opening fails rather than serve without it."""
    _lists(tmp_path)
    await _check(tmp_path, ["3055550100", "3055550123"], snapshot_after=1, crash=True)
    _lose_commits(tmp_path)
    log = tmp_path / "compliance.jsonl"
    log.write_bytes(log.read_bytes().replace(b'"subjects":[', b'"subjects":7,"x":['))
    with pytest.raises(StoreError, match="cannot be read back"):
        _store(tmp_path, boot="after the power loss")


async def test_a_count_after_the_answer_no_record_carries_commits_full(tmp_path):
    """A call no cap covers is counted after its answer (``CountsAfter``): its record was
    written before, so no record carries those rows and no write-back can bring them
    back after an OS crash. Their transaction must be on disk when it commits (FULL),
    not left in the WAL's page cache until a checkpoint (hours on a quiet node)."""
    from callguard.gate import CheckRequest
    from callguard.runtime import open_runtime

    _lists(tmp_path)
    runtime = open_runtime(_settings(tmp_path))
    await runtime.start_deciding()
    statements: list[str] = []
    try:
        assert _synchronous(runtime.frequency) == 1  # NORMAL: the log proves the capped ones
        runtime.frequency._db.set_trace_callback(statements.append)
        decision = await runtime.gate.check(CheckRequest(
            "8015550123", "ut-solar-manual", at=NOON, front="fastagi"))
        assert decision.allowed, decision.verdict.reason
        assert decision.counted is None  # no cap of its plan: nothing in its record
        await runtime.gate.counts_after.settle()
        assert runtime.gate.counts_after.posted == 1
        assert runtime.gate.counts_after.failed == 0
        runtime.frequency._db.set_trace_callback(None)
        commit = max(i for i, s in enumerate(statements) if s == "COMMIT")
        modes = [s for s in statements[:commit] if s.startswith("PRAGMA synchronous")]
        assert modes, statements
        assert modes[-1] == "PRAGMA synchronous=FULL", statements
        assert _synchronous(runtime.frequency) == 1  # NORMAL again for the capped ones
    finally:
        await runtime.aclose()


async def test_without_a_boot_id_no_log_proves_counts(tmp_path):
    """No boot id (no /proc): each opening writes back and takes every registration off,
    a live process's too, so that process's NORMAL commits would be proved by no
    registered log after an OS crash. Such a store commits FULL and registers nothing."""
    _lists(tmp_path)
    first_log, second_log = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    first_log.write_text("")
    second_log.write_text("")
    protector = _hasher(tmp_path)
    first = EmbeddedFrequency(tmp_path / "frequency.sqlite3", protector.hash,
                              retention_s=86_400, boot=lambda: None,
                              counts_log=CountsLog(first_log, protector.key_id))
    second = EmbeddedFrequency(tmp_path / "frequency.sqlite3", protector.hash,
                               retention_s=86_400, boot=lambda: None,
                               counts_log=CountsLog(second_log, protector.key_id))
    try:
        registered = {r[0] for r in first._db.execute("SELECT path FROM frequency_logs")}
        if first.proved_by_log:  # then its log must still be on the file's list
            assert str(first_log.resolve()) in registered
        assert not first.proved_by_log
        assert _synchronous(first) == 2  # FULL
        assert not second.proved_by_log
        assert registered == set()
    finally:
        await second.aclose()
        await first.aclose()


async def test_a_commit_by_a_clock_set_back_an_hour_commits_full(tmp_path):
    """The write-back reads each log back to an hour before the file's last commit's
    clock. Set the clock back two hours (an NTP step, a VM's clock fixed) and the records
    of the commits made since are stamped before that: lost with the OS, they would not
    be read back. Such a commit (the mark ahead of the clock by half an hour or more)
    commits FULL; a clock a minute behind the mark stays NORMAL."""
    log = tmp_path / "compliance.jsonl"
    log.write_text("")
    protector = _hasher(tmp_path)
    now = [NOON + timedelta(hours=2)]
    store = EmbeddedFrequency(tmp_path / "frequency.sqlite3", protector.hash,
                              retention_s=86_400, boot=lambda: "b", clock=lambda: now[0],
                              counts_log=CountsLog(log, protector.key_id))
    statements: list[str] = []

    def modes_of_last_commit() -> list[str]:
        commit = max(i for i, s in enumerate(statements) if s == "COMMIT")
        return [s for s in statements[:commit] if s.startswith("PRAGMA synchronous")]

    try:
        store._db.set_trace_callback(statements.append)
        assert store.reserve_sync("+13055550123", (DAY,), NOON).granted
        assert modes_of_last_commit() == []  # NORMAL
        now[0] = NOON + timedelta(hours=2) - timedelta(minutes=1)
        assert store.reserve_sync("+13055550124", (DAY,), NOON).granted
        assert modes_of_last_commit() == []  # a minute behind: NORMAL still
        now[0] = NOON  # set back two hours
        assert store.reserve_sync("+13055550125", (DAY,), NOON).granted
        assert modes_of_last_commit()[-1:] == ["PRAGMA synchronous=FULL"]
        assert _synchronous(store) == 1  # NORMAL again after it
    finally:
        store._db.set_trace_callback(None)
        await store.aclose()
