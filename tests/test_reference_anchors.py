"""A game's reference opponents (minimax) seated as anchors: ``game.references`` in the config.

They are pool members of a weightless kind that any process rebuilds from the spec alone; the
league trains and rates against them, never prunes them, and never mixes them into its answer
(the population policy).
"""

import subprocess
import sys

import numpy as np
import pytest

from envs.games.connect_four import ConnectFourMinimax
from envs.games.tictactoe import TicTacToeMinimax
from league.config import load_config
from league.errors import ConfigError, SpecError
from league.models import build_policy, is_reference, is_weightless, reference_spec
from league.pool import Pool

from conftest import TINY


def test_a_reference_spec_builds_the_games_reference_with_the_games_arguments():
    policy = build_policy(reference_spec("minimax", "connect_four", {"depth": 2}, 7))
    assert isinstance(policy, ConnectFourMinimax) and policy.depth == 2
    assert isinstance(build_policy(reference_spec("minimax", "tictactoe", {}, 9)), TicTacToeMinimax)
    spec = reference_spec("minimax", "tictactoe", {}, 9)
    assert is_weightless(spec) and is_reference(spec)
    assert not is_reference({"kind": "random", "n_actions": 9})


def test_a_malformed_reference_spec_is_refused():
    with pytest.raises(SpecError, match="reference spec needs"):
        build_policy({"kind": "reference", "name": "minimax", "n_actions": 9})  # no game


@pytest.mark.parametrize("refs", [["random"], ["minimax", "minimax"], "minimax", [""]])
def test_bad_reference_lists_are_refused_naming_the_key(refs):
    with pytest.raises(ConfigError, match="game.references"):
        load_config(base={"game": {"name": "tictactoe", "references": refs}})


def test_an_unknown_reference_fails_before_anything_is_written(tmp_path):
    out = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-m", "league.run", "--out", str(out), *TINY,
                           "game.references=['oracle']"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "oracle" in lines[0] and "minimax" in lines[0], proc.stderr
    assert not (out / "pool").exists()


@pytest.fixture(scope="module")
def minimax_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("refs") / "run"
    proc = subprocess.run([sys.executable, "-m", "league.run", "--out", str(out), *TINY,
                           "game.references=['minimax']", "population.episodes=8",
                           "sampling.anchor_share=0.2", "sampling.reference_share=0.3"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out


def test_minimax_anchors_are_seated_rated_and_kept_out_of_the_answer(minimax_run):
    with Pool.open(minimax_run / "pool") as pool:
        members = pool.members()
        refs = [m for m in members if is_reference(m.spec)]
        assert sorted(m.role for m in refs) == ["player_1", "player_2"]
        assert all(m.anchor and m.active and m.hparams["anchor"] == "reference:minimax" for m in refs)
        # The evaluation plays them, and perfect play earns the best rating of its role: the
        # trained members of a tiny run lose to it, the random anchor loses to everyone.
        for ref in refs:
            assert ref.games > 0
            role = [m for m in members if m.role == ref.role and m.id != ref.id]
            assert all(ref.mu > m.mu for m in role), [(m.id, m.mu) for m in role]
        # The league's answer mixes trained members only.
        population = pool.state["population"]
        ref_ids = {str(m.id) for m in refs}
        assert population and all(not (set(mix) & ref_ids) for mix in population.values())
        # The leaderboard's best member is a trained one.
        for role in ("player_1", "player_2"):
            best = max((m for m in pool.active(role) if not m.anchor), key=lambda m: m.conservative)
            assert not is_reference(best.spec)


def test_minimax_joins_the_training_opponents_after_the_bootstrap(minimax_run):
    # The bootstrap trains against random play only; from the first rotation on the minimax
    # anchor is a candidate the scheme weighs like any member, and the anchor share goes to the
    # random anchor alone.
    import envs
    from league.orchestration.phase import opponent_source
    from league.orchestration.plan import Turn
    from ratings import TrueSkillSystem

    config = load_config(minimax_run / "config.toml")
    game = envs.make("tictactoe")

    def seated_kinds(phase, rotation):
        with Pool.open(minimax_run / "pool") as pool:
            turn = Turn(index=3, phase=phase, rotation=rotation, role="player_2")
            source = opponent_source(config, game, pool, TrueSkillSystem(), turn, pool.active("player_2")[-1])
            rng = np.random.default_rng(0)
            seated = [source.pick(["player_1"], rng)["player_1"] for _ in range(400)]
            return [pool.member(i).spec["kind"] for i in seated]

    assert set(seated_kinds("bootstrap", 0)) == {"random"}
    rotation = seated_kinds("rotation", 1)
    assert {"random", "reference", "mlp"} <= set(rotation)
    # At least the run's shares: anchor_share 0.2 on random, reference_share 0.3 on minimax.
    assert rotation.count("random") >= 0.15 * len(rotation)
    assert rotation.count("reference") >= 0.25 * len(rotation)


def test_the_anchor_share_goes_to_random_anchors_not_references():
    from types import SimpleNamespace

    from league.population.sampling import SamplingConfig, scheme_probabilities

    def member(k, spec, anchor):
        return SimpleNamespace(id=k, role="o", version=k, mu=25.0, sigma=1.0, games=0, anchor=anchor, spec=spec)

    candidates = [member(0, {"kind": "random", "n_actions": 9}, True),
                  member(1, reference_spec("minimax", "tictactoe", {}, 9), True),
                  member(2, {"kind": "mlp"}, False)]
    x = np.array([1.0, 0.0, 0.5])  # beats random always, never beats minimax
    plain = scheme_probabilities("pfsp_hard", candidates, x, SamplingConfig())
    assert plain[0] == 0 and plain[1] > plain[2] > 0
    probs = scheme_probabilities("pfsp_hard", candidates, x, SamplingConfig(anchor_share=0.2))
    assert probs[0] == pytest.approx(0.2)
    assert np.allclose(probs[1:], 0.8 * plain[1:])
    both = scheme_probabilities("pfsp_hard", candidates, x, SamplingConfig(anchor_share=0.2, reference_share=0.3))
    assert both[0] == pytest.approx(0.2) and both.sum() == pytest.approx(1.0)
    assert both[1] == pytest.approx(0.3 + 0.5 * plain[1]) and both[2] == pytest.approx(0.5 * plain[2])
    # Without a reference among the candidates its share stays with the scheme.
    alone = scheme_probabilities("pfsp_hard", [candidates[0], candidates[2]], x[[0, 2]],
                                 SamplingConfig(anchor_share=0.2, reference_share=0.3))
    assert alone == pytest.approx([0.2, 0.8])


def test_shares_that_add_up_past_one_are_refused():
    from league.population.sampling import SamplingConfig

    with pytest.raises(ConfigError, match="reference_share"):
        SamplingConfig(anchor_share=0.6, reference_share=0.5)
