"""The shipped Asterisk configuration against Asterisk's own rules (hast23's examination).

* manager-callguard.conf: least privilege, derived rather than pinned. manager.c
  ``process_message`` runs an action when ``(writeperm & authority) || authority == 0``:
  ANY class the action was registered with is enough (``__init_manager``'s
  ``ast_manager_register_xml_core`` calls; manager_bridges.c ``manager_bridging_init`` for
  BridgeList). An event reaches a session only when its whole class is in the user's
  ``read`` (manager.c ``process_events``: ``(readperm & category) == category``). The
  actions are read from callguard's and panoramisk's source, the event classes from
  the ``Privilege:`` lines of real traffic in ``shared/fixtures/asterisk/ami`` (the lab's
  Asterisk 22.10.1; the transfers from cacofonisk's Asterisk 13 recordings).
* the event filters: the named form as docs.asterisk.org "AMI Event Filtering" gives it,
  ``eventfilter(<criteria>) = [<expression>]``; the legacy regex, run against whole events.
* the caller ID the gate forces on ALLOW reaches the trunk: nothing between the AGI and
  the Dial() rewrites it, the Dial() carries no option that replaces it (app_dial.c
  OPT_ORIGINAL_CLID ``o``, OPT_FORCECLID ``f``), and the trunk endpoint the admin copies
  has no ``from_user`` (res_pjsip_session.c ``set_from_header`` writes from_user over the
  From's user part, and res_pjsip_caller_id.c ``caller_id_outgoing_request`` changes the
  From only while ``from_user`` is empty).

Every check is also run on a broken copy, to show it can fail.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from callguard.fronts.fastagi import contract as c
from callguard.watchdog.calls import USED_EVENTS
from tests.conftest import ROOT
from tests.test_dialplan import extensions

MANAGER = ROOT / "asterisk-dialplan" / "manager-callguard.conf"
DIALPLAN = ROOT / "asterisk-dialplan" / "extensions-callguard.conf"
PJSIP = ROOT / "docker" / "asterisk" / "pjsip.conf"
README = ROOT / "README.md"
FIXTURES = ROOT.parent / "shared" / "fixtures" / "asterisk" / "ami"

# The class(es) each action is registered with: manager.c __init_manager; BridgeList and
# BridgeInfo: manager_bridges.c manager_bridging_init. An empty set is 0: any user.
AUTHORITY: dict[str, frozenset[str]] = {
    name: frozenset(classes) for name, classes in {
        "Login": (), "Logoff": (), "Challenge": (), "Ping": (), "Events": (),
        "ListCommands": (), "WaitEvent": (), "BridgeList": (), "BridgeInfo": (),
        "Hangup": ("system", "call"),
        "Status": ("system", "call", "reporting"),
        "Setvar": ("call",),
        "Getvar": ("call", "reporting"),
        "GetConfig": ("system", "config"),
        "Redirect": ("call",),
        "Originate": ("originate",),
        "Command": ("command",),
        "AbsoluteTimeout": ("system", "call"),
        "CoreSettings": ("system", "reporting"),
        "CoreStatus": ("system", "reporting"),
        "CoreShowChannels": ("system", "reporting"),
        "Filter": ("system",),
    }.items()}
# Classes no watchdog needs and that reach beyond calls: the dialplan, the system, the
# configuration (every user's secret), the CLI.
DANGEROUS = {"all", "system", "config", "command", "originate", "dialplan", "agent", "user"}


def user_settings(text: str, user: str = "callguard") -> dict[str, list[str]]:
    """One manager.conf user's lines: key -> values in order (comments dropped)."""
    found: dict[str, list[str]] = {}
    section = ""
    for raw in text.splitlines():
        line = raw.split(";", 1)[0].strip()
        if line.startswith("["):
            section = line[1:].split("]", 1)[0]
        elif section == user and "=" in line:
            key, _, value = line.partition("=")
            found.setdefault(key.strip(), []).append(value.strip())
    return found


def classes(text: str, key: str) -> frozenset[str]:
    values = user_settings(text).get(key, [])
    assert len(values) == 1, f"{key} given {len(values)} times"
    return frozenset(v.strip() for v in values[0].split(",") if v.strip())


