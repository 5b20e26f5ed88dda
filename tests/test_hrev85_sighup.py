"""hrev85 (review of the lead's SIGHUP reload, e164e42): a SIGHUP while the node starts.

The loop's SIGHUP handler (``serve._Signals``) is installed only once the runtime is
built — the packs compiled, the lists loaded, the stores opened, a time that grows with the
lists. Until then SIGHUP kept its default action: the node died with no log line, and
under the unit (Type=exec: active, and so reloadable, from the exec) a `systemctl reload`
in that window — a deploy's restart-then-reload, a list publisher's reload — left it down,
since Restart=on-failure counts a SIGHUP death as clean: every call BLOCKed "not reached".
"""

from __future__ import annotations

import signal
import time

from tests.conftest import ROOT
from tests.serve_node import ServeNode


def test_a_sighup_while_the_node_starts_is_a_reload_not_its_death(tmp_path) -> None:
    node = ServeNode(tmp_path, reload_seconds=3600).start(wait=False)
    try:
        assert node.process is not None
        deadline = time.monotonic() + 60
        # ``malloc_tuning``: `serve` has begun, the runtime not yet built
        while b'"malloc_tuning"' not in node.stderr_path.read_bytes():
            assert node.alive(), node.stderr()[-2000:]
            assert time.monotonic() < deadline, "serve did not begin"
            time.sleep(0.001)
        node.process.send_signal(signal.SIGHUP)
        node.wait_healthy()  # raises "serve exited" when the SIGHUP killed it
        # the reload asked for while starting runs once the node serves
        node.until(lambda: node.events("reload_requested"), what="the start-up reload")
        assert node.alive()
    finally:
        code = node.stop()
    assert code == 0
    assert "Traceback" not in node.stderr()


def test_the_unit_restarts_a_node_that_a_sighup_killed() -> None:
    """Python's own start (the interpreter, the imports: a second or two) still precedes
    any handler: a SIGHUP death there is restarted (systemd's Restart=on-failure alone
    counts SIGHUP among the clean exit signals, and left the node down)."""
    unit = (ROOT / "systemd" / "callguard.service").read_text()
    assert "\nRestart=on-failure\n" in unit
    assert "\nRestartForceExitStatus=SIGHUP\n" in unit
