"""Tiny PettingZoo envs with the action spaces tests/test_spaces.py needs (importable by the CLI
as ``spaces_envs:<factory>`` with ``tests/`` on ``PYTHONPATH``)."""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces
from pettingzoo.utils.env import ParallelEnv


class Guess(ParallelEnv):
    """Two seats each pick a vector action; reward: closeness of the action to a target the
    observation shows (so a policy can learn it). ``kind`` picks the action space."""

    metadata = {"name": "guess_v0"}

    def __init__(self, kind: str = "multi_discrete", masked: bool = False, length: int = 4):
        self.kind, self.masked, self.length = kind, masked, length
        self.possible_agents = ["p0", "p1"]
        self.agents: list[str] = []
        self._rng = np.random.default_rng(0)

    def action_space(self, agent: str) -> spaces.Space:
        if self.kind == "multi_discrete":
            return spaces.MultiDiscrete([3, 2])
        if self.kind == "box":
            return spaces.Box(-2.0, 2.0, (2,), np.float32)
        if self.kind == "unbounded":
            return spaces.Box(-np.inf, np.inf, (2,), np.float32)
        return spaces.Tuple((spaces.Discrete(2), spaces.Discrete(3)))

    def observation_space(self, agent: str) -> spaces.Space:
        inner = spaces.Box(0.0, 1.0, (3,), np.float32)
        if self.masked:
            return spaces.Dict({"observation": inner, "action_mask": spaces.MultiBinary(5)})
        return inner

    def _obs(self) -> dict[str, Any]:
        out = {}
        for a in self.agents:
            o = self._target.astype(np.float32)
            if self.masked:
                # Component 0 may never be 2, component 1 never 0: masks a test can check.
                out[a] = {"observation": o, "action_mask": np.array([1, 1, 0, 0, 1], np.int8)}
            else:
                out[a] = o
        return out

    def reset(self, seed: int | None = None, options: dict | None = None) -> tuple[dict, dict]:
        if seed is not None:
            self._rng = np.random.default_rng(seed)
        self.agents = list(self.possible_agents)
        self._t = 0
        self._target = self._rng.random(3)
        return self._obs(), {a: {} for a in self.agents}

    def step(self, actions: dict) -> tuple[dict, dict, dict, dict, dict]:
        self._t += 1
        rewards = {}
        for a, act in actions.items():
            if self.masked:
                act = np.asarray(act)
                assert act[0] != 2 and act[1] != 0, f"masked action {act} reached the env"
            rewards[a] = -float(np.abs(np.asarray(act, np.float64)[:2] - self._target[:2]).sum())
        done = self._t >= self.length
        terms = dict.fromkeys(self.agents, done)
        truncs = dict.fromkeys(self.agents, False)
        infos = {a: {} for a in self.agents}
        self._target = self._rng.random(3)
        obs = self._obs()
        if done:
            self.agents = []
        return obs, rewards, terms, truncs, infos

    def close(self) -> None:
        pass


def multi_discrete_env(masked: bool = False) -> Guess:
    return Guess("multi_discrete", masked)


def box_env() -> Guess:
    return Guess("box")


def tuple_action_env() -> Guess:
    return Guess("tuple")


def unbounded_box_env() -> Guess:
    return Guess("unbounded")
