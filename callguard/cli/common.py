"""Shared CLI plumbing: settings from the group options, exit codes, argument parsing."""

from __future__ import annotations

import asyncio
import os
import shlex
import sys
from collections.abc import Coroutine
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

from rich.markup import escape

from callguard.cli.output import console
from callguard.compliance.logkey import LogKeyError
from callguard.errors import CallguardError, ConfigError, NumberError
from callguard.numbers.parse import number_reason, quoted_number
from callguard.utc import YEARS, leap_second, out_of_years, utah_example, zone_named

if TYPE_CHECKING:  # imported when used: `callguard tail` must start in well under 0.2 s
    from zoneinfo import ZoneInfo

    from callguard.config import Settings
    from callguard.numbers import NumberInfo
    from callguard.policy import Campaign
    from callguard.runtime import Runtime

__all__ = [
    "EXIT_ALLOW",
    "EXIT_BLOCK",
    "EXIT_INTERNAL",
    "EXIT_USAGE",
    "CliState",
    "auth_refused",
    "campaign_or_exit",
    "config_file_or_exit",
    "e164_or_exit",
    "invocation",
    "number_or_exit",
    "output_path_or_exit",
    "parse_date",
    "parse_instant",
    "parse_published",
    "redis_hint",
    "run",
    "usage_error",
    "window_or_exit",
    "zone_or_exit",
]

EXIT_ALLOW, EXIT_BLOCK, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3
T = TypeVar("T")
err_console = console(stderr=True)


# Commands that never open the data dir (demo makes its own), or may run on a file or
# stream of their own (`explain ID --file COPY`, `tail --stream`): refused up front, a
# compliance officer with a copy of the log was turned away from a data dir it never opens.
# One that does open a file there meets main's PermissionError line, which names it.
_DATA_DIR_UNUSED = frozenset({"init", "packs", "campaigns", "health", "demo",
                              "explain", "tail", "report", "evidence", "archive"})


def on_read_only_mount(path: Path) -> bool:
    """Whether ``path`` lies on a file system mounted read-only (for every user, root too:
    a read-only mount, or outside systemd's ``ReadWritePaths=`` under
    ``ProtectSystem=strict``); False when it cannot be told."""
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except OSError:
        return False


# What each command does with the configured compliance log (``[log] file``), by its path
# below ``callguard``. WRITES: it writes a compliance record there (a decision, a record or
# list change, a purge): a log no command can use refuses it before anything is done,
# nothing acknowledged that is not durable. READS: it reads it (``archive``: takes its
# segments) unless given ``--file`` or ``--stream``, and checks the place it will actually
# read (``log_to_read_or_exit``): `tail --file COPY` and `archive --file COPY` were refused
# for a ``[log] file`` they never open (hcli33). UNUSED: it never opens it (`dnc status`,
# `consent show`), and was refused (exit 2) for a log it does not read (hcli32); ``config
# check`` lists the log among its problems instead. A command missing here is checked as
# WRITES: fail closed.
WRITES, READS, UNUSED = "writes", "reads", "unused"
LOG_USE: dict[str, str] = {
    "check": WRITES, "scrub": WRITES, "serve": WRITES, "purge": WRITES, "archive": READS,
    "records-accept-older": WRITES,
    "dnc import": WRITES, "dnc rollback": WRITES, "dnc drop": WRITES,
    "dnc check": UNUSED, "dnc status": UNUSED,
    "attributes import": WRITES, "attributes status": UNUSED,
    **{f"{group} {action}": WRITES for group, actions in (
        ("internal-dnc", ("add", "import")), ("consent", ("add", "revoke", "import")),
        ("ebr", ("add", "end", "import"))) for action in actions},
    "internal-dnc show": UNUSED, "consent show": UNUSED, "ebr show": UNUSED,
    "tail": READS, "report": READS, "evidence": READS, "explain": READS,
    "init": UNUSED, "packs check": UNUSED, "packs show": UNUSED, "campaigns list": UNUSED,
    "health": UNUSED, "config check": UNUSED, "demo": UNUSED,
}


def log_checked_first(command: str | None) -> bool:
    """Whether ``command`` (its path: "dnc status") is refused up front for a ``[log]
    file`` no command can use: every command that writes there, and any not in LOG_USE."""
    return LOG_USE.get(command or "", WRITES) == WRITES


