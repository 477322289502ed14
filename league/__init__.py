"""league: population-based self-play for PettingZoo games.

Public names are re-exported here and loaded on first use (PEP 562), so that
``python -m league.leaderboard`` does not pay for torch and the game engines it
never touches.  ``tests/test_public_api.py`` keeps ``__all__`` honest.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from league.errors import *  # noqa: F401,F403  (the exception tree is tiny and import-free)
from league.errors import __all__ as _errors_all

__version__ = "0.1.0"

# public name -> the module that defines it
_LAZY: dict[str, str] = {
    **{name: "league.pool" for name in ("Pool", "Member", "MatchRecord")},
    **{name: "league.models" for name in ("ActorCritic", "NetworkPolicy", "build_network", "build_policy",
                                             "load_network", "mlp_spec")},
    **{name: "league.training.ppo" for name in ("PPO", "PPOConfig", "compute_gae")},
    **{name: "league.training.trainer" for name in ("train", "StopRules", "StopReason", "TrainResult")},
    **{name: "league.training.callbacks" for name in ("Evaluation", "TrainEvent", "Callback", "EvalCallback",
                                              "BestCheckpoint", "CSVLogger")},
    **{name: "league.training.hparams" for name in ("HParamRanges", "sample_hparams")},
    **{name: "league.population.sampling" for name in ("SamplingConfig", "OpponentSampler", "SCHEMES", "sample_opponent")},
    **{name: "league.evaluation.evaluator" for name in ("Evaluator", "EvaluationConfig")},
    **{name: "league.population.pruning" for name in ("PruningConfig", "prune")},
    **{name: "league.config" for name in ("RunConfig", "GameConfig", "PhaseConfig", "BackendConfig",
                                           "load_config")},
    **{name: "league.orchestration" for name in ("League", "LeagueRunner", "make_league")},
    **{name: "league.evaluation.matches" for name in ("MatchBackend", "LocalBackend", "MatchRunner")},
    **{name: "league.population.opponents" for name in ("PoolOpponents",)},
    **{name: "league.distributed" for name in ("RayLeague",)},
    **{name: "league.policy" for name in ("load_policy", "LoadedPolicy")},
}

# public name -> the package it moved to: still importable from here, but listed in that
# package's __all__ (each __all__ names what its own package defines)
_MOVED: dict[str, str] = {"PayoffTable": "ratings"}

__all__ = [*_errors_all, *_LAZY, "__version__"]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name) or _MOVED.get(name)
    if module is None:
        raise AttributeError(f"module 'league' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY) | set(_MOVED))


if TYPE_CHECKING:  # static type checkers see the real imports
    from league.training.callbacks import BestCheckpoint, Callback, CSVLogger, EvalCallback, Evaluation, TrainEvent
    from league.config import BackendConfig, GameConfig, PhaseConfig, RunConfig, load_config
    from league.distributed import RayLeague
    from league.evaluation.evaluator import EvaluationConfig, Evaluator
    from ratings import PayoffTable
    from league.training.hparams import HParamRanges, sample_hparams
    from league.evaluation.matches import LocalBackend, MatchBackend, MatchRunner
    from league.population.opponents import PoolOpponents
    from league.orchestration import League, LeagueRunner, make_league
    from league.models import ActorCritic, NetworkPolicy, build_network, build_policy, load_network, mlp_spec
    from league.policy import LoadedPolicy, load_policy
    from league.pool import MatchRecord, Member, Pool
    from league.training.ppo import PPO, PPOConfig, compute_gae
    from league.population.pruning import PruningConfig, prune
    from league.population.sampling import SCHEMES, OpponentSampler, SamplingConfig, sample_opponent
    from league.training.trainer import StopReason, StopRules, TrainResult, train
