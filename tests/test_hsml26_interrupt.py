"""A Ctrl-C while `callguard serve` starts: one line "interrupted", exit 130, no traceback.

A new admin's Ctrl-C in serve's first second (its imports: click, rich, the gate, the
fronts, aiohttp) printed Python's KeyboardInterrupt traceback and died of the signal
(exit -2), or, once click ran, printed a blank line and exited 2, a usage error. The
SIGINT here is a real signal sent to a real `python -m callguard serve` process, started
with subprocess (a job bash starts with `&` ignores SIGINT). The moments are counted from
the child's interpreter being up (it says so on stdout before it imports callguard): the
interpreter's own start-up (site, the editable install's .pth: 30-60 ms on a loaded
2-core machine) runs before any code of callguard's, which cannot take SIGINT over there.
After each, the same data dir serves again: nothing the interrupted start wrote is torn.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.serve_node import ServeNode
from tests.sigint_child import sigint_default

# `python -m callguard ...` as runpy runs it, after one line on stdout: "up".
_LAUNCH = ("import sys, runpy; sys.stdout.write('up\\n'); sys.stdout.flush(); "
           "runpy.run_module('callguard', run_name='__main__', alter_sys=True)")


def _interrupted_start(node: ServeNode, after: float) -> tuple[int, str]:
    """Start serve, SIGINT it ``after`` seconds past its interpreter's start; (exit, stderr)."""
    process = subprocess.Popen(
        [sys.executable, "-c", _LAUNCH, "--config", str(node.config), "serve"],
        env=node.env, cwd=Path.cwd(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        preexec_fn=sigint_default)  # noqa: PLW1509 - signal.signal only
    try:
        assert process.stdout is not None
        assert process.stdout.readline() == b"up\n"
        time.sleep(after)
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    return process.returncode, err.decode("utf-8", errors="replace")


def _whole(data: Path) -> None:
    """What the start wrote, whole: every record a JSON line, the log key 64 hex digits."""
    log = data / "compliance.jsonl"
    if log.exists():
        for line in log.read_text().splitlines():
            json.loads(line)
    key = data / "log.key"
    if key.exists():
        assert len(key.read_text()) == 64


@pytest.mark.parametrize("after", [0.05, 0.3, 1.0])
def test_a_ctrl_c_while_serve_starts_is_one_line_and_exit_130(tmp_path: Path,
                                                               after: float) -> None:
    """Early: exit 130 and the line "interrupted" alone; later (the node up): its normal
    stop, exit 0. Never a traceback, and the data dir serves again."""
    node = ServeNode(root=tmp_path)
    code, err = _interrupted_start(node, after)
    assert "Traceback" not in err, err
    plain = [line for line in err.splitlines() if not line.startswith("{")]
    events = [json.loads(line)["event"] for line in err.splitlines() if line.startswith("{")]
    if after < 1.0 or code != 0:  # serve takes well over 0.3 s to start
        assert (code, plain) == (130, ["interrupted"]), err
    else:
        assert "stopped" in events, err
    _whole(node.data)
    node.start()  # the same data dir, after the interrupted start
    try:
        assert node.http("/healthz", token=None)[0] == 200
    finally:
        assert node.stop() == 0, node.stderr()[-2000:]


def _until_open(pid: int, path: Path, timeout: float = 30) -> None:
    """Until process ``pid`` holds ``path`` open (Linux /proc)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        fds = Path(f"/proc/{pid}/fd")
        try:
            if any(fd.readlink() == path for fd in fds.iterdir()):
                return
        except OSError:  # a descriptor closed meanwhile
            pass
        time.sleep(0.05)
    raise AssertionError(f"{path} never opened by {pid}")


def test_tail_follow_still_ends_quietly_on_ctrl_c(tmp_path: Path) -> None:
    """`tail -f` ends on Ctrl-C with exit 0 (it catches KeyboardInterrupt itself): the
    handler taken over for the imports is Python's own again once they are done."""
    node = ServeNode(root=tmp_path)
    log = node.data / "compliance.jsonl"
    log.write_text("")
    process = subprocess.Popen(
        [sys.executable, "-m", "callguard", "--config", str(node.config), "tail", "-f",
         "--file", str(log)], env=node.env, cwd=Path.cwd(), stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, preexec_fn=sigint_default)  # noqa: PLW1509 - signal.signal only
    try:
        _until_open(process.pid, log)  # past its imports: following the file
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, err
    assert b"Traceback" not in err
