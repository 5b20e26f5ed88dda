"""What an INVITE asks and how the decision answers it, in SIP terms.

The number is the Request-URI's user part (``sip:8015550123@gate`` or
``tel:+18015550123``); the campaign comes from a header or from the source address, as
configured; mode and location may come from headers. ALLOW is a 302 to the trunk,
carrying the number to present as ``P-Asserted-Identity`` (and no ``Privacy: id``);
BLOCK is a 603 (or 403) with ``Reason: SIP;cause=…;text="<rule id>"`` (RFC 3326).
Every response echoes Via, From, Call-ID and CSeq and adds a To tag (RFC 3261 §8.2.6).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote

from aiosipua import SipRequest
from aiosipua.headers import CaseInsensitiveDict, prettify_header_name

from callguard.decision import Decision
from callguard.fronts.sip.protection import address_forms, plain_network
from callguard.fronts.sip.wire import header_tag
from callguard.gate import CheckRequest, Withdrawal
from callguard.numbers.parse import in_phone_context
from callguard.numbers.redact import redact_digits

__all__ = ["SipMapping", "build_response", "number_of", "quote"]

ALLOW_METHODS = "INVITE, ACK, CANCEL, OPTIONS"
REASONS = {100: "Trying", 200: "OK", 302: "Moved Temporarily", 400: "Bad Request",
           403: "Forbidden", 405: "Method Not Allowed", 416: "Unsupported URI Scheme",
           420: "Bad Extension", 481: "Call/Transaction Does Not Exist",
           482: "Loop Detected",
           487: "Request Terminated",
           500: "Server Internal Error", 503: "Service Unavailable",
           505: "Version Not Supported", 513: "Message Too Large", 603: "Decline"}
_ECHOED = ("via", "from", "to", "call-id", "cseq")
_PRETTY_ECHOED = {name: prettify_header_name(name) for name in _ECHOED}
_PRETTY_CACHE: dict[str, str] = {}
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def quote(text: str) -> str:
    """A quoted-string (RFC 3261 §25.1): backslash and double quote escaped."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def number_of(uri: str) -> str:
    """The dialled number in a Request-URI: the user part, without its parameters.

    A SIP URI's user part may carry any character %-escaped (RFC 3261 §19.1.2, §25.1:
    ``escaped``; §19.1.4 compares user parts unescaped): ``sip:%2B18015550123@gw`` dials
    +18015550123. It is unescaped after the parameters are cut off, so an escaped ``;``
    or ``@`` stays in the number, which the gate then refuses; so does a raw ``@`` past the
    first one, before the headers (a URI that names two users)."""
    scheme, _, rest = uri.partition(":")
    scheme = scheme.lower()
    if scheme == "tel":
        user = rest
    elif scheme in ("sip", "sips"):
        user, at, host = rest.partition("@")
        if not at:
            user = ""
        elif "@" in (hostport := host.split("?", 1)[0]):
            # Two '@' before the headers (sip:8015550123@8015550199@gw): no user part the
            # grammar reads (§25.1: '@' is in neither user nor host). The first '@' made
            # it a call to 8015550123, decided and redirected, where a parser reading the
            # last one sees another user. All before the last '@' is the number, as is
            # (parameters and all): a number holding '@' is refused by the gate.
            return f"{user}@{hostport.rpartition('@')[0]}"
    else:
        raise ValueError(f"unsupported URI scheme {scheme!r}")
    if "?" in user or not _clean_parameters(user):
        # §25.1: '?' is user-unreserved, so the user of sip:8015550123?x@gw is
        # "8015550123?x" (and a tel URI has no headers, RFC 3966 §3): cut at the '?', it was
        # decided as a call to 8015550123. Such a user part, or one whose parameters are not
        # the grammar's, is kept whole (unescaped): no number, the gate refuses it.
        return unquote(user, errors="replace") if scheme != "tel" else user
    number = in_phone_context(user)
    return unquote(number, errors="replace") if scheme != "tel" and "%" in number else number


