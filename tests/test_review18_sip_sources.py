"""SIP sources on a dual-stack socket (review hrev18): reading ``::ffff:10.1.2.3`` as
10.1.2.3 let IPv4 networks hold IPv4 dialers, but an allowlist or a campaign map written
for the form the socket showed (``::/0``, ``::ffff:10.1.2.0/120``: what an admin wrote
before) no longer held them: every call of that dialer dropped without an answer."""

from __future__ import annotations

from callguard.fronts.sip.mapping import SipMapping
from callguard.fronts.sip.protection import Allowlist

MAPPED = "::ffff:10.1.2.3"


def test_networks_in_either_form_hold_a_dual_stack_ipv4_peer():
    for networks in (["10.1.2.0/24"], ["::ffff:10.1.2.0/120"], ["::ffff:10.1.2.3"],
                     ["::/0"]):
        assert MAPPED in Allowlist(networks), networks
    assert MAPPED not in Allowlist(["10.9.0.0/16", "::ffff:10.9.0.0/112", "2001:db8::/32"])
    assert "10.1.2.3" in Allowlist(["::ffff:10.1.2.0/120"])


def test_campaign_by_source_in_the_mapped_form_and_the_most_specific_wins():
    mapping = SipMapping(campaign_by_source={"::ffff:10.1.2.0/120": "ut-solar-manual",
                                             "10.1.2.3/32": "ut-solar-predictive",
                                             "::/0": "other"})
    assert mapping.campaign_for(None, MAPPED) == "ut-solar-predictive"  # type: ignore[arg-type]
    assert mapping.campaign_for(None, "::ffff:10.1.2.4") == "ut-solar-manual"  # type: ignore[arg-type]
    assert mapping.campaign_for(None, "::ffff:10.7.7.7") == "other"  # type: ignore[arg-type]
