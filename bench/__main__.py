"""`python -m bench NAME` runs one benchmark, `python -m bench all` every one."""

from __future__ import annotations

import importlib
import sys

BENCHMARKS = ["tree", "reports", "badges", "photos", "worklist", "ingest", "pages", "sync"]


def main(argv: list[str]) -> int:
    names = BENCHMARKS if not argv or argv[0] == "all" else argv
    unknown = [name for name in names if name not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")
        return 2
    for name in names:
        importlib.import_module(f"bench.{name}").run()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
