"""Tests for ``ratings``: TrueSkill against direct ``trueskill`` calls and published values,
win probabilities, Elo, input validation, and the public surface."""

from __future__ import annotations

import math

import numpy as np
import pytest
import trueskill
from hypothesis import given, settings
from hypothesis import strategies as st

import ratings
from ratings import (Elo, Rating, TrueSkillSystem, conservative, first_place_probability, replay_elo,
                     replay_trueskill, win_probability)
from ratings.winprob import _first_place_by_quadrature

DEFAULT_TAU = 25.0 / 300.0  # trueskill's own default; the published examples were computed with it


def direct(env: trueskill.TrueSkill, teams, ranks, weights=None):
    """The same match rated by calling trueskill directly, as plain (mu, sigma) lists."""
    groups = [tuple(trueskill.Rating(mu, sigma) for mu, sigma in team) for team in teams]
    rated = env.rate(groups, ranks=ranks, weights=weights)
    return [[(r.mu, r.sigma) for r in team] for team in rated]


def as_tuples(rated):
    return [[(r.mu, r.sigma) for r in team] for team in rated]


# --- golden: identical to direct trueskill calls with the same settings -------------------------

SETTINGS = [dict(), dict(tau=DEFAULT_TAU), dict(mu=1000.0, sigma=200.0, beta=120.0, draw_probability=0.3)]


@pytest.mark.parametrize("kw", SETTINGS)
def test_1v1_equals_direct_trueskill(kw):
    system = TrueSkillSystem(**kw)
    env = trueskill.TrueSkill(mu=system.mu, sigma=system.sigma, beta=system.beta, tau=system.tau,
                              draw_probability=system.draw_probability)
    teams = [[(system.mu + 3.0, system.sigma * 0.7)], [(system.mu, system.sigma)]]
    for ranks in ([1, 2], [2, 1], [1, 1]):
        ours = system.rate([[Rating(*p) for p in t] for t in teams], ranks)
        assert as_tuples(ours) == direct(env, teams, ranks)
        assert system.rate_seats([Rating(*t[0]) for t in teams], ranks) == [r[0] for r in ours]


@pytest.mark.parametrize("kw", SETTINGS)
def test_4_player_free_for_all_with_a_tie_equals_direct_trueskill(kw):
    system = TrueSkillSystem(**kw)
    env = trueskill.TrueSkill(mu=system.mu, sigma=system.sigma, beta=system.beta, tau=system.tau,
                              draw_probability=system.draw_probability)
    s = system.sigma
    seats = [(system.mu, s), (system.mu + 0.4 * s, 0.5 * s), (system.mu - 0.2 * s, 0.8 * s),
             (system.mu + 0.1 * s, 0.3 * s)]
    ranks = [3, 1, 2, 2]
    ours = system.rate_seats([Rating(*p) for p in seats], ranks)
    expected = [team[0] for team in direct(env, [[p] for p in seats], ranks)]
    assert [tuple(r) for r in ours] == expected


@pytest.mark.parametrize("kw", SETTINGS)
def test_2v2_equals_direct_trueskill(kw):
    system = TrueSkillSystem(**kw)
    env = trueskill.TrueSkill(mu=system.mu, sigma=system.sigma, beta=system.beta, tau=system.tau,
                              draw_probability=system.draw_probability)
    s = system.sigma
    teams = [[(system.mu, s), (system.mu + 0.5 * s, 0.6 * s)],
             [(system.mu + 0.2 * s, 0.9 * s), (system.mu - 0.3 * s, 0.4 * s)]]
    for ranks in ([2, 1], [1, 1]):
        ours = system.rate([[Rating(*p) for p in t] for t in teams], ranks)
        assert as_tuples(ours) == direct(env, teams, ranks)


def test_match_quality_equals_direct_trueskill():
    system = TrueSkillSystem()
    env = trueskill.TrueSkill(tau=0.0)
    teams = [[(25.0, 8.0), (30.0, 3.0)], [(27.0, 5.0), (26.0, 2.0)]]
    expected = env.quality([tuple(trueskill.Rating(*p) for p in t) for t in teams])
    assert system.quality([[Rating(*p) for p in t] for t in teams]) == expected
    assert system.quality([[Rating(25, 1)], [Rating(25, 1)]]) > system.quality([[Rating(25, 1)], [Rating(40, 1)]])
    with pytest.raises(ValueError, match="at least 2 non-empty teams"):
        system.quality([[Rating(25, 1)], []])


