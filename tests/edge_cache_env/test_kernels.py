"""The compiled equations against a plain reference, and the single simulator as the batch of one."""

from __future__ import annotations

import copy
import math
import pickle

import numpy as np
import pytest

from edge_cache_env import kernels
from edge_cache_env.config import make_config
from edge_cache_env.context import AgeOfContext
from edge_cache_env.simulator import BatchSimulator, CacheSimulator
from edge_cache_env.workload import SyntheticWorkload


def reference_update(ctx: AgeOfContext, mass, mix, served, count_task):
    """The AoC equations of the context module's docstring, written out in numpy."""
    mass = ctx.nu * mass + served
    total = mass.sum(axis=1)
    mass = mass * (ctx.window / np.maximum(total, ctx.window))[:, None]
    count = count_task.sum(axis=1)
    share = count_task / np.maximum(count, 1.0)[:, None]
    rate = np.where(count > 0, ctx.mix_rate, 0.0)[:, None]
    mix = mix + rate * (share - mix)
    k = ctx.n_tasks
    c = mass @ ((1 - ctx.rho) * np.eye(k) + ctx.rho * np.ones((k, k)))
    acc = np.minimum(ctx.acc_max[:, None], ctx.acc0[:, None] + ctx.acc_gain[:, None] * np.log2(1 + c))
    return mass, mix, c, acc, (mix * c).sum(axis=1)


@pytest.mark.parametrize("catalog", ["small", "default"])
def test_context_update_follows_the_equations(catalog):
    cfg = make_config(catalog=catalog, aoc={"nu": 0.9, "rho": 0.3, "task_mix_ewma": 0.2})
    ctx = AgeOfContext(cfg)
    rng = np.random.default_rng(0)
    n, k = len(ctx.window), ctx.n_tasks
    count_task = rng.poisson(3.0, size=(6, n, k)).astype(float)
    count_task[2, 0] = 0.0  # a model without requests keeps its mix
    ctx.reset(count_task)
    mass, mix = np.zeros((n, k)), np.full((n, k), 1.0 / k)
    for t in range(len(count_task)):
        served = count_task[t] * (rng.random(n) < 0.6)[:, None] * 40  # some rows over the window
        ctx.update(served, t)
        mass, mix, c, acc, aoc = reference_update(ctx, mass, mix, served, count_task[t])
        np.testing.assert_allclose(ctx.mass, mass, rtol=1e-12)
        np.testing.assert_allclose(ctx.task_mix, mix, rtol=1e-12)
        np.testing.assert_allclose(ctx.effective, c, rtol=1e-12)
        np.testing.assert_allclose(ctx.accuracy, acc, rtol=1e-12)
        np.testing.assert_allclose(ctx.aoc, aoc, rtol=1e-12)
    assert (ctx.mass.sum(axis=1) <= ctx.window * (1 + 1e-12)).all()


def test_accuracy_curve_and_the_planners_view_of_it():
    cfg = make_config(catalog="small")
    ctx = AgeOfContext(cfg)
    c = np.array([[0.0, 1.0, 3.0, 1e6]] * len(ctx.window))[:, :ctx.n_tasks]
    got = ctx.accuracy_of(c)
    for m in range(len(ctx.window)):
        for j, x in enumerate(c[m]):
            want = min(ctx.acc_max[m], ctx.acc0[m] + ctx.acc_gain[m] * math.log2(1 + x))
            assert got[m, j] == pytest.approx(want, rel=1e-14)
    assert (got[:, 0] == ctx.acc0).all()  # C = 0: exactly zero-shot
    # The planner's decay and C are the update's (no task mix involved).
    mass = np.random.default_rng(1).random((3, len(ctx.window), ctx.n_tasks)) * 30
    served = np.ones((len(ctx.window), ctx.n_tasks)) * 5
    want = [reference_update(ctx, m, np.full(m.shape, 0.5), served, np.zeros(m.shape)) for m in mass]
    ctx.decay(mass, served)
    for i, (w_mass, _, w_c, _, _) in enumerate(want):
        np.testing.assert_allclose(mass[i], w_mass, rtol=1e-12)
        np.testing.assert_allclose(ctx.effective_of(mass[i]), w_c, rtol=1e-12)


