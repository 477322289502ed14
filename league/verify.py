"""``python -m league.verify POOL``: check a pool's index and every weights file; report damage.

    python -m league.verify runs/ttt/pool                   # read-only check
    python -m league.verify runs/ttt                        # a run directory: checks its pool/
    python -m league.verify runs/ttt/pool --retire-damaged  # and retire damaged members

Checks, each problem printed as one line on stdout, then a summary line:

- the index: that it opens and validates (``league.pool.store``), both commit record slots,
  every member row (role, per-role versions, ratings, JSON blobs, active index and retire
  reasons, stored-weights state, digest), the match log (each document, and that the members'
  games and ratings are the ones it logged), and the run state;
- every weights file a row names: present, its digest (xxh3_128; BLAKE2b in schema-2 rows) the
  recorded one, decodable, and fitting its member's spec (``league.models.check_weights``).

Members added before digests were recorded (schema 1) are counted as unverified, not damaged.
Files a dead writer left behind (temp files, files no committed row names) are counted, not
reported: the next writer removes them.  Exit status: 0 clean, 1 problems found, 2 no pool to
check (or bad arguments).  Nothing is written unless ``--retire-damaged`` is given: then members
with damaged or missing weights are retired in one commit (they stay in the all index).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from league.errors import LeagueError, PoolError, PoolNotFoundError
from league.pool import store
from league.pool.view import apply_post
from league.pool.weights import WEIGHTS_DIR, load_member_weights, weights_path, well_formed_digest

__all__ = ["Problem", "Report", "verify", "retire_damaged", "resolve_pool", "main", "RETIRE_REASON"]

_PROG = "league verify"
RETIRE_REASON = "damaged weights (league verify --retire-damaged)"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a pool: where (``index``, ``member 3``, ``match 7``, ...) and what.
    ``member_id``: set when the member's weights are damaged or missing (what retiring fixes)."""

    where: str
    what: str
    member_id: int | None = None

    def __str__(self) -> str:
        return f"{self.where}: {self.what}"


@dataclass
class Report:
    """What ``verify`` found."""

    path: Path
    problems: list[Problem] = field(default_factory=list)
    members: int = 0
    weights_checked: int = 0
    unverified: int = 0
    matches: int = 0
    leftovers: int = 0

    @property
    def clean(self) -> bool:
        return not self.problems

    @property
    def damaged_members(self) -> list[int]:
        return sorted({p.member_id for p in self.problems if p.member_id is not None})

    def summary(self) -> str:
        parts = [f"{self.members} members", f"{self.weights_checked} weights files checked"]
        if self.unverified:
            parts.append(f"{self.unverified} unverified (added before digests were recorded)")
        parts.append(f"{self.matches} matches")
        if self.leftovers:
            parts.append(f"{self.leftovers} leftover files of a dead writer (the next writer removes them)")
        verdict = "clean" if self.clean else f"{len(self.problems)} problem{'s' * (len(self.problems) != 1)}"
        return f"{self.path}: {', '.join(parts)}: {verdict}"


def resolve_pool(path: Path) -> Path:
    """The pool directory ``path`` names: a pool, or a run directory holding ``pool/``."""
    if not (path / store.INDEX_FILE).exists() and (path / "pool" / store.INDEX_FILE).exists():
        return path / "pool"
    return path


def verify(path: str | os.PathLike[str], *, weights: bool = True) -> Report:
    """Check the pool at ``path`` (read-only); ``weights=False`` skips loading weights files.

    Raises ``PoolNotFoundError`` when there is no pool there; any other damage is a ``Problem``.
    """
    root = Path(path)
    report = Report(root)
    index = root / store.INDEX_FILE
    if not index.exists():
        raise PoolNotFoundError(f"no pool at {root} ({store.INDEX_FILE} missing); "
                                "give a pool directory (RUN_DIR/pool) or a run directory")
    try:
        f = store.open_reader(index)
        try:
            snap = store.read_snapshot(f, index)
            slots = np.asarray(f["counts"][...], dtype="<i8").reshape(2, 8)
        finally:
            f.close()
    except PoolError as exc:
        report.problems.append(Problem("index", str(exc)))
        return report
    report.members, report.matches = len(snap.rows), len(snap.matches)
    _check_commit_slots(slots, snap.commit, report)
    rows = snap.rows.copy()
    posts = _check_matches(snap, report)
    for post in posts[snap.commit.applied:]:   # logged, not yet copied into the rows (a reader does the same)
        apply_post(rows, post)
    _check_rows(snap, rows, posts, report)
    _check_state(snap, report)
    if weights:
        _check_weights(root, snap, rows, report)
    report.leftovers = _leftovers(root, rows)
    return report


