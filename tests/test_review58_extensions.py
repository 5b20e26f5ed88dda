"""Where reading a number's extension as its line is NOT fail-closed (hrev58, on hsto19).

hsto19 reads ``801-555-0142 x12`` as 8015550142 in every list file: right for a listing
that BLOCKs (do-not-call, litigator, wireless, reassigned), where a line read as listed
only blocks more. Two readings let calls through instead:

- a delta's ``-`` line: ``-801-555-0142 x12`` (one desk's listing withdrawn) removed the
  LINE, which may be listed by its own entry too (two registry entries, one bitmap bit);
  before hsto19 the line was malformed and stayed listed;
- ``attr-ported-wireline``: a number listed there is shown wireline (no wireless
  protection); an entry read from an extension made a wireless line wireline.
"""

from __future__ import annotations

import json
from pathlib import Path

from callguard.stores.list_files import parse_delta_file
from tests.test_cli_ux import PUBLISHED, cli, one_line

FILLER = [f"80155{i:05d}" for i in range(2000, 6000)]  # 4,000 plain numbers


def _numbers(parsed) -> set[int]:
    return {area * 10_000_000 + rest for area, rests in parsed.by_area.items()
            for rest in rests}


def test_a_removal_with_an_extension_does_not_unlist_the_line(tmp_path: Path) -> None:
    path = tmp_path / "delta.txt"
    path.write_text("+8015550144\n-801-555-0142 x12\n-8015550143\n")
    delta = parse_delta_file(path, max_bad_share=0.5)
    assert 8015550142 not in _numbers(delta.deletions)  # the line stays listed
    assert _numbers(delta.deletions) == {8015550143}
    assert delta.additions.bad == 1
    said = " ".join(delta.additions.bad_examples)
    assert "line 2: " in said
    assert "a removal with an extension: the line stays listed" in said
    assert "555" not in said  # no number in clear


def test_a_ported_wireline_entry_with_an_extension_is_not_read(tmp_path: Path) -> None:
    path = tmp_path / "ported.txt"
    path.write_text("\n".join([*FILLER, "801-555-0142 x12"]) + "\n")
    done = cli(tmp_path, "attributes", "import", str(path), "--kind", "ported-wireline",
               "--published", PUBLISHED, "--covers", "all", "--max-bad-share", "0.01")
    assert done.returncode == 0, done.stderr
    said = one_line(done.stderr)
    assert "4,000 numbers" in said, said
    assert "1 malformed" in said, said
    assert "had an extension" not in said
    status = json.loads(cli(tmp_path, "attributes", "status", "--json").stdout)
    row = next(r for r in status["attributes"] if r["kind"] == "ported-wireline")
    assert row["count"] == 4000
