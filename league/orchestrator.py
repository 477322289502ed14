"""The league: the plan of DESIGN.md run unattended, resumable after any crash.

    0. an empty pool with one uniform-random anchor per role;
    1. bootstrap: every role gets sampled hyperparameters and trains against the
       anchors until its evaluation stops improving; its best checkpoint joins the pool;
    2. rotations: for each role in turn, train it (from its best active member)
       against opponents sampled from the active index, add its best checkpoint
       (nothing, if no checkpoint beat the member it started from), evaluate a
       sampled set of seatings, prune.

The work is a fixed list of *turns* (bootstrap turns, then rotation turns), each
with a seed derived from the run seed and its index, so a turn replayed after a
crash makes the same choices.  The run state committed in the pool says which
turn is next and how far its evaluation got; a member's row and the state that
says "turn k added its member" are one commit, so a resumed run never adds a
member twice and never loses one.
"""

from __future__ import annotations

import csv
import dataclasses
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import numpy as np

import envs
from envs.opponents import FixedOpponents
from league.callbacks import EvalCallback, Evaluation, TrainEvent, event_row
from league.config import RunConfig
from league.errors import ConfigError, PoolError
from league.evaluator import Evaluator, PayoffTable
from league.hparams import config_from_hparams, sample_hparams
from league.matches import LocalBackend, MatchBackend
from league.opponents import MemberLoader, PoolOpponents
from league.policies import load_network
from league.pool import Member, Pool
from league.pruning import prune
from league.sampling import OpponentSampler
from league.trainer import StopRules, TrainResult, train
from ratings import TrueSkillSystem

__all__ = ["League", "Turn", "plan_turns"]

POOL_DIR = "pool"


@dataclass(frozen=True)
class Turn:
    """One training turn: a role trained once, in the bootstrap or in a rotation."""

    index: int
    phase: str  # "bootstrap" | "rotation"
    rotation: int  # 0 for the bootstrap, 1.. for rotations
    role: str

    @property
    def label(self) -> str:
        where = "bootstrap" if self.phase == "bootstrap" else f"rotation {self.rotation}"
        return f"{where}: {self.role}"


def plan_turns(roles: Sequence[str], rotations: int) -> list[Turn]:
    """Every role once in the bootstrap, then every role once per rotation, in seat order."""
    turns = [Turn(i, "bootstrap", 0, role) for i, role in enumerate(roles)]
    for r in range(1, rotations + 1):
        for role in roles:
            turns.append(Turn(len(turns), "rotation", r, role))
    return turns


def _seed(run_seed: int, *parts: int) -> int:
    # Independent, reproducible streams per (turn, purpose), derived from the run seed.
    return int(np.random.SeedSequence([run_seed, *parts]).generate_state(1)[0])


