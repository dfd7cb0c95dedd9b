"""All numba options of the cpu backend, in one place.

- ``cache=True`` unless ``FASTNN_NUMBA_CACHE=0``: compiled kernels are kept on
  disk (numba's ``__pycache__`` or ``NUMBA_CACHE_DIR``) so a second process
  starts warm. numba's cache key is the signature, the CPU and the bytecode,
  not the compile options, so a process run with ``FASTNN_PARALLEL=0`` or
  ``NUMBA_BOUNDSCHECK=1`` would leave entries that a normal process loads
  (serial kernels, or the reverse); ``_Cache`` adds those two options to the
  key. numba also checks only the source file of the kernel itself, while a
  kernel's cached code includes every kernel and helper it calls: after an
  edit to ``vecmath.py`` or ``dense.py`` (a ``git pull``, an editable
  install) the step in ``step.py`` would load with the old callees inside,
  out of step with the Python that sizes its workspaces, which is how a
  stale cache can crash a process. ``_Cache`` therefore also keys on a
  digest of every source file of the kernels package. Its ``load_overload``
  works around two more of numba's cache faults: entries saved without the
  hook that starts the thread pool (numba#8578: a segfault), and an index
  that points a signature at another's code (a save race). Where the
  user's cache has no entry, ``_Cache`` loads the one shipped with the
  package (``_shipped``), if it is exactly right for this host and
  source, before compiling.
- ``error_model="numpy"``: division by zero gives inf/nan as in NumPy instead
  of raising (and lets loops vectorise).
- no blanket ``fastmath``; in particular never the ``nnan``/``ninf`` flags,
  which would make ``np.isnan`` lie and hide divergence. The one flag a
  kernel may opt into is ``reassoc`` (``kernel(reassoc=True)``): LLVM may
  then reorder a float sum into vector lanes, which it must be allowed
  to before it vectorises a reduction. It is for sums over fixed chunks:
  the order is set by the compiled code and the chunk, never by the
  threads, so results stay the same for any thread count (they may differ
  in the last bits between machines of different vector width, like any
  BLAS).
- lazy: kernels compile on first call, for the dtypes they are called with;
  nothing compiles at ``import fastnn``.
- per-element helpers (``kernels/scalar.py``, Philox) are compiled with
  ``inline="always"``: numba then inlines them into the calling kernel's IR
  before LLVM sees it. A plain call to another ``@njit`` function is only
  inlined after LLVM's loop vectoriser has run, which left loops over a
  helper scalar (Philox 7x, ``exp``-bound activations several times slower).
- ``serial(kernel)``: the same kernel with every ``prange`` loop, its own
  and those of the fastnn kernels it calls, compiled as a plain loop. The
  compiled training step runs small networks this way: waking a thread pool
  per layer costs more than it saves there, and numba's parallel lowering is
  the larger part of a kernel's compile time (the step compiled in about
  half the time).
- no wrappers nobody calls. numba compiles two wrappers around every
  function besides its code: a C-callable one (for first-class function
  values, which fastnn never uses: ``no_cfunc_wrapper`` on every kernel)
  and the CPython entry point. A kernel whose name starts with an
  underscore, and a serial twin unless made with ``serial(..., python=True)``,
  is only ever called from compiled code, so it is compiled without the
  CPython one either (``no_cpython_wrapper``). Each wrapper is lowered,
  optimised and turned into machine code again in every kernel that links
  the function in, so the two cost python -m fastnn about 4 s of its cold
  compile (33.9-36.0 s against 29.4-32.6 s, alternated cold runs,
  2026-11-23). Calling such a kernel from
  Python would jump through a null entry point; its dispatcher is a
  ``_CompiledOnly``, which raises ``TypeError`` instead.
- a compile is announced: a kernel that Python calls and that neither
  cache has is compiled while the caller waits (seconds, for the training
  step), so one line on stderr says what is compiled, why, that it is once
  per machine, and when it is done, how long it took (``_Notice``).
  ``FASTNN_VERBOSE=0`` silences it everywhere, ``quiet()`` (``fit(...,
  verbose=False)``) within a block.
- ``FASTNN_PARALLEL=0`` compiles ``prange`` loops as plain ``range`` loops.
  numba's ``NUMBA_BOUNDSCHECK=1`` does not check accesses inside parallel
  loops, so the bounds-checked CI run sets both.
- ``STREAM_MIN_BYTES``: outputs at least this large are written with
  streaming stores (``_stream``); half the last-level cache that sysfs
  lists, or ``FASTNN_STREAM_MIN_BYTES`` (0 streams every output of a kernel
  that can, a huge value none). Kernels read it at run time, so it is not
  part of the disk cache's key.
"""
import contextlib
import functools
import hashlib
import os
import platform
import sys
import threading
import time
import types

