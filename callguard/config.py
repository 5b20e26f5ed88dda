"""Settings: one TOML file (``--config`` or ``CALLGUARD_CONFIG``), validated at load.

Secrets never live in this file; they come from the environment or secret files.
Every error names the key and says how to fix it.
"""

from __future__ import annotations

import difflib
import ipaddress
import math
import os
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import partial
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit, urlunsplit

from callguard.case_files import CASES_SUFFIX
from callguard.compliance.sinks import LogSettings
from callguard.datadir import choose_data_dir
from callguard.errors import ConfigError, NumberError
from callguard.fronts.fastagi.settings import FastAgiSettings
from callguard.fronts.http.settings import HttpSettings
from callguard.fronts.sip.settings import SipSettings
from callguard.numbers import NumberParser
from callguard.numbers.callback import CITATION as CALLBACK_CITATION
from callguard.numbers.callback import Unreachable, unreachable
from callguard.numbers.location import STATE_CODES, widest_area_codes
from callguard.numbers.nanp import area_code_zones
from callguard.numbers.redact import clipped_repr
from callguard.policy import (
    Campaign,
    DialingMode,
    Pack,
    Policy,
    PolicySettings,
    Registration,
    RegistrationExemption,
    pack_from_mapping,
)
from callguard.policy.calendar import ProclaimedDay
from callguard.policy.model import with_seller_subjects
from callguard.policy.packs import rule_table_digest
from callguard.policy.rules import SolicitorRegistration
from callguard.resources import bundled_config
from callguard.resources import packs_dir as bundled_packs_dir
from callguard.stores.redis.records import RecordsSettings
from callguard.tomlfile import read_config, read_toml
from callguard.watchdog.settings import AmiSettings

__all__ = ["KNOWN_ENVIRONMENT", "ConfigErrors", "Settings", "caller_id_warnings",
           "chosen_packs_dir", "config_problems", "environment_warnings", "load_pack_file",
           "load_settings", "pack_files", "unreachable_caller_ids"]

# The bundled demo, inside the package (callguard/data): present in a wheel as in a clone.
DEFAULT_CONFIG = bundled_config()
_KNOWN_TOP = {"ami", "callguard", "campaigns", "fastagi", "http", "interpretations", "lists",
              "log", "proclaimed_days", "records", "redis", "sip"}
_KNOWN_MAIN = {"data_dir", "packs_dir", "enabled_packs", "dial_prefixes", "regions",
               "max_candidate_zones", "unknown_local_time", "expiry_warning_days"}
_KNOWN_CAMPAIGN = {"id", "solicitor", "caller_id", "default_mode", "origin_state", "subject",
                   "house_policies", "registration", "exemption", "dialer_is_atds",
                   "counsel_reference", "telemarketer"}


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """Everything loaded from the configuration file, validated."""

    path: Path
    data_dir: Path
    packs: Mapping[str, Pack]
    enabled_packs: tuple[str, ...]
    campaigns: Mapping[str, Campaign]
    dial_prefixes: tuple[str, ...]
    regions: frozenset[str]
    policy_settings: PolicySettings
    interpretations: Mapping[str, str] = field(default_factory=dict)
    proclaimed: tuple[tuple[str, ProclaimedDay], ...] = ()
    expiry_warning_days: int = 30
    log: LogSettings = field(default_factory=LogSettings)
    records: RecordsSettings = field(default_factory=RecordsSettings)
    http: HttpSettings = field(default_factory=HttpSettings)
    fastagi: FastAgiSettings = field(default_factory=FastAgiSettings)
    ami: AmiSettings = field(default_factory=AmiSettings)
    sip: SipSettings = field(default_factory=SipSettings)
    lists_backend: str = "embedded"  # or "redis"
    # Lists a pack reads that this site does not load on purpose (a state it never calls):
    # calls in their scope are still BLOCKed, but /readyz and `config check` do not fail.
    lists_not_loaded: frozenset[str] = frozenset()
    # [lists] copy_warning_days: warn this many days before a list copy goes stale; None:
    # when a quarter of its usable life remains, at most expiry_warning_days (hexp25).
    list_copy_warning_days: int | None = None
    redis_url: str = "redis://127.0.0.1:6379/0"
    # Where data_dir came from ("--data-dir", "CALLGUARD_DATA_DIR", the file, a default).
    data_dir_source: str = ""
    packs_dir: Path | None = None

    def policy(self) -> Policy:
        """The decision core over the enabled packs."""
        return Policy({k: self.packs[k] for k in self.enabled_packs}, self.policy_settings)

    def http_token(self) -> bytes:
        """The HTTP port's bearer token: ``CALLGUARD_HTTP_TOKEN`` or ``[http] token_file``."""
        token = os.environ.get("CALLGUARD_HTTP_TOKEN", "")
        source = "CALLGUARD_HTTP_TOKEN"
        if not token and self.http.token_file:
            path = self.path.parent / self.http.token_file
            source = f"[http] token_file {path}"
            try:
                token = path.read_text().strip()
            except OSError as exc:
                raise ConfigError(f"{source}: {exc.strerror}; write the token there (at least "
                                  "16 characters) or set CALLGUARD_HTTP_TOKEN") from None
        if not token:
            raise ConfigError("[http] is enabled: set CALLGUARD_HTTP_TOKEN or [http] token_file "
                              "to a secret of at least 16 characters")
        if token != token.rstrip() or token.lstrip(" \t") != token.lstrip():
            # HTTP drops a header value's trailing whitespace (RFC 9110 5.5), and a line
            # break is no part of one, so no client could ever send such a token: every
            # request was 401 with nothing said why. A leading space or tab is sent as it
            # is ("Bearer  token": _auth reads all after the scheme's one space) and such
            # a token worked: refusing it stopped a working node at its upgrade (hrev89).
            raise ConfigError(f"[http] is enabled: the token from {source} ends with "
                              "whitespace or starts with a line break (copied with a space "
                              "or a line break?); no client can send it: remove it")
        if len(token) < 16:
            # Set, but too short: say which one, so the admin does not go looking for a
            # variable that is there (the length only; never the token).
            raise ConfigError(f"[http] is enabled: the token from {source} has {len(token)} "
                              "character(s); it needs at least 16 (openssl rand -hex 24)")
        return token.encode()

    def parser(self) -> NumberParser:
        """A number parser for this site."""
        return NumberParser(dial_prefixes=self.dial_prefixes, regions=self.regions)


