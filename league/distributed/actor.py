"""The league in a Ray actor, and the driver's handle on it (``RayLeague``).

The league actor restarts (``LEAGUE_RESTARTS`` times): it reopens the pool and
``League.run`` resumes from the last committed state, exactly as ``--resume`` does after a
crash.  A worker lost during a training turn fails the turn (``WorkerLostError``); the
driver then asks the league actor to run again, which retrains that turn from its start
with the same seed.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, TextIO

import envs
from envs import Game, SelfPlayVecEnv
from envs.opponents import OpponentSource
from league.config import RunConfig
from league.distributed.backend import RayBackend, WeightStore
from league.distributed.ray import connect, import_ray, remote_cause
from league.distributed.vecenv import RayVecEnv
from league.distributed.workers import WorkerGroup
from league.errors import ConfigError, WorkerLostError
from league.pool import Pool

__all__ = ["LEAGUE_RESTARTS", "TURN_RETRIES", "RayScaleOut", "LeagueActor", "RayLeague"]

TURN_RETRIES = 3
"""Times the driver retrains a turn whose env shard was lost before giving up."""

LEAGUE_RESTARTS = 10
"""Times Ray restarts a dead league actor; each restart resumes from the pool's last commit."""


class RayScaleOut:
    """What a League on Ray plugs into its hooks: ``backend(pool)`` and ``vec_env(...)``.

    Both share one worker group and one weight store, so a member's weights are put into
    the object store once however often it is evaluated or seated as an opponent.
    """

    def __init__(self, game: Game, *, workers: int, cache_size: int = 64, rollout_shards: int = 0):
        self.game = game
        self.n_workers = workers
        self.cache_size = cache_size
        self.rollout_shards = rollout_shards
        self.workers: WorkerGroup | None = None
        self.store: WeightStore | None = None

    def backend(self, pool: Pool) -> RayBackend:
        self.store = WeightStore(pool)
        self.workers = WorkerGroup(self.game, self.n_workers, cache_size=self.cache_size)
        return RayBackend(self.workers, self.store)

    def vec_env(self, game: Game, learner_seat: str, opponents: OpponentSource, n_envs: int,
                **kwargs: Any) -> SelfPlayVecEnv | RayVecEnv:
        """The learner's env: sharded over the workers when ``rollout_shards`` > 0."""
        if self.rollout_shards <= 0 or self.workers is None or self.store is None:
            return SelfPlayVecEnv(game, learner_seat, opponents, n_envs, **kwargs)
        return RayVecEnv(self.workers, self.store, game, learner_seat, opponents, n_envs,
                         shards=self.rollout_shards, **kwargs)

    def close(self) -> None:
        if self.workers is not None:
            self.workers.close()


class LeagueActor:
    """The body of the league actor: the one process that writes the pool.

    The pool is opened in ``open``, not in ``__init__``: Ray re-runs ``__init__`` with the
    original arguments when it restarts the actor, and the retried ``run`` must then resume
    the pool the first incarnation created.
    """

    def __init__(self, config: RunConfig, out: str, *, resume: bool, quiet: bool, workers: int,
                 torch_threads: int | None):
        self.config = config
        self.out = Path(out)
        self.resume = resume
        self.quiet = quiet
        self.workers = workers
        if torch_threads:
            import torch

            # Same thread count as a local run: float reductions then add up in the same
            # order, and training is bit-identical to the local backend's.
            torch.set_num_threads(torch_threads)
        self.league: Any = None
        self.scale: RayScaleOut | None = None

    def pid(self) -> int:
        return os.getpid()

    def open(self) -> list[str]:
        """Create the pool (or reopen it after a restart) and start the workers; the roles."""
        if self.league is None:
            from league.orchestration import POOL_DIR, League

            resume = self.resume or (self.out / POOL_DIR / "index.h5").exists()
            game = envs.make(self.config.game.name, **self.config.game.kwargs)
            # Match caches as large as the local backend's (League: max(64, cache_size)):
            # evaluation seats every active member in turn.
            self.scale = RayScaleOut(game, workers=self.workers, cache_size=max(64, self.config.cache_size),
                                     rollout_shards=self.config.backend.rollout_shards)
            log = open(os.devnull, "w") if self.quiet else sys.stderr
            self.league = League(self.config, self.out, resume=resume, log=log,
                                 backend_factory=self.scale.backend, env_factory=self.scale.vec_env)
        return list(self.league.roles)

    def run(self) -> dict[str, Any]:
        self.open()
        return self.league.run()

    def report(self) -> str:
        self.open()
        return self.league.report()

    def worker_pids(self) -> list[int]:
        self.open()
        assert self.scale is not None and self.scale.workers is not None
        return self.scale.workers.pids()

    def weights_put(self) -> int:
        """How many ``(spec, weights)`` objects this incarnation put into the object store."""
        return 0 if self.scale is None or self.scale.store is None else self.scale.store.puts

    def close(self) -> None:
        if self.league is not None:
            self.league.close()
        if self.scale is not None:
            self.scale.close()
        self.league = None


