"""The ``league`` console script: --version, subcommand dispatch, and ``league watch``."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import league


def _league(*args, timeout=120):
    return subprocess.run([sys.executable, "-m", "league.cli", *args], capture_output=True, text=True,
                          timeout=timeout)


@pytest.mark.parametrize("command", [
    [sys.executable, "-m", "league.cli", "--version"],
    [sys.executable, "-m", "league.run", "--version"],
    [sys.executable, "-m", "league.cli", "run", "--version"],
])
def test_version_prints_the_package_version(command):
    proc = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout.strip() == f"league {league.__version__}"


def test_the_console_script_is_installed():
    script = shutil.which("league") or str(Path(sys.executable).with_name("league"))
    proc = subprocess.run([script, "--version"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout.strip() == f"league {league.__version__}"


def test_every_subcommand_answers_help_as_its_module():
    for name in ("run", "leaderboard", "play", "watch", "export", "verify"):
        proc = _league(name, "--help")
        assert proc.returncode == 0, (name, proc.stderr)
        assert f"python -m league.{name}" in proc.stdout


def test_a_missing_subcommand_module_is_one_line(monkeypatch, capsys):
    from league import cli

    monkeypatch.setitem(cli.COMMANDS, "verify", ("league.no_such_tool", "x"))
    assert cli.main(["verify", "somewhere"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "'league verify' is not available" in err


def test_run_accepts_q_and_v():
    proc = subprocess.run([sys.executable, "-m", "league.run", "-q", "-v"], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 2 and "not allowed with argument" in proc.stderr


def test_leaderboard_through_the_command(finished_run):
    proc = _league("leaderboard", str(finished_run / "pool"))
    assert proc.returncode == 0 and "## player_1" in proc.stdout


def test_watch_draws_a_match_and_writes_a_gif(finished_run, tmp_path):
    from PIL import Image

    gif = tmp_path / "match.gif"
    proc = _league("watch", str(finished_run), "--seating", "best:player_1,best:player_2", "--seed", "0",
                   "--gif", str(gif))
    assert proc.returncode == 0, proc.stderr
    moves = [line for line in proc.stdout.splitlines() if " plays " in line]
    assert 5 <= len(moves) <= 9 and proc.stdout.rstrip().splitlines()[-1].startswith("result: player_1 ")
    assert "---+---+---" in proc.stdout
    with Image.open(gif) as im:
        assert im.n_frames == len(moves) + 1
    again = _league("watch", str(finished_run), "--seating", "best:player_1,best:player_2", "--seed", "0")
    assert again.stdout == proc.stdout  # a seed replays the match


def test_watch_writes_an_mp4_of_the_rendered_game(finished_run, tmp_path):
    imageio = pytest.importorskip("imageio.v2", reason="the watch extra (imageio, imageio-ffmpeg) is not installed")
    mp4 = tmp_path / "match.mp4"
    proc = _league("watch", str(finished_run), "--seating", "best:player_1,best:player_2", "--seed", "0",
                   "--mp4", str(mp4))
    assert proc.returncode == 0, proc.stderr
    moves = [line for line in proc.stdout.splitlines() if " plays " in line]
    assert mp4.read_bytes()[4:8] == b"ftyp"  # an ISO media file
    with imageio.get_reader(str(mp4), format="FFMPEG") as reader:
        assert reader.count_frames() == len(moves) + 1  # the empty board, then a frame per move
        first, last = reader.get_data(0), reader.get_data(len(moves))
    # PettingZoo's own rgb_array drawing, scaled to at most 480 px: not blank, and the board changed.
    assert max(first.shape[:2]) <= 480 and first.std() > 10 and (first != last).any()


def test_watch_rejects_a_wrong_seating(finished_run):
    proc = _league("watch", str(finished_run), "--seating", "best:player_1")
    assert proc.returncode == 2 and "give one per seat" in proc.stderr and proc.stderr.count("\n") == 1
    proc = _league("watch", str(finished_run), "--seating", "best:player_2,best:player_1")
    assert proc.returncode == 2 and "plays role 'player_2', but seat 'player_1'" in proc.stderr
