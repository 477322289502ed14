"""``league.load_policy`` on a finished tiny run: the member it loads acts as it does inside the env."""

import re

import numpy as np
import pytest

import envs
import league
from league.pool import Pool
from league.population.opponents import MemberLoader

# finished_run: the session's tiny run (tests/conftest.py).


def _trajectories(opponent, seeds):
    """Every episode's observations in the learner seat, the learner acting from its own seeded rng."""
    game = envs.make("tictactoe")
    env = envs.SelfPlayEnv(game, "player_1", envs.FixedOpponents({"player_2": opponent}))
    runs = []
    for seed in seeds:
        rng = np.random.default_rng(1000 + seed)
        obs, info = env.reset(seed=seed)
        seen, done = [obs], False
        while not done:
            legal = np.flatnonzero(info["action_mask"])
            obs, _, term, trunc, info = env.step(int(rng.choice(legal)))
            seen.append(obs)
            done = term or trunc
        runs.append(np.stack(seen))
    return runs


def test_loaded_member_plays_the_same_moves_as_in_the_env(finished_run):
    with Pool.open(finished_run / "pool") as pool:
        member = max(pool.active("player_2"), key=lambda m: m.conservative)
        inside = MemberLoader(pool)(member.id)
    loaded = league.load_policy(finished_run, "best:player_2")
    assert loaded.member.id == member.id and not member.anchor
    seeds = range(12)
    a, b = _trajectories(inside, seeds), _trajectories(loaded, seeds)
    assert all(x.shape == y.shape and np.array_equal(x, y) for x, y in zip(a, b))
    # the opponent's moves are the differences between the learner's observations (plane 1)
    assert sum(len(x) for x in a) > 3 * len(a)


def test_predict_single_and_batched_match_the_member(finished_run):
    loaded = league.load_policy(finished_run / "pool", 3, seed=7)
    with Pool.open(finished_run / "pool") as pool:
        inside = MemberLoader(pool)(3)
    rng = np.random.default_rng(0)
    obs = (rng.random((16, 18)) < 0.3).astype(np.float32)
    mask = rng.random((16, 9)) < 0.6
    mask[:, 4] = True
    probs = inside.probs(obs, mask)
    # batched, deterministic: the most likely legal action of each row
    assert np.array_equal(loaded.predict(obs, mask, deterministic=True), probs.argmax(axis=1))
    # sampled with the policy's seed: the draws the member makes with that generator
    expected = envs.sample_from_probs(probs, np.random.default_rng(7))
    assert np.array_equal(loaded.predict(obs, mask), expected)
    # one observation in, one int out, never a masked action
    single = loaded.predict(obs[0], mask[0])
    assert isinstance(single, int) and mask[0, single]
    assert isinstance(loaded.predict(obs[0], mask[0], deterministic=True), int)


def test_population_draws_members_by_their_weights(finished_run):
    with Pool.open(finished_run / "pool") as pool:
        mix = pool.state["population"]["player_1"]
    ids = {int(k) for k, w in mix.items() if w > 0}
    policy = league.load_policy(finished_run, "population:player_1", seed=3)
    drawn = {policy.reset().member.id for _ in range(40)}
    assert drawn <= ids and drawn
    # the draws are the seed's: two policies seeded alike pick the same members
    first, second = (league.load_policy(finished_run, "population:player_1", seed=3) for _ in range(2))
    assert [first.reset().member.id for _ in range(10)] == [second.reset().member.id for _ in range(10)]

@pytest.mark.parametrize("who, message", [
    ("best:nobody", "no role 'nobody'"),
    ("population:nobody", "no role 'nobody'"),
    (99, "no member 99"),
    ("champion", "expected an id, 'best:<role>' or 'population:<role>'"),
])
def test_bad_names_are_one_line_errors(finished_run, who, message):
    with pytest.raises(league.LeagueError, match=re.escape(message)) as err:
        league.load_policy(finished_run, who)
    assert "\n" not in str(err.value)


def test_a_pool_without_a_population_says_so(tmp_path):
    with Pool.create(tmp_path / "p", game="tictactoe", roles=["player_1", "player_2"]) as pool:
        pool.add("player_1", {}, spec={"kind": "random", "n_actions": 9}, hparams={}, step=0,
                 anchor=True)
    with pytest.raises(league.UnknownMemberError, match="no population policy for role 'player_1'"):
        league.load_policy(tmp_path / "p", "population:player_1")
    # the pool was only read: still no run state
    with Pool.open(tmp_path / "p") as pool:
        assert pool.state == {}
