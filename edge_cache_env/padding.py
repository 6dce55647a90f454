"""Padding a catalog of N models to a fixed number of model slots, in one place.

A policy that must act on catalogs of any size sees every env through the same spaces: the
observation of ``n_max`` model slots (:func:`edge_cache_env.observation.observation_size`) and
``Discrete(2 * n_max + 1)`` actions. Models ``0..n-1`` keep their index; slots ``n..n_max-1``
are *absent*: every feature 0 and every action on them masked out. A real model always has
``footprint > 0`` (its memory share of the GPU), so presence is readable from the observation
(:func:`present_models`).

The layout of the flat observation is whatever :func:`split_observation` says (index maps
are computed from it), so padding follows any change of the observation layout.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from edge_cache_env.actions import SERVE, decode_action, evict_action, integer_action, load_action, n_actions
from edge_cache_env.observation import MODEL_FEATURE, n_models_of, observation_size, split_observation

#: Model slots of the padded spaces: the randomised env and the generalist agent use this.
PAD_MODELS = 32


@lru_cache(maxsize=64)
def _positions(n_models: int) -> tuple[np.ndarray, np.ndarray]:
    """Flat indices of ``(per_model[N, F], globals[G])`` in an observation of ``n_models``."""
    pm, g = split_observation(np.arange(observation_size(n_models)), n_models)
    return np.ascontiguousarray(pm), np.ascontiguousarray(g)


def _check_sizes(n_models: int, n_max: int) -> None:
    if not 1 <= n_models <= n_max:
        raise ValueError(f"cannot pad a catalog of {n_models} models to {n_max} model slots "
                         f"(need 1 <= n_models <= n_max)")


def pad_observation(obs: np.ndarray, n_max: int = PAD_MODELS) -> np.ndarray:
    """A (batched) observation of any catalog size as one of ``n_max`` models (absent rows 0)."""
    obs = np.asarray(obs, dtype=np.float32)
    n = n_models_of(obs.shape[-1])
    _check_sizes(n, n_max)
    if n == n_max:
        return obs.copy()
    src_pm, src_g = _positions(n)
    dst_pm, dst_g = _positions(n_max)
    out = np.zeros((*obs.shape[:-1], observation_size(n_max)), dtype=np.float32)
    out[..., dst_pm[:n].ravel()] = obs[..., src_pm.ravel()]
    out[..., dst_g] = obs[..., src_g]
    return out


def unpad_observation(obs: np.ndarray, n_models: int) -> np.ndarray:
    """The observation of the first ``n_models`` slots of a padded observation (inverse of padding)."""
    obs = np.asarray(obs, dtype=np.float32)
    n_max = n_models_of(obs.shape[-1])
    _check_sizes(n_models, n_max)
    src_pm, src_g = _positions(n_max)
    dst_pm, dst_g = _positions(n_models)
    out = np.zeros((*obs.shape[:-1], observation_size(n_models)), dtype=np.float32)
    out[..., dst_pm.ravel()] = obs[..., src_pm[:n_models].ravel()]
    out[..., dst_g] = obs[..., src_g]
    return out


def pad_mask(mask: np.ndarray, n_max: int = PAD_MODELS) -> np.ndarray:
    """A (batched) action mask of ``2n+1`` actions as one of ``2 n_max + 1`` (absent models False)."""
    mask = np.asarray(mask, dtype=bool)
    n = (mask.shape[-1] - 1) // 2
    _check_sizes(n, n_max)
    out = np.zeros((*mask.shape[:-1], n_actions(n_max)), dtype=bool)
    out[..., SERVE] = mask[..., SERVE]
    out[..., load_action(0):load_action(n)] = mask[..., load_action(0):load_action(n)]
    out[..., evict_action(0, n_max):evict_action(n, n_max)] = mask[..., evict_action(0, n):evict_action(n, n)]
    return out


def unpad_action(action: int, n_models: int, n_max: int = PAD_MODELS) -> int | None:
    """The action of a ``n_models`` catalog meant by a padded action; None if on an absent model."""
    kind, m = decode_action(int(action), n_max)
    if kind == "serve":
        return SERVE
    if m >= n_models:
        return None
    return load_action(m) if kind == "load" else evict_action(m, n_models)


def unpad_actions(actions: np.ndarray, n_models: int, n_max: int = PAD_MODELS) -> np.ndarray:
    """Vectorised :func:`unpad_action`; an action on an absent model becomes SERVE."""
    a = np.asarray(actions, dtype=np.int64)
    is_load = (a >= load_action(0)) & (a <= n_max)
    is_evict = a > n_max
    model = np.where(is_load, a - load_action(0), a - evict_action(0, n_max))
    out = np.where(is_load, load_action(model), np.where(is_evict, evict_action(model, n_models), SERVE))
    return np.where((is_load | is_evict) & (model >= n_models), SERVE, out)


def pad_action(action: int, n_models: int, n_max: int = PAD_MODELS) -> int:
    """The padded action of an action of a ``n_models`` catalog."""
    kind, m = decode_action(int(action), n_models)
    if kind == "serve":
        return SERVE
    return load_action(m) if kind == "load" else evict_action(m, n_max)


def present_models(obs: np.ndarray) -> np.ndarray:
    """``[..., N]`` True for the real models of a (padded) observation (footprint > 0)."""
    obs = np.asarray(obs)
    pm, _ = split_observation(obs, n_models_of(obs.shape[-1]))
    return pm[..., MODEL_FEATURE["footprint"]] > 0


class V0Observation(gym.ObservationWrapper):
    """The v0 block of an env's observation (v1 appends the capacity features after it): what
    the padding's layout holds. The dynamics stay the env's own."""

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self.size = observation_size(int(env.unwrapped.config.n_models))
        self.observation_space = spaces.Box(0.0, 1.0, shape=(self.size,), dtype=np.float32)

    def observation(self, observation: np.ndarray) -> np.ndarray:
        return observation[..., :self.size]

    def action_masks(self) -> np.ndarray:
        return self.env.get_wrapper_attr("action_masks")()


class PadModels(gym.Wrapper):
    """Any EdgePFMCache env seen through ``n_max`` model slots.

    Observation ``observation_size(n_max)``, actions ``Discrete(2 n_max + 1)``,
    :meth:`action_masks` and ``info["action_mask"]`` padded. An action on an absent model is
    a masked-out operation: the inner env serves the slot and charges its invalid-action
    penalty, exactly as for any other masked-out operation.
    """

    def __init__(self, env: gym.Env, n_max: int = PAD_MODELS) -> None:
        super().__init__(env)
        self.n_models = int(env.unwrapped.config.n_models)
        _check_sizes(self.n_models, n_max)
        self.n_max = n_max
        self.observation_space = spaces.Box(0.0, 1.0, shape=(observation_size(n_max),), dtype=np.float32)
        self.action_space = spaces.Discrete(n_actions(n_max))

    def reset(self, **kwargs: Any) -> tuple[np.ndarray, dict[str, Any]]:
        obs, info = self.env.reset(**kwargs)
        return pad_observation(obs, self.n_max), self._pad_info(info)

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        a = integer_action(action, self.action_space.n)
        if not 0 <= a < self.action_space.n:
            raise ValueError(f"action {action!r} outside Discrete({self.action_space.n})")
        inner = unpad_action(a, self.n_models, self.n_max)
        if inner is None:  # an absent model: a masked-out operation of the inner env
            inner = self._invalid_operation()
        obs, reward, terminated, truncated, info = self.env.step(inner)
        return pad_observation(obs, self.n_max), reward, terminated, truncated, self._pad_info(info)

    def action_masks(self) -> np.ndarray:
        # The wrapped chain's mask (another wrapper may change it), not the base env's.
        return pad_mask(self.env.get_wrapper_attr("action_masks")(), self.n_max)

    def _invalid_operation(self) -> int:
        """An operation the inner env masks out now (model 0 cannot be both loaded and evicted)."""
        mask = self.env.get_wrapper_attr("action_masks")()
        ev = evict_action(0, self.n_models)
        return ev if not mask[ev] else load_action(0)

    def _pad_info(self, info: dict[str, Any]) -> dict[str, Any]:
        if "action_mask" in info:
            info["action_mask"] = pad_mask(info["action_mask"], self.n_max)
        return info


__all__ = ["PAD_MODELS", "PadModels", "V0Observation", "pad_action", "pad_mask",
           "pad_observation", "present_models", "unpad_action", "unpad_actions", "unpad_observation"]
