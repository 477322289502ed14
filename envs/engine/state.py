"""The state of one env copy: its raw env, generator, seating and running episode totals."""

from __future__ import annotations

from typing import Any

import numpy as np

from envs.opponents import MemberId, Policy

__all__ = ["Copy"]


class Copy:
    """One raw PettingZoo env and everything the engine tracks about its current episode."""

    __slots__ = ("env", "rng", "seed_env", "seating", "policies", "returns", "mark", "length",
                 "illegal", "forced", "redraw", "first_turn", "raw", "flags", "action", "idle")

    def __init__(self, env: Any, rng: np.random.Generator):
        self.env = env
        self.rng = rng
        self.seed_env = True           # the next env.reset() takes a seed drawn from rng
        self.seating: dict[str, MemberId] = {}
        self.policies: dict[str, Policy] = {}
        self.returns: dict[str, float] = {}
        self.mark = 0.0                # learner's return when it was last paid out
        self.length = 0
        self.illegal: str | None = None
        self.forced: dict[str, MemberId] | None = None
        self.redraw = True
        self.first_turn = True         # no learner decision yet in this episode
        self.raw: Any = None           # parallel API: last observation dict
        self.flags: tuple[dict, dict] = ({}, {})  # parallel API: last terminations, truncations
        self.action = 0                # parallel API: the learner's pending action
        self.idle = True               # episode over and not restarted (single env)