from numba import config, njit, prange  # noqa: F401  (prange re-exported for kernels)
from numba.core import sigutils
from numba.core import types as nbtypes
from numba.core.caching import FunctionCache
from numba.core.dispatcher import Dispatcher
from numba.core.registry import CPUDispatcher
from numba.np.ufunc.parallel import _launch_threads

from . import _shipped

CACHE = os.environ.get("FASTNN_NUMBA_CACHE", "1") not in ("0", "false", "False", "")

PARALLEL = os.environ.get("FASTNN_PARALLEL", "1") not in ("0", "false", "False", "")


def last_level_cache_bytes():
    """The largest cache that cpu0 lists in sysfs (Linux), in bytes; 0 if
    there is none to read. The benchmark report names it: 10M-element
    arrays stay partly in a large one, which moves the 10M figures."""
    root = "/sys/devices/system/cpu/cpu0/cache"
    best = 0
    try:
        for d in os.listdir(root):
            if d.startswith("index"):
                with open(os.path.join(root, d, "size")) as f:
                    s = f.read().strip()
                mult = {"K": 1024, "M": 1024 ** 2, "G": 1024 ** 3}.get(s[-1:], 1)
                best = max(best, int(s.rstrip("KMG")) * mult)
    except (OSError, ValueError):
        pass
    return best


def _stream_min_bytes():
    # outputs of at least this many bytes are written with streaming stores
    env = os.environ.get("FASTNN_STREAM_MIN_BYTES")
    if env is not None:
        try:
            return int(env)
        except ValueError:
            raise ValueError(f"FASTNN_STREAM_MIN_BYTES must be a whole number of bytes, got {env!r}") from None
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return 1 << 62   # _stream.fence is x86's sfence; elsewhere nothing streams
    return (last_level_cache_bytes() or 32 * 1024 ** 2) // 2   # 32 MiB when unknown


STREAM_MIN_BYTES = _stream_min_bytes()

_OPTIONS = dict(error_model="numpy", nogil=True, no_cfunc_wrapper=True)


_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@functools.lru_cache(maxsize=None)
def source_digest(root=_PACKAGE):
    """SHA-256 over the relative paths and bytes of every ``.py`` file under
    ``root`` (default: the kernels package), in a fixed order."""
    h = hashlib.sha256()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()                      # os.walk descends in this order
        dirnames[:] = [d for d in dirnames if d != "__pycache__"]
        for name in sorted(filenames):
            if name.endswith(".py"):
                path = os.path.join(dirpath, name)
                h.update(os.path.relpath(path, root).replace(os.sep, "/").encode() + b"\0")
                with open(path, "rb") as f:
                    h.update(f.read() + b"\0")
    return h.hexdigest()


class _Cache(FunctionCache):
    """numba's disk cache keyed also on ``FASTNN_PARALLEL``,
    ``NUMBA_BOUNDSCHECK`` and ``source_digest()``: a
    kernel's cached code includes the kernels it calls, so the key holds the
    process-wide options and the whole package's source, not only the
    kernel's own."""

    def __init__(self, py_func, python=True):
        super().__init__(py_func)
        self._options = ("parallel" if PARALLEL else "serial", "boundscheck" if config.BOUNDSCHECK else "",
                         "python" if python else "compiled-only")

    def _index_key(self, sig, codegen):
        return super()._index_key(sig, codegen) + self._options + (source_digest(),)

    def load_overload(self, sig, target_context):
        """numba's load, else the shipped entry, guarded against two ways a
        cache entry goes wrong."""
        cres = super().load_overload(sig, target_context)
        if cres is None:
            cres = _shipped.load(self, sig, target_context)
        if cres is None:
            _Notice.missed(self._py_func, sig)
            return None
        if tuple(cres.signature.args) != tuple(sigutils.normalize_signature(sig)[0]):
            # Two processes that save different signatures of one kernel at
            # the same moment can both give theirs the same data file, and
            # the index then points one signature at the other's code; numba
            # would load it and fail every call ("can't unbox array") until
            # the cache is deleted. Compiling instead rewrites the entry.
            return None
        # numba (0.68; numba#8578, #9938) runs a loaded entry's reload_init,
        # which starts the threading layer, but does not put it back on the
        # loaded library. A kernel compiled later in the same process that
        # calls this one links that library and inherits nothing, so its own
        # entry is saved without the hook, and a fresh process that loads
        # that entry first calls a null thread-pool entry point: process 1
        # trains (compiles _normalize), process 2 compiles
        # batchnorm_forward_eval with _normalize from the cache, process 3
        # runs the eval: segfault. So the hook goes back on the library, and
        # a kernel with prange loops at any depth starts the threading layer
        # itself whatever its entry says (idempotent, as when numba compiles).
        hooks = getattr(cres.library, "_reload_init", None)    # numba's private set; may go
        if isinstance(hooks, set):
            hooks.update(cres.reload_init)
        if _threads(self._py_func):
            _launch_threads()
        return cres


