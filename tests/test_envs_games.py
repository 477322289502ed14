"""The game registry: every game passes the standard checks; rules, outcomes and references."""

from __future__ import annotations

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from pettingzoo.test import api_test

import envs
from envs import FixedOpponents, ReferenceOpponents, SelfPlayEnv, SelfPlayVecEnv
from envs.games import kuhn_poker, simple_tag

ALL_GAMES = ["connect_four", "kuhn_poker", "rps", "simple_tag", "texas_holdem", "tictactoe"]


def test_registry_lists_every_game():
    assert envs.games() == ALL_GAMES


def test_unknown_game_names_the_valid_ones():
    with pytest.raises(envs.UnknownGameError) as info:
        envs.make("chess")
    assert isinstance(info.value, KeyError)
    assert str(info.value) == f"unknown game 'chess'; valid games: {', '.join(ALL_GAMES)}"


@pytest.mark.parametrize("kwargs", [{"num_players": 1}, {"num_players": "4"}, {"players": 4}])
def test_bad_game_kwargs_raise_config_errors(kwargs):
    with pytest.raises(envs.GameConfigError) as info:
        envs.make("texas_holdem", **kwargs)
    assert isinstance(info.value, ValueError)
    assert "num_players" in str(info.value)


def test_unknown_seat_lists_the_seats():
    game = envs.make("tictactoe")
    with pytest.raises(envs.GameConfigError, match="player_1"):
        SelfPlayEnv(game, "player_0", ReferenceOpponents(game))


@pytest.mark.parametrize("name,kwargs", [(n, {}) for n in ALL_GAMES] + [("kuhn_poker", {"num_players": 4}),
                                                                        ("texas_holdem", {"num_players": 2})])
def test_check_env_passes_on_every_seat(name, kwargs):
    game = envs.make(name, **kwargs)
    for seat in game.seats:
        env = SelfPlayEnv(game, seat, ReferenceOpponents(game))
        check_env(env, skip_render_check=True)
        assert env.observation_space.shape == (game.obs_dim(seat),)


@pytest.mark.parametrize("num_players", [2, 4])
def test_kuhn_poker_passes_pettingzoo_api_test(num_players):
    api_test(kuhn_poker.env(num_players=num_players), num_cycles=300)


@pytest.mark.parametrize("num_players", [2, 3, 4])
def test_kuhn_poker_matches_openspiel(num_players):
    pyspiel = pytest.importorskip("pyspiel")
    spiel_game = pyspiel.load_game("kuhn_poker", {"players": num_players})
    env = kuhn_poker.raw_env(num_players)
    rng = np.random.default_rng(num_players)
    for episode in range(200):
        env.reset(seed=episode)
        state = spiel_game.new_initial_state()
        for card in env._cards:  # deal OpenSpiel the same cards, player 0 first
            state.apply_action(int(card))
        while not state.is_terminal():
            agent = env.agent_selection
            p = env.possible_agents.index(agent)
            assert p == state.current_player()
            for q, other in enumerate(env.possible_agents):
                np.testing.assert_array_equal(env.observe(other)["observation"],
                                              state.information_state_tensor(q))
            action = int(rng.integers(2))
            env.step(action)
            state.apply_action(action)
        assert all(env.terminations.values())
        assert [env._cumulative_rewards[a] for a in env.possible_agents] == state.returns()


def test_kuhn_poker_scripted_hand():
    env = kuhn_poker.raw_env(3)
    env.reset(seed=0)
    env._cards = np.array([3, 1, 2])
    for action in (0, 1, 1):  # player_0 passes, player_1 bets, player_2 calls
        env.step(action)
    assert not env.terminations["player_0"]
    env.step(0)  # player_0 folds: player_2's 2 beats player_1's 1
    assert env._cumulative_rewards == {"player_0": -1.0, "player_1": -2.0, "player_2": 3.0}


def test_rps_scripted_outcome_ranks_by_wins():
    game = envs.make("rps", max_cycles=3)
    env = SelfPlayEnv(game, "player_0", FixedOpponents({"player_1": _Script([0] * 6)}))  # always rock
    obs, _ = env.reset(seed=0)
    np.testing.assert_array_equal(obs, [0, 0, 0, 1])  # "no move yet", one-hot
    rewards = []
    for a in (1, 0, 2):  # paper wins, rock ties, scissors loses
        obs, r, term, trunc, info = env.step(a)
        rewards.append(r)
    np.testing.assert_array_equal(obs, [1, 0, 0, 0])  # the opponent's last move: rock
    assert rewards == [1.0, 0.0, -1.0] and trunc and not term
    assert info["outcome"].ranks == {"player_0": 1, "player_1": 1}
    env.reset()
    for a in (1, 1, 0):
        *_, info = env.step(a)
    assert info["outcome"].ranks == {"player_0": 1, "player_1": 2}


