"""The cost-benefit rule's assessment as extra per-model features for a learned policy.

A policy that sees only the observation cannot tell which model pays back its load: the
catalog constants (load cost, per-request saving against the cloud, accuracy gain) are not in
it, while :class:`~agents.cost_benefit.CostBenefit` reads them from the scenario config, as any
operator can. :class:`Advisor` hands the learner the same static knowledge, digested: per model,
the rule's choice (LOAD m / EVICT m as 0/1) and what it weighed (net gain of loading, benefit,
value of keeping, saving at the current context), each squashed to ``[-1, 1]`` by the model's
load cost so the scale is the same in every scenario; and one global, whether the rule serves.
The learner may follow the rule or overrule it (residual learning on top of a prior).

``capacity_gate=True`` adds a last global, :data:`GATE_FEATURE`: 1 if the scenario has the
capacity model (a GPU of finite throughput, the v2 ids), else 0. A set policy built with
``capacity_gate`` multiplies its learned correction of the rule by it
(:mod:`agents.set_policy`).

Advised observation of ``N`` model slots (:func:`advised_size`): the v0 observation of ``N``
models (:mod:`edge_cache_env.observation`), then :data:`ADVICE_MODEL_FEATURES` x ``N``
(feature-major, absent models 0), then :data:`ADVICE_GLOBAL_FEATURES` (then
:data:`GATE_FEATURE`).
"""

from __future__ import annotations

import numpy as np

from agents.cost_benefit import CostBenefit
from edge_cache_env.actions import SERVE, decode_action
from edge_cache_env.config import EnvConfig
from edge_cache_env.observation import (
    GLOBAL_FEATURES,
    MODEL_FEATURES,
    ObservationLayout,
    observation_size,
    split_observation,
)
from edge_cache_env.padding import pad_observation, unpad_observation

ADVICE_MODEL_FEATURES = (
    "cb_load",  # 1 if the rule loads this model now
    "cb_evict",  # 1 if the rule evicts this model now
    "net",  # net gain of loading it (benefit - victims' value), -1 if no room can be made
    "benefit",  # saving over the horizon of loading it now, minus its load
    "keep",  # value lost by evicting it
    "saving",  # saving over the horizon at its current context
)
ADVICE_GLOBAL_FEATURES = ("cb_serve",)  # 1 if the rule serves the slot
GATE_FEATURE = "capacity_model"  # with capacity_gate: 1 if the scenario has the capacity model


def _n_globals(capacity_gate: bool) -> int:
    return len(ADVICE_GLOBAL_FEATURES) + int(capacity_gate)


def advised_size(n_models: int, capacity_gate: bool = False) -> int:
    """Length of an advised observation of ``n_models`` model slots."""
    return (observation_size(n_models) + n_models * len(ADVICE_MODEL_FEATURES)
            + _n_globals(capacity_gate))


def n_models_of_advised(size: int, capacity_gate: bool = False) -> int:
    """Model slots of an advised observation of length ``size`` (inverse of :func:`advised_size`)."""
    per_model = len(MODEL_FEATURES) + len(ADVICE_MODEL_FEATURES)
    n, rest = divmod(size - len(GLOBAL_FEATURES) - _n_globals(capacity_gate), per_model)
    if rest or n < 1:
        raise ValueError(f"{size} is not the length of an advised observation")
    return n


