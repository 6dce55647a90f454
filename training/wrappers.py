"""The wrappers used while training (never by the benchmark).

:class:`Advised` appends the cost-benefit rule's advice to the observation, for a set policy
built with ``advice=True`` (the generalist's agent computes the same advice itself).

* The env truncates after its last slot. For the learner that end is a true terminal state: the
  horizon is fixed and observed (the ``progress`` feature), and the objective is the total cost
  of the episode. Reporting it as ``terminated`` stops SB3 from bootstrapping past the end
  with a guessed value (what it does for a time-limit truncation).
* ``info["slot_served"]`` says whether the step served a slot (SERVE, or an invalid action,
  which acts as SERVE), for slot discounting (:mod:`training.slot_discount`).
* Only the last step of an episode carries the env's full info (the per-episode figures the
  Monitor and the callbacks read); other steps carry ``slot_served`` alone. SB3's DummyVecEnv
  deep-copies every info of every step, and copying the env's ~30-key info was a fifth of
  MaskablePPO's training time (cProfile of train.py, 16 envs). Nothing reads those keys
  mid-episode while training; masks come from ``action_masks()``.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from agents.advice import Advisor, advised_size
from agents.padded import scenario_env
from edge_cache_env.observation import ObservationLayout, n_models_of


class HorizonTerminal(gym.Wrapper):
    """End of horizon -> ``terminated``; ``info`` is ``{"slot_served": ...}`` until the last step."""

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self._slot = 0

    def reset(self, **kwargs: Any) -> tuple[np.ndarray, dict[str, Any]]:
        obs, info = self.env.reset(**kwargs)
        self._slot = info["slot"]
        return obs, info

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        served = info["slot"] != self._slot
        self._slot = info["slot"]
        if truncated and not terminated:
            terminated, truncated = True, False
        if not terminated:
            return obs, reward, terminated, truncated, {"slot_served": served}
        info["slot_served"] = served
        return obs, reward, terminated, truncated, info


class Advised(gym.ObservationWrapper):
    """Observations with the cost-benefit rule's advice appended (:mod:`agents.advice`), for a
    set policy built with ``advice=True``. Works on any EdgePFMCache env: v0 or v1 (the
    advised observation keeps the v0 block, as the generalist reads it), padded
    (``EdgePFMCache-Random-v0``) or not; the advice follows the current scenario.
    ``capacity_gate``: with the capacity-model flag a gated set policy reads."""

    def __init__(self, env: gym.Env, capacity_gate: bool = False) -> None:
        super().__init__(env)
        size = int(np.prod(env.observation_space.shape))
        config = scenario_env(env).config
        own = ObservationLayout.of(config).size == size  # not padded: the scenario's own layout
        self.n_slots = config.n_models if own else n_models_of(size)
        #: length of the env's own observation, the first part of an advised one (what a
        #: heuristic teacher reads: training/warm_start.py)
        self.advice_base_size = size
        self.advisor = Advisor(capacity_gate=capacity_gate)
        self.observation_space = spaces.Box(-1.0, 1.0, shape=(advised_size(self.n_slots, capacity_gate),),
                                            dtype=np.float32)

    def observation(self, observation: np.ndarray) -> np.ndarray:
        self.advisor.set_scenario(scenario_env(self.env).config)
        return self.advisor.advise(observation, self.n_slots)
