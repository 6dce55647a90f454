"""A lower bound on the episode cost: dynamic programming over memory-feasible cache sets.

For the realised requests of an episode (open-loop: the same for every policy), the state is
the set X of models cached when slot t is served. Any policy's cost is at least

    V_t(X) = c_t(X) + min_Y [ V_{t-1}(Y) + sum_{m in X \\ Y} lambda_t[m] ],   V_{-1} = 0 at {}

minimised over feasible X at the last slot, where

- ``c_t(X)`` serves slot t with X: requests of models in X at the edge (compute latency and
  energy exact, accuracy at an upper bound, see below), the others in the cloud (exact);
- ``lambda_t[m]`` is the load of m in slot t: its switching cost plus the cold-start wait of
  the slot's requests of m (a model cached at slot t but not at t-1 was loaded in slot t);
- evictions are free, the per-slot operation limit is dropped, invalid actions cost >= 0.

Accuracy bound (``accuracy="context"``, the default): no policy can hold more context than if
it had served every past request at the edge with no eviction and no window cap, so
``S[m,k] <= Sbar[m,k] = sum_s nu^(t-1-s) count[s,m,k]``; with the window (row total <= W),
``C[m,k] <= (1-rho) min(Sbar_k, W) + rho min(sum_j Sbar_j, W)``, and accuracy is monotone in
C. ``accuracy="acc_max"`` is the looser bound (docs/model.md section 13.2): every answer at acc_max.

Transitions are additive over models, so the min over Y is two O(2^N N) sweeps: a
superset-min ``U(Z) = min_{Y >= Z} V(Y)``, then a subset relaxation
``W(X) = min_{Z <= X} U(Z) + lambda(X \\ Z)`` (taking Z = X & Y is optimal, and a larger Y
only loads less). Tractable to N of about 16 models (2^16 sets).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from edge_cache_env.capacity import batched_work
from edge_cache_env.config import EnvConfig
from edge_cache_env.costs import ModelCosts, SlotCosts
from edge_cache_env.requests import EpisodeRequests

MAX_MODELS = 16
MAX_PLAN_MODELS = 12  # the plan keeps every slot's values: T x 2^N floats
ACCURACY_BOUNDS = ("context", "acc_max")


@dataclass(frozen=True)
class LowerBound:
    cost: float  # the bound on the episode's total cost
    feasible_sets: int  # memory-feasible cache sets (DP states)
    seconds: float  # time to compute it
    plan: np.ndarray | None = None  # [T, N] bool: an optimal cache set per slot (plan=True)


def is_tractable(config: EnvConfig) -> bool:
    return config.n_models <= MAX_MODELS


def edge_accuracy_bound(config: EnvConfig, requests: EpisodeRequests) -> np.ndarray:
    """``A_ub[t, m, k]``: accuracy no policy can exceed for a request of (m, k) in slot t.

    With the capacity model on, a request may be served in its arrival slot or the next one
    (``theta <= slot_s``): an example served one slot late has decayed one slot less, so the
    mass bound becomes ``M[t] = count[t-1] + Sbar[t-1]`` (no decay over the last slot), and a
    request of slot t gets at most ``max(A_ub[t], A_ub[t+1])``."""
    if config.capacity.enabled:
        return _delayed_accuracy_bound(config, requests)
    aoc = config.aoc
    window, acc0, gain, acc_max = _accuracy_columns(config)
    count_task = requests.count_task
    mass = np.zeros(count_task.shape[1:])
    out = np.empty_like(count_task)
    for t in range(count_task.shape[0]):
        own = np.minimum(mass, window)
        total = np.minimum(mass.sum(axis=1, keepdims=True), window)
        c = (1.0 - aoc.rho) * own + aoc.rho * total
        out[t] = np.minimum(acc_max, acc0 + gain * np.log2(1.0 + c))
        mass = aoc.nu * mass + count_task[t]
    return out


def _accuracy_columns(config: EnvConfig) -> tuple[np.ndarray, ...]:
    """Per-model ``[N, 1]`` columns of the accuracy curve: window W, acc0, gain, acc_max."""
    models = config.models
    return tuple(np.array([getattr(m, f) for m in models], dtype=np.float64)[:, None]
                 for f in ("window_examples", "acc0", "acc_gain", "acc_max"))


def _delayed_accuracy_bound(config: EnvConfig, requests: EpisodeRequests) -> np.ndarray:
    aoc = config.aoc
    window, acc0, gain, acc_max = _accuracy_columns(config)
    count_task = requests.count_task
    mass_prev = np.zeros(count_task.shape[1:])  # Sbar[t-1]
    out = np.empty_like(count_task)
    for t in range(count_task.shape[0]):
        mass = mass_prev + (count_task[t - 1] if t > 0 else 0.0)  # M[t]
        own = np.minimum(mass, window)
        total = np.minimum(mass.sum(axis=1, keepdims=True), window)
        c = (1.0 - aoc.rho) * own + aoc.rho * total
        out[t] = np.minimum(acc_max, acc0 + gain * np.log2(1.0 + c))
        if t > 0:
            mass_prev = aoc.nu * mass_prev + count_task[t - 1]
    out[:-1] = np.maximum(out[:-1], out[1:])
    return out


def bound_slot_costs(config: EnvConfig, requests: EpisodeRequests, accuracy: str = "context"
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per slot and model: cost at the edge (a lower bound), in the cloud (exact), and of a load
    in that slot (switching plus cold-start wait). Each ``[T, N]``."""
    if accuracy not in ACCURACY_BOUNDS:
        raise ValueError(f"accuracy={accuracy!r}: must be one of {ACCURACY_BOUNDS}")
    models = ModelCosts.of(config)
    c = SlotCosts.of(config, requests, models)
    w = config.costs
    count = c.count
    if accuracy == "context":
        acc_sum = (requests.count_task * edge_accuracy_bound(config, requests)).sum(axis=2)
    else:
        acc_sum = count * np.array([m.acc_max for m in config.models])
    energy_kj_per_s = config.server.gpu_power_w / 1000.0
    # Capacity model: the GPU busy time is the batched work; queueing only adds waiting.
    busy_s = batched_work(config, c.edge_compute_s) if config.capacity.enabled else c.edge_compute_s
    edge = (w.latency_per_s * c.edge_compute_s
            + w.energy_per_kj * energy_kj_per_s * busy_s
            + w.accuracy_per_miss * (count - acc_sum))
    cloud = (w.latency_per_s * c.cloud_latency_s + w.cloud_per_usd * c.cloud_usd
             + w.accuracy_per_miss * count * (1.0 - models.cloud_accuracy))
    if config.capacity.enabled:
        # Each of a cached model's requests is served at the edge (at least the stand-alone cost
        # above) or offloaded (the cloud cost, plus any wait): a linear split, so at least the min.
        edge = np.minimum(edge, cloud)
    load = models.load_cost[None, :] + w.latency_per_s * c.cold_wait_s
    return edge, cloud, load


