"""`callguard archive --compress-only`: each node's closed segments compressed, no archive
built (session 27, hfix24). With ONE archiver reading the stream (`archive --stream`),
only plain `archive` compressed a node's segments, and running it on each node built a
second, per-node archive; the nodes' segments stayed plain JSON (~10x the bytes)."""

from __future__ import annotations

import orjson

from callguard.compliance import sinks
from callguard.compliance.sinks import LogFile
from tests.log_files import cli, config


def _segments(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    path = data / "compliance.jsonl"
    log = LogFile(path, max_bytes=100)
    for i in range(3):  # each line fills the file: three rotations
        log.commit(b'{"i":%d,"pad":"%s"}\n' % (i, b"x" * 100), sync=False)
    log.close()
    assert len(sinks.rotated_files(path)) == 3
    return config(tmp_path, data), path


def test_compress_only_compresses_and_archives_nothing(tmp_path):
    conf, path = _segments(tmp_path)
    done = cli("archive", "--compress-only", "--file", str(path), "--json",
               config_path=conf)
    assert done.returncode == 0, done.stderr
    said = orjson.loads(done.stdout)
    assert said["compressed"] == 3
    files = sinks.rotated_files(path)
    assert len(files) == 3
    assert all(p.name.endswith(".zst") for p in files)
    assert not (path.parent / "archive").exists()  # no per-node archive built
    again = cli("archive", "--compress-only", "--file", str(path), config_path=conf)
    assert again.returncode == 0, again.stderr
    assert "compressed 0 closed segment(s)" in " ".join(again.stdout.split())


def test_compress_only_refuses_what_it_would_ignore(tmp_path):
    conf, path = _segments(tmp_path)
    for extra in (["--stream"], ["--watch", "60"], ["--compact-all"],
                  ["--archive", str(tmp_path / "elsewhere")]):
        args = ["archive", "--compress-only", *extra]
        if extra != ["--stream"]:
            args += ["--file", str(path)]
        done = cli(*args, config_path=conf)
        assert done.returncode == 2, (extra, done.stderr)
    assert not any(p.name.endswith(".zst") for p in sinks.rotated_files(path))
