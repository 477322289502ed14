"""Scale-out on Ray: the league in an actor, its matches and rollouts on worker actors.

Layout of a run with ``python -m league.run --backend ray``::

    driver (the CLI) ──> LeagueActor        the only writer of the pool; pinned to the driver's node
                           ├── League       the ordinary orchestrator, with two hooks filled in:
                           │     backend    RayBackend: evaluation batches split over the workers
                           │     env        RayVecEnv: the learner's env copies sharded over them
                           └── Worker x N   play matches / step env shards; never open the pool

Weights travel through the object store: the league actor ``ray.put``s a member's
``(spec, weights)`` once (``WeightStore``) and sends workers the *references* of the
members a task needs; a worker fetches a reference only on a miss of its bounded LRU
cache of built policies (``envs.PolicyCache``).  No worker holds the league: it sees the
members of its current task and whatever its cache still holds.

Failures.  Workers are always restarted, and a call that a dying worker took with it is
retried on the new one (``CALL_RETRIES`` times).  A match is a pure function of its
seating, its seed and the members' weights, so a retried chunk returns what the lost
one would have; the evaluator applies results in batch order, so a killed worker costs
time, never a lost or a duplicated match, and the ratings equal the local backend's.
The league actor restarts too (``LEAGUE_RESTARTS`` times): it reopens the pool and
``League.run`` resumes from the last committed state, exactly as ``--resume`` does
after a crash.  An env shard lives in a worker's memory, so a worker lost during a
training turn fails the turn (``WorkerLostError``); the driver then asks the league
actor to run again, which retrains that turn from its start with the same seed.

``ray`` is imported only inside functions, so importing this module (or the rest of
``league``) never needs it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

import envs
from envs import Game, SelfPlayVecEnv
from envs.opponents import MemberId, OpponentSource, Policy
from league.config import RunConfig
from league.errors import ConfigError, LeagueError, UnknownMemberError
from league.matches import MatchRunner
from league.opponents import PoolOpponents
from league.policies import build_policy
from league.pool import Pool

__all__ = [
    "INSTALL_HINT",
    "WorkerLostError",
    "import_ray",
    "connect",
    "WeightStore",
    "Worker",
    "WorkerGroup",
    "RayBackend",
    "RayVecEnv",
    "RayScaleOut",
    "LeagueActor",
    "RayLeague",
]

INSTALL_HINT = "pip install 'league[ray]'"

CALL_RETRIES = 3
"""Times a worker call is retried on a restarted worker: enough for a killed process or a lost
node, not an endless loop on a match that crashes its worker every time."""

TURN_RETRIES = 3
"""Times the driver retrains a turn whose env shard was lost before giving up."""

LEAGUE_RESTARTS = 10
"""Times Ray restarts a dead league actor; each restart resumes from the pool's last commit."""


class WorkerLostError(LeagueError, RuntimeError):
    """A Ray process of the run died and its work cannot simply be retried: a worker holding an
    env shard (the turn starts again), or a process that died more often than it is restarted."""


# ---------------------------------------------------------------------------------------------
# Ray itself
# ---------------------------------------------------------------------------------------------

def import_ray() -> Any:
    """The ``ray`` module, or a ``ConfigError`` that says how to install it."""
    try:
        import ray
    except ImportError:
        raise ConfigError(f"--backend ray needs Ray: {INSTALL_HINT}") from None
    return ray


def connect(address: str | None = None, *, num_cpus: int | None = None, quiet: bool = False) -> Any:
    """Join the Ray cluster at ``address``, or start a local instance with ``num_cpus``
    (default: this machine's cores); a no-op when this process is already connected."""
    ray = import_ray()
    if not ray.is_initialized():
        kwargs: dict[str, Any] = {"log_to_driver": not quiet}
        if address is None:
            kwargs.update(num_cpus=num_cpus or os.cpu_count() or 1, include_dashboard=False)
        try:
            ray.init(address=address, **kwargs)
        except ConnectionError as exc:  # a wrong --address: a one-line message, not a traceback
            raise ConfigError(f"cannot connect to the Ray cluster at {address!r}: {exc}") from None
    return ray


# ---------------------------------------------------------------------------------------------
# Weights through the object store
# ---------------------------------------------------------------------------------------------

class WeightStore:
    """Member id -> object reference of ``(spec, weights)``, put into the object store once.

    Lives in the league actor next to the pool it reads.  Members are immutable, so a
    reference never goes stale; references of members that have left the active index
    are dropped (a worker still using one keeps the object alive until it is done).
    """

    def __init__(self, pool: Pool):
        self.pool = pool
        self._refs: dict[int, Any] = {}
        self.puts = 0

    def refs(self, member_ids: Iterable[MemberId]) -> dict[int, Any]:
        """References for the pool members among ``member_ids`` (reference names are skipped:
        workers build those from the game)."""
        ray = import_ray()
        wanted = sorted({int(m) for m in member_ids if isinstance(m, (int, np.integer))})
        missing = [m for m in wanted if m not in self._refs]
        if missing:
            self._forget_inactive()
        for m in missing:
            member = self.pool.member(m)
            weights = {} if member.spec.get("kind") == "random" else {
                k: v.detach().cpu().numpy() for k, v in self.pool.weights(m).items()}
            self._refs[m] = ray.put((dict(member.spec), weights))
            self.puts += 1
        return {m: self._refs[m] for m in wanted}

    def _forget_inactive(self) -> None:
        active = {m.id for m in self.pool.active()}
        for m in [m for m in self._refs if m not in active]:
            del self._refs[m]

    def __len__(self) -> int:
        return len(self._refs)