def play(sims_and_rows, rng, steps):
    """The same random valid actions in every (simulator, row) pair; returns nothing."""
    for _ in range(steps):
        single = sims_and_rows[0][0]
        if single.done:
            return
        mask = single.mask
        a = int(rng.choice(np.flatnonzero(mask)))
        n = single.n_models
        for sim, row in sims_and_rows:
            if isinstance(sim, CacheSimulator):
                if a == 0:
                    sim.serve()
                elif a <= n:
                    sim.load(a - 1)
                else:
                    sim.evict(a - n - 1)
            else:
                kind = np.full(sim.batch, sim.no_op)
                serve = np.zeros(sim.batch, dtype=bool)
                if a == 0:
                    serve[row] = True
                else:
                    kind[row] = a - 1 + n if a <= n else a - n - 1
                sim.step(kind, serve, np.zeros(sim.batch, dtype=bool),
                         np.zeros((6, sim.batch)))


@pytest.mark.parametrize("capacity", [False, True])
def test_the_single_simulator_is_a_batch_of_one(capacity):
    cfg = make_config(catalog="small", n_slots=40, capacity={"enabled": capacity})
    requests = SyntheticWorkload(cfg).sample_episode(np.random.default_rng(3))
    single = CacheSimulator(cfg)
    single.reset(requests)
    batch = BatchSimulator(cfg, 3)
    other = SyntheticWorkload(cfg).sample_episode(np.random.default_rng(4))
    batch.reset_rows(np.arange(3), [other, requests, other])
    play([(single, 0), (batch, 1)], np.random.default_rng(5), 400)
    assert single.done
    assert single.metrics == {k: float(v[1]) for k, v in batch.metrics.items()}  # bit for bit
    np.testing.assert_array_equal(single.context.state[0], batch.context.state[1])
    np.testing.assert_array_equal(single.cached, batch.cached[1])


def test_a_copied_or_pickled_simulator_continues_as_the_original():
    cfg = make_config(catalog="small", n_slots=30)
    sim = CacheSimulator(cfg)
    sim.reset(SyntheticWorkload(cfg).sample_episode(np.random.default_rng(0)))
    play([(sim, 0)], np.random.default_rng(1), 60)
    copies = [copy.deepcopy(sim), pickle.loads(pickle.dumps(sim))]
    for c in copies:  # the copy's views are of its own arrays
        assert np.shares_memory(c.cached_f, c.batch._state)
        assert np.shares_memory(c.context.mass, c.batch.context.state)
    play([(sim, 0), *((c, 0) for c in copies)], np.random.default_rng(2), 200)
    assert sim.done and all(c.done and c.metrics == sim.metrics for c in copies)


def test_masks_are_the_operations_the_simulator_accepts():
    cfg = make_config(catalog="small", n_slots=20)
    sim = CacheSimulator(cfg)
    sim.reset(SyntheticWorkload(cfg).sample_episode(np.random.default_rng(0)))
    rng = np.random.default_rng(1)
    n = sim.n_models
    for _ in range(150):
        if sim.done:
            break
        mask = sim.mask  # kept current by every operation
        left = sim.ops_used < sim.ops_limit
        want_load = left & ~sim.cached & (sim.mem_mb <= sim.free_mb)
        np.testing.assert_array_equal(mask[1:n + 1], want_load)
        np.testing.assert_array_equal(mask[n + 1:], left & sim.cached)
        for m in np.flatnonzero(~mask[1:n + 1]):
            with pytest.raises(ValueError, match="cannot load"):
                copy.deepcopy(sim).load(int(m))
        play([(sim, 0)], rng, 1)


def test_kernel_layout_constants_agree_with_the_batch():
    cfg = make_config(catalog="small")
    b = BatchSimulator(cfg, 2)
    n, k = cfg.n_models, cfg.aoc.tasks_per_model
    assert b._state.shape[1] == kernels.STATE_BLOCKS * n
    assert b._slot_data.shape[2] == 6 * n + n * k + kernels.SLOT_BLOCKS * n
    assert b.metric_columns[:len(kernels.METRIC_COLUMNS)] == list(kernels.METRIC_COLUMNS)
    assert b.context.params.shape == (kernels.CTX_SCALARS + kernels.CTX_MODEL_BLOCKS * n + k * k,)