VERBOSE = os.environ.get("FASTNN_VERBOSE", "1") not in ("0", "false", "False", "")
_local = threading.local()      # per thread: compile depth, quiet blocks, the notice being shown


@contextlib.contextmanager
def quiet():
    """No compile notice from this thread inside the block."""
    _local.quiet = getattr(_local, "quiet", 0) + 1
    try:
        yield
    finally:
        _local.quiet -= 1


class _Notice:
    """The one line that says a kernel is being compiled:
    ``fastnn: compiling the training step (float32) for this machine, once
    (<why>) ... 18.2 s``. Written when the outermost compile finds no cache
    entry, finished when that compile returns; kernels compiled beneath it
    are part of it. A kernel that compiled code calls but Python never
    does would be compiled inside its caller, so this covers every compile
    a user waits for."""

    @staticmethod
    def missed(py_func, sig):
        if getattr(_local, "depth", 0) != 1 or getattr(_local, "notice", None) is not None:
            return
        if not VERBOSE or getattr(_local, "quiet", 0):
            return
        name = py_func.__name__.removesuffix("_serial").replace("_", " ")
        dtypes = sorted({str(a.dtype) for a in sigutils.normalize_signature(sig)[0]
                         if isinstance(a, nbtypes.Array) and isinstance(a.dtype, nbtypes.Float)})
        what = f"{name} ({', '.join(dtypes)})" if dtypes else name
        sys.stderr.write(f"fastnn: compiling {what} for this machine, once ({_shipped.why_not()}; "
                         f"kept in numba's disk cache) ...")
        sys.stderr.flush()
        _local.notice = time.perf_counter()

    @staticmethod
    def done():
        t0, _local.notice = getattr(_local, "notice", None), None
        if t0 is not None:
            sys.stderr.write(f" {time.perf_counter() - t0:.1f} s\n")
            sys.stderr.flush()


class _Kernel(CPUDispatcher):
    """numba's dispatcher, compiling for the types of the arguments and never
    for their values. A call from compiled code with a constant argument
    (``gemm_rows(dw, x, dz, True, False, ...)``, ``_view(acts, 0, ...)``)
    types it as a literal, and numba's dispatcher compiles a specialisation
    per literal value: gemm_rows and the BLAS call under it compiled three
    times each in python -m fastnn. Kernels branch on such flags outside their
    loops, so one compile serves every value; the caller casts its constant."""

    def get_call_template(self, args, kws):
        return super().get_call_template(tuple(nbtypes.unliteral(a) for a in args),
                                         {k: nbtypes.unliteral(v) for k, v in kws.items()})

    def compile(self, sig):
        # the depth tells the notice which compile is the outermost
        _local.depth = getattr(_local, "depth", 0) + 1
        try:
            return super().compile(sig)
        finally:
            _local.depth -= 1
            if _local.depth == 0:
                _Notice.done()
            if type(self) is _Kernel and _threads(self.py_func):
                self.__class__ = _Threaded


_POOL_LOCK = threading.Lock()
_pool_shared = None


def _one_caller_at_a_time():
    """Whether numba's thread pool takes one Python thread at a time: its
    ``workqueue`` layer (the fallback where neither TBB nor OpenMP is
    available, or when asked for) aborts the process when two threads enter
    parallel code at once. The ``omp`` and ``tbb`` layers are threadsafe."""
    global _pool_shared
    if _pool_shared is None:
        with _POOL_LOCK:
            if _pool_shared is None:
                import numba
                _launch_threads()
                _pool_shared = numba.threading_layer() == "workqueue"
    return _pool_shared


