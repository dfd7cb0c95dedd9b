"""Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2,
3", SC'11), the counter-based generator behind every random mask in fastnn.

One body serves all three backends, because bit-identity across them is the
point: NumPy runs it on uint64 arrays (the ref backend, vectorised over
counters), ``@njit`` compiles it for the cpu backend and
``@cuda.jit(device=True)`` for the cuda backend. Every value is a uint64
holding a 32-bit word; all constants are typed uint64, so neither NumPy nor
numba ever promotes to float.

Output = philox4x32_10(counter (c0, c1, c2, c3), key (k0, k1)): ten rounds of

    (hi0, lo0) = M0 * c0,  (hi1, lo1) = M1 * c2      (32x32 -> 64-bit products)
    c = (hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0)

with the key bumped by the Weyl constants (W0, W1) between rounds.
Checked against the Random123 known-answer vectors in the tests.

How fastnn counts: a stream is keyed by a 64-bit seed (k0 = low word,
k1 = high word); element e of a call with block offset o uses word e % 4 of
the block at counter (o + e // 4) split into (low, high, 0, 0). Each element's
bits depend only on (seed, o, e), never on how the work is split.
"""
import numpy as np

M0 = np.uint64(0xD2511F53)
M1 = np.uint64(0xCD9E8D57)
W0 = np.uint64(0x9E3779B9)
W1 = np.uint64(0xBB67AE85)
LO32 = np.uint64(0xFFFFFFFF)
SHIFT32 = np.uint64(32)


def philox4x32_10(c0, c1, c2, c3, k0, k1):
    """Four 32-bit words (as uint64) from a 128-bit counter and 64-bit key."""
    # The key is bumped after every round (the last bump is unused): a loop
    # body with no branch on r, which LLVM unrolls and vectorises across
    # counters (a conditional first-round skip kept the cpu loop scalar, 7x
    # slower).
    for _ in range(10):
        p0 = M0 * c0
        p1 = M1 * c2
        c0, c1, c2, c3 = ((p1 >> SHIFT32) ^ c1 ^ k0, p1 & LO32,
                          (p0 >> SHIFT32) ^ c3 ^ k1, p0 & LO32)
        k0 = (k0 + W0) & LO32
        k1 = (k1 + W1) & LO32
    return c0, c1, c2, c3


def keep_threshold(keep_prob):
    """Integer threshold t with P(word < t) = keep_prob (to within 2^-32).

    An element is kept when its 32-bit word is below t: an integer compare,
    so every backend makes exactly the same decision.
    """
    return np.uint64(min(int(keep_prob * 4294967296.0), 4294967296))


def blocks(n):
    """Philox blocks (counter values) consumed by n elements: ceil(n / 4)."""
    return (int(n) + 3) // 4
