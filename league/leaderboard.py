"""``python -m league.leaderboard POOL_DIR [--format md|csv|json|html] [--output FILE] [--elo]
[--refit [--beta X] [--draw-probability P]] [--head-to-head EPISODES [--seed S]]``.

Opens the pool read-only (safe while a league is writing it) and renders every member, grouped
by role, best conservative rating first.  ``--refit`` recomputes every rating from the match log
with TrueSkill's beta and draw probability fitted to it by maximum likelihood
(``ratings.fit_trueskill``), or set with ``--beta`` / ``--draw-probability``; the values used
go in the title and in one line on stderr.  ``--head-to-head`` checks the order shown against
paired play (``league.evaluation.headtohead``): each role's active members play its seat in the
same episodes against the same opponents, their mean returns become two columns, and the pairs
ranked opposite to their paired difference by more than 2.5 standard errors are listed on stderr.
Errors about the pool, the arguments or the output file print one line on stderr and exit with
status 2.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any, Sequence

from league.errors import LeagueError
from league.pool import Pool
from ratings.elo import Elo
from ratings.export import FORMATS, render
from ratings.fit import TrueSkillFit, fit_trueskill
from ratings.replay import replay_elo, replay_trueskill
from ratings.trueskill_system import TrueSkillSystem

__all__ = ["main", "build_parser"]

_PROG = "python -m league.leaderboard"


def build_parser() -> argparse.ArgumentParser:
    """The command line parser (exposed so docs and tests can inspect it)."""
    parser = argparse.ArgumentParser(
        prog=_PROG, description="Render the leaderboard of a league pool: every member with its "
                                "TrueSkill rating, grouped by role, best conservative rating first.")
    parser.add_argument("pool", metavar="POOL_DIR", type=Path, help="the pool directory")
    parser.add_argument("--format", "-f", choices=list(FORMATS), default="md",
                        help="output format (default: md)")
    parser.add_argument("--output", "-o", metavar="FILE", type=Path, default=None,
                        help="write here instead of standard output")
    parser.add_argument("--elo", action="store_true",
                        help="add an 'elo' column: Elo (K=32, from 1500) recomputed from the match log, "
                             "for comparison with the literature")
    parser.add_argument("--refit", action="store_true",
                        help="recompute every rating from the match log with TrueSkill's beta and draw "
                             "probability fitted to it by maximum likelihood (the pool is not changed)")
    parser.add_argument("--beta", type=float, default=None, metavar="X",
                        help="with --refit: use this beta (performance noise, > 0) instead of fitting it")
    parser.add_argument("--draw-probability", type=float, default=None, metavar="P",
                        help="with --refit: use this draw probability (in [0, 1)) instead of fitting it")
    parser.add_argument("--head-to-head", type=int, default=None, metavar="EPISODES",
                        help="check the order against paired play: each role's active members play "
                             "EPISODES shared episodes (same deals, same opponents); adds their mean return "
                             "per episode and lists the pairs ranked opposite to it beyond 2.5 SE")
    parser.add_argument("--seed", type=int, default=None, metavar="S",
                        help="with --head-to-head: seed of its deals and opponents (default 0)")
    return parser


def _check_refit_args(args: argparse.Namespace) -> str | None:
    """What is wrong with the --refit options, or None."""
    if not args.refit and (args.beta is not None or args.draw_probability is not None):
        return "--beta and --draw-probability need --refit"
    if args.beta is not None and not (math.isfinite(args.beta) and args.beta > 0):
        return f"--beta must be a finite number > 0, got {args.beta!r}"
    if args.draw_probability is not None and not 0.0 <= args.draw_probability < 1.0:
        return f"--draw-probability must be in [0, 1), got {args.draw_probability!r}"
    if args.seed is not None and args.head_to_head is None:
        return "--seed needs --head-to-head"
    if args.head_to_head is not None and args.head_to_head < 2:
        return f"--head-to-head needs at least 2 episodes (a standard error), got {args.head_to_head}"
    return None


def _refit(members: Sequence[Any], matches: Sequence[Any], prior: TrueSkillSystem,
           beta: float | None, draw_probability: float | None) -> tuple[list[dict[str, Any]], TrueSkillFit]:
    """Leaderboard rows with every rating replayed from the log under the fitted (or given) settings."""
    fit = fit_trueskill(matches, prior, beta=beta, draw_probability=draw_probability)
    ratings = replay_trueskill(matches, fit.system(prior), initial={m.id: prior.new_rating() for m in members})
    # Counted from the log too, so every column of a row describes the same replay.
    games = Counter(i for match in matches for i in set(match.member_ids))
    rows = [{"role": m.role, "version": m.version, "id": m.id, "mu": ratings[m.id].mu,
             "sigma": ratings[m.id].sigma, "games": games[m.id], "active": m.active, "anchor": m.anchor}
            for m in members]
    return rows, fit


def _refit_note(fit: TrueSkillFit, n_matches: int, beta: float | None, draw_probability: float | None,
                draw_source: str) -> str:
    beta_how = "given" if beta is not None else "fitted"
    draw_how = "given" if draw_probability is not None else draw_source
    return (f"TrueSkill refit on {n_matches} matches: beta={fit.beta:.4g} ({beta_how}), "
            f"draw_probability={fit.draw_probability:.4g} ({draw_how}), "
            f"predictive log-likelihood={fit.log_likelihood:.2f}")


def _html(pool_dir: Path, members: Sequence[Any], items: Sequence[Any], roles: list[str], matches: Sequence[Any],
          extra: dict[int, dict[str, Any]] | None, title: str, system: TrueSkillSystem) -> str:
    """The page a run's report writes, less what only the run measures (the learning check):
    mean return per member, payoff panels and the reliability of ``system``'s predictions from
    the match log, training curves from ``metrics.csv`` when the pool sits in a run directory."""
    from league.orchestration.report import html_sections, return_columns

    merged = return_columns(list(members), list(matches))
    for mid, cols in (extra or {}).items():
        merged.setdefault(mid, {}).update(cols)
    metrics = Path(pool_dir).parent / "metrics.csv"
    page = render(items, "html", roles=roles, extra=merged, title=title)
    block = html_sections(list(members), roles, list(matches), system, metrics if metrics.exists() else None, None)
    return page.replace("</body>", block + "</body>", 1)


def _run_config(pool_dir: Path) -> Any:
    """The resolved ``config.toml`` of the run the pool belongs to (beside the pool), or None."""
    config = Path(pool_dir).parent / "config.toml"
    if not config.exists():
        return None
    from league.config import load_config

    try:
        return load_config(config)
    except LeagueError:
        return None  # not a run's config after all


def _run_system(pool_dir: Path, prior: TrueSkillSystem) -> TrueSkillSystem:
    """The rating system of the run the pool belongs to, else TrueSkill's default beta and draw
    probability around the pool's prior."""
    config = _run_config(pool_dir)
    if config is None:
        return prior
    r = config.ratings
    return TrueSkillSystem(mu=r.mu, sigma=r.sigma, beta=r.beta, tau=r.tau, draw_probability=r.draw_probability)


