"""`potager trial ...`: designs, layouts, analyses and exports from the command line.

Kept apart from `potager/cli.py` because a trial has many verbs; like every command, the
handlers import the packages that do the work only when they run.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import textwrap
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from potager.errors import PotagerError

if TYPE_CHECKING:
    from trials.analysis import AnovaResult, Observations
    from trials.design import Factor, FieldBook

DESIGNS = ("crd", "rcbd", "latin", "split", "strip", "alpha", "augmented", "strip-trial")
ANALYSES = ("crd", "rcbd", "latin", "split", "strip", "lattice", "alpha", "strip-trial")
TESTS = ("lsd", "tukey", "snk", "duncan", "dunnett", "bonferroni", "holm")
FORMATS = ("fieldbook", "long", "wide", "traits", "brapi", "isa")


def add_trial(commands: Any) -> None:
    trial = commands.add_parser(
        "trial", help="field trials: design, lay out, analyse, export (essais au champ)"
    )
    actions = trial.add_subparsers(title="actions", metavar="ACTION", required=True)
    _add_design(actions)
    _add_layout(actions)
    _add_create(actions)
    _add_variable(actions)
    _add_record(actions)
    _add_import(actions)
    _add_observations(actions)
    _add_analyse(actions)
    _add_export(actions)


class _Help(argparse.RawDescriptionHelpFormatter):
    pass


# ----------------------------------------------------------------------------- design


def _add_design(actions: Any) -> None:
    design = actions.add_parser(
        "design",
        help="a randomized field book (dispositif) as CSV",
        formatter_class=_Help,
        description="Prints a field book: plot, block, row, col, treatment and factor columns.",
        epilog=textwrap.dedent(
            """\
            examples:
              potager trial design rcbd --treatments W0,W1,W2 --blocks 4 --seed 1
              potager trial design split --factor N=N0,N1 --factor variety=a,b,c --blocks 3
              potager trial design alpha --treatments 12 --block-size 4 --reps 3
              potager trial design augmented --checks T1,T2 --entries 20 --blocks 4
              potager trial design strip-trial --control bare --treatments mulch --reps 3
              potager trial design rcbd --treatments A,B --blocks 3 --sites Lyon,Rennes
            """
        ),
    )
    design.add_argument("design", choices=DESIGNS)
    design.add_argument("--treatments", help="levels A,B,C (or a count: 12 -> T01..T12)")
    design.add_argument(
        "--factor", action="append", default=[], metavar="NAME=L1,L2",
        help="a factor and its levels; repeat for factorial, split (main, sub), strip",
    )  # fmt: skip
    design.add_argument("--blocks", type=int, help="blocks (blocs): rcbd, split, strip, augmented")
    design.add_argument(
        "--reps", type=int, help="replicates (répétitions): crd, alpha, strip-trial"
    )
    design.add_argument("--block-size", type=int, help="plots per incomplete block (alpha)")
    design.add_argument("--checks", help="augmented: check (témoin) varieties in every block")
    design.add_argument("--entries", help="augmented: new entries, once each (or a count)")
    design.add_argument("--control", help="strip-trial: the control (témoin) strip")
    design.add_argument("--sites", help="Lyon,Rennes: the same protocol, randomized per site")
    design.add_argument("--seed", type=int, default=1)
    design.add_argument("--serpentine", action="store_true", help="number plots in a zig-zag")
    design.add_argument(
        "--start-corner",
        default="bottom_left",
        choices=("bottom_left", "bottom_right", "top_left", "top_right"),
    )
    design.add_argument("--out", type=Path, help="write the CSV here instead of printing it")
    design.set_defaults(handler=_run_design)


def _run_design(args: argparse.Namespace) -> int:
    from trials.design import Numbering, across_sites
    from trials.export import field_book_csv, plot_rows

    numbering = Numbering(serpentine=args.serpentine, start_corner=args.start_corner)
    if args.sites:
        sites = _list(args.sites)
        book = across_sites(sites, args.seed, lambda seed: _book(args, seed, numbering))
    else:
        book = _book(args, args.seed, numbering)
    _write(field_book_csv(plot_rows(book.field_book_rows())), args.out)
    return 0


def _book(args: argparse.Namespace, seed: int, numbering: Any) -> FieldBook:
    from trials import design

    factors = _factors(args)
    chosen = args.design
    if chosen == "crd":
        return design.crd(factors, _needed(args.reps, "--reps"), seed=seed, numbering=numbering)
    if chosen == "rcbd":
        return design.rcbd(
            factors, _needed(args.blocks, "--blocks"), seed=seed, numbering=numbering
        )
    if chosen == "latin":
        return design.latin_square(_one(factors, chosen), seed=seed, numbering=numbering)
    if chosen in ("split", "strip"):
        first, second = _two(factors, chosen)
        make = design.split_plot if chosen == "split" else design.strip_plot
        return make(first, second, _needed(args.blocks, "--blocks"), seed=seed, numbering=numbering)
    if chosen == "alpha":
        return design.alpha_design(
            _one(factors, chosen),
            _needed(args.block_size, "--block-size"),
            _needed(args.reps, "--reps"),
            seed=seed,
            numbering=numbering,
        )
    if chosen == "augmented":
        return design.augmented(
            _list(_needed(args.checks, "--checks")),
            _levels(_needed(args.entries, "--entries"), "E"),
            _needed(args.blocks, "--blocks"),
            seed=seed,
            numbering=numbering,
        )
    return design.strip_trial(
        _needed(args.control, "--control"),
        _levels(_needed(args.treatments, "--treatments"), "T"),
        _needed(args.reps, "--reps"),
        seed=seed,
        numbering=numbering,
    )


def _factors(args: argparse.Namespace) -> list[Factor]:
    from trials.design import Factor

    factors = [Factor("treatment", _levels(args.treatments, "T"))] if args.treatments else []
    for text in args.factor:
        name, equals, levels = text.partition("=")
        if not equals or not name or not levels:
            raise CommandError(f"--factor {text!r}: write NAME=LEVEL1,LEVEL2 (e.g. N=N0,N1,N2)")
        factors.append(Factor(name.strip(), _list(levels)))
    if not factors and args.design not in ("augmented", "strip-trial"):
        raise CommandError(f"{args.design} needs --treatments A,B,C or --factor NAME=A,B")
    return factors


def _one(factors: list[Factor], design: str) -> Factor:
    if len(factors) != 1:
        raise CommandError(f"a {design} design takes one factor; {len(factors)} were given")
    return factors[0]


def _two(factors: list[Factor], design: str) -> tuple[Factor, Factor]:
    if len(factors) != 2:
        roles = "main, then sub" if design == "split" else "horizontal, then vertical"
        raise CommandError(f"a {design} design takes two --factor options ({roles})")
    return factors[0], factors[1]


def _levels(text: str, prefix: str) -> list[str]:
    """A list A,B,C, or a count: 12 -> T01 ... T12."""
    if text.strip().isdigit():
        count = int(text)
        width = len(str(count))
        return [f"{prefix}{number:0{width}d}" for number in range(1, count + 1)]
    return _list(text)


def _list(text: str) -> list[str]:
    items = [item.strip() for item in text.split(",") if item.strip()]
    if not items:
        raise CommandError(f"{text!r} lists nothing: separate the items with commas")
    return items


def _needed(value: Any, option: str) -> Any:
    if value is None:
        raise CommandError(f"this design needs {option}")
    return value


def _write(text: str, out: Path | None) -> None:
    if out is None:
        sys.stdout.write(text)
        return
    try:
        out.write_text(text)
    except OSError as error:
        raise CommandError(f"cannot write {out}: {error.strerror or error}") from None
    print(f"wrote {out}", file=sys.stderr)


class CommandError(PotagerError):
    """A command line that asks for something impossible; the message says which option."""


# ----------------------------------------------------------------------------- layout


def _add_layout(actions: Any) -> None:
    layout = actions.add_parser(
        "layout",
        help="lay a field book onto a bed: plot rectangles and sowing points in mm",
        formatter_class=_Help,
        epilog=textwrap.dedent(
            """\
            examples:
              potager trial layout book.csv --bed 0,0,3000,1500 --plot 400x300 --gap 50,100
              potager trial layout book.csv --bed 0,0,3000,1500 --largest --border 100
              potager trial layout book.csv --bed 0,0,3000,1500 --plot 400x300 --sow 100,50
            """
        ),
    )
    layout.add_argument("book", type=Path, metavar="BOOK.csv")
    layout.add_argument("--bed", required=True, help="x_min,y_min,x_max,y_max in mm")
    layout.add_argument("--plot", help="plot width x length in mm, e.g. 400x300")
    layout.add_argument("--largest", action="store_true", help="use the largest plots that fit")
    layout.add_argument("--gap", default="0,0", help="alley along x, path along y, in mm")
    layout.add_argument("--border", type=float, default=0.0, help="guard border in mm")
    layout.add_argument("--sow", help="row spacing,in-row spacing in mm: print sowing points")
    layout.add_argument("--site", help="the site to lay out, for a book with several")
    layout.add_argument("--json", action="store_true")
    layout.set_defaults(handler=_run_layout)


def _run_layout(args: argparse.Namespace) -> int:
    from trials.export import design_book, read_field_book_csv
    from trials.plots import BedArea, Spacing, largest_plot_mm, lay_out, sowing_points

    book = design_book(read_field_book_csv(args.book))
    if args.site:
        book = book.for_site(args.site)
    bed = BedArea(*_numbers(args.bed, 4, "--bed"))
    gap_x_mm, gap_y_mm = _numbers(args.gap, 2, "--gap")
    spacing = Spacing(gap_x_mm, gap_y_mm, args.border)
    if args.largest:
        width_mm, length_mm = largest_plot_mm(book, bed, spacing)
    elif args.plot:
        width_mm, length_mm = _size_mm(args.plot, "--plot")
    else:
        raise CommandError("give the plot size (--plot 400x300) or --largest")
    rectangles = lay_out(book, bed, width_mm, length_mm, spacing)
    points = []
    if args.sow:
        row_mm, in_row_mm = _numbers(args.sow, 2, "--sow")
        points = sowing_points(rectangles, row_mm, in_row_mm)
    if args.json:
        print(
            json.dumps(
                {"plots": [asdict(r) for r in rectangles], "sowing": [asdict(p) for p in points]}
            )
        )
        return 0
    print(f"{len(rectangles)} plots of {width_mm:g} x {length_mm:g} mm")
    columns = ("x_min_mm", "y_min_mm", "x_max_mm", "y_max_mm")
    print(f"{'plot':>6} {'row':>4} {'col':>4} " + " ".join(f"{name:>9}" for name in columns))
    for r in rectangles:
        print(
            f"{r.plot:>6} {r.row:>4} {r.col:>4} {r.x_min_mm:9.0f} {r.y_min_mm:9.0f} "
            f"{r.x_max_mm:9.0f} {r.y_max_mm:9.0f}"
        )
    if points:
        print(f"{len(points)} sowing points ({sum(p.guard for p in points)} in guard rows)")
    return 0


def _size_mm(text: str, option: str) -> tuple[float, float]:
    """A WIDTHxLENGTH size in millimetres, such as 400x300."""
    width, _, length = text.lower().partition("x")
    try:
        return float(width), float(length)
    except ValueError:
        raise CommandError(f"{option} {text!r}: write width x length in mm, e.g. 400x300") from None


def _numbers(text: str, count: int, option: str) -> list[float]:
    try:
        values = [float(part) for part in text.split(",")]
    except ValueError:
        values = []
    if len(values) != count:
        raise CommandError(f"{option} {text!r}: give {count} numbers separated by commas")
    return values


# ----------------------------------------------------------------------------- analyse


def _add_analyse(actions: Any) -> None:
    analyse = actions.add_parser(
        "analyse",
        aliases=["analyze"],
        help="ANOVA and mean comparison of any long-format CSV",
        formatter_class=_Help,
        description="One line per plot; prints the ANOVA (every stratum), CV %%, residual SD, "
        "means, standard errors of differences and the chosen comparison with letter groups.",
        epilog=textwrap.dedent(
            """\
            examples:
              potager trial analyse yield.csv --design rcbd --response yield \\
                  --treatment variety --block block --test tukey
              potager trial analyse rice.csv --design split --response yield \\
                  --main nitrogen --sub variety --block rep --test lsd
              potager trial analyse strips.csv --design strip-trial --response yield \\
                  --treatment treatment --block rep --col col --control bare
              potager trial analyse sites.csv --design rcbd --response yield \\
                  --treatment water --block block --site farm --site-effect random \\
                  --control W0 --test dunnett
            """
        ),
    )
    analyse.add_argument("data", type=Path, metavar="DATA.csv")
    analyse.add_argument("--design", choices=ANALYSES, required=True)
    analyse.add_argument("--response", required=True, help="the measured column")
    analyse.add_argument("--treatment", default="treatment")
    analyse.add_argument("--block", default="block")
    analyse.add_argument("--rep", default="rep", help="replicate column (lattice, alpha)")
    analyse.add_argument("--row", default="row")
    analyse.add_argument("--col", default="col")
    analyse.add_argument("--main", help="main-plot factor (split) / horizontal factor (strip)")
    analyse.add_argument("--sub", help="sub-plot factor (split) / vertical factor (strip)")
    analyse.add_argument("--site", help="the site column: a combined analysis over sites")
    analyse.add_argument("--site-effect", choices=("fixed", "random"))
    analyse.add_argument("--control", help="the control (témoin): Dunnett and %% of control")
    analyse.add_argument("--test", choices=TESTS, default="tukey")
    analyse.add_argument("--alpha", type=float, default=0.05)
    analyse.add_argument("--json", action="store_true")
    analyse.set_defaults(handler=_run_analyse)


def _run_analyse(args: argparse.Namespace) -> int:
    from trials.analysis import compare, format_anova

    records = _read_records(args.data)
    if args.design == "strip-trial":
        return _run_strip_trial(args, records)
    result, factor = _analysed(args, records)
    comparison = compare(result, factor, args.test, alpha=args.alpha, control=args.control)
    if args.json:
        print(
            json.dumps(
                {
                    "design": result.design,
                    "response": result.response_name,
                    "anova": result.to_rows(),
                    "grand_mean": result.grand_mean,
                    "cv_percent": result.cv_percent,
                    "residual_sd": result.residual_sd,
                    "means": [asdict(row) for row in result.means(factor)],
                    "sed": [asdict(row) for row in result.sed],
                    "comparison": {
                        "method": comparison.method,
                        "critical_difference": comparison.critical_difference,
                        "groups": comparison.to_rows(),
                        "pairs": comparison.pair_rows(),
                    },
                }
            )
        )
        return 0
    print(format_anova(result))
    print(f"\nmeans of {factor} (± standard error, n)")
    for mean in result.means(factor):
        print(f"  {mean.level:<16}{mean.mean:12.4g} ± {mean.se:<10.3g} {mean.n}")
    print(_sed_text(result, factor))
    print(f"\n{comparison.method} at alpha {comparison.alpha:g} on {factor}")
    if comparison.critical_difference is not None:
        print(f"critical difference {comparison.critical_difference:.4g}")
    for group in comparison.groups:
        percent = "" if group.percent_of_control is None else f"  {group.percent_of_control:6.1f} %"
        print(f"  {group.level:<16}{group.mean:12.4g}  {group.letters:<6}{percent}")
    return 0


def _run_strip_trial(args: argparse.Namespace, records: list[dict[str, str]]) -> int:
    """Strip trials have no ANOVA: each treatment against the control strips beside it."""
    from trials.analysis import Observations
    from trials.strip_trials import strip_trial_differences

    control = _needed(args.control, "--control (the control strips' treatment)")
    obs = Observations.from_records(records, args.response, [args.treatment, args.block, args.col])
    rows = strip_trial_differences(
        obs, control, treatment=args.treatment, block=args.block, col=args.col
    )
    if args.json:
        print(json.dumps({"design": "strip-trial", "differences": [asdict(r) for r in rows]}))
        return 0
    print(f"strip trial: {args.response}, each {args.treatment} minus its neighbouring {control}")
    print(f"{'treatment':<16}{'strips':>7}{'difference':>12}{'SE':>9}{'t':>8}{'p':>9}"
          f"{'95 % CI':>20}{'% of control':>14}")  # fmt: skip
    for r in rows:
        interval = f"{r.low:.3g} to {r.high:.3g}"
        print(f"{r.treatment:<16}{r.strips:>7}{r.difference:12.4g}{r.se:9.3g}{r.t:8.2f}"
              f"{r.p:9.4f}{interval:>20}{r.percent_of_control:13.1f} %")  # fmt: skip
    return 0


def _read_records(path: Path) -> list[dict[str, str]]:
    from trials import TrialError
    from trials.export import csv_records

    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as error:
        raise CommandError(f"cannot read {path}: {error.strerror or error}") from None
    try:
        return csv_records(text, str(path))
    except TrialError as error:
        raise CommandError(str(error)) from None


def _analysed(args: argparse.Namespace, records: list[dict[str, str]]) -> tuple[AnovaResult, str]:
    from trials import analysis

    def observations(columns: Sequence[str]) -> Observations:
        return analysis.Observations.from_records(records, args.response, columns)

    if args.site:
        if args.site_effect is None:
            raise CommandError("with --site, choose --site-effect fixed or random")
        obs = observations([args.treatment, args.block, args.site])
        result = analysis.anova_multisite(
            obs,
            site_effect=args.site_effect,
            treatment=args.treatment,
            block=args.block,
            site=args.site,
        )
        return result, args.treatment
    design = args.design
    if design == "crd":
        return analysis.anova_crd(observations([args.treatment]), args.treatment), args.treatment
    if design == "rcbd":
        obs = observations([args.treatment, args.block])
        return analysis.anova_rcbd(obs, args.treatment, args.block), args.treatment
    if design == "latin":
        obs = observations([args.treatment, args.row, args.col])
        return analysis.anova_latin(obs, args.treatment, args.row, args.col), args.treatment
    if design in ("split", "strip"):
        main, sub = _needed(args.main, "--main"), _needed(args.sub, "--sub")
        obs = observations([main, sub, args.block])
        make = analysis.anova_split_plot if design == "split" else analysis.anova_strip_plot
        return make(obs, main, sub, args.block), sub
    obs = observations([args.treatment, args.rep, args.block])
    return analysis.anova_alpha_lattice(obs, args.treatment, args.rep, args.block), args.treatment


def _sed_text(result: AnovaResult, factor: str) -> str:
    """The SED of two means of `factor`: one value when balanced, else its range."""
    import numpy as np

    matrix = result.factors[factor].sed
    between = matrix[~np.eye(len(matrix), dtype=bool)]
    low, high = float(between.min()), float(between.max())
    spread = f"{low:.4g}" if np.isclose(low, high) else f"{low:.4g} to {high:.4g}"
    return f"standard error of a difference (SED) between two {factor} means: {spread}"


# ----------------------------------------------------------------------------- export


def _add_export(actions: Any) -> None:
    export = actions.add_parser(
        "export",
        help="a field book and observations as CSV, BrAPI v2 JSON or an ISA-Tab archive",
        formatter_class=_Help,
        epilog=textwrap.dedent(
            """\
            OBSERVATIONS.csv is long: plot,variable,value,observed_at[,site,recorded_by]
            examples:
              potager trial export book.csv --observations obs.csv --format wide
              potager trial export book.csv --observations obs.csv --format brapi --name "Eau 2026"
              potager trial export book.csv --observations obs.csv --format isa --out trial.zip
            """
        ),
    )
    export.add_argument("book", type=Path, metavar="BOOK.csv")
    export.add_argument("--observations", type=Path, metavar="OBSERVATIONS.csv")
    export.add_argument("--format", choices=FORMATS, required=True)
    export.add_argument("--name", default="trial", help="the trial's name")
    export.add_argument("--design", default="unspecified", help="the design, for BrAPI/ISA")
    export.add_argument("--out", type=Path, help="write here instead of printing")
    export.set_defaults(handler=_run_export)


def _run_export(args: argparse.Namespace) -> int:
    from trials import export

    plots = export.read_field_book_csv(args.book)
    observations = _read_observations(args.observations) if args.observations else []
    variables = [export.Variable(name=name) for name in sorted({o.variable for o in observations})]
    sites = sorted({plot.site for plot in plots if plot.site})
    trial = export.TrialInfo(name=args.name, design=args.design, sites=sites)
    chosen = args.format
    if chosen == "isa":
        if args.out is None:
            raise CommandError("an ISA-Tab archive is a zip file: give --out trial.zip")
        args.out.write_bytes(export.isa_tab_archive(trial, plots, variables, observations))
        print(f"wrote {args.out}", file=sys.stderr)
        return 0
    texts = {
        "fieldbook": lambda: export.field_book_csv(plots),
        "long": lambda: export.observations_long_csv(observations, variables),
        "wide": lambda: export.observations_wide_csv(plots, observations),
        "traits": lambda: export.trait_dictionary_csv(variables),
        "brapi": lambda: (
            json.dumps(export.brapi_json(trial, plots, variables, observations), indent=2) + "\n"
        ),
    }
    _write(texts[chosen](), args.out)
    return 0


def _read_observations(path: Path) -> list[Any]:
    from trials.export import Observation

    observations = []
    for line, record in enumerate(_read_records(path), start=2):
        try:
            observations.append(
                Observation.model_validate({**record, "site": record.get("site") or None})
            )
        except ValueError as error:
            first = str(error).splitlines()[1:3]
            raise CommandError(f"{path} line {line}: {' '.join(first).strip()}") from None
    return observations


# ----------------------------------------------------------------------------- the database


def _add_database_option(parser: Any) -> None:
    parser.add_argument(
        "--database", help="SQLAlchemy URL (default: POTAGER_DATABASE_URL, else the SQLite file)"
    )


def _store(args: argparse.Namespace) -> Any:
    """The trial store on the chosen database, brought up to the newest schema first."""
    from potager.db import make_engine, session_factory, upgrade_database
    from potager.settings import load_settings
    from trials.store import TrialStore

    url = args.database or load_settings().effective_database_url
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    upgrade_database(url)
    return TrialStore(session_factory(make_engine(url)))


def _add_create(actions: Any) -> None:
    create = actions.add_parser(
        "create",
        help="store a trial: its field book laid onto a site's bed",
        formatter_class=_Help,
        epilog="example:\n  potager trial create book.csv --name 'Eau 2026' --site Lyon "
        "--bed-size 3000x1500 --plot 400x300 --gap 50,100",
    )
    create.add_argument("book", type=Path, metavar="BOOK.csv")
    create.add_argument("--name", required=True, help="the trial's name (unique)")
    create.add_argument("--site", required=True)
    create.add_argument("--bed", default="bed-1", help="the bed's name at that site")
    create.add_argument("--bed-size", required=True, help="bed size in mm, e.g. 3000x1500")
    create.add_argument("--plot", required=True, help="plot width x length in mm")
    create.add_argument("--gap", default="0,0", help="alley along x, path along y, in mm")
    create.add_argument("--border", type=float, default=0.0)
    create.add_argument("--design", default="imported", help="the design's name, e.g. rcbd")
    create.add_argument("--seed", type=int, default=0, help="the seed the book was drawn with")
    _add_database_option(create)
    create.set_defaults(handler=_run_create)


def _run_create(args: argparse.Namespace) -> int:
    from trials.export import design_book, read_field_book_csv
    from trials.plots import BedArea, Spacing, lay_out
    from trials.store import store_laid_out_trial

    plots = read_field_book_csv(args.book)
    size_x_mm, size_y_mm = _size_mm(args.bed_size, "--bed-size")
    width_mm, length_mm = _size_mm(args.plot, "--plot")
    gap_x_mm, gap_y_mm = _numbers(args.gap, 2, "--gap")
    book = design_book([p for p in plots if p.site in (None, args.site)], args.design)
    rectangles = lay_out(
        book,
        BedArea(0, 0, size_x_mm, size_y_mm),
        width_mm,
        length_mm,
        Spacing(gap_x_mm, gap_y_mm, args.border),
    )
    store_laid_out_trial(
        _store(args),
        name=args.name,
        site=args.site,
        bed=args.bed,
        bed_size_mm=(size_x_mm, size_y_mm),
        book=book,
        rectangles=rectangles,
        seed=args.seed,
    )
    print(f"trial {args.name!r}: {len(rectangles)} plots on {args.site}/{args.bed}")
    return 0


def _add_variable(actions: Any) -> None:
    variable = actions.add_parser("variable", help="define an observed variable of a trial")
    variable.add_argument("name")
    variable.add_argument("--trial", required=True)
    variable.add_argument("--unit", default="")
    variable.add_argument("--method", default="")
    variable.add_argument(
        "--scale", default="numeric", choices=("numeric", "ordinal", "categorical", "date")
    )
    variable.add_argument("--min", type=float, dest="minimum")
    variable.add_argument("--max", type=float, dest="maximum")
    variable.add_argument("--categories", help="a,b,c for a categorical variable")
    _add_database_option(variable)
    variable.set_defaults(handler=_run_variable)


def _run_variable(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from trials import TrialError
    from trials.store import VariableIn

    store = _store(args)
    categories = _list(args.categories) if args.categories else None
    try:
        definition = VariableIn(
            name=args.name, unit=args.unit, method=args.method, scale=args.scale,
            minimum=args.minimum, maximum=args.maximum, categories=categories,
        )  # fmt: skip
    except ValidationError as error:
        raise TrialError(f"variable {args.name!r}: {error.errors()[0]['msg']}") from None
    store.define_variable(store.trial_id(args.trial), definition)
    print(f"variable {args.name!r} defined for trial {args.trial!r}")
    return 0


def _add_record(actions: Any) -> None:
    record = actions.add_parser("record", help="record one observation by hand")
    record.add_argument("--trial", required=True)
    record.add_argument("--plot", type=int, required=True)
    record.add_argument("--variable", required=True)
    record.add_argument("--value", required=True)
    record.add_argument("--by", required=True, help="who measured it")
    record.add_argument("--at", help="when (ISO 8601 with a time zone); default now")
    _add_database_option(record)
    record.set_defaults(handler=_run_record)


def _run_record(args: argparse.Namespace) -> int:
    from datetime import datetime

    from pydantic import ValidationError

    from potager.db import utc_now
    from trials import TrialError
    from trials.store import ObservationIn

    try:
        observed_at = datetime.fromisoformat(args.at) if args.at else utc_now()
    except ValueError:
        raise TrialError(f"--at {args.at!r}: write a time like 2026-06-01T07:30+02:00") from None
    store = _store(args)
    try:
        observation = ObservationIn(
            trial_id=store.trial_id(args.trial), plot=args.plot, variable=args.variable,
            value=_typed(args.value), observed_at=observed_at, recorder_kind="person",
            recorder=args.by,
        )  # fmt: skip
    except ValidationError as error:
        problem = error.errors()[0]
        where = ".".join(str(part) for part in problem["loc"])
        raise TrialError(f"cannot record: {where}: {problem['msg']}") from None
    print(f"observation {store.record_observation(observation)} recorded")
    return 0


def _typed(text: str) -> float | str:
    """A number when the text is one (a comma decimal too), else the text itself."""
    try:
        return float(text.replace(",", "."))
    except ValueError:
        return text


def _add_import(actions: Any) -> None:
    imported = actions.add_parser(
        "import",
        help="import observations from a long CSV (plot,variable,value,observed_at)",
        description="Rows are stored in batches, each all-or-nothing; a bad row stops the "
        "import and says which lines are stored, so the rest can follow with --skip.",
    )
    imported.add_argument("data", type=Path, metavar="OBSERVATIONS.csv")
    imported.add_argument("--trial", required=True)
    imported.add_argument("--by", required=True, help="who or what measured them")
    imported.add_argument("--batch", type=int, default=1000, help="rows per transaction")
    imported.add_argument("--skip", type=int, default=0, help="data lines already imported")
    _add_database_option(imported)
    imported.set_defaults(handler=_run_import)


def _run_import(args: argparse.Namespace) -> int:
    from trials import TrialError
    from trials.export import observation_rows

    rows_kept = observation_rows(_read_records(args.data)[args.skip :])
    store = _store(args)
    trial_id = store.trial_id(args.trial)
    batch = max(1, args.batch)
    done = 0
    for start in range(0, len(rows_kept), batch):
        try:
            store.import_observations(trial_id, rows_kept[start : start + batch], importer=args.by)
        except TrialError as error:
            print(file=sys.stderr)  # end the progress line
            first_line = args.skip + start + 2  # the header is line 1
            raise TrialError(
                f"{args.data}: {args.skip + done} data lines are stored; the batch from line "
                f"{first_line} was refused (its rows are numbered from 1 below); fix it and "
                f"re-run with --skip {args.skip + done}\n{error}"
            ) from None
        done += len(rows_kept[start : start + batch])
        _progress(done, len(rows_kept))
    print(f"imported {done} observations into {args.trial!r}")
    return 0


def _progress(done: int, total: int) -> None:
    """A one-line bar on stderr, redrawn in place, for imports that take a while."""
    width = 30
    filled = width * done // max(total, 1)
    end = "\n" if done >= total else ""
    print(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total}", end=end, file=sys.stderr)


def _add_observations(actions: Any) -> None:
    listing = actions.add_parser(
        "observations", help="a stored trial's observations as a long CSV, for analyse/export"
    )
    listing.add_argument("--trial", required=True)
    _add_database_option(listing)
    listing.set_defaults(handler=_run_observations)


def _run_observations(args: argparse.Namespace) -> int:
    store = _store(args)
    rows = store.tidy_observations(store.trial_id(args.trial))
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(["plot", "block", "treatment", "variable", "value", "unit", "observed_at",
                     "recorded_by"])  # fmt: skip
    for row in rows:
        writer.writerow([row.plot, "" if row.block is None else row.block, row.treatment,
                         row.variable, row.value, row.unit, row.observed_at.isoformat(),
                         f"{row.recorder_kind}: {row.recorder}"])  # fmt: skip
    return 0
