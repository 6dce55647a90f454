"""A fast check of the capacity model's calibration (benchmarks/calibration_capacity.py, full run)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from calibration_capacity import lc_load  # noqa: E402


def test_v1_gpu_load_under_lc_is_calibrated():
    load = lc_load("EdgePFMCache-v2", [10_000, 10_001, 10_002])
    assert 0.35 <= load["load_mean"] <= 0.75  # 40-70% on 20 seeds; wider on 3
    assert load["load_max"] > 1.0 and load["util_mean"] <= load["load_mean"] + 1e-9
