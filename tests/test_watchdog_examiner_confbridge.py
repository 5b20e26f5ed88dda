"""Reviewer hrev15: who left the called party first, in a bridge that does not dissolve.

hast12's rule (``_left_first``): the first person off the called party's side to leave its
bridge, leaving no other person with it, ended the call — from bridge_channel.c
``bridge_channel_internal_pull`` (``bridge_channel_dissolve_check`` then the BridgeLeave,
under the bridge's lock). That order says who ENDED the call only in a bridge that
dissolves when a member leaves: a basic bridge (bridge_basic.c ``ast_bridge_basic_new``
with NORMAL_FLAGS = AST_BRIDGE_FLAG_DISSOLVE_HANGUP | DISSOLVE_EMPTY | SMART; Dial(),
Bridge(), Queue(), AgentRequest()), whose dissolve pushes the called party out after it.

A ConfBridge is no such bridge: app_confbridge.c creates it with ``ast_bridge_base_new(
AST_BRIDGE_CAPABILITY_MULTIMIX, AST_BRIDGE_FLAG_MASQUERADE_ONLY |
AST_BRIDGE_FLAG_TRANSFER_BRIDGE_ONLY, ...)`` — no dissolve flag, so an agent leaving the
conference (its menu's leave, ConfbridgeKick, a Redirect of its channel to a wrap-up)
leaves the customer connected to the dialer, in the conference. Nor does it give its
members the oldest Linkedid (only bridge_basic.c ``bridge_basic_push`` and res_stasis's
``bridge_stasis_push`` call ``ast_bridge_channel_update_linkedids``): the agent's channel,
which dialled into its own conference, is of another call. Taken for the end of the call,
that leave made the customer's own hangup seconds later "not the first": nothing of the
dialer's call was released and the record said "caller" (47 U.S.C. 227(d)(3)(B), 47 CFR
64.1200, Utah Code 13-25a-103(5)(e) turn on the called party hanging up).

SYNTHESISED events (said here), in the layout of lab call-01 (``BridgeType`` is on every
BridgeEnter/BridgeLeave of Asterisk 22, the bridge snapshot's ``v_table->name``: "basic"
for Dial()'s bridge in lab call-01, "base" for ConfBridge's); names and ids invented.
The dialer's Originate of ``Local/s@dialer/n`` (no optimisation: LocalBridge
``LocalOptimization: No``) puts ``;1`` in the agent's conference; ``;2`` asks the gate and
Dial()s the customer with ``g`` (it runs on after the customer hangs up).
"""

from __future__ import annotations

from callguard.watchdog.calls import CallTracker, Followed, HangupChannel, TrackerSettings

UTAH = "Utah Code 13-25a-103(5)(e)"
AGENT, AGENT_ID = "PJSIP/agent7-00000003", "1795300000.7"  # dialled into its conference
ONE, TWO = "Local/s@dialer-00000011;1", "Local/s@dialer-00000011;2"
ONE_ID, TWO_ID = "1795326441.77", "1795326441.78"
CUSTOMER, CUSTOMER_ID = "PJSIP/itsp-0000002a", "1795326441.80"
CALL = ONE_ID
DIAL, CONF = "b2-dial", "c9-confbridge-agent7"


def _ch(name: str, uid: str, linkedid: str, state: str = "6") -> dict[str, str]:
    return {"Channel": name, "Uniqueid": uid, "Linkedid": linkedid, "ChannelState": state}


def _bridge(event: str, bridge: str, **block: str) -> dict[str, str]:
    kind = ({"BridgeType": "base", "BridgeTechnology": "softmix",
             "BridgeCreator": "ConfBridge", "BridgeName": "agent7"} if bridge == CONF else
            {"BridgeType": "basic", "BridgeTechnology": "simple_bridge",
             "BridgeCreator": "<unknown>", "BridgeName": "<unknown>"})
    return {"Event": event, "BridgeUniqueid": bridge, **kind, **block}