def test_default_settings_are_trueskills_with_frozen_checkpoints():
    system = TrueSkillSystem()
    assert (system.mu, system.sigma, system.beta, system.tau, system.draw_probability) == \
        (25.0, 25.0 / 3.0, 25.0 / 6.0, 0.0, 0.1)
    assert system.new_rating() == Rating(25.0, 25.0 / 3.0)
    assert system.env.tau == 0.0


def test_rating_never_touches_trueskills_global_environment():
    before = trueskill.global_env()
    before_settings = (before.mu, before.sigma, before.beta, before.tau, before.draw_probability)
    TrueSkillSystem(mu=0.0, sigma=1.0, tau=0.5).rate_seats([Rating(0, 1), Rating(0, 1)], [1, 2])
    after = trueskill.global_env()
    assert (after.mu, after.sigma, after.beta, after.tau, after.draw_probability) == before_settings


# --- golden: published values --------------------------------------------------------------------

def test_microsoft_research_8_player_example():
    # trueskill's test_microsoft_research_example: eight new players, finishing in seat order.
    # The published values are given to 3 decimals (truncated, not rounded), hence abs=1e-3.
    system = TrueSkillSystem(tau=DEFAULT_TAU)
    rated = system.rate_seats([system.new_rating()] * 8, [1, 2, 3, 4, 5, 6, 7, 8])
    expected = [(36.771, 5.749), (32.242, 5.133), (29.074, 4.943), (26.322, 4.874),
                (23.678, 4.874), (20.926, 4.943), (17.758, 5.133), (13.229, 5.749)]
    for r, (mu, sigma) in zip(rated, expected):
        assert r.mu == pytest.approx(mu, abs=1e-3)
        assert r.sigma == pytest.approx(sigma, abs=1e-3)


@pytest.mark.parametrize("weights, expected", [
    # trueskill's test_partial_play (values from Moserware's C# Skills): 1 vs 2 new players.
    ([(1,), (1, 1)], [(33.730, 7.317), (16.270, 7.317), (16.270, 7.317)]),
    ([(0.5,), (0.5, 0.5)], [(33.939, 7.312), (16.061, 7.312), (16.061, 7.312)]),
    ([(1,), (0, 1)], [(29.440, 7.166), (25.000, 8.333), (20.560, 7.166)]),
    ([(1,), (0.5, 1)], [(32.417, 7.056), (21.291, 8.033), (17.583, 7.056)]),
])
def test_partial_play_weights_match_published_values(weights, expected):
    system = TrueSkillSystem(tau=DEFAULT_TAU)
    r = system.new_rating()
    rated = system.rate([[r], [r, r]], [1, 2], weights=weights)
    flat = [x for team in rated for x in team]
    for got, (mu, sigma) in zip(flat, expected):
        assert got.mu == pytest.approx(mu, abs=1e-3)
        assert got.sigma == pytest.approx(sigma, abs=1e-3)


def test_partial_play_weights_equal_direct_trueskill():
    system = TrueSkillSystem()
    env = trueskill.TrueSkill(tau=0.0)
    teams = [[(27.0, 4.0), (22.0, 6.0)], [(25.0, 8.0)], [(30.0, 2.0), (20.0, 7.0)]]
    weights = [(1.0, 0.25), (0.8,), (0.5, 1.0)]
    ours = system.rate([[Rating(*p) for p in t] for t in teams], [2, 1, 3], weights=weights)
    assert as_tuples(ours) == direct(env, teams, [2, 1, 3], weights)


