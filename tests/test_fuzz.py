"""The fuzz suite (``tests/fuzz``, hypothesis), in a child process.

A kernel that writes out of bounds may crash the process instead of
raising: run in a child, a crash is this test failing with the child's
output, not the end of the test run. ``FASTNN_FUZZ_PROFILE=long`` runs the
long profile (``tests/fuzz/conftest.py``); CI runs the fixed ``ci`` one.
"""
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_fuzz_suite_in_a_child_process():
    env = {**os.environ, "FASTNN_FUZZ_CHILD": "1", "PYTHONFAULTHANDLER": "1"}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/fuzz"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)
    tail = (proc.stdout + proc.stderr)[-6000:]
    assert proc.returncode == 0, f"the fuzz suite failed (exit {proc.returncode}; negative: killed by a signal)\n{tail}"
    assert " passed" in proc.stdout and " failed" not in proc.stdout, tail
