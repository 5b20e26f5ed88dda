"""Issue 15.6 (operational side): the nets that keep numbers out of stderr."""

from __future__ import annotations

import io
import logging

import orjson
import pytest
import structlog

from callguard.logredact import (
    RedactingFormatter,
    install_stdlib_redaction,
    redact_event,
    redacted_error,
)
from callguard.numbers.redact import has_digit_run


class TestRedactEvent:
    """The structlog processor for the operational chain."""

    def test_every_string_value_nested_or_not(self):
        """Top-level, nested and list values lose their digit runs."""
        event = {"event": "fastagi_bad_headers", "reason": "line 'agi_arg_1: 8015550123'",
                 "lists": {"a": "call +1 (801) 555-0123"}, "seen": ["\uff18015550123", 3]}
        out = redact_event(None, "warning", dict(event))
        assert not has_digit_run(str(out))
        assert out["seen"][1] == 3
        assert out["reason"] == "line 'agi_arg_1: [number …0123]'"

    def test_peer_address_version_and_citation_stay_readable(self):
        """A PBX admin finds the refused peer; the number next to it still goes."""
        event = {"event": "fastagi_refused", "peer": "10.200.100.201:40312",
                 "ami": "10.200.100.201", "pack": "us-fl 2026.12.5",
                 "reason": "Fla. Stat. 501.059(8)(a): 801.555.0123 at 801 555 01:00"}
        out = redact_event(None, "warning", dict(event))
        assert out["peer"] == event["peer"]
        assert out["ami"] == event["ami"]
        assert out["pack"] == event["pack"]
        assert out["reason"] == ("Fla. Stat. 501.059(8)(a): [number …0123] at "
                                 "[number …0100]")
        assert not has_digit_run(str(out))

    def test_safe_keys_keep_their_digits(self):
        """A decision id and a keyed hash are not numbers: left as they are."""
        event = {"decision_id": "01932c4e-1234-7567-8901-234567890abc",
                 "number_hash": "1234567890abcdef" * 4, "logged_at": "2026-11-25T18:00:00Z"}
        assert redact_event(None, "info", dict(event)) == event

    def test_an_id_key_holding_no_uuid_is_redacted(self):
        """The watchdog logs the decision id it read from a channel variable
        (``CALLGUARD_FOLLOW``, which a dialplan can set or damage) under ``decision_id``
        (Redis unreachable: ``watchdog_record_unchecked``): a number there was left whole."""
        for key in ("decision_id", "optout_id"):
            out = redact_event(None, "warning", {key: "8015550123", "event": "x"})
            assert not has_digit_run(str(out)), out
            assert out[key] == "[number …0123]"

    def test_in_a_chain_after_format_exc_info_the_traceback_is_redacted(self):
        """A traceback quoting the peer's input (main's superscript crash printed it)."""
        out = io.BytesIO()
        logger = structlog.wrap_logger(
            structlog.BytesLogger(out),
            processors=[structlog.processors.format_exc_info, redact_event,
                        structlog.processors.JSONRenderer(serializer=_dumps)])
        try:
            int("801555016\u00b2")
        except ValueError:
            logger.exception("gate_error", campaign="8015550123")
        text = out.getvalue().decode()
        assert "gate_error" in text
        assert "ValueError" in text
        assert not has_digit_run(text), text


def _dumps(value, **kw):
    return orjson.dumps(value)


class TestStdlib:
    """aiohttp, asyncio and aiosipua log through the standard library."""

    def test_formatter_redacts_message_arguments_and_traceback(self):
        """aiohttp's "Error handling request" with the bad request line in its traceback."""
        stream = io.StringIO()
        handler = logging.StreamHandler(stream)
        handler.setFormatter(RedactingFormatter("%(levelname)s %(name)s: %(message)s"))
        log = logging.getLogger("test.aiohttp.server")
        log.addHandler(handler)
        log.propagate = False
        try:
            int("Bad status line 'GET /8015550123 HTTP/1.1'")
        except ValueError:
            log.exception("Error handling request from %s", "801-555-0123")
        finally:
            log.removeHandler(handler)
        text = stream.getvalue()
        assert "Error handling request" in text
        assert "ValueError" in text
        assert not has_digit_run(text), text

    def test_install_routes_the_root_logger(self):
        """After install, a library logger's warning reaches the stream redacted."""
        root = logging.getLogger()
        saved, level = root.handlers[:], root.level
        stream = io.StringIO()
        try:
            install_stdlib_redaction(stream)
            logging.getLogger("aiosipua.transport").warning("peer %s said 8015550123", "x")
        finally:
            root.handlers[:] = saved
            root.setLevel(level)
        assert "[number …0123]" in stream.getvalue()

    def test_redacted_error(self):
        """One exception as text a log may hold."""
        with pytest.raises(KeyError) as caught:
            {}["8015550123"]
        assert not has_digit_run(redacted_error(caught.value))
        assert redacted_error(caught.value, with_traceback=False) == (
            "KeyError: '[number …0123]'")
