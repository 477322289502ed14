"""PettingZoo games as single-agent Gymnasium envs: the learner in one seat, NPCs in the others.

One engine drives N copies of a raw PettingZoo env (AEC or parallel API). After the learner's
action it plays NPC rounds: in each round every copy whose turn belongs to an NPC contributes
one decision, decisions are grouped by member, and each member runs one batched forward pass.
``SelfPlayEnv`` is the engine with one copy (a ``gymnasium.Env``); ``SelfPlayVecEnv`` with N.

Rules the engine holds to (see docs/interfaces.md):

* Reward of a step: what the learner's seat earned since its previous decision (own action and
  every NPC move after it). Rewards earned before the learner's first decision of an episode
  are not paid out (they still count in ``Outcome.returns``).
* Illegal learner action (masked games): handled like PettingZoo's ``TerminateIllegalWrapper``:
  the learner gets ``game.illegal_reward`` (-1), the episode ends (``terminated=True``), the
  learner ranks last and all other seats tie for first; ``Outcome.illegal`` names the seat.
* An episode that ends before the learner has decided anything (everyone folds to the big
  blind in hold'em) is reported as an outcome and dealt again; its seating is kept.
* Opponents are picked at the start of an episode and never change inside it. With
  ``redraw="episode"`` every episode picks; with ``redraw="rollout"`` only the first episode
  started after ``new_rollout()`` (and the very first one).
* Seeds: a copy seeded with ``s`` draws everything (seatings, the game's own seed, NPC samples)
  from ``np.random.default_rng(s)``. ``SelfPlayVecEnv.reset(seed=s)`` seeds copy ``i`` with
  ``s + i``, so copy ``i`` plays exactly what ``SelfPlayEnv.reset(seed=s + i)`` followed by
  plain ``reset()`` calls plays, given the same learner actions. This holds for NPC policies
  that offer ``probs(obs, mask)``; for ones that only offer ``act``, a batch shares one
  generator, so a vectorized run is reproducible for a given seed but not copy-by-copy equal.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import gymnasium as gym
import numpy as np

from envs.errors import GameConfigError, IllegalActionError
from envs.game import Game, Outcome
from envs.opponents import MemberId, OpponentSource, Policy, PolicyCache
from envs.reference import sample_with_uniforms

__all__ = ["SelfPlayEnv", "SelfPlayVecEnv"]

Redraw = Literal["episode", "rollout"]


def _observe(env: Any, seat: str) -> Any:
    return env.observe(seat)


class _Copy:
    """The state of one env copy: its raw env, generator, seating and running episode totals."""

    __slots__ = ("env", "rng", "seed_env", "seating", "policies", "returns", "mark", "length",
                 "illegal", "forced", "redraw", "first_turn", "raw", "flags", "action", "idle")

    def __init__(self, env: Any, rng: np.random.Generator):
        self.env = env
        self.rng = rng
        self.seed_env = True           # the next env.reset() takes a seed drawn from rng
        self.seating: dict[str, MemberId] = {}
        self.policies: dict[str, Policy] = {}
        self.returns: dict[str, float] = {}
        self.mark = 0.0                # learner's return when it was last paid out
        self.length = 0
        self.illegal: str | None = None
        self.forced: dict[str, MemberId] | None = None
        self.redraw = True
        self.first_turn = True         # no learner decision yet in this episode
        self.raw: Any = None           # parallel API: last observation dict
        self.flags: tuple[dict, dict] = ({}, {})  # parallel API: last terminations, truncations
        self.action = 0                # parallel API: the learner's pending action
        self.idle = True               # episode over and not restarted (single env)


class _Engine:
    """N copies of one game with the learner in one seat; see the module docstring."""

    def __init__(self, game: Game, learner_seat: str, opponents: OpponentSource, n: int, *,
                 redraw: Redraw, cache_size: int, autoreset: bool, learner_id: MemberId):
        if not isinstance(game, Game):
            raise GameConfigError(f"expected an envs.Game (from envs.make), got {type(game).__name__}")
        game.check_seat(learner_seat)
        if redraw not in ("episode", "rollout"):
            raise GameConfigError(f"redraw must be 'episode' or 'rollout', got {redraw!r}")
        for method in ("pick", "load"):
            if not callable(getattr(opponents, method, None)):
                raise GameConfigError(f"opponents must offer pick() and load() (envs.OpponentSource); "
                                      f"{type(opponents).__name__} has no {method}()")
        self.game = game
        self.learner = learner_seat
        self.learner_id = learner_id
        self.source = opponents
        self.redraw_mode = redraw
        self.autoreset = autoreset
        self.cache = PolicyCache(cache_size)
        self.npc_seats = tuple(s for s in game.seats if s != learner_seat)
        self.obs_dim = game.obs_dim(learner_seat)
        self.n_actions = game.n_actions(learner_seat)
        self._dims = {s: game.obs_dim(s) for s in game.seats}
        self._acts = {s: game.n_actions(s) for s in game.seats}
        self._aec = game.api == "aec"
        self._encode = game.encoder
        self._observe = game.observe or _observe
        self.copies = [_Copy(game.new_env(), np.random.default_rng()) for _ in range(n)]
        self.act_rng: np.random.Generator | None = None  # for act()-only policies; None: copy's own
        self.obs = np.zeros((n, self.obs_dim), np.float32)
        self.mask = np.ones((n, self.n_actions), bool)
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

    def start(self, i: int) -> None:
        """Seat opponents (if this is a redraw point) and reset the raw env of copy ``i``."""
        c = self.copies[i]
        if c.forced is not None or c.redraw or self.redraw_mode == "episode":
            forced = c.forced or {}
            rest = [s for s in self.npc_seats if s not in forced]
            picked = dict(self.source.pick(rest, c.rng)) if rest else {}
            missing = [s for s in rest if s not in picked]
            if missing:
                raise GameConfigError(f"opponent source {type(self.source).__name__} picked no member "
                                      f"for seat(s) {missing}")
            picked.update(forced)
            # Plain ints: sources often pick with numpy, and outcomes end up in JSON logs.
            c.seating = {s: (int(picked[s]) if isinstance(picked[s], np.integer) else picked[s])
                         for s in self.npc_seats}
            load = self.source.load
            c.policies = {s: self.cache.get(m, load) for s, m in c.seating.items()}
            c.redraw = False
        if c.seed_env:
            out = c.env.reset(seed=int(c.rng.integers(2**31 - 1)))
            c.seed_env = False
        else:
            out = c.env.reset()
        if not self._aec:
            c.raw = out[0]
        c.returns = dict.fromkeys(self.game.seats, 0.0)
        c.mark = 0.0
        c.length = 0
        c.illegal = None
        c.first_turn = True
        c.idle = False

    def force(self, i: int, seating: Mapping[str, MemberId] | None) -> None:
        """Make the next episode of copy ``i`` seat ``seating`` (NPC seats only; partial is fine)."""
        if seating is None:
            self.copies[i].forced = None
            return
        if not isinstance(seating, Mapping):
            raise GameConfigError(f"options['opponents'] must map seats to member ids, got {seating!r}")
        bad = [s for s in seating if s not in self.npc_seats]
        if bad:
            raise GameConfigError(f"cannot force seat(s) {bad}: opponent seats are {list(self.npc_seats)} "
                                  f"(the learner sits in {self.learner!r})")
        self.copies[i].forced = dict(seating)

    def begin(self, indices: Sequence[int]) -> None:
        """Start episodes in ``indices`` and play NPCs until each is at the learner's turn."""
        for i in indices:
            self.start(i)
        if self._aec:
            self._advance_aec(list(indices))
        else:
            for i in indices:
                self._learner_turn(i, self.copies[i].raw[self.learner])

    # ---- the learner's turn and the end of an episode ---------------------------------------
    def _learner_turn(self, i: int, raw: Any) -> None:
        c = self.copies[i]
        self._encode(raw, self.obs[i], self.mask[i])
        r = c.returns[self.learner]
        if not self.ended[i] and not c.first_turn:
            self.reward[i] = r - c.mark
        c.mark = r
        c.first_turn = False
        c.forced = None  # a forced seating is spent once the learner has played in it

    def _finish(self, i: int) -> None:
        """Record the outcome of copy ``i``'s episode; restart it if it autoresets."""
        c = self.copies[i]
        game = self.game
        learner = self.learner
        if c.illegal is not None:
            ranks = {s: (len(game.seats) if s == c.illegal else 1) for s in game.seats}
        else:
            ranks = game.outcome(c.returns)
        ranks = {s: int(r) for s, r in ranks.items()}  # plain ints/floats: outcomes get logged as JSON
        seating = {s: (self.learner_id if s == learner else c.seating[s]) for s in game.seats}
        returns = {s: float(v) for s, v in c.returns.items()}
        self.outcomes.append((i, Outcome(seating, ranks, returns, learner, c.length, c.illegal)))
        decisionless = c.first_turn
        if not decisionless and not self.ended[i]:
            self.ended[i] = True
            self.reward[i] = c.returns[learner] - c.mark
            if self._aec:
                term = c.env.terminations.get(learner, True)
                trunc = c.env.truncations.get(learner, False)
                raw = self._observe(c.env, learner) if (trunc or not self.autoreset) else None
            else:
                terms, truncs = c.flags
                term = terms.get(learner, False)
                trunc = truncs.get(learner, False)
                raw = c.raw.get(learner) if isinstance(c.raw, Mapping) else None
            term = bool(term) or c.illegal is not None
            self.terminated[i] = term
            self.truncated[i] = bool(trunc) and not term
            # Only a truncated episode's last observation is ever bootstrapped from, and observing
            # is the costliest call of some games (RLCard), so the vectorized env skips the rest.
            if self.truncated[i] or not self.autoreset:
                row = np.zeros(self.obs_dim, np.float32)
                if raw is not None:
                    self._encode(raw, row, np.ones(self.n_actions, bool))
                self.final_rows[i] = row
        c.idle = True
        if decisionless or self.autoreset:
            self.start(i)

    # ---- NPC decisions ----------------------------------------------------------------------
    def _decide(self, policy: Policy, obs: np.ndarray, mask: np.ndarray | None,
                rngs: list[np.random.Generator], n_actions: int) -> np.ndarray:
        probs = getattr(policy, "probs", None)
        if probs is not None:
            p = np.asarray(probs(obs, mask), dtype=np.float64)
            u = np.fromiter((r.random() for r in rngs), np.float64, len(rngs))
            actions = sample_with_uniforms(p, u)
        else:
            rng = self.act_rng if self.act_rng is not None else rngs[0]
            actions = np.asarray(policy.act(obs, mask, rng), dtype=np.int64).reshape(-1)
        if actions.shape != (len(obs),):
            raise IllegalActionError(f"opponent policy {type(policy).__name__} returned actions of shape "
                                     f"{actions.shape} for a batch of {len(obs)} observations")
        if actions.min() < 0 or actions.max() >= n_actions:
            raise IllegalActionError(f"opponent policy {type(policy).__name__} chose actions outside "
                                     f"0..{n_actions - 1}: {actions.tolist()}")
        if mask is not None and not mask[np.arange(len(actions)), actions].all():
            bad = int(np.flatnonzero(~mask[np.arange(len(actions)), actions])[0])
            raise IllegalActionError(f"opponent policy {type(policy).__name__} chose masked action "
                                     f"{int(actions[bad])} (legal: {np.flatnonzero(mask[bad]).tolist()})")
        return actions

    def _batch(self, group: list) -> tuple[np.ndarray, np.ndarray | None]:
        """Encode a group's raw observations ``[(copy, seat, raw), ...]`` into arrays."""
        seat0 = group[0][1]
        obs = np.empty((len(group), self._dims[seat0]), np.float32)
        mask = np.ones((len(group), self._acts[seat0]), bool)
        encode = self._encode
        for b, (_, _, raw) in enumerate(group):
            encode(raw, obs[b], mask[b])
        return obs, (mask if self.game.masked else None)

    # ---- AEC driving ------------------------------------------------------------------------
    def learner_step_aec(self, i: int, action: int) -> None:
        c = self.copies[i]
        if not (0 <= action < self.n_actions and self.mask[i, action]):
            c.illegal = self.learner
            c.returns[self.learner] += self.game.illegal_reward
            c.length += 1
            self._finish(i)
            return
        env = c.env
        env.step(action)
        c.length += 1
        returns = c.returns
        for s, r in env.rewards.items():
            if r:
                returns[s] += r

    def _advance_aec(self, pending: list[int]) -> None:
        copies = self.copies
        learner = self.learner
        dims = self._dims
        observe = self._observe
        while pending:
            groups: dict[tuple[MemberId, int], list] = {}
            for i in pending:
                c = copies[i]
                if c.idle:
                    continue
                env = c.env
                while True:
                    agent = env.agent_selection
                    if env.terminations[agent] or env.truncations[agent]:
                        if all(env.terminations[a] or env.truncations[a] for a in env.agents):
                            self._finish(i)
                            if c.idle:
                                break
                            continue
                        env.step(None)  # a seat that left early takes its dead step
                        continue
                    if agent == learner:
                        self._learner_turn(i, observe(env, agent))
                        break
                    key = (c.seating[agent], dims[agent])
                    group = groups.get(key)
                    if group is None:
                        groups[key] = group = []
                    group.append((i, agent, observe(env, agent)))
                    break
            pending = []
            for group in groups.values():
                i0, seat0, _ = group[0]
                obs, mask = self._batch(group)
                actions = self._decide(copies[i0].policies[seat0], obs, mask,
                                       [copies[i].rng for i, _, _ in group], self._acts[seat0])
                for (i, _, _), a in zip(group, actions.tolist()):
                    c = copies[i]
                    env = c.env
                    env.step(a)
                    returns = c.returns
                    for s, r in env.rewards.items():
                        if r:
                            returns[s] += r
                    pending.append(i)

    # ---- parallel driving -------------------------------------------------------------------
    def _advance_parallel(self, pending: list[int]) -> None:
        copies = self.copies
        learner = self.learner
        dims = self._dims
        while pending:
            groups: dict[tuple[MemberId, int], list] = {}
            for i in pending:
                c = copies[i]
                for seat in c.env.agents:
                    if seat != learner:
                        key = (c.seating[seat], dims[seat])
                        group = groups.get(key)
                        if group is None:
                            groups[key] = group = []
                        group.append((i, seat, c.raw[seat]))
            joint: dict[int, dict[str, int]] = {i: {} for i in pending}
            for group in groups.values():
                i0, seat0, _ = group[0]
                obs, mask = self._batch(group)
                actions = self._decide(copies[i0].policies[seat0], obs, mask,
                                       [copies[i].rng for i, _, _ in group], self._acts[seat0])
                for (i, seat, _), a in zip(group, actions.tolist()):
                    joint[i][seat] = a
            again = []
            for i in pending:
                c = copies[i]
                env = c.env
                acts = joint[i]
                if learner in env.agents:
                    acts[learner] = c.action
                obs, rewards, terms, truncs, _ = env.step(acts)
                c.raw = obs
                c.flags = (terms, truncs)
                returns = c.returns
                for s, r in rewards.items():
                    if r:
                        returns[s] += r
                if not env.agents or all(terms[a] or truncs[a] for a in terms):
                    self._finish(i)
                    if not c.idle:
                        self._learner_turn(i, c.raw[learner])
                elif learner in env.agents:
                    self._learner_turn(i, obs[learner])
                else:
                    again.append(i)  # the learner left early: NPCs play on to the end
            pending = again

    # ---- one learner step for every copy ----------------------------------------------------
    def step(self, actions: Sequence[int] | np.ndarray) -> None:
        self.clear_step()
        acts = np.asarray(actions).reshape(-1).tolist()
        if len(acts) != len(self.copies):
            raise GameConfigError(f"expected {len(self.copies)} actions, got {len(acts)}")
        if self._aec:
            for i, a in enumerate(acts):
                if self.copies[i].idle:
                    raise GameConfigError("step() after the episode ended: call reset() first")
                self.learner_step_aec(i, int(a))
            self._advance_aec(list(range(len(acts))))
        else:
            pending = []
            for i, a in enumerate(acts):
                c = self.copies[i]
                if c.idle:
                    raise GameConfigError("step() after the episode ended: call reset() first")
                c.action = int(a)
                c.length += 1
                if 0 <= c.action < self.n_actions:
                    pending.append(i)
                    continue
                c.illegal = self.learner  # out of the action space: lost, as in the AEC case
                c.returns[self.learner] += self.game.illegal_reward
                self._finish(i)
                if not c.idle:
                    self._learner_turn(i, c.raw[self.learner])
            self._advance_parallel(pending)


