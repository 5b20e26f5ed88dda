"""One error tree for callguard, so fronts can fail closed on any of it.

    CallguardError
    ├── ConfigError          the settings or a pack are wrong; the message says how to fix it
    ├── UsageError           a caller asked for something malformed (unknown campaign, bad date)
    ├── NumberError          a phone number is not dialable; ``reason`` is one human sentence
    └── StoreError           a store could not answer (file missing, corrupt, unreachable)
        ├── ListImportError  a list file was refused whole (too many bad lines, unreadable)
        └── NothingToRollBack  a rollback of a list with no earlier version (a usage error)
"""

from __future__ import annotations

__all__ = [
    "CallguardError",
    "ConfigError",
    "ListImportError",
    "NothingToRollBack",
    "NumberError",
    "StoreError",
    "UsageError",
]


class CallguardError(Exception):
    """Root of every error callguard raises on purpose."""


class ConfigError(CallguardError):
    """The configuration or a jurisdiction pack is invalid."""


class ArchiveFormatError(CallguardError):
    """The archive was written by a newer callguard (a format this one cannot read)."""


class ArchiveDamagedError(CallguardError):
    """A file the archive's manifest names is gone with no commit that removed it."""


class UsageError(CallguardError):
    """A request names something unknown or is malformed."""


class NumberError(CallguardError):
    """A phone number cannot be dialled; the message is the reason."""


class StoreError(CallguardError):
    """A store failed to answer; the gate turns this into BLOCK."""


class ListImportError(StoreError):
    """A list file was refused whole; nothing was published."""


class NothingToRollBack(StoreError):
    """``dnc rollback`` asked of a list with no version before its current one (or none at
    all): the request cannot be done, nothing failed, so the CLI answers a usage error."""
