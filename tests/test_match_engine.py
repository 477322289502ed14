"""The vectorized match engine: batched play equals one-at-a-time play, and the old sequential path."""

from __future__ import annotations

import numpy as np
import pytest

import envs
from envs import Match, MatchEngine, SelfPlayEnv, SelfPlayVecEnv


class Softmax:
    """A stochastic member with its own preferences: a fixed random linear softmax over legal actions."""

    def __init__(self, n_actions, seed, *, greedy=False):
        self.n_actions, self.seed, self.greedy = n_actions, seed, greedy
        self.w = {}  # per observation length: seats of simple_tag see different lengths

    def probs(self, obs, mask):
        dim = obs.shape[1]
        if dim not in self.w:
            self.w[dim] = np.random.default_rng([self.seed, dim]).normal(size=(dim, self.n_actions)) * 2.0
        logits = obs @ self.w[dim]
        if mask is not None:
            logits = np.where(mask, logits, -np.inf)
        if self.greedy:
            out = np.zeros_like(logits)
            out[np.arange(len(obs)), logits.argmax(1)] = 1.0
            return out
        p = np.exp(logits - logits.max(1, keepdims=True))
        return p / p.sum(1, keepdims=True)

    def act(self, obs, mask, rng):
        return envs.sample_from_probs(self.probs(obs, mask), rng)


class ActOnly:
    """The same member without ``probs``: the engine must call ``act`` with the match's generator."""

    def __init__(self, inner):
        self.inner = inner

    def act(self, obs, mask, rng):
        return self.inner.act(obs, mask, rng)


def loader(game, *, greedy=False, act_only=False, members=4):
    """Member ``k`` (int) is a ``Softmax`` policy; strings name the game's references."""
    seat = game.seats[0]
    policies = {k: Softmax(game.n_actions(seat), k, greedy=greedy) for k in range(members)}

    def load(member_id):
        if isinstance(member_id, str):
            return game.reference(member_id)
        policy = policies[member_id]
        return ActOnly(policy) if act_only else policy

    return load


def random_matches(game, n, seed, *, members=4, refs=True):
    """``n`` matches with members (and sometimes references) drawn per seat, and their seeds."""
    rng = np.random.default_rng(seed)
    names = sorted(game.references) if refs else []
    out = []
    for _ in range(n):
        seating = {}
        for s in game.seats:
            k = int(rng.integers(members + len(names)))
            seating[s] = k if k < members else names[k - members]
        out.append(Match(seating, int(rng.integers(2**31 - 1))))
    return out


GAMES = [("texas_holdem", {"num_players": 4}), ("connect_four", {"depth": 1}), ("tictactoe", {})]


@pytest.mark.parametrize("name,kwargs", GAMES)
def test_a_batch_of_64_equals_playing_each_match_alone(name, kwargs):
    game = envs.make(name, **kwargs)
    matches = random_matches(game, 64, seed=1)
    batched = MatchEngine(game, loader(game)).play(matches)
    alone = MatchEngine(game, loader(game))
    assert batched == [alone.play_one(*m) for m in matches]
    assert all(r.seating == dict(m.seating) and r.seed == m.seed for r, m in zip(batched, matches))
    assert {s for r in batched for s in r.returns} == set(game.seats)
    # Ranks come from returns, as the game's outcome rule says.
    assert all(r.ranks == game.outcome(r.returns) for r in batched)
    # The matches are not all alike: different seats win.
    assert len({min(r.ranks, key=r.ranks.get) for r in batched}) > 1


@pytest.mark.parametrize("name,kwargs", GAMES)
def test_outcomes_do_not_depend_on_what_else_is_in_the_batch(name, kwargs):
    game = envs.make(name, **kwargs)
    matches = random_matches(game, 40, seed=2)
    reference = MatchEngine(game, loader(game)).play(matches)
    others = random_matches(game, 30, seed=3)
    mixed = others[:15] + matches[::-1] + others[15:]
    # Few copies: finished copies take waiting matches, so neighbours change all the time.
    for max_copies in (3, 512):
        got = MatchEngine(game, loader(game), max_copies=max_copies).play(mixed)
        assert got[15:55][::-1] == reference


