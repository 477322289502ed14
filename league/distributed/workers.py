"""The worker actors: they play chunks of matches and host env shards, and never open the pool.

Every call carries the object references of the members it may seat (``RefLoader`` builds
a policy from one on a miss of the worker's bounded cache), so a worker sees the members of
its current task and whatever its cache still holds, never the league.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from envs import Game, SelfPlayVecEnv
from envs.opponents import MemberId, OpponentSource, Policy
from league.distributed.ray import import_ray
from league.errors import ConfigError, UnknownMemberError, WorkerLostError
from league.evaluation.matches import MatchRunner
from league.models import build_policy

__all__ = ["CALL_RETRIES", "RefLoader", "Worker", "WorkerGroup", "split"]

CALL_RETRIES = 3
"""Times a worker call is retried on a restarted worker: enough for a killed process or a lost
node, not an endless loop on a match that crashes its worker every time."""


class RefLoader:
    """Builds a member's policy from the object-store reference its task sent (``refs``)."""

    def __init__(self, game: Game, refs: Mapping[int, Any] | None = None):
        self.game = game
        self.refs: dict[int, Any] = dict(refs or {})

    def __call__(self, member_id: MemberId) -> Policy:
        if isinstance(member_id, str):
            return self.game.reference(member_id)
        ref = self.refs.get(int(member_id))
        if ref is None:
            raise UnknownMemberError(f"member {member_id!r} was seated but its weights were not sent "
                                     "with the task")
        spec, weights = import_ray().get(ref)
        # Object-store arrays are read-only views; the network copies them into its own tensors.
        return build_policy(spec, {k: np.array(v) for k, v in weights.items()} or None)


class Worker:
    """The body of a worker actor: plays chunks of matches and hosts one env shard.

    Built policies stay in bounded LRU caches (``cache_size``): one for matches, one in
    the env shard.
    """

    def __init__(self, game: Game, cache_size: int = 64):
        self.game = game
        self.loader = RefLoader(game)
        self.runner = MatchRunner(game, self.loader, cache_size=cache_size)
        self.env: SelfPlayVecEnv | None = None

    def pid(self) -> int:
        """This worker's process id (tests kill it to check that no match is lost)."""
        return os.getpid()

    def cached(self) -> list[MemberId]:
        """Member ids whose policies this worker holds (match cache, then env cache)."""
        env = [] if self.env is None else self.env.cache.keys()
        return [*self.runner.cache.keys(), *env]

    def play(self, seatings: Sequence[Mapping[str, MemberId]], seeds: Sequence[int | None],
             refs: Mapping[int, Any]) -> list[dict[str, int]]:
        """Ranks of each seating, in order (played side by side in the match engine)."""
        self.loader.refs = dict(refs)
        return self.runner.play_many(seatings, seeds)

    def play_episodes(self, seatings: Sequence[Mapping[str, MemberId]], seeds: Sequence[int | None],
                      refs: Mapping[int, Any]) -> list[Any]:
        """Every seat's return and rank for each seating, in order (``envs.MatchResult``)."""
        self.loader.refs = dict(refs)
        return self.runner.play_episodes(seatings, seeds)

    # ---- one shard of a RayVecEnv -----------------------------------------------------------
    def env_open(self, learner_seat: str, source: OpponentSource, n_envs: int,
                 kwargs: Mapping[str, Any]) -> None:
        """Host ``n_envs`` copies; ``source`` arrives ready to load (a pool source carries its
        own ``RefLoader``, apart from the match loader whose references change every chunk)."""
        if self.env is not None:
            self.env.close()
        self.env = SelfPlayVecEnv(self.game, learner_seat, source, n_envs, **kwargs)

    def _shard(self) -> SelfPlayVecEnv:
        if self.env is None:  # this worker restarted and lost its shard
            raise WorkerLostError("the env shard of this worker is gone (the worker restarted)")
        return self.env

    def env_reset(self, seed: int | None, options: dict[str, Any] | None) -> tuple[np.ndarray, dict[str, Any]]:
        return self._shard().reset(seed=seed, options=options)

    def env_step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        return self._shard().step(actions)

    def env_new_rollout(self) -> None:
        self._shard().new_rollout()

    def env_seating(self, i: int) -> dict[str, MemberId]:
        return self._shard().seating(i)

    def env_close(self) -> None:
        if self.env is not None:
            self.env.close()
            self.env = None


class WorkerGroup:
    """``n`` worker actors (one CPU each), restarted and their calls retried when they die."""

    def __init__(self, game: Game, n: int, *, cache_size: int = 64):
        ray = import_ray()
        if n < 1:
            raise ConfigError(f"the Ray backend needs at least one worker, got {n}")
        remote = ray.remote(Worker).options(num_cpus=1, max_restarts=-1, max_task_retries=CALL_RETRIES)
        self.actors = [remote.remote(game, cache_size) for _ in range(n)]

    def __len__(self) -> int:
        return len(self.actors)

    def pids(self) -> list[int]:
        return import_ray().get([a.pid.remote() for a in self.actors])

    def close(self) -> None:
        ray = import_ray()
        for a in self.actors:
            ray.kill(a, no_restart=True)
        self.actors = []


def split(n: int, parts: int) -> list[tuple[int, int]]:
    """``parts`` contiguous, near-equal ``[start, stop)`` ranges over ``n`` items (empty ones left out)."""
    bounds = [n * k // parts for k in range(parts + 1)]
    return [(a, b) for a, b in zip(bounds[:-1], bounds[1:]) if b > a]
