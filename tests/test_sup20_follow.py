"""A page too slow for the file tail (hsup20): records past the follow's bound were dropped
without a word, and the page showed a tail with holes as whole. Now the page is told how
many were dropped, where they were. In-process, a real log file and polling thread."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator, AsyncIterator
from datetime import datetime
from pathlib import Path

from aiohttp import web

from callguard.compliance.reader import Record, RecordFilter
from callguard.fronts.http import supervisor
from callguard.fronts.http.supervisor import FileTail, Skipped, SupervisorPage
from tests import test_sup20_page
from tests.test_supervisor_page import wait

console_browser = test_sup20_page.console_browser  # the fixture, console kept

RECORD = {"schema": 2, "event": "decision", "logged_at": "2026-12-02T18:00:00.000Z",
          "node": "n1", "verdict": "ALLOW", "campaign": "ut-solar-manual",
          "number_last4": "0123"}


def _write(log: Path, first: int, count: int) -> None:
    with log.open("ab") as out:
        for index in range(first, first + count):
            out.write(json.dumps({**RECORD, "decision_id": str(index)}).encode() + b"\n")


async def test_records_dropped_for_a_slow_page_are_told_where_they_were(tmp_path,
                                                                       monkeypatch):
    monkeypatch.setattr(supervisor, "_QUEUE", 5)
    log = tmp_path / "compliance.jsonl"
    log.write_bytes(b"")
    records = FileTail(log).records(RecordFilter(), 0)
    try:
        first = asyncio.ensure_future(anext(records))
        await asyncio.sleep(0.3)
        _write(log, 0, 1)
        assert (await asyncio.wait_for(first, 10))["decision_id"] == "0"
        _write(log, 1, 20)  # the page takes nothing meanwhile: 5 wait, 15 are dropped
        await asyncio.sleep(2)
        got = [await asyncio.wait_for(anext(records), 10) for _ in range(5)]
        assert [r["decision_id"] for r in got] == ["1", "2", "3", "4", "5"]
        _write(log, 21, 1)
        gap = await asyncio.wait_for(anext(records), 10)
        assert isinstance(gap, Skipped)
        assert gap == {"skipped": 15}
        assert (await asyncio.wait_for(anext(records), 10))["decision_id"] == "21"
    finally:
        await records.aclose()


class _Tail:
    """A tail that fell behind once: a record, 3 dropped, a record; then nothing."""

    description = "test"

    async def records(self, wanted: RecordFilter, count: int) -> AsyncGenerator[Record, None]:
        yield {**RECORD, "number_last4": "0001", "decision_id": "a"}
        yield Skipped(skipped=3)
        yield {**RECORD, "number_last4": "0005", "decision_id": "b"}
        await asyncio.Event().wait()


async def test_the_page_shows_the_hole_where_it_is(console_browser):
    """In headless chromium against the page's routes in-process (a real socket): the
    dropped records are a row between the two shown, and the count says so."""
    page = SupervisorPage(_Tail(), campaigns=["ut-solar-manual"], node="n1",
                          report_records=_no_records, archive_dir=None)
    app = web.Application()
    page.register(app)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    driver = console_browser

    def shown() -> tuple[list[str], str]:
        driver.get(f"http://127.0.0.1:{port}/supervisor#token=t")
        wait(driver, lambda d: len(d.find_elements("css selector", "#rows tr")) == 3,
             "two records and the hole")
        texts = driver.execute_script(
            "return [...document.querySelectorAll('#rows tr')].map(r => r.textContent)")
        return texts, driver.find_element("id", "count").text

    try:
        texts, count = await asyncio.to_thread(shown)
    finally:
        await runner.cleanup()
    assert "…0005" in texts[0], texts
    assert "…0001" in texts[2], texts
    assert texts[1].startswith("3 records not shown here: this page fell behind"), texts
    assert count == "2 records in this tail (ALLOW 2); 3 not shown: this page fell behind"


async def _no_records(now: datetime) -> AsyncIterator[Record]:
    for record in ():
        yield record
