"""hrev122 (review of hagi25): the answer's line bound, checked at its edges.

res_agi.c ``run_agi`` (Asterisk 22, as in 13+): ``char buf[AGI_BUF_LEN]`` (2048), then
``while (len > 1) { fgets(buf + buflen, len, readf); ... len = sizeof(buf) - buflen; }``:
the first ``fgets`` takes at most 2047 bytes, so a line of 2047 bytes with its LF is read
whole and one of 2048 runs as 2047 bytes, its LF then read as an empty next command
(``agi_handle_command``: ``510 Invalid or unknown command``). ``handle_exec`` hands
``argv[2]`` to ``pbx_exec`` whole and MSet (``pbx_builtin_setvar_multiple``) copies it with
``ast_strdupa``: no bound but the line's.

No Asterisk is run (not packaged for this OS): lines are measured in bytes and read with
the Python port of Asterisk's parsers (tests/asterisk_replica.py).
"""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from callguard.fronts.fastagi import contract as c
from callguard.fronts.fastagi.wire import AGI_LINE_MAX, AnswerTooLong, encode_mset
from callguard.watchdog import carry
from tests.asterisk_replica import exec_mset_variables

DECISION_ID = str(uuid.UUID(int=0))


def _allow(reason: str, rule: str = "us-federal:64.1200(a)(2)",
           follow: str = "1|" + DECISION_ID + "|predictive|5||acme|%2B18015550100|n1",
           caller_id: str = "+18015550100") -> dict[str, str]:
    return {
        c.VAR_VERDICT: "ALLOW",
        c.VAR_RULE: rule,
        c.VAR_REASON: reason,
        c.VAR_DECISION_ID: DECISION_ID,
        c.VAR_CAUSE: "",
        c.VAR_CALLERID_NUM: caller_id,
        c.VAR_CALLERID_PRES: c.PRESENTATION_ALLOWED,
        c.VAR_CALLERNAME_PRES: c.PRESENTATION_ALLOWED,
        f"__{c.VAR_FOLLOW}": follow,
    }


def _line_bytes(command: str) -> int:
    return len(command.encode()) + 1  # the LF callguard writes after it


@pytest.mark.parametrize("over", [0, 1])
def test_the_bound_is_run_agis_first_fgets_exactly(over):
    """A line of exactly AGI_LINE_MAX bytes (LF included) goes whole, reason intact; one
    byte more and the reason is cut. A reason of backslashes (4 bytes each once escaped
    for both parsers) and letters reaches any length to the byte."""
    follow = "x" * carry._MAX
    base = _line_bytes(encode_mset(_allow("", follow=follow)))
    need = AGI_LINE_MAX + over - base
    reason = "\\" * (need // 4) + "a" * (need % 4)
    assert len(reason) <= 400
    command = encode_mset(_allow(reason, follow=follow))
    assert _line_bytes(command) <= AGI_LINE_MAX
    kept = exec_mset_variables(command)[c.VAR_REASON] == reason
    assert kept is (over == 0)


@settings(max_examples=300, deadline=None)
@given(reason=st.text(alphabet=st.sampled_from(
    ['"', "\\", "(", ")", "[", "]", ",", "{", "}", "=", "$", "a", "Z", " ", "7",
     "\u00e9", "\u2026", "\U0001f600"]), min_size=200, max_size=400))
def test_a_cut_reason_is_a_prefix_of_the_whole_one_ending_on_a_letter(reason):
    """The cut is made on the text, before either escaping: no lone backslash, no half
    of a UTF-8 sequence, no unbalanced quote reaches Asterisk. What the channel holds
    is the reason whole, or a head of it ending on a letter and marked with an
    ellipsis, or nothing; every other pair arrives exactly."""
    answer = _allow(reason)
    command = encode_mset(answer)
    command.encode("utf-8", errors="strict")
    assert _line_bytes(command) <= AGI_LINE_MAX
    seen = exec_mset_variables(command)
    got = seen.pop(c.VAR_REASON)
    assert seen == {k: v for k, v in answer.items() if k != c.VAR_REASON}
    if got != reason and got:
        head = got.removesuffix("\u2026")
        assert got.endswith("\u2026")
        assert head[-1].isalpha()
        assert reason.startswith(head)


def test_the_largest_uncut_values_of_an_allow_fit_beside_a_worst_reason_and_rule():
    """What is never cut is bounded: an E.164 caller ID (15 digits), a UUID, a cause,
    FOLLOW at carry's 380 bytes (percent-encoded: nothing either parser escapes). With
    the worst reason and rule (400 quotes each) the line fits and all of it arrives."""
    follow = "1|" + DECISION_ID + "|" + "%7E" * ((carry._MAX - 39) // 3)
    follow += "x" * (carry._MAX - len(follow))
    assert len(follow) == carry._MAX
    answer = _allow('"' * 400, rule='"' * 400, follow=follow, caller_id="+" + "9" * 15)
    answer[c.VAR_CAUSE] = "127"
    command = encode_mset(answer)
    assert _line_bytes(command) <= AGI_LINE_MAX
    seen = exec_mset_variables(command)
    free = (c.VAR_REASON, c.VAR_RULE)
    assert {k: v for k, v in seen.items() if k not in free} == {
        k: v for k, v in answer.items() if k not in free}
    assert _line_bytes(encode_mset({**answer, c.VAR_REASON: "", c.VAR_RULE: ""})) < 700


def test_an_answer_that_cannot_fit_is_refused_not_written_cut():
    """Uncut values too long for the line (none of today's answers: the test above)
    must not leave as a line run_agi runs cut, setting the pairs before the cut (the
    verdict first) and running the rest as a command; encode_mset refuses it, naming
    the sizes and no value (a caller ID is a phone number). On hagi25's branch it came
    back as a 2,262-byte line."""
    answer = _allow("why", follow="y" * 400, caller_id='"' * 400)
    with pytest.raises(AnswerTooLong) as refused:
        encode_mset(answer)
    assert refused.value.size > AGI_LINE_MAX
    message = str(refused.value)
    assert "CALLERID(num) 1600 B" in message
    assert '"' not in message
