"""The anchors of the strength benchmark, each given the league's wall time on the same machine.

* **CFR** (``open_spiel.python.algorithms.cfr``, vanilla, deterministic): the tabular limit for
  Kuhn poker; exploitability of its average policy.
* **NFSP** (OpenSpiel's PyTorch implementation, ``open_spiel.python.pytorch.nfsp``, the settings
  of its ``examples/nfsp_kuhn_pytorch.py``): exploitability of the average-policy networks.
  Needs the ``dm-tree`` package (``pip install dm-tree``, in the ``benchmarks`` extra).
* **PSRO** (``open_spiel.python.algorithms.psro_v2``) with an RL oracle: run only when it imports;
  :func:`psro_unavailable` says why not.
* **Plain PPO against uniform random** (this project's ``league.training.train`` on a
  ``SelfPlayVecEnv`` seating the game's random reference): half the wall time per seat, so the
  two seats together get the league's time.

Every anchor's clock counts its training only; the measurements made at the marks are left out.
Each runner returns ``(fraction, metric, value)`` rows for the fractions of the budget asked for.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyspiel
import torch
from open_spiel.python import policy as os_policy
from open_spiel.python import rl_environment
from open_spiel.python.algorithms import cfr

import envs
from benchmarks.groundtruth import kuhn_exploitability
from benchmarks.strength_measure import PROBES, probe_network
from league.config import load_config
from league.models import load_network
from league.training.callbacks import TrainEvent
from league.training.trainer import StopRules, train

__all__ = ["Rows", "run_cfr", "nfsp_unavailable", "run_nfsp", "psro_unavailable", "run_ppo_vs_random"]

Rows = list[tuple[float, str, float]]


def run_cfr(seconds: float, fractions: Sequence[float]) -> Rows:
    """Vanilla CFR on 2-player Kuhn poker for ``seconds`` of solver time."""
    game = pyspiel.load_game("kuhn_poker")
    solver = cfr.CFRSolver(game)
    clock, iterations, out = 0.0, 0, []
    for fraction in sorted(fractions):
        while clock < fraction * seconds:
            t0 = time.perf_counter()
            solver.evaluate_and_update_policy()
            clock += time.perf_counter() - t0
            iterations += 1
        out.append((fraction, "expl_average", kuhn_exploitability(game, solver.average_policy())))
    out.append((1.0, "iterations", float(iterations)))
    return out


def nfsp_unavailable() -> str | None:
    """Why OpenSpiel's PyTorch NFSP cannot run here, or None when it can."""
    try:
        from open_spiel.python.pytorch import nfsp  # noqa: F401
    except ImportError as exc:
        return f"open_spiel.python.pytorch.nfsp does not import ({exc}); `pip install dm-tree`"
    return None


class _NFSPPolicies(os_policy.Policy):
    """The agents' average-policy networks as one OpenSpiel policy (as in OpenSpiel's example)."""

    def __init__(self, game: pyspiel.Game, agents: Sequence[object]):
        super().__init__(game, [0, 1])
        self._agents = agents
        self._obs: dict[str, object] = {"info_state": [None, None], "legal_actions": [None, None]}

    def action_probabilities(self, state: pyspiel.State, player_id: int | None = None) -> dict[int, float]:
        from open_spiel.python.pytorch import nfsp

        player = state.current_player()
        legal = state.legal_actions(player)
        self._obs["current_player"] = player
        self._obs["info_state"][player] = state.information_state_tensor(player)  # type: ignore[index]
        self._obs["legal_actions"][player] = legal  # type: ignore[index]
        step = rl_environment.TimeStep(observations=self._obs, rewards=None, discounts=None, step_type=None)
        agent = self._agents[player]
        with agent.temp_mode_as(nfsp.MODE.AVERAGE_POLICY):  # type: ignore[attr-defined]
            probs = agent.step(step, is_evaluation=True).probs  # type: ignore[attr-defined]
        return {a: float(probs[a]) for a in legal}


