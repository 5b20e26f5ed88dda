"""Review 70 of hnet20's per-source caps under a lowered open-files limit.

``serve`` fits its fronts' caps under ``RLIMIT_NOFILE`` (``_fit_connection_caps``). These
tests run that function in a child process whose soft and hard limits are really lowered
(it raises the soft limit to the hard one, which a test process could not undo), on the
bundled configuration with SIP on, and read the settings it hands the fronts.

- The per-source caps hnet20 lowers are the ones the fronts get, not only the ones the
  ``connection_caps_lowered`` line names (test_net20_fronts reads the line alone for SIP).
- SIP over TLS is a listener of its own, each holding up to ``[sip] max_tcp_connections``
  (``_Tcp._refuses`` counts per listener). The fit counted TCP alone: with ``tcp = false``
  and ``tls = true`` it counted nothing, and lowered ``max_tcp_connections`` (and now its
  per-source cap) to 1 — one TLS connection at once for every dialer, the next refused;
  with both on it counted one listener of two, so the node could still run out of
  descriptors because of its peers.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

_CHILD = """
import dataclasses, json, resource, sys
limit = int(sys.argv[1])
resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))
from callguard.cli.serve import _fit_connection_caps
from callguard.config import load_settings
from callguard.fdlimit import ConnectionCaps
s = load_settings()
sip = dataclasses.replace(s.sip, enabled=True, **json.loads(sys.argv[2]))
s = dataclasses.replace(s, sip=sip, records=dataclasses.replace(s.records, backend="redis"))
f = _fit_connection_caps(s)
listeners = f.sip.tcp + f.sip.tls
need = ConnectionCaps(
    fastagi=f.fastagi.max_connections, http=f.http.max_connections if f.http.enabled else 0,
    sip_tcp=f.sip.max_tcp_connections * listeners, sessions=f.fastagi.max_sessions,
    redis_per_call=2, sip_calls=f.sip.max_in_flight).needed()
print(json.dumps({"wanted": dataclasses.asdict(s.sip), "sip": dataclasses.asdict(f.sip),
                  "needed": need}))
"""


def _fit(limit: int, **sip: object) -> dict[str, dict[str, int]]:
    done = subprocess.run([sys.executable, "-c", _CHILD, str(limit), json.dumps(sip)],
                          cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def test_the_fronts_get_the_lowered_per_source_caps() -> None:
    """Redis records under a 3,000-descriptor limit: ``max_in_flight`` and
    ``max_tcp_connections`` are lowered, and the settings the SIP front is built with carry
    their per-source caps lowered too, in the same proportion, at least 1."""
    fitted = _fit(3_000)
    wanted, sip = fitted["wanted"], fitted["sip"]
    assert sip["max_in_flight"] < wanted["max_in_flight"]
    assert sip["max_tcp_connections"] < wanted["max_tcp_connections"]
    assert sip["max_in_flight_per_source"] == max(1, sip["max_in_flight"]
                                                  * wanted["max_in_flight_per_source"]
                                                  // wanted["max_in_flight"])
    assert sip["max_tcp_connections_per_source"] == max(
        1, sip["max_tcp_connections"] * wanted["max_tcp_connections_per_source"]
        // wanted["max_tcp_connections"])
    assert fitted["needed"] <= 3_000


def test_a_tls_only_sip_front_keeps_its_share_of_the_lowered_caps() -> None:
    """``tcp = false``, ``tls = true`` under a 3,000-descriptor limit: TLS keeps what TCP
    alone kept (hundreds of connections, its per-source cap lowered in proportion), and
    the whole still fits. Before: ``max_tcp_connections`` 1, its per-source cap 1."""
    tcp_only = _fit(3_000)["sip"]
    fitted = _fit(3_000, tcp=False, tls=True, tls_certificate="/c.pem", tls_key="/k.pem")
    sip = fitted["sip"]
    assert sip["max_tcp_connections"] == tcp_only["max_tcp_connections"] > 100
    assert sip["max_tcp_connections_per_source"] == tcp_only["max_tcp_connections_per_source"]
    assert fitted["needed"] <= 3_000


def test_tcp_and_tls_together_fit_under_the_limit() -> None:
    """Both listeners on: each may hold ``max_tcp_connections``, and the fronts' caps with
    both counted fit under the limit. Before: TLS uncounted, up to 1,024 descriptors over."""
    fitted = _fit(3_000, tls=True, tls_certificate="/c.pem", tls_key="/k.pem")
    assert fitted["needed"] <= 3_000, fitted
    assert fitted["sip"]["max_tcp_connections"] >= 1
