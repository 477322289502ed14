"""TrueSkill fitted to a game (``ratings.fit``) and ``python -m league.leaderboard POOL --refit``."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import trueskill
from scipy.stats import kendalltau, norm

from ratings import (Rating, TrueSkillFit, TrueSkillSystem, fit_trueskill, predictive_log_likelihood,
                     replay_trueskill)
from ratings.fit import draw_margin

REPO = Path(__file__).resolve().parents[1]
SIGMA0 = 25.0 / 3.0


def simulate(seed: int, n_players: int, n_matches: int, beta: float, seats: int = 2,
             draw_probability: float = 0.0) -> tuple[np.ndarray, list[dict]]:
    """A match log drawn from TrueSkill's own model with known skills and performance noise.

    Skills are spread evenly over +-1.5 prior sigmas (shuffled), so that neighbours differ by
    about a third of a prior sigma.  A pair draws when its performances differ by at most the
    draw margin that makes two equal players draw with probability ``draw_probability``.
    """
    rng = np.random.default_rng(seed)
    skills = 25.0 + SIGMA0 * np.linspace(-1.5, 1.5, n_players)
    rng.shuffle(skills)
    eps = norm.ppf((draw_probability + 1.0) / 2.0) * math.sqrt(2.0) * beta
    log = []
    for _ in range(n_matches):
        ids = rng.choice(n_players, size=seats, replace=False)
        perf = skills[ids] + rng.normal(0.0, beta, seats)
        if seats == 2:
            d = perf[0] - perf[1]
            ranks = [1, 1] if abs(d) <= eps else ([1, 2] if d > 0 else [2, 1])
        else:
            ranks = [0] * seats
            for place, k in enumerate(np.argsort(-perf)):
                ranks[k] = place + 1
        log.append({"member_ids": [int(i) for i in ids], "ranks": ranks})
    return skills, log


def by_true_skill(skills: np.ndarray) -> list[int]:
    return sorted(range(len(skills)), key=lambda k: -skills[k])


def by_rating(ratings: dict) -> list[int]:
    return sorted(ratings, key=lambda k: -ratings[k].mu)


# --- the likelihood --------------------------------------------------------------------------------

A, B = Rating(27.0, 3.0), Rating(24.0, 2.0)


def one_match(ranks, system):
    return math.exp(predictive_log_likelihood([{"member_ids": ["a", "b"], "ranks": ranks}], system,
                                              initial={"a": A, "b": B}))


def test_two_seat_likelihood_is_trueskills_win_probability_without_draws():
    system = TrueSkillSystem(beta=3.0, draw_probability=0.0)
    assert one_match([1, 2], system) == pytest.approx(system.win_probability(A, B), rel=1e-12)
    assert one_match([2, 1], system) == pytest.approx(1.0 - system.win_probability(A, B), rel=1e-12)


def test_two_seat_outcome_probabilities_sum_to_one_with_the_draw_margin():
    system = TrueSkillSystem(beta=3.0, draw_probability=0.3)
    win, draw, loss = (one_match(r, system) for r in ([1, 2], [1, 1], [2, 1]))
    assert win + draw + loss == pytest.approx(1.0, abs=1e-12)
    # The draw margin is trueskill's (up to its approximation of the normal quantile), and the
    # better player wins more than it loses.
    eps = draw_margin(0.3, 3.0)
    assert eps == pytest.approx(trueskill.calc_draw_margin(0.3, 2, env=system.env), rel=1e-6)
    c = math.sqrt(2 * 3.0 ** 2 + A.sigma ** 2 + B.sigma ** 2)
    assert win == pytest.approx(norm.cdf((A.mu - B.mu - eps) / c), rel=1e-9)
    assert win > loss > 0 and draw > 0


def test_equal_players_of_known_skill_draw_with_the_draw_probability():
    system = TrueSkillSystem(beta=3.0, draw_probability=0.2)
    log = [{"member_ids": [0, 1], "ranks": [1, 1]}]
    p = math.exp(predictive_log_likelihood(log, system, initial={0: Rating(25, 1e-6), 1: Rating(25, 1e-6)}))
    assert p == pytest.approx(0.2, rel=1e-6)


def test_an_n_seat_match_scores_every_pair_of_seats():
    system = TrueSkillSystem(beta=4.0, draw_probability=0.1)
    start = {0: Rating(30, 2), 1: Rating(25, 4), 2: Rating(20, 3)}
    three = predictive_log_likelihood([{"member_ids": [0, 1, 2], "ranks": [2, 1, 2]}], system, initial=start)
    pairs = sum(predictive_log_likelihood([{"member_ids": [i, j], "ranks": r}], system, initial=start)
                for i, j, r in [(0, 1, [2, 1]), (0, 2, [1, 1]), (1, 2, [1, 2])])
    assert three == pytest.approx(pairs, rel=1e-12)


def test_the_likelihood_is_prequential():
    # The second match is scored with the ratings after the first: a repeat of a result is
    # more likely the second time.
    system = TrueSkillSystem(draw_probability=0.0)
    log = [{"member_ids": [0, 1], "ranks": [1, 2]}] * 2
    first = predictive_log_likelihood(log[:1], system)
    assert first == pytest.approx(math.log(0.5))
    assert predictive_log_likelihood(log, system) - first > math.log(0.5)


# --- the fit on synthetic logs ---------------------------------------------------------------------

def test_fit_recovers_a_noisy_games_beta_and_orders_players_by_true_skill():
    skills, log = simulate(seed=0, n_players=10, n_matches=800, beta=8.0)
    fit = fit_trueskill(log)
    assert isinstance(fit, TrueSkillFit)
    beta, draw_probability, log_likelihood = fit
    assert beta == pytest.approx(8.0, rel=0.2)      # the default, sigma/2 = 4.17, is far outside
    assert draw_probability == 0.0                  # no draws in the log: the maximum likelihood
    # The optimizer found the maximum: no worse than the truth or the defaults.
    assert log_likelihood >= predictive_log_likelihood(log, TrueSkillSystem(beta=8.0, draw_probability=0.0)) - 0.05
    assert log_likelihood > predictive_log_likelihood(log, TrueSkillSystem(draw_probability=0.0)) + 1.0
    # With beta = 8 and neighbours 2.8 apart, 160 games each cannot order every neighbour pair;
    # at most one adjacent swap (Kendall's tau >= 0.95 for 10 players).
    ratings = replay_trueskill(log, fit.system())
    assert kendalltau([ratings[k].mu for k in range(len(skills))], skills).statistic >= 0.95


def test_fit_recovers_beta_and_the_draw_probability_when_games_draw():
    skills, log = simulate(seed=1, n_players=8, n_matches=1000, beta=3.0, draw_probability=0.25)
    # Most pairs are far apart and rarely draw: the log's share of draws is far below the
    # probability that two *equal* players draw, which is what the fit recovers.
    share = np.mean([m["ranks"][0] == m["ranks"][1] for m in log])
    assert 0.03 < share < 0.1
    fit = fit_trueskill(log)
    assert fit.beta == pytest.approx(3.0, rel=0.25)
    assert fit.draw_probability == pytest.approx(0.25, abs=0.05)
    assert by_rating(replay_trueskill(log, fit.system())) == by_true_skill(skills)


def test_fit_recovers_beta_from_four_seat_matches():
    skills, log = simulate(seed=2, n_players=8, n_matches=400, beta=6.0, seats=4)
    fit = fit_trueskill(log)
    assert fit.beta == pytest.approx(6.0, rel=0.25)
    assert fit.draw_probability == 0.0
    assert by_rating(replay_trueskill(log, fit.system())) == by_true_skill(skills)


def test_fixed_values_are_kept_and_the_rest_fitted():
    _, log = simulate(seed=3, n_players=6, n_matches=300, beta=3.0, draw_probability=0.2)
    base = TrueSkillSystem(mu=10.0, sigma=4.0)
    both = fit_trueskill(log, base, beta=2.5, draw_probability=0.15)
    assert both[:2] == (2.5, 0.15)
    system = both.system(base)
    assert (system.mu, system.sigma, system.tau, system.beta, system.draw_probability) == (10.0, 4.0, 0.0, 2.5, 0.15)
    assert both.log_likelihood == predictive_log_likelihood(log, system)
    only_beta = fit_trueskill(log, base, beta=2.5)
    assert only_beta.beta == 2.5 and 0.0 < only_beta.draw_probability < 1.0
    assert only_beta.log_likelihood >= both.log_likelihood
    only_draw = fit_trueskill(log, base, draw_probability=0.15)
    assert only_draw.draw_probability == 0.15 and only_draw.beta != base.beta
    assert only_draw.log_likelihood >= both.log_likelihood


def test_the_packages_global_environment_is_never_touched():
    before = repr(trueskill.global_env())
    _, log = simulate(seed=4, n_players=4, n_matches=60, beta=2.0, draw_probability=0.2)
    fit_trueskill(log)
    assert repr(trueskill.global_env()) == before


def test_bad_input_raises_value_error_naming_the_problem():
    with pytest.raises(ValueError, match="empty"):
        fit_trueskill([])
    assert fit_trueskill([], beta=1.0, draw_probability=0.1).log_likelihood == 0.0
    with pytest.raises(ValueError, match="beta must be a finite number > 0"):
        fit_trueskill([{"member_ids": [0, 1], "ranks": [1, 2]}], beta=-1.0)
    with pytest.raises(ValueError, match=r"draw_probability must be in \[0, 1\)"):
        fit_trueskill([{"member_ids": [0, 1], "ranks": [1, 2]}], draw_probability=1.0)
    with pytest.raises(ValueError, match="match 1: .*draw but draw_probability is 0"):
        fit_trueskill([{"member_ids": [0, 1], "ranks": [1, 2]}, {"member_ids": [0, 1], "ranks": [1, 1]}],
                      draw_probability=0.0)
    with pytest.raises(ValueError, match="match 0 has no member_ids/ranks"):
        fit_trueskill([{"ids": [0, 1]}])


# --- the CLI on a real pool ------------------------------------------------------------------------

@pytest.fixture
def pool_module():
    import league.pool

    return league.pool


def build_pool(path: Path, pool_module, log: list[dict], n_members: int) -> dict[int, Rating]:
    """A real pool of weightless members whose match log is ``log``, rated with the defaults."""
    spec = {"kind": "random", "n_actions": 2}
    system = TrueSkillSystem()
    with pool_module.Pool.create(path, game="test_game", roles=["first", "second"]) as pool:
        members = [pool.add(("first", "second")[k % 2], {}, spec=spec, hparams={}, step=0, anchor=k < 2)
                   for k in range(n_members)]
        ratings = {m.id: Rating(m.mu, m.sigma) for m in members}
        for match in log:
            ids = match["member_ids"]
            new = system.rate_seats([ratings[i] for i in ids], match["ranks"])
            ratings.update(zip(ids, new))
            pool.record_match(["player_0", "player_1"], ids, match["ranks"], [(r.mu, r.sigma) for r in new])
    return ratings


@pytest.fixture
def pool_dir(tmp_path, pool_module):
    skills, log = simulate(seed=5, n_players=6, n_matches=150, beta=5.0, draw_probability=0.2)
    path = tmp_path / "pool"
    ratings = build_pool(path, pool_module, log, n_members=6)
    return path, log, ratings


def snapshot(path: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in path.rglob("*") if p.is_file()}


def test_cli_refit_recomputes_ratings_with_the_fitted_values_and_leaves_the_pool(pool_dir, pool_module, capsys):
    from league.leaderboard import main

    path, log, _ = pool_dir
    before = snapshot(path)
    assert main([str(path), "--refit", "--format", "json"]) == 0
    out, err = capsys.readouterr()
    assert snapshot(path) == before
    with pool_module.Pool.open(path, mode="r") as pool:
        prior = TrueSkillSystem(mu=pool.initial_mu, sigma=pool.initial_sigma)
        fit = fit_trueskill(pool.matches(), prior)
    assert fit.draw_probability > 0 and fit.beta != prior.beta
    data = json.loads(out)
    for text in (data["title"], err):
        assert f"beta={fit.beta:.4g} (fitted)" in text
        assert f"draw_probability={fit.draw_probability:.4g} (fitted)" in text
        assert "on 150 matches" in text
    assert len(err.strip().splitlines()) == 1
    expected = replay_trueskill(log, fit.system(prior))
    games = {i: sum(i in m["member_ids"] for m in log) for i in expected}
    assert {r["id"] for r in data["rows"]} == set(expected)
    for r in data["rows"]:
        assert (r["mu"], r["sigma"]) == pytest.approx(expected[r["id"]])
        assert r["games"] == games[r["id"]]


def test_cli_refit_with_the_defaults_given_reproduces_the_logged_ratings(pool_dir, capsys):
    from league.leaderboard import main

    path, _, ratings = pool_dir
    assert main([str(path), "--refit", "--beta", repr(SIGMA0 / 2), "--draw-probability", "0.1", "-f", "json"]) == 0
    out, err = capsys.readouterr()
    assert "(given)" in err and "fitted" not in err
    rows = json.loads(out)["rows"]
    got = {r["id"]: (r["mu"], r["sigma"]) for r in rows}
    assert set(got) == set(ratings)
    for i, r in ratings.items():
        assert got[i] == pytest.approx(tuple(r))
    # Only beta given: the draw probability is fitted.
    assert main([str(path), "--refit", "--beta", "3"]) == 0
    out, err = capsys.readouterr()
    assert "beta=3 (given)" in err and "(fitted)" in err and "beta=3 (given)" in out


def test_cli_refit_of_a_log_without_draws_says_so(tmp_path, pool_module, capsys):
    from league.leaderboard import main

    _, log = simulate(seed=6, n_players=4, n_matches=40, beta=3.0)
    build_pool(tmp_path / "pool", pool_module, log, n_members=4)
    assert main([str(tmp_path / "pool"), "--refit", "-f", "csv"]) == 0
    out, err = capsys.readouterr()
    assert "draw_probability=0 (no draws in the log)" in err
    assert out.startswith("role,version,id,mu,sigma")


@pytest.mark.parametrize("args, message", [
    (["--beta", "2"], "--beta and --draw-probability need --refit"),
    (["--refit", "--beta", "0"], "--beta must be a finite number > 0"),
    (["--refit", "--beta", "nan"], "--beta must be a finite number > 0"),
    (["--refit", "--draw-probability", "1"], r"--draw-probability must be in [0, 1)"),
    (["--refit", "--draw-probability", "0"], "cannot refit: match"),  # the log has draws
])
def test_cli_refit_bad_input_prints_one_line_and_exits_2(pool_dir, capsys, args, message):
    from league.leaderboard import main

    path, _, _ = pool_dir
    before = snapshot(path)
    assert main([str(path), *args]) == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.strip().splitlines()) == 1
    assert err.startswith("python -m league.leaderboard: error:") and message in err
    assert snapshot(path) == before


def test_cli_refit_of_an_empty_log_exits_2_without_a_traceback(tmp_path, pool_module):
    build_pool(tmp_path / "pool", pool_module, [], n_members=2)
    result = subprocess.run([sys.executable, "-m", "league.leaderboard", str(tmp_path / "pool"), "--refit"],
                            capture_output=True, text=True, cwd=REPO, timeout=120)
    assert result.returncode == 2 and result.stdout == ""
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert "cannot refit: the match log is empty" in result.stderr
