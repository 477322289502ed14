"""Content digests of weights files (schema 3: xxh3_128): recorded with the row in the same commit, checked
on every load; a damaged file raises ``WeightsCorruptError`` and never returns tensors.  Pools of
schema 1 (no digest column) still open, report their members as unverified, and are migrated
when opened for writing; pools of schema 2 (bare BLAKE2b digests) open, check those digests, and
keep them when migrated."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import h5py
import pytest
import safetensors.torch
import torch

from league.errors import PoolCorruptError, WeightsCorruptError, WeightsShapeError
from league.models import expected_shapes, mlp_spec
from league.pool import Pool, store
from league.pool.weights import LEGACY_DIGEST, file_digest

SPEC = mlp_spec(6, 3, [8])
RANDOM = {"kind": "random", "n_actions": 3}


def _weights(seed: int, dtype: torch.dtype = torch.float32) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return {k: torch.randn(s, generator=gen, dtype=torch.float64).to(dtype) for k, s in expected_shapes(SPEC).items()}


def _make_pool(root: Path) -> None:
    with Pool.create(root, game="g", roles=["a"]) as pool:
        pool.add("a", {}, spec=RANDOM, hparams={}, step=0, anchor=True)
        pool.add("a", _weights(1), spec=SPEC, hparams={}, step=1)
        pool.add("a", _weights(2, torch.bfloat16), spec=SPEC, hparams={}, step=2)  # through save_file
        pool.record_match(["p0", "p1"], [1, 2], [1, 2], [(26.0, 8.0), (24.0, 8.0)])


def _flip_bit(path: Path, from_end: int = 3, bit: int = 0) -> None:
    data = bytearray(path.read_bytes())
    data[-from_end] ^= 1 << bit
    path.write_bytes(bytes(data))


def _downgrade_to_schema_1(root: Path) -> None:
    """Rewrite index.h5 exactly as league wrote it before digests: schema_version 1, members
    table without the digest column (the store's layout for that version)."""
    index = root / store.INDEX_FILE
    with h5py.File(index, "r") as f:
        snap = store.read_snapshot(f, index)
    old = dataclasses.replace(snap, header=dataclasses.replace(snap.header, schema_version=1))
    tmp = root / "old.h5"
    store.write_index(tmp, old)
    os.replace(tmp, index)
    with h5py.File(index, "r") as f:
        assert f.attrs["schema_version"] == 1 and "digest" not in f["members"].dtype.names


def test_digest_is_recorded_with_the_row_and_matches_the_file(tmp_path):
    root = tmp_path / "pool"
    _make_pool(root)
    for mode in ("r", "a"):
        with Pool.open(root, mode) as pool:
            assert pool.digest(0) is None  # weightless
            for i in (1, 2):
                assert pool.digest(i) == file_digest(root / "weights" / f"{i}.safetensors")
                assert pool.digest(i).startswith("xxh3_128:") and len(pool.digest(i)) == 9 + 32
            assert pool.unverified() == []
    with h5py.File(root / "index.h5", "r") as f:
        assert f.attrs["schema_version"] == store.SCHEMA_VERSION == 3


@pytest.mark.parametrize("damage", ["bit_flip_end", "bit_flip_header", "truncated", "appended", "swapped"])
@pytest.mark.parametrize("mode", ["r", "a"])
def test_a_damaged_weights_file_raises_naming_member_file_and_both_digests(tmp_path, damage, mode):
    root = tmp_path / "pool"
    _make_pool(root)
    path = root / "weights" / "1.safetensors"
    with Pool.open(root) as pool:
        expected = pool.digest(1)
    if damage == "bit_flip_end":       # inside the last tensor's bytes: safetensors alone loads it fine
        _flip_bit(path)
        assert safetensors.torch.load_file(path).keys() == _weights(1).keys()
    elif damage == "bit_flip_header":
        _flip_bit(path, from_end=path.stat().st_size - 20, bit=1)
    elif damage == "truncated":
        path.write_bytes(path.read_bytes()[:-4])
    elif damage == "appended":
        path.write_bytes(path.read_bytes() + b"\0")
    elif damage == "swapped":          # a valid file of the same spec, but another member's
        safetensors.torch.save_file(_weights(7), path)
    actual = file_digest(path)
    with Pool.open(root, mode) as pool:
        with pytest.raises(WeightsCorruptError) as info:
            pool.weights(1)
        err = info.value
        msg = str(err)
        assert isinstance(err, PoolCorruptError) and "\n" not in msg
        assert "member 1" in msg and str(path) in msg and expected in msg and actual in msg
        assert (err.member_id, err.expected, err.actual) == (1, expected, actual)
        assert pool.weights(2)  # the others still load


def test_a_schema_1_pool_opens_reports_unverified_members_and_still_checks_shapes(tmp_path):
    root = tmp_path / "pool"
    _make_pool(root)
    _downgrade_to_schema_1(root)
    with Pool.open(root, "r") as pool:
        assert len(pool) == 3 and [m.games for m in pool.members()] == [0, 1, 1]
        assert pool.unverified() == [1, 2]
        assert pool.digest(1) is None
        w = pool.weights(1)   # loads, unverified
        assert all(torch.equal(w[k], v) for k, v in _weights(1).items())
    # without a digest, a wrong file is caught only by the spec check
    safetensors.torch.save_file({"w": torch.zeros(3)}, root / "weights" / "2.safetensors")
    with Pool.open(root, "r") as pool:
        with pytest.raises(WeightsShapeError, match="member 2"):
            pool.weights(2)


def test_opening_a_schema_1_pool_for_writing_migrates_it_and_new_members_are_verified(tmp_path):
    root = tmp_path / "pool"
    _make_pool(root)
    _downgrade_to_schema_1(root)
    with Pool.open(root, "r") as early_reader:          # a reader of the old file follows the new one
        assert early_reader.unverified() == [1, 2]
        with Pool.open(root, "a") as pool:
            assert pool.unverified() == [1, 2]
            m = pool.add("a", _weights(3), spec=SPEC, hparams={}, step=3)
            assert pool.digest(m.id) == file_digest(root / "weights" / f"{m.id}.safetensors")
            pool.record_match(["p0", "p1"], [1, 3], [2, 1], [(20.0, 7.0), (30.0, 7.0)])
        assert len(early_reader) == 4 and early_reader.unverified() == [1, 2]
        assert early_reader.digest(3) is not None
    with h5py.File(root / "index.h5", "r") as f:
        assert f.attrs["schema_version"] == 3
    _flip_bit(root / "weights" / "3.safetensors")
    with Pool.open(root, "r") as pool:
        assert [m.games for m in pool.members()] == [0, 2, 1, 1]
        with pytest.raises(WeightsCorruptError, match="member 3"):
            pool.weights(3)
    assert sorted(p.name for p in root.iterdir()) == ["index.h5", "weights", "writer.lock"]


def _downgrade_to_schema_2(root: Path) -> None:
    """Rewrite index.h5 as schema 2 wrote it: bare BLAKE2b-128 hex digests in an S32 column."""
    index = root / store.INDEX_FILE
    with h5py.File(index, "r") as f:
        snap = store.read_snapshot(f, index)
    rows = snap.rows.copy()
    for i in range(len(rows)):
        if rows[i]["digest"]:
            rows[i]["digest"] = file_digest(root / "weights" / f"{i}.safetensors", LEGACY_DIGEST).encode()
    old = dataclasses.replace(snap, rows=rows, header=dataclasses.replace(snap.header, schema_version=2))
    tmp = root / "old.h5"
    store.write_index(tmp, old)
    os.replace(tmp, index)
    with h5py.File(index, "r") as f:
        assert f.attrs["schema_version"] == 2 and f["members"].dtype == store.MEMBER_DTYPE_V2


def test_a_schema_2_pool_checks_its_blake2b_digests_and_keeps_them_when_migrated(tmp_path):
    root = tmp_path / "pool"
    _make_pool(root)
    _downgrade_to_schema_2(root)
    with Pool.open(root, "r") as pool:
        old = pool.digest(1)
        assert len(old) == 32 and ":" not in old and pool.unverified() == []
        assert all(torch.equal(pool.weights(1)[k], v) for k, v in _weights(1).items())
    with Pool.open(root, "a") as pool:                   # migrates to schema 3
        assert pool.digest(1) == old
        m = pool.add("a", _weights(3), spec=SPEC, hparams={}, step=3)
        assert pool.digest(m.id).startswith("xxh3_128:")
    with h5py.File(root / "index.h5", "r") as f:
        assert f.attrs["schema_version"] == 3
    _flip_bit(root / "weights" / "1.safetensors")
    with Pool.open(root, "r") as pool:
        assert pool.digest(1) == old
        with pytest.raises(WeightsCorruptError, match="its blake2b-128 digest is [0-9a-f]{32}, the pool recorded " + old):
            pool.weights(1)
        assert pool.weights(3)


def test_verified_loads_are_exact_writable_and_independent(tmp_path):
    # A verified load hands out views of the bytes it read (no safetensors copy): each load
    # must still be its own memory, bit-equal to what was added, in every dtype.
    root = tmp_path / "pool"
    with Pool.create(root, game="g", roles=["a"]) as pool:
        added = {dtype: _weights(5, dtype) for dtype in (torch.float32, torch.float64, torch.float16,
                                                           torch.bfloat16)}
        ids = {dtype: pool.add("a", w, spec=SPEC, hparams={}, step=0).id for dtype, w in added.items()}
    with Pool.open(root) as pool:
        for dtype, w in added.items():
            first, second = pool.weights(ids[dtype]), pool.weights(ids[dtype])
            assert all(first[k].dtype == dtype and torch.equal(first[k], v) for k, v in w.items())
            name = next(iter(first))
            first[name].add_(1)
            assert torch.equal(second[name], w[name])
