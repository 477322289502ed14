"""The Stable-Baselines3 example in the README runs as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

EXAMPLE = Path(__file__).resolve().parents[1] / "README.md"


def _section(text: str, heading: str) -> str:
    start = text.index(heading)
    end = re.search(r"\n#{2,3} ", text[start + len(heading):])
    end = -1 if end is None else start + len(heading) + end.start()
    return text[start:] if end < 0 else text[start:end]


def test_sb3_example_runs_as_written():
    pytest.importorskip("stable_baselines3")
    section = _section(EXAMPLE.read_text(), "### Training with Stable-Baselines3")
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    assert len(blocks) == 1
    torch.set_num_threads(1)
    namespace: dict = {}
    exec(compile(blocks[0], str(EXAMPLE), "exec"), namespace)  # noqa: S102 -- our own document
    model, outcome = namespace["model"], namespace["info"]["outcome"]
    assert model.num_timesteps == 512
    assert outcome.seating == {"player_1": "learner", "player_2": "minimax"}
    assert outcome.ranks["player_2"] == 1  # nobody beats perfect play
