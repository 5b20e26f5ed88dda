"""/readyz's compliance_log check (review hrev18): not ready while no record can be written,
whatever the file system beside the log says; one probe write at a time."""

from __future__ import annotations

import asyncio
import threading

import pytest

from callguard.compliance.sinks import LogFile
from callguard.compliance.writer import _STOP, RecordWriteError, RecordWriter
from callguard.runtime import _LogProbe


def test_a_writer_whose_thread_ended_is_not_ready_though_the_disk_takes_writes(tmp_path):
    """The thread gone (``_put``: 'the record writer stopped'), every call is BLOCKed
    until a restart, but a probe file beside the log writes fine: /readyz said 200."""
    path = tmp_path / "compliance.jsonl"
    writer = RecordWriter(LogFile(path, max_bytes=1 << 20), durability="every")
    probe = _LogProbe(writer, path)

    async def run() -> tuple[bool, str]:
        await writer.write(b'{"n":1}\n')
        assert (await probe())[0]
        thread = writer._thread
        assert thread is not None
        writer._queue.put(_STOP)  # the thread ends as an uncaught error would end it
        thread.join(5)
        with pytest.raises(RecordWriteError):
            await writer.write(b'{"n":2}\n')
        return await probe()

    ok, detail = asyncio.run(run())
    writer.close()
    assert not ok, detail
    assert "stopped" in detail
    assert not list(tmp_path.glob(".*readyz"))


def test_one_probe_write_at_a_time_while_the_file_system_hangs(tmp_path, monkeypatch):
    """A probe that does not return (a hung NFS mount) is not joined by another thread
    at each /readyz poll: the default executor's few workers serve the stores too."""
    path = tmp_path / "compliance.jsonl"
    writer = RecordWriter(LogFile(path, max_bytes=1 << 20), durability="every")
    writer.last_error = "No space left on device"
    release = threading.Event()
    started: list[int] = []

    def hung(_path):
        started.append(1)
        release.wait(10)

    monkeypatch.setattr("callguard.runtime._write_probe", hung)
    probe = _LogProbe(writer, path)

    async def run() -> list[tuple[bool, str]]:
        answers = []
        for _ in range(5):
            try:
                answers.append(await asyncio.wait_for(probe(), 0.2))
            except TimeoutError:
                answers.append((False, "timed out"))
        release.set()
        return answers

    answers = asyncio.run(run())
    writer.close()
    assert len(started) == 1
    assert not any(ok for ok, _ in answers)


_REFUSED_THEN_WRITTEN = """
import asyncio, resource, signal, sys
from pathlib import Path
from callguard.compliance.sinks import LogFile
from callguard.compliance.writer import RecordWriteError, RecordWriter
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of the signal
path = Path(sys.argv[1])
writer = RecordWriter(LogFile(path, max_bytes=1 << 20), durability=sys.argv[2])

async def main() -> None:
    await writer.write(b'{"n":1}\\n')
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (path.stat().st_size, hard))
    try:
        await writer.write(b'{"n":2}\\n')
    except RecordWriteError:
        print("refused:", writer.last_error)
    resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    for _ in range(3):
        await writer.write(b'{"n":3}\\n')
    print("then:", writer.last_error)

asyncio.run(main())
writer.close()
"""


@pytest.mark.parametrize("durability", ["none", "group", "every"])
def test_a_record_written_again_clears_the_last_error(tmp_path, durability):
    """The kernel refuses a write (RLIMIT_FSIZE: EFBIG, in a child process), then takes
    them again. Under durability = "none" the loop's own appends did not clear
    ``last_error``: /readyz said "the last record was not written" for ever after and
    wrote and synced a probe block beside the log at every poll."""
    import subprocess
    import sys

    from tests.conftest import ROOT

    done = subprocess.run([sys.executable, "-c", _REFUSED_THEN_WRITTEN,
                           str(tmp_path / "compliance.jsonl"), durability],
                          capture_output=True, text=True, cwd=ROOT, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == ["refused: File too large", "then: None"], done.stdout
