"""The ``callguard`` command."""

from __future__ import annotations

from callguard.cli.interrupts import (
    EXIT_INTERRUPTED,
    Interrupted,
    quiet_imports,
    say_interrupted,
)

# First: a Ctrl-C while these load (and `serve` loads more) exits 130, "interrupted".
with quiet_imports():
    import contextlib
    import errno
    import importlib
    import os
    import secrets
    import sys
    from pathlib import Path
    from typing import Any, NoReturn

    import click
    from rich.markup import escape

    from callguard.cli.common import (
        EXIT_INTERNAL,
        EXIT_USAGE,
        CliState,
        auth_refused,
        config_file_or_exit,
        err_console,
        redis_hint,
    )
    from callguard.compliance.logkey import LogKeyError
    from callguard.compliance.seekable import SeekableError
    from callguard.errors import ArchiveDamagedError, ArchiveFormatError, ConfigError, StoreError
    from callguard.numbers.redact import redact_digits

__all__ = ["cli", "main"]

# Each command's module is imported when the command runs (click's lazy-loading pattern),
# so `callguard tail` does not pay for the gate, the fronts and Redis before it reads.
_COMMANDS = {
    "check": "callguard.cli.check:check",
    "dnc": "callguard.cli.lists:dnc",
    "attributes": "callguard.cli.attributes:attributes",
    "internal-dnc": "callguard.cli.records:internal_dnc",
    "consent": "callguard.cli.records:consent",
    "ebr": "callguard.cli.records:ebr",
    "records-accept-older": "callguard.cli.records_restore:records_accept_older",
    "scrub": "callguard.cli.scrub:scrub",
    "serve": "callguard.cli.serve:serve",
    "demo": "callguard.cli.demo:demo",
    "tail": "callguard.cli.logs:tail",
    "report": "callguard.cli.logs:report",
    "purge": "callguard.cli.purge:purge",
    "archive": "callguard.cli.archive:archive",
    "evidence": "callguard.cli.evidence:evidence",
    "explain": "callguard.cli.explain:explain_command",
    "packs": "callguard.cli.packs:packs",
    "config": "callguard.cli.config_check:config",
    "campaigns": "callguard.cli.campaigns:campaigns",
    "init": "callguard.cli.init:init",
    "health": "callguard.cli.health:health",
}
# --help's list of commands (each one's first paragraph, as click shortens it): read from here,
# not from the commands, whose docstrings are reached only by importing every command's module
# (the gate, numpy, aiohttp, DuckDB: most of a second). tests/test_hspd33_light_cli.py holds
# these to the commands' own help.
_HELP = {
    "check": (
        "Decide whether NUMBER may be called now, or at the --at instant (exit 0 ALLOW, 1 "
        "BLOCK, 2 usage, 3 error)."),
    "dnc": "Do-not-call lists: import, rollback, drop, check, status.",
    "attributes": "Number attribute lists: wireless, ported, reassigned, litigator.",
    "internal-dnc": (
        "The solicitor's own do-not-call list (47 CFR 64.1200(d)(3)); kept 5 years "
        "((d)(6))."),
    "consent": "Consent of a called party to a solicitor.",
    "ebr": "Established business relationships.",
    "records-accept-older": (
        "Accept the Redis record store as it is although it is older than this node's mark "
        "(restored from an older backup): re-record the lost do-not-call requests and "
        "revocations first. Writes a compliance record."),
    "scrub": "Decide every row of LEADS for CAMPAIGN at --at; write verdicts and a summary.",
    "serve": "Run the node until SIGTERM.",
    "demo": "Import the demo lists, record demo consent, and show ALLOW and BLOCK decisions.",
    "tail": "Show compliance records of this node (a file) or of every node (--stream).",
    "report": "Calls by day, campaign, verdict and rule; scrubs apart; the watchdog's figures.",
    "purge": (
        "Destroy compliance records older than the retention period (Utah Code 13-44-201, "
        "subsection unverified: destroy records holding personal information that are not "
        "to be retained)."),
    "archive": "Compress closed log segments and archive them (or the stream) as Parquet by day.",
    "evidence": "Every decision and record change for NUMBER (or --decision ID), archive and live.",
    "explain": (
        "Render DECISION_ID's record in full: every rule, citation and sentence ('-': "
        "stdin)."),
    "packs": "Jurisdiction packs: check a pack file, show a configured pack.",
    "config": "The configuration: check it.",
    "campaigns": "The configured campaigns.",
    "init": "Write a starter configuration (DIR/callguard.toml, DIR/secrets.env) to edit.",
    "health": (
        "Can the configured node decide? Exit 0 ready, 1 down, 4 not ready, 5 alive but "
        "readiness unknown ([http] off)."),
}
_SHORT_HELP = {"check": "Decide whether NUMBER may be called now, or at --at."}  # its short_help
# The state of the command that ran (one per process; a list, not a global statement):
# main() asks it, after click has let go of its context, whose paths a PermissionError was on.
_RAN: list[CliState] = []
# Commands that emit no operational events and must start fast: no logging set-up.
_QUIET = frozenset({"tail", "evidence"})


