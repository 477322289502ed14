"""The report's plots, as PNG bytes: payoff panels, training curves, reliability, rating against time.

Every function takes plain data (members, a ``PayoffTable``, metrics rows, predictions) and
draws with a bare ``Figure`` + Agg canvas rather than pyplot: no global figure registry, no
backend switch, safe on headless machines and in worker threads.  ``report.write_report``
puts them in ``leaderboard.html``.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from ratings import PayoffTable
from ratings.calibration import Calibration, Reliability

__all__ = ["EvalCurve", "eval_curves", "payoff_panel_png", "payoff_role_pairs", "rating_time_png",
           "reliability_png", "training_curves_png"]

# "Never met" must not look like a score: scores run red-white-blue, never-met cells are grey and
# hatched, and the legend says so.
_NEVER = dict(facecolor="#d0d0d0", edgecolor="#808080", hatch="///", linewidth=0.0)
# Cell text above this many members per side would be unreadable; the colours still say it.
_ANNOTATE_UP_TO = 14


def _figure(width: float, height: float) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight", metadata={"Software": None})
    return buf.getvalue()


def rating_time_png(members: Sequence[Any]) -> bytes:
    """Conservative rating of each trained member against minutes since the first member, per role."""
    fig = _figure(8.0, 4.0)
    ax = fig.add_subplot()
    t0 = min((m.created for m in members), default=None)
    for role in dict.fromkeys(m.role for m in members):
        ms = sorted((m for m in members if m.role == role and not m.anchor), key=lambda m: m.created)
        if ms:
            x = [(m.created - t0).total_seconds() / 60 for m in ms]
            ax.plot(x, [m.conservative for m in ms], marker="o", label=role)
    anchors: dict[str, list[float]] = {}
    for m in members:
        if m.anchor:  # uniform random and each reference (minimax) get a line of their own
            anchors.setdefault(str(m.hparams.get("anchor", "uniform_random")), []).append(m.conservative)
    for (label, values), style in zip(sorted(anchors.items(), reverse=True), (":", "--", "-.", (0, (1, 4)))):
        name = label.removeprefix("reference:").replace("_", " ")
        ax.axhline(float(np.mean(values)), color="grey", linestyle=style, label=f"{name} anchors (mean)")
    ax.set_xlabel("minutes since the run started (member created)")
    ax.set_ylabel("conservative rating (mu - 3 sigma)")
    ax.set_title("Rating against time, per role")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=9)
    return _png(fig)


def payoff_role_pairs(members: Sequence[Any], payoff: PayoffTable, roles: Sequence[str]) -> list[tuple[str, str]]:
    """The (row role, column role) pairs whose members have met, each unordered pair once, in
    ``roles`` order (a role against itself where its members meet, as in symmetric games)."""
    role_of = {m.id: m.role for m in members}
    met = {(role_of[a], role_of[b]) for a, b in payoff.pairs() if a in role_of and b in role_of}
    order = {r: i for i, r in enumerate(roles)}
    pairs = []
    for a in roles:
        for b in roles:
            if order[a] <= order[b] and ((a, b) in met or (b, a) in met):
                pairs.append((a, b))
    return pairs


def _label(m: Any) -> str:
    if not m.anchor:
        return f"v{m.version} (#{m.id})"
    kind = str(getattr(m, "hparams", {}).get("anchor", "")).removeprefix("reference:")
    return f"v{m.version} (#{m.id}) {kind.replace('uniform_random', 'random') or 'anchor'} anchor"


def payoff_panel_png(rows: Sequence[Any], columns: Sequence[Any], payoff: PayoffTable,
                     row_role: str, column_role: str) -> bytes:
    """Score of each ``rows`` member (one role) against each ``columns`` member (another, or the
    same role), with the games behind it; pairs that never met are grey and hatched."""
    from matplotlib.colors import Normalize
    from matplotlib.patches import Patch, Rectangle

    rates, games = payoff.matrix([m.id for m in rows] + [m.id for m in columns])
    n = len(rows)
    rates, games = rates[:n, n:], games[:n, n:]
    shown = np.ma.masked_where(games == 0, rates)
    width = max(5.5, 0.75 * len(columns) + 3.5)
    height = max(3.0, 0.55 * len(rows) + 2.0)
    fig = _figure(width, height)
    ax = fig.add_subplot()
    cmap = _cmap()
    im = ax.imshow(shown, cmap=cmap, norm=Normalize(0.0, 1.0), aspect="auto")
    same = [[r.id == c.id for c in columns] for r in rows]
    for i in range(len(rows)):
        for j in range(len(columns)):
            if same[i][j]:
                ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, facecolor="white", edgecolor="#cccccc"))
                ax.text(j, i, "self", ha="center", va="center", fontsize=8, color="#888888")
            elif games[i, j] == 0:
                ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, **_NEVER))
            elif len(rows) <= _ANNOTATE_UP_TO and len(columns) <= _ANNOTATE_UP_TO:
                dark = abs(rates[i, j] - 0.5) > 0.3
                ax.text(j, i, f"{rates[i, j]:.2f}\n{games[i, j]} g", ha="center", va="center", fontsize=8,
                        color="white" if dark else "black")
    ax.set_xticks(range(len(columns)), [_label(m) for m in columns], rotation=45, ha="right", fontsize=9)
    ax.set_yticks(range(len(rows)), [_label(m) for m in rows], fontsize=9)
    ax.set_xlabel(f"{column_role} (columns)", fontsize=10)
    ax.set_ylabel(f"{row_role} (rows)", fontsize=10)
    ax.set_title(f"Score of {row_role} (row) against {column_role} (column)", fontsize=11)
    bar = fig.colorbar(im, ax=ax, fraction=0.05, pad=0.02)
    bar.set_label("(wins + draws / 2) / games", fontsize=9)
    ax.legend(handles=[Patch(label="never met", **_NEVER)], loc="upper left", bbox_to_anchor=(1.25, 1.0),
              fontsize=9, frameon=False)
    return _png(fig)


def _cmap() -> Any:
    from matplotlib import colormaps

    return colormaps["RdBu"].with_extremes(bad=_NEVER["facecolor"])  # under the hatch patches


class EvalCurve(NamedTuple):
    """One role's evaluations during training, in the order they were made."""

    step: np.ndarray
    """Global learner step of each evaluation (or the cumulative step, see ``eval_curves``)."""
    turn: np.ndarray
    """The turn each evaluation belongs to."""
    win_rate: np.ndarray
    mean_return: np.ndarray


