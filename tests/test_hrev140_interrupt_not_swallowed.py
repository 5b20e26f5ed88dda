"""A Ctrl-C under the import guard ends the process, whatever the code it lands in does.

hsml26's guard raised SystemExit(130) from the SIGINT handler. Code that runs under it
can swallow that: in review, `callguard health` with a SIGINT 30-50 ms after start wrote
"interrupted" and then ran on to its end, exit 1 (the SIGINT landed in a module compiled
inside a C extension's import, which cleared the error) — an admin told "interrupted" of
a command that carried on (a purge, an import). Nothing is written while the guard is up
(imports only), so the guard now exits at once. A real SIGINT in a real child (hrev140).
"""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT
from tests.sigint_child import sigint_default

_CHILD = """
import os, signal, time
from callguard.cli.interrupts import quiet_imports
with quiet_imports():
    try:  # what a C extension's import clearing the error does to SystemExit
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.5)
    except BaseException:
        pass
print("carried on")
"""


def test_a_ctrl_c_under_the_guard_is_not_swallowed() -> None:
    result = subprocess.run([sys.executable, "-c", _CHILD], capture_output=True, text=True,
                            preexec_fn=sigint_default,
                            cwd=ROOT, timeout=60, check=False)
    assert (result.returncode, result.stdout, result.stderr) == (130, "", "interrupted\n")
