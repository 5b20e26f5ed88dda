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


def lint(tmp_path: Path, text: str) -> subprocess.CompletedProcess[str]:
    """asterisklint on a minimal extensions.conf that includes the file, as an admin would."""
    (tmp_path / "callguard").mkdir(exist_ok=True)
    (tmp_path / "callguard" / "extensions-callguard.conf").write_text(text)
    (tmp_path / "extensions.conf").write_text(
        "[general]\nstatic=yes\nwriteprotect=no\n\n"
        '#include "callguard/extensions-callguard.conf"\n')
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
        result = lint(tmp_path, TEXT.replace("Dial(${CALLGUARD_TRUNK}", "Diall(${CALLGUARD_TRUNK}"))
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
        assert '"${AGISTATUS}" != "SUCCESS"]?blocked' in before
        assert f'"${{{c.VAR_VERDICT}}}" != "ALLOW"]?blocked' in before
        assert f'"${{{c.VAR_DECISION_ID}}}" = ""]?blocked' in before

    def test_verdict_is_cleared_before_asking(self):
        """A verdict left on the channel by an earlier call cannot let this one through."""
        lines = context("callguard-dial")
        agi = next(i for i, line in enumerate(lines) if "AGI(" in line)
        assert any(f"Set({c.VAR_VERDICT}=)" in line for line in lines[:agi])

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

    def test_minimum_ring_for_automated_modes(self):
        """64.1200(a)(6): at least 15 s / 4 rings; Dial's timer starts before ringing: 20 s."""
        minimum = int(re.search(r"CALLGUARD_MIN_RING=(\d+)", TEXT).group(1))
        assert minimum >= 20
        assert '"${ARG3}" != "manual" & ${RING} < ${CALLGUARD_MIN_RING}' in TEXT
