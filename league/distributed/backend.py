"""Evaluation matches on the workers, and the members' weights in Ray's object store.

The league actor ``ray.put``s a member's ``(spec, weights)`` once (``WeightStore``) and sends
workers the *references* of the members a task needs.  ``RayBackend`` splits each batch into
one chunk per worker and concatenates the results in batch order: a match is a pure function
of its seating, its seed and the members' weights, so a chunk retried on a restarted worker
returns what the lost one would have, and the ratings equal the local backend's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from envs.opponents import MemberId
from league.distributed.ray import import_ray, remote_cause
from league.distributed.workers import CALL_RETRIES, WorkerGroup, split
from league.errors import WorkerLostError
from league.models import is_weightless
from league.pool import Pool

__all__ = ["WeightStore", "RayBackend"]


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
            weights = {} if is_weightless(member.spec) else {
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


class RayBackend:
    """A ``MatchBackend`` that splits each batch into one contiguous chunk per worker.

    One task per worker and batch amortises Ray's per-call cost over many matches; the
    chunks' results are concatenated in batch order, so the caller applies them exactly as
    it would the local backend's.
    """

    def __init__(self, workers: WorkerGroup, store: WeightStore):
        self.workers = workers
        self.store = store

    def submit(self, seatings: Sequence[Mapping[str, MemberId]], seeds: Sequence[int | None], *,
               method: str = "play") -> list[Any]:
        """Start a batch (``method``: the workers' ``play`` or ``play_episodes``); ``collect`` its result."""
        if len(seatings) != len(seeds):
            raise ValueError(f"{len(seatings)} seatings but {len(seeds)} seeds")
        pending = []
        for actor, (a, b) in zip(self.workers.actors, split(len(seatings), len(self.workers))):
            chunk = [dict(s) for s in seatings[a:b]]
            refs = self.store.refs(m for s in chunk for m in s.values())
            pending.append(getattr(actor, method).remote(chunk, list(seeds[a:b]), refs))
        return pending

    def collect(self, pending: list[Any]) -> list[Any]:
        ray = import_ray()
        try:
            chunks = ray.get(pending)
        except ray.exceptions.RayActorError as exc:
            raise WorkerLostError(f"a chunk of evaluation matches failed {CALL_RETRIES + 1} times "
                                  f"(its worker died each time): {exc}") from None
        except ray.exceptions.RayTaskError as exc:
            raise remote_cause(exc) from None
        return [ranks for chunk in chunks for ranks in chunk]

    def play(self, seatings: Sequence[Mapping[str, MemberId]], seeds: Sequence[int | None]) -> list[dict[str, int]]:
        return self.collect(self.submit(seatings, seeds))

    def play_episodes(self, seatings: Sequence[Mapping[str, MemberId]], seeds: Sequence[int | None]) -> list[Any]:
        return self.collect(self.submit(seatings, seeds, method="play_episodes"))

    def close(self) -> None:
        """The workers belong to whoever built them (they also step rollouts)."""
