"""Play a padded env (``EdgePFMCache-Random-v0``, :class:`~edge_cache_env.padding.PadModels`) with
an agent written for the unpadded catalog.

Agents that read the scenario (``cost_benefit`` reads the catalog and cost weights at
``attach``; the reference agents read the requests) need the env of the current scenario and
an observation of its own ``n`` models. :class:`PaddedAgent` attaches the wrapped agent to that
env (the random env's ``inner``), hands it the first ``n`` model rows of the padded observation
and pads its action back. On an unpadded env it is the wrapped agent.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from edge_cache_env.observation import ObservationLayout, n_models_of
from edge_cache_env.padding import pad_action, unpad_observation


def refuse_padded(env: Any, agent: Any) -> None:
    """For agents that read the scenario at ``attach``: on a padded env (its observation and
    actions are of ``n_max`` model slots, not the scenario's models) they must be wrapped, as
    ``evaluation.engine.run_episode`` does; said here, before an obscure shape error."""
    if hasattr(env.unwrapped, "inner"):
        name = getattr(agent, "name", type(agent).__name__)
        raise TypeError(f"{name} acts on one catalog's observation, and this env "
                        f"({type(env.unwrapped).__name__}) pads it to a fixed number of model "
                        f"slots: wrap it, agents.padded.PaddedAgent(agent) (evaluate.py and "
                        f"evaluation.engine.run_episode do)")


def scenario_env(env: Any) -> Any:
    """The unpadded env of the current scenario: the random env's ``inner``, else ``env`` itself."""
    base = env.unwrapped
    return getattr(base, "inner", base)


class PaddedAgent:
    """``agent`` acting on the real models of a padded observation (see the module docstring)."""

    def __init__(self, agent: Any) -> None:
        self.agent = agent
        self.name = getattr(agent, "name", type(agent).__name__)
        self.n_models: int | None = None
        self.layout: ObservationLayout | None = None

    def attach(self, env: Any) -> None:
        inner = scenario_env(env)
        self.n_models = inner.config.n_models
        self.layout = ObservationLayout.of(inner.config)
        if hasattr(self.agent, "attach"):
            self.agent.attach(inner)

    def reset(self, seed: int | None = None) -> None:
        if hasattr(self.agent, "reset"):
            self.agent.reset(seed)

    def predict(self, observation: np.ndarray, state: Any = None, episode_start: Any = None,
                deterministic: bool = True) -> tuple[np.ndarray, Any]:
        obs = np.asarray(observation, dtype=np.float32)
        single = obs.ndim == 1
        batch = obs[None] if single else obs
        if self.layout is not None and batch.shape[-1] == self.layout.size:  # not padded
            return self.agent.predict(observation, state, episode_start, deterministic)
        n_max = n_models_of(batch.shape[-1])  # padding is of the v0 layout
        n = self.n_models if self.n_models is not None else n_max
        inner = unpad_observation(batch, n) if n < n_max else batch
        actions, state = self.agent.predict(inner, state, episode_start, deterministic)
        padded = np.array([pad_action(int(a), n, n_max) for a in np.asarray(actions).reshape(-1)],
                          dtype=np.int64)
        return (padded[0] if single else padded), state
