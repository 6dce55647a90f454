"""Age of Context: a worked example checked by hand (decay, window cap, eviction, relevance)."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from edge_cache_env.config import ModelSpec, make_config
from edge_cache_env.context import AgeOfContext


def one_model_config(**aoc):
    spec = ModelSpec(name="toy", kind="llm", params_b=1.0, weights_gb=2.0, context_gb=0.5,
                     window_examples=4, edge_s_per_request=0.0, prefill_tok_s=1000.0,
                     decode_s_per_tok=0.01, acc0=0.5, acc_gain=0.1, acc_max=0.9,
                     cloud_usd_per_1k_tok=0.001, cloud_usd_per_request=0.0)
    return make_config(catalog=None, models=[spec], aoc={"tasks_per_model": 2, **aoc})


def test_worked_example():
    ctx = AgeOfContext(one_model_config(nu=0.5, rho=0.2, task_mix_ewma=0.1))
    # Requests per slot (1 model x 2 tasks): slot 0 two of task 0, slot 1 four and two, slot 2 none.
    ctx.reset(np.array([[[2.0, 0.0]], [[4.0, 2.0]], [[0.0, 0.0]]]))
    assert ctx.aoc[0] == 0.0 and ctx.accuracy[0].tolist() == [0.5, 0.5]

    # Slot 0: two task-0 requests served at the edge.
    ctx.update(np.array([[2.0, 0.0]]), 0)
    assert ctx.mass[0] == pytest.approx([2.0, 0.0])
    assert ctx.effective[0] == pytest.approx([2.0, 0.4])  # task 1 sees rho * 2
    assert ctx.accuracy[0] == pytest.approx([0.5 + 0.1 * math.log2(3.0), 0.5 + 0.1 * math.log2(1.4)])
    assert ctx.task_mix[0] == pytest.approx([0.55, 0.45])
    assert ctx.aoc[0] == pytest.approx(0.55 * 2.0 + 0.45 * 0.4)

    # Slot 1: decay to [1, 0], add [4, 2] -> [5, 2] = 7 > W = 4: scaled to 4 (oldest fall out).
    ctx.update(np.array([[4.0, 2.0]]), 1)
    assert ctx.mass[0] == pytest.approx([20 / 7, 8 / 7])
    assert ctx.mass[0].sum() == pytest.approx(4.0)
    assert ctx.effective[0] == pytest.approx([20 / 7 + 0.2 * 8 / 7, 8 / 7 + 0.2 * 20 / 7])

    # Slot 2: nothing served: pure decay.
    ctx.update(np.zeros((1, 2)), 2)
    assert ctx.mass[0] == pytest.approx([10 / 7, 4 / 7])
    assert ctx.task_mix[0] == pytest.approx([0.55 + 0.1 * (4 / 6 - 0.55), 0.45 + 0.1 * (2 / 6 - 0.45)])

    # Eviction throws the context away.
    ctx.evict(0)
    assert ctx.mass[0].tolist() == [0.0, 0.0] and ctx.aoc[0] == 0.0
    assert ctx.accuracy[0].tolist() == [0.5, 0.5]


def test_accuracy_is_capped_at_acc_max():
    ctx = AgeOfContext(one_model_config(nu=1.0, rho=1.0))
    ctx.reset(np.full((5, 1, 2), 4.0))
    for t in range(5):
        ctx.update(np.array([[4.0, 4.0]]), t)
    # C = 4 on both tasks: 0.5 + 0.1 * log2(5) = 0.732 < 0.9; with gain 1.0 it would cap.
    assert ctx.accuracy[0] == pytest.approx([0.5 + 0.1 * math.log2(5.0)] * 2)
    steep_cfg = one_model_config(nu=1.0, rho=1.0)

    steep = AgeOfContext(replace(steep_cfg, models=(replace(steep_cfg.models[0], acc_gain=1.0),)))
    steep.reset(np.full((1, 1, 2), 4.0))
    steep.update(np.array([[4.0, 4.0]]), 0)
    assert steep.accuracy[0].tolist() == [0.9, 0.9]
