"""The operator's side, session 24 (lead): SIGHUP is a reload, not a silent death; the
FastAGI drain bound; an HTTP token with whitespace; a scope list imported whole.

SIGHUP to `callguard serve` is a reload, not a silent death.

Its default action ended the node with no drain and no log line, and systemd's
Restart=on-failure counts a SIGHUP death as clean, so the node stayed down and every call
was BLOCKed "not reached" (hagi21: a `kill -HUP` meant as a reload, or the terminal of a
node started by hand closing). Now it runs the reload tick at once and keeps serving."""

from __future__ import annotations

import signal
from datetime import date

from tests.serve_node import ServeNode


def test_sighup_reloads_and_the_node_keeps_serving(tmp_path) -> None:
    # A long tick: only the signal can bring a reload within the test's wait.
    node = ServeNode(tmp_path, reload_seconds=3600).start()
    try:
        assert node.process is not None
        node.process.send_signal(signal.SIGHUP)
        node.until(lambda: node.events("reload_requested"), what="the SIGHUP reload")
        assert node.alive(), node.stderr()[-2000:]
        assert node.http("/healthz", token=None)[0] == 200
        node.process.send_signal(signal.SIGHUP)  # a second one too
        node.until(lambda: len(node.events("reload_requested")) == 2, what="second reload")
        assert node.alive()
    finally:
        code = node.stop()
    assert code == 0  # SIGTERM after the reloads still drains and exits cleanly
    assert node.events("stopped")
    assert "Traceback" not in node.stderr()


def test_systemd_unit_maps_reload_to_sighup() -> None:
    from tests.conftest import ROOT

    unit = (ROOT / "systemd" / "callguard.service").read_text()
    assert "ExecReload=/bin/kill -HUP $MAINPID" in unit


def test_the_fastagi_drain_waits_for_a_withdrawing_session() -> None:
    """A session whose answer cannot stand sends a second MSet and reads its confirmation
    (FastAgiServer._late_tail): four replies after the budget, not two."""
    from callguard.cli.serve import DRAIN_CAP_SECONDS, fastagi_session_bound
    from callguard.config import FastAgiSettings

    settings = FastAgiSettings()
    longest = (settings.header_timeout_ms + settings.budget_ms
               + 4 * settings.reply_timeout_ms) / 1000
    assert fastagi_session_bound(settings) > longest
    assert fastagi_session_bound(settings) <= DRAIN_CAP_SECONDS  # the defaults fit the cap


def test_a_token_with_surrounding_whitespace_is_refused_at_load(tmp_path, monkeypatch) -> None:
    """HTTP drops a header value's surrounding whitespace, so a token copied with a
    trailing space (an env file, a compose `environment:` line) could never be sent:
    every client got 401 and nothing said why (hnet21). Refused, naming where it came
    from; the token itself is never printed."""
    import pytest

    from callguard.config import load_settings
    from callguard.errors import ConfigError

    settings = load_settings(data_dir=tmp_path)
    secret = "s3cret-token-of-24-chars"
    monkeypatch.setenv("CALLGUARD_HTTP_TOKEN", secret + " ")
    with pytest.raises(ConfigError, match="whitespace") as raised:
        settings.http_token()
    assert "CALLGUARD_HTTP_TOKEN" in str(raised.value)
    assert secret not in str(raised.value)
    monkeypatch.setenv("CALLGUARD_HTTP_TOKEN", secret)
    assert settings.http_token() == secret.encode()


def test_a_state_list_a_scope_reads_is_reimported_whole(tmp_path) -> None:
    """A copy of ok-state imported with Oklahoma's area codes only, before us-ok
    2026.12.17 made the registry a scope list, stayed partial on every later import
    without --covers (the current copy's coverage was kept), and the gate counts such a
    copy as unread (hrev83): every call BLOCKed until an admin guessed `--covers all`."""
    import json

    from callguard.stores.embedded.lists import write_version
    from callguard.stores.list_files import parse_list_file
    from tests.test_cli import cli

    listing = tmp_path / "ok.txt"
    listing.write_text("4055550101\n2145550199\n")
    write_version(tmp_path, "ok-state", parse_list_file(listing),
                  published=date(2026, 6, 1), area_codes=frozenset({405, 539, 572, 580, 918}),
                  source="older callguard")
    result = cli("dnc", "import", str(listing), "--list", "ok-state", "--published",
                 "2026-07-01", data_dir=tmp_path)
    assert result.returncode == 0, result.stderr
    status = cli("dnc", "status", "--json", data_dir=tmp_path)
    rows = json.loads(status.stdout)
    rows = rows.get("lists", rows) if isinstance(rows, dict) else rows
    [row] = [r for r in rows if r.get("list") == "ok-state"]
    assert row["covers"] == "all", row
