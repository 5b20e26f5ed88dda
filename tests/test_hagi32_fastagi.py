"""hagi32: the FastAGI front's once-a-minute lines as one mechanism (``KindLog``).

server.py had three limiters: ``KindLog`` for ``fastagi_bad_headers``, and two written
by hand, ``_log_capped`` (``fastagi_connections_capped``) and ``_log_refused``
(``fastagi_refused_source``, a bounded table of sources with a "*" line for the rest).
They are one now; each line keeps its event, its field names and its arithmetic (the
first at once, then one a minute with the count since, itself included). On main these
tests fail: ``KindLog`` takes no field names nor bound, and the server has no
``_refused_sources_log`` / ``_connections_capped_log``.
"""

from __future__ import annotations

import structlog

from callguard.config import load_settings
from callguard.fronts.fastagi import server as server_module
from callguard.fronts.fastagi.kindlog import KindLog
from callguard.fronts.fastagi.server import FastAgiServer


class _Lines:
    """A logger that keeps what it was asked to write, as structlog's capture does."""

    def __init__(self) -> None:
        self.lines: list[dict] = []

    def warning(self, event: str, **fields) -> None:
        self.lines.append({"event": event, **fields})


def test_kind_log_bounds_its_kinds_under_one_overflow_line():
    """``kinds`` 2: a third kind in the minute is lined and counted as "*"; a minute on,
    the stale kinds are forgotten and a new one gets its own line again. The field
    names are the caller's, and no ``period_s`` when it is not asked for."""
    clock = [0.0]
    out = _Lines()
    log = KindLog(out, "e", 60.0, clock=lambda: clock[0], kind_field="source",
                  count_field="refused", period_field=None, kinds=2)
    assert log.note("a") is True
    assert log.note("b") is True
    assert log.note("c") is True  # the first "*" line
    assert log.note("d") is False
    assert log.note("a") is False
    assert (len(log), log.pending("*"), log.pending("a")) == (3, 1, 1)
    clock[0] = 61.0
    assert log.note("e") is True  # a, b and * forgotten: e has its own line
    assert out.lines == [
        {"event": "e", "source": "a", "refused": 1},
        {"event": "e", "source": "b", "refused": 1},
        {"event": "e", "source": "*", "refused": 1},
        {"event": "e", "source": "e", "refused": 1},
    ]
    assert len(log) == 1


def test_kind_log_of_one_kind_writes_no_kind():
    """``kind_field`` None: one kind, its line without a kind field."""
    clock = [0.0]
    out = _Lines()
    log = KindLog(out, "capped", 60.0, clock=lambda: clock[0], kind_field=None,
                  count_field="refused", period_field=None)
    for step in (0.0, 1.0, 59.0):
        clock[0] = step
        log.note("", cap=2)
    clock[0] = 60.0
    log.note("", cap=2)
    assert out.lines == [{"event": "capped", "refused": 1, "cap": 2},
                         {"event": "capped", "refused": 3, "cap": 2}]


def _bare_server(tmp_path) -> FastAgiServer:
    """A server object for its minute lines only (nothing listens)."""
    server = FastAgiServer.__new__(FastAgiServer)
    server.settings = load_settings(data_dir=tmp_path).fastagi
    server._refused_log = server_module._refused_sources_log()
    server._capped_log = server_module._connections_capped_log()
    return server


def test_the_capped_line_keeps_its_fields_and_minute(tmp_path, monkeypatch):
    """``fastagi_connections_capped``: ``cap``, ``refused`` (closed since the last line,
    this one included) and ``fix``, as ``_log_capped`` wrote them; no ``kind``."""
    server = _bare_server(tmp_path)
    clock = [100.0]
    monkeypatch.setattr(server_module.time, "monotonic", lambda: clock[0])
    with structlog.testing.capture_logs() as logged:
        for step in (0, 10, 59):
            clock[0] = 100.0 + step
            server._log_capped()
        clock[0] = 161.0
        server._log_capped()
    lines = [e for e in logged if e["event"] == "fastagi_connections_capped"]
    cap = server.settings.max_connections
    assert [(e["cap"], e["refused"]) for e in lines] == [(cap, 1), (cap, 3)]
    assert all("max_connections" in e["fix"] and "kind" not in e and "period_s" not in e
               for e in lines), lines


def test_the_refused_line_names_the_address_as_written(tmp_path, monkeypatch):
    """``fastagi_refused_source``: the address as ``allowed_sources`` lists it (an IPv4
    peer on a dual-stack socket is its IPv4 address), counted under it."""
    server = _bare_server(tmp_path)
    monkeypatch.setattr(server_module.time, "monotonic", lambda: 7.0)
    with structlog.testing.capture_logs() as logged:
        server._log_refused("::ffff:10.1.2.3")
        server._log_refused("10.1.2.3")
    assert [(e["source"], e["refused"]) for e in logged] == [("10.1.2.3", 1)]
    assert server._refused_log.pending("10.1.2.3") == 1
    assert "allowed_sources" in logged[0]["fix"]
