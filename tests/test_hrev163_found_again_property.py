"""hoff33's block-at-a-time search for the cursor's tail in a rewritten segment
(``stream_cursor._found_again``: ``_segment_lines``, 1 MiB blocks, each line's last
64 KiB) finds the same offset as the whole-file search it replaced (f5d22875: the segment
read whole, every newline tried, then a last line with no newline), and hoff33's seek-table
read of a compressed segment (``_read_compressed`` from the frame holding the offset)
returns what reading every frame from the start returned, from any offset (mid-frame,
mid-line). Small ``_TAIL`` / ``_BATCH_BYTES`` / frames so lines cross block ends and pass
the tail's width; CR, NUL, blank lines, no last newline (hrev163). Real files."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from callguard.compliance import stream_cursor as sc
from callguard.compliance.seekable import compress_lines, iter_frames
from callguard.compliance.segments import Segment

_TAIL, _BLOCK = 6, 8
_NAME = "compliance.jsonl.20261207T150000000000Z"
_SETTINGS = settings(max_examples=300, deadline=None,
                     suppress_health_check=list(HealthCheck))


def _last_line(data: bytes) -> bytes:
    """f5d22875's ``_last_line`` at the small ``_TAIL``."""
    data = data[-_TAIL:]
    return data[data.rfind(b"\n", 0, len(data) - 1) + 1:]


def _old_found(data: bytes, tail: str) -> int:
    """f5d22875's search over the segment's bytes whole."""
    for match in re.finditer(rb"\n", data):
        end = match.end()
        if sc._hash(_last_line(data[max(0, end - _TAIL):end])) == tail:
            return end
    if data and not data.endswith(b"\n") and sc._hash(_last_line(data)) == tail:
        return len(data)
    return 0


def _old_read(lines: list[bytes], offset: int) -> tuple[list[bytes], int, str | None]:
    """f5d22875's ``_read_compressed`` (every frame from the start), valid lines only."""
    position, recent, out = 0, b"", []
    for line in lines:
        size = len(line) + 1
        if position >= offset:
            out.append(line)
        recent = (line + b"\n")[-_TAIL:]
        position += size
        if position > offset and len(out) >= sc._BATCH_LINES:
            return [x for x in out if sc._keep(x)], position, sc._hash(recent)
    if position <= offset:
        return [], offset, None
    return [x for x in out if sc._keep(x)], position, sc._hash(recent)




# a length drawn first: hypothesis' lists are short, and lines must cross block ends
_bytes = st.integers(0, 100).flatmap(lambda n: st.lists(
    st.sampled_from([b"a", b"b", b"\n", b"\r", b"\x00"]), min_size=n, max_size=n))


@_SETTINGS
@given(parts=_bytes, pick=st.integers(0, 99), compressed=st.booleans(),
       frame=st.integers(1, 40))
def test_found_again_is_the_whole_file_search(parts, pick, compressed, frame):
    data = b"".join(parts)
    if compressed:
        data = b"".join(line + b"\n" for line in data.split(b"\n")[:-1])
    ends = [i + 1 for i, c in enumerate(data) if c == 10] + [len(data)]
    end = ends[pick % len(ends)]
    tail = sc._hash(_last_line(data[:end])) if pick < 90 else "x"
    with tempfile.TemporaryDirectory() as tmp:  # one per example, removed after it
        path = Path(tmp) / (_NAME + (".zst" if compressed else ""))
        if compressed:
            with path.open("wb") as handle:
                compress_lines([x + b"\n" for x in data.split(b"\n")[:-1]], handle,
                               frame_bytes=frame)
            assert b"".join(x + b"\n" for f in iter_frames(path) for x in f) == data
        else:
            path.write_bytes(data)
        saved = sc._TAIL, sc._BATCH_BYTES
        sc._TAIL, sc._BATCH_BYTES = _TAIL, _BLOCK
        try:
            found = sc._found_again(Segment(path, None), sc.Cursor(None, 999, tail=tail), 1)
        finally:
            sc._TAIL, sc._BATCH_BYTES = saved
        assert found.offset == _old_found(data, tail)


@_SETTINGS
@given(lines=st.lists(st.one_of(st.integers(0, 999).map(lambda n: b'{"n":%d}' % n),
                                st.just(b"")), max_size=12),
       frame=st.integers(1, 40), offset=st.integers(0, 200))
def test_a_compressed_read_from_its_frame_is_the_read_from_the_start(lines, frame, offset):
    with tempfile.TemporaryDirectory() as tmp:  # one per example, removed after it
        path = Path(tmp) / (_NAME + ".zst")
        with path.open("wb") as handle:
            compress_lines([line + b"\n" for line in lines], handle, frame_bytes=frame)
        offset %= sum(len(line) + 1 for line in lines) + 3
        saved = sc._TAIL, sc._BATCH_LINES
        sc._TAIL, sc._BATCH_LINES = _TAIL, 3
        try:
            got = sc._read_compressed(path, offset)
            assert got[:3] == _old_read(lines, offset)
            assert got[3] is None
        finally:
            sc._TAIL, sc._BATCH_LINES = saved
