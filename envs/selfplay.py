"""PettingZoo games as single-agent Gymnasium envs: the learner in one seat, NPCs in the others.

The engine (``envs.engine``) drives N copies of a raw PettingZoo env (AEC or parallel API),
NPC inference batched by member. ``SelfPlayEnv`` is the engine with one copy (a
``gymnasium.Env``); ``SelfPlayVecEnv`` with N.

Rules the engine holds to (see docs/interfaces.md):

* Reward of a step: what the learner's seat earned since its previous decision (own action and
  every NPC move after it). Rewards earned before the learner's first decision of an episode
  are not paid out (they still count in ``Outcome.returns``).
* Illegal learner action (masked games): handled like PettingZoo's ``TerminateIllegalWrapper``:
  the learner gets ``game.illegal_reward`` (-1), the episode ends (``terminated=True``), the
  learner ranks last and all other seats tie for first; ``Outcome.illegal`` names the seat.
* An episode that ends before the learner has decided anything (everyone folds to the big
  blind in hold'em) is reported as an outcome and dealt again; its seating is kept.
* Opponents are picked at the start of an episode and never change inside it. With
  ``redraw="episode"`` every episode picks; with ``redraw="rollout"`` only the first episode
  started after ``new_rollout()`` (and the very first one).
* Seeds: a copy seeded with ``s`` draws everything (seatings, the game's own seed, NPC samples)
  from ``np.random.default_rng(s)``. ``SelfPlayVecEnv.reset(seed=s)`` seeds copy ``i`` with
  ``s + i``, so copy ``i`` plays exactly what ``SelfPlayEnv.reset(seed=s + i)`` followed by
  plain ``reset()`` calls plays, given the same learner actions. This holds for NPC policies
  that offer ``probs(obs, mask)``; for ones that only offer ``act``, a batch shares one
  generator, so a vectorized run is reproducible for a given seed but not copy-by-copy equal.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np

from envs.engine import Engine, Redraw
from envs.errors import GameConfigError
from envs.game import Game
from envs.opponents import MemberId, OpponentSource, PolicyCache
from envs.spaces import gym_spaces as _space_of

__all__ = ["SelfPlayEnv", "SelfPlayVecEnv"]


class SelfPlayEnv(gym.Env):
    """The learner in ``learner_seat`` of ``game``; ``opponents`` picks and builds the NPCs.

    ``info["action_mask"]`` (bool ``[n_actions]``) and ``action_masks()`` give the legal actions
    (all True for unmasked games and on terminal observations). At the end of an episode
    ``info["outcome"]`` is an ``envs.Outcome``. ``reset(options={"opponents": {seat: id}})``
    forces a seating for that episode; seats it leaves out are picked by the source. A reset
    whose deals ended before the learner could act lists their outcomes in ``info["outcomes"]``.
    """

    metadata = {"render_modes": []}

    def __init__(self, game: Game, learner_seat: str, opponents: OpponentSource, *,
                 redraw: Redraw = "episode", cache_size: int = 8, learner_id: MemberId = "learner"):
        self._engine = Engine(game, learner_seat, opponents, 1, redraw=redraw, cache_size=cache_size,
                               autoreset=False, learner_id=learner_id)
        self.game = game
        self.learner_seat = learner_seat
        self.observation_space, self.action_space = _space_of(game, learner_seat)
        self._last_mask = np.ones(game.n_actions(learner_seat), bool)

    @property
    def cache(self) -> PolicyCache:
        """The LRU cache of opponent policies."""
        return self._engine.cache

    @property
    def seating(self) -> dict[str, MemberId]:
        """Who sits in each NPC seat in the current episode."""
        return dict(self._engine.copies[0].seating)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None
              ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        engine = self._engine
        if seed is not None or engine.copies[0].rng is not self.np_random:
            engine.seed_copy(0, self.np_random)
        engine.force(0, (options or {}).get("opponents"))
        engine.clear_step()
        engine.begin([0])
        info: dict[str, Any] = {"action_mask": engine.mask[0].copy()}
        if engine.outcomes:
            info["outcomes"] = [o for _, o in engine.outcomes]
        self._last_mask = info["action_mask"]
        return engine.obs[0].copy(), info

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        engine = self._engine
        engine.step([int(action)] if engine.discrete else np.asarray(action)[None])
        if engine.ended[0]:
            obs = engine.final_rows[0]
            mask = np.ones(engine.n_actions, bool)
            info: dict[str, Any] = {"action_mask": mask, "outcome": engine.outcomes[-1][1]}
        else:
            obs = engine.obs[0].copy()
            mask = engine.mask[0].copy()
            info = {"action_mask": mask}
        self._last_mask = mask
        return (obs, float(engine.reward[0]), bool(engine.terminated[0]), bool(engine.truncated[0]), info)

    def action_masks(self) -> np.ndarray:
        """Legal actions of the current observation (sb3-contrib's MaskablePPO calls this)."""
        return self._last_mask

    def close(self) -> None:
        self._engine.copies[0].env.close()

    def new_rollout(self) -> None:
        """A redraw point for ``redraw="rollout"``: the next episode picks new opponents."""
        self._engine.new_rollout()


class SelfPlayVecEnv:
    """``n_envs`` copies of the self-play env stepped together, NPC inference batched by member.

    ``reset(seed=s)`` seeds copy ``i`` with ``s + i`` (see the module docstring). ``step`` returns
    ``(obs, rewards, terminated, truncated, infos)``; a finished copy is reset in the same step
    and its returned obs is its next episode's first. ``infos`` holds ``"action_mask"``
    ``[n, n_actions]``, ``"outcomes"`` ``[(copy, Outcome)]`` and ``"final_obs"`` (``obs`` with
    the rows of truncated copies replaced by their last observation, to bootstrap from; a
    terminated episode's last observation is not kept, its value is 0 anyway).
    """

    def __init__(self, game: Game, learner_seat: str, opponents: OpponentSource, n_envs: int, *,
                 seed: int | None = None, redraw: Redraw = "episode", cache_size: int = 8,
                 learner_id: MemberId = "learner"):
        if not isinstance(n_envs, int) or n_envs < 1:
            raise GameConfigError(f"n_envs must be a positive integer, got {n_envs!r}")
        self._engine = Engine(game, learner_seat, opponents, n_envs, redraw=redraw,
                               cache_size=cache_size, autoreset=True, learner_id=learner_id)
        self.game = game
        self.learner_seat = learner_seat
        self.num_envs = n_envs
        self.obs_dim = self._engine.obs_dim
        self.n_actions = self._engine.n_actions
        self.action_spec = game.action_spec(learner_seat)
        """The learner's action spec (``envs.spaces``); ``n_actions`` is its ``width``."""
        self.obs_shape = game.obs_shape(learner_seat)
        """The raw shape of the learner's observation (rows are its flattening)."""
        self.observation_space, self.action_space = _space_of(game, learner_seat)
        self._seed = seed
        self._started = False

    @property
    def cache(self) -> PolicyCache:
        """The LRU cache of opponent policies (shared by all copies)."""
        return self._engine.cache

    def seating(self, i: int) -> dict[str, MemberId]:
        """Who sits in each NPC seat of copy ``i`` in its current episode."""
        return dict(self._engine.copies[i].seating)

    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None
              ) -> tuple[np.ndarray, dict[str, Any]]:
        """Start a new episode in every copy; ``seed`` (or the constructor's, on the first reset)
        reseeds copy ``i`` with ``seed + i``; ``options["opponents"]`` forces every copy's seating."""
        engine = self._engine
        if seed is None and not self._started:
            seed = self._seed
        if seed is None and not self._started:
            seed = int(np.random.SeedSequence().generate_state(1)[0] >> 1)
        if seed is not None:
            for i in range(self.num_envs):
                engine.seed_copy(i, np.random.default_rng(seed + i))
            engine.act_rng = np.random.default_rng([seed, self.num_envs])
        self._started = True
        forced = (options or {}).get("opponents")
        for i in range(self.num_envs):
            engine.force(i, forced)
        engine.clear_step()
        engine.begin(range(self.num_envs))
        return engine.obs.copy(), {"action_mask": engine.mask.copy(),
                                   "outcomes": list(engine.outcomes)}

    def step(self, actions: np.ndarray | Sequence[int]
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        if not self._started:
            raise GameConfigError("call reset() before step()")
        engine = self._engine
        engine.step(actions)
        obs = engine.obs.copy()
        final = obs
        if engine.final_rows:
            final = obs.copy()
            for i, row in engine.final_rows.items():
                final[i] = row
        infos = {"action_mask": engine.mask.copy(), "outcomes": engine.outcomes, "final_obs": final}
        return obs, engine.reward, engine.terminated, engine.truncated, infos

    def action_masks(self) -> np.ndarray:
        """Legal actions ``[n, n_actions]`` of the last returned observations."""
        return self._engine.mask.copy()

    def new_rollout(self) -> None:
        """A redraw point for ``redraw="rollout"``: each copy's next episode picks new opponents."""
        self._engine.new_rollout()

    def close(self) -> None:
        for c in self._engine.copies:
            c.env.close()
