"""``callguard serve`` with its clock moved to a weekday morning, for bench/bench_fastagi.py.

Run: python bench/serve_at.py ISO_INSTANT -- [callguard arguments ...]

The gate's clock runs at the real rate but starts at ISO_INSTANT (e.g. a Wednesday
11:00 in Denver): calls the benchmark makes at 06:00 Denver time would all be BLOCKed by
the calling-hours rules, which is not the call a dialer typically makes. Everything else
is the shipped ``callguard serve``; this launcher only changes the gate's default clock.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime

from callguard.cli.main import main as callguard_main
from callguard.gate import Gate


def main() -> None:
    at = datetime.fromisoformat(sys.argv[1])
    offset = at - datetime.now(UTC)

    def shifted() -> datetime:
        return datetime.now(UTC) + offset

    defaults = Gate.__init__.__kwdefaults__
    assert defaults is not None
    assert "clock" in defaults
    defaults["clock"] = shifted
    sys.argv = ["callguard", *sys.argv[sys.argv.index("--") + 1:]]
    callguard_main()


if __name__ == "__main__":
    main()
