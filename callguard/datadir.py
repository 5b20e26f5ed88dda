"""Which data directory a configuration file means, and why (one rule for every command).

In order: ``--data-dir``; ``CALLGUARD_DATA_DIR``; ``[callguard] data_dir`` in the file
(relative to the file's directory); and when that is empty or absent:

- a file under ``/etc`` (``/etc/NAME/callguard.toml``): ``/var/lib/NAME`` — the FHS place
  for a service's state, the systemd unit's ``StateDirectory`` and the image's volume;
- the bundled demo inside the installed package: ``$XDG_DATA_HOME/callguard`` (default
  ``~/.local/share/callguard``) — never inside site-packages;
- any other file: ``data/`` beside it (``callguard init DIR`` makes ``DIR/data``).

Which commands may run while it does not exist, and which may make it:
``missing_data_dir``. Where the compliance log is: ``log_file``.

Kept free of heavy imports: ``callguard tail`` resolves it without loading the packs.
"""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["DataDirChoice", "choose_data_dir", "default_data_dir", "log_file",
           "missing_data_dir", "resolved_path"]

_ETC = Path("/etc")
_BUNDLED = "default for the bundled demo configuration"


@dataclass(frozen=True, slots=True)
class DataDirChoice:
    """The data directory and where it came from (printed by ``config check``)."""

    path: Path
    source: str


def _is_bundled(config: Path) -> bool:
    from callguard.resources import DATA  # noqa: PLC0415 - light, but only when needed

    return config.resolve().parent == DATA.resolve()


def default_data_dir(config: Path) -> DataDirChoice:
    """The data directory of a file that names none."""
    where = config.resolve().parent
    if where == _ETC or _ETC in where.parents:
        name = "callguard" if where == _ETC else where.relative_to(_ETC).parts[0]
        return DataDirChoice(Path("/var/lib") / name, "default for a file under /etc")
    if _is_bundled(config):
        base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
        return DataDirChoice(Path(base) / "callguard", _BUNDLED)
    return DataDirChoice(where / "data", "default: data/ beside the configuration file")


def choose_data_dir(config: Path, configured: str, option: Path | None) -> DataDirChoice:
    """``--data-dir``, ``CALLGUARD_DATA_DIR``, the file's ``data_dir``, or the default."""
    if option is not None:
        return _resolved(option, "--data-dir")
    env = os.environ.get("CALLGUARD_DATA_DIR")
    if env:
        return _resolved(Path(env), "CALLGUARD_DATA_DIR")
    if configured:
        return _resolved(config.parent / Path(configured).expanduser(),
                         f"[callguard] data_dir in {config.name}")
    return default_data_dir(config)


def _resolved(path: Path, source: str) -> DataDirChoice:
    """``path`` resolved, or a ConfigError when a symbolic link on it leads back to itself
    (``ln -s data data``): every command, ``config check`` and ``serve`` alike, was
    "internal error: RuntimeError: Symlink loop" (exit 3). As a configuration problem,
    ``config check`` lists it and every other command refuses it, exit 2 (hcli32)."""
    return DataDirChoice(resolved_path(
        path, f"data dir {path} ({source})",
        "--data-dir / CALLGUARD_DATA_DIR / [callguard] data_dir"), source)


def resolved_path(path: Path, what: str, check: str, *, target: str = "a directory") -> Path:
    """``path`` resolved, or a ConfigError naming ``what`` it is, what the link should
    point at (``target``: a ``[log] file`` is a file) and where to ``check`` when a symbolic
    link on it leads back to itself: ``Path.resolve`` raises RuntimeError there
    (Python 3.11-3.12; 3.13 OSError ELOOP), "internal error" (exit 3) to the admin. The data
    dir, ``[log] file`` and ``demo --data-dir`` are resolved here (hcli32, hcli33)."""
    try:
        return path.resolve()
    except RuntimeError:
        pass
    except OSError as exc:
        if exc.errno != errno.ELOOP:
            raise
    from callguard.errors import ConfigError  # noqa: PLC0415 - light, but only when needed

    raise ConfigError(f"{what} is a symbolic link loop (a link on it leads back to itself): "
                      f"point the link at {target}, or check {check}")


def log_file(config: Path, data_dir: Path, target: str) -> Path | None:
    """``[log] file`` of ``config``: None for "-" (stdout), empty for
    ``<data_dir>/compliance.jsonl``, a relative path against the file's directory (as
    ``data_dir``, ``token_file`` and ``secret_file`` are). Against the working directory,
    ``config check`` run in /etc/callguard and ``serve`` (systemd: /) named two different
    files, and ``tail``/``evidence`` run elsewhere read neither: the evidence was
    written where no reader looked. ``runtime.log_path`` and ``cli.locate`` both call this."""
    if target == "-":
        return None
    if not target:
        return data_dir / "compliance.jsonl"
    path = Path(target).expanduser()
    return path if path.is_absolute() else resolved_path(
        config.parent / path, f"[log] file {target!r} of {config}", "[log] file",
        target="the log file or a directory on its path")


# Commands that run with no data directory there: ``demo`` makes its own; ``init`` makes
# the one beside the configuration it writes; ``config check`` says the dir is missing; ``packs``,
# ``campaigns`` and ``health`` read only the configuration; the readers (``tail``,
# ``report``, ``evidence``, ``explain``) create nothing and refuse a missing log themselves
# (``--file`` reads a copied log with no data dir); ``archive`` refuses it unless
# ``--archive``/``--stream`` says where.
_NEEDS_NO_DATA_DIR = frozenset({"demo", "init", "config", "packs", "campaigns", "health",
                                "tail", "report", "evidence", "explain", "archive"})
_EXPLICIT = frozenset({"--data-dir", "CALLGUARD_DATA_DIR"})


def missing_data_dir(path: Path, source: str, command: str | None) -> str | None:
    """Why ``command`` must not run on a data dir that does not exist, or None.

    A mistyped ``--data-dir`` must not become a new data dir: the first record written
    there makes a new random log key, and records hashed under it match no other node's
    (a lookup by number finds nothing and says nothing). Only ``serve`` makes the data dir
    at its first start, and only the one its configuration names (the unit's
    ``StateDirectory`` or an admin's ``install -d`` makes it otherwise; ``init DIR`` makes
    ``DIR/data``). The bundled demo configuration's own default is the sandbox's: any
    command may make it.
    """
    if path.exists() or command is None or command in _NEEDS_NO_DATA_DIR:
        return None
    if source == _BUNDLED:  # the sandbox's own place: no node's key to fork there
        return None
    if command == "serve" and source not in _EXPLICIT:
        return None
    fix = (f"no data directory at {path} ({source}): check --data-dir / CALLGUARD_DATA_DIR / "
           "[callguard] data_dir; nothing was created (a new one would get a new log key, "
           "and its records would not match the node's). ")
    if command == "serve" or source in _EXPLICIT:
        # a dir named by --data-dir / CALLGUARD_DATA_DIR: serve refuses it too, so no
        # command may send its admin to serve's first start
        return fix + ("serve makes a data dir at its first start only when the configuration "
                      f"names it; create this one first (install -d -m 0750 {path}) if it is "
                      "meant")
    return fix + (f"A new node's is made by its owner (install -d -m 0750 {path}) or by "
                  "`callguard serve` at its first start")
