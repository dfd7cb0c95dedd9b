"""python -m fastnn: the course's experiments, --check and --speed."""
import subprocess
import sys

import pytest

from fastnn.__main__ import main


def test_help_documents_the_options():
    out = subprocess.run([sys.executable, "-m", "fastnn", "--help"], capture_output=True, text=True, check=True)
    for option in ("--backend", "--out", "--no-ref", "--check", "--speed", "init", "digits"):
        assert option in out.stdout


def test_optimization_experiment_table(capsys):
    assert main(["optimization", "--no-ref", "--no-plots"]) == 0
    text = capsys.readouterr().out
    rows = {line[:36].strip(): line.split() for line in text.splitlines() if line.startswith("  ")}
    assert "Adam" in rows and "mini-batch GD" in rows
    # columns: ... train acc, dev acc, cost, epochs, seconds
    adam_dev = float(rows["Adam"][-4])
    assert adam_dev >= 0.9


def test_unknown_experiment_is_refused():
    with pytest.raises(SystemExit):
        main(["no-such-experiment"])
