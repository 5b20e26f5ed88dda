"""`purge --yes` with an unusable log key (session 23): it destroyed the records, then
failed to write its purge record ("usage error: CALLGUARD_LOG_KEY must be ...", exit 2),
so the officer read "nothing happened" and `report`/`evidence` later showed zeros before
the cutoff with no note that records were destroyed."""

from __future__ import annotations

from bench.synthetic_records import Factory
from tests.log_files import KEY_HEX, cli, config, write_log


def test_purge_with_a_bad_key_destroys_nothing(tmp_path):
    data = tmp_path / "data"
    lines = list(Factory(60, days=3, pool=20).lines())
    log = data / "compliance.jsonl"
    made = write_log(log, lines, closed=[(40, True)])
    path = config(tmp_path, data)
    before = {p.name: p.read_bytes() for p in data.iterdir() if p.is_file()}
    for key in ("", "abc"):
        said = cli("purge", "--older-than", "30", "--below-retention", "--yes",
                   config_path=path, key=key)
        assert said.returncode == 2, said.stderr
        assert "nothing was purged" in said.stderr
        assert {p.name: p.read_bytes() for p in data.iterdir() if p.is_file()} == before
    assert all(p.exists() for p in made)
    done = cli("purge", "--older-than", "30", "--below-retention", "--yes",
               config_path=path, key=KEY_HEX)
    assert done.returncode == 0, done.stderr
    assert not any(p.exists() for p in made)
    assert b'"event":"purge"' in log.read_bytes()
