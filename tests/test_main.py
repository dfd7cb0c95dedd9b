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


def test_search_section_runs_asha_and_counts_the_epochs_it_saved(capsys):
    import re
    assert main(["search", "--no-plots"]) == 0
    text = capsys.readouterr().out
    assert "ASHA, 27 trials in rungs of 1, 3 and 9 epochs" in text
    trained, saved, full = map(int, re.search(r"(\d+) epochs trained, (\d+) saved \(\d+%\) against training every "
                                              r"trial for 9 \((\d+)\)", text).groups())
    assert full == 27 * 9 and trained + saved == full
    # every trial trains its first epoch; at least the top third of rung 0 goes on to 3 epochs, and
    # the top third of those to 9; nothing trains past 9
    assert 27 + 9 * 2 + 3 * 6 <= trained < full
    rows = [line.split() for line in text.splitlines() if re.match(r"\s+\d+\s+\d", line)]
    assert rows and all(int(r[3]) in (1, 3, 9) for r in rows)
    assert float(rows[0][4]) <= min(float(r[4]) for r in rows if r[3] == "9")
