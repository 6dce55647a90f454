"""Hand-built observations for agent tests: raw per-model values in, the env's squashing applied
with the scales :mod:`edge_cache_env.observation` owns."""

from __future__ import annotations

from typing import Any

import numpy as np

from edge_cache_env.observation import (
    AGE_SCALE_SLOTS,
    FREQUENCY_SCALE,
    GLOBAL_FEATURE,
    MODEL_FEATURE,
    RECENCY_SCALE_SLOTS,
    REQUESTS_SCALE,
    observation_size,
    split_observation,
    squash,
)

# Raw counts the env squashes, and the scale of each.
SQUASHED = {"requests": REQUESTS_SCALE, "recency": RECENCY_SCALE_SLOTS, "frequency": FREQUENCY_SCALE,
            "age": AGE_SCALE_SLOTS}


def build_observation(n: int, **values: Any) -> np.ndarray:
    """An observation of ``n`` models: per-model features by name (a value or one per model;
    ``requests``, ``recency``, ``frequency`` and ``age`` as raw counts, the others as shares)
    and globals by name (``free_memory``, ``ops_used``, ``progress``); the rest zero."""
    obs = np.zeros(observation_size(n), dtype=np.float32)
    pm, g = split_observation(obs, n)
    for name, value in values.items():
        if name in GLOBAL_FEATURE:
            g[GLOBAL_FEATURE[name]] = value
            continue
        if name in SQUASHED:
            value = squash(np.asarray(value, dtype=np.float64), SQUASHED[name])
        pm[:, MODEL_FEATURE[name]] = value
    return obs
