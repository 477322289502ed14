"""The library examples in the README run as written (the SB3 one has its own test)."""

import re
from pathlib import Path

import pytest
import torch

README = Path(__file__).resolve().parents[1] / "README.md"


def _blocks():
    text = README.read_text()
    start = text.index("## Using the pieces as a library")
    end = text.index("\n## ", start + 10)
    return re.findall(r"```python\n(.*?)```", text[start:end], flags=re.S)


def test_pool_example(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code = next(b for b in _blocks() if "Pool.create" in b)
    exec(compile(code, "README.md", "exec"), {})  # noqa: S102 -- our own document
    from league import Pool

    with Pool.open(tmp_path / "my-pool") as pool:
        [m] = pool.members()
        assert m.role == "player_1" and not m.active and m.retired_reason == "demo"


@pytest.mark.slow
def test_training_example_learns():
    torch.set_num_threads(1)
    code = next(b for b in _blocks() if "train(env" in b)
    ns: dict = {}
    exec(compile(code, "README.md", "exec"), ns)  # noqa: S102
    result = ns["result"]
    assert result.best_evaluation.win_rate >= 0.8
