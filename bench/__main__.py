"""Run every benchmark: `python -m bench [NAME ...]` (names: link)."""

from __future__ import annotations

import sys

from bench import bench_link

BENCHMARKS = {"link": bench_link.main}


def main(argv: list[str]) -> int:
    chosen = argv or list(BENCHMARKS)
    unknown = [name for name in chosen if name not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark(s) {unknown}; choose from {list(BENCHMARKS)}", file=sys.stderr)
        return 2
    failures = sum(0 if BENCHMARKS[name]() else 1 for name in chosen)
    return 1 if failures else 0


sys.exit(main(sys.argv[1:]))
