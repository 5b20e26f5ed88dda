"""A null FastAGI server: callguard's own transport and command exchange, no decision.

Same FastAgiServer, same header parsing, same one ``EXEC MSet`` with the same variables
and the same ``GET VARIABLE`` confirming it;
its gate returns one prebuilt ALLOW decision without parsing, policy, stores or log. The
difference between it and ``callguard serve`` is what deciding costs.

Run: python bench/null_fastagi.py PORT
"""

from __future__ import annotations

import asyncio
import sys
from dataclasses import replace

from null_gate import NullGate

from callguard.config import load_settings
from callguard.fronts.fastagi.server import FastAgiServer
from callguard.tuning import raise_mmap_threshold


async def main(port: int) -> None:
    settings = load_settings()
    fastagi = replace(settings.fastagi, port=port, max_sessions=10_000)
    server = FastAgiServer(NullGate("fastagi"), fastagi)  # type: ignore[arg-type]
    await server.start()
    print("ready", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    raise_mmap_threshold()
    asyncio.run(main(int(sys.argv[1])))