@pytest.mark.parametrize("name,kwargs", GAMES)
def test_the_engine_equals_the_old_sequential_match_runner(name, kwargs):
    from league.evaluation.matches import MatchRunner

    game = envs.make(name, **kwargs)
    matches = random_matches(game, 64, seed=4)
    for greedy in (True, False):  # deterministic members, then stochastic ones (same stream: AEC)
        runner = MatchRunner(game, loader(game, greedy=greedy), cache_size=16)
        seatings, seeds = [m.seating for m in matches], [m.seed for m in matches]
        batched = runner.play_many(seatings, seeds)
        assert batched == [runner.play_sequential(s, seed) for s, seed in zip(seatings, seeds)]
        assert batched == [runner.play(s, seed) for s, seed in zip(seatings, seeds)]


def test_act_only_policies_are_played_with_each_matchs_own_generator():
    game = envs.make("texas_holdem", num_players=4)
    matches = random_matches(game, 48, seed=5, refs=False)
    act_only = MatchEngine(game, loader(game, act_only=True), max_copies=7).play(matches)
    assert act_only == [MatchEngine(game, loader(game, act_only=True)).play_one(*m) for m in matches]
    # ... and draw exactly what the probs() path draws.
    assert act_only == MatchEngine(game, loader(game)).play(matches)


@pytest.mark.parametrize("name,kwargs", [("rps", {}), ("simple_tag", {"max_cycles": 12})])
def test_parallel_games_batch_independently_too(name, kwargs):
    game = envs.make(name, **kwargs)
    matches = random_matches(game, 24, seed=6, refs=False, members=3)
    batched = MatchEngine(game, loader(game, members=3)).play(matches)
    assert batched == [MatchEngine(game, loader(game, members=3)).play_one(*m) for m in matches]


def test_vectorized_selfplay_reproduces_the_single_env_in_a_parallel_game_with_mixed_members():
    # NPC uniforms are drawn per copy in seat order, not in the order members' batches run.
    game = envs.make("simple_tag", max_cycles=10)
    load = loader(game, members=3)

    class Source:
        def pick(self, seats, rng):
            return {s: int(rng.integers(3)) for s in seats}

        def load(self, member_id):
            return load(member_id)

    n, seat, steps = 5, game.seats[0], 25
    vec = SelfPlayVecEnv(game, seat, Source(), n, seed=4)
    rows = [vec.reset()[0]]
    rows += [vec.step(np.full(n, t % 5))[0] for t in range(steps)]
    for i in range(n):
        env = SelfPlayEnv(game, seat, Source())
        single = [env.reset(seed=4 + i)[0]]
        for t in range(steps):
            obs, _, term, trunc, _ = env.step(t % 5)
            single.append(env.reset()[0] if term or trunc else obs)
        for a, b in zip(rows, single):
            np.testing.assert_array_equal(a[i], b)


def test_one_forward_pass_per_member_per_round_across_matches():
    game = envs.make("tictactoe")
    calls = {}

    class Counting(Softmax):
        def __init__(self, name):
            super().__init__(game.n_actions("player_1"), len(name))
            self.name = name

        def probs(self, obs, mask):
            calls.setdefault(self.name, []).append(len(obs))
            return super().probs(obs, mask)

    members = {"a": Counting("a"), "bb": Counting("bb")}
    matches = [Match({"player_1": "a", "player_2": "bb"}, seed) for seed in range(64)]
    results = MatchEngine(game, members.__getitem__).play(matches)
    # X moves at most 5 times and O 4 in tic-tac-toe: one batched call per member per move.
    assert len(calls["a"]) <= 5 and len(calls["bb"]) <= 4
    assert calls["a"][0] == 64 and calls["bb"][0] == 64
    # Every match is still running after 5 moves (no earlier win), so the first 2 + 2 calls are full.
    assert calls["a"][:2] == [64, 64] and calls["bb"][:2] == [64, 64]
    assert len(results) == 64