class _Script:
    def __init__(self, moves):
        self.moves, self.k = list(moves), 0

    def act(self, obs, mask, rng):
        out = np.array(self.moves[self.k:self.k + len(obs)])
        self.k += len(obs)
        return out


def test_simple_tag_outcome_is_decided_by_tags():
    tagged = {"adversary_0": 10.0, "adversary_1": 10.0, "adversary_2": 10.0, "agent_0": -12.5}
    assert simple_tag.tag_outcome(tagged) == {"adversary_0": 1, "adversary_1": 1, "adversary_2": 1,
                                              "agent_0": 2}
    escaped = {"adversary_0": 0.0, "adversary_1": 0.0, "adversary_2": 0.0, "agent_0": -3.0}
    assert simple_tag.tag_outcome(escaped) == {"adversary_0": 2, "adversary_1": 2, "adversary_2": 2,
                                               "agent_0": 1}


def test_simple_tag_declares_two_roles_and_plays_full_episodes():
    game = envs.make("simple_tag")
    assert game.api == "parallel" and not game.symmetric
    assert set(game.roles.values()) == {"adversary", "agent"}
    assert game.roles["agent_0"] == "agent" and game.obs_dim("agent_0") != game.obs_dim("adversary_0")
    vec = SelfPlayVecEnv(game, "adversary_1", ReferenceOpponents(game), 3, seed=0)
    vec.reset()
    for step in range(25):
        _, _, term, trunc, info = vec.step(np.zeros(3, dtype=int))
    assert trunc.all() and not term.any() and len(info["outcomes"]) == 3
    for _, out in info["outcomes"]:
        assert out.length == 25
        assert out.ranks == simple_tag.tag_outcome(out.returns)


def test_texas_holdem_has_four_players_and_ranks_by_chips():
    game = envs.make("texas_holdem")
    assert game.seats == ("player_0", "player_1", "player_2", "player_3")
    vec = SelfPlayVecEnv(game, "player_2", ReferenceOpponents(game), 8, seed=1)
    obs, info = vec.reset()
    rng = np.random.default_rng(0)
    n = 0
    for _ in range(100):
        mask = info["action_mask"]
        obs, _, _, _, info = vec.step(np.array([rng.choice(np.flatnonzero(m)) for m in mask]))
        for _, out in info["outcomes"]:
            n += 1
            assert out.ranks == envs.ranks_from_returns(out.returns)
            assert abs(sum(out.returns.values())) < 1e-9  # chips only change hands
    assert n > 50


def test_learner_rewards_add_up_to_its_return():
    for name in ALL_GAMES:
        game = envs.make(name)
        seat = game.seats[-1]
        vec = SelfPlayVecEnv(game, seat, ReferenceOpponents(game), 4, seed=0)
        obs, info = vec.reset()
        rng = np.random.default_rng(0)
        total = np.zeros(4)
        checked = 0
        for _ in range(60):
            mask = info["action_mask"]
            obs, r, term, trunc, info = vec.step(np.array([rng.choice(np.flatnonzero(m)) for m in mask]))
            total += r
            first = {}
            for i, out in info["outcomes"]:
                first.setdefault(i, out)
            for i in np.flatnonzero(term | trunc):
                assert total[i] == pytest.approx(first[i].returns[seat]), name
                total[i] = 0
                checked += 1
        assert checked > 0, name


def _play(game, learner_ref, opponent_ref, learner_seat, episodes, seed):
    vec = SelfPlayVecEnv(game, learner_seat, FixedOpponents(
        {s: game.reference(opponent_ref) for s in game.seats if s != learner_seat}), episodes, seed=seed)
    policy = game.reference(learner_ref)
    obs, info = vec.reset()
    results = {}
    rng = np.random.default_rng(seed)
    while len(results) < episodes:
        actions = policy.act(obs, info["action_mask"], rng)
        obs, _, _, _, info = vec.step(actions)
        for i, out in info["outcomes"]:
            results.setdefault(i, out.ranks[learner_seat])
    return list(results.values())


