"""`tail`'s hint at the archive (hoff20) read the archive's manifest: one this callguard
cannot read (a newer archiver's format, a damaged file) turned "no record matched" of a
complete log read (exit 0) into exit 2 / an internal error (exit 3) and no answer. A hint
never changes the answer: it says the archive could not be read."""

from __future__ import annotations

import pytest

from tests.log_files import cli, config, synthetic, write_log


@pytest.mark.parametrize("manifest", ['{"version": 99}', "{not json"])
def test_an_unreadable_archive_does_not_change_tails_answer(tmp_path, manifest):
    data = tmp_path / "data"
    write_log(data / "compliance.jsonl", synthetic(6, days=1, pool=4), closed=[])
    (data / "archive").mkdir()
    (data / "archive" / "manifest.json").write_text(manifest)
    tailed = cli("tail", "--number", "2125550100", config_path=config(tmp_path, data))
    said = " ".join(tailed.stderr.split())
    assert tailed.returncode == 0, said
    assert "no record matched" in said
    assert "could not be read" in said
