"""The embedded call-frequency counts' file lost, emptied or made anew is not an empty one
(helper hsto21). ``frequency.sqlite3`` emptied (a crash that left it 0 bytes, a data dir
restored without it, a file removed by hand) read every number as never called: a number
already called three times that day (Fla. Stat. 501.616(6)(b): at most three in 24 hours)
was ALLOWed a fourth call, with no word anywhere. The counts now carry an id, in the file
and beside it (``frequency.id``, as ``records.id``): a file that lost it refuses every count
and reservation (the gate BLOCKs the calls a cap covers) and says the way out. Real files."""

from __future__ import annotations

import pytest
from structlog.testing import capture_logs

from callguard.errors import StoreError
from callguard.stores.embedded.frequency import EmbeddedFrequency
from tests.test_frequency import CLAIM, HASH, NOON

NUMBER = "+13055550166"


def _open(data) -> EmbeddedFrequency:
    return EmbeddedFrequency(data / "frequency.sqlite3", HASH, retention_s=86_400)


async def _three_calls(data) -> None:
    store = _open(data)
    try:
        for _ in range(3):
            assert store.reserve_sync(NUMBER, (CLAIM,), NOON).granted
    finally:
        await store.aclose()


@pytest.mark.parametrize("how", ["emptied", "removed"])
async def test_a_lost_counts_file_refuses_until_the_operator_accepts(tmp_path, how):
    await _three_calls(tmp_path)
    path = tmp_path / "frequency.sqlite3"
    assert (tmp_path / "frequency.id").exists()
    for leftover in (tmp_path / "frequency.sqlite3-wal", tmp_path / "frequency.sqlite3-shm"):
        leftover.unlink(missing_ok=True)
    if how == "emptied":
        path.write_bytes(b"")
    else:
        path.unlink()

    with capture_logs() as logs:
        store = _open(tmp_path)
    try:
        with pytest.raises(StoreError, match=r"frequency\.id"):  # before: granted, a 4th call
            store.reserve_sync(NUMBER, (CLAIM,), NOON)
        with pytest.raises(StoreError, match=r"frequency\.id"):
            store.count_batch([(NUMBER, (CLAIM,), NOON)])
    finally:
        await store.aclose()
    lost = [e for e in logs if e["event"] == "call-frequency-counts-lost"]
    assert lost, logs
    assert "remove frequency.id" in lost[0]["detail"]

    (tmp_path / "frequency.id").unlink()  # the way out: the lost counts accepted
    store = _open(tmp_path)
    try:
        assert store.reserve_sync(NUMBER, (CLAIM,), NOON).granted
    finally:
        await store.aclose()


async def test_the_same_file_reopened_and_a_file_from_before_the_id_are_served(tmp_path):
    """No false alarm: a restart on the same file, and a file made before this version (no
    id in it, no frequency.id: it gets one) keep their counts."""
    await _three_calls(tmp_path)
    store = _open(tmp_path)
    try:
        assert not store.reserve_sync(NUMBER, (CLAIM,), NOON).granted  # the cap holds
        store._db.execute("DROP TABLE callguard_meta")  # as a file from before the id
    finally:
        await store.aclose()
    (tmp_path / "frequency.id").unlink()
    store = _open(tmp_path)
    try:
        assert not store.reserve_sync(NUMBER, (CLAIM,), NOON).granted
        assert (tmp_path / "frequency.id").exists()
    finally:
        await store.aclose()
