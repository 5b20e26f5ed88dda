"""A FastAGI-only ``serve`` says its clock is unsynchronised, through the real CLI (hrev165).

hcli33's ClockNotice was tested with an injected check only: nothing showed that ``serve``
asks it on a node without an HTTP front (the bundled configuration: FastAGI alone), which
was the point. The kernel is asked for real (adjtimex, read-only): where it reports the
clock unsynchronised (a CI container) the node must log ``clock_unsynchronised`` exactly
once over many ticks; where it is synchronised, never. ``require_clock_sync = false``: never.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from callguard.fronts.http.readiness import adjtimex_synchronised
from tests.conftest import ROOT
from tests.redis_server import free_port
from tests.test_serve_notices import serve_lines


def _serve_lines(tmp_path: Path, require_sync: bool) -> list[str]:
    fastagi = free_port()
    text = (ROOT / "callguard" / "data" / "callguard.toml").read_text()
    text = text.replace('packs_dir = "jurisdictions"', 'packs_dir = ""').replace(
        "port = 4573", f"port = {fastagi}")
    assert f"port = {fastagi}" in text
    assert "enabled = false\nhost" in text  # no HTTP front
    if not require_sync:
        text = text.replace("require_clock_sync = true", "require_clock_sync = false")
        assert "require_clock_sync = false" in text
    config = tmp_path / "fastagi-only.toml"
    config.write_text(text)
    data = tmp_path / "data"
    data.mkdir()
    lines = serve_lines(config, data, 0.2, 2)  # ticks: one warning an episode, not a tick
    assert any('"serving"' in x for x in lines), "".join(lines)
    return lines


@pytest.mark.parametrize("require_sync", [True, False], ids=["required", "not-required"])
def test_a_fastagi_only_node_logs_an_unsynchronised_clock(tmp_path: Path,
                                                          require_sync: bool) -> None:
    lines = _serve_lines(tmp_path, require_sync)
    said = [x for x in lines if '"clock_unsynchronised"' in x]
    expected = 1 if require_sync and not adjtimex_synchronised()[0] else 0
    assert len(said) == expected, "".join(lines)
    assert not any('"clock_synchronised"' in x for x in lines), "".join(lines)
