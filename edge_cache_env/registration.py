"""Registered scenario ids: plain, JSON-serialisable kwargs (``gym.spec(id).to_json()`` works)."""

from __future__ import annotations

from typing import Any

import gymnasium as gym

ENTRY_POINT = "edge_cache_env.env:EdgePFMCacheEnv"

# id -> kwargs. The horizon is enforced by the env itself (truncated after the last slot), so
# no TimeLimit wrapper is added.
ENV_IDS: dict[str, dict[str, Any]] = {
    "EdgePFMCache-v0": {"catalog": "default"},
    "EdgePFMCache-Small-v0": {"catalog": "small"},
}


def register_envs() -> None:
    """Register every id once; importing twice is harmless."""
    for env_id, kwargs in ENV_IDS.items():
        if env_id not in gym.registry:
            gym.register(id=env_id, entry_point=ENTRY_POINT, kwargs=dict(kwargs))
