"""`callguard tail` on a host with ``[log] redis_stream = true`` and no log of its own (an
officer's host: every node's records not archived yet are in the stream) was told
"nothing has been recorded in this data dir yet" (hnew33): read by a compliance officer
as "no calls were recorded", while the records are in the stream. It now says where
they are (give --stream). Still a usage error (exit 2), nothing written, Redis not
contacted. Real CLI processes on a real `init` directory (review hrev166)."""

from __future__ import annotations

from pathlib import Path

from tests.test_hnew33_fresh_site_logs import USAGE, cli


def test_tail_on_a_stream_host_without_a_log_points_at_the_stream(tmp_path: Path) -> None:
    assert cli("init", "etc", cwd=tmp_path).returncode == 0
    config = tmp_path / "etc" / "callguard.toml"
    text = config.read_text()
    assert "\nredis_stream = false\n" in text
    config.write_text(text.replace("\nredis_stream = false\n", "\nredis_stream = true\n"))
    data = tmp_path / "etc" / "data"
    before = sorted(p.name for p in data.iterdir())
    result = cli("--config", "etc/callguard.toml", "tail", cwd=tmp_path)
    assert result.returncode == USAGE, result.stderr
    said = " ".join(result.stderr.split())
    assert "nothing has been recorded" not in said, said
    assert "[log] redis_stream" in said, said
    assert "give --stream" in said, said
    assert sorted(p.name for p in data.iterdir()) == before
