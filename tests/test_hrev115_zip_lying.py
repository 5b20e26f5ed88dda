"""A ZIP bomb that lies about its compressed size is refused before a byte is read (hrev115).

hrea24's ratio check (``MAX_ZIP_RATIO``) divides the member's declared uncompressed size by
its DECLARED compressed size, both from the central directory. A crafted archive declares
a compressed size larger than the bytes it holds: the ratio passed, and ``zipfile``
inflated the member up to its declared size (the 8 GiB ceiling) before running out of
input. Shown before the fix: a 100 kB archive of 50 MB of one repeated number, its
compressed size declared 1 MB (50:1), was inflated whole, then refused as "unreadable ()"
(an empty ``EOFError``). Now a member declaring more compressed bytes than the archive
holds is refused as damaged or a bomb, up front.
Real archives built with ``zipfile``, header fields edited as a crafted bomb does.
"""

from __future__ import annotations

import struct
import zipfile
import zlib
from pathlib import Path

import pytest

from callguard.errors import ListImportError
from callguard.stores import list_files
from callguard.stores.list_files import parse_list_file

LINE = b"8015550123\n"


def _lying(path: Path, size: int) -> Path:
    data = LINE * (size // len(LINE))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("national.txt", data)
    raw = bytearray(path.read_bytes())
    assert len(data) > list_files.MAX_ZIP_RATIO * len(raw)  # a bomb by its true ratio
    claimed = len(data) // 50  # 50:1, under the ceiling
    struct.pack_into("<I", raw, 18, claimed)  # the local header's compressed size
    struct.pack_into("<I", raw, raw.find(b"PK\x01\x02") + 20, claimed)  # the directory's
    path.write_bytes(bytes(raw))
    return path


def test_a_bomb_declaring_a_false_compressed_size_is_refused_unread(tmp_path, monkeypatch):
    path = _lying(tmp_path / "national.zip", 50 * 2**20)
    inflated: list[int] = []
    real = zlib.decompressobj

    class Counting:
        def __init__(self, *args):
            self._d = real(*args)

        def decompress(self, data, max_length=0):
            out = self._d.decompress(data, max_length)
            inflated.append(len(out))
            return out

        def __getattr__(self, name):
            return getattr(self._d, name)

    monkeypatch.setattr(zlib, "decompressobj", Counting)
    with pytest.raises(ListImportError) as refused:
        parse_list_file(path)
    text = str(refused.value)
    assert sum(inflated) == 0, sum(inflated)  # before: the 50 MB inflated whole
    assert "national.txt" in text, text
    assert "compressed" in text, text
    assert "nothing was imported" in text, text
    assert "unreadable ()" not in text, text

