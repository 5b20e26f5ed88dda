"""An officer's host reads what it is configured to read (session 28, hoff25): with
``[log] redis_stream`` and no compliance log nor archive of its own, `report` read
nothing ("no compliance log", exit 2) while `evidence` and `explain` read the stream;
`report --file X` left the unarchived stream out (evidence reads it). A stream trimmed
by MAXLEN past the archive's position answered `explain` "not found", as a decision
never made. Real redis-server, two real nodes' records (`callguard check`), a real
`archive --stream` holding part of them."""

from __future__ import annotations

import contextlib
import socket
import threading

import orjson
import redis

from tests.log_files import cli, config
from tests.test_hfix24_report_stream import _nodes

KEY = "callguard:compliance"


def _officer(tmp_path, redis_server):
    """A host with the stream configured and nothing of its own (no log, no archive)."""
    data = tmp_path / "officer"
    data.mkdir()
    path = config(tmp_path, data, node="officer")
    text = path.read_text().replace('url = "redis://127.0.0.1:6379/0"',
                                    f'url = "{redis_server.url}"')
    path.write_text(text.replace("redis_stream = false", "redis_stream = true"))
    return path


def test_report_on_a_host_with_only_the_stream(tmp_path, redis_server):
    _, made = _nodes(tmp_path, redis_server)
    made.pop("asked")
    officer = _officer(tmp_path, redis_server)
    assert not (tmp_path / "officer" / "archive").exists()
    done = cli("report", "--json", config_path=officer)
    assert done.returncode == 0, done.stderr  # was 2, "no compliance log"
    report = orjson.loads(done.stdout)
    # the whole stream (no archive here: its position is the start): every node's 4
    assert report["decisions"] == 4, report
    assert f"redis stream {KEY} after 0-0" in report["sources"]["unarchived"]
    # with the archiver's archive: the same 4, once each
    archived = cli("report", "--json", "--archive", str(tmp_path / "node-a" / "archive"),
                   config_path=officer)
    assert archived.returncode == 0, archived.stderr
    assert orjson.loads(archived.stdout)["decisions"] == 4
    # evidence agrees on the same host
    ids = cli("evidence", "--decision", list(made)[2], "--json", config_path=officer)
    assert ids.returncode == 0, ids.stderr


def test_report_file_reads_the_unarchived_stream_as_evidence_does(tmp_path, redis_server):
    paths, made = _nodes(tmp_path, redis_server)
    made.pop("asked")
    log = tmp_path / "node-a" / "compliance.jsonl"
    assert log.exists()
    done = cli("report", "--file", str(log), "--json", config_path=paths["node-a"])
    assert done.returncode == 0, done.stderr
    report = orjson.loads(done.stdout)
    # node-b's unarchived decision is in the stream only: it was left out (3), unsaid
    assert report["decisions"] == 4, report
    assert f"redis stream {KEY} after " in report["sources"]["unarchived"]
    later_b = next(i for i, n in list(made.items())[2:] if n == "node-b")
    found = cli("evidence", "--decision", later_b, "--file", str(log), "--json",
                config_path=paths["node-a"])
    assert found.returncode == 0, found.stderr


def test_explain_of_a_decision_trimmed_before_it_was_archived(tmp_path, redis_server):
    paths, made = _nodes(tmp_path, redis_server)
    made.pop("asked")
    ids = list(made)
    client = redis.Redis.from_url(redis_server.url)
    # Redis 7.0 (Debian's, here) leaves max-deleted-entry-id at 0-0 on a trim: only the
    # first entry tells it (``trimmed_past``)
    assert client.xtrim(KEY, maxlen=1, approximate=False) > 0  # the last record stays
    info = client.xinfo_stream(KEY)
    assert info["max-deleted-entry-id"] == b"0-0", info
    assert ids[2].encode() not in info["first-entry"][1][b"r"]
    # node-b's third decision: archived nowhere, in no file of node-a, gone from the stream
    done = cli("explain", ids[2], config_path=paths["node-a"])
    assert done.returncode == 5  # may have been trimmed (1 before hoff26: "not found")
    said = " ".join(done.stderr.split())
    assert "not found" in said
    assert "may have been trimmed before it was archived" in said, said
    assert "trimmed past the archive's position" in said, said
    # the report is printed, and incomplete for it (exit 1, in its sources)
    report = cli("report", "--json", config_path=paths["node-a"])
    assert report.returncode == 1, report.stderr
    notes = orjson.loads(report.stdout)["sources"]["not_read"]
    assert any("trimmed past the archive's position" in note for note in notes), notes
    assert orjson.loads(report.stdout)["decisions"] == 3  # archive 2 + node-a's file 2
    evidence = cli("evidence", "--decision", ids[2], "--json", config_path=paths["node-a"])
    assert evidence.returncode == 1
    assert "trimmed past the archive's position" in " ".join(evidence.stderr.split())
    # an officer with no archive of its own: told the trimmed entries are the archive's
    officer = cli("report", "--json", config_path=_officer(tmp_path, redis_server))
    assert officer.returncode == 1, officer.stderr
    notes = orjson.loads(officer.stdout)["sources"]["not_read"]
    assert any("give --archive DIR" in note for note in notes), notes


