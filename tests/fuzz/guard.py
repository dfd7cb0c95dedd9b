"""Arrays in guarded memory, and the fuzz suite's oracle.

``guarded(values)`` places an array's bytes in the middle of a larger
buffer whose two ends hold a known pattern; ``intact()`` says whether any
kernel wrote outside its arrays since. An out-of-bounds write that lands
near its array (the usual case: a wrong length, a wrong stride) is caught
there; one that lands far away can crash the process, which the child
process of ``tests/test_fuzz.py`` turns into a failure.
"""
import numpy as np

PATTERN = 0xA5
GUARD_BYTES = 4096


class Arena:
    def __init__(self):
        self.buffers = []

    def guarded(self, values, dtype=None):
        a = np.asarray(values, dtype=dtype)
        if a.dtype.hasobject:
            return a
        nbytes = a.nbytes
        raw = np.full(nbytes + 2 * GUARD_BYTES + 64, PATTERN, np.uint8)
        start = GUARD_BYTES + (-raw[GUARD_BYTES:].__array_interface__["data"][0] % 64)
        out = raw[start:start + nbytes].view(a.dtype).reshape(a.shape)
        out[...] = a
        self.buffers.append((raw, start, start + nbytes))
        return out

    def broken(self):
        """The first buffer whose guard bytes changed, or None."""
        for raw, lo, hi in self.buffers:
            if (raw[:lo] != PATTERN).any() or (raw[hi:] != PATTERN).any():
                return raw, lo, hi
        return None