def _conference_call() -> list[dict[str, str]]:
    """Up to the customer talking with the agent through the Local pair."""
    return [
        {"Event": "Newchannel", **_ch(AGENT, AGENT_ID, AGENT_ID, "4")},
        _bridge("BridgeEnter", CONF, **_ch(AGENT, AGENT_ID, AGENT_ID)),
        {"Event": "Newchannel", **_ch(ONE, ONE_ID, CALL, "0")},
        {"Event": "Newchannel", **_ch(TWO, TWO_ID, CALL, "4")},
        {"Event": "LocalBridge", "LocalOneChannel": ONE, "LocalTwoChannel": TWO,
         "LocalOneLinkedid": CALL, "LocalTwoLinkedid": CALL, "LocalOptimization": "No"},
        {"Event": "DialBegin", "DestChannel": ONE, "DestUniqueid": ONE_ID,
         "DestLinkedid": CALL, "DialString": "s@dialer/n"},
        {"Event": "DialEnd", "DestChannel": ONE, "DestUniqueid": ONE_ID,
         "DestLinkedid": CALL, "DialStatus": "ANSWER"},
        # the gate answers ;2 here (``follow`` after this event)
        {"Event": "Newchannel", **_ch(CUSTOMER, CUSTOMER_ID, CALL, "0")},
        {"Event": "DialBegin", **_ch(TWO, TWO_ID, CALL), "DestChannel": CUSTOMER,
         "DestUniqueid": CUSTOMER_ID, "DestLinkedid": CALL,
         "DialString": "itsp/+18015550123"},
        {"Event": "DialEnd", **_ch(TWO, TWO_ID, CALL), "DestChannel": CUSTOMER,
         "DestUniqueid": CUSTOMER_ID, "DestLinkedid": CALL, "DialStatus": "ANSWER"},
        _bridge("BridgeEnter", DIAL, **_ch(TWO, TWO_ID, CALL)),
        _bridge("BridgeEnter", DIAL, **_ch(CUSTOMER, CUSTOMER_ID, CALL)),
        # ;1 runs ConfBridge(agent7): a base bridge keeps every member's Linkedid
        _bridge("BridgeEnter", CONF, **_ch(ONE, ONE_ID, CALL)),
    ]


def _run(events: list[dict[str, str]]) -> tuple[list[tuple[str, dict]], list[object]]:
    reports: list[tuple[str, dict]] = []
    tracker = CallTracker(TrackerSettings(), report=lambda n, **f: reports.append((n, f)))
    effects: list[object] = []
    at = 10.0
    for i, event in enumerate(events):
        at = 10.0 + i * 0.1
        effects += tracker.feed(event, at)
        if i == 6:
            effects += tracker.follow(Followed("d-1", CALL, "c", "prerecorded", 25.0, UTAH,
                                               "+4930123456", asker=TWO))
    effects += tracker.due(at + 1.0)
    for event in [{"Event": "Hangup", "Cause": "16", **_ch(ONE, ONE_ID, CALL)},
                  {"Event": "Hangup", "Cause": "16", **_ch(TWO, TWO_ID, CALL)}]:
        at += 0.1
        effects += tracker.feed(event, at)
    return reports, effects


def _hangups(effects: list[object]) -> list[str]:
    return sorted({e.channel for e in effects if isinstance(e, HangupChannel)})


def _customer_hangs_up() -> list[dict[str, str]]:
    """The customer's BYE: its own BridgeLeave and Hangup (the Dial() callee's imparted
    thread), then ``;2`` pushed out of the dissolving Dial() bridge, running on (``g``)."""
    return [_bridge("BridgeLeave", DIAL, **_ch(CUSTOMER, CUSTOMER_ID, CALL)),
            {"Event": "Hangup", "Cause": "16", **_ch(CUSTOMER, CUSTOMER_ID, CALL)},
            _bridge("BridgeLeave", DIAL, **_ch(TWO, TWO_ID, CALL))]


def test_the_agent_leaving_a_conference_alive_does_not_end_the_customers_call():
    """The agent leaves the conference and stays up (a wrap-up); the customer, alone in it
    with the dialer's ``;1``, hangs up: the called party ended the call, and the dialer's
    channels are released. Fails on d39bcc3: the agent's BridgeLeave was taken for the end,
    nothing was hung up and the record said "caller"."""
    reports, effects = _run([*_conference_call(),
                             _bridge("BridgeLeave", CONF, **_ch(AGENT, AGENT_ID, AGENT_ID)),
                             *_customer_hangs_up()])
    assert _hangups(effects) == [ONE, TWO]
    assert AGENT not in _hangups(effects)
    [record] = [f for n, f in reports if n == "line-release"]
    assert record["ended_by"] == "called-party"
    assert record["within_limit"] is True


def test_the_agent_leaving_then_hanging_up_leaves_the_customer_in_the_conference():
    """The agent leaves the conference and hangs up: the customer is still connected to
    the dialer (nothing dissolves a ConfBridge), and its hangup is still what the release
    turns on (its Hangup is the call's first: the agent's is of another call)."""
    reports, effects = _run([*_conference_call(),
                             _bridge("BridgeLeave", CONF, **_ch(AGENT, AGENT_ID, AGENT_ID)),
                             {"Event": "Hangup", "Cause": "16",
                              **_ch(AGENT, AGENT_ID, AGENT_ID)},
                             *_customer_hangs_up()])
    assert _hangups(effects) == [ONE, TWO]
    [record] = [f for n, f in reports if n == "line-release"]
    assert record["ended_by"] == "called-party"