def log_to_read_or_exit(file_path: Path | None, log_file: Path | None,
                        data_dir: Path | None) -> None:
    """A reader's log, checked where it will read: ``--file`` when given (a directory is a
    usage error), else ``[log] file`` ``log_file`` (``log_file_unusable``)."""
    if file_path is not None:
        if file_path.is_dir():
            usage_error(f"--file {file_path} is a directory: give the path of a node's log "
                        f"file in it (e.g. {file_path / 'compliance.jsonl'})")
        return
    unusable = log_file_unusable(log_file, data_dir)
    if unusable:
        usage_error(unusable)


def log_file_unusable(path: Path | None, data_dir: Path | None = None) -> str | None:
    """Why ``[log] file`` ``path`` can never be the compliance log, or None: it is a
    directory (``file = "/var/log/callguard"``, the directory the unit's ``ReadWritePaths=``
    names, not a file in it), or a path under something that is not a directory. ``config
    check`` said "ok" and ``serve``, ``check`` and the readers stopped with "internal error:
    IsADirectoryError" (exit 3), a fault of callguard's to the reader (hnew30)."""
    if path is None:  # "-": stdout
        return None
    try:
        return _log_file_unusable(path, data_dir)
    except OSError:  # not this user's to look at (a data dir 0700): whoever opens it says so
        return None


def _log_file_unusable(path: Path, data_dir: Path | None) -> str | None:
    example = f'file = "{path / "compliance.jsonl"}"'
    if path.is_dir():
        return (f"[log] file {path} is a directory, not a file: name a file in it "
                f"({example}), or leave file empty for <data dir>/compliance.jsonl")
    where = path.parent
    if where == data_dir:  # the data dir's own problems are said of it (not "[log] file")
        return None
    while where != where.parent and not where.exists():
        where = where.parent
    if where.exists() and not where.is_dir():
        return (f"[log] file {path}: {where} is not a directory, so no file can be made "
                "under it; name a file in a directory (or leave file empty for "
                "<data dir>/compliance.jsonl)")
    return None


def _data_dir_closed(path: Path, source: str, command: str | None) -> str | None:
    """Why this user cannot use the data dir, or None. A data dir made 0700 by root (`init`
    as root, `install -d` without -o) read by the service user, or the service's read by an
    admin outside its group, was "internal error: PermissionError: ... log.key" (exit 3):
    a fault of callguard's, to the reader, for a question of ownership."""
    if command in _DATA_DIR_UNUSED or not path.is_dir():
        return None
    wanted = os.R_OK | os.X_OK | (os.W_OK if command == "serve" else 0)
    if os.access(path, wanted):
        return None
    # a read-only mount: no owner or mode makes it writable (EROFS, root too)
    if on_read_only_mount(path) and os.access(path, os.R_OK | os.X_OK):
        return (f"data dir {path} ({source}) is on a read-only file system: {command} "
                "cannot write it (no owner or mode changes that). Remount it read-write or "
                "choose a writable place; under the systemd unit (ProtectSystem=strict) add "
                "it to ReadWritePaths=")
    info = path.stat()
    try:
        import pwd  # noqa: PLC0415 - POSIX only

        owner = pwd.getpwuid(info.st_uid).pw_name
        user = pwd.getpwuid(os.geteuid()).pw_name
    except (ImportError, KeyError):
        owner, user = str(info.st_uid), str(os.geteuid())
    need = "read and write" if command == "serve" else "read"
    return (f"data dir {path} ({source}; owner {owner}, mode {info.st_mode & 0o777:o}): user "
            f"{user} cannot {need} it. Run the command as its owner (sudo -u {owner} ..., or "
            f"callguard-admin ... for the service's), or give {user} access (chown -R)")


