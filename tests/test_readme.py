"""Every Python example in the README runs as pasted into a plain script.

Each block is written to a file in an empty folder and run with a fresh
interpreter, as a user would run it (``python example.py``): no fixtures,
no ``__main__`` guard added, nothing imported beforehand.
"""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)


def test_the_readme_has_examples():
    assert len(BLOCKS) >= 3


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_example_runs_as_a_script(index, tmp_path):
    script = tmp_path / "example.py"
    script.write_text(BLOCKS[index])
    env = dict(os.environ, FASTNN_VERBOSE="0")
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, f"README example {index + 1} failed:\n{BLOCKS[index]}\n{done.stderr[-3000:]}"
    assert done.stdout.strip(), "each example prints its result"


def test_every_reliability_claim_names_a_test_that_exists():
    """The README's Reliability section cites tests by name: each exists."""
    root = Path(__file__).resolve().parents[1]
    readme = (root / "README.md").read_text()
    section = readme.split("## Reliability", 1)[1].split("\n## ", 1)[0]
    cited = set(re.findall(r"`(test_\w+)`", section))
    assert len(cited) >= 10
    defined = set(re.findall(r"^def (test_\w+)", (root / "tests" / "test_reliability.py").read_text(), re.M))
    assert cited <= defined, f"cited but not defined: {sorted(cited - defined)}"
