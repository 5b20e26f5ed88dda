"""``callguard health``: is this node's ``serve`` answering? For container health checks.

The check follows the configuration instead of a fixed port: ``GET /healthz`` on the
``[http]`` port when the HTTP port is on, else a TCP connection to the FastAGI port (the
front every configuration serves). A wildcard listen address is asked on loopback, and
never through a proxy (``http_proxy`` in the environment would otherwise take loopback
too: a running node read as unhealthy). Exit 0 healthy, 1 not.
"""

from __future__ import annotations

import socket
import urllib.request

import click

from callguard.cli.common import CliState

__all__ = ["health"]


def _local(host: str) -> str:
    return {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)  # noqa: S104


# The node itself: no proxy from the environment (urllib's default opener reads http_proxy).
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _hint(state: CliState, section: str) -> str:
    """What to look at when nothing answers: the node, or the configuration asked."""
    return (f"is `callguard serve` running with this configuration "
            f"({state.settings.path})? If it runs with another, give that one "
            f"(--config or CALLGUARD_CONFIG); its {section} host and port are the ones asked")


@click.command()
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=2.0,
              show_default=True, help="Seconds to wait.")
@click.pass_obj
def health(state: CliState, timeout: float) -> None:
    """Exit 0 when the configured node answers (/healthz, else the FastAGI port)."""
    settings = state.settings
    if settings.http.enabled:
        host = _local(settings.http.host)
        name = f"[{host}]" if ":" in host else host
        url = f"http://{name}:{settings.http.port}/healthz"
        try:
            with _DIRECT.open(url, timeout=timeout) as answer:
                healthy = answer.status == 200
        except OSError as exc:
            click.echo(f"unhealthy: {url}: {exc}; {_hint(state, '[http]')}", err=True)
            raise SystemExit(1) from None
        click.echo(f"{'healthy' if healthy else 'unhealthy'}: {url}")
        raise SystemExit(0 if healthy else 1)
    where = (_local(settings.fastagi.host), settings.fastagi.port)
    try:
        socket.create_connection(where, timeout=timeout).close()
    except OSError as exc:
        click.echo(f"unhealthy: fastagi {where[0]}:{where[1]}: {exc}; "
                   f"{_hint(state, '[fastagi]')}", err=True)
        raise SystemExit(1) from None
    click.echo(f"healthy: fastagi {where[0]}:{where[1]} accepts connections")
