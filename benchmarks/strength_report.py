"""The strength benchmark's raw CSV, its Markdown tables and its plots.

A cell is the median over seeds with the range: ``median [min–max]`` (one value where one run
stands for all, as CFR's). Time marks are fractions of each game's budget ``T``; the last mark is
the end of the run.
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import platform
import re
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.strength_measure import PROBES, seats_roles

__all__ = ["CSV_FIELDS", "CSV_NAME", "read_rows", "table", "plot", "report", "run_footer"]

CSV_FIELDS = ("game", "method", "seed", "budget", "fraction", "metric", "value")
CSV_NAME = "strength.csv"

METHOD_LABELS = {"league": "league", "selfplay_latest": "naive self-play (latest)",
                 "ppo_vs_random": "plain PPO vs random", "cfr": "CFR", "nfsp": "NFSP (OpenSpiel, PyTorch)"}
KUHN_ROWS = (("league", "expl_newest", "newest pair"),
             ("league", "expl_uniform", "uniform mixture of trained members"),
             ("league", "expl_population", "population policy (stored; end of run only)"),
             ("cfr", "expl_average", "average policy"),
             ("nfsp", "expl_average", "average policy"))
PROBE_LABELS = {"nonloss_vs_minimax": "non-loss vs minimax", "win_vs_random": "win vs random",
                "win_vs_minimax_d2": "win vs minimax depth 2", "win_vs_minimax_d4": "win vs minimax depth 4"}
ROLE_LABELS = {"tictactoe": {"player_1": "X", "player_2": "O"},
               "connect_four": {"player_0": "first", "player_1": "second"}}
TARGETS = {("kuhn_poker", "expl_population"): 0.05,
           ("tictactoe", "player_1:nonloss_vs_minimax"): 0.95, ("tictactoe", "player_2:nonloss_vs_minimax"): 0.95,
           ("tictactoe", "player_1:win_vs_random"): 0.85, ("tictactoe", "player_2:win_vs_random"): 0.70,
           ("connect_four", "player_0:win_vs_minimax_d2"): 0.80,
           ("connect_four", "player_1:win_vs_minimax_d2"): 0.80}
"""Issue 11's bars (drawn dashed in the plots)."""
INFO = {"process_seconds": "wall s", "run_seconds": "league clock s", "steps": "learner steps", "members": "trained members",
        "iterations": "CFR iterations", "episodes": "episodes"}
INTRO = {
    "kuhn_poker": "Exploitability (OpenSpiel, exact, NashConv / 2): 0 is a Nash equilibrium, uniform random "
                  "scores 0.458; lower is better. Issue 11's bar: population policy <= 0.05 at 300 s.",
    "tictactoe": "Each role's best member (leaderboard rank; at earlier marks: the best end-of-run rating among "
                 "the members created by then), greedy, in its own seat. Plain PPO trains each seat against "
                 "uniform random for T / 2, so both seats together take T. Issue 11's bars at 480 s: non-loss "
                 "vs minimax >= 0.95 per seat; win vs random >= 0.85 (X), >= 0.70 (O).",
    "connect_four": "Each role's best member (as for tic-tac-toe), greedy, in its own seat, against the "
                    "game's depth-limited minimax reference. Issue 11's bar: >= 0.80 against depth 2 in each "
                    "seat within 10 minutes.",
}


def read_rows(path: Path) -> list[dict[str, Any]]:
    """The raw CSV, typed."""
    with path.open(newline="") as fh:
        return [{**r, "seed": int(r["seed"]), "budget": float(r["budget"]), "fraction": float(r["fraction"]),
                 "value": float(r["value"])} for r in csv.DictReader(fh)]


def _cell(values: Sequence[float], digits: int = 3) -> str:
    if not values:
        return "-"
    x = np.asarray(values, dtype=float)
    med = f"{np.median(x):.{digits}f}"
    return med if len(x) == 1 else f"{med} [{x.min():.{digits}f}–{x.max():.{digits}f}]"


