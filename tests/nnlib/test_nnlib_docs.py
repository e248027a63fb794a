"""docs/nnlib.md's runnable tour runs as written (a changed API breaks this test, not a
reader's first try)."""

import re
from pathlib import Path

PAGE = Path(__file__).resolve().parents[2] / "docs" / "nnlib.md"


def test_the_runnable_tour_runs_and_trains(capsys):
    blocks = re.findall(r"<!-- runnable -->\n```python\n(.*?)```", PAGE.read_text(), re.S)
    assert len(blocks) == 1
    exec(compile(blocks[0], str(PAGE), "exec"), {"__name__": "docs_tour"})
    out = capsys.readouterr().out
    # Each part printed its line, and the norm-layer model learned the XOR of the signs.
    accuracy = float(re.search(r"batch \+ layer norm, adagrad: accuracy (\S+)", out).group(1))
    assert accuracy > 0.8
    assert "per-step cosine" in out and "one_cycle" in out and "early_stopped" in out
    assert "0.005" in re.search(r"lr per epoch: (.*)", out).group(1)  # plateau halved the lr