def test_policy_objects_can_sit_in_a_match_and_are_told_apart_by_identity():
    game = envs.make("connect_four", depth=1)
    strong, weak = game.reference("minimax"), game.reference("random")
    results = MatchEngine(game).play([Match({"player_0": strong, "player_1": weak}, s) for s in range(6)]
                                     + [Match({"player_0": weak, "player_1": strong}, s) for s in range(6)])
    wins = [r.ranks["player_0"] == 1 and r.ranks["player_1"] == 2 for r in results]
    assert sum(wins[:6]) >= 5 and sum(wins[6:]) <= 1  # minimax (depth 1) beats random almost always
    assert len({r.seating["player_0"] for r in results}) == 2


def test_references_by_name_without_a_loader_and_reproducible_seeds():
    game = envs.make("texas_holdem", num_players=4)
    engine = MatchEngine(game)
    seating = dict.fromkeys(game.seats, "random")
    a = engine.play([Match(seating, seed) for seed in range(20)])
    b = engine.play([Match(seating, seed) for seed in reversed(range(20))])
    assert a == b[::-1]
    assert len({tuple(r.returns.values()) for r in a}) > 1  # different deals for different seeds
    assert engine.play([]) == []


def test_bad_matches_are_config_errors_and_a_masked_npc_action_is_an_illegal_action_error():
    game = envs.make("tictactoe")
    engine = MatchEngine(game)
    with pytest.raises(envs.GameConfigError, match=r"leaves seats \['player_2'\] empty"):
        engine.play([Match({"player_1": "random"}, 0)])
    with pytest.raises(ValueError, match="player_9"):
        engine.play([Match({"player_1": "random", "player_2": "random", "player_9": "random"}, 0)])
    with pytest.raises(envs.GameConfigError, match="seed"):
        engine.play([Match({"player_1": "random", "player_2": "random"}, "seven")])
    with pytest.raises(envs.GameConfigError, match="no load"):
        engine.play([Match({"player_1": 3, "player_2": "random"}, 0)])
    with pytest.raises(envs.GameConfigError, match="max_copies"):
        MatchEngine(game, max_copies=0)

    class Stubborn:
        def act(self, obs, mask, rng):
            return np.zeros(len(obs), dtype=int)  # the corner, taken or not

    with pytest.raises(envs.IllegalActionError, match="masked action 0"):
        engine.play([Match({"player_1": Stubborn(), "player_2": Stubborn()}, 0)])
    # The engine is still usable afterwards.
    assert len(engine.play([Match({"player_1": "random", "player_2": "random"}, 1)])) == 1


def test_the_local_backend_plays_network_members_like_the_sequential_path():
    torch = pytest.importorskip("torch")
    from league.evaluation.matches import LocalBackend
    from league.models import NetworkPolicy, build_network, mlp_spec

    game = envs.make("texas_holdem", num_players=4)
    torch.manual_seed(0)
    spec = mlp_spec(game.obs_dim("player_0"), game.n_actions("player_0"), (32, 32))
    nets = {k: NetworkPolicy(build_network(spec)) for k in range(5)}
    backend = LocalBackend(game, lambda m: game.reference(m) if isinstance(m, str) else nets[m])
    matches = random_matches(game, 64, seed=7, members=5)
    seatings, seeds = [m.seating for m in matches], [m.seed for m in matches]
    ranks = backend.play(seatings, seeds)
    assert ranks == backend.play_sequential(seatings, seeds)
    assert all(set(r) == set(game.seats) and min(r.values()) == 1 for r in ranks)
    backend.close()