class CliState:
    """Options of the ``callguard`` group, resolved lazily."""

    def __init__(self, config: Path | None, data_dir: Path | None,
                 command: str | None = None) -> None:
        self._config = config
        self._data_dir = data_dir
        self.command = command  # the subcommand's name (root trap, the "using" line)
        self._settings: Settings | None = None

    @property
    def config_option(self) -> Path | None:
        """``--config`` as given (None: ``CALLGUARD_CONFIG`` or the bundled demo)."""
        return self._config

    @property
    def data_dir_option(self) -> Path | None:
        """``--data-dir`` as given (None: ``CALLGUARD_DATA_DIR`` or the configuration's)."""
        return self._data_dir

    @property
    def settings(self) -> Settings:
        """Load the configuration once; a bad one is a usage error."""
        if self._settings is None:
            from callguard.config import config_problems, load_settings  # noqa: PLC0415
            try:
                self._settings = load_settings(self._config, data_dir=self._data_dir)
            except ConfigError as exc:
                *first, last = config_problems(exc)  # every one, each on its line
                for problem in first:
                    err_console.print(f"[red]usage error:[/red] configuration: "
                                      f"{escape(problem)}", highlight=False)
                usage_error(f"configuration: {last}")
            data_dir = self._settings.data_dir
            if data_dir.exists() and not data_dir.is_dir():
                usage_error(f"data dir {data_dir} ({self._settings.data_dir_source}) is not "
                            "a directory: check --data-dir / CALLGUARD_DATA_DIR / "
                            "[callguard] data_dir")
            from callguard.cli.ownership import announce, root_trap  # noqa: PLC0415
            refusal = root_trap(self._settings, _command_path() or self.command)
            if refusal:
                usage_error(refusal)
            announce(self._settings, self.command)
            from callguard.datadir import missing_data_dir  # noqa: PLC0415
            missing = missing_data_dir(data_dir, self._settings.data_dir_source, self.command)
            if missing:
                usage_error(missing)
            closed = _data_dir_closed(data_dir, self._settings.data_dir_source, self.command)
            if closed:
                usage_error(closed)
            if log_checked_first(_command_path() or self.command):
                from callguard.runtime import log_path  # noqa: PLC0415 - see the imports
                unusable = log_file_unusable(log_path(self._settings), data_dir)
                if unusable:
                    usage_error(unusable)
        return self._settings

    def runtime(self, *, lists: bool = True) -> Runtime:
        """Open the node's stores (the lists only when the command decides: ``lists``)."""
        from callguard.runtime import open_runtime  # noqa: PLC0415 - see the imports
        from callguard.stores.redis.lists import (  # noqa: PLC0415 - see the imports
            SERVED_LISTS_FILE,
            RedisListRegistry,
        )
        try:
            runtime = open_runtime(self.settings, lists=lists)
            if isinstance(runtime.lists, RedisListRegistry):  # serve writes it; others read
                runtime.lists.remember_in(self.settings.data_dir / SERVED_LISTS_FILE,
                                          write=self.command == "serve")
        except LogKeyError as exc:
            usage_error(str(exc))
        except CallguardError as exc:
            err_console.print(f"[red]error:[/red] {escape(str(exc))}")
            sys.exit(EXIT_INTERNAL)
        return runtime


def _command_path() -> str | None:
    """The command being run below ``callguard``, with its subcommand ("dnc status")."""
    import click  # noqa: PLC0415 - loaded already by the group; kept out of the imports

    ctx = click.get_current_context(silent=True)
    names: list[str] = []
    while ctx is not None and ctx.parent is not None:
        names.append(ctx.info_name or "")
        ctx = ctx.parent
    return " ".join(reversed(names)) or None


def invocation(settings: Settings) -> str:
    """``callguard`` with the options that reach this configuration and data dir, for the
    commands a message asks to run: "import it with `callguard dnc import ...`" after
    ``callguard --config site.toml config check``, copied as written, imported into the
    bundled demo's data dir, and the check stayed red."""
    from callguard.resources import bundled_config  # noqa: PLC0415 - see the imports

    words = ["callguard"]
    if settings.path.resolve() != bundled_config().resolve() and (
            os.environ.get("CALLGUARD_CONFIG") is None
            or Path(os.environ["CALLGUARD_CONFIG"]).resolve() != settings.path.resolve()):
        words += ["--config", str(settings.path)]
    if settings.data_dir_source == "--data-dir":
        words += ["--data-dir", str(settings.data_dir)]
    return " ".join(shlex.quote(word) for word in words)  # a path with a space, pasted


def usage_error(message: str) -> NoReturn:
    """Print and exit 2 (escaped: messages name sections like "[ami]", not rich markup)."""
    err_console.print(f"[red]usage error:[/red] {escape(message)}", highlight=False)
    sys.exit(EXIT_USAGE)


