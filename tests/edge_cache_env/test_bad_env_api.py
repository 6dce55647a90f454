"""The raw env class: integer actions only, step/render before reset are clear errors."""

from __future__ import annotations

import numpy as np
import pytest

from edge_cache_env.env import EdgePFMCacheEnv


def fresh(**kw) -> EdgePFMCacheEnv:
    env = EdgePFMCacheEnv(catalog="small", n_slots=20, **kw)
    env.reset(seed=0)
    return env


def test_step_and_render_before_reset():
    with pytest.raises(RuntimeError, match=r"step\(\) called before reset\(\)"):
        EdgePFMCacheEnv(catalog="small").step(0)
    with pytest.raises(RuntimeError, match=r"render\(\) called before reset\(\)"):
        EdgePFMCacheEnv(catalog="small", render_mode="ansi").render()
    with pytest.raises(RuntimeError, match=r"call reset\(\)"):
        _ = EdgePFMCacheEnv(catalog="small").requests


@pytest.mark.parametrize("action", [1.7, 0.0, "1", True, np.bool_(True), [1], np.array([1]), None,
                                    np.float32(1)])
def test_non_integer_actions_are_rejected(action):
    env = fresh()
    with pytest.raises(TypeError, match=r"action .* is invalid: must be an integer in Discrete\(13\)"):
        env.step(action)


@pytest.mark.parametrize("action", [1.7, "2", True, np.float64(1)])
def test_the_padded_and_random_envs_reject_non_integer_actions_too(action):
    """PadModels (and so Random-v0) read actions as the env does, not with int(action)."""
    import gymnasium as gym

    from edge_cache_env.padding import PadModels

    for env in (PadModels(gym.make("EdgePFMCache-Small-v0", n_slots=20), 8),
                gym.make("EdgePFMCache-Random-v0", n_slots=20)):
        env.reset(seed=0)
        with pytest.raises(TypeError, match=r"must be an integer in Discrete"):
            env.step(action)


@pytest.mark.parametrize("action", [1, np.int64(1), np.int32(1), np.uint8(1), np.array(1)])
def test_integer_actions_are_accepted(action):
    env = fresh()
    env.step(action)
    assert env.sim.used_mb > 0  # action 1 loaded model 0


def test_out_of_range_and_after_the_end():
    env = fresh()
    with pytest.raises(ValueError, match=r"action -1 outside Discrete\(13\)"):
        env.step(-1)
    with pytest.raises(ValueError, match=r"action 13 outside"):
        env.step(13)
    for _ in range(20):
        env.step(0)
    with pytest.raises(RuntimeError, match="after the episode ended"):
        env.step(0)
