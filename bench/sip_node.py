"""The SIP front for bench/bench_sip.py: deciding through the real gate, or not at all.

Run: python bench/sip_node.py PORT DATA_DIR (callguard | null) [--no-gc-freeze]
     [--rcvbuf BYTES] [--durability none|group|every] [--parts FILE] [--drop PART,...]

``callguard``: the demo configuration's gate over DATA_DIR (embedded lists, SQLite
records, compliance log to file), its clock pinned to a Wednesday 11:00 in Denver so
every call takes the same ALLOW path whenever the benchmark runs. ``null``: the same
SipFront, transaction layer and 302, with a gate that returns one prebuilt ALLOW without
parsing, policy, stores or log. The difference is what deciding costs.

``--parts FILE`` (``bench_sip.py --parts``): the thread CPU of the steps ``count_steps`` names,
counted in place, under the benchmark's load, by ``bench/serve_in_place.py``'s counting
(see there: each clock read ~0.4 µs, callers include their callees' reads); SIGUSR2
starts the counts again, SIGUSR1 writes them to FILE, per call of each step and per
INVITE decided.

``--drop PART,...`` (``bench_sip.py --drop``): callguard without a part of its work, so
that the difference in CPU per call is that part's cost, measured without clocks:
``reference`` (the Call-ID not passed: its check and hash in the record), ``count`` (no
ALLOW counted under the caps), ``record`` (no compliance record: nothing encoded or
written), ``observers`` (no metrics). For measuring only: such a node is not callguard.
"""

from __future__ import annotations

import asyncio
import gc
import signal
import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import serve_in_place  # its step counting (--parts); importing it changes nothing
from null_gate import NullGate

import callguard.gate as gate_module
from callguard import audit
from callguard.compliance import fields, record, writer
from callguard.config import load_settings
from callguard.facts import frequency
from callguard.fronts.sip import mapping, server, transactions
from callguard.fronts.sip.server import SipFront
from callguard.gate import CheckRequest, Gate
from callguard.numbers.parse import NumberParser
from callguard.policy import engine
from callguard.runtime import open_runtime
from callguard.stores.embedded.frequency import EmbeddedFrequency
from callguard.stores.embedded.lists import write_version
from callguard.stores.list_files import ParsedList
from callguard.tuning import raise_mmap_threshold

WEDNESDAY_11_DENVER = datetime(2026, 11, 25, 18, 0, tzinfo=UTC)


def count_steps(out: Path, gate: Gate) -> None:
    """Count the thread CPU of the steps below (bench/serve_in_place.py's counting)."""
    steps: tuple[tuple[object, str], ...] = (
        (server.SipFront, "received"), (server.SipFront, "_request"),
        (server.SipFront, "_new"), (server.SipFront, "_invite"),
        (server.SipFront, "_final"), (server.SipFront, "_tick"),
        (server, "parse"), (server, "decision_headers"), (server, "build_response"),
        (server, "_stamp_via"), (server, "_cut"), (server, "_merge_id"),
        (server._Udp, "send_bytes"),  # noqa: SLF001
        (mapping.SipMapping, "check_request"),
        (transactions.ServerTransactions, "receive"),
        (transactions.ServerTransactions, "respond"),
        (transactions.ServerTransactions, "due"),
        (Gate, "check"), (Gate, "_within"), (Gate, "_decide"), (Gate, "_run"),
        (Gate, "_finish"), (Gate, "_count_after"), (gate_module, "fetch_facts"),
        (gate_module, "new_decision_id"),
        (NumberParser, "parse"), (engine.Policy, "plan"), (engine.Policy, "decide"),
        (audit.ComplianceLog, "record"), (record.RecordEncoder, "decision_line"),
        (fields.FieldGuard, "reference"),
        (frequency.CountsAfter, "post"), (frequency.CountsAfter, "_flush"),
        (EmbeddedFrequency, "reserve"),
        (writer.RecordWriter, "write"), (writer.RecordWriter, "_hand_over"),
    )
    for owner, name in steps:
        label = getattr(owner, "__name__", str(owner)).rpartition(".")[2]
        serve_in_place._count(owner, name, f"{label}.{name}")  # noqa: SLF001
    # the gate holds the log's bound method: counted where it is held
    serve_in_place._count(gate, "_record", "Gate._record (ComplianceLog.record)")  # noqa: SLF001
    spent = serve_in_place._spent  # noqa: SLF001

    def write(*_: object) -> None:
        invites = spent.get("SipFront._invite", [0, 0])[1]
        lines = [f"{step:34} {calls:9d} calls {ns / max(1, calls) / 1000:8.1f} us/call "
                 f"{ns / max(1, invites) / 1000:8.1f} us/INVITE"
                 for step, (ns, calls) in sorted(spent.items())]
        out.write_text("\n".join(lines) + "\n")

    signal.signal(signal.SIGUSR1, write)
    signal.signal(signal.SIGUSR2, lambda *_: spent.clear())


