"""Randomized field-trial designs (dispositifs) as field books, reproducible by seed.

The designs are those researchers know from R's agricolae: completely randomized (`crd`),
randomized complete blocks (`rcbd`), Latin square (`latin_square`), split-plot
(`split_plot`), strip-plot (`strip_plot`), full factorials inside `crd`/`rcbd` (several
`Factor`s), resolvable incomplete blocks (`alpha_design`), augmented designs with repeated
checks (`augmented`), and farm-scale strip trials where every treatment strip lies next to a
control strip (`strip_trial`). `across_sites` repeats one protocol on several farms, each
with its own randomization.

Every generator first builds a logical layout: numbered lines (a block, a replicate's
block, a Latin-square row) of cells, in the order the field is walked from its start
corner. One shared step then places the lines on the field grid and numbers the plots, so
`serie` numbering (agricolae's 101, 102, ... per block), serpentine walking and the start
corner behave the same in every design.

Grid convention, shared with `trials.plots`: `row` 1 is the row nearest the bed's home
corner along y, `col` 1 the column nearest it along x; "bottom_left" is that corner on a
map drawn with the home corner at the bottom left.
"""

from __future__ import annotations

import hashlib
import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property, lru_cache
from typing import Literal, NamedTuple

import numpy as np
from numpy.typing import NDArray

from trials import TrialError

Corner = Literal["bottom_left", "bottom_right", "top_left", "top_right"]
CORNERS: tuple[Corner, ...] = ("bottom_left", "bottom_right", "top_left", "top_right")
CsvValue = str | int | bool | None
# How hard the alpha-array search tries (restarts, redraws of one replicate) before
# admitting that no arrangement keeps every pair of treatments under the cap.
ALPHA_SEARCH_ATTEMPTS = 50
ALPHA_ROW_ATTEMPTS = 20
ALPHA_MAX_CONCURRENCE = 2


# ------------------------------------------------------------------------------ treatments


@dataclass(frozen=True)
class Factor:
    """A factor and its levels (modalités); `controls` are the levels that are témoins."""

    name: str
    levels: Sequence[str]
    controls: Sequence[str] = ()

    def __post_init__(self) -> None:
        for name in ("levels", "controls"):
            if isinstance(getattr(self, name), str):
                raise TrialError(
                    f"factor {self.name!r}: {name} must be a list of names, e.g. ['N0', 'N1'],"
                    f" not the single string {getattr(self, name)!r}"
                )
        # Stored as tuples so a Factor stays hashable and cannot change under a design.
        object.__setattr__(self, "levels", tuple(self.levels))
        object.__setattr__(self, "controls", tuple(self.controls))
        if not self.name.strip():
            raise TrialError("a factor needs a name, e.g. Factor('N', ['N0', 'N1'])")
        _require_distinct(f"factor {self.name!r}", self.levels)
        if len(self.levels) < 2:
            raise TrialError(
                f"factor {self.name!r} has {len(self.levels)} level(s) {list(self.levels)}:"
                " a factor needs at least 2 levels to compare; add a level"
            )
        unknown = [level for level in self.controls if level not in self.levels]
        if unknown:
            raise TrialError(
                f"factor {self.name!r}: control(s) {unknown} are not among its levels"
                f" {list(self.levels)}; name controls from the levels"
            )


@dataclass(frozen=True)
class Treatment:
    """One treatment combination; `check` is true for a témoin."""

    label: str
    levels: tuple[tuple[str, str], ...]
    check: bool = False


def factorial(factors: Sequence[Factor]) -> list[Treatment]:
    """Every combination of the factors' levels (agricolae's design.ab treatments).

    A combination is a check only when each of its levels is a control of its factor, so
    with controls N0 and "dry", only "N0:dry" is the témoin.
    """
    if not factors:
        raise TrialError("a design needs at least one factor, e.g. Factor('N', ['N0', 'N1'])")
    _require_distinct("the factors", [factor.name for factor in factors])
    return [
        _combination(factors, indices)
        for indices in itertools.product(*(range(len(factor.levels)) for factor in factors))
    ]


