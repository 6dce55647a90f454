"""A MaskablePPO policy that treats the catalog as a set: one network for any number of models.

Every model is encoded by the same network from its own features and the global features; the
models then see each other through pooled summaries (masked mean and max over the present
models, and the sum over cached models, bounded by the GPU), and each model gets its own LOAD
and EVICT logit from the same head. SERVE gets one
logit from the pooled summary, and the value head reads pooled features only. So the policy is

* permutation-equivariant: permuting the models permutes their LOAD/EVICT probabilities alike;
* independent of the catalog size: absent (padded) models -- footprint 0, see
  :mod:`edge_cache_env.padding` -- are left out of every pooling and their logits are fixed at
  :data:`ABSENT_LOGIT`, so they change nothing for the present ones.

The observation space fixes the number of model slots ``N`` of one policy instance (the padded
size), not its weights. Logits follow :mod:`edge_cache_env.actions`:
``[SERVE, LOAD_0..LOAD_{N-1}, EVICT_0..EVICT_{N-1}]``.

SB3 plumbing: :class:`SetPolicy` is a ``MaskableActorCriticPolicy`` whose ``mlp_extractor`` is a
:class:`SetExtractor` returning the action logits as the actor latent and the value as the
critic latent (``action_net`` and ``value_net`` are identities), so every inherited method
(forward, evaluate_actions, get_distribution, predict_values, save/load) works unchanged.
This module imports torch: import it only where a set policy is built or loaded.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch as th
from sb3_contrib.common.maskable.policies import MaskableActorCriticPolicy
from torch import nn

from agents.advice import (
    ADVICE_GLOBAL_FEATURES,
    ADVICE_MODEL_FEATURES,
    n_models_of_advised,
    split_advised,
)
from edge_cache_env.actions import n_actions
from edge_cache_env.observation import (
    GLOBAL_FEATURES,
    MODEL_FEATURE,
    MODEL_FEATURES,
    n_models_of,
    split_observation,
)

ABSENT_LOGIT = -1.0e8  # an absent model's LOAD/EVICT logit: probability exactly 0 in float32
_NEG = -1.0e9  # fill for max pooling over absent models
PRIOR_WEIGHT = 5.0  # initial logit bonus of the advised action: ~0.9 of the probability on 10 models


def _mlp(n_in: int, hidden: int, n_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(n_in, hidden), nn.ReLU(), nn.Linear(hidden, n_out), nn.ReLU())


def masked_pool(h: th.Tensor, present: th.Tensor, cached: th.Tensor, with_sum: bool = False
                ) -> th.Tensor:
    """``[B, N, H] -> [B, 3H]``: mean and max over present models, sum over cached models
    (``[B, 4H]`` with the sum over present models).

    The sum over *cached* models is bounded by what fits on the GPU, not by the catalog size,
    so the actor can add up memory (room after evictions) and still act on any catalog.
    """
    w = present.unsqueeze(-1).to(h.dtype)
    total = (h * w).sum(dim=1)
    mean = total / w.sum(dim=1).clamp(min=1.0)
    mx = th.where(present.unsqueeze(-1), h, th.full_like(h, _NEG)).max(dim=1).values
    in_cache = (h * cached.unsqueeze(-1)).sum(dim=1)
    parts = [mean, mx, in_cache] + ([total / 8.0] if with_sum else [])
    return th.cat(parts, dim=-1)


class SetTrunk(nn.Module):
    """Shared per-model encoder, one round of interaction through pooled summaries."""

    def __init__(self, hidden: int, with_sum: bool, nf: int, ng: int) -> None:
        super().__init__()
        self.with_sum = with_sum
        n_pool = 4 if with_sum else 3
        self.embed = _mlp(nf + ng, hidden, hidden)
        self.mix = _mlp(hidden + n_pool * hidden + ng, hidden, hidden)
        self.out_dim = n_pool * hidden + ng  # pooled summary of the mixed features + globals

    def forward(self, pm: th.Tensor, g: th.Tensor, present: th.Tensor) -> tuple[th.Tensor, th.Tensor]:
        """Per-model features ``[B, N, H]`` and the pooled summary ``[B, out_dim]``."""
        n = pm.shape[1]
        cached = pm[..., MODEL_FEATURE["cached"]] * present  # 0/1; absent rows are never cached
        g_rows = g.unsqueeze(1).expand(-1, n, -1)
        h = self.embed(th.cat([pm, g_rows], dim=-1))
        pooled = masked_pool(h, present, cached, self.with_sum).unsqueeze(1).expand(-1, n, -1)
        z = self.mix(th.cat([h, pooled, g_rows], dim=-1))
        return z, th.cat([masked_pool(z, present, cached, self.with_sum), g], dim=-1)


class SetExtractor(nn.Module):
    """``mlp_extractor`` of :class:`SetPolicy`: actor latent = action logits, critic latent = value."""

    def __init__(self, obs_dim: int, hidden: int = 64, advice: bool = False,
                 capacity_gate: bool = False) -> None:
        super().__init__()
        nf, ng = len(MODEL_FEATURES), len(GLOBAL_FEATURES)
        if capacity_gate and not advice:
            raise ValueError("SetPolicy: capacity_gate gates the learned correction of the "
                             "rule's advice; it needs advice=True")
        self.capacity_gate = capacity_gate
        if advice:  # the cost-benefit rule's advice follows the observation (agents/advice.py)
            n = n_models_of_advised(obs_dim, capacity_gate)
            pm_idx, g_idx = split_advised(np.arange(obs_dim), n)  # with the gate: it is last
            nf, ng = nf + len(ADVICE_MODEL_FEATURES), ng + len(ADVICE_GLOBAL_FEATURES)
        else:
            n = n_models_of(obs_dim)
            pm_idx, g_idx = split_observation(np.arange(obs_dim), n)  # whatever the flat layout
        self.register_buffer("pm_idx", th.as_tensor(np.ascontiguousarray(pm_idx), dtype=th.long),
                             persistent=False)
        self.register_buffer("g_idx", th.as_tensor(np.ascontiguousarray(g_idx), dtype=th.long),
                             persistent=False)
        self.n_models = n
        self.latent_dim_pi = n_actions(n)  # SERVE, LOAD 0..n-1, EVICT 0..n-1
        self.latent_dim_vf = 1
        self.actor = SetTrunk(hidden, False, nf, ng)
        self.model_head = nn.Linear(hidden, 2)  # LOAD, EVICT logits of each model
        self.serve_head = nn.Sequential(nn.Linear(self.actor.out_dim, hidden), nn.ReLU(),
                                        nn.Linear(hidden, 1))
        # The critic may read the sum over models (the total demand sets the cost's scale); it
        # is only used for training, the actor's behaviour depends on mean and max only.
        self.critic = SetTrunk(hidden, True, nf, ng)
        self.value_head = nn.Sequential(nn.Linear(self.critic.out_dim, hidden), nn.ReLU(),
                                        nn.Linear(hidden, 1))
        # With advice, the rule's choice enters the logits directly, weighted by a learned prior
        # strength: at initialisation the greedy policy IS the rule, and learning adjusts it.
        self.advice = advice
        if advice:
            self.prior_weight = nn.Parameter(th.tensor(PRIOR_WEIGHT))
            k = len(MODEL_FEATURES)
            self.cb_cols = [k + ADVICE_MODEL_FEATURES.index("cb_load"),
                            k + ADVICE_MODEL_FEATURES.index("cb_evict")]
            self.cb_serve_col = len(GLOBAL_FEATURES) + ADVICE_GLOBAL_FEATURES.index("cb_serve")
        for head, gain in ((self.model_head, 0.01), (self.serve_head[-1], 0.01), (self.value_head[-1], 1.0)):
            nn.init.orthogonal_(head.weight, gain=gain)
            nn.init.zeros_(head.bias)

    def split(self, obs: th.Tensor) -> tuple[th.Tensor, th.Tensor, th.Tensor]:
        """Per-model rows ``[B, N, F]``, globals ``[B, G]`` (the gate last, with capacity_gate)
        and presence."""
        pm = obs[:, self.pm_idx]  # [B, N, F]
        g = obs[:, self.g_idx]  # [B, G]
        present = pm[..., MODEL_FEATURE["footprint"]] > 0
        return pm, g, present

    def forward_actor(self, obs: th.Tensor) -> th.Tensor:
        return self.actor_logits(*self.split(obs))

    def actor_logits(self, pm: th.Tensor, g: th.Tensor, present: th.Tensor) -> th.Tensor:
        """Logits ``[B, 2N + 1]`` from per-model rows ``[B, N, F]`` of any N, globals (with
        capacity_gate: the gate last), presence."""
        gate = None
        if self.capacity_gate:  # the networks do not read the gate
            g, gate = g[..., :-1], g[..., -1:]
        z, pooled = self.actor(pm, g, present)
        per_model = self.model_head(z)  # [B, N, 2]
        serve = self.serve_head(pooled)  # [B, 1]
        if gate is not None:  # gate 0 (no capacity model): the rule's choice, exactly
            per_model = per_model * gate.unsqueeze(1)
            serve = serve * gate
        if self.advice:
            per_model = per_model + self.prior_weight * pm[..., self.cb_cols]
            serve = serve + self.prior_weight * g[..., self.cb_serve_col:self.cb_serve_col + 1]
        per_model = th.where(present.unsqueeze(-1), per_model, th.full_like(per_model, ABSENT_LOGIT))
        return th.cat([serve, per_model[..., 0], per_model[..., 1]], dim=-1)

    def forward_critic(self, obs: th.Tensor) -> th.Tensor:
        pm, g, present = self.split(obs)
        if self.capacity_gate:
            g = g[..., :-1]
        _, pooled = self.critic(pm, g, present)
        return self.value_head(pooled)

    def forward(self, obs: th.Tensor) -> tuple[th.Tensor, th.Tensor]:
        return self.forward_actor(obs), self.forward_critic(obs)


class SetPolicy(MaskableActorCriticPolicy):
    """MaskablePPO policy over a set of models (see the module docstring); ``hidden`` units wide.

    ``advice=True``: observations are advised ones (:mod:`agents.advice`): each model's row
    carries the cost-benefit rule's assessment beside its observed features.
    ``capacity_gate=True`` (with advice): the learned correction of the rule's logits is
    multiplied by the advice's :data:`~agents.advice.GATE_FEATURE`, so on a scenario without the
    capacity model the greedy policy is the rule, exactly; with it, the learned policy.
    """

    def __init__(self, observation_space: Any, action_space: Any, lr_schedule: Any, hidden: int = 64,
                 advice: bool = False, capacity_gate: bool = False, **kwargs: Any) -> None:
        self.hidden = int(hidden)
        self.advice = bool(advice)
        self.capacity_gate = bool(capacity_gate)
        size = int(np.prod(observation_space.shape))
        n = n_models_of_advised(size, self.capacity_gate) if self.advice else n_models_of(size)
        if action_space.n != n_actions(n):
            raise ValueError(f"SetPolicy: action space {action_space} does not match the "
                             f"{n} models of the observation (expected Discrete({n_actions(n)}))")
        kwargs.setdefault("ortho_init", False)  # SetExtractor initialises its own heads
        super().__init__(observation_space, action_space, lr_schedule, **kwargs)

    def _build_mlp_extractor(self) -> None:
        self.mlp_extractor = SetExtractor(self.features_dim, self.hidden, self.advice,
                                          self.capacity_gate)

    def _build(self, lr_schedule: Any) -> None:
        self._build_mlp_extractor()
        self.action_net = nn.Identity()  # the extractor's actor latent already is the logits
        self.value_net = nn.Identity()
        self.optimizer = self.optimizer_class(self.parameters(), lr=lr_schedule(1), **self.optimizer_kwargs)

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()
        data["hidden"] = self.hidden
        data["advice"] = self.advice
        data["capacity_gate"] = self.capacity_gate
        return data
