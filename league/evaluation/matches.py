"""Play matches with a member in every seat: the ``play(seatings) -> ranks`` the evaluator needs.

Matches run in ``envs.MatchEngine``, the self-play env's engine with a policy in every seat:
a batch of matches is played side by side, one forward pass per member per round, and each
match's ranks depend only on its seating, its seed and the members (never on its batch).

The sequential path (``play_sequential``) is how matches were played before: one episode at a
time in the learner's ``SelfPlayEnv``, its first seat driven here by that seat's member. It is
kept as the baseline of ``benchmarks/evaluation_throughput.py``; for AEC games it gives the same
ranks as the engine for the same seeds (``tests/test_match_engine.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

from envs import Game, Match, MatchEngine, MatchResult, PolicyCache, SelfPlayEnv
from envs.opponents import MemberId, Policy

__all__ = ["MatchRunner", "MatchBackend", "LocalBackend"]


class _Loader:
    """An opponent source that only loads: every seat of a match is forced."""

    def __init__(self, load: Callable[[MemberId], Policy]):
        self.load = load

    def pick(self, seats, rng):  # pragma: no cover - every seat is forced, so never called
        raise RuntimeError("MatchRunner forces every seat; nothing should be picked")


class _SequentialRunner:
    """One episode at a time in a ``SelfPlayEnv`` whose learner seat is played here."""

    def __init__(self, game: Game, load: Callable[[MemberId], Policy], *, cache_size: int):
        self.game = game
        self.seat = game.seats[0]
        self._load = load
        self.env = SelfPlayEnv(game, self.seat, _Loader(load), cache_size=cache_size)

    def play(self, seating: Mapping[str, MemberId], seed: int | None = None) -> dict[str, int]:
        missing = [s for s in self.game.seats if s not in seating]
        if missing:
            raise ValueError(f"seating {dict(seating)!r} leaves seats {missing} empty")
        others = {s: m for s, m in seating.items() if s != self.seat}
        obs, info = self.env.reset(seed=seed, options={"opponents": others})
        if info.get("outcomes"):  # the deal ended before the first seat could act
            return dict(info["outcomes"][0].ranks)
        me = self.env.cache.get(seating[self.seat], self._load)
        rng = self.env.np_random
        while True:
            mask = info["action_mask"][None] if self.game.masked else None
            action = int(me.act(obs[None], mask, rng)[0])
            obs, _, terminated, truncated, info = self.env.step(action)
            if terminated or truncated:
                return dict(info["outcome"].ranks)


class MatchRunner:
    """Plays seatings of ``game``; ``load`` builds a member's policy (cached, bounded LRU)."""

    def __init__(self, game: Game, load: Callable[[MemberId], Policy], *, cache_size: int = 8):
        self.game = game
        self._load = load
        self._cache_size = cache_size
        self.engine = MatchEngine(game, load, cache_size=cache_size)
        self._sequential: _SequentialRunner | None = None

    @property
    def cache(self) -> PolicyCache:
        """The one bounded cache of built policies: the engine's."""
        return self.engine.cache

    def play(self, seating: Mapping[str, MemberId], seed: int | None = None) -> dict[str, int]:
        """Ranks of every seat (1 = best) after one episode with ``seating``."""
        return self.play_many([seating], [seed])[0]

    def play_many(self, seatings: Sequence[Mapping[str, MemberId]],
                  seeds: Sequence[int | None]) -> list[dict[str, int]]:
        """Ranks of each seating, in order, all played at once."""
        if len(seatings) != len(seeds):
            raise ValueError(f"{len(seatings)} seatings but {len(seeds)} seeds")
        return [r.ranks for r in self.play_episodes(seatings, seeds)]

    def play_episodes(self, seatings: Sequence[Mapping[str, MemberId]],
                      seeds: Sequence[int | None]) -> list[MatchResult]:
        """Every seat's return and rank for each seating (one episode each), all played at once."""
        if len(seatings) != len(seeds):
            raise ValueError(f"{len(seatings)} seatings but {len(seeds)} seeds")
        return self.engine.play(Match(dict(s), seed) for s, seed in zip(seatings, seeds))

    def play_sequential(self, seating: Mapping[str, MemberId], seed: int | None = None) -> dict[str, int]:
        """``play`` the way it was done before the engine: one episode in the self-play env."""
        if self._sequential is None:
            self._sequential = _SequentialRunner(self.game, self._load, cache_size=self._cache_size)
        return self._sequential.play(seating, seed)

    def close(self) -> None:
        self.engine.close()
        if self._sequential is not None:
            self._sequential.env.close()


class MatchBackend(Protocol):
    """Plays a batch of seatings and returns their ranks in the same order.

    The evaluator picks a batch, a backend plays it (in this process, or on Ray
    workers), and the results are applied in batch order, so the ratings depend
    only on the seed, never on which match finished first.
    """

    def play(self, seatings: Sequence[Mapping[str, MemberId]], seeds: Sequence[int | None]) -> list[dict[str, int]]: ...

    def play_episodes(self, seatings: Sequence[Mapping[str, MemberId]],
                      seeds: Sequence[int | None]) -> list[MatchResult]:
        """Returns and ranks of each seating's episode (what rating blocks are made of)."""
        ...

    def close(self) -> None: ...


class LocalBackend:
    """Plays every match of a batch in this process, side by side in the match engine."""

    def __init__(self, game: Game, load: Callable[[MemberId], Policy], *, cache_size: int = 64):
        # Evaluation seats every active member in turn: a cache smaller than the active
        # index would rebuild networks on most matches.
        self.runner = MatchRunner(game, load, cache_size=cache_size)

    def play(self, seatings: Sequence[Mapping[str, MemberId]], seeds: Sequence[int | None]) -> list[dict[str, int]]:
        return self.runner.play_many(seatings, seeds)

    def play_episodes(self, seatings: Sequence[Mapping[str, MemberId]],
                      seeds: Sequence[int | None]) -> list[MatchResult]:
        return self.runner.play_episodes(seatings, seeds)

    def play_sequential(self, seatings: Sequence[Mapping[str, MemberId]],
                        seeds: Sequence[int | None]) -> list[dict[str, int]]:
        """``play`` one match after another through the self-play env (the old path)."""
        return [self.runner.play_sequential(s, seed=seed) for s, seed in zip(seatings, seeds)]

    def close(self) -> None:
        self.runner.close()
