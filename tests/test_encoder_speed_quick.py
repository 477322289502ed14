"""Smoke run of ``benchmarks/encoder_speed.py`` on a tiny budget: every shipped game measured
with both descriptions, a ratio per row; the numbers of such a run mean nothing."""

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_encoder_speed_quick(tmp_path):
    sys.path.insert(0, str(ROOT))
    from benchmarks.encoder_speed import RAW, main

    out = tmp_path / "encoder_speed.md"
    main(["--steps", "5", "--n-envs", "2", "--matches", "2", "--repeats", "1", "--out", str(out)])
    table = out.read_text()
    for name in RAW:
        row = next(line for line in table.splitlines() if line.startswith(f"| {name} |"))
        ratios = [float(x) for x in re.findall(r"\| (\d+\.\d\d) ", row + " ")]
        assert len(ratios) == 2 and all(r > 0 for r in ratios), row
