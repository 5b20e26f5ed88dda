"""A call centre's own do-not-call list: the campaign key ``telemarketer`` (hdnc22).

hfed21 found that a do-not-call request was recorded and honoured per seller only: a call
centre calling for sellers A and B, told on A's call not to call again, still called the
person for B. 47 CFR 64.1200(d)(3) binds "a person or entity making a call for
telemarketing purposes (or on whose behalf such a call is made)"; Utah 13-25a-107.2(1) the
telephone solicitor the person informed. A campaign may now name the entity that makes
its calls; an opt-out is recorded under the seller and it, in one atomic batch, and a
request on either list blocks. Real stores: SQLite and a real redis-server on a free port.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from callguard.cli.main import cli as root
from callguard.config import load_settings
from callguard.errors import ConfigError
from callguard.gate import CheckRequest
from callguard.policy import CompanyDncRecord
from callguard.resources import packs_dir
from callguard.runtime import Runtime, open_runtime
from callguard.stores.embedded.lists import write_version
from callguard.stores.list_files import ParsedList
from callguard.stores.redis.records import RecordsSettings
from callguard.stores.writes import AddCompanyDnc
from tests.serve_node import AT as SERVE_AT
from tests.serve_node import ServeNode, write_lists

SELLER_A, SELLER_B, CENTRE = "beehive-solar", "granite-insurance", "Acme Call Centre"
NUMBER = "+18015550123"
AT = datetime(2026, 11, 25, 18, 0, tzinfo=UTC)  # a Wednesday 11:00 in Denver
DNC_RULES = ("us-federal:64.1200(d)(3)", "us-ut:13-25a-107.2")

_CAMPAIGN = """
[[campaigns]]
id = "{id}"
solicitor = "{solicitor}"
caller_id = "+18015550100"
default_mode = "manual"
origin_state = "UT"
{extra}
"""


def _config(tmp_path: Path, centre: str | None = CENTRE) -> Path:
    """A for A and B through the call centre (``centre``), and B calling itself."""
    extra = "" if centre is None else f"telemarketer = {centre!r}".replace("'", '"')
    text = (f'[callguard]\npacks_dir = "{packs_dir()}"\n'
            'enabled_packs = ["us-federal", "us-fl", "us-md", "us-ok", "us-ut"]\n'
            '[lists]\nnot_loaded = ["fl-state", "ok-state"]\n'
            + _CAMPAIGN.format(id="a-via-centre", solicitor=SELLER_A, extra=extra)
            + _CAMPAIGN.format(id="b-via-centre", solicitor=SELLER_B, extra=extra)
            + _CAMPAIGN.format(id="b-direct", solicitor=SELLER_B, extra=""))
    path = tmp_path / "callguard.toml"
    path.write_text(text)
    return path


def _data(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    listed = ParsedList()
    listed.by_area[801] = [5550199]
    for name in ("national", "ut-state"):
        write_version(data, name, listed, published=AT.date(), area_codes=None, source="t")
    return data


def _node(tmp_path: Path, backend: str, url: str | None, centre: str | None = CENTRE
          ) -> Runtime:
    settings = load_settings(_config(tmp_path, centre), data_dir=_data(tmp_path))
    if backend == "redis":
        assert url is not None
        settings = replace(settings, records=RecordsSettings(backend="redis"), redis_url=url)
    runtime = open_runtime(settings)
    runtime.gate._clock = lambda: AT  # the suite passes at any hour
    return runtime


async def _check(node: Runtime, campaign: str):
    return await node.gate.check(CheckRequest(NUMBER, campaign, at=AT, front="test"))


@pytest.fixture(params=["embedded", "redis"])
def backend(request) -> str:
    return str(request.param)


@pytest.fixture
def url(backend, tmp_path) -> object:
    """A real redis-server on a free port for the Redis backend; None for the embedded."""
    if backend == "embedded":
        yield None
        return
    from tests.redis_server import RedisServer

    server = RedisServer(tmp_path / "redis")
    server.data_dir.mkdir()
    server.start()
    yield server.url
    server.stop()


class TestOptOutBindsTheCallCentre:
    """An opt-out on A's call blocks the same call centre's calls for B."""

    async def test_opt_out_on_a_blocks_the_centre_for_b(self, tmp_path, backend, url):
        node = _node(tmp_path, backend, url)
        await node.start()
        try:
            for campaign in ("a-via-centre", "b-via-centre", "b-direct"):
                before = await _check(node, campaign)
                assert before.allowed, before.verdict.reason
            batches: list[tuple[object, ...]] = []
            apply = node.records.apply

            async def spied(writes):  # the real store applies; the batch is kept to look at
                batches.append(tuple(writes))
                return await apply(writes)

            node.records.apply = spied  # type: ignore[method-assign]
            await node.gate.opt_out("801-555-0123", "a-via-centre", source="agent")
            # one atomic batch, both lists, one instant
            assert batches == [(AddCompanyDnc(SELLER_A, NUMBER, AT, "agent"),
                                AddCompanyDnc(CENTRE, NUMBER, AT, "agent"))]
            for who in (SELLER_A, CENTRE):
                assert await node.records.company_dnc(who, NUMBER) == CompanyDncRecord(
                    AT, "agent")
            assert await node.records.company_dnc(SELLER_B, NUMBER) is None

            a = await _check(node, "a-via-centre")
            assert not a.allowed
            assert a.verdict.deciding.rule_id == "us-federal:64.1200(d)(3)"
            assert f"asked {SELLER_A} not to call (2026-11-25)" in a.verdict.reason

            b = await _check(node, "b-via-centre")  # the call centre's call for B
            assert not b.allowed, b.verdict.reason
            assert b.verdict.deciding.rule_id == "us-federal:64.1200(d)(3)"
            assert f"asked {CENTRE} not to call (2026-11-25)" in b.verdict.reason
            blocked = {o.rule_id: o.reason for o in b.verdict.outcomes
                       if o.status.value == "block"}
            assert set(DNC_RULES) <= set(blocked)
            assert all(CENTRE in blocked[r] for r in DNC_RULES)

            # B's own calls, not made by the call centre, are not bound by its list
            direct = await _check(node, "b-direct")
            assert direct.allowed, direct.verdict.reason
        finally:
            await node.aclose()

    async def test_a_request_on_the_centres_list_alone_blocks(self, tmp_path, backend, url):
        """Recorded with `internal-dnc add --solicitor "Acme Call Centre"` (or an import):
        both sellers' calls through it are blocked, neither seller's own."""
        node = _node(tmp_path, backend, url)
        await node.start()
        try:
            await node.gate.write([AddCompanyDnc(CENTRE, NUMBER, AT, "letter")])
            for campaign in ("a-via-centre", "b-via-centre"):
                decision = await _check(node, campaign)
                assert not decision.allowed
                assert f"asked {CENTRE} not to call" in decision.verdict.reason
            assert (await _check(node, "b-direct")).allowed
        finally:
            await node.aclose()


async def test_pass_reason_names_both_lists_and_replay_names_the_holder(tmp_path):
    """Not on either list: the PASS says both were read. A replay of an instant before the
    request passes, naming whose list holds it; the earlier of two requests decides."""
    node = _node(tmp_path, "embedded", None)
    await node.start()
    try:
        passed = await _check(node, "b-via-centre")
        reasons = {o.rule_id: o.reason for o in passed.verdict.outcomes}
        assert reasons["us-federal:64.1200(d)(3)"] == (
            f"not on {SELLER_B}'s or {CENTRE}'s do-not-call list")
        later = datetime(2026, 11, 26, 18, tzinfo=UTC)
        await node.gate.write([AddCompanyDnc(CENTRE, NUMBER, later, "letter")])
        replay = await _check(node, "b-via-centre")  # the gate's clock is AT, before it
        reasons = {o.rule_id: o.reason for o in replay.verdict.outcomes}
        assert reasons["us-federal:64.1200(d)(3)"] == (
            f"the called party's request to {CENTRE} (2026-11-26) was made after this "
            "call's instant")
        earlier = datetime(2026, 11, 20, 18, tzinfo=UTC)
        await node.gate.write([AddCompanyDnc(SELLER_B, NUMBER, earlier, "phone")])
        blocked = await _check(node, "b-via-centre")
        assert f"asked {SELLER_B} not to call (2026-11-20)" in blocked.verdict.reason
    finally:
        await node.aclose()


class TestWithoutTheKey:
    """No telemarketer: one record, per seller, with today's reasons."""

    async def test_unchanged(self, tmp_path):
        node = _node(tmp_path, "embedded", None, centre=None)
        assert all(c.telemarketer is None for c in node.settings.campaigns.values())
        await node.start()
        try:
            passed = await _check(node, "b-via-centre")
            reasons = {o.rule_id: o.reason for o in passed.verdict.outcomes}
            assert reasons["us-federal:64.1200(d)(3)"] == (
                f"not on {SELLER_B}'s do-not-call list")
            batches: list[tuple[object, ...]] = []
            apply = node.records.apply

            async def spied(writes):
                batches.append(tuple(writes))
                return await apply(writes)

            node.records.apply = spied  # type: ignore[method-assign]
            await node.gate.opt_out("801-555-0123", "a-via-centre", source="agent")
            assert batches == [(AddCompanyDnc(SELLER_A, NUMBER, AT, "agent"),)]
            assert await node.records.company_dnc(CENTRE, NUMBER) is None
            assert (await _check(node, "b-via-centre")).allowed  # per seller, as before
        finally:
            await node.aclose()