def lower_bound(config: EnvConfig, requests: EpisodeRequests, accuracy: str = "context",
                plan: bool = False) -> LowerBound:
    """The DP bound of one episode; raises ``ValueError`` beyond :data:`MAX_MODELS` models.

    With ``plan=True`` (up to :data:`MAX_PLAN_MODELS` models) it also returns a sequence of
    cache sets that attains the bound in the DP's cost model (the ``oracle`` agent follows it).
    """
    n = config.n_models
    if not is_tractable(config):
        raise ValueError(f"lower bound: {n} models means 2^{n} cache sets; tractable up to "
                         f"{MAX_MODELS} models")
    if plan and n > MAX_PLAN_MODELS:
        raise ValueError(f"lower bound plan: kept up to {MAX_PLAN_MODELS} models, got {n}")
    start = time.perf_counter()
    edge, cloud, load = bound_slot_costs(config, requests, accuracy)
    models = ModelCosts.of(config)
    bits = ((np.arange(2 ** n)[:, None] >> np.arange(n)) & 1).astype(np.float64)
    feasible = bits @ models.mem_mb <= models.gpu_mb
    serve = cloud.sum(axis=1)[:, None] + (edge - cloud) @ bits.T  # [T, 2^N]
    serve[:, ~feasible] = np.inf
    value = np.full(2 ** n, np.inf)
    value[0] = 0.0  # empty cache before the first slot
    history = np.empty((config.n_slots, 2 ** n)) if plan else None
    for t in range(config.n_slots):
        for m in range(n):  # superset-min: U(Z) = min over Y containing Z of V(Y)
            v = value.reshape(-1, 2, 2 ** m)
            np.minimum(v[:, 0, :], v[:, 1, :], out=v[:, 0, :])
        for m in range(n):  # loads: W(X) = min over Z inside X of U(Z) + loads of X \ Z
            v = value.reshape(-1, 2, 2 ** m)
            np.minimum(v[:, 1, :], v[:, 0, :] + load[t, m], out=v[:, 1, :])
        value += serve[t]
        if history is not None:
            history[t] = value
    sets = _backtrack(history, bits, load) if history is not None else None
    return LowerBound(cost=float(value.min()), feasible_sets=int(feasible.sum()),
                      seconds=time.perf_counter() - start, plan=sets)


def _backtrack(history: np.ndarray, bits: np.ndarray, load: np.ndarray) -> np.ndarray:
    """Optimal cache sets, last slot first: the predecessor Y of X minimises
    ``V_{t-1}(Y) + loads of X \\ Y`` (the same quantity the forward sweeps minimised)."""
    n_slots = len(history)
    x = int(np.argmin(history[-1]))
    out = np.zeros((n_slots, bits.shape[1]), dtype=bool)
    for t in range(n_slots - 1, -1, -1):
        out[t] = bits[x] > 0
        if t == 0:
            break
        missing = (1.0 - bits) * bits[x]  # models of X that each Y lacks
        x = int(np.argmin(history[t - 1] + missing @ load[t]))
    return out
