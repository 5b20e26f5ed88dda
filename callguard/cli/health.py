"""``callguard health``: can this node's ``serve`` decide calls? For admins, monitoring and
container health checks.

It asks the node the configuration describes, never a fixed port: ``GET /readyz`` on the
``[http]`` port when HTTP is on. It used to ask only whether a port answered
(``/healthz``, or a TCP connection to FastAGI), so a node without its do-not-call lists
read "healthy" while it BLOCKed every call they cover. Exit status, one per state:

- 0 ``ready``: /readyz answers 200 (packs loaded, every list the packs read loaded and
  fresh, stores and Redis answering, the log taking records, the clock synchronised);
- 1 ``down``: nothing answers, or something that is not this node's /readyz;
- 4 ``not ready``: the node answers but a check fails (each named with its detail);
  calls in the failing checks' scope are BLOCKed;
- 5 ``alive, readiness unknown``: ``[http]`` is off, the FastAGI port accepts; only the
  node knows whether it can decide and it says so on the HTTP port alone.

``--live`` asks only whether it answers (``/healthz``, else the FastAGI port): 0 or 1.
That is the container's HEALTHCHECK: a restart does not load a list, and an orchestrator
that restarts unhealthy containers would restart a node with stale lists for ever.

A wildcard listen address is asked on loopback, and never through a proxy (``http_proxy``
in the environment would otherwise take loopback too: a running node read as down).
"""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from typing import Any, NoReturn

import click

from callguard.cli.common import CliState
from callguard.numbers.redact import redact_digits

__all__ = ["EXIT_DOWN", "EXIT_NOT_READY", "EXIT_READY", "EXIT_UNKNOWN", "health"]

# 2 and 3 are every command's usage and internal errors; these are not.
EXIT_READY, EXIT_DOWN, EXIT_NOT_READY, EXIT_UNKNOWN = 0, 1, 4, 5


def _local(host: str) -> str:
    return {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)  # noqa: S104


# /readyz's answer at most (bytes): a few checks of up to 1,000 characters each; whatever
# else answers on the port is not read without end.
_BODY_MAX = 1 << 20

# Seconds to wait by default: --live's question is answered at once; /readyz runs its
# checks one after another, each bounded at 1 s (records, Redis, the records' durability,
# the compliance log: 4 s with Redis hung), and a node that answers "not ready" within
# them must not read "down" (it did at 2 s: a Redis partition looked like a dead node).
_LIVE_TIMEOUT, _READY_TIMEOUT = 2.0, 5.0

# The node itself: no proxy from the environment (urllib's default opener reads http_proxy).
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _hint(state: CliState, section: str) -> str:
    """What to look at when nothing answers: the node, or the configuration asked."""
    return (f"is `callguard serve` running with this configuration "
            f"({state.settings.path})? If it runs with another, give that one "
            f"(--config or CALLGUARD_CONFIG); its {section} host and port are the ones asked")


def _down(text: str, word: str = "down") -> NoReturn:
    click.echo(f"{word}: {text}", err=True)
    raise SystemExit(EXIT_DOWN)


def _fastagi_accepts(state: CliState, timeout: float, word: str = "down") -> str:
    """``fastagi HOST:PORT``, or exit ``down`` (``word``: --live's "unhealthy") when it
    does not accept a connection."""
    settings = state.settings
    where = (_local(settings.fastagi.host), settings.fastagi.port)
    name = f"fastagi {where[0]}:{where[1]}"
    try:
        socket.create_connection(where, timeout=timeout).close()
    except OSError as exc:
        _down(f"{name}: {exc}; {_hint(state, '[fastagi]')}", word)
    return name


def _base(state: CliState) -> str:
    host = _local(state.settings.http.host)
    name = f"[{host}]" if ":" in host else host
    return f"http://{name}:{state.settings.http.port}"


