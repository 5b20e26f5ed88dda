"""Reading a TOML file (configuration, pack, statute cases) with errors an admin can act on.

``tomllib.loads(path.read_text())`` raised UnicodeDecodeError for a file that is not UTF-8
text (a binary given by mistake, a Latin-1 edit): the CLI's last line of defence printed it
as an internal error (exit 3). Here every way a file cannot be read is a ConfigError naming
the file and the cause.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from callguard.errors import ConfigError

__all__ = ["read_config", "read_toml"]


def read_toml(path: Path, *, what: str = "") -> dict[str, Any]:
    """The parsed document; ``what`` names the file in the not-found message
    ("configuration file")."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{what} {path} not found" if what
                          else f"{path}: no such file") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.object[exc.start]:#04x} at "
                          f"offset {exc.start}); TOML files are UTF-8 — is it the right "
                          "file?") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    except OSError as exc:
        raise ConfigError(f"{path}: {exc.strerror}") from None


def read_config(path: Path) -> dict[str, Any]:
    """The configuration file; a missing one names the way it was given, the fix."""
    try:
        return read_toml(path, what="configuration file")
    except ConfigError as exc:
        if path.exists():
            raise
        named = "CALLGUARD_CONFIG" if os.environ.get("CALLGUARD_CONFIG") == str(path) else (
            "--config")
        raise ConfigError(f"{exc}: check {named} (callguard init DIR writes a starter "
                          "DIR/callguard.toml)") from None
