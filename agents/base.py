"""The agent protocol shared by heuristics, reference policies and trained models.

Every agent follows Stable-Baselines3's ``predict(obs, state=None, episode_start=None,
deterministic=True) -> (actions, state)``, batched over a leading dimension (a single
observation gives a single action), so ``evaluate.py`` treats all of them alike.

Reference agents (``static``, ``clairvoyant``, ``oracle``) read the realised request sequence of the
episode. They are bound to an env with :meth:`Agent.attach`, which the evaluator calls after
every ``env.reset(seed=...)``; reactive heuristics ignore it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


class Agent:
    """Base class: subclasses implement :meth:`act` on a batch ``obs[B, D]``."""

    name = "agent"

    def attach(self, env: Any) -> None:
        """Bind to ``env`` after its ``reset`` (reference agents read its requests)."""

    def reset(self, seed: int | None = None) -> None:
        """Start of an episode: reseed any internal randomness."""

    def reset_batch(self, seeds: Sequence[int | None]) -> bool:
        """Start ``len(seeds)`` episodes played side by side, batch row i as :meth:`reset`
        with ``seeds[i]`` would start it alone. ``False``: the agent keeps per-episode state it
        cannot hold per row (the evaluator then plays one copy per episode). Agents without
        per-episode state need nothing."""
        return type(self).reset is Agent.reset

    def act(self, obs: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def predict(self, observation: np.ndarray, state: Any = None, episode_start: Any = None,
                deterministic: bool = True) -> tuple[np.ndarray, Any]:
        """SB3's protocol: actions for a batch (or one) observation; ``state`` is passed through."""
        obs = np.asarray(observation, dtype=np.float32)
        if obs.ndim == 1:
            return self.act(obs[None, :])[0], state
        if obs.ndim != 2:
            raise ValueError(f"{self.name}: observation must be 1-D or 2-D (batch), got shape {obs.shape}")
        return self.act(obs), state

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"
