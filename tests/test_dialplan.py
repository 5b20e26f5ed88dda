"""The shipped dialplan: lint-clean, faithful to the contract, failing closed by structure."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from callguard.fronts.fastagi import contract as c
from tests.conftest import ROOT

DIALPLAN = ROOT / "asterisk-dialplan" / "extensions-callguard.conf"
TEXT = DIALPLAN.read_text()


def context(name: str) -> list[str]:
    """The non-comment lines of one [context]."""
    body = TEXT.split(f"\n[{name}]\n", 1)[1].split("\n[", 1)[0]
    return [line.split(";", 1)[0].rstrip() for line in body.splitlines()
            if line.strip() and not line.strip().startswith(";")]


def extensions(text: str, name: str) -> dict[str, list[str]]:
    """One context's extensions: name -> its priorities' application calls, in order."""
    body = text.split(f"\n[{name}]\n", 1)[1].split("\n[", 1)[0]
    found: dict[str, list[str]] = {}
    current = ""
    for raw in body.splitlines():
        line = raw.split(";", 1)[0].strip()
        if line.startswith("exten =>"):
            current, _, app = line.removeprefix("exten =>").strip().partition(",")
            found[current] = [app.partition(",")[2]]
        elif line.startswith("same =>"):
            found[current].append(line.removeprefix("same =>").strip().partition(",")[2])
    return found


def path(name: str, start: str, text: str = TEXT) -> list[str]:
    """The steps run from extension ``start`` of a context: each priority in order,
    following ``Goto(x,1)`` within the context, up to Hangup() or Return()."""
    found = extensions(text, name)
    steps: list[str] = []
    exten: str | None = start
    seen: set[str] = set()
    while exten is not None and exten not in seen:
        seen.add(exten)
        following, exten = exten, None
        for app in found[following]:
            steps.append(app)
            jump = re.fullmatch(r"Goto\(([\w-]+),1\)", app)
            if jump:
                exten = jump.group(1)
                break
            if app.startswith(("Hangup(", "Return(")):
                return steps
    return steps


def timeout_problems(text: str) -> list[str]:
    """Every context that runs AGI() needs a T extension: when the backstop fires, AGI()
    returns -1 (AGIEXITONHANGUP) and pbx.c __ast_pbx_run goes to T of the current
    context if there is one; it must log a WARNING and end without Dial()."""
    problems = []
    for context in re.findall(r"^\[([\w-]+)\]", text, re.M):
        found = extensions(text, context)
        if not any(a.startswith("AGI(") for apps in found.values() for a in apps):
            continue
        if "T" not in found:
            problems.append(f"[{context}]: AGI() without a T extension")
            continue
        run = path(context, "T", text)
        if not run[0].startswith("Log(WARNING,"):
            problems.append(f"[{context}] T: no WARNING first")
        if any(a.startswith("Dial(") for a in run) or not run[-1].startswith(
                ("Hangup(", "Return(")):
            problems.append(f"[{context}] T: does not end undialled")
    return problems


def default_of(name: str, variable: str) -> str:
    """The default a context applies to ``variable`` while it is empty."""
    steps = [a for apps in extensions(TEXT, name).values() for a in apps]
    pattern = re.compile(
        rf'^ExecIf\(\$\["\${{{variable}}}" = ""\]\?Set\(LOCAL\({variable}\)=(.+)\)\)$')
    matches = [m.group(1) for m in map(pattern.match, steps) if m]
    assert len(matches) == 1, f"{name}: no single default for {variable}"
    return matches[0]


EXIT_ON_HANGUP = ("Set(LOCAL(AGIEXITONHANGUP)=yes)", "Set(AGIEXITONHANGUP=yes)")
BACKSTOP_ARMED = "Set(TIMEOUT(absolute)=${CALLGUARD_BACKSTOP})"


def backstop_problems(text: str) -> list[str]:
    """Every AGI() the file runs must be preceded, in its own extension and without a jump
    in between, by AGIEXITONHANGUP=yes and the armed backstop (res_agi.c run_agi reads
    AGIEXITONHANGUP once, when AGI() starts)."""
    problems = []
    contexts = re.findall(r"^\[([\w-]+)\]", text, re.M)
    agis = 0
    for context in contexts:
        for exten, apps in extensions(text, context).items():
            for i, app in enumerate(apps):
                if not app.startswith("AGI("):
                    continue
                agis += 1
                before = apps[:i]
                where = f"[{context}] {exten} priority {i + 1}"
                exits = [j for j, a in enumerate(before) if a in EXIT_ON_HANGUP]
                armed = [j for j, a in enumerate(before) if a == BACKSTOP_ARMED]
                if not exits:
                    problems.append(f"{where}: AGI() without AGIEXITONHANGUP=yes before it")
                if not armed:
                    problems.append(f"{where}: AGI() without the TIMEOUT(absolute) backstop")
                first = min(exits + armed, default=i)
                if any(a.startswith(("Goto", "Gosub", "Return")) for a in before[first:]):
                    problems.append(f"{where}: a jump between the backstop and AGI()")
    if not agis:
        problems.append("no AGI() found")
    return problems


ADMIN_GLOBALS = "[globals]\nCALLGUARD_TRUNK=PJSIP/itsp\nCALLGUARD_AGI=agi://10.0.0.5:4573\n\n"


def lint(tmp_path: Path, text: str) -> subprocess.CompletedProcess[str]:
    """asterisklint on an extensions.conf laid out as README step 2 says: [general], the
    administrator's own [globals], then the #include."""
    (tmp_path / "callguard").mkdir(exist_ok=True)
    (tmp_path / "callguard" / "extensions-callguard.conf").write_text(text)
    (tmp_path / "extensions.conf").write_text(
        "[general]\nstatic=yes\nwriteprotect=no\n\n" + ADMIN_GLOBALS
        + '#include "callguard/extensions-callguard.conf"\n')
    tool = shutil.which("asterisklint") or str(Path(sys.executable).parent / "asterisklint")
    return subprocess.run([tool, "dialplan-check", "extensions.conf"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60, check=False)


class TestLint:
    """asterisklint (PyPI) checks the dialplan syntax and application names."""

    def test_shipped_dialplan_is_clean(self, tmp_path):
        """No warning or error."""
        result = lint(tmp_path, TEXT)
        assert result.returncode == 0, result.stdout + result.stderr

    def test_lint_catches_a_broken_line(self, tmp_path):
        """The check can fail: a misspelt application is reported."""
        result = lint(tmp_path, TEXT.replace("Dial(${CALLGUARD_DIAL}", "Diall(${CALLGUARD_DIAL}"))
        assert result.returncode == 1
        assert "E_APP_MISSING" in result.stdout + result.stderr


class TestContract:
    """The dialplan speaks the contract module's names and argument order."""

    def test_check_route_and_argument_order(self):
        """AGI(agi://HOST:4573/callguard,NUMBER,CAMPAIGN,MODE,LINKEDID,LOCATION)."""
        calls = [line for line in context("callguard-dial") if "AGI(" in line]
        assert len(calls) == 1
        args = calls[0].split("AGI(", 1)[1].rstrip(")").split(",")
        assert args[0] == f"${{CALLGUARD_AGI}}/{c.ROUTE_CHECK}"
        assert args[1:] == ["${ARG1}", "${ARG2}", "${ARG3}", "${CHANNEL(linkedid)}", "${ARG4}"]

    def test_optout_route(self):
        """The opt-out route passes NUMBER, CAMPAIGN, (no MODE), LINKEDID."""
        calls = [line for line in context("callguard-optout") if "AGI(" in line]
        assert f"/{c.ROUTE_OPTOUT},${{ARG1}},${{ARG2}},,${{CHANNEL(linkedid)}})" in calls[0]
        assert c.OPTOUT_RESULT in TEXT

    @pytest.mark.parametrize("name", [c.VAR_VERDICT, c.VAR_RULE, c.VAR_REASON,
                                      c.VAR_DECISION_ID, c.VAR_CAUSE])
    def test_every_result_variable_is_used(self, name):
        """Each variable the server sets is read by the dialplan."""
        assert f"${{{name}}}" in TEXT


class TestFailClosed:
    """The only Dial() to the trunk sits behind every check."""

    def test_single_trunk_dial_after_all_checks(self):
        """Dial appears once, after the AGISTATUS, verdict and decision-id checks."""
        lines = context("callguard-dial")
        dial_lines = [i for i, line in enumerate(lines) if "Dial(" in line]
        assert len(dial_lines) == 1
        code = "\n".join(line.split(";", 1)[0] for line in TEXT.splitlines())
        assert code.count("Dial(") == 1
        before = "\n".join(lines[: dial_lines[0]])
        assert '"${AGISTATUS}" != "SUCCESS"]?unreached,1' in before
        assert (f'"${{{c.VAR_VERDICT}}}" != "ALLOW" & "${{{c.VAR_VERDICT}}}" != "BLOCK"]'
                '?unanswered,1') in before
        assert f'"${{{c.VAR_VERDICT}}}" != "ALLOW"]?blocked,1' in before
        assert f'"${{{c.VAR_DECISION_ID}}}" = ""]?unanswered,1' in before

    def test_every_refusal_ends_undialled_with_a_line_to_act_on(self):
        """res_agi.c agi_exec_full sets AGISTATUS: SUCCESS (callguard closed the socket,
        answered or not), FAILURE (not connected), NOTFOUND (local scripts only), HANGUP
        (AGI() returns -1: the dialplan stops, or goes to T when the backstop fired).
        Each way out of the check before Dial() — and T — runs to Hangup() with no Dial(),
        logging the last four digits only; callguard's own failures log a WARNING first."""
        steps = extensions(TEXT, "callguard-dial")["s"]
        dial = next(i for i, a in enumerate(steps) if a.startswith("Dial("))
        targets = {m.group(1) for a in steps[:dial]
                   for m in [re.search(r"\?([\w-]+),1\)$", a)] if m}
        assert targets == {"unreached", "unanswered", "blocked", "no-trunk"}
        for start in (*targets, "T"):
            run = path("callguard-dial", start)
            assert run[-1] == "Hangup(${CAUSE})", start
            assert not any(a.startswith("Dial(") for a in run), start
            logs = [a for a in run if a.startswith("Log(")]
            assert any("${ARG1:-4}" in a for a in logs), start
            assert not any("${ARG1}" in a for a in logs), start
            if start in ("unreached", "unanswered", "T"):
                assert logs[0].startswith("Log(WARNING,"), start
                assert "${CALLGUARD_AGI}" in logs[0], start
        [unreached] = [a for a in path("callguard-dial", "unreached") if a.startswith("Log(W")]
        assert "${AGISTATUS}" in unreached
        # An Asterisk missing from [fastagi] allowed_sources connects and is closed on
        # unanswered: AGISTATUS=SUCCESS, the unanswered branch
        # (test_dialplan13_failclosed.test_callguard_closing_without_an_answer_is_unanswered).
        # Its warning names the setting; unreached's, which pointed there, no longer does.
        [unanswered] = [a for a in path("callguard-dial", "unanswered")
                        if a.startswith("Log(W")]
        assert "allowed_sources" in unanswered
        assert "allowed_sources" not in unreached

    def test_verdict_is_cleared_before_asking(self):
        """A verdict left on the channel by an earlier call cannot let this one through."""
        lines = context("callguard-dial")
        agi = next(i for i, line in enumerate(lines) if "AGI(" in line)
        assert any(f"Set({c.VAR_VERDICT}=)" in line for line in lines[:agi])

    @pytest.mark.parametrize(("name", "variables"), [
        ("callguard-dial", (c.VAR_VERDICT, c.VAR_RULE, c.VAR_REASON, c.VAR_DECISION_ID,
                            c.VAR_CAUSE)),
        ("callguard-optout", (c.OPTOUT_RESULT, c.VAR_REASON))])
    def test_every_answer_variable_is_cleared_before_asking(self, name, variables):
        """A channel that asks twice (a dialer looping on one channel) must not carry the
        first answer into the second: when callguard is then unreachable, or closes without
        an answer, the NOTICE/WARNING line named the earlier call's rule and reason ("on the
        national list") for a call that was never decided, and Hangup() used its cause."""
        steps = extensions(TEXT, name)["s"]
        agi = next(i for i, a in enumerate(steps) if a.startswith("AGI("))
        for variable in variables:
            assert f"Set({variable}=)" in steps[:agi], (name, variable)

    def test_no_log_line_of_the_file_writes_the_number_whole(self):
        """NoOp() and Log() lines go to Asterisk's messages log (the NOTICE on every BLOCK,
        the WARNING of a failed opt-out): like callguard's own logs they carry the last
        four digits of the number, never all of it (Utah Code 13-44-201)."""
        steps = [a for name in ("callguard-dial", "callguard-optout")
                 for apps in extensions(TEXT, name).values() for a in apps]
        logged = [a for a in steps if a.startswith(("NoOp(", "Log("))]
        assert len(logged) >= 3
        for app in logged:
            assert "${ARG1}" not in app, app
            # a swapped NUMBER and CAMPAIGN (or MODE): those only through the guard below
            assert "${ARG2}" not in app, app
            assert "${ARG3}" not in app, app
        assert any("${ARG1:-4}" in a for a in logged if a.startswith("Log(NOTICE"))
        assert any("${CALLGUARD_ASKED}" in a for a in logged if a.startswith("Log(NOTICE"))
        steps = extensions(TEXT, "callguard-dial")["s"]
        assert steps[:4] == [
            "Set(LOCAL(CALLGUARD_ASKED)=campaign and mode not shown - 7 or more digits)",
            "GotoIf($[${LEN(${FILTER(0123456789,${ARG2}${ARG3})})} >= 7]?asked)",
            "Set(LOCAL(CALLGUARD_ASKED)=campaign=${ARG2} mode=${ARG3})",
            "NoOp(callguard: ${CALLGUARD_ASKED} asks to call ...${ARG1:-4})"], steps[:4]

    def test_no_caller_value_is_inside_a_branch_of_if(self):
        """IF(expr?true:false) and ExecIf() split their branches at the first ':' of the
        text once substituted (func_logic.c ``acf_if``: ``AST_NONSTANDARD_APP_ARGS`` on
        ':'), so a CAMPAIGN of ``sip:8015550123@itsp`` (a number swapped in as a URI) put
        its digits in the false branch — "not shown" — which then wrote them whole to the
        messages log. A caller's value goes only where no ':' of it is read as syntax."""
        steps = [a for name in ("callguard-dial", "callguard-optout")
                 for apps in extensions(TEXT, name).values() for a in apps]
        for app in steps:
            for start in ("${IF(", "ExecIf("):
                at = app.find(start)
                if at >= 0:
                    branches = app[app.index("?", at):]
                    for arg in ("${ARG1}", "${ARG2}", "${ARG3}", "${ARG4}"):
                        assert arg not in branches, app

    def test_backstop_timeout_wraps_the_agi(self):
        """TIMEOUT(absolute) is armed before AGI() and disarmed after."""
        lines = context("callguard-dial")
        agi = next(i for i, line in enumerate(lines) if "AGI(" in line)
        assert "TIMEOUT(absolute)=${CALLGUARD_BACKSTOP}" in lines[agi - 1]
        assert "TIMEOUT(absolute)=0" in lines[agi + 1]

    def test_blocked_hangs_up_with_the_cause(self):
        """BLOCK: log a NOTICE and hang up with CALLGUARD_CAUSE (default 21)."""
        blocked = [line for line in context("callguard-dial") if line.startswith(
            ("exten => blocked", " same"))]
        text = "\n".join(blocked)
        assert f"?{c.DEFAULT_BLOCK_CAUSE}:${{{c.VAR_CAUSE}}}" in text
        assert "Log(NOTICE" in text
        assert "Hangup(${CAUSE})" in text

    def test_minimum_ring_for_every_mode(self):
        """64.1200(a)(6): no unanswered telemarketing call disconnected before 15 s / 4 rings,
        a manual one too; Dial's timer starts before ringing: 20 s, whatever the mode."""
        minimum = int(default_of("callguard-dial", "CALLGUARD_MIN_RING"))
        assert minimum >= 20
        assert "ExecIf($[${RING} < ${CALLGUARD_MIN_RING}]?Set(RING=${CALLGUARD_MIN_RING}))" in TEXT
        assert '"manual"' not in TEXT


LAB_AGI = (ROOT.parent / "shared" / "fixtures" / "asterisk" / "agi" / "lab-asterisk-22.10.1")


def lab_session(scenario: str) -> list[dict[str, object]]:
    import json

    path = LAB_AGI / f"{scenario}.01-idle.fastagi.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


class TestBackstop:
    """A stalled callguard holds a call at most CALLGUARD_BACKSTOP seconds (issue 14.1)."""

    def test_every_agi_exits_on_hangup_inside_the_backstop(self):
        """Both AGI() calls (check and opt-out) set AGIEXITONHANGUP and arm the backstop."""
        assert backstop_problems(TEXT) == []
        agi_lines = [line for line in TEXT.splitlines()
                     if "AGI(" in line.split(";", 1)[0]]
        assert len(agi_lines) == 2

    @pytest.mark.parametrize("broken", [
        lambda t: t.replace(" same => n,Set(LOCAL(AGIEXITONHANGUP)=yes)\n", "", 1),
        lambda t: t.replace(" same => n,Set(LOCAL(AGIEXITONHANGUP)=yes)\n", "")
                   .replace("same => n(done),Return(OK)",
                            "same => n(done),Return(OK)\n same => n,Set(AGIEXITONHANGUP=yes)"),
        lambda t: t.replace(" same => n,Set(TIMEOUT(absolute)=${CALLGUARD_BACKSTOP})\n", "", 1),
        lambda t: t.replace(" same => n,Set(LOCAL(AGIEXITONHANGUP)=yes)\n",
                            " same => n,Set(LOCAL(AGIEXITONHANGUP)=yes)\n"
                            " same => n,Goto(elsewhere,1)\n", 1),
    ], ids=["removed-from-check", "after-the-agi-in-optout", "no-backstop", "jump-between"])
    def test_the_check_fails_on_a_broken_copy(self, broken):
        """Removing AGIEXITONHANGUP (or the backstop) before any AGI() is caught."""
        copy = broken(TEXT)
        assert copy != TEXT
        assert backstop_problems(copy)

    def test_a_fired_backstop_says_so(self):
        """Both contexts with an AGI() have a T extension that logs a WARNING and ends
        without Dial(); the opt-out returns FAILED (the agent's call goes on)."""
        assert timeout_problems(TEXT) == []
        assert path("callguard-optout", "T")[-1] == "Return(FAILED)"

    @pytest.mark.parametrize("broken", [
        lambda t: t.replace("exten => T,1,", "exten => TT,1,", 1),
        lambda t: t.replace("exten => T,1,Log(WARNING,", "exten => T,1,Log(NOTICE,", 1),
        lambda t: t.replace(" same => n,Set(CALLGUARD_RULE=callguard:backstop)\n",
                            " same => n,Dial(${CALLGUARD_TRUNK}/${ARG1})\n", 1),
    ], ids=["no-T", "no-warning", "dials"])
    def test_the_t_check_fails_on_a_broken_copy(self, broken):
        copy = broken(TEXT)
        assert copy != TEXT
        assert timeout_problems(copy)

    def test_default_backstop_is_5_seconds(self):
        """The guarantee README and the file header state: 5 s unless the admin sets it."""
        assert default_of("callguard-dial", "CALLGUARD_BACKSTOP") == "5"
        assert default_of("callguard-optout", "CALLGUARD_BACKSTOP") == "5"
        assert "at most CALLGUARD_BACKSTOP seconds" in TEXT

    def test_lab_asterisk_ends_the_agi_itself_only_with_exitonhangup(self):
        """The lab recordings (Asterisk 22.10.1): with AGIEXITONHANGUP=yes Asterisk closes the
        FastAGI socket right after HANGUP; without it, it waits until the server closes."""
        with_flag = lab_session("agi-callerhangup-exitonhangup")
        hangup = next(r["t"] for r in with_flag if r["data"] == "HANGUP\n")
        eof = next(r["t"] for r in with_flag if r["data"] == "[EOF from Asterisk]")
        assert 0 <= eof - hangup < 0.01
        without = lab_session("agi-callerhangup")
        assert not any(r["data"] == "[EOF from Asterisk]" for r in without)
        assert without[-1]["data"] == "[server closes the connection]"


class TestGlobals:
    """The include never replaces an administrator's values (issue 14.2)."""

    def test_the_include_has_no_globals_section(self):
        assert not re.search(r"^\[globals\]", TEXT, re.M)

    @pytest.mark.parametrize(("context", "variable", "default"), [
        ("callguard-dial", "CALLGUARD_AGI", "agi://127.0.0.1:4573"),
        ("callguard-dial", "CALLGUARD_BACKSTOP", "5"),
        ("callguard-dial", "CALLGUARD_MIN_RING", "20"),
        ("callguard-optout", "CALLGUARD_AGI", "agi://127.0.0.1:4573"),
    ])
    def test_defaults_apply_only_while_empty_and_before_use(self, context, variable, default):
        assert default_of(context, variable) == default
        steps = [a for apps in extensions(TEXT, context).values() for a in apps]
        set_at = next(i for i, a in enumerate(steps) if f"Set(LOCAL({variable})=" in a)
        used_at = next(i for i, a in enumerate(steps)
                       if f"${{{variable}}}" in a and "Set(LOCAL(" not in a)
        assert set_at < used_at

    def test_a_default_with_colons_survives_execif_parsing(self):
        """ExecIf splits its branches on ':' but not inside parentheses (app.c
        __ast_app_separate_args, ported in tests/asterisk_replica.py): the URL stays whole."""
        from tests.asterisk_replica import separate_args

        step = next(a for a in extensions(TEXT, "callguard-dial")["s"]
                    if "LOCAL(CALLGUARD_AGI)" in a)
        data = step.removeprefix("ExecIf(").removesuffix(")")
        _, branches = separate_args(data, "?", 2)
        assert separate_args(branches, ":", 2) == ["Set(LOCAL(CALLGUARD_AGI)=agi://127.0.0.1:4573)"]

    def test_no_trunk_is_refused_before_asking_with_an_error_line(self):
        """An empty or placeholder trunk: BLOCK path and an ERROR saying what to set where."""
        dial = extensions(TEXT, "callguard-dial")
        steps = dial["s"]
        check = next(i for i, a in enumerate(steps) if "no-trunk,1" in a)
        agi = next(i for i, a in enumerate(steps) if a.startswith("AGI("))
        assert check < agi
        assert '"${CALLGUARD_TRUNK}" = ""' in steps[check]
        assert '"${CALLGUARD_TRUNK}" =~ "CHANGE-ME"' in steps[check]
        refusal = dial["no-trunk"]
        [error] = [a for a in refusal if a.startswith("Log(ERROR,")]
        assert "CALLGUARD_TRUNK" in error
        assert "[globals] of extensions.conf" in error
        assert refusal[-1] == "Goto(blocked,1)"
        assert "Set(CALLGUARD_VERDICT=BLOCK)" in refusal


    def test_follow_variable_is_cleared_before_asking(self):
        """A follow variable left by an earlier ALLOW on the channel cannot follow this call."""
        steps = extensions(TEXT, "callguard-dial")["s"]
        agi = next(i for i, a in enumerate(steps) if a.startswith("AGI("))
        assert f"Set(__{c.VAR_FOLLOW}=)" in steps[:agi]
