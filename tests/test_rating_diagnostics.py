"""What the HTML report computes from a match log: calibration of first-place predictions, mean
returns with intervals, the role pairs of the payoff panels, and training curves from metrics.csv."""

import io
import math

import numpy as np
import pytest
from PIL import Image

from league.orchestration.figures import eval_curves, payoff_panel_png, payoff_role_pairs
from ratings import PayoffTable, Rating, TrueSkillSystem, first_place_probability
from ratings.calibration import (calibration, ece_interval, first_place_observed, predict_first_place, prequential_first_place,
                                 reliability)
from ratings.returns import mean_returns


def test_a_shared_first_place_is_split():
    np.testing.assert_allclose(first_place_observed([1, 1, 3]), [0.5, 0.5, 0.0])
    np.testing.assert_allclose(first_place_observed([2, 1]), [0.0, 1.0])


def test_calibrated_predictions_have_a_small_ece_and_miscalibrated_ones_do_not():
    rng = np.random.default_rng(0)
    pred = rng.random(20_000)
    good = calibration(pred, (rng.random(20_000) < pred).astype(float), seats=2)
    bad = calibration(pred, (rng.random(20_000) < pred ** 3).astype(float), seats=2)
    assert good.ece < 0.02 < 0.15 < bad.ece
    assert good.brier < good.brier_constant and good.n == 20_000
    points = reliability(pred, (rng.random(20_000) < pred).astype(float))
    assert len(points.count) == 10 and points.count.sum() == 20_000
    np.testing.assert_allclose(points.observed, points.predicted, atol=0.03)


def test_the_ece_interval_narrows_with_more_matches_and_flags_a_biased_predictor():
    rng = np.random.default_rng(4)

    def sample(n):
        p = rng.uniform(0.05, 0.95, n)
        won = (rng.random(n) < p).astype(float)  # calibrated: the true ECE is 0
        return np.stack([p, 1 - p], 1).ravel(), np.stack([won, 1 - won], 1).ravel()

    small, large = ece_interval(*sample(300), 2), ece_interval(*sample(5000), 2)
    assert 0.0 <= small[0] < small[1] and 0.0 <= large[0] < large[1]
    assert large[1] - large[0] < (small[1] - small[0]) / 2
    assert large[1] < 0.05  # 5000 calibrated matches: the interval sits near 0
    p, won = sample(2000)
    off = ece_interval(np.clip(p + 0.15, 0, 1), won, 2)  # every prediction 0.15 too high
    assert off[0] > 0.1
    with pytest.raises(ValueError, match="whole matches"):
        ece_interval(p[:3], won[:3], 2)


def test_fixed_ratings_predict_as_first_place_probability():
    ratings = {1: Rating(30, 1), 2: Rating(25, 1), 3: Rating(20, 2)}
    matches = [{"member_ids": [1, 2, 3], "ranks": [1, 2, 3]}, {"member_ids": [3, 1], "ranks": [1, 2]}]
    pred, obs = predict_first_place(matches, ratings, beta=4.0)
    expected = np.concatenate([first_place_probability([ratings[1], ratings[2], ratings[3]], 4.0),
                               first_place_probability([ratings[3], ratings[1]], 4.0)])
    np.testing.assert_allclose(pred, expected)
    np.testing.assert_allclose(obs, [1, 0, 0, 1, 0])


def test_prequential_predictions_come_from_the_matches_before():
    system = TrueSkillSystem(mu=25, sigma=25 / 3, beta=25 / 6, draw_probability=0.0)
    matches = [{"member_ids": [1, 2], "ranks": [1, 2]}] * 3
    pred, obs = prequential_first_place(matches, system)
    np.testing.assert_allclose(pred[:2], [0.5, 0.5])  # nobody has played yet
    assert 0.5 < pred[2] < pred[4] and pred[2] + pred[3] == pytest.approx(1.0)
    np.testing.assert_allclose(obs, [1, 0] * 3)


