"""The wrapper used while training (never by the benchmark).

* The env truncates after its last slot. For the learner that end is a true terminal state: the
  horizon is fixed and observed (the ``progress`` feature), and the objective is the total cost
  of the episode. Reporting it as ``terminated`` stops SB3 from bootstrapping past the end
  with a guessed value (what it does for a time-limit truncation).
* ``info["slot_served"]`` says whether the step served a slot (SERVE, or an invalid action,
  which acts as SERVE), for slot discounting (:mod:`agents.slot_discount`).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np


class HorizonTerminal(gym.Wrapper):
    """End of horizon -> ``terminated``; adds ``info["slot_served"]``."""

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self._slot = 0

    def reset(self, **kwargs: Any) -> tuple[np.ndarray, dict[str, Any]]:
        obs, info = self.env.reset(**kwargs)
        self._slot = info["slot"]
        return obs, info

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        info["slot_served"] = info["slot"] != self._slot
        self._slot = info["slot"]
        if truncated and not terminated:
            terminated, truncated = True, False
        return obs, reward, terminated, truncated, info