class _LazyGroup(click.Group):
    """A group whose commands are imported by name when used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(_COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = _COMMANDS.get(cmd_name)
        if target is None:
            return None
        module, _, name = target.partition(":")
        with quiet_imports():  # `serve` loads the gate, the fronts, aiohttp: ~0.5 s
            command = getattr(importlib.import_module(module), name)
        assert isinstance(command, click.Command)
        return command

    def make_context(self, info_name: str | None, args: list[str],
                     parent: click.Context | None = None, **extra: Any) -> click.Context:
        """The options read, a Ctrl-C carried past click as ``Interrupted`` (``invoke``)."""
        try:
            return super().make_context(info_name, args, parent, **extra)
        except KeyboardInterrupt:
            raise Interrupted from None

    def invoke(self, ctx: click.Context) -> object:
        """The command (imported here: `serve`'s half second of imports), a Ctrl-C carried
        past click as ``Interrupted``: click read a KeyboardInterrupt as Abort, a blank
        line on stderr and, in ``main``, exit 2, a usage error."""
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            raise Interrupted from None

    def resolve_command(self, ctx: click.Context, args: list[str]
                        ) -> tuple[str | None, click.Command | None, list[str]]:
        """click offers "Did you mean" from the commands it holds, and this group holds
        none until one is used: `callguard chek` got no suggestion, `dnc chek` did."""
        try:
            return super().resolve_command(ctx, args)
        except click.exceptions.NoSuchCommand as exc:
            raise click.exceptions.NoSuchCommand(exc.command_name, possibilities=_COMMANDS,
                                                 ctx=ctx) from None

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """``--help``'s list from ``_HELP``, laid out by click's own code: importing each
        command to read its first line loaded all of callguard for a page of text."""
        _Listing().format_commands(ctx, formatter)


class _Listing(click.Group):
    """The top-level commands as ``--help`` lists them, from ``_HELP``, none imported."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(_COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return click.Command(cmd_name, help=_HELP[cmd_name],
                             short_help=_SHORT_HELP.get(cmd_name))


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", type=click.Path(path_type=Path), envvar="CALLGUARD_CONFIG",
              help="Configuration file (env CALLGUARD_CONFIG); default: the bundled demo.")
@click.option("--data-dir", type=click.Path(path_type=Path), envvar="CALLGUARD_DATA_DIR",
              help="Data directory (env CALLGUARD_DATA_DIR); default: [callguard] "
                   "data_dir, else /var/lib/NAME for a file under /etc/NAME/, "
                   "~/.local/share/callguard for the bundled demo, data/ beside any other "
                   "file (`config check` says which). Never created: it must exist.")
