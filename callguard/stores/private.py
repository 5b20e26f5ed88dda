"""Files that hold personal information are the service user's alone (mode 0600).

The record store holds numbers in clear and consent evidence; Utah Code 13-44-201 asks
for reasonable procedures to protect personal information. SQLite creates a database file
0644 (less the umask) and gives its ``-wal``, ``-shm`` and ``-journal`` files the
database file's own mode, so creating the database 0600 before SQLite opens it is enough
for the files to come; files made by an older callguard are tightened here too. The
systemd unit's ``UMask`` is a second line, not the only one.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

__all__ = ["private_database", "private_dir"]

_COMPANIONS = ("", "-wal", "-shm", "-journal")


def private_dir(path: Path) -> None:
    """Create ``path`` (and its parents) 0700 when it does not exist yet."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)


def private_database(path: Path) -> None:
    """Make sure the database file exists 0600, and every companion file is 0600.

    PermissionError when the file is there but this process cannot read and write it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        # Only a file that is not there yet is opened (and closed): POSIX drops every lock
        # a process holds on a file when it closes any descriptor of it, so closing one of
        # an open database would drop the locks of this process's connections to it, and
        # another process closing its own then takes this one for gone and removes the
        # -wal and -shm we still write into (commits lost at a crash).
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        os.close(fd)
    elif not os.access(path, os.R_OK | os.W_OK,
                       effective_ids=os.access in os.supports_effective_ids):
        # Not opened to find out (above), so asked: SQLite opens a file it cannot write
        # read-only without a word, and the node would serve, ready, refusing every write.
        raise PermissionError(errno.EACCES, "Permission denied (this process cannot read "
                              "and write it)", str(path))
    for suffix in _COMPANIONS:
        companion = path.with_name(path.name + suffix)
        try:
            mode = stat.S_IMODE(os.stat(companion).st_mode)
        except FileNotFoundError:
            continue
        if mode & 0o077:
            os.chmod(companion, mode & 0o700)
