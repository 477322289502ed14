"""Opponent sampling: scheme invariants (Hypothesis), scheme behaviour, seeding, errors, config."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from league.errors import ConfigError, UnknownNameError
from league.population.sampling import (
    SCHEMES,
    CandidateInfo,
    OpponentSampler,
    SamplingConfig,
    get_scheme,
    sample_opponent,
    scheme_names,
    scheme_probabilities,
    win_probabilities,
)
from ratings import TrueSkillSystem


@st.composite
def populations(draw: st.DrawFn) -> tuple[list[CandidateInfo], np.ndarray]:
    """A non-empty candidate set with arbitrary versions/anchors and win probabilities in [0, 1]
    (0 and 1 included: the degenerate cases where PFSP weights can all vanish)."""
    n = draw(st.integers(1, 12))
    versions = draw(st.lists(st.integers(0, 30), min_size=n, max_size=n))
    anchors = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    x = draw(st.lists(st.one_of(st.sampled_from([0.0, 1.0]), st.floats(0.0, 1.0)),
                      min_size=n, max_size=n))
    candidates = [CandidateInfo(id=k, version=v, anchor=a)
                  for k, (v, a) in enumerate(zip(versions, anchors))]
    return candidates, np.array(x)


configs = st.builds(
    lambda p, w, r, sp, pf: SamplingConfig(p=p, window=w, latest_prob=r, self_play=sp,
                                           pfsp=pf * (1 - sp), verification=(1 - pf) * (1 - sp)),
    st.floats(0.1, 8.0), st.integers(1, 15), st.floats(0.0, 1.0), st.floats(0.0, 1.0),
    st.floats(0.0, 1.0))


@settings(max_examples=150, deadline=None)
@given(population=populations(), config=configs, scheme=st.sampled_from(sorted(SCHEMES)))
def test_every_scheme_returns_a_distribution(population, config, scheme):
    candidates, x = population
    probs = scheme_probabilities(scheme, candidates, x, config)
    assert probs.shape == (len(candidates),)
    assert np.all(probs >= 0)
    assert probs.sum() == pytest.approx(1.0, abs=1e-9)


def test_pfsp_hard_favours_members_the_learner_loses_to():
    candidates = [CandidateInfo(id=k, version=k) for k in range(4)]
    x = np.array([0.9, 0.6, 0.3, 0.1])  # the learner beats member 0 most often, member 3 least
    probs = scheme_probabilities("pfsp_hard", candidates, x, SamplingConfig(p=2.0))
    assert np.all(np.diff(probs) > 0)
    assert probs == pytest.approx(np.array([0.01, 0.16, 0.49, 0.81]) / 1.47)


@settings(max_examples=100, deadline=None)
@given(population=populations(), p=st.floats(0.1, 6.0))
def test_pfsp_hard_is_monotone_in_losing(population, p):
    candidates, x = population
    probs = scheme_probabilities("pfsp_hard", candidates, x, SamplingConfig(p=p))
    if np.all(x >= 1.0):
        return  # no one to lose to: uniform fallback
    for a in range(len(x)):
        for b in range(len(x)):
            if x[a] < x[b]:
                assert probs[a] >= probs[b]


def test_pfsp_var_favours_even_matches():
    candidates = [CandidateInfo(id=k) for k in range(3)]
    probs = scheme_probabilities("pfsp_var", candidates, np.array([0.5, 0.9, 0.0]))
    assert probs[0] > probs[1] > probs[2] == 0.0


def test_pfsp_falls_back_to_uniform_when_the_learner_wins_surely():
    candidates = [CandidateInfo(id=k) for k in range(3)]
    probs = scheme_probabilities("pfsp_hard", candidates, np.ones(3))
    assert probs == pytest.approx(np.full(3, 1 / 3))


@settings(max_examples=100, deadline=None)
@given(population=populations())
def test_latest_picks_the_newest(population):
    candidates, x = population
    probs = scheme_probabilities("latest", candidates, x)
    newest = max(candidates, key=lambda c: (c.version, c.id))
    assert probs[candidates.index(newest)] == 1.0


@settings(max_examples=100, deadline=None)
@given(population=populations(), size=st.integers(1, 15), r=st.floats(0.0, 1.0))
def test_window_respects_its_window(population, size, r):
    candidates, x = population
    probs = scheme_probabilities("window", candidates, x, SamplingConfig(window=size, latest_prob=r))
    recent = sorted(range(len(candidates)), key=lambda k: (candidates[k].version, candidates[k].id),
                    reverse=True)[:size]
    outside = [k for k in range(len(candidates)) if k not in recent]
    assert np.all(probs[outside] == 0.0)
    expected_newest = r + (1 - r) / len(recent)
    assert probs[recent[0]] == pytest.approx(expected_newest)


def test_alphastar_main_mix_shares():
    # 6 members, window 2: versions 5 and 4 are recent; 0..3 old; member 0 is also an anchor.
    candidates = [CandidateInfo(id=k, version=k, anchor=(k == 0)) for k in range(6)]
    x = np.full(6, 0.5)  # every pfsp weight equal, so each part is uniform over its support
    config = SamplingConfig(window=2, self_play=0.35, pfsp=0.5, verification=0.15)
    probs = scheme_probabilities("alphastar_main", candidates, x, config)
    expected = np.full(6, 0.5 / 6)
    expected[:4] += 0.15 / 4
    expected[5] += 0.35
    assert probs == pytest.approx(expected)


def test_alphastar_main_without_verification_targets_gives_the_share_to_pfsp():
    candidates = [CandidateInfo(id=k, version=k) for k in range(3)]
    probs = scheme_probabilities("alphastar_main", candidates, np.full(3, 0.5),
                                 SamplingConfig(window=10))
    assert probs == pytest.approx(np.array([0.65 / 3, 0.65 / 3, 0.65 / 3 + 0.35]))


def test_win_probabilities_come_from_ratings_then_from_the_payoff_table():
    class Payoff:
        def games(self, a: int, b: int) -> int:
            return {(9, 1): 30, (9, 2): 3}.get((a, b), 0)

        def win_rate(self, a: int, b: int) -> float:
            return 0.8

    learner = CandidateInfo(id=9, mu=25.0, sigma=2.0)
    candidates = [CandidateInfo(id=k, mu=30.0, sigma=2.0) for k in (1, 2)]
    system = TrueSkillSystem()
    x = win_probabilities(learner, candidates, model=system, payoff=Payoff(), min_games=20)
    assert x[0] == 0.8  # 30 games >= 20: empirical
    assert x[1] == pytest.approx(system.win_probability((25.0, 2.0), (30.0, 2.0)))  # too few games
    assert x[1] < 0.5


def test_seeded_sampling_is_repeatable():
    candidates = [CandidateInfo(id=k, version=k, mu=20.0 + k) for k in range(8)]
    seats = {"player_1": candidates, "player_2": candidates[:5]}
    learner = CandidateInfo(id=99, mu=25.0)

    def draws(seed: int) -> list[dict[str, int]]:
        sampler = OpponentSampler(SamplingConfig(scheme="pfsp_hard"), seed=seed)
        return [sampler.pick(learner, seats) for _ in range(30)]

    assert draws(3) == draws(3)
    assert draws(3) != draws(4)
    one = sample_opponent(candidates, learner, np.random.default_rng(5), scheme="uniform")
    two = sample_opponent(candidates, learner, np.random.default_rng(5), scheme="uniform")
    assert one == two


def test_pick_draws_each_seat_from_its_own_candidates():
    a = [CandidateInfo(id=k, role="a") for k in range(3)]
    b = [CandidateInfo(id=k, role="b") for k in range(10, 13)]
    sampler = OpponentSampler(SamplingConfig(scheme="uniform"), seed=0)
    for _ in range(50):
        seating = sampler.pick(CandidateInfo(id=99), {"seat_a": a, "seat_b": b})
        assert seating["seat_a"] in {0, 1, 2} and seating["seat_b"] in {10, 11, 12}


def test_pfsp_sampling_frequencies_follow_the_weights():
    candidates = [CandidateInfo(id=k, mu=mu, sigma=1.0) for k, mu in enumerate([15.0, 25.0, 35.0])]
    learner = CandidateInfo(id=99, mu=25.0, sigma=1.0)
    sampler = OpponentSampler(SamplingConfig(scheme="pfsp_hard"), seed=1)
    counts = np.bincount([sampler.pick(learner, {"s": candidates})["s"] for _ in range(3000)],
                         minlength=3)
    expected = sampler.probabilities(learner, candidates) * 3000
    assert np.all(np.abs(counts - expected) < 5 * np.sqrt(expected + 1))
    assert counts[2] > counts[1] > counts[0]


def test_unknown_scheme_lists_the_valid_names():
    with pytest.raises(UnknownNameError) as err:
        get_scheme("pfsp_hrad")
    for name in scheme_names():
        assert name in str(err.value)
    with pytest.raises(KeyError):  # UnknownNameError is also a KeyError
        OpponentSampler(scheme="nope")


def test_a_callable_scheme_is_accepted_and_checked():
    candidates = [CandidateInfo(id=k) for k in range(3)]
    first = lambda cands, x, config: np.array([1.0, 0.0, 0.0])  # noqa: E731
    sampler = OpponentSampler(scheme=first, seed=0)
    assert sampler.pick(CandidateInfo(id=99), {"s": candidates}) == {"s": 0}
    bad = lambda cands, x, config: np.array([1.0, -1.0, 0.0])  # noqa: E731
    with pytest.raises(ValueError, match="non-negative"):
        scheme_probabilities(bad, candidates, np.full(3, 0.5))


def test_no_candidates_is_an_error():
    with pytest.raises(ValueError, match="no candidates"):
        scheme_probabilities("uniform", [], np.array([]))


@pytest.mark.parametrize("field, value, accepted", [
    ("scheme", "best", "one of"),
    ("p", 0.0, "> 0.0"),
    ("window", 0, "integer >= 1"),
    ("latest_prob", 1.5, "<= 1.0"),
    ("min_games", -1, "integer >= 0"),
    ("p", float("nan"), "finite"),
])
def test_config_errors_name_field_value_and_what_is_accepted(field, value, accepted):
    with pytest.raises(ConfigError) as err:
        SamplingConfig(**{field: value})
    message = str(err.value)
    assert f"sampling.{field}" in message and repr(value) in message and accepted in message


def test_config_mix_shares_must_sum_to_one():
    with pytest.raises(ConfigError, match="sum to 1"):
        SamplingConfig(self_play=0.5, pfsp=0.5, verification=0.5)


def test_pool_members_are_candidates_and_the_evaluators_payoff_table_is_read(tmp_path):
    pool_mod = pytest.importorskip("league.pool")
    from ratings import PayoffTable

    random_spec = {"kind": "random", "n_actions": 3}
    with pool_mod.Pool.create(tmp_path / "pool", game="g", roles=["a"]) as pool:
        for k in range(3):
            pool.add("a", {}, spec=random_spec, hparams={}, step=k)
        # member 2 is strong by rating, but member 0 has beaten the learner (2) in 30 games
        pool.record_match(["s0", "s1"], [2, 1], [1, 2], [(35.0, 1.0), (20.0, 1.0)])
        payoff = PayoffTable()
        for _ in range(30):
            payoff.record([0, 2], [1, 2])
        learner = pool.member(2)
        sampler = OpponentSampler(SamplingConfig(scheme="pfsp_hard", min_games=20), payoff=payoff, seed=0)
        x = win_probabilities(learner, pool.active(), payoff=payoff, min_games=20)
        assert x[0] == 0.0 and x[1] > 0.99 and x[2] == 0.5  # empirical, rating, rating (itself)
        probs = sampler.weigher(learner)(pool.active())
        assert probs == pytest.approx(np.array([1.0, (1 - x[1]) ** 2, 0.25]) / (1.25 + (1 - x[1]) ** 2))
        assert sampler.pick(learner, {"s1": pool.active()[:2]}) == {"s1": 0}
        newest = scheme_probabilities("latest", pool.active(), np.full(3, 0.5))
        assert newest.tolist() == [0.0, 0.0, 1.0]