@click.version_option(package_name="callguard")
@click.pass_context
def cli(ctx: click.Context, config: Path | None, data_dir: Path | None) -> None:
    """callguard: a telemarketing-law compliance gate for outbound calls."""
    config_file_or_exit(config)
    if ctx.invoked_subcommand != "init":
        # What callguard writes in its data dir (lists, records, logs, archive) and exports
        # is the service user's alone, whatever umask the shell or unit gave: one place, not
        # every mkdir. Not for `init`: the configuration it writes is for the service user
        # to read (as root, before `chown`), so the shell's umask applies there.
        os.umask(os.umask(0o077) | 0o077)
    # Operational events go to stderr from the start, so --json output stays clean; the
    # node's real hashing key replaces this ephemeral one when its stores are opened.
    if ctx.invoked_subcommand not in _QUIET:
        with quiet_imports():
            from callguard.audit import configure_logging  # noqa: PLC0415 - see _COMMANDS

        configure_logging(secrets.token_bytes(32))
    if ctx.get_parameter_source("data_dir") is click.core.ParameterSource.ENVIRONMENT:
        # click filled the option from CALLGUARD_DATA_DIR: leave it to choose_data_dir,
        # which reads the variable itself and says so ("data_dir_from": the variable)
        data_dir = None
    ctx.obj = CliState(config, data_dir, ctx.invoked_subcommand)
    _RAN.append(ctx.obj)


def main() -> None:
    """Entry point: usage errors exit 2, unexpected errors 3, a Ctrl-C 130 — never a bare
    traceback."""
    try:
        _run()
    except (Interrupted, KeyboardInterrupt):  # Ctrl-C: one line, the shell's 130
        say_interrupted()
        sys.exit(EXIT_INTERRUPTED)


def _run() -> None:
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        sys.exit(EXIT_USAGE)
    except click.ClickException as exc:
        exc.show()
        sys.exit(EXIT_USAGE)
    except ArchiveFormatError as exc:  # an archive of a newer callguard: upgrade
        err_console.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False)
        sys.exit(EXIT_USAGE)
    except LogKeyError as exc:  # a malformed CALLGUARD_LOG_KEY or log.key: the admin's to fix
        # (a ConfigError: caught before the handler below)
        err_console.print(f"[red]usage error:[/red] {escape(str(exc))}", highlight=False)
        sys.exit(EXIT_USAGE)
    except ConfigError as exc:  # one met past CliState.settings (a [log] file through a
        # symbolic link loop, resolved when first used): the admin's to fix, not exit 3
        err_console.print(f"[red]usage error:[/red] configuration: {escape(str(exc))}",
                          highlight=False)
        sys.exit(EXIT_USAGE)
    except SeekableError as exc:  # a damaged compressed segment: named, its path in clear
        # (paths are the data dir's and timestamped, which the redaction would take for
        # numbers); the admin restores or removes the file
        err_console.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False)
        sys.exit(EXIT_INTERNAL)
    except ArchiveDamagedError as exc:  # named with its days and paths in clear (as the
        # damaged segment above: the redaction took the files' hex names for numbers)
        err_console.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False)
        sys.exit(EXIT_INTERNAL)
    except StoreError as exc:  # a store that cannot be reached or trusted: the admin's
        hint = redis_hint(str(exc))
        err_console.print(f"[red]error:[/red] {escape(redact_digits(str(exc)))}{hint}",
                          highlight=False)
        sys.exit(EXIT_INTERNAL)
    except PermissionError as exc:
        if not admins_path(exc, _RAN[-1] if _RAN else None):
            # Not a path the admin chose (no file, site-packages, /proc, /tmp, a signal):
            # callguard's own fault. It read "usage error: permission denied" (exit 2),
            # sending the admin to chown files that were never the problem.
            err_console.print(internal_error_text(exc))
            err_console.print(escape(frames(exc)), highlight=False)
            sys.exit(EXIT_INTERNAL)
        # a file this user may not open: ownership, not a fault
        err_console.print(f"[red]usage error:[/red] {escape(permission_text(exc))}",
                          highlight=False)
        sys.exit(EXIT_USAGE)
    except Exception as exc:  # noqa: BLE001 - last line of defence for the CLI
        _last_resort(exc)


