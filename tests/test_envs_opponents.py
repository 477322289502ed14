"""Opponent plumbing: the LRU policy cache, fixed and reference sources, the public surface."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import envs
from envs import FixedOpponents, PolicyCache, ReferenceOpponents, SelfPlayVecEnv
from envs.reference import UniformRandomPolicy, sample_from_probs, sample_with_uniforms


@settings(max_examples=200, deadline=None)
@given(maxsize=st.integers(1, 6), ids=st.lists(st.integers(0, 12), max_size=60))
def test_cache_never_exceeds_its_bound_and_keeps_the_most_recent(maxsize, ids):
    cache = PolicyCache(maxsize)
    loads = []

    def load(member_id):
        loads.append(member_id)
        return UniformRandomPolicy(3)

    for k, member_id in enumerate(ids):
        policy = cache.get(member_id, load)
        assert cache.get(member_id, load) is policy  # a hit right after is the same object
        assert len(cache) <= maxsize
        recent = list(dict.fromkeys(reversed(ids[:k + 1])))[:maxsize]
        assert set(cache.keys()) == set(recent)
    assert cache.misses == len(loads)


def test_cache_bound_holds_inside_a_vectorized_env_with_many_members():
    game = envs.make("tictactoe")
    loaded = []

    class Many:
        def pick(self, seats, rng):
            return {s: int(rng.integers(20)) for s in seats}

        def load(self, member_id):
            loaded.append(member_id)
            return UniformRandomPolicy(9)

    vec = SelfPlayVecEnv(game, "player_1", Many(), 16, seed=0, cache_size=3)
    obs, info = vec.reset()
    rng = np.random.default_rng(0)
    for _ in range(100):
        obs, _, _, _, info = vec.step(np.array([rng.choice(np.flatnonzero(m)) for m in info["action_mask"]]))
        assert len(vec.cache) <= 3
    assert len(set(loaded)) == 20 and vec.cache.misses == len(loaded)


def test_bad_cache_size_is_a_config_error():
    with pytest.raises(envs.GameConfigError):
        PolicyCache(0)


def test_fixed_opponents_name_policies_and_resolve_ids():
    game = envs.make("kuhn_poker", num_players=4)
    rnd = UniformRandomPolicy(2)
    source = FixedOpponents({"player_1": rnd, "player_2": "random", "player_3": 7},
                            loader=lambda m: game.reference(m) if m == "random" else rnd)
    picked = source.pick(["player_1", "player_2", "player_3"], np.random.default_rng(0))
    assert picked == {"player_1": "fixed:player_1", "player_2": "random", "player_3": 7}
    assert source.load("fixed:player_1") is rnd
    with pytest.raises(envs.GameConfigError, match="player_0"):
        source.pick(["player_0"], np.random.default_rng(0))
    with pytest.raises(envs.GameConfigError, match="loader"):
        FixedOpponents({"player_1": 3})


def test_reference_opponents_reject_unknown_names_listing_the_valid_ones():
    game = envs.make("connect_four")
    with pytest.raises(envs.GameConfigError, match=r"\['minimax', 'random'\]"):
        ReferenceOpponents(game, "alphazero")
    source = ReferenceOpponents(game, "minimax")
    assert source.pick(["player_1"], np.random.default_rng(0)) == {"player_1": "minimax"}


def test_sampling_never_returns_zero_probability_actions():
    probs = np.array([[0.5, 0.5, 0.0], [0.0, 1.0, 0.0], [0.2, 0.0, 0.8]])
    for u in (0.0, 0.5, np.nextafter(1.0, 0.0)):
        actions = sample_with_uniforms(probs, np.full(3, u))
        assert (probs[np.arange(3), actions] > 0).all()
    counts = np.bincount(sample_from_probs(np.tile([0.1, 0.0, 0.6, 0.3], (20000, 1)),
                                           np.random.default_rng(1)), minlength=4) / 20000
    np.testing.assert_allclose(counts, [0.1, 0.0, 0.6, 0.3], atol=0.015)


def test_public_names_are_exported_and_exist():
    for name in envs.__all__:
        assert hasattr(envs, name), name
    public = {n for n in vars(envs) if not n.startswith("_")} - {
        "errors", "game", "opponents", "reference", "registry", "selfplay", "games", "engine", "match", "derive",
        "spaces"}
    assert public <= set(envs.__all__) | {"annotations"}


def test_envs_imports_nothing_from_league():
    import subprocess
    import sys
    code = ("import sys, envs; [envs.make(n) for n in envs.games()]; "
            "print(sorted(m for m in sys.modules if m == 'league' or m.startswith('league.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
