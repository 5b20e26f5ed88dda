"""`callguard tail` and the readers under it: from the end of real files, across plain and
compressed segments, following rotation, and answers that say what they could not read.
"""

from __future__ import annotations

import io
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from bench.synthetic_records import e164, key_id, number_hash
from callguard.compliance.compress import compress_closed
from callguard.compliance.reader import ReadStats, RecordFilter, newest_first, read_files
from callguard.compliance.seekable import SeekableError, compress_lines, read_seek_table
from callguard.compliance.segments import (
    Segment,
    closed_segments,
    lines_backward,
    lines_forward,
    stamp_name,
)
from tests.conftest import ROOT
from tests.log_files import (
    KEY_HEX,
    LEGACY,
    LEGACY_KEY_HEX,
    cli,
    config,
    json_lines,
    synthetic,
    write_log,
)


class CountingReader(io.BytesIO):
    """A file that counts the bytes read from it."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.bytes_read = 0

    def read(self, size: int | None = -1) -> bytes:
        data = super().read(size)
        self.bytes_read += len(data)
        return data


class TestBlockReaders:
    """Lines from either end, in bounded blocks, whatever the line lengths."""

    @pytest.mark.parametrize("block", [1, 7, 64, 4096])
    def test_backwards_is_forwards_reversed(self, block):
        """Lines longer than a block, empty lines and an unterminated last line."""
        rng = random.Random(block)
        lines = [b"x" * rng.randint(0, 300) for _ in range(200)]
        data = b"\n".join(lines) + b"\nlast-unterminated"
        expected = [line for line in [*lines, b"last-unterminated"] if line]
        handle = io.BytesIO(data)
        assert list(lines_forward(handle, block=block)) == expected
        assert list(lines_backward(handle, len(data), block=block)) == expected[::-1]

    def test_backwards_reads_only_the_end(self):
        """Taking 5 lines of a 10 MB file reads one block, not the file."""
        data = b"".join(b'{"i":%d,"pad":"%s"}\n' % (i, b"x" * 90) for i in range(100_000))
        handle = CountingReader(data)
        walk = lines_backward(handle, len(data), block=65536)
        newest = [orjson.loads(next(walk))["i"] for _ in range(5)]
        assert newest == [99_999, 99_998, 99_997, 99_996, 99_995]
        assert handle.bytes_read == 65536
        assert len(data) > 150 * handle.bytes_read

    def test_forwards_stops_at_the_given_end(self):
        data = b"a\nbb\nccc\ndddd\n"
        assert list(lines_forward(io.BytesIO(data), block=3, end=9)) == [b"a", b"bb", b"ccc"]


class TestSeekableSegments:
    """Closed segments as seekable zstd: the zstd tool reads them, we read them by frame."""

    def test_round_trip_and_the_zstd_tool_agrees(self, tmp_path):
        lines = synthetic(3000, days=2)
        target = tmp_path / "seg.zst"
        with target.open("wb") as handle:
            frames = compress_lines(lines, handle, frame_bytes=100_000)
        assert frames > 5
        assert list(Segment(target, None).lines()) == [line.rstrip(b"\n") for line in lines]
        newest = list(Segment(target, None).lines_newest_first())
        assert newest == [line.rstrip(b"\n") for line in reversed(lines)]
        tool = shutil.which("zstd")
        if tool is not None:  # the format is the zstd tool's own
            zstd = subprocess.run([tool, "-dc", str(target)], capture_output=True, check=True)
            assert zstd.stdout == b"".join(lines)
        assert target.stat().st_size * 5 < sum(map(len, lines))

    def test_a_cut_short_file_is_refused(self, tmp_path):
        target = tmp_path / "seg.zst"
        with target.open("wb") as handle:
            compress_lines(synthetic(200, days=1), handle)
        target.write_bytes(target.read_bytes()[:-3])
        with target.open("rb") as handle, pytest.raises(SeekableError):
            read_seek_table(handle)

    def test_compression_keeps_every_line_and_removes_the_plain_file(self, tmp_path):
        log = tmp_path / "compliance.jsonl"
        lines = synthetic(2000, days=2)
        write_log(log, lines, closed=[(900, False), (700, False)])
        before = list(read_files(log))
        made = compress_closed(log)
        assert [p.name.endswith(".zst") for p in made] == [True, True]
        assert all(s.compressed for s in closed_segments(log))
        assert list(read_files(log)) == before
        assert not list(tmp_path.glob("*.part"))

    def test_listing_keeps_one_copy_per_stamp_and_ignores_temporary_files(self, tmp_path):
        log = tmp_path / "compliance.jsonl"
        stamp = stamp_name(log, datetime(2026, 1, 5, 12, tzinfo=UTC))
        stamp.write_text("{}\n")
        stamp.with_name(stamp.name + ".zst").write_text("")  # mid-compression: both exist
        stamp.with_name(stamp.name + ".zst.part").write_text("")
        stamp.with_name(stamp.name + ".purging").write_text("")
        (tmp_path / "compliance.jsonl.lock").write_text("")
        (tmp_path / "compliance.jsonl.maint").write_text("")
        (tmp_path / "compliance.jsonl.notastamp").write_text("")
        assert [s.path for s in closed_segments(log)] == [stamp]


@pytest.fixture
def mixed_log(tmp_path):
    """Three weeks of records: two plain and two compressed closed segments, a current file."""
    data = tmp_path / "data"
    lines = synthetic(6000, days=21)
    log = data / "compliance.jsonl"
    segments = write_log(log, lines, closed=[(2000, True), (1500, True), (1500, False),
                                             (1000, False)])
    return config(tmp_path, data), log, [orjson.loads(line) for line in lines], segments


class TestTailFile:
    """The real command on real files."""

    def test_newest_records_across_segments_in_order(self, mixed_log):
        path, _, records, _ = mixed_log
        result = cli("tail", "-n", "25", "--json", config_path=path)
        assert result.returncode == 0, result.stderr
        assert json_lines(result.stdout) == records[-25:]
        everything = cli("tail", "-n", "all", "--json", config_path=path)
        assert json_lines(everything.stdout) == records

    def test_zero_prints_nothing_as_tail_does(self, mixed_log):
        """``-n 0`` is no record (it printed the whole log); ``all`` is every one."""
        path, _, records, _ = mixed_log
        result = cli("tail", "-n", "0", "--json", config_path=path)
        assert result.returncode == 0, result.stderr
        assert result.stdout == ""
        assert "no record matched" not in result.stderr  # none was asked for
        # -n 0 meant every record before: a script still using it is told, on stderr
        assert "-n all" in result.stderr
        assert "-n all" not in cli("tail", "-n", "5", config_path=path).stderr
        assert len(json_lines(cli("tail", "-n", "ALL", "--json", config_path=path).stdout)) \
            == len(records)
        refused = cli("tail", "-n", "some", config_path=path)
        assert refused.returncode == 2
        assert "or all" in refused.stderr

    def test_a_count_larger_than_the_current_file_reaches_into_compressed_segments(
            self, mixed_log):
        path, log, records, _ = mixed_log
        current = len(log.read_bytes().splitlines())
        result = cli("tail", "-n", str(current + 2600), "--json", config_path=path)
        assert json_lines(result.stdout) == records[-(current + 2600):]

    @pytest.mark.parametrize(("option", "field"), [
        ("--front", "front"), ("--node", "node"), ("--event", "event"),
        ("--campaign", "campaign"), ("--rule", "rule")])
    def test_filters(self, mixed_log, option, field):
        path, _, records, _ = mixed_log
        value = {"front": "sip", "node": "node-a", "event": "line-release",
                 "campaign": "ut-roofing-manual", "rule": "us-federal:64.1200(d)(3)"}[field]
        result = cli("tail", option, value, "-n", "all", "--json", config_path=path)
        assert result.returncode == 0, result.stderr
        expected = [r for r in records if r.get(field) == value]
        assert expected
        assert json_lines(result.stdout) == expected

    def test_verdict_in_any_case(self, mixed_log):
        """``--verdict block`` as ``BLOCK`` (it was refused: 'block' is not one of ...)."""
        path, _, records, _ = mixed_log
        result = cli("tail", "--verdict", "block", "-n", "all", "--json", config_path=path)
        assert result.returncode == 0, result.stderr
        expected = [r for r in records if r.get("verdict") == "BLOCK"]
        assert expected
        assert json_lines(result.stdout) == expected

    def test_decision_shows_the_decision_and_its_later_records(self, mixed_log):
        path, _, records, _ = mixed_log
        followed = next(r for r in records if r["event"] == "line-release")
        result = cli("tail", "--decision", followed["decision_id"], "--json",
                     config_path=path)
        shown = json_lines(result.stdout)
        assert [r["event"] for r in shown][:2] == ["decision", "line-release"]
        assert {r["decision_id"] for r in shown} == {followed["decision_id"]}
        typed = cli("tail", "--decision", followed["decision_id"].upper(), "--json",
                    config_path=path)
        assert json_lines(typed.stdout) == shown  # the same id in capitals: the same records

    def test_a_later_record_reads_field_by_field(self, mixed_log):
        """A line-release (any record that is not a decision or a record change) shows
        ``field=value`` pairs, not the record's raw JSON."""
        path, _, records, _ = mixed_log
        followed = next(r for r in records if r["event"] == "line-release")
        result = cli("tail", "--decision", followed["decision_id"], config_path=path)
        assert result.returncode == 0, result.stderr
        (line,) = [x for x in result.stdout.splitlines() if "LINE-RELEASE" in x]
        assert f"decision_id={followed['decision_id']}" in line, line
        assert '{"' not in line, line

    def test_since_skips_segments_closed_before_it_unopened(self, mixed_log):
        """The oldest segments are made unreadable: a --since after them never opens them."""
        path, _, records, segments = mixed_log
        for old in segments[:2]:
            old.write_bytes(b"not zstd at all")
        since = datetime.fromisoformat(records[4000]["logged_at"])
        result = cli("tail", "-n", "all", "--json", "--since", since.isoformat(),
                     config_path=path)
        assert result.returncode == 0, result.stderr
        assert json_lines(result.stdout) == [
            r for r in records if datetime.fromisoformat(r["logged_at"]) >= since]
        until = cli("tail", "-n", "3", "--json", "--until", records[100]["logged_at"],
                    config_path=path)
        assert until.returncode == 3  # the oldest segment had to be read, and is garbage
        assert segments[1].name in until.stderr  # named: the newer broken one is met first

    def test_only_the_end_is_read(self, mixed_log):
        """Garbage at the start of the current file and a broken segment are never touched
        by a short tail; a full read meets both and says so."""
        path, log, records, segments = mixed_log
        log.write_bytes(b"garbage, torn\n" * 50_000 + log.read_bytes())
        segments[0].write_bytes(b"broken")
        short = cli("tail", "-n", "20", "--json", config_path=path)
        assert short.returncode == 0
        assert json_lines(short.stdout) == records[-20:]
        assert "not JSON" not in short.stderr
        (log.parent / segments[0].name).unlink()
        full = cli("tail", "-n", "all", "--json", config_path=path)
        assert "50000 line(s) were not JSON records" in full.stderr

    def test_legacy_records_are_read(self, tmp_path):
        data = tmp_path / "data"
        data.mkdir()
        (data / "compliance.jsonl").write_bytes(LEGACY.read_bytes())
        path = config(tmp_path, data)
        result = cli("tail", "--json", "--event", "decision", config_path=path)
        legacy = [orjson.loads(line) for line in LEGACY.read_bytes().splitlines()]
        assert json_lines(result.stdout) == [r for r in legacy if r["event"] == "decision"]
        human = cli("tail", config_path=path)
        assert "BLOCK" in human.stdout
        assert "LINE-RELEASE" in human.stdout


    def test_a_decision_found_nowhere_says_so(self, mixed_log):
        """`tail --decision ID` that matches nothing printed nothing and exited 0; it
        says where it looked and where else to look (evidence reads the archive), exit 1
        as `evidence --decision` and `explain`."""
        path, _, _, _ = mixed_log
        missing = "01a2415c-0000-7000-8000-000000000000"
        result = cli("tail", "--decision", missing, config_path=path)
        assert result.returncode == 1, result.stdout + result.stderr
        assert result.stdout == ""
        assert f"no record of decision {missing}" in result.stderr
        assert "callguard evidence --decision" in result.stderr