def _as_factors(treatments: Factor | Sequence[Factor]) -> list[Factor]:
    return [treatments] if isinstance(treatments, Factor) else list(treatments)


def _require_distinct(what: str, names: Sequence[str]) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise TrialError(f"{what} lists {name!r} twice: give each name once")
        seen.add(name)


def _require_at_least(count: int, minimum: int, what: str, fix: str) -> None:
    if count < minimum:
        raise TrialError(f"{what} must be at least {minimum}, got {count}: {fix}")


# ------------------------------------------------------------------------------ field book


@dataclass(frozen=True, slots=True)
class PlotRecord:
    """One plot (micro-parcelle) of a field book, with agricolae-like columns."""

    plot: int
    block: int | None
    rep: int | None
    row: int
    col: int
    treatment: str
    factors: dict[str, str]
    check: bool
    site: str | None = None
    main_plot: int | None = None
    sub_plot: int | None = None
    strip_row: int | None = None
    strip_col: int | None = None


# Columns of field_book_rows() in order; the factor columns come after "treatment".
_LEADING_COLUMNS = ("site", "plot", "block", "rep", "row", "col", "treatment")
_TRAILING_COLUMNS = ("check", "main_plot", "sub_plot", "strip_row", "strip_col")


@dataclass(frozen=True)
class FieldBook:
    """A randomized design, ready to lay out, record and analyse.

    Plain dataclasses rather than pydantic models: a 1,000-plot book is built in a few
    milliseconds, and every value in it is made here from checked inputs.
    """

    design: str
    factors: dict[str, list[str]]
    seed: int
    plots: list[PlotRecord]
    sites: list[str] = field(default_factory=list)

    @cached_property
    def n_rows(self) -> int:
        return max(plot.row for plot in self.plots)

    @cached_property
    def n_cols(self) -> int:
        return max(plot.col for plot in self.plots)

    def for_site(self, site: str) -> FieldBook:
        """The book of one site, e.g. to lay it onto that site's bed."""
        if site not in self.sites:
            raise TrialError(f"site {site!r} is not in this field book; its sites are {self.sites}")
        plots = [plot for plot in self.plots if plot.site == site]
        return replace(self, sites=[site], plots=plots)

    def field_book_rows(self) -> list[dict[str, CsvValue]]:
        """Tidy rows for CSV: one per plot, one column per factor, no column left all empty."""
        rows = [_row(plot, list(self.factors)) for plot in self.plots]
        used = [column for column in rows[0] if any(row[column] is not None for row in rows)]
        return [{column: row[column] for column in used} for row in rows]


def _row(plot: PlotRecord, factor_names: list[str]) -> dict[str, CsvValue]:
    row: dict[str, CsvValue] = {column: getattr(plot, column) for column in _LEADING_COLUMNS}
    row.update({name: plot.factors.get(name) for name in factor_names})
    row.update({column: getattr(plot, column) for column in _TRAILING_COLUMNS})
    return row


# ------------------------------------------------------------------- placing and numbering


@dataclass(frozen=True)
class Numbering:
    """How plots are numbered and where the walk starts.

    `serie` is agricolae's: 0 numbers plots 1..n in walk order; 2 numbers them 101, 102...
    in block 1, 201... in block 2 (3 gives 1001...); None takes 2, or the smallest serie
    the largest block fits in. `serpentine` walks every other line back, so consecutive
    numbers stay neighbours, as a person or a robot walks the field.
    """

    serie: int | None = None
    serpentine: bool = False
    start_corner: Corner = "bottom_left"

    def __post_init__(self) -> None:
        if self.serie is not None and not 0 <= self.serie <= 6:
            raise TrialError(f"serie must be between 0 and 6, got {self.serie}: use 0, 2 or 3")
        if self.start_corner not in CORNERS:
            raise TrialError(
                f"start_corner {self.start_corner!r} is unknown; choose one of {list(CORNERS)}"
            )


