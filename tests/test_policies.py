import numpy as np
import pytest
import torch

from league.errors import SpecError, WeightsShapeError
from league.models import (build_network, build_policy, expected_shapes, load_network, mlp_spec,
                             sample_from_probs)


def test_rebuilt_network_computes_the_same_outputs():
    spec = mlp_spec(18, 9, (32, 16))
    net = build_network(spec)
    again = load_network(spec, {k: v.clone() for k, v in net.state_dict().items()})
    x = torch.randn(5, 18)
    for a, b in zip(net(x), again(x)):
        assert torch.equal(a, b)


def test_wrong_shape_weights_are_rejected_with_the_parameter_named():
    spec = mlp_spec(18, 9)
    weights = build_network(mlp_spec(18, 7)).state_dict()
    with pytest.raises(WeightsShapeError, match="actor.4.weight"):
        load_network(spec, weights)


@pytest.mark.parametrize("spec", [{"kind": "cnn"}, {"kind": "mlp", "obs_dim": 0, "n_actions": 2},
                                  {"kind": "mlp", "obs_dim": 3, "n_actions": 2, "activation": "gelu"}, "mlp"])
def test_bad_specs_raise_spec_error(spec):
    with pytest.raises(SpecError):
        expected_shapes(spec)


@pytest.mark.parametrize("spec", [mlp_spec(6, 4), {"kind": "random", "n_actions": 4}])
def test_policies_never_pick_masked_actions(spec):
    policy = build_policy(spec, build_network(spec).state_dict() if spec["kind"] == "mlp" else None)
    rng = np.random.default_rng(0)
    mask = rng.random((500, 4)) < 0.4
    mask[np.arange(500), rng.integers(0, 4, 500)] = True  # at least one legal action per row
    actions = policy.act(rng.standard_normal((500, 6)).astype(np.float32), mask, rng)
    assert mask[np.arange(500), actions].all()


def test_inverse_cdf_sampling_matches_probabilities():
    probs = np.tile([0.1, 0.0, 0.6, 0.3], (20000, 1))
    counts = np.bincount(sample_from_probs(probs, np.random.default_rng(1)), minlength=4) / 20000
    assert counts[1] == 0
    np.testing.assert_allclose(counts, probs[0], atol=0.015)


def test_network_policy_probs_are_a_masked_distribution():
    spec = mlp_spec(6, 4)
    policy = build_policy(spec, build_network(spec).state_dict())
    mask = np.array([[True, False, True, False], [False, False, False, True]])
    p = policy.probs(np.random.default_rng(0).standard_normal((2, 6)).astype(np.float32), mask)
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    assert (p[~mask] == 0).all() and (p[mask] > 0).all()
