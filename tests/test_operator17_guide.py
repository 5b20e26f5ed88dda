"""README's install steps, read as an admin follows them (operator examiner 17)."""

from __future__ import annotations

import re
from pathlib import Path

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def test_container_import_reads_a_file_copied_into_the_container():
    """The container steps ran ``exec callguard callguard dnc import
    /var/lib/callguard/national.txt`` with no step putting the file there: the import
    failed ("File ... does not exist") and the node stayed unready. Each file imported is
    first copied in, to the same path."""
    section = README[README.index("- **Container**"):README.index("- **systemd**")]
    imported = re.findall(r"exec callguard callguard dnc import (\S+)", section)
    copied = set(re.findall(r"compose -f docker/compose.yaml cp \S+ callguard:(\S+)",
                            section))
    assert imported
    assert [path for path in imported if path not in copied] == []
