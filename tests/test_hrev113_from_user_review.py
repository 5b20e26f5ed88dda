"""hrev113 review of hcid24's from_user check: what a failed function read answers, and
(in the next commit) whether a slow endpoint Getvar can hold a release up.

Asterisk read (``search`` code corpus, asterisk/asterisk):

- manager.c ``action_getvar``: a Variable ending in ")" with no Channel is read with
  ``ast_func_read`` on a dummy channel, its result IGNORED: the reply is Success with the
  workspace, "" when the read failed;
- func_pjsip_endpoint.c ``pjsip_endpoint_function_read``: an endpoint sorcery cannot
  retrieve (removed by a reload, a realtime backend failing) returns -1 with nothing
  written; func_pjsip_endpoint.so not loaded (a ``noload``/``autoload=no`` modules.conf):
  ``ast_func_read`` finds no PJSIP_ENDPOINT and returns -1 — "" again;
- res_pjsip/pjsip_configuration.c ``dtmf_to_str``: an endpoint's ``dtmf_mode`` always
  reads as a name (rfc4733, inband, info, auto, ..., "none" otherwise), never "": a
  non-empty dtmf_mode proves the function read an endpoint, so a "" from_user beside it
  is "unset", not a failed read.

The AMI tests use tests/fake_ami.py, which REPLAYS REAL Asterisk 22.10.1 traffic (lab
call-01, the called party renamed ``PJSIP/itsp-00000001`` as in test_hcid24_from_user_ami);
the endpoint Getvar replies (and the stall) are synthesised, in action_getvar's format.
"""

from __future__ import annotations

from callguard.watchdog.calls import PRESENTATION_VARIABLE
from tests.test_hcid24_from_user import CALL, FROM_USER, _Run

PROBE = "PJSIP_ENDPOINT(itsp,dtmf_mode)"


def test_a_failed_function_read_is_never_verified():
    """The endpoint unknown to Asterisk (or func_pjsip_endpoint not loaded): Getvar
    answers Success with "" for from_user AND for dtmf_mode. Before: ``verified``."""
    run = _Run()
    run.prove_unset = False
    run.answered(0, 10.0)
    run.answer(PRESENTATION_VARIABLE, "allowed", 10.5)
    run.answer(FROM_USER, "", 10.6)
    assert run.tracker.calls[CALL].caller_id != "verified"
    run.answer(PROBE, "", 10.7)
    assert run.tracker.calls[CALL].caller_id == "unverified"
    [unverified] = run.named("caller-id-unverified")
    assert FROM_USER in unverified["reason"]
    run.answered(1, 20.0)  # not kept: the next call asks again
    assert [r.variable for r in run.reads].count(FROM_USER) == 1


def test_an_unset_from_user_is_proven_by_the_endpoint_read():
    run = _Run()
    run.prove_unset = False
    run.answered(0, 10.0)
    run.answer(PRESENTATION_VARIABLE, "allowed", 10.5)
    run.answer(FROM_USER, "", 10.6)
    assert [r.channel for r in run.reads if r.variable == PROBE] == [""]
    run.answer(PROBE, "rfc4733", 10.7)
    assert run.tracker.calls[CALL].caller_id == "verified"
    assert run.reports == []
    second = run.answered(1, 30.0)  # kept: neither read again
    assert not {FROM_USER, PROBE} & {r.variable for r in run.reads}
    run.answer(PRESENTATION_VARIABLE, "allowed", 30.5)
    assert run.tracker.calls[second].caller_id == "verified"


def test_a_set_from_user_needs_no_probe():
    run = _Run()
    run.answered(0, 10.0)
    run.answer(PRESENTATION_VARIABLE, "allowed", 10.5)
    run.answer(FROM_USER, "+4930123456", 10.6)
    assert PROBE not in [r.variable for r in run.reads]
    assert run.tracker.calls[CALL].caller_id == "verified"
