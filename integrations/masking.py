"""The action mask inside the observation, for libraries that read it there (RLlib, ...).

``ActionMaskObservation(env)`` turns the observation into
``Dict({"observations": Box(0, 1, (8N + 3,)), "action_mask": Box(0, 1, (2N + 1,))})``, both
float32, the mask being ``env.action_masks()`` after every reset and step (1 = valid). This is
RLlib's convention (``ActionMaskingTorchRLModule`` reads these two keys); sb3-contrib reads
``action_masks()`` instead and needs no wrapper. Gymnasium only: no RL library is imported.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

OBS_KEY = "observations"
MASK_KEY = "action_mask"


class ActionMaskObservation(gym.ObservationWrapper, gym.utils.RecordConstructorArgs):
    """``{"observations": obs, "action_mask": float32 mask}`` (see the module docstring)."""

    def __init__(self, env: gym.Env) -> None:
        gym.utils.RecordConstructorArgs.__init__(self)  # the spec records it: the env can be rebuilt
        gym.ObservationWrapper.__init__(self, env)
        if not hasattr(env.unwrapped, "action_masks"):
            raise TypeError(f"{env.unwrapped!r} has no action_masks(): not an EdgePFMCache env?")
        n = int(env.action_space.n)
        self.observation_space = spaces.Dict({
            OBS_KEY: env.observation_space,
            MASK_KEY: spaces.Box(0.0, 1.0, shape=(n,), dtype=np.float32),
        })

    def observation(self, observation: np.ndarray) -> dict[str, np.ndarray]:
        return {OBS_KEY: observation, MASK_KEY: self.env.get_wrapper_attr("action_masks")().astype(np.float32)}


def make_masked(env_id: str, **env_kwargs: Any) -> ActionMaskObservation:
    """``gym.make(env_id, **env_kwargs)`` with the mask in the observation."""
    import edge_cache_env  # noqa: F401  (registers the ids wherever this runs)

    return ActionMaskObservation(gym.make(env_id, **env_kwargs))