class TestHonestAnswers:
    """An answer says what it could not include; wrong input is an error, not silence."""

    def test_number_hashed_with_another_key_says_so(self, mixed_log):
        path, _, _, _ = mixed_log
        result = cli("tail", "--number", "+18015550123", config_path=path, key="cd" * 32)
        assert result.returncode == 1
        assert "other keys" in result.stderr
        assert key_id(bytes.fromhex(KEY_HEX)) in result.stderr  # names the records' key
        right = cli("tail", "--number", "+18015550123", config_path=path)
        assert right.returncode == 0, right.stderr
        assert "other keys" not in right.stderr

    def test_number_found_with_the_nodes_key(self, mixed_log):
        path, _, records, _ = mixed_log
        target = next(r for r in reversed(records) if "number_hash" in r)
        index = next(i for i in range(6000) if number_hash(e164(i)) == target["number_hash"])
        result = cli("tail", "--number", e164(index), "-n", "all", "--json", config_path=path)
        assert result.returncode == 0, result.stderr
        assert json_lines(result.stdout) == [
            r for r in records if r.get("number_hash") == target["number_hash"]]

    def test_legacy_records_without_key_id_are_flagged(self, tmp_path):
        data = tmp_path / "data"
        data.mkdir()
        (data / "compliance.jsonl").write_bytes(LEGACY.read_bytes())
        result = cli("tail", "--number", "8015550123", "--json", config_path=config(
            tmp_path, data), key=LEGACY_KEY_HEX)
        assert result.returncode == 0, result.stderr
        hashed = number_hash("+18015550123", bytes.fromhex(LEGACY_KEY_HEX))
        legacy = [orjson.loads(line) for line in LEGACY.read_bytes().splitlines()]
        expected = [r for r in legacy if r.get("number_hash") == hashed]
        assert [r["event"] for r in expected] == ["decision", "record", "decision"]
        assert json_lines(result.stdout) == expected
        assert "carry no key_id" in result.stderr

    def test_no_key_is_a_usage_error_and_none_is_created(self, mixed_log):
        path, log, _, _ = mixed_log
        result = cli("tail", "--number", "+18015550123", config_path=path, key=None)
        assert result.returncode == 2
        assert "--data-dir" in result.stderr
        assert "CALLGUARD_LOG_KEY" in result.stderr
        assert not (log.parent / "log.key").exists()

    def test_unknown_file_is_a_usage_error(self, mixed_log, tmp_path):
        path, _, _, _ = mixed_log
        result = cli("tail", "--file", str(tmp_path / "nope.jsonl"), config_path=path)
        assert result.returncode == 2
        assert "nope.jsonl" in result.stderr
        empty_dir = cli("tail", config_path=config(tmp_path, tmp_path / "elsewhere",
                                                   node="other"))
        assert empty_dir.returncode == 2
        assert "--data-dir" in empty_dir.stderr

    @pytest.mark.parametrize(("command", "option", "value"), [
        ("tail", "--front", "bogus"), ("tail", "--event", "bogus"),
        ("tail", "--decision", "not-an-id"), ("report", "--front", "bogus")])
    def test_a_filter_that_can_match_nothing_is_a_usage_error(self, mixed_log, command,
                                                             option, value):
        """An unknown front or record kind, or a decision id that is no UUID, would print
        an empty answer that reads as 'nothing happened'."""
        path, _, _, _ = mixed_log
        result = cli(command, option, value, config_path=path)
        assert result.returncode == 2, result.stdout
        assert option in result.stderr

    def test_unknown_campaign_is_a_usage_error_but_a_retired_one_is_not(self, mixed_log):
        path, _, _, _ = mixed_log
        result = cli("tail", "--campaign", "nope", config_path=path)
        assert result.returncode == 2
        assert "ut-solar-manual" in result.stderr  # the fix: the configured campaigns
        retired = cli("tail", "--campaign", "ut-roofing-manual", "-n", "2", "--json",
                      config_path=path)  # not configured, but in the records
        assert retired.returncode == 0, retired.stderr
        assert len(json_lines(retired.stdout)) == 2
        configured = cli("tail", "--campaign", "ut-solar-manual", "--since", "2099-01-01",
                         config_path=path)
        assert configured.returncode == 0  # configured, nothing in range: an honest empty

    def test_a_schema_from_the_future_is_refused_aloud(self, mixed_log):
        path, log, _, _ = mixed_log
        with log.open("ab") as handle:
            handle.write(b'{"schema":7,"event":"decision","logged_at":"2026-02-01T00:00:00Z"}\n')
        result = cli("tail", "-n", "3", config_path=path)
        assert result.returncode == 1
        assert "schema 7: 1" in result.stderr


