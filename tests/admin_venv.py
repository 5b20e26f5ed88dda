"""A venv of root's for running ``systemd/callguard-admin`` from a test.

callguard-admin runs its python with ``-I`` (no ``PYTHONPATH``) and only from a venv root
alone can write, so a test cannot hand it the lead's venv with ``PYTHONPATH`` pointing at
this tree: this venv (``--without-pip``, in a directory of root's) reads ``callguard`` from
this tree through a ``.pth`` file, as an editable install would.
"""

from __future__ import annotations

import functools
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@functools.cache
def admin_python() -> str:
    """The venv's python (made once per test run, left for the OS to clean)."""
    venv = Path(tempfile.mkdtemp(prefix="callguard-admin-venv-"))
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True,
                   timeout=60)
    site = sysconfig.get_path("purelib", vars={"base": str(venv), "platbase": str(venv)})
    Path(site, "callguard-tree.pth").write_text(f"{ROOT}\n")
    return str(venv / "bin" / "python")
