"""``cost_benefit``: a reactive, context-aware admission-and-eviction rule (docs/model.md 13.4).

Unlike the reactive heuristics (which load every requested model they can fit), it loads a
model only when the saving it is expected to bring over a horizon of ``H`` slots pays for its
load and for what must be evicted to make room. It reads the observation (no future) and the
static scenario knowledge every operator has: the catalog and the cost weights, from
``env.unwrapped.config`` at :meth:`CostBenefit.attach` (per-model memory and load cost from
:class:`~edge_cache_env.costs.ModelCosts`, per-request prices and speeds from
:class:`~edge_cache_env.costs.RequestCosts`).

Per model ``m`` (``a`` = AoC, effective examples, from the observation; ``A(c) = min(acc_max,
acc0 + acc_gain * log2(1 + c))``; ``miss`` = the accuracy weight; ``load`` its switching cost):

* forecast rate ``lam = max(EWMA frequency, (1 - nu) * a)``: at a steady rate the example mass
  settles at ``lam / (1 - nu)``, so a cached model's context is a long-memory count of its
  demand where the 10-slot EWMA forgets; expected requests over the horizon ``n = lam * H``;
* saving of ``n`` edge requests while the context grows from ``c`` (one example per request;
  ``log2`` averaged over ``[c, c + n]`` in closed form):
  ``S(c, n) = n * (cloud + miss * (1 - acc_cloud) - edge - miss * (1 - A_bar(c, n)))``,
  with ``cloud`` and ``edge`` the expected latency/energy/price cost of one request
  (:class:`~edge_cache_env.costs.RequestCosts`);
* value lost by evicting a cached model: ``V = max(0, min(S(a, n), (1 - exp(-n)) * load +
  S(a, n) - S(0, n)))``: the cheaper of sending its requests to the cloud and, if it is
  requested again, reloading it and rebuilding its context;
* benefit of loading an uncached requested model: ``B = S(0, n) - load - r_now * cold_wait``
  (``r_now``: its requests this slot, which wait for the load).

Victims are the cached models not requested this slot, taken in increasing value per GB until
the wanted model fits. A requested model ``w`` is admitted when
``B_w > keep_weight * sum(V_victims) + margin``; among admitted models the largest net gain
wins. If it fits in free memory the rule LOADs it, else it EVICTs the first victim (the next
step decides again). Otherwise SERVE. Parameters: :class:`CostBenefitConfig`, calibrated with
``benchmarks/calibrate_cost_benefit.py`` on training seeds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from agents.base import Agent
from agents.padded import refuse_padded
from edge_cache_env.actions import SERVE, evict_action, load_action
from edge_cache_env.config import MB_PER_GB, EnvConfig
from edge_cache_env.costs import ModelCosts, RequestCosts
from edge_cache_env.observation import (
    FREQUENCY_SCALE,
    GLOBAL_FEATURE,
    MODEL_FEATURE,
    REQUESTS_SCALE,
    ObservationLayout,
)
from edge_cache_env.validation import check, non_negative, positive

_ROOM_TOL = 1e-6  # share of the GPU, as in agents.heuristics
_SQUASH_MAX = 1.0 - 1e-6  # float32 squashed values never reach 1; guard the inverse anyway


@dataclass(frozen=True)
class CostBenefitConfig:
    """Parameters of :class:`CostBenefit` (calibrated: benchmarks/calibrate_cost_benefit.py)."""

    horizon_slots: float = 8.0  # H: slots over which a load must pay for itself
    keep_weight: float = 3.0  # weight of the victims' value against the newcomer's benefit
    margin: float = 0.0  # extra benefit (cost units) a load must bring: hysteresis

    def __post_init__(self) -> None:
        positive("cost_benefit", self, "horizon_slots")
        non_negative("cost_benefit", self, "keep_weight", "margin")


def unsquash(y: np.ndarray, scale: float) -> np.ndarray:
    """Inverse of ``x / (x + scale)``."""
    y = np.clip(y.astype(np.float64), 0.0, _SQUASH_MAX)
    return scale * y / (1.0 - y)


def mean_log2_growth(a: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Mean of ``log2(1 + c)`` for ``c`` growing linearly from ``a`` to ``a + n`` (closed form)."""
    lo, hi = 1.0 + a, 1.0 + a + n
    span = np.maximum(n, 1e-9)
    integral = hi * np.log(hi) - hi - (lo * np.log(lo) - lo)
    return np.where(n > 1e-6, integral / span, np.log(lo)) / math.log(2.0)


