"""Registered scenario ids: plain, JSON-serialisable kwargs (``gym.spec(id).to_json()`` works)."""

from __future__ import annotations

from typing import Any

import gymnasium as gym

ENTRY_POINT = "edge_cache_env.env:EdgePFMCacheEnv"
# gym.make_vec(id, num_envs=B, vectorization_mode="vector_entry_point"): B servers, one compiled step
# (the ids of ENTRY_POINT's env; the ids below with their own entry point have their own).
VECTOR_ENTRY_POINT = "edge_cache_env.vector_env:EdgePFMCacheVectorEnv"
# Ids with their own entry point (default: ENTRY_POINT) and vector entry point.
ENTRY_POINTS: dict[str, str] = {
    # A new scenario every episode, padded to PAD_MODELS models (edge_cache_env/randomized.py).
    "EdgePFMCache-Random-v0": "edge_cache_env.randomized:RandomizedEdgePFMCacheEnv",
}
VECTOR_ENTRY_POINTS: dict[str, str] = {
    # Each sub-env its own scenario: stepped one by one (no common config for one kernel).
    "EdgePFMCache-Random-v0": "edge_cache_env.randomized:RandomizedVectorEnv",
}

# id -> kwargs. The horizon is enforced by the env itself (truncated after the last slot), so
# no TimeLimit wrapper is added.
ENV_IDS: dict[str, dict[str, Any]] = {
    "EdgePFMCache-v0": {"catalog": "default"},
    "EdgePFMCache-Small-v0": {"catalog": "small"},
    "EdgePFMCache-Large-v0": {"catalog": "large"},
    # Trace replay (edge_cache_env/traces/): pass trace_path= or set EDGE_PFM_TRACES. The
    # one-hour traces get 3 trace seconds per slot and 120 slots, so a 6-minute episode fits in
    # the test split (the last 18 minutes) with room for different starts.
    "EdgePFMCache-ServeGen-v0": {"catalog": "default", "source": "servegen"},
    "EdgePFMCache-Mooncake-v0": {"catalog": "default", "source": "mooncake",
                                 "trace_s_per_slot": 3.0, "n_slots": 120},
    "EdgePFMCache-Azure-v0": {"catalog": "default", "source": "azure", "trace_s_per_slot": 3.0,
                              "n_slots": 120},
    "EdgePFMCache-Random-v0": {},
}

# v1: the same scenarios with the capacity model on (issue 16). The calibrated capacity values
# are passed as plain kwargs (benchmarks/calibration_capacity.py checks them), as flat section fields:
# gym.make merges its kwargs into the registered ones shallowly, so a registered
# capacity={...} mapping would be replaced whole by a user's capacity={"gpu_throughput": 0.5},
# silently turning the capacity model off; flat fields come first and a user's mapping merges
# over them (make_config).
# v2: the same, with v1's charging error fixed (requests of a carried queue served at the edge
# also paid the cloud's latency, price and accuracy: docs/model.md section 14.3). The v1 ids
# stay, deprecated (Gymnasium warns that they are out of date), so their figures reproduce.
CAPACITY_V2: dict[str, Any] = {"enabled": True, "gpu_throughput": 1.0}
CAPACITY_V1: dict[str, Any] = {**CAPACITY_V2, "legacy_v1_charge": True}
# The random env has no v1/v2: its padding (edge_cache_env/padding.py) is of the v0 layout. (It
# was registered with the plain env's entry point, so EdgePFMCache-Random-v1 silently played
# the default scenario.)
_V0_IDS = [env_id for env_id in ENV_IDS if env_id not in ENTRY_POINTS]
for _version, _capacity in (("-v1", CAPACITY_V1), ("-v2", CAPACITY_V2)):
    ENV_IDS.update({env_id.replace("-v0", _version): {**ENV_IDS[env_id], **_capacity}
                    for env_id in _V0_IDS})


def has_native_vector_env(env_id: str) -> bool:
    """Whether ``env_id``'s vector entry point is the native batched vector env (one compiled
    step, the adapters' options: ``autoreset_mode``, ``reset_mask``, per-step ``slot``)."""
    try:
        spec = gym.spec(env_id)
    except gym.error.Error:  # not registered: no vector env of ours
        return False
    return spec.vector_entry_point == VECTOR_ENTRY_POINT


def register_envs() -> None:
    """Register every id once; importing twice is harmless."""
    for env_id, kwargs in ENV_IDS.items():
        if env_id not in gym.registry:
            gym.register(id=env_id, entry_point=ENTRY_POINTS.get(env_id, ENTRY_POINT),
                         vector_entry_point=VECTOR_ENTRY_POINTS.get(env_id, VECTOR_ENTRY_POINT),
                         kwargs=dict(kwargs))
