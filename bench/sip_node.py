"""The SIP front for bench/bench_sip.py: deciding through the real gate, or not at all.

Run: python bench/sip_node.py PORT DATA_DIR (callguard | null) [--no-gc-freeze]
     [--rcvbuf BYTES] [--durability none|group|every]
     [--rcvbuf BYTES]

``callguard``: the demo configuration's gate over DATA_DIR (embedded lists, SQLite
records, compliance log to file), its clock pinned to a Wednesday 11:00 in Denver so
every call takes the same ALLOW path whenever the benchmark runs. ``null``: the same
SipFront, transaction layer and 302, with a gate that returns one prebuilt ALLOW without
parsing, policy, stores or log. The difference is what deciding costs.
"""

from __future__ import annotations

import asyncio
import gc
import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from null_gate import NullGate

from callguard.config import load_settings
from callguard.fronts.sip.server import SipFront
from callguard.runtime import open_runtime
from callguard.stores.embedded.lists import write_version
from callguard.stores.list_files import ParsedList
from callguard.tuning import raise_mmap_threshold

WEDNESDAY_11_DENVER = datetime(2026, 11, 25, 18, 0, tzinfo=UTC)


async def main(port: int, data_dir: Path, kind: str, freeze: bool, rcvbuf: int,
               durability: str) -> None:
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
    sip = replace(settings.sip, port=port, trunk="sip:{number}@trunk.example.net",
                  tcp=False, receive_buffer_bytes=rcvbuf or settings.sip.receive_buffer_bytes)
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
    asyncio.run(main(int(sys.argv[1]), Path(sys.argv[2]), sys.argv[3],
                     "--no-gc-freeze" not in sys.argv, rcvbuf, durability))
