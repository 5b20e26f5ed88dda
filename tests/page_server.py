"""The supervisor page served in-process on a free loopback port, for the page's tests.

A real aiohttp server on a real socket (no test client): the page's feed is read the way a
browser reads it.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import web

from callguard.fronts.http.supervisor import FileTail, SupervisorPage


def file_page(log: Path) -> SupervisorPage:
    """A page following ``log`` for campaign ut-solar-manual on node n1, no report."""
    return SupervisorPage(FileTail(log), campaigns=["ut-solar-manual"], node="n1",
                          report_records=None, archive_dir=None)  # type: ignore[arg-type]


@contextlib.asynccontextmanager
async def served(page: SupervisorPage) -> AsyncIterator[int]:
    """The page's routes on 127.0.0.1 at a free port (yielded); cleaned up after."""
    app = web.Application()
    page.register(app)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    finally:
        await runner.cleanup()
