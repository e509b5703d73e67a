"""Run every benchmark: `python -m bench [NAME ...] [--quick]` (names: link, planner, vision,
design, analysis, season, research, campaign, web, network).

`--quick` sets POTAGER_BENCH_QUICK=1: benchmarks that know it run a smaller set for
fast iteration (the planner: N = 50 and 200 only).
"""

from __future__ import annotations

import os
import sys

from bench import (
    bench_analysis,
    bench_campaign,
    bench_design,
    bench_link,
    bench_network,
    bench_planner,
    bench_research,
    bench_season,
    bench_vision,
    bench_web,
)

BENCHMARKS = {
    "link": bench_link.main,
    "planner": bench_planner.main,
    "vision": bench_vision.main,
    "design": bench_design.main,
    "analysis": bench_analysis.main,
    "season": bench_season.main,
    "research": bench_research.main,
    "campaign": bench_campaign.main,
    "web": bench_web.main,
    "network": bench_network.main,
}


def main(argv: list[str]) -> int:
    if "--quick" in argv:
        os.environ["POTAGER_BENCH_QUICK"] = "1"
    chosen = [name for name in argv if name != "--quick"] or list(BENCHMARKS)
    unknown = [name for name in chosen if name not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark(s) {unknown}; choose from {list(BENCHMARKS)}", file=sys.stderr)
        return 2
    failures = sum(0 if BENCHMARKS[name]() else 1 for name in chosen)
    return 1 if failures else 0


sys.exit(main(sys.argv[1:]))