# A type as the message names it ("port must be a int" read as a typo of ours).
_KIND_WORDS = {int: "an integer", str: "a string", bool: "true or false", float: "a number",
               list: "a list"}


def _typed(where: str, table: Mapping[str, Any], key: str, kind: type, default: Any) -> Any:
    _table(where, table)
    value = table.get(key, default)
    # TOML's true is a Python int: `port = true` was port 1
    wrong_bool = isinstance(value, bool) and kind is not bool
    if value is not None and (wrong_bool or not isinstance(value, kind)):
        got = str(value).lower() if isinstance(value, bool) else repr(value)
        raise ConfigError(f"{where}: {key} must be "
                          f"{_KIND_WORDS.get(kind, 'a ' + kind.__name__)}, got {got}")
    return value


def _table(where: str, table: Mapping[str, Any]) -> None:
    if not isinstance(table, Mapping):  # `callguard = 5`: a key where a [table] belongs
        raise ConfigError(f"{where}: must be a table (a [section] heading and its keys), "
                          f"got {table!r}")


def _unknown(where: str, table: Mapping[str, Any], known: set[str]) -> None:
    _table(where, table)
    extra = sorted(set(table) - known)
    if extra:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(extra)}; "
                          f"known: {', '.join(sorted(known))}")


def pack_files(packs_dir: Path) -> list[Path]:
    """The pack files of a directory (the ``*.tests.toml`` statute cases are not packs)."""
    return [p for p in sorted(packs_dir.glob("*.toml")) if not p.name.endswith(CASES_SUFFIX)]


def load_pack_file(path: Path, *, choices: Mapping[str, str] | None = None,
                   proclaimed: tuple[tuple[str, ProclaimedDay], ...] = ()) -> Pack:
    """Read and check one pack file; its id must be its file name."""
    doc = read_toml(path)
    pack = pack_from_mapping(doc, origin=str(path), choices=choices, proclaimed=proclaimed)
    if pack.id != path.stem:
        raise ConfigError(f"{path}: pack id {pack.id!r} must match the file name")
    return pack


def chosen_packs_dir(config: Path, configured: str) -> Path:
    """``packs_dir`` relative to the file; empty or absent: the packs installed with callguard
    (an upgrade brings new pack versions; copy them with ``callguard init --copy-packs`` to
    pin them instead)."""
    return (config.parent / configured).resolve() if configured else bundled_packs_dir()


def _same_as_shipped(path: Path, pack: Pack) -> None:
    """Refuse a copy of a shipped pack whose rules differ from the shipped text of the same
    version: TOML has no end marker, so a copy cut at a line boundary parses (us-ut with one
    rule of six), and a record names a pack by id and version — ``explain`` would render the
    shipped rules for calls the cut copy judged. An edit must carry a version of its own."""
    shipped = bundled_packs_dir() / path.name
    if path.resolve() == shipped.resolve() or not shipped.is_file():
        return
    try:
        doc = read_toml(shipped)
        head = doc.get("pack", {})
        same_version = head.get("id") == pack.id and head.get("version") == pack.version
    except (ConfigError, OSError, AttributeError):
        return  # the shipped file itself is judged where it is loaded
    if same_version and rule_table_digest(doc) != pack.digest:
        raise ConfigError(
            f"{path}: pack {pack.id} {pack.version} differs from the shipped {pack.id} "
            f"{pack.version} (rule table {pack.digest}, shipped {rule_table_digest(doc)}): "
            "a copy cut short or edited without a new version; copy it again with "
            "`callguard init --copy-packs`, or give the edit a version of its own")


def _load_packs(packs_dir: Path, choices: Mapping[str, str],
                proclaimed: tuple[tuple[str, ProclaimedDay], ...], *,
                config: str = "") -> dict[str, Pack]:
    """The packs of ``packs_dir``; ``config``, the configuration file that chose them and
    the readings, opens each message about it (an error must name the file to edit)."""
    at = f"{config} " if config else ""
    if not packs_dir.is_dir():
        raise ConfigError(f"{at}[callguard]: packs_dir {packs_dir} is not a directory")
    packs: dict[str, Pack] = {}
    for path in pack_files(packs_dir):
        pack = load_pack_file(path, choices=choices, proclaimed=proclaimed)
        _same_as_shipped(path, pack)
        packs[pack.id] = pack
    known = {i.id for pack in packs.values() for i in pack.interpretations}
    unknown = sorted(set(choices) - known)
    if unknown:
        raise ConfigError(f"{at}[interpretations]: unknown {', '.join(unknown)}; the packs "
                          f"declare: {', '.join(sorted(known)) or 'none'}")
    calendars = {c for pack in packs.values() for c in pack.calendars}
    stray = sorted({cid for cid, _ in proclaimed} - calendars)
    if stray:
        raise ConfigError(f"{at}[[proclaimed_days]]: unknown calendar {', '.join(stray)}; "
                          f"calendars: {', '.join(sorted(calendars)) or 'none'}")
    return packs


def _interpretations(where: str, raw: object) -> dict[str, str]:
    if not isinstance(raw, Mapping) or not all(isinstance(v, str) for v in raw.values()):
        raise ConfigError(f"{where}: write interpretation = \"option\", e.g. "
                          "\"us-ut:between-hours\" = \"ends-callable\"")
    return dict(raw)


def _proclaimed(where: str, raw: object) -> tuple[tuple[str, ProclaimedDay], ...]:
    if not isinstance(raw, list):
        raise ConfigError(f"{where}: use [[proclaimed_days]] entries")
    days = []
    for index, entry in enumerate(raw):
        at = f"{where}[{index}]"
        if not isinstance(entry, Mapping):
            raise ConfigError(f"{at}: must be a table")
        _unknown(at, entry, {"calendar", "date", "name", "citation", "moves"})
        calendar, day, name, citation = (entry.get(k) for k in
                                         ("calendar", "date", "name", "citation"))
        if not (isinstance(calendar, str) and isinstance(day, date)
                and not isinstance(day, datetime) and isinstance(name, str)
                and isinstance(citation, str) and citation.strip()):
            raise ConfigError(f"{at}: needs calendar = \"us-ut:legal-holidays\", date = "
                              "YYYY-MM-DD (unquoted), name = \"...\" and citation = \"...\" "
                              "(the proclamation and the subsection that makes it a holiday)")
        moves = entry.get("moves", True)
        if not isinstance(moves, bool):
            raise ConfigError(f"{at}: moves must be true (a day of fast or thanksgiving: a "
                              "Saturday or Sunday moves as the calendar's holidays do) or false "
                              "(a holiday the governor declares in addition to them: the day "
                              "itself), unquoted")
        days.append((calendar, ProclaimedDay(day, name, citation, moves)))
    return tuple(days)


