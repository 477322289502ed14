"""The README's "After a run" examples run as written, on a finished tiny tic-tac-toe run."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pexpect
import pytest


README = Path(__file__).resolve().parents[1] / "README.md"


def _section() -> str:
    text = README.read_text()
    start = text.index("## After a run")
    return text[start:text.index("\n## ", start + 5)]


def _blocks(lang):
    return re.findall(rf"```{lang}\n(.*?)```", _section(), flags=re.S)


def _commands():
    return [line.strip() for block in _blocks("bash") for line in block.splitlines() if line.strip()]


@pytest.fixture
def in_run_dir(finished_run, tmp_path, monkeypatch):
    """A working directory holding the run as ``runs/ttt``, the venv's ``league`` on the path."""
    shutil.copytree(finished_run, tmp_path / "runs" / "ttt")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    return tmp_path


def _shell(command):
    proc = subprocess.run(command, shell=True, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, (command, proc.stderr)
    return proc


def test_the_section_has_every_kind_of_example():
    commands = _commands()
    assert len(_blocks("python")) == 2
    for word in ("league play", "league watch", "--format torchscript", "--format onnx"):
        assert any(word in c for c in commands), word


def test_load_example(in_run_dir):
    ns: dict = {}
    exec(compile(_blocks("python")[0], "README.md", "exec"), ns)  # noqa: S102 -- our own document
    assert isinstance(ns["action"], int) and ns["actions"].shape == (2,)
    assert ns["mixed"].member.role == "player_1"


def test_play_example(in_run_dir):
    [command] = [c for c in _commands() if c.startswith("league play")]
    child = pexpect.spawn("/bin/sh", ["-c", command], encoding="utf-8", timeout=60, env=dict(os.environ))
    child.expect(r"one of ([0-9 ]+): ")
    child.sendline("9")  # not a cell: asked again
    child.expect("'9' is not a legal move")
    while True:
        child.expect(r"one of ([0-9 ]+): |(you win|draw|the member wins)")
        if child.match.group(2):
            break
        child.sendline(child.match.group(1).split()[0])
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0


def test_watch_example(in_run_dir):
    [command] = [c for c in _commands() if c.startswith("league watch")]
    proc = _shell(command)
    assert "result: player_1" in proc.stdout and (in_run_dir / "match.gif").stat().st_size > 0


def test_export_examples(in_run_dir):
    for command in (c for c in _commands() if c.startswith("league export")):
        _shell(command)
    ns: dict = {}
    exec(compile(_blocks("python")[1], "README.md", "exec"), ns)  # noqa: S102
    probs = ns["probs"].detach().numpy()
    assert probs.shape == (1, 9) and abs(probs.sum() - 1) < 1e-5
    from league.export import load_exported

    obs, mask = np.zeros((1, 18), np.float32), np.ones((1, 9), bool)
    np.testing.assert_allclose(load_exported("player_2.onnx")(obs, mask), probs, atol=1e-5)
