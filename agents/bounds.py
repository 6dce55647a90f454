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

Tightening (:func:`lagrangian_bound`, applied by :func:`lower_bound` where the DP is small):
a Lagrangian decomposition of the true cost into this DP and, per model, the accuracy it really
loses against the bound (exact per model: context depends only on the load slot), coupled by
multipliers on "m cached in slot t" (docs/model.md section 13.2).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from agents.true_costs import TrueCosts, is_exact_for, plan_from_sets
from edge_cache_env.capacity import batched_work
from edge_cache_env.config import EnvConfig
from edge_cache_env.context import AgeOfContext
from edge_cache_env.costs import ModelCosts, SlotCosts, weigh
from edge_cache_env.requests import EpisodeRequests

MAX_MODELS = 16
MAX_PLAN_MODELS = 12  # the plan keeps every slot's values: T x 2^N floats
ACCURACY_BOUNDS = ("context", "acc_max")
TIGHTEN_ITERATIONS = 20  # subgradient steps of the Lagrangian tightening, where cheap
TIGHTEN_MAX_CELLS = 50_000  # slots x 2^N: Small-v0 (360 x 64) is tightened, v0 (360 x 1024) not
DENSE_MAX_MODELS = 6  # the set DP's dense transition matrix: T x 4^N floats
LAGRANGIAN_STEP = 0.5  # share of the Polyak step (gap to the best plan's true cost)


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
    curve = AgeOfContext(config)  # the simulator's accuracy curve A(C), at the bound's C
    window = curve.window[:, None]
    count_task = requests.count_task
    mass = np.zeros(count_task.shape[1:])
    out = np.empty_like(count_task)
    for t in range(count_task.shape[0]):
        own = np.minimum(mass, window)
        total = np.minimum(mass.sum(axis=1, keepdims=True), window)
        c = (1.0 - aoc.rho) * own + aoc.rho * total
        out[t] = curve.accuracy_of(c)
        mass = aoc.nu * mass + count_task[t]
    return out


def _delayed_accuracy_bound(config: EnvConfig, requests: EpisodeRequests) -> np.ndarray:
    aoc = config.aoc
    curve = AgeOfContext(config)  # the simulator's accuracy curve A(C), at the bound's C
    window = curve.window[:, None]
    count_task = requests.count_task
    mass_prev = np.zeros(count_task.shape[1:])  # Sbar[t-1]
    out = np.empty_like(count_task)
    for t in range(count_task.shape[0]):
        mass = mass_prev + (count_task[t - 1] if t > 0 else 0.0)  # M[t]
        own = np.minimum(mass, window)
        total = np.minimum(mass.sum(axis=1, keepdims=True), window)
        c = (1.0 - aoc.rho) * own + aoc.rho * total
        out[t] = curve.accuracy_of(c)
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
    edge = sum(weigh(w, c.edge_compute_s, energy_kj_per_s * busy_s, count, acc_sum, 0.0))
    cloud = sum(weigh(w, c.cloud_latency_s, 0.0, count, count * models.cloud_accuracy,
                      c.cloud_usd))
    if config.capacity.enabled:
        # Each of a cached model's requests is served at the edge (at least the stand-alone cost
        # above) or offloaded (the cloud cost, plus any wait): a linear split, so at least the min.
        edge = np.minimum(edge, cloud)
    load = models.load_cost[None, :] + weigh(w, c.cold_wait_s, 0.0, 0.0, 0.0, 0.0)[0]
    return edge, cloud, load


def lower_bound(config: EnvConfig, requests: EpisodeRequests, accuracy: str = "context",
                plan: bool = False, iterations: int | None = None) -> LowerBound:
    """The DP bound of one episode; raises ``ValueError`` beyond :data:`MAX_MODELS` models.

    With ``plan=True`` (up to :data:`MAX_PLAN_MODELS` models) it also returns a sequence of
    cache sets that attains the set DP's bound in its cost model. With the context accuracy
    bound, ``iterations`` subgradient steps of :func:`lagrangian_bound` tighten it; ``None``:
    :data:`TIGHTEN_ITERATIONS` when the DP has at most :data:`TIGHTEN_MAX_CELLS` slot x set
    cells (small catalogs, where a step is cheap), else none (the default scenario: ~0.5 s per
    step).
    """
    n = config.n_models
    if not is_tractable(config):
        raise ValueError(f"lower bound: {n} models means 2^{n} cache sets; tractable up to "
                         f"{MAX_MODELS} models")
    if plan and n > MAX_PLAN_MODELS:
        raise ValueError(f"lower bound plan: kept up to {MAX_PLAN_MODELS} models, got {n}")
    start = time.perf_counter()
    edge, cloud, load = bound_slot_costs(config, requests, accuracy)
    cost, sets, feasible = set_dp(edge, cloud, load, ModelCosts.of(config), plan=plan)
    base = LowerBound(cost=cost, feasible_sets=feasible, seconds=time.perf_counter() - start,
                      plan=sets)
    if iterations is None:
        iterations = TIGHTEN_ITERATIONS if config.n_slots * 2 ** n <= TIGHTEN_MAX_CELLS else 0
    if accuracy != "context" or iterations < 1 or not is_exact_for(config):
        return base  # the tightening prices context with the v0 tables (agents.true_costs)
    tight = lagrangian_bound(config, requests, iterations, base=base)
    return LowerBound(cost=tight.cost, feasible_sets=feasible, seconds=tight.seconds, plan=sets)


