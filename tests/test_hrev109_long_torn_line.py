"""Review of hlog23 (hrev109): a record glued behind a torn line longer than LONG_LINE.

Logs written before hlog23 healed a torn tail 64 KiB at most: after a crash that left
50 MB of NULs, the next acknowledged record was glued behind the rest of them (issue 16).
``evidence`` and the archiver read forward and recover that record (``recover_line``);
``tail`` reads backward, and walking back over a line past LONG_LINE kept only its last
piece and its oldest block (``del head[1:-1]``): a glued record that straddled a block
boundary lost its start, so ``tail`` did not show a record ``evidence`` shows. Real files.
"""

from __future__ import annotations

from callguard.compliance.reader import ReadStats, RecordFilter, newest_first, oldest_first
from callguard.compliance.segments import BLOCK, LONG_LINE


def _glued_log(path):
    glued = b'{"event":"decision","i":2,"pad":"' + b"x" * 3000 + b'"}\n'
    filler = b"".join(b'{"event":"decision","i":%d,"pad":"%s"}\n' % (10 + n, b"y" * 60)
                      for n in range(650))
    # the glued record's start falls in the block before the last one read back
    assert len(filler) < BLOCK < len(filler) + len(glued)
    path.write_bytes(b'{"event":"decision","i":1}\n' + b"\0" * (LONG_LINE + (1 << 20))
                     + glued + filler)


def test_tail_shows_the_record_glued_behind_a_long_torn_line_as_evidence_does(tmp_path):
    path = tmp_path / "compliance.jsonl"
    _glued_log(path)
    backward = [r["i"] for r in newest_first(path, RecordFilter(), ReadStats())]
    forward = [r["i"] for r in oldest_first(path, RecordFilter(), ReadStats())]
    assert 2 in forward
    assert sorted(backward) == sorted(forward)


_FORWARD = """
import io, sys
sys.path.insert(0, {root!r})
from callguard.compliance.segments import lines_forward
data = b'{{"i":1}}\\n' + b"\\0" * (8 << 20) + b'{{"i":2}}\\n{{"i":3}}\\n'
lines = list(lines_forward(io.BytesIO(data), block=64))
print(len(lines), len(lines[1]))
"""


def test_reading_forward_over_a_long_torn_line_is_linear():
    """``evidence``, the archiver and ``purge`` read forward (``lines_forward``): each block
    re-copied the line read so far, as ``lines_backward`` did before hlog23 (a 50 MB NUL
    tail: 5.2 s, 171 MB). 8 MiB in 64-byte blocks: linear well under a second; quadratic,
    ~550 GB copied. The line is still yielded whole (purge rewrites segments from it)."""
    import subprocess
    import sys
    from pathlib import Path

    root = str(Path(__file__).resolve().parent.parent)
    result = subprocess.run([sys.executable, "-c", _FORWARD.format(root=root)],
                            capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.split() == ["3", str((8 << 20) + 7)]


_FOLLOW = """
import json, queue, sys, threading
from pathlib import Path
sys.path.insert(0, {root!r})
from callguard.compliance.reader import ReadStats, RecordFilter, follow_file
from callguard.compliance.sinks import LogFile
path = Path({path!r})
path.write_bytes(b'{{"event":"decision","i":1}}\\n' + b"\\0" * (1 << 20))
handle = path.open("rb")
end = handle.seek(0, 2)
found = queue.Queue()
follow = follow_file(path, handle, end, RecordFilter(), ReadStats(), poll=0.01)
threading.Thread(target=lambda: [found.put(r["i"]) for r in follow], daemon=True).start()
log = LogFile(path, max_bytes=1 << 30)
for i in (2, 3):
    log.commit(b'{{"event":"decision","i":%d}}\\n' % i, sync=True)
shown = []
try:
    while len(shown) < 2:
        shown.append(found.get(timeout=10))
except queue.Empty:
    pass
print("shown", json.dumps(shown))
"""


def test_tail_follow_shows_the_records_written_after_a_writer_cut_the_torn_tail(tmp_path):
    """``tail -f`` starts at the file's end, past a crash's torn tail. hlog23's heal cuts
    all of that tail (64 KiB before), and the next records are written where it began:
    the follow read nothing until the file grew past its old end again (a 50 MB tail:
    hours of records never shown), then began in the middle of a record."""
    import subprocess
    import sys
    from pathlib import Path

    root = str(Path(__file__).resolve().parent.parent)
    script = _FOLLOW.format(root=root, path=str(tmp_path / "compliance.jsonl"))
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=60, check=True)
    assert result.stdout.splitlines()[-1] == "shown [2, 3]"
