"""Which configuration and data dir a command uses, and the root trap.

Every command that loads the configuration says, once on stderr (a JSON line like the other
operational events), which file and which data dir it uses and why — a cron job that
"succeeds" into another data dir is seen in its mail.

The root trap: ``sudo callguard dnc import ...`` in the service's data dir would make
root-owned 0600 files (``log.key``, ``records.sqlite3``, ``compliance.jsonl``, list
versions) that the service, running as its own user, cannot open: it would then stop with
PermissionError. Handing each new file over with ``chown`` would have to cover every
writer (SQLite's journal, log rotation, archive segments); refusing covers them all, so
callguard refuses, as a usage error naming the owner to run as. Commands that create no
file in the data dir are allowed as root: ``config check``, ``packs``, ``campaigns list``,
the log readers, and the list readers ``dnc status``, ``dnc check`` and ``attributes
status`` (they read list files, open no store). Refused, besides every writer: ``check``
(it logs a decision: the log, its key) and ``internal-dnc|consent|ebr show`` (SQLite makes
the record store's -wal and -shm files when it opens it, even to read).
"""

from __future__ import annotations

import os
import pwd
from pathlib import Path
from typing import TYPE_CHECKING

import structlog

if TYPE_CHECKING:
    from callguard.config import Settings

__all__ = ["OWN_DATA_DIR_COMMANDS", "READ_ONLY_COMMANDS", "announce", "foreign_owner",
           "root_trap"]

# Commands (a top command: all of its subcommands; or "group subcommand") that never create
# a file in the data dir.
READ_ONLY_COMMANDS = frozenset({"config", "campaigns", "packs", "explain", "health", "init",
                                "tail", "report", "evidence",
                                "dnc status", "dnc check", "attributes status"})

_log = structlog.get_logger("callguard.cli")


# Commands that choose their data dir themselves, and announce and check it then: the
# demo writes a fresh directory (or its own --data-dir), never the configured one.
OWN_DATA_DIR_COMMANDS = frozenset({"demo"})


def announce(settings: Settings, command: str | None, *, own: bool = False) -> None:
    """One line on stderr: the configuration and data dir this command uses (not from
    ``tail`` and ``evidence``, which keep stderr for their own use and set up no logging;
    from ``demo`` once it has chosen its directory, ``own``)."""
    if not structlog.is_configured() or (command in OWN_DATA_DIR_COMMANDS and not own):
        return
    _log.info("using", command=command, config=str(settings.path),
              data_dir=str(settings.data_dir), data_dir_from=settings.data_dir_source)


def _owner_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def foreign_owner(path: Path, euid: int) -> str | None:
    """The owner of ``path`` (or of its nearest existing parent) when it is not ``euid``."""
    for candidate in (path, *path.parents):
        try:
            owner = candidate.stat().st_uid
        except FileNotFoundError:
            continue
        except OSError:
            return None
        return None if owner == euid else _owner_name(owner)
    return None


def root_trap(settings: Settings, command: str | None, *, euid: int | None = None) -> str | None:
    """The refusal message when root would write into another user's data dir, else None
    (``command``: the command as typed, its subcommand too: "dnc status")."""
    euid = os.geteuid() if euid is None else euid
    top = None if command is None else command.split(" ", 1)[0]
    if euid != 0 or top in OWN_DATA_DIR_COMMANDS or (
            command in READ_ONLY_COMMANDS or top in READ_ONLY_COMMANDS):
        return None
    owner = foreign_owner(settings.data_dir, euid)
    if owner is None:
        return None
    return (f"running as root in data dir {settings.data_dir}, owned by {owner}: files made "
            f"now would belong to root and the service could not open them. Run it as the "
            f"owner: sudo -u {owner} --preserve-env=CALLGUARD_CONFIG callguard ... (or "
            "callguard-admin ..., which also reads the service's secrets.env)")
