"""`potager sim season` and `potager sim compare`: research campaigns on the simulator.

A scenario is checked whole before anything runs; a bad one ends with exit status 2 and
every problem listed with its line. Runs are saved as they finish, so Ctrl-C keeps them
and the same command resumes where it stopped.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sim.research_runs import Campaign
    from sim.scenario import LoadedScenario

DEFAULT_OUT_DIR = Path("var/sim")
BAD_SCENARIO_EXIT = 2
INTERRUPTED_EXIT = 130


def add_sim_research(parts: Any) -> None:
    """The research verbs under `potager sim` (`parts` is its sub-command list)."""
    season = parts.add_parser(
        "season",
        help="run a research scenario: every site, season and seed, then the analysis",
        description=(
            "Simulate every site x season x seed of SCENARIO.yaml (in parallel), save each "
            "run as it finishes, then write summary.txt, runs.csv, plots.csv and figures. "
            "Rerunning the same command resumes an interrupted campaign."
        ),
    )
    season.add_argument("scenario", metavar="SCENARIO.yaml", type=Path)
    season.add_argument(
        "--out", type=Path, help=f"results folder (default {DEFAULT_OUT_DIR}/<scenario>)"
    )
    _add_run_options(season)
    season.set_defaults(handler=_run_season)
    compare = parts.add_parser(
        "compare",
        help="two scenarios side by side, with intervals for each metric and their difference",
        description=(
            "Run (or resume) both scenarios, each in its own subfolder of --out, and print "
            "yield, water, travel time and weeds left for A and B and the difference B - A, "
            "paired by seed when both have the same sites and seeds."
        ),
    )
    compare.add_argument("a", metavar="A.yaml", type=Path)
    compare.add_argument("b", metavar="B.yaml", type=Path)
    compare.add_argument(
        "--out", type=Path, help=f"results folder (default {DEFAULT_OUT_DIR}/<A>-vs-<B>)"
    )
    _add_run_options(compare)
    compare.set_defaults(handler=_run_compare)


def _add_run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--workers", type=_positive, help="processes to run on (default: every core)"
    )
    parser.add_argument("--seeds", type=_positive, help="run only this many seeds (shortens)")
    parser.add_argument("--days", type=_positive, help="simulate only this many days (shortens)")


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is too small: use 1 or more")
    return value


def _run_season(args: argparse.Namespace) -> int:
    from sim.research_runs import summary

    loaded = _load(args, args.scenario)
    if loaded is None:
        return BAD_SCENARIO_EXIT
    out_dir = args.out or DEFAULT_OUT_DIR / args.scenario.stem
    campaign = _campaign(args, loaded, out_dir)
    if campaign is None:
        return INTERRUPTED_EXIT
    print(summary(campaign))
    print(f"\nFiles in {out_dir}: {', '.join(path.name for path in campaign.files)}")
    return 0


def _run_compare(args: argparse.Namespace) -> int:
    from sim.research_runs import compare_campaigns, write_comparison

    a, b = _load(args, args.a), _load(args, args.b)  # both checked before either runs
    if a is None or b is None:
        return BAD_SCENARIO_EXIT
    out_dir = args.out or DEFAULT_OUT_DIR / f"{args.a.stem}-vs-{args.b.stem}"
    campaigns = []
    for label, path, loaded in zip("ab", (args.a, args.b), (a, b), strict=True):
        campaign = _campaign(args, loaded, out_dir / f"{label}-{path.stem}")
        if campaign is None:
            return INTERRUPTED_EXIT
        campaigns.append(campaign)
    comparison = compare_campaigns(*campaigns)
    print(comparison.table())
    print(f"\nTable in {write_comparison(comparison, out_dir)}")
    return 0


def _load(args: argparse.Namespace, path: Path) -> LoadedScenario | None:
    """The checked scenario, or None once its problems are printed."""
    from sim.scenario import ScenarioError, load_scenario

    try:
        return load_scenario(path, days=args.days, seeds=args.seeds)
    except ScenarioError as error:
        print(f"error: {error}", file=sys.stderr)
        return None


def _campaign(args: argparse.Namespace, loaded: LoadedScenario, out_dir: Path) -> Campaign | None:
    """The scenario's runs done and aggregated, or None after Ctrl-C (saved runs kept)."""
    from sim.research_runs import run_campaign

    runs = loaded.runs()
    print(f"{loaded.scenario.name}: {len(runs)} runs into {out_dir}", file=sys.stderr, flush=True)
    try:
        return run_campaign(
            loaded.scenario, runs, out_dir, workers=args.workers, progress=sys.stderr
        )
    except KeyboardInterrupt:
        print(
            f"\ninterrupted: finished runs are kept in {out_dir / 'runs'}; "
            "run the same command again to resume",
            file=sys.stderr,
        )
        return None
