"""Embedded lists: an old `dnc drop` of a list does not drop a copy imported after it (hrev93).

`dnc drop` moves ``lists/NAME`` to ``lists-dropped/NAME-<UTC stamp>``; a node's reload stops
serving a list whose directory is gone when such a directory exists (hsto22), and a list
directory gone any other way keeps serving. But any drop of the name counted, however old:
fl-state dropped, imported again later, then its directory lost (deleted, an older backup of
``lists/`` restored) read as dropped on purpose, and the node forgot the copy it served (the
shipped ``[lists] not_loaded`` then reads fl-state as absent: a Floridian's New York mobile on
it ALLOWed). A drop counts only for a copy imported before it. Real files.
"""

from __future__ import annotations

import shutil
import time
from datetime import date

from callguard.stores.embedded.lists import EmbeddedListRegistry, drop_list, write_version
from callguard.stores.list_files import parse_list_file

NEW_YORK = 2125550143


def _import(root, tmp_path) -> None:
    path = tmp_path / "fl.txt"
    path.write_text(f"{NEW_YORK}\n")
    write_version(root, "fl-state", parse_list_file(path), published=date(2027, 1, 1),
                  area_codes=None, source="test")


def test_a_copy_imported_after_an_old_drop_is_not_dropped_with_it(tmp_path):
    root = tmp_path / "data"
    root.mkdir()
    _import(root, tmp_path)
    drop_list(root, "fl-state")  # lists-dropped/fl-state-<stamp>
    time.sleep(1.1)  # the stamp has whole seconds
    _import(root, tmp_path)  # the site calls Florida again
    node = EmbeddedListRegistry(root)
    node.reload()
    assert node.snapshot("fl-state") is not None
    shutil.rmtree(root / "lists" / "fl-state")  # lost, not dropped
    node.reload()
    snapshot = node.snapshot("fl-state")
    assert snapshot is not None, "an old drop forgot a copy imported after it"
    assert snapshot.contains(NEW_YORK)


def test_a_drop_of_the_copy_served_is_still_a_drop(tmp_path):
    root = tmp_path / "data"
    root.mkdir()
    _import(root, tmp_path)
    node = EmbeddedListRegistry(root)
    node.reload()
    assert node.snapshot("fl-state") is not None
    drop_list(root, "fl-state")
    node.reload()
    assert node.snapshot("fl-state") is None
