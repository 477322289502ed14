"""The population policy (metagame measurement + meta-solver) and the learner's carry-over rules,
on real games and through the real CLI."""

import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest

import envs
from envs.reference import UniformRandomPolicy
from league.errors import ConfigError
from league.pool import Pool
from league.population.metagame import (PopulationConfig, measure_seatings, population_policy,
                                        seatings_to_measure)

RPS = np.array([[0.0, -1.0, 1.0], [1.0, 0.0, -1.0], [-1.0, 1.0, 0.0]])


def _members(ids):
    return [SimpleNamespace(id=i) for i in ids]


def _tally(matrix, ids0, ids1, episodes=10):
    return {f"{a},{b}": [episodes, episodes * matrix[i, j], -episodes * matrix[i, j]]
            for i, a in enumerate(ids0) for j, b in enumerate(ids1)}


def test_population_policy_is_the_nash_of_the_measured_table():
    members = {"p0": _members([1, 2, 3]), "p1": _members([4, 5, 6])}
    mix = population_policy(members, _tally(RPS, [1, 2, 3], [4, 5, 6]), PopulationConfig(solver="nash"))
    for role in members:
        assert sum(mix[role].values()) == pytest.approx(1.0)
        assert all(w == pytest.approx(1 / 3, abs=1e-6) for w in mix[role].values())
    # A dominated member (always loses) gets no weight; uniform ignores the table.
    dominated = np.array([[0.0, 1.0], [-1.0, -1.0]])
    members = {"p0": _members([1, 2]), "p1": _members([3, 4])}
    mix = population_policy(members, _tally(dominated, [1, 2], [3, 4]), PopulationConfig(solver="nash"))
    assert mix["p0"]["2"] == pytest.approx(0.0, abs=1e-9) and mix["p0"]["1"] == pytest.approx(1.0)
    flat = population_policy(members, _tally(dominated, [1, 2], [3, 4]), PopulationConfig(solver="uniform"))
    assert flat["p0"] == {"1": 0.5, "2": 0.5}


def test_population_policy_ignores_retired_members_and_is_uniform_before_any_measurement():
    members = {"p0": _members([1, 2]), "p1": _members([4])}
    tally = _tally(np.array([[1.0], [0.0], [5.0]]), [1, 2, 9], [4])  # member 9 is no longer active
    mix = population_policy(members, tally, PopulationConfig(solver="nash"))
    assert set(mix["p0"]) == {"1", "2"} and mix["p0"]["1"] == pytest.approx(1.0)
    assert population_policy(members, {}, PopulationConfig()) == {"p0": {"1": 0.5, "2": 0.5}, "p1": {"4": 1.0}}


def test_seatings_to_measure_puts_the_newest_members_first_and_respects_the_limit():
    members = {"p0": _members([0, 2, 5]), "p1": _members([1, 3])}
    todo = seatings_to_measure(members, {"0,1": [1, 0, 0]}, limit=100)
    assert len(todo) == 5 and (0, 1) not in todo
    assert todo[0] == (5, 3) and set(todo[:2]) == {(5, 3), (5, 1)}
    assert seatings_to_measure(members, {}, limit=2) == todo[:2]
    assert seatings_to_measure(members, {}, limit=0) == []


def test_measure_seatings_repeats_the_deals_and_sums_zero_sum_returns():
    game = envs.make("kuhn_poker", num_players=2)
    policies = {7: UniformRandomPolicy(2), 8: UniformRandomPolicy(2)}
    roles = [game.roles[s] for s in game.seats]
    first = measure_seatings(game, roles, [(7, 8)], policies.__getitem__, episodes=300, seed=3)
    again = measure_seatings(game, roles, [(7, 8)], policies.__getitem__, episodes=300, seed=3)
    other = measure_seatings(game, roles, [(7, 8)], policies.__getitem__, episodes=300, seed=4)
    assert first == again and first != other
    episodes, r0, r1 = first["7,8"]
    assert episodes == 300 and r0 == pytest.approx(-r1)


def test_population_config_rejects_bad_values():
    with pytest.raises(ConfigError, match="population.solver"):
        PopulationConfig(solver="nsah")
    with pytest.raises(ConfigError, match="population.episodes"):
        PopulationConfig(episodes=0)


KUHN_TINY = ["game.name=kuhn_poker", "game.kwargs={num_players = 2}", "rotations=2", "bootstrap.max_steps=2048",
             "training.max_steps=2048", "bootstrap.eval_every=1024", "training.eval_every=1024",
             "bootstrap.eval_episodes=40", "training.eval_episodes=40", "evaluation.budget=16",
             "report.anchor_episodes=40", "ppo.n_envs=8", "population.episodes=64"]


def _run(out, *args):
    proc = subprocess.run([sys.executable, "-m", "league.run", "--out", str(out), *args],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return proc


@pytest.mark.slow
def test_a_psro_run_stores_its_population_policy_and_trains_fresh_best_responses(tmp_path):
    out = tmp_path / "psro"
    _run(out, *KUHN_TINY, "learner.start=fresh", "learner.opponents=population")
    with Pool.open(out / "pool") as pool:
        state = pool.state
        population = state["population"]
        assert set(population) == set(pool.roles)
        for role in pool.roles:
            assert set(population[role]) == {str(m.id) for m in pool.active(role)}
            assert sum(population[role].values()) == pytest.approx(1.0)
            assert all(w >= 0 for w in population[role].values())
        trained = [m for m in pool.members() if not m.anchor]
        assert len(trained) == 2 * 3  # snapshot = last: every turn adds its member
        assert all(m.parent is None for m in trained)  # fresh weights every turn
        # Every seating of the final active population was measured.
        active = [[m.id for m in pool.active(role)] for role in pool.roles]
        assert all(f"{a},{b}" in state["tally"] for a in active[0] for b in active[1])


@pytest.mark.slow
def test_the_learner_continues_from_its_newest_snapshot(tmp_path):
    out = tmp_path / "ttt"
    _run(out, "game.name=tictactoe", *KUHN_TINY[2:])
    with Pool.open(out / "pool") as pool:
        for role in pool.roles:
            trained = sorted((m for m in pool.members(role) if not m.anchor), key=lambda m: m.version)
            assert len(trained) == 3
            for before, after in zip(trained, trained[1:]):
                assert after.parent == before.id
