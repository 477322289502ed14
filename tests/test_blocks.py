"""A rating match is a block of episodes: shared deals, seat rotations, one outcome (``league.evaluation.blocks``)."""

from __future__ import annotations

import numpy as np
import pytest

import envs
from league.errors import ConfigError
from league.evaluation.blocks import BlockPlayer, block_deals, block_rotations
from league.evaluation.evaluator import EvaluationConfig, Evaluator, Seating
from league.evaluation.matches import LocalBackend
from league.pool import Pool
from ratings import TrueSkillSystem, replay_trueskill


class FirstLegal:
    """A deterministic policy: the lowest legal action (kuhn: always pass/check)."""

    name = "first"

    def probs(self, obs, mask):
        p = np.zeros(mask.shape, dtype=np.float32) if mask is not None else np.zeros((len(obs), 2), np.float32)
        idx = np.argmax(mask, axis=1) if mask is not None else np.zeros(len(obs), dtype=int)
        p[np.arange(len(p)), idx] = 1.0
        return p

    def act(self, obs, mask, rng):
        return np.argmax(self.probs(obs, mask), axis=1)


class Bettor(FirstLegal):
    """Always the highest legal action (kuhn: always bet/call)."""

    name = "bettor"

    def probs(self, obs, mask):
        p = np.zeros(mask.shape if mask is not None else (len(obs), 2), dtype=np.float32)
        m = np.ones_like(p, dtype=bool) if mask is None else mask
        idx = m.shape[1] - 1 - np.argmax(m[:, ::-1], axis=1)
        p[np.arange(len(p)), idx] = 1.0
        return p


def test_rotations_move_members_only_among_the_seats_they_share():
    assert block_rotations([0, 0]) == [(0, 1), (1, 0)]
    assert block_rotations([0, 0, 0]) == [(0, 1, 2), (1, 2, 0), (2, 0, 1)]
    assert block_rotations([0, 1, 2, 3]) == [(0, 1, 2, 3)]       # one role per seat: no rotation
    assert block_rotations([0, 1, 0, 1]) == [(0, 1, 2, 3), (2, 3, 0, 1)]


def test_deals_come_from_the_match_seed_alone():
    assert block_deals(7, 4) == block_deals(7, 4)
    assert block_deals(7, 4) != block_deals(8, 4)
    assert len(set(block_deals(7, 50))) == 50
    assert block_deals(None, 3) == [None, None, None]


def test_a_duplicate_block_cancels_the_cards_between_identical_players():
    # The same deterministic policy in both seats: every deal is won by whoever holds the better
    # card, so single hands are pure luck; played from both seats, each member's luck cancels.
    game = envs.make("kuhn_poker")
    backend = LocalBackend(game, lambda m: game.reference(m))
    a, b = Bettor(), Bettor()
    seatings = [{"player_0": "a", "player_1": "b"}]
    player = BlockPlayer(_Named(backend, {"a": a, "b": b}), game.seats, episodes=20, seat_groups=[0, 0])
    out = player([Seating(seatings[0], seed=s) for s in range(5)])
    for o in out:
        assert o.episodes == 40
        assert o.returns["player_0"] == pytest.approx(-o.returns["player_1"])
        assert o.returns["player_0"] == 0.0 and o.ranks == {"player_0": 1, "player_1": 1}
    # Without the rotation the same deals decide single-seat blocks by luck: not all ties.
    lucky = BlockPlayer(_Named(backend, {"a": a, "b": b}), game.seats, episodes=20)
    assert lucky.rotations == [(0, 1)]
    assert any(o.ranks["player_0"] != o.ranks["player_1"] for o in lucky([Seating(seatings[0], seed=s) for s in range(5)]))
    backend.close()


