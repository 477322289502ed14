"""Scale-out on Ray: the league in an actor, its matches and rollouts on worker actors.

Layout of a run with ``backend.kind = "ray"`` (``python -m league.run --backend ray``)::

    driver (the CLI) ──> LeagueActor        the only writer of the pool; pinned to the driver's node
                           ├── League       the ordinary orchestrator, with two hooks filled in:
                           │     backend    RayBackend: evaluation batches split over the workers
                           │     env        RayVecEnv: the learner's env copies sharded over them
                           └── Worker x N   play matches / step env shards; never open the pool

Modules: ``ray`` (importing Ray, joining a cluster), ``workers`` (the worker actors),
``backend`` (``WeightStore``, ``RayBackend``), ``vecenv`` (``RayVecEnv``), ``actor``
(``RayScaleOut``, ``LeagueActor``, ``RayLeague``).

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

``ray`` is imported only inside functions, so importing this package (or the rest of
``league``) never needs it.
"""

from __future__ import annotations

from league.distributed.actor import LEAGUE_RESTARTS, TURN_RETRIES, LeagueActor, RayLeague, RayScaleOut
from league.distributed.backend import RayBackend, WeightStore
from league.distributed.ray import INSTALL_HINT, connect, import_ray
from league.distributed.vecenv import RayVecEnv
from league.distributed.workers import CALL_RETRIES, Worker, WorkerGroup
from league.errors import WorkerLostError

__all__ = [
    "INSTALL_HINT",
    "CALL_RETRIES",
    "TURN_RETRIES",
    "LEAGUE_RESTARTS",
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