def test_mean_returns_are_per_episode_over_matches_with_the_ratio_interval():
    log = [{"member_ids": [1, 2], "returns": [3.0, -3.0], "episodes": 2, "kind": "eval"},
           {"member_ids": [1, 3], "returns": [1.0, -1.0], "episodes": 2, "kind": "eval"},
           {"member_ids": [1, 2], "returns": [5.0, -5.0], "episodes": 4, "kind": "eval"},
           {"member_ids": [2, 2], "returns": [1.0, -1.0], "episodes": 1, "kind": "eval"},  # a mirror: not the league
           {"member_ids": [1, 3], "returns": None, "episodes": 1, "kind": "eval"},  # logged without returns
           {"member_ids": [1, 3], "returns": [100.0, -100.0], "episodes": 1, "kind": "other"}]
    out = mean_returns(log, kinds=["eval"])
    r, e = np.array([3.0, 1.0, 5.0]), np.array([2.0, 2.0, 4.0])
    mean = r.sum() / e.sum()
    se = math.sqrt(((r - mean * e) ** 2).sum() / (3 * 2)) / e.mean()
    assert out[1].mean == pytest.approx(9 / 8) and out[1].matches == 3 and out[1].episodes == 8
    assert out[1].half_width == pytest.approx(1.96 * se)
    assert out[2].matches == 2 and out[2].mean == pytest.approx(-8 / 6)
    assert out[3].matches == 1 and math.isnan(out[3].half_width)
    assert mean_returns(log)[3].mean == pytest.approx(-101 / 3)


class _M:
    def __init__(self, id, role, version, anchor=False):
        self.id, self.role, self.version, self.anchor = id, role, version, anchor


def test_payoff_panels_pair_the_roles_that_meet_and_never_met_is_not_a_draw():
    members = [_M(0, "x", 0, True), _M(1, "x", 1), _M(2, "o", 0, True), _M(3, "o", 1)]
    payoff = PayoffTable()
    payoff.record([0, 2], [1, 2])
    payoff.record([1, 2], [1, 1])
    assert payoff_role_pairs(members, payoff, ["x", "o"]) == [("x", "o")]
    payoff.record([0, 1], [1, 2])  # two members of x meet: an x-against-x panel, first
    assert payoff_role_pairs(members, payoff, ["x", "o"]) == [("x", "x"), ("x", "o")]

    rows, cols = members[:2], members[2:]
    never = payoff_panel_png(rows, cols, payoff, "x", "o")  # 0 and 1 never met 3
    drawn = PayoffTable.from_matches([])
    for ids, ranks in (([0, 2], [1, 2]), ([1, 2], [1, 1]), ([0, 3], [1, 1]), ([1, 3], [1, 1])):
        drawn.record(ids, ranks)
    with_draws = payoff_panel_png(rows, cols, drawn, "x", "o")
    a, b = (np.asarray(Image.open(io.BytesIO(png)).convert("RGB")) for png in (never, with_draws))
    assert a.shape == b.shape and (a != b).any()
    # The hatch's grey is in the never-met picture only.
    grey = lambda img: ((img == [0x80, 0x80, 0x80]).all(axis=2)).sum()  # noqa: E731
    assert grey(a) > 50 and grey(b) < grey(a) / 10


HEADER = "turn,phase,role,step,eval_step,eval_win_rate,eval_mean_return"


def test_eval_curves_sum_the_turns_steps_without_a_global_step(tmp_path):
    path = tmp_path / "metrics.csv"
    path.write_text("\n".join([HEADER, "0,bootstrap,a,512,,,", "0,bootstrap,a,1024,1024,0.5,0.1",
                               "0,bootstrap,a,2048,1024,0.5,0.1",  # the last evaluation repeated
                               "1,bootstrap,b,1024,1024,0.4,-0.2", "2,training,a,512,512,0.7,0.3"]) + "\n")
    curves, label = eval_curves(path)
    assert "summed over turns" in label
    np.testing.assert_array_equal(curves["a"].step, [1024, 2048 + 1024 + 512])
    np.testing.assert_array_equal(curves["a"].turn, [0, 2])
    np.testing.assert_allclose(curves["a"].win_rate, [0.5, 0.7])
    np.testing.assert_array_equal(curves["b"].step, [2048 + 1024])


def test_eval_curves_use_the_global_step_when_the_file_has_one(tmp_path):
    path = tmp_path / "metrics.csv"
    path.write_text("\n".join([HEADER + ",global_step", "0,bootstrap,a,1024,1024,0.5,0.1,1024",
                               "1,training,b,512,512,0.4,-0.2,5512"]) + "\n")
    curves, label = eval_curves(path)
    assert label == "global learner step"
    np.testing.assert_array_equal(curves["b"].step, [5512])