def actions_used() -> set[str]:
    """Every AMI action callguard sends, and panoramisk's own on its behalf: the Login
    (``Manager.connection_made``) and the Ping (``Manager.ping``). panoramisk's helpers
    callguard does not call (``send_agi_command``, ``send_command``) are not read."""
    from panoramisk.manager import Manager

    sources = [p.read_text() for p in (ROOT / "callguard").rglob("*.py")]
    sources += [inspect.getsource(Manager.connection_made), inspect.getsource(Manager.ping)]
    pattern = re.compile(r"""["']Action["']\s*:\s*["'](\w+)["']""")
    return {m for text in sources for m in pattern.findall(text)}


def permitted(write: frozenset[str], action: str) -> bool:
    """manager.c process_message: any class of the action's in the user's write, or 0."""
    authority = AUTHORITY[action]
    return not authority or bool(write & authority)


def write_problems(text: str) -> list[str]:
    write = classes(text, "write")
    used = actions_used()
    problems = [f"{a}: not permitted by write = {','.join(sorted(write))}"
                for a in sorted(used) if not permitted(write, a)]
    for cls in sorted(write):
        if all(permitted(write - {cls}, a) for a in used):
            problems.append(f"write class {cls} is not needed by any action sent")
    problems += [f"write holds {cls}" for cls in sorted(write & DANGEROUS)]
    return problems


def event_classes() -> dict[str, set[str]]:
    """Event name -> the classes of its Privilege lines in the recorded traffic."""
    found: dict[str, set[str]] = {}
    raw = re.compile(r"Event: (\w+)\r?\nPrivilege: ([\w,]+)")
    parsed = re.compile(r'\{[^{}]*"Event": "(\w+)"[^{}]*"Privilege": "([\w,]+)"')
    for path in FIXTURES.rglob("*"):
        if path.suffix not in (".txt", ".json", ".jsonl") or not path.is_file():
            continue
        text = path.read_text(errors="replace").replace("\\r\\n", "\r\n")
        for pattern in (raw, parsed):
            for name, privilege in pattern.findall(text):
                found.setdefault(name, set()).add(
                    ",".join(p for p in privilege.split(",") if p != "all"))
    return found


def read_problems(text: str) -> list[str]:
    read = classes(text, "read")
    seen = event_classes()
    problems = []
    needed: set[str] = set()
    for event in USED_EVENTS:
        if event not in seen:
            problems.append(f"{event}: no recorded Privilege line to check its class")
            continue
        for privilege in seen[event]:
            category = set(privilege.split(","))
            needed |= category
            if not category <= read:  # manager.c process_events: the whole class
                problems.append(f"{event} ({privilege}) does not pass read = "
                                f"{','.join(sorted(read))}")
    problems += [f"read class {cls} is not the class of any event used"
                 for cls in sorted(read - needed)]
    return problems


class TestManagerLeastPrivilege:

    def test_every_action_sent_is_known(self):
        """A new action in the watchdog must bring its registration here (manager.c)."""
        used = actions_used()
        assert {"Hangup", "Getvar", "CoreShowChannels", "BridgeList", "ListCommands",
                "Login", "Ping"} <= used
        assert used <= set(AUTHORITY), sorted(used - set(AUTHORITY))

    def test_write_is_exactly_what_the_actions_need(self):
        assert write_problems(MANAGER.read_text()) == []

    def test_read_is_exactly_what_the_events_need(self):
        assert read_problems(MANAGER.read_text()) == []

    def test_the_watchdog_asks_for_the_class_it_reads(self):
        """Login's Events mask (manager.c set_eventmask) must cover every event used too:
        process_events also requires (send_events & category) == category."""
        source = (ROOT / "callguard" / "watchdog" / "ami.py").read_text()
        # the main session's mask, and the read session's (Getvars only: no events)
        [events, off] = re.findall(r'events="([\w,]+)"', source)
        assert set(events.split(",")) == classes(MANAGER.read_text(), "read")
        assert off == "off"

    @pytest.mark.parametrize(("old", "new", "problem"), [
        ("write = call,reporting", "write = call", "CoreShowChannels: not permitted"),
        ("write = call,reporting", "write = reporting", "Hangup: not permitted"),
        ("write = call,reporting", "write = call,reporting,system", "write holds system"),
        ("write = call,reporting", "write = call,reporting,originate",
         "write class originate is not needed"),
    ])
    def test_write_check_fails_on_a_broken_copy(self, old, new, problem):
        text = MANAGER.read_text().replace(old, new)
        assert any(p.startswith(problem) for p in write_problems(text)), write_problems(text)

    @pytest.mark.parametrize(("new", "problem"), [
        ("read = system", "Newchannel (call) does not pass"),
        ("read = call,dialplan", "read class dialplan is not"),
    ])
    def test_read_check_fails_on_a_broken_copy(self, new, problem):
        text = MANAGER.read_text().replace("read = call", new)
        assert any(p.startswith(problem) for p in read_problems(text)), read_problems(text)