@pytest.mark.parametrize(("value", "said"), [
    ('""', "is empty"), ('"   "', "is empty"), ('" Acme"', "starts or ends with a space"),
    ('"Acme\\u0007"', "control or invisible"), ('"Acme\\u200bCentre"', "invisible"),
    ('"Acme\\u00a0Centre"', "invisible"), (f'"{SELLER_A}"', "is the solicitor itself"),
    ("5", "telemarketer"),
])
def test_a_bad_key_is_refused_at_load(tmp_path, value, said):
    path = _config(tmp_path, None)
    path.write_text(path.read_text().replace(
        'id = "a-via-centre"', f'id = "a-via-centre"\ntelemarketer = {value}'))
    with pytest.raises(ConfigError) as refused:
        load_settings(path, data_dir=_data(tmp_path))
    assert "campaign 'a-via-centre'" in str(refused.value)
    assert "telemarketer" in str(refused.value)
    assert said in str(refused.value)


def test_internal_dnc_cli_takes_the_centre(tmp_path):
    """`internal-dnc add --solicitor "Acme Call Centre"` and `internal-dnc show` work for a
    telemarketer; consent to it is refused with why (consent is the seller's)."""
    config, data = _config(tmp_path), _data(tmp_path)
    base = ["--config", str(config), "--data-dir", str(data)]
    runner = CliRunner()
    added = runner.invoke(root, [*base, "internal-dnc", "add", "8015550123",
                                 "--solicitor", CENTRE, "--source", "letter"])
    assert added.exit_code == 0, added.output
    assert f"is on {CENTRE}'s do-not-call list" in added.output
    shown = runner.invoke(root, [*base, "internal-dnc", "show", "8015550123",
                                 "--solicitor", CENTRE, "--json"])
    assert shown.exit_code == 0, shown.output
    assert '"company_dnc": {' in shown.output
    assert "letter" in shown.output
    refused = runner.invoke(root, [*base, "consent", "add", "8015550123", "--solicitor",
                                   CENTRE, "--kind", "written"])
    assert refused.exit_code == 2
    assert "telemarketer" in refused.output
    csv = tmp_path / "dnc.csv"
    csv.write_text(f"number,solicitor\n8015550124,{CENTRE}\n")
    imported = runner.invoke(root, [*base, "internal-dnc", "import", str(csv)])
    assert imported.exit_code == 0, imported.output


