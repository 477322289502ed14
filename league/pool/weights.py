"""Members' weights files: where they live in a pool, the safetensors format, written atomically.

Each member with weights has one immutable file, ``<pool>/weights/<id>.safetensors``.
safetensors keeps dtypes and bytes exactly and loads fast.  Writing goes through our own
encoder of its (simple, documented) layout — 8-byte little-endian header length, a JSON header
of ``name -> {dtype, shape, data_offsets}``, then the raw bytes — because it can hand every
tensor's memory straight to ``os.write`` (one call per tensor) without the copies and checks of
``safetensors.torch.save_file`` (0.28 vs 0.45 ms for a 100k-parameter network).  Dtypes the
encoder does not know go through ``save_file``.  Reading: see below.

Every file's content digest is computed from the bytes as they are written and recorded in the
member's row as ``"<algorithm>:<hex>"`` (``DIGEST``: xxh3_128, from the ``xxhash`` package); a
load reads the file once, checks the digest and only then decodes the tensors, so a damaged file
raises ``WeightsCorruptError`` instead of handing out wrong weights (safetensors itself has no
checksum).  xxh3 is not cryptographic, and need not be: it guards against bit rot, truncation
and overwrites, not against someone forging a file, and hashes ~25 GB/s where BLAKE2b does ~0.2
(one core, a 20 MB buffer, measured side by side), which kept loads above torch.load's cost.
Rows of schema-2 pools hold a bare 32-digit hex BLAKE2b-128 digest; they are checked as such.
A verified file's tensors are views of the memory it was read into (one read, no copy); an
unverified one (schema 1) goes through safetensors' own checking decoder.

torch is imported inside the functions that handle tensors, not at the top: importing the
pool (a leaderboard export, a reader that only lists members) must not pay for torch.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np
import safetensors
import xxhash

from league.errors import MissingWeightsError, PoolCorruptError, WeightsCorruptError

if TYPE_CHECKING:
    import torch

__all__ = ["WEIGHTS_DIR", "DIGEST", "LEGACY_DIGEST", "weights_path", "save_weights", "load_weights",
           "load_member_weights", "file_digest", "digest_algorithm", "well_formed_digest"]

WEIGHTS_DIR = "weights"
DIGEST = "xxh3_128"          # the algorithm of new digests: rows hold "xxh3_128:<32 hex digits>"
LEGACY_DIGEST = "blake2b-128"   # schema 2's digests: 32 hex digits with no algorithm in front
_HEX_DIGITS = {DIGEST: 32, LEGACY_DIGEST: 32}


class _Hasher(Protocol):
    def update(self, data: bytes | memoryview, /) -> object: ...
    def hexdigest(self) -> str: ...


def _hasher(algorithm: str = DIGEST) -> _Hasher:
    if algorithm == DIGEST:
        return xxhash.xxh3_128()
    if algorithm == LEGACY_DIGEST:
        return hashlib.blake2b(digest_size=16)
    raise ValueError(f"unknown digest algorithm {algorithm!r}")


def digest_algorithm(recorded: str) -> str:
    """The algorithm of a digest as rows record it (a bare hex digest: schema 2's BLAKE2b)."""
    algorithm, sep, _ = recorded.partition(":")
    return algorithm if sep else LEGACY_DIGEST


def well_formed_digest(recorded: str) -> bool:
    """True for a digest this version can check: ``xxh3_128:<hex>`` or a bare BLAKE2b hex."""
    algorithm = digest_algorithm(recorded)
    digits = recorded.partition(":")[2] if ":" in recorded else recorded
    return (algorithm in _HEX_DIGITS and len(digits) == _HEX_DIGITS[algorithm]
            and not digits.strip("0123456789abcdef"))


def _format(algorithm: str, hexdigest: str) -> str:
    return hexdigest if algorithm == LEGACY_DIGEST else f"{algorithm}:{hexdigest}"


def file_digest(path: Path, algorithm: str = DIGEST) -> str:
    """The digest of a file's bytes, as recorded in member rows (``algorithm:hex``)."""
    h = _hasher(algorithm)
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return _format(algorithm, h.hexdigest())


def weights_path(root: Path, member_id: int) -> Path:
    """Where member ``member_id`` of the pool at ``root`` keeps its weights."""
    return root / WEIGHTS_DIR / f"{member_id}.safetensors"


@functools.cache
def _dtype_codes() -> dict[torch.dtype, str]:
    """The dtypes our encoder writes, with their safetensors names."""
    import torch
    return {
        torch.float64: "F64", torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
        torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8",
        torch.uint8: "U8", torch.bool: "BOOL",
    }


def save_weights(path: Path, tensors: Mapping[str, torch.Tensor], *, fsync: bool = False) -> str:
    """Write ``tensors`` to ``path`` atomically: a temp file, then ``os.replace``; returns the
    file's digest (``file_digest``).

    Without ``fsync`` the file survives the writer process dying at any moment (the kernel
    has the bytes once ``write`` returns) but not a power cut.  A failed write (a full disk)
    removes the temp file and raises the ``OSError``.
    """
    tmp = path.with_name(path.name + ".tmp")
    cpu = {k: _plain(v) for k, v in tensors.items()}
    codes = _dtype_codes()
    try:
        if all(t.dtype in codes for t in cpu.values()):
            digest = _write_safetensors(tmp, cpu, codes, fsync)
        else:
            import safetensors.torch
            safetensors.torch.save_file(cpu, tmp)
            if fsync:
                _fsync_path(tmp)
            digest = file_digest(tmp)
        # The final name appears only once the file is complete; the index row naming it is
        # committed only after that.
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if fsync:
        _fsync_path(path.parent)
    return digest


def _plain(t: torch.Tensor) -> torch.Tensor:
    """Detached, on the CPU, contiguous; without a call where it already is (adds are hot)."""
    t = t.detach()
    if t.device.type != "cpu":
        t = t.cpu()
    return t if t.is_contiguous() else t.contiguous()


def load_weights(path: Path) -> dict[str, torch.Tensor]:
    """Read a weights file (raises FileNotFoundError, or SafetensorError when damaged)."""
    import safetensors.torch
    return safetensors.torch.load_file(path)


def load_member_weights(root: Path, member_id: int, digest: str | None = None) -> dict[str, torch.Tensor]:
    """Read the weights file of a member whose row says it has one, checking it against the
    row's ``digest`` (None: a member added before digests were recorded, loaded unverified).

    Raises ``MissingWeightsError`` when the file is gone, ``WeightsCorruptError`` when its
    digest differs (the tensors are never returned), ``PoolCorruptError`` when undecodable.
    """
    import safetensors.torch
    path = weights_path(root, member_id)
    try:
        with open(path, "rb") as f:
            # Read into uninitialised memory the tensors will view (no copy, no zero fill).
            data = np.empty(os.fstat(f.fileno()).st_size, dtype=np.uint8)
            data = data[: f.readinto(memoryview(data))]
    except FileNotFoundError:
        raise MissingWeightsError(f"weights file {path} of member {member_id} is missing; "
                                  "restore the pool's weights/ directory from a backup") from None
    except OSError as exc:
        raise PoolCorruptError(f"weights file {path} of member {member_id} cannot be read ({exc}); "
                               "restore it from a backup") from None
    if digest is not None:
        algorithm = digest_algorithm(digest)
        try:
            h = _hasher(algorithm)
        except ValueError:
            raise PoolCorruptError(f"member {member_id}'s recorded digest {digest!r} names an unknown "
                                   "algorithm; the pool index is damaged or from a newer league") from None
        h.update(data)
        actual = _format(algorithm, h.hexdigest())
        if actual != digest:
            raise WeightsCorruptError(
                f"weights file {path} of member {member_id} is damaged: its {algorithm} digest is {actual}, "
                f"the pool recorded {digest}; restore the file from a backup or retire the member "
                f"(python -m league.verify {root} --retire-damaged)",
                member_id=member_id, path=path, expected=digest, actual=actual)
    if digest is not None:
        views = _views(data)
        if views is not None:
            return views
    try:   # unverified, or a layout the views do not take: safetensors checks and copies
        return safetensors.torch.load(data.tobytes())
    except (safetensors.SafetensorError, OSError, ValueError) as exc:
        raise PoolCorruptError(f"weights file {path} of member {member_id} is corrupt ({exc}); "
                               "restore it from a backup") from None


def _views(data: np.ndarray) -> dict[str, torch.Tensor] | None:
    """The tensors of a safetensors file in ``data`` as views of that memory; None when the file
    is not laid out as our encoder and ``save_file`` lay it out (then safetensors decodes it).

    Only for files whose digest matched, i.e. written whole by this module or ``save_file``;
    it saves ``safetensors.torch.load``'s copy of every tensor (a 20 MB file: the read is left).
    """
    import torch
    try:
        n = int.from_bytes(data[:8].tobytes(), "little")
        header = json.loads(data[8:8 + n].tobytes())
        header.pop("__metadata__", None)
        by_code = {code: dtype for dtype, code in _dtype_codes().items()}
        raw = torch.from_numpy(data)
        out: dict[str, torch.Tensor] = {}
        for name, info in header.items():
            dtype, shape = by_code[info["dtype"]], [int(d) for d in info["shape"]]
            start, end = (8 + n + int(o) for o in info["data_offsets"])
            size = int(np.prod(shape, dtype=np.int64)) * torch.empty((), dtype=dtype).element_size()
            if end - start != size or not 8 + n <= start <= end <= len(data):
                return None
            out[name] = raw[start:end].view(dtype).reshape(shape)
        return out
    except (KeyError, ValueError, TypeError, AttributeError, RuntimeError):
        return None


def _write_safetensors(path: Path, tensors: Mapping[str, torch.Tensor], codes: Mapping[torch.dtype, str],
                       fsync: bool) -> str:
    import torch
    # Widest elements first, so that every tensor starts aligned to its element size.
    order = sorted(tensors, key=lambda k: (-tensors[k].element_size(), k))
    header: dict[str, object] = {}
    buffers: list[memoryview] = []
    offset = 0
    for name in order:
        t = tensors[name]
        raw = t.reshape(-1).view(torch.uint8).numpy() if t.numel() else b""
        size = len(raw) if isinstance(raw, bytes) else raw.nbytes
        header[name] = {"dtype": codes[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + size]}
        offset += size
        if size:
            buffers.append(memoryview(raw))
    head = json.dumps(header, separators=(",", ":")).encode()
    head += b" " * (-len(head) % 8)  # pad so the data starts 8-byte aligned
    parts = [memoryview(len(head).to_bytes(8, "little")), memoryview(head), *buffers]
    h = _hasher()
    for part in parts:   # the bytes as they go to the file: the digest a load checks
        h.update(part)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        _write_all(fd, parts)
        if fsync:
            os.fsync(fd)
    finally:
        os.close(fd)
    return _format(DIGEST, h.hexdigest())


def _write_all(fd: int, parts: list[memoryview]) -> None:
    """Write every part in order, one ``os.write`` per part (looping on short writes).

    One write per tensor measured faster than a single ``writev`` of the whole file on a
    ~5M-parameter network (60 vs 82 ms to local disk, torch.save 69 ms); small networks
    have a dozen tensors, so the extra calls cost nothing there.
    """
    for part in parts:
        while len(part):
            written = os.write(fd, part)
            part = part[written:]


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
