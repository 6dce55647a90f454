"""The generalist: one trained set policy that plays any catalog of up to ``PAD_MODELS`` models.

``agents.make("generalist")`` loads ``agents/pretrained/generalist.zip`` (a MaskablePPO with
:class:`agents.set_policy.SetPolicy`, trained on ``EdgePFMCache-Random-v0``). The set policy's
weights do not depend on the number of models, so the trained network is rebuilt for
``n_max`` (default :data:`~edge_cache_env.padding.PAD_MODELS`) model slots; every observation
is padded to that size and the chosen action mapped back to the env's own catalog
(:mod:`edge_cache_env.padding`). It plays EdgePFMCache-v0, -Small-v0, the traces, the random
env, and any catalog of up to ``n_max`` models.

torch and SB3 are imported here: ``agents`` imports this module only when asked for the agent.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from gymnasium import spaces

from agents.trained import ACTING_ONLY, PRETRAINED_DIR
from edge_cache_env.actions import n_actions
from edge_cache_env.observation import n_models_of, observation_size
from edge_cache_env.padding import PAD_MODELS, pad_mask, pad_observation, unpad_actions

GENERALIST_FILE = "generalist.zip"


def load_set_policy(path: str | Path, n_max: int = PAD_MODELS) -> Any:
    """The SetPolicy of a saved MaskablePPO zip, rebuilt for ``n_max`` model slots (CPU, eval mode)."""
    from sb3_contrib import MaskablePPO

    from agents.set_policy import SetPolicy

    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"no generalist model at {p} (train it: see agents/pretrained/manifest.json)")
    try:
        model = MaskablePPO.load(p, device="cpu", custom_objects=ACTING_ONLY)
    except (ValueError, KeyError, RuntimeError) as e:
        raise ValueError(f"{p} is not a loadable MaskablePPO model: {e}") from e
    trained = model.policy
    if not isinstance(trained, SetPolicy):
        raise ValueError(f"{p} holds a {type(trained).__name__}, not a SetPolicy: only a set "
                         f"policy acts on catalogs of any size")
    policy = SetPolicy(spaces.Box(0.0, 1.0, shape=(observation_size(n_max),), dtype=np.float32),
                       spaces.Discrete(n_actions(n_max)), lambda _: 0.0, hidden=trained.hidden)
    policy.load_state_dict(trained.state_dict())  # same weights: none depends on the size
    policy.set_training_mode(False)
    return policy


class GeneralistAgent:
    """A set policy behind the agents' predict protocol, for any catalog of up to ``n_max`` models."""

    name = "generalist"

    def __init__(self, path: str | Path | None = None, n_max: int = PAD_MODELS) -> None:
        self.path = Path(path) if path is not None else PRETRAINED_DIR / GENERALIST_FILE
        self.n_max = n_max
        self.policy = load_set_policy(self.path, n_max)

    def predict(self, obs: np.ndarray, state: Any = None, episode_start: np.ndarray | None = None,
                deterministic: bool = True, action_masks: np.ndarray | None = None
                ) -> tuple[np.ndarray, Any]:
        """Actions in the env's own catalog for a (batched or single) observation of any size."""
        obs = np.asarray(obs, dtype=np.float32)
        single = obs.ndim == 1
        batch = obs[None] if single else obs
        n = n_models_of(batch.shape[-1])
        if n > self.n_max:
            raise ValueError(f"generalist: a catalog of {n} models exceeds its {self.n_max} model slots")
        masks = None
        if action_masks is not None:
            masks = pad_mask(np.asarray(action_masks, dtype=bool).reshape(len(batch), -1), self.n_max)
        padded, _ = self.policy.predict(pad_observation(batch, self.n_max), deterministic=deterministic,
                                        action_masks=masks)
        actions = unpad_actions(np.asarray(padded).reshape(len(batch)), n, self.n_max)
        return (actions[0] if single else actions), state

    def __repr__(self) -> str:
        return f"GeneralistAgent({self.path}, n_max={self.n_max})"
