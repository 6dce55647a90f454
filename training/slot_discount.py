"""Discount per served slot, not per env step (a semi-MDP view of EdgePFMCache).

One slot takes a variable number of env steps: any LOAD/EVICT operations, then SERVE. With the
usual per-step discount, every extra operation pushes all future costs one step further away
and so makes them look cheaper: a free EVICT (or a LOAD/EVICT loop) becomes a way to "stall"
and learners find it. Here time only passes when a slot is served: a transition's discount is
``gamma`` if it served a slot and 1 otherwise (and so is GAE's lambda), so the return is the
slot-discounted cost and stalling gains nothing.

The flag comes from ``info["slot_served"]`` (added by
:class:`training.wrappers.HorizonTerminal`). On-policy buffers get it through
:class:`SlotDiscountCallback` (SB3's rollout buffer does not see infos); the replay buffer reads
it in ``add``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch as th
from sb3_contrib.common.maskable.buffers import MaskableRolloutBuffer
from stable_baselines3.common.buffers import ReplayBuffer, RolloutBuffer
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.type_aliases import ReplayBufferSamples


def served_flags(infos: list[dict[str, Any]]) -> np.ndarray:
    try:
        return np.array([bool(info["slot_served"]) for info in infos], dtype=np.float32)
    except KeyError as e:
        raise KeyError("slot discounting needs info['slot_served']: wrap the env in "
                       "training.wrappers.HorizonTerminal") from e


class _SlotGAE:
    """GAE with per-transition gamma and lambda (1 inside a slot)."""

    slot_served: np.ndarray

    def reset(self) -> None:
        super().reset()  # type: ignore[misc]
        self.slot_served = np.ones((self.buffer_size, self.n_envs), dtype=np.float32)

    def compute_returns_and_advantage(self, last_values: th.Tensor, dones: np.ndarray) -> None:
        last_values = last_values.clone().cpu().numpy().flatten()
        gammas = np.where(self.slot_served > 0, self.gamma, 1.0)
        lambdas = np.where(self.slot_served > 0, self.gae_lambda, 1.0)
        last_gae_lam = 0.0
        for step in reversed(range(self.buffer_size)):
            if step == self.buffer_size - 1:
                next_non_terminal = 1.0 - dones.astype(np.float32)
                next_values = last_values
            else:
                next_non_terminal = 1.0 - self.episode_starts[step + 1]
                next_values = self.values[step + 1]
            g = gammas[step]
            delta = self.rewards[step] + g * next_values * next_non_terminal - self.values[step]
            last_gae_lam = delta + g * lambdas[step] * next_non_terminal * last_gae_lam
            self.advantages[step] = last_gae_lam
        self.returns = self.advantages + self.values


class SlotRolloutBuffer(_SlotGAE, RolloutBuffer):
    """PPO's rollout buffer with slot discounting."""


class MaskableSlotRolloutBuffer(_SlotGAE, MaskableRolloutBuffer):
    """MaskablePPO's rollout buffer with slot discounting."""


class SlotDiscountCallback(BaseCallback):
    """Copies each step's ``slot_served`` flags into the rollout buffer (before SB3 adds the step)."""

    def _on_step(self) -> bool:
        buffer = self.model.rollout_buffer
        if not isinstance(buffer, _SlotGAE):
            raise TypeError("SlotDiscountCallback needs rollout_buffer_class=SlotRolloutBuffer "
                            "or MaskableSlotRolloutBuffer")
        buffer.slot_served[buffer.pos] = served_flags(self.locals["infos"])
        return True


class SlotReplayBuffer(ReplayBuffer):
    """DQN's replay buffer that stores each transition's discount (gamma or 1)."""

    def __init__(self, *args: Any, gamma: float = 0.99, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.optimize_memory_usage:
            raise ValueError("SlotReplayBuffer does not support optimize_memory_usage")
        self.gamma = gamma
        self.discounts = np.ones((self.buffer_size, self.n_envs), dtype=np.float32)

    def add(self, obs: np.ndarray, next_obs: np.ndarray, action: np.ndarray, reward: np.ndarray,
            done: np.ndarray, infos: list[dict[str, Any]]) -> None:
        self.discounts[self.pos] = np.where(served_flags(infos) > 0, self.gamma, 1.0)
        super().add(obs, next_obs, action, reward, done, infos)

    def _get_samples(self, batch_inds: np.ndarray, env: Any = None) -> ReplayBufferSamples:
        env_indices = np.random.randint(0, high=self.n_envs, size=(len(batch_inds),))
        data = (
            self._normalize_obs(self.observations[batch_inds, env_indices, :], env),
            self.actions[batch_inds, env_indices, :],
            self._normalize_obs(self.next_observations[batch_inds, env_indices, :], env),
            (self.dones[batch_inds, env_indices] * (1 - self.timeouts[batch_inds, env_indices])).reshape(-1, 1),
            self._normalize_reward(self.rewards[batch_inds, env_indices].reshape(-1, 1), env),
            self.discounts[batch_inds, env_indices].reshape(-1, 1),
        )
        return ReplayBufferSamples(*tuple(map(self.to_torch, data)))
