"""The trace env ids through Gymnasium: check_env, determinism per seed, reset without file reads."""

from __future__ import annotations

import builtins
import gzip
import pickle
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from conftest import assert_check_env_clean

import edge_cache_env  # noqa: F401  (registers ids)

TRACE_IDS = ["EdgePFMCache-ServeGen-v0", "EdgePFMCache-Mooncake-v0", "EdgePFMCache-Azure-v0"]
FIELDS = ("slot", "model", "task", "input_tokens", "output_tokens")


@pytest.mark.parametrize("env_id", TRACE_IDS)
def test_gymnasium_check_env_without_warnings(env_id):
    assert_check_env_clean(env_id, n_slots=30)


@pytest.mark.parametrize("env_id", TRACE_IDS)
@pytest.mark.parametrize("split", ["train", "test"])
def test_same_seed_same_episode_different_seed_differs(env_id, split):
    a, b = gym.make(env_id, split=split), gym.make(env_id, split=split)
    a.reset(seed=11)
    b.reset(seed=11)
    ra, rb = a.unwrapped.requests, b.unwrapped.requests
    assert ra.n_requests > 0
    for f in FIELDS:
        np.testing.assert_array_equal(getattr(ra, f), getattr(rb, f))
    b.reset(seed=12)
    assert not np.array_equal(ra.count, b.unwrapped.requests.count)
    # a masked random rollout gives the same rewards in both envs
    rng = np.random.default_rng(0)
    for env in (a, b):
        env.reset(seed=11)
    for _ in range(200):
        mask = a.unwrapped.action_masks()
        action = rng.choice(np.flatnonzero(mask))
        sa, sb = a.step(action), b.step(action)
        np.testing.assert_array_equal(sa[0], sb[0])
        assert sa[1] == sb[1] and sa[3] == sb[3]
        if sa[3]:
            break


def test_reset_does_not_read_files(monkeypatch):
    envs = [gym.make(env_id) for env_id in TRACE_IDS]

    def no_reading(*args, **kwargs):
        raise AssertionError(f"file opened during reset: {args[:1]}")

    monkeypatch.setattr(builtins, "open", no_reading)
    monkeypatch.setattr(gzip, "open", no_reading)
    monkeypatch.setattr(Path, "read_text", no_reading)
    for env in envs:
        for seed in range(3):
            env.reset(seed=seed)


@pytest.mark.parametrize("env_id", TRACE_IDS)
def test_reset_and_step_are_fast(env_id):
    env = gym.make(env_id)
    env.reset(seed=0)  # the file is loaded by make(); this warms nothing up but the env
    t0 = time.perf_counter()
    for seed in range(10):
        env.reset(seed=seed)
    reset_s = (time.perf_counter() - t0) / 10
    t0 = time.perf_counter()
    steps = 0
    truncated = False
    while not truncated:
        truncated = env.step(0)[3]
        steps += 1
    step_s = (time.perf_counter() - t0) / steps
    # generous bounds (2 shared CPU cores): a reset is a window draw, a step a slot
    assert reset_s < 0.2, f"reset took {reset_s * 1e3:.1f} ms"
    assert step_s < 0.005, f"step took {step_s * 1e3:.2f} ms"


@pytest.mark.parametrize("env_id", TRACE_IDS)
def test_pickle_round_trip_continues_identically(env_id):
    env = gym.make(env_id)
    env.reset(seed=4)
    for _ in range(5):
        env.step(0)
    clone = pickle.loads(pickle.dumps(env))
    for _ in range(5):
        a, b = env.step(0), clone.step(0)
        np.testing.assert_array_equal(a[0], b[0])
        assert a[1] == b[1]
    np.testing.assert_array_equal(env.unwrapped.requests.model, clone.unwrapped.requests.model)