def _float(x: str | None) -> float:
    try:
        return float(x) if x not in (None, "") else math.nan
    except ValueError:
        return math.nan


def eval_curves(path: Path) -> tuple[dict[str, EvalCurve], str]:
    """Per role, its training evaluations from a run's ``metrics.csv``; and the x axis's name.

    The x axis is the global learner step when the file has a ``global_step`` column (the
    evaluation's step within its turn moved by the turn's first global step); otherwise the
    turns' steps added up in turn order, which is the same count for a run trained in order.
    A row repeats the last evaluation until the next one, so each (turn, eval step) is kept once.
    """
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    has_global = bool(rows) and "global_step" in rows[0] and any(r.get("global_step") for r in rows)
    turns = sorted({int(r["turn"]) for r in rows if r.get("turn", "").lstrip("-").isdigit()})
    turn_steps = {t: max((_float(r["step"]) for r in rows if r.get("turn") == str(t)), default=0.0) for t in turns}
    offset, total = {}, 0.0
    for t in turns:
        offset[t] = total
        total += 0.0 if math.isnan(turn_steps[t]) else turn_steps[t]
    points: dict[str, dict[tuple[int, float], tuple[float, float, float]]] = {}
    for r in rows:
        step, local = _float(r.get("eval_step")), _float(r.get("step"))
        if math.isnan(step) or not r.get("turn", "").lstrip("-").isdigit():
            continue
        turn = int(r["turn"])
        if has_global and not math.isnan(_float(r.get("global_step"))):
            x = _float(r["global_step"]) - local + step
        else:
            x = offset[turn] + step
        points.setdefault(r["role"], {}).setdefault(
            (turn, step), (x, _float(r.get("eval_win_rate")), _float(r.get("eval_mean_return"))))
    curves = {}
    for role, by_key in points.items():
        keys = sorted(by_key, key=lambda k: by_key[k][0])
        curves[role] = EvalCurve(np.array([by_key[k][0] for k in keys]), np.array([k[0] for k in keys]),
                                 np.array([by_key[k][1] for k in keys]), np.array([by_key[k][2] for k in keys]))
    return curves, "global learner step" if has_global else "learner step, summed over turns in order"


def training_curves_png(curves: Mapping[str, EvalCurve], x_label: str) -> bytes | None:
    """Win rate and mean return against the evaluation set over learner steps, a line per role
    and turn (the evaluation set changes between turns, so turns are not joined); None when
    there are no evaluations."""
    if not any(len(c.step) for c in curves.values()):
        return None
    fig = _figure(12.0, 4.2)
    axes = fig.subplots(1, 2)
    colours = [f"C{i}" for i in range(10)]
    for k, (role, curve) in enumerate(curves.items()):
        colour = colours[k % len(colours)]
        for n, turn in enumerate(dict.fromkeys(curve.turn.tolist())):
            sel = curve.turn == turn
            for ax, y in zip(axes, (curve.win_rate, curve.mean_return)):
                ax.plot(curve.step[sel], y[sel], marker="o", markersize=4, color=colour,
                        label=role if n == 0 else None)
    for ax, name in zip(axes, ("win rate", "mean return per episode")):
        ax.set_xlabel(x_label)
        ax.set_ylabel(name)
        ax.set_title(f"{name.capitalize()} against the evaluation set")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=9)
    axes[0].set_ylim(-0.02, 1.02)
    fig.tight_layout()
    return _png(fig)


def reliability_png(points: Reliability, pred: np.ndarray, summary: Calibration) -> bytes:
    """Reliability diagram (observed first-place frequency against predicted probability, marker
    area by the bin's count) beside the histogram of the predictions."""
    fig = _figure(10.0, 4.2)
    ax, hist = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.3, 1]})
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1, label="perfect calibration")
    if len(points.count):
        area = 20 + 200 * points.count / points.count.max()
        ax.plot(points.predicted, points.observed, color="tab:blue", linewidth=1)
        ax.scatter(points.predicted, points.observed, s=area, color="tab:blue", zorder=3,
                   label=f"ratings (ECE {summary.ece:.3f})")
    ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="predicted P(first place)", ylabel="observed frequency of first place")
    ax.set_title(f"Reliability on the match log ({summary.n} seats)")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper left", fontsize=9)
    hist.hist(pred, bins=np.linspace(0, 1, 21), color="tab:blue", alpha=0.7)
    hist.set(xlim=(0, 1), xlabel="predicted P(first place)", ylabel="seats")
    hist.set_title(f"Brier {summary.brier:.4f} (constant {summary.brier_constant:.4f})")
    fig.tight_layout()
    return _png(fig)
