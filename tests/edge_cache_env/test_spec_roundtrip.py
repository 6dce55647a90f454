"""A config passed as config= survives the env spec's JSON (Minari, RLlib runners, ...)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.envs.registration import EnvSpec

import edge_cache_env  # noqa: F401  (registers ids)
from edge_cache_env.config import make_config


def test_config_dict_round_trips_through_the_spec_json():
    cfg = make_config("small", n_slots=20, gpu_gb=30, aoc={"nu": 0.7})
    env = gym.make("EdgePFMCache-Small-v0", config=cfg.to_dict())
    rebuilt = gym.make(EnvSpec.from_json(env.spec.to_json()))
    assert rebuilt.unwrapped.config == cfg == env.unwrapped.config
    a, _ = env.reset(seed=5)
    b, _ = rebuilt.reset(seed=5)
    np.testing.assert_array_equal(a, b)


def test_config_of_a_wrong_type_is_rejected():
    with pytest.raises(TypeError, match=r"config = \[1, 2\] is invalid: must be an EnvConfig"):
        gym.make("EdgePFMCache-Small-v0", config=[1, 2])
    with pytest.raises(TypeError, match="unknown"):
        gym.make("EdgePFMCache-Small-v0", config={**make_config("small").to_dict(), "bogus": 1})
