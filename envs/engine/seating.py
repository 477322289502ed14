"""Who sits where: opponent draws at redraw points, forced seatings, and loading their policies."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np

from envs.engine.state import Copy
from envs.errors import GameConfigError
from envs.opponents import MemberId, OpponentSource, PolicyCache

__all__ = ["Redraw", "Seater"]

Redraw = Literal["episode", "rollout"]


class Seater:
    """Seats a member in every policy seat (``seats``) of a copy when its episode starts.

    With ``redraw="episode"`` every episode picks; with ``"rollout"`` only the first episode
    after ``Copy.redraw`` was set. A forced seating (``force``) always counts as a redraw point
    and fills the seats it names; the source picks the rest.

    ``groups`` (seat -> group key) binds seats into teams played by one member: the source picks
    for the group's first open seat only and its member takes every seat of the group; a forced
    seat of a group seats its member in the group's unforced seats too.
    """

    def __init__(self, source: OpponentSource, seats: Sequence[str], cache: PolicyCache, *,
                 redraw: Redraw, learner: str | None, groups: Mapping[str, str] | None = None):
        if redraw not in ("episode", "rollout"):
            raise GameConfigError(f"redraw must be 'episode' or 'rollout', got {redraw!r}")
        for method in ("pick", "load"):
            if not callable(getattr(source, method, None)):
                raise GameConfigError(f"opponents must offer pick() and load() (envs.OpponentSource); "
                                      f"{type(source).__name__} has no {method}()")
        self.source = source
        self.seats = tuple(seats)
        self.cache = cache
        self.redraw = redraw
        self.learner = learner
        self.groups = {s: g for s, g in (groups or {}).items() if s in self.seats}

    def force(self, c: Copy, seating: Mapping[str, MemberId] | None) -> None:
        """Make the next episode of ``c`` seat ``seating`` (policy seats only; partial is fine)."""
        if seating is None:
            c.forced = None
            return
        if not isinstance(seating, Mapping):
            raise GameConfigError(f"options['opponents'] must map seats to member ids, got {seating!r}")
        bad = [s for s in seating if s not in self.seats]
        if bad:
            raise GameConfigError(f"cannot force seat(s) {bad}: opponent seats are {list(self.seats)} "
                                  f"(the learner sits in {self.learner!r})")
        c.forced = dict(seating)

    def seat(self, c: Copy) -> None:
        """Pick and load ``c``'s opponents if its next episode starts at a redraw point."""
        if c.forced is None and not c.redraw and self.redraw != "episode":
            return
        forced = dict(c.forced or {})
        groups = self.groups
        if groups:
            by_group: dict[str, MemberId] = {}
            for s, m in forced.items():
                if s in groups:
                    by_group.setdefault(groups[s], m)
            forced.update({s: by_group[g] for s, g in groups.items() if g in by_group and s not in forced})
        rest = [s for s in self.seats if s not in forced]
        # One pick per group: its first open seat asks, the group's other seats follow.
        leaders: dict[tuple[str, str], str] = {}
        for s in rest:
            leaders.setdefault(("group", groups[s]) if s in groups else ("seat", s), s)
        ask = list(leaders.values())
        picked = dict(self.source.pick(ask, c.rng)) if ask else {}
        missing = [s for s in ask if s not in picked]
        if missing:
            raise GameConfigError(f"opponent source {type(self.source).__name__} picked no member "
                                  f"for seat(s) {missing}")
        for s in rest:
            picked[s] = picked[leaders[("group", groups[s]) if s in groups else ("seat", s)]]
        picked.update(forced)
        # Plain ints: sources often pick with numpy, and outcomes end up in JSON logs.
        c.seating = {s: (int(picked[s]) if isinstance(picked[s], np.integer) else picked[s])
                     for s in self.seats}
        load = self.source.load
        c.policies = {s: self.cache.get(m, load) for s, m in c.seating.items()}
        c.redraw = False