CRITERIA = {"action": {"include", "exclude"}, "name": None, "header": None,
            "method": {"regex", "exact", "starts_with", "ends_with", "contains", "none"}}


def filter_problems(text: str) -> list[str]:
    """Each named eventfilter as manager.conf reads it: one of each criterion at most."""
    problems = []
    names = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line.startswith("eventfilter("):
            continue
        head, sep, _expression = line.partition("=")
        m = re.fullmatch(r"eventfilter\((.*)\)\s*", head)
        if not sep or not m:
            problems.append(f"unreadable: {line}")
            continue
        seen = set()
        for criterion in re.findall(r"(\w+)\(([^()]*)\)", m.group(1)):
            key, value = criterion
            if key not in CRITERIA or key in seen:
                problems.append(f"{line}: criterion {key}")
            seen.add(key)
            allowed = CRITERIA.get(key)
            if allowed is not None and value not in allowed:
                problems.append(f"{line}: {key}({value})")
            if key == "name":
                names.append(value)
        if "action" in seen and "action(include)" not in m.group(1):
            problems.append(f"{line}: not an include")
    if sorted(names) != sorted(USED_EVENTS):
        problems.append(f"named filters {sorted(names)} are not the events used")
    return problems


def legacy_regex(text: str) -> re.Pattern[str]:
    [expression] = re.findall(r"^; eventfilter = (.+)$", text, re.M)
    return re.compile(expression.replace("[[:space:]]", r"\s"))


class TestEventFilters:

    def test_named_filters_are_well_formed_and_pass_the_events_used(self):
        assert filter_problems(MANAGER.read_text()) == []

    def test_named_check_fails_on_a_broken_copy(self):
        text = MANAGER.read_text().replace("name(DialState)", "name(DialState),name(Hangup)")
        assert filter_problems(text)

    def test_legacy_regex_passes_exactly_the_events_used(self):
        """manager.c matches a legacy filter against the whole event text, unanchored:
        the ^ and the trailing space class keep HangupRequest out when Hangup is in."""
        pattern = legacy_regex(MANAGER.read_text())
        for event in USED_EVENTS:
            assert pattern.search(f"Event: {event}\r\nPrivilege: call,all\r\n"), event
        for event in ("HangupRequest", "Newexten", "NewCallerid", "BridgeCreate",
                      "DialStateX", "LocalOptimizationBegin", "VarSet"):
            assert not pattern.search(f"Event: {event}\r\nPrivilege: call,all\r\n"), event


def between_agi_and_dial(text: str) -> list[str]:
    steps = extensions(text, "callguard-dial")["s"]
    agi = next(i for i, a in enumerate(steps) if a.startswith("AGI("))
    dial = next(i for i, a in enumerate(steps) if a.startswith("Dial("))
    return steps[agi + 1:dial + 1]


def caller_id_problems(text: str) -> list[str]:
    """The ALLOW answer's CALLERID(num), CALLERID(num-pres) and CALLERID(name-pres) must
    reach Dial() as set: app_dial.c copies the caller's id to the outgoing channel's
    connected line, which chan_pjsip sends as From / P-Asserted-Identity."""
    problems = []
    steps = between_agi_and_dial(text)
    for step in steps[:-1]:
        if re.search(r"Set\((?:CALLERID|CONNECTEDLINE|CALLERPRES)\(|MSet\(|SetCaller", step):
            problems.append(f"rewrites the caller ID: {step}")
    dial = steps[-1]
    args = dial.removeprefix("Dial(").removesuffix(")").split(",")
    if args[2:]:
        problems.append(f"Dial() with options {args[2:]} (o and f replace the caller ID)")
    return problems


