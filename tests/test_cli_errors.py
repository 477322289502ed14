"""Faults a new user meets, through the real commands: each is one line on stderr and a non-zero
exit, and nothing stored changes; ``--resume DIR key=value`` saves its overrides."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import numpy as np
import pytest

import envs
from league.errors import WeightsShapeError
from league.pool import Pool
from league.population.opponents import MemberLoader


def _cli(module: str, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", module, *args], capture_output=True, text=True, timeout=timeout)


def _one_line(proc: subprocess.CompletedProcess, *fragments: str) -> None:
    err = proc.stderr
    assert proc.returncode != 0, err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    for fragment in fragments:
        assert fragment in err, err


def _tree(root: Path) -> dict[str, str]:
    """Every file under ``root`` with a hash of its bytes (directories as '')."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else ""
            for p in sorted(root.rglob("*"))}


def test_out_pointing_at_a_file(tmp_path):
    target = tmp_path / "notes.txt"
    target.write_text("mine\n")
    proc = _cli("league.run", "--out", str(target), "game.name=tictactoe")
    _one_line(proc, f"--out {target} is a file, not a directory")
    assert proc.returncode == 2
    assert target.read_text() == "mine\n" and sorted(os.listdir(tmp_path)) == ["notes.txt"]


@pytest.fixture
def read_only_dir(tmp_path):
    """A directory the run may not write: a read-only bind mount as root (chmod does not stop
    root), else a chmod 555 directory."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "keep.txt").write_text("kept\n")
    if os.geteuid() != 0:
        src.chmod(0o555)
        yield src
        src.chmod(0o755)
        return
    view = tmp_path / f"ro_{uuid.uuid4().hex[:6]}"
    view.mkdir()
    bind = subprocess.run(["mount", "--bind", str(src), str(view)], capture_output=True, text=True)
    if bind.returncode != 0:
        pytest.skip(f"root, but cannot bind-mount here ({bind.stderr.strip()}), and chmod does not stop root")
    try:
        ro = subprocess.run(["mount", "-o", "remount,bind,ro", str(view)], capture_output=True, text=True)
        if ro.returncode != 0:
            pytest.skip(f"cannot remount the bind mount read-only ({ro.stderr.strip()})")
        yield view
    finally:
        subprocess.run(["umount", "-l", str(view)], check=False)


@pytest.mark.parametrize("inside", [False, True], ids=["out-is-the-dir", "out-inside-it"])
def test_out_on_a_read_only_directory(read_only_dir, inside):
    before = _tree(read_only_dir)
    out = read_only_dir / "run" if inside else read_only_dir
    proc = _cli("league.run", "--out", str(out), "game.name=tictactoe")
    _one_line(proc, "cannot write", str(read_only_dir))
    assert "Read-only file system" in proc.stderr or "Permission denied" in proc.stderr
    assert _tree(read_only_dir) == before


def test_leaderboard_of_a_run_directory_points_at_its_pool(finished_run):
    before = _tree(finished_run)
    proc = _cli("league.leaderboard", str(finished_run))
    _one_line(proc, f"did you mean {finished_run / 'pool'}?")
    assert proc.returncode == 2
    assert _tree(finished_run) == before


@pytest.mark.parametrize("text, says", [
    ('rotations = 1\n[game]\nnmae = "tictactoe"\n', "unknown config key 'game.nmae'"),
    ('rotatoins = 1\n', "unknown config key 'rotatoins'"),
    ('rotations = "two"\n', "config key 'rotations' = 'two': expected an integer"),
])
def test_a_typo_inside_a_config_file_names_the_file(tmp_path, text, says):
    config = tmp_path / "my.toml"
    config.write_text(text)
    proc = _cli("league.run", "--config", str(config), "--out", str(tmp_path / "run"))
    _one_line(proc, f"config file {str(config)!r}: ", says)
    assert proc.returncode == 2 and not (tmp_path / "run").exists()


def test_an_override_mistake_does_not_blame_the_file(tmp_path):
    config = tmp_path / "ok.toml"
    config.write_text("rotations = 1\n")
    proc = _cli("league.run", "--config", str(config), "--out", str(tmp_path / "run"), "rotations=x")
    _one_line(proc, "config key 'rotations' = 'x'")
    assert "ok.toml" not in proc.stderr


def test_a_tic_tac_toe_member_seated_in_connect_four_names_the_member(finished_run):
    with Pool.open(finished_run / "pool") as pool:
        member = next(m for m in pool.members() if not m.anchor)
        policy = MemberLoader(pool)(member.id)
    game = envs.make("connect_four")
    seats = list(game.seats)
    env = envs.SelfPlayEnv(game, seats[0], envs.FixedOpponents({seats[1]: policy}))
    obs, info = env.reset(seed=0)
    with pytest.raises(WeightsShapeError) as caught:
        # the member plays (and fails) once the learner has moved, whichever seat starts
        for _ in range(2):
            obs, *_, info = env.step(int(np.flatnonzero(info["action_mask"])[0]))
    msg = str(caught.value)
    assert msg.startswith(f"member {member.id} with spec ") and "\n" not in msg
    assert f"obs_dim {member.spec['obs_dim']}" in msg and f"n_actions {member.spec['n_actions']}" in msg
    assert f"observations of size {obs.shape[-1]} and 7 actions" in msg
    assert "mat1 and mat2" not in msg


@pytest.mark.slow  # trains two more turns
def test_resume_overrides_are_saved_for_the_next_resume(finished_run, tmp_path):
    run = tmp_path / "ttt"
    shutil.copytree(finished_run, run)
    saved = (run / "config.toml").read_text()
    assert "rotations = 1" in saved
    # an override the pool refuses: one line, and config.toml as it was
    proc = _cli("league.run", "--quiet", "--resume", str(run), "game.name=connect_four")
    _one_line(proc, "plays 'tictactoe'")
    assert (run / "config.toml").read_text() == saved
    proc = _cli("league.run", "--quiet", "--resume", str(run), "rotations=2")
    assert proc.returncode == 0, proc.stderr
    assert "league: 6/6 turns" in proc.stderr
    after = (run / "config.toml").read_text()
    assert "rotations = 2" in after and after.replace("rotations = 2", "rotations = 1") == saved
    again = _cli("league.run", "--quiet", "--resume", str(run))
    assert again.returncode == 0, again.stderr
    assert "league: 6/6 turns" in again.stderr and "6/4" not in again.stderr
