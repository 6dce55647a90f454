"""The calibrated default scenario (benchmarks/calibration.py runs the full checks): context
makes LC beat LRU, the gap vanishes when context is worthless, every cost term matters."""

from __future__ import annotations

import numpy as np
import pytest

from evaluation.engine import run_benchmark

SEEDS = range(6)


def relative_gap(env_kwargs: dict) -> float:
    """Mean paired (LRU - LC) / LC on the default scenario."""
    eps = run_benchmark("EdgePFMCache-v0", ("lc", "lru"), SEEDS, env_kwargs, bound=False,
                        progress=False).episodes
    lc = np.array([e["cost"] for e in eps["lc"]])
    return float((np.array([e["cost"] for e in eps["lru"]]) - lc).mean() / lc.mean())


@pytest.mark.slow
def test_lc_beats_lru_through_context_only():
    assert relative_gap({}) > 0.025
    assert abs(relative_gap({"nu": 1e-3})) < 0.01
    assert abs(relative_gap({"model_overrides": {"*": {"acc_gain": 0.0}}})) < 0.01


@pytest.mark.slow
def test_every_term_matters_and_caching_pays():
    # The cloud term varies most between episodes (which models are popular), so this check
    # uses the benchmark's 20 seeds; LC and cloud-only episodes are quick.
    res = run_benchmark("EdgePFMCache-v0", ("lc", "cloud"), range(20), bound=False,
                        progress=False).summary()
    lc = res["agents"]["lc"]
    for term in ("latency", "energy", "accuracy", "cloud", "switch"):
        assert lc["terms"][term] >= 0.05 * lc["mean_cost"], term
    assert res["agents"]["cloud"]["mean_cost"] >= 1.3 * lc["mean_cost"]
