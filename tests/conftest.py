"""Shared fixtures: small configs and the realised requests of a seeded episode."""

from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import edge_cache_env  # noqa: F401  (registers ids)
from edge_cache_env.config import EnvConfig, make_config
from edge_cache_env.workload import SyntheticWorkload


@pytest.fixture
def small_config() -> EnvConfig:
    return make_config("small", n_slots=40)


@pytest.fixture
def small_requests(small_config):
    return SyntheticWorkload(small_config).sample_episode(np.random.default_rng(0))


def assert_check_env_clean(env_id: str, **kwargs) -> None:
    """Gymnasium's ``check_env`` on a registered id passes without a single warning."""
    env = gym.make(env_id, **kwargs)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env.unwrapped, skip_render_check=False)
    assert [str(w.message) for w in caught] == []


@pytest.fixture(scope="session")
def local_ray():
    """One local Ray for all the Ray tests of a test process (its start-up takes 15-40 s)."""
    ray = pytest.importorskip("ray")  # the [ray] extra, installed by `make test`
    from evaluation.ray_cluster import connect

    started = connect(None, num_cpus=2)
    yield ray
    if started:
        ray.shutdown()
