"""The supervisors' report under a client walking ``?tz=`` through tzdata (hhos17):
in-process, over a real socket.

Each report page built was kept for good, one per zone name asked for — about 600 valid
names, links included — so one client holding the token made the node keep (and build)
every one of them; a stale page is rebuilt when asked anyway. Now only the pages still
fresh are kept, at most ``_REPORTS_KEPT``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

from aiohttp import ClientSession, web

from callguard.compliance.reader import Record
from callguard.fronts.http import supervisor
from callguard.fronts.http.supervisor import SupervisorPage

ZONES = ["America/Denver", "America/New_York", "America/Chicago", "America/Los_Angeles",
         "America/Phoenix", "America/Anchorage", "Pacific/Honolulu", "America/Boise",
         "America/Detroit", "America/Indiana/Knox", "America/Adak", "US/Mountain",
         "US/Eastern", "US/Central"]


async def _no_records(now: datetime) -> AsyncIterator[Record]:
    for record in ():
        yield record


async def test_the_report_cache_keeps_only_fresh_pages_and_few() -> None:
    now = [datetime(2026, 12, 2, 18, 0, tzinfo=UTC)]
    page = SupervisorPage(None, campaigns=["ut-solar-manual"], node="n1",
                          report_records=_no_records, archive_dir=None,
                          clock=lambda: now[0])
    app = web.Application()
    page.register(app)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        async with ClientSession() as client:
            for zone in ZONES:
                async with client.get(f"http://127.0.0.1:{port}/supervisor/report",
                                      params={"tz": zone}) as answer:
                    assert answer.status == 200, await answer.text()
                now[0] += timedelta(seconds=1)
                assert len(page._reports) <= 8  # supervisor._REPORTS_KEPT
            assert "US/Central" in page._reports  # the newest are the ones kept
            now[0] += supervisor._REPORT_FRESH + timedelta(seconds=1)
            async with client.get(f"http://127.0.0.1:{port}/supervisor/report",
                                  params={"tz": "America/Denver"}) as answer:
                assert answer.status == 200
            assert list(page._reports) == ["America/Denver"]  # the stale ones are gone
            async with client.get(f"http://127.0.0.1:{port}/supervisor/report",
                                  params={"tz": "America/Denver"}) as answer:
                assert answer.status == 200  # and a fresh one serves again
    finally:
        await runner.cleanup()
    await asyncio.sleep(0)
