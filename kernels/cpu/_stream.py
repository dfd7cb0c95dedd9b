"""Streaming (non-temporal) stores for outputs larger than the cache.

A normal store to a line that is not in cache first reads that line in
(write-allocate), so ``y = f(x)`` over arrays far larger than the last-level
cache moves three array lengths through memory for the two it needs. A
non-temporal store sends whole lines to memory through the write-combining
buffers with no read. On the 2-core AMD EPYC (Zen 4) that the benchmarks run
on, at 10M float32 (40 MB per array), a copy took 0.59x the time with
streaming stores and ``activation_forward`` (relu) 0.83x, timed in
alternation. At 2M elements (8 MB) the streamed relu took 2.3x: the output
would have stayed in cache, and streaming pushes it out to memory. The two
cost the same at about 4M elements, where input and output together fill
the 32 MB last-level cache. Where the arithmetic costs more than the memory
traffic (sigmoid's exp), streaming lost too: the stores of one block no
longer overlap the arithmetic of the next, as cached stores do.

So a kernel streams its output only when the output has at least
``min_bytes()`` bytes, and only where it is bound by memory. The threshold
is ``STREAM_MIN_BYTES`` (``_jit``: half the last-level cache), read at run
time from one process-wide cell (``fastnn_stream_min_bytes``, resolved by
name when compiled code is loaded, like numba's own helpers), never baked
into the code: compiled kernels are then the same on every machine, which
the shipped cache (``_precompiled``) needs, and a cached kernel follows
the threshold of the process that loads it.

The values written are the same bits either way: a kernel computes a chunk
into a small buffer that stays in L1, with its usual loop, then ``store``
copies the buffer out. Only whole lines at line-aligned addresses are
streamed; the elements before the first boundary (``head``) and after the
last whole line go through the usual loop:

    i = head(out)
    usual loop over out[:i]
    while (m := chunk(out, i)) > 0:    # whole lines, up to BLOCK elements
        usual loop into buf[:m]; store(out, i, buf[:m]); i += m
    usual loop over out[i:]
    fence()

``fence`` (x86 ``sfence``) ends a part: streaming stores are weakly ordered,
and the part's results must be visible before another thread reads them.
"""
import ctypes

from llvmlite import binding as ll
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from ._jit import STREAM_MIN_BYTES, kernel  # noqa: F401  (re-exported)

VECTOR = 64   # bytes per streamed store: one cache line (LLVM splits it
              # into two AVX stores where there is no AVX-512)
BLOCK = 2048  # elements per buffer: 8 KiB of float32, well inside L1

# The threshold's cell, kept alive for the life of the process and named in
# the JIT's symbol table so that compiled code, cached or not, reads it.
_SYMBOL = "fastnn_stream_min_bytes"
_CELL = ctypes.c_int64(STREAM_MIN_BYTES)
ll.add_symbol(_SYMBOL, ctypes.addressof(_CELL))


def set_min_bytes(n):
    """Set the streaming threshold of this process (bytes; the tests use it)
    and return the previous one."""
    old, _CELL.value = _CELL.value, int(n)
    return old


@intrinsic
def min_bytes(typingctx):
    """The streaming threshold in bytes, read from the process's cell."""
    sig = types.int64()

    def codegen(context, builder, signature, args):
        cell = builder.module.globals.get(_SYMBOL)
        if cell is None:
            cell = ir.GlobalVariable(builder.module, ir.IntType(64), name=_SYMBOL)
            cell.linkage = "external"
        return builder.load(cell)

    return sig, codegen


@intrinsic
def store(typingctx, dst, lo, src):
    """dst[lo:lo + src.size] = src with non-temporal VECTOR-byte stores.

    The caller guarantees: both 1-D and contiguous with one dtype, the
    address of dst[lo] a multiple of VECTOR, src.size a multiple of the
    lanes per vector and lo + src.size <= dst.size. Nothing is checked
    here: this writes raw memory, which numba's bounds checking does not
    see (``head`` and ``chunk`` give the indices that meet these).
    """
    if not (isinstance(dst, types.Array) and isinstance(src, types.Array) and dst.dtype == src.dtype
            and dst.ndim == src.ndim == 1 and isinstance(lo, types.Integer)):
        return None
    sig = types.void(dst, lo, src)

    def codegen(context, builder, signature, args):
        d, start, s = args
        lt = context.get_value_type(signature.args[0].dtype)
        size = context.get_abi_sizeof(lt)
        vt = ir.VectorType(lt, VECTOR // size)
        da = context.make_array(signature.args[0])(context, builder, d)
        sa = context.make_array(signature.args[2])(context, builder, s)
        start = context.cast(builder, start, signature.args[1], types.intp)
        n = builder.extract_value(sa.shape, 0)
        nontemporal = builder.module.add_metadata([ir.IntType(32)(1)])
        step = ir.Constant(n.type, VECTOR // size)
        with cgutils.for_range_slice(builder, ir.Constant(n.type, 0), n, step) as (i, _):
            v = builder.load(builder.bitcast(builder.gep(sa.data, [i]), vt.as_pointer()), align=size)
            p = builder.bitcast(builder.gep(da.data, [builder.add(start, i)]), vt.as_pointer())
            builder.store(v, p, align=VECTOR).set_metadata("nontemporal", nontemporal)
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def fence(typingctx):
    """x86 ``sfence``: order this thread's streaming stores before what follows."""
    sig = types.void()

    def codegen(context, builder, signature, args):
        fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(ir.VoidType(), []),
                                            "llvm.x86.sse.sfence")
        builder.call(fn, ())
        return context.get_dummy_value()

    return sig, codegen


@kernel(inline=True)
def head(out):
    """Elements of 1-D ``out`` before its first VECTOR-byte boundary
    (``out.size`` when its address is not a multiple of its itemsize, so
    that no store is ever streamed)."""
    addr = out.ctypes.data
    size = out.itemsize
    if addr % size:
        return out.size
    return min(out.size, ((VECTOR - addr % VECTOR) % VECTOR) // size)


@kernel(inline=True)
def chunk(out, i):
    """How many elements of 1-D ``out`` to stream from ``i`` on (``i`` past
    ``head``): up to BLOCK, whole lines only; 0 leaves the rest (less than
    a line) to the usual loop."""
    lanes = VECTOR // out.itemsize
    return min(BLOCK, (out.size - i) // lanes * lanes)