class _Cell(NamedTuple):
    """A plot before placement: `line` and `position` count in the design's own walk order."""

    line: int
    position: int
    group: int
    treatment: Treatment
    block: int | None = None
    rep: int | None = None
    main_plot: int | None = None
    sub_plot: int | None = None
    strip_row: int | None = None
    strip_col: int | None = None


def _field_book(
    design: str,
    factors: Sequence[Factor],
    cells: list[_Cell],
    numbering: Numbering,
    seed: int,
) -> FieldBook:
    n_lines = 1 + max(cell.line for cell in cells)
    n_positions = 1 + max(cell.position for cell in cells)
    walked = sorted(cells, key=lambda cell: _walk_key(cell, numbering.serpentine))
    numbers = _plot_numbers(walked, numbering.serie)
    from_top = numbering.start_corner.startswith("top")
    from_right = numbering.start_corner.endswith("right")
    plots = [
        PlotRecord(
            plot=number,
            block=cell.block,
            rep=cell.rep,
            row=n_lines - cell.line if from_top else cell.line + 1,
            col=n_positions - cell.position if from_right else cell.position + 1,
            treatment=cell.treatment.label,
            factors=dict(cell.treatment.levels),
            check=cell.treatment.check,
            main_plot=cell.main_plot,
            sub_plot=cell.sub_plot,
            strip_row=cell.strip_row,
            strip_col=cell.strip_col,
        )
        for number, cell in zip(numbers, walked, strict=True)
    ]
    return FieldBook(
        design=design,
        factors={factor.name: list(factor.levels) for factor in factors},
        seed=seed,
        plots=plots,
    )


def _walk_key(cell: _Cell, serpentine: bool) -> tuple[int, int]:
    backwards = serpentine and cell.line % 2 == 1
    return cell.line, -cell.position if backwards else cell.position


def _plot_numbers(walked: list[_Cell], serie: int | None) -> list[int]:
    if serie == 0:
        return list(range(1, len(walked) + 1))
    indices = []
    counts: dict[int, int] = {}
    for cell in walked:
        counts[cell.group] = counts.get(cell.group, 0) + 1
        indices.append(counts[cell.group])
    digits = len(str(max(counts.values())))
    if serie is None:
        serie = max(2, digits)
    elif digits > serie:
        raise TrialError(
            f"serie={serie} numbers at most {10**serie - 1} plots per block but a block has"
            f" {max(counts.values())}: use serie={digits}, serie=0, or leave serie unset"
        )
    return [cell.group * 10**serie + index for cell, index in zip(walked, indices, strict=True)]


# ------------------------------------------------------------------------------- designs