def _registration(where: str, raw: Mapping[str, Any]) -> Registration:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}.registration must be a table")
    _unknown(f"{where}.registration", raw, {"number", "expires"})
    number, expires = raw.get("number"), raw.get("expires")
    if not isinstance(number, str) or not isinstance(expires, date):
        raise ConfigError(f"{where}.registration needs number = \"...\" and expires = "
                          "YYYY-MM-DD (a TOML date, unquoted)")
    return Registration(number, expires)


def _exemption(where: str, raw: Mapping[str, Any],
               paragraphs: frozenset[str]) -> RegistrationExemption:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}.exemption must be a table")
    _unknown(f"{where}.exemption", raw, {"citation", "reason"})
    citation, reason = raw.get("citation"), raw.get("reason")
    if not isinstance(citation, str) or not isinstance(reason, str):
        raise ConfigError(f"{where}.exemption needs citation = \"13-26a-104(1)(x)\" and "
                          "reason = \"...\"")
    if citation not in paragraphs:
        raise ConfigError(f"{where}.exemption citation {citation!r} is not a paragraph an "
                          "enabled pack lists as an exemption; listed: "
                          f"{', '.join(sorted(paragraphs)) or 'none'}")
    return RegistrationExemption(citation, reason)


def _house_policies(where: str, raw: Mapping[str, Any], packs: Mapping[str, Pack],
                    enabled: tuple[str, ...]) -> tuple[str, ...]:
    """The house-policy packs a campaign opts into; statutes are never listed (nor left out)."""
    statutes = [p for p in enabled if packs[p].is_statute]
    if "packs" in raw:
        raise ConfigError(
            f"{where}: 'packs' is not read: statute packs ({', '.join(statutes)}) apply to "
            "every call in their scope and cannot be left out of a campaign; name the "
            "house-policy packs the campaign opts into with house_policies = [...]")
    chosen = _typed(where, raw, "house_policies", list, [])
    if not all(isinstance(p, str) for p in chosen):
        raise ConfigError(f"{where}: house_policies is a list of pack ids")
    house = [p for p in enabled if not packs[p].is_statute]
    for pack_id in chosen:
        if pack_id in statutes:
            raise ConfigError(f"{where}: {pack_id} is a statute; it applies to every campaign "
                              "without being listed. house_policies names only house-policy "
                              f"packs: {', '.join(house) or 'none enabled'}")
        if pack_id not in house:
            raise ConfigError(f"{where}: house policy {pack_id!r} is not enabled; enabled "
                              f"house policies: {', '.join(house) or 'none'}")
    return tuple(chosen)


def _exemption_paragraphs(packs: Mapping[str, Pack], enabled: tuple[str, ...]) -> frozenset[str]:
    return frozenset(c for p in enabled for v in packs[p].versioned for rv in v.versions
                     if isinstance(rv.rule, SolicitorRegistration) for c in rv.rule.citations)


def _campaign(
    index: int, raw: Mapping[str, Any], packs: Mapping[str, Pack], enabled: tuple[str, ...],
    parser: NumberParser, config: str,
) -> Campaign:
    where = f"{config} campaigns[{index}]"
    campaign_id = _typed(where, raw, "id", str, None)
    if not campaign_id:
        raise ConfigError(f"{where}: every campaign needs id = \"...\"")
    if "," in campaign_id or any(c.isspace() or not c.isprintable() for c in campaign_id):
        # the dialplan passes it as one AGI argument (a comma splits it, the FastAGI front
        # refuses a control or no-break character), and a space is invisible in a reason
        raise ConfigError(f"{where}: id {campaign_id!r} holds a space, a comma or an "
                          "invisible character; use letters, digits, '-', '_' or '.'")
    where = f"{config} campaign {campaign_id!r}"
    house_policies = _house_policies(where, raw, packs, enabled)
    _unknown(where, raw, _KNOWN_CAMPAIGN)
    solicitor = _typed(where, raw, "solicitor", str, None)
    if not solicitor:
        raise ConfigError(f"{where}: solicitor (the seller the campaign calls for) is required;"
                          " consent and do-not-call records belong to it")
    telemarketer = _telemarketer(where, raw, solicitor)
    caller_id = _typed(where, raw, "caller_id", str, "")
    try:
        caller_e164 = parser.parse(caller_id).e164
    except NumberError as exc:
        raise ConfigError(f"{where}: caller_id {caller_id!r} is not a number callguard can "
                          f"present ({exc}); use E.164 like +18015550100") from None
    mode_text = _typed(where, raw, "default_mode", str, "manual")
    try:
        mode = DialingMode(mode_text)
    except ValueError:
        known = ", ".join(m.value for m in DialingMode)
        raise ConfigError(f"{where}: default_mode {mode_text!r}; use one of {known}") from None
    origin = _typed(where, raw, "origin_state", str, None)
    if origin is not None and origin not in STATE_CODES:
        raise ConfigError(f"{where}: origin_state {origin!r}: use a US state or territory "
                          "code like \"UT\"")
    registration = raw.get("registration")
    exemption = raw.get("exemption")
    atds = _typed(where, raw, "dialer_is_atds", bool, True)
    counsel = _typed(where, raw, "counsel_reference", str, "")
    if not atds and not counsel.strip():
        raise ConfigError(f"{where}: dialer_is_atds = false needs counsel_reference = \"...\" "
                          "(the written legal view that the dialer is not an automatic "
                          "telephone dialing system, 47 U.S.C. 227(a)(1))")
    subject = _typed(where, raw, "subject", str, None) or None  # Fla. Stat. 501.616(6)(b)
    return Campaign(
        id=campaign_id,
        solicitor=solicitor,
        caller_id=caller_e164,
        default_mode=mode,
        origin_state=origin,
        packs=house_policies,
        registration=_registration(where, registration) if registration else None,
        exemption=(_exemption(where, exemption, _exemption_paragraphs(packs, enabled))
                   if exemption else None),
        dialer_is_atds=atds,
        counsel_reference=counsel,
        subject=subject,
        telemarketer=telemarketer,
    )


