"""Rebuild the compiled kernels shipped with the package (maintainers).

``python -m fastnn.kernels.precompile`` compiles what a training run uses
for each x86-64 level in ``cpu/_shipped.LEVELS``, in fresh processes side
by side (about two minutes on 2 cores), and replaces ``cpu/_precompiled``.
Run it after any change under ``kernels/``: ``tests/test_shipped.py`` fails
until then. See ``docs/precompiled.md``.
"""
import json

from .cpu._shipped import build

if __name__ == "__main__":
    print(json.dumps(build(), indent=1))
