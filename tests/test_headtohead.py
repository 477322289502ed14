"""Paired head-to-head play and the inversion check (``league.evaluation.headtohead``)."""

from __future__ import annotations

import numpy as np
import pytest

import envs
from league.evaluation.headtohead import PairedReturns, inversions, mean_interval, paired_returns


class Bettor:
    """Kuhn: always bet / call (beats uniform random by ~0.37 chips a hand)."""

    def probs(self, obs, mask):
        p = np.zeros(mask.shape, dtype=np.float32)
        p[:, -1] = 1.0
        return p

    def act(self, obs, mask, rng):
        return np.full(len(obs), mask.shape[1] - 1)


def loader(game):
    policies = {0: Bettor(), 1: game.reference("random"), 2: game.reference("random"), 3: game.reference("random")}
    return policies.__getitem__


def test_members_are_paired_on_the_same_deals_and_opponents():
    game = envs.make("kuhn_poker")
    paired = paired_returns(game, {"player_0": [0, 1, 3], "player_1": [2]}, loader(game), episodes=400, seed=5,
                            roles=["player_0"])
    (p,) = paired
    assert p.role == "player_0" and p.seat == "player_0" and set(p.returns) == {0, 1, 3}
    # Two copies of the same policy, same deals, same opponents, same per-match randomness: the
    # same returns episode by episode -- the pairing removes everything but the policy.
    assert np.array_equal(p.returns[1], p.returns[3])
    mean, half = mean_interval(p.returns[0] - p.returns[1])
    assert mean - half > 0.1        # the bettor is clearly better than random
    # A leaderboard that puts random above the bettor is inverted; the true order is not.
    assert [(i.ranked_higher, i.ranked_lower) for i in inversions(paired, {0: 1.0, 1: 2.0, 3: 0.0})] == [(1, 0)]
    assert inversions(paired, {0: 2.0, 1: 1.0, 3: 0.0}) == []


def test_differences_inside_the_noise_are_not_inversions():
    rng = np.random.default_rng(0)
    base = rng.normal(0, 1, 500)
    paired = [PairedReturns("r", "s", {1: base + 0.01 + rng.normal(0, 0.5, 500), 2: base})]
    assert inversions(paired, {1: 0.0, 2: 1.0}, z=2.5) == []
    far = [PairedReturns("r", "s", {1: base + 0.5 + rng.normal(0, 0.5, 500), 2: base})]
    (inv,) = inversions(far, {1: 0.0, 2: 1.0}, z=2.5)
    assert inv.ranked_higher == 2 and inv.mean_difference == pytest.approx(-0.5, abs=0.1)
    assert inv.standard_error == pytest.approx(0.5 / np.sqrt(500), rel=0.2)


@pytest.fixture(scope="module")
def small_holdem_league(tmp_path_factory):
    """A small real run (2-player hold'em, bootstrap + 1 rotation) and its paired head-to-head."""
    import subprocess
    import sys
    from pathlib import Path

    from league.pool import Pool
    from league.population.opponents import MemberLoader

    repo = Path(__file__).resolve().parents[1]
    out = tmp_path_factory.mktemp("h2h") / "run"
    subprocess.run([sys.executable, "-m", "league.run", "--out", str(out), "--quiet", "rotations=1",
                    "game.kwargs={num_players=2}", "bootstrap.max_steps=4096", "training.max_steps=8192"],
                   cwd=repo, check=True, timeout=600)
    game = envs.make("texas_holdem", num_players=2)
    with Pool.open(out / "pool", mode="r") as pool:
        active = {role: [m.id for m in pool.active(role)] for role in pool.roles}
        assert all(len(ids) >= 3 for ids in active.values())   # the anchor and two trained members
        assert all(m.episodes == 8 and m.returns is not None for m in pool.matches())
        members = pool.members()
        paired = paired_returns(game, active, MemberLoader(pool), episodes=1500, seed=11)
    return members, paired, out


@pytest.mark.slow
def test_a_small_holdem_leagues_ratings_agree_with_paired_head_to_head(small_holdem_league):
    # The check on a small real run: within every role, no pair ordered by rating
    # opposite to its paired mean chips per hand by more than 2.5 standard errors.  By mu: the
    # conservative rating is the known gap below.
    members, paired, _ = small_holdem_league
    assert inversions(paired, {m.id: m.mu for m in members}, z=2.5) == []


@pytest.mark.slow
def test_the_conservative_rating_agrees_with_paired_head_to_head_too(small_holdem_league):
    # Before placement matches (evaluation.placement) the member added in the last turn got 90
    # evaluation games to the older members' 378, its sigma stayed twice as wide, and mu - 3 sigma
    # ranked it below an older, weaker member: one inversion on this very run.
    members, paired, _ = small_holdem_league
    assert inversions(paired, {m.id: m.mu - 3 * m.sigma for m in members}, z=2.5) == []
    trained = [m for m in members if not m.anchor]
    assert max(m.sigma for m in trained) < 1.6 * min(m.sigma for m in trained)


@pytest.mark.slow
def test_the_leaderboard_command_checks_its_order_against_paired_play(small_holdem_league, capsys):
    # `leaderboard --head-to-head` is the same check for any user's pool: the same paired play
    # (the game and its settings from the run's config.toml), the means as columns, the
    # inversions on stderr.
    import json

    from league.leaderboard import main

    members, paired, out = small_holdem_league
    assert main([str(out / "pool"), "--head-to-head", "1500", "--seed", "11", "-f", "json"]) == 0
    captured = capsys.readouterr()
    rows = {r["id"]: r for r in json.loads(captured.out)["rows"]}
    want = {m: v for p in paired for m, v in p.returns.items()}
    assert set(want) <= set(rows) and len(want) >= 6
    for m, v in want.items():
        assert rows[m]["h2h_return"] == pytest.approx(v.mean())
        assert rows[m]["h2h_95"] == pytest.approx(1.96 * v.std(ddof=1) / np.sqrt(len(v)))
    pairs = sum(len(p.returns) * (len(p.returns) - 1) // 2 for p in paired)
    assert f"head-to-head, 1500 paired episodes: 0 of {pairs} pairs inverted" in captured.err
