"""Registered ids: every id builds the env its name says."""

from __future__ import annotations

import gymnasium as gym
import pytest

import edge_cache_env  # noqa: F401  (registers the ids)
from edge_cache_env.randomized import RandomizedEdgePFMCacheEnv
from edge_cache_env.registration import ENTRY_POINTS, ENV_IDS


def test_every_id_of_the_random_env_builds_the_random_env():
    random_ids = [i for i in ENV_IDS if "Random" in i]
    assert random_ids == ["EdgePFMCache-Random-v0"]
    for env_id in random_ids:
        assert env_id in ENTRY_POINTS
        assert isinstance(gym.make(env_id, n_max=10).unwrapped, RandomizedEdgePFMCacheEnv)


def test_no_random_v1_posing_as_the_default_scenario():
    # It used to be registered with the plain env's entry point (the default scenario on v1).
    with pytest.raises(gym.error.Error, match="v1"):
        gym.make("EdgePFMCache-Random-v1")
