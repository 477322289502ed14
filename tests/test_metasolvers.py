"""Meta-solvers over the empirical payoff table: games with known answers, a Kuhn poker meta-game
built from CFR iterates, OpenSpiel's alpha-Rank as a golden reference, and Hypothesis properties
(weights are distributions; the zero-sum value is the LP value; duplicating a member changes
nothing).

The duplicate property tested, precisely: with ``merge_duplicates`` (default), after inserting a
copy of one member (equal payoff slices in every role's tensor), the copies' summed weight and
every other member's weight equal the weights of the table without the copy (to 1e-9), the
copies get equal shares, and the game value is unchanged.  Without merging, the game value is
still unchanged and the solution still an equilibrium of the original table.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from league.errors import ConfigError, UnknownNameError
from league.population.empirical_game import (
    expected_payoffs,
    fill_missing,
    nash_conv,
    payoff_table,
)
from league.population.metasolvers import (
    METASOLVERS,
    MetaSolverConfig,
    metasolver_names,
    population_scheme,
    solve,
)
from league.population.sampling import CandidateInfo, OpponentSampler, scheme_probabilities

RPS = np.array([[0.0, -1.0, 1.0], [1.0, 0.0, -1.0], [-1.0, 1.0, 0.0]])
PENNIES = np.array([[1.0, -1.0], [-1.0, 1.0]])


def _lp_value(a: np.ndarray) -> float:
    """The value of zero-sum matrix game ``a`` by the textbook LP, independent of the module:
    shift ``a`` positive, minimize sum(u) s.t. a^T u >= 1, u >= 0; value = 1 / sum(u) - shift."""
    shift = 1.0 - a.min()
    b = a + shift
    res = linprog(np.ones(a.shape[0]), A_ub=-b.T, b_ub=-np.ones(a.shape[1]), method="highs")
    assert res.status == 0
    return 1.0 / res.x.sum() - shift


def _value(a: np.ndarray, weights: list[np.ndarray]) -> float:
    return float(weights[0] @ a @ weights[1])


# ------------------------------------------------------------------------- known answers

def test_rock_paper_scissors_is_uniform() -> None:
    x, y = solve([RPS, -RPS])
    assert x == pytest.approx([1 / 3] * 3, abs=1e-9)
    assert y == pytest.approx([1 / 3] * 3, abs=1e-9)


def test_matching_pennies_is_one_half_each() -> None:
    out = solve({"even": PENNIES, "odd": -PENNIES})
    assert list(out) == ["even", "odd"]
    assert out["even"] == pytest.approx([0.5, 0.5], abs=1e-9)
    assert out["odd"] == pytest.approx([0.5, 0.5], abs=1e-9)


def test_win_rate_tables_count_as_constant_sum() -> None:
    # Scores in [0, 1] (win 1, draw 1/2): payoffs[1] = 1 - payoffs[0], solved exactly.
    score = (RPS + 1.0) / 2.0
    x, y = solve([score, 1.0 - score])
    assert x == pytest.approx([1 / 3] * 3, abs=1e-9) and y == pytest.approx([1 / 3] * 3, abs=1e-9)


def test_a_strictly_dominated_member_gets_weight_zero() -> None:
    # A fourth row that is rock, half a point worse against everything.
    a = np.vstack([RPS, RPS[0] - 0.5])
    x, y = solve([a, -a])
    assert x[3] == 0.0
    assert x[:3] == pytest.approx([1 / 3] * 3, abs=1e-9)
    assert y == pytest.approx([1 / 3] * 3, abs=1e-9)
    # The approximate solvers put (almost) nothing there either.
    assert solve([a, -a], "prd")[0][3] < 0.01
    assert solve([a, -2.0 * a], "nash")[0][3] < 0.01  # not constant-sum: regret matching


def test_biased_rock_paper_scissors_has_its_known_equilibrium() -> None:
    # Rock beating scissors pays 2: the equilibrium is (1/4, 1/2, 1/4), value 0.
    a = np.array([[0.0, -1.0, 2.0], [1.0, 0.0, -1.0], [-2.0, 1.0, 0.0]])
    x, y = solve([a, -a])
    assert x == pytest.approx([0.25, 0.5, 0.25], abs=1e-9)
    assert y == pytest.approx([0.25, 0.5, 0.25], abs=1e-9)
    assert _value(a, [x, y]) == pytest.approx(0.0, abs=1e-9)


def test_an_asymmetric_two_by_two_game_has_its_known_equilibrium() -> None:
    # Row mixes 3/7 on its first member, column 2/7; value 1/7.
    a = np.array([[3.0, -1.0], [-2.0, 1.0]])
    x, y = solve([a, -a])
    assert x == pytest.approx([3 / 7, 4 / 7], abs=1e-9)
    assert y == pytest.approx([2 / 7, 5 / 7], abs=1e-9)
    assert _value(a, [x, y]) == pytest.approx(1 / 7, abs=1e-9)


def test_equally_good_members_share_the_weight() -> None:
    # Every entry equal: every mixture is an equilibrium; the tie-break spreads the weight.
    a = np.zeros((2, 3))
    x, y = solve([a, -a], config=MetaSolverConfig(merge_duplicates=False))
    assert x == pytest.approx([0.5, 0.5], abs=1e-12)
    assert y == pytest.approx([1 / 3] * 3, abs=1e-12)
    # Rows 0 and 1 tie (the equilibria share 1/2 between them any way): neither gets it all.
    a = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    x, _ = solve([a, -a], config=MetaSolverConfig(merge_duplicates=False))
    assert x[2] == pytest.approx(0.5, abs=1e-9) and max(x[0], x[1]) <= 0.5 + 1e-9


def test_one_role_puts_equal_weight_on_its_best_members() -> None:
    (w,) = solve([np.array([1.0, 3.0, 3.0, 2.0])], config=MetaSolverConfig(merge_duplicates=False))
    assert w == pytest.approx([0.0, 0.5, 0.5, 0.0])


def test_regret_matching_approaches_the_exact_answer_when_not_constant_sum() -> None:
    # Role 1's payoffs doubled: strategically the same game, but not constant-sum any more.
    x, y = solve([PENNIES, -2.0 * PENNIES])
    assert x == pytest.approx([0.5, 0.5], abs=0.02) and y == pytest.approx([0.5, 0.5], abs=0.02)
    d = np.array([[3.0, 0.0], [5.0, 1.0]])  # prisoner's dilemma: defect (member 1) dominates
    x, y = solve([d, d.T])
    assert x[1] > 0.99 and y[1] > 0.99


def test_three_roles_with_dominant_members_find_the_pure_equilibrium() -> None:
    rng = np.random.default_rng(0)
    payoffs = [rng.normal(size=(3, 4, 2)) for _ in range(3)]
    best = (2, 0, 1)
    for r, b in enumerate(best):  # member b of role r beats its others by 1 everywhere
        index = [slice(None)] * 3
        index[r] = b
        payoffs[r][tuple(index)] = np.max(payoffs[r], axis=r) + 1.0
    weights = solve(payoffs, config=MetaSolverConfig(iterations=2000))
    for r, b in enumerate(best):
        assert weights[r][b] > 0.99
    assert nash_conv(payoffs, weights) < 0.05


def test_prd_on_rps_approaches_uniform_and_keeps_its_floor() -> None:
    x, y = solve([RPS, -RPS], "prd")
    assert x == pytest.approx([1 / 3] * 3, abs=0.02)
    a = np.vstack([RPS, RPS[0] - 0.5])
    x, _ = solve([a, -a], "prd", MetaSolverConfig(prd_gamma=0.05))
    assert x[3] >= 0.05 - 1e-12


def test_alpharank_matches_openspiel() -> None:
    alpharank_ref = pytest.importorskip("open_spiel.python.egt.alpharank")
    rng = np.random.default_rng(3)
    payoffs = [rng.uniform(-1, 1, size=(3, 4)), rng.uniform(-1, 1, size=(3, 4))]
    config = MetaSolverConfig(solver="alpharank", alpha=5.0, population_size=20)
    ours = solve(payoffs, config=config)
    _, _, pi, _, _ = alpharank_ref.compute(payoffs, m=20, alpha=5.0)
    joint = np.asarray(pi).reshape(3, 4)  # OpenSpiel numbers profiles row-major, like us
    assert ours[0] == pytest.approx(joint.sum(axis=1), abs=1e-8)
    assert ours[1] == pytest.approx(joint.sum(axis=0), abs=1e-8)


# ------------------------------------------------------------------- Kuhn poker, CFR iterates

def test_kuhn_nash_mixture_of_cfr_iterates_is_less_exploitable_than_every_member() -> None:
    pyspiel = pytest.importorskip("pyspiel")
    from open_spiel.python.algorithms import (cfr, expected_game_score, exploitability,
                                              policy_aggregator)

    game = pyspiel.load_game("kuhn_poker")
    solver = cfr.CFRSolver(game)
    members = []  # CFR's current policy after 1, 2, 4, ..., 64 iterations
    for it in range(1, 65):
        solver.evaluate_and_update_policy()
        if it & (it - 1) == 0:
            members.append(solver.current_policy().__copy__())
    n = len(members)
    root = game.new_initial_state()
    table = np.array([[expected_game_score.policy_value(root, [members[i], members[j]])
                       for j in range(n)] for i in range(n)])  # (n, n, 2)
    payoffs = [table[:, :, 0], table[:, :, 1]]
    assert np.abs(payoffs[0] + payoffs[1]).max() < 1e-12
    weights = solve(payoffs)
    assert nash_conv(payoffs, weights) < 1e-9

    def mixture(w: list[np.ndarray]):
        # A mixed strategy over behaviour policies, as one behaviour policy (reach-weighted).
        return policy_aggregator.PolicyAggregator(game).aggregate(
            [0, 1], [members, members], [list(w[0]), list(w[1])])

    mixed = mixture(weights)
    # The conversion is right: against each pure opponent member the mixture earns the
    # weighted payoff of its members.
    for j in range(n):
        vs_j = expected_game_score.policy_value(root, [mixed, members[j]])[0]
        assert vs_j == pytest.approx(weights[0] @ payoffs[0][:, j], abs=1e-9)
    member_expl = [exploitability.exploitability(game, m) for m in members]
    mixed_expl = exploitability.exploitability(game, mixed)
    uniform_expl = exploitability.exploitability(game, mixture(solve(payoffs, "uniform")))
    assert mixed_expl < min(member_expl)
    assert mixed_expl < uniform_expl
    assert mixed_expl < 1e-6  # these iterates span an equilibrium of Kuhn poker (value -1/18)
    assert expected_payoffs(payoffs, weights)[0] == pytest.approx(-1 / 18, abs=1e-9)


# -------------------------------------------------------------------- properties (Hypothesis)

# Multiples of 0.01: ties and exact copies are common, and equal means equal (no near-copies
# within the merge tolerance).
entries = st.integers(-1000, 1000).map(lambda k: k / 100.0)


@st.composite
def matrices(draw: st.DrawFn, max_side: int = 6) -> np.ndarray:
    m, n = draw(st.integers(1, max_side)), draw(st.integers(1, max_side))
    values = draw(st.lists(entries, min_size=m * n, max_size=m * n))
    return np.array(values, dtype=float).reshape(m, n)


@st.composite
def tensors(draw: st.DrawFn) -> list[np.ndarray]:
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=2, max_size=3)))
    size = int(np.prod(shape))
    return [np.array(draw(st.lists(entries, min_size=size, max_size=size))).reshape(shape)
            for _ in shape]


FAST = MetaSolverConfig(iterations=300)


@settings(max_examples=40, deadline=None)
@given(payoffs=tensors(), solver=st.sampled_from(sorted(METASOLVERS)))
def test_weights_are_distributions(payoffs: list[np.ndarray], solver: str) -> None:
    weights = solve(payoffs, solver, FAST)
    assert len(weights) == len(payoffs)
    for w, n in zip(weights, payoffs[0].shape):
        assert w.shape == (n,)
        assert np.all(w >= 0.0)
        assert w.sum() == pytest.approx(1.0, abs=1e-12)
    again = solve(payoffs, solver, FAST)  # deterministic
    assert all(np.array_equal(w, v) for w, v in zip(weights, again))


@settings(max_examples=60, deadline=None)
@given(a=matrices())
def test_zero_sum_nash_value_is_the_lp_value_and_no_one_gains_by_deviating(a: np.ndarray) -> None:
    x, y = solve([a, -a])
    scale = max(1.0, float(np.abs(a).max()))
    value = _lp_value(a)
    assert _value(a, [x, y]) == pytest.approx(value, abs=1e-5 * scale)
    assert (x @ a).min() >= value - 1e-5 * scale  # x guarantees the value against any column
    assert (a @ y).max() <= value + 1e-5 * scale  # y concedes no more than it


def _class_sums(a: np.ndarray, role: int, weights: np.ndarray) -> dict[bytes, float]:
    """Summed weight per class of strategically identical members of ``role`` (equal slices)."""
    sums: dict[bytes, float] = {}
    for i, w in enumerate(weights):
        key = np.take(a, i, axis=role).tobytes()
        sums[key] = sums.get(key, 0.0) + float(w)
    return sums


@settings(max_examples=60, deadline=None)
@given(a=matrices(), data=st.data())
def test_duplicating_a_member_changes_nothing(a: np.ndarray, data: st.DataObject) -> None:
    role = data.draw(st.integers(0, 1))
    member = data.draw(st.integers(0, a.shape[role] - 1))
    where = data.draw(st.integers(0, a.shape[role]))
    copy = np.take(a, [member], axis=role)
    b = np.concatenate([np.take(a, range(where), axis=role), copy,
                        np.take(a, range(where, a.shape[role]), axis=role)], axis=role)
    original = solve([a, -a])
    duplicated = solve([b, -b])
    before, after = _class_sums(a, role, original[role]), _class_sums(b, role, duplicated[role])
    assert before.keys() == after.keys()
    for key in before:
        assert after[key] == pytest.approx(before[key], abs=1e-9)
    source = member + (member >= where)  # the original's index in b
    assert duplicated[role][where] == pytest.approx(duplicated[role][source], abs=1e-12)
    assert duplicated[1 - role] == pytest.approx(original[1 - role], abs=1e-9)
    # Without merging: the same value, and still an equilibrium of the original table.
    scale = max(1.0, float(np.abs(a).max()))
    plain = solve([b, -b], config=MetaSolverConfig(merge_duplicates=False))
    assert _value(b, plain) == pytest.approx(_value(a, original), abs=1e-5 * scale)
    folded = np.delete(plain[role], where)
    folded[source - (source > where)] += plain[role][where]
    restored = [folded, plain[1]] if role == 0 else [plain[0], folded]
    assert nash_conv([a, -a], restored) <= 1e-5 * scale


# ------------------------------------------------------------------ missing entries, the table

def test_payoff_table_averages_samples_and_marks_unplayed_seatings() -> None:
    samples = [({"x": 0, "o": 1}, {"x": 1.0, "o": -1.0}),
               ({"x": 0, "o": 1}, {"x": 0.0, "o": 0.0}),
               ({"x": 1, "o": 0}, {"x": -1.0, "o": 1.0, "extra": 9.0})]
    table = payoff_table(samples, ["x", "o"], sizes={"x": 2, "o": 3})
    assert table.counts.tolist() == [[0, 2, 0], [1, 0, 0]]
    assert table.payoffs["x"][0, 1] == 0.5 and table.payoffs["o"][1, 0] == 1.0
    assert np.isnan(table.payoffs["x"][0, 0]) and np.isnan(table.payoffs["o"][1, 2])
    assert payoff_table(samples, ["x", "o"]).counts.shape == (2, 2)
    with pytest.raises(ValueError, match="roles"):
        payoff_table([({"x": 0}, {"x": 1.0})], ["x", "o"])
    with pytest.raises(ValueError, match="outside"):
        payoff_table(samples, ["x", "o"], sizes=[1, 3])


def test_fill_missing_keeps_a_constant_sum_table_constant_sum() -> None:
    a = np.array([[0.7, np.nan, 0.2], [0.4, 0.5, np.nan], [np.nan, 0.9, 0.1]])
    filled0, filled1 = fill_missing(a), fill_missing(1.0 - a)
    assert np.all(np.isfinite(filled0))
    assert filled0 + filled1 == pytest.approx(np.ones((3, 3)), abs=1e-12)
    observed = ~np.isnan(a)
    assert np.array_equal(filled0[observed], a[observed])
    # Row 1 scored above average, column 2 conceded least: the estimate follows both.
    g = np.nanmean(a)
    expected = g + (np.nanmean(a[1]) - g) + (np.nanmean(a[:, 2]) - g)
    assert filled0[1, 2] == pytest.approx(expected)
    assert np.array_equal(fill_missing(np.full((2, 2), np.nan)), np.zeros((2, 2)))


def test_solve_fills_missing_entries_before_solving() -> None:
    a = RPS.copy()
    a[0, 0] = np.nan
    weights = solve([a, -a])  # still constant-sum after filling: exact branch
    assert all(np.all(w >= 0) and w.sum() == pytest.approx(1.0) for w in weights)
    full = fill_missing(a)
    assert nash_conv([full, -full], weights) < 1e-9


# ------------------------------------------------------------------- registry, errors, scheme

def test_unknown_solver_names_the_valid_ones() -> None:
    with pytest.raises(UnknownNameError, match="alpharank.*nash.*prd.*uniform"):
        solve([RPS, -RPS], "fictitious")
    with pytest.raises(ConfigError, match="metasolver.solver"):
        MetaSolverConfig(solver="fictitious")
    with pytest.raises(ConfigError, match="metasolver.prd_gamma"):
        MetaSolverConfig(prd_gamma=2.0)
    with pytest.raises(ConfigError, match="metasolver.population_size"):
        MetaSolverConfig(population_size=1)
    assert metasolver_names() == ["alpharank", "nash", "prd", "uniform"]


def test_a_callable_solver_is_accepted_and_its_output_checked() -> None:
    first = solve([RPS, -RPS], lambda p, c: [np.eye(3)[0], np.eye(3)[2]])
    assert first[0].tolist() == [1.0, 0.0, 0.0] and first[1].tolist() == [0.0, 0.0, 1.0]
    with pytest.raises(ValueError, match="non-negative"):
        solve([RPS, -RPS], lambda p, c: [np.array([1.0, -1.0, 1.0])] * 2)
    with pytest.raises(ValueError, match="one of shape|one per role"):
        solve([RPS, -RPS[:2]])


def test_population_scheme_draws_opponents_by_the_population_policy() -> None:
    candidates = [CandidateInfo(id=k) for k in (4, 7, 9)]
    scheme = population_scheme({4: 0.5, 9: 1.5, 12: 3.0})  # 12 is not a candidate here
    probs = scheme_probabilities(scheme, candidates, np.full(3, 0.5))
    assert probs == pytest.approx([0.25, 0.0, 0.75])
    sampler = OpponentSampler(scheme=scheme, seed=0)
    picks = [sampler.pick(CandidateInfo(id=1), {"o": candidates})["o"] for _ in range(200)]
    assert set(picks) == {4, 9}
    nobody = population_scheme({})(candidates, np.full(3, 0.5), None)
    assert nobody == pytest.approx([1 / 3] * 3)
