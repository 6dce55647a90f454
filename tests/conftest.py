"""Shared fixtures: small configs and the realised requests of a seeded episode."""

from __future__ import annotations

import numpy as np
import pytest

import edge_cache_env  # noqa: F401  (registers ids)
from edge_cache_env.config import EnvConfig, make_config
from edge_cache_env.workload import SyntheticWorkload


@pytest.fixture
def small_config() -> EnvConfig:
    return make_config("small", n_slots=40)


@pytest.fixture
def small_requests(small_config):
    return SyntheticWorkload(small_config).sample_episode(np.random.default_rng(0))