def _blob(snap: store.Snapshot, off: int, length: int) -> bytes:
    return snap.blobs[off: off + length]


def _check_commit_slots(slots: np.ndarray, used: store.Commit, report: Report) -> None:
    for k, vals in enumerate(slots):
        if not vals.any():   # never written (a freshly written index fills one slot)
            continue
        if int(vals[7]) != zlib.crc32(vals[:7].tobytes()) or (vals[:7] < 0).any():
            report.problems.append(Problem(
                "commit record", f"slot {k} is damaged; the pool reads the other slot (generation {used.gen}), "
                f"so the commit that was in slot {k} may be lost"))
        elif int(vals[0]) > used.gen:  # cannot be: decode picks the newest valid slot
            report.problems.append(Problem("commit record", f"slot {k} is newer than the one in use"))


def _check_matches(snap: store.Snapshot, report: Report) -> list[list[list[Any]]]:
    """Each match document; returns every match's post-match values (``[]`` for a bad one)."""
    n = len(snap.rows)
    posts: list[list[list[Any]]] = []
    for k, m in enumerate(snap.matches):
        where = f"match {k}"
        try:
            doc = json.loads(_blob(snap, int(m["off"]), int(m["len"])))
            seats, ids, ranks, post = doc["seats"], doc["member_ids"], doc["ranks"], doc["post"]
            if not (isinstance(seats, list) and len(seats) == len(ids) == len(ranks) and seats):
                raise ValueError("seats, member_ids and ranks differ in length")
            if not all(isinstance(i, int) and 0 <= i < n for i in ids):
                raise ValueError(f"member ids {ids} are not all members")
            if not all(isinstance(r, int) and r >= 1 for r in ranks):
                raise ValueError(f"ranks {ranks} are not all integers >= 1")
            returns = doc.get("returns")
            if returns is not None and (len(returns) != len(seats) or not all(
                    isinstance(x, (int, float)) and math.isfinite(x) for x in returns)):
                raise ValueError(f"returns {returns} are not one finite number per seat")
            if sorted(p[0] for p in post) != sorted(set(ids)) or not all(
                    math.isfinite(p[1]) and math.isfinite(p[2]) and p[2] > 0 for p in post):
                raise ValueError("its post-match ratings do not match its seats")
        except (ValueError, KeyError, TypeError, IndexError) as exc:
            report.problems.append(Problem(where, f"the logged document is damaged ({exc})"))
            posts.append([])
            continue
        posts.append(post)
    return posts


def _check_rows(snap: store.Snapshot, rows: np.ndarray, posts: list[list[list[Any]]], report: Report) -> None:
    roles = snap.header.roles
    next_version = [0] * len(roles)
    last_post: dict[int, list[Any]] = {}
    games = np.zeros(len(rows), dtype=np.int64)
    for post in posts:
        for p in post:
            last_post[p[0]] = p
            games[p[0]] += 1
    for i, row in enumerate(rows):
        where = f"member {i}"
        bad = report.problems.append
        role = int(row["role"])
        if int(row["version"]) != next_version[role]:
            bad(Problem(where, f"version {int(row['version'])} of role {roles[role]!r}, expected "
                        f"{next_version[role]} (versions count up per role)"))
        next_version[role] = max(next_version[role], int(row["version"])) + 1
        mu, sigma = float(row["mu"]), float(row["sigma"])
        if not (math.isfinite(mu) and math.isfinite(sigma) and sigma > 0):
            bad(Problem(where, f"rating mu={mu} sigma={sigma} is not finite with sigma > 0"))
        for col in ("spec", "hparams"):
            try:
                if not isinstance(json.loads(_blob(snap, int(row[col + "_off"]), int(row[col + "_len"]))), dict):
                    raise ValueError("not a JSON object")
            except ValueError as exc:
                bad(Problem(where, f"its {col} is damaged ({exc})"))
        active, reason_len = int(row["active"]), int(row["reason_len"])
        if active not in (0, 1) or int(row["anchor"]) not in (0, 1):
            bad(Problem(where, f"active={active} anchor={int(row['anchor'])} are not flags"))
        elif active and reason_len:
            bad(Problem(where, "is in the active index but has a retire reason"))
        elif not active and not reason_len:
            bad(Problem(where, "is retired without a reason"))
        elif reason_len:
            try:
                json.loads(_blob(snap, int(row["reason_off"]), reason_len))
            except ValueError as exc:
                bad(Problem(where, f"its retire reason is damaged ({exc})"))
        stored, digest = int(row["stored"]), bytes(row["digest"])
        if stored == store.STORED_DELETED and (active or row["anchor"]):
            bad(Problem(where, "its weights were deleted but it is active or an anchor"))
        if digest and (stored != store.STORED_FILE or not well_formed_digest(digest.decode(errors="replace"))):
            bad(Problem(where, f"its recorded digest {digest!r} is malformed"))
        want = last_post.get(i)
        if int(row["games"]) != games[i]:
            bad(Problem(where, f"has games={int(row['games'])} but the match log seats it {games[i]} times"))
        elif want is not None and (mu, sigma) != (float(want[1]), float(want[2])):
            bad(Problem(where, f"rating ({mu}, {sigma}) differs from its last logged match's "
                        f"({want[1]}, {want[2]})"))


