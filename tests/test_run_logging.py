"""The run's training log: metrics.csv columns, what a resumed run keeps of it, TensorBoard, progress lines."""

import csv
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest

from league.config import load_config
from league.errors import ConfigError
from league.orchestration.metrics import RUN_COLUMNS, sync_metrics
from league.orchestration.plan import RunState
from league.pool import Pool

TINY = ["game.name=tictactoe", "rotations=1", "bootstrap.max_steps=1024", "training.max_steps=1024",
        "bootstrap.eval_every=512", "training.eval_every=512", "bootstrap.eval_episodes=16",
        "training.eval_episodes=16", "evaluation.budget=16", "report.anchor_episodes=8", "ppo.n_envs=8",
        "ppo.n_steps=32"]


def run_cli(*args, timeout=600):
    return subprocess.run([sys.executable, "-m", "league.run", *args], capture_output=True, text=True,
                          timeout=timeout)


def rows(path):
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def write(path, header, body):
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(body)


# ------------------------------------------------------------------------------ sync_metrics

def test_the_rows_of_a_turn_whose_training_is_not_committed_are_dropped(tmp_path):
    path = tmp_path / "metrics.csv"
    write(path, [*RUN_COLUMNS, "step"], [[0, "bootstrap", 0, "a", "", "", 10, 1.0, 10],
                                         [1, "bootstrap", 0, "b", "", "", 20, 2.0, 10],
                                         [2, "rotation", 1, "a", 2, "", 30, 3.0, 10]])
    with path.open("a") as fh:
        fh.write("2,rotation,1,a,2,,40")  # a line cut off by the kill
    dropped = sync_metrics(path, RunState(turn=2, stage="start"), {0: 2, 1: 3})
    assert dropped == 2
    got = rows(path)
    assert [(r["turn"], r["member"], r["global_step"]) for r in got] == [("0", "2", "10"), ("1", "3", "20")]


def test_a_trained_turn_keeps_its_rows_and_gets_its_member_id(tmp_path):
    path = tmp_path / "metrics.csv"
    write(path, [*RUN_COLUMNS, "step"], [[0, "bootstrap", 0, "a", "", "", 10, 1.0, 10],
                                         [1, "bootstrap", 0, "b", "", "", 20, 2.0, 10]])
    assert sync_metrics(path, RunState(turn=1, stage="evaluate"), {0: 2, 1: 3}) == 0
    assert [r["member"] for r in rows(path)] == ["2", "3"]
    before = path.read_bytes()
    assert sync_metrics(path, RunState(turn=1, stage="evaluate"), {0: 2, 1: 3}) == 0
    assert path.read_bytes() == before  # nothing to do: the file is left alone


def test_a_turn_that_added_nothing_keeps_an_empty_member_cell(tmp_path):
    path = tmp_path / "metrics.csv"
    write(path, [*RUN_COLUMNS, "step"], [[2, "rotation", 1, "a", 2, "", 10, 1.0, 10]])
    sync_metrics(path, RunState(turn=3, stage="start"), {0: 2})
    assert [(r["turn"], r["member"]) for r in rows(path)] == [("2", "")]


def test_a_file_cut_off_in_its_header_is_removed_and_an_old_file_gains_the_new_columns(tmp_path):
    cut = tmp_path / "cut.csv"
    cut.write_text("tu")
    sync_metrics(cut, RunState(turn=0, stage="start"), {})
    assert not cut.exists()
    old = tmp_path / "old.csv"
    write(old, ["turn", "phase", "rotation", "role", "step", "policy_loss"], [[0, "bootstrap", 0, "a", 512, 0.5]])
    sync_metrics(old, RunState(turn=1, stage="start"), {0: 2})
    got = rows(old)
    assert list(got[0]) == [*RUN_COLUMNS, "step", "policy_loss"]
    assert got[0]["member"] == "2" and got[0]["policy_loss"] == "0.5" and got[0]["global_step"] == ""


# ------------------------------------------------------------------------------ config

def test_the_logging_section_is_typed_and_checked():
    cfg = load_config(None, ["logging.tensorboard=true", "logging.csv=false"])
    assert cfg.logging.tensorboard is True and cfg.logging.csv is False
    with pytest.raises(ConfigError, match="logging.tensorboard"):
        load_config(None, ["logging.tensorboard=3"])