def test_a_player_who_did_not_play_keeps_his_mean():
    system = TrueSkillSystem()
    r = system.new_rating()
    rated = system.rate([[r], [r, r]], [1, 2], weights=[(1,), (0, 1)])
    # trueskill floors weights at 1e-4 to keep its factor graph finite, so "unchanged" is to 1e-3.
    assert rated[1][0].mu == pytest.approx(r.mu, abs=1e-3)
    assert rated[1][0].sigma == pytest.approx(r.sigma, abs=1e-3)
    assert rated[1][1].mu < r.mu < rated[0][0].mu


def test_huge_upset_falls_back_to_high_precision():
    # trueskill's test_issue5_with_mpmath: the default backend raises FloatingPointError here.
    # That test compares means to 0 decimals; the sigmas to 3.
    system = TrueSkillSystem(tau=DEFAULT_TAU)
    with pytest.raises(FloatingPointError):
        trueskill.TrueSkill().rate([(trueskill.Rating(),), (trueskill.Rating(1000),)], ranks=[0, 1])
    low, high = system.rate_seats([Rating(25.0, 25.0 / 3.0), Rating(1000.0, 25.0 / 3.0)], [1, 2])
    assert low.mu == pytest.approx(415.298, abs=0.5) and low.sigma == pytest.approx(6.455, abs=1e-3)
    assert high.mu == pytest.approx(609.702, abs=0.5) and high.sigma == pytest.approx(6.455, abs=1e-3)


# --- properties ------------------------------------------------------------------------------------

mus = st.floats(min_value=-50.0, max_value=100.0, allow_nan=False)
sigmas = st.floats(min_value=0.5, max_value=15.0, allow_nan=False)
rating_st = st.builds(Rating, mus, sigmas)


@settings(max_examples=60, deadline=None)
@given(rating_st, st.floats(min_value=0.01, max_value=0.9))
def test_a_draw_between_equals_is_symmetric(r, draw_probability):
    system = TrueSkillSystem(draw_probability=draw_probability)
    a, b = system.rate_seats([r, r], [1, 1])
    # Equal up to rounding: the factor graph adds the two sides in different orders.
    assert a.mu == pytest.approx(b.mu, rel=1e-12, abs=1e-12)
    assert a.sigma == pytest.approx(b.sigma, rel=1e-12)
    assert a.mu == pytest.approx(r.mu, abs=1e-9)
    assert a.sigma < r.sigma


@settings(max_examples=60, deadline=None)
@given(rating_st, rating_st)
def test_winners_mean_rises_and_losers_falls(a, b):
    system = TrueSkillSystem()
    new_a, new_b = system.rate_seats([a, b], [1, 2])
    # trueskill's precision/mean round trip can lose an ulp, hence the 1e-12 slack.
    assert new_a.mu >= a.mu - 1e-12 * abs(a.mu) and new_b.mu <= b.mu + 1e-12 * abs(b.mu)
    if system.win_probability(a, b) < 0.99:  # an expected win may move mu by less than a float ulp
        assert new_a.mu > a.mu and new_b.mu < b.mu
    # Swapping the seats must not change anyone's update.
    swapped_b, swapped_a = system.rate_seats([b, a], [2, 1])
    assert (swapped_a, swapped_b) == (new_a, new_b)


@settings(max_examples=40, deadline=None)
@given(st.lists(rating_st, min_size=2, max_size=7))
def test_first_place_probabilities_are_a_distribution(rs):
    p = TrueSkillSystem().first_place_probability(rs)
    assert p.shape == (len(rs),)
    assert np.all(p >= 0)
    assert p.sum() == pytest.approx(1.0, abs=1e-12)


@settings(max_examples=40, deadline=None)
@given(st.lists(rating_st, min_size=2, max_size=6), st.data(),
       st.floats(min_value=0.01, max_value=30.0))
def test_first_place_probability_is_monotone_in_mu(rs, data, bump):
    system = TrueSkillSystem()
    i = data.draw(st.integers(0, len(rs) - 1))
    before = system.first_place_probability(rs)
    raised = list(rs)
    raised[i] = Rating(rs[i].mu + bump, rs[i].sigma)
    after = system.first_place_probability(raised)
    assert after[i] >= before[i] - 1e-12
    # ... and nobody else gains from it.
    others = [j for j in range(len(rs)) if j != i]
    assert np.all(after[others] <= before[others] + 1e-12)


