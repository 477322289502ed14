"""``python -m league.verify``: one line per problem and a summary, exit 0 clean / 1 damaged /
2 no pool; read-only unless ``--retire-damaged``, which retires the damaged members in one call."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from league.errors import PoolCorruptError
from league.models import expected_shapes, mlp_spec
from league.pool import Pool, store
from league.verify import RETIRE_REASON, main, verify

SPEC = mlp_spec(6, 3, [8])
RANDOM = {"kind": "random", "n_actions": 3}
ROOT = Path(__file__).resolve().parent.parent


def _weights(seed: int) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return {k: torch.randn(s, generator=gen) for k, s in expected_shapes(SPEC).items()}


@pytest.fixture
def pool_dir(tmp_path: Path) -> Path:
    """A closed pool with an anchor, three trained members (one retired), two matches, a run state."""
    root = tmp_path / "run" / "pool"
    with Pool.create(root, game="g", roles=["x", "o"]) as pool:
        pool.add("o", {}, spec=RANDOM, hparams={}, step=0, anchor=True)
        for i in (1, 2, 3):
            pool.add("x", _weights(i), spec=SPEC, hparams={"lr": 1e-3}, step=100 * i, state={"turn": i})
        pool.record_match(["p0", "p1"], [1, 0], [1, 2], [(26.0, 8.0), (24.0, 8.1)], seed=1)
        pool.record_match(["p0", "p1"], [2, 0], [2, 1], [(23.0, 7.9), (25.0, 7.8)], seed=2)
        pool.retire(3, "stale")
    return root


def _fingerprint(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and p.name != "writer.lock"}


def _run(capsys, *argv: str) -> tuple[int, list[str], str]:
    code = main([*argv])
    out, err = capsys.readouterr()
    return code, out.splitlines(), err


def _flip(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[-5] ^= 0x10
    path.write_bytes(bytes(data))


def test_a_clean_pool_exits_0_with_one_summary_line_and_is_not_touched(pool_dir, capsys):
    before = _fingerprint(pool_dir)
    code, out, err = _run(capsys, str(pool_dir))
    assert code == 0 and err == ""
    assert out == [f"{pool_dir}: 4 members, 3 weights files checked, 2 matches: clean"]
    assert _fingerprint(pool_dir) == before


def test_a_run_directory_is_accepted_and_a_missing_pool_is_one_line_exit_2(pool_dir, tmp_path, capsys):
    code, out, _ = _run(capsys, str(pool_dir.parent))        # RUN_DIR: checks RUN_DIR/pool
    assert code == 0 and out[-1].startswith(f"{pool_dir}:")
    code, out, err = _run(capsys, str(tmp_path / "nothing"))
    assert code == 2 and out == [] and len(err.splitlines()) == 1 and "no pool at" in err


@pytest.mark.parametrize("damage", ["bit_flip", "truncated", "deleted", "wrong_spec"])
def test_each_damaged_weights_file_is_one_line_naming_the_member(pool_dir, capsys, damage):
    path = pool_dir / "weights" / "2.safetensors"
    if damage == "bit_flip":
        _flip(path)
    elif damage == "truncated":
        path.write_bytes(path.read_bytes()[:100])
    elif damage == "deleted":
        path.unlink()
    else:   # a real file of another network: the digest catches it first
        import safetensors.torch
        safetensors.torch.save_file({"w": torch.zeros(3)}, path)
    before = _fingerprint(pool_dir)
    code, out, _ = _run(capsys, str(pool_dir))
    assert code == 1 and len(out) == 2, out
    assert out[0].startswith("member 2: ") and "2.safetensors" in out[0]
    assert ("missing" if damage == "deleted" else "damaged") in out[0]
    assert out[1].endswith(": 1 problem")
    assert _fingerprint(pool_dir) == before
    report = verify(pool_dir)
    assert report.damaged_members == [2]


def test_retire_damaged_retires_them_with_a_reason_and_keeps_them_in_the_all_index(pool_dir, capsys):
    _flip(pool_dir / "weights" / "1.safetensors")
    _flip(pool_dir / "weights" / "3.safetensors")    # already retired: keeps its first reason
    (pool_dir / "weights" / "2.safetensors").unlink()
    code, out, _ = _run(capsys, str(pool_dir), "--retire-damaged")
    assert code == 1 and len(out) == 5 and out[3].endswith(": 3 problems")
    assert out[4] == f"{pool_dir}: retired 2 damaged members [1, 2]; already retired: [3]"
    with Pool.open(pool_dir) as pool:
        members = pool.members()
        assert len(members) == 4
        assert [m.active for m in members] == [True, False, False, False]
        assert [m.retired_reason for m in members] == [None, RETIRE_REASON, RETIRE_REASON, "stale"]
        assert [m.games for m in members] == [2, 1, 1, 0]
    code, out, _ = _run(capsys, str(pool_dir), "--retire-damaged")   # nothing more to retire
    assert code == 1 and out[4] == f"{pool_dir}: the damaged members are already retired: [1, 2, 3]"


def _newest_slot(index: Path) -> int:
    with h5py.File(index, "r") as f:
        return store.Commit.decode(f["counts"][...]).gen % 2


def test_a_damaged_commit_record_slot_is_reported(pool_dir, capsys):
    index = pool_dir / "index.h5"
    slot = _newest_slot(index)
    with h5py.File(index, "r+") as f:
        f["counts"][slot, 1] += 1   # the checksum no longer holds
    code, out, _ = _run(capsys, str(pool_dir))
    assert code == 1 and out[0].startswith(f"commit record: slot {slot} is damaged")
    with h5py.File(index, "r+") as f:   # both slots: the index cannot be read at all
        f["counts"][...] = 7
    code, out, _ = _run(capsys, str(pool_dir))
    assert code == 1 and len(out) == 2 and out[0].startswith("index: ") and "commit record" in out[0]


def _edit_row(index: Path, i: int, **fields) -> None:
    with h5py.File(index, "r+") as f:
        row = f["members"][i]
        for k, v in fields.items():
            row[k] = v
        f["members"][i] = row


@pytest.mark.parametrize("damage, expect", [
    (dict(games=5), "member 1: has games=5 but the match log seats it 1 times"),
    (dict(mu=99.0), "member 1: rating (99.0, 8.0) differs from its last logged match's (26.0, 8.0)"),
    (dict(version=7), "member 1: version 7 of role 'x', expected 0"),
    (dict(active=0), "member 1: is retired without a reason"),
    (dict(sigma=-1.0), "member 1: rating mu=26.0 sigma=-1.0 is not finite with sigma > 0"),
    (dict(digest=b"zz"), "member 1: its recorded digest b'zz' is malformed"),
])
def test_a_damaged_member_row_is_reported(pool_dir, capsys, damage, expect):
    _edit_row(pool_dir / "index.h5", 1, **damage)
    code, out, _ = _run(capsys, str(pool_dir))
    assert code == 1 and out[0].startswith(expect), out


def _overwrite_blob(index: Path, off: int, data: bytes) -> None:
    with h5py.File(index, "r+") as f:
        f["blobs"][off: off + len(data)] = np.frombuffer(data, dtype="u1")


def test_a_damaged_run_state_and_match_document_are_reported(pool_dir, capsys):
    index = pool_dir / "index.h5"
    with h5py.File(index, "r") as f:
        c = store.Commit.decode(f["counts"][...])
        m1 = f["matches"][1]
    _overwrite_blob(index, c.state_off, b"{" * c.state_len)
    _overwrite_blob(index, int(m1["off"]), b"[" + b" " * (int(m1["len"]) - 1))
    code, out, _ = _run(capsys, str(pool_dir))
    lines = [line.split(":")[0] for line in out[:-1]]
    assert code == 1 and "run state" in lines and "match 1" in lines, out
    with Pool.open(pool_dir) as pool:   # the pool itself notices when they are read
        with pytest.raises(PoolCorruptError, match="run state is damaged"):
            pool.state
        with pytest.raises(PoolCorruptError, match="match 1 of the log is damaged"):
            pool.matches()


def test_a_schema_1_pool_is_clean_with_its_members_unverified(pool_dir, capsys):
    import dataclasses
    import os
    index = pool_dir / "index.h5"
    with h5py.File(index, "r") as f:
        snap = store.read_snapshot(f, index)
    store.write_index(pool_dir / "old.h5", dataclasses.replace(
        snap, header=dataclasses.replace(snap.header, schema_version=1)))
    os.replace(pool_dir / "old.h5", index)
    code, out, _ = _run(capsys, str(pool_dir))
    assert code == 0 and out == [f"{pool_dir}: 4 members, 3 weights files checked, 3 unverified "
                                 "(added before digests were recorded), 2 matches: clean"]


def test_python_dash_m_league_verify_runs(pool_dir):
    _flip(pool_dir / "weights" / "1.safetensors")
    res = subprocess.run([sys.executable, "-m", "league.verify", str(pool_dir)], capture_output=True, text=True,
                         cwd=ROOT, timeout=120)
    assert res.returncode == 1 and res.stderr == "" and len(res.stdout.splitlines()) == 2
