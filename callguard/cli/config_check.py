"""``callguard config check``: load everything ``serve`` would, print what it would serve.

Like ``nginx -t``: the configuration, the packs, the lists the packs read, the secrets the
enabled fronts need and the log key, each checked; exit 0 when ``serve`` would start and
decide calls, 2 with every problem and its fix otherwise. Nothing is left written (a
data dir not made yet is tried with an empty directory made and removed at once,
``_cannot_make_in``).
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from redis.exceptions import RedisError
from rich.console import Console
from rich.markup import escape

from callguard.cli.common import (
    EXIT_USAGE,
    CliState,
    invocation,
    log_file_unusable,
    on_read_only_mount,
    run,
)
from callguard.cli.lists import lists_read, missing_lists
from callguard.cli.render import print_json
from callguard.compliance.logkey import ENV_VAR, LogKeyError, load_log_key
from callguard.config import (
    Settings,
    caller_id_warnings,
    config_problems,
    environment_warnings,
    load_settings,
)
from callguard.datadir import missing_data_dir
from callguard.errors import CallguardError, ConfigError
from callguard.fronts.fastagi.server import liveness_warning
from callguard.policy.rules.number_kind import (
    KIND_LISTS,
    LITIGATOR_LIST,
    PORTED_WIRELINE_LIST,
    REASSIGNED_LIST,
)
from callguard.resources import bundled_config
from callguard.runtime import log_path, redis_client
from callguard.stores.embedded.identity import id_path, judge, lost_message
from callguard.stores.redis.records import MARKER_KEY, check_durability
from callguard.stores.redis.remembered import MARKER_FILE, read_marker
from callguard.watchdog.ami import transfer_events_warning

__all__ = ["SPLIT_RECORDS", "config", "describe"]


@click.group()
def config() -> None:
    """The configuration: check it."""


def _lists(settings: Settings, read: list[str]) -> tuple[list[dict[str, Any]], list[str]]:
    """The current version of every list the packs read; problems for the missing ones."""
    from callguard.cli.lists import _with_registry  # noqa: PLC0415 - only for this check

    def collect(registry: Any) -> dict[str, Any]:
        found = {}
        for name in registry.names():
            snapshot = registry.snapshot(name)
            if snapshot is not None:
                meta = snapshot.meta
                found[name] = {"version": meta.version, "count": meta.count,
                               "published": meta.published.isoformat() if meta.published
                               else None}
        return {"found": found, "errors": dict(registry.errors)}

    problems: list[str] = []
    me = invocation(settings)
    try:
        got = run(_with_registry(settings, collect))
    except (CallguardError, OSError, RedisError) as exc:
        where = "Redis" if settings.lists_backend == "redis" else str(settings.data_dir)
        fix = ("; check that Redis runs at [redis] url (or CALLGUARD_REDIS_URL) and that "
               "CALLGUARD_REDIS_PASSWORD is its password: serve would start with no list and "
               "BLOCK every call they cover until it reads them"
               if isinstance(exc, RedisError) else "")
        return [], [f"lists: cannot read them from {where}: {exc}{fix}"]
    rows: list[dict[str, Any]] = []
    # The missing lists whose absence BLOCKs a call, as `dnc status`, serve's lists_missing
    # and /readyz count them (``missing_lists``: the packs the gate can apply). A list only
    # a house policy no campaign opts into reads is read by no call: said, not a problem
    # (hrev125: exit 2 at a default site while status said nothing was missing).
    blocking = missing_lists(settings, set(got["found"]))
    readers = lists_read(settings)
    for name in read:
        row = got["found"].get(name)
        if row is None and name in settings.lists_not_loaded:
            rows.append({"list": name, "version": None, "not_loaded": True})
            continue
        if row is None and name in _OPTIONAL:  # issue 18: without it, the conservative default
            rows.append({"list": name, "version": None, "optional": True})
            continue
        if row is None and name not in blocking:
            rows.append({"list": name, "version": None, "unread": True,
                         "read_by": readers.get(name, [])})
            continue
        if row is None and name == LITIGATOR_LIST:
            problems.append(f"list {name!r} (read by a house policy) has no version: every "
                            "call of the campaigns that opt in would be BLOCKed; import it with "
                            f"`{me} attributes import FILE --kind litigator ...`")
        elif row is None:
            problems.append(f"list {name!r} (read by the packs) has no version: every call "
                            f"it covers would be BLOCKed; import it with `{me} dnc import "
                            f"FILE --list {name} --published DATE --covers ...`")
        rows.append({"list": name, **(row or {"version": None})})
    problems += [f"list {name}: {error}" for name, error in got["errors"].items()]
    return rows, problems


# Number attribute lists whose absence keeps today's conservative behaviour (issue 18),
# and what a node does without each (``config check``'s line).
_OPTIONAL = frozenset({*KIND_LISTS, REASSIGNED_LIST})
_WITHOUT = {
    REASSIGNED_LIST: "consent honoured without the reassigned-number check, "
                     "47 CFR 64.1200(m)",
    PORTED_WIRELINE_LIST: "no port to wireline is seen: a wireless block's number ported to "
                          "a landline reads as wireless",
}
_WITHOUT_KIND = "every number treated as possibly wireless"


def _lists_read(settings: Settings) -> list[str]:
    """Every list a rule of an enabled pack reads (first and current versions), as the
    policy answers for the gate (``policy.rules.exemptions.lists_read``): a rule's own
    lists and the reassigned-number data a consent it accepts is read against. An optional
    list is shown only when some rule reads it (``attr-ported-wireline``: us-federal's
    64.1200(a)(2) rule reads it with its ``kind_lists``, ``ConsentRequired.list_names``)."""
    from callguard.policy.rules.exemptions import (  # noqa: PLC0415 - the gate's answer
        lists_read as rule_reads,
    )

    today = datetime.now(UTC).date()
    names = {name for pack_id in settings.enabled_packs
             for rule in (*settings.packs[pack_id].rules,
                          *settings.packs[pack_id].rules_on(today))
             for name in rule_reads(rule)}
    return sorted(names | set(lists_read(settings)))


def _secrets(settings: Settings) -> tuple[dict[str, str], list[str]]:
    found: dict[str, str] = {}
    problems: list[str] = []
    if settings.http.enabled:
        try:
            settings.http_token()
            found["http token"] = ("CALLGUARD_HTTP_TOKEN" if os.environ.get(
                "CALLGUARD_HTTP_TOKEN") else f"token_file {settings.http.token_file}")
        except ConfigError as exc:
            problems.append(str(exc))
    if settings.sip.enabled and settings.sip.tls:
        try:
            settings.sip.tls_context()
            found["sip tls"] = (f"certificate {settings.sip.tls_certificate}, "
                                f"key {settings.sip.tls_key}")
        except ConfigError as exc:
            problems.append(str(exc))
    if settings.ami.enabled:
        try:
            settings.ami.secret()
            found["ami secret"] = ("CALLGUARD_AMI_SECRET" if os.environ.get(
                "CALLGUARD_AMI_SECRET") else f"secret_file {settings.ami.secret_file}")
        except ConfigError as exc:
            problems.append(str(exc))
    try:
        load_log_key(settings.data_dir, create=False)
        found["log key"] = ENV_VAR if os.environ.get(ENV_VAR) else str(
            settings.data_dir / "log.key")
    except LogKeyError as exc:
        if os.environ.get(ENV_VAR) or (settings.data_dir / "log.key").exists():
            problems.append(str(exc))
        else:
            found["log key"] = (f"none yet: {settings.data_dir / 'log.key'} is made at the first "
                                f"start (give every node the same {ENV_VAR})")
    return found, problems


def _record_store(settings: Settings) -> tuple[list[str], list[str]]:
    """Problems and warnings of the record store, read without writing."""
    if settings.records.backend == "redis":
        return _redis_records(settings)
    shared = ([SPLIT_RECORDS] if settings.lists_backend == "redis" else [])
    return _embedded_records(settings), shared


# Lists shared through Redis say "several nodes"; records kept on each node's disk then
# leave a do-not-call request (64.1200(d)(3)) or a revoked consent taken on one node unknown
# to the others, which keep allowing calls to the number.
SPLIT_RECORDS = (
    "lists are shared through Redis ([lists] backend = \"redis\") but records — company "
    "do-not-call requests, consent, business relationships — are this node's alone "
    "([records] backend = \"embedded\"): with several nodes, a do-not-call request taken "
    "on one is unknown to the others, which keep ALLOWing calls to the number (47 CFR "
    "64.1200(d)(3)). Set [records] backend = \"redis\" on every node; a single node may "
    "ignore this")


def _redis_records(settings: Settings) -> tuple[list[str], list[str]]:
    """What ``RedisRecords.start`` checks: a server whose settings could lose an
    acknowledged record makes ``serve`` refuse to start (``on_weak_durability =
    "refuse"``), and one without the marker this node remembered BLOCKs every call."""
    where = settings.data_dir / MARKER_FILE

    async def read() -> tuple[str | None, str | None]:
        client = redis_client(settings, socket_timeout=2)
        try:
            weak = await check_durability(client, settings.records)
            token = await client.get(MARKER_KEY)
        finally:
            await client.aclose()
        return weak, token.decode() if isinstance(token, bytes) else token

    try:
        remembered = read_marker(where)
        weak, on_server = run(read())
    except (CallguardError, RedisError, OSError) as exc:
        return [f"record store (Redis): cannot check it ({exc}); serve would not start "
                "or would BLOCK every call: check that Redis runs at [redis] url (or "
                "CALLGUARD_REDIS_URL) and that CALLGUARD_REDIS_PASSWORD is its password"], []
    problems: list[str] = []
    warnings: list[str] = []
    if weak is not None and settings.records.on_weak_durability != "warn":
        problems.append(f"record store (Redis): {weak}; serve refuses to start (or "
                        "[records] on_weak_durability = \"warn\" to start anyway)")
    elif weak is not None:
        warnings.append(f"record store (Redis): {weak}; serve starts ([records] "
                        "on_weak_durability = \"warn\") and an acknowledged record may be lost")
    if remembered is not None and on_server != remembered:
        problems.append(f"record store (Redis): the server lost its data ({MARKER_KEY} is "
                        "gone or changed: restarted without its AOF, flushed, or replaced); "
                        "serve would refuse every record and BLOCK every call. Restore its "
                        f"AOF; or accept the server as it is: remove {where}, re-import the "
                        "records (refused until then), then restart the node")
    return problems, warnings


def _embedded_records(settings: Settings) -> list[str]:
    """The embedded record store's identity, read without writing (``identity.py``): a
    store lost or replaced makes ``serve`` BLOCK every call (``callguard:store-unavailable``)
    and refuse every record write, so it is a problem here, with the way out."""
    path = settings.data_dir / "records.sqlite3"
    where = id_path(path)
    try:
        in_file = where.read_text(encoding="ascii", errors="replace").strip()
    except FileNotFoundError:
        return []  # a new store, or one whose id file serve writes again from the database
    except OSError as exc:
        return [f"record store {path}: cannot read {where}: {exc.strerror}; serve would "
                "refuse every record and BLOCK every call"]
    if not path.exists():
        return [lost_message(path)]
    try:
        in_db = _stored_id(path)
    except sqlite3.Error as exc:
        return [f"record store {path}: cannot read its identity ({exc}); serve would "
                "refuse every record and BLOCK every call"]
    return [lost_message(path)] if judge(in_db, in_file, "").lost else []


def _stored_id(path: Path) -> str | None:
    """The id ``records.sqlite3`` holds, opened read-only: with a ``-wal`` beside it (a
    node running, or one that crashed) its committed pages are read through it; without
    one the database file holds every commit and is read as immutable, making no file (a
    plain read-only open of a WAL database makes its ``-wal`` and ``-shm``). A ``-wal``
    left without its ``-shm`` gets one made (SQLite cannot read the WAL without it; as
    root it gives the file the database's owner, so the service can still open it)."""
    wal = path.with_name(path.name + "-wal")
    mode = "mode=ro" if wal.exists() else "immutable=1"
    db = sqlite3.connect(f"{path.as_uri()}?{mode}", uri=True)
    try:
        try:
            row = db.execute("SELECT value FROM callguard_meta WHERE key = 'store_id'"
                             ).fetchone()
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                return None  # made before identities, or by a command that wrote nothing
            raise
        return str(row[0]) if row else None
    finally:
        db.close()


def _fronts(settings: Settings) -> list[str]:
    fronts = [f"fastagi {settings.fastagi.host}:{settings.fastagi.port}/tcp"]
    if settings.http.enabled:
        fronts.append(f"http {settings.http.host}:{settings.http.port}/tcp "
                      "(/healthz, /readyz, /metrics, /v1/check)")
    if settings.sip.enabled:
        fronts.append(f"sip {settings.sip.host}:{settings.sip.port}/udp"
                      + ("+tcp" if settings.sip.tcp else "")
                      + (f", tls {settings.sip.host}:{settings.sip.tls_port}/tcp"
                         if settings.sip.tls else ""))
    if settings.ami.enabled:
        fronts.append(f"ami watchdog -> {settings.ami.host}:{settings.ami.port}")
    return fronts


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name, or "" (every interface)


def _source_warnings(settings: Settings) -> list[str]:
    """A front that listens beyond this host but lets only this host ask: every PBX or
    dialer elsewhere is closed on unanswered — the call fails closed, and serve logs nothing
    for it (a refusal is only counted, callguard_*_events_total refused_source). Or one
    that lets no address ask at all."""
    fronts = [("[fastagi]", settings.fastagi.host, settings.fastagi.allowed_sources,
               "an Asterisk")]
    if settings.sip.enabled:
        fronts.append(("[sip]", settings.sip.host, settings.sip.allowed_sources, "a dialer"))
    found: list[str] = []
    for section, host, sources, asker in fronts:
        networks = [ipaddress.ip_network(n, strict=False) for n in sources]
        if not networks:
            found.append(f"{section} allowed_sources is empty: no address may ask, every "
                         "call is refused; list your PBX or dialer addresses")
        elif not _loopback(host) and all(n.is_loopback for n in networks):
            found.append(f"{section} host {host or '(every interface)'} listens beyond this "
                         f"host, but allowed_sources admits only loopback "
                         f"({', '.join(sources)}): {asker} on another host is closed on "
                         f"unanswered (each call fails closed); add its address to {section} "
                         "allowed_sources")
    return found


def _sip_warnings(settings: Settings) -> list[str]:
    """What serve logs at start as ``sip_block_status_not_global`` (fronts/sip/server.py):
    a BLOCK answered 403 ends one branch only (RFC 3261 16.7, 21.6), and a dialer's next
    route may place the call (README, The SIP redirect front)."""
    sip = settings.sip
    if not sip.enabled or sip.block_status == 603:
        return []
    return [f"[sip] block_status = {sip.block_status}: a BLOCK answered {sip.block_status} "
            "ends one branch only; a proxy, pjsip or a failover route may try its next "
            "route and place the call. Use block_status = 603 (global) unless every route "
            f"after callguard takes the {sip.block_status} as final"]


def _nearest(path: Path) -> Path:
    """``path``, or its nearest ancestor that exists: where serve's ``mkdir`` of a data dir
    or log directory not made yet writes (one it cannot reach counts as there)."""
    while path != path.parent:
        try:
            if path.exists():
                return path
        except OSError:
            return path
        path = path.parent
    return path


def _cannot_make_in(where: Path) -> str | None:
    """Why serve's ``mkdir`` of a data dir under the existing directory ``where`` fails, or
    None. ``os.access`` answers for a user, but root passes it everywhere: as root
    ``/proc`` is "writable" while no directory can be made there (ENOENT), so config check
    said "serve makes the configured one" and serve stopped (hrev145). Where access says
    yes, a directory is made and removed at once, the one way to know."""
    if not where.is_dir():
        return "not a directory"
    if not os.access(where, os.W_OK | os.X_OK,
                     effective_ids=os.access in os.supports_effective_ids):
        return f"not writable by this user, uid {os.geteuid()}"
    probe = where / f".callguard-config-check-{os.getpid()}"
    try:
        probe.mkdir()
    except FileExistsError:
        return None
    except OSError as exc:
        return f"no directory can be made there: {exc.strerror or type(exc).__name__}"
    with contextlib.suppress(OSError):
        probe.rmdir()
    return None


def _writable_problems(settings: Settings) -> list[str]:
    """What stops ``serve`` before it decides a call, about where it writes: a data dir it
    refuses (one named by ``--data-dir``/``CALLGUARD_DATA_DIR`` that does not exist: serve
    makes only the configured one), or a data dir or log directory on a read-only file
    system (serve refuses the data dir, exit 2; a log it cannot write stops it, exit 3).
    ``config check`` said "ok" to all three, and serve's refusal then pointed to it. One not
    made yet is judged by the nearest directory that exists, where serve would make it (it
    stopped, exit 3, on a configured data dir or a log directory under a read-only mount),
    and the log is judged whatever the data dir's state."""
    path, source = settings.data_dir, settings.data_dir_source
    found: list[str] = []
    fix = ("mount it read-write or choose a writable place; under the systemd unit "
           "(ProtectSystem=strict) add it to ReadWritePaths=")
    if not path.exists():
        refusal = missing_data_dir(path, source, "serve")
        where = _nearest(path)
        if refusal:
            found.append(refusal)
        elif where.is_dir() and on_read_only_mount(where):
            found.append(f"data dir {path} ({source}) does not exist and {where} is on a "
                         "read-only file system: serve cannot make it at its first start "
                         f"and does not start; {fix}")
        elif why := _cannot_make_in(where):
            # hnew30: serve stopped "internal error: PermissionError" (exit 3)
            found.append(f"data dir {path} ({source}) does not exist and cannot be made "
                         f"in {where} ({why}): serve makes it "
                         "at its first start and would not start; make it as root for the "
                         f"service user (install -d -o callguard -g callguard -m 0750 "
                         f"{path}) or choose a writable place")
    elif path.is_dir() and on_read_only_mount(path):
        found.append(f"data dir {path} ({source}) is on a read-only file system: serve "
                     f"refuses it and nothing can record a decision there; {fix}")
    log_file = log_path(settings)
    unusable = log_file_unusable(log_file, path)
    if unusable:
        found.append(f"{unusable}: every command that writes a compliance record (serve, "
                     "check, scrub, list and record changes, purge, archive) refuses it, "
                     "and so do tail, report, evidence and explain unless given --file")
    elif log_file is not None and log_file.parent != path:
        where = _nearest(log_file.parent)
        if where.is_dir() and on_read_only_mount(where):
            made = "" if where == log_file.parent else (
                f" ({log_file.parent} does not exist, and {where} cannot take it)")
            found.append(f"[log] file {log_file} is on a read-only file system{made}: serve "
                         f"cannot write the compliance log and does not start; {fix}")
    return found


def _data_dir(path: Path, source: str) -> str:
    if not path.exists():  # callguard.datadir.missing_data_dir: only serve makes it
        if missing_data_dir(path, source, "serve"):
            return (f"does not exist; named by {source}, serve refuses it too: it makes only "
                    "the configured one")
        return ("does not exist yet (`serve` makes the configured one at its first start; "
                "the other commands refuse it)")
    info = path.stat()
    try:
        import pwd  # noqa: PLC0415

        owner = pwd.getpwuid(info.st_uid).pw_name
    except (ImportError, KeyError):
        owner = str(info.st_uid)
    return (f"exists, owner {owner}, mode {info.st_mode & 0o777:o}"
            + (", on a READ-ONLY file system" if on_read_only_mount(path) else ""))


def _telemarketers(settings: Settings) -> dict[str, list[str]]:
    """Each campaign's call centre (``telemarketer``) -> the campaigns naming it, sorted."""
    named: dict[str, list[str]] = {}
    for campaign_id in sorted(settings.campaigns):
        centre = settings.campaigns[campaign_id].telemarketer
        if centre is not None:
            named.setdefault(centre, []).append(campaign_id)
    return dict(sorted(named.items()))


def describe(settings: Settings) -> tuple[dict[str, Any], list[str]]:
    """What ``serve`` would serve with these settings, and what stops it."""
    today = datetime.now(UTC).date()
    packs = [{"id": p, "version": settings.packs[p].version, "kind": settings.packs[p].kind,
              "in_force_today": settings.packs[p].in_effect(today)}
             for p in settings.enabled_packs]
    read = _lists_read(settings)
    writable = _writable_problems(settings)
    lists, problems = _lists(settings, read)
    problems = writable + problems
    secrets_found, secret_problems = _secrets(settings)
    store_problems, store_warnings = _record_store(settings)
    problems += store_problems
    log_file = log_path(settings)
    info = {
        "config": str(settings.path),
        "data_dir": str(settings.data_dir),
        "data_dir_from": settings.data_dir_source,
        "data_dir_state": _data_dir(settings.data_dir, settings.data_dir_source),
        "packs_dir": str(settings.packs_dir),
        "record_file": str(log_file) if log_file else "stdout",
        "record_durability": settings.log.durability,
        "record_stream": settings.log.stream_key if settings.log.redis_stream else None,
        "records_backend": settings.records.backend,
        "lists_backend": settings.lists_backend,
        "fronts": _fronts(settings),
        "packs": packs,
        "lists": lists,
        "campaigns": sorted(settings.campaigns),
        # call centre -> the campaigns it makes calls for: an opt-out on them goes on its
        # do-not-call list too, and a request on it blocks them all
        "telemarketers": _telemarketers(settings),
        "secrets": secrets_found,
        # said, exit status unchanged: what serve would do but cannot check for itself, and
        # a caller ID no one can call back (serve starts and presents it: 64.1601(e)(1))
        "warnings": [w for w in (transfer_events_warning(settings.ami)
                                 if settings.ami.enabled else None,) if w]
        + caller_id_warnings(settings.campaigns) + store_warnings + environment_warnings()
        + _source_warnings(settings) + _sip_warnings(settings)
        + [w for w in (liveness_warning(settings.fastagi, ami=settings.ami.enabled),) if w],
    }
    return info, problems + secret_problems


@config.command("check")
@click.option("--json", "as_json", is_flag=True, help="One JSON object.")
@click.pass_obj
def check(state: CliState, as_json: bool) -> None:
    """Load everything `serve` would; print what it would serve; exit 0, or 2 with the errors."""
    _refuse_unloadable(state, as_json)
    info, problems = describe(state.settings)
    if as_json:
        print_json({**info, "ok": not problems, "problems": problems})
        raise SystemExit(EXIT_USAGE if problems else 0)
    out = Console(soft_wrap=True, highlight=False)
    out.print(f"configuration {escape(info['config'])}")
    out.print(f"data dir      {escape(info['data_dir'])} ({info['data_dir_from']}; "
              f"{info['data_dir_state']})")
    out.print(f"packs dir     {escape(info['packs_dir'])}")
    out.print(f"record file   {escape(info['record_file'])} (durability "
              f"{info['record_durability']}"
              + (f", also stream {info['record_stream']}" if info["record_stream"] else "")
              + ")")
    out.print(f"records       {info['records_backend']}; lists {info['lists_backend']}")
    for front in info["fronts"]:
        out.print(f"front         {escape(front)}")
    for pack in info["packs"]:
        out.print(f"pack          {pack['id']} {pack['version']} ({pack['kind']}"
                  + ("" if pack["in_force_today"] else ", NOT in force today") + ")")
    for row in info["lists"]:
        out.print(f"list          {row['list']} "
                  + (f"v{row['version']}, {row['count']} numbers, published {row['published']}"
                     if row["version"] is not None else
                     escape("not loaded on purpose ([lists] not_loaded): its calls are "
                            "BLOCKed")
                     if row.get("not_loaded") else
                     f"not loaded (optional: {_WITHOUT.get(row['list'], _WITHOUT_KIND)})"
                     if row.get("optional") else
                     escape(f"not read: only {', '.join(row['read_by'])} reads it, and no "
                            "campaign opts into it")
                     if row.get("unread") else
                     "MISSING"))
    out.print(f"campaigns     {', '.join(info['campaigns']) or 'none'}")
    for centre, ids in info["telemarketers"].items():
        out.print(f"telemarketer  {escape(centre)} makes the calls of "
                  f"{escape(', '.join(ids))} (its do-not-call list binds them)")
    for what, where in info["secrets"].items():
        out.print(f"{what:<13} {escape(where)}")
    err = Console(stderr=True, soft_wrap=True, highlight=False)
    for warning in info["warnings"]:
        err.print(f"[yellow]warning:[/yellow] {escape(warning)}")
    if problems:
        for problem in problems:
            err.print(f"[red]error:[/red] {escape(problem)}")
        # The warnings counted too: right after `init` the caller-ID warnings sit above
        # the errors, and a summary of errors alone reads as if they were all there is.
        err.print(f"configuration {escape(info['config'])}: {len(problems)} problem(s)"
                  + (f", {len(info['warnings'])} warning(s)" if info["warnings"] else ""))
        raise SystemExit(EXIT_USAGE)
    out.print(f"configuration {escape(info['config'])}: ok"
              + (f" ({len(info['warnings'])} warning(s) on stderr)" if info["warnings"] else ""))


def _refuse_unloadable(state: CliState, as_json: bool) -> None:
    """A configuration that does not load: every problem found in it (not only the first),
    each with its fix, and exit 2; with ``--json`` one object, as for a loadable one."""
    try:
        load_settings(state.config_option, data_dir=state.data_dir_option)
    except ConfigError as exc:
        problems = list(config_problems(exc))
    else:
        return
    config = str(state.config_option or os.environ.get("CALLGUARD_CONFIG") or bundled_config())
    if as_json:
        print_json({"config": config, "ok": False, "problems": problems})
        raise SystemExit(EXIT_USAGE)
    err = Console(stderr=True, soft_wrap=True, highlight=False)
    for problem in problems:
        err.print(f"[red]error:[/red] {escape(problem)}")
    err.print(f"configuration {escape(config)}: {len(problems)} problem(s); nothing else "
              "checked until it loads")
    raise SystemExit(EXIT_USAGE)