@settings(max_examples=40, deadline=None)
@given(rating_st, rating_st, st.floats(min_value=0.5, max_value=20.0))
def test_first_place_for_two_seats_is_the_1v1_formula(a, b, beta):
    expected = 0.5 * math.erfc(-(a.mu - b.mu) / math.sqrt(2 * beta**2 + a.sigma**2 + b.sigma**2) / math.sqrt(2))
    p = first_place_probability([a, b], beta)
    assert p[0] == expected
    assert win_probability(a, b, beta) == expected
    # The quadrature used for N >= 3 agrees with the closed form too.
    sds = np.sqrt(np.array([a.sigma, b.sigma]) ** 2 + beta**2)
    q = _first_place_by_quadrature(np.array([a.mu, b.mu]), sds)
    assert q[0] == pytest.approx(expected, abs=1e-10)


# --- win probability: fixed values ---------------------------------------------------------------

def test_win_probability_values():
    system = TrueSkillSystem()
    r = system.new_rating()
    assert system.win_probability(r, r) == 0.5
    # beta is the distance that gives about a 76 % chance of winning between certain players.
    assert system.win_probability(Rating(25 + system.beta, 1e-9), Rating(25, 1e-9)) == \
        pytest.approx(0.7602499389, abs=1e-9)
    # Phi(1) when the difference is one standard deviation of the performance difference.
    a, b = Rating(30.0, 3.0), Rating(30.0 - math.sqrt(2 * system.beta**2 + 9 + 16), 4.0)
    assert system.win_probability(a, b) == pytest.approx(0.8413447460685429, abs=1e-12)
    assert system.win_probability(a, b) + system.win_probability(b, a) == pytest.approx(1.0, abs=1e-15)


def test_first_place_probability_of_equals_is_uniform_and_deterministic():
    system = TrueSkillSystem()
    rs = [system.new_rating()] * 5
    p = system.first_place_probability(rs)
    np.testing.assert_allclose(p, np.full(5, 0.2), atol=1e-12)
    again = system.first_place_probability(rs)
    assert np.array_equal(p, again)


def test_first_place_probability_matches_a_seeded_simulation():
    rs = [Rating(25, 8), Rating(28, 2), Rating(20, 5), Rating(26, 1)]
    beta = 25.0 / 6.0
    rng = np.random.default_rng(0)
    perf = rng.normal([r.mu for r in rs], np.sqrt(np.array([r.sigma for r in rs]) ** 2 + beta**2),
                      size=(400_000, 4))
    freq = np.bincount(perf.argmax(axis=1), minlength=4) / len(perf)
    np.testing.assert_allclose(first_place_probability(rs, beta), freq, atol=3e-3)


def test_first_place_probability_with_far_apart_ratings():
    p = first_place_probability([Rating(0, 1), Rating(500, 1), Rating(1000, 200)], 4.0)
    assert p.sum() == pytest.approx(1.0)
    assert np.all(np.isfinite(p)) and np.all(p >= 0)
    assert p[0] < 1e-30 < p[1]


def test_conservative():
    assert conservative(25.0, 25.0 / 3.0) == pytest.approx(0.0, abs=1e-12)
    assert conservative(30.0, 2.0) == 24.0
    assert conservative(30.0, 2.0, k=2) == 26.0


# --- Elo -------------------------------------------------------------------------------------------

def test_elo_expected_scores_from_the_standard_example():
    # A 1613 player against five opponents (the common textbook example): expected total 2.867,
    # so scoring 2.5 with K=32 costs 12 points.
    opponents = [1609, 1477, 1388, 1586, 1720]
    expected = [Elo.expected(1613, o) for o in opponents]
    assert [round(e, 2) for e in expected] == [0.51, 0.69, 0.79, 0.54, 0.35]
    assert sum(expected) == pytest.approx(2.867, abs=1e-3)
    rating = 1613.0
    for o, rank in zip(opponents, [2, 1, 1, 1, 2]):  # loss, draw, win, win, loss
        rank = 1 if o == 1477 else rank
        ranks = [1, 1] if o == 1477 else [rank, 3 - rank]
        rating += Elo().rate([1613, o], ranks)[0] - 1613
    assert rating == pytest.approx(1613 + 32 * (2.5 - sum(expected)), abs=1e-9)
    assert round(rating) == 1601