class RayLeague:
    """A league that runs in a Ray actor: the ``LeagueRunner`` that ``backend.kind = "ray"`` picks.

    ``roles``, ``run()``, ``report()`` and ``close()`` mirror a local ``League``; the cluster
    address, the worker count and the rollout shards come from ``config.backend``.  The
    actor is pinned to this node, where ``out`` is, so the pool never needs a shared
    filesystem.
    """

    def __init__(self, config: RunConfig, out: str | Path, *, resume: bool = False, log: TextIO | None = None,
                 quiet: bool = False):
        backend = config.backend
        ray = connect(backend.address, quiet=quiet)
        import torch
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        self.log = log if log is not None else sys.stderr
        workers = backend.workers
        if workers is None:
            workers = max(1, int(ray.cluster_resources().get("CPU", 1)))
        if workers < 1 or backend.rollout_shards < 0:
            raise ConfigError(f"--workers must be at least 1 and --rollout-shards at least 0, got "
                              f"{workers} and {backend.rollout_shards}")
        here = NodeAffinitySchedulingStrategy(node_id=ray.get_runtime_context().get_node_id(), soft=False)
        # No CPU reserved: the league actor trains while the workers idle and waits while they play.
        remote = ray.remote(LeagueActor).options(num_cpus=0, max_restarts=LEAGUE_RESTARTS, max_task_retries=-1,
                                                 scheduling_strategy=here)
        self.actor = remote.remote(config, str(out), resume=resume, quiet=quiet, workers=workers,
                                   torch_threads=torch.get_num_threads())
        self.workers = workers
        self._busy = False
        self.roles: list[str] = self._get(self.actor.open.remote())
        print(f"league: on Ray with {workers} workers (league actor pid {self._get(self.actor.pid.remote())})",
              file=self.log, flush=True)

    @staticmethod
    def _get(ref: Any) -> Any:
        ray = import_ray()
        try:
            return ray.get(ref)
        except ray.exceptions.RayActorError as exc:
            raise WorkerLostError(f"the league actor died more than {LEAGUE_RESTARTS} times; the pool "
                                  f"keeps every commit, continue with --resume ({exc})") from None
        except ray.exceptions.RayTaskError as exc:
            raise remote_cause(exc) from None

    def run(self) -> dict[str, Any]:
        """Run the league (the summary dict); a turn whose env shard was lost is retrained from its start."""
        self._busy = True
        failures = 0
        while True:
            try:
                summary = self._get(self.actor.run.remote())
                self._busy = False
                return summary
            except WorkerLostError as exc:
                failures += 1
                if failures > TURN_RETRIES:
                    raise
                # The league resumes from its last commit: the turn starts again with the same seed.
                print(f"league: {exc}; resuming from the last commit", file=self.log, flush=True)

    def report(self) -> str:
        """Write ``leaderboard.md``/``.html`` into ``out`` (from the league actor, on this node);
        the markdown board."""
        return self._get(self.actor.report.remote())

    def close(self) -> None:
        """Close the pool and stop the actor.  After an interrupted or failed ``run`` the actor
        may still be busy (its calls run in order), so it is stopped at once instead; the pool
        is crash-safe, and ``--resume`` continues from its last commit."""
        ray = import_ray()
        try:
            if not self._busy:
                self._get(self.actor.close.remote())
        finally:
            ray.kill(self.actor, no_restart=True)
