"""Compiled (numba) kernels of the tour optimiser: the metric, moves and local search.

The tour is a cycle stored as `tour` (node at each position) and `pos` (position of each
node). Every change is a 2-opt "flip" that reverses the shorter side of the cycle; a
3-opt move or a node insertion is two flips. Flips are journaled, so a perturbation that does not
pay off is undone exactly. Open paths and fixed ends are modelled with one dummy node
whose edges to the fixed ends cost -BIG (never removed) and 0 to every other node.

Why numba: the local search is branchy scalar code over arrays; numba compiles it to
machine code with `cache=True`, so only the first run on a machine pays the compile time.
"""

from __future__ import annotations

import numpy as np
from numba import njit
from numpy.typing import NDArray

BIG = 1.0e9
"""Cost magnitude that pins an edge (as -BIG) or forbids it (as +BIG)."""
EPSILON = 1e-9
NO_NODE = -1
INSERTION_NEIGHBOURS = 5
"""Node insertion tries only the nearest few places: most of its gains come from there."""
SECOND_LEVEL_NEIGHBOURS = 10
"""Breadth of the 3-opt move's second level: measured at N = 200, narrower (3, 5) found
worse tours in the same time."""

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int32]


# ------------------------------------------------------------------------------ metric


@njit(cache=True, inline="always")
def axis_time(table: FloatArray, distance_steps: float) -> float:
    """Seconds for one axis, interpolated in its table (1 entry per `step_mm`).

    Past the table's end the time grows linearly, which is exact once the axis cruises.
    """
    index = int(distance_steps)
    last = len(table) - 1
    if index >= last:
        return float(table[last] + (distance_steps - last) * (table[last] - table[last - 1]))
    return float(table[index] + (distance_steps - index) * (table[index + 1] - table[index]))


@njit(cache=True, inline="always")
def cost(
    a: int,
    b: int,
    xy: FloatArray,
    tables: FloatArray,
    matrix: FloatArray,
    dummy: int,
    pinned: IntArray,
) -> float:
    """Seconds from node a to node b; the dummy's edges are -BIG to pinned ends, else 0.

    `tables` rows: X times, Y times, then (step_mm, per-command overhead s, 0...).
    """
    if matrix.shape[0] > 0:  # small problems: every cost precomputed, dummy included
        return float(matrix[a, b])
    if a == dummy or b == dummy:
        other = b if a == dummy else a
        return -BIG if pinned[other] else 0.0
    step_mm = tables[2, 0]
    dx = abs(xy[a, 0] - xy[b, 0]) / step_mm
    dy = abs(xy[a, 1] - xy[b, 1]) / step_mm
    return max(axis_time(tables[0], dx), axis_time(tables[1], dy)) + float(tables[2, 1])


@njit(cache=True)
def cost_matrix(xy: FloatArray, tables: FloatArray) -> FloatArray:
    """Every travel time between the nodes of `xy`, from the tables (no dummy)."""
    size = len(xy)
    matrix = np.empty((size, size))
    no_matrix = np.zeros((0, 0))
    no_pins = np.zeros(0, dtype=np.int32)
    for a in range(size):
        matrix[a, a] = 0.0
        for b in range(a + 1, size):
            matrix[a, b] = matrix[b, a] = cost(a, b, xy, tables, no_matrix, -1, no_pins)
    return matrix


@njit(cache=True)
def tour_cost(
    tour: IntArray,
    xy: FloatArray,
    tables: FloatArray,
    matrix: FloatArray,
    dummy: int,
    pinned: IntArray,
) -> float:
    total = 0.0
    size = len(tour)
    for index in range(size):
        total += cost(tour[index], tour[(index + 1) % size], xy, tables, matrix, dummy, pinned)
    return total


# ------------------------------------------------------------------------------- moves


@njit(cache=True, inline="always")
def succ(node: int, tour: IntArray, pos: IntArray) -> int:
    # a compare instead of %: this runs millions of times
    index = pos[node] + 1
    return int(tour[0 if index == len(tour) else index])


@njit(cache=True, inline="always")
def pred(node: int, tour: IntArray, pos: IntArray) -> int:
    index = pos[node] - 1
    return int(tour[len(tour) - 1 if index < 0 else index])