def test_http_opt_out_binds_the_centre_for_the_other_seller(tmp_path):
    """Through a real `callguard serve` and its HTTP front: /v1/opt-out on seller A's
    campaign, then /v1/check of seller B's campaign through the same call centre."""
    node = ServeNode(tmp_path)
    text = node.config.read_text()
    for seller in (SELLER_A, SELLER_B):  # the first campaign of each seller
        line = next(x for x in text.splitlines() if x.startswith(f'solicitor = "{seller}"'))
        text = text.replace(line, f'{line}\ntelemarketer = "{CENTRE}"', 1)
    node.config.write_text(text)
    write_lists(node.data, [])
    node.start()
    try:
        def dnc_outcome() -> dict:
            status, body = node.json("/v1/check", {"number": "8015550123",
                                                   "campaign": "insurance-reminders",
                                                   "at": SERVE_AT})
            assert status == 200, body
            return next(o for o in body["outcomes"]
                        if o["rule"] == "us-federal:64.1200(d)(3)")

        assert dnc_outcome()["status"] == "pass"
        status, body = node.json("/v1/opt-out", {"number": "801-555-0123",
                                                 "campaign": "ut-solar-manual"})
        assert status == 200, body
        outcome = dnc_outcome()
        assert outcome["status"] == "block"
        assert f"asked {CENTRE} not to call" in outcome["reason"]
    finally:
        node.stop()
