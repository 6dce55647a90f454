"""SB3 ``VecEnv`` over the native vector env: ``train.py --vec native`` (PPO, MaskablePPO, DQN).

SB3 resets a sub-env in the step that ends its episode (the final observation goes to
``info["terminal_observation"]``); Gymnasium's vector env resets it on the next step. The adapter
resets ended sub-envs at once through ``reset(options={"reset_mask": ...})``, which continues
their random streams exactly as ``env.reset()`` without a seed would. As
:class:`training.wrappers.HorizonTerminal` does for the other ``--vec`` choices, the end of the
horizon is reported as terminal (``horizon_terminal=True``) and every step's info carries
``slot_served``; episode-end infos carry the episode figures (``episode_cost``, ``hit_ratio``,
...) for :class:`~stable_baselines3.common.vec_env.VecMonitor`. sb3-contrib's MaskablePPO reads
the masks through ``env_method("action_masks")`` (``get_action_masks``): one ``[2N + 1]`` mask
per sub-env, from the batched ``action_masks()``.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode
from stable_baselines3.common.vec_env.base_vec_env import VecEnv, VecEnvIndices, VecEnvStepReturn

from edge_cache_env.vector_env import EdgePFMCacheVectorEnv

MASK_METHOD = "action_masks"


class NativeVecEnv(VecEnv):
    """B EdgePFMCache servers in one :class:`EdgePFMCacheVectorEnv`, as an SB3 ``VecEnv``."""

    def __init__(self, venv: EdgePFMCacheVectorEnv, horizon_terminal: bool = True) -> None:
        if not isinstance(venv, EdgePFMCacheVectorEnv):
            raise TypeError(f"venv must be an EdgePFMCacheVectorEnv, got {type(venv).__name__}")
        if venv.metadata["autoreset_mode"] != AutoresetMode.DISABLED:
            raise ValueError("venv must be made with autoreset_mode=AutoresetMode.DISABLED: the "
                             "adapter resets ended sub-envs itself (SB3 semantics)")
        self.venv = venv
        self.spec = getattr(venv, "spec", None)  # VecMonitor's file header names the env by it
        self.horizon_terminal = horizon_terminal
        self._actions = np.zeros(venv.num_envs, dtype=np.int64)
        self._slot = np.zeros(venv.num_envs, dtype=np.int64)
        super().__init__(venv.num_envs, venv.single_observation_space, venv.single_action_space)

    @classmethod
    def make(cls, env_id: str, n_envs: int, env_kwargs: dict[str, Any] | None = None,
             horizon_terminal: bool = True) -> NativeVecEnv:
        venv = gym.make_vec(env_id, num_envs=n_envs, vectorization_mode="vector_entry_point",
                            autoreset_mode=AutoresetMode.DISABLED, **dict(env_kwargs or {}))
        return cls(venv, horizon_terminal)

    # ------------------------------------------------------------------ VecEnv API
    def reset(self) -> np.ndarray:
        obs, info = self.venv.reset(seed=list(self._seeds))
        self._slot = info["slot"].copy()
        self.reset_infos = [{} for _ in range(self.num_envs)]
        self._reset_seeds()
        self._reset_options()
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.asarray(actions).reshape(self.num_envs).astype(np.int64, copy=False)

    def step_wait(self) -> VecEnvStepReturn:
        obs, rewards, terminated, truncated, info = self.venv.step(self._actions)
        served = info["slot"] != self._slot
        dones = terminated | truncated
        infos: list[dict[str, Any]] = [{"slot_served": bool(s)} for s in served.tolist()]
        if dones.any():
            ended = np.flatnonzero(dones)
            keys = [k for k in info if not k.startswith("_") and info.get("_" + k) is not None]
            for i in ended.tolist():
                d = infos[i]
                for k in keys:
                    if info["_" + k][i]:
                        v = info[k][i]
                        d[k] = v.copy() if isinstance(v, np.ndarray) else v.item()
                d["terminal_observation"] = obs[i].copy()
                d["TimeLimit.truncated"] = bool(truncated[i] and not terminated[i]
                                                and not self.horizon_terminal)
            obs, reset_info = self.venv.reset(seed=[None] * self.num_envs,
                                              options={"reset_mask": dones.copy()})
            info["slot"] = reset_info["slot"]
        self._slot = info["slot"].copy()
        return obs, rewards.astype(np.float32), dones, infos

    def close(self) -> None:
        self.venv.close()

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        idx = list(self._get_indices(indices))
        if attr_name == MASK_METHOD:
            return [self.venv.action_masks] * len(idx)
        value = getattr(self.venv, attr_name)  # shared by every sub-env (one config)
        return [value] * len(idx)

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        raise AttributeError(f"set_attr({attr_name!r}): the sub-envs of the native vector env "
                             "share one config and cannot be changed one by one")

    def env_method(self, method_name: str, *method_args: Any, indices: VecEnvIndices = None,
                   **method_kwargs: Any) -> list[Any]:
        idx = list(self._get_indices(indices))
        if method_name == MASK_METHOD:
            masks = self.venv.action_masks()
            return [masks[i] for i in idx]
        raise AttributeError(f"env_method({method_name!r}) is not supported by the native "
                             f"vector env (only {MASK_METHOD!r})")

    def env_is_wrapped(self, wrapper_class: type[gym.Wrapper], indices: VecEnvIndices = None
                       ) -> list[bool]:
        return [False] * len(list(self._get_indices(indices)))


def make_native_vec(env_id: str, env_kwargs: dict[str, Any], n_envs: int, monitor_dir: str | None,
                    seed: int | None) -> VecEnv:
    """``train.py --vec native``: the adapter, monitored like ``make_vec_env``'s envs."""
    from pathlib import Path

    from stable_baselines3.common.vec_env import VecMonitor

    env = NativeVecEnv.make(env_id, n_envs, env_kwargs)
    env.seed(seed)
    filename = None
    if monitor_dir is not None:
        Path(monitor_dir).mkdir(parents=True, exist_ok=True)
        filename = str(Path(monitor_dir) / "native")
    return VecMonitor(env, filename, info_keywords=("episode_cost", "hit_ratio", "invalid_actions"))
