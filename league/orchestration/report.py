"""What a finished (or stopped) run leaves next to its pool: leaderboards and plots.

``leaderboard.md`` and ``leaderboard.html`` list every member with its rating, its mean
return per episode against the league with a 95 % interval (from the match log,
``ratings.returns``) and, for trained members, its win rate against uniform-random anchors in
every other seat (measured here, at the end of the run), then the learning check (first against
newest trained member per role).  The HTML page adds the plots of ``figures``: training curves
per role from ``metrics.csv``, a payoff panel per pair of roles that meet, the reliability of the
ratings' first-place predictions on the match log (``ratings.calibration``), and rating against
wall time.  ``League.report()`` (and the Ray league actor's) calls ``write_report``.
"""

from __future__ import annotations

import base64
import html
import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

import envs
from envs.opponents import FixedOpponents
from league.training.callbacks import EvalCallback, Evaluation
from league.errors import PoolError
from ratings import PayoffTable, TrueSkillSystem
from league.orchestration.plan import derive_seed
from league.models import is_weightless, load_network
from league.training.progress import CountProgress
from league.orchestration.figures import (eval_curves, payoff_panel_png, payoff_role_pairs,
                                          rating_time_png, reliability_png, training_curves_png)
from ratings.calibration import calibration, prequential_first_place, reliability
from ratings.export import to_html, to_markdown
from ratings.returns import mean_returns

if TYPE_CHECKING:
    from league.orchestration.league import League

__all__ = ["write_report", "win_rates_vs_anchor", "rating_time_png", "html_sections", "return_columns",
           "learning_rows", "LearningRow"]


def _atomic_write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.chmod(tmp, 0o644)  # mkstemp makes it private; a report is for everyone
    os.replace(tmp, path)


def win_rates_vs_anchor(league: League, episodes: int) -> dict[int, Evaluation]:
    """Each trained member in its role's seat, every other seat a uniform-random anchor."""
    out: dict[int, Evaluation] = {}
    if episodes <= 0:
        return out
    game, pool, seed = league.game, league.pool, league.config.seed
    random_seats = {s: game.reference("random", s) for s in game.seats}
    todo = sum(1 for m in pool.members() if not m.anchor and m.spec.get("kind") == "mlp")
    bar = CountProgress(todo, desc="report", unit="member", enabled=league.config.report.progress)
    for role in league.roles:
        seat = league.seat_of[role]
        others = FixedOpponents({s: p for s, p in random_seats.items() if s != seat})
        env = envs.SelfPlayVecEnv(game, seat, others, 16, seed=derive_seed(seed, 4))
        callback = EvalCallback(env, episodes=episodes, every=1, greedy=False, seed=derive_seed(seed, 5))
        for m in pool.members(role):
            if m.anchor or is_weightless(m.spec):
                continue
            try:
                net = load_network(m.spec, pool.weights(m.id))
            except PoolError:
                continue  # retired with weights deleted
            out[m.id] = callback.evaluate(net, m.step)
            bar.update()
    bar.close()
    return out


def write_report(league: League, out: Path) -> str:
    """Measure win rates against the anchors, write the leaderboards; returns the Markdown."""
    pool = league.pool
    measured = win_rates_vs_anchor(league, league.config.report.anchor_episodes)
    matches = pool.matches()
    # Beside the rating (the first extra columns), the same evidence in the game's units: return
    # per episode against the league, from the match log.
    members = pool.members()
    extra = return_columns(members, matches)
    for mid, ev in measured.items():
        extra.setdefault(mid, {}).update({"win_vs_random": ev.win_rate, "return_vs_random": ev.mean_return})
    # The league's answer: each role's population policy (its members' weights) beside the ratings.
    for role, mix in (pool.state.get("population") or {}).items():
        for mid, weight in mix.items():
            extra.setdefault(int(mid), {})["population_weight"] = weight
    title = f"League leaderboard: {pool.game}"
    learning = learning_rows(league, measured)
    md = to_markdown(members, extra=extra, roles=list(pool.roles), title=title)
    md += _learning_markdown(learning)
    _atomic_write(out / "leaderboard.md", md)
    page = to_html(members, extra=extra, roles=list(pool.roles), title=title)
    metrics = getattr(league, "metrics_path", out / "metrics.csv")
    block = html_sections(members, list(pool.roles), matches, league.ratings, metrics, learning)
    page = page.replace("</body>", block + "</body>", 1)
    _atomic_write(out / "leaderboard.html", page)
    _atomic_write(out / "win_vs_random.json", json.dumps(
        {str(k): {"win_rate": v.win_rate, "draw_rate": v.draw_rate, "loss_rate": v.loss_rate,
                  "mean_return": v.mean_return, "episodes": v.episodes} for k, v in measured.items()}, indent=1))
    return md


RETURN_COLUMN = "return / episode"
"""Leaderboard column: mean return per episode against the league, from the match log."""
RETURN_CI_COLUMN = "± 95 %"
"""Leaderboard column: half-width of that mean's 95 % interval (blank with one match)."""


def return_columns(members: list[Any], matches: list[Any]) -> dict[int, dict[str, Any]]:
    """Leaderboard extra columns per member id: mean return per episode against the league and
    its 95 % half-width, from the match log (blank for a member without logged returns)."""
    returns = mean_returns(matches)
    return {m.id: {RETURN_COLUMN: returns[m.id].mean if m.id in returns else None,
                   RETURN_CI_COLUMN: returns[m.id].half_width if m.id in returns else None} for m in members}


