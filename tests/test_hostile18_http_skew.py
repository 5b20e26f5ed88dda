"""``[http] max_at_skew`` (hhttp18): a /v1/check ``at`` far from the node's clock.

``at`` is the client's word. A hostile or broken dialer sending a past weekday 11:00 at
23:00 had the calling-hours rules judge an instant the call is not placed at, and ALLOWed
it. With ``max_at_skew`` set, such a request is a recorded BLOCK ``callguard:at-skew``
(off by default: acceptance runs and replays send fixed instants). The scrub is the
CLI's (``front = "scrub"``, no call placed) and reads nothing of ``[http]``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest

from callguard.config import load_settings
from callguard.errors import ConfigError
from tests.conftest import ROOT
from tests.serve_node import AT, AT_DATE, ServeNode, write_lists

NIGHT = f"{AT_DATE.isoformat()}T23:00:00-07:00"  # the node's clock: 23:00 in Denver
CHECK = {"number": "8015550123", "campaign": "ut-solar-manual"}


def _node(tmp: pytest.TempPathFactory, name: str, skew: str | None) -> ServeNode:
    extra = {} if skew is None else {"max_at_skew = 0": f"max_at_skew = {skew}"}
    # bench/serve_at.py runs with bench/ as sys.path[0]: without PYTHONPATH it imported
    # the installed callguard, not this tree's
    serve = ServeNode(tmp.mktemp(name) / "node", clock_at=NIGHT, extra_http=extra,
                      env_extra={"PYTHONPATH": str(ROOT)})
    write_lists(serve.data, [8015550199])
    return serve.start()


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeNode]:
    serve = _node(tmp_path_factory, "skew120", "120")
    yield serve
    serve.stop()


def _records(node: ServeNode) -> list[dict[str, object]]:
    path = node.data / "compliance.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_an_at_twelve_hours_back_is_a_recorded_block(guarded: ServeNode) -> None:
    """11:00 sent at 23:00: inside calling hours by the client's word, not by the clock."""
    status, body = guarded.json("/v1/check", {**CHECK, "at": AT})
    assert status == 200, body
    assert body["verdict"] == "BLOCK", body
    assert body["rule"] == "callguard:at-skew", body
    assert "max_at_skew 120" in body["reason"], body
    assert "behind" in body["reason"], body
    recorded = [r for r in _records(guarded) if r.get("decision_id") == body["decision_id"]]
    assert [r["verdict"] for r in recorded] == ["BLOCK"], recorded
    assert guarded.metric("callguard_http_events_total", '{event="at_skew"}') >= 1
    assert "8015550123" not in guarded.stderr()


def test_an_at_far_ahead_is_a_block_too(guarded: ServeNode) -> None:
    ahead = (datetime.fromisoformat(NIGHT) + timedelta(days=1, hours=-12)).isoformat()
    status, body = guarded.json("/v1/check", {**CHECK, "at": ahead})
    assert (status, body["rule"]) == (200, "callguard:at-skew"), body
    assert "ahead of" in body["reason"], body


def test_an_at_within_the_skew_is_decided_on_its_merits(guarded: ServeNode) -> None:
    """The node's own clock reads 23:00 (give or take the seconds since start): an 'at'
    near it is judged, and calling hours BLOCK it — by the rule, not by the skew."""
    near = (datetime.fromisoformat(NIGHT) + timedelta(seconds=30)).isoformat()
    status, body = guarded.json("/v1/check", {**CHECK, "at": near})
    assert status == 200, body
    assert body["verdict"] == "BLOCK", body
    assert body["rule"] != "callguard:at-skew", body
    status, body = guarded.json("/v1/check", CHECK)  # no 'at': the node's clock
    assert body["rule"] != "callguard:at-skew", body


def test_off_by_default_the_client_instant_is_decided(
        tmp_path_factory: pytest.TempPathFactory) -> None:
    """The shipped default (0) keeps fixed-instant acceptance runs working: the same
    request is ALLOWed — what a dialer that lies gets where the check is off."""
    node = _node(tmp_path_factory, "skew0", None)
    try:
        status, body = node.json("/v1/check", {**CHECK, "at": AT})
        assert (status, body["verdict"]) == (200, "ALLOW"), body
    finally:
        node.stop()


def _config(tmp_path, line: str):  # type: ignore[no-untyped-def]
    text = (ROOT / "callguard" / "data" / "callguard.toml").read_text()
    text = text.replace("max_at_skew = 0\n", line + "\n")
    path = tmp_path / "c.toml"
    path.write_text(text.replace('packs_dir = "jurisdictions"',
                                 f'packs_dir = "{ROOT / "callguard" / "data" / "jurisdictions"}"'))
    return path


def test_the_shipped_key_loads_off_and_takes_seconds(tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert load_settings(_config(tmp_path, "max_at_skew = 0")).http.max_at_skew == 0
    assert load_settings(_config(tmp_path, "max_at_skew = 90")).http.max_at_skew == 90.0
    assert load_settings(_config(tmp_path, "max_at_skew = 1.5")).http.max_at_skew == 1.5


@pytest.mark.parametrize(("line", "message"), [
    ("max_at_skw = 120", "unknown key(s) max_at_skw"),
    ("max_at_skew = -1", "max_at_skew -1.0 must be a number of seconds"),
    ("max_at_skew = nan", "max_at_skew nan must be"),
    ("max_at_skew = inf", "max_at_skew inf must be"),
    ("max_at_skew = '120'", "max_at_skew must be"),
    ("max_at_skew = true", "max_at_skew must be"),
])
def test_a_wrong_key_or_value_does_not_load(tmp_path, line: str,  # type: ignore[no-untyped-def]
                                            message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(_config(tmp_path, line))
    assert message in str(caught.value), caught.value