def crd(
    treatments: Factor | Sequence[Factor],
    reps: int,
    *,
    seed: int,
    n_cols: int | None = None,
    numbering: Numbering = Numbering(),
) -> FieldBook:
    """Completely randomized: each treatment `reps` times, anywhere in a grid of `n_cols`.

    Several factors make a full factorial. The grid defaults to one column per treatment.
    """
    factors = _as_factors(treatments)
    combos = factorial(factors)
    _require_at_least(reps, 2, "reps", "a completely randomized design needs replicates")
    width = len(combos) if n_cols is None else n_cols
    _require_at_least(width, 1, "n_cols", "give the number of plots per field row")
    order = np.random.default_rng(seed).permutation(len(combos) * reps) % len(combos)
    cells = [
        _Cell(index // width, index % width, 1, combos[treatment])
        for index, treatment in enumerate(order.tolist())
    ]
    return _field_book("crd", factors, cells, numbering, seed)


def rcbd(
    treatments: Factor | Sequence[Factor],
    blocks: int,
    *,
    seed: int,
    numbering: Numbering = Numbering(),
) -> FieldBook:
    """Randomized complete blocks: every treatment once per block, one block per field row.

    Several factors make a full factorial (agricolae's design.ab), e.g.
    `rcbd([Factor("N", ["N0", "N1"]), Factor("irr", ["dry", "wet"])], 4, seed=1)`.
    """
    factors = _as_factors(treatments)
    combos = factorial(factors)
    _require_at_least(blocks, 2, "blocks", "use at least 2 blocks (répétitions)")
    orders = _permutations(np.random.default_rng(seed), blocks, len(combos))
    cells = [
        _Cell(block, position, block + 1, combos[treatment], block=block + 1)
        for block, order in enumerate(orders)
        for position, treatment in enumerate(order)
    ]
    return _field_book("rcbd", factors, cells, numbering, seed)


def latin_square(
    treatments: Factor,
    *,
    seed: int,
    numbering: Numbering = Numbering(),
) -> FieldBook:
    """A t x t square: every treatment once in each row and once in each column.

    A cyclic square with its rows, columns and symbols shuffled, as agricolae's design.lsd.
    """
    combos = factorial([treatments])
    size = len(combos)
    rng = np.random.default_rng(seed)
    rows, cols, symbols = (rng.permutation(size) for _ in range(3))
    square = symbols[(rows[:, None] + cols[None, :]) % size]
    cells = [
        _Cell(row, col, row + 1, combos[square[row, col]])
        for row in range(size)
        for col in range(size)
    ]
    return _field_book("lsd", [treatments], cells, numbering, seed)


def split_plot(
    main: Factor,
    sub: Factor,
    blocks: int,
    *,
    seed: int,
    numbering: Numbering = Numbering(),
) -> FieldBook:
    """Main-plot levels randomized in each block, sub-plot levels within each main plot.

    A main plot is `len(sub.levels)` neighbouring plots of one block's row, so the hard to
    change factor (irrigation, tillage) is applied to whole main plots.
    """
    factors = [main, sub]
    _require_at_least(blocks, 2, "blocks", "use at least 2 blocks (répétitions)")
    rng = np.random.default_rng(seed)
    n_main, n_sub = len(main.levels), len(sub.levels)
    combos = factorial(factors)  # main level outer, sub level inner
    cells = []
    for block, main_order in enumerate(_permutations(rng, blocks, n_main)):
        sub_orders = _permutations(rng, n_main, n_sub)
        for slot, (main_level, sub_order) in enumerate(zip(main_order, sub_orders, strict=True)):
            for sub_slot, sub_level in enumerate(sub_order):
                treatment = combos[main_level * n_sub + sub_level]
                cell = _Cell(
                    line=block,
                    position=slot * n_sub + sub_slot,
                    group=block + 1,
                    treatment=treatment,
                    block=block + 1,
                    main_plot=block * n_main + slot + 1,
                    sub_plot=sub_slot + 1,
                )
                cells.append(cell)
    return _field_book("split", factors, cells, numbering, seed)


def strip_plot(
    horizontal: Factor,
    vertical: Factor,
    blocks: int,
    *,
    seed: int,
    numbering: Numbering = Numbering(),
) -> FieldBook:
    """Strip-plot (essai en bandes croisées): whole rows get one horizontal level, whole
    columns one vertical level, each block with its own order; blocks lie side by side."""
    factors = [horizontal, vertical]
    _require_at_least(blocks, 2, "blocks", "use at least 2 blocks (répétitions)")
    rng = np.random.default_rng(seed)
    n_rows, n_cols = len(horizontal.levels), len(vertical.levels)
    combos = factorial(factors)  # horizontal level outer, vertical level inner
    cells = []
    for block in range(blocks):
        row_order = rng.permutation(n_rows).tolist()
        col_order = rng.permutation(n_cols).tolist()
        for strip_row, strip_col in itertools.product(range(n_rows), range(n_cols)):
            cell = _Cell(
                line=strip_row,
                position=block * n_cols + strip_col,
                group=block + 1,
                treatment=combos[row_order[strip_row] * n_cols + col_order[strip_col]],
                block=block + 1,
                strip_row=strip_row + 1,
                strip_col=strip_col + 1,
            )
            cells.append(cell)
    return _field_book("strip", factors, cells, numbering, seed)


def alpha_design(
    treatments: Factor,
    block_size: int,
    reps: int,
    *,
    seed: int,
    numbering: Numbering = Numbering(),
) -> FieldBook:
    """Resolvable incomplete blocks (alpha design, agricolae's design.alpha).

    Each of the `reps` replicates holds every treatment once, split into s = t / k disjoint
    blocks of k = `block_size` plots, for when a complete block would be too long to stay
    uniform. As in agricolae, k must divide t and be at most s; reps may go up to 2s. Two
    treatments share a block at most twice in the whole trial (at most once when s is
    prime and reps <= s). `block` numbers run on across replicates; `rep` says which
    replicate a block belongs to.
    """
    combos = factorial([treatments])
    blocks_per_rep = _alpha_blocks_per_rep(len(combos), block_size)
    _require_at_least(reps, 2, "reps", "an alpha design needs at least 2 replicates")
    _require_few_enough_reps(reps, blocks_per_rep)
    array = _alpha_array(blocks_per_rep, block_size, reps)
    rng = np.random.default_rng(seed)
    labels = rng.permutation(len(combos))
    cells = []
    for rep in range(reps):
        for slot, base in enumerate(rng.permutation(blocks_per_rep).tolist()):
            members = np.arange(block_size) * blocks_per_rep
            members += (array[rep] + base) % blocks_per_rep
            line = rep * blocks_per_rep + slot
            block = line + 1
            for position, member in enumerate(rng.permutation(members).tolist()):
                treatment = combos[labels[member]]
                cells.append(_Cell(line, position, rep + 1, treatment, block=block, rep=rep + 1))
    return _field_book("alpha", [treatments], cells, numbering, seed)


def augmented(
    checks: Sequence[str],
    entries: Sequence[str],
    blocks: int,
    *,
    seed: int,
    factor: str = "entry",
    numbering: Numbering = Numbering(),
) -> FieldBook:
    """Augmented blocks (agricolae's design.dau): every check in every block, each new
    entry once; the checks estimate the block effects that adjust the unreplicated entries.
    """
    _require_at_least(len(checks), 1, "the number of checks", "name at least one check")
    _require_at_least(len(entries), 1, "the number of new entries", "name at least one entry")
    _require_at_least(blocks, 2, "blocks", "use at least 2 blocks")
    entry_factor = Factor(factor, [*checks, *entries], controls=checks)
    if blocks > len(entries):
        raise TrialError(
            f"{blocks} blocks for {len(entries)} new entries would leave a block without"
            f" new entries: use at most {len(entries)} blocks"
        )
    everything = factorial([entry_factor])
    check_treatments, entry_treatments = everything[: len(checks)], everything[len(checks) :]
    rng = np.random.default_rng(seed)
    shares = np.array_split(rng.permutation(len(entries)), blocks)
    cells = []
    for block, share in enumerate(shares):
        members = check_treatments + [entry_treatments[index] for index in share.tolist()]
        for position, index in enumerate(rng.permutation(len(members)).tolist()):
            cells.append(_Cell(block, position, block + 1, members[index], block=block + 1))
    return _field_book("augmented", [entry_factor], cells, numbering, seed)


def strip_trial(
    control: str,
    treatments: Sequence[str],
    reps: int,
    *,
    seed: int,
    factor: str = "treatment",
    numbering: Numbering = Numbering(),
) -> FieldBook:
    """Farm-scale strip trial: control, treatment, control, ... side by side in one row.

    Each replicate starts and ends with a control strip, so every treatment strip has a
    control strip on both sides to be compared with; treatment order is randomized per
    replicate. `block` is the replicate.
    """
    _require_at_least(len(treatments), 1, "the number of treatments", "name a treatment")
    _require_at_least(reps, 2, "reps", "use at least 2 replicates")
    strip_factor = Factor(factor, [control, *treatments], controls=[control])
    levels = factorial([strip_factor])
    per_rep = 2 * len(treatments) + 1
    rng = np.random.default_rng(seed)
    cells = []
    for rep, order in enumerate(_permutations(rng, reps, len(treatments))):
        strips = [levels[0]]
        for treatment in order:
            strips += [levels[treatment + 1], levels[0]]
        for slot, strip in enumerate(strips):
            cells.append(_Cell(0, rep * per_rep + slot, rep + 1, strip, block=rep + 1))
    return _field_book("strip_trial", [strip_factor], cells, numbering, seed)


def _permutations(rng: np.random.Generator, count: int, size: int) -> list[list[int]]:
    """`count` independent shuffles of 0..size-1 in one vectorised draw."""
    keys = rng.random((count, size))
    orders: list[list[int]] = np.argsort(keys, axis=1).tolist()
    return orders


def _combination(factors: Sequence[Factor], indices: Sequence[int]) -> Treatment:
    levels = [factor.levels[index] for factor, index in zip(factors, indices, strict=True)]
    return Treatment(
        label=":".join(levels),
        levels=tuple(zip((factor.name for factor in factors), levels, strict=True)),
        check=all(level in factor.controls for factor, level in zip(factors, levels, strict=True)),
    )


# --------------------------------------------------------------------------- alpha arrays


def _alpha_blocks_per_rep(n_treatments: int, block_size: int) -> int:
    """s = t / k, refusing the sizes the construction cannot serve: k must divide t and
    k <= s (as in agricolae), else pairs of treatments meet too often or not at all."""
    _require_at_least(block_size, 2, "block_size", "blocks need at least 2 plots")
    if n_treatments % block_size == 0 and block_size**2 <= n_treatments:
        return n_treatments // block_size
    sizes = [size for size in range(2, math.isqrt(n_treatments) + 1) if n_treatments % size == 0]
    enough = max(block_size**2, -(-n_treatments // block_size) * block_size)
    raise TrialError(
        f"alpha design: {n_treatments} treatments do not make blocks of {block_size} plots"
        f" with at least {block_size} blocks per replicate (block_size must divide the"
        f" number of treatments and be at most the number of blocks): use block_size in"
        f" {sizes}, or add {enough - n_treatments} treatment(s)"
    )


def _require_few_enough_reps(reps: int, blocks_per_rep: int) -> None:
    # Two positions of the generating array differ by one of s values in each replicate,
    # so with more than 2s replicates some pair of treatments meets three times.
    if reps > 2 * blocks_per_rep:
        raise TrialError(
            f"alpha design: {reps} replicates of {blocks_per_rep} blocks would put some"
            f" treatments together in 3 blocks or more: use at most {2 * blocks_per_rep}"
            " replicates, or smaller blocks (more of them)"
        )


@lru_cache(maxsize=64)
def _alpha_array(blocks_per_rep: int, block_size: int, reps: int) -> NDArray[np.int64]:
    """Patterson and Williams' generating array: row j holds the shifts of replicate j.

    Treatment i*s + v (i < k, v < s) lies in block b of replicate j when
    v = (array[j, i] + b) mod s, so each replicate holds each treatment once in disjoint
    blocks. Positions i1, i2 share a block in replicate j for one difference
    array[j, i1] - array[j, i2], hence a pair's concurrence is how often its difference
    repeats down the replicates. The cyclic array i*j mod s is tried first (concurrence 1
    when s is prime and reps <= s); otherwise a seeded greedy search caps it at 2.
    """
    s, k, r = blocks_per_rep, block_size, reps
    cyclic = (np.arange(r)[:, None] * np.arange(k)[None, :]) % s
    if _array_concurrence(cyclic, s) <= ALPHA_MAX_CONCURRENCE:
        return cyclic
    rng = np.random.default_rng(0)  # the array is structure, not randomization
    for _ in range(ALPHA_SEARCH_ATTEMPTS):
        found = _greedy_alpha_array(s, k, r, rng)
        if found is not None:
            return found
    raise TrialError(
        f"alpha design: found no arrangement of {reps} replicates of {blocks_per_rep} blocks"
        f" of {block_size} plots where two treatments share a block at most"
        f" {ALPHA_MAX_CONCURRENCE} times: use fewer replicates or smaller blocks"
    )


def _array_concurrence(array: NDArray[np.int64], s: int) -> int:
    worst = 1
    for first, second in itertools.combinations(range(array.shape[1]), 2):
        differences = (array[:, first] - array[:, second]) % s
        worst = max(worst, int(np.bincount(differences, minlength=s).max()))
    return worst


def _greedy_alpha_array(
    s: int, k: int, r: int, rng: np.random.Generator
) -> NDArray[np.int64] | None:
    """Fill the array one replicate at a time, redrawing a replicate that gets stuck;
    None when one stays stuck, so the caller restarts from scratch."""
    array = np.zeros((r, k), dtype=np.int64)
    counts = np.zeros((k, k, s), dtype=np.int64)
    first, second = np.triu_indices(k, 1)
    counts[first, second, 0] = 1  # replicate 0 is all zeros
    for rep in range(1, r):
        for _ in range(ALPHA_ROW_ATTEMPTS):
            row = _greedy_alpha_row(counts, rng)
            if row is not None:
                break
        else:
            return None
        array[rep] = row
        counts[first, second, (row[first] - row[second]) % s] += 1
    return array


def _greedy_alpha_row(
    counts: NDArray[np.int64], rng: np.random.Generator
) -> NDArray[np.int64] | None:
    """One replicate's shifts, position by position, each keeping every pair it forms with
    earlier positions under the cap (a replicate forms each pair once, so `counts` of the
    earlier replicates is all it must respect)."""
    k, s = counts.shape[0], counts.shape[2]
    row = np.zeros(k, dtype=np.int64)
    shifts = np.arange(s)
    for position in range(1, k):
        earlier = np.arange(position)
        differences = (row[:position, None] - shifts[None, :]) % s
        used = counts[earlier[:, None], position, differences]
        admissible = np.flatnonzero((used < ALPHA_MAX_CONCURRENCE).all(axis=0))
        if admissible.size == 0:
            return None
        row[position] = rng.choice(admissible)
    return row


# ----------------------------------------------------------------------------- many sites


def site_seed(seed: int, site: str) -> int:
    """A site's own seed: stable across runs and machines (unlike Python's `hash`)."""
    digest = hashlib.sha256(f"{seed}/{site}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def across_sites(sites: Sequence[str], seed: int, make: Callable[[int], FieldBook]) -> FieldBook:
    """One protocol on several sites, each randomized with `site_seed(seed, site)`.

    `make` builds the design from a seed, e.g. `lambda s: rcbd(nitrogen, 4, seed=s)`.
    Plot numbers repeat from site to site; a plot is identified by (site, plot).
    """
    _require_at_least(len(sites), 1, "the number of sites", "name at least one site")
    _require_distinct("the sites", sites)
    if any(not site.strip() for site in sites):
        raise TrialError("a site name is empty: give every site a name")
    books = [make(site_seed(seed, site)) for site in sites]
    plots = [
        replace(plot, site=site)
        for site, book in zip(sites, books, strict=True)
        for plot in book.plots
    ]
    first = books[0]
    return FieldBook(
        design=first.design, factors=first.factors, seed=seed, sites=list(sites), plots=plots
    )


__all__ = [
    "CORNERS",
    "Corner",
    "Factor",
    "FieldBook",
    "Numbering",
    "PlotRecord",
    "Treatment",
    "across_sites",
    "alpha_design",
    "augmented",
    "crd",
    "factorial",
    "latin_square",
    "rcbd",
    "site_seed",
    "split_plot",
    "strip_plot",
    "strip_trial",
]
