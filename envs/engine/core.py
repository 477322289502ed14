"""The engine: N copies of one game, the learner in one seat, policies in the others.

It starts episodes (``seating.Seater`` seats the policies), hands the learner's actions to the
game's driver (``aec`` or ``parallel``), which plays NPC rounds through ``npc.NpcRound``, and
ends episodes into ``Outcome``s. ``envs.selfplay`` wraps it as Gymnasium envs.

Without a learner (``learner_seat=None``) every seat is a policy: ``begin`` then plays each
started copy to the end of its episode, and ``feed`` (when set) may hand a finished copy its
next episode, which the same rounds go on playing. ``envs.match`` plays matches this way.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from envs.engine import aec, parallel
from envs.engine.seating import Redraw, Seater
from envs.engine.state import Copy
from envs.errors import GameConfigError
from envs.game import Game, Outcome
from envs.opponents import MemberId, OpponentSource, PolicyCache
from envs.spaces import action_shape

__all__ = ["Engine"]


def _observe(env: Any, seat: str) -> Any:
    return env.observe(seat)


class Engine:
    """N copies of one game with the learner in ``learner_seat`` (or none); see ``envs.selfplay``.

    ``act_rows``: call ``act``-only policies one row at a time with each copy's own generator
    (see ``envs.engine.npc``), so that a copy's play never depends on the other copies.
    """

    def __init__(self, game: Game, learner_seat: str | None, opponents: OpponentSource, n: int, *,
                 redraw: Redraw, cache_size: int, autoreset: bool, learner_id: MemberId,
                 act_rows: bool = False):
        if not isinstance(game, Game):
            raise GameConfigError(f"expected an envs.Game (from envs.make), got {type(game).__name__}")
        if learner_seat is not None:
            game.check_seat(learner_seat)
        self.game = game
        self.learner = learner_seat
        self.learner_id = learner_id
        self.autoreset = autoreset
        self.cache = PolicyCache(cache_size)
        self.npc_seats = tuple(s for s in game.seats if s != learner_seat)
        self.teams = game.team_of
        # A team role is played by one member in all its seats (the learner's teammates too:
        # one member of its role, drawn by the source like an opponent).
        shared = game.team_roles
        groups = {s: game.roles[s] for s in self.npc_seats if game.roles[s] in shared}
        self.seater = Seater(opponents, self.npc_seats, self.cache, redraw=redraw, learner=learner_seat,
                             groups=groups)
        self.obs_dim = 0 if learner_seat is None else game.obs_dim(learner_seat)
        self.n_actions = 0 if learner_seat is None else game.n_actions(learner_seat)
        self.dims = {s: game.obs_dim(s) for s in game.seats}
        self.acts = {s: game.n_actions(s) for s in game.seats}
        # Action specs (envs.spaces); discrete seats keep the engine's inline fast path.
        self.specs = {s: game.action_spec(s) for s in game.seats}
        self.action_spec = None if learner_seat is None else self.specs[learner_seat]
        self.discrete = self.action_spec is None or self.action_spec["type"] == "discrete"
        self.driver = aec if game.api == "aec" else parallel
        self.encode = game.encoder
        self.observe = game.observe or _observe
        self.copies = [Copy(game.new_env(), np.random.default_rng()) for _ in range(n)]
        self.act_rng: np.random.Generator | None = None  # for act()-only policies; None: copy's own
        self.act_rows = act_rows
        self.feed: Callable[[int, Outcome], bool] | None = None
        """Learner-less engines: given a finished copy and its outcome, set up the copy's next
        episode (seating, generator) and say ``True``, or ``False`` to leave it idle."""
        self.obs = np.zeros((n, self.obs_dim), np.float32)
        self.mask = np.ones((n, self.n_actions), bool)
        self.clear_step()

    def grow(self, n: int) -> None:
        """At least ``n`` copies (new ones idle); clears the step's scratch."""
        while len(self.copies) < n:
            self.copies.append(Copy(self.game.new_env(), np.random.default_rng()))
        if len(self.obs) < len(self.copies):
            self.obs = np.concatenate([self.obs, np.zeros((len(self.copies) - len(self.obs), self.obs_dim),
                                                          np.float32)])
            self.mask = np.concatenate([self.mask, np.ones((len(self.copies) - len(self.mask), self.n_actions),
                                                           bool)])
        self.clear_step()

    # ---- per-step scratch -------------------------------------------------------------------
    def clear_step(self) -> None:
        n = len(self.copies)
        self.reward = np.zeros(n, np.float32)
        self.terminated = np.zeros(n, bool)
        self.truncated = np.zeros(n, bool)
        self.ended = [False] * n
        self.final_rows: dict[int, np.ndarray] = {}
        self.outcomes: list[tuple[int, Outcome]] = []

    # ---- seeding and episode start ----------------------------------------------------------
    def seed_copy(self, i: int, rng: np.random.Generator) -> None:
        c = self.copies[i]
        c.rng = rng
        c.seed_env = True

    def new_rollout(self) -> None:
        for c in self.copies:
            c.redraw = True

    def force(self, i: int, seating: Mapping[str, MemberId] | None) -> None:
        """Make the next episode of copy ``i`` seat ``seating`` (NPC seats only; partial is fine)."""
        self.seater.force(self.copies[i], seating)

    def start(self, i: int) -> None:
        """Seat opponents (if this is a redraw point) and reset the raw env of copy ``i``."""
        c = self.copies[i]
        self.seater.seat(c)
        if c.seed_env:
            out = c.env.reset(seed=int(c.rng.integers(2**31 - 1)))
            c.seed_env = False
        else:
            out = c.env.reset()
        if self.driver is parallel:
            c.raw = out[0]
        c.returns = dict.fromkeys(self.game.seats, 0.0)
        c.mark = 0.0
        c.length = 0
        c.illegal = None
        c.first_turn = True
        c.idle = False

    def begin(self, indices: Sequence[int]) -> None:
        """Start episodes in ``indices`` and play NPCs until each is at the learner's turn."""
        for i in indices:
            self.start(i)
        self.driver.begin(self, list(indices))

    # ---- the learner's turn and the end of an episode ---------------------------------------
    def learner_turn(self, i: int, raw: Any) -> None:
        c = self.copies[i]
        self.encode(raw, self.obs[i], self.mask[i])
        r = c.returns[self.learner]
        if not self.ended[i] and not c.first_turn:
            self.reward[i] = r - c.mark
        c.mark = r
        c.first_turn = False
        c.forced = None  # a forced seating is spent once the learner has played in it

    def finish(self, i: int) -> None:
        """Record the outcome of copy ``i``'s episode; restart it if it autoresets."""
        c = self.copies[i]
        game = self.game
        learner = self.learner
        teams = self.teams
        if c.illegal is not None:
            # The illegal seat's whole team loses; everyone else ties for first.
            lost = teams[c.illegal]
            ranks = {s: (len(game.seats) if teams[s] == lost else 1) for s in game.seats}
        else:
            ranks = game.outcome(c.returns)
        ranks = {s: int(r) for s, r in ranks.items()}  # plain ints/floats: outcomes get logged as JSON
        seating = {s: (self.learner_id if s == learner else c.seating[s]) for s in game.seats}
        returns = {s: float(v) for s, v in c.returns.items()}
        outcome = Outcome(seating, ranks, returns, learner, c.length, c.illegal, teams)
        self.outcomes.append((i, outcome))
        decisionless = learner is not None and c.first_turn
        if learner is not None and not decisionless and not self.ended[i]:
            self.flag_learner(i)
        c.idle = True
        if decisionless or self.autoreset or (self.feed is not None and self.feed(i, outcome)):
            self.start(i)

    def flag_learner(self, i: int) -> None:
        """The learner's part of copy ``i``'s episode is over (the episode's end, or its agent
        died or left while the others play on): pay its last reward, flag it terminated or
        truncated and keep its last observation where one is needed."""
        c = self.copies[i]
        learner = self.learner
        self.ended[i] = True
        self.reward[i] = c.returns[learner] - c.mark
        if self.driver is aec:
            term = c.env.terminations.get(learner, True)
            trunc = c.env.truncations.get(learner, False)
            raw = self.observe(c.env, learner) if (trunc or not self.autoreset) else None
        else:
            terms, truncs = c.flags
            term = terms.get(learner, False)
            trunc = truncs.get(learner, False)
            raw = c.raw.get(learner) if isinstance(c.raw, Mapping) else None
        # An agent that left without either flag (removed from env.agents) has terminated.
        term = bool(term) or c.illegal is not None or not (term or trunc)
        self.terminated[i] = term
        self.truncated[i] = bool(trunc) and not term
        # Only a truncated episode's last observation is ever bootstrapped from, and observing
        # is the costliest call of some games (RLCard), so the vectorized env skips the rest.
        if self.truncated[i] or not self.autoreset:
            row = np.zeros(self.obs_dim, np.float32)
            if raw is not None:
                self.encode(raw, row, np.ones(self.n_actions, bool))
            self.final_rows[i] = row

    # ---- one learner step for every copy ----------------------------------------------------
    def step(self, actions: Sequence[Any] | np.ndarray) -> None:
        """One learner action per copy: ints (discrete) or rows ``[n, k]`` (multi-discrete, Box)."""
        self.clear_step()
        n = len(self.copies)
        if self.discrete:
            acts: list[Any] = np.asarray(actions).reshape(-1).tolist()
        else:
            arr = np.asarray(actions)
            want = action_shape(self.action_spec)
            if arr.size != n * want[0]:
                raise GameConfigError(f"expected {n} actions of shape {want}, got an array of shape {arr.shape}")
            acts = list(arr.reshape(n, *want))
        if len(acts) != n:
            raise GameConfigError(f"expected {n} actions, got {len(acts)}")
        pending = []
        for i, a in enumerate(acts):
            if self.copies[i].idle:
                raise GameConfigError("step() after the episode ended: call reset() first")
            if self.driver.learner_step(self, i, int(a) if self.discrete else a):
                pending.append(i)
        self.driver.advance(self, pending)