class League:
    """Runs (or resumes) a league in ``out_dir``; ``run()`` returns the final pool summary.

    The League is the only writer of its pool.  ``backend`` plays evaluation
    matches (default: in this process); ``backend_factory`` builds one from the pool
    once it is open (a backend that reads members, e.g. ``league.distributed``'s).
    ``env_factory`` builds the learner's vector env (default ``envs.SelfPlayVecEnv``,
    same signature), e.g. one whose copies step on other processes.
    """

    def __init__(self, config: RunConfig, out_dir: str | Path, *, resume: bool = False,
                 log: TextIO | None = None, backend: MatchBackend | None = None,
                 backend_factory: Callable[[Pool], MatchBackend] | None = None,
                 env_factory: Callable[..., Any] | None = None):
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
        self.metrics_path = self.out / "metrics.csv"
        self.started = time.monotonic()
        self.elapsed_before = float(self.pool.state.get("elapsed", 0.0))

    # ------------------------------------------------------------------ helpers

    def say(self, text: str) -> None:
        print(text, file=self.log, flush=True)

    def elapsed(self) -> float:
        return self.elapsed_before + time.monotonic() - self.started

    def _state(self, **changes: Any) -> dict[str, Any]:
        state = dict(self.pool.state)
        state.update(changes)
        state["elapsed"] = self.elapsed()
        return state

    def _anchors(self) -> None:
        """One uniform-random anchor per role: version 0, never pruned."""
        have = {m.role for m in self.pool.members() if m.anchor}
        for role in self.roles:
            if role in have:
                continue
            seat = self.seat_of[role]
            spec = {"kind": "random", "n_actions": self.game.n_actions(seat)}
            self.pool.add(role, {}, spec=spec, hparams={"anchor": "uniform_random"}, step=0, anchor=True,
                          state=self._state(turn=0, stage="start", steps=0))

    def _role_hparams(self, role: str) -> dict[str, Any]:
        index = self.roles.index(role)
        return sample_hparams(self.config.hparams, _seed(self.config.seed, 1, index))

    def best_member(self, role: str) -> Member | None:
        """The role's active non-anchor member with the highest conservative rating."""
        trained = [m for m in self.pool.active(role) if not m.anchor]
        return max(trained, key=lambda m: (m.conservative, m.version)) if trained else None

    def _budget_left(self, steps_so_far: int) -> tuple[int | None, float | None]:
        steps = None if self.config.max_steps is None else self.config.max_steps - steps_so_far
        secs = None if self.config.max_seconds is None else self.config.max_seconds - self.elapsed()
        return steps, secs

    # ------------------------------------------------------------------ a turn

    def _opponents(self, turn: Turn, learner: Member | None) -> PoolOpponents:
        """Who sits in the other seats: the anchors in the bootstrap, a sampled league after."""
        roles = {s: self.game.roles[s] for s in self.game.seats}
        if turn.phase == "bootstrap":
            anchors = {role: [m for m in self.pool.active(role) if m.anchor] for role in self.roles}
            return PoolOpponents(self.pool, roles, lambda ms: np.full(len(ms), 1.0 / len(ms)), candidates=anchors)
        payoff = PayoffTable.from_matches(self.pool.matches())
        sampler = OpponentSampler(self.config.sampling, model=self.ratings, payoff=payoff)
        me = learner if learner is not None else dataclasses.replace(
            self.pool.active(turn.role)[0], mu=self.config.ratings.mu, sigma=self.config.ratings.sigma)
        return PoolOpponents(self.pool, roles, lambda ms: sampler.probabilities(me, ms, learner_id=me.id))

    def _train_turn(self, turn: Turn, steps_so_far: int) -> tuple[TrainResult, Member | None, dict[str, Any]]:
        cfg = self.config
        phase = cfg.bootstrap if turn.phase == "bootstrap" else cfg.training
        seat = self.seat_of[turn.role]
        hparams = self._role_hparams(turn.role)
        seed = _seed(cfg.seed, 2, turn.index)
        ppo = config_from_hparams(hparams, dataclasses.replace(cfg.ppo, seed=seed))
        start = self.best_member(turn.role) if turn.phase == "rotation" else None
        init = dict(self.pool.weights(start.id)) if start is not None else None
        source = self._opponents(turn, start)
        env = self.env_factory(self.game, seat, source, ppo.n_envs, seed=seed, cache_size=cfg.cache_size)
        # Evaluate against the same kind of opponents the turn trains against, with a fixed
        # seed so successive evaluations differ only by the policy.
        eval_env = envs.SelfPlayVecEnv(self.game, seat, source, min(ppo.n_envs, 16), seed=seed + 1,
                                       cache_size=cfg.cache_size)
        evaluation = EvalCallback(eval_env, episodes=phase.eval_episodes, every=phase.eval_every, greedy=False,
                                  seed=seed + 2, at_start=start is not None)
        left_steps, left_secs = self._budget_left(steps_so_far)
        max_steps = phase.max_steps if left_steps is None else max(1, min(phase.max_steps, left_steps))
        max_secs = phase.max_seconds
        if left_secs is not None:
            max_secs = max(1.0, left_secs if max_secs is None else min(max_secs, left_secs))
        stop = StopRules(win_rate=phase.target_win_rate, patience=phase.patience, max_steps=max_steps,
                         max_seconds=max_secs)
        logger = _TurnLogger(self.metrics_path, turn)
        try:
            result = train(env, ppo, stop=stop, init_weights=init, evaluation=evaluation,
                           callbacks=[logger], progress=cfg.report.progress)
        finally:
            logger.close()
        return result, start, hparams

    def _evaluate(self, turn: Turn, done: int) -> None:
        """Play the rest of this turn's evaluation budget (``done`` matches are already logged).

        Seatings are chosen in batches from the ratings at the start of each batch,
        played by the backend (possibly in parallel), and applied in batch order, so
        the ratings depend on the seed alone.  Every match is its own commit in the
        pool: after a crash the log says how far the turn's evaluation got, and the
        rest is played with a seed derived from that count.
        """
        cfg = self.config.evaluation
        budget = cfg.budget - done
        if budget <= 0:
            return
        seat_roles = {s: self.game.roles[s] for s in self.game.seats}
        symmetric = self.game.symmetric and len(set(seat_roles.values())) == 1
        evaluator = Evaluator.from_pool(
            self.pool, self.game.seats, symmetric=symmetric, seat_roles=None if symmetric else seat_roles,
            config=dataclasses.replace(cfg, seed=_seed(self.config.seed, 3, turn.index, done)),
            system=self.ratings)
        backend = self.backend
        batch_size = cfg.batch
        while budget > 0:
            seatings = [evaluator.next_seating() for _ in range(min(batch_size, budget))]
            results = backend.play(seatings, [s.seed for s in seatings])
            for seating, ranks in zip(seatings, results):
                evaluator.record(seating, ranks, seed=seating.seed)
            budget -= len(seatings)

    def _prune(self, turn: Turn) -> list[tuple[int, str]]:
        cfg = self.config.pruning
        return prune(self.pool, cfg.rules, min_games=cfg.min_games, delete_weights=cfg.delete_weights, config=cfg)

    # ------------------------------------------------------------------ the run

    def run(self) -> dict[str, Any]:
        if not self.pool.members():
            self._anchors()
        state = dict(self.pool.state)
        k = int(state.get("turn", 0))
        stage = state.get("stage", "start")
        steps = int(state.get("steps", 0))
        if k > 0 or stage != "start":
            self.say(f"resuming at turn {k + 1}/{len(self.turns)} ({stage}), {steps} learner steps done")
        while k < len(self.turns):
            turn = self.turns[k]
            left_steps, left_secs = self._budget_left(steps)
            if stage == "start" and ((left_steps is not None and left_steps <= 0)
                                     or (left_secs is not None and left_secs <= 0)):
                self.say(f"budget spent after {steps} learner steps and {self.elapsed():.0f} s; stopping")
                break
            if stage == "start":
                self.say(f"[turn {k + 1}/{len(self.turns)}] {turn.label}: training")
                result, start, hparams = self._train_turn(turn, steps)
                steps += result.steps
                spec = result.spec
                best = result.best_evaluation
                after = self._state(turn=k, stage="evaluate", steps=steps, matches_before=len(self.pool.matches()))
                if start is not None and result.best_step == 0:
                    # The starting member stayed the best checkpoint: it is in the pool
                    # already, and a copy would only split its games and its rating.
                    self.pool.set_state(after)
                    self.say(f"  no checkpoint beat the starting member {start.id} ({turn.role} v{start.version}) "
                             f"in {result.steps} steps; nothing added")
                else:
                    member = self.pool.add(
                        turn.role, result.best_weights, spec=spec,
                        hparams={**hparams, "turn": turn.index, "phase": turn.phase, "rotation": turn.rotation,
                                 "train_steps": result.steps, "stop_reason": result.stop_reason,
                                 "eval_score": None if best is None else best.score,
                                 "eval_win_rate": None if best is None else best.win_rate},
                        step=steps, parent=None if start is None else start.id, state=after)
                    self.say(f"  added {turn.role} v{member.version} (member {member.id}) after {result.steps} "
                             f"steps, {result.wall_time:.0f} s: {result.stop_detail}")
                stage = "evaluate"
            if stage == "evaluate":
                done = len(self.pool.matches()) - int(self.pool.state.get("matches_before", 0))
                self._evaluate(turn, done)
                retired = self._prune(turn)
                for member_id, reason in retired:
                    self.say(f"  retired member {member_id}: {reason}")
                k += 1
                stage = "start"
                self.pool.set_state(self._state(turn=k, stage="start", steps=steps))
        self.pool.set_state(self._state(done=k >= len(self.turns)))
        return {"turns_done": k, "turns": len(self.turns), "steps": steps, "elapsed": self.elapsed()}

    # ------------------------------------------------------------------ report

    def win_rates_vs_anchor(self, episodes: int) -> dict[int, Evaluation]:
        """Each trained member in its role's seat, every other seat a uniform-random anchor."""
        out: dict[int, Evaluation] = {}
        if episodes <= 0:
            return out
        random_seats = {s: self.game.reference("random", s) for s in self.game.seats}
        for role in self.roles:
            seat = self.seat_of[role]
            others = FixedOpponents({s: p for s, p in random_seats.items() if s != seat})
            env = envs.SelfPlayVecEnv(self.game, seat, others, 16, seed=_seed(self.config.seed, 4))
            callback = EvalCallback(env, episodes=episodes, every=1, greedy=False, seed=_seed(self.config.seed, 5))
            for m in self.pool.members(role):
                if m.anchor or m.spec.get("kind") != "mlp":
                    continue
                try:
                    net = load_network(m.spec, self.pool.weights(m.id))
                except PoolError:
                    continue  # retired with weights deleted
                out[m.id] = callback.evaluate(net, m.step)
        return out

    def close(self) -> None:
        self.backend.close()
        self.pool.close()