def _telemarketer(where: str, raw: Mapping[str, Any], solicitor: str) -> str | None:
    """``telemarketer``: the entity that makes the campaign's calls for the seller (a call
    centre), whose own do-not-call list binds them too (47 CFR 64.1200(d)(3); Utah
    13-25a-107.2(1)). A name, shown in reasons and used as a records key: refused when
    empty, padded, holding a control or other invisible character, or naming the seller."""
    name: str | None = _typed(where, raw, "telemarketer", str, None)
    if name is None:
        return None
    if not name.strip() or name != name.strip() or any(not c.isprintable() for c in name):
        # a records key: "Acme " would be a list that `internal-dnc add --solicitor Acme`
        # never reaches
        raise ConfigError(f"{where}: telemarketer {clipped_repr(name, 60)} is empty, starts "
                          "or ends with a space, or holds a control or invisible character; "
                          "name the call centre that makes the calls, e.g. telemarketer = "
                          "\"Acme Call Centre\"")
    if name == solicitor:
        raise ConfigError(f"{where}: telemarketer {clipped_repr(name, 60)} is the solicitor "
                          "itself; leave telemarketer out when the seller makes its own calls")
    return name


def _section(where: str, raw: Mapping[str, Any], defaults: Any) -> dict[str, Any]:
    """A table read into a settings dataclass's fields, typed by its defaults."""
    known = set(type(defaults).__dataclass_fields__)
    _unknown(where, raw, known)
    values: dict[str, Any] = {}
    for key in known:
        default = getattr(defaults, key)
        if key not in raw:
            values[key] = default
            continue
        kind = list if isinstance(default, tuple) else type(default)
        given = raw.get(key)
        if kind is float and isinstance(given, int) and not isinstance(given, bool):
            try:  # TOML's 2 is as good as 2.0 for seconds
                raw = {**raw, key: float(given)}
            except OverflowError:  # a 400-digit integer: was a traceback at start
                raise ConfigError(f"{where}: {key} is too large a number ({len(str(given))} "
                                  "digits)") from None
        value = _typed(where, raw, key, kind, default)
        values[key] = tuple(value) if isinstance(value, list) else value
    return values


def _positive(where: str, values: Mapping[str, Any], *keys: str) -> None:
    for key in keys:
        if values[key] <= 0:
            raise ConfigError(f"{where}: {key} must be positive")


def _choice(where: str, values: Mapping[str, Any], key: str, *allowed: str) -> None:
    if values[key] not in allowed:
        raise ConfigError(f"{where}: {key} {values[key]!r}; use {' or '.join(allowed)}")


def _port(where: str, values: Mapping[str, Any], protocol: str) -> None:
    if not 0 <= values["port"] <= 65535:
        raise ConfigError(f"{where}: port {values['port']} is not a {protocol} port")


def _networks(where: str, key: str, networks: Iterable[str]) -> None:
    for source in networks:
        try:
            ipaddress.ip_network(source, strict=False)
        except ValueError:
            raise ConfigError(f"{where}: {key} entry {source!r} is not an address "
                              "or network like 127.0.0.1 or 10.0.0.0/24") from None


def _fastagi(where: str, raw: Mapping[str, Any]) -> FastAgiSettings:
    values = _section(where, raw, FastAgiSettings())
    _positive(where, values, "budget_ms", "header_timeout_ms", "reply_timeout_ms",
              "max_header_bytes", "max_sessions", "max_connections")
    _port(where, values, "TCP")
    _networks(where, "allowed_sources", values["allowed_sources"])
    return FastAgiSettings(**values)


def _sip(where: str, raw: Mapping[str, Any], campaigns: Mapping[str, Campaign]) -> SipSettings:
    values = _section(where, raw, SipSettings())
    _positive(where, values, "budget_ms", "rate_per_source", "burst_per_source",
              "max_transactions", "t1_ms", "max_datagram_bytes", "receive_buffer_bytes",
              "max_tcp_connections", "tcp_idle_timeout_ms")
    _port(where, values, "UDP")
    if values["block_status"] not in (403, 603):
        raise ConfigError(f"{where}: block_status {values['block_status']}; use 603 "
                          "(Decline) or 403 (Forbidden)")
    if values["max_retransmits"] < 0:
        raise ConfigError(f"{where}: max_retransmits must be 0 or more")
    if not 0 <= values["tls_port"] <= 65535:
        raise ConfigError(f"{where}: tls_port {values['tls_port']} is not a TCP port")
    if values["tls"] and values["tcp"] and values["tls_port"] == values["port"] != 0:
        raise ConfigError(f"{where}: tls_port {values['tls_port']} is the TCP listener's "
                          "port too; use another (5061 is SIP over TLS's, RFC 3261 §26.2)")
    if values["tls"] and not (values["tls_certificate"] and values["tls_key"]):
        raise ConfigError(f"{where}: tls is on: set tls_certificate and tls_key (PEM files)")
    for name in ("tls_certificate", "tls_key"):
        # `config check` runs in the admin's directory, `serve` in systemd's: a relative
        # path could name two different files (or none) for the two
        if values[name] and not Path(values[name]).is_absolute():
            raise ConfigError(f"{where}: {name} {values[name]!r} is a relative path; "
                              "give the absolute path of the PEM file")
    trunk = values["trunk"]
    # The 302's Contact is "<" + trunk + ">": one URI, the checked number in its user
    # part. A '<', '>' or '"' could close it and add a second Contact (a number nothing
    # checked, which a dialer may try), and a {number} outside the user part is not
    # what the dialer dials (RFC 3261 §19.1.1).
    if (not trunk.lower().startswith(("sip:", "sips:")) or "{number}" not in trunk
            or any(c.isspace() or not c.isprintable() or c in '<>"' for c in trunk)
            or not 0 <= trunk.find("{number}") < trunk.find("@")):
        raise ConfigError(f"{where}: trunk {trunk!r} must be one sip: or sips: URI with "
                          "{number} in its user part (where the E.164 number goes) and "
                          "no <, > or \", like sip:{number}@trunk.example.net")
    for key in ("identity_header", "campaign_header", "mode_header", "location_header"):
        if not values[key] or not all(c.isalnum() or c in "-_." for c in values[key]):
            raise ConfigError(f"{where}: {key} {values[key]!r} is not a header name")
    _networks(where, "allowed_sources", values["allowed_sources"])
    by_source = values["campaign_by_source"]
    _networks(where, "campaign_by_source", by_source)
    for network, campaign in by_source.items():
        if campaign not in campaigns:
            raise ConfigError(f"{where}: campaign_by_source {network!r} names campaign "
                              f"{campaign!r}, which is not configured")
    return SipSettings(**values)


