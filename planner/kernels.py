"""Compiled (numba) kernels of the tour optimiser: the metric, moves and local search.

The tour is a cycle stored as `tour` (node at each position) and `pos` (position of each
node). Every change is a 2-opt "flip" that reverses the shorter side of the cycle; an
Or-opt move is two or three flips. Flips are journaled, so a perturbation that does not
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
OR_OPT_NEIGHBOURS = 5
MAX_SEGMENT = 3
"""Or-opt tries only the nearest few insertion points: most of its gains come from there,
and each candidate costs a dozen metric evaluations."""

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


@njit(cache=True)
def move_segment(
    p: int,
    s1: int,
    s2: int,
    n: int,
    g1: int,
    g2: int,
    forward: bool,
    tour: IntArray,
    pos: IntArray,
    journal: IntArray,
) -> None:
    """Move the path s1..s2 (between p and n) into the edge (g1, g2).

    Result: p-n, and g1-s1..s2-g2 when `forward`, else g1-s2..s1-g2. Two or three flips.
    """
    two_opt_move(p, s1, g1, g2, tour, pos, journal)
    two_opt_move(p, g1, n, s2, tour, pos, journal)
    if forward:
        two_opt_move(g1, s2, s1, g2, tour, pos, journal)


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


@njit(cache=True)
def try_two_opt(
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
    """First improving 2-opt move at `a`; returns its gain (0 if none). Fills `touched`."""
    for direction in range(2):
        b = succ(a, tour, pos) if direction == 0 else pred(a, tour, pos)
        d_ab = cost(a, b, xy, tables, matrix, dummy, pinned)
        for k in range(neighbours.shape[1]):
            c = neighbours[a, k]
            if c < 0:
                break
            g1 = d_ab - cost(a, c, xy, tables, matrix, dummy, pinned)
            if g1 <= EPSILON:
                break
            d = succ(c, tour, pos) if direction == 0 else pred(c, tour, pos)
            if c == b or d == a:
                continue
            gain = (
                g1
                + cost(c, d, xy, tables, matrix, dummy, pinned)
                - cost(b, d, xy, tables, matrix, dummy, pinned)
            )
            if gain > EPSILON:
                if direction == 0:
                    two_opt_move(a, b, c, d, tour, pos, journal)
                else:
                    two_opt_move(b, a, d, c, tour, pos, journal)
                touched[0], touched[1], touched[2], touched[3] = a, b, c, d
                return gain
    return 0.0


@njit(cache=True, inline="always")
def in_segment(node: int, s1: int, length: int, tour: IntArray, pos: IntArray) -> bool:
    offset = pos[node] - pos[s1]
    return bool((offset + len(tour) if offset < 0 else offset) < length)


@njit(cache=True)
def try_or_opt(
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
    """First improving move of the 1-3 node segments starting at `a` (either way round).

    Segments ending at `a` are left to their own first node: checking them too found
    slightly better moves per node but fewer per second, a worse trade in the ILS.
    """
    size = len(tour)
    for length in range(1, MAX_SEGMENT + 1):
        if size < length + 4:
            break
        s1 = s2 = a
        for _ in range(length - 1):
            s2 = succ(s2, tour, pos)
        p, n = pred(s1, tour, pos), succ(s2, tour, pos)
        removed = (
            cost(p, s1, xy, tables, matrix, dummy, pinned)
            + cost(s2, n, xy, tables, matrix, dummy, pinned)
            - cost(p, n, xy, tables, matrix, dummy, pinned)
        )
        if removed <= EPSILON:
            continue
        for end in range(2):
            x = s1 if end == 0 else s2
            for k in range(min(OR_OPT_NEIGHBOURS, neighbours.shape[1])):
                c = neighbours[x, k]
                if c < 0:
                    break
                if cost(x, c, xy, tables, matrix, dummy, pinned) >= removed:
                    break
                if in_segment(c, s1, length, tour, pos):
                    continue
                for side in range(2):
                    g1 = c if side == 0 else pred(c, tour, pos)
                    g2 = succ(c, tour, pos) if side == 0 else c
                    if g1 == n or g2 == p or in_segment(g1, s1, length, tour, pos):
                        continue
                    if in_segment(g2, s1, length, tour, pos):
                        continue
                    # x sits next to c: that decides the segment's direction
                    forward = (x == s1) == (side == 0)
                    first, last = (s1, s2) if forward else (s2, s1)
                    added = (
                        cost(g1, first, xy, tables, matrix, dummy, pinned)
                        + cost(last, g2, xy, tables, matrix, dummy, pinned)
                        - cost(g1, g2, xy, tables, matrix, dummy, pinned)
                    )
                    gain = removed - added
                    if gain > EPSILON:
                        move_segment(p, s1, s2, n, g1, g2, forward, tour, pos, journal)
                        touched[0], touched[1], touched[2], touched[3] = p, n, g1, g2
                        touched[4], touched[5] = s1, s2
                        return gain
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
    """2-opt and Or-opt until no awake node improves; returns the total gain."""
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
        gain = try_two_opt(
            a, tour, pos, neighbours, xy, tables, matrix, dummy, pinned, journal, touched
        )
        if gain <= 0.0:
            gain = try_or_opt(
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
    cut1 = np.random.randint(1, window - 1)
    cut2 = np.random.randint(cut1 + 1, window)
    x = tour[start]
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
            tour, pos, xy, tables, matrix, dummy, pinned, window, journal, kicked
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