# RFC 3966 §3: parameter = ";" pname ["=" pvalue]; pname = 1*( alphanum / "-" ); pvalue =
# 1*paramchar; paramchar = param-unreserved / unreserved / pct-encoded
_PNAME = re.compile(r"[A-Za-z0-9-]+")
_PVALUE = re.compile(r"(?:[\[\]/:&+$A-Za-z0-9_.!~*'()-]|%[0-9A-Fa-f]{2})+")
# RFC 2806 post-dial (;postd=): digits sent into the call once it answers — a second number
# reached through the first (an access number, then the one called), never checked
_REFUSED_PARAMETERS = frozenset({"postd"})
# RFC 3966 §3: extension = ";ext=" 1*phonedigit; phonedigit = DIGIT / visual-separator.
# §5.2: a station behind a PBX (read as its line's number); a pause or wait ('p', 'w'),
# '*' or '#' would make it RFC 2806's post-dial string under another name
_EXTENSION = re.compile(r"[0-9().-]+")


def _clean_parameters(user: str) -> bool:
    """Whether a URI user part's ``;`` parameters (a ``telephone-subscriber``'s: RFC 3966
    §3, RFC 3261 §19.1.6) are the grammar's — ``;name`` or ``;name=value``, each name once
    — and none of them dials more than the number (``postd``). A name is compared
    unescaped and case-insensitively (§19.1.4: ``phone%2Dcontext`` is ``phone-context``):
    a second ``phone-context`` (``8015550123;phone-context=+1;phone-context=+44``, the
    grammar's one ``context``) names another number to a reader that takes the last one.
    ``isub`` (a subaddress), ``ext`` (an extension), ``rn``/``npdi`` (RFC 4694) and other
    well-formed parameters reach the number's own line: read as before — an ``ext`` only
    in its own grammar, ``1*phonedigit`` (read unescaped): ``;ext=pp8015550199`` is a
    post-dial string, a second number, as ``postd`` is. Every value is
    held to ``paramchar``, an ``isub``'s too (its ``uric`` would also take ``?``, ``=``,
    ``,``): a subaddress that needs them is refused, fail closed."""
    _, semi, params = user.partition(";")
    if not semi:
        return True
    seen: set[str] = set()
    for param in params.split(";"):
        name, equals, value = param.partition("=")
        name = unquote(name, errors="replace").lower()
        if (_PNAME.fullmatch(name) is None or name in seen or name in _REFUSED_PARAMETERS
                or (equals and _PVALUE.fullmatch(value) is None)):
            return False
        if name == "ext" and _EXTENSION.fullmatch(unquote(value, errors="replace")) is None:
            return False
        seen.add(name)
    return True


@dataclass(frozen=True, slots=True)
class SipMapping:
    """Where number, campaign, mode and location come from (``[sip]`` settings)."""

    campaign_header: str = "X-Callguard-Campaign"
    campaign_by_source: Mapping[str, str] | None = None  # network -> campaign id
    mode_header: str = "X-Callguard-Mode"
    location_header: str = "X-Callguard-Location"
    _networks: tuple[tuple[IPNetwork, str], ...] = field(default=(), init=False, repr=False)

    def __post_init__(self) -> None:
        networks = [(plain_network(net), campaign)
                    for net, campaign in (self.campaign_by_source or {}).items()]
        # the most specific network wins
        networks.sort(key=lambda item: item[0].prefixlen, reverse=True)
        object.__setattr__(self, "_networks", tuple(networks))

    def campaign_for(self, request: SipRequest, source: str) -> str:
        """The source's campaign when sources are mapped, else the header's."""
        if self.campaign_by_source:
            forms = address_forms(source)  # ::ffff:10.1.2.3 is 10.1.2.3 (dual stack)
            for network, campaign in self._networks:
                if any(address in network for address in forms):
                    return campaign
            return ""
        return request.headers.get_first(self.campaign_header) or ""

    def repeated(self, request: SipRequest) -> str | None:
        """The first question header given more than once, or None. Each takes one value:
        two say two things (RFC 3261 §7.3.1 allows a repeated header only for a
        comma-separated list), so none wins — the INVITE is refused, as FastAGI refuses
        a repeated header line."""
        names = (self.mode_header, self.location_header) if self.campaign_by_source else (
            self.campaign_header, self.mode_header, self.location_header)
        for name in names:
            values = request.headers.get(name)
            if values is not None and len(values) > 1:
                return name
        return None

    def check_request(self, request: SipRequest, source: str,
                      withdrawal: Withdrawal | None = None) -> CheckRequest:
        """The gate's question; validation (number, campaign, mode) is the gate's job."""
        headers = request.headers
        return CheckRequest(
            number=number_of(request.uri),
            campaign=self.campaign_for(request, source),
            mode=headers.get_first(self.mode_header) or None,
            location=headers.get_first(self.location_header) or None,
            front="sip",
            reference=(request.call_id or "")[:200] or None,
            withdrawal=withdrawal,
            withheld=withheld_presentation(headers),
        )


