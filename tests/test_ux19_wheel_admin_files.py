"""A wheel installed outside the clone carries what the admin installs beside it.

README's systemd steps install ``systemd/callguard.service`` and ``callguard-admin``, and
"Wiring it into Asterisk" copies ``asterisk-dialplan/*.conf``: a site that installs the
wheel from its own package index has no clone, and had none of them. The wheel now carries
them as data files (``share/callguard/`` of the environment) and ``callguard init`` says
where they are. Checked with the real tools: ``pip wheel``, ``pip install --prefix``, and
``callguard init`` run from outside the clone.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from callguard.cli.init import ADMIN_FILES

ROOT = Path(__file__).resolve().parents[1]
PIP = Path(sys.executable).parent / "pip"

pytestmark = pytest.mark.skipif(not PIP.exists(), reason="needs the venv's pip")


BUILD_LEFT = (ROOT / "build").exists()  # before this module built anything


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    # A copy of what the build reads, not the checkout: pip builds in the tree it is given.
    source = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    for name in ("callguard", "systemd", "asterisk-dialplan", "monitoring"):
        shutil.copytree(ROOT / name, source / name,
                        ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run([str(PIP), "wheel", "--no-deps", "-q", "-w", str(out), str(source)],
                   check=True, capture_output=True, timeout=180)
    return next(out.glob("callguard-*.whl"))


def test_the_checkout_is_left_as_it_was(wheel: Path) -> None:
    """pip builds in the tree it is given: setuptools' build/ there outlives the test, and
    its build/lib, never cleaned, carries a module since deleted into the next wheel built
    from that checkout (a release engineer's `pip wheel .` after running the suite)."""
    assert wheel.is_file()
    assert BUILD_LEFT or not (ROOT / "build").exists(), "the wheel was built in the checkout"


def test_wheel_carries_the_unit_admin_and_dialplan(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        for name in ADMIN_FILES:
            (entry,) = [n for n in names if n.endswith(f".data/data/share/callguard/{name}")]
            assert archive.read(entry) == (ROOT / name).read_bytes(), name


def test_init_from_the_installed_wheel_names_them(wheel: Path, tmp_path: Path) -> None:
    prefix = tmp_path / "prefix"
    # --ignore-installed: without it pip uninstalls the callguard this venv already has
    # (an editable install other runs share) before installing into the prefix.
    subprocess.run([str(PIP), "install", "--no-deps", "--ignore-installed", "-q", "--prefix",
                    str(prefix), str(wheel)], check=True, capture_output=True, timeout=180)
    site = Path(sysconfig.get_path("purelib", vars={"base": str(prefix)}))
    assert (site / "callguard" / "__init__.py").is_file()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLGUARD_")}
    env["PYTHONPATH"] = str(site)  # the wheel's callguard, the venv's dependencies
    away = tmp_path / "elsewhere"  # `python -m` puts the working directory first
    away.mkdir()
    done = subprocess.run([sys.executable, "-m", "callguard", "init", str(tmp_path / "etc")],
                          capture_output=True, text=True, env=env, cwd=away, timeout=120,
                          check=False)
    assert done.returncode == 0, done.stderr
    shared = (prefix / "share" / "callguard").resolve()
    assert f"{shared}/systemd/" in done.stdout, done.stdout
    assert f"{shared}/asterisk-dialplan/" in done.stdout, done.stdout
    for name in ADMIN_FILES:
        assert (shared / name).read_bytes() == (ROOT / name).read_bytes(), name
    written = (tmp_path / "etc" / "callguard.toml").read_text()
    # the site's copy, not "the bundled demo"
    assert "the bundled demo. `callguard init DIR`" not in written
    assert str(ROOT) not in done.stdout  # from the wheel, not this checkout
    # and the venv running the tests keeps its own callguard (shared by other runs)
    shown = subprocess.run([str(PIP), "show", "-q", "callguard"], capture_output=True,
                           timeout=60, check=False)
    assert shown.returncode == 0, "pip install --prefix uninstalled this venv's callguard"


def test_a_tree_without_them_still_builds(tmp_path: Path) -> None:
    """docker/Dockerfile builds from pyproject.toml, README.md and callguard/ alone: the
    data files are globs, which match nothing there (a plain path would fail the build)."""
    source = tmp_path / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        (source / name).write_bytes((ROOT / name).read_bytes())
    shutil.copytree(ROOT / "callguard", source / "callguard",
                    ignore=shutil.ignore_patterns("__pycache__"))
    done = subprocess.run([str(PIP), "wheel", "--no-deps", "-q", "-w", str(tmp_path / "out"),
                           str(source)], capture_output=True, text=True, timeout=180,
                          check=False)
    assert done.returncode == 0, done.stderr


def test_the_units_documentation_is_installed_with_it(wheel: Path) -> None:
    """The unit's ``Documentation=`` (``systemctl status``, ``systemctl help callguard``)
    named ``/opt/callguard/src/README.md``: a site that installs the wheel from its own
    index has no clone there, so the link led nowhere. It names a file the venv holds
    (``/opt/callguard`` is the README's venv), whether installed from a clone or a wheel."""
    unit = (ROOT / "systemd" / "callguard.service").read_text()
    (doc,) = [line.split("=", 1)[1] for line in unit.splitlines()
              if line.startswith("Documentation=")]
    assert doc.startswith("file:///opt/callguard/"), doc
    relative = doc.removeprefix("file:///opt/callguard/")
    with zipfile.ZipFile(wheel) as archive:
        (entry,) = [n for n in archive.namelist() if n.endswith(f".data/data/{relative}")]
        assert archive.read(entry) == (ROOT / "README.md").read_bytes()