def test_the_customer_hanging_up_in_the_conference_is_released_as_before():
    """The control: the agent stays in its conference; the customer's hangup releases the
    dialer's pair and never the agent's own line."""
    reports, effects = _run([*_conference_call(), *_customer_hangs_up()])
    assert _hangups(effects) == [ONE, TWO]
    [record] = [f for n, f in reports if n == "line-release"]
    assert record["ended_by"] == "called-party"


def _torn_down(linkedid: str) -> list[dict[str, str]]:
    """The dialer ends the call: ``;1``, pushed out of its dissolving bridge, hangs up
    (no ``g``), and core_unreal.c ``ast_unreal_hangup`` takes ``;2`` with it; the
    customer's BYE races them (its BridgeLeave first in the Dial() bridge)."""
    return [{"Event": "Hangup", "Cause": "16", **_ch(ONE, ONE_ID, linkedid)},
            *_customer_hangs_up(),
            {"Event": "Hangup", "Cause": "16", **_ch(TWO, TWO_ID, CALL)}]


def _basic(events: list[dict[str, str]]) -> list[dict[str, str]]:
    return [{**event, "BridgeType": "basic", "BridgeTechnology": "simple_bridge",
             "BridgeCreator": "<unknown>", "BridgeName": "<unknown>"}
            if event.get("BridgeUniqueid") == CONF else event for event in events]


def test_a_basic_bridge_the_agent_leaves_first_still_says_caller():
    """hast12's rule kept where it holds: the same call with the agent in a basic bridge
    (AgentRequest()'s ``ast_bridge_basic_new``) — its leave dissolves the bridge, ``;1`` is
    pushed out and the dialer ends the call: the customer's hangup after it is not the
    called party ending the call. (hrev16: the dialer's pair hangs up as a teardown does;
    before, its Hangups came only a second after the customer's, which is a call that went
    on: ``test_a_basic_bridge_the_agent_leaves_and_the_call_goes_on_is_released``.)"""
    reports, effects = _run(_basic([
        *_conference_call(),
        _bridge("BridgeLeave", CONF, **_ch(AGENT, AGENT_ID, AGENT_ID)),
        _bridge("BridgeLeave", CONF, **_ch(ONE, ONE_ID, CALL)),
        *_torn_down(CALL)]))
    assert _hangups(effects) == []
    [record] = [f for n, f in reports if n == "line-release"]
    assert record["ended_by"] == "caller"


def test_a_basic_bridge_the_agent_leaves_and_the_call_goes_on_is_released():
    """hrev16: the same, but ``;1`` goes on (``g``: a survey) and ``;2`` too; the customer
    hangs up 0.2 s after the agent's leave, and a second later the dialer's pair is still
    up: the dialer holds the call the called party ended — released, "called-party".
    Fails on 9b0d214 (nothing hung up, "caller": within ``went_on_after_s`` of the agent's
    leave, taken for a teardown whatever followed)."""
    reports, effects = _run(_basic([
        *_conference_call(),
        _bridge("BridgeLeave", CONF, **_ch(AGENT, AGENT_ID, AGENT_ID)),
        _bridge("BridgeLeave", CONF, **_ch(ONE, ONE_ID, CALL)),
        *_customer_hangs_up()]))
    assert _hangups(effects) == [ONE, TWO]
    assert AGENT not in _hangups(effects)
    [record] = [f for n, f in reports if n == "line-release"]
    assert record["ended_by"] == "called-party"


# --- a transferer leaving hands the call on, whatever Linkedid its event shows ---------

AGENT_BRIDGE = "b1-ami-bridge"


def _bridged_agent_call() -> list[dict[str, str]]:
    """The same dialer call, ``;1`` bridged by the dialer (AMI ``Bridge``: manager.c
    ``action_bridge`` puts both in a basic bridge) with the agent's own channel, logged in
    before the call: bridge_basic.c ``bridge_basic_push`` gives ``;1`` the agent's older
    Linkedid."""
    events = [event for event in _conference_call()
              if event.get("BridgeUniqueid") != CONF]
    return [*events,
            _bridge("BridgeEnter", AGENT_BRIDGE, **_ch(ONE, ONE_ID, AGENT_ID)),
            _bridge("BridgeEnter", AGENT_BRIDGE, **_ch(AGENT, AGENT_ID, AGENT_ID))]


def _blind_transfer() -> dict[str, str]:
    """The agent's blind transfer of ``;1`` to the closers' queue (bridge.c
    ``ast_bridge_transfer_blind``, two parties: ``;1`` queued to the new extension,
    ``ast_bridge_remove`` of the agent, then ``publish_blind_transfer``). Every Linkedid
    on it is the agent's, the oldest of the bridge."""
    return {"Event": "BlindTransfer", "Result": "Success", "IsExternal": "Yes",
            "BridgeUniqueid": AGENT_BRIDGE, "BridgeType": "basic",
            "TransfererChannel": AGENT, "TransfererUniqueid": AGENT_ID,
            "TransfererLinkedid": AGENT_ID, "TransfereeChannel": ONE,
            "TransfereeUniqueid": ONE_ID, "TransfereeLinkedid": AGENT_ID,
            "Context": "queues", "Extension": "closers"}


