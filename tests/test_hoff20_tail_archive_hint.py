"""`tail --number N` of a number whose calls were archived (their segments deleted) said
"no record matched in the log and its closed segments" and nothing else: after a
complaint, read as a number never called. It names the archive and what reads it."""

from __future__ import annotations

import orjson

from bench.synthetic_records import e164
from tests.log_files import cli, config, synthetic, write_log


def test_tail_of_an_archived_number_names_the_archive(tmp_path):
    data = tmp_path / "data"
    lines = synthetic(30, days=3, pool=6)
    write_log(data / "compliance.jsonl", lines, closed=[(len(lines) - 1, True)])
    path = config(tmp_path, data)
    done = cli("archive", "--keep-segments-days", "0", config_path=path)
    assert done.returncode == 0, done.stderr
    current = orjson.loads(lines[-1]).get("number_last4")
    number = next(e164(i) for i in range(6) if not e164(i).endswith(str(current)))
    tailed = cli("tail", "--number", number, config_path=path)
    assert tailed.returncode == 0, tailed.stderr
    said = " ".join(tailed.stderr.split())
    assert "no record matched" in said
    assert "does not read the archive at" in said
    assert "callguard evidence NUMBER" in said