def _last_resort(exc: Exception) -> NoReturn:
    """Any other error: a read-only file system or an unreachable Redis said plainly (the
    admin's to fix), anything else as callguard's own fault (exit 3)."""
    if isinstance(exc, OSError) and exc.errno == errno.EROFS:
        # a read-only mount (or a path outside ReadWritePaths= under the unit's
        # ProtectSystem=strict): the admin's to fix, as a PermissionError is. It was
        # "internal error: OSError" (exit 3), which Restart=on-failure only retried.
        err_console.print(f"[red]error:[/red] {escape(read_only_text(exc))}",
                          highlight=False)
        sys.exit(EXIT_USAGE)
    if _redis_unreachable(exc):
        # redis-py's AuthenticationError is a ConnectionError: a refused password is
        # no wrong url (the lists' commands, `dnc status`, said "check [redis] url").
        refused = auth_refused(str(exc))
        what = "refused the password" if refused else "is unreachable"
        hint = redis_hint(str(exc), unreachable=True)
        err_console.print(f"[red]error:[/red] Redis {what} ({escape(str(exc))}).{hint}",
                          highlight=False)
        sys.exit(EXIT_INTERNAL)
    err_console.print(internal_error_text(exc))
    sys.exit(EXIT_INTERNAL)


def admins_path(exc: PermissionError, state: CliState | None) -> bool:
    """Whether ``exc`` is on a path the admin chose, so the fix is the admin's (ownership,
    mode): the configuration file and its directory (token, secrets, copied packs), the
    data dir, the log file's directory, any path the configuration names, one given on the
    command line or in a CALLGUARD_* variable. A PermissionError with no file, or on any
    other path, is callguard's bug and is reported as one.

    Each path is compared as written and with its symlinks resolved: callguard opens some
    resolved (``packs_dir``, a relative ``[log] file``), and ``/etc/callguard`` may be a
    link. Never raises: it runs inside main's handler, where an error of its own was a bare
    traceback, exit 1 (a working directory this user may not search — ``sudo -u callguard
    callguard tail`` from /root — made its ``exists()`` raise PermissionError)."""
    names = [n for n in (exc.filename, exc.filename2) if isinstance(n, str) and n]
    if not names:
        return False
    try:
        chosen = [form for place in _chosen_paths(state) for form in _forms(place)]
    except Exception:  # noqa: BLE001 - best effort: the command line's and the file's
        chosen = []
    for name in names:
        for path in _forms(Path(name)):
            if any(path == place or (place != Path(place.anchor) and place in path.parents)
                   for place in chosen):
                return True
    return False


def _forms(path: Path) -> list[Path]:
    """``path`` absolute, as written and resolved; none that cannot be made (no working
    directory, a symlink loop)."""
    forms = []
    for form in (path.absolute, path.resolve):
        with contextlib.suppress(OSError, RuntimeError):
            forms.append(form())
    return forms


def _user_path(value: str) -> Path | None:
    """``value`` with ``~`` expanded, or None for a ``~user`` that names no user."""
    try:
        return Path(value).expanduser()
    except RuntimeError:
        return None


def _chosen_paths(state: CliState | None) -> list[Path]:
    """The paths of ``admins_path``; best effort (a file that cannot be read adds none of
    its own, and is itself among them). Every argument counts, found or not: a file named
    in a directory this user may not search (``dnc import national.txt`` from /root) is
    not found, and is the admin's all the same. A CALLGUARD_* variable counts only when it
    looks like a path: its secrets are no file names."""
    given = [arg.rpartition("=")[2] for arg in sys.argv[1:]]
    given = [v for v in given if v and not v.startswith("-")]
    given += [v for k, v in os.environ.items() if k.startswith("CALLGUARD_") and "/" in v]
    chosen = [path for path in map(_user_path, given) if path is not None]
    if state is None:
        return chosen
    from callguard.cli.locate import locate  # noqa: PLC0415 - only on this error's path
    from callguard.resources import bundled_config  # noqa: PLC0415
    from callguard.tomlfile import read_config  # noqa: PLC0415

    config = state.config_option or Path(os.environ.get("CALLGUARD_CONFIG")
                                         or bundled_config())
    chosen += [config, config.parent]
    try:
        place = locate(config, state.data_dir_option)
        chosen.append(place.data_dir)
        if place.log_file is not None:
            chosen.append(place.log_file.parent)
        strings: list[object] = [read_config(config)]
    except Exception:  # noqa: BLE001 - the file may be the one that cannot be read
        return chosen
    while strings:  # every path-like string value of the file, relative to its directory
        value = strings.pop()
        if isinstance(value, dict):
            strings.extend(value.values())
        elif isinstance(value, list):
            strings.extend(value)
        elif isinstance(value, str) and "/" in value and (named := _user_path(value)):
            chosen.append(config.parent / named)
    return chosen


