"""The league loop: the plan of docs/design.md run unattended, resumable after any crash.

    0. an empty pool with one uniform-random anchor per role;
    1. bootstrap: every role gets sampled hyperparameters and trains against the
       anchors until its evaluation stops improving; its best checkpoint joins the pool;
    2. rotations: for each role in turn, train it (from its best active member)
       against opponents sampled from the active index, add its best checkpoint
       (nothing, if no checkpoint beat the member it started from), evaluate a
       sampled set of seatings, prune.

Each turn is three steps, as in OpenSpiel's PSRO meta-trainer (update the agents, the
empirical game, the population): ``_train`` (``phase.setup_turn`` builds its parts),
``_evaluate`` and ``_prune``.  The plan and the run state are ``plan.py``'s.  A member's
row and the state that says "turn k added its member" are one commit, so a resumed run
never adds a member twice and never loses one.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

import envs
from league.config import RunConfig
from league.errors import ConfigError, MissingWeightsError
from league.evaluation.blocks import BlockPlayer
from league.evaluation.evaluator import Evaluator
from league.evaluation.matches import LocalBackend, MatchBackend
from league.population.metagame import (measure_seatings, merge_tallies, population_policy, seatings_to_measure,
                                        support_seatings)
from league.population.opponents import MemberLoader
from league.orchestration.phase import setup_turn
from league.orchestration.plan import RunState, Turn, derive_seed, plan_turns
from league.pool import Member, Pool
from league.population.pruning import prune
from ratings import TrueSkillSystem

__all__ = ["League", "POOL_DIR"]

POOL_DIR = "pool"


class League:
    """Runs (or resumes) a league in ``out_dir``; ``run()`` returns the final pool summary.

    The League is the only writer of its pool.  ``backend`` plays evaluation
    matches (default: in this process); ``backend_factory`` builds one from the pool
    once it is open (a backend that reads members, e.g. ``league.distributed``'s).
    ``env_factory`` builds the learner's vector env (default ``envs.SelfPlayVecEnv``,
    same signature), e.g. one whose copies step on other processes.  ``on_turn(league, turn)``
    is called after each finished turn (trained, evaluated, pruned and committed).
    """

    def __init__(self, config: RunConfig, out_dir: str | Path, *, resume: bool = False,
                 log: TextIO | None = None, backend: MatchBackend | None = None,
                 backend_factory: Callable[[Pool], MatchBackend] | None = None,
                 env_factory: Callable[..., Any] | None = None,
                 on_turn: Callable[[League, Turn], None] | None = None):
        self.config = config
        self.out = Path(out_dir)
        self.log = log if log is not None else sys.stderr
        self.game = envs.make(config.game.name, **config.game.kwargs)
        self.roles: list[str] = list(dict.fromkeys(self.game.roles[s] for s in self.game.seats))
        self.seat_of = {role: next(s for s in self.game.seats if self.game.roles[s] == role)
                        for role in self.roles}
        self.ratings = TrueSkillSystem(mu=config.ratings.mu, sigma=config.ratings.sigma,
                                       beta=config.ratings.beta, tau=config.ratings.tau,
                                       draw_probability=config.ratings.draw_probability)
        self.turns = plan_turns(self.roles, config.rotations)
        pool_dir = self.out / POOL_DIR
        if resume:
            self.pool = Pool.open(pool_dir, mode="a")
            if self.pool.game != self.game.name or list(self.pool.roles) != self.roles:
                raise ConfigError(f"the pool in {pool_dir} plays {self.pool.game!r} with roles "
                                  f"{list(self.pool.roles)}, but the config asks for {self.game.name!r} "
                                  f"with roles {self.roles}; resume with the run's own config.toml")
        else:
            self.pool = Pool.create(pool_dir, game=self.game.name, roles=self.roles,
                                    mu=config.ratings.mu, sigma=config.ratings.sigma)
        if backend is None and backend_factory is not None:
            backend = backend_factory(self.pool)
        self.backend: MatchBackend = backend if backend is not None else LocalBackend(
            self.game, MemberLoader(self.pool), cache_size=max(64, config.cache_size))
        self.env_factory: Callable[..., Any] = env_factory if env_factory is not None else envs.SelfPlayVecEnv
        self.on_turn = on_turn
        self.metrics_path = self.out / "metrics.csv"
        self.started = time.monotonic()
        self.state = RunState.from_dict(self.pool.state)
        self.elapsed_before = self.state.elapsed

    # ------------------------------------------------------------------ helpers

    def say(self, text: str) -> None:
        print(text, file=self.log, flush=True)

    def elapsed(self) -> float:
        return self.elapsed_before + time.monotonic() - self.started

    def _commit(self, **changes: Any) -> dict[str, Any]:
        """The run state with ``changes`` (and the wall time so far), as the pool stores it."""
        self.state = self.state.replace(**changes, elapsed=self.elapsed())
        return self.state.to_dict()

    def _anchors(self) -> None:
        """One uniform-random anchor per role: version 0, never pruned."""
        have = {m.role for m in self.pool.members() if m.anchor}
        for role in self.roles:
            if role in have:
                continue
            seat = self.seat_of[role]
            spec = {"kind": "random", "n_actions": self.game.n_actions(seat)}
            self.pool.add(role, {}, spec=spec, hparams={"anchor": "uniform_random"}, step=0, anchor=True,
                          state=self._commit(turn=0, stage="start", steps=0))

    def start_member(self, role: str) -> Member | None:
        """The member a rotation turn of ``role`` trains from (``learner.start``; None: fresh weights)."""
        start = self.config.learner.start
        if start == "fresh":
            return None
        if start == "best":
            return self.best_member(role)
        # The newest snapshot, even if pruning retired it: the learner continues regardless of
        # what the league thinks of its last snapshot; one whose weights were deleted cannot.
        for member in sorted((m for m in self.pool.members(role) if not m.anchor),
                             key=lambda m: m.version, reverse=True):
            try:
                self.pool.weights(member.id)
            except MissingWeightsError:
                continue
            return member
        return None

    def best_member(self, role: str) -> Member | None:
        """The role's active non-anchor member with the highest conservative rating."""
        trained = [m for m in self.pool.active(role) if not m.anchor]
        return max(trained, key=lambda m: (m.conservative, m.version)) if trained else None

    def _budget_left(self, steps_so_far: int) -> tuple[int | None, float | None]:
        steps = None if self.config.max_steps is None else self.config.max_steps - steps_so_far
        secs = None if self.config.max_seconds is None else self.config.max_seconds - self.elapsed()
        return steps, secs

    # ------------------------------------------------------------------ the three steps of a turn

    def _train(self, turn: Turn) -> None:
        """Train the turn's role and commit its best checkpoint with the state "evaluate next"."""
        start = self.start_member(turn.role) if turn.phase == "rotation" else None
        left_steps, left_secs = self._budget_left(self.state.steps)
        setup = setup_turn(self.config, self.game, self.pool, self.ratings, turn, start=start,
                           left_steps=left_steps, left_seconds=left_secs, env_factory=self.env_factory,
                           metrics_path=self.metrics_path)
        result = setup.train()
        steps = self.state.steps + result.steps
        last = self.config.learner.snapshot == "last"
        best = result.last_evaluation if last else result.best_evaluation
        weights = result.last_weights if last else result.best_weights
        after = self._commit(turn=turn.index, stage="evaluate", steps=steps,
                             matches_before=len(self.pool.matches()))
        if not last and start is not None and result.best_step == 0:
            # The starting member stayed the best checkpoint: it is in the pool
            # already, and a copy would only split its games and its rating.
            self.pool.set_state(after)
            self.say(f"  no checkpoint beat the starting member {start.id} ({turn.role} v{start.version}) "
                     f"in {result.steps} steps; nothing added")
            return
        member = self.pool.add(
            turn.role, weights, spec=result.spec,
            hparams={**setup.hparams, "turn": turn.index, "phase": turn.phase, "rotation": turn.rotation,
                     "train_steps": result.steps, "stop_reason": result.stop_reason,
                     "eval_score": None if best is None else best.score,
                     "eval_win_rate": None if best is None else best.win_rate},
            step=steps, parent=None if start is None else start.id, state=after)
        self.say(f"  added {turn.role} v{member.version} (member {member.id}) after {result.steps} "
                 f"steps, {result.wall_time:.0f} s: {result.stop_detail}")

    def _evaluate(self, turn: Turn, done: int) -> None:
        """Play the rest of this turn's evaluation budget (``done`` matches are already logged).

        ``Evaluator.run`` chooses seatings in batches from the ratings at the start of each
        batch; the backend plays a batch (possibly in parallel) and the results are applied in
        batch order, so the ratings depend on the seed alone.  Every match is its own commit in
        the pool: after a crash the log says how far the turn's evaluation got, and the rest is
        played with a seed derived from that count.
        """
        cfg = self.config.evaluation
        budget = cfg.budget - done
        if budget <= 0:
            return
        seat_roles = {s: self.game.roles[s] for s in self.game.seats}
        symmetric = self.game.symmetric and len(set(seat_roles.values())) == 1
        evaluator = Evaluator.from_pool(
            self.pool, self.game.seats, symmetric=symmetric, seat_roles=None if symmetric else seat_roles,
            config=dataclasses.replace(cfg, seed=derive_seed(self.config.seed, 3, turn.index, done)),
            system=self.ratings)
        blocks = BlockPlayer(self.backend, self.game.seats, episodes=cfg.episodes_per_match or self.game.match_episodes,
                             outcome=cfg.outcome, seat_groups=evaluator.seat_groups, outcome_rule=self.game.outcome)
        evaluator.run(budget=budget, play_batch=blocks)

    def _population(self, turn: Turn) -> tuple[dict[str, dict[str, float]], dict[str, list[float]]]:
        """Measure the active population's new seatings and solve its population policy."""
        cfg = self.config.population
        members = {role: self.pool.active(role) for role in self.roles}
        tally = dict(self.state.tally or {})
        todo = seatings_to_measure(members, tally, cfg.max_seatings)
        if todo:
            tally.update(measure_seatings(self.game, self.roles, todo, MemberLoader(self.pool),
                                          episodes=cfg.episodes, seed=derive_seed(self.config.seed, 6, turn.index)))
        population = population_policy(members, tally, cfg)
        if cfg.support_episodes > 0:
            top_up = support_seatings(members, population, tally, cfg)
            for k, ids in enumerate(top_up):
                done = int(tally[",".join(map(str, ids))][0])
                more = measure_seatings(self.game, self.roles, [ids], MemberLoader(self.pool),
                                        episodes=cfg.support_episodes - done,
                                        seed=derive_seed(self.config.seed, 7, turn.index, k, done))
                tally = merge_tallies(tally, more)
            if top_up:
                population = population_policy(members, tally, cfg)
        shown = "; ".join(f"{role}: " + ", ".join(f"{k}:{w:.2f}" for k, w in mix.items() if w >= 0.01)
                          for role, mix in population.items())
        self.say(f"  population policy ({cfg.solver}, {len(todo)} new seatings): {shown}")
        return population, tally

    def _prune(self, turn: Turn) -> list[tuple[int, str]]:
        cfg = self.config.pruning
        return prune(self.pool, cfg.rules, min_games=cfg.min_games, delete_weights=cfg.delete_weights, config=cfg)

    # ------------------------------------------------------------------ the run

    def run(self) -> dict[str, Any]:
        if not self.pool.members():
            self._anchors()
        self.state = RunState.from_dict(self.pool.state)
        if self.state.started:
            self.say(f"resuming at turn {self.state.turn + 1}/{len(self.turns)} ({self.state.stage}), "
                     f"{self.state.steps} learner steps done")
        while self.state.turn < len(self.turns):
            turn = self.turns[self.state.turn]
            if self.state.stage == "start":
                left_steps, left_secs = self._budget_left(self.state.steps)
                if (left_steps is not None and left_steps <= 0) or (left_secs is not None and left_secs <= 0):
                    self.say(f"budget spent after {self.state.steps} learner steps and {self.elapsed():.0f} s; "
                             "stopping")
                    break
                self.say(f"[turn {turn.index + 1}/{len(self.turns)}] {turn.label}: training")
                self._train(turn)
            done = len(self.pool.matches()) - (self.state.matches_before or 0)
            self._evaluate(turn, done)
            for member_id, reason in self._prune(turn):
                self.say(f"  retired member {member_id}: {reason}")
            population, tally = self._population(turn)
            self.pool.set_state(self._commit(turn=turn.index + 1, stage="start", population=population,
                                             tally=tally))
            if self.on_turn is not None:
                self.on_turn(self, turn)
        finished = self.state.turn >= len(self.turns)
        self.pool.set_state(self._commit(done=finished))
        return {"turns_done": self.state.turn, "turns": len(self.turns), "steps": self.state.steps,
                "elapsed": self.elapsed()}

    # ------------------------------------------------------------------ report

    def report(self) -> str:
        """Measure the trained members against random anchors and write ``leaderboard.md``/``.html``
        and ``win_vs_random.json`` into the output directory; the Markdown board."""
        from league.orchestration.report import write_report

        return write_report(self, self.out)

    def close(self) -> None:
        self.backend.close()
        self.pool.close()