def zone_or_exit(tz: str) -> ZoneInfo:
    """The ``--tz`` zone, or a usage error naming it (exit 2)."""
    zone = zone_named(tz)
    if zone is None:
        usage_error(f"--tz {tz!r} is not a time zone name; use UTC or one like America/Denver")
    return zone


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run one coroutine to completion."""
    return asyncio.run(coro)


def parse_instant(text: str, option: str = "--at") -> datetime:
    """ISO 8601 with a UTC offset; anything else is a usage error whose example is accepted."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        before = leap_second(text)
        if before is not None:  # as HTTP's `at` says it
            usage_error(f"{option} {text!r} is a leap second (:60), which callguard cannot "
                        f"represent; give the second before it ({before})")
        usage_error(f"{option} {text!r} is not an ISO-8601 date-time "
                    "(e.g. 2026-07-24T10:00:00-06:00, 10 a.m. in Utah that day)")
    if value.tzinfo is not None and out_of_years(value):  # HTTP's `at` bounds, one answer
        usage_error(f"{option} {text!r} must fall in the years {YEARS[0]}-{YEARS[1]} (UTC)")
    if value.tzinfo is None:
        # A bare date parses as midnight: the example names a time, or it would be refused too.
        stem = text if "T" in text or " " in text else f"{value.date().isoformat()}T10:00:00"
        usage_error(f"{option} {text!r} has no UTC offset; add one, e.g. "
                    f"{utah_example(stem, value)} or {stem}Z (UTC)")
    return value


def window_or_exit(since: datetime | None, until: datetime | None, *,
                   names: tuple[str, str] = ("--since", "--until")) -> None:
    """A time window whose end is before its start would silently match nothing."""
    if since is not None and until is not None and until <= since:
        usage_error(f"{names[1]} ({until.isoformat(timespec='seconds')}) is not after "
                    f"{names[0]} ({since.isoformat(timespec='seconds')}): nothing could "
                    f"match; swap them (durations count back from now: {names[0]} 2d "
                    f"{names[1]} 1d)")


def output_path_or_exit(option: str, path: Path) -> Path:
    """A file we are about to write: its directory must exist and be writable, checked
    before any work (a report must not scan a whole log and then fail to save)."""
    if str(path) == "-":
        return path
    if path.is_dir():
        usage_error(f"{option} {path} is a directory; give a file name, e.g. "
                    f"{path / 'out.html'}")
    parent = path.parent if str(path.parent) else Path()
    if not parent.is_dir():
        usage_error(f"{option} {path}: directory {parent} does not exist; create it "
                    f"(mkdir -p {parent}) or choose another path")
    # The directory of the file a link names too: an output is written beside it and
    # renamed over it (scrub's _opened), so that directory must take a new file.
    real_parent = Path(os.path.realpath(path)).parent
    if (not os.access(parent, os.W_OK) or not os.access(real_parent, os.W_OK)
            or (path.exists() and not os.access(path, os.W_OK))):
        usage_error(f"{option} {path}: not writable by this user; choose another path")
    return path


def own_files_or_exit(option: str, path: Path | None, *, data_dir: Path, archive: Path,
                      logs: tuple[Path | None, ...]) -> None:
    """Never write an output over callguard's own files: a compliance log or one of its
    segments (wherever the log is kept), the archive, the lists, or a file the data dir
    already holds (log key, record stores). `evidence --output` naming the log replaced
    the records with the CSV, and exited 0. A new file of one's own (a leads/ folder in
    the data dir) is left alone."""
    if path is None or str(path) == "-":
        return
    target = path.resolve()
    for log in logs:
        if log is not None and target.parent == log.resolve().parent and (
                target.name == log.name or target.name.startswith(f"{log.name}.")):
            usage_error(f"{option} {path} is the compliance log {log} or one of its "
                        "segments: writing it would destroy records; choose another path")
    data = data_dir.resolve()
    owned = (archive.resolve(), data / "archive", data / "lists", data / "lists-dropped")
    if any(target == d or d in target.parents for d in owned) or (
            target.parent == data and target.exists()):
        usage_error(f"{option} {path} is one of callguard's own files in {data} (log key, "
                    "records, lists, archive): writing it would destroy them; choose "
                    "another path")


def one_source_or_exit(file_path: Path | None, stream: bool) -> None:
    """``--file`` and ``--stream`` name two sources; reading one and ignoring the other
    answered a question that was not asked."""
    if file_path is not None and stream:
        usage_error(f"--file {file_path} and --stream: give one of them (the file is one "
                    "node's log, the stream every node's)")


