"""Ground truth for the sampling-scheme benchmark: policies read out of networks, exact exploitability.

Two games have a solution we can compare a population against exactly:

* **rps** (one round, ``max_cycles=1``): a strategy is a distribution ``p`` over rock, paper,
  scissors; its exploitability is the best pure reply's expected payoff, ``max_a (A p)_a``
  (0 for the uniform Nash equilibrium, 1 for a pure strategy).
* **kuhn_poker** (2 players): the networks are read out at every information state into an
  OpenSpiel ``TabularPolicy`` and scored with OpenSpiel's ``exploitability`` (NashConv / 2;
  the uniform random policy scores 0.4583).

A *population* is summarised by its mixture.  In a normal-form game that is the weighted average
of the members' strategies.  In an extensive-form game the weighted average of behaviour
strategies is *not* the mixture (a member that never reaches an information state must not vote
there), so :func:`kuhn_mixture_policy` weights each member's action probabilities at an
information state by the member's own probability of reaching it (Kuhn's theorem; the average
policy of fictitious play is built the same way).

This module may import ``open_spiel``; the core packages (``league``, ``envs``, ``ratings``) must
not, which is why it lives under ``benchmarks/``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pyspiel
import torch
from open_spiel.python import policy as os_policy
from open_spiel.python.algorithms import exploitability as os_exploitability

import envs
from envs.games import kuhn_poker
from league.models import ActorCritic, masked_logits

__all__ = [
    "RPS_PAYOFF",
    "ProbsFn",
    "network_probs",
    "uniform_probs",
    "first_observation",
    "rps_strategy",
    "rps_exploitability",
    "mixture",
    "KuhnInfoState",
    "kuhn_info_states",
    "kuhn_observation",
    "kuhn_tabular_policy",
    "kuhn_mixture_policy",
    "kuhn_exploitability",
]

RPS_PAYOFF = np.array([[0.0, -1.0, 1.0],
                       [1.0, 0.0, -1.0],
                       [-1.0, 1.0, 0.0]])
"""Row player's payoff; actions 0 rock, 1 paper, 2 scissors as in PettingZoo's ``rps`` (paper
beats rock: ``step({"player_0": 1, "player_1": 0})`` pays player_0 +1)."""

ProbsFn = Callable[[np.ndarray, np.ndarray | None], np.ndarray]
"""``probs(obs [B, obs_dim], mask [B, n] or None) -> [B, n]`` action probabilities."""


def network_probs(net: ActorCritic) -> ProbsFn:
    """The network's sampling distribution (masked softmax), the one its NPC copies play."""

    @torch.no_grad()
    def probs(obs: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
        logits = net.actor(torch.as_tensor(np.asarray(obs, dtype=np.float32)))
        m = None if mask is None else torch.as_tensor(np.asarray(mask, dtype=bool))
        return torch.softmax(masked_logits(logits, m), dim=-1).double().numpy()

    return probs


def uniform_probs(n_actions: int) -> ProbsFn:
    """Uniform over the legal actions (over all ``n_actions`` without a mask): a random anchor."""

    def probs(obs: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
        m = np.ones((len(obs), n_actions)) if mask is None else np.asarray(mask, dtype=float)
        return m / m.sum(axis=1, keepdims=True)

    return probs


def first_observation(game: envs.Game, seat: str, seed: int = 0) -> tuple[np.ndarray, np.ndarray | None]:
    """``seat``'s encoded observation (and mask, for masked games) right after a reset.

    Read from the game's own env and encoder, so the readout sees exactly what an NPC sees.
    """
    env = game.new_env()
    row = np.zeros(game.obs_dim(seat), np.float32)
    mask = np.ones(game.n_actions(seat), bool)
    if game.api == "parallel":
        raw, _ = env.reset(seed=seed)
        game.encoder(raw[seat], row, mask)
    else:
        env.reset(seed=seed)
        game.encoder(env.observe(seat), row, mask)
    return row, (mask if game.masked else None)


def rps_strategy(probs: ProbsFn, game: envs.Game, seat: str) -> np.ndarray:
    """The policy's distribution over (rock, paper, scissors) at the game's first observation."""
    obs, mask = first_observation(game, seat)
    return np.asarray(probs(obs[None, :], None if mask is None else mask[None, :]))[0]


def rps_exploitability(strategy: Sequence[float] | np.ndarray) -> float:
    """What a best pure reply earns per round against ``strategy``: ``max_a (A p)_a``."""
    p = np.asarray(strategy, dtype=float)
    if p.shape != (3,) or np.any(p < -1e-12) or not np.isclose(p.sum(), 1.0):
        raise ValueError(f"an rps strategy is 3 probabilities summing to 1, got {p!r}")
    return float(np.max(RPS_PAYOFF @ p))


def mixture(strategies: Sequence[np.ndarray], weights: Sequence[float] | None = None) -> np.ndarray:
    """The weighted average of normal-form strategies (uniform weights if None)."""
    s = np.asarray(strategies, dtype=float)
    w = np.full(len(s), 1.0 / len(s)) if weights is None else np.asarray(weights, dtype=float)
    if len(w) != len(s) or np.any(w < 0) or not w.sum() > 0:
        raise ValueError(f"need one non-negative weight per strategy, got {w!r} for {len(s)}")
    return (w / w.sum()) @ s


# ------------------------------------------------------------------------------------------------
# Kuhn poker.
# ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class KuhnInfoState:
    """One information state of OpenSpiel's kuhn_poker and what our env shows there."""

    key: str
    """OpenSpiel's ``information_state_string`` (the key of ``TabularPolicy.state_lookup``)."""
    player: int
    """The player to move (0 or 1)."""
    obs: np.ndarray
    """Our env's observation of that seat at that point (``envs/games/kuhn_poker.py``)."""
    path: tuple[tuple[str, int], ...]
    """The player's own earlier decisions on the way here: (information state key, action)."""


def kuhn_observation(num_players: int, player: int, card: int, actions: Sequence[int]) -> np.ndarray:
    """Our env's observation vector: one-hot seat, one-hot card, then a (pass, bet) pair per action
    taken so far (``raw_env.observe``), built from the parts of an OpenSpiel history."""
    obs = np.zeros(kuhn_poker.obs_size(num_players), np.float32)
    obs[player] = 1.0
    obs[num_players + card] = 1.0
    base = 2 * num_players + 1
    for k, action in enumerate(actions):
        obs[base + 2 * k + action] = 1.0
    return obs


def kuhn_info_states(game: pyspiel.Game) -> dict[str, KuhnInfoState]:
    """Every decision information state of OpenSpiel's Kuhn poker, mapped to our encoding.

    A history is the dealt cards (one chance action per player, in player order) followed by the
    betting actions (0 pass, 1 bet, the same numbering as our env).
    """
    n = game.num_players()
    found: dict[str, KuhnInfoState] = {}

    def walk(state: pyspiel.State, paths: tuple[tuple[tuple[str, int], ...], ...]) -> None:
        if state.is_terminal():
            return
        if state.is_chance_node():
            for action, _ in state.chance_outcomes():
                walk(state.child(action), paths)
            return
        p = state.current_player()
        history = state.history()
        key = state.information_state_string(p)
        if key not in found:
            found[key] = KuhnInfoState(key, p, kuhn_observation(n, p, history[p], history[n:]), paths[p])
        for action in state.legal_actions():
            step = paths[p] + ((key, action),)
            walk(state.child(action), paths[:p] + (step,) + paths[p + 1:])

    walk(game.new_initial_state(), tuple(() for _ in range(n)))
    return found


def _probs_at(info: Mapping[str, KuhnInfoState], probs: ProbsFn) -> dict[str, np.ndarray]:
    """One batched readout of ``probs`` at every information state (all actions are legal)."""
    keys = list(info)
    obs = np.stack([info[k].obs for k in keys])
    out = np.asarray(probs(obs, np.ones((len(keys), 2), bool)), dtype=float)
    return {k: out[i] for i, k in enumerate(keys)}


def kuhn_tabular_policy(game: pyspiel.Game, per_player: Sequence[ProbsFn]) -> os_policy.TabularPolicy:
    """``TabularPolicy`` whose player ``i`` acts as ``per_player[i]`` does at each information state."""
    return kuhn_mixture_policy(game, [[fn] for fn in per_player])


def kuhn_mixture_policy(game: pyspiel.Game, members: Sequence[Sequence[ProbsFn]],
                        weights: Sequence[Sequence[float]] | None = None) -> os_policy.TabularPolicy:
    """The behaviour policy equivalent to picking member ``k`` of player ``i``'s population with
    probability ``weights[i][k]`` before the deal and playing it throughout.

    At information state ``I`` of player ``i``: ``sum_k w_k r_k(I) pi_k(.|I) / sum_k w_k r_k(I)``,
    where ``r_k(I)`` is the product of member ``k``'s probabilities of player ``i``'s own earlier
    actions on the way to ``I``.  Where no member reaches ``I`` the weights alone are used (any
    choice is equivalent there: the state is never played).
    """
    info = kuhn_info_states(game)
    tab = os_policy.TabularPolicy(game)
    for player, population in enumerate(members):
        if not population:
            raise ValueError(f"player {player} has no member to read a policy from")
        w = np.full(len(population), 1.0 / len(population)) if weights is None \
            else np.asarray(weights[player], dtype=float)
        if len(w) != len(population) or np.any(w < 0) or not w.sum() > 0:
            raise ValueError(f"player {player}: need one non-negative weight per member, got {w!r}")
        mine = {k: s for k, s in info.items() if s.player == player}
        tables = [_probs_at(mine, fn) for fn in population]
        for key, state in mine.items():
            reach = np.array([np.prod([t[k][a] for k, a in state.path]) for t in tables])
            vote = w * reach
            if not vote.sum() > 0:
                vote = w
            probs = (vote[:, None] * np.stack([t[key] for t in tables])).sum(axis=0) / vote.sum()
            tab.policy_for_key(key)[:] = probs
    return tab


def kuhn_exploitability(game: pyspiel.Game, policy: os_policy.Policy) -> float:
    """OpenSpiel's exploitability: NashConv / number of players (0 at a Nash equilibrium)."""
    return float(os_exploitability.exploitability(game, policy))
