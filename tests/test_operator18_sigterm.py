"""SIGTERM with FastAGI sessions in flight (systemd's stop, a restart): every session is
finished — answered and its answer confirmed — before the node exits, as the unit says.
On Python 3.11 ``Server.wait_closed()`` waited for no connection and ``asyncio.run``
cancelled them: the answer went unconfirmed, and each session left a traceback."""

from __future__ import annotations

import re
import socket
import sys
import threading
import time

import pytest

from tests.conftest import ROOT
from tests.serve_node import AT, ServeNode


def _session(port: int, number: str, linkedid: str, hold: float, out: list[str]) -> None:
    """Asterisk's side of one FastAGI session, replying to each command after ``hold``."""
    with socket.create_connection(("127.0.0.1", port), timeout=15) as conn:
        conn.sendall((f"agi_network: yes\nagi_network_script: callguard\n"
                      f"agi_request: agi://127.0.0.1:{port}/callguard\n"
                      f"agi_channel: PJSIP/t-1\nagi_uniqueid: {linkedid}\n"
                      f"agi_arg_1: {number}\nagi_arg_2: ut-solar-manual\nagi_arg_3: manual\n"
                      f"agi_arg_4: {linkedid}\nagi_arg_5: \n\n").encode())
        stream = conn.makefile("rwb")
        decision = ""
        while line := stream.readline().decode():
            out.append(line.rstrip("\n"))
            time.sleep(hold)
            if line.startswith("EXEC MSet"):
                found = re.search(r"CALLGUARD_DECISION_ID=([0-9a-f-]+)", line)
                decision = found.group(1) if found else ""
                stream.write(b"200 result=0\n")
            elif line.startswith("GET VARIABLE"):
                stream.write(f"200 result=1 ({decision})\n".encode())
            else:
                stream.write(b"200 result=0\n")
            stream.flush()


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="3.12's wait_closed drains itself")
def test_sigterm_lets_sessions_in_flight_finish(tmp_path) -> None:
    # bench/serve_at.py runs as a script: without PYTHONPATH it imports the installed
    # callguard, not this tree's.
    node = ServeNode(tmp_path, clock_at=AT, env_extra={"PYTHONPATH": str(ROOT)}).start()
    outs: list[list[str]] = [[] for _ in range(4)]
    threads = [threading.Thread(target=_session, args=(node.agi_port, f"+1801555{1200 + i}",
                                                       f"1700.{i}", 0.6, outs[i]))
               for i in range(4)]
    try:
        for thread in threads:
            thread.start()
        node.until(lambda: all(out for out in outs), what="every session answered")
        assert node.process is not None
        node.process.send_signal(__import__("signal").SIGTERM)
        for thread in threads:
            thread.join(timeout=20)
        assert node.process.wait(timeout=20) == 0
    finally:
        node.stop()
    for out in outs:
        assert [line.split(" ", 2)[:2] for line in out] == [["EXEC", "MSet"],
                                                            ["GET", "VARIABLE"]], out
    stopped = node.events("stopped")[-1]
    assert stopped["answered"] == 4, stopped
    assert "answer_unconfirmed" not in stopped
    assert node.events("fastagi_draining")
    assert "Traceback" not in node.stderr()
    assert "CancelledError" not in node.stderr()