# [ami] forget_after_s: the bounds of the AMI tracker's horizon (see _ami).
_FORGET_MIN_S = 3_600.0
_FORGET_MAX_S = 604_800.0


def _ami(where: str, raw: Mapping[str, Any], packs: Mapping[str, Pack],
         enabled: tuple[str, ...], config: Path) -> AmiSettings:
    values = _section(where, raw, AmiSettings())
    if values["secret_file"] and not Path(values["secret_file"]).is_absolute():
        # relative to this file, as [http] token_file is: read from the working directory,
        # `config check` run in /etc/callguard found it and `serve` (systemd: /) did not
        values["secret_file"] = str(config.parent / values["secret_file"])
    _positive(where, values, "retry_ms", "action_timeout_ms", "reconnect_min_ms",
              "reconnect_max_s", "lease_ms", "abandonment_warn_rate")
    _port(where, values, "TCP")
    if not _FORGET_MIN_S <= values["forget_after_s"] <= _FORGET_MAX_S:
        raise ConfigError(
            f"{where}: forget_after_s {values['forget_after_s']:g} must be from "
            f"{_FORGET_MIN_S:g} (an hour: a call still talking after this long with no "
            f"event would be forgotten while live, its release then unproven) to "
            f"{_FORGET_MAX_S:g} (a week: each call whose end was lost holds ~2.6 KB until "
            "then); 86400, a day, is the default")
    if values["reconnect_min_ms"] / 1000 > values["reconnect_max_s"]:
        raise ConfigError(f"{where}: reconnect_min_ms {values['reconnect_min_ms']} is above "
                          f"reconnect_max_s {values['reconnect_max_s']:g} s")
    # On a tie the enacted statute is cited, not a house policy (a bill as introduced).
    limits = [(o.seconds, not packs[p].is_statute, o.citation) for p in enabled
              for o in packs[p].obligations if o.kind == "line-release"]
    if limits:
        smallest, _, citation = min(limits)
        bound = f"the smallest release limit, {smallest:g} s ({citation})"
        if not 0 <= values["grace_seconds"] < smallest:
            raise ConfigError(f"{where}: grace_seconds {values['grace_seconds']} must be at "
                              f"least 0 and below {bound}")
        # After a long outage the next attempt comes up to reconnect_max_s later, and a
        # release cannot happen before it: the wait alone must not break the law.
        if values["reconnect_max_s"] >= smallest:
            raise ConfigError(f"{where}: reconnect_max_s {values['reconnect_max_s']:g} must be "
                              f"below {bound}: once Asterisk is back, a release can wait "
                              "that long for the next reconnect attempt")
        # A standby takes over within lease_ms plus one renewal (lease_ms / 3).
        takeover = values["lease_ms"] * 4 / 3 / 1000
        if values["grace_seconds"] + takeover >= smallest:
            raise ConfigError(f"{where}: lease_ms {values['lease_ms']} lets a takeover take "
                              f"{takeover:g} s, which with grace_seconds "
                              f"{values['grace_seconds']:g} reaches {bound}; lower lease_ms")
    return AmiSettings(**values)


def _log(where: str, raw: Mapping[str, Any]) -> LogSettings:
    values = _section(where, raw, LogSettings())
    _positive(where, values, "rotate_mb", "retention_days", "stream_maxlen")
    _choice(where, values, "durability", "none", "group", "every")
    return LogSettings(**values)


def _http(where: str, raw: Mapping[str, Any]) -> HttpSettings:
    values = _section(where, raw, HttpSettings())
    _positive(where, values, "max_body_bytes", "max_connections",
              "max_connections_per_source", "header_timeout_ms", "body_timeout_ms",
              "budget_ms")
    _port(where, values, "TCP")
    _networks(where, "allowed_sources", values["allowed_sources"])
    skew = values["max_at_skew"]
    if not (math.isfinite(skew) and skew >= 0):  # nan compared false: an 'at' never skewed
        raise ConfigError(f"{where}: max_at_skew {skew!r} must be a number of seconds, 0 "
                          "or more (0: any 'at' is decided)")
    return HttpSettings(**values)


def _records(where: str, raw: Mapping[str, Any]) -> RecordsSettings:
    values = _section(where, raw, RecordsSettings())
    _choice(where, values, "backend", "embedded", "redis")
    _choice(where, values, "durability", "aof-always", "replicas")
    _choice(where, values, "on_weak_durability", "refuse", "warn")
    _positive(where, values, "wait_replicas", "wait_timeout_ms")
    return RecordsSettings(**values)


def _lists_backend(where: str, raw: Mapping[str, Any]) -> str:
    _unknown(where, raw, {"backend", "not_loaded", "copy_warning_days"})
    backend = _typed(where, raw, "backend", str, "embedded")
    if backend not in ("embedded", "redis"):
        raise ConfigError(f"{where}: backend {backend!r}; use embedded or redis")
    return str(backend)


def _copy_warning_days(where: str, raw: Mapping[str, Any]) -> int | None:
    """``[lists] copy_warning_days``: left out, a copy is warned about when a quarter of its
    usable life remains (``callguard.policy.expiry.copy_window``)."""
    if not isinstance(raw, Mapping):
        return None  # `lists = 5`: said once, by _lists_backend
    days = _typed(where, raw, "copy_warning_days", int, None)
    if days is not None and not 0 < days <= 3660:
        raise ConfigError(f"{where}: copy_warning_days must be from 1 to 3660 (or left out: "
                          "warn when a quarter of a copy's usable life remains)")
    return None if days is None else int(days)


def _lists_not_loaded(where: str, raw: Mapping[str, Any]) -> frozenset[str]:
    names = _typed(where, raw, "not_loaded", list, [])
    if not all(isinstance(n, str) and n for n in names):
        raise ConfigError(f"{where}: not_loaded is a list of list names, e.g. [\"fl-state\"]")
    if "national" in names:
        raise ConfigError(f"{where}: not_loaded cannot name 'national': the national registry "
                          "binds every call (47 CFR 64.1200(c)(2)); without it every call is "
                          "BLOCKed")
    return frozenset(names)


# Query options a Redis URL may carry: the database and TLS settings. Everything else is
# refused: redis-py passes unknown options straight to the connection and lets them
# override callguard's own (a ``?password=`` would win over CALLGUARD_REDIS_PASSWORD, a
# ``?socket_timeout=`` over the call path's timeouts).
_REDIS_QUERY = frozenset({"db", "ssl_cert_reqs", "ssl_ca_certs", "ssl_ca_path",
                          "ssl_certfile", "ssl_keyfile", "ssl_check_hostname",
                          "ssl_min_version"})