def _values(rows: list[dict[str, Any]], game: str, method: str, metric: str) -> dict[float, list[float]]:
    """fraction -> one value per seed."""
    out: dict[float, list[float]] = defaultdict(list)
    for r in rows:
        if r["game"] == game and r["method"] == method and r["metric"] == metric:
            out[r["fraction"]].append(r["value"])
    return out


def _row_specs(rows: list[dict[str, Any]], game: str) -> list[tuple[str, str, str]]:
    """(method, metric, measure label) of the game's table, in order."""
    if game == "kuhn_poker":
        return list(KUHN_ROWS)
    # Every role and probe, so that a role the league never trained shows as a row of dashes.
    metrics = [f"{role}:{probe.name}" for _, role in seats_roles(game) for probe in PROBES[game]]
    methods = [m for m in METHOD_LABELS if any(r["game"] == game and r["method"] == m for r in rows)]
    specs = []
    for metric in metrics:
        role, probe = metric.split(":")
        label = f"{ROLE_LABELS.get(game, {}).get(role, role)} ({role}): {PROBE_LABELS[probe]}"
        specs += [(method, metric, label) for method in methods]
    return specs


def table(rows: list[dict[str, Any]], footer: str) -> str:
    """The Markdown report: per game, each measure at each time mark, and what each run spent."""
    lines = ["# Strength against ground truth, per second of wall time", "",
             "Every method runs on this machine in the same benchmark, with the same wall-time budget `T` "
             "per run. Cells: median [min–max] over seeds (`n`). Columns: the time marks, as seconds "
             "into the run; the last is the end of the run. `-`: nothing to measure there (the role had no "
             "trained member yet, or the quantity is stored at the end only).", ""]
    for game in [g for g in ("kuhn_poker", "tictactoe", "connect_four") if any(r["game"] == g for r in rows)]:
        budget = max(r["budget"] for r in rows if r["game"] == game)
        fractions = sorted({r["fraction"] for r in rows if r["game"] == game})
        heads = [f"t = {f * budget:.0f} s" + (" (end)" if f >= 1.0 else "") for f in fractions]
        lines += [f"## {game}", "", f"T = {budget:.0f} s. {INTRO[game]}", "",
                  "| method | measure | n | " + " | ".join(heads) + " |", "|---|---|---|" + "---|" * len(heads)]
        for method, metric, label in _row_specs(rows, game):
            by_fraction = _values(rows, game, method, metric)
            if not any(r["game"] == game and r["method"] == method for r in rows):
                continue  # the method did not run (or failed): no row rather than a row of dashes
            n = max((len(v) for v in by_fraction.values()), default=0)
            cells = [_cell(by_fraction.get(f, [])) for f in fractions]
            lines.append(f"| {METHOD_LABELS[method]} | {label} | {n} | " + " | ".join(cells) + " |")
        lines += ["", "What each run spent (end of run):", "", "| method | n | "
                  + " | ".join(INFO.values()) + " |", "|---|---|" + "---|" * len(INFO)]
        for method in METHOD_LABELS:
            spent = {k: _values(rows, game, method, k).get(1.0, []) for k in INFO}
            # Per-seat step counts of plain PPO are summed into one count per run.
            seat_steps = [r for r in rows if r["game"] == game and r["method"] == method
                          and r["metric"].endswith(":steps")]
            if seat_steps:
                per_seed: dict[int, float] = defaultdict(float)
                for r in seat_steps:
                    per_seed[r["seed"]] += r["value"]
                spent["steps"] = list(per_seed.values())
            n = max(len(v) for v in spent.values())
            if not n:
                continue
            cells = [_cell(v, digits=0) for v in spent.values()]  # "-": not recorded (a reused run's wall time)
            lines.append(f"| {METHOD_LABELS[method]} | {n} | " + " | ".join(cells) + " |")
        lines.append("")
    lines.append(footer)
    return "\n".join(lines) + "\n"


