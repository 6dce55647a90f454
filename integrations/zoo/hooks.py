"""Slot discounting and warm start for rl-zoo3, reachable the zoo way (``callback:`` by dotted path).

* ``env_wrapper: training.wrappers.HorizonTerminal`` (the wrapper train.py uses): the end of the
  horizon as a terminal state, and ``info["slot_served"]``.
* ``integrations.zoo.hooks.SlotDiscount``: discount per served slot (:mod:`training.slot_discount`).
  The zoo builds the model with SB3's own buffers; this callback swaps in the slot-discounting
  buffer (same size and spaces) before the first step and, for PPO, feeds it the flags.
* ``integrations.zoo.hooks.WarmStart`` (kwargs as train.py's ``warm_start``: ``agent``, ``steps``,
  ``epochs``, ...): behaviour cloning of a heuristic before training (:mod:`training.warm_start`).
  For DQN the zoo builds a plain ``DQN``, so the pre-training (replay demonstrations, TD + margin
  loss) happens but the margin loss does not stay on during training as in train.py's MarginDQN.

List ``SlotDiscount`` before ``WarmStart`` (the warm start's critic targets are slot-discounted
when the buffer is).
"""

from __future__ import annotations

import sys
from typing import Any

from stable_baselines3.common.callbacks import BaseCallback

from training.slot_discount import SlotDiscountCallback, SlotReplayBuffer, SlotRolloutBuffer, _SlotGAE


class SlotDiscount(SlotDiscountCallback):
    """Slot-discounting buffer for PPO (rollout) or DQN (replay), swapped in before training."""

    def _init_callback(self) -> None:
        model = self.model
        if hasattr(model, "rollout_buffer") and not isinstance(model.rollout_buffer, _SlotGAE):
            old = model.rollout_buffer
            if type(old).__name__ != "RolloutBuffer":
                raise TypeError(f"SlotDiscount supports PPO's RolloutBuffer, not {type(old).__name__}")
            model.rollout_buffer = SlotRolloutBuffer(
                old.buffer_size, old.observation_space, old.action_space, device=old.device,
                gamma=old.gamma, gae_lambda=old.gae_lambda, n_envs=old.n_envs)
        elif hasattr(model, "replay_buffer") and not isinstance(model.replay_buffer, SlotReplayBuffer):
            old = model.replay_buffer
            if old.size() > 0:
                raise RuntimeError("SlotDiscount must be in place before the replay buffer fills")
            model.replay_buffer = SlotReplayBuffer(
                old.buffer_size, old.observation_space, old.action_space, device=old.device,
                n_envs=old.n_envs, handle_timeout_termination=old.handle_timeout_termination,
                gamma=model.gamma)

    def _on_step(self) -> bool:
        if hasattr(self.model, "rollout_buffer"):
            return super()._on_step()
        return True  # the replay buffer reads the flags itself


class WarmStart(BaseCallback):
    """train.py's warm start (behaviour cloning of ``agent``) at the start of zoo training."""

    def __init__(self, **settings: Any) -> None:
        super().__init__()
        from training.warm_start import check_settings

        self.settings = check_settings(settings)
        self.summary: dict[str, Any] | None = None

    def _on_training_start(self) -> None:
        import agents
        from training.warm_start import warm_start

        if self.model.num_timesteps > 0:  # a continued run: its policy is already trained
            return
        algo = "dqn" if hasattr(self.model, "replay_buffer") else "ppo"
        slot = isinstance(getattr(self.model, "rollout_buffer", None), _SlotGAE) or isinstance(
            getattr(self.model, "replay_buffer", None), SlotReplayBuffer)
        self.summary = warm_start(self.model, algo, agents.make(self.settings["agent"]), self.settings,
                                  gamma=self.model.gamma, slot_discount=slot)
        print(f"warm start: {self.summary}", file=sys.stderr)

    def _on_step(self) -> bool:
        return True