def _check_state(snap: store.Snapshot, report: Report) -> None:
    c = snap.commit
    if c.state_len:
        try:
            if not isinstance(json.loads(_blob(snap, c.state_off, c.state_len)), dict):
                raise ValueError("not a JSON object")
        except ValueError as exc:
            report.problems.append(Problem("run state", f"is damaged ({exc})"))


def _check_weights(root: Path, snap: store.Snapshot, rows: np.ndarray, report: Report) -> None:
    from league.models import check_weights   # torch: only when weights are checked
    for i in np.flatnonzero(rows["stored"] == store.STORED_FILE).tolist():
        digest = bytes(rows[i]["digest"]).decode(errors="replace") or None
        report.weights_checked += 1
        report.unverified += digest is None
        try:
            tensors = load_member_weights(root, i, digest)
            spec = json.loads(_blob(snap, int(rows[i]["spec_off"]), int(rows[i]["spec_len"])))
            check_weights(spec, tensors)
        except (LeagueError, ValueError) as exc:
            report.problems.append(Problem(f"member {i}", str(exc), member_id=i))


def _leftovers(root: Path, rows: np.ndarray) -> int:
    wdir = root / WEIGHTS_DIR
    if not wdir.is_dir():
        return 0
    named = {weights_path(root, i).name for i in np.flatnonzero(rows["stored"] == store.STORED_FILE).tolist()}
    return sum(1 for e in os.scandir(wdir) if e.name not in named)


def retire_damaged(path: str | os.PathLike[str], member_ids: Sequence[int]) -> list[int]:
    """Retire the active ones of ``member_ids`` in one commit; returns those retired."""
    from league.pool import Pool
    with Pool.open(path, "a") as pool:
        todo = [i for i in member_ids if pool.member(i).active]
        if todo:
            pool.retire_many(todo, RETIRE_REASON)
    return todo


def main(argv: Sequence[str] | None = None) -> int:
    """The command line; returns the exit status (0 clean, 1 problems, 2 no pool / bad arguments)."""
    parser = argparse.ArgumentParser(prog=_PROG, description=__doc__.split("\n\n")[0])
    parser.add_argument("pool", type=Path, help="the pool directory (or a run directory holding pool/)")
    parser.add_argument("--retire-damaged", action="store_true",
                        help="retire members whose weights are damaged or missing (one commit)")
    parser.add_argument("--no-weights", action="store_true", help="check only the index, not the weights files")
    args = parser.parse_args(argv)
    root = resolve_pool(args.pool)
    try:
        report = verify(root, weights=not args.no_weights)
    except LeagueError as exc:
        print(f"{_PROG}: error: {exc}", file=sys.stderr)
        return 2
    for p in report.problems:
        print(p)
    print(report.summary())
    if args.retire_damaged and report.damaged_members:
        try:
            done = retire_damaged(root, report.damaged_members)
        except LeagueError as exc:
            print(f"{_PROG}: error: cannot retire the damaged members: {exc}", file=sys.stderr)
            return 1
        before = sorted(set(report.damaged_members) - set(done))
        if done:
            print(f"{root}: retired {len(done)} damaged member{'s' * (len(done) != 1)} {done}"
                  + (f"; already retired: {before}" if before else ""))
        else:
            print(f"{root}: the damaged members are already retired: {before}")
    return 0 if report.clean else 1


if __name__ == "__main__":
    sys.exit(main())