def test_holdem_seeded_in_place_deals_what_the_stock_pettingzoo_env_deals():
    from pettingzoo.classic.rlcard_envs import texas_holdem

    def hand(env, seed):
        env.reset(seed=seed)
        rng, seen = np.random.default_rng(seed), []
        while not all(env.terminations.values()):
            raw = env.observe(env.agent_selection)
            seen.append((env.agent_selection, raw["observation"].tobytes(), raw["action_mask"].tobytes()))
            legal = np.flatnonzero(raw["action_mask"])
            env.step(int(legal[rng.integers(len(legal))]))
        return seen, dict(env.rewards)

    for players in (2, 4):
        stock = texas_holdem.raw_env(num_players=players)
        ours = envs.make("texas_holdem", num_players=players).new_env()
        seeds = [0, 1, 7, 2**31 - 2] + list(range(100, 160))
        hands = [hand(ours, s) for s in seeds]  # one env reused, as the engine reuses its copies
        assert hands == [hand(stock, s) for s in seeds]
        assert len({str(h[0][0]) for h in hands}) > 1


def test_holdem_lean_steps_and_fast_reads_match_the_stock_env_step_for_step():
    # The project's hold'em env steps RLCard's game without the stock env's unread
    # observations, and the engine reads observations off the game (read_hand) and encodes
    # them a batch at a time: every flag, reward, agent order and encoded row must be the
    # stock env's, illegal actions (decoded to check or fold) included.
    from pettingzoo.classic.rlcard_envs import texas_holdem

    from envs.game import dict_obs_encoder

    game = envs.make("texas_holdem", num_players=4)

    def state(env):
        return (env.agent_selection, list(env.agents), dict(env.terminations), dict(env.truncations),
                {a: float(r) for a, r in env.rewards.items()},
                {a: float(r) for a, r in env._cumulative_rewards.items()})

    stock, ours = texas_holdem.raw_env(num_players=4), game.new_env()
    rng = np.random.default_rng(3)
    steps = illegal = 0
    for seed in range(60):
        stock.reset(seed=seed)
        ours.reset(seed=seed)
        while stock.agents:  # to the end of the hand and every seat's dead step
            assert state(ours) == state(stock)
            want_obs, fast_obs = np.zeros((2, 4, 72), np.float32)
            want_mask, fast_mask = np.zeros((2, 4, 4), bool)
            for k, seat in enumerate(game.seats):
                dict_obs_encoder(stock.observe(seat), want_obs[k], want_mask[k])
                game.encoder(game.observe(ours, seat), fast_obs[k], fast_mask[k])
            np.testing.assert_array_equal(fast_obs, want_obs)
            np.testing.assert_array_equal(fast_mask, want_mask)
            batch_obs, batch_mask = np.full((4, 72), 7.0, np.float32), np.zeros((4, 4), bool)
            game.encoder.rows([game.observe(ours, s) for s in game.seats], batch_obs, batch_mask)
            np.testing.assert_array_equal(batch_obs, want_obs)
            np.testing.assert_array_equal(batch_mask, want_mask)
            agent = stock.agent_selection
            action = None  # a dead seat's step
            if not (stock.terminations[agent] or stock.truncations[agent]):
                legal = np.flatnonzero(want_mask[game.seats.index(agent)])
                action = int(rng.integers(4)) if rng.random() < 0.2 else int(rng.choice(legal))
                illegal += action not in legal
                steps += 1
            stock.step(action)
            ours.step(action)
        assert state(ours) == state(stock)
    assert steps > 300 and illegal > 20


def test_holdem_rules_play_rlcards_game_hand_for_hand_showdowns_and_split_pots_included():
    # envs.games.holdem_rules replaces RLCard's game objects: over many hands of 2 to 10 seats,
    # reseeded and unseeded, played by a caller that mostly calls and checks (so most hands
    # reach a showdown), every flag, reward, agent order and observation must be the stock
    # env's, and the generator must be where RLCard leaves it (the unseeded hands that follow).
    from pettingzoo.classic.rlcard_envs import texas_holdem

    def play(env, rng, log):
        while env.agents:
            agent = env.agent_selection
            obs = env.observe(agent)
            log.append((agent, obs["observation"].tobytes(), obs["action_mask"].tobytes(), dict(env.terminations),
                        {a: float(r) for a, r in env.rewards.items()}))
            if env.terminations[agent]:
                env.step(None)
                continue
            legal = np.flatnonzero(obs["action_mask"])
            passive = [a for a in legal if a in (0, 3)]
            u = rng.random()
            action = int(rng.choice(passive)) if u < 0.8 else 1 if (u < 0.95 and 1 in legal) else 2
            env.step(action)

    showdowns = split = 0
    for players in (2, 3, 4, 6, 10):
        stock = texas_holdem.raw_env(num_players=players)
        ours = envs.make("texas_holdem", num_players=players).new_env()
        for seed in range(40):
            for k in range(3):  # a seeded hand, then two dealt from where the generator stands
                logs = []
                for env in (stock, ours):
                    env.reset(seed=seed if k == 0 else None)
                    logs.append([])
                    play(env, np.random.default_rng([players, seed, k]), logs[-1])
                assert logs[0] == logs[1], (players, seed, k)
                hand = ours.hand
                alive = hand.folded.count(False)
                showdowns += alive > 1
                final = next(rewards for *_, flags, rewards in logs[1] if all(flags.values()))
                won = [r for r in final.values() if r > 0]
                split += len(won) > 1
    assert showdowns > 300 and split > 10