def test_the_better_player_wins_blocks_that_single_hands_leave_to_chance():
    # Always betting beats uniform random in Kuhn by ~0.37 chips a hand, yet one hand from each
    # seat ranks it first in only ~30 % of matches (the rest are ties or losses to the cards);
    # 40 duplicate deals rank it first every time.
    game = envs.make("kuhn_poker")
    backend = LocalBackend(game, lambda m: game.reference(m))
    named = _Named(backend, {"bet": Bettor(), "rnd": game.reference("random")})
    seating = {"player_0": "bet", "player_1": "rnd"}
    won = {}
    for episodes in (1, 40):
        player = BlockPlayer(named, game.seats, episodes=episodes, seat_groups=[0, 0])
        out = player([Seating(seating, seed=s) for s in range(60)])
        won[episodes] = np.mean([o.ranks == {"player_0": 1, "player_1": 2} for o in out])
    assert won[1] < 0.5 and won[40] == 1.0
    # episode_ranks: summed placings, the same verdict here.
    placings = BlockPlayer(named, game.seats, episodes=40, seat_groups=[0, 0], outcome="episode_ranks")
    assert all(o.ranks == {"player_0": 1, "player_1": 2} for o in placings([Seating(seating, seed=s) for s in range(5)]))
    backend.close()


class _Named:
    """An episode backend that seats policy objects by name (ids the engine does not load)."""

    def __init__(self, backend, policies):
        self.backend, self.policies = backend, policies

    def play_episodes(self, seatings, seeds):
        seated = [{s: self.policies[m] for s, m in seating.items()} for seating in seatings]
        results = self.backend.runner.engine.play(zip(seated, seeds))
        # Report the names back in place of the engine's identity ids.
        return results


def test_bad_block_settings_are_errors():
    with pytest.raises(ConfigError, match="evaluation.outcome"):
        EvaluationConfig(outcome="chips")
    with pytest.raises(ConfigError, match="evaluation.episodes_per_match"):
        EvaluationConfig(episodes_per_match=-1)
    with pytest.raises(ValueError, match="episodes must be an integer >= 1"):
        BlockPlayer(None, ("a", "b"), episodes=0)


def test_the_match_log_keeps_each_blocks_returns_and_episodes_and_replays_to_the_ratings(tmp_path):
    game = envs.make("kuhn_poker")
    spec = {"kind": "random", "n_actions": 2}
    with Pool.create(tmp_path / "pool", game="kuhn_poker", roles=["player_0", "player_1"]) as pool:
        for role in ("player_0", "player_1"):
            for _ in range(2):
                pool.add(role, {}, spec=spec, hparams={}, step=0)
        system = TrueSkillSystem(beta=2.0, draw_probability=0.05)
        backend = LocalBackend(game, lambda m: game.reference("random"))
        evaluator = Evaluator.from_pool(pool, game.seats, symmetric=False,
                                        seat_roles={"player_0": "player_0", "player_1": "player_1"},
                                        config=EvaluationConfig(seed=3, budget=12), system=system)
        blocks = BlockPlayer(backend, game.seats, episodes=8, seat_groups=evaluator.seat_groups)
        results = evaluator.run(play_batch=blocks)
        log = pool.matches()
        assert len(log) == 12 and all(m.episodes == 8 for m in log)
        assert all(len(m.returns) == 2 and sum(m.returns) == pytest.approx(0.0) for m in log)
        for m, r in zip(log, results):
            assert m.ranks == tuple(r.ranks[s] for s in game.seats)
            # The returns decide the ranks (zero-sum: ahead, behind, or tied).
            assert (m.ranks[0] < m.ranks[1]) == (m.returns[0] > m.returns[1])
        replayed = replay_trueskill(log, system)
        for member in pool.members():
            assert (member.mu, member.sigma) == pytest.approx(tuple(replayed[member.id]))
        # The log's seed and episode count reproduce every block.
        again = blocks([Seating(dict(zip(m.seats, m.member_ids)), seed=m.seed) for m in log])
        assert [tuple(o.returns[s] for s in game.seats) for o in again] == [m.returns for m in log]
        backend.close()
