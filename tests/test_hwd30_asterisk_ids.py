"""An Asterisk Uniqueid/Linkedid in the watchdog's log survives the number redaction.

``watchdog_follow_unread`` logged ``linkedid="[number …5020]"`` for "1795326250.20": the
operator could not find the call in Asterisk's log or CDR. Ids of Asterisk's shape
(channel.c ``__ast_channel_alloc_ap``: "<epoch>.<counter>", "<systemname>-<epoch>.<counter>")
under ``linkedid``/``uniqueid`` are left whole; a phone number there, in any other shape or
under any other key, is still taken out.
"""

from __future__ import annotations

import io
import sys
from collections import Counter

import structlog

from callguard.audit import configure_logging
from callguard.logredact import redact_event
from callguard.numbers.redact import has_digit_run
from callguard.watchdog import ami

KEY = b"k" * 32


def _redacted(**fields: object) -> dict[str, object]:
    return dict(redact_event(None, "warning", {"event": "watchdog_follow_unread", **fields}))


class TestAsteriskIds:
    def test_ids_of_asterisks_shape_are_left_whole(self):
        for uid in ("1795326250.20", "1000000000.0", "1999999999.1999999999"):
            assert _redacted(linkedid=uid)["linkedid"] == uid
            assert _redacted(uniqueid=uid)["uniqueid"] == uid
        assert _redacted(linkedid="pbx-1-1795326250.20")["linkedid"] == "pbx-1-1795326250.20"

    def test_a_phone_number_under_those_keys_is_still_taken_out(self):
        """A dialer may choose a Uniqueid (Originate ChannelId: any text)."""
        for value in ("8015550123", "+18015550123", "8015550123.1", "18015550123.1",
                      "+1795326250.20", "1795326250.20 8015550123", "801-555-0123",
                      "1795326250.20\\n8015550123", "pbx8015550123-1795326250.20"):
            out = _redacted(linkedid=value, uniqueid=value)
            for key in ("linkedid", "uniqueid"):
                assert "8015550" not in str(out[key]), (value, out)
                assert "5550123" not in str(out[key]), (value, out)
        assert _redacted(linkedid="pbx8015550123-1795326250.20")["linkedid"].endswith(
            "-1795326250.20")

    def test_under_any_other_key_the_id_is_redacted_as_before(self):
        out = _redacted(reason="call 1795326250.20", channels=["1795326250.20"])
        assert not has_digit_run(str(out))

    def test_the_follow_unread_warning_through_the_operational_chain(self, monkeypatch):
        """The tracker's warning as the watchdog logs it (``_tracker_warning``), through
        ``configure_logging``'s chain to stderr: the Linkedid readable, the channel's
        number not."""
        saved = structlog.get_config()
        out = io.BytesIO()

        class Err:
            buffer = out

        monkeypatch.setattr(sys, "stderr", Err())
        try:
            configure_logging(KEY)
            watchdog = object.__new__(ami.AmiWatchdog)
            watchdog.stats = Counter()
            watchdog._tracker_warning(
                "watchdog_follow_unread", linkedid="1795326250.20",
                channels=["Local/8015550123@out-00000001;1"], unread=1)
        finally:
            structlog.configure(**saved)
        text = out.getvalue().decode()
        assert '"linkedid":"1795326250.20"' in text, text
        assert "8015550123" not in text
        assert "5550123" not in text
        assert watchdog.stats["follow_unread"] == 1
