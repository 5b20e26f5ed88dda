"""A reassigned-numbers file given as a named pipe (``<(zcat reassigned.gz)``) or a
directory is named as such (hsto19): the dated parser said "no such file" of a path that
was right there, as the do-not-call parser did before hlist18."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from callguard.errors import ListImportError
from callguard.stores.attributes.dated import parse_dated_file


def test_a_fifo_or_a_directory_is_named_as_such_not_as_missing(tmp_path: Path) -> None:
    fifo = tmp_path / "reassigned.fifo"
    os.mkfifo(fifo)
    for path in (fifo, tmp_path):
        with pytest.raises(ListImportError, match="not a regular file") as refused:
            parse_dated_file(path)
        assert "no such file" not in str(refused.value)
    with pytest.raises(ListImportError, match="no such file"):
        parse_dated_file(tmp_path / "absent.txt")
