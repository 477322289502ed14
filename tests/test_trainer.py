"""The trainer around PPO: stop rules, best checkpoint, callbacks, logging, evaluation, hparams.

Stop rules and the best-checkpoint keeper are driven by a scripted evaluator (scores chosen by
the test), so each rule is shown to fire exactly when it should; repeatability and evaluation
run on the real tictactoe self-play env.
"""

from __future__ import annotations

import csv
import math
import time
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from league.training.callbacks import BestCheckpoint, CSVLogger, EvalCallback, Evaluation, TrainEvent, metric_loggers
from league.errors import ConfigError
from league.training.hparams import HParamRanges, config_from_hparams, role_rng, sample_hparams, spec_from_hparams
from league.models import build_network, mlp_spec
from league.training.ppo import PPOConfig
from league.training.progress import TrainingProgress
from league.training.trainer import StopReason, StopRules, TrainResult, train
from test_ppo import GuessVecEnv, one_torch_thread, small_config  # noqa: F401 (an autouse fixture)

BATCH = small_config().batch_size


class ScriptedEval(EvalCallback):
    """Returns the given win rates in order and remembers the weights it was shown each time."""

    def __init__(self, win_rates: list[float], *, every: int = BATCH, at_start: bool = False):
        super().__init__(GuessVecEnv(1), episodes=1, every=every, at_start=at_start)
        self.win_rates = list(win_rates)
        self.seen: list[dict[str, torch.Tensor]] = []

    def evaluate(self, net, step=0):
        self.seen.append({k: v.clone() for k, v in net.state_dict().items()})
        w = self.win_rates[len(self.seen) - 1]
        return Evaluation(step=step, episodes=100, win_rate=w, draw_rate=0.0, loss_rate=1 - w, mean_return=2 * w - 1)


def run(scores: list[float] | None = None, stop: StopRules | None = None, **kwargs: Any) -> tuple[TrainResult, Any]:
    evaluation = ScriptedEval(scores, at_start=kwargs.pop("at_start", False)) if scores is not None else None
    result = train(GuessVecEnv(4), kwargs.pop("config", small_config()),
                   stop=stop or StopRules(max_steps=len(scores or [1]) * BATCH),
                   evaluation=evaluation, progress=False, **kwargs)
    return result, evaluation


def same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


# -- best checkpoint ----------------------------------------------------------------------------

def test_the_best_checkpoint_is_returned_when_the_last_is_worse():
    result, ev = run([0.2, 0.9, 0.3, 0.1])
    assert result.stop_reason == StopReason.MAX_STEPS and result.steps == 4 * BATCH
    assert len(ev.seen) == 4  # the last update was evaluated on schedule; no extra final evaluation
    assert result.best_evaluation.win_rate == 0.9 and result.best_step == 2 * BATCH
    assert same(result.best_weights, ev.seen[1])
    assert same(result.last_weights, ev.seen[3]) and not same(result.best_weights, result.last_weights)
    assert [e.win_rate for e in result.evaluations] == [0.2, 0.9, 0.3, 0.1]
    assert result.last_evaluation.win_rate == 0.1


def test_the_starting_weights_win_when_training_only_makes_things_worse():
    start = build_network(mlp_spec(5, 4, small_config().hidden)).state_dict()
    result, _ = run([0.9, 0.1, 0.2], stop=StopRules(max_steps=2 * BATCH), init_weights=start, at_start=True)
    assert result.best_step == 0 and same(result.best_weights, start)


def test_without_evaluation_the_best_weights_are_the_last():
    result, _ = run(None, stop=StopRules(max_steps=2 * BATCH))
    assert result.best_evaluation is None and same(result.best_weights, result.last_weights)


def test_an_unevaluated_final_checkpoint_is_evaluated_at_the_end():
    evaluation = ScriptedEval([0.1, 0.2], every=2 * BATCH)
    result = train(GuessVecEnv(4), small_config(), stop=StopRules(max_steps=3 * BATCH), evaluation=evaluation,
                   progress=False)
    assert [e.step for e in result.evaluations] == [2 * BATCH, 3 * BATCH]
    assert result.best_step == 3 * BATCH and same(result.best_weights, result.last_weights)


