"""A synthetic image game for benchmarks/spaces_learning.py: ``spaces_games:quadrants``.

Two seats each see their own 24x24x3 uint8 frame with one bright 4x4 spot and name the quadrant
the spot is in (``Discrete(4)``): +1 for the right one, 0 otherwise, eight frames an episode.
A uniform-random policy earns 2 an episode, one that reads the frame 8: a check that the CNN
path learns at all, where a real game's budget is too small to tell.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces
from pettingzoo.utils.env import ParallelEnv

SIZE, SPOT, LENGTH = 24, 4, 8


class Quadrants(ParallelEnv):
    metadata = {"name": "quadrants_v0"}

    def __init__(self) -> None:
        self.possible_agents = ["p0", "p1"]
        self.agents: list[str] = []
        self._rng = np.random.default_rng(0)

    def observation_space(self, agent: str) -> spaces.Box:
        return spaces.Box(0, 255, (SIZE, SIZE, 3), np.uint8)

    def action_space(self, agent: str) -> spaces.Discrete:
        return spaces.Discrete(4)

    def _draw(self) -> dict[str, np.ndarray]:
        obs = {}
        self._answer = {}
        for a in self.agents:
            y, x = self._rng.integers(0, SIZE - SPOT, 2)
            frame = np.zeros((SIZE, SIZE, 3), np.uint8)
            frame[y:y + SPOT, x:x + SPOT] = 255
            cy, cx = y + SPOT / 2, x + SPOT / 2
            self._answer[a] = int(cy >= SIZE / 2) * 2 + int(cx >= SIZE / 2)
            obs[a] = frame
        return obs

    def reset(self, seed: int | None = None, options: dict | None = None) -> tuple[dict, dict]:
        if seed is not None:
            self._rng = np.random.default_rng(seed)
        self.agents = list(self.possible_agents)
        self._t = 0
        return self._draw(), {a: {} for a in self.agents}

    def step(self, actions: dict[str, Any]) -> tuple[dict, dict, dict, dict, dict]:
        rewards = {a: float(int(actions[a]) == self._answer[a]) for a in self.agents}
        self._t += 1
        done = self._t >= LENGTH
        obs = self._draw()
        terms = dict.fromkeys(self.agents, done)
        truncs = dict.fromkeys(self.agents, False)
        infos: dict[str, dict] = {a: {} for a in self.agents}
        if done:
            self.agents = []
        return obs, rewards, terms, truncs, infos

    def close(self) -> None:
        pass


def quadrants() -> Quadrants:
    """The factory the CLI calls (``game.name=spaces_games:quadrants``, benchmarks/ on PYTHONPATH)."""
    return Quadrants()