@njit(cache=True)
def reverse_positions(tour: IntArray, pos: IntArray, first: int, length: int) -> None:
    """Reverse `length` consecutive positions from `first`, wrapping around the cycle."""
    size = len(tour)
    left, right = first, first + length - 1
    while left < right:
        i, j = left % size, right % size
        node_i, node_j = tour[i], tour[j]
        tour[i], tour[j] = node_j, node_i
        pos[node_j], pos[node_i] = i, j
        left += 1
        right -= 1


@njit(cache=True)
def reverse_path(
    tour: IntArray, pos: IntArray, first_node: int, last_node: int, journal: IntArray
) -> None:
    """Reverse the path first..last (forward), or its complement if that is shorter.

    Both give the same cycle up to orientation. The reversal is appended to `journal`
    (row 0 holds the count) so it can be replayed backwards to undo.
    """
    size = len(tour)
    first = int(pos[first_node])
    length = (pos[last_node] - first) % size + 1
    if 2 * length > size:
        first = (pos[last_node] + 1) % size
        length = size - length
    if length > 1:
        reverse_positions(tour, pos, first, length)
        count = journal[0, 0]
        if count + 1 < len(journal):
            journal[count + 1, 0] = first
            journal[count + 1, 1] = length
        journal[0, 0] = count + 1


@njit(cache=True)
def two_opt_move(
    a: int, b: int, c: int, d: int, tour: IntArray, pos: IntArray, journal: IntArray
) -> None:
    """Replace edges (a, b) and (c, d) by (a, c) and (b, d).

    Valid when b follows a and d follows c in the same direction, whichever it is.
    """
    if succ(a, tour, pos) == b:
        reverse_path(tour, pos, b, c, journal)
    else:
        reverse_path(tour, pos, a, d, journal)


@njit(cache=True)
def undo(tour: IntArray, pos: IntArray, journal: IntArray) -> None:
    for row in range(journal[0, 0], 0, -1):
        reverse_positions(tour, pos, journal[row, 0], journal[row, 1])
    journal[0, 0] = 0


# ------------------------------------------------------------------------ local search


@njit(cache=True)
def push(node: int, queue: IntArray, queued: NDArray[np.bool_], state: IntArray) -> None:
    """Wake `node` (clear its don't-look bit). state = [head, count]."""
    if queued[node]:
        return
    size = len(queue)
    queue[(state[0] + state[1]) % size] = node
    state[1] += 1
    queued[node] = True


@njit(cache=True, inline="always")
def step(node: int, forward: bool, tour: IntArray, pos: IntArray) -> int:
    return succ(node, tour, pos) if forward else pred(node, tour, pos)


@njit(cache=True)
def try_sequential_opt(
    t1: int,
    tour: IntArray,
    pos: IntArray,
    neighbours: IntArray,
    xy: FloatArray,
    tables: FloatArray,
    matrix: FloatArray,
    dummy: int,
    pinned: IntArray,
    journal: IntArray,
    touched: IntArray,
) -> float:
    """First improving 2-opt move that breaks an edge at `t1`, else the first improving
    sequential 3-opt move (a 2-opt move that does not pay, then one that does).

    Lin-Kernighan's naming: break (t1, t2), join t2 to a near t3, break (t3, t4); close
    with (t4, t1) or go one level deeper from t4. The second level is evaluated on the
    tour as the first flip would leave it, without flipping: only a paying move is made.
    Returns its gain (0 if none) and fills `touched`.
    """
    size = len(tour)
    width = neighbours.shape[1]
    deeper = min(SECOND_LEVEL_NEIGHBOURS, width)
    for direction in range(2):
        forward = direction == 0
        t2 = step(t1, forward, tour, pos)
        removed_12 = cost(t1, t2, xy, tables, matrix, dummy, pinned)
        for k in range(width):
            t3 = neighbours[t2, k]
            if t3 < 0:
                break
            if t3 == t1:
                continue
            g1 = removed_12 - cost(t2, t3, xy, tables, matrix, dummy, pinned)
            if g1 <= EPSILON:
                break
            t4 = step(t3, not forward, tour, pos)
            if t4 == t2:
                continue
            open_gain = g1 + cost(t3, t4, xy, tables, matrix, dummy, pinned)
            gain = open_gain - cost(t4, t1, xy, tables, matrix, dummy, pinned)
            if gain > EPSILON:
                two_opt_move(t1, t2, t4, t3, tour, pos, journal)
                touched[0], touched[1], touched[2], touched[3] = t1, t2, t3, t4
                return gain
            # the first flip would reverse t2..t4 (walking away from t1): inside it the
            # tour's directions swap, which decides t6 without flipping
            span = (pos[t4] - pos[t2]) % size if forward else (pos[t2] - pos[t4]) % size
            for m in range(deeper):
                t5 = neighbours[t4, m]
                if t5 < 0:
                    break
                if t5 in (t1, t3):
                    continue
                g2 = open_gain - cost(t4, t5, xy, tables, matrix, dummy, pinned)
                if g2 <= EPSILON:
                    break
                offset = (pos[t5] - pos[t2]) % size if forward else (pos[t2] - pos[t5]) % size
                t6 = step(t5, forward == (offset <= span), tour, pos)
                if t6 == t4:
                    continue
                gain = (
                    g2
                    + cost(t5, t6, xy, tables, matrix, dummy, pinned)
                    - cost(t6, t1, xy, tables, matrix, dummy, pinned)
                )
                if gain > EPSILON:
                    two_opt_move(t1, t2, t4, t3, tour, pos, journal)
                    two_opt_move(t1, t4, t6, t5, tour, pos, journal)
                    touched[0], touched[1], touched[2], touched[3] = t1, t2, t3, t4
                    touched[4], touched[5] = t5, t6
                    return gain
    return 0.0


