"""``league export``: each format loads back and gives the member's probabilities to 1e-5."""

import subprocess
import sys

import numpy as np
import pytest

import league
from league.export import load_exported


def _inputs():
    rng = np.random.default_rng(0)
    obs = (rng.random((32, 18)) < 0.3).astype(np.float32)
    mask = rng.random((32, 9)) < 0.5
    mask[:, 0] = True
    return obs, mask


@pytest.mark.parametrize("fmt, ext", [("torchscript", "pt"), ("onnx", "onnx"), ("safetensors", "safetensors")])
def test_export_round_trips(finished_run, tmp_path, fmt, ext):
    out = tmp_path / f"m.{ext}"
    proc = subprocess.run([sys.executable, "-m", "league.cli", "export", str(finished_run), "--member",
                           "3", "--format", fmt, "-o", str(out)], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(out) and proc.stderr == ""
    member = league.load_policy(finished_run, 3)   # a trained member (best:ROLE may be the anchor)
    obs, mask = _inputs()
    got, want = load_exported(out)(obs, mask), member.probs(obs, mask)
    assert got.shape == want.shape == (32, 9)
    np.testing.assert_allclose(got, want, atol=1e-5)
    assert np.all(got[~mask] == 0)  # a masked action has probability exactly 0
    # a single observation too
    np.testing.assert_allclose(load_exported(out)(obs[0], mask[0]), want[:1], atol=1e-5)


def test_the_torchscript_file_needs_only_torch(finished_run, tmp_path):
    out = tmp_path / "m.pt"
    assert league.export.export_member(finished_run, 3, "torchscript", out) == out
    code = ("import sys, torch; m = torch.jit.load(sys.argv[1]); p = m(torch.zeros(2, 18), torch.ones(2, 9).bool());"
            "print(tuple(p.shape), round(float(p.sum()), 4), 'league' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code, str(out)], capture_output=True, text=True, timeout=120,
                          cwd=tmp_path)
    assert proc.stdout.strip() == "(2, 9) 2.0 False", proc.stderr


@pytest.mark.parametrize("args, message", [
    (["--member", "0"], "weightless anchor"),
    (["--member", "99"], "no member 99"),
])
def test_bad_members_are_one_line_errors(finished_run, tmp_path, args, message):
    proc = subprocess.run([sys.executable, "-m", "league.export", str(finished_run), *args, "-o",
                           str(tmp_path / "x.pt")], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and message in proc.stderr and proc.stderr.count("\n") == 1
    assert not (tmp_path / "x.pt").exists()