class _RefLoader:
    """Worker side: builds a member's policy from the reference its current task sent."""

    def __init__(self, game: Game):
        self.game = game
        self.refs: dict[int, Any] = {}

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


class _ShippedOpponents(PoolOpponents):
    """A ``PoolOpponents`` that can travel to a worker: the same candidates, probabilities
    and ``pick`` (so a shard draws exactly what the local env would), but policies come
    from object-store references instead of the pool."""

    def __init__(self, source: PoolOpponents, loader: _RefLoader):
        # Not super().__init__, which reads the pool.  Copy the picking state only: the
        # source's loader holds the pool, which must not travel.
        self.__dict__.update({k: v for k, v in vars(source).items() if not isinstance(v, Pool) and k != "_load"})
        self.loader = loader

    def load(self, member_id: MemberId) -> Policy:
        return self.loader(member_id)


# ---------------------------------------------------------------------------------------------
# The worker actor
# ---------------------------------------------------------------------------------------------

class Worker:
    """The body of a worker actor: plays chunks of matches and hosts one env shard.

    It never opens the pool: every call carries the object references of the members it
    may seat, and built policies stay in a bounded LRU cache (``cache_size``).
    """

    def __init__(self, game: Game, cache_size: int = 64):
        self.game = game
        self.loader = _RefLoader(game)
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
        """Ranks of each seating, in order."""
        self.loader.refs = dict(refs)
        return [self.runner.play(s, seed=seed) for s, seed in zip(seatings, seeds)]

    # ---- one shard of a RayVecEnv -----------------------------------------------------------
    def env_open(self, learner_seat: str, source: OpponentSource, n_envs: int, kwargs: Mapping[str, Any],
                 refs: Mapping[int, Any]) -> None:
        if self.env is not None:
            self.env.close()
        if isinstance(source, _ShippedOpponents):
            # Its own loader: the match loader's references change with every chunk played.
            source.loader = _RefLoader(self.game)
            source.loader.refs = dict(refs)
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


