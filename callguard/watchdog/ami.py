"""The AMI session: events into the call tracker, its effects out as AMI actions.

panoramisk's Manager does the framing, login, ping and action/response matching. Two of
its habits are changed at this edge: it reconnects at a fixed interval (here: exponential
backoff from ``reconnect_min_ms`` to ``reconnect_max_s``, reset at login), and it replays
actions that were in flight when the connection dropped (here: none are replayed — after
a reconnect the picture is rebuilt from ``CoreShowChannels`` and the tracker decides
again what to hang up).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog
from panoramisk import Manager

from callguard.errors import ConfigError
from callguard.watchdog.calls import (
    CallTracker,
    Effect,
    HangupChannel,
    ReadVariable,
)

__all__ = ["AmiSettings", "AmiWatchdog", "Backoff"]

_log = structlog.get_logger("callguard.ami")
_TICK_S = 0.02


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
    reconnect_max_s: float = 30.0
    abandonment_warn_rate: float = 0.025

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


class Backoff:
    """Delays that double from ``low`` to ``high``; ``reset`` after a good connection."""

    def __init__(self, low: float, high: float) -> None:
        self.low, self.high = low, high
        self._next = low

    def next(self) -> float:
        """The delay before the next attempt."""
        delay = self._next
        self._next = min(self.high, self._next * 2)
        return delay

    def reset(self) -> None:
        """Connected and logged in: start from the shortest delay again."""
        self._next = self.low


class _Manager(Manager):  # type: ignore[misc]
    """panoramisk's Manager with backoff, no replays, and a clean stop."""

    def __init__(self, backoff: Backoff, **config: Any) -> None:
        self._backoff = backoff
        self.stopping = False
        super().__init__(forgetable_actions=("ping", "login", "hangup", "getvar",
                                             "coreshowchannels"), **config)

    @property
    def reconnect_timeout(self) -> float:
        """Read by panoramisk when a connection attempt fails."""
        return self._backoff.next()

    @reconnect_timeout.setter
    def reconnect_timeout(self, value: float) -> None:
        del value  # panoramisk sets its fixed interval; the backoff replaces it

    def connect(self, run_forever: bool = False, on_startup: Any = None,
                on_shutdown: Any = None) -> Any:
        """Not after ``close``."""
        if self.stopping:
            return None
        return super().connect(run_forever, on_startup, on_shutdown)

    def connection_lost(self, exc: Exception | None) -> None:
        """Reconnect after the next backoff delay (panoramisk's fixed interval replaced)."""
        self._connected = False
        self.authenticated = False
        self.loop.call_soon(self.on_disconnect, self, exc)
        pinger: asyncio.TimerHandle | None = getattr(self, "pinger", None)
        if pinger is not None:
            pinger.cancel()
        self.pinger = None
        self.awaiting_actions.clear()
        if not self.stopping:
            self.loop.call_later(self._backoff.next(), self.connect)

    @property
    def ready(self) -> bool:
        """Connected and logged in."""
        return bool(self._connected and self.authenticated and self.protocol is not None
                    and not self.protocol.closed)


class AmiWatchdog:
    """Follows allowed automated calls over AMI and releases the line when the law says."""

    def __init__(self, settings: AmiSettings, secret: str, tracker: CallTracker, *,
                 on_state: Callable[[bool], None] = lambda up: None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self.tracker = tracker
        self._on_state = on_state
        self._clock = clock
        self._backoff = Backoff(settings.reconnect_min_ms / 1000, settings.reconnect_max_s)
        self._manager = _Manager(
            self._backoff, host=settings.host, port=settings.port,
            username=settings.username, secret=secret, events="call",
            on_login=self._on_login, on_disconnect=self._on_disconnect,
            ping_delay=10, ping_interval=10, reconnect_timeout=1,
            loop=asyncio.get_running_loop())
        self._manager.register_event("*", self._on_event)
        self._tasks: set[asyncio.Task[None]] = set()
        self._ticker: asyncio.Task[None] | None = None

    @property
    def connected(self) -> bool:
        """Logged in to Asterisk right now."""
        return self._manager.ready

    async def start(self) -> None:
        """Connect (in the background, retrying) and start the timer loop."""
        self.tracker.disconnected(self._clock())  # nothing is known until the first picture
        self._manager.connect()
        self._ticker = asyncio.create_task(self._tick())

    async def aclose(self) -> None:
        """Stop reconnecting, close the session, wait for actions in flight."""
        self._manager.stopping = True
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._manager.close()

    # --- panoramisk callbacks -------------------------------------------------------------

    def _on_event(self, manager: Manager, event: Any) -> None:
        del manager
        effects = self.tracker.feed(event, self._clock())
        if effects:
            self._run(effects)

    def _on_login(self, manager: Manager) -> None:
        del manager
        self._backoff.reset()
        self._on_state(True)
        _log.info("ami_logged_in", host=self.settings.host, port=self.settings.port)
        self._spawn(self._rebuild())

    def _on_disconnect(self, manager: Manager, exc: Exception | None) -> None:
        del manager
        self.tracker.disconnected(self._clock())
        self._on_state(False)
        if not self._manager.stopping:
            _log.warning("ami_disconnected", reason=str(exc) if exc else "closed")

    # --- work -----------------------------------------------------------------------------

    async def _rebuild(self) -> None:
        """After every login: the live channels, so no tracked call is forgotten."""
        try:
            reply = await self._send({"Action": "CoreShowChannels"}, as_list=True)
        except (TimeoutError, ConnectionError) as exc:
            _log.error("ami_rebuild_failed", reason=str(exc) or type(exc).__name__)
            return
        items = [m for m in (reply if isinstance(reply, list) else [reply])
                 if m.get("Event") == "CoreShowChannel"]
        effects = self.tracker.reconcile(items, self._clock())
        _log.info("ami_rebuilt", channels=len(items), calls=len(self.tracker.calls))
        self._run(effects)

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(_TICK_S)
            effects = self.tracker.due(self._clock())
            if effects:
                self._run(effects)

    def _run(self, effects: list[Effect]) -> None:
        for effect in effects:
            if isinstance(effect, HangupChannel):
                self._spawn(self._hangup(effect))
            elif isinstance(effect, ReadVariable):
                self._spawn(self._getvar(effect))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _hangup(self, effect: HangupChannel) -> None:
        if not self.connected:
            return  # the rebuild after the reconnect decides again
        try:
            reply = await self._send({"Action": "Hangup", "Channel": effect.channel,
                                      "Cause": "16"})
        except (TimeoutError, ConnectionError) as exc:
            _log.warning("ami_hangup_unanswered", channel=effect.channel,
                         reason=str(exc) or type(exc).__name__)
            return
        if reply.get("Response") != "Success":
            _log.info("ami_hangup_refused", channel=effect.channel,
                      message=reply.get("Message"), attempt=effect.attempt)

    async def _getvar(self, effect: ReadVariable) -> None:
        value: str | None = None
        if self.connected:
            try:
                reply = await self._send({"Action": "Getvar", "Channel": effect.channel,
                                          "Variable": effect.variable})
                if reply.get("Response") == "Success":
                    value = reply.get("Value", "")
            except (TimeoutError, ConnectionError):
                value = None
        self.tracker.variable_read(effect.linkedid, effect.channel, effect.variable, value)

    async def _send(self, action: dict[str, str], *, as_list: bool | None = None) -> Any:
        if not self.connected:
            raise ConnectionError("AMI not connected")
        future = self._manager.send_action(action, as_list=as_list)
        return await asyncio.wait_for(future, self.settings.action_timeout_ms / 1000)