def test_the_agent_blind_transferring_the_customer_did_not_end_the_call():
    """cacofonisk xfer_blind_abbcac (Asterisk 13) orders it: BlindTransfer, then the
    transferer's BridgeLeave, then the transferee's. The agent handed the customer on to
    the closers' queue; the customer hangs up while it rings: the called party ended the
    call, and the dialer's pair (``;1`` ringing the closers) is released. Fails on
    d39bcc3 (and with only the ConfBridge fix): the transfer named no call of ours (its
    Linkedids are the agent's), the agent's leave was taken for the end, nothing was hung
    up, "caller"."""
    reports, effects = _run([*_bridged_agent_call(), _blind_transfer(),
                             _bridge("BridgeLeave", AGENT_BRIDGE,
                                     **_ch(AGENT, AGENT_ID, AGENT_ID)),
                             _bridge("BridgeLeave", AGENT_BRIDGE, **_ch(ONE, ONE_ID, AGENT_ID)),
                             *_customer_hangs_up()])
    assert _hangups(effects) == [ONE, TWO]
    assert AGENT not in _hangups(effects)
    [record] = [f for n, f in reports if n == "line-release"]
    assert record["ended_by"] == "called-party"


def test_the_transfer_event_behind_the_agents_leave_hands_the_call_on_too():
    """The same with the event behind the transferer's BridgeLeave (``ast_bridge_remove``
    only asks the agent's thread to leave; the publish races it)."""
    reports, effects = _run([*_bridged_agent_call(),
                             _bridge("BridgeLeave", AGENT_BRIDGE,
                                     **_ch(AGENT, AGENT_ID, AGENT_ID)),
                             _blind_transfer(),
                             _bridge("BridgeLeave", AGENT_BRIDGE, **_ch(ONE, ONE_ID, AGENT_ID)),
                             *_customer_hangs_up()])
    assert _hangups(effects) == [ONE, TWO]
    [record] = [f for n, f in reports if n == "line-release"]
    assert record["ended_by"] == "called-party"


def test_the_agent_leaving_the_basic_bridge_without_a_transfer_still_says_caller():
    """The control: no transfer, the agent leaves (a Redirect: the basic bridge dissolves,
    ``;1`` is pushed out and hangs up, ``;2`` with it), the customer's hangup after it is not
    the called party's end."""
    reports, effects = _run([*_bridged_agent_call(),
                             _bridge("BridgeLeave", AGENT_BRIDGE,
                                     **_ch(AGENT, AGENT_ID, AGENT_ID)),
                             _bridge("BridgeLeave", AGENT_BRIDGE, **_ch(ONE, ONE_ID, AGENT_ID)),
                             *_torn_down(AGENT_ID)])
    assert _hangups(effects) == []
    [record] = [f for n, f in reports if n == "line-release"]
    assert record["ended_by"] == "caller"


def test_a_real_attended_transfer_the_transferee_ending_the_targets_call_says_caller():
    """REPLAYS cacofonisk originate/ctd-account-account-xfer-attn-abbcac (a real Asterisk
    13 stream): B's consultation call (Linkedid …893.962) to C is handed A by B's attended
    transfer; later A hangs up (its BridgeLeave first, leaving C alone) and C is pushed
    out. The consultation leg's stale leave (B's, before the AttendedTransfer) kept A's
    from counting: C's kicked hangup was recorded as the called party ending the call.
    Fails on d39bcc3 ("called-party"); what is hung up is the same either way."""
    from tests.fake_ami import cacofonisk_events, parse
    from tests.test_watchdog import hangups_of, replay

    events = [parse(e) for e in cacofonisk_events(
        "originate/ctd-account-account-xfer-attn-abbcac.json")]
    first, consult = "c4061ca6474c-1531990887.868", "c4061ca6474c-1531990893.962"
    tracker, reports, effects = replay(events, [first, consult])
    records = {f["decision_id"]: f for name, f in reports if name == "line-release"}
    assert records[f"d-{consult}"]["ended_by"] == "caller"
    # as before: A, the first call's called party, hung up; its call's ctd pair released
    assert records[f"d-{first}"]["ended_by"] == "called-party"
    assert sorted(set(hangups_of(effects))) == [
        f"Local/ID400384@osvpi_proc_connectab_ctd-0000002d;{half}" for half in "12"]
    assert records[f"d-{consult}"]["hangups_sent"] == {}
    assert tracker.calls == {}