def _live(state: CliState, timeout: float) -> None:
    """Whether the node answers at all: 0 or 1."""
    if state.settings.http.enabled:
        url = f"{_base(state)}/healthz"
        try:
            with _DIRECT.open(url, timeout=timeout) as answer:
                healthy = answer.status == 200
        except OSError as exc:
            click.echo(f"unhealthy: {url}: {exc}; {_hint(state, '[http]')}", err=True)
            raise SystemExit(EXIT_DOWN) from None
        click.echo(f"{'healthy' if healthy else 'unhealthy'}: {url}")
        raise SystemExit(EXIT_READY if healthy else EXIT_DOWN)
    name = _fastagi_accepts(state, timeout, "unhealthy")
    click.echo(f"healthy: {name} accepts connections")


def _readyz(state: CliState, timeout: float) -> tuple[bool, list[dict[str, Any]]]:
    """Whether /readyz says ready, and its checks; exit ``down`` when nothing (or not
    this node) answers."""
    url = f"{_base(state)}/readyz"
    try:
        with _DIRECT.open(url, timeout=timeout) as answer:
            status, raw = answer.status, answer.read(_BODY_MAX)
    except urllib.error.HTTPError as exc:  # 503 (not ready) arrives as an error
        status, raw = exc.code, exc.read(_BODY_MAX)
    except OSError as exc:
        _down(f"{url}: {exc}; {_hint(state, '[http]')}")
    try:
        body = json.loads(raw)
    except ValueError:
        body = None
    if status not in (200, 503) or not isinstance(body, dict) or not isinstance(
            body.get("checks"), list):
        _down(f"{url} answered {status}, not a callguard node's readiness; "
              f"{_hint(state, '[http]')}")
    checks = [c for c in body["checks"] if isinstance(c, dict)]
    return status == 200 and body.get("ready") is True, checks


@click.command()
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=None,
              help=f"Seconds to wait [default: {_READY_TIMEOUT:g}, --live {_LIVE_TIMEOUT:g}].")
@click.option("--live", is_flag=True,
              help="Only whether the node answers (exit 0 or 1): the container HEALTHCHECK.")
@click.pass_obj
def health(state: CliState, timeout: float | None, live: bool) -> None:
    """Can the configured node decide? Exit 0 ready, 1 down, 4 not ready, 5 alive but
    readiness unknown ([http] off)."""
    if timeout is None:
        timeout = _LIVE_TIMEOUT if live else _READY_TIMEOUT
    if live:
        _live(state, timeout)
        return
    if not state.settings.http.enabled:
        name = _fastagi_accepts(state, timeout)
        click.echo(f"alive, readiness unknown: {name} accepts connections, but [http] is "
                   "off and only /readyz on the HTTP port says whether the node can decide "
                   "(lists loaded and fresh, stores answering); turn [http] on, or use "
                   "--live to ask only whether it answers")
        raise SystemExit(EXIT_UNKNOWN)
    ready, checks = _readyz(state, timeout)
    url = f"{_base(state)}/readyz"
    failing = [c for c in checks if c.get("ok") is not True]
    if ready and not failing:
        click.echo(f"ready: {url} ({len(checks)} checks ok)")
        raise SystemExit(EXIT_READY)
    # The clock check BLOCKs nothing (the fronts go on answering, judging calling hours on
    # that clock) and `config check` does not look at it: its own words, not the others'.
    clock = [c for c in failing if c.get("name") == "clock"]
    others = [c for c in failing if c.get("name") != "clock"]
    click.echo(f"not ready: {url}" + (": calls in the scope of a failing check are BLOCKed"
                                      if others else ""))
    for check in failing:  # free text (a store's error) bound for cron mail: no number
        click.echo(redact_digits(f"  {check.get('name')}: {check.get('detail')}"))
    if clock:
        click.echo("the clock: synchronise it (timedatectl set-ntp true, or start chronyd or "
                   "ntpd); calls are still answered, their calling hours judged on this "
                   "clock: send calls only to a ready node. Where the host keeps time but "
                   "the kernel does not say so (a container), set [http] require_clock_sync "
                   "= false")
    if others:
        click.echo("`callguard config check` says how to fix each (a list: `dnc import`)")
    raise SystemExit(EXIT_NOT_READY)