def _run_game(pool_dir: Path, name: str) -> Any:
    """The run's game, with its settings; else ``name`` with the game's defaults."""
    import envs

    config = _run_config(pool_dir)
    return envs.make(name) if config is None else envs.make(config.game.name, **config.game.kwargs)


def _head_to_head(pool_dir: Path, items: Sequence[Any], episodes: int, seed: int) -> tuple[dict, str, list[str]]:
    """Columns of paired mean returns, a title note and the lines that name the inversions."""
    import torch

    from league.evaluation.headtohead import check_order
    from league.population.opponents import MemberLoader

    torch.set_num_threads(1)  # small networks: intra-op threads only fight over the cores (as in league.run)

    score = {int(_field(i, "id")): _field(i, "mu") - 3 * _field(i, "sigma") for i in items}
    with Pool.open(pool_dir, mode="r") as pool:
        game = _run_game(pool_dir, pool.game)
        active = {role: [m.id for m in pool.active(role)] for role in pool.roles}
        check = check_order(game, active, MemberLoader(pool), score, episodes=episodes, seed=seed)
    extra = {m: {"h2h_return": mean, "h2h_95": half} for m, (mean, half) in check.means.items()}
    note = f"head-to-head, {episodes} paired episodes: {len(check.inversions)} of {check.pairs} pairs inverted"
    lines = [f"{_PROG}: {note} beyond 2.5 SE"]
    lines += [f"  {inv.role}: member {inv.ranked_higher} is ranked above member {inv.ranked_lower}, which "
              f"returns {-inv.mean_difference:.4g} ± {inv.standard_error:.2g} more per episode"
              for inv in check.inversions]
    return extra, note, lines