def test_best_checkpoint_callback_keeps_a_copy_not_a_reference():
    net = build_network({"kind": "mlp", "obs_dim": 5, "n_actions": 4, "hidden": [8]})
    keeper = BestCheckpoint()
    ev = Evaluation(step=1, episodes=10, win_rate=0.5, draw_rate=0.0, loss_rate=0.5, mean_return=0.0)
    keeper(TrainEvent(step=1, updates=1, elapsed=0.0, metrics={}, evaluation=ev, net=net))
    kept = {k: v.clone() for k, v in keeper.weights.items()}
    with torch.no_grad():
        for p in net.parameters():
            p.add_(1.0)
    assert same(keeper.weights, kept)
    # A stale evaluation (from an earlier step) is not a reason to take the current weights.
    keeper(TrainEvent(step=2, updates=2, elapsed=0.0, metrics={}, evaluation=ev, net=net))
    assert same(keeper.weights, kept)


# -- stop rules ---------------------------------------------------------------------------------

def test_win_rate_target_stops_at_the_first_evaluation_reaching_it():
    result, _ = run([0.1, 0.5, 0.85, 0.95], stop=StopRules(win_rate=0.8, max_steps=10 * BATCH))
    assert result.stop_reason == "win_rate" and result.steps == 3 * BATCH
    assert "0.850 >= 0.800" in result.stop_detail


def test_return_target_stops_at_the_first_evaluation_reaching_it():
    # mean_return = 2 * win_rate - 1: 0.4 -> -0.2, 0.7 -> 0.4, 0.8 -> 0.6
    result, _ = run([0.4, 0.7, 0.8, 0.9], stop=StopRules(mean_return=0.5, max_steps=10 * BATCH))
    assert result.stop_reason == StopReason.RETURN and result.steps == 3 * BATCH


def test_patience_stops_after_k_evaluations_without_improvement():
    # Best 0.7 at the 2nd evaluation; the 3rd, 4th and 5th do not beat it by more than min_delta.
    result, _ = run([0.5, 0.7, 0.75, 0.65, 0.79, 0.9],
                    stop=StopRules(patience=3, min_delta=0.1, max_steps=10 * BATCH))
    assert result.stop_reason == StopReason.NO_IMPROVEMENT and result.steps == 5 * BATCH
    # An improvement resets the count.
    result, _ = run([0.5, 0.6, 0.6, 0.8, 0.8, 0.8, 0.8], stop=StopRules(patience=3, max_steps=10 * BATCH))
    assert result.stop_reason == StopReason.NO_IMPROVEMENT and result.steps == 7 * BATCH