def redacted_url(url: str) -> str:
    """The URL as an error message may show it: no userinfo, no query values."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"***@{host}" if "@" in parts.netloc else parts.netloc
    if parts.port is not None and "@" in parts.netloc:
        netloc += f":{parts.port}"
    query = "&".join(f"{name}=***" for name in parse_qs(parts.query, keep_blank_values=True))
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def _redis_url(where: str, raw: Mapping[str, Any]) -> str:
    """``CALLGUARD_REDIS_URL`` wins over the file; the password never lives in the file."""
    _unknown(where, raw, {"url"})
    url = str(os.environ.get("CALLGUARD_REDIS_URL") or _typed(
        where, raw, "url", str, "redis://127.0.0.1:6379/0"))
    try:
        parts = urlsplit(url)
        password = parts.password
        options = parse_qs(parts.query, keep_blank_values=True)
        _ = parts.port  # raises ValueError for a port that is not a number
    except ValueError:
        raise ConfigError(f"{where}: url {redacted_url(url)!r} is not a URL; use "
                          "redis://HOST:PORT/DB") from None
    if parts.scheme not in ("redis", "rediss", "unix"):
        raise ConfigError(f"{where}: url {redacted_url(url)!r}: use redis://HOST:PORT/DB, "
                          "rediss:// for TLS, or unix:///path")
    secret_options = sorted(o for o in options if "password" in o.lower()
                            or o.lower() in ("username", "credential_provider"))
    if password or secret_options:
        raise ConfigError(f"{where}: put the Redis password in CALLGUARD_REDIS_PASSWORD, not "
                          "in the URL (its user part or its query string)")
    unknown = sorted(set(options) - _REDIS_QUERY)
    if unknown:
        raise ConfigError(f"{where}: url option(s) {', '.join(unknown)} not allowed; a Redis "
                          f"URL may carry {', '.join(sorted(_REDIS_QUERY))}")
    return url


_T = TypeVar("_T")


class ConfigErrors(ConfigError):
    """Every problem ``load_settings`` found, each a message naming its key and fix:
    ``config check`` (README: "exit 2 with every problem and its fix") lists them all, where
    the first one alone stopped it and the admin fixed one error per run."""

    def __init__(self, problems: Iterable[str]) -> None:
        self.problems = tuple(dict.fromkeys(problems))  # two parts of one section: said once
        super().__init__("\n".join(self.problems))


class _Problems:
    """Collects each part's ConfigError and gives the part's default in its place, so the
    parts that do not depend on it are still checked."""

    def __init__(self) -> None:
        self.found: list[str] = []

    def attempt(self, make: Callable[[], _T], default: _T) -> _T:
        try:
            return make()
        except ConfigErrors as exc:
            self.found.extend(exc.problems)
        except ConfigError as exc:
            self.found.append(str(exc))
        return default


def config_problems(exc: ConfigError) -> tuple[str, ...]:
    """The problems one ConfigError stands for (one, or every one ``load_settings`` found)."""
    return exc.problems if isinstance(exc, ConfigErrors) else (str(exc),)


def unreachable_caller_ids(
    campaigns: Mapping[str, Campaign],
) -> list[tuple[Campaign, Unreachable]]:
    """The campaigns whose caller ID no one can call back (``callguard.numbers.callback``),
    by id. The configuration loads them and the gate presents their number on every call it
    allows: whether a number reaches the seller is the operator's to know, not callguard's,
    but a number that reaches no one is known here, so ``config check``, ``serve``'s start
    and ``/readyz`` say so (47 CFR 64.1601(e)(1))."""
    found = ((campaigns[c], unreachable(campaigns[c].caller_id)) for c in sorted(campaigns))
    return [(campaign, why) for campaign, why in found if why is not None]


def caller_id_warnings(campaigns: Mapping[str, Campaign]) -> list[str]:
    """``unreachable_caller_ids`` in words for the operator's terminal, the number in full
    (it is in the configuration file, and the operator has to find it there)."""
    return [f"campaign {campaign.id!r} presents caller ID {campaign.caller_id}: {why.why}; no "
            "one can call it back to make a do-not-call request "
            f"({CALLBACK_CITATION}), and callguard presents it on every call it allows for "
            "this campaign: set caller_id to the seller's number that takes such requests"
            for campaign, why in unreachable_caller_ids(campaigns)]


# Every CALLGUARD_* variable callguard reads, and those systemd/callguard-admin reads and
# passes on (CALLGUARD_ARTIFACTS: where the test suite writes its screenshots).
KNOWN_ENVIRONMENT = frozenset({
    "CALLGUARD_CONFIG", "CALLGUARD_DATA_DIR", "CALLGUARD_HTTP_TOKEN", "CALLGUARD_LOG_KEY",
    "CALLGUARD_REDIS_PASSWORD", "CALLGUARD_REDIS_URL", "CALLGUARD_AMI_SECRET",
    "CALLGUARD_MALLOC_TUNING", "CALLGUARD_ENV_FILE", "CALLGUARD_PYTHON", "CALLGUARD_BIN",
    "CALLGUARD_SERVICE_USER", "CALLGUARD_ARTIFACTS"})


def environment_warnings(environ: Mapping[str, str] | None = None) -> list[str]:
    """A CALLGUARD_* variable callguard does not read, by name (never its value), with the
    name it may have meant: a mistyped ``CALLGUARD_LOG_KEY`` in secrets.env was ignored
    without a word, and the node hashed its records under a log.key of its own, which no
    other node's evidence search matches."""
    env = os.environ if environ is None else environ
    known = sorted(KNOWN_ENVIRONMENT)
    read = ", ".join(k for k in known if k != "CALLGUARD_ARTIFACTS")
    found = []
    for name in sorted(n for n in env if n.startswith("CALLGUARD_") and n not in known):
        # compared without the prefix they share (CALLGUARD_FOO is not CALLGUARD_BIN)
        close = difflib.get_close_matches(name.removeprefix("CALLGUARD_"),
                                          [k.removeprefix("CALLGUARD_") for k in known],
                                          n=1, cutoff=0.7)
        found.append(f"environment variable {name} is not one callguard reads; it is ignored"
                     + (f" (did you mean CALLGUARD_{close[0]}?)" if close else
                        f" (it reads {read})"))
    return found