def test_elo_two_players():
    elo = Elo()
    assert elo.rate([1500, 1500], [1, 2]) == [1516.0, 1484.0]
    assert elo.rate([1500, 1500], [1, 1]) == [1500.0, 1500.0]
    assert Elo(k=16).rate([1500, 1500], [2, 1]) == [1492.0, 1508.0]
    # A 400-point favourite expects 10/11 of the points.
    assert Elo.expected(1900, 1500) == pytest.approx(10 / 11)


def test_elo_multiplayer_is_pairwise():
    new = Elo(k=30).rate([1500, 1500, 1500], [1, 2, 3])
    assert new == pytest.approx([1515.0, 1500.0, 1485.0])
    new = Elo().rate([1600, 1500, 1400, 1500], [2, 1, 4, 2])
    assert sum(new) == pytest.approx(6000.0)  # pairwise Elo is zero-sum
    assert new[1] > 1500 and new[2] < 1400 and new[0] < 1600


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(min_value=0, max_value=3000), min_size=2, max_size=8), st.data())
def test_elo_is_zero_sum_and_rewards_rank(rs, data):
    ranks = data.draw(st.lists(st.integers(1, 4), min_size=len(rs), max_size=len(rs)))
    new = Elo().rate(rs, ranks)
    assert sum(new) == pytest.approx(sum(rs), abs=1e-6)
    best = [i for i, r in enumerate(ranks) if r == min(ranks)]
    if len(best) == 1:  # a sole winner scores 1 against everyone, more than any expectation
        assert new[best[0]] > rs[best[0]]
    worst = [i for i, r in enumerate(ranks) if r == max(ranks)]
    if len(worst) == 1 and len(best) < len(rs):
        assert new[worst[0]] < rs[worst[0]]


# --- bad input ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("call, message", [
    (lambda s: s.rate([[Rating(25, 8)], [Rating(25, 8)]], [1]), "ranks has 1 entries but there are 2 teams"),
    (lambda s: s.rate_seats([Rating(25, 8)] * 3, [1, 2]), "ranks has 2 entries but there are 3 seats"),
    (lambda s: s.rate([[Rating(25, 8)], []], [1, 2]), r"teams\[1\] is empty"),
    (lambda s: s.rate([[Rating(25, 8)]], [1]), "at least 2 teams"),
    (lambda s: s.rate_seats([Rating(25, 0.0), Rating(25, 8)], [1, 2]), r"teams\[0\]\[0\]: sigma must be"),
    (lambda s: s.rate_seats([Rating(25, 8), Rating(25, -1)], [1, 2]), r"teams\[1\]\[0\]: sigma must be"),
    (lambda s: s.rate_seats([Rating(float("nan"), 8), Rating(25, 8)], [1, 2]), "mu must be finite"),
    (lambda s: s.rate_seats([Rating(25, 8), Rating(25, 8)], [1, None]), r"ranks\[1\] must be a finite number"),
    (lambda s: s.rate([[Rating(25, 8)], [Rating(25, 8)]], [1, 2], weights=[[1]]), "weights has 1 teams"),
    (lambda s: s.rate([[Rating(25, 8)], [Rating(25, 8)]], [1, 2], weights=[[1], [1.5]]),
     r"weights\[1\]\[0\] must be in \[0, 1\]"),
    (lambda s: s.win_probability(Rating(25, 8), Rating(25, 0)), "b: sigma must be"),
    (lambda s: s.first_place_probability([Rating(25, 8)]), "at least 2 ratings"),
    (lambda s: s.first_place_probability([Rating(25, 8), Rating(25, 8), (25, -2)]), r"ratings\[2\]: sigma"),
])
def test_bad_input_raises_value_error_naming_the_problem(call, message):
    with pytest.raises(ValueError, match=message):
        call(TrueSkillSystem())