def test_max_steps_is_never_exceeded():
    result, _ = run(None, stop=StopRules(max_steps=3 * BATCH + BATCH // 2))
    assert result.stop_reason == StopReason.MAX_STEPS and result.steps == 3 * BATCH and result.updates == 3
    assert len(result.history) == 3 and [row["step"] for row in result.history] == [BATCH, 2 * BATCH, 3 * BATCH]


def test_max_seconds_stops_training_in_time():
    start = time.perf_counter()
    result, _ = run(None, stop=StopRules(max_seconds=0.5, max_steps=10**9))
    assert result.stop_reason == StopReason.MAX_TIME and result.updates >= 1
    assert time.perf_counter() - start < 2.0 and result.wall_time < 1.0


def test_rules_combine_and_the_first_to_fire_wins():
    result, _ = run([0.1, 0.2, 0.3, 0.95], stop=StopRules(win_rate=0.9, patience=5, max_steps=2 * BATCH))
    assert result.stop_reason == StopReason.MAX_STEPS and result.steps == 2 * BATCH


def test_a_callback_stops_training_with_false_or_a_reason():
    seen: list[int] = []

    def observer(event: TrainEvent) -> None:
        seen.append(event.step)

    def stopper(event: TrainEvent) -> bool:
        return event.updates < 2

    result, _ = run(None, stop=StopRules(max_steps=10 * BATCH), callbacks=[stopper, observer])
    assert result.stop_reason == StopReason.CALLBACK and "stopper returned False" in result.stop_detail
    assert result.steps == 2 * BATCH and seen == [BATCH, 2 * BATCH]  # later callbacks still see the event
    result, _ = run(None, stop=StopRules(max_steps=10 * BATCH), callbacks=[lambda e: "plateau" if e.updates == 3 else None])
    assert result.stop_reason == "plateau" and result.steps == 3 * BATCH


def test_events_carry_step_updates_metrics_and_the_latest_evaluation():
    events: list[TrainEvent] = []
    evaluation = ScriptedEval([0.3, 0.4], every=2 * BATCH)
    train(GuessVecEnv(4), small_config(), stop=StopRules(max_steps=4 * BATCH), evaluation=evaluation,
          callbacks=[events.append], progress=False)
    assert [(e.step, e.updates) for e in events] == [(BATCH * i, i) for i in range(1, 5)]
    assert [e.evaluation and e.evaluation.win_rate for e in events] == [None, 0.3, 0.3, 0.4]
    assert [e.evaluated_now for e in events] == [False, True, False, True]
    assert all("policy_loss" in e.metrics and e.elapsed > 0 for e in events)
    with pytest.raises(AttributeError):
        events[0].step = 5  # type: ignore[misc]


@pytest.mark.parametrize("kwargs, message", [
    ({}, "needs max_steps or max_seconds"),
    ({"max_steps": 0}, r"StopRules.max_steps = 0 is invalid"),
    ({"max_steps": 10, "win_rate": 1.5}, r"StopRules.win_rate = 1.5 is invalid"),
    ({"max_steps": 10, "patience": 0}, r"StopRules.patience = 0 is invalid"),
    ({"max_seconds": -1.0}, r"StopRules.max_seconds = -1.0 is invalid"),
])
def test_bad_stop_rules_are_config_errors(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        StopRules(**kwargs)


# -- logging and progress ---------------------------------------------------------------------------

def test_csv_logger_writes_one_row_per_update_with_the_evaluation(tmp_path):
    logger = CSVLogger(tmp_path / "log" / "metrics.csv")
    train(GuessVecEnv(4), small_config(), stop=StopRules(max_steps=3 * BATCH),
          evaluation=ScriptedEval([0.25, 0.5], every=2 * BATCH, ), callbacks=[logger], progress=False)
    logger.close()
    with open(tmp_path / "log" / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["step"]) for r in rows] == [BATCH, 2 * BATCH, 3 * BATCH]
    assert [r["eval_win_rate"] for r in rows] == ["", "0.25", "0.25"]
    assert all(math.isfinite(float(r["policy_loss"])) for r in rows)


def test_metric_loggers_always_include_csv(tmp_path):
    loggers = metric_loggers(tmp_path)
    assert isinstance(loggers[0], CSVLogger)
    for logger in loggers:
        logger.close()


def test_progress_bar_is_quiet_when_stderr_is_not_a_terminal(capsys):
    bar = TrainingProgress(100)  # pytest captures stderr: not a terminal
    assert not bar.enabled
    bar.update(TrainEvent(step=10, updates=1, elapsed=0.1, metrics={}, evaluation=None))
    bar.close()
    assert capsys.readouterr().err == ""
    assert TrainingProgress(100, enabled=True).enabled


# -- hyperparameter sampling ---------------------------------------------------------------------------

@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), lr_low=st.floats(1e-5, 1e-3), lr_span=st.floats(1, 100),
       gamma_low=st.floats(0.5, 0.99), depth_high=st.integers(1, 4))
def test_sampled_hparams_lie_in_their_ranges_and_give_a_valid_spec_and_config(seed, lr_low, lr_span, gamma_low,
                                                                               depth_high):
    ranges = HParamRanges(lr=(lr_low, lr_low * lr_span), gamma=(gamma_low, 0.999), depth=(1, depth_high))
    hp = sample_hparams(ranges, np.random.default_rng(seed))
    for name in ("lr", "ent_coef", "clip_coef", "gamma", "gae_lambda", "epochs"):
        low, high = getattr(ranges, name)
        assert low <= hp[name] <= high, name
    assert 1 <= len(hp["hidden"]) <= depth_high and all(w in ranges.width for w in hp["hidden"])
    assert hp["n_steps"] in ranges.n_steps and hp["activation"] in ranges.activation
    spec = spec_from_hparams(hp, obs_dim=18, n_actions=9)
    assert build_network(spec)(torch.zeros(2, 18))[0].shape == (2, 9)
    config = config_from_hparams(hp, PPOConfig(n_envs=8))
    assert config.hidden == tuple(hp["hidden"]) and config.lr == hp["lr"] and config.n_envs == 8
    assert spec["hidden"] == list(config.hidden)  # the trainer builds exactly this spec


def test_hparams_are_a_function_of_the_seed_and_json_able():
    import json
    a = sample_hparams(HParamRanges(), 5)
    assert a == sample_hparams(HParamRanges(), np.random.default_rng(5))
    assert json.loads(json.dumps(a)) == a
    assert a != sample_hparams(HParamRanges(), 6)
    # Per role: repeatable, and different roles draw differently.
    r0 = sample_hparams(HParamRanges(), role_rng(1, "player_0"))
    assert r0 == sample_hparams(HParamRanges(), role_rng(1, "player_0"))
    assert r0 != sample_hparams(HParamRanges(), role_rng(1, "player_1"))