def _enabled(where: str, main: Mapping[str, Any], packs: Mapping[str, Pack]) -> tuple[str, ...]:
    enabled = tuple(_typed(where, main, "enabled_packs", list, sorted(packs)))
    missing = [p for p in enabled if p not in packs]
    if missing:
        raise ConfigError(f"{where}: enabled_packs {missing} not found; available: "
                          f"{sorted(packs)}")
    left_out = [p for p in sorted(packs) if packs[p].is_statute and p not in enabled]
    if left_out:
        raise ConfigError(f"{where}: enabled_packs leaves out the statute pack(s) "
                          f"{', '.join(left_out)}: enacted law applies to every call in its "
                          "scope. Remove a statute's pack file only when the law no longer "
                          "binds you; enabled_packs chooses among house policies.")
    return enabled


def _warning_days(where: str, main: Mapping[str, Any]) -> int:
    warning_days = _typed(where, main, "expiry_warning_days", int, 30)
    if isinstance(warning_days, bool) or not 0 < warning_days <= 3660:
        raise ConfigError(f"{where}: expiry_warning_days must be from 1 to 3660")
    return int(warning_days)


# The shipped default of max_candidate_zones: above every US area code's zones (3).
_MAX_ZONES = 4


def _max_zones(where: str, main: Mapping[str, Any], regions: frozenset[str]) -> int:
    """``max_candidate_zones``: never below the zones of an area code the site calls.

    A number of more zones than this has "no usable geography" and a CRM location alone
    judges its calling hours: set to 2, a 208 number (Boise, Denver and Los Angeles clocks:
    northern Idaho keeps Pacific time) with a Boise ZIP was called at 8:30 a.m. Mountain,
    7:30 a.m. where a Coeur d'Alene holder was (htz23). Left out, it is 4 or the widest
    area code's count (867, five zones, for a site calling CA)."""
    widest, codes = widest_area_codes(regions)
    given = _typed(where, main, "max_candidate_zones", int, None)
    if given is None:
        return max(_MAX_ZONES, widest)
    if given < max(widest, 1):
        if not codes:
            raise ConfigError(f"{where}: max_candidate_zones must be at least 1, got {given}")
        shown = ", ".join(str(code) for code in codes)
        raise ConfigError(
            f"{where}: max_candidate_zones {given} is below the {widest} time zones of area "
            f"code{'s' if len(codes) > 1 else ''} {shown} ({codes[0]}: "
            f"{', '.join(area_code_zones(codes[0]))}), in the regions this site calls "
            f"({', '.join(sorted(regions))}): such a number's own zones would be dropped and "
            "a CRM location alone would judge its calling hours, though the holder may be "
            f"in any of them. Set it to {widest} or more, or leave it out (default "
            f"{max(_MAX_ZONES, widest)})")
    return int(given)


def _fallback(where: str, main: Mapping[str, Any]) -> str:
    fallback = _typed(where, main, "unknown_local_time", str, "block")
    if fallback not in ("block", "every-zone"):
        raise ConfigError(f"{where}: unknown_local_time {fallback!r}; use block or every-zone")
    return str(fallback)


def _prefixes(where: str, main: Mapping[str, Any]) -> tuple[str, ...]:
    prefixes = tuple(_typed(where, main, "dial_prefixes", list, []))
    if not all(isinstance(p, str) and p.isascii() and p.isdigit() for p in prefixes):
        raise ConfigError(f"{where}: dial_prefixes must be digit strings like [\"9\"]")
    return prefixes


def _campaigns(doc: Mapping[str, Any], packs: Mapping[str, Pack], enabled: tuple[str, ...],
               parser: NumberParser, problems: _Problems,
               config: str) -> dict[str, Campaign] | None:
    """Every campaign, each checked on its own; None when one is wrong (what reads the
    campaigns, [sip], is then not checked against a partial set). Each message opens with
    ``config``, the file to edit."""
    campaigns: dict[str, Campaign] = {}
    failed = len(problems.found)
    raws = doc.get("campaigns", [])
    if not isinstance(raws, list):
        problems.found.append(f"{config} campaigns: write each campaign as a [[campaigns]] "
                              "entry (two brackets: a list of tables)")
        return None
    for index, raw in enumerate(raws):
        if not isinstance(raw, Mapping):
            problems.found.append(f"{config} campaigns[{index}]: must be a table")
            continue
        campaign = problems.attempt(
            partial(_campaign, index, raw, packs, enabled, parser, config), None)
        if campaign is None:
            continue
        if campaign.id in campaigns:
            problems.found.append(f"{config} campaign {campaign.id!r} is defined twice")
        campaigns[campaign.id] = campaign
    problems.found.extend(_subjects_apart(campaigns.values(), config))
    problems.found.extend(_telemarketers_apart(campaigns.values(), config))
    return with_seller_subjects(campaigns) if len(problems.found) == failed else None


def _subjects_apart(campaigns: Iterable[Campaign], config: str) -> list[str]:
    """Subjects that differ only in case or spacing ("Solar", "solar "): a cap on "the
    same subject" (Fla. Stat. 501.616(6)(b)) counts each apart, so six calls could pass a
    cap of three. Refused rather than folded: folding would move the counts already stored
    under the name as written (hfrq20). Whatever the seller: under campaign-subject the
    count of a subject is every seller's (``subject:NAME``; a call centre calling one person
    for two sellers on one subject), so two sellers' spellings split it too (hrev76)."""
    found: list[str] = []
    for (subject, campaign, _), (first, where, _) in _spelt_apart(
            (c.subject, c, "subject") for c in campaigns if c.subject):
        seller = ("the same seller" if where.solicitor == campaign.solicitor
                  else f"seller {where.solicitor!r}")
        found.append(f"{config} campaign {campaign.id!r}: subject "
                     f"{clipped_repr(subject, 60)} differs from "
                     f"{clipped_repr(first, 60)} (campaign {where.id!r}, "
                     f"{seller}) only in case, spacing or characters that look alike "
                     "(invisible, full-width); a cap counts them as two "
                     "subjects — write them alike")
    return found


