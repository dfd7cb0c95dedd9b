"""Training-loop bookkeeping on the device, cuda. Math: ``kernels/ref/metrics.py``.

Each reduction runs in one block of RED threads: thread t takes elements
t, t + RED, ... in order, then the block folds its partials in a fixed tree.
The order depends only on the size, so results are deterministic, and no
atomics are needed. ``segment_norms`` runs one such block per segment.
These are once-per-batch passes over a batch's worth of values.
"""
import math

from numba import cuda, float64

from .. import scalar
from ..codes import COUNTER_BATCH, COUNTER_T
from ._launch import device_function, on_device
from ._reduce import RED, block_sum

_row_argmax = device_function(scalar.row_argmax)

HITS_NONE, HITS_ARGMAX, HITS_THRESHOLD = 0, 1, 2      # step_book_kernel's hit_kind


@cuda.jit
def sum_into_kernel(acc, index, values, scale):
    part = cuda.shared.array(RED, float64)
    t = cuda.threadIdx.x
    s = 0.0
    for i in range(t, values.size, RED):
        s += float64(values[i])
    total = block_sum(part, t, s)
    if t == 0:
        acc[index] += scale * total


@cuda.jit(device=True)
def _argmax_partial(t, logits, labels):
    # thread t's count of rows t, t + RED, ... whose argmax is the label
    s = 0.0
    for i in range(t, logits.shape[0], RED):
        if _row_argmax(logits, i) == labels[i]:
            s += 1.0
    return s


@cuda.jit(device=True)
def _threshold_partial(t, logits, y):
    # thread t's count of entries t, t + RED, ... with (logit > 0) == (y > 0.5)
    zero = type(logits[0, 0])(0)
    half = type(y[0, 0])(0.5)
    k = logits.shape[1]
    s = 0.0
    for e in range(t, logits.size, RED):
        i = e // k
        j = e - i * k
        if (logits[i, j] > zero) == (y[i, j] > half):
            s += 1.0
    return s


@cuda.jit
def argmax_hits_kernel(hits, index, logits, labels):
    part = cuda.shared.array(RED, float64)
    t = cuda.threadIdx.x
    total = block_sum(part, t, _argmax_partial(t, logits, labels))
    if t == 0:
        hits[index] += total


@cuda.jit
def threshold_hits_kernel(hits, index, logits, y):
    part = cuda.shared.array(RED, float64)
    t = cuda.threadIdx.x
    total = block_sum(part, t, _threshold_partial(t, logits, y))
    if t == 0:
        hits[index] += total


@cuda.jit
def step_book_kernel(costs, hits, counters, offsets, blocks, per_example, logits, labels, y, hit_kind):
    """A replayed step's bookkeeping, after its loss: costs[b] = sum of the
    batch's per-example losses (b = counters[COUNTER_BATCH]); hits[0] +=
    its right predictions (hit_kind: HITS_NONE, HITS_ARGMAX over labels,
    HITS_THRESHOLD over y); then the step's counters move on: the batch, the
    optimizer's t, and each fused dropout's Philox offset by its blocks.
    One block: the counters change after every thread has read them."""
    part = cuda.shared.array(RED, float64)
    t = cuda.threadIdx.x
    s = 0.0
    for i in range(t, per_example.size, RED):
        s += float64(per_example[i])
    total = block_sum(part, t, s)
    right = 0.0
    if hit_kind == HITS_ARGMAX:
        right = block_sum(part, t, _argmax_partial(t, logits, labels))
    elif hit_kind == HITS_THRESHOLD:
        right = block_sum(part, t, _threshold_partial(t, logits, y))
    if t == 0:
        costs[counters[COUNTER_BATCH]] = total
        hits[0] += right
        counters[COUNTER_BATCH] += 1
        counters[COUNTER_T] += 1
        for d in range(offsets.size):
            offsets[d] += blocks[d]


@cuda.jit
def segment_norms_kernel(acc, x, starts, stops):
    part = cuda.shared.array(RED, float64)
    seg = cuda.blockIdx.x
    t = cuda.threadIdx.x
    s = 0.0
    for i in range(starts[seg] + t, stops[seg], RED):
        v = float64(x[i])
        s += v * v
    total = block_sum(part, t, s)
    if t == 0:
        acc[seg] += math.sqrt(total)


def sum_into(acc, index, values, scale):
    """acc[index] += scale * sum(values), summed in float64."""
    with on_device([acc], [values]) as ((d_acc,), (d_v,)):
        sum_into_kernel[1, RED](d_acc, index, d_v.reshape(d_v.size), float(scale))


def argmax_hits(hits, index, logits, labels):
    """hits[index] += number of rows whose (first) argmax is the label."""
    with on_device([hits], [logits, labels]) as ((d_h,), (d_z, d_y)):
        argmax_hits_kernel[1, RED](d_h, index, d_z, d_y)


def threshold_hits(hits, index, logits, y):
    """hits[index] += number of entries with (logit > 0) == (target > 0.5)."""
    with on_device([hits], [logits, y]) as ((d_h,), (d_z, d_y)):
        threshold_hits_kernel[1, RED](d_h, index, d_z, d_y)


def segment_norms(acc, x, starts, stops):
    """acc[s] += Euclidean norm of x[starts[s]:stops[s]], in float64."""
    with on_device([acc], [x, starts, stops]) as ((d_acc,), (d_x, d_a, d_b)):
        if d_a.size:
            segment_norms_kernel[d_a.size, RED](d_acc, d_x, d_a, d_b)


def ptx_signatures(ty):
    """Argument types of each kernel here for a float type ``ty`` (PTX tests).

    Accumulators are float64 by contract.
    """
    from numba import types
    m, v, acc = ty[:, ::1], ty[::1], float64[::1]
    return {sum_into_kernel: (acc, types.int64, v, float64),
            argmax_hits_kernel: (acc, types.int64, m, types.intp[::1]),
            threshold_hits_kernel: (acc, types.int64, m, m),
            segment_norms_kernel: (acc, v, types.int64[::1], types.int64[::1]),
            step_book_kernel: (acc, acc, types.int64[::1], types.uint64[::1], types.uint64[::1], v, m,
                               types.intp[::1], m, types.int64)}
