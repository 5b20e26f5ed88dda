"""hagi25: callguard's answer must fit the line Asterisk reads.

res_agi.c ``run_agi`` reads each FastAGI command into ``char buf[AGI_BUF_LEN]``
(``#define AGI_BUF_LEN 2048``) with ``fgets``, looping ``while (len > 1)``: a line longer
than 2047 bytes (its LF included) is cut there and the first 2047 bytes run as the
command; the rest is read as the NEXT command (run through ``agi_handle_command``:
``510 Invalid or unknown command`` for text, any verb it happens to start with
otherwise), and it sits in the ``FILE`` buffer until callguard writes again. So an
``EXEC MSet`` over the limit sets the pairs before the cut (``CALLGUARD_VERDICT`` is
first) and drops the rest: on an ALLOW the caller-ID presentation pairs and
``__CALLGUARD_FOLLOW``; the read-back then meets the tail's 510 first and the answer is
withdrawn after ``reply_timeout_ms`` (a lawful call BLOCKed, recorded as withdrawn).

Each value is bounded at 400 characters (wire ``_MAX_VALUE``), but in characters: one
character is up to 4 bytes of UTF-8, and a quote or a backslash is escaped for both of
Asterisk's parsers (``\\\\\\"``: 4 bytes). The test used to measure two values in
characters (tests/test_fastagi.py); a whole ALLOW (nine pairs, the watchdog's 380-byte
``__CALLGUARD_FOLLOW``) whose reason is 400 such characters came to 2,300 bytes.
Now the free text (the reason, then the rule) is cut until the line fits; the decision's
own values never are.

No Asterisk is run here (not packaged for this OS): the line is measured in bytes
against run_agi's buffer, and what Asterisk sets is read with the Python port of its
parsers (tests/asterisk_replica.py), the cut modelled from ``run_agi`` as described.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from callguard.fronts.fastagi import contract as c
from callguard.fronts.fastagi.wire import AGI_LINE_MAX, encode_mset
from tests.asterisk_replica import exec_mset_variables

DECISION_ID = "0f6c1f0e-6b1a-4a59-9a43-1c1e2f3a4b5c"
FOLLOW = "1|" + DECISION_ID + "|predictive|5|" + "x" * 300  # carry.py: at most 380


def _allow(reason: str, rule: str = "us-federal:64.1200(a)(2)") -> dict[str, str]:
    """The answer ``FastAgiServer._variables`` gives an ALLOW, every pair of it."""
    return {
        c.VAR_VERDICT: "ALLOW",
        c.VAR_RULE: rule,
        c.VAR_REASON: reason,
        c.VAR_DECISION_ID: DECISION_ID,
        c.VAR_CAUSE: "",
        c.VAR_CALLERID_NUM: "+18015550100",
        c.VAR_CALLERID_PRES: c.PRESENTATION_ALLOWED,
        c.VAR_CALLERNAME_PRES: c.PRESENTATION_ALLOWED,
        f"__{c.VAR_FOLLOW}": FOLLOW[:380],
    }


def _as_asterisk_reads(command: str) -> str:
    """The command ``run_agi`` runs: the first AGI_LINE_MAX bytes of the line, LF
    included (``fgets`` into ``buf[AGI_BUF_LEN]``)."""
    line = (command + "\n").encode()[:AGI_LINE_MAX]
    return line.decode("utf-8", errors="replace").removesuffix("\n")


def test_asterisks_buffer_is_what_the_source_says():
    assert AGI_LINE_MAX == 2048 - 1


def test_an_allow_with_a_long_escaped_reason_fits_and_keeps_every_other_pair():
    """A reason of 400 characters, all but one quotes (4 bytes each once escaped): on
    main the line was 2,254 bytes, so Asterisk ran it cut at 2,047 and never set the
    presentation pairs or FOLLOW."""
    answer = _allow("a" + '"' * 399)
    command = encode_mset(answer)
    assert len(command.encode()) + 1 <= AGI_LINE_MAX, len(command.encode())
    seen = exec_mset_variables(_as_asterisk_reads(command))
    assert {k: v for k, v in seen.items() if k != c.VAR_REASON} == {
        k: v for k, v in answer.items() if k != c.VAR_REASON}
    assert seen[c.VAR_REASON] == "a\u2026"  # cut back to a letter, marked


@settings(max_examples=300, deadline=None)
@given(reason=st.text(alphabet=st.sampled_from(
    ['"', "\\", "(", "]", ",", "{", "a", " ", "\u2014", "\u00a7", "\U0001f600", "\n"]),
    min_size=300, max_size=600), rule=st.text(max_size=120))
def test_any_reason_and_rule_fit_asterisks_line(reason, rule):
    """Whatever the reason and rule hold (non-ASCII, quotes, backslashes, brackets), the
    whole answer is one line Asterisk reads whole, and every pair but the free text
    arrives exactly."""
    answer = _allow(reason, rule)
    command = encode_mset(answer)
    assert len(command.encode()) + 1 <= AGI_LINE_MAX
    seen = exec_mset_variables(_as_asterisk_reads(command))
    free = (c.VAR_REASON, c.VAR_RULE)
    assert {k: v for k, v in seen.items() if k not in free} == {
        k: v for k, v in answer.items() if k not in free}


def test_a_short_answer_is_not_cut():
    answer = _allow("Allowed: 19 rules of us-federal, us-ut hold (47 CFR 64.1200(c)(2)).")
    assert exec_mset_variables(encode_mset(answer)) == answer