def _telemarketers_apart(campaigns: Iterable[Campaign], config: str) -> list[str]:
    """A ``telemarketer`` that differs from another campaign's telemarketer, or from a
    seller, only in case, spacing or look-alike characters ("Acme Call Centre", "ACME call
    centre"): two do-not-call lists where the operator meant one, so an opt-out taken on one
    campaign's call would not bind the other's (64.1200(d)(3)). Refused, as subjects are
    (``_subjects_apart``); sellers' names among themselves are left as they were."""
    campaigns = list(campaigns)
    named = [(c.solicitor, c, "solicitor") for c in campaigns]  # sellers first, unreported
    named += [(c.telemarketer, c, "telemarketer") for c in campaigns
              if c.telemarketer is not None]
    found: list[str] = []
    for (name, campaign, role), (first, where, first_role) in _spelt_apart(named):
        if role == "telemarketer":
            found.append(f"{config} campaign {campaign.id!r}: telemarketer "
                         f"{clipped_repr(name, 60)} differs from {first_role} "
                         f"{clipped_repr(first, 60)} (campaign {where.id!r}) only in case, "
                         "spacing or characters that look alike; they are two do-not-call "
                         "lists, and an opt-out on one would not bind the other — write "
                         "them alike")
    return found


_Named = tuple[str, Campaign, str]  # a name, the campaign giving it, its role there


def _spelt_apart(named: Iterable[_Named]) -> Iterator[tuple[_Named, _Named]]:
    """Each name that differs from one met before it only in case, spacing or look-alike
    characters (the same ``_subject_key``), with the first spelling met: the subjects and
    the telemarketers a campaign must write alike."""
    first: dict[str, _Named] = {}
    for entry in named:
        earlier = first.setdefault(_subject_key(entry[0]), entry)
        if earlier[0] != entry[0]:
            yield entry, earlier


def _subject_key(subject: str) -> str:
    """A subject as a reader sees it: compatibility forms folded (full-width "\\uff33olar"),
    invisible characters dropped ("Sol\u200bar"), spacing collapsed, case folded (hrev76:
    "Sol\u200bar" beside "Solar" loaded, two counts for what reads as one subject)."""
    folded = unicodedata.normalize("NFKC", subject)
    visible = "".join(c for c in folded if unicodedata.category(c) != "Cf")
    return " ".join(visible.split()).casefold()


def load_settings(path: Path | None = None, *, data_dir: Path | None = None) -> Settings:
    """Load and validate; ``path`` falls back to ``CALLGUARD_CONFIG`` then the bundled demo.
    Every part is checked (ConfigErrors lists each problem), but those that depend on a part
    found wrong (campaigns and [ami] on the packs, [sip] on the campaigns)."""
    if path is None:
        env = os.environ.get("CALLGUARD_CONFIG")
        path = Path(env) if env else DEFAULT_CONFIG
    doc = read_config(path)  # a file that is no TOML: nothing else can be read
    problems = _Problems()
    check = problems.attempt
    check(lambda: _unknown(str(path), doc, _KNOWN_TOP), None)
    main = doc.get("callguard", {})
    check(lambda: _unknown(f"{path} [callguard]", main, _KNOWN_MAIN), None)
    main = main if isinstance(main, Mapping) else {}  # said above; its defaults meanwhile
    where = f"{path} [callguard]"
    interpretations: dict[str, str] = check(
        lambda: _interpretations(f"{path} [interpretations]", doc.get("interpretations", {})),
        {})
    proclaimed: tuple[tuple[str, ProclaimedDay], ...] = check(
        lambda: _proclaimed(f"{path} [[proclaimed_days]]", doc.get("proclaimed_days", [])),
        ())
    packs_from = check(lambda: chosen_packs_dir(path, _typed(where, main, "packs_dir", str,
                                                             "")), None)
    packs = None if packs_from is None else check(
        lambda: _load_packs(packs_from, interpretations, proclaimed, config=str(path)), None)
    enabled = None if packs is None else check(lambda: _enabled(where, main, packs), None)
    warning_days = check(lambda: _warning_days(where, main), 30)
    fallback = check(lambda: _fallback(where, main), "block")
    prefixes: tuple[str, ...] = check(lambda: _prefixes(where, main), ())
    regions = check(lambda: frozenset(_typed(where, main, "regions", list, ["US"])),
                    frozenset({"US"}))
    max_zones = check(lambda: _max_zones(where, main, regions), _MAX_ZONES)
    parser = check(lambda: NumberParser(dial_prefixes=prefixes, regions=regions),
                   NumberParser())
    campaigns = None if packs is None or enabled is None else _campaigns(
        doc, packs, enabled, parser, problems, str(path))
    chosen = check(lambda: choose_data_dir(path, _typed(where, main, "data_dir", str, ""),
                                           data_dir), None)
    sections: dict[str, Any] = {
        "log": check(lambda: _log(f"{path} [log]", doc.get("log", {})), None),
        "records": check(lambda: _records(f"{path} [records]", doc.get("records", {})), None),
        "http": check(lambda: _http(f"{path} [http]", doc.get("http", {})), None),
        "fastagi": check(lambda: _fastagi(f"{path} [fastagi]", doc.get("fastagi", {})), None),
        "ami": None if packs is None or enabled is None else check(
            lambda: _ami(f"{path} [ami]", doc.get("ami", {}), packs, enabled, path), None),
        "sip": None if campaigns is None else check(
            lambda: _sip(f"{path} [sip]", doc.get("sip", {}), campaigns), None),
        "lists_backend": check(lambda: _lists_backend(f"{path} [lists]",
                                                      doc.get("lists", {})), None),
        "lists_not_loaded": check(lambda: _lists_not_loaded(f"{path} [lists]",
                                                            doc.get("lists", {})), None),
        "list_copy_warning_days": check(lambda: _copy_warning_days(f"{path} [lists]",
                                                                   doc.get("lists", {})), None),
        "redis_url": check(lambda: _redis_url(f"{path} [redis]", doc.get("redis", {})), None),
    }
    if problems.found:
        raise ConfigErrors(problems.found)
    # Each is None only where a problem was found (or a part it depends on was wrong).
    assert packs is not None
    assert enabled is not None
    assert campaigns is not None
    assert chosen is not None
    return Settings(
        path=path,
        data_dir=chosen.path,
        data_dir_source=chosen.source,
        packs_dir=packs_from,
        packs=packs,
        enabled_packs=enabled,
        campaigns=campaigns,
        dial_prefixes=prefixes,
        regions=regions,
        policy_settings=PolicySettings(
            max_candidate_zones=max_zones,
            every_zone_fallback=fallback == "every-zone",
        ),
        interpretations=interpretations,
        proclaimed=proclaimed,
        expiry_warning_days=warning_days,
        **sections,
    )