def frames(exc: BaseException) -> str:
    """Where a bug happened: the traceback's frames (file, line, code), without the
    exception's words, which ``internal_error_text`` prints with any number taken out."""
    import traceback  # noqa: PLC0415 - only on this error's path

    return "".join(traceback.format_tb(exc.__traceback__)).rstrip()


def permission_text(exc: PermissionError) -> str:
    """A file the user running the command may not open, with its owner: `callguard tail`
    by an admin outside the service's group, `serve` as a user the data dir is not
    writable by. It was "internal error: PermissionError" (exit 3), a fault of callguard's
    to the reader. Digits taken out as in the last resort's line (cron mail, journald)."""
    name = exc.filename if isinstance(exc.filename, str) else ""
    owner = ""
    # The file, else the nearest directory above it this user may look at: the one closed
    # to it (a data dir init made 0700 as root), whose file cannot even be looked at.
    for at in (Path(name), *Path(name).parents) if name else ():
        try:
            info = at.stat()
        except OSError:
            continue
        try:
            import pwd  # noqa: PLC0415 - POSIX only

            shown = pwd.getpwuid(info.st_uid).pw_name
        except (ImportError, KeyError):
            shown = str(info.st_uid)
        place = "" if at == Path(name) else f"in {redact_digits(str(at))}: "
        owner = f" ({place}owner {shown}, mode {info.st_mode & 0o777:o})"
        break
    return (f"permission denied: {redact_digits(name) or redact_digits(str(exc))}{owner}. Run "
            "the command as a user who may open it (a data dir's file: its owner, sudo -u "
            "OWNER ..., or callguard-admin ... for the service's), or give this user access")


def read_only_text(exc: OSError) -> str:
    """A write refused because the file system is mounted read-only (errno EROFS), for
    every user, root too: the path and the fix. Digits taken out as in permission_text."""
    names = [n for n in (exc.filename, exc.filename2) if isinstance(n, str) and n]
    if not names:
        return (f"read-only file system ({redact_digits(str(exc))}): callguard must write "
                "there; mount it read-write, or under the systemd unit "
                "(ProtectSystem=strict) add its directory to ReadWritePaths=")
    where = redact_digits(str(Path(names[0]).parent))
    return (f"read-only file system: cannot write {redact_digits(names[0])}. Mount "
            f"{where} read-write, or under the systemd unit (ProtectSystem=strict) add it "
            "to ReadWritePaths=")


def internal_error_text(exc: BaseException) -> str:
    """The last resort's line: the exception's words with any phone number taken out (an
    unexpected error may repeat the input it choked on; stderr reaches cron mail and
    journald), escaped because messages name sections like "[ami]"."""
    return (f"[red]internal error:[/red] {type(exc).__name__}: "
            f"{escape(redact_digits(str(exc)))}")


def _redis_unreachable(exc: BaseException) -> bool:
    """A command that needs Redis met none: say so plainly, not as an internal error."""
    redis_exceptions = sys.modules.get("redis.exceptions")  # imported only if Redis was used
    return redis_exceptions is not None and isinstance(
        exc, (redis_exceptions.ConnectionError, redis_exceptions.TimeoutError))
