import asyncio
from tests.test_hsip30_moves import _over_tcp, _final_head
from tests.test_hsip32_moves import _padded, _ack
from tests.test_hostile16_sip import _finals
from tests.test_sip import QUIET_T1, Client, compliance, front, invite, tcp
__all__ = ["front"]

async def test_ack_of_513(front):
    server = await front(t1_ms=QUIET_T1)
    big = tcp(_padded(invite("ak1"), 110))
    first = await _over_tcp(server.port, big, 0.5)
    await asyncio.sleep(0.1)
    client = Client(server.port)
    client.send(invite("ak1"))
    r = await client.replies(0.3)
    print([x.split(b"\r\n",1)[0] for x in r])
    client.send(_ack(invite("ak1")))
    await asyncio.sleep(0.2)
    again = await _over_tcp(server.port, big, 0.5)
    print(dict(server.stats.counts))
    assert _final_head(again) == _final_head(first) != b""
    assert [x["verdict"] for x in compliance(server)] == ["ALLOW"]
