"""Pool I/O benchmark: member save/load against torch.save/torch.load, and a fresh process's
open + list-active + sample on big pools.

    python benchmarks/pool_io.py                      # the full run (a few minutes)
    python benchmarks/pool_io.py --sizes 2000 --reps 10   # a quick look

1. Save and load one member, ``pool.add`` / ``pool.weights`` against ``torch.save`` /
   ``torch.load`` of the same state_dict, for a ~100k- and a ~5M-parameter actor-critic,
   interleaved so that both see the same machine load; medians over the repetitions.  For the
   5M network every save starts after ``os.sync()``, so that neither pays for writing back the
   other's dirty pages (with 20 MB per save, the kernel's writeback throttling otherwise decides
   the result; for 0.4 MB it does not, and a sync's own after-effects would).
   Run twice: with files on disk (what a league does; on a shared VM the disk's momentary
   throughput decides the 5M row) and on tmpfs (the cost of the method itself).
   ``pool.weights`` checks each file's xxh3_128 digest (schema 3); the digest column is that
   check alone (hashing the file's bytes, already in memory), so load minus digest is what an
   unverified load costs.
2. Fresh-process query: a new ``python -c`` process opens a pool of N members read-only, lists
   the active index, picks a random active member and loads its metadata (spec, hparams,
   created, rating).  Reported: in-process time from ``Pool.open`` to the sampled metadata, and
   the whole process's wall time (interpreter start and imports included), and the query's CPU
   time (``time.process_time``), which on a busy shared machine shows the work apart from the
   wait for a CPU.  Each pool is
   measured with every member active (the worst case) and after pruning has retired all but
   2 % (a league that prunes; the all index keeps every member).

The pools are built with ``Pool.add_many`` (one commit per 1,000 members) from weightless
members with per-member hparams, so the metadata is realistic without 100k weights files.
Writes a Markdown table to benchmarks/results/pool_io.md and prints it.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import h5py
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from league.models import build_network, mlp_spec  # noqa: E402
from league.pool import Pool  # noqa: E402
from league.pool.weights import DIGEST, _hasher, weights_path  # noqa: E402

NETS = {"~100k params": mlp_spec(64, 9, [192, 192]), "~5M params": mlp_spec(64, 9, [1536, 1536])}

QUERY = """
import random, sys, time
from league.pool import Pool
t0, c0 = time.perf_counter(), time.process_time()
pool = Pool.open(sys.argv[1], "r")
active = pool.active()
m = pool.member(random.choice(active).id)
meta = (m.spec, m.hparams, m.created, m.mu, m.conservative, m.role, m.version)
t1, c1 = time.perf_counter(), time.process_time()
print(f"{(t1 - t0) * 1e3:.3f} {(c1 - c0) * 1e3:.3f} {len(active)} {len(pool.members())}")
"""


def _median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1e3


def bench_save_load(tmp: Path, reps: dict[str, int], where: str) -> list[dict[str, object]]:
    """Interleaved save and load timings per network size, with scratch files under ``tmp``."""
    out = []
    for label, spec in NETS.items():
        net = build_network(spec)
        sd = {k: v.detach().clone() for k, v in net.state_dict().items()}
        n_params = sum(v.numel() for v in sd.values())
        big = n_params > 1_000_000
        root = tmp / f"save_{n_params}"
        (root / "torch").mkdir(parents=True)
        n = reps[label]
        t_save, p_save, t_load, p_load, p_hash = [], [], [], [], []
        with Pool.create(root / "pool", game="bench", roles=["learner"]) as pool:
            ids = []
            for i in range(n + 2):  # the first two warm up both paths
                path = root / "torch" / f"{i}.pt"
                if big:
                    os.sync()
                t = time.perf_counter()
                torch.save(sd, path)
                t_save.append(time.perf_counter() - t)
                if big:
                    os.sync()
                t = time.perf_counter()
                m = pool.add("learner", sd, spec=spec, hparams={"lr": 3e-4, "rep": i}, step=i)
                p_save.append(time.perf_counter() - t)
                ids.append(m.id)
            for i in range(n + 2):
                t = time.perf_counter()
                torch.load(root / "torch" / f"{i}.pt", weights_only=True)
                t_load.append(time.perf_counter() - t)
                t = time.perf_counter()
                pool.weights(ids[i])
                p_load.append(time.perf_counter() - t)
                data = weights_path(pool.path, ids[i]).read_bytes()
                t = time.perf_counter()
                h = _hasher()
                h.update(data)
                h.hexdigest()
                p_hash.append(time.perf_counter() - t)
        row = {"net": f"{label} ({n_params:,})", "reps": n, "where": where}
        for name, samples in (("torch_save", t_save), ("pool_save", p_save),
                              ("torch_load", t_load), ("pool_load", p_load), ("digest", p_hash)):
            row[name] = _median_ms(samples[2:])
        out.append(row)
    return out


def bench_digests(reps: int = 10) -> list[tuple[str, float, float]]:
    """Hash-only cost of candidate digests on the two networks' file sizes (ms, medians), from
    memory: what choosing another digest would change in ``pool.weights``."""
    import hashlib
    import zlib

    import xxhash
    sizes = {label: sum(v.numel() * 4 for v in build_network(spec).state_dict().values())
             for label, spec in NETS.items()}
    algos = {"xxh3_128 (used; xxhash, not cryptographic)": lambda b: xxhash.xxh3_128(b).digest(),
             "blake2b-128 (schema 2)": lambda b: hashlib.blake2b(b, digest_size=16).digest(),
             "sha256": lambda b: hashlib.sha256(b).digest(), "crc32 (zlib, not cryptographic)": zlib.crc32}
    out = []
    for name, fn in algos.items():
        row = []
        for n in sizes.values():
            data = os.urandom(n)
            fn(data)
            ts = []
            for _ in range(reps):
                t = time.perf_counter()
                fn(data)
                ts.append(time.perf_counter() - t)
            row.append(_median_ms(ts))
        out.append((name, *row))
    return out


def build_pool(path: Path, n: int, rng: random.Random) -> None:
    """n weightless members over two roles, each with its own hparams, in batches."""
    spec = {"kind": "random", "n_actions": 9}
    with Pool.create(path, game="bench", roles=["player_0", "player_1"]) as pool:
        done = 0
        while done < n:
            batch = min(1000, n - done)
            pool.add_many([
                {"role": f"player_{(done + k) % 2}", "weights": {}, "spec": spec, "step": 1000 * (done + k),
                 "hparams": {"lr": rng.uniform(1e-5, 1e-3), "ent_coef": rng.uniform(0, 0.05),
                             "gamma": rng.choice([0.99, 0.995]), "seed": done + k}}
                for k in range(batch)])
            done += batch


def query(path: Path, runs: int) -> dict[str, float]:
    """Fresh processes: in-process open..sample and whole wall time, medians."""
    inproc, cpu, wall = [], [], []
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    for _ in range(runs):
        t = time.perf_counter()
        res = subprocess.run([sys.executable, "-c", QUERY, str(path)], capture_output=True, text=True,
                             env=env, check=True)
        wall.append(time.perf_counter() - t)
        ms, cpu_ms, n_active, n_all = res.stdout.split()
        inproc.append(float(ms) / 1e3)
        cpu.append(float(cpu_ms) / 1e3)
    return {"inproc": _median_ms(inproc), "cpu": _median_ms(cpu), "wall": _median_ms(wall),
            "active": int(n_active), "all": int(n_all)}


def bench_queries(tmp: Path, sizes: list[int], runs: int, keep: float) -> list[dict[str, object]]:
    out = []
    rng = random.Random(0)
    for n in sizes:
        path = tmp / f"pool_{n}"
        t = time.perf_counter()
        build_pool(path, n, rng)
        build_s = time.perf_counter() - t
        out.append({"members": n, "case": "all active", "build_s": build_s, **query(path, runs)})
        with Pool.open(path, "a") as pool:
            ids = list(range(n))
            rng.shuffle(ids)
            pool.retire_many(ids[int(keep * n):], "pruned")
        out.append({"members": n, "case": f"{keep:.0%} active", "build_s": build_s, **query(path, runs)})
    return out


def table(saves: list[dict[str, object]], queries: list[dict[str, object]], note: str,
          digests: list[tuple[str, float, float]] | None = None) -> str:
    lines = [
        "# Pool I/O benchmark", "",
        f"`python benchmarks/pool_io.py` — {note}", "",
        "## Member save and load (median ms; ratio = pool / torch; target: save <= 1.0x, "
        "load with digest check <= 0.5x)", "",
        f"`pool.weights` includes the {DIGEST} check of the whole file; `digest` is that check alone.", "",
        "| network (params) | files on | reps | torch.save | pool.add | ratio | torch.load | pool.weights | ratio "
        "| digest | load w/o digest | ratio |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in saves:
        bare = r['pool_load'] - r['digest']
        lines.append(f"| {r['net']} | {r['where']} | {r['reps']} | {r['torch_save']:.2f} | {r['pool_save']:.2f} | "
                     f"{r['pool_save'] / r['torch_save']:.2f}x | {r['torch_load']:.2f} | {r['pool_load']:.2f} | "
                     f"{r['pool_load'] / r['torch_load']:.2f}x | {r['digest']:.2f} | {bare:.2f} | "
                     f"{bare / r['torch_load']:.2f}x |")
    missed = [f"{r['net']} on {r['where']} ({r['pool_load'] / r['torch_load']:.2f}x)" for r in saves
              if r['pool_load'] / r['torch_load'] > 0.5]
    lines += ["", "Load bar (pool.weights with its digest check <= 0.5x torch.load): "
              + ("met everywhere." if not missed else "not met for " + "; ".join(missed) + ".")]
    if digests:
        labels = list(NETS)
        lines += ["", "## Digest alternatives: hashing one weights file from memory (median ms)", "",
                  f"| digest | {labels[0]} | {labels[1]} |", "|---|---:|---:|"]
        lines += [f"| {name} | {a:.2f} | {b:.2f} |" for name, a, b in digests]
    lines += [
        "", "## Fresh process: open + list active + sample one member's metadata "
        "(median ms; target <= 100 ms in-process at 100,000 members)", "",
        "| members (all index) | active | in-process open..sample | its CPU time | whole process wall | "
        "build (add_many) |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for r in queries:
        lines.append(f"| {r['all']:,} | {r['active']:,} ({r['case']}) | {r['inproc']:.1f} | {r['cpu']:.1f} | "
                     f"{r['wall']:.0f} | {r['build_s']:.1f} s |")
    lines += ["", "CPU time = what the query itself computes; wall time above it also counts waiting for a "
              "CPU on a shared machine (see the load average)."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=0, help="save/load repetitions (default 60 small, 20 big)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000], help="pool sizes to query")
    parser.add_argument("--runs", type=int, default=7, help="fresh processes per query case")
    parser.add_argument("--keep", type=float, default=0.02, help="active share after pruning")
    parser.add_argument("--dir", type=Path, default=None, help="scratch directory (default: a temp dir)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "pool_io.md")
    args = parser.parse_args()
    torch.set_num_threads(1)  # the machine is shared; and single-thread numbers compare fairly
    reps = {"~100k params": args.reps or 60, "~5M params": args.reps or 20}
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        saves = bench_save_load(Path(tmp), reps, "disk")
        if Path("/dev/shm").is_dir():
            with tempfile.TemporaryDirectory(dir="/dev/shm") as shm:
                saves += bench_save_load(Path(shm), reps, "tmpfs (RAM)")
        queries = bench_queries(Path(tmp), args.sizes, args.runs, args.keep)
    digests = bench_digests()
    note = (f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores (load average {load:.1f} "
            f"at start), Python {platform.python_version()}, torch {torch.__version__} (1 thread), "
            f"h5py {h5py.__version__} / HDF5 {h5py.version.hdf5_version}, scratch on local disk.")
    text = table(saves, queries, note, digests)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
