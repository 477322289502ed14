"""The Ray backend on a real local Ray instance: same ratings as the local backend, no match lost
or duplicated when a worker is killed, sharded rollouts equal to the local env, and the CLI end
to end (including a league actor killed mid-run)."""

import importlib.util
import io
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter

import numpy as np
import pytest
import torch

import envs
from league.config import load_config
from league.population.opponents import PoolOpponents
from league.orchestration import League
from league.models import build_network, mlp_spec
from league.pool import Pool

from test_league_run import TINY, run_cli

needs_ray = pytest.mark.skipif(importlib.util.find_spec("ray") is None,
                               reason="Ray is not installed: pip install -e '.[ray]'")


@pytest.fixture(scope="module")
def ray_cluster():
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()


def network_pool(path, game_name, per_role, seed=0):
    """A pool of one anchor and ``per_role`` untrained networks per role, each network made
    sharper or flatter by scaling its policy head, so that the members differ in strength."""
    game = envs.make(game_name)
    roles = list(dict.fromkeys(game.roles[s] for s in game.seats))
    with Pool.create(path, game=game_name, roles=roles) as pool:
        for role in roles:
            seat = next(s for s in game.seats if game.roles[s] == role)
            pool.add(role, {}, spec={"kind": "random", "n_actions": game.n_actions(seat)}, hparams={},
                     step=0, anchor=True)
            for i in range(per_role):
                torch.manual_seed(seed * 1000 + len(pool.members()))
                spec = mlp_spec(game.obs_dim(seat), game.n_actions(seat), (32,))
                net = build_network(spec)
                with torch.no_grad():
                    net.actor[-1].weight.mul_(50.0 * (i + 1))
                pool.add(role, net.state_dict(), spec=spec, hparams={}, step=i + 1)
    return path


def evaluate(tmp_path, name, game_name, budget, *, scale=None, batch=None, around_play=None, seed=7):
    """Play one evaluation turn with the League's own ``_evaluate`` on a copy of a fresh pool;
    returns the pool's (member id -> (mu, sigma)) and its match log."""
    src = tmp_path / "pool-src"
    if not src.exists():
        network_pool(src, game_name, per_role=4)
    out = tmp_path / name
    shutil.copytree(src, out / "pool")
    config = load_config(None, [f"game.name={game_name}", f"evaluation.budget={budget}", f"seed={seed}"])
    if batch is not None:
        config.evaluation.batch = batch
    league = League(config, out, resume=True, log=io.StringIO(),
                    backend_factory=None if scale is None else scale.backend)
    if around_play is not None:
        league.backend = around_play(league.backend)
    try:
        league._evaluate(league.turns[-1], 0)
        ratings = {m.id: (m.mu, m.sigma) for m in league.pool.members()}
        log = [(m.member_ids, m.ranks, m.seed) for m in league.pool.matches()]
    finally:
        league.close()
    return ratings, log


@pytest.fixture(scope="module")
def local_tiny(tmp_path_factory):
    """The tiny CLI league of test_league_run, on the local backend: the reference run."""
    out = tmp_path_factory.mktemp("local") / "ttt"
    proc = run_cli("--out", str(out), "--quiet", *TINY)
    assert proc.returncode == 0, proc.stderr
    return out


def assert_same_league(a_dir, b_dir):
    """Same members with the same ratings (to 1e-9) and the same match log."""
    with Pool.open(a_dir / "pool") as a, Pool.open(b_dir / "pool") as b:
        assert [(m.member_ids, m.ranks, m.seed) for m in a.matches()] == \
               [(m.member_ids, m.ranks, m.seed) for m in b.matches()]
        assert [(m.id, m.role, m.version) for m in a.members()] == [(m.id, m.role, m.version) for m in b.members()]
        for x, y in zip(a.members(), b.members()):
            assert (y.mu, y.sigma) == pytest.approx((x.mu, x.sigma), abs=1e-9, rel=0)


def ray_scale(game_name, workers=2, cache_size=8):
    from league.distributed import RayScaleOut

    return RayScaleOut(envs.make(game_name), workers=workers, cache_size=cache_size)


# ---------------------------------------------------------------------------------------------


def test_without_ray_the_cli_says_how_to_install(tmp_path):
    fake = tmp_path / "site" / "ray"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('ray is not installed')\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path / "site"), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-m", "league.run", "--backend", "ray", "--out", str(tmp_path / "o"),
                           "game.name=tictactoe"], capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 2
    assert proc.stderr.strip() == "league.run: error: --backend ray needs Ray: pip install -e '.[ray]'"
    assert not (tmp_path / "o").exists()


