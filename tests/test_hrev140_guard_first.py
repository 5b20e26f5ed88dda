"""The Ctrl-C guard is up before callguard's first import of anything (hrev140).

hsml26's guard (``callguard.cli.interrupts.quiet_imports``) was taken at the top of
``callguard.cli.main``, but the package ``callguard`` runs first and imports ``zoneinfo``
(sysconfig behind it: 8 ms idle, tens of ms on a loaded host): a Ctrl-C there was still
Python's KeyboardInterrupt traceback. test_hsml26_interrupt's SIGINT 50 ms after the
interpreter was up landed there on a loaded 2-core machine (seen in review). Here a
finder on ``sys.meta_path`` of a real child interpreter notes, for each module imported
while the entry point loads, whether SIGINT is Python's own handler at that moment:
none may be but the few callguard modules found before the guard can be taken.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.conftest import ROOT
from tests.sigint_child import sigint_default

_SPY = """
import json, signal, sys
seen = []
class Spy:
    def find_spec(self, name, path=None, target=None):
        if name not in sys.modules:
            seen.append([name, signal.getsignal(signal.SIGINT) is signal.default_int_handler])
        return None
sys.meta_path.insert(0, Spy())
import {module}
sys.stdout.write(json.dumps(seen))
"""

# Found (a few stat calls) before any code of callguard's can take SIGINT over.
_BEFORE_THE_GUARD = {"callguard", "callguard.cli", "callguard.cli.interrupts",
                     "callguard.cli.main"}


def test_every_import_of_the_entry_point_is_under_the_guard() -> None:
    """The console script's ``from callguard.cli.main import main``, as imported."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLGUARD_")}
    result = subprocess.run([sys.executable, "-c", _SPY.format(module="callguard.cli.main")],
                            capture_output=True, text=True, env=env, cwd=ROOT, timeout=120,
                            check=False, preexec_fn=sigint_default)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)
    assert len(seen) > 50, seen  # click, rich, the gate's modules: the spy saw them
    unguarded = [name for name, default in seen if default and name not in _BEFORE_THE_GUARD]
    assert unguarded == [], unguarded