def plot(rows: list[dict[str, Any]], game: str, path: Path) -> None:
    """Each measure against wall seconds: median over seeds, band = min–max."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    specs = _row_specs(rows, game)
    panels = ["exploitability"] if game == "kuhn_poker" else list(dict.fromkeys(s[1] for s in specs))
    cols = min(2, len(panels))
    nrows = math.ceil(len(panels) / cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(5.2 * cols, 3.6 * nrows), squeeze=False)
    budget = max(r["budget"] for r in rows if r["game"] == game)
    for ax, panel in zip(axes.flat, panels):
        for k, (method, metric, label) in enumerate(specs):
            if game != "kuhn_poker" and metric != panel:
                continue
            by_fraction = _values(rows, game, method, metric)
            if not by_fraction:
                continue
            xs = sorted(by_fraction)
            t = [f * budget for f in xs]
            med = [float(np.median(by_fraction[f])) for f in xs]
            name = METHOD_LABELS[method] + (f": {label}" if game == "kuhn_poker" else "")
            # One colour per method in every board-game panel; per series in Kuhn's single panel.
            color = f"C{k}" if game == "kuhn_poker" else f"C{list(METHOD_LABELS).index(method)}"
            ax.plot(t, med, marker="o", color=color, label=name)
            ax.fill_between(t, [min(by_fraction[f]) for f in xs], [max(by_fraction[f]) for f in xs],
                            color=color, alpha=0.15)
        target = TARGETS.get((game, "expl_population" if game == "kuhn_poker" else panel))
        if target is not None:
            ax.axhline(target, color="grey", ls="--", lw=0.8)
        if game == "kuhn_poker":
            ax.axhline(0.4583, color="grey", ls=":", lw=0.8)
            ax.set_yscale("log")
            ax.set_ylabel("exploitability (log)")
            title = "exploitability (dashed: 0.05 bar; dotted: uniform random)"
        else:
            role, probe = panel.split(":")
            title = f"{ROLE_LABELS.get(game, {}).get(role, role)} ({role}): {PROBE_LABELS[probe]}"
            ax.set_ylim(-0.02, 1.02)
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("wall seconds into the run")
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    fig.suptitle(f"{game}: median over seeds, band = min–max", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def run_footer(argv: Sequence[str], args: argparse.Namespace, notes: Sequence[str]) -> str:
    """How, where and from which code the results were made (``{TOTAL}``: minutes, filled in at the end)."""
    from importlib.metadata import version

    import torch

    from benchmarks.sampling_schemes import code_version

    load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    lines = ["## Run", "",
             f"- `python benchmarks/strength.py {' '.join(argv)}`: {{TOTAL}} min wall, {args.workers} jobs at once "
             "(each one process, one torch thread).",
             f"- Code at {code_version()}; league configs: "
             + ", ".join(f"`{c}`" for c in (args.config or ["configs/<game>.toml"]))
             + (f"; overrides {', '.join(f'`{o}`' for o in args.override)}" if args.override else "") + ".",
             f"- Machine: {_cpu_model()}, {os.cpu_count()} cores, load average {load} at the start "
             f"(shared); Python {platform.python_version()}, torch {torch.__version__}, "
             f"open_spiel {version('open_spiel')}.",
             "- Anchors' clocks count training only (their measurements are left out); the league's "
             "marks are the creation times of its members, counted from the pool's creation.",
             "- CFR is deterministic: one run stands for every seed.",
             *[f"- {note}" for note in notes],
             f"- Raw per-seed rows: `{CSV_NAME}`; plots: `strength_<game>.png`."]
    return "\n".join(lines)


def report(out: Path, footer: str | None) -> str:
    """Rebuild the table and plots from the CSV in ``out``; without ``footer`` keep the old one."""
    rows = read_rows(out / CSV_NAME)
    md = out / "strength.md"
    if footer is None:
        found = re.search(r"^## Run\n.*", md.read_text(), re.MULTILINE | re.DOTALL) if md.exists() else None
        footer = found.group(0).rstrip() if found else "## Run\n\nRebuilt from the CSV of an earlier run."
    text = table(rows, footer)
    md.write_text(text)
    for game in ("kuhn_poker", "tictactoe", "connect_four"):
        if any(r["game"] == game for r in rows):
            plot(rows, game, out / f"strength_{game}.png")
    return text