# RFC 3323 §4.2 / RFC 3325 §9.3 priv-values that hide who calls; "none" asks for nothing
# and "session" hides media only. An unknown value may hide it: it counts (fail closed).
_SHOWING = frozenset({"none", "session"})
# What ``withheld_presentation`` reads (compact ``f`` too): part of a request's identity.
WITHHOLDING_HEADERS = ("privacy", "remote-party-id", "from", "f", "p-asserted-identity",
                       "p-preferred-identity")
_TOKEN = frozenset("abcdefghijklmnopqrstuvwxyz-")  # no digit: a number never passes
_DISPLAY_NAME = re.compile(r'\s*"(?:[^"\\]|\\.)*"', re.DOTALL)  # §25.1 quoted-string


def withheld_presentation(headers: CaseInsensitiveDict) -> str | None:
    """What in the INVITE withholds the caller ID of the call the dialer places on a 302,
    or None. RFC 3261 §8.1.3.4: the redirected request keeps the original's headers, so a
    ``Privacy: id`` (or ``header``, ``user``; RFC 3323, RFC 3325), a Remote-Party-ID
    ``privacy=`` other than ``off``, or an anonymous From, P-Asserted-Identity or
    P-Preferred-Identity (RFC 3323 §4.1.1.3; RFC 3325) goes out to
    the trunk with it — a call with its caller ID blocked (47 CFR 64.1601(e)). Said in
    fixed words and tokens only: a header's other text (a number) never reaches a record.

    Every Privacy and Remote-Party-ID line counts, not the first (hrev31: ``Privacy:
    none`` then ``Privacy: id`` was ALLOWed, the trunk sent both); a Remote-Party-ID
    without angle brackets has its parameters after its first ``;``; an anonymous From
    user is compared unescaped (§19.1.4: ``%61nonymous`` is ``anonymous``).
    """
    for privacy in headers.get("privacy") or ():
        values = [v.strip().lower() for v in privacy.replace(",", ";").split(";") if v.strip()]
        hiding = [v for v in values if v not in _SHOWING]
        if hiding:
            return "Privacy: " + ";".join(_shown(v) for v in hiding)
    for rpid in headers.get("remote-party-id") or ():
        if "privacy" not in rpid.lower():
            continue
        for party in _identities(rpid):  # a list of rpids on one line; each is read
            params = party.partition(">")[2] if ">" in party else party.partition(";")[2]
            for param in params.split(";"):
                name, _, value = param.partition("=")
                if name.strip().lower() == "privacy":
                    value = value.strip().strip('"').lower()
                    if value not in ("off", "no"):
                        return f"Remote-Party-ID privacy={_shown(value)}"
    for name, said in (("from", "From"), ("p-asserted-identity", "P-Asserted-Identity"),
                       ("p-preferred-identity", "P-Preferred-Identity")):
        if any(_anonymous(value) for line in headers.get(name) or ()
               for value in _identities(line)):
            return f"{said}: anonymous"
    return None


def _identities(line: str) -> list[str]:
    """The comma-separated values of one header line (RFC 3325 §9.1: a
    P-Asserted-Identity line may carry a SIP and a tel URI), a comma inside a quoted
    display-name or angle brackets kept."""
    values: list[str] = []
    start, quoted, bracketed, escaped = 0, False, False, False
    for i, char in enumerate(line):
        if escaped:
            escaped = False
        elif quoted:
            escaped, quoted = char == "\\", char != '"'
        elif char == '"':
            quoted = True
        elif char == "<":
            bracketed = True
        elif char == ">":
            bracketed = False
        elif char == "," and not bracketed:
            values.append(line[start:i])
            start = i + 1
    values.append(line[start:])
    return values