def split_advised(obs: np.ndarray, n_models: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-model rows ``[..., N, F + A]`` (observation features, then advice) and globals."""
    base = observation_size(n_models)
    pm, g = split_observation(obs[..., :base], n_models)
    k = len(ADVICE_MODEL_FEATURES)
    adv = obs[..., base:base + k * n_models].reshape(*obs.shape[:-1], k, n_models)
    adv_pm = np.swapaxes(adv, -1, -2)
    return (np.concatenate([pm, adv_pm], axis=-1),
            np.concatenate([g, obs[..., base + k * n_models:]], axis=-1))


def _squash(x: np.ndarray, scale: np.ndarray) -> np.ndarray:
    return x / (np.abs(x) + scale)


class Advisor:
    """Advice of :class:`~agents.cost_benefit.CostBenefit` for the scenario it is set to
    (``capacity_gate``: with :data:`GATE_FEATURE` as the last global)."""

    def __init__(self, config: EnvConfig | None = None, capacity_gate: bool = False) -> None:
        self.rule = CostBenefit()
        self.capacity_gate = capacity_gate
        self.config: EnvConfig | None = None
        if config is not None:
            self.set_scenario(config)

    def set_scenario(self, config: EnvConfig) -> None:
        if config is self.config:
            return
        self.config = config
        self.rule.set_scenario(config)
        self.layout = ObservationLayout.of(config)
        load = self.rule.load_cost
        # Each model's load cost sets its scale; a tenth of the mean keeps a free load finite.
        self.scale = load + 0.1 * float(np.mean(load)) + 1e-9

    def features(self, obs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Advice ``([B, n, A], [B, Ga])`` for a batch of the scenario's own observations."""
        if self.config is None:
            raise RuntimeError("Advisor: set_scenario(config) first")
        obs = np.asarray(obs, dtype=np.float32)
        n = self.config.n_models
        actions, a = self.rule.assess(obs)
        out = np.zeros((len(obs), n, len(ADVICE_MODEL_FEATURES)), dtype=np.float32)
        for i, action in enumerate(actions):
            kind, m = decode_action(int(action), n)
            if kind != "serve":
                out[i, m, 0 if kind == "load" else 1] = 1.0
        feasible = np.isfinite(a.net)
        out[..., 2] = np.where(feasible, _squash(np.where(feasible, a.net, 0.0), self.scale), -1.0)
        out[..., 3] = _squash(a.benefit, self.scale)
        out[..., 4] = _squash(a.keep, self.scale)
        out[..., 5] = _squash(a.saving, self.scale)
        serve = (actions == SERVE).astype(np.float32)[:, None]
        if not self.capacity_gate:
            return out, serve
        flag = np.full_like(serve, float(self.config.capacity.enabled))
        return out, np.concatenate([serve, flag], axis=1)

    def _own(self, batch: np.ndarray) -> np.ndarray:
        """A batch of the scenario's own observations (padded ones unpadded)."""
        if self.config is None:
            raise RuntimeError("Advisor: set_scenario(config) first")
        return batch if batch.shape[-1] == self.layout.size else unpad_observation(batch, self.config.n_models)

    def rows(self, obs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """What :func:`split_advised` reads from :meth:`advise`'s observation, built directly
        (no padding, no flat layout): per-model rows ``[B, n, F + A]`` and globals, for a batch
        of the scenario's observations (own or padded)."""
        own = self._own(np.asarray(obs, dtype=np.float32))
        n = self.config.n_models
        adv_pm, adv_g = self.features(own)
        pm, g = split_observation(own[:, :observation_size(n)], n)
        return np.concatenate([pm, adv_pm], axis=-1), np.concatenate([g, adv_g], axis=-1)

    def advise(self, obs: np.ndarray, n_slots: int | None = None) -> np.ndarray:
        """The advised observation (``n_slots`` model slots, default the scenario's own) of a
        (batched) observation of the scenario, its own or padded to ``n_slots`` (v0 layout)."""
        obs = np.asarray(obs, dtype=np.float32)
        single = obs.ndim == 1
        batch = obs[None] if single else obs
        own = self._own(batch)
        n = self.config.n_models
        slots = n if n_slots is None else n_slots
        adv_pm, adv_g = self.features(own)
        if batch.shape[-1] == observation_size(slots):  # v0 layout of `slots` models already
            base = batch
        else:  # the v0 block of the scenario's own observation (v1 appends capacity), padded
            base = pad_observation(own[:, :observation_size(n)], slots)
        k = len(ADVICE_MODEL_FEATURES)
        adv = np.zeros((len(batch), k, slots), dtype=np.float32)
        adv[:, :, :n] = np.swapaxes(adv_pm, 1, 2)
        out = np.concatenate([base, adv.reshape(len(batch), -1), adv_g], axis=1)
        return out[0] if single else out


__all__ = ["ADVICE_GLOBAL_FEATURES", "ADVICE_MODEL_FEATURES", "GATE_FEATURE", "Advisor", "advised_size",
           "n_models_of_advised", "split_advised"]