DROPS = ("reference", "count", "record", "observers")


def drop_parts(gate: Gate, drops: list[str]) -> None:
    """Take the named parts out of ``gate``'s work (see ``--drop``)."""
    for part in drops:
        if part not in DROPS:
            sys.exit(f"--drop: {part!r} is not one of {', '.join(DROPS)}")
    if "reference" in drops:
        asking = mapping.SipMapping.check_request

        def unreferenced(self: mapping.SipMapping, *args: Any, **kwargs: Any) -> CheckRequest:
            return replace(asking(self, *args, **kwargs), reference=None)

        mapping.SipMapping.check_request = unreferenced  # type: ignore[method-assign]
    if "count" in drops:
        gate._count_after = lambda *_: None  # type: ignore[method-assign]  # noqa: SLF001
    if "record" in drops:

        async def unrecorded(_: object) -> None:
            return None

        gate._record = unrecorded  # noqa: SLF001
    if "observers" in drops:
        gate._observers = ()  # noqa: SLF001


async def main(port: int, data_dir: Path, kind: str, freeze: bool, rcvbuf: int,
               durability: str, parts: Path | None, drops: list[str]) -> None:
    listed = ParsedList()
    listed.by_area[801] = [5550199]
    for name in ("national", "ut-state"):
        write_version(data_dir, name, listed, published=WEDNESDAY_11_DENVER.date(),
                      area_codes=None, source="bench")
    settings = load_settings(data_dir=data_dir)
    settings = replace(settings, log=replace(settings.log, durability=durability))
    runtime = open_runtime(settings)
    runtime.gate._clock = lambda: WEDNESDAY_11_DENVER  # noqa: SLF001 - a pinned clock
    gate = runtime.gate if kind == "callguard" else NullGate("sip")
    if kind == "callguard":
        drop_parts(runtime.gate, drops)
    sip = replace(settings.sip, port=port, trunk="sip:{number}@trunk.example.net",
                  tcp=False, receive_buffer_bytes=rcvbuf or settings.sip.receive_buffer_bytes)
    if parts is not None:
        count_steps(parts, runtime.gate)
    front = SipFront(gate, sip)  # type: ignore[arg-type]
    await front.start()
    if freeze:
        gc.freeze()
    print("ready", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    raise_mmap_threshold()
    rcvbuf = int(sys.argv[sys.argv.index("--rcvbuf") + 1]) if "--rcvbuf" in sys.argv else 0
    durability = (sys.argv[sys.argv.index("--durability") + 1] if "--durability" in sys.argv
                  else "group")
    parts = Path(sys.argv[sys.argv.index("--parts") + 1]) if "--parts" in sys.argv else None
    asyncio.run(main(int(sys.argv[1]), Path(sys.argv[2]), sys.argv[3],
                     "--no-gc-freeze" not in sys.argv, rcvbuf, durability, parts,
                     sys.argv[sys.argv.index("--drop") + 1].split(",")
                     if "--drop" in sys.argv else []))