def test_holdem_pots_split_as_rlcards_judger_splits_them_odd_chips_included():
    from rlcard.games.limitholdem.judger import LimitHoldemJudger

    from envs.games.holdem_rules import LimitHand

    rng = np.random.default_rng(11)
    odd = 0
    for trial in range(3000):
        n = int(rng.integers(2, 11))
        ours, theirs = np.random.RandomState(trial), np.random.RandomState(trial)
        hand = LimitHand(n, ours)
        hand.in_chips = [int(c) for c in rng.choice([0, 1, 2, 3, 5, 8, 12], size=n)]
        winners = [int(w) for w in rng.random(n) < 0.4]
        if not any(winners):
            winners[int(rng.integers(n))] = 1
        if not any(hand.in_chips):
            continue
        got = hand._split(winners)
        want = LimitHoldemJudger(theirs).split_pots_among_players(hand.in_chips, winners)
        assert got == [int(w) for w in want], (hand.in_chips, winners)
        moved = ours.get_state()[2] != np.random.RandomState(trial).get_state()[2]
        odd += moved
        assert ours.randint(2**31) == theirs.randint(2**31)  # the same draws for the odd chips
    assert odd > 100


def test_holdem_refuses_an_action_that_names_none_as_the_stock_env_does():
    from pettingzoo.classic.rlcard_envs import texas_holdem

    for env in (texas_holdem.raw_env(num_players=4), envs.make("texas_holdem").new_env()):
        env.reset(seed=1)
        with pytest.raises((IndexError, TypeError)):
            env.step(4)
        with pytest.raises(TypeError):
            env.step(None)


def test_holdem_draws_the_hand_the_stock_env_draws():
    pytest.importorskip("pygame")
    from pettingzoo.classic.rlcard_envs import texas_holdem

    stock = texas_holdem.raw_env(num_players=4, render_mode="rgb_array")
    ours = envs.make("texas_holdem", num_players=4).new_env()
    ours.render_mode = "rgb_array"
    for env in (stock, ours):
        env.reset(seed=5)
        for _ in range(5):  # past the flop
            env.step(0 if env.observe(env.agent_selection)["action_mask"][0] else 3)
    assert ours.hand.public
    np.testing.assert_array_equal(ours.render(), stock.render())


@pytest.mark.parametrize("name,kwargs", GAMES + [("rps", {})])
def test_a_batch_leaves_the_garbage_collector_as_it_found_it_and_makes_no_cycles(name, kwargs):
    import gc

    game = envs.make(name, **kwargs)
    engine = MatchEngine(game, loader(game), max_copies=16)
    matches = random_matches(game, 48, seed=9)
    first = engine.play(matches)  # builds the copies
    assert gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        # The collector is paused while a batch plays: that is only safe if play makes no
        # reference cycles, which would pile up until the batch ends.
        assert engine.play(matches) == first
        assert not gc.isenabled()  # it was off before, so it stays off
        assert gc.collect() == 0
    finally:
        gc.enable()
    assert engine.play(matches[:3]) == first[:3]
    assert gc.isenabled()