def run_nfsp(seconds: float, fractions: Sequence[float], seed: int) -> Rows:
    """NFSP self-play on 2-player Kuhn poker for ``seconds`` of training time."""
    from open_spiel.python.pytorch import nfsp

    torch.set_num_threads(1)
    np.random.seed(seed)
    env = rl_environment.Environment("kuhn_poker", players=2)
    env.seed(seed)
    size = env.observation_spec()["info_state"][0]
    n_actions = env.action_spec()["num_actions"]
    # The example's settings; its epsilon decays over its 3e6 episodes.
    agents = [nfsp.NFSP(p, size, n_actions, [128], int(2e6), 0.1, replay_buffer_capacity=int(2e5),
                        epsilon_decay_duration=int(3e6), epsilon_start=0.06, epsilon_end=0.001,
                        seed=1000 * seed + 10 * p)
              for p in range(2)]
    average = _NFSPPolicies(env.game, agents)
    clock, episodes, out = 0.0, 0, []
    for fraction in sorted(fractions):
        while clock < fraction * seconds:
            t0 = time.perf_counter()
            for _ in range(50):  # a batch of episodes per clock reading
                step = env.reset()
                while not step.last():
                    player = step.observations["current_player"]
                    step = env.step([agents[player].step(step).action])
                for agent in agents:
                    agent.step(step)
            episodes += 50
            clock += time.perf_counter() - t0
        out.append((fraction, "expl_average", kuhn_exploitability(env.game, average)))
    out.append((1.0, "episodes", float(episodes)))
    return out


def psro_unavailable() -> str | None:
    """Why OpenSpiel's PSRO with an RL oracle cannot run here, or None when it can."""
    missing = []
    for module in ("open_spiel.python.algorithms.psro_v2.psro_v2",
                   "open_spiel.python.algorithms.psro_v2.rl_policy"):
        try:
            __import__(module)
        except ImportError as exc:
            missing.append(f"`{module}` needs `{getattr(exc, 'name', None) or exc}`")
    if not missing:
        return None
    return ("OpenSpiel PSRO with an RL oracle was not run: " + "; ".join(missing)
            + " (its meta-solver imports cvxpy through `lp_solver`; its RL oracle's policies are JAX's "
              "DQN / policy gradient). It needs no TensorFlow, but neither is installed here.")


def run_ppo_vs_random(config_path: str | Path, overrides: Sequence[str], seconds: float,
                      fractions: Sequence[float], seed: int, episode_scale: float = 1.0) -> Rows:
    """This project's PPO (the config's ``[ppo]`` settings) against the random reference,
    ``seconds / 2`` per seat; each seat's weights at each mark are probed like the league's."""
    config = load_config(config_path, list(overrides))
    game_name = config.game.name
    game = envs.make(game_name, **dict(config.game.kwargs))
    per_seat = seconds / len(game.seats)
    out: Rows = []
    for k, seat in enumerate(game.seats):
        ppo = dataclasses.replace(config.ppo, seed=1000 * seed + k)
        env = envs.SelfPlayVecEnv(game, seat, envs.ReferenceOpponents(game, "random"), ppo.n_envs, seed=ppo.seed)
        marks = sorted(f for f in fractions if f < 1.0)
        snapshots: dict[float, dict[str, torch.Tensor]] = {}

        def snapshot(event: TrainEvent) -> None:
            while marks and event.elapsed >= marks[0] * per_seat and event.net is not None:
                snapshots[marks.pop(0)] = {k: v.detach().clone() for k, v in event.net.state_dict().items()}

        result = train(env, ppo, stop=StopRules(max_seconds=per_seat), callbacks=[snapshot], progress=False)
        for fraction in sorted(fractions):
            weights = snapshots.get(fraction, result.last_weights)  # a mark past the last update: the end
            net = load_network(result.spec, weights)
            for probe in PROBES[game_name]:
                rate = probe_network(net, game_name, seat, probe, max(4, round(probe.episodes * episode_scale)))
                out.append((fraction, f"{game.roles[seat]}:{probe.name}", rate))
        out.append((1.0, f"{game.roles[seat]}:steps", float(result.steps)))
    return out
