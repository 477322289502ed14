"""Self-play env behaviour: seating, masks, outcomes, autoreset, seeds, single vs vectorized."""

from __future__ import annotations

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import envs
from envs import FixedOpponents, ReferenceOpponents, SelfPlayEnv, SelfPlayVecEnv


class Scripted:
    """An NPC that plays a fixed list of moves (ignores its observations)."""

    def __init__(self, moves):
        self.moves = list(moves)
        self.k = 0

    def act(self, obs, mask, rng):
        out = np.array(self.moves[self.k:self.k + len(obs)])
        self.k += len(obs)
        return out


class Recording:
    """Wraps a policy and records every (obs, mask, action) it saw and chose."""

    def __init__(self, inner):
        self.inner = inner
        self.seen = []

    def act(self, obs, mask, rng):
        actions = self.inner.act(obs, mask, rng)
        self.seen.append((obs.copy(), None if mask is None else mask.copy(), actions.copy()))
        return actions


class Mixed:
    """A source that picks each seat among a few reference names with the given generator."""

    def __init__(self, game, names):
        self.game = game
        self.names = names

    def pick(self, seats, rng):
        return {s: self.names[int(rng.integers(len(self.names)))] for s in seats}

    def load(self, member_id):
        return self.game.reference(member_id)


def learner_action(obs, mask):
    """A deterministic learner: a legal action chosen from a hash of the observation."""
    legal = np.flatnonzero(mask)
    return int(legal[int(obs.sum() * 7 + obs[: len(obs) // 2].sum() * 3) % len(legal)])


@pytest.mark.parametrize("name", ["tictactoe", "connect_four"])
@pytest.mark.parametrize("seat_index", [0, 1])
def test_check_env_passes(name, seat_index):
    game = envs.make(name)
    check_env(SelfPlayEnv(game, game.seats[seat_index], ReferenceOpponents(game)), skip_render_check=True)


def test_scripted_tictactoe_win_pays_the_learner_and_ranks_it_first():
    game = envs.make("tictactoe")
    env = SelfPlayEnv(game, "player_1", FixedOpponents({"player_2": Scripted([3, 4])}))
    env.reset(seed=0)
    rewards = []
    for a in (0, 1, 2):
        obs, r, term, trunc, info = env.step(a)
        rewards.append(r)
    assert rewards == [0.0, 0.0, 1.0] and term and not trunc
    out = info["outcome"]
    assert out.ranks == {"player_1": 1, "player_2": 2}
    assert out.returns == {"player_1": 1.0, "player_2": -1.0}
    assert out.seating == {"player_1": "learner", "player_2": "fixed:player_2"}
    assert out.length == 3 and out.illegal is None


def test_scripted_tictactoe_loss_as_second_player():
    game = envs.make("tictactoe")
    env = SelfPlayEnv(game, "player_2", FixedOpponents({"player_1": Scripted([0, 1, 2])}))
    obs, info = env.reset(seed=0)
    assert obs.reshape(9, 2)[0, 1] == 1  # the NPC's first mark is in the opponent plane
    env.step(3)
    obs, r, term, _, info = env.step(4)
    assert r == -1.0 and term
    assert info["outcome"].ranks == {"player_1": 1, "player_2": 2}


def _connect_four_draw():
    """A legal move order that fills the board without four in a row (column pairs alternate)."""
    def colour(row, col):  # row from the bottom; 0 = player_0
        return ((col // 2) + row) % 2
    heights = [0] * 7
    moves = []

    def dfs(turn):
        if len(moves) == 42:
            return True
        for c in range(7):
            if heights[c] < 6 and colour(heights[c], c) == turn:
                heights[c] += 1
                moves.append(c)
                if dfs(1 - turn):
                    return True
                moves.pop()
                heights[c] -= 1
        return False

    assert dfs(0)
    return moves


def test_scripted_connect_four_draw_ties_both_seats():
    moves = _connect_four_draw()
    game = envs.make("connect_four")
    env = SelfPlayEnv(game, "player_0", FixedOpponents({"player_1": Scripted(moves[1::2])}))
    env.reset(seed=0)
    for k, a in enumerate(moves[0::2]):
        obs, r, term, trunc, info = env.step(a)
        assert r == 0.0
        assert term == (k == 20)
    out = info["outcome"]
    assert out.ranks == {"player_0": 1, "player_1": 1} and out.length == 21


def test_scripted_connect_four_vertical_win():
    game = envs.make("connect_four")
    env = SelfPlayEnv(game, "player_1", FixedOpponents({"player_0": Scripted([0, 0, 0, 0])}))
    env.reset(seed=0)
    for a in (1, 2):
        _, r, term, _, _ = env.step(a)
        assert not term and r == 0
    _, r, term, _, info = env.step(1)  # player_0 then drops its fourth piece in column 0
    assert term and r == -1.0 and info["outcome"].ranks == {"player_0": 1, "player_1": 2}


def test_illegal_learner_action_loses_and_ends_the_episode():
    game = envs.make("tictactoe")
    env = SelfPlayEnv(game, "player_2", FixedOpponents({"player_1": Scripted([4])}))
    obs, info = env.reset(seed=0)
    assert not info["action_mask"][4]
    obs, r, term, trunc, info = env.step(4)
    assert (r, term, trunc) == (-1.0, True, False)
    out = info["outcome"]
    assert out.illegal == "player_2" and out.ranks == {"player_1": 1, "player_2": 2}


@pytest.mark.parametrize("name", ["tictactoe", "connect_four"])
def test_npcs_never_take_masked_actions(name):
    game = envs.make(name)
    spy = Recording(game.reference("random"))
    vec = SelfPlayVecEnv(game, game.seats[0], FixedOpponents({game.seats[1]: spy}), 16, seed=3)
    obs, info = vec.reset()
    rng = np.random.default_rng(0)
    for _ in range(200):
        mask = info["action_mask"]
        actions = np.array([rng.choice(np.flatnonzero(m)) for m in mask])
        obs, _, _, _, info = vec.step(actions)
    n = 0
    for _, mask, actions in spy.seen:
        assert mask[np.arange(len(actions)), actions].all()
        n += len(actions)
    assert n > 1000


def test_forced_seating_is_what_plays_and_partial_mappings_are_filled():
    game = envs.make("tictactoe")
    a, b = Recording(game.reference("random")), Recording(game.reference("minimax"))
    loads = []

    class Source:
        def pick(self, seats, rng):
            return dict.fromkeys(seats, "a")

        def load(self, member_id):
            loads.append(member_id)
            return {"a": a, "b": b}[member_id]

    env = SelfPlayEnv(game, "player_2", Source())
    env.reset(seed=1, options={"opponents": {"player_1": "b"}})
    assert env.seating == {"player_1": "b"} and len(b.seen) == 1 and not a.seen
    done = False
    while not done:
        _, _, done, _, info = env.step(int(np.flatnonzero(env.action_masks())[0]))
    assert info["outcome"].seating["player_1"] == "b" and not a.seen
    env.reset()  # no options: back to the source
    assert env.seating == {"player_1": "a"} and len(a.seen) == 1
    env.reset(options={"opponents": {}})
    assert env.seating == {"player_1": "a"}
    with pytest.raises(envs.GameConfigError, match="player_2"):
        env.reset(options={"opponents": {"player_2": "b"}})


def test_opponents_do_not_change_within_an_episode_and_redraw_each_episode():
    game = envs.make("connect_four", depth=1)
    vec = SelfPlayVecEnv(game, "player_0", Mixed(game, ["random", "minimax"]), 8, seed=5)
    obs, info = vec.reset()
    seatings = [vec.seating(i) for i in range(8)]
    seen = set()
    rng = np.random.default_rng(1)
    for _ in range(300):
        actions = [rng.choice(np.flatnonzero(m)) for m in info["action_mask"]]
        obs, _, term, trunc, info = vec.step(np.array(actions))
        ended = {i for i, _ in info["outcomes"]}
        for i, out in info["outcomes"]:
            assert out.seating["player_1"] == seatings[i]["player_1"]  # same member all episode
        for i in range(8):
            if i in ended:
                seatings[i] = vec.seating(i)
                seen.add(seatings[i]["player_1"])
            else:
                assert vec.seating(i) == seatings[i]
    assert seen == {"random", "minimax"}


def test_rollout_redraw_keeps_opponents_until_new_rollout():
    game = envs.make("tictactoe")
    vec = SelfPlayVecEnv(game, "player_1", Mixed(game, ["random", "minimax"]), 4, seed=2,
                         redraw="rollout")
    obs, info = vec.reset()
    first = [vec.seating(i) for i in range(4)]
    rng = np.random.default_rng(0)
    for _ in range(100):
        obs, _, _, _, info = vec.step(np.array([rng.choice(np.flatnonzero(m)) for m in info["action_mask"]]))
        assert [vec.seating(i) for i in range(4)] == first
    vec.new_rollout()
    picks = set()
    for _ in range(100):
        obs, _, _, _, info = vec.step(np.array([rng.choice(np.flatnonzero(m)) for m in info["action_mask"]]))
        picks.update(vec.seating(i)["player_2"] for i in range(4))
    assert picks == {"random", "minimax"}


def _single_trajectory(game, seat, source_fn, seed, steps):
    env = SelfPlayEnv(game, seat, source_fn())
    obs, info = env.reset(seed=seed)
    out = []
    for _ in range(steps):
        obs2, r, term, trunc, info2 = env.step(learner_action(obs, info["action_mask"]))
        out.append((obs2 if not (term or trunc) else None, r, term, trunc))
        if term or trunc:
            out[-1] = (info2["outcome"].returns, r, term, trunc)
            obs, info = env.reset()
            out.append(obs)
        else:
            obs, info = obs2, info2
    return out


@pytest.mark.parametrize("name,seat", [("tictactoe", "player_2"), ("connect_four", "player_0")])
def test_vectorized_env_reproduces_the_single_env_for_the_same_seeds(name, seat):
    game = envs.make(name, depth=1) if name == "connect_four" else envs.make(name)
    source = lambda: Mixed(game, ["random", "minimax"])  # noqa: E731
    n, seed, steps = 4, 11, 60
    vec = SelfPlayVecEnv(game, seat, source(), n, seed=seed)
    obs, info = vec.reset()
    traj = [[] for _ in range(n)]
    for _ in range(steps):
        actions = [learner_action(obs[i], info["action_mask"][i]) for i in range(n)]
        obs2, r, term, trunc, info = vec.step(np.array(actions))
        outcomes = dict(info["outcomes"])
        for i in range(n):
            if term[i] or trunc[i]:
                traj[i].append((outcomes[i].returns, r[i], term[i], trunc[i]))
                traj[i].append(obs2[i])
            else:
                traj[i].append((obs2[i], r[i], term[i], trunc[i]))
        obs = obs2
    for i in range(n):
        single = _single_trajectory(game, seat, source, seed + i, steps)
        flat_vec = traj[i]
        assert len(single) == len(flat_vec)
        for a, b in zip(single, flat_vec):
            if isinstance(a, np.ndarray):
                np.testing.assert_array_equal(a, b)
            else:
                assert a[1:] == b[1:]
                if isinstance(a[0], dict):
                    assert a[0] == b[0]
                else:
                    np.testing.assert_array_equal(a[0], b[0])


@pytest.mark.parametrize("name", ["tictactoe", "connect_four"])
def test_same_seed_same_trajectories(name):
    game = envs.make(name)

    def run():
        vec = SelfPlayVecEnv(game, game.seats[0], ReferenceOpponents(game), 6, seed=9)
        obs, info = vec.reset()
        rows = [obs]
        for _ in range(50):
            obs, r, term, trunc, info = vec.step(np.array([learner_action(o, m) for o, m in
                                                           zip(obs, info["action_mask"])]))
            rows += [obs, r, term]
        return rows

    for a, b in zip(run(), run()):
        np.testing.assert_array_equal(a, b)


def test_vectorized_autoreset_returns_first_obs_and_final_obs():
    game = envs.make("tictactoe")
    vec = SelfPlayVecEnv(game, "player_1", FixedOpponents({"player_2": Scripted([3, 4] * 100)}), 1, seed=0)
    obs, info = vec.reset()
    for a in (0, 1):
        obs, r, term, _, info = vec.step(np.array([a]))
    obs, r, term, trunc, info = vec.step(np.array([2]))
    assert term[0] and r[0] == 1.0 and not trunc[0]
    assert obs[0].sum() == 0 and info["action_mask"][0].all()  # a fresh board: learner moves first
    np.testing.assert_array_equal(info["final_obs"], obs)  # terminated: nothing to bootstrap from
    assert [i for i, _ in info["outcomes"]] == [0]


def test_vectorized_final_obs_of_a_truncated_episode_is_its_last_observation():
    game = envs.make("rps", max_cycles=2)
    vec = SelfPlayVecEnv(game, "player_0", FixedOpponents({"player_1": Scripted([2, 1, 0, 0])}), 1, seed=0)
    vec.reset()
    vec.step(np.array([0]))
    obs, r, term, trunc, info = vec.step(np.array([0]))
    assert trunc[0] and not term[0]
    np.testing.assert_array_equal(info["final_obs"][0], [0, 1, 0, 0])  # the opponent's last move: paper
    np.testing.assert_array_equal(obs[0], [0, 0, 0, 1])  # the next episode: no move seen yet


def test_batched_inference_makes_one_call_per_member_per_round():
    game = envs.make("tictactoe")
    calls = {}

    class Counting:
        def __init__(self, name):
            self.name, self.inner = name, game.reference("random")

        def act(self, obs, mask, rng):
            calls.setdefault(self.name, []).append(len(obs))
            return self.inner.act(obs, mask, rng)

    members = {m: Counting(m) for m in ("m0", "m1", "m2")}

    class Source:
        def pick(self, seats, rng):
            return {s: f"m{int(rng.integers(3))}" for s in seats}

        def load(self, member_id):
            return members[member_id]

    vec = SelfPlayVecEnv(game, "player_1", Source(), 30, seed=0)
    obs, info = vec.reset()
    calls.clear()
    obs, *_ = vec.step(np.zeros(30, dtype=int))  # first moves: no game can end, every NPC replies
    assert sorted(calls) == ["m0", "m1", "m2"]
    assert all(len(sizes) == 1 for sizes in calls.values())
    assert sum(sizes[0] for sizes in calls.values()) == 30


def test_out_of_range_learner_action_loses_in_a_parallel_game():
    game = envs.make("rps")
    vec = SelfPlayVecEnv(game, "player_1", ReferenceOpponents(game), 2, seed=0)
    vec.reset()
    obs, r, term, trunc, info = vec.step(np.array([7, 0]))
    assert term.tolist() == [True, False] and r[0] == -1.0
    (i, out), = info["outcomes"]
    assert i == 0 and out.illegal == "player_1" and out.ranks == {"player_0": 1, "player_1": 2}
    np.testing.assert_array_equal(obs[0], [0, 0, 0, 1])  # already the next episode


def test_act_only_policies_are_reproducible_for_a_seed():
    game = envs.make("connect_four")

    def run():
        spies = {m: Recording(game.reference("random")) for m in ("a", "b")}  # act() only, no probs()

        class Source:
            def pick(self, seats, rng):
                return {s: "ab"[int(rng.integers(2))] for s in seats}

            def load(self, member_id):
                return spies[member_id]

        vec = SelfPlayVecEnv(game, "player_0", Source(), 8, seed=21)
        obs, info = vec.reset()
        rows = []
        for _ in range(80):
            actions = [learner_action(o, m) for o, m in zip(obs, info["action_mask"])]
            obs, r, term, _, info = vec.step(np.array(actions))
            rows += [obs, r, term]
        return rows

    for a, b in zip(run(), run()):
        np.testing.assert_array_equal(a, b)


def test_learner_id_and_numpy_member_ids_appear_as_plain_values_in_outcomes():
    game = envs.make("tictactoe")

    class NumpyIds:
        def pick(self, seats, rng):
            return {s: np.int64(3) for s in seats}

        def load(self, member_id):
            return game.reference("random")

    env = SelfPlayEnv(game, "player_1", NumpyIds(), learner_id=7)
    obs, info = env.reset(seed=0)
    done = False
    while not done:
        obs, _, done, _, info = env.step(int(np.flatnonzero(info["action_mask"])[0]))
    seating = info["outcome"].seating
    assert seating == {"player_1": 7, "player_2": 3} and type(seating["player_2"]) is int


def test_an_npc_choosing_a_masked_action_is_an_error():
    game = envs.make("tictactoe")
    env = SelfPlayEnv(game, "player_2", FixedOpponents({"player_1": Scripted([4, 4])}))
    env.reset(seed=0)
    with pytest.raises(envs.IllegalActionError, match="masked action 4"):
        env.step(0)


def test_roles_can_be_shared_between_seats():
    game = envs.make("tictactoe", roles={"player_1": "ttt", "player_2": "ttt"})
    assert dict(game.roles) == {"player_1": "ttt", "player_2": "ttt"}
    assert dict(envs.make("connect_four").roles) == {"player_0": "player_0", "player_1": "player_1"}
    with pytest.raises(envs.GameConfigError, match="player_9"):
        envs.make("tictactoe", roles={"player_9": "x"})
