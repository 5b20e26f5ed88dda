"""``callguard serve``: the long-running node. Fronts attach here as they are built."""

from __future__ import annotations

import asyncio
import signal

import click
import structlog

from callguard.cli.common import CliState
from callguard.fronts.fastagi.server import FastAgiServer
from callguard.stores.embedded.lists import EmbeddedListRegistry
from callguard.tuning import raise_mmap_threshold

__all__ = ["serve"]

_log = structlog.get_logger("callguard.serve")


async def _serve(state: CliState, reload_seconds: float) -> None:
    runtime = state.runtime()
    await runtime.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    fastagi = FastAgiServer(runtime.gate, runtime.settings.fastagi)
    await fastagi.start()
    _log.info("serving", lists=list(runtime.lists.names()),
              campaigns=sorted(runtime.settings.campaigns), fastagi_port=fastagi.port)
    try:
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), timeout=reload_seconds)
            except TimeoutError:
                if isinstance(runtime.lists, EmbeddedListRegistry):
                    await runtime.lists.reload_async()  # Redis replicas follow publications
    finally:
        await fastagi.close()
        await runtime.aclose()
        _log.info("stopped", **dict(fastagi.stats.counts))


@click.command()
@click.option("--reload-seconds", default=5.0, show_default=True,
              help="How often to look for newly published list versions.")
@click.pass_obj
def serve(state: CliState, reload_seconds: float) -> None:
    """Run the node until SIGTERM."""
    tuned = raise_mmap_threshold()
    _log.info("malloc_tuning", mmap_threshold_fixed=tuned)
    asyncio.run(_serve(state, reload_seconds))