def _space_of(game: Game, seat: str) -> tuple[gym.spaces.Box, gym.spaces.Discrete]:
    low, high = game.obs_bounds
    obs_space = gym.spaces.Box(low=low, high=high, shape=(game.obs_dim(seat),), dtype=np.float32)
    return obs_space, gym.spaces.Discrete(game.n_actions(seat))


class SelfPlayEnv(gym.Env):
    """The learner in ``learner_seat`` of ``game``; ``opponents`` picks and builds the NPCs.

    ``info["action_mask"]`` (bool ``[n_actions]``) and ``action_masks()`` give the legal actions
    (all True for unmasked games and on terminal observations). At the end of an episode
    ``info["outcome"]`` is an ``envs.Outcome``. ``reset(options={"opponents": {seat: id}})``
    forces a seating for that episode; seats it leaves out are picked by the source. A reset
    whose deals ended before the learner could act lists their outcomes in ``info["outcomes"]``.
    """

    metadata = {"render_modes": []}

    def __init__(self, game: Game, learner_seat: str, opponents: OpponentSource, *,
                 redraw: Redraw = "episode", cache_size: int = 8, learner_id: MemberId = "learner"):
        self._engine = _Engine(game, learner_seat, opponents, 1, redraw=redraw, cache_size=cache_size,
                               autoreset=False, learner_id=learner_id)
        self.game = game
        self.learner_seat = learner_seat
        self.observation_space, self.action_space = _space_of(game, learner_seat)
        self._last_mask = np.ones(self.action_space.n, bool)

    @property
    def cache(self) -> PolicyCache:
        """The LRU cache of opponent policies."""
        return self._engine.cache

    @property
    def seating(self) -> dict[str, MemberId]:
        """Who sits in each NPC seat in the current episode."""
        return dict(self._engine.copies[0].seating)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None
              ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        engine = self._engine
        if seed is not None or engine.copies[0].rng is not self.np_random:
            engine.seed_copy(0, self.np_random)
        engine.force(0, (options or {}).get("opponents"))
        engine.clear_step()
        engine.begin([0])
        info: dict[str, Any] = {"action_mask": engine.mask[0].copy()}
        if engine.outcomes:
            info["outcomes"] = [o for _, o in engine.outcomes]
        self._last_mask = info["action_mask"]
        return engine.obs[0].copy(), info

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        engine = self._engine
        engine.step([int(action)])
        if engine.ended[0]:
            obs = engine.final_rows[0]
            mask = np.ones(self.action_space.n, bool)
            info: dict[str, Any] = {"action_mask": mask, "outcome": engine.outcomes[-1][1]}
        else:
            obs = engine.obs[0].copy()
            mask = engine.mask[0].copy()
            info = {"action_mask": mask}
        self._last_mask = mask
        return (obs, float(engine.reward[0]), bool(engine.terminated[0]), bool(engine.truncated[0]), info)

    def action_masks(self) -> np.ndarray:
        """Legal actions of the current observation (sb3-contrib's MaskablePPO calls this)."""
        return self._last_mask

    def close(self) -> None:
        self._engine.copies[0].env.close()

    def new_rollout(self) -> None:
        """A redraw point for ``redraw="rollout"``: the next episode picks new opponents."""
        self._engine.new_rollout()