@njit(cache=True)
def try_node_insertion(
    a: int,
    tour: IntArray,
    pos: IntArray,
    neighbours: IntArray,
    xy: FloatArray,
    tables: FloatArray,
    matrix: FloatArray,
    dummy: int,
    pinned: IntArray,
    journal: IntArray,
    touched: IntArray,
) -> float:
    """First improving move of `a` alone between two neighbours of a near node.

    The Or-opt move for one node: longer segments are left to the 3-opt moves, which
    find most of those (measured: adding them cost more time than they saved).
    """
    if len(tour) < 5:
        return 0.0
    p, n = pred(a, tour, pos), succ(a, tour, pos)
    removed = (
        cost(p, a, xy, tables, matrix, dummy, pinned)
        + cost(a, n, xy, tables, matrix, dummy, pinned)
        - cost(p, n, xy, tables, matrix, dummy, pinned)
    )
    if removed <= EPSILON:
        return 0.0
    for k in range(min(INSERTION_NEIGHBOURS, neighbours.shape[1])):
        c = neighbours[a, k]
        if c < 0 or cost(a, c, xy, tables, matrix, dummy, pinned) >= removed:
            break
        for side in range(2):
            g1 = c if side == 0 else pred(c, tour, pos)
            g2 = succ(c, tour, pos) if side == 0 else c
            if g1 in (a, n) or g2 in (a, p):
                continue  # where it is, or a swap with a neighbour (a 2-opt move)
            added = (
                cost(g1, a, xy, tables, matrix, dummy, pinned)
                + cost(a, g2, xy, tables, matrix, dummy, pinned)
                - cost(g1, g2, xy, tables, matrix, dummy, pinned)
            )
            if removed - added > EPSILON:
                two_opt_move(p, a, g1, g2, tour, pos, journal)
                two_opt_move(p, g1, n, a, tour, pos, journal)
                touched[0], touched[1], touched[2], touched[3], touched[4] = p, n, g1, g2, a
                return removed - added
    return 0.0


@njit(cache=True)
def local_search(
    tour: IntArray,
    pos: IntArray,
    neighbours: IntArray,
    xy: FloatArray,
    tables: FloatArray,
    matrix: FloatArray,
    dummy: int,
    pinned: IntArray,
    queue: IntArray,
    queued: NDArray[np.bool_],
    state: IntArray,
    journal: IntArray,
) -> float:
    """2-opt, 3-opt and node insertion until no awake node improves; returns the gain."""
    touched = np.full(6, NO_NODE, dtype=np.int32)
    total_gain = 0.0
    size = len(queue)
    while state[1] > 0:
        if journal[0, 0] + 4 >= len(journal):
            break  # the journal must stay complete for an undo
        a = int(queue[state[0]])
        state[0] = (state[0] + 1) % size
        state[1] -= 1
        queued[a] = False
        touched[:] = NO_NODE
        gain = try_sequential_opt(
            a, tour, pos, neighbours, xy, tables, matrix, dummy, pinned, journal, touched
        )
        if gain <= 0.0:
            gain = try_node_insertion(
                a, tour, pos, neighbours, xy, tables, matrix, dummy, pinned, journal, touched
            )
        if gain > 0.0:
            total_gain += gain
            push(a, queue, queued, state)
            for node in touched:
                if node >= 0:
                    push(int(node), queue, queued, state)
    return total_gain


