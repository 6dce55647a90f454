"""The model's per-slot equations, compiled: one implementation for one server and for a batch.

The single simulator runs :func:`serve_server` and :func:`update_context` on its one server; the
batch simulator runs the same functions on each of its rows (:func:`serve_rows`,
:func:`update_context_rows`), so a sub-env of the vector env and a single env given the same
actions compute every cost, accuracy and Age of Context with the same floating-point operations
in the same order: they agree bit for bit. Compiled with numba (no ``fastmath``: IEEE
arithmetic, no reassociation), so a step's cost is the arithmetic, not numpy's per-call overhead.

Arrays are flat, model-major: ``[m * K + k]`` for per-task values (K tasks per model),
``[m * 6 + c]`` for a slot's serving columns (:func:`edge_cache_env.simulator.slot_columns`).
The equations (module docstring of :mod:`edge_cache_env.context` for the AoC):

    S <- nu S + served, each model's row capped at its window W
    p <- p + rate (share - p)          (task mix: rate = task_mix_ewma if the model had requests)
    C  = S R,  R = (1 - rho) I + rho 11^T
    A  = min(acc_max, acc0 + gain log2(1 + C)),    AoC = sum_k p C
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

# The charges of a SERVE, in the order the kernels write them (``out[:N_CHARGES]``): the
# weighted total, its four weighted terms (TERMS order), then the raw sums. The simulators map
# them onto their running metrics by these names.
CHARGES = ("episode_cost", "episode_cost_latency", "episode_cost_energy", "episode_cost_accuracy",
           "episode_cost_cloud", "requests", "edge_hits", "cloud_requests", "accuracy_sum",
           "latency_s", "energy_j", "cloud_usd", "aoc_sum")
N_CHARGES = len(CHARGES)


@njit(cache=True, inline="always")
def ewma(avg: float, x: float, rate: float) -> float:
    """One step of an exponentially weighted moving average (as
    :func:`edge_cache_env.context.ewma_step`, element by element)."""
    return avg + rate * (x - avg)


@njit(cache=True, inline="always")
def weigh(latency_per_s: float, energy_per_kj: float, accuracy_per_miss: float,
          cloud_per_usd: float, latency_s, energy_kj, n_requests, accuracy_sum, usd):  # noqa: ANN001, ANN201
    """The weighted latency, energy, accuracy and cloud terms of a set of requests (floats or
    arrays): the cost formula, used by every simulator path."""
    return (latency_per_s * latency_s, energy_per_kj * energy_kj,
            accuracy_per_miss * (n_requests - accuracy_sum), cloud_per_usd * usd)


@njit(cache=True, inline="always")
def accuracy(c: float, acc0: float, gain: float, acc_max: float) -> float:
    """``min(acc_max, acc0 + gain log1p(C))`` (``gain`` = acc_gain / ln 2: log2(1 + C))."""
    if c == 0.0:  # log1p(0) = 0 exactly: the same value without the logarithm
        a = acc0
    else:
        a = math.log1p(c) * gain + acc0
    return a if a < acc_max else acc_max


@njit(cache=True)
def accuracy_of(c: np.ndarray, acc0: np.ndarray, gain: np.ndarray, acc_max: np.ndarray,
                out: np.ndarray) -> None:
    """:func:`accuracy` over ``c[..., N, K]`` flattened as ``c[i, m, k]`` (``out`` alike)."""
    rows, n, k = c.shape
    for i in range(rows):
        for m in range(n):
            for j in range(k):
                out[i, m, j] = accuracy(c[i, m, j], acc0[m], gain[m], acc_max[m])


@njit(cache=True)
def effective_of(mass: np.ndarray, relevance: np.ndarray, out: np.ndarray) -> None:
    """``C = S R`` over ``mass[i, m, :]`` (``out`` alike): own task fully, the others at rho."""
    rows, n, k = mass.shape
    for i in range(rows):
        for m in range(n):
            for j in range(k):
                c = 0.0
                for q in range(k):
                    c += mass[i, m, q] * relevance[q, j]
                out[i, m, j] = c


@njit(cache=True, inline="always")
def decay_model(mass: np.ndarray, served: np.ndarray, base: int, k: int, nu: float, w: float
                ) -> None:
    """``S <- nu S + served`` for the K tasks of one model (``mass[base:base + K]``), the row
    scaled down to the window ``w`` if over it (the oldest examples fall out)."""
    total = 0.0
    for j in range(base, base + k):
        s = mass[j] * nu + served[j]
        mass[j] = s
        total += s
    scale = w / (total if total > w else w)
    for j in range(base, base + k):
        mass[j] *= scale


@njit(cache=True)
def decay_all(mass: np.ndarray, served: np.ndarray, nu: float, window: np.ndarray) -> None:
    """:func:`decay_model` of every row ``mass[i]`` (``[rows, N K]``), each adding the same
    ``served`` ``[N K]`` (the planner's contexts, one per load slot)."""
    n = len(window)
    k = served.shape[0] // n
    for i in range(mass.shape[0]):
        row = mass[i]
        for m in range(n):
            decay_model(row, served, m * k, k, nu, window[m])


@njit(cache=True, inline="always")
def update_context(served: np.ndarray, count_task: np.ndarray, count: np.ndarray,
                   mass: np.ndarray, mix: np.ndarray, effective: np.ndarray, acc: np.ndarray,
                   aoc: np.ndarray, nu: float, mix_rate: float, window: np.ndarray,
                   acc0: np.ndarray, gain: np.ndarray, acc_max: np.ndarray,
                   relevance: np.ndarray) -> None:
    """End of a slot for one server (flat ``[N * K]`` arrays, ``count``/``aoc`` ``[N]``): decay,
    add the requests ``served`` at the edge, cap at the window; the task mix takes the slot's
    EWMA step; C, A and AoC rederived. In place."""
    n = len(count)
    k = len(served) // n
    for m in range(n):
        base = m * k
        decay_model(mass, served, base, k, nu, window[m])
        cnt = count[m]
        rate = mix_rate if cnt > 0.0 else 0.0  # no request: the mix stays
        denom = cnt if cnt > 1.0 else 1.0
        for j in range(k):
            mix[base + j] = ewma(mix[base + j], count_task[base + j] / denom, rate)
        a_sum = 0.0
        for j in range(k):
            c = 0.0
            for q in range(k):
                c += mass[base + q] * relevance[q, j]
            effective[base + j] = c
            acc[base + j] = accuracy(c, acc0[m], gain[m], acc_max[m])
            a_sum += mix[base + j] * c
        aoc[m] = a_sum


@njit(cache=True, inline="always")
def serve_server(cached: np.ndarray, loaded_now: np.ndarray, cloud: np.ndarray,
                 columns: np.ndarray, count_task: np.ndarray, count: np.ndarray,
                 mass: np.ndarray, mix: np.ndarray, effective: np.ndarray, acc: np.ndarray,
                 aoc: np.ndarray, served: np.ndarray, ctx_params: np.ndarray,
                 model_params: np.ndarray, relevance: np.ndarray, out: np.ndarray) -> None:
    """SERVE one slot of one server without the capacity model: cached models at the edge
    (``loaded_now``: those loaded in this slot wait for their cold start), the rest in the
    cloud. Writes the charges (:data:`CHARGES` order) into ``out`` and updates the context.

    ``ctx_params``: nu, task_mix_ewma, then the cost weights per s, per kJ, per miss, per USD
    and the GPU's kJ per s. ``model_params[4, N]``: window, acc0, gain, acc_max."""
    n = len(count)
    k = len(count_task) // n
    edge_s = n_edge = cold_s = cloud_s = usd = cloud_acc = n_cloud = 0.0
    for m in range(n):
        c = m * 6
        e, ld, cl = cached[m], loaded_now[m], cloud[m]
        edge_s += e * columns[c]
        n_edge += e * columns[c + 5]
        cold_s += ld * columns[c + 1]
        cloud_s += cl * columns[c + 2]
        usd += cl * columns[c + 3]
        cloud_acc += cl * columns[c + 4]
        n_cloud += cl * columns[c + 5]
    edge_acc = 0.0
    aoc_sum = 0.0
    for m in range(n):
        e = cached[m]
        for j in range(m * k, m * k + k):
            sv = count_task[j] * e
            served[j] = sv
            edge_acc += sv * acc[j]
        aoc_sum += count[m] * aoc[m]  # the AoC each request saw (0 in the cloud)
    charge(edge_s, cold_s, cloud_s, usd, cloud_acc, n_edge, n_cloud, edge_acc, edge_s, 0.0,
           ctx_params, out)
    out[12] = aoc_sum
    update_context(served, count_task, count, mass, mix, effective, acc, aoc, ctx_params[0],
                   ctx_params[1], model_params[0], model_params[1], model_params[2],
                   model_params[3], relevance)


@njit(cache=True, inline="always")
def charge(edge_s: float, cold_s: float, cloud_s: float, usd: float, cloud_acc: float,
           n_edge: float, n_cloud: float, edge_acc: float, busy_s: float, wait_s: float,
           ctx_params: np.ndarray, out: np.ndarray) -> None:
    """The charges of a set of resolved requests into ``out[:12]`` (:data:`CHARGES` order)."""
    acc_sum = edge_acc + cloud_acc
    n_req = n_edge + n_cloud
    latency_s = edge_s + cold_s + cloud_s + wait_s
    energy_kj = ctx_params[6] * busy_s
    w_lat, w_energy, w_acc, w_cloud = weigh(ctx_params[2], ctx_params[3], ctx_params[4],
                                            ctx_params[5], latency_s, energy_kj, n_req, acc_sum,
                                            usd)
    out[0] = w_lat + w_energy + w_acc + w_cloud
    out[1] = w_lat
    out[2] = w_energy
    out[3] = w_acc
    out[4] = w_cloud
    out[5] = n_req
    out[6] = n_edge
    out[7] = n_cloud
    out[8] = acc_sum
    out[9] = latency_s
    out[10] = energy_kj * 1000.0
    out[11] = usd


@njit(cache=True)
def update_context_rows(rows: np.ndarray, served: np.ndarray, count_task: np.ndarray,
                        count: np.ndarray, ctx_state: np.ndarray, scratch: np.ndarray,
                        ctx_params: np.ndarray, model_params: np.ndarray,
                        relevance: np.ndarray) -> None:
    """:func:`update_context` of servers ``rows`` (``served``, ``count_task`` ``[b, N K]`` and
    ``count`` ``[b, N]``: row i is server ``rows[i]``'s) in the batch's context state rows
    ``[S | p | A | AoC]``; C is written to ``scratch`` (nothing reads it)."""
    n = count.shape[1]
    nk = served.shape[1]
    for i in range(len(rows)):
        st = ctx_state[rows[i]]
        update_context(served[i], count_task[i], count[i], st[:nk], st[nk:2 * nk], scratch,
                       st[2 * nk:3 * nk], st[3 * nk:3 * nk + n], ctx_params[0], ctx_params[1],
                       model_params[0], model_params[1], model_params[2], model_params[3],
                       relevance)


# A batch server's state row (``BatchSimulator._state``), in blocks of N values: serving weights
# (edge, loaded now, cloud), the demand now (EWMA frequency, recency: slots since the latest
# request), what each operation needs (LOAD m: its MB if uncached, EVICT m: 0 if cached, else
# inf; valid if need <= the free MB), slots since loaded + 1 (0 if uncached).
EDGE, LOADED_NOW, CLOUD, FREQUENCY, RECENCY, NEED_LOAD, NEED_EVICT, SINCE, STATE_BLOCKS = range(9)
# A slot's episode data (``BatchSimulator._slot_data[b, t]``): serving columns (6N), requests per
# model and task (NK), then in blocks of N: requests per model, the next slot's, the frequency
# EWMA's rate into the next slot.
COUNT, NEXT_COUNT, NEXT_RATE, SLOT_BLOCKS = range(4)
# A batch server's context row (``AgeOfContext.state``): S, p, A (NK each), AoC (N).
# A server's counters (``BatchSimulator.counters[b]``): free MB, operations used, slot.
FREE_MB, OPS_USED, SLOT = range(3)
# Columns of the running metrics (``[b, key]``) a LOAD / EVICT adds to, in order; the SERVE's
# CHARGES follow, starting at the last of them (episode_cost).
OP_METRICS = ("loads", "evictions", "switch_gb", "episode_cost_switch", "episode_cost")
INVALID_METRICS = ("invalid_actions", "episode_cost_invalid")


@njit(cache=True, inline="always")
def apply_op(b: int, m: int, is_load: bool, n: int, state: np.ndarray, cached: np.ndarray,
             counters: np.ndarray, mem_mb: np.ndarray, weights_gb: np.ndarray,
             load_cost: np.ndarray, metrics: np.ndarray, ctx_state: np.ndarray,
             acc0: np.ndarray, costs: np.ndarray) -> None:
    """LOAD (``is_load``) or EVICT model m in server b (valid: the caller checked the mask): the
    cache, the serving weights, the operations' needs, the counters, the switching cost; an
    EVICT throws the model's context away (S 0, A acc0, AoC 0)."""
    st = state[b]
    nk = (ctx_state.shape[1] - n) // 3
    k = nk // n
    counters[b, OPS_USED] += 1
    cached[b, m] = is_load
    if is_load:
        st[EDGE * n + m] = 1.0
        st[LOADED_NOW * n + m] = 1.0
        st[CLOUD * n + m] = 0.0
        st[NEED_LOAD * n + m] = np.inf
        st[NEED_EVICT * n + m] = 0.0
        st[SINCE * n + m] = 1.0
        counters[b, FREE_MB] -= mem_mb[m]
        metrics[b, 0] += 1.0
        metrics[b, 2] += weights_gb[m]
        metrics[b, 3] += load_cost[m]
        metrics[b, 4] += load_cost[m]
        costs[4, b] = load_cost[m]
    else:
        st[EDGE * n + m] = 0.0
        st[LOADED_NOW * n + m] = 0.0
        st[CLOUD * n + m] = 1.0
        st[NEED_LOAD * n + m] = mem_mb[m]
        st[NEED_EVICT * n + m] = np.inf
        st[SINCE * n + m] = 0.0
        counters[b, FREE_MB] += mem_mb[m]
        metrics[b, 1] += 1.0
        cs = ctx_state[b]
        for j in range(m * k, m * k + k):
            cs[j] = 0.0
            cs[2 * nk + j] = acc0[m]
        cs[3 * nk + m] = 0.0


@njit(cache=True, inline="always")
def serve_row(b: int, n: int, state: np.ndarray, counters: np.ndarray, slot_data: np.ndarray,
              ctx_state: np.ndarray, ctx_params: np.ndarray, model_params: np.ndarray,
              relevance: np.ndarray, metrics: np.ndarray, first_charge: int, costs: np.ndarray,
              served: np.ndarray, effective: np.ndarray, out: np.ndarray) -> None:
    """:func:`serve_server` of server b of a batch (layouts: the blocks above), then its next
    slot begins: nothing loaded in it yet, a slot more for every cached model, the slot's
    requests join the demand, a fresh operation budget. The charges are added to the running
    metrics ``metrics[b, first_charge + i]`` (:data:`CHARGES` order); the four weighted terms
    go to ``costs[:4, b]``."""
    nk = slot_data.shape[2] - 6 * n - SLOT_BLOCKS * n
    ct0 = 6 * n
    cnt0 = ct0 + nk
    t = counters[b, SLOT]
    st = state[b]
    sd = slot_data[b, t]
    cs = ctx_state[b]
    serve_server(st[EDGE * n:EDGE * n + n], st[LOADED_NOW * n:LOADED_NOW * n + n],
                 st[CLOUD * n:CLOUD * n + n], sd[:ct0], sd[ct0:cnt0],
                 sd[cnt0 + COUNT * n:cnt0 + COUNT * n + n], cs[:nk], cs[nk:2 * nk], effective,
                 cs[2 * nk:3 * nk], cs[3 * nk:3 * nk + n], served, ctx_params, model_params,
                 relevance, out)
    for c in range(N_CHARGES):
        metrics[b, first_charge + c] += out[c]
    for c in range(4):
        costs[c, b] = out[1 + c]
    enter_next_slot(b, n, state, counters, slot_data)


@njit(cache=True, inline="always")
def enter_next_slot(b: int, n: int, state: np.ndarray, counters: np.ndarray,
                    slot_data: np.ndarray) -> None:
    """Server b's next slot begins: nothing loaded in it yet, a slot more for every cached
    model, the slot's requests join the demand (:func:`ewma` frequency, recency), a fresh
    operation budget."""
    cnt0 = slot_data.shape[2] - SLOT_BLOCKS * n
    t = counters[b, SLOT]
    st = state[b]
    sd = slot_data[b, t]
    for m in range(n):
        st[LOADED_NOW * n + m] = 0.0
        st[SINCE * n + m] += st[EDGE * n + m]
        x = sd[cnt0 + NEXT_COUNT * n + m]
        st[FREQUENCY * n + m] = ewma(st[FREQUENCY * n + m], x, sd[cnt0 + NEXT_RATE * n + m])
        st[RECENCY * n + m] = 0.0 if x > 0.0 else st[RECENCY * n + m] + 1.0
    counters[b, OPS_USED] = 0
    counters[b, SLOT] = t + 1


@njit(cache=True)
def enter_next_slot_rows(rows: np.ndarray, n: int, state: np.ndarray, counters: np.ndarray,
                         slot_data: np.ndarray) -> None:
    """:func:`enter_next_slot` of servers ``rows`` (after a SERVE with the capacity model)."""
    for i in range(len(rows)):
        enter_next_slot(rows[i], n, state, counters, slot_data)


@njit(cache=True)
def step_rows(kind: np.ndarray, serve: np.ndarray, invalid: np.ndarray, n: int,
              state: np.ndarray, cached: np.ndarray, counters: np.ndarray, slot_data: np.ndarray,
              ctx_state: np.ndarray, mem_mb: np.ndarray, weights_gb: np.ndarray,
              load_cost: np.ndarray, ctx_params: np.ndarray, model_params: np.ndarray,
              relevance: np.ndarray, metrics: np.ndarray, first_charge: int,
              invalid_rows: np.ndarray, penalty: float, costs: np.ndarray) -> None:
    """One step of every server of a batch: ``kind[b]`` EVICT model m (``m``), LOAD model m
    (``N + m``) or none (``2N``); ``serve[b]``: SERVE (without the capacity model; with it the
    caller serves those rows); ``invalid[b]``: the penalty of a masked-out action, after the
    SERVE's charges (columns ``invalid_rows`` of ``metrics``: count, cost; then episode_cost). The
    step's weighted terms go to ``costs[:6, b]`` (TERMS order; the caller zeroes them)."""
    nk = slot_data.shape[2] - 6 * n - SLOT_BLOCKS * n
    served = np.empty(nk)
    effective = np.empty(nk)
    out = np.empty(N_CHARGES)
    for b in range(len(kind)):
        kb = kind[b]
        if kb < 2 * n:
            apply_op(b, kb - n if kb >= n else kb, kb >= n, n, state, cached, counters, mem_mb,
                     weights_gb, load_cost, metrics, ctx_state, model_params[1], costs)
        elif serve[b]:
            serve_row(b, n, state, counters, slot_data, ctx_state, ctx_params, model_params,
                      relevance, metrics, first_charge, costs, served, effective, out)
        if invalid[b]:
            metrics[b, invalid_rows[0]] += 1.0
            metrics[b, invalid_rows[1]] += penalty
            metrics[b, first_charge] += penalty
            costs[5, b] = penalty


@njit(cache=True)
def masks_rows(rows: np.ndarray, state: np.ndarray, counters: np.ndarray, ops_limit: int,
               n_slots: int, n: int, mask: np.ndarray) -> None:
    """Valid actions of servers ``rows`` into ``mask[b, 1:]`` (LOAD m, then EVICT m: an
    operation left in a slot of the episode, and its need within the free MB); ``mask[b, 0]``
    (SERVE) is left as it is."""
    for i in range(len(rows)):
        b = rows[i]
        left = counters[b, OPS_USED] < ops_limit and counters[b, SLOT] < n_slots
        room = float(counters[b, FREE_MB]) if left else -1.0
        st = state[b]
        for j in range(2 * n):
            mask[b, 1 + j] = st[NEED_LOAD * n + j] <= room


@njit(cache=True)
def write_episode(b: int, slot_data: np.ndarray, columns: np.ndarray, count_task: np.ndarray
                  ) -> None:
    """Server b's episode rows of ``slot_data`` (layout above): per slot the six serving
    ``columns[c, t, m]`` interleaved model by model, the requests per model and task
    ``count_task[t, m, k]``, per model (column 5), and the next slot's (0 after the last)."""
    n_slots, n = columns.shape[1], columns.shape[2]
    k = count_task.shape[2]
    cnt0 = slot_data.shape[2] - SLOT_BLOCKS * n
    for t in range(n_slots):
        row = slot_data[b, t]
        for m in range(n):
            for c in range(6):
                row[m * 6 + c] = columns[c, t, m]
            for j in range(k):
                row[6 * n + m * k + j] = count_task[t, m, j]
            row[cnt0 + COUNT * n + m] = columns[5, t, m]
            row[cnt0 + NEXT_COUNT * n + m] = columns[5, t + 1, m] if t + 1 < n_slots else 0.0