def test_importing_the_backend_does_not_import_ray():
    code = "import sys, league.distributed, league.orchestration, league.run; print('ray' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@needs_ray
def test_ray_backend_gives_exactly_the_local_ratings(tmp_path, ray_cluster):
    local_ratings, local_log = evaluate(tmp_path, "local", "connect_four", 48)
    scale = ray_scale("connect_four", cache_size=2)
    try:
        ray_ratings, ray_log = evaluate(tmp_path, "ray", "connect_four", 48, scale=scale)
        def count_pools(_worker):  # nested, so Ray ships it by value to the worker
            import gc

            from league.pool import Pool

            return sum(isinstance(o, Pool) for o in gc.get_objects())

        # Each member went into the object store once, however many chunks seated it.
        seated = {m for ids, _, _ in ray_log for m in ids}
        assert scale.store.puts == len(seated)
        # Workers keep a bounded cache (match runner + its env, 2 each here), never the league.
        import ray

        for actor in scale.workers.actors:
            assert len(ray.get(actor.cached.remote())) <= 2
            # ... and no worker ever opened the pool: it only saw object-store references.
            assert ray.get(actor.__ray_call__.remote(count_pools)) == 0
    finally:
        scale.close()
    assert len(ray_log) == 48 and ray_log == local_log
    assert ray_ratings.keys() == local_ratings.keys()
    for m, (mu, sigma) in local_ratings.items():
        assert ray_ratings[m] == pytest.approx((mu, sigma), abs=1e-9, rel=0)
    assert len({r for r in ray_ratings.values()}) > 2  # the evaluation really moved the ratings


@needs_ray
def test_killing_a_worker_mid_evaluation_loses_and_duplicates_no_match(tmp_path, ray_cluster):
    budget, batch = 192, 96
    local_ratings, local_log = evaluate(tmp_path, "local", "connect_four", budget, batch=batch)
    scale = ray_scale("connect_four")
    killed = []

    class KillDuringSecondBatch:
        """Kills worker 0 while it plays its chunk of the second batch."""

        def __init__(self, backend):
            self.inner, self.calls = backend, 0

        def play(self, seatings, seeds, method="play"):
            self.calls += 1
            # Asked of the worker itself, before the chunk: an actor answers calls in order.
            pid = scale.workers.pids()[0] if self.calls == 2 else None
            pending = self.inner.submit(seatings, seeds, method=method)
            if pid is not None:
                time.sleep(0.1)  # its chunk of 48 connect-four matches takes longer than this
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
            return self.inner.collect(pending)

        def play_episodes(self, seatings, seeds):
            return self.play(seatings, seeds, method="play_episodes")

        def close(self):
            self.inner.close()

    try:
        ray_ratings, ray_log = evaluate(tmp_path, "ray", "connect_four", budget, batch=batch, scale=scale,
                                        around_play=KillDuringSecondBatch)
        after = scale.workers.pids()
    finally:
        scale.close()
    assert killed and killed[0] not in after  # the worker was really killed and restarted
    assert len(ray_log) == budget
    assert all(c == 1 for c in Counter(seed for _, _, seed in ray_log).values())  # each seating once
    assert ray_log == local_log  # ... and exactly the seatings and results of an undisturbed run
    for m, rating in local_ratings.items():
        assert ray_ratings[m] == pytest.approx(rating, abs=1e-9, rel=0)


