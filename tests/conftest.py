"""Shared fixtures: the shipped packs, campaigns like the demo's, and a pure decide()."""

from __future__ import annotations

import ast
import functools
import os
import tomllib
from collections.abc import Iterator, Mapping
from datetime import date, datetime
from pathlib import Path

import pytest

from callguard.numbers import NumberParser, parse_location
from callguard.policy import (
    CallAttempt,
    Campaign,
    CompanyDncRecord,
    ConsentRecord,
    DialingMode,
    EbrRecord,
    FactKind,
    Facts,
    ListCheck,
    NeedFacts,
    Pack,
    Policy,
    PolicySettings,
    Registration,
    RegistrationExemption,
    Verdict,
    pack_from_mapping,
)

ROOT = Path(__file__).resolve().parent.parent
PACKS_DIR = ROOT / "callguard" / "data" / "jurisdictions"
SHARED = ROOT.parent / "shared"


def load_packs() -> dict[str, Pack]:
    """The packs exactly as shipped (not the statute cases beside them)."""
    return {
        p.stem: pack_from_mapping(tomllib.loads(p.read_text()), origin=str(p))
        for p in sorted(PACKS_DIR.glob("*.toml")) if not p.name.endswith(".tests.toml")
    }


PACKS = load_packs()
ALL_PACKS = ("us-federal", "us-ut", "us-ut-hb45-2000")
PARSER = NumberParser(dial_prefixes=("9",))

UT_CAMPAIGN = Campaign(
    id="ut-manual", solicitor="beehive-solar", caller_id="+18015550100",
    default_mode=DialingMode.MANUAL, origin_state="UT", packs=ALL_PACKS,
    registration=Registration("UT-TS-1", date(2027, 6, 30)),
)
NY_CAMPAIGN = Campaign(
    id="ny-insurance", solicitor="granite-insurance", caller_id="+12125550199",
    default_mode=DialingMode.PRERECORDED, origin_state="NY", packs=ALL_PACKS,
    exemption=RegistrationExemption("13-26a-104(1)(c)", "insurer"),
)
FRESH = date(2026, 7, 1)


def lists_for(number: str, *, listed: Mapping[str, bool] | None = None,
              published: date | Mapping[str, date] = FRESH,
              covered: bool = True) -> dict[str, ListCheck | None]:
    """Both lists loaded; ``listed`` says which hold the number, ``published`` when."""
    listed = listed or {}
    dates = published if isinstance(published, Mapping) else {}
    default = FRESH if isinstance(published, Mapping) else published
    return {name: ListCheck(name, 1, dates.get(name, default), listed.get(name, False), covered)
            for name in ("national", "ut-state")}


def decide(
    number: str = "8015550123",
    at: str = "2026-07-22T11:00:00-06:00",
    *,
    campaign: Campaign = UT_CAMPAIGN,
    mode: DialingMode | None = None,
    location: str | None = None,
    listed: Mapping[str, bool] | None = None,
    published: date | Mapping[str, date] = FRESH,
    covered: bool = True,
    consents: tuple[ConsentRecord, ...] = (),
    ebr: EbrRecord | None = None,
    company_dnc: CompanyDncRecord | None = None,
    settings: PolicySettings | None = None,
) -> Verdict:
    """Plan and decide with every fact available (records fetched)."""
    policy = Policy(PACKS, settings or PolicySettings())
    attempt = CallAttempt(
        PARSER.parse(number), campaign, mode or campaign.default_mode,
        datetime.fromisoformat(at), parse_location(location) if location else None,
    )
    plan = policy.plan(attempt)
    facts = Facts(
        lists=lists_for(number, listed=listed, published=published, covered=covered),
        consents=consents, ebr=ebr, company_dnc=company_dnc, fetched=frozenset(FactKind),
    )
    result = policy.decide(plan, facts)
    assert not isinstance(result, NeedFacts)
    return result


@pytest.fixture(autouse=True)
def _restore_umask() -> Iterator[None]:
    """The CLI sets the process umask to 077 (cli/main.py: the data dir is the service
    user's alone): a test that runs it in process (click's CliRunner) left the whole
    session at 077, and the README install test's `pip install` then made files the
    service user could not read (seen in CI: Permission denied on bin/callguard)."""
    old = os.umask(0o022)
    os.umask(old)
    yield
    os.umask(old)


@pytest.fixture
def redis_server(tmp_path):
    """A real redis-server on a free port, stopped after the test."""
    from tests.redis_server import RedisServer

    server = RedisServer(tmp_path / "redis")
    server.data_dir.mkdir()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def packs() -> dict[str, Pack]:
    """The shipped packs."""
    return PACKS


# --- the watchdog group: ``pytest -m watchdog`` ----------------------------------------------
# ``-k watchdog`` selects by name only, and most of the AMI watchdog's tests are named for the
# review or helper that wrote them (test_hwd2*, test_hrev8*/9*, test_review6*, ...). The
# group is every test of a module that imports the watchdog (``callguard.watchdog``) or its
# test helpers (``tests.test_watchdog``, the fake AMI) at its top, every test whose own body
# imports the watchdog (a compliance-log test driving a WatchdogNode), and every test named
# for it (what ``-k watchdog`` selected stays in).
_WATCHDOG_IMPORTS = ("callguard.watchdog", "tests.test_watchdog", "tests.fake_ami")


def _names_watchdog(module: str | None) -> bool:
    return bool(module) and any(module == name or module.startswith(name + ".")
                                for name in _WATCHDOG_IMPORTS)


def _test_module_path(module: str | None) -> Path | None:
    """The file of a ``tests.<name>`` module, when it is one of this directory's."""
    if not module or not module.startswith("tests.") or module.count(".") != 1:
        return None
    path = Path(__file__).resolve().parent / f"{module.removeprefix('tests.')}.py"
    return path if path.is_file() else None


@functools.cache
def _module_imports_watchdog(path: str, _seen: frozenset[str] = frozenset()) -> bool:
    """Whether the module's top-level imports name the watchdog or its test helpers, or a
    test module whose own do (a pure-tracker test borrowing another review's helpers,
    ``tests.test_review68_unproven_dial``: hrev100)."""
    tree = ast.parse(Path(path).read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.level == 0:
            if _names_watchdog(node.module) or any(
                    _names_watchdog(f"{node.module}.{alias.name}") for alias in node.names):
                return True
            borrowed = [_test_module_path(node.module)] + [
                _test_module_path(f"{node.module}.{alias.name}") for alias in node.names]
        elif isinstance(node, ast.Import):
            if any(_names_watchdog(a.name) for a in node.names):
                return True
            borrowed = [_test_module_path(a.name) for a in node.names]
        else:
            continue
        for other in borrowed:
            if (other is not None and str(other) != path and str(other) not in _seen
                    and _module_imports_watchdog(str(other), _seen | {path})):
                return True
    return False


def _imports_watchdog_itself(function: object) -> bool:
    """Whether the test's own code imports the watchdog (an import inside a test body)."""
    code = getattr(function, "__code__", None)
    return code is not None and any(_names_watchdog(name) for name in code.co_names)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        path = getattr(item, "path", None)
        if ("watchdog" in item.nodeid.lower()
                or (path is not None and path.suffix == ".py"
                    and _module_imports_watchdog(str(path)))
                or _imports_watchdog_itself(getattr(item, "function", None))):
            item.add_marker(pytest.mark.watchdog)