def _anonymous(value: str) -> bool:
    """Whether a name-addr or addr-spec header value is the anonymous identity (RFC 3323
    §4.1.1.3: user ``anonymous`` or host ``anonymous.invalid``), compared unescaped."""
    if "anonymous" not in unquote(value, errors="replace").lower():
        return False
    # past a quoted display-name (its "<" or ":" is no address: '"<a:b>" <sip:…>')
    named = _DISPLAY_NAME.match(value)
    rest = value[named.end():] if named else value
    address = rest.partition("<")[2].partition(">")[0] if "<" in rest else (
        rest.partition(";")[0])
    user, _, host = address.partition(":")[2].partition("@")
    user, host = (unquote(part, errors="replace").strip().lower() for part in (user, host))
    return user == "anonymous" or host.startswith("anonymous.invalid")


def _shown(value: str) -> str:
    """A privacy token as sent, or a fixed word for anything that is not one."""
    return value if 0 < len(value) <= 16 and set(value) <= _TOKEN else "(unrecognized)"


def build_response(request: SipRequest, status: int, *, to_tag: str,
                   headers: tuple[tuple[str, str], ...] = (),
                   reason: str | None = None) -> bytes:
    """A response to ``request`` (§8.2.6) on the wire: echoed headers, our To tag, extras.

    Written straight to bytes (no message object): the same octets aiosipua's
    ``SipResponse`` would give — values grouped by header name in first-seen order,
    canonical name casing, ``Content-Length: 0`` last — at a third of the cost.
    A value with a line break raises ValueError, as aiosipua's header setters do.
    ``reason``: a reason phrase of ours that says more than the status's (§21.4.1).
    """
    groups: dict[str, list[str]] = {}
    names: dict[str, str] = {}
    for name in _ECHOED:
        values = request.headers.get(name)
        if not values:
            continue
        if name == "to" and status != 100:
            # §8.2.6.2: a tag unless the request's To has one (``header_tag``: not a
            # ";tag=" in its display-name or its URI)
            values = [value if header_tag(value) is not None
                      else f"{value};tag={to_tag}" for value in values]
        groups[name] = list(values)
        names[name] = _PRETTY_ECHOED[name]
    for name, value in headers:
        key = name.lower()
        group = groups.get(key)
        if group is None:
            groups[key] = group = []
            names[key] = _pretty(name)
        group.append(value)
    groups["content-length"] = ["0"]  # replaced where it stands, else last
    names["content-length"] = "Content-Length"
    lines = [f"SIP/2.0 {status} {reason or REASONS.get(status, '')}"]
    for key, values in groups.items():
        pretty = names[key]
        for value in values:
            if "\r" in value or "\n" in value:
                raise ValueError(f"Header value for {pretty} contains line breaks")
            lines.append(f"{pretty}: {value}")
    lines.append("\r\n")
    return "\r\n".join(lines).encode("utf-8")


def _pretty(name: str) -> str:
    """aiosipua's canonical casing of a header name, remembered (names are few)."""
    pretty = _PRETTY_CACHE.get(name)
    if pretty is None:
        if "\r" in name or "\n" in name or ":" in name:
            raise ValueError(f"Invalid header name: {name!r}")
        pretty = prettify_header_name(name)
        if len(_PRETTY_CACHE) < 256:
            _PRETTY_CACHE[name] = pretty
    return pretty


def decision_headers(decision: Decision, *, trunk: str, identity_header: str,
                     block_status: int) -> tuple[int, tuple[tuple[str, str], ...]]:
    """The status and headers that carry a decision to the dialer."""
    verdict = decision.verdict
    deciding = verdict.deciding
    common = (("X-Callguard-Decision", decision.decision_id),)
    if decision.allowed and decision.campaign is not None:
        number = decision.number.e164 if decision.number is not None else decision.raw_number
        contact = trunk.replace("{number}", number)
        caller = decision.campaign.caller_id
        return 302, (("Contact", f"<{contact}>"),
                     (identity_header, f"<tel:{caller}>"), *common)
    rule = deciding.rule_id if deciding is not None else "callguard:blocked"
    return block_status, (("Reason", f"SIP;cause={block_status};text={quote(rule)}"),
                          # redacted, then cut: a cut first kept a number's first digits
                          ("X-Callguard-Reason", redact_digits(
                              verdict.reason.replace("\r", " ").replace("\n", " "))[:300]),
                          *common)
