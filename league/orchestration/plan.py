"""The plan of a league run: a fixed list of turns, their seeds, and the run state that says how far it got.

The work is a fixed list of *turns* (bootstrap turns, then rotation turns), each with a seed
derived from the run seed and its index, so a turn replayed after a crash makes the same
choices.  ``RunState`` is what the pool commits as its run state (``Pool.state``, and ``state=``
on ``Pool.add``): which turn is next, whether its training or its evaluation is still to do,
and the learner steps and wall time spent so far.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from league.errors import ConfigError, PoolError

__all__ = ["Turn", "plan_turns", "RunState", "derive_seed"]


@dataclass(frozen=True)
class Turn:
    """One training turn: a role trained once, in the bootstrap or in a rotation."""

    index: int
    phase: str  # "bootstrap" | "rotation" | "exploit"
    rotation: int  # 0 for the bootstrap, 1.. for rotations (an exploiter turn: the rotation it follows)
    role: str

    @property
    def label(self) -> str:
        where = {"bootstrap": "bootstrap", "rotation": f"rotation {self.rotation}",
                 "exploit": f"rotation {self.rotation} exploiter"}[self.phase]
        return f"{where}: {self.role}"


def plan_turns(roles: Sequence[str], rotations: int, *, exploit_every: int = 0,
               exploit_roles: Sequence[str] = ()) -> list[Turn]:
    """Every role once in the bootstrap, then every role once per rotation, in seat order; after
    every ``exploit_every``-th rotation, one exploiter turn per role of ``exploit_roles`` (all
    roles when empty)."""
    unknown = sorted(set(exploit_roles) - set(roles))
    if unknown:
        raise ConfigError(f"config key 'exploiters.roles' names {unknown}, which this game does not have; "
                          f"its roles are {list(roles)}")
    turns = [Turn(i, "bootstrap", 0, role) for i, role in enumerate(roles)]
    exploited = [r for r in roles if r in exploit_roles] if exploit_roles else list(roles)
    for r in range(1, rotations + 1):
        for role in roles:
            turns.append(Turn(len(turns), "rotation", r, role))
        if exploit_every and r % exploit_every == 0:
            for role in exploited:
                turns.append(Turn(len(turns), "exploit", r, role))
    return turns


def derive_seed(run_seed: int, *parts: int) -> int:
    """An independent, reproducible seed per (purpose, turn, ...), derived from the run seed.

    Purposes in use: 1 role hyperparameters, 2 a turn's training, 3 a turn's evaluation,
    4 and 5 the report's matches against the random anchors, 6 and 7 the population's
    measured seatings.  Nothing random is carried from one stage to the next, so a stage
    redone after a crash draws what it drew the first time.
    """
    return int(np.random.SeedSequence([run_seed, *parts]).generate_state(1)[0])


@dataclass
class RunState:
    """How far a run got, as committed in its pool (``Pool.state``).

    ``turn`` is the index of the next turn to work on; ``stage`` says whether that turn still
    has to train (``"start"``) or has trained, added its member and must play the rest of its
    evaluation (``"evaluate"``).  The JSON form is a flat dict; optional fields appear in it
    once set, so the state of a run written before this class existed reads back unchanged.
    """

    turn: int = 0
    """The next turn (an index into ``plan_turns``); ``len(turns)`` once every turn is done."""
    stage: Literal["start", "evaluate"] = "start"
    """``start``: the turn has not trained yet; ``evaluate``: trained and committed, evaluation pending."""
    steps: int = 0
    """Learner steps of every finished training so far."""
    matches_before: int | None = None
    """Matches in the pool's log when the current turn's evaluation began (None before the first)."""
    elapsed: float = 0.0
    """Wall seconds spent on the run, over every session."""
    done: bool | None = None
    """Set when a session ends: True if every turn is done, False if a budget stopped the run."""
    population: dict[str, dict[str, float]] | None = None
    """Each role's population policy after the last finished turn: ``{role: {member id: weight}}``."""
    tally: dict[str, list[float]] | None = None
    """The measured seatings behind it (``league.population.metagame.Tally``)."""
    ratings_before: dict[str, list[float]] | None = None
    """``{member id: [mu, sigma, games]}`` of the active members when the current turn's evaluation
    began (a member missing was added by the turn: the pool's initial rating, no games); a resumed
    evaluation replays its logged matches from these, so it ends as the uninterrupted one."""
    retiring: list[list[Any]] | None = None
    """``[[member id, reason], ...]``: what the current turn's pruning chose, committed before any
    member is retired, so a resumed turn retires exactly these (pruning again would not)."""

    def __post_init__(self) -> None:
        if self.stage not in ("start", "evaluate"):
            raise PoolError(f"run state stage {self.stage!r}: expected 'start' or 'evaluate'")

    @property
    def started(self) -> bool:
        """True once any turn has trained (the run is being resumed)."""
        return self.turn > 0 or self.stage != "start"

    def to_dict(self) -> dict[str, Any]:
        """The JSON-able dict the pool stores (unset optional fields left out)."""
        out = dataclasses.asdict(self)
        return {k: v for k, v in out.items() if v is not None}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunState:
        """The state a pool holds (``{}`` before the first commit: the start of the run)."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise PoolError(f"the pool's run state has keys {unknown} that no league run writes "
                            f"(expected some of {sorted(names)}); is this pool from a league run?")
        state = cls(**dict(data))
        state.turn, state.steps, state.elapsed = int(state.turn), int(state.steps), float(state.elapsed)
        if state.matches_before is not None:
            state.matches_before = int(state.matches_before)
        return state

    def replace(self, **changes: Any) -> RunState:
        """A copy with ``changes`` applied."""
        return dataclasses.replace(self, **changes)
