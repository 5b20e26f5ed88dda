"""The shipped AMI user's deny/permit lines, as acl.c reads them on Asterisk 22.

acl.c ``ast_apply_ha`` starts from AST_SENSE_ALLOW and lets the last matching rule decide;
an IPv4 rule is skipped for an IPv6 peer that is not IPv4-mapped ("An IPv4 ACL does not
apply to an IPv6 address"), and an IPv6 rule for an IPv4 (or IPv4-mapped) peer. So
``deny = 0.0.0.0/0.0.0.0`` alone leaves every IPv6 peer allowed whenever AMI listens on
IPv6 (manager.conf [general] ``bindaddr = ::``): the user needs its own IPv6 deny.
"""

from __future__ import annotations

import ipaddress

import pytest

from tests.conftest import ROOT

MANAGER = ROOT / "asterisk-dialplan" / "manager-callguard.conf"


def rules(text: str) -> list[tuple[str, ipaddress.IPv4Network | ipaddress.IPv6Network]]:
    """The [callguard] section's deny/permit lines, in order."""
    out = []
    section = ""
    for raw in text.splitlines():
        line = raw.split(";", 1)[0].strip()
        if line.startswith("["):
            section = line.strip("[]")
        elif section == "callguard" and "=" in line:
            key, _, value = (p.strip() for p in line.partition("="))
            if key in ("deny", "permit"):
                out.append((key, ipaddress.ip_network(value, strict=False)))
    return out


def apply_ha(text: str, peer: str) -> bool:
    """acl.c ast_apply_ha: whether ``peer`` may log in as the user."""
    address = ipaddress.ip_address(peer)
    allowed = True  # "Start optimistic"
    for sense, network in rules(text):
        use: ipaddress.IPv4Address | ipaddress.IPv6Address = address
        if network.version == 4:
            if address.version == 6:
                mapped = address.ipv4_mapped  # type: ignore[union-attr]
                if mapped is None:
                    continue  # an IPv4 ACL does not apply to an IPv6 address
                use = mapped
        elif address.version == 4 or address.ipv4_mapped is not None:  # type: ignore[union-attr]
            continue  # an IPv6 ACL does not apply to an IPv4 (or mapped) address
        if use in network:
            allowed = sense == "permit"
    return allowed


@pytest.mark.parametrize(("peer", "allowed"), [
    ("127.0.0.1", True), ("::ffff:127.0.0.1", True), ("::1", True),
    ("192.0.2.5", False), ("::ffff:192.0.2.5", False),
    ("2001:db8::5", False), ("fe80::1", False),
])
def test_only_the_local_host_may_log_in(peer, allowed):
    assert apply_ha(MANAGER.read_text(), peer) is allowed


def test_the_model_lets_an_ipv4_only_deny_through_over_ipv6():
    """The reason for the IPv6 lines: without them an IPv6 peer is allowed."""
    ipv4_only = "[callguard]\ndeny = 0.0.0.0/0.0.0.0\npermit = 127.0.0.1/255.255.255.255\n"
    assert apply_ha(ipv4_only, "2001:db8::5")
    assert not apply_ha(ipv4_only, "192.0.2.5")