def test_a_stream_that_lost_nothing_says_no_trim(tmp_path, redis_server):
    paths, _ = _nodes(tmp_path, redis_server)
    never = cli("explain", "01a2415c-7c3e-7d2a-9b1e-5f0c3d2e1a40",
                config_path=paths["node-a"])
    assert never.returncode == 1
    assert "trimmed" not in never.stderr
    report = cli("report", "--json", config_path=paths["node-a"])
    assert report.returncode == 0, report.stderr


class _DyingRedis:
    """A loopback TCP relay to the real redis-server that kills it (SIGKILL) when the
    client sends its second XRANGE: Redis dies between two batches of a read (the read
    takes 10,000 entries a batch). Real sockets, a real Redis, a real crash."""

    def __init__(self, server) -> None:
        self.server = server
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.xranges = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.server.port))
            except OSError:
                client.close()  # Redis is dead: refused, as it would be
                continue
            threading.Thread(target=self._pipe, args=(client, upstream, True),
                             daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, False),
                             daemon=True).start()

    def _pipe(self, source, target, asking: bool) -> None:
        try:
            while data := source.recv(65536):
                if asking:
                    self.xranges += data.upper().count(b"XRANGE")
                    if self.xranges >= 2:
                        self.server.kill()
                target.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, target):
                with contextlib.suppress(OSError):
                    sock.close()

    def close(self) -> None:
        self.listener.close()


def test_redis_dying_mid_read_is_said_naming_redis(tmp_path, redis_server):
    paths, made = _nodes(tmp_path, redis_server)
    made.pop("asked")
    client = redis.Redis.from_url(redis_server.url)
    # 10,001 more entries after the archive's position (copies of a record: counted once)
    line = client.xrange(KEY, "-", "+", count=1)[0][1][b"r"]
    pipe = client.pipeline(transaction=False)
    for _ in range(10_001):
        pipe.xadd(KEY, {"r": line})
    pipe.execute()
    client.close()
    ids = list(made)
    for args in (("explain", ids[2]), ("evidence", "--decision", ids[2], "--json"),
                 ("report", "--json"), ("report", "--stream", "--json")):
        if redis_server.process is None:
            redis_server.start()
        relay = _DyingRedis(redis_server)
        try:
            config_path = tmp_path / f"dying-{args[0]}-{len(args)}.toml"
            config_path.write_text(paths["node-a"].read_text().replace(
                redis_server.url, f"redis://127.0.0.1:{relay.port}/0"))
            done = cli(*args, config_path=config_path)  # no traceback (``cli``)
        finally:
            relay.close()
        assert relay.xranges >= 2, args  # it died mid-read, not before
        said = " ".join(done.stderr.split())
        assert done.returncode != 0, (args, said)
        assert "Redis" in said or "redis" in said, (args, said)
        assert "internal error" not in said.lower(), (args, said)


def test_trimmed_past_reads_the_first_entry():
    """The rule on XINFO STREAM's answer (as redis-py returns it from Redis 7.0)."""
    from callguard.cli.unarchived_stream import trimmed_past

    def info(first: bytes | None, added: int | None = 8, length: int = 1) -> dict:
        said = {"length": length, "last-generated-id": b"300-0",
                "max-deleted-entry-id": b"0-0",
                "first-entry": (first, {b"r": b"{}"}) if first else None}
        if added is not None:
            said["entries-added"] = added
        return said

    assert trimmed_past(info(b"200-0"), KEY, "200-0") is None  # the archive's last: kept
    assert trimmed_past(info(b"150-3"), KEY, "200-0") is None
    note = trimmed_past(info(b"200-1"), KEY, "200-0")  # the archive's last is gone
    assert note is not None
    assert "last archived entry 200-0 is gone and its first entry now is 200-1" in note
    assert trimmed_past(info(b"1000-0"), KEY, "999-9") is not None  # ms apart, same rule
    # nothing archived: the entries added against the length; none known before 7.0
    assert "7 entr(y/ies) were trimmed" in (trimmed_past(info(b"200-0"), KEY, "0-0") or "")
    assert trimmed_past(info(b"200-0", added=1), KEY, "0-0") is None
    assert trimmed_past(info(b"200-0", added=None), KEY, "0-0") is None
    assert trimmed_past(info(None, added=0, length=0), KEY, "0-0") is None
