"""A real full disk for the tests: a size-limited tmpfs (as root) and a way to fill it."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest


def small_tmpfs(tmp_path: Path, size: str, covered_by: str) -> Iterator[Path]:
    """Mount a tmpfs of ``size`` (e.g. "4m") under ``tmp_path`` for one test and unmount it after;
    skips, saying which test ``covered_by`` covers the case instead, unless root may mount one."""
    if os.geteuid() != 0:
        pytest.skip(f"mounting a size-limited tmpfs needs root; {covered_by}")
    mnt = tmp_path / f"fs_{uuid.uuid4().hex[:6]}"
    mnt.mkdir()
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mnt)],
                         capture_output=True, text=True)
    if res.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({res.stderr.strip()}); {covered_by}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def fill(path: Path, leave: int) -> None:
    """Fill the file system holding ``path`` up to ``leave`` bytes free."""
    st = os.statvfs(path.parent)
    n = st.f_bavail * st.f_frsize - leave
    with open(path, "wb") as f:
        while n > 0:
            k = min(n, 1 << 16)
            try:
                f.write(b"\0" * k)
                f.flush()
            except OSError:
                break
            n -= k