class LearningRow(NamedTuple):
    """A role's first and newest trained member against the uniform-random anchors."""

    role: str
    first_version: int
    first_win_rate: float
    newest_version: int
    newest_win_rate: float

    @property
    def better(self) -> bool:
        return self.newest_win_rate > self.first_win_rate


def learning_rows(league: League, measured: dict[int, Any]) -> list[LearningRow]:
    """Per role with a measured member: the first and the newest trained member's win rates."""
    rows = []
    for role in league.roles:
        trained = [m for m in league.pool.members(role) if m.id in measured]
        if trained:
            first, newest = trained[0], trained[-1]
            rows.append(LearningRow(role, first.version, measured[first.id].win_rate,
                                    newest.version, measured[newest.id].win_rate))
    return rows


_LEARNING_TITLE = "Learning check: first vs newest trained member against uniform-random anchors"
_LEARNING_HEAD = ("role", "first (version)", "win rate", "newest (version)", "win rate", "newest better")


def _learning_cells(r: LearningRow) -> tuple[str, ...]:
    return (r.role, f"v{r.first_version}", f"{r.first_win_rate:.3f}", f"v{r.newest_version}",
            f"{r.newest_win_rate:.3f}", "yes" if r.better else "no")


def _learning_markdown(rows: list[LearningRow]) -> str:
    lines = ["", f"## {_LEARNING_TITLE}", "", "| " + " | ".join(_LEARNING_HEAD) + " |", "|---|---|---|---|---|---|"]
    lines += ["| " + " | ".join(_learning_cells(r)) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def _img(alt: str, png: bytes) -> str:
    return (f'<img alt="{html.escape(alt)}" src="data:image/png;base64,'
            f'{base64.b64encode(png).decode("ascii")}">')


def html_sections(members: list[Any], roles: list[str], matches: list[Any], system: TrueSkillSystem,
                  metrics: Path | None, learning: list[LearningRow] | None) -> str:
    """The HTML report's sections after the leaderboard tables: learning check (left out when
    ``learning`` is None: nothing was measured), training curves (from ``metrics``, a run's
    ``metrics.csv``), payoff panels, rating reliability under ``system``, rating against time."""
    esc = html.escape
    out = []
    if learning is not None:
        out.append(f"<section><h2>{esc(_LEARNING_TITLE)}</h2>")
        if learning:
            out.append('<table class="learning"><thead><tr>'
                       + "".join(f"<th>{esc(h)}</th>" for h in _LEARNING_HEAD) + "</tr></thead><tbody>")
            out += ["<tr>" + "".join(f"<td>{esc(c)}</td>" for c in _learning_cells(r)) + "</tr>" for r in learning]
            out.append("</tbody></table>")
        else:
            out.append("<p>No trained member was measured against the anchors.</p>")
        out.append("</section>")

    out.append("<section><h2>Training curves</h2>")
    curves, x_label = eval_curves(metrics) if metrics is not None and Path(metrics).exists() else ({}, "")
    png = training_curves_png(curves, x_label)
    if png is None:
        out.append("<p>No training evaluations in metrics.csv.</p>")
    else:
        out += ["<p>Each role's learner against its turn's evaluation set (the random anchors in the "
                "bootstrap, the league's active members after), one line per turn.</p>",
                _img("Training curves: win rate and mean return against the evaluation set, per role", png)]
    out.append("</section>")

    out.append("<section><h2>Payoff between roles</h2>")
    payoff = PayoffTable.from_matches(matches)
    active = [m for m in members if m.active]
    pairs = payoff_role_pairs(active, payoff, roles)
    if not pairs:
        out.append("<p>No two active members have met.</p>")
    else:
        out.append("<p>Active members only; grey hatched cells: the two never met (not a score of 0.5).</p>")
    for a, b in pairs:
        rows = sorted((m for m in active if m.role == a), key=lambda m: m.version)
        cols = sorted((m for m in active if m.role == b), key=lambda m: m.version)
        out.append(_img(f"Payoff: {a} (rows) against {b} (columns)", payoff_panel_png(rows, cols, payoff, a, b)))
    out.append("</section>")

    out.append("<section><h2>Rating reliability</h2>")
    if not matches:
        out.append("<p>No matches in the log.</p>")
    else:
        pred, obs = prequential_first_place(matches, system)
        # Seats per match, for the constant predictor (a league's matches all seat the same number).
        seats = round(float(np.mean([len(m.member_ids) for m in matches])))
        summary = calibration(pred, obs, seats)
        out += [f"<p>Each logged match predicted from the ratings of the matches before it (TrueSkill, "
                f"beta {system.beta:.3g}): predicted probability of first place against what happened, "
                f"{summary.n} seats of {len(matches)} matches; a shared first place counts 1/k. "
                f"ECE {summary.ece:.3f}, Brier {summary.brier:.4f} against {summary.brier_constant:.4f} "
                f"for the constant predictor.</p>",
                _img("Reliability diagram of the ratings' first-place probability", reliability_png(
                    reliability(pred, obs), pred, summary))]
    out.append("</section>")

    out += ["<section><h2>Rating against time</h2>", _img("Rating against time", rating_time_png(members)),
            "</section>"]
    return "\n".join(out) + "\n"
