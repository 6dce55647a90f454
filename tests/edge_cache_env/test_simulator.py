"""The simulator on its own: operations, costs, and invariants under random operation sequences."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_cache_env.config import make_config
from edge_cache_env.costs import TERMS
from edge_cache_env.simulator import CacheSimulator
from edge_cache_env.workload import SyntheticWorkload


def fresh(config, seed=0):
    sim = CacheSimulator(config)
    sim.reset(SyntheticWorkload(config).sample_episode(np.random.default_rng(seed)))
    return sim


def test_load_and_evict_change_state_and_memory(small_config):
    sim = fresh(small_config)
    m = 0
    terms = sim.load(m)
    assert sim.cached[m] and sim.used_mb == sim.mem_mb[m]
    assert terms["switch"] == pytest.approx(sim.model_costs.load_cost[m]) and terms["switch"] > 0
    assert sum(v for k, v in terms.items() if k != "switch") == 0
    with pytest.raises(ValueError, match="cannot load"):
        sim.load(m)
    sim.evict(m)
    assert not sim.cached[m] and sim.used_mb == 0
    with pytest.raises(ValueError, match="cannot evict"):
        sim.evict(m)


def test_serving_costs_follow_the_model(small_config, small_requests):
    """Slot 0 served with model 0 cached: edge for model 0, cloud for the rest, checked by hand."""
    sim = CacheSimulator(small_config)
    sim.reset(small_requests)
    sim.load(0)
    r, cfg, w = small_requests, small_config, small_config.costs
    terms = sim.serve()
    spec = cfg.models[0]
    n0 = r.count[0, 0]
    edge_s = (n0 * spec.edge_s_per_request + r.input_sum[0, 0] / spec.prefill_tok_s
              + r.output_sum[0, 0] * spec.decode_s_per_tok)
    cold_s = n0 * spec.weights_gb / cfg.server.load_gbps
    assert terms["energy"] == pytest.approx(w.energy_per_kj * cfg.server.gpu_power_w * edge_s / 1000)
    cloud_lat = sim.slot_costs.cloud_latency_s[0, 1:].sum()
    assert terms["latency"] == pytest.approx(w.latency_per_s * (edge_s + cold_s + cloud_lat))
    # No context yet: everyone gets the zero-shot accuracy.
    acc0 = np.array([m.acc0 for m in cfg.models])
    assert terms["accuracy"] == pytest.approx(w.accuracy_per_miss * (r.count[0] * (1 - acc0)).sum())
    assert terms["cloud"] == pytest.approx(w.cloud_per_usd * sim.slot_costs.cloud_usd[0, 1:].sum())
    assert sim.metrics["edge_hits"] == n0 and sim.metrics["requests"] == r.count[0].sum()
    # Context served in slot 0 helps from slot 1 on.
    assert sim.context.mass[0].sum() == pytest.approx(min(n0, spec.window_examples))
    assert sim.context.mass[1:].sum() == 0


def test_operation_limit_per_slot(small_config):
    sim = fresh(make_config("small", n_slots=5, max_ops_per_slot=2))
    sim.load(0)
    sim.evict(0)
    assert not sim.loadable().any() and not sim.evictable().any()
    with pytest.raises(ValueError):
        sim.load(1)
    sim.serve()
    assert sim.loadable().any()


def test_cold_start_only_in_the_loading_slot(small_config, small_requests):
    """Loading in slot t instead of slot 0 adds exactly the cold-start wait to slot t's latency."""
    r = small_requests
    t, m = (int(x[0]) for x in np.nonzero(r.count[1:] > 0))
    t += 1
    early = CacheSimulator(small_config)
    early.reset(r)
    early.load(m)
    late = CacheSimulator(small_config)
    late.reset(r)
    for _ in range(t):
        early.serve()
        late.serve()
    late.load(m)
    before_late, before_early = late.metrics["latency_s"], early.metrics["latency_s"]
    late.serve()
    early.serve()
    diff = (late.metrics["latency_s"] - before_late) - (early.metrics["latency_s"] - before_early)
    expected = r.count[t, m] * late.load_s[m]
    assert expected > 0 and diff == pytest.approx(expected)


@settings(max_examples=40, deadline=None)
@given(ops=st.lists(st.integers(min_value=0, max_value=12), min_size=1, max_size=300),
       seed=st.integers(0, 2**16), nu=st.floats(0.05, 1.0), rho=st.floats(0.0, 1.0))
def test_invariants_under_random_operations(ops, seed, nu, rho):
    cfg = make_config("small", n_slots=30, aoc={"nu": nu, "rho": rho})
    sim = fresh(cfg, seed)
    r = sim.requests
    n = sim.n_models
    acc_max = np.array([m.acc_max for m in cfg.models])
    for op in ops:
        if sim.done:
            break
        if op == 0:
            t = sim.t
            before = dict(sim.metrics)
            terms = sim.serve()
            arrived = r.count[t].sum()
            assert sim.metrics["requests"] - before["requests"] == arrived
            edge = sim.metrics["edge_hits"] - before["edge_hits"]
            cloud = sim.metrics["cloud_requests"] - before["cloud_requests"]
            assert edge + cloud == arrived  # every request served exactly once
            assert all(terms[k] >= 0 for k in TERMS)
        else:
            m = (op - 1) % n
            if op <= n and sim.loadable()[m]:  # the masks' own test, as the env reads it
                sim.load(m)
            elif sim.evictable()[m]:
                sim.evict(m)
        assert 0 <= sim.used_mb <= sim.gpu_mb
        assert sim.used_mb == int(sim.mem_mb[sim.cached].sum())
        acc = sim.context.accuracy
        assert (acc >= 0).all() and (acc <= acc_max[:, None] + 1e-12).all()
        assert (sim.context.aoc >= 0).all()
        assert (sim.context.aoc[~sim.cached] == 0).all()
        assert (sim.context.mass[~sim.cached] == 0).all()
        window = np.array([m.window_examples for m in cfg.models])
        assert (sim.context.mass.sum(axis=1) <= window + 1e-9).all()
