"""The benchmark summary: each row against the right bandwidth reference."""
import pytest

from fastnn.bench import summarize


def _rec(group, median, **info):
    return {"group": group, "median": median, "extra_info": info}


def test_gpu_rows_use_the_device_copy_and_host_rows_the_host_references():
    n = 1000
    records = [
        _rec("copy|1000|float32", 1e-6, backend="copy", reference="copy", elements=n, bytes=8000),   # 8 GB/s
        _rec("axpy|1000|float32", 1e-6, backend="axpy", reference="axpy", elements=n, bytes=12000),  # 12 GB/s
        _rec("copy|1000|float32|cuda", 1e-8, backend="cuda-copy", reference="copy", elements=n,
             bytes=8000),                                                                               # 800 GB/s
        _rec("relu|1000|float32", 1e-6, backend="cpu", elements=n, bytes=6000),                      # 6 GB/s
        _rec("relu|1000|float32", 4e-6, backend="ref", elements=n, bytes=6000),
        _rec("relu|1000|float32|cuda", 2e-8, backend="cuda", elements=n, bytes=6000),                # 300 GB/s
        _rec("dense|8|float32|cuda", 3e-6, backend="cuda-cublas", elements=8, bytes=8),
        _rec("dense|8|float32|cuda", 2e-6, backend="cuda-gemm-only", reference="gemm"),
    ]
    rows = {(r[0], r[1]): r for r in summarize(records)}
    cpu = rows[("relu|1000|float32", "cpu")]
    assert cpu[4] == pytest.approx(50.0)          # 6 of the best host reference, 12 GB/s
    assert cpu[5] == pytest.approx(4.0)           # vs ref in its group
    gpu = rows[("relu|1000|float32|cuda", "cuda")]
    assert gpu[4] == pytest.approx(37.5)          # 300 of 800 GB/s, not of the host's 12
    assert gpu[5] is None                         # no ref in a GPU group
    assert rows[("dense|8|float32|cuda", "cuda-cublas")][6] == pytest.approx(1.5)
