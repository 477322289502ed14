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

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

import envs
from league.config import GameConfig, RunConfig
from league.errors import ConfigError, ResumeMismatchError
from league.evaluation.blocks import BlockPlayer
from league.evaluation.evaluator import EvaluationConfig, Evaluator
from league.evaluation.matches import LocalBackend, MatchBackend
from league.models import is_reference, random_spec, reference_spec
from league.population.metagame import update_population
from league.population.opponents import MemberLoader
from league.training.progress import CountProgress
from league.orchestration.metrics import METRICS_FILE, check_tensorboard, sync_metrics, turn_loggers
from league.orchestration.phase import best_member, exploiter_skip, setup_turn, start_member
from league.orchestration.plan import RunState, Turn, derive_seed, plan_turns
from league.orchestration.rating import turn_evaluator
from league.pool import Member, Pool
from league.population.pruning import apply as apply_pruning, select as select_pruning
from ratings import TrueSkillSystem

__all__ = ["League", "POOL_DIR", "anchor_specs"]

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
        if config.logging.tensorboard:
            check_tensorboard()  # before the pool exists: a run that cannot log leaves nothing behind
        self.log = log if log is not None else sys.stderr
        self.game = envs.make(config.game.name, **config.game.kwargs)
        anchor_specs(config.game, self.game, self.game.seats[0])  # an unknown reference fails now
        self.roles: list[str] = list(dict.fromkeys(self.game.roles[s] for s in self.game.seats))
        self.seat_of = {role: next(s for s in self.game.seats if self.game.roles[s] == role)
                        for role in self.roles}
        self.ratings = TrueSkillSystem(mu=config.ratings.mu, sigma=config.ratings.sigma,
                                       beta=config.ratings.beta, tau=config.ratings.tau,
                                       draw_probability=config.ratings.draw_probability)
        self.turns = plan_turns(self.roles, config.rotations, exploit_every=config.exploiters.every,
                                exploit_roles=config.exploiters.roles)
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
        self.metrics_path = self.out / METRICS_FILE
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
        """Each role's ``anchor_specs`` members (those added before a crash are not added again)."""
        have = {(m.role, m.hparams.get("anchor")) for m in self.pool.members() if m.anchor}
        for role in self.roles:
            for label, spec in anchor_specs(self.config.game, self.game, self.seat_of[role]).items():
                if (role, label) not in have:
                    self.pool.add(role, {}, spec=spec, hparams={"anchor": label}, step=0, anchor=True,
                                  state=self._commit(turn=0, stage="start", steps=0))

    def best_member(self, role: str) -> Member | None:
        """The role's active non-anchor member with the highest conservative rating."""
        return best_member(self.pool, role)

    def _budget_left(self, steps_so_far: int) -> tuple[int | None, float | None]:
        steps = None if self.config.max_steps is None else self.config.max_steps - steps_so_far
        secs = None if self.config.max_seconds is None else self.config.max_seconds - self.elapsed()
        return steps, secs

    # ------------------------------------------------------------------ the three steps of a turn

    def _train(self, turn: Turn) -> None:
        """Train the turn's role and commit its best checkpoint with the state "evaluate next"."""
        # A rotation continues from ``learner.start``; bootstrap and exploiter turns start fresh.
        start = start_member(self.pool, turn.role, self.config.learner.start) if turn.phase == "rotation" else None
        left_steps, left_secs = self._budget_left(self.state.steps)
        loggers = turn_loggers(self.out, turn, parent=None if start is None else start.id,
                               steps_before=self.state.steps, clock=self.elapsed, csv_on=self.config.logging.csv,
                               tensorboard=self.config.logging.tensorboard)
        setup = setup_turn(self.config, self.game, self.pool, self.ratings, turn, start=start,
                           left_steps=left_steps, left_seconds=left_secs, env_factory=self.env_factory,
                           loggers=loggers)
        result = setup.train()
        steps = self.state.steps + result.steps
        last = self.config.learner.snapshot == "last"
        best = result.last_evaluation if last else result.best_evaluation
        weights = result.last_weights if last else result.best_weights
        # The ratings the evaluation starts from go in the same commit: a resumed evaluation
        # replays its logged matches from them (the pool's rows hold the ratings after them).
        after = self._commit(turn=turn.index, stage="evaluate", steps=steps,
                             matches_before=len(self.pool.matches()), retiring=None,
                             ratings_before={str(m.id): [m.mu, m.sigma, m.games] for m in self.pool.active()})
        if start is not None and (result.steps == 0 or (not last and result.best_step == 0)):
            # The starting member stayed the best checkpoint, or the step budget left less than
            # one update: it is in the pool already, and a copy would only split its games and
            # its rating.
            self.pool.set_state(after)
            self._sync_metrics()
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
        self._sync_metrics()
        self.say(f"  added {turn.role} v{member.version} (member {member.id}) after {result.steps} "
                 f"steps, {result.wall_time:.0f} s: {result.stop_detail}")

    def _evaluate(self, turn: Turn, done: int) -> None:
        """Play the rest of this turn's evaluation budget (``done`` matches are already logged).

        ``Evaluator.run`` chooses seatings in batches from the ratings at the start of each
        batch; the backend plays a batch (possibly in parallel) and the results are applied in
        batch order, so the ratings depend on the seed alone.  Every match is its own commit in
        the pool: after a crash the evaluator starts again from the ratings the run state
        kept (``ratings_before``) and the same seed, replays the logged matches without playing
        them (so its generator and selection state are where they were) and plays the rest.
        """
        cfg = self.config.evaluation
        if cfg.budget - done <= 0:
            return
        t0 = time.monotonic()
        with CountProgress(cfg.budget, desc="evaluate", unit="match", initial=done,
                           enabled=self.config.report.progress) as bar:
            self._play_evaluation(turn, cfg, done, on_match=lambda result: bar.update())
        self.say(f"  evaluated {cfg.budget - done} matches in {time.monotonic() - t0:.0f} s"
                 + (f" ({done} were played before the interruption)" if done else ""))

    def _play_evaluation(self, turn: Turn, cfg: EvaluationConfig, done: int,
                         on_match: Callable[[Any], None]) -> None:
        start = self.state.matches_before or 0
        before = self.state.ratings_before
        if done and before is not None:
            evaluator, blocks = self._evaluator(turn, cfg, before, seed_parts=(0,))
            try:
                evaluator.run(budget=cfg.budget, play_batch=blocks, replay=self.pool.matches(start),
                              on_match=on_match)
                return
            except ResumeMismatchError as exc:
                self.say(f"  the turn's evaluation cannot be replayed exactly ({exc}); playing the rest "
                         "from the current ratings")
        elif done:
            self.say("  this run's state does not keep the ratings its evaluation started from; "
                     "playing the rest from the current ratings")
        # Fresh, or not replayable: the rest from the current ratings, seeded by how far it got.
        evaluator, blocks = self._evaluator(turn, cfg, None, seed_parts=(done,))
        evaluator.run(budget=cfg.budget - done, play_batch=blocks, on_match=on_match)

    def _evaluator(self, turn: Turn, cfg: EvaluationConfig, before: dict[str, list[float]] | None,
                   seed_parts: tuple[int, ...]) -> tuple[Evaluator, BlockPlayer]:
        return turn_evaluator(self.pool, self.game, self.backend, self.ratings, cfg,
                              seed=derive_seed(self.config.seed, 3, turn.index, *seed_parts),
                              before=before, matches_before=self.state.matches_before or 0)

    def _population(self, turn: Turn) -> tuple[dict[str, dict[str, float]], dict[str, list[float]]]:
        """Measure the active population's new seatings and solve its population policy."""
        cfg = self.config.population
        # References are yardsticks, not the league's players: the answer mixes trained members only.
        members = {role: [m for m in self.pool.active(role) if not is_reference(m.spec)] for role in self.roles}
        population, tally, new = update_population(
            self.game, members, dict(self.state.tally or {}), MemberLoader(self.pool), cfg,
            seed=lambda *parts: derive_seed(self.config.seed, *parts[:1], turn.index, *parts[1:]))
        shown = "; ".join(f"{role}: " + ", ".join(f"{k}:{w:.2f}" for k, w in mix.items() if w >= 0.01)
                          for role, mix in population.items())
        self.say(f"  population policy ({cfg.solver}, {new} new seatings): {shown}")
        return population, tally

    def _sync_metrics(self) -> None:
        """metrics.csv as the committed state says: the rows of trained turns, member ids filled in."""
        added = {int(m.hparams["turn"]): m.id for m in self.pool.members()
                 if not m.anchor and "turn" in m.hparams}
        dropped = sync_metrics(self.metrics_path, self.state, added)
        if dropped:
            self.say(f"  metrics.csv: dropped {dropped} rows of the interrupted turn, which trains again")

    def _prune(self, turn: Turn) -> list[tuple[int, str]]:
        """Retire what the pruning rules choose; the choice is committed first, because choosing
        again after some of it was retired can choose differently (``bottom_k`` would take more)."""
        cfg = self.config.pruning
        if self.state.retiring is not None:  # chosen before a crash: finish exactly that
            chosen = [(int(i), str(reason)) for i, reason in self.state.retiring]
        else:
            chosen = select_pruning(self.pool.active(), cfg.rules, cfg, min_games=cfg.min_games)
            if chosen:
                self.pool.set_state(self._commit(retiring=[[i, reason] for i, reason in chosen]))
        apply_pruning(self.pool, chosen, delete_weights=cfg.delete_weights)
        return chosen

    # ------------------------------------------------------------------ the run

    def run(self) -> dict[str, Any]:
        if not self.pool.members():
            self._anchors()
        self.state = RunState.from_dict(self.pool.state)
        self._sync_metrics()
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
                skip = exploiter_skip(self.config, turn, left_steps)
                if skip:
                    self.say(f"[turn {turn.index + 1}/{len(self.turns)}] {turn.label}: skipped, {skip}")
                    self.pool.set_state(self._commit(turn=turn.index + 1, stage="start"))
                    continue
                self.say(f"[turn {turn.index + 1}/{len(self.turns)}] {turn.label}: training")
                self._train(turn)
            done = len(self.pool.matches()) - (self.state.matches_before or 0)
            self._evaluate(turn, done)
            for member_id, reason in self._prune(turn):
                self.say(f"  retired member {member_id}: {reason}")
            population, tally = self._population(turn)
            self.pool.set_state(self._commit(turn=turn.index + 1, stage="start", population=population,
                                             tally=tally, ratings_before=None, retiring=None))
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

        t0 = time.monotonic()
        board = write_report(self, self.out)
        self.say(f"report: measured against the random anchors and written in {time.monotonic() - t0:.0f} s")
        return board

    def close(self) -> None:
        self.backend.close()
        self.pool.close()


def anchor_specs(config: GameConfig, game: envs.Game, seat: str) -> dict[str, dict[str, Any]]:
    """A seat's anchors by label: uniform random, and one per ``config.references`` (``reference:<name>``),
    never pruned; an unknown reference name raises ``GameConfigError`` listing the game's."""
    specs = {"uniform_random": random_spec(game.n_actions(seat), game.action_spec(seat))}
    for name in config.references:
        game.reference(name)
        specs[f"reference:{name}"] = reference_spec(name, config.name, config.kwargs, game.n_actions(seat))
    return specs
