"""Block reductions in a fixed order, shared by the cuda kernels.

Every block folds its threads' partials (float64 for statistics and
penalties, the layer's dtype for bias gradients) through shared memory in a
tree whose shape depends only on the block's size, never on timing, so a
reduction gives the same bits on every run. No atomics anywhere.
"""
from numba import cuda

from ._launch import MAX_BLOCKS, SIMULATOR

RED = 32 if SIMULATOR else 256     # threads of a 1-D reduction block (a power of two)

# 2-D blocks for column reductions over a (rows, columns) array: threadIdx.x
# is the column within a tile of COLS, threadIdx.y the row group; thread
# (c, r) walks rows r, r + ROWS, ... A warp then reads 32 / COLS rows of COLS
# adjacent values: whole 32-byte sectors for float32, so nothing is fetched
# that is not used, while COLS stays small enough that even 1,024 features
# give 128 blocks to spread over the GPU.
COLS = 4 if SIMULATOR else 8
ROWS = 4 if SIMULATOR else 64       # a power of two


# 2-D blocks for row reductions over a (rows, columns) array (softmax rows):
# threadIdx.x is the lane within a row of LANES threads (a warp on a GPU,
# reading the row together, coalesced), threadIdx.y the row within the
# block's RPB rows
LANES = 4 if SIMULATOR else 32     # a power of two
RPB = 4 if SIMULATOR else 8


def row_grid(rows):
    """(blocks, threads) for the row kernels: RPB rows of LANES per block
    (grid-stride beyond MAX_BLOCKS groups of rows)."""
    return max(1, min(MAX_BLOCKS, (rows + RPB - 1) // RPB)), (LANES, RPB)


def column_grid(n_cols):
    """(blocks, threads) for the column-tile kernels over n_cols columns:
    a block per tile of COLS (grid-stride beyond MAX_BLOCKS tiles)."""
    return max(1, min(MAX_BLOCKS, (n_cols + COLS - 1) // COLS)), (COLS, ROWS)


@cuda.jit(device=True)
def block_sum(part, t, s):
    """Fold each thread's partial s into part[0] in a fixed tree; the total.

    ``part`` is a shared array of RED, ``t`` the thread's index.
    Ends with a barrier after every thread has read the total, so the
    caller may reuse ``part`` at once.
    """
    part[t] = s
    cuda.syncthreads()
    h = RED // 2
    while h > 0:
        if t < h:
            part[t] += part[t + h]
        cuda.syncthreads()
        h //= 2
    total = part[0]
    cuda.syncthreads()
    return total


@cuda.jit(device=True)
def column_sum(part, s):
    """Sum the partials s of a column's ROWS row groups in a fixed tree.

    ``part`` is a shared (ROWS, COLS) array. Every thread of the
    column gets the total; ends with a barrier, so ``part`` may be reused.
    """
    c, r = cuda.threadIdx.x, cuda.threadIdx.y
    part[r, c] = s
    cuda.syncthreads()
    h = ROWS // 2
    while h > 0:
        if r < h:
            part[r, c] += part[r + h, c]
        cuda.syncthreads()
        h //= 2
    total = part[0, c]
    cuda.syncthreads()
    return total


@cuda.jit(device=True)
def column_welford(pn, pmean, pm2, n, mean, m2):
    """Merge the (count, mean, sum of squared deviations) partials of a
    column's ROWS row groups in a fixed tree (Chan et al.'s pairwise
    update); every thread of the column gets the merged (mean, m2).

    ``pn``, ``pmean``, ``pm2``: shared (ROWS, COLS) float64 arrays. Ends
    with a barrier, so they may be reused.
    """
    c, r = cuda.threadIdx.x, cuda.threadIdx.y
    pn[r, c], pmean[r, c], pm2[r, c] = n, mean, m2
    cuda.syncthreads()
    h = ROWS // 2
    while h > 0:
        if r < h:
            na, nb = pn[r, c], pn[r + h, c]
            if nb > 0.0:
                tot = na + nb
                delta = pmean[r + h, c] - pmean[r, c]
                pmean[r, c] += delta * (nb / tot)
                pm2[r, c] += pm2[r + h, c] + delta * delta * (na * nb / tot)
                pn[r, c] = tot
        cuda.syncthreads()
        h //= 2
    mean, m2 = pmean[0, c], pm2[0, c]
    cuda.syncthreads()
    return mean, m2


@cuda.jit(device=True)
def row_fold(part, v, take_max):
    """Fold the LANES values of each row of a block in a fixed tree (max or
    sum); every lane of the row gets the result. ``part`` is a shared
    (RPB, LANES) array; ends with a barrier, so it may be reused."""
    lane, r = cuda.threadIdx.x, cuda.threadIdx.y
    part[r, lane] = v
    cuda.syncthreads()
    h = LANES // 2
    while h > 0:
        if lane < h:
            if take_max:
                part[r, lane] = max(part[r, lane], part[r, lane + h])
            else:
                part[r, lane] += part[r, lane + h]
        cuda.syncthreads()
        h //= 2
    total = part[r, 0]
    cuda.syncthreads()
    return total
