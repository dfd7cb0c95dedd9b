"""Hypothesis profiles of the fuzz suite.

The suite runs in a child process (``tests/test_fuzz.py``), so that a crash
is a failed test instead of the end of the run. ``FASTNN_FUZZ_PROFILE``
picks the profile: ``ci`` (default: a fixed, derandomized budget that fits
CI) or ``long`` (for local runs: ``FASTNN_FUZZ_PROFILE=long pytest
tests/test_fuzz.py``, or ``pytest tests/fuzz`` directly to debug).
"""
import os

from hypothesis import HealthCheck, settings

_COMMON = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                                      HealthCheck.filter_too_much])
settings.register_profile("ci", max_examples=150, derandomize=True, print_blob=True, **_COMMON)
settings.register_profile("long", max_examples=2000, print_blob=True, **_COMMON)
settings.load_profile(os.environ.get("FASTNN_FUZZ_PROFILE", "ci"))