@dataclass(frozen=True)
class Assessment:
    """What :class:`CostBenefit` weighs, per row and model ``[B, N]`` (cost units)."""

    benefit: np.ndarray  # B: saving over the horizon of loading the model now, minus its load
    keep: np.ndarray  # V: value lost by evicting the model (0 if it is not worth keeping)
    net: np.ndarray  # B - keep_weight * V(victims) - margin, for loading the model
    saving: np.ndarray  # S(a, n): saving over the horizon at the model's current context
    wanted: np.ndarray  # bool: the rule would admit the model
    fits: np.ndarray  # bool: it fits in free memory (no eviction needed)
    victim_order: np.ndarray  # int: models in the order the rule evicts them (victims first)


def _active(pm: np.ndarray, g: np.ndarray, cached: np.ndarray) -> np.ndarray:
    """Rows that may act: an operation left and an uncached requested model."""
    return ((g[:, GLOBAL_FEATURE["ops_used"]] < 1.0)
            & (~cached & (pm[..., MODEL_FEATURE["requests"]] > 0)).any(axis=1))


class CostBenefit(Agent):
    """Admit a requested model only if its expected saving pays its load and its victims."""

    name = "cost_benefit"

    def __init__(self, config: CostBenefitConfig | None = None,
                 env_config: EnvConfig | None = None) -> None:
        self.params = CostBenefitConfig() if config is None else config
        check(isinstance(self.params, CostBenefitConfig), "cost_benefit", "config", self.params,
              "a CostBenefitConfig")
        self._env_config: EnvConfig | None = None
        if env_config is not None:
            self.set_scenario(env_config)

    def attach(self, env: Any) -> None:
        """Read the catalog and cost weights (static knowledge, never the requests)."""
        refuse_padded(env, self)
        cfg = env.unwrapped.config
        if cfg is not self._env_config:
            self.set_scenario(cfg)

    def set_scenario(self, config: EnvConfig) -> None:
        """Per-model constants of a scenario."""
        self._env_config = config
        self.layout = ObservationLayout.of(config)  # v1 appends capacity features
        models = ModelCosts.of(config)
        req = RequestCosts.of(config, models)
        specs = config.models
        self.n_models = config.n_models
        self.load_cost = models.load_cost
        self.cold_wait = req.cold_wait
        self.mem_gb = models.mem_mb / MB_PER_GB
        self.window = np.array([m.window_examples for m in specs], dtype=np.float64)
        self.acc0 = np.array([m.acc0 for m in specs])
        self.gain = np.array([m.acc_gain for m in specs])
        self.acc_max = np.array([m.acc_max for m in specs])
        self.miss = req.miss
        self.decay = 1.0 - config.aoc.nu
        # Saving of one request at the edge before its accuracy gain: cloud - edge.
        self.base_saving = (req.cloud + req.miss * (1.0 - models.cloud_accuracy)
                            - req.edge - req.miss * (1.0 - self.acc0))

    def _layout(self, size: int) -> ObservationLayout:
        """The layout of an observation of ``size``: the scenario's, or its v0 block alone (all
        the rule reads; the random env shows v1 scenarios through it)."""
        if size == self.layout.size:
            return self.layout
        if size == self.layout.v0_size:
            return ObservationLayout(self.n_models)
        raise ValueError(f"cost_benefit: observation of size {size}, the attached scenario's is "
                         f"{self.layout.size} ({self.n_models} models)")

    def _saving(self, a: np.ndarray, n: np.ndarray) -> np.ndarray:
        """Expected total saving of ``n`` requests at the edge, context growing from ``a``."""
        acc = np.minimum(self.acc0 + self.gain * mean_log2_growth(a, n), self.acc_max)
        return n * (self.base_saving + self.miss * (acc - self.acc0))

    def act(self, obs: np.ndarray) -> np.ndarray:
        if self._env_config is None:
            raise RuntimeError("cost_benefit reads the catalog: call agent.attach(env) after "
                               "env.reset() (evaluate.py does)")
        actions = np.zeros(len(obs), dtype=np.int64)  # SERVE
        pm, g = self._layout(obs.shape[-1]).split(obs)
        cached = pm[..., MODEL_FEATURE["cached"]] > 0.5
        # Only active rows can act: most steps have none, and skip the arithmetic.
        rows = np.flatnonzero(_active(pm, g, cached))
        if len(rows):
            actions[rows] = self._choose(self._assess(pm[rows], g[rows], cached[rows]))
        return actions

    def assess(self, obs: np.ndarray) -> tuple[np.ndarray, Assessment]:
        """The rule's actions (those of :meth:`act`) and every quantity it weighed, for every
        row and model of a batch of observations (what a learner reads: agents/advice.py)."""
        obs = np.asarray(obs)
        pm, g = self._layout(obs.shape[-1]).split(obs)
        cached = pm[..., MODEL_FEATURE["cached"]] > 0.5
        a = self._assess(pm, g, cached)  # row by row: the same values as on the active rows alone
        return np.where(_active(pm, g, cached), self._choose(a), SERVE), a

    def _assess(self, pm: np.ndarray, g: np.ndarray, cached: np.ndarray) -> Assessment:
        p, n = self.params, self.n_models
        fp = pm[..., MODEL_FEATURE["footprint"]].astype(np.float64)
        r_now = unsquash(pm[..., MODEL_FEATURE["requests"]], REQUESTS_SCALE)
        lam = unsquash(pm[..., MODEL_FEATURE["frequency"]], FREQUENCY_SCALE)
        aoc = pm[..., MODEL_FEATURE["aoc"]].astype(np.float64) * self.window
        free = g[:, GLOBAL_FEATURE["free_memory"]].astype(np.float64)
        requested = r_now > 1e-6
        # A cached model's context is a slow-moving count of its past requests: at a steady
        # rate lam, the example mass settles at lam / (1 - nu), so AoC * (1 - nu) is a long-memory
        # rate estimate, where the EWMA (10 slots) forgets a model requested now and then.
        lam = np.maximum(lam, aoc * self.decay)
        horizon_n = lam * p.horizon_slots
        # What evicting a cached model loses over the horizon: its saving against the cloud, or,
        # if it is requested again (probability 1 - exp(-n)), a reload and the context it must
        # rebuild, whichever is less (the cheaper fallback is what would happen).
        with_context = self._saving(aoc, horizon_n)
        from_scratch = self._saving(np.zeros_like(aoc), horizon_n)
        rebuild = -np.expm1(-horizon_n) * self.load_cost + with_context - from_scratch
        keep = np.maximum(np.minimum(with_context, rebuild), 0.0)
        # This slot's requests are already in the EWMA (it includes the current slot); counting
        # them again as extra edge requests over-admitted (calibration).
        benefit = from_scratch - self.load_cost - r_now * self.cold_wait
        # Victims in increasing value per GB (requested and uncached models never).
        candidates = cached & ~requested
        order = np.argsort(np.where(candidates, keep / self.mem_gb, np.inf), axis=1, kind="stable")
        rows = np.arange(len(pm))[:, None]
        cand_sorted = candidates[rows, order]
        cum_mem = np.cumsum(np.where(cand_sorted, fp[rows, order], 0.0), axis=1)  # [B, N]
        cum_val = np.cumsum(np.where(cand_sorted, keep[rows, order], 0.0), axis=1)
        need = fp - free[:, None] - _ROOM_TOL  # [B, W]: memory to free for each model w
        # Victims needed by w: the shortest prefix of `order` whose memory covers `need`; its
        # last index is k (the number of prefix sums still short of it).
        k = (cum_mem[:, None, :] < need[:, :, None]).sum(axis=2)  # [B, W]
        fits = need <= 0
        feasible = fits | (k < cand_sorted.sum(axis=1)[:, None])
        lost = np.where(fits, 0.0, cum_val[rows, np.minimum(k, n - 1)])
        net = benefit - p.keep_weight * lost - p.margin
        wanted = ~cached & requested & feasible & (net > 0)
        return Assessment(benefit=benefit, keep=keep, net=net, saving=with_context,
                          wanted=wanted, fits=fits, victim_order=order)

    def _choose(self, a: Assessment) -> np.ndarray:
        """The rule's action per row of an assessment (rows that may act: :func:`_active`)."""
        n = self.n_models
        score = np.where(a.wanted, a.net, -np.inf)
        w = score.argmax(axis=1)
        b = np.arange(len(score))
        act_rows = a.wanted[b, w]
        actions = np.zeros(len(score), dtype=np.int64)
        load = act_rows & a.fits[b, w]
        actions[load] = load_action(w[load])
        evict = act_rows & ~a.fits[b, w]
        actions[evict] = evict_action(a.victim_order[evict, 0], n)
        return actions


__all__ = ["Assessment", "CostBenefit", "CostBenefitConfig", "mean_log2_growth", "unsquash"]
