"""The AMI reader's framing (``_GuardedProtocol._frame``), tried with generated streams.

SYNTHESISED: messages built as manager.c writes them (each header ``Key: value\\r\\n``, the
message ended by one more ``\\r\\n``; values written raw, as
manager_channels.c ``ast_manager_build_channel_state_string_prefix`` writes
``CallerIDName: %s\\r\\n``), their values holding bare ``\\r``, bare ``\\n`` and ``\\r\\n`` at the
end or inside, cut into reads at random byte boundaries (a UTF-8 character, a CRLF, a blank
line cut between reads). The panoramisk fixtures (LF line ends) are the project's own
copies of panoramisk's test data.

What is genuinely ambiguous, and only there a message may be cut or headers added: a value
holding ``\\r\\n`` (in a CRLF stream it is a line end: "x\\r\\nUniqueid: 1" is a header of
its own, and a value ending ``\\r\\n`` makes a blank line), or holding ``\\n\\n`` (the blank
line of an LF peer, and of Asterisk's ``\\r\\n\\n`` after CoreShowChannelMap). The last
header's trailing whitespace is lost (the message is stripped). Everything else comes out
as written, and a message with no such value comes out whole whatever came before it.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from callguard.watchdog import ami

CRLF = "\r\n"
FIXTURES = Path(__file__).resolve().parents[1] / ".." / "shared" / "fixtures"


def _read(data: bytes, cuts: list[int]) -> list[dict[str, object]]:
    """The messages the main session's protocol reads from ``data`` cut at ``cuts``; a
    message dropped unread as {"bad": reason}."""
    seen: list[dict[str, object]] = []

    class Factory:
        asked = None

        def bad_message(self, exc: Exception) -> None:
            seen.append({"bad": str(exc)})

    class Protocol(ami._GuardedProtocol):
        def handle_message(self, message) -> None:
            seen.append({k: v for k, v in message.items() if k != "content"})

    protocol = Protocol()
    protocol.connection_made(None)
    protocol.factory = Factory()
    protocol.encoding = "utf8"
    start = 0
    for cut in [*sorted(set(cuts)), len(data)]:
        if start < cut <= len(data):
            protocol.data_received(data[start:cut])
            start = cut
    return seen


_TEXT = st.text(alphabet=st.sampled_from(list("ab Zé€1:.-/=<>")), max_size=6)
# pieces a raw value is made of: text, and the line-end characters Asterisk leaves in it
_RAW = st.lists(st.one_of(_TEXT, st.sampled_from(["\n", "\r", "\r\n"])), max_size=5).map(
    "".join)


def _clean(value: str) -> bool:
    """A value the framing must carry as written (module docstring)."""
    return "\r\n" not in value and "\n\n" not in value


@st.composite
def _message(draw, raw: st.SearchStrategy[str]) -> list[tuple[str, str]]:
    i = draw(st.integers(0, 10**6))
    event = draw(st.sampled_from(["Hangup", "Newchannel", "DialEnd", "CoreShowChannel",
                                  "BridgeEnter", "VarSet"]))
    headers = [("Event", event), ("Privilege", "call,all"),
               ("Channel", f"PJSIP/itsp-{i:08x}"), ("CallerIDName", draw(raw)),
               ("Uniqueid", f"1795000000.{i}"), ("ConnectedLineName", draw(raw)),
               ("Linkedid", f"1795000000.{i // 2}")]
    if draw(st.booleans()):
        headers.append(("ChanVariable", f"CALLGUARD_FOLLOW={draw(raw)}"))
    return headers


def _wire(messages: list[list[tuple[str, str]]]) -> bytes:
    return "".join("".join(f"{k}: {v}{CRLF}" for k, v in m) + CRLF
                   for m in messages).encode()


def _expected(message: list[tuple[str, str]]) -> dict[str, object]:
    out = dict(message)
    last = message[-1][0]
    out[last] = str(out[last]).rstrip()  # the message is stripped (data_received)
    return out


def _ends_message(wire: bytes, cut: int) -> bool:
    """Whether the text before ``cut`` ends with a blank line and line ends at most."""
    return re.search(rb"(?:\r\n\r\n|\n\n)[\r\n]*\Z", wire[:cut]) is not None


def _cuts(size: int) -> st.SearchStrategy[list[int]]:
    return st.lists(st.integers(0, size), max_size=40)


class TestCleanValues:
    @settings(max_examples=150, deadline=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(st.data())
    def test_every_message_comes_out_whole_wherever_the_reads_are_cut(self, data):
        """Values with bare LFs, bare CRs, a trailing LF (``${CURL()}``), a trailing CR:
        each message, every header, as written, in order, nothing dropped."""
        messages = data.draw(st.lists(_message(_RAW.filter(_clean)), min_size=1,
                                      max_size=6))
        wire = _wire(messages)
        cuts = data.draw(_cuts(len(wire)))
        assert _read(wire, cuts) == [_expected(m) for m in messages]

    @settings(max_examples=60, deadline=None)
    @given(st.data())
    def test_every_read_one_byte(self, data):
        """The look-behind of three characters: a blank line cut at every place."""
        messages = data.draw(st.lists(_message(_RAW.filter(_clean)), min_size=1,
                                      max_size=3))
        wire = _wire(messages)
        assert _read(wire, list(range(len(wire)))) == [_expected(m) for m in messages]


class TestAnyValues:
    @settings(max_examples=150, deadline=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(st.data())
    def test_a_clean_message_comes_out_whole_after_any_other(self, data):
        """Values holding CRLF or LF LF (ambiguous: they may cut their own message, or add
        headers to it): every message with clean values still comes out whole, in order,
        and its Event/Uniqueid/Linkedid are never taken by a fragment of another."""
        messages = data.draw(st.lists(_message(_RAW), min_size=1, max_size=6,
                                      unique_by=lambda m: m[4][1]))
        wire = _wire(messages)
        cuts = data.draw(_cuts(len(wire)))
        seen = _read(wire, cuts)
        # the cuts change nothing, but for a read that ends on a blank line (line ends
        # after it at most): the message before it is handled at once, and a tail cut
        # from it by a value ending in CRLF, glued back when it comes in the same read
        # (hwd30), then finds no message and is dropped
        assert _read(wire, [c for c in cuts if not _ends_message(wire, c)]) == _read(wire, [])
        clean = [_expected(m) for m in messages if all(_clean(v) for _, v in m)]
        it = iter(seen)
        for message in clean:
            assert any(s == message for s in it), (message, seen)
        for message in messages:
            if all(_clean(v) for _, v in message):
                continue
            # an ambiguous one: its own Uniqueid is read on no other message's Event
            uniqueid = dict(message)["Uniqueid"]
            for s in seen:
                if s.get("Uniqueid") == uniqueid:
                    assert s.get("Event") == dict(message)["Event"] or "bad" in s


class TestEdges:
    def test_cr_and_lf_of_the_blank_line_in_separate_reads(self):
        wire = _wire([[("Event", "Hangup"), ("Uniqueid", "1.1")],
                      [("Event", "Hangup"), ("Uniqueid", "1.2")]])
        end = wire.index(b"\r\n\r\n")
        for cut in range(end - 1, end + 5):
            for second in range(cut, end + 5):
                seen = _read(wire, [cut, second])
                assert [s["Uniqueid"] for s in seen] == ["1.1", "1.2"], (cut, second)

    def test_crlf_cr_at_a_read_end_then_a_value_lf(self):
        """"\\r\\n\\r" ends a read and the next begins "\\n": the blank line. A value's
        "\\n" then "\\r\\n": no blank line, across reads as within one."""
        assert [s.get("Uniqueid") for s in _read(
            b"Event: Hangup\r\nUniqueid: 1.1\r\n\r\nEvent: Hangup\r\nUniqueid: 1.2\r\n\r\n",
            [30])] == ["1.1", "1.2"]
        wire = b"Event: Hangup\r\nCallerIDName: A\n\r\nUniqueid: 1.1\r\n\r\n"
        for cut in range(len(wire)):
            assert _read(wire, [cut]) == [{"Event": "Hangup", "CallerIDName": "A\n",
                                           "Uniqueid": "1.1"}]

    def test_an_lf_peer_panoramisk_fixtures(self):
        """panoramisk's own fixtures, LF line ends: every Response/Event block read, in
        reads of 7 bytes, none dropped."""
        folder = FIXTURES / "asterisk" / "ami" / "panoramisk"
        read = 0
        for path in sorted(folder.glob("*.yaml")):
            text = path.read_text()
            blocks = [b for b in text.split("\n\n") if b.strip()]
            replies = [b for b in blocks if not b.startswith("Action:")]
            wanted = [b for b in replies
                      if b.lstrip().startswith(("Response:", "Event:"))]
            data = ("\n\n".join(replies) + "\n\n").encode()
            seen = _read(data, list(range(0, len(data), 7)))
            assert not [s for s in seen if "bad" in s and len(wanted) == len(replies)]
            got = [s for s in seen if "bad" not in s]
            assert len(got) == len(wanted), path.name
            for block, message in zip(wanted, got, strict=True):
                first = block.strip().split("\n")[0]
                key, _, value = first.partition(": ")
                assert message[key] == value, path.name
            read += len(got)
        assert read >= 12

    def test_pathological_input_is_bounded(self):
        """1 MiB of LF, of CRLF, of CR, of "\\n\\r\\n": linear, and the next Hangup read."""
        hangup = b"Event: Hangup\r\nUniqueid: 1.9\r\n\r\n"
        for junk in (b"\n", b"\r\n", b"\r", b"\n\r\n", b"a"):
            data = junk * ((1 << 20) // len(junk)) + b"\r\n\r\n" + hangup
            began = time.perf_counter()
            seen = _read(data, list(range(0, len(data), 4096)))
            took = time.perf_counter() - began
            assert took < 2.0, (junk, took)
            assert seen[-1] == {"Event": "Hangup", "Uniqueid": "1.9"}, junk