@needs_ray
@pytest.mark.parametrize("game_name", ["tictactoe", "texas_holdem"])
def test_rollouts_sharded_over_workers_match_the_local_env(tmp_path, ray_cluster, game_name):
    from league.distributed import RayVecEnv

    network_pool(tmp_path / "pool", game_name, per_role=3)
    game = envs.make(game_name)
    seat = game.seats[0]
    scale = ray_scale(game_name, cache_size=3)
    with Pool.open(tmp_path / "pool") as pool:
        roles = {s: game.roles[s] for s in game.seats}
        source = PoolOpponents(pool, roles, lambda ms: np.arange(1, len(ms) + 1) / sum(range(1, len(ms) + 1)))
        scale.backend(pool)
        try:
            local = envs.SelfPlayVecEnv(game, seat, source, 7, seed=11, cache_size=3)
            remote = RayVecEnv(scale.workers, scale.store, game, seat, source, 7, seed=11, cache_size=3)
            rng = np.random.default_rng(0)
            a, b = local.reset(), remote.reset()
            np.testing.assert_array_equal(a[0], b[0])
            np.testing.assert_array_equal(a[1]["action_mask"], b[1]["action_mask"])
            outcomes = 0
            for t in range(60):
                mask = local.action_masks()
                np.testing.assert_array_equal(mask, remote.action_masks())
                actions = np.array([rng.choice(np.flatnonzero(m)) for m in mask])
                if t == 30:
                    local.new_rollout()
                    remote.new_rollout()
                x, y = local.step(actions), remote.step(actions)
                for u, v in zip(x[:4], y[:4]):
                    np.testing.assert_array_equal(u, v)
                np.testing.assert_array_equal(x[4]["final_obs"], y[4]["final_obs"])
                # The same outcomes; the sharded env lists them by copy index.
                assert sorted(x[4]["outcomes"], key=lambda item: item[0]) == y[4]["outcomes"]
                outcomes += len(x[4]["outcomes"])
            assert outcomes > 7  # episodes ended and restarted in every shard
            assert [local.seating(i) for i in range(7)] == [remote.seating(i) for i in range(7)]
            remote.close()
        finally:
            scale.close()


@needs_ray
def test_cli_runs_a_tiny_league_on_ray_with_the_local_ratings(tmp_path, ray_cluster, local_tiny):
    # The CLI's default: start its own local Ray instance with this machine's cores.
    ray_run = run_cli("--backend", "ray", "--out", str(tmp_path / "ray"), *TINY)
    assert ray_run.returncode == 0, ray_run.stderr
    assert "league: on Ray with" in ray_run.stderr and "[turn 4/4]" in ray_run.stderr
    assert ray_run.stdout.strip() == (tmp_path / "ray" / "leaderboard.md").read_text().strip()
    with Pool.open(tmp_path / "ray" / "pool") as pool:
        assert len(pool.matches()) == 4 * 24 and pool.state["done"] is True
    assert_same_league(local_tiny, tmp_path / "ray")


@needs_ray
@pytest.mark.slow
def test_league_actor_killed_mid_run_resumes_with_the_local_ratings(tmp_path, ray_cluster, local_tiny):
    # Rollouts sharded over the workers too: with the same seeds, copy for copy, the resumed
    # run must end exactly where the uninterrupted local run did.
    out = tmp_path / "ray"
    proc = subprocess.Popen([sys.executable, "-m", "league.run", "--backend", "ray", "--address", ray_cluster,
                             "--rollout-shards", "2", "--out", str(out), *TINY],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    pid, lines = None, []
    for line in proc.stderr:
        lines.append(line)
        found = re.search(r"league actor pid (\d+)", line)
        pid = int(found.group(1)) if found else pid
        if "[turn 3/4]" in line:  # two members are in the pool, the third is training
            break
    assert pid is not None, "".join(lines)
    os.kill(pid, signal.SIGKILL)
    rest, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, "".join(lines) + err
    assert "resuming at turn 3/4" in err
    with Pool.open(out / "pool") as pool:
        turns = [m.hparams["turn"] for m in pool.members() if not m.anchor]
        assert len(turns) == len(set(turns)) and {0, 1} <= set(turns)  # no turn added twice
        assert len(pool.matches()) == 4 * 24 and pool.state["done"] is True
    assert_same_league(local_tiny, out)


@needs_ray
def test_a_lost_env_shard_is_an_error_that_restarts_the_turn_not_a_silent_gap(tmp_path, ray_cluster):
    from league.distributed import RayVecEnv, WorkerLostError

    network_pool(tmp_path / "pool", "tictactoe", per_role=2)
    game = envs.make("tictactoe")
    scale = ray_scale("tictactoe")
    with Pool.open(tmp_path / "pool") as pool:
        source = PoolOpponents(pool, dict(game.roles), lambda ms: np.full(len(ms), 1 / len(ms)))
        scale.backend(pool)
        try:
            env = RayVecEnv(scale.workers, scale.store, game, game.seats[0], source, 4, seed=3)
            env.reset()
            os.kill(scale.workers.pids()[1], signal.SIGKILL)
            with pytest.raises(WorkerLostError, match="shard"):
                for _ in range(5):
                    env.step(np.array([np.flatnonzero(m)[0] for m in env.action_masks()]))
        finally:
            scale.close()