class _TurnLogger:
    """Appends each update's metrics, tagged with the turn, to the run's metrics CSV."""

    def __init__(self, path: Path, turn: Turn):
        self.path = path
        self.turn = turn
        self.fh: TextIO | None = None
        self.writer: csv.DictWriter | None = None

    def __call__(self, event: TrainEvent) -> None:
        row = {"turn": self.turn.index, "phase": self.turn.phase, "rotation": self.turn.rotation,
               "role": self.turn.role, **event_row(event)}
        if self.writer is None:
            new = not self.path.exists() or self.path.stat().st_size == 0
            self.fh = self.path.open("a", newline="")
            # The header is fixed by the first row of the run, which comes before any
            # evaluation: name the evaluation columns up front so they are never dropped.
            fields = list(row) + [f for f in _EVAL_FIELDS if f not in row]
            self.fields = fields if new else _header(self.path)
            self.writer = csv.DictWriter(self.fh, fieldnames=self.fields, extrasaction="ignore")
            if new:
                self.writer.writeheader()
        self.writer.writerow(row)
        self.fh.flush()  # type: ignore[union-attr]

    def close(self) -> None:
        if self.fh is not None:
            self.fh.close()


_EVAL_FIELDS = [f"eval_{f.name}" for f in dataclasses.fields(Evaluation)] + ["eval_score"]


def _header(path: Path) -> list[str]:
    with path.open(newline="") as fh:
        return next(csv.reader(fh), [])