class SelfPlayVecEnv:
    """``n_envs`` copies of the self-play env stepped together, NPC inference batched by member.

    ``reset(seed=s)`` seeds copy ``i`` with ``s + i`` (see the module docstring). ``step`` returns
    ``(obs, rewards, terminated, truncated, infos)``; a finished copy is reset in the same step
    and its returned obs is its next episode's first. ``infos`` holds ``"action_mask"``
    ``[n, n_actions]``, ``"outcomes"`` ``[(copy, Outcome)]`` and ``"final_obs"`` (``obs`` with
    the rows of truncated copies replaced by their last observation, to bootstrap from; a
    terminated episode's last observation is not kept, its value is 0 anyway).
    """

    def __init__(self, game: Game, learner_seat: str, opponents: OpponentSource, n_envs: int, *,
                 seed: int | None = None, redraw: Redraw = "episode", cache_size: int = 8,
                 learner_id: MemberId = "learner"):
        if not isinstance(n_envs, int) or n_envs < 1:
            raise GameConfigError(f"n_envs must be a positive integer, got {n_envs!r}")
        self._engine = _Engine(game, learner_seat, opponents, n_envs, redraw=redraw,
                               cache_size=cache_size, autoreset=True, learner_id=learner_id)
        self.game = game
        self.learner_seat = learner_seat
        self.num_envs = n_envs
        self.obs_dim = self._engine.obs_dim
        self.n_actions = self._engine.n_actions
        self.observation_space, self.action_space = _space_of(game, learner_seat)
        self._seed = seed
        self._started = False

    @property
    def cache(self) -> PolicyCache:
        """The LRU cache of opponent policies (shared by all copies)."""
        return self._engine.cache

    def seating(self, i: int) -> dict[str, MemberId]:
        """Who sits in each NPC seat of copy ``i`` in its current episode."""
        return dict(self._engine.copies[i].seating)

    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None
              ) -> tuple[np.ndarray, dict[str, Any]]:
        """Start a new episode in every copy; ``seed`` (or the constructor's, on the first reset)
        reseeds copy ``i`` with ``seed + i``; ``options["opponents"]`` forces every copy's seating."""
        engine = self._engine
        if seed is None and not self._started:
            seed = self._seed
        if seed is None and not self._started:
            seed = int(np.random.SeedSequence().generate_state(1)[0] >> 1)
        if seed is not None:
            for i in range(self.num_envs):
                engine.seed_copy(i, np.random.default_rng(seed + i))
            engine.act_rng = np.random.default_rng([seed, self.num_envs])
        self._started = True
        forced = (options or {}).get("opponents")
        for i in range(self.num_envs):
            engine.force(i, forced)
        engine.clear_step()
        engine.begin(range(self.num_envs))
        return engine.obs.copy(), {"action_mask": engine.mask.copy(),
                                   "outcomes": list(engine.outcomes)}

    def step(self, actions: np.ndarray | Sequence[int]
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        if not self._started:
            raise GameConfigError("call reset() before step()")
        engine = self._engine
        engine.step(actions)
        obs = engine.obs.copy()
        final = obs
        if engine.final_rows:
            final = obs.copy()
            for i, row in engine.final_rows.items():
                final[i] = row
        infos = {"action_mask": engine.mask.copy(), "outcomes": engine.outcomes, "final_obs": final}
        return obs, engine.reward, engine.terminated, engine.truncated, infos

    def action_masks(self) -> np.ndarray:
        """Legal actions ``[n, n_actions]`` of the last returned observations."""
        return self._engine.mask.copy()

    def new_rollout(self) -> None:
        """A redraw point for ``redraw="rollout"``: each copy's next episode picks new opponents."""
        self._engine.new_rollout()

    def close(self) -> None:
        for c in self._engine.copies:
            c.env.close()