def _real_writer(path: Path, max_bytes: int) -> tuple[Callable[[bytes], None],
                                                       Callable[[], None]]:
    """The node's own file writer, rotating by size: (append one line, close)."""
    from callguard.compliance import sinks

    if hasattr(sinks, "LogFile"):  # the record writer's file (whole batches, rotation)
        log_file = sinks.LogFile(path, max_bytes=max_bytes)
        return (lambda line: log_file.commit(line + b"\n", sync=False)), log_file.close
    sink = sinks.RotatingFileSink(path, max_bytes=max_bytes)
    return sink.write, sink.close


def _follow(path: Path, *args: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "CALLGUARD_LOG_KEY": KEY_HEX}
    env.pop("CALLGUARD_DATA_DIR", None)
    return subprocess.Popen([sys.executable, "-m", "callguard", "--config", str(path), "tail",
                             "-f", "--json", *args], env=env, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _collect(process: subprocess.Popen[bytes], want: int, timeout: float = 30) -> list[dict]:
    """Read JSON lines from a following tail until ``want`` arrived (or the time is up)."""
    out: list[dict] = []
    assert process.stdout is not None

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            out.append(orjson.loads(line))
            if len(out) >= want:
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout)
    return out


class TestFollow:
    """`tail -f` against the real writer, rotating underneath it."""

    def test_follows_across_rotations_exactly_once(self, tmp_path):
        """Backlog, then records written by two writer objects that rotate every ~20 KB,
        several times within one poll: each record shown once, in order."""
        data = tmp_path / "data"
        log = data / "compliance.jsonl"
        lines = synthetic(600, days=1)
        write_log(log, lines[:50], closed=[(20, True)])
        path = config(tmp_path, data)
        process = _follow(path, "-n", "5")
        try:
            backlog = _collect(process, 5)
            assert backlog == [orjson.loads(line) for line in lines[45:50]]
            writers = [_real_writer(log, 20_000) for _ in range(2)]
            for index, line in enumerate(lines[50:]):
                writers[index % 2][0](line.rstrip(b"\n"))
                if index % 100 == 0:
                    time.sleep(0.3)  # and sometimes several rotations between two polls
            for _, close in writers:
                close()
            assert len(closed_segments(log)) > 10
            followed = _collect(process, len(lines) - 50)
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=10)
        assert followed == [orjson.loads(line) for line in lines[50:]]
        assert process.returncode == 0

    def test_zero_follows_only_new_records(self, tmp_path):
        """``-f -n 0``: no backlog, then each record as it is written."""
        data = tmp_path / "data"
        log = data / "compliance.jsonl"
        lines = synthetic(30, days=1)
        write_log(log, lines[:20], closed=[])
        process = _follow(config(tmp_path, data), "-n", "0")
        try:
            time.sleep(1.5)  # the follower has read the backlog (if it were to show one)
            with log.open("ab") as handle:
                handle.write(b"".join(lines[20:]))
            followed = _collect(process, len(lines) - 20)
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=10)
        assert followed == [orjson.loads(line) for line in lines[20:]]

    def test_rotation_by_another_process_while_following(self, tmp_path):
        """The current file is renamed away (and compressed) by someone else mid-follow."""
        data = tmp_path / "data"
        log = data / "compliance.jsonl"
        lines = synthetic(200, days=1)
        write_log(log, lines[:10], closed=[])
        process = _follow(config(tmp_path, data), "-n", "1")
        try:
            assert len(_collect(process, 1)) == 1
            with log.open("ab") as handle:
                handle.write(b"".join(lines[10:100]))
            time.sleep(0.05)
            os.replace(log, stamp_name(log, datetime.now(UTC)))
            compress_closed(log)
            log.write_bytes(b"".join(lines[100:]))
            followed = _collect(process, len(lines) - 10)
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=10)
        assert followed == [orjson.loads(line) for line in lines[10:]]


class TestReaderApi:
    """The reader functions other code uses."""

    def test_newest_first_stops_early_with_since(self, tmp_path):
        log = tmp_path / "compliance.jsonl"
        lines = synthetic(3000, days=10)
        write_log(log, lines, closed=[(1000, False), (1000, True)])
        records = [orjson.loads(line) for line in lines]
        since = datetime.fromisoformat(records[-400]["logged_at"]) + timedelta(seconds=1)
        stats = ReadStats()
        found = list(newest_first(log, RecordFilter(since=since), stats))
        assert found == [r for r in reversed(records)
                         if datetime.fromisoformat(r["logged_at"]) >= since]
        # the segments and most of the current file were not read: past the first record
        # older than --since (less the clock margin), reading stops
        assert len(found) < stats.read < len(found) + 20
