"""The embedded call-frequency counts' file cannot be opened (reviewer hrev86): refused,
not fatal. A damaged ``frequency.sqlite3`` (not a database), one locked or unwritable, or a
write-back its log cannot prove made ``serve`` refuse to start and every record command
exit 3: ``internal-dnc add`` could not record an opt-out (47 CFR 64.1200(d)(3)) because the
caps' file was broken. Now each call a cap covers (Fla. Stat. 501.616(6)(b)) is BLOCKed
``callguard:store-unavailable``, the rest is served, opt-outs are recorded, and the file is
opened again once it can be. Real processes and files."""

from __future__ import annotations

import asyncio

import pytest

from callguard.errors import StoreError
from callguard.stores.embedded.frequency import EmbeddedFrequency
from callguard.stores.embedded.unopened import UnopenedFrequency
from tests.serve_node import AT, ServeNode, write_lists
from tests.test_frequency import CLAIM, HASH, NOON

NUMBER = "+13055550186"


def _check(node: ServeNode, number: str) -> dict:
    status, body = node.json("/v1/check", {"number": number, "campaign": "ut-solar-manual",
                                           "at": AT})
    assert status == 200, body
    return body


def test_a_damaged_counts_file_blocks_capped_calls_and_records_opt_outs(tmp_path):
    node = ServeNode(tmp_path)
    write_lists(node.data, [])
    counts = node.data / "frequency.sqlite3"
    counts.write_bytes(b"not a database, a file overwritten by mistake\n" * 200)

    added = node.cli("internal-dnc", "add", "8015550123", "--campaign", "ut-solar-manual")
    assert added.returncode == 0, added.stderr  # before: exit 3, no opt-out recorded
    node.start()  # before: serve exited at start
    try:
        florida = _check(node, "3055550123")
        assert (florida["verdict"], florida["rule"]) == ("BLOCK", "callguard:store-unavailable")
        assert "could not be opened" in florida["reason"]
        opted = _check(node, "8015550123")
        assert (opted["verdict"], opted["rule"]) == ("BLOCK", "us-federal:64.1200(d)(3)")
        assert _check(node, "8015550124")["verdict"] == "ALLOW"  # no cap covers it
        assert node.json("/v1/opt-out", {"number": "8015550125",
                                         "campaign": "ut-solar-manual"})[0] == 200
    finally:
        node.stop()
    assert "call-frequency-counts-unopened" in node.stderr()
    assert counts.read_bytes().startswith(b"not a database")  # left as found, for repair


async def test_the_counts_open_once_the_file_is_put_right(tmp_path):
    path = tmp_path / "frequency.sqlite3"
    path.write_bytes(b"garbage" * 1000)

    def opener() -> EmbeddedFrequency:
        return EmbeddedFrequency(path, HASH, retention_s=86_400)

    with pytest.raises(StoreError) as failed:
        opener()
    store = UnopenedFrequency(opener, str(failed.value), retry_s=0)
    try:
        for _ in range(2):  # refused, an opening tried again in the background each time
            with pytest.raises(StoreError, match="could not be opened"):
                await store.reserve(NUMBER, [CLAIM], NOON)
            with pytest.raises(StoreError, match="could not be opened"):
                await store.count(NUMBER, [CLAIM], NOON)
            assert isinstance((await store.reserve_all([(NUMBER, (CLAIM,), NOON, NOON)]))[0],
                              StoreError)
            await asyncio.sleep(0.2)
        path.unlink()  # the operator removed the damaged file (no frequency.id: a first one)
        for _ in range(100):
            try:
                result = await store.reserve(NUMBER, [CLAIM], NOON)
            except StoreError:
                await asyncio.sleep(0.05)
                continue
            break
        else:
            pytest.fail("the counts were never opened again")
        assert result.granted
        assert await store.count(NUMBER, [CLAIM], NOON) == (1,)
    finally:
        await store.aclose()
