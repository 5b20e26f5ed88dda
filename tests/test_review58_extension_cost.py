"""The extension pattern costs one pass of a line (hrev58, on hsto19).

``_EXTENSION`` began with ``\\s*`` and was searched at every position: on a line with a long
run of blanks inside (a fixed-width export, a padded column) each start re-scanned the
run, quadratic: 1.2 s for one 8,000-blank line (the longest read), and every line that
is not already a number is searched, the whole file before its malformed share is judged.
"""

from __future__ import annotations

import time
from pathlib import Path

from callguard.stores.list_files import national_and_extension, parse_list_file

FILLER = [f"80155{i:05d}" for i in range(2000, 6000)]


def test_a_line_with_a_long_run_of_blanks_is_read_at_once(tmp_path: Path) -> None:
    path = tmp_path / "padded.txt"
    padded = ["8015550142" + " " * 8000 + "name"] * 3
    path.write_text("\n".join([*FILLER, *padded]) + "\n")
    started = time.perf_counter()
    parsed = parse_list_file(path, max_bad_share=0.01)
    assert time.perf_counter() - started < 1.0  # before: ~3.5 s (1.2 s a line)
    assert parsed.bad == 3


def test_what_it_reads_is_unchanged() -> None:
    for line, want in (("801-555-0142 x12", (8015550142, True)),
                       ("801-555-0142   ;  ext = 7", (8015550142, True)),
                       ("8015550142#4", (8015550142, True)),
                       ("x12", (None, False)), ("8015550142 next 12", (None, False)),
                       ("801-555-0142 12", (None, False)), ("8015550142x", (None, False))):
        assert national_and_extension(line) == want, line