class _Threaded(_Kernel):
    """A kernel with ``prange`` loops at some depth, called from Python: on
    the ``workqueue`` layer, calls from several threads (two models trained
    at once) take turns instead of aborting the process. Only these
    dispatchers pay for the check (about 0.4 us a call); serial kernels and
    twins keep numba's own call path."""

    def __call__(self, *args, **kwargs):
        if _one_caller_at_a_time():
            with _POOL_LOCK:
                return CPUDispatcher.__call__(self, *args, **kwargs)
        return CPUDispatcher.__call__(self, *args, **kwargs)


class _CompiledOnly(_Kernel):
    """The dispatcher of a kernel compiled without numba's CPython wrapper
    (see above): compiled callers link it in as usual; a call from Python
    raises instead of jumping through the missing entry point."""

    def __call__(self, *args, **kwargs):
        raise TypeError(f"{self.py_func.__module__}.{self.py_func.__qualname__} is called only from "
                        "compiled kernels (it has no Python entry point); call the public kernel instead")


def _jit(f, parallel, reassoc=False, python=True):
    d = njit(parallel=parallel, fastmath={"reassoc"} if reassoc else False, no_cpython_wrapper=not python,
             **_OPTIONS)(f)
    # threaded from the first call on: the kernels it calls are defined above
    # it (a callee defined later is caught when it compiles, in _Kernel.compile)
    d.__class__ = (_Threaded if parallel or _threads(f) else _Kernel) if python else _CompiledOnly
    if CACHE:
        d._cache = _Cache(f, python)
    return d


def kernel(fn=None, *, parallel=False, inline=False, reassoc=False):
    """Decorate a cpu kernel with fastnn's numba options.

    ``parallel=True`` enables ``prange``; use it only where each thread owns
    the outputs it writes. ``inline=True`` for per-element helpers called in
    a kernel's inner loop (see above). ``reassoc=True`` lets LLVM reorder
    float sums (see above); an inline helper takes its caller's flags. A
    kernel named with a leading underscore is callable from compiled code
    only (see above).
    """
    def wrap(f):
        if inline:       # never compiled on its own, so never cached
            return njit(inline="always", **_OPTIONS)(f)
        _KERNELS[f] = parallel and PARALLEL
        if reassoc:
            _REASSOC.add(f)
        return _jit(f, parallel and PARALLEL, reassoc, python=not f.__name__.startswith("_"))
    return wrap(fn) if fn is not None else wrap


# py_func -> whether it was compiled with parallel=True, for every non-inline
# kernel; and the serial twins made so far (one per kernel, shared by callers)
_KERNELS = {}
_TWINS = {}
_REASSOC = set()     # kernels compiled with fastmath={"reassoc"}


def _callees(f):
    """The fastnn kernels ``f`` names (its globals that are kernels' dispatchers)."""
    for name in f.__code__.co_names:
        v = f.__globals__.get(name)
        if isinstance(v, Dispatcher) and v.py_func in _KERNELS:
            yield name, v


def _threads(f, seen=()):
    # whether f or a kernel it calls, at any depth, has prange loops
    if _KERNELS.get(f):
        return True
    return any(_threads(v.py_func, seen + (f,)) for _, v in _callees(f) if v.py_func not in seen)


def serial(dispatcher, python=False):
    """``dispatcher``'s kernel compiled with no thread pool: its own ``prange``
    loops and those of every fastnn kernel it calls run as plain loops.
    With ``python=False`` the twin is callable from compiled code only (see
    above); the entry points that Python calls ask for ``python=True``.

    The twin is a second numba function over the same code, with the
    callees in its globals replaced by their twins, and ``_serial`` appended
    to its qualified name so numba's disk cache keeps the two apart. Kernels
    without prange loops anywhere below them are shared, not copied.
    """
    f = dispatcher.py_func
    if not _threads(f):
        return dispatcher
    if f in _TWINS and python and isinstance(_TWINS[f], _CompiledOnly):
        raise ValueError(f"serial twin of {f.__qualname__} was made for compiled callers only; "
                         "make it with python=True before any kernel that calls it")
    if f not in _TWINS:
        g = dict(f.__globals__)
        for name, v in _callees(f):
            g[name] = serial(v)
        twin = types.FunctionType(f.__code__, g, f.__name__, f.__defaults__, f.__closure__)
        twin.__qualname__ = f.__qualname__ + "_serial"
        twin.__module__, twin.__doc__ = f.__module__, f.__doc__
        _TWINS[f] = _jit(twin, False, f in _REASSOC, python)
    return _TWINS[f]
