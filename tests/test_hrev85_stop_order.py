"""hrev85 (review of the stop's drain, f20e0a8): a FastAGI session in flight does not keep
the other fronts taking calls after SIGTERM.

On Python 3.12+ ``Server.wait_closed()`` waits for every connection to close (3.11 returned
at once: the runtime a systemd install on a current distribution gets). ``serve`` awaited
``FastAgiServer.close()`` — which awaits it — before the HTTP port and SIP stopped
listening and before the drain's cap: a session waiting on Asterisk's replies held the stop
for as long as its own deadlines (11.25 s with the defaults, more with a longer
``reply_timeout_ms``), the HTTP port and SIP deciding new calls meanwhile, SIP's drain
after it, and the whole past the unit's TimeoutStopSec=20 (SIGKILL: the watchdog's lease not
handed on, SIP answers lost) with ``DRAIN_CAP_SECONDS`` never applied. This test fails
before the fix on 3.12 (checked with 3.12.1); on 3.11 it passes either way.
"""

from __future__ import annotations

import signal
import socket
import time

from tests.serve_node import ServeNode


def _header_block(port: int) -> bytes:
    return (f"agi_network: yes\nagi_network_script: callguard\n"
            f"agi_request: agi://127.0.0.1:{port}/callguard\n"
            "agi_channel: PJSIP/t-1\nagi_uniqueid: 1700.85\n"
            "agi_arg_1: +18015551285\nagi_arg_2: ut-solar-manual\nagi_arg_3: manual\n"
            "agi_arg_4: 1700.85\nagi_arg_5: \n\n").encode()


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


def test_a_fastagi_session_in_flight_does_not_hold_the_http_port_open(tmp_path) -> None:
    node = ServeNode(tmp_path)
    # Asterisk's reply awaited 8 s: the session outlives the other fronts' stop by far
    node.config.write_text(node.config.read_text().replace(
        "reply_timeout_ms = 2000", "reply_timeout_ms = 8000", 1))
    node.start()
    asterisk = socket.create_connection(("127.0.0.1", node.agi_port), timeout=15)
    try:
        asterisk.sendall(_header_block(node.agi_port))
        command = asterisk.makefile("rb").readline()  # the answer; never replied to
        assert command.startswith(b"EXEC MSet"), command
        assert node.process is not None
        stopping = time.monotonic()
        node.process.send_signal(signal.SIGTERM)
        while _listening(node.http_port):
            assert time.monotonic() - stopping < 4.0, (
                "the HTTP port still takes calls while a FastAGI session waits for Asterisk")
            time.sleep(0.05)
    finally:
        asterisk.close()  # the session ends: the drain has nothing left to wait for
        code = node.stop()
    assert code == 0, node.stderr()[-2000:]
    assert node.events("stopped")
