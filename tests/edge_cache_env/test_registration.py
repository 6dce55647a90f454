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


def test_a_v2_capacity_mapping_merges_with_the_registered_capacity_model():
    # gym.make merges kwargs shallowly: a user's capacity mapping must not switch v2's model off.
    import gymnasium as gym

    for kwargs in ({"capacity": {"gpu_throughput": 0.5}}, {"gpu_throughput": 0.5}):
        single = gym.make("EdgePFMCache-v2", **kwargs).unwrapped.config.capacity
        batch = gym.make_vec("EdgePFMCache-v2", num_envs=2, vectorization_mode="vector_entry_point",
                             **kwargs).unwrapped.config.capacity
        assert (single.enabled, single.gpu_throughput) == (batch.enabled, batch.gpu_throughput) == (True, 0.5)
    assert not gym.make("EdgePFMCache-v2", capacity={"enabled": False}).unwrapped.config.capacity.enabled
    # v1 is v2 with its charging error (docs/model.md section 14.3); turning its model off
    # would leave that flag doing nothing, which is refused by name.
    with pytest.raises(ValueError, match="legacy_v1_charge"):
        gym.make("EdgePFMCache-v1", capacity={"enabled": False})
