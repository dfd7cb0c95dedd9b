"""The device's copy bandwidth reference (b = a, 2 arrays counted), a
grid-stride kernel like the ones it is compared with. Imported only when a
CUDA target is present (module level, so the simulator can run it too)."""
from numba import cuda


@cuda.jit
def copy(b, a):
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for i in range(start, a.size, stride):
        b[i] = a[i]
