"""``[ami]``'s settings, apart from the watchdog: ``callguard.config`` reads them on every
CLI command, and the watchdog's module imports panoramisk and the call tracker, which a
command that never connects to Asterisk does not need."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from callguard.errors import ConfigError

__all__ = ["AmiSettings"]


@dataclass(frozen=True, slots=True)
class AmiSettings:
    """``[ami]``: where Asterisk's manager listens and how the watchdog behaves."""

    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = 5038
    username: str = "callguard"
    secret_file: str = ""  # else CALLGUARD_AMI_SECRET
    grace_seconds: float = 0.0
    retry_ms: int = 500
    action_timeout_ms: int = 2000
    reconnect_min_ms: int = 250
    reconnect_max_s: float = 2.0
    lease_ms: int = 1500
    abandonment_warn_rate: float = 0.025
    # A call no AMI event names for this long is forgotten (its Hangups were lost while the
    # session stayed up); a followed one records that its release is not proven.
    forget_after_s: float = 86_400.0
    # Automated calls asked over FastAGI are BLOCKed while this node's AMI session is not
    # logged in (no one could release their line); off: they go ahead, alerted on ami_up.
    required: bool = False

    def secret(self) -> str:
        """``CALLGUARD_AMI_SECRET`` or the secret file; never the configuration file."""
        secret = os.environ.get("CALLGUARD_AMI_SECRET", "")
        if not secret and self.secret_file:
            try:
                secret = Path(self.secret_file).read_text().strip()
            except OSError as exc:
                raise ConfigError(f"[ami] secret_file {self.secret_file}: {exc.strerror}"
                                  ) from None
        if not secret:
            raise ConfigError("[ami] is enabled: set CALLGUARD_AMI_SECRET or [ami] secret_file")
        return secret