@pytest.mark.parametrize("kwargs, name", [
    ({"lr": (1e-3, 1e-4)}, "lr"), ({"lr": (0.0, 1e-3)}, "lr"), ({"gamma": (0.9, 1.0)}, "gamma"),
    ({"width": ()}, "width"), ({"depth": (1.5, 2)}, "depth"), ({"activation": ("gelu",)}, "activation"),
])
def test_bad_ranges_name_the_field(kwargs, name):
    with pytest.raises(ConfigError, match=rf"HParamRanges\.{name} = "):
        HParamRanges(**kwargs)


# -- on the real self-play env ---------------------------------------------------------------------

envs = pytest.importorskip("envs")


def _tictactoe_run(seed: int) -> TrainResult:
    game = envs.make("tictactoe")
    config = PPOConfig(n_envs=4, n_steps=64, epochs=2, minibatches=2, hidden=(32, 32), seed=seed)
    env = envs.SelfPlayVecEnv(game, "player_1", envs.ReferenceOpponents(game, "random"), 4, seed=seed)
    evaluation = EvalCallback.vs_reference(game, "player_1", episodes=20, n_envs=4, every=512, greedy=False)
    return train(env, config, stop=StopRules(max_steps=2048), evaluation=evaluation, progress=False)


def test_same_seed_gives_identical_weights_on_cpu():
    a, b, c = _tictactoe_run(3), _tictactoe_run(3), _tictactoe_run(4)
    assert same(a.last_weights, b.last_weights) and same(a.best_weights, b.best_weights)
    assert a.evaluations == b.evaluations
    assert not same(a.last_weights, c.last_weights)


def test_evaluation_plays_exactly_the_requested_episodes_and_is_repeatable():
    game = envs.make("tictactoe")
    net = build_network(mlp_spec(game.obs_dim("player_1"), game.n_actions("player_1"), (16,)))
    for greedy in (True, False):
        evaluation = EvalCallback.vs_reference(game, "player_1", episodes=37, n_envs=5, greedy=greedy)
        first = evaluation.evaluate(net, step=7)
        assert first.episodes == 37 and first.step == 7
        assert first.win_rate + first.draw_rate + first.loss_rate == pytest.approx(1.0)
        assert -1.0 <= first.mean_return <= 1.0
        assert evaluation.evaluate(net, step=7) == first  # the same seed, the same games


def test_evaluation_tells_perfect_play_from_random_play():
    # play_episodes takes any act(obs, mask) function: perfect play never loses as first player.
    game = envs.make("tictactoe")
    env = envs.SelfPlayVecEnv(game, "player_1", envs.ReferenceOpponents(game, "random"), 8, seed=0)
    from league.training.callbacks import play_episodes
    minimax = game.reference("minimax", "player_1")
    rng = np.random.default_rng(0)
    strong = play_episodes(env, lambda o, m: minimax.act(o, m, rng), 200, seed=0)
    weak = play_episodes(env, lambda o, m: envs.UniformRandomPolicy(9).act(o, m, rng), 200, seed=0)
    assert strong.loss_rate == 0.0 and strong.win_rate > 0.9
    assert weak.score < strong.score


def test_progress_bar_shows_steps_and_the_latest_evaluation_when_asked(capsys):
    train(GuessVecEnv(4), small_config(), stop=StopRules(max_steps=2 * BATCH),
          evaluation=ScriptedEval([0.5, 0.75]), progress=True)
    err = capsys.readouterr().err
    assert "step/s" in err and "eval@" in err and "win 0." in err


def test_tensorboard_logger_writes_when_installed(tmp_path):
    pytest.importorskip("tensorboard")
    from league.training.callbacks import TensorBoardLogger
    logger = TensorBoardLogger(tmp_path)
    train(GuessVecEnv(4), small_config(), stop=StopRules(max_steps=BATCH), callbacks=[logger], progress=False)
    logger.close()
    assert any(tmp_path.iterdir())


def test_evaluation_against_a_given_seating():
    game = envs.make("tictactoe")
    # Seeded: how often an untrained network loses (rather than draws) depends on its weights; some
    # initialisations draw minimax every game, and the global torch RNG depends on test order.
    torch.manual_seed(1)
    net = build_network(mlp_spec(game.obs_dim("player_1"), game.n_actions("player_1"), (16,)))
    # Perfect play in the other seat: an untrained network can never win.
    perfect = EvalCallback.vs_seating(game, "player_1", {"player_2": "minimax"}, episodes=40, n_envs=4)
    result = perfect.evaluate(net)
    assert result.episodes == 40 and result.win_rate == 0.0 and result.loss_rate > 0.5
    seated = EvalCallback.vs_seating(game, "player_1", {"player_2": game.reference("random", "player_2")},
                                     episodes=40, n_envs=4).evaluate(net)
    assert seated.win_rate > 0.0
