"""The synthetic workload: seeded, open-loop, shaped as configured; EpisodeRequests checks."""

from __future__ import annotations

import numpy as np
import pytest

from edge_cache_env.config import make_config
from edge_cache_env.requests import EpisodeRequests
from edge_cache_env.workload import SyntheticWorkload


def sample(seed, **overrides):
    cfg = make_config("default", **overrides)
    return SyntheticWorkload(cfg).sample_episode(np.random.default_rng(seed))


def test_same_seed_same_requests():
    a, b = sample(3), sample(3)
    for name in ("slot", "model", "task", "input_tokens", "output_tokens"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert not np.array_equal(a.model, sample(4).model)


def test_shape_rate_tokens_and_aggregates():
    r = sample(0, requests_per_slot=50.0)
    assert r.count.shape == (360, 10) and r.count_task.shape == (360, 10, 4)
    assert abs(r.count.sum(axis=1).mean() - 50.0) < 1.5  # Poisson mean
    assert np.all(np.diff(r.slot) >= 0)
    assert r.input_tokens.min() >= 1 and r.input_tokens.max() <= 16384
    assert 300 < np.median(r.input_tokens) < 500  # log-normal around the median 400
    np.testing.assert_array_equal(r.count_task.sum(axis=2), r.count)
    assert r.input_sum.sum() == r.input_tokens.sum()


def test_popularity_is_skewed_and_drifts():
    r = sample(1, shift_every_slots=60, shift_fraction=0.5)
    first = r.count[:60].sum(axis=0)
    last = r.count[-60:].sum(axis=0)
    assert first.max() > 3 * np.median(first)  # Zipf: a few models dominate
    assert np.argsort(first)[-3:].tolist() != np.argsort(last)[-3:].tolist()
    still = sample(1, shift_fraction=0.0)
    a, b = still.count[:60].sum(axis=0), still.count[-60:].sum(axis=0)
    assert np.argmax(a) == np.argmax(b)


def test_next_request_slot():
    r = sample(2, n_slots=30)
    nxt = r.next_request_slot()
    for t in (0, 10, 29):
        for m in range(10):
            future = np.flatnonzero(r.count[t:, m] > 0)
            assert nxt[t, m] == (t + future[0] if len(future) else 30)


def test_episode_requests_validation():
    ok = dict(slot=np.array([0, 1]), model=np.array([0, 1]), task=np.array([0, 0]),
              input_tokens=np.array([5, 5]), output_tokens=np.array([1, 1]),
              n_slots=2, n_models=2, n_tasks=1)
    EpisodeRequests(**ok)
    with pytest.raises(ValueError, match="model outside"):
        EpisodeRequests(**{**ok, "model": np.array([0, 2])})
    with pytest.raises(ValueError, match="sorted"):
        EpisodeRequests(**{**ok, "slot": np.array([1, 0])})
    for slot in ([0, 2], [-1, 0]):  # past the last slot, before the first
        with pytest.raises(ValueError, match=r"slot outside \[0, 2\)"):
            EpisodeRequests(**{**ok, "slot": np.array(slot)})
    with pytest.raises(ValueError, match="token"):
        EpisodeRequests(**{**ok, "input_tokens": np.array([-1, 5])})
