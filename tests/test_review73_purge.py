"""Review 73: `purge --yes` opens what its record is written through before destroying.

The purge record goes through the node's runtime (its compliance log and stores). With a
damaged records.sqlite3 that runtime did not open: the segments were deleted (93 records
gone), then "error: record store ... file is not a database", exit 3, and no purge record
told `report` and `evidence` that their zeros before the cutoff were destroyed records.
"""

from __future__ import annotations

from bench.synthetic_records import Factory
from tests.log_files import KEY_HEX, cli, config, write_log


def test_purge_with_a_damaged_record_store_destroys_nothing(tmp_path):
    data = tmp_path / "data"
    lines = list(Factory(60, days=3, pool=20).lines())
    made = write_log(data / "compliance.jsonl", lines, closed=[(40, True)])
    path = config(tmp_path, data)
    store = data / "records.sqlite3"
    store.write_bytes(b"this is not a database" * 100)
    before = {p.name: p.read_bytes() for p in data.iterdir() if p.is_file()}
    said = cli("purge", "--older-than", "30", "--below-retention", "--yes",
               config_path=path, key=KEY_HEX)
    assert said.returncode == 3, said.stderr
    assert "nothing was purged" in said.stderr
    assert all(p.exists() for p in made)
    assert {name: (data / name).read_bytes() for name in before} == before  # a .lock is new
    store.unlink()  # repaired (here: a new, empty store): the purge runs and is recorded
    done = cli("purge", "--older-than", "30", "--below-retention", "--yes",
               config_path=path, key=KEY_HEX)
    assert done.returncode == 0, done.stderr
    assert not any(p.exists() for p in made)
    assert b'"event":"purge"' in (data / "compliance.jsonl").read_bytes()


def test_purge_with_a_damaged_archive_manifest_destroys_nothing(tmp_path):
    """The archive's days were counted after the log was purged: a damaged manifest.json
    was "internal error: JSONDecodeError" (exit 3) with the log's due records already
    rewritten away and no purge record written."""
    data = tmp_path / "data"
    lines = list(Factory(60, days=3, pool=20).lines())
    write_log(data / "compliance.jsonl", lines, closed=[(40, True)])
    path = config(tmp_path, data)
    assert cli("archive", config_path=path).returncode == 0
    manifest = data / "archive" / "manifest.json"
    manifest.write_text(manifest.read_text()[:40])
    before = {p.name: p.read_bytes() for p in data.iterdir() if p.is_file()}
    assert b'"event":"decision"' in before["compliance.jsonl"]
    said = cli("purge", "--older-than", "30", "--below-retention", "--yes",
               config_path=path, key=KEY_HEX)
    assert said.returncode == 3, said.stderr
    assert "nothing was purged" in said.stderr
    assert "manifest" in said.stderr or "JSONDecodeError" in said.stderr
    assert {name: (data / name).read_bytes() for name in before} == before
