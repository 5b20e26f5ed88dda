"""Start-up of light CLI commands (``--help``, ``packs show``, ``dnc status``): wall time and
``-X importtime``, this tree against another (an older commit's ``git archive``), alternately.

Run: git archive COMMIT | tar -x -C /tmp/old
     .venv/bin/python bench/bench_cli_startup.py /tmp/old . --data-dir DIR [--runs 10]

Each command runs as a fresh ``python -m callguard`` with the tree as its working directory
(``-m`` puts it first on sys.path). Wall: the median of ``--runs`` runs, the two trees taken
in turn (the machine is shared: a load change hits both). Imports: the sum of the top-level
imports' cumulative microseconds (``-X importtime``), the median of three runs.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path


def _env(tree: Path) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    env.pop("CALLGUARD_CONFIG", None)
    return env


def _wall(tree: Path, args: list[str]) -> float:
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "callguard", *args], capture_output=True,
                            env=_env(tree), cwd=tree, check=False)
    took = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"{tree}: callguard {' '.join(args)} exited {result.returncode}")
    return took


def _imports(tree: Path, args: list[str]) -> float:
    result = subprocess.run([sys.executable, "-X", "importtime", "-m", "callguard", *args],
                            capture_output=True, text=True, env=_env(tree), cwd=tree,
                            check=False)
    total = 0
    for line in result.stderr.splitlines():
        parts = line.split("|")
        # a top-level import's cumulative time holds its children's
        if (line.startswith("import time:") and len(parts) == 3
                and parts[1].strip().isdigit() and not parts[2].startswith("  ")):
            total += int(parts[1])
    return total / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--pack", default="us-ut-hb45-2000")
    parser.add_argument("--runs", type=int, default=10)
    opts = parser.parse_args()
    trees = {"before": opts.before.resolve(), "after": opts.after.resolve()}
    commands = {"--help": ["--help"],
                "packs show": ["--data-dir", opts.data_dir, "packs", "show", opts.pack],
                "dnc status": ["--data-dir", opts.data_dir, "dnc", "status"]}
    print("load at start:", os.getloadavg())
    wall: dict[tuple[str, str], list[float]] = {(t, c): [] for t in trees for c in commands}
    imports: dict[tuple[str, str], list[float]] = {(t, c): [] for t in trees for c in commands}
    for run in range(opts.runs):
        order = ("before", "after") if run % 2 == 0 else ("after", "before")
        for name, args in commands.items():
            for tree in order:
                wall[(tree, name)].append(_wall(trees[tree], args))
                if run < 3:
                    imports[(tree, name)].append(_imports(trees[tree], args))
    print("load at end:", os.getloadavg())
    for name in commands:
        b, a = (statistics.median(wall[(t, name)]) for t in trees)
        ib, ia = (statistics.median(imports[(t, name)]) for t in trees)
        print(f"{name:12s} wall {b:.3f} s -> {a:.3f} s ({a - b:+.3f})   "
              f"imports {ib:.3f} s -> {ia:.3f} s")


if __name__ == "__main__":
    main()