def config_file_or_exit(path: Path | None) -> None:
    """``--config`` must name a file: a directory is the commonest slip."""
    if path is None or not path.is_dir():
        return
    inside = path / "callguard.toml"
    hint = f"--config {inside}" if inside.is_file() else f"the callguard.toml in {path}"
    usage_error(f"--config {path} is a directory; give the configuration file, e.g. {hint}")


def parse_date(option: str, text: str) -> date:
    """YYYY-MM-DD in the years `--at` takes (utc.YEARS), or a usage error: a day counted
    on from 9999-12-31 (`consent add --expires`, "no end" in a CRM export) has no date,
    and the command was an internal error (exit 3)."""
    try:
        day = date.fromisoformat(text)
    except ValueError:
        usage_error(f"{option} {text!r} is not a date like 2026-11-22")
    if not YEARS[0] <= day.year <= YEARS[1]:
        usage_error(f"{option} {text!r} must fall in the years {YEARS[0]}-{YEARS[1]}")
    return day


def parse_published(option: str, text: str, *, now: datetime | None = None) -> date:
    """A publication date that is not in the future anywhere; a later one is a usage error.

    A registry copy dated after the call would count as fresh for every call until that
    date (a typo makes a stale copy look new), so it is refused at the door; one dated by
    today where today has begun is judged 0 days old where it has not (``copy_day``).
    """
    return _not_future(option, text, "a copy cannot have been published yet", now)


def parse_past_date(option: str, text: str, what: str, *, now: datetime | None = None
                    ) -> date:
    """A date of something that has happened (a purchase, an inquiry): later than today
    anywhere is a usage error — a typo (2062 for 2026) would replace the real date on
    record with one that lifts no rule until then."""
    return _not_future(option, text, f"{what} cannot have happened yet", now)


def _not_future(option: str, text: str, why: str, now: datetime | None) -> date:
    """The date ``text``, or a usage error saying ``why`` when it is later than today
    anywhere."""
    # imported here: every command (`tail`, `--version`) imports this module at start
    from callguard.policy.rules.base import latest_date  # noqa: PLC0415

    day = parse_date(option, text)
    latest = latest_date(now or datetime.now(UTC))
    if day > latest:
        usage_error(f"{option} {text} is in the future (today is {latest} at the latest, "
                    f"anywhere): {why}; check the date")
    return day


def campaign_or_exit(settings: Settings, campaign_id: str) -> Campaign:
    """The campaign, or a usage error listing the known ones."""
    campaign = settings.campaigns.get(campaign_id)
    if campaign is None:
        known = ", ".join(sorted(settings.campaigns)) or "none configured"
        usage_error(f"unknown campaign {campaign_id!r}; known: {known}")
    return campaign


def number_or_exit(settings: Settings, number: str) -> NumberInfo:
    """The parsed number, or a usage error with the reason, the number quoted once: most
    reasons quote it themselves ("'[number …5501]x' contains letters"), and it was shown
    twice ("number '[number …5501]x': '[number …5501]x' contains letters")."""
    try:
        return settings.parser().parse(number)
    except NumberError as exc:  # stderr reaches cron mail and journals: never in clear
        usage_error(number_reason(quoted_number(number), str(exc)))


def e164_or_exit(settings: Settings, number: str) -> str:
    """The number in E.164, or a usage error with the reason."""
    return number_or_exit(settings, number).e164


_AUTH_HINT = (" Check CALLGUARD_REDIS_PASSWORD (the server's requirepass; set in the "
              "environment or secrets.env, which callguard-admin reads).")
_UNREACHABLE_HINT = (" Check \\[redis] url (or CALLGUARD_REDIS_URL) and that the server "
                     "runs, then run the command again.")


def auth_refused(message: str) -> bool:
    """Redis refused the password, or wants one (its own words, 6.x and 7.x)."""
    return any(words in message for words in (
        "invalid username-password pair", "Authentication required", "NOAUTH",
        "WRONGPASS", "HELLO must be called with the client already authenticated"))


def redis_hint(message: str, *, unreachable: bool = False) -> str:
    """What to check after a Redis error's ``message`` (" Check ..."; "" for none): the
    password when Redis refused it, the url when it was unreachable. Every command that
    prints a store's error adds it (`consent show` and `records-accept-older` printed a
    bare "Authentication required.", hux18)."""
    if auth_refused(message):
        return _AUTH_HINT
    if unreachable or "(Redis) unreachable" in message:
        return _UNREACHABLE_HINT
    return ""
