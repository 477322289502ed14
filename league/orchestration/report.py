"""What a finished (or stopped) run leaves next to its pool: leaderboards and plots.

``leaderboard.md`` and ``leaderboard.html`` list every member with its rating
and, for trained members, its win rate against uniform-random anchors in every
other seat (measured here, at the end of the run).  The HTML page adds two
plots: conservative rating against wall time per role, and the empirical payoff
heatmap between active members.  ``League.report()`` (and the Ray league actor's) calls
``write_report``.
"""

from __future__ import annotations

import base64
import io
import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

import envs
from envs.opponents import FixedOpponents
from league.training.callbacks import EvalCallback, Evaluation
from league.errors import PoolError
from ratings import PayoffTable
from league.orchestration.plan import derive_seed
from league.models import load_network
from ratings.export import to_html, to_markdown

if TYPE_CHECKING:
    from league.orchestration.league import League

__all__ = ["write_report", "win_rates_vs_anchor", "rating_time_png", "payoff_png"]


def _atomic_write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.chmod(tmp, 0o644)  # mkstemp makes it private; a report is for everyone
    os.replace(tmp, path)


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    return buf.getvalue()


def rating_time_png(members: list[Any]) -> bytes:
    """Conservative rating of each trained member against minutes since the first member, per role."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    t0 = min((m.created for m in members), default=None)
    roles = list(dict.fromkeys(m.role for m in members))
    for role in roles:
        ms = sorted((m for m in members if m.role == role and not m.anchor), key=lambda m: m.created)
        if not ms:
            continue
        x = [(m.created - t0).total_seconds() / 60 for m in ms]
        ax.plot(x, [m.conservative for m in ms], marker="o", label=role)
    anchors = [m.conservative for m in members if m.anchor]
    if anchors:
        ax.axhline(float(np.mean(anchors)), color="grey", linestyle=":", label="random anchors (mean)")
    ax.set_xlabel("minutes since the run started (member created)")
    ax.set_ylabel("conservative rating (mu - 3 sigma)")
    ax.set_title("Rating against time, per role")
    ax.legend(fontsize=8)
    data = _png(fig)
    plt.close(fig)
    return data


def payoff_png(members: list[Any], payoff: PayoffTable) -> bytes:
    """Heatmap of empirical score (row member against column member) among the given members."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ids = [m.id for m in members]
    labels = [f"{m.role} v{m.version}" for m in members]
    rates, games = payoff.matrix(ids)
    shown = np.where(games > 0, rates, np.nan)
    size = max(4.0, 0.45 * len(ids) + 2)
    fig, ax = plt.subplots(figsize=(size, size * 0.85))
    im = ax.imshow(shown, vmin=0, vmax=1, cmap="RdBu")
    ax.set_xticks(range(len(ids)), labels, rotation=90, fontsize=7)
    ax.set_yticks(range(len(ids)), labels, fontsize=7)
    ax.set_title("Empirical score of row against column (blank: never met)")
    fig.colorbar(im, ax=ax, fraction=0.046)
    data = _png(fig)
    plt.close(fig)
    return data


def win_rates_vs_anchor(league: League, episodes: int) -> dict[int, Evaluation]:
    """Each trained member in its role's seat, every other seat a uniform-random anchor."""
    out: dict[int, Evaluation] = {}
    if episodes <= 0:
        return out
    game, pool, seed = league.game, league.pool, league.config.seed
    random_seats = {s: game.reference("random", s) for s in game.seats}
    for role in league.roles:
        seat = league.seat_of[role]
        others = FixedOpponents({s: p for s, p in random_seats.items() if s != seat})
        env = envs.SelfPlayVecEnv(game, seat, others, 16, seed=derive_seed(seed, 4))
        callback = EvalCallback(env, episodes=episodes, every=1, greedy=False, seed=derive_seed(seed, 5))
        for m in pool.members(role):
            if m.anchor or m.spec.get("kind") != "mlp":
                continue
            try:
                net = load_network(m.spec, pool.weights(m.id))
            except PoolError:
                continue  # retired with weights deleted
            out[m.id] = callback.evaluate(net, m.step)
    return out


def write_report(league: League, out: Path) -> str:
    """Measure win rates against the anchors, write the leaderboards; returns the Markdown."""
    pool = league.pool
    measured = win_rates_vs_anchor(league, league.config.report.anchor_episodes)
    extra: dict[int, dict[str, Any]] = {mid: {"win_vs_random": ev.win_rate, "return_vs_random": ev.mean_return}
                                        for mid, ev in measured.items()}
    # The league's answer: each role's population policy (its members' weights) beside the ratings.
    for role, mix in (pool.state.get("population") or {}).items():
        for mid, weight in mix.items():
            extra.setdefault(int(mid), {})["population_weight"] = weight
    members = pool.members()
    title = f"League leaderboard: {pool.game}"
    md = to_markdown(members, extra=extra, roles=list(pool.roles), title=title)
    md += _learning_summary(league, measured)
    _atomic_write(out / "leaderboard.md", md)
    page = to_html(members, extra=extra, roles=list(pool.roles), title=title)
    payoff = PayoffTable.from_matches(pool.matches())
    active = [m for m in members if m.active]
    figures = [("Rating against time", rating_time_png(members)),
               ("Payoff between active members", payoff_png(active, payoff))]
    block = "".join(f'<section><h2>{name}</h2><img alt="{name}" src="data:image/png;base64,'
                    f'{base64.b64encode(png).decode("ascii")}"></section>\n' for name, png in figures)
    page = page.replace("</body>", block + "</body>", 1)
    _atomic_write(out / "leaderboard.html", page)
    _atomic_write(out / "win_vs_random.json", json.dumps(
        {str(k): {"win_rate": v.win_rate, "draw_rate": v.draw_rate, "loss_rate": v.loss_rate,
                  "mean_return": v.mean_return, "episodes": v.episodes} for k, v in measured.items()}, indent=1))
    return md


def _learning_summary(league: League, measured: dict[int, Any]) -> str:
    """Per role: the first and the newest trained member against the random anchors."""
    lines = ["", "## Learning check: first vs newest trained member against uniform-random anchors", "",
             "| role | first (version) | win rate | newest (version) | win rate | newest better |",
             "|---|---|---|---|---|---|"]
    for role in league.roles:
        trained = [m for m in league.pool.members(role) if m.id in measured]
        if not trained:
            continue
        first, newest = trained[0], trained[-1]
        a, b = measured[first.id].win_rate, measured[newest.id].win_rate
        lines.append(f"| {role} | v{first.version} | {a:.3f} | v{newest.version} | {b:.3f} | "
                     f"{'yes' if b > a else 'no'} |")
    return "\n".join(lines) + "\n"
