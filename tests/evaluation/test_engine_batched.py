"""The heuristics played side by side in the native vector env give the per-episode loop's figures."""

from __future__ import annotations

import pytest

from agents import make
from evaluation.engine import batchable, run_benchmark

AGENTS = ["lc", "lru", "lfu", "fifo", "random", "gdsf", "cloud", "static"]


@pytest.mark.parametrize("env_id", ["EdgePFMCache-v0", "EdgePFMCache-Small-v2"])
def test_batched_episodes_equal_the_per_episode_loop(env_id):
    kwargs = {"n_slots": 30, "gpu_gb": 40} if env_id.endswith("v0") else {"n_slots": 30}
    seeds = [0, 1, 2]
    loop = run_benchmark(env_id, AGENTS, seeds, kwargs, bound=False, progress=False, vectorize=False)
    vec = run_benchmark(env_id, AGENTS, seeds, kwargs, bound=False, progress=False)
    assert list(vec.episodes) == list(loop.episodes) == AGENTS
    for agent in AGENTS:
        for a, b in zip(loop.episodes[agent], vec.episodes[agent], strict=True):
            assert {k: v for k, v in a.items() if k != "seconds"} == \
                   {k: v for k, v in b.items() if k != "seconds"}, agent
    assert vec.summary()["agents"]["lc"]["mean_cost"] == loop.summary()["agents"]["lc"]["mean_cost"]


def test_batchable_agents():
    assert all(batchable(make(a)) for a in ("lc", "lru", "lfu", "fifo", "random", "cloud"))
    assert not any(batchable(make(a)) for a in ("static", "clairvoyant", "oracle"))


def test_batched_seconds_share_the_batch_wall_time():
    """The fused heuristics' episodes split the batch's wall time (not a clock offset)."""
    import time

    from evaluation.engine import run_episodes_batched

    t0 = time.perf_counter()
    out = run_episodes_batched("EdgePFMCache-v0", {"lc": make("lc"), "lru": make("lru")}, [0, 1],
                               {"n_slots": 20})
    elapsed = time.perf_counter() - t0
    seconds = [e["seconds"] for eps in out.values() for e in eps]
    assert all(s > 0 for s in seconds) and sum(seconds) <= elapsed


def test_a_failing_batched_run_is_said_and_the_loop_gives_the_figures(monkeypatch):
    """Falling back to the per-episode loop is not silent (it hid a vector-env bug once)."""
    import evaluation.engine as engine

    def broken(*args, **kwargs):
        raise AttributeError("'dict' object has no attribute 'n_models'")

    loop = run_benchmark("EdgePFMCache-Small-v0", ["lc"], [0], {"n_slots": 20}, bound=False,
                         progress=False, vectorize=False)
    monkeypatch.setattr(engine, "run_episodes_batched", broken)
    with pytest.warns(RuntimeWarning, match=r"batched run of \['lc'\] failed \(AttributeError"):
        res = run_benchmark("EdgePFMCache-Small-v0", ["lc"], [0], {"n_slots": 20}, bound=False,
                            progress=False)
    assert res.episodes["lc"][0]["cost"] == loop.episodes["lc"][0]["cost"]