def test_tictactoe_minimax_never_loses_to_random():
    game = envs.make("tictactoe")
    ranks = (_play(game, "minimax", "random", "player_1", 150, 0)
             + _play(game, "minimax", "random", "player_2", 150, 1))
    assert all(r == 1 for r in ranks)  # wins or draws (a draw ranks both seats 1)


def test_tictactoe_minimax_draws_itself():
    game = envs.make("tictactoe")
    minimax = game.reference("minimax")
    env = SelfPlayEnv(game, "player_1", FixedOpponents({"player_2": game.reference("minimax")}))
    rng = np.random.default_rng(0)
    for seed in range(10):
        obs, info = env.reset(seed=seed)
        done = False
        while not done:
            obs, r, done, _, info = env.step(int(minimax.act(obs[None], info["action_mask"][None], rng)[0]))
        assert info["outcome"].ranks == {"player_1": 1, "player_2": 1}


def test_connect_four_minimax_beats_random_almost_always():
    game = envs.make("connect_four")  # the default depth
    ranks = (_play(game, "minimax", "random", "player_0", 25, 0)
             + _play(game, "minimax", "random", "player_1", 25, 1))
    assert sum(r == 1 for r in ranks) >= 48


def test_connect_four_minimax_takes_a_win_and_blocks_a_threat():
    minimax = envs.make("connect_four").reference("minimax")
    board = np.zeros((6, 7, 2), np.float32)
    board[5, 0:3, 0] = 1  # mine: bottom row, columns 0-2
    board[5, 4:6, 1] = 1  # theirs
    board[4, 4, 1] = 1
    mask = np.ones((1, 7), bool)
    assert minimax.probs(board.reshape(1, -1), mask)[0, 3] == 1.0  # completes four
    board = np.zeros((6, 7, 2), np.float32)
    board[5:2:-1, 6, 1] = 1  # theirs: three stacked in column 6
    board[5, 0:2, 0] = 1
    board[4, 0, 0] = 1
    assert minimax.probs(board.reshape(1, -1), mask)[0, 6] == 1.0  # the only move that doesn't lose


class _FoldOrCheck:
    """Hold'em NPC: folds whenever it may, else checks (3) or calls (0)."""

    def probs(self, obs, mask):
        out = np.zeros(mask.shape)
        for b, m in enumerate(mask):
            out[b, 2 if m[2] else 3 if m[3] else 0] = 1.0
        return out

    def act(self, obs, mask, rng):
        return self.probs(obs, mask).argmax(axis=1)


def test_holdem_deals_without_a_learner_decision_are_reported_and_redealt():
    game = envs.make("texas_holdem")
    env = SelfPlayEnv(game, "player_0", FixedOpponents({s: _FoldOrCheck() for s in game.seats[1:]}))
    skipped = 0
    for seed in range(40):
        obs, info = env.reset(seed=seed)
        assert info["action_mask"].any()  # the learner really is to act
        for out in info.get("outcomes", []):
            skipped += 1
            assert out.length == 0 and out.returns["player_0"] > 0  # everyone folded to it
            assert out.ranks["player_0"] == 1
    assert skipped > 0


@pytest.mark.parametrize("name", ["tictactoe", "connect_four"])
def test_fast_board_reads_encode_exactly_like_pettingzoo_observe(name):
    from envs.game import dict_obs_encoder
    game = envs.make(name)
    env = game.new_env()
    rng = np.random.default_rng(0)
    checked = 0
    for episode in range(30):
        env.reset(seed=episode)
        while not any(env.terminations.values()):
            seat = env.agent_selection
            for who in game.seats:
                want_obs, fast_obs = (np.zeros(game.obs_dim(who), np.float32) for _ in range(2))
                want_mask, fast_mask = (np.zeros(game.n_actions(who), bool) for _ in range(2))
                dict_obs_encoder(env.observe(who), want_obs, want_mask)
                game.encoder(game.observe(env, who), fast_obs, fast_mask)
                np.testing.assert_array_equal(fast_obs, want_obs)
                if who == seat:  # PettingZoo masks are all-zero for the seat not to move
                    np.testing.assert_array_equal(fast_mask, want_mask)
                checked += 1
            env.step(int(rng.choice(np.flatnonzero(env.observe(seat)["action_mask"]))))
    assert checked > 300