def test_tensorboard_without_the_package_is_one_line_before_anything_is_written(tmp_path):
    # A child that cannot import tensorboard: the run refuses with the install hint.
    code = ("import sys; sys.modules['torch.utils.tensorboard'] = None; from league.run import main; "
            f"sys.exit(main(['--out', {str(tmp_path / 'o')!r}, 'logging.tensorboard=true', *{TINY!r}]))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "pip install -e '.[tensorboard]'" in lines[0], proc.stderr
    assert not (tmp_path / "o").exists()


# ------------------------------------------------------------------------------ a real run

@pytest.fixture(scope="module")
def logged_run(tmp_path_factory):
    pytest.importorskip("tensorboard")
    out = tmp_path_factory.mktemp("logged") / "run"
    proc = run_cli("--out", str(out), "logging.tensorboard=true", *TINY)
    assert proc.returncode == 0, proc.stderr
    return out, proc.stderr


def test_metrics_rows_carry_the_turn_member_global_step_and_run_time(logged_run):
    out, _ = logged_run
    got = rows(out / "metrics.csv")
    assert list(got[0])[:len(RUN_COLUMNS)] == list(RUN_COLUMNS)
    with Pool.open(out / "pool") as pool:
        by_turn = {m.hparams["turn"]: m for m in pool.members() if not m.anchor}
        total = pool.state["steps"]
    steps = [int(r["global_step"]) for r in got]
    assert steps == sorted(steps) and len(set(steps)) == len(steps) and steps[-1] == total
    seconds = [float(r["run_seconds"]) for r in got]
    assert seconds == sorted(seconds) and seconds[0] > 0
    for r in got:
        turn = int(r["turn"])
        member = by_turn.get(turn)
        assert r["member"] == ("" if member is None else str(member.id))
        if member is not None:
            assert r["parent"] == ("" if member.parent is None else str(member.parent))
    # Within a turn the global step is the turn's own step plus every earlier turn's.
    first = {}
    for r in got:
        first.setdefault(r["turn"], int(r["global_step"]) - int(r["step"]))
    assert first["0"] == 0 and sorted(first.values()) == list(first.values())


def test_tensorboard_gets_one_curve_per_role_over_the_global_step(logged_run):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out, _ = logged_run
    events = EventAccumulator(str(out / "tensorboard"))
    events.Reload()
    tags = events.Tags()["scalars"]
    assert {"player_1/policy_loss", "player_2/policy_loss"} <= set(tags)
    csv_steps = {(r["role"], int(r["global_step"])) for r in rows(out / "metrics.csv")}
    tb_steps = {(role, e.step) for role in ("player_1", "player_2")
                for e in events.Scalars(f"{role}/policy_loss")}
    assert tb_steps == csv_steps


def test_a_log_gets_one_line_per_stage(logged_run):
    _, err = logged_run
    assert err.count(": training") == 4 and err.count("  added ") + err.count("nothing added") == 4
    assert err.count("  evaluated 16 matches in ") == 4
    assert err.count("report: measured") == 1
    assert "\r" not in err  # no bar in a log


@pytest.mark.slow
def test_a_run_killed_mid_training_and_resumed_repeats_no_metrics_row(tmp_path):
    out = tmp_path / "run"
    args = [*TINY, "rotations=2", "training.max_steps=4096"]
    proc = subprocess.Popen([sys.executable, "-m", "league.run", "--out", str(out), *args],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # Kill once a rotation turn has logged some of its updates (mid-training).
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        path = out / "metrics.csv"
        if path.exists() and any(r.get("turn") == "3" for r in rows(path)):
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the run ended before the kill"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    partial = [r for r in rows(out / "metrics.csv") if r.get("turn") == "3"]
    assert partial
    done = run_cli("--resume", str(out))
    assert done.returncode == 0, done.stderr
    assert "dropped" in done.stderr
    got = rows(out / "metrics.csv")
    keys = Counter((r["turn"], r["global_step"]) for r in got)
    assert max(keys.values()) == 1, [k for k, c in keys.items() if c > 1]
    # The resumed turn's rows are the uninterrupted session's, from its first update on.
    again = [r for r in got if r["turn"] == "3"]
    assert [r["global_step"] for r in again[:len(partial)]] == [r["global_step"] for r in partial]
    assert [r["policy_loss"] for r in again[:len(partial)]] == [r["policy_loss"] for r in partial]
