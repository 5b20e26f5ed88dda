"""Which data directory a configuration file means, and why (one rule for every command).

In order: ``--data-dir``; ``CALLGUARD_DATA_DIR``; ``[callguard] data_dir`` in the file
(relative to the file's directory); and when that is empty or absent:

- a file under ``/etc`` (``/etc/NAME/callguard.toml``): ``/var/lib/NAME`` — the FHS place
  for a service's state, the systemd unit's ``StateDirectory`` and the image's volume;
- the bundled demo inside the installed package: ``$XDG_DATA_HOME/callguard`` (default
  ``~/.local/share/callguard``) — never inside site-packages;
- any other file: ``data/`` beside it (``callguard init DIR`` makes ``DIR/data``).

Kept free of heavy imports: ``callguard tail`` resolves it without loading the packs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["DataDirChoice", "choose_data_dir", "default_data_dir"]

_ETC = Path("/etc")


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
        return DataDirChoice(Path(base) / "callguard",
                             "default for the bundled demo configuration")
    return DataDirChoice(where / "data", "default: data/ beside the configuration file")


def choose_data_dir(config: Path, configured: str, option: Path | None) -> DataDirChoice:
    """``--data-dir``, ``CALLGUARD_DATA_DIR``, the file's ``data_dir``, or the default."""
    if option is not None:
        return DataDirChoice(option.resolve(), "--data-dir")
    env = os.environ.get("CALLGUARD_DATA_DIR")
    if env:
        return DataDirChoice(Path(env).resolve(), "CALLGUARD_DATA_DIR")
    if configured:
        return DataDirChoice((config.parent / Path(configured).expanduser()).resolve(),
                             f"[callguard] data_dir in {config.name}")
    return default_data_dir(config)
