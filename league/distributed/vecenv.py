"""The learner's env copies sharded over the worker actors, with ``SelfPlayVecEnv``'s contract."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from envs import Game
from envs.opponents import MemberId, OpponentSource
from league.distributed.backend import WeightStore
from league.distributed.ray import import_ray, remote_cause
from league.distributed.workers import RefLoader, WorkerGroup, split
from league.errors import ConfigError, WorkerLostError
from league.population.opponents import PoolOpponents

__all__ = ["RayVecEnv"]


class RayVecEnv:
    """``SelfPlayVecEnv``'s contract with the copies sharded over worker actors.

    Shard ``j`` holds copies ``[a_j, b_j)`` and is reset with ``seed + a_j``, so copy ``i``
    is seeded with ``seed + i`` as in the local env, and draws its seatings, game seeds and
    NPC samples from the same generator: given the same learner actions, every copy plays
    what it plays in ``SelfPlayVecEnv``, so a league trains exactly as it does locally.  This
    needs NPC policies that offer ``probs`` (pool members and references do); ones with only
    ``act`` share a generator per shard, as they share one per env locally, so runs are then
    reproducible per seed but differ from the local env's.  ``infos["outcomes"]`` is sorted
    by copy index.

    An env shard lives in a worker's memory: a worker lost during a rollout is a
    ``WorkerLostError`` (the league retrains the turn), not a silent gap.
    """

    def __init__(self, workers: WorkerGroup, store: WeightStore, game: Game, learner_seat: str,
                 opponents: OpponentSource, n_envs: int, *, seed: int | None = None, redraw: str = "episode",
                 cache_size: int = 8, learner_id: MemberId = "learner", shards: int | None = None):
        if not isinstance(n_envs, int) or n_envs < 1:
            raise ConfigError(f"n_envs must be a positive integer, got {n_envs!r}")
        self.game = game
        self.learner_seat = learner_seat
        self.num_envs = n_envs
        self.obs_dim = game.obs_dim(learner_seat)
        self.n_actions = game.n_actions(learner_seat)
        self.action_spec = game.action_spec(learner_seat)
        self.obs_shape = game.obs_shape(learner_seat)
        self.observation_space, self.action_space = _spaces(game, learner_seat)
        self._ranges = split(n_envs, min(shards or len(workers), len(workers), n_envs))
        self._actors = workers.actors[:len(self._ranges)]
        self._seed = seed
        self._started = False
        source = opponents
        if isinstance(opponents, PoolOpponents):
            # The same picking state, policies from object-store references: the pool stays here.
            ids = [m.id for ms in opponents.candidates.values() for m in ms]
            source = opponents.with_loader(RefLoader(game, store.refs(ids)))
        kwargs = {"redraw": redraw, "cache_size": cache_size, "learner_id": learner_id}
        self._call("open", [(learner_seat, source, b - a, kwargs) for a, b in self._ranges])
        self._mask = np.ones((n_envs, self.n_actions), bool)

    def _call(self, method: str, args: list[tuple]) -> list[Any]:
        ray = import_ray()
        calls = [getattr(actor, f"env_{method}").remote(*a) for actor, a in zip(self._actors, args)]
        try:
            return ray.get(calls)
        except ray.exceptions.RayActorError as exc:
            raise WorkerLostError(f"a rollout worker died during env {method}: {exc}") from None
        except ray.exceptions.RayTaskError as exc:
            raise remote_cause(exc) from None

    def _merge(self, parts: list[tuple]) -> tuple[np.ndarray, ...]:
        arrays = [np.concatenate([p[k] for p in parts]) for k in range(len(parts[0]) - 1)]
        infos: dict[str, Any] = {}
        for key in parts[0][-1]:
            if key == "outcomes":
                # By copy index (stable: a copy's own outcomes keep their order).  The local env
                # lists them in the order its NPC rounds finished them, which a shard cannot know.
                infos[key] = sorted(((i + a, o) for (a, _), p in zip(self._ranges, parts) for i, o in p[-1][key]),
                                    key=lambda item: item[0])
            else:
                infos[key] = np.concatenate([p[-1][key] for p in parts])
        self._mask = infos["action_mask"]
        return (*arrays, infos)

    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None
              ) -> tuple[np.ndarray, dict[str, Any]]:
        if seed is None and not self._started:
            seed = self._seed
        if seed is None and not self._started:
            seed = int(np.random.SeedSequence().generate_state(1)[0] >> 1)
        self._started = True
        obs, infos = self._merge(self._call("reset", [(None if seed is None else seed + a, options)
                                                      for a, _ in self._ranges]))
        return obs, infos

    def step(self, actions: np.ndarray | Sequence[int]
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        if not self._started:
            raise ConfigError("call reset() before step()")
        acts = np.asarray(actions)
        if self.action_spec["type"] == "discrete":
            acts = acts.reshape(-1)
        if len(acts) != self.num_envs:
            raise ConfigError(f"expected {self.num_envs} actions, got {len(acts)}")
        return self._merge(self._call("step", [(acts[a:b],) for a, b in self._ranges]))  # type: ignore[return-value]

    def action_masks(self) -> np.ndarray:
        return self._mask.copy()

    def new_rollout(self) -> None:
        self._call("new_rollout", [()] * len(self._ranges))

    def seating(self, i: int) -> dict[str, MemberId]:
        for k, (a, b) in enumerate(self._ranges):
            if a <= i < b:
                return import_ray().get(self._actors[k].env_seating.remote(i - a))
        raise IndexError(f"copy {i} out of range 0..{self.num_envs - 1}")

    def close(self) -> None:
        import_ray().get([actor.env_close.remote() for actor in self._actors])


def _spaces(game: Game, seat: str) -> tuple[Any, Any]:
    from envs.spaces import gym_spaces

    return gym_spaces(game, seat)