def _split(n: int, parts: int) -> list[tuple[int, int]]:
    """``parts`` contiguous, near-equal ``[start, stop)`` ranges over ``n`` items (empty ones left out)."""
    bounds = [n * k // parts for k in range(parts + 1)]
    return [(a, b) for a, b in zip(bounds[:-1], bounds[1:]) if b > a]


# ---------------------------------------------------------------------------------------------
# Evaluation matches
# ---------------------------------------------------------------------------------------------

class RayBackend:
    """A ``MatchBackend`` that splits each batch into one contiguous chunk per worker.

    One task per worker and batch amortises Ray's per-call cost over many matches; the
    chunks' results are concatenated in batch order, so the caller applies them exactly as
    it would the local backend's.
    """

    def __init__(self, workers: WorkerGroup, store: WeightStore):
        self.workers = workers
        self.store = store

    def submit(self, seatings: Sequence[Mapping[str, MemberId]], seeds: Sequence[int | None]) -> list[Any]:
        """Start a batch; ``collect`` its result."""
        if len(seatings) != len(seeds):
            raise ValueError(f"{len(seatings)} seatings but {len(seeds)} seeds")
        pending = []
        for actor, (a, b) in zip(self.workers.actors, _split(len(seatings), len(self.workers))):
            chunk = [dict(s) for s in seatings[a:b]]
            refs = self.store.refs(m for s in chunk for m in s.values())
            pending.append(actor.play.remote(chunk, list(seeds[a:b]), refs))
        return pending

    def collect(self, pending: list[Any]) -> list[dict[str, int]]:
        ray = import_ray()
        try:
            chunks = ray.get(pending)
        except ray.exceptions.RayActorError as exc:
            raise WorkerLostError(f"a chunk of evaluation matches failed {CALL_RETRIES + 1} times "
                                  f"(its worker died each time): {exc}") from None
        except ray.exceptions.RayTaskError as exc:
            raise _cause(exc) from None
        return [ranks for chunk in chunks for ranks in chunk]

    def play(self, seatings: Sequence[Mapping[str, MemberId]], seeds: Sequence[int | None]) -> list[dict[str, int]]:
        return self.collect(self.submit(seatings, seeds))

    def close(self) -> None:
        """The workers belong to whoever built them (they also step rollouts)."""


# ---------------------------------------------------------------------------------------------
# Rollouts
# ---------------------------------------------------------------------------------------------

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
        self.observation_space, self.action_space = _spaces(game, learner_seat)
        self._ranges = _split(n_envs, min(shards or len(workers), len(workers), n_envs))
        self._actors = workers.actors[:len(self._ranges)]
        self._seed = seed
        self._started = False
        if isinstance(opponents, PoolOpponents):
            ids = [m.id for ms in opponents.candidates.values() for m in ms]
            source: OpponentSource = _ShippedOpponents(opponents, _RefLoader(game))
            refs = store.refs(ids)
        else:
            source, refs = opponents, {}  # fixed or reference opponents travel as they are
        kwargs = {"redraw": redraw, "cache_size": cache_size, "learner_id": learner_id}
        self._call("open", [(learner_seat, source, b - a, kwargs, refs) for a, b in self._ranges])
        self._mask = np.ones((n_envs, self.n_actions), bool)

    def _call(self, method: str, args: list[tuple]) -> list[Any]:
        ray = import_ray()
        calls = [getattr(actor, f"env_{method}").remote(*a) for actor, a in zip(self._actors, args)]
        try:
            return ray.get(calls)
        except ray.exceptions.RayActorError as exc:
            raise WorkerLostError(f"a rollout worker died during env {method}: {exc}") from None
        except ray.exceptions.RayTaskError as exc:
            raise _cause(exc) from None

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
        acts = np.asarray(actions).reshape(-1)
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


def _cause(exc: Exception) -> Exception:
    """The exception a remote call raised (a ``LeagueError`` stays one, with its one-line message)."""
    cause = getattr(exc, "cause", None)
    return cause if isinstance(cause, Exception) else exc


def _spaces(game: Game, seat: str) -> tuple[Any, Any]:
    import gymnasium as gym

    low, high = game.obs_bounds
    return (gym.spaces.Box(low=low, high=high, shape=(game.obs_dim(seat),), dtype=np.float32),
            gym.spaces.Discrete(game.n_actions(seat)))


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


# ---------------------------------------------------------------------------------------------
# The league actor and its driver-side handle
# ---------------------------------------------------------------------------------------------

class LeagueActor:
    """The body of the league actor: the one process that writes the pool.

    The pool is opened in ``run``, not in ``__init__``: Ray re-runs ``__init__`` with the
    original arguments when it restarts the actor, and the retried ``run`` must then resume
    the pool the first incarnation created.
    """

    def __init__(self, config: RunConfig, out: str, *, resume: bool, quiet: bool, workers: int,
                 rollout_shards: int, torch_threads: int | None):
        self.config = config
        self.out = Path(out)
        self.resume = resume
        self.quiet = quiet
        self.workers = workers
        self.rollout_shards = rollout_shards
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
            from league.orchestrator import POOL_DIR, League

            resume = self.resume or (self.out / POOL_DIR / "index.h5").exists()
            game = envs.make(self.config.game.name, **self.config.game.kwargs)
            # Match caches as large as the local backend's (League: max(64, cache_size)):
            # evaluation seats every active member in turn.
            self.scale = RayScaleOut(game, workers=self.workers, cache_size=max(64, self.config.cache_size),
                                     rollout_shards=self.rollout_shards)
            log = open(os.devnull, "w") if self.quiet else sys.stderr
            self.league = League(self.config, self.out, resume=resume, log=log,
                                 backend_factory=self.scale.backend, env_factory=self.scale.vec_env)
        return list(self.league.roles)

    def run(self) -> dict[str, Any]:
        self.open()
        return self.league.run()

    def report(self) -> str:
        from league.report import write_report

        self.open()
        return write_report(self.league, self.out)

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
    """The driver's handle on a league that runs in a Ray actor (what ``--backend ray`` uses).

    ``roles``, ``run()``, ``report()`` and ``close()`` mirror a local ``League``.  The actor
    is pinned to this node, where ``out`` is, so the pool never needs a shared filesystem.
    """

    def __init__(self, config: RunConfig, out: str | Path, *, resume: bool = False, log: Any = None,
                 address: str | None = None, workers: int | None = None, rollout_shards: int = 0,
                 quiet: bool = False):
        ray = connect(address, quiet=quiet)
        import torch
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        self.log = log if log is not None else sys.stderr
        if workers is None:
            workers = max(1, int(ray.cluster_resources().get("CPU", 1)))
        if workers < 1 or rollout_shards < 0:
            raise ConfigError(f"--workers must be at least 1 and --rollout-shards at least 0, got "
                              f"{workers} and {rollout_shards}")
        here = NodeAffinitySchedulingStrategy(node_id=ray.get_runtime_context().get_node_id(), soft=False)
        # No CPU reserved: the league actor trains while the workers idle and waits while they play.
        remote = ray.remote(LeagueActor).options(num_cpus=0, max_restarts=LEAGUE_RESTARTS, max_task_retries=-1,
                                                 scheduling_strategy=here)
        self.actor = remote.remote(config, str(out), resume=resume, quiet=quiet, workers=workers,
                                   rollout_shards=rollout_shards, torch_threads=torch.get_num_threads())
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
            raise _cause(exc) from None

    def run(self) -> dict[str, Any]:
        """Run the league; a turn whose env shard was lost is retrained from its start."""
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