@pytest.mark.parametrize("kw, message", [
    (dict(sigma=0.0), "sigma"), (dict(beta=-1.0), "beta"), (dict(tau=-0.1), "tau"),
    (dict(draw_probability=1.0), "draw_probability"), (dict(mu=float("inf")), "mu"),
])
def test_bad_settings_raise_value_error(kw, message):
    with pytest.raises(ValueError, match=message):
        TrueSkillSystem(**kw)


def test_a_draw_without_draw_probability_is_rejected_clearly():
    system = TrueSkillSystem(draw_probability=0.0)
    assert system.rate_seats([Rating(25, 8), Rating(25, 8)], [1, 2])[0].mu > 25
    with pytest.raises(ValueError, match="draw_probability is 0"):
        system.rate_seats([Rating(25, 8), Rating(25, 8)], [1, 1])


@pytest.mark.parametrize("call, message", [
    (lambda: Elo(k=0), "k must be"), (lambda: Elo().rate([1500], [1]), "at least 2 players"),
    (lambda: Elo().rate([1500, 1500], [1, 2, 3]), "ranks has 3 entries but there are 2 players"),
])
def test_elo_bad_input(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_public_surface():
    for name in ratings.__all__:
        assert hasattr(ratings, name), name
    assert {"Rating", "TrueSkillSystem", "Elo", "conservative", "win_probability", "first_place_probability",
            "replay_trueskill", "replay_elo", "LeaderboardRow", "leaderboard_rows",
            "render_leaderboard"} <= set(ratings.__all__)


def test_ratings_imports_nothing_from_league_or_envs():
    # A fresh interpreter: in this one, other tests may already have imported league.
    import subprocess
    import sys

    code = ("import sys, ratings, ratings.export; "
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('league', 'envs')); "
            "print(bad); sys.exit(1 if bad else 0)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


# --- replaying a match log -------------------------------------------------------------------------

LOG = [
    {"member_ids": [0, 1], "ranks": [1, 2]},
    {"member_ids": [2, 0, 1], "ranks": [2, 1, 2]},
    {"member_ids": [1, 2], "ranks": [1, 1]},
]


def test_replay_trueskill_applies_matches_in_order():
    system = TrueSkillSystem()
    new = system.new_rating()
    r0, r1 = system.rate_seats([new, new], [1, 2])
    r2, r0, r1 = system.rate_seats([new, r0, r1], [2, 1, 2])
    r1, r2 = system.rate_seats([r1, r2], [1, 1])
    assert replay_trueskill(LOG, system) == {0: r0, 1: r1, 2: r2}
    # Players given an initial rating start from it, and stay in the result if they never play.
    start = {0: Rating(30.0, 2.0), 9: Rating(10.0, 1.0)}
    out = replay_trueskill(LOG[:1], system, initial=start)
    assert out[9] == Rating(10.0, 1.0)
    assert [out[0], out[1]] == system.rate_seats([Rating(30.0, 2.0), new], [1, 2])


def test_replay_elo_applies_matches_in_order():
    elo = Elo()
    a, b = elo.rate([1500, 1500], [1, 2])
    c, a, b = elo.rate([1500, a, b], [2, 1, 2])
    b, c = elo.rate([b, c], [1, 1])
    assert replay_elo(LOG, elo) == {0: a, 1: b, 2: c}


def test_replay_of_a_member_seated_twice_keeps_its_last_seat():
    system = TrueSkillSystem()
    new = system.new_rating()
    assert replay_trueskill([{"member_ids": [5, 5], "ranks": [1, 2]}], system) == \
        {5: system.rate_seats([new, new], [1, 2])[1]}


def test_replay_reports_the_bad_match():
    with pytest.raises(ValueError, match="match 1 has 2 member_ids but 1 ranks"):
        replay_elo([LOG[0], {"member_ids": [0, 1], "ranks": [1]}], Elo())
    with pytest.raises(ValueError, match="match 0 has no member_ids"):
        replay_trueskill([{"ids": [0, 1]}], TrueSkillSystem())
    with pytest.raises(ValueError, match=r"match 0: ranks\[1\] must be a finite number"):
        replay_trueskill([{"member_ids": [0, 1], "ranks": [1, "x"]}], TrueSkillSystem())
