"""hsip32: hrev144's leftovers on moved SIP transactions.

A clear-text ACK of an INVITE first sent over TLS is refused as a clear copy of the
INVITE is (``_known``), and a transaction moved from a closed connection to UDP sends
there no more than the datagrams that asked for it allow (``_ANSWER_OWN_BYTES`` over
each, as ``_stateless``), timer G's copies counted.

The table is tested directly (pure, synthetic clock); the front with real sockets on
loopback (``tests/test_sip.py``'s ``front``).
"""

from __future__ import annotations

import asyncio
import ssl

from tests.test_hostile16_sip import _answers, _finals
from tests.test_sip import QUIET_T1, Client, compliance, front, invite, self_signed

__all__ = ["front"]

_302 = b"SIP/2.0 302 Moved Temporarily"


def _ack(request: bytes) -> bytes:
    return request.replace(b"INVITE", b"ACK")


class TestAClearAckOfATlsInvite:
    async def test_is_refused_and_the_tls_copy_still_gets_its_answer(self, front, tmp_path):
        """An INVITE over TLS answered 302, its connection closed, then an ACK of it in
        clear (UDP) from the same host: RFC 3261 §17.1.1.3 sends the ACK of a non-2xx over
        the INVITE's own transport, so a clear one is what anyone on the path can send.
        main: the ACK ended the transaction (``_linger``, zero for a reliable one) and
        the dialer's copy over a new TLS connection was a new request: decided a second
        time, recorded twice."""
        cert, key = self_signed(tmp_path)
        server = await front(tls=True, tls_port=0, tls_certificate=str(cert),
                             tls_key=str(key), t1_ms=QUIET_T1)
        context = ssl.create_default_context(cafile=str(cert))
        request = invite("ta1").replace(b"SIP/2.0/UDP", b"SIP/2.0/TLS")

        async def over_tls(data: bytes, wait: float) -> bytes:
            reader, writer = await asyncio.open_connection(
                "127.0.0.1", server.tls_port, ssl=context, server_hostname="127.0.0.1")
            writer.write(data)
            await writer.drain()
            reply = await _answers(reader, wait)
            writer.close()
            return reply

        first = await over_tls(request, 1.0)
        assert _finals(first) == [_302], first
        await asyncio.sleep(0.1)  # the close reaches the front
        Client(server.port).send(_ack(invite("ta1")))
        await asyncio.sleep(0.2)
        assert server.stats.counts["tls_downgrade_refused"] == 1
        again = await over_tls(request, 1.0)
        assert _finals(again) == [_302], again
        assert again.split(b"\r\n\r\n")[0] == first.split(b"\r\n\r\n")[0]
        assert [r["verdict"] for r in compliance(server)] == ["ALLOW"]

    async def test_an_ack_over_tls_still_ends_it(self, front, tmp_path):
        """The dialer's own ACK, on a new TLS connection: absorbed as before."""
        cert, key = self_signed(tmp_path)
        server = await front(tls=True, tls_port=0, tls_certificate=str(cert),
                             tls_key=str(key), t1_ms=QUIET_T1)
        context = ssl.create_default_context(cafile=str(cert))
        request = invite("ta2").replace(b"SIP/2.0/UDP", b"SIP/2.0/TLS")
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", server.tls_port, ssl=context, server_hostname="127.0.0.1")
        writer.write(request)
        await writer.drain()
        assert _finals(await _answers(reader, 1.0)) == [_302]
        writer.write(_ack(request))
        await writer.drain()
        await asyncio.sleep(0.2)
        writer.close()
        assert server.stats.counts["ack_absorbed"] == 1
        assert server.stats.counts["tls_downgrade_refused"] == 0
