"""The model's per-slot equations, compiled: one implementation for one server and for a batch.

The simulator keeps its state in arrays with one row per server (the single env's simulator is
a batch of one): :func:`step_rows` applies one LOAD, EVICT or SERVE (:func:`serve_row`) to each
row. A sub-env of the vector env and a single env given the same actions thus compute every
cost, accuracy and Age of Context with the same floating-point operations in the same order:
they agree bit for bit. Compiled with numba (no ``fastmath``: IEEE arithmetic, no
reassociation). In their loops the kernels index their arrays and call only helpers of scalars:
a slice, or a call that passes arrays, costs about 100 ns each (measured), more than the
arithmetic of a row.

The equations (module docstring of :mod:`edge_cache_env.context` for the AoC):

    S <- nu S + served, each model's row capped at its window W
    p <- p + rate (share - p)          (task mix: rate = task_mix_ewma if the model had requests)
    C  = S R,  R = (1 - rho) I + rho 11^T
    A  = min(acc_max, acc0 + gain log2(1 + C)),    AoC = sum_k p C

Layouts (N models, K tasks, flat and model-major: ``[m * K + k]`` per task, ``[m * 6 + c]`` per
serving column):

- state ``[B, STATE_BLOCKS * N]``: blocks of N values EDGE ... SINCE (below);
- slot data ``[B, T + 1, 6N + NK + SLOT_BLOCKS * N]``: per slot the serving columns
  (:func:`edge_cache_env.simulator.serving_columns`), the requests per model and task, then the
  blocks COUNT ... NEXT_RATE; row T ('after the last slot') zeros;
- context ``[B, 3NK + N]``: S, p, A (NK each), AoC (N);
- counters ``[B, 3]`` int: FREE_MB, OPS_USED, SLOT;
- running metrics ``[B, keys]``: :data:`METRIC_COLUMNS` first;
- ``ctx_params`` (:func:`context_params`) and ``sim_params`` (:func:`simulator_params`).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

# Blocks of N values of a server's state row: serving weights (edge, loaded now, cloud), the
# demand now (EWMA frequency, recency: slots since the latest request), what each operation
# needs (LOAD m: its MB if uncached, EVICT m: 0 if cached, else inf; valid if need <= the free
# MB), slots since loaded + 1 (0 if uncached).
EDGE, LOADED_NOW, CLOUD, FREQUENCY, RECENCY, NEED_LOAD, NEED_EVICT, SINCE, STATE_BLOCKS = range(9)
# Blocks of N values after a slot's serving columns and requests per task: requests per model,
# the next slot's, the frequency EWMA's rate into the next slot.
COUNT, NEXT_COUNT, NEXT_RATE, SLOT_BLOCKS = range(4)
FREE_MB, OPS_USED, SLOT = range(3)
# ctx_params: two scalars, then blocks of N values, then R (K x K, row-major).
NU, MIX_RATE, CTX_SCALARS = range(3)
WINDOW, ACC0, GAIN, ACC_MAX, CTX_MODEL_BLOCKS = range(5)
# sim_params: scalars (the capacity model's: GPU-s per s, slot s, GPU-s per slot, 1.0 for the
# -v1 ids' charge of a carried queue), then blocks of N values.
(PER_S, PER_KJ, PER_MISS, PER_USD, KJ_PER_S, PENALTY, GPU_THROUGHPUT, SLOT_S, CAPACITY_S,
 LEGACY_V1_CHARGE, SIM_SCALARS) = range(11)
MEM_MB, WEIGHTS_GB, LOAD_COST, SIM_MODEL_BLOCKS = range(4)

# The charges of a SERVE, in the order :func:`charge_row` adds them: the weighted total, its four
# weighted terms (TERMS order), then the raw sums; then the AoC the requests saw.
CHARGES = ("episode_cost", "episode_cost_latency", "episode_cost_energy", "episode_cost_accuracy",
           "episode_cost_cloud", "requests", "edge_hits", "cloud_requests", "accuracy_sum",
           "latency_s", "energy_j", "cloud_usd", "aoc_sum")
N_CHARGES = len(CHARGES)
# What a LOAD / EVICT adds to, in order (the last, episode_cost, is the first charge), the
# penalty of a masked-out action, and the capacity model's: the first columns of a batch's
# running metrics (the capacity ones unused without the capacity model).
OP_METRICS = ("loads", "evictions", "switch_gb", "episode_cost_switch", "episode_cost")
INVALID_METRICS = ("invalid_actions", "episode_cost_invalid")
CAPACITY_METRICS = ("offloaded_requests", "queued_requests", "wait_s", "gpu_busy_s",
                    "gpu_demand_s")
METRIC_COLUMNS = OP_METRICS + CHARGES[1:] + INVALID_METRICS + CAPACITY_METRICS
FIRST_CHARGE = len(OP_METRICS) - 1
AOC_SUM = FIRST_CHARGE + CHARGES.index("aoc_sum")
FIRST_INVALID = FIRST_CHARGE + N_CHARGES
OFFLOADED_REQ, QUEUED_REQ, WAIT_S, GPU_BUSY_S, GPU_DEMAND_S = range(FIRST_INVALID + 2,
                                                                    FIRST_INVALID + 7)
# The capacity model's state per server (``[B, CAP_BLOCKS * N + 3]``): blocks of N values (share
# of the previous slot's arrivals still queued, their batched GPU-s, the offload threshold s;
# the episode's totals: arrived, served at the edge, offloaded, sent to the cloud), then any
# queue (1.0 / 0.0), the last slot's utilisation and offered load.
QUEUE_FRAC, QUEUED_WORK, THETA, ARRIVED, SERVED_EDGE, OFFLOADED, SENT_CLOUD, CAP_BLOCKS = range(8)
QUEUED_ANY, LAST_UTIL, LAST_LOAD = range(3)  # after the blocks
# Its episode data per server and slot (``[B, T, 2N + 2]``): batched GPU-s per model, requests
# per batched GPU-s, then the slot's utilisation and offered load (written when served).
WORK, REQ_PER_WORK, CAP_EPISODE_BLOCKS = range(3)


def context_params(nu: float, mix_rate: float, window: np.ndarray, acc0: np.ndarray,
                   acc_gain: np.ndarray, acc_max: np.ndarray, relevance: np.ndarray) -> np.ndarray:
    """``ctx_params``: the AoC's constants (``acc_gain / ln 2`` as the gain: log2(1 + C) =
    log1p(C) / ln 2)."""
    return np.concatenate([[nu, mix_rate], window, acc0, acc_gain / np.log(2.0), acc_max,
                           relevance.reshape(-1)]).astype(np.float64)


def simulator_params(weights: tuple[float, float, float, float], kj_per_s: float,
                     penalty: float, gpu_throughput: float, slot_s: float, legacy_v1_charge: bool,
                     mem_mb: np.ndarray, weights_gb: np.ndarray, load_cost: np.ndarray
                     ) -> np.ndarray:
    """``sim_params``: the cost weights (per s, per kJ, per miss, per USD), the GPU's kJ per busy
    second, the invalid-action penalty, the capacity model's GPU-s per s and slot and its -v1
    charge flag, then each model's MB, GB and load cost."""
    return np.concatenate([weights, [kj_per_s, penalty, gpu_throughput, slot_s,
                                     gpu_throughput * slot_s, float(legacy_v1_charge)], mem_mb,
                           weights_gb, load_cost]).astype(np.float64)