# ------------------------------------------------------------------------- improvement


@njit(cache=True)
def seed_random(seed: int) -> None:
    np.random.seed(seed)


@njit(cache=True)
def segment_swap_kick(
    tour: IntArray,
    pos: IntArray,
    neighbours: IntArray,
    xy: FloatArray,
    tables: FloatArray,
    matrix: FloatArray,
    dummy: int,
    pinned: IntArray,
    window: int,
    journal: IntArray,
    kicked: IntArray,
) -> float:
    """Swap two short adjacent segments near a random node (a local double bridge).

    Returns the cost change; the six end nodes go to `kicked`.
    """
    size = len(tour)
    start = np.random.randint(0, size)
    x = tour[start]
    cut1 = np.random.randint(1, window - 1)
    near = neighbours[x, np.random.randint(0, neighbours.shape[1])]
    if near >= 0:
        offset = (pos[near] - start) % size
        if 2 <= offset <= window - 1:
            cut1 = offset - 1  # Q starts next to x: a kick that costs little
    cut2 = np.random.randint(cut1 + 1, window)
    p1, p2 = tour[(start + 1) % size], tour[(start + cut1) % size]
    q1, q2 = tour[(start + cut1 + 1) % size], tour[(start + cut2) % size]
    y = tour[(start + cut2 + 1) % size]
    delta = (
        cost(x, q1, xy, tables, matrix, dummy, pinned)
        + cost(q2, p1, xy, tables, matrix, dummy, pinned)
        + cost(p2, y, xy, tables, matrix, dummy, pinned)
        - cost(x, p1, xy, tables, matrix, dummy, pinned)
        - cost(p2, q1, xy, tables, matrix, dummy, pinned)
        - cost(q2, y, xy, tables, matrix, dummy, pinned)
    )
    if delta > BIG / 2:
        return delta  # it would unpin a fixed end: the caller skips it
    # x P Q y -> x Q P y: reverse P Q as a whole, then each part back
    journal_row = journal[0, 0] + 1
    reverse_positions(tour, pos, start + 1, cut2)
    reverse_positions(tour, pos, start + 1, cut2 - cut1)
    reverse_positions(tour, pos, start + 1 + cut2 - cut1, cut1)
    journal[journal_row, 0], journal[journal_row, 1] = (start + 1) % size, cut2
    journal[journal_row + 1, 0], journal[journal_row + 1, 1] = (start + 1) % size, cut2 - cut1
    journal[journal_row + 2, 0] = (start + 1 + cut2 - cut1) % size
    journal[journal_row + 2, 1] = cut1
    journal[0, 0] += 3
    kicked[0], kicked[1], kicked[2], kicked[3], kicked[4], kicked[5] = x, p1, p2, q1, q2, y
    return delta


@njit(cache=True)
def improve(
    tour: IntArray,
    pos: IntArray,
    neighbours: IntArray,
    xy: FloatArray,
    tables: FloatArray,
    matrix: FloatArray,
    dummy: int,
    pinned: IntArray,
    kicks: int,
    window: int,
    queue: IntArray,
    queued: NDArray[np.bool_],
    state: IntArray,
    journal: IntArray,
) -> float:
    """`kicks` rounds of iterated local search; keeps a round unless it lengthens the tour
    (ties are kept: drifting across equal tours helps the next kicks). Returns the gain."""
    kicked = np.full(6, NO_NODE, dtype=np.int32)
    total_gain = 0.0
    for _ in range(kicks):
        journal[0, 0] = 0
        delta = segment_swap_kick(
            tour, pos, neighbours, xy, tables, matrix, dummy, pinned, window, journal, kicked
        )
        if delta > BIG / 2:
            continue
        for node in kicked:
            push(int(node), queue, queued, state)
        gain = local_search(
            tour, pos, neighbours, xy, tables, matrix, dummy, pinned, queue, queued, state, journal
        )
        if gain - delta > -EPSILON:
            total_gain += gain - delta
        else:
            while state[1] > 0:  # forget the wake-ups of a rejected round
                queued[queue[state[0]]] = False
                state[0] = (state[0] + 1) % len(queue)
                state[1] -= 1
            undo(tour, pos, journal)
    journal[0, 0] = 0
    return total_gain
