"""hrev144: review of hsip30's moved answers, as a hostile peer would send them.

A request first sent over TLS, its connection closed, sent again in clear is not given
its answer (hsip30, ``_downgrade_refused``): the answer waits for a new TLS connection.
The clear copies that were refused must not use up what that new connection is owed.

Real fronts (``tests/test_sip.py``'s ``front``) with real sockets on loopback.
"""

from __future__ import annotations

import asyncio
import ssl

from tests.test_hostile16_sip import _answers, _finals
from tests.test_hsip30_moves import _over_tcp
from tests.test_sip import QUIET_T1, Client, compliance, front, invite, self_signed, tcp

__all__ = ["front"]

_302 = b"SIP/2.0 302 Moved Temporarily"


class TestRefusedClearCopiesOweNothing:
    async def test_the_tls_copy_is_answered_after_many_clear_ones(self, front, tmp_path):
        """``max_retransmits`` 3 (the fixture's). hsip30: each refused clear copy counted
        as a retransmission answered (the table's ``sends``, taken before the refusal),
        though nothing was sent to it; after three of them the dialer's own copy over a
        new TLS connection was absorbed (``retransmit_capped``) and its INVITE, decided
        and recorded ALLOW, never answered — a dialer falling back TLS -> TCP -> UDP
        (RFC 3263 §4.3), or anyone sending the copy in clear, took the answer away."""
        cert, key = self_signed(tmp_path)
        server = await front(tls=True, tls_port=0, tls_certificate=str(cert),
                             tls_key=str(key), t1_ms=QUIET_T1)
        context = ssl.create_default_context(cafile=str(cert))
        request = invite("rb1").replace(b"SIP/2.0/UDP", b"SIP/2.0/TLS")

        async def over_tls(wait: float) -> bytes:
            reader, writer = await asyncio.open_connection(
                "127.0.0.1", server.tls_port, ssl=context, server_hostname="127.0.0.1")
            writer.write(request)
            await writer.drain()
            reply = await _answers(reader, wait)
            writer.close()
            return reply

        assert _finals(await over_tls(1.0)) == [_302]
        await asyncio.sleep(0.1)  # the close reaches the front
        udp = Client(server.port)
        for _ in range(4):
            udp.send(invite("rb1"))
        assert await udp.silence(0.3) == []
        assert _finals(await _over_tcp(server.port, tcp(invite("rb1")), 0.3)) == []
        again = await over_tls(1.0)
        assert _finals(again) == [_302], again
        assert server.stats.counts["tls_downgrade_refused"] == 5
        assert server.stats.counts["retransmit_capped"] == 0
        assert [r["verdict"] for r in compliance(server)] == ["ALLOW"]
