"""NumPy standing in for CuPy where there is no GPU (the simulator)."""
from .conftest import SIMULATOR


class FakeCupy:
    """NumPy standing in for CuPy: ``asarray`` views a device array's memory
    (the simulator keeps it in a NumPy array) and ``cublas.gemm`` follows
    CuPy's documented contract, ``out = alpha op(a) op(b) + beta out``. It
    checks fastnn's cuBLAS glue (transposes, beta, the epilogue kernel)
    where no GPU is."""

    class cublas:
        @staticmethod
        def gemm(transa, transb, a, b, out=None, alpha=1.0, beta=0.0):
            opa = a.T if transa == "T" else a
            opb = b.T if transb == "T" else b
            # BLAS semantics: with beta == 0, out is not read (it may hold NaN)
            out[...] = alpha * (opa @ opb) + (beta * out if beta != 0 else 0)
            return out

    @staticmethod
    def asarray(a):
        return a._ary if SIMULATOR else a