def set_dp(edge: np.ndarray, cloud: np.ndarray, load: np.ndarray, models: ModelCosts,
           plan: bool = False) -> tuple[float, np.ndarray | None, int]:
    """The DP of the module docstring for any per-slot costs ``[T, N]`` (edge, cloud, load):
    its minimum, optionally an optimal sequence of cache sets, and the feasible sets."""
    n_slots, n = edge.shape
    bits = ((np.arange(2 ** n)[:, None] >> np.arange(n)) & 1).astype(np.float64)
    feasible = bits @ models.mem_mb <= models.gpu_mb
    serve = cloud.sum(axis=1)[:, None] + (edge - cloud) @ bits.T  # [T, 2^N]
    serve[:, ~feasible] = np.inf
    value = np.full(2 ** n, np.inf)
    value[0] = 0.0  # empty cache before the first slot
    history = np.empty((n_slots, 2 ** n)) if plan else None
    if n <= DENSE_MAX_MODELS:  # one min over a 2^N x 2^N matrix per slot: fewer numpy calls
        loads_of = bits[:, None, :] * (1.0 - bits)[None, :, :]  # [X, Y, m]: m in X \ Y
        trans = (load @ loads_of.reshape(-1, n).T).reshape(n_slots, 2 ** n, 2 ** n)
        for t in range(n_slots):
            value = (value[None, :] + trans[t]).min(axis=1) + serve[t]
            if history is not None:
                history[t] = value
        sets = _backtrack(history, bits, load) if history is not None else None
        return float(value.min()), sets, int(feasible.sum())
    for t in range(n_slots):
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
    return float(value.min()), sets, int(feasible.sum())


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


def lagrangian_bound(config: EnvConfig, requests: EpisodeRequests, iterations: int = TIGHTEN_ITERATIONS,
                     base: LowerBound | None = None, step: float = LAGRANGIAN_STEP) -> LowerBound:
    """A tighter bound: the set DP above plus, per model, the accuracy it really loses.

    Split the true cost of a schedule into the set DP's part ``f1`` (accuracy at the bound) and
    ``f2 >= 0``, per model, the true edge cost minus the bound's: it depends only on the model's
    own load slots (:mod:`agents.true_costs`). For any multipliers ``lam[t, m]``,

        L(lam) = min_X [f1(X) + lam . X] + sum_m min_y [f2_m(y) - lam_m . y]

    is a lower bound (any policy's cache sets are feasible for both minima, its true cost is at
    least ``f1 + f2``: an evict-and-reload in one slot costs an extra load and restarts the
    context). ``L(0)`` is the set DP's bound; ``iterations`` subgradient steps on ``lam`` (step
    size from the gap to the best plan's true cost) can only raise the best ``L`` found. Needs
    the DP's plan: up to :data:`MAX_PLAN_MODELS` models, else the set DP's bound is returned.
    """
    start = time.perf_counter()
    if base is None:
        base = lower_bound(config, requests, iterations=0)
    if config.n_models > MAX_PLAN_MODELS or iterations < 1 or not is_exact_for(config):
        return base
    models = ModelCosts.of(config)
    edge, cloud, load = bound_slot_costs(config, requests)
    tc = TrueCosts.of(config, requests)
    n_slots, n = edge.shape
    cold = load - models.load_cost[None, :]  # the cold-start wait, charged with the load
    diag = np.arange(n_slots)
    loss = tc.edge_by_slot - edge.T[:, :, None]  # [N, t, l]: true minus bound edge cost
    loss[:, diag, diag] -= cold.T
    lam = np.zeros((n_slots, n))
    best, upper = base.cost, np.inf
    for _ in range(iterations):
        cost1, sets, _ = set_dp(edge + lam, cloud, load, models, plan=True)
        values, ys = _loss_dp(loss, lam)
        cost2 = float(values.sum())
        best = max(best, cost1 + cost2)
        upper = min(upper, tc.plan_cost(plan_from_sets(sets)))
        grad = sets.astype(np.float64) - ys
        norm = float((grad ** 2).sum())
        if norm == 0.0:  # both halves agree: L(lam) is attained by a schedule, the optimum
            break
        lam += step * (upper - (cost1 + cost2)) / norm * grad
    return LowerBound(cost=best, feasible_sets=base.feasible_sets,
                      seconds=base.seconds + time.perf_counter() - start)


def _loss_dp(loss: np.ndarray, lam: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per model m, ``min_y sum_{t cached} loss[m, t, l_t] - lam[t, m]`` over its schedules (out,
    or cached since slot l; loads and reloads free), and a minimiser ``y[t, m]`` (cached).
    All models at once: ``loss[N, T(t), T(l)]``, ``lam[T, N]``."""
    n, n_slots = loss.shape[0], lam.shape[0]
    v_out, v_in = np.zeros(n), np.full((n, n_slots), np.inf)
    best_state = np.full((n_slots, n), -1)  # per slot and model, the least state (-1: out)
    rows = np.arange(n)
    for t in range(n_slots):
        # "Out" in t and a (re)load in t both follow the best state of t - 1.
        prev_best = np.minimum(v_out, v_in[:, :t].min(axis=1)) if t else v_out
        v_in[:, :t] += loss[:, t, :t] - lam[t][:, None]
        v_in[:, t] = prev_best + loss[:, t, t] - lam[t]
        v_out = prev_best
        l_best = v_in[:, : t + 1].argmin(axis=1)
        best_state[t] = np.where(v_in[rows, l_best] < v_out, l_best, -1)
    value = np.minimum(v_out, v_in.min(axis=1))
    y = np.zeros((n_slots, n), dtype=bool)
    for m in range(n):
        t = n_slots - 1
        while t >= 0:  # a run [l, t] follows the best state of l - 1; "out" that of t - 1
            state = int(best_state[t, m])
            if state >= 0:
                y[state: t + 1, m] = True
                t = state - 1
            else:
                t -= 1
    return value, y