def _field(item: Any, key: str) -> Any:
    return item[key] if isinstance(item, dict) else getattr(item, key)


def _write_atomically(path: Path, text: str) -> None:
    # A browser or a CI step may read the file while a long run rewrites it: replace it whole.
    directory = path.parent if str(path.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        # mkstemp makes the file private; a report should be as readable as a plain write makes it.
        os.chmod(tmp, path.stat().st_mode & 0o777 if path.exists() else 0o644)
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command and return its exit status: 0 ok, 2 unreadable pool, bad --refit options,
    a log that cannot be refitted, or unwritable output.

    Usage errors (and ``--help``) leave through argparse's ``SystemExit`` (status 2, resp. 0).
    """
    args = build_parser().parse_args(argv)
    problem = _check_refit_args(args)
    if problem is not None:
        print(f"{_PROG}: error: {problem}", file=sys.stderr)
        return 2
    try:
        with Pool.open(args.pool, mode="r") as pool:
            members = pool.members()
            roles = list(pool.roles)
            game = pool.game
            matches = pool.matches() if args.elo or args.refit or args.format == "html" else []
            # The pool keeps the prior, not the run's tau: 0, the default for frozen checkpoints.
            prior = TrueSkillSystem(mu=pool.initial_mu, sigma=pool.initial_sigma)
    except LeagueError as e:
        print(f"{_PROG}: error: {e}", file=sys.stderr)
        return 2
    extra = None
    if args.elo:
        elo = Elo()
        ratings = replay_elo(matches, elo, initial={m.id: elo.initial for m in members})
        extra = {m.id: {"elo": ratings[m.id]} for m in members}
    items: Sequence[Any] = members
    title = f"Leaderboard: {game}"
    if args.refit:
        try:
            items, fit = _refit(members, matches, prior, args.beta, args.draw_probability)
        except ValueError as e:
            print(f"{_PROG}: error: cannot refit: {e}", file=sys.stderr)
            return 2
        has_draw = any(len(set(m.ranks)) < len(m.ranks) for m in matches)
        note = _refit_note(fit, len(matches), args.beta, args.draw_probability,
                           "fitted" if has_draw else "no draws in the log")
        title += f" ({note})"
        print(f"{_PROG}: {note}", file=sys.stderr)
    if args.head_to_head is not None:
        try:
            h2h, note, lines = _head_to_head(args.pool, items, args.head_to_head, args.seed or 0)
        except (LeagueError, ValueError, KeyError) as e:
            print(f"{_PROG}: error: cannot play the head-to-head check: {e}", file=sys.stderr)
            return 2
        extra = extra or {}
        for mid, cols in h2h.items():
            extra.setdefault(mid, {}).update(cols)
        title += f" ({note})"
        print("\n".join(lines), file=sys.stderr)
    if args.format == "html":
        text = _html(args.pool, members, items, roles, matches, extra, title,
                     fit.system(prior) if args.refit else _run_system(args.pool, prior))
    else:
        text = render(items, args.format, roles=roles, extra=extra, title=title)
    if args.output is None:
        try:
            sys.stdout.write(text)
            sys.stdout.flush()
        except BrokenPipeError:
            # The reader (``| head``) left early; that is its choice, not our error.  Point stdout
            # at devnull so the interpreter's final flush does not print a traceback.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    try:
        _write_atomically(args.output, text)
    except OSError as e:
        print(f"{_PROG}: error: cannot write {args.output}: {e.strerror or e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
