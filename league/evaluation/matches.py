"""Play one match with a member in every seat: the ``play(seating) -> ranks`` the evaluator needs.

The match runs in the self-play env with its first seat driven here by that
seat's member and every other seat forced to its member, so evaluation plays
exactly the same game code as training.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Protocol


from envs import Game, PolicyCache, SelfPlayEnv
from envs.opponents import MemberId, Policy

__all__ = ["MatchRunner", "MatchBackend", "LocalBackend"]


class _Loader:
    """An opponent source that only loads: every seat of a match is forced."""

    def __init__(self, load: Callable[[MemberId], Policy]):
        self.load = load

    def pick(self, seats, rng):  # pragma: no cover - every seat is forced, so never called
        raise RuntimeError("MatchRunner forces every seat; nothing should be picked")


class MatchRunner:
    """Plays seatings of ``game``; ``load`` builds a member's policy (cached, bounded LRU)."""

    def __init__(self, game: Game, load: Callable[[MemberId], Policy], *, cache_size: int = 8):
        self.game = game
        self.seat = game.seats[0]
        self._load = load
        self.env = SelfPlayEnv(game, self.seat, _Loader(load), cache_size=cache_size)

    @property
    def cache(self) -> PolicyCache:
        """The one bounded cache of built policies: the env's, shared by the first seat."""
        return self.env.cache

    def _cached(self, member_id: MemberId) -> Policy:
        return self.env.cache.get(member_id, self._load)

    def play(self, seating: Mapping[str, MemberId], seed: int | None = None) -> dict[str, int]:
        """Ranks of every seat (1 = best) after one episode with ``seating``."""
        missing = [s for s in self.game.seats if s not in seating]
        if missing:
            raise ValueError(f"seating {dict(seating)!r} leaves seats {missing} empty")
        others = {s: m for s, m in seating.items() if s != self.seat}
        obs, info = self.env.reset(seed=seed, options={"opponents": others})
        if info.get("outcomes"):  # the deal ended before the first seat could act
            return dict(info["outcomes"][0].ranks)
        me = self._cached(seating[self.seat])
        rng = self.env.np_random
        while True:
            mask = info["action_mask"][None] if self.game.masked else None
            action = int(me.act(obs[None], mask, rng)[0])
            obs, _, terminated, truncated, info = self.env.step(action)
            if terminated or truncated:
                return dict(info["outcome"].ranks)


class MatchBackend(Protocol):
    """Plays a batch of seatings and returns their ranks in the same order.

    The evaluator picks a batch, a backend plays it (in this process, or on Ray
    workers), and the results are applied in batch order, so the ratings depend
    only on the seed, never on which match finished first.
    """

    def play(self, seatings: Sequence[Mapping[str, MemberId]], seeds: Sequence[int | None]) -> list[dict[str, int]]: ...

    def close(self) -> None: ...


class LocalBackend:
    """Plays every match of a batch in this process, one after another."""

    def __init__(self, game: Game, load: Callable[[MemberId], Policy], *, cache_size: int = 64):
        # Evaluation seats every active member in turn: a cache smaller than the active
        # index would rebuild networks on most matches.
        self.runner = MatchRunner(game, load, cache_size=cache_size)

    def play(self, seatings: Sequence[Mapping[str, MemberId]], seeds: Sequence[int | None]) -> list[dict[str, int]]:
        return [self.runner.play(s, seed=seed) for s, seed in zip(seatings, seeds)]

    def close(self) -> None:
        self.runner.env.close()