@njit(cache=True)
def dims(state: np.ndarray, ctx_state: np.ndarray) -> tuple[int, int]:
    """N and K of a simulator's arrays."""
    n = state.shape[1] // STATE_BLOCKS
    return n, (ctx_state.shape[1] // n - 1) // 3


# ---------------------------------------------------------------- the formulas, one value each
@njit(cache=True, inline="always")
def ewma(avg: float, x: float, rate: float) -> float:
    """One step of an exponentially weighted moving average (floats, or arrays element by
    element): the task mix's and the request frequency's."""
    return avg + rate * (x - avg)


@njit(cache=True, inline="always")
def weigh(latency_per_s: float, energy_per_kj: float, accuracy_per_miss: float,
          cloud_per_usd: float, latency_s, energy_kj, n_requests, accuracy_sum, usd):  # noqa: ANN001, ANN201
    """The weighted latency, energy, accuracy and cloud terms of a set of requests (floats or
    arrays): the cost formula of every simulator path."""
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


@njit(cache=True, inline="always")
def window_scale(total: float, w: float) -> float:
    """The factor that scales a model's masses (sum ``total``) down to its window ``w`` (1 if
    within it): the oldest examples fall out."""
    return w / (total if total > w else w)


# ------------------------------------------------------------------ the context of one server
@njit(cache=True)
def update_context(b: int, ctx_state: np.ndarray, scratch: np.ndarray, task_src: np.ndarray,
                   count_src: np.ndarray, i0: int, i1: int, task0: int, count0: int,
                   ctx_params: np.ndarray, n: int, k: int) -> None:
    """End of a slot for server b: decay, add the requests served at the edge
    (``scratch[:NK]``), cap at the window; the task mix takes the slot's EWMA step (its
    requests: ``task_src[i0, i1, task0 + j]`` per task, ``count_src[i0, i1, count0 + m]`` per
    model); C (into ``scratch[NK:]``), A and AoC rederived."""
    nk = n * k
    nu, mix_rate = ctx_params[NU], ctx_params[MIX_RATE]
    rel0 = CTX_SCALARS + CTX_MODEL_BLOCKS * n
    for m in range(n):
        base = m * k
        total = 0.0  # S <- nu S + served, capped at the window
        for j in range(base, base + k):
            x = ctx_state[b, j] * nu + scratch[j]
            ctx_state[b, j] = x
            total += x
        scale = window_scale(total, ctx_params[CTX_SCALARS + WINDOW * n + m])
        for j in range(base, base + k):
            ctx_state[b, j] *= scale
        cnt = count_src[i0, i1, count0 + m]
        rate = mix_rate if cnt > 0.0 else 0.0  # no request: the mix stays
        denom = cnt if cnt > 1.0 else 1.0
        for j in range(base, base + k):
            ctx_state[b, nk + j] = ewma(ctx_state[b, nk + j], task_src[i0, i1, task0 + j] / denom,
                                        rate)
        acc0 = ctx_params[CTX_SCALARS + ACC0 * n + m]
        gain = ctx_params[CTX_SCALARS + GAIN * n + m]
        acc_max = ctx_params[CTX_SCALARS + ACC_MAX * n + m]
        a_sum = 0.0
        for j in range(k):
            c = 0.0  # C = S R
            for q in range(k):
                c += ctx_state[b, base + q] * ctx_params[rel0 + q * k + j]
            scratch[nk + base + j] = c
            ctx_state[b, 2 * nk + base + j] = accuracy(c, acc0, gain, acc_max)
            a_sum += ctx_state[b, nk + base + j] * c
        ctx_state[b, 3 * nk + m] = a_sum


@njit(cache=True)
def serve_row(b: int, invalid: bool, state: np.ndarray, slot_data: np.ndarray,
              ctx_state: np.ndarray, counters: np.ndarray, metrics: np.ndarray,
              ctx_params: np.ndarray, sim_params: np.ndarray, costs: np.ndarray,
              scratch: np.ndarray, shares: np.ndarray) -> None:
    """SERVE server b's slot (``counters[b, SLOT]``) without the capacity model: cached models
    at the edge (those loaded in this slot wait for their cold start), the rest in the cloud;
    the charges go to the running metrics and ``costs[:4, b]``. Then the penalty of a
    masked-out action (``invalid``), the context update and the next slot."""
    n, k = dims(state, ctx_state)
    nk = n * k
    t = counters[b, SLOT]
    count0 = 6 * n + nk + COUNT * n
    for m in range(n):
        shares[0, m] = state[b, EDGE * n + m]  # every cached request at the edge, none offloaded
        shares[1, m] = 0.0
    edge_s, n_edge, cold_s, cloud_s, usd, cloud_acc, n_cloud = serving_sums(b, t, n, state,
                                                                            slot_data, shares)
    edge_acc = aoc_sum = 0.0
    for m in range(n):
        e = shares[0, m]
        for j in range(m * k, m * k + k):
            sv = slot_data[b, t, 6 * n + j] * e
            scratch[j] = sv
            edge_acc += sv * ctx_state[b, 2 * nk + j]
        aoc_sum += slot_data[b, t, count0 + m] * ctx_state[b, 3 * nk + m]  # AoC each request saw
    # Busy GPU time: the edge's stand-alone compute; no wait.
    w = charge_row(b, edge_s, cold_s, cloud_s, usd, cloud_acc, n_edge, n_cloud, edge_acc, edge_s,
                   0.0, sim_params, metrics)
    metrics[b, AOC_SUM] += aoc_sum
    for c in range(4):
        costs[c, b] = w[c]
    if invalid:
        charge_invalid(b, sim_params[PENALTY], metrics, costs)
    update_context(b, ctx_state, scratch, slot_data, slot_data, b, t, 6 * n, count0, ctx_params,
                   n, k)
    enter_next_slot(b, state, counters, slot_data, n)


@njit(cache=True)
def serving_sums(b: int, t: int, n: int, state: np.ndarray, slot_data: np.ndarray,
                 shares: np.ndarray) -> tuple:
    """The sums a SERVE charges from server b's slot t columns: edge compute s and requests of
    the shares ``shares[0]`` served at the edge, cold-start wait of the models loaded in the
    slot, and cloud latency s, USD, accuracy and requests of the uncached models plus the
    shares ``shares[1]`` offloaded."""
    edge_s = n_edge = cold_s = cloud_s = usd = cloud_acc = n_cloud = 0.0
    for m in range(n):
        e = shares[0, m]
        ld = state[b, LOADED_NOW * n + m]
        cl = state[b, CLOUD * n + m] + shares[1, m]
        c = m * 6
        edge_s += e * slot_data[b, t, c]
        n_edge += e * slot_data[b, t, c + 5]
        cold_s += ld * slot_data[b, t, c + 1]
        cloud_s += cl * slot_data[b, t, c + 2]
        usd += cl * slot_data[b, t, c + 3]
        cloud_acc += cl * slot_data[b, t, c + 4]
        n_cloud += cl * slot_data[b, t, c + 5]
    return edge_s, n_edge, cold_s, cloud_s, usd, cloud_acc, n_cloud


@njit(cache=True)
def update_context_rows(rows: np.ndarray, served: np.ndarray, count_task: np.ndarray,
                        count: np.ndarray, ctx_state: np.ndarray, scratch: np.ndarray,
                        ctx_params: np.ndarray) -> None:
    """:func:`update_context` of servers ``rows``: row i of ``served`` and ``count_task``
    ``[b, NK]`` and of ``count`` ``[b, N]`` are server ``rows[i]``'s."""
    n = count.shape[1]
    k = served.shape[1] // n
    tasks = count_task.reshape(1, count_task.shape[0], count_task.shape[1])
    counts = count.reshape(1, count.shape[0], count.shape[1])
    for i in range(len(rows)):
        for j in range(n * k):
            scratch[j] = served[i, j]
        update_context(rows[i], ctx_state, scratch, tasks, counts, 0, i, 0, 0, ctx_params, n, k)


# ------------------------------------------------------------------------------ the batch
@njit(cache=True)
def enter_next_slot(b: int, state: np.ndarray, counters: np.ndarray, slot_data: np.ndarray,
                    n: int) -> None:
    """Server b's next slot begins: nothing loaded in it yet, a slot more for every cached
    model, the slot's requests join the demand (:func:`ewma` frequency, recency), a fresh
    operation budget."""
    cnt0 = slot_data.shape[2] - SLOT_BLOCKS * n
    t = counters[b, SLOT]
    for m in range(n):
        state[b, LOADED_NOW * n + m] = 0.0
        state[b, SINCE * n + m] += state[b, EDGE * n + m]
        x = slot_data[b, t, cnt0 + NEXT_COUNT * n + m]
        state[b, FREQUENCY * n + m] = ewma(state[b, FREQUENCY * n + m], x,
                                           slot_data[b, t, cnt0 + NEXT_RATE * n + m])
        state[b, RECENCY * n + m] = 0.0 if x > 0.0 else state[b, RECENCY * n + m] + 1.0
    counters[b, OPS_USED] = 0
    counters[b, SLOT] = t + 1


@njit(cache=True)
def step_rows(kind: np.ndarray, serve: np.ndarray, invalid: np.ndarray, state: np.ndarray,
              slot_data: np.ndarray, ctx_state: np.ndarray, counters: np.ndarray,
              metrics: np.ndarray, ctx_params: np.ndarray, sim_params: np.ndarray,
              costs: np.ndarray, mask: np.ndarray, ops_limit: int, n_slots: int,
              cap_state: np.ndarray, cap_episode: np.ndarray) -> None:
    """One step of every server of a batch: ``kind[b]`` EVICT model m (``m``), LOAD model m
    (``N + m``) or none (``2N``); ``serve[b]``: SERVE (:func:`serve_row`, or with the capacity
    model, when ``cap_state`` has rows, :func:`serve_capacity_row`; an EVICT then sends the
    model's queue to the cloud); ``invalid[b]``: the penalty of a masked-out action, after the
    SERVE's charges. Running metrics: :data:`METRIC_COLUMNS`; the step's weighted terms go to
    ``costs[:6, b]`` (TERMS order; the caller zeroes them). Then each row's valid actions into
    ``mask`` (:func:`mask_row`), unless it has no rows (the caller computes them later)."""
    n, k = dims(state, ctx_state)
    nk = n * k
    scratch = np.empty(2 * nk)
    with_masks = mask.shape[0] == len(kind)
    capacity = cap_state.shape[0] > 0
    shares = np.empty((8, n))
    for b in range(len(kind)):
        kb = kind[b]
        if kb < 2 * n:  # LOAD (kb >= N) or EVICT model m (checked valid by the caller)
            is_load = kb >= n
            m = kb - n if is_load else kb
            counters[b, OPS_USED] += 1
            mem = sim_params[SIM_SCALARS + MEM_MB * n + m]
            if is_load:
                state[b, EDGE * n + m] = 1.0
                state[b, LOADED_NOW * n + m] = 1.0
                state[b, CLOUD * n + m] = 0.0
                state[b, NEED_LOAD * n + m] = np.inf
                state[b, NEED_EVICT * n + m] = 0.0
                state[b, SINCE * n + m] = 1.0
                counters[b, FREE_MB] -= int(mem)
                cost = sim_params[SIM_SCALARS + LOAD_COST * n + m]  # GB moved, load energy
                metrics[b, 0] += 1.0
                metrics[b, 2] += sim_params[SIM_SCALARS + WEIGHTS_GB * n + m]
                metrics[b, 3] += cost
                metrics[b, 4] += cost
                costs[4, b] = cost
            else:  # free; the context is lost (S 0, A acc0, AoC 0)
                state[b, EDGE * n + m] = 0.0
                state[b, LOADED_NOW * n + m] = 0.0
                state[b, CLOUD * n + m] = 1.0
                state[b, NEED_LOAD * n + m] = mem
                state[b, NEED_EVICT * n + m] = np.inf
                state[b, SINCE * n + m] = 0.0
                counters[b, FREE_MB] += int(mem)
                metrics[b, 1] += 1.0
                acc0 = ctx_params[CTX_SCALARS + ACC0 * n + m]
                for j in range(m * k, m * k + k):
                    ctx_state[b, j] = 0.0
                    ctx_state[b, 2 * nk + j] = acc0
                ctx_state[b, 3 * nk + m] = 0.0
                if capacity and cap_state[b, QUEUE_FRAC * n + m] > 0.0:  # its queue: to the cloud
                    offload_row(b, m, False, slot_data, counters, metrics, sim_params, costs,
                                cap_state, n, k)
        elif serve[b] and capacity:
            serve_capacity_row(b, invalid[b], state, slot_data, ctx_state, counters, metrics,
                               ctx_params, sim_params, costs, cap_state, cap_episode, scratch,
                               shares)
        elif serve[b]:
            serve_row(b, invalid[b], state, slot_data, ctx_state, counters, metrics, ctx_params,
                      sim_params, costs, scratch, shares)
        if with_masks:
            mask_row(b, state, counters, ops_limit, n_slots, mask, n)


@njit(cache=True, inline="always")
def charge_invalid(b: int, penalty: float, metrics: np.ndarray, costs: np.ndarray) -> None:
    """The penalty of server b's masked-out action (served as SERVE)."""
    metrics[b, FIRST_INVALID] += 1.0
    metrics[b, FIRST_INVALID + 1] += penalty
    metrics[b, FIRST_CHARGE] += penalty
    costs[5, b] = penalty


@njit(cache=True, inline="always")
def charge_row(b: int, edge_s: float, cold_s: float, cloud_s: float, usd: float,
               cloud_acc: float, n_edge: float, n_cloud: float, edge_acc: float, busy_s: float,
               wait_s: float, sim_params: np.ndarray, metrics: np.ndarray) -> tuple:
    """The charges of a set of resolved requests of server b added to its running metrics
    (:data:`CHARGES` order, AoC apart); returns the weighted latency, energy, accuracy and
    cloud terms."""
    acc_sum = edge_acc + cloud_acc
    n_req = n_edge + n_cloud
    latency_s = edge_s + cold_s + cloud_s + wait_s
    energy_kj = sim_params[KJ_PER_S] * busy_s
    w_lat, w_energy, w_acc, w_cloud = weigh(sim_params[PER_S], sim_params[PER_KJ],
                                            sim_params[PER_MISS], sim_params[PER_USD], latency_s,
                                            energy_kj, n_req, acc_sum, usd)
    c = FIRST_CHARGE
    metrics[b, c] += w_lat + w_energy + w_acc + w_cloud
    metrics[b, c + 1] += w_lat
    metrics[b, c + 2] += w_energy
    metrics[b, c + 3] += w_acc
    metrics[b, c + 4] += w_cloud
    metrics[b, c + 5] += n_req
    metrics[b, c + 6] += n_edge
    metrics[b, c + 7] += n_cloud
    metrics[b, c + 8] += acc_sum
    metrics[b, c + 9] += latency_s
    metrics[b, c + 10] += energy_kj * 1000.0
    metrics[b, c + 11] += usd
    return w_lat, w_energy, w_acc, w_cloud


# ------------------------------------------------------------------ the capacity model
@njit(cache=True, inline="always")
def fluid_model(q: float, a: float, theta: float, total: float, gpu_throughput: float,
                slot_s: float) -> tuple:
    """One model's fluid queue over a slot (:mod:`edge_cache_env.capacity`): carried queue ``q``
    and arrivals ``a`` (GPU-s), offload threshold ``theta`` s, the server's total demand
    ``total``. Returns (old served, old offloaded, new served, new offloaded, new queued,
    old wait, new wait): GPU-s, and GPU-s * s for the waits. A server without demand (or a GPU
    of infinite throughput) serves everything at once."""
    if total <= 0.0 or not math.isfinite(gpu_throughput):
        return (q, 0.0, a, 0.0, 0.0, 0.0, 0.0)
    demand = q + a
    r = gpu_throughput * demand / total if demand > 0.0 else 1.0  # GPU-s per s; 1.0: unused
    cap = r * theta
    b0 = q if q < cap else cap
    d = a / slot_s - r
    end_free = b0 + d * slot_s  # backlog at the slot's end without the clip
    # Decreasing backlog (d <= 0): empties at b0 / -d if that is within the slot.
    if d < 0.0 and end_free <= 0.0:
        area_down = b0 * b0 / (2.0 * -d)
    else:
        area_down = 0.5 * (b0 + (end_free if end_free > 0.0 else 0.0)) * slot_s
    # Increasing backlog (d > 0): reaches the cap at tau_m = (cap - b0) / d.
    up = d > 0.0
    tau_m = (cap - b0) / d if up else math.inf
    hits_cap = tau_m < slot_s
    if hits_cap:
        area_up = 0.5 * (b0 + cap) * tau_m + cap * (slot_s - tau_m)
    else:
        area_up = 0.5 * (b0 + end_free) * slot_s
    area = area_up if up else area_down
    if up:
        end = cap if hits_cap else end_free
    else:
        end = end_free if end_free > 0.0 else 0.0
    offloaded = d * (slot_s - tau_m) if up and hits_cap else 0.0
    # b0 > 0 implies r > 0 (b0 <= r theta); a share that underflows to 0 carries no backlog.
    old_wait = b0 * b0 / (2.0 * r) if b0 > 0.0 else 0.0
    new_wait = area - old_wait
    new_served = a - offloaded - end
    return (b0, q - b0, new_served if new_served > 0.0 else 0.0, offloaded, end, old_wait,
            new_wait if new_wait > 0.0 else 0.0)


@njit(cache=True)
def fluid_rows(queued: np.ndarray, arrivals: np.ndarray, theta: np.ndarray,
               gpu_throughput: float, slot_s: float, out: np.ndarray, totals: np.ndarray) -> None:
    """:func:`fluid_model` of every model of every row (``[rows, N]``) into ``out[7, rows, N]``;
    ``totals[i]``: row i's demand."""
    rows, n = queued.shape
    for i in range(rows):
        total = 0.0
        for m in range(n):
            total += queued[i, m] + arrivals[i, m]
        totals[i] = total
        for m in range(n):
            v = fluid_model(queued[i, m], arrivals[i, m], theta[i, m], total, gpu_throughput,
                            slot_s)
            for j in range(7):
                out[j, i, m] = v[j]


@njit(cache=True)
def offload_row(b: int, which: int, add: bool, slot_data: np.ndarray, counters: np.ndarray,
                metrics: np.ndarray, sim_params: np.ndarray, costs: np.ndarray,
                cap_state: np.ndarray, n: int, k: int) -> None:
    """Server b's queue of model ``which`` (every model if -1) goes to the cloud: it already
    waited until now, and pays the cloud's latency, price and accuracy. Its terms are written
    into ``costs[:4, b]`` (``add``: added to the step's)."""
    prev = counters[b, SLOT] - 1
    count0 = 6 * n + n * k + COUNT * n
    cloud_s = usd = cloud_acc = count = 0.0
    for m in range(n):
        f = cap_state[b, QUEUE_FRAC * n + m] if which < 0 or m == which else 0.0
        c = m * 6
        cloud_s += f * slot_data[b, prev, c + 2]
        usd += f * slot_data[b, prev, c + 3]
        cloud_acc += f * slot_data[b, prev, c + 4]
        count += f * slot_data[b, prev, c + 5]
        cap_state[b, OFFLOADED * n + m] += f * slot_data[b, prev, count0 + m]
        if which < 0 or m == which:
            cap_state[b, QUEUE_FRAC * n + m] = 0.0
            cap_state[b, QUEUED_WORK * n + m] = 0.0
    any_left = 0.0
    for m in range(n):
        if cap_state[b, QUEUE_FRAC * n + m] != 0.0:
            any_left = 1.0
    cap_state[b, CAP_BLOCKS * n + QUEUED_ANY] = any_left
    w = charge_row(b, 0.0, 0.0, cloud_s, usd, cloud_acc, 0.0, count, 0.0, 0.0, 0.0, sim_params,
                   metrics)
    metrics[b, OFFLOADED_REQ] += count
    metrics[b, QUEUED_REQ] += -count
    for c in range(4):
        costs[c, b] = costs[c, b] + w[c] if add else w[c]


@njit(cache=True)
def serve_capacity_row(b: int, invalid: bool, state: np.ndarray, slot_data: np.ndarray,
                       ctx_state: np.ndarray, counters: np.ndarray, metrics: np.ndarray,
                       ctx_params: np.ndarray, sim_params: np.ndarray, costs: np.ndarray,
                       cap_state: np.ndarray, cap_episode: np.ndarray, scratch: np.ndarray,
                       shares: np.ndarray) -> None:
    """SERVE server b's slot with the capacity model (:mod:`edge_cache_env.capacity`): the queue
    carried from slot t-1 and slot t's arrivals share the GPU; what waits too long is
    offloaded. Without a queue and with a demand that fits, every cached request is served at
    once (the fluid's exact shares). Then the penalty of a masked-out action (``invalid``), the
    context update, the next slot, and at the episode's end the queues go to the cloud."""
    n, k = dims(state, ctx_state)
    nk = n * k
    t = counters[b, SLOT]
    prev = t - 1 if t > 0 else 0
    count0 = 6 * n + nk + COUNT * n
    capacity_s = sim_params[CAPACITY_S]
    q0 = CAP_BLOCKS * n
    demand = 0.0
    for m in range(n):
        demand += state[b, EDGE * n + m] * cap_episode[b, t, WORK * n + m]
    fast = cap_state[b, q0 + QUEUED_ANY] == 0.0 and demand <= capacity_s
    # Request shares per model: e_new, o_new, q_new (of the slot's arrivals: served, offloaded,
    # queued), new_wait, new_queued (GPU-s), e_old, o_old (of the carried queue), old_wait.
    shares[:] = 0.0
    total = demand
    if fast:
        for m in range(n):
            shares[0, m] = state[b, EDGE * n + m]
    else:
        total = 0.0
        for m in range(n):
            total += cap_state[b, QUEUED_WORK * n + m] + (state[b, EDGE * n + m]
                                                         * cap_episode[b, t, WORK * n + m])
        for m in range(n):
            wt = cap_episode[b, t, WORK * n + m]
            q = cap_state[b, QUEUED_WORK * n + m]
            v = fluid_model(q, state[b, EDGE * n + m] * wt, cap_state[b, THETA * n + m], total,
                            sim_params[GPU_THROUGHPUT], sim_params[SLOT_S])
            # Work shares -> request shares (fluid: work is proportional to requests); a
            # cohort without work (zero service time) is served at once.
            inv_new = 1.0 / wt if wt > 0.0 else 0.0
            shares[0, m] = v[2] * inv_new if wt > 0.0 else state[b, EDGE * n + m]
            shares[1, m] = v[3] * inv_new
            shares[2, m] = v[4] * inv_new
            shares[3, m] = v[6]
            shares[4, m] = v[4]
            inv_old = cap_state[b, QUEUE_FRAC * n + m] / q if q > 0.0 else 0.0
            shares[5, m] = v[0] * inv_old
            shares[6, m] = v[1] * inv_old
            shares[7, m] = v[5]
    edge_s, n_edge, cold_s, cloud_s, usd, cloud_acc, n_cloud = serving_sums(b, t, n, state,
                                                                            slot_data, shares)
    wait_s = busy = n_queued = 0.0
    if fast:
        busy = demand
    else:
        old_e0 = old_e2 = old_e3 = old_e4 = old_e5 = old_o2 = old_o3 = old_o4 = old_o5 = 0.0
        wait_new = wait_old = busy_new = busy_old = off_new = 0.0
        for m in range(n):
            eo, oo = shares[5, m], shares[6, m]
            c = m * 6
            old_e0 += eo * slot_data[b, prev, c]
            old_e2 += eo * slot_data[b, prev, c + 2]
            old_e3 += eo * slot_data[b, prev, c + 3]
            old_e4 += eo * slot_data[b, prev, c + 4]
            old_e5 += eo * slot_data[b, prev, c + 5]
            old_o2 += oo * slot_data[b, prev, c + 2]
            old_o3 += oo * slot_data[b, prev, c + 3]
            old_o4 += oo * slot_data[b, prev, c + 4]
            old_o5 += oo * slot_data[b, prev, c + 5]
            wait_new += shares[3, m] * cap_episode[b, t, REQ_PER_WORK * n + m]
            wait_old += shares[7, m] * cap_episode[b, prev, REQ_PER_WORK * n + m]
            busy_new += shares[0, m] * cap_episode[b, t, WORK * n + m]
            busy_old += eo * cap_episode[b, prev, WORK * n + m]
            cnt = slot_data[b, t, count0 + m]
            off_new += shares[1, m] * cnt
            n_queued += shares[2, m] * cnt
        edge_s = edge_s + old_e0
        n_edge = n_edge + old_e5
        if sim_params[LEGACY_V1_CHARGE] != 0.0:
            # The -v1 ids' error, kept (in its order of sums) so their published figures
            # reproduce: the carried requests served at the edge also paid the cloud's
            # latency, price and accuracy (docs/model.md section 14.3).
            cloud_s = cloud_s + old_e2
            usd = usd + old_e3
            cloud_acc = cloud_acc + old_e4
        cloud_s = cloud_s + old_o2
        usd = usd + old_o3
        cloud_acc = cloud_acc + old_o4
        n_cloud = n_cloud + old_o5
        wait_s = wait_new + wait_old
        busy = busy_new + busy_old
        metrics[b, OFFLOADED_REQ] += off_new + old_o5
    edge_acc = aoc_sum = 0.0
    for m in range(n):
        cnt = slot_data[b, t, count0 + m]
        for j in range(m * k, m * k + k):
            sv = slot_data[b, t, 6 * n + j] * shares[0, m]
            if not fast:
                sv += slot_data[b, prev, 6 * n + j] * shares[5, m]
            scratch[j] = sv
            edge_acc += sv * ctx_state[b, 2 * nk + j]
        aoc_sum += cnt * ctx_state[b, 3 * nk + m]  # the AoC each arrival saw (0 in the cloud)
        # Per model, the episode's totals: arrived = served at the edge + queued + offloaded +
        # sent to the cloud.
        if not fast:
            cnt_prev = slot_data[b, prev, count0 + m]
            cap_state[b, SERVED_EDGE * n + m] += shares[5, m] * cnt_prev
            cap_state[b, OFFLOADED * n + m] += shares[6, m] * cnt_prev
        cap_state[b, ARRIVED * n + m] += cnt
        cap_state[b, SERVED_EDGE * n + m] += shares[0, m] * cnt
        if not fast:
            cap_state[b, OFFLOADED * n + m] += shares[1, m] * cnt
        cap_state[b, SENT_CLOUD * n + m] += state[b, CLOUD * n + m] * cnt
    metrics[b, AOC_SUM] += aoc_sum
    w = charge_row(b, edge_s, cold_s, cloud_s, usd, cloud_acc, n_edge, n_cloud, edge_acc, busy,
                   wait_s, sim_params, metrics)
    for c in range(4):
        costs[c, b] = w[c]
    metrics[b, WAIT_S] += wait_s
    metrics[b, GPU_BUSY_S] += busy
    metrics[b, GPU_DEMAND_S] += total
    metrics[b, QUEUED_REQ] = n_queued
    any_queued = 0.0
    for m in range(n):
        cap_state[b, QUEUE_FRAC * n + m] = shares[2, m]
        cap_state[b, QUEUED_WORK * n + m] = shares[4, m]
        if shares[2, m] != 0.0:
            any_queued = 1.0
    cap_state[b, q0 + QUEUED_ANY] = any_queued
    util = busy / capacity_s
    cap_state[b, q0 + LAST_UTIL] = util if util < 1.0 else 1.0
    cap_state[b, q0 + LAST_LOAD] = total / capacity_s
    cap_episode[b, t, CAP_EPISODE_BLOCKS * n] = cap_state[b, q0 + LAST_UTIL]
    cap_episode[b, t, CAP_EPISODE_BLOCKS * n + 1] = cap_state[b, q0 + LAST_LOAD]
    if invalid:
        charge_invalid(b, sim_params[PENALTY], metrics, costs)
    update_context(b, ctx_state, scratch, slot_data, slot_data, b, t, 6 * n, count0, ctx_params,
                   n, k)
    enter_next_slot(b, state, counters, slot_data, n)
    if any_queued != 0.0 and counters[b, SLOT] == slot_data.shape[1] - 1:
        offload_row(b, -1, True, slot_data, counters, metrics, sim_params, costs, cap_state, n, k)


@njit(cache=True)
def masks_rows(rows: np.ndarray, state: np.ndarray, counters: np.ndarray, ops_limit: int,
               n_slots: int, mask: np.ndarray) -> None:
    """Valid actions of servers ``rows`` into ``mask[b, 1:]`` (LOAD m, then EVICT m: an
    operation left in a slot of the episode, and its need within the free MB); ``mask[b, 0]``
    (SERVE) is left as it is."""
    n = state.shape[1] // STATE_BLOCKS
    for i in range(len(rows)):
        mask_row(rows[i], state, counters, ops_limit, n_slots, mask, n)


@njit(cache=True)
def mask_row(b: int, state: np.ndarray, counters: np.ndarray, ops_limit: int, n_slots: int,
             mask: np.ndarray, n: int) -> None:
    """Server b's LOAD m and EVICT m entries of ``mask[b]``: an operation left in a slot of the
    episode, and the operation's need within the free MB."""
    left = counters[b, OPS_USED] < ops_limit and counters[b, SLOT] < n_slots
    room = float(counters[b, FREE_MB]) if left else -1.0
    for j in range(2 * n):
        mask[b, 1 + j] = state[b, NEED_LOAD * n + j] <= room


@njit(cache=True)
def write_episode(b: int, slot_data: np.ndarray, columns: np.ndarray, count_task: np.ndarray
                  ) -> None:
    """Server b's episode rows of ``slot_data``: per slot the six serving ``columns[c, t, m]``
    interleaved model by model, the requests per model and task ``count_task[t, m, k]``, per
    model (column 5), and the next slot's (0 after the last). NEXT_RATE is left as it is."""
    n_slots, n = columns.shape[1], columns.shape[2]
    k = count_task.shape[2]
    cnt0 = slot_data.shape[2] - SLOT_BLOCKS * n
    for t in range(n_slots):
        for m in range(n):
            for c in range(6):
                slot_data[b, t, m * 6 + c] = columns[c, t, m]
            for j in range(k):
                slot_data[b, t, 6 * n + m * k + j] = count_task[t, m, j]
            slot_data[b, t, cnt0 + COUNT * n + m] = columns[5, t, m]
            slot_data[b, t, cnt0 + NEXT_COUNT * n + m] = (columns[5, t + 1, m] if t + 1 < n_slots
                                                          else 0.0)


# ------------------------------------------------------------------- the planner's contexts
@njit(cache=True)
def decay_all(mass: np.ndarray, served: np.ndarray, nu: float, window: np.ndarray) -> None:
    """:func:`update_context`'s decay of every row ``mass[i]`` (``[rows, N K]``), each adding
    the same ``served`` ``[N K]`` (the planner's contexts, one per load slot)."""
    n = len(window)
    k = served.shape[0] // n
    for i in range(mass.shape[0]):
        for m in range(n):
            total = 0.0
            for j in range(m * k, m * k + k):
                x = mass[i, j] * nu + served[j]
                mass[i, j] = x
                total += x
            scale = window_scale(total, window[m])
            for j in range(m * k, m * k + k):
                mass[i, j] *= scale


@njit(cache=True)
def effective_of(mass: np.ndarray, ctx_params: np.ndarray, n: int, out: np.ndarray) -> None:
    """C = S R (:func:`update_context`'s) of every row ``mass[i]`` ``[rows, N K]`` into ``out``."""
    k = mass.shape[1] // n
    rel0 = CTX_SCALARS + CTX_MODEL_BLOCKS * n
    for i in range(mass.shape[0]):
        for base in range(0, n * k, k):
            for j in range(k):
                c = 0.0
                for q in range(k):
                    c += mass[i, base + q] * ctx_params[rel0 + q * k + j]
                out[i, base + j] = c


@njit(cache=True)
def accuracy_of(c: np.ndarray, ctx_params: np.ndarray, n: int, out: np.ndarray) -> None:
    """:func:`accuracy` of every ``c[i, m K + j]`` into ``out`` (alike)."""
    k = c.shape[1] // n
    for i in range(c.shape[0]):
        for m in range(n):
            acc0 = ctx_params[CTX_SCALARS + ACC0 * n + m]
            gain = ctx_params[CTX_SCALARS + GAIN * n + m]
            acc_max = ctx_params[CTX_SCALARS + ACC_MAX * n + m]
            for j in range(m * k, m * k + k):
                out[i, j] = accuracy(c[i, j], acc0, gain, acc_max)