class TestCallerIdReachesTheTrunk:

    def test_the_answer_sets_the_caller_id_functions(self):
        """func_callerid.c: num, num-pres and name-pres (lab agi-pres-all, 22.10.1)."""
        assert (c.VAR_CALLERID_NUM, c.VAR_CALLERID_PRES, c.VAR_CALLERNAME_PRES) == (
            "CALLERID(num)", "CALLERID(num-pres)", "CALLERID(name-pres)")

    def test_nothing_between_the_check_and_dial_replaces_it(self):
        assert caller_id_problems(DIALPLAN.read_text()) == []

    @pytest.mark.parametrize(("old", "new"), [
        ("(dial),Dial(${CALLGUARD_DIAL},${RING})", "(dial),Dial(${CALLGUARD_DIAL},${RING},o)"),
        (" same => n(dial),", " same => n,Set(CALLERID(num-pres)=prohib)\n same => n(dial),"),
    ])
    def test_the_check_fails_on_a_broken_copy(self, old, new):
        text = DIALPLAN.read_text()
        assert old in text
        assert caller_id_problems(text.replace(old, new))


def trunk_example(text: str) -> list[tuple[str, dict[str, str]]]:
    """pjsip.conf's commented trunk sections, uncommented: (name, settings) in order."""
    start = text.index("; [itsp]")
    sections: list[tuple[str, dict[str, str]]] = []
    for raw in text[start:].splitlines():
        line = raw.removeprefix(";").strip()
        if not raw.startswith("; ") or not line:
            continue
        if line.startswith("["):
            sections.append((line.strip("[]"), {}))
        elif "=" in line and sections:
            key, _, value = line.partition("=")
            sections[-1][1][key.strip()] = value.strip()
    return sections


def trunk_problems(text: str) -> list[str]:
    sections = trunk_example(text)
    by_type = {(name, s.get("type")): s for name, s in sections}
    endpoints = [(n, s) for n, s in sections if s.get("type") == "endpoint"]
    problems = []
    if len(endpoints) != 1:
        return [f"{len(endpoints)} endpoints in the example"]
    name, endpoint = endpoints[0]
    if "from_user" in endpoint:
        problems.append("the trunk sets from_user: the campaign's caller ID is not sent")
    if ("itsp", "aor") not in by_type or "contact" not in by_type[(name, "aor")]:
        problems.append("no aor with a contact: PJSIP/NUMBER@itsp cannot be dialled")
    if endpoint.get("aors") != name:
        problems.append("the endpoint does not name its aor")
    if (endpoint.get("outbound_auth"), "auth") not in by_type:
        problems.append("outbound_auth names no auth section")
    return problems


class TestTrunkExample:

    def test_the_example_trunk_sends_the_campaign_caller_id(self):
        assert trunk_problems(PJSIP.read_text()) == []

    def test_the_check_fails_on_a_broken_copy(self):
        text = PJSIP.read_text().replace("; outbound_auth = itsp-auth",
                                         "; outbound_auth = itsp-auth\n; from_user = 8015550100")
        assert "the trunk sets from_user" in trunk_problems(text)[0]

    def test_admins_are_told_to_leave_from_user_unset(self):
        """Both places an admin writes the trunk from say it, with the source."""
        readme = README.read_text()
        wiring = readme.split("## Wiring it into Asterisk", 1)[1].split("\n## ", 1)[0]
        for where in (PJSIP.read_text(), wiring):
            assert "from_user" in where
            assert "caller_id_outgoing_request" in where


def test_readme_counts_the_filtered_events():
    words = {"ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14}
    readme = README.read_text()
    [word] = re.findall(r"event filters that pass only the\s+(\w+) events used", readme)
    assert words[word] == len(USED_EVENTS)


def test_fixtures_are_there() -> None:
    assert Path(FIXTURES).is_dir()
