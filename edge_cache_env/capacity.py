"""The capacity model of the edge GPU (issue 16): batching, a fluid queue per model, offloading.

Pure numpy, vectorised over models; the simulator calls it once per slot when
``config.capacity.enabled`` (the ``-v1`` ids). Units: seconds, GPU-seconds (GPU-s: one second of
the whole GPU), requests (fluid: fractions of a slot's requests are allowed).

Batching. A model's stand-alone work in slot t, ``w`` (GPU-s, ``SlotCosts.edge_compute_s``),
keeps on average ``b = w / slot_s`` requests in flight (Little's law). Continuous batching serves
it in ``w / speedup(b)`` GPU-s with

    speedup(b) = min(max(b, 1), batch_max) ** alpha        (per model kind)

so a model below one request in flight gets no speedup. Latency still charges each request its
stand-alone service time (a batched decode step costs about one unbatched step: memory-bound);
energy charges the batched GPU time (the GPU draws its power while busy).

Queue. The GPU serves ``gpu_throughput`` GPU-s per second. Per slot, each cached model m has a
demand ``D_m = q_m + a_m`` (its queue carried from the previous slot plus its arrivals, in
batched GPU-s) and receives the share ``r_m = gpu_throughput * D_m / sum(D)`` of the GPU (GPU-s
per s): work-conserving, proportional to demand, so all models would finish together. Within
the slot a model is a fluid FIFO server of rate r_m: its queue ``q_m`` is served first, the
slot's arrivals come uniformly at rate ``a_m / slot_s``. The backlog ``B(tau)`` (GPU-s) obeys
``dB/dtau = a/slot_s - r`` while positive, and the total waiting time of the requests is the
integral of the backlog (in requests) over the slot.

Offloading. A request is sent to the cloud on arrival when its expected wait, backlog / r,
exceeds ``theta_m = min(offload_wait_factor * cloud latency of a request of m, slot_s)``: the
backlog is capped at ``r * theta``, and once at the cap the excess arrivals (rate
``a/slot_s - r``) are offloaded. At a slot's start the carried queue is re-checked against the
new share (its excess over ``r * theta`` is offloaded). As ``theta <= slot_s``, a queue is
always drained in the next slot: every request is served in its arrival slot or the next one,
or offloaded. Offloaded requests pay the cloud's latency, price and accuracy (as if they had
gone to the cloud on arrival) and do not add to the model's context (the edge never saw them).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edge_cache_env.config import EnvConfig


def batch_speedup(in_flight: np.ndarray, batch_max: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """``min(max(b, 1), batch_max) ** alpha``: throughput gain of continuous batching."""
    return np.minimum(np.maximum(in_flight, 1.0), batch_max) ** alpha


def model_batch_params(config: EnvConfig) -> tuple[np.ndarray, np.ndarray]:
    """Per model ``(batch_max, alpha)`` from its kind."""
    cap = config.capacity
    bmax = np.array([float(getattr(cap, f"{m.kind}_batch_max")) for m in config.models])
    alpha = np.array([float(getattr(cap, f"{m.kind}_batch_alpha")) for m in config.models])
    return bmax, alpha


def batched_work(config: EnvConfig, edge_compute_s: np.ndarray) -> np.ndarray:
    """GPU-s a slot's stand-alone work ``[T, N]`` takes with continuous batching."""
    bmax, alpha = model_batch_params(config)
    return edge_compute_s / batch_speedup(edge_compute_s / config.slot_s, bmax, alpha)


def offload_threshold_s(config: EnvConfig, count: np.ndarray, cloud_latency_s: np.ndarray
                        ) -> np.ndarray:
    """``theta_m``: the longest expected wait a request of model m accepts at the edge.

    ``offload_wait_factor`` times the mean cloud latency of the model's requests of the episode,
    capped at one slot (0 for a model without requests)."""
    n = count.sum(axis=0)
    per_request = np.divide(cloud_latency_s.sum(axis=0), n, out=np.zeros(len(n)), where=n > 0)
    return np.minimum(config.capacity.offload_wait_factor * per_request, config.slot_s)


@dataclass
class FluidSlot:
    """One slot of every model's fluid queue (arrays ``[..., N]``, GPU-s unless stated; leading
    dimensions: a batch of servers)."""

    old_served: np.ndarray  # carried queue served this slot
    old_offloaded: np.ndarray  # carried queue offloaded at the slot's start (over the new cap)
    new_served: np.ndarray  # the slot's arrivals served this slot
    new_offloaded: np.ndarray  # the slot's arrivals offloaded on arrival
    new_queued: np.ndarray  # the slot's arrivals still queued at its end
    old_wait: np.ndarray  # integral of the carried queue's backlog over the slot (GPU-s * s)
    new_wait: np.ndarray  # integral of the arrivals' backlog over the slot (GPU-s * s)
    demand: float | np.ndarray  # total demand sum(q + a), GPU-s (per server in a batch)
    capacity: float  # GPU-s available in the slot


def fluid_slot(queued: np.ndarray, arrivals: np.ndarray, theta_s: np.ndarray,
               gpu_throughput: float, slot_s: float) -> FluidSlot:
    """Serve one slot: queue ``queued`` (carried, served first) and ``arrivals`` (uniform over
    the slot) per model on a GPU of ``gpu_throughput`` GPU-s/s shared in proportion to demand.

    Arrays ``[N]`` (one server) or ``[B, N]`` (B servers, each its own GPU: row b is what row b
    alone gives). Exact for the piecewise-linear fluid: with ``d = a/S - r`` and
    ``B0 = min(q, r theta)``, ``B(tau) = B0 + d tau`` clipped to ``[0, r theta]``; offloaded
    work is ``d`` times the time spent at the cap; the carried queue drains by
    ``B0 / r <= theta <= S`` (its backlog integral is ``B0^2 / (2r)``)."""
    demand = queued + arrivals
    capacity = gpu_throughput * slot_s
    batch = demand.ndim > 1
    total = demand.sum(axis=-1) if batch else float(demand.sum())
    idle = total <= 0.0  # nothing to serve: every array but the carried queue is zero
    if np.all(idle) or not np.isfinite(gpu_throughput):
        zeros = np.zeros_like(queued)
        return FluidSlot(queued.copy(), zeros, arrivals.copy(), zeros, zeros, zeros, zeros.copy(),
                         total, capacity)
    active = demand > 0
    if batch:
        with np.errstate(divide="ignore", invalid="ignore"):  # idle rows: replaced below
            r = np.where(active, gpu_throughput * demand / total[..., None], 1.0)
    else:
        r = np.where(active, gpu_throughput * demand / total, 1.0)  # GPU-s per s; 1.0: unused
    cap = r * theta_s
    b0 = np.minimum(queued, cap)
    lam = arrivals / slot_s
    d = lam - r
    end_free = b0 + d * slot_s  # backlog at the slot's end without the clip
    # Decreasing backlog (d <= 0): empties at tau0 = b0 / -d if that is within the slot.
    with np.errstate(divide="ignore", invalid="ignore"):
        empties = (d < 0) & (end_free <= 0)
        area_down = np.where(empties, b0 * b0 / (2.0 * -d), 0.5 * (b0 + np.maximum(end_free, 0.0)) * slot_s)
        # Increasing backlog (d > 0): reaches the cap at tau_m = (cap - b0) / d.
        tau_m = np.where(d > 0, (cap - b0) / d, np.inf)
        hits_cap = tau_m < slot_s
        area_up = np.where(hits_cap, 0.5 * (b0 + cap) * tau_m + cap * (slot_s - tau_m),
                           0.5 * (b0 + end_free) * slot_s)
    up = d > 0
    area = np.where(up, area_up, area_down)
    end = np.where(up, np.where(hits_cap, cap, end_free), np.maximum(end_free, 0.0))
    with np.errstate(invalid="ignore"):
        offloaded = np.where(up & hits_cap, d * (slot_s - tau_m), 0.0)
    # b0 > 0 implies r > 0 (b0 <= r theta); a share that underflows to 0 carries no backlog.
    old_wait = np.divide(b0 * b0, 2.0 * r, out=np.zeros_like(b0), where=b0 > 0)
    new_wait = np.maximum(area - old_wait, 0.0)
    new_served = np.maximum(arrivals - offloaded - end, 0.0)
    fl = FluidSlot(b0, queued - b0, new_served, offloaded, end, old_wait, new_wait, total, capacity)
    if batch and idle.any():  # a batch with idle servers: theirs as the early return above
        rows = np.expand_dims(idle, -1)
        for name in ("old_offloaded", "new_offloaded", "new_queued", "old_wait", "new_wait"):
            setattr(fl, name, np.where(rows, 0.0, getattr(fl, name)))
        fl.old_served = np.where(rows, queued, fl.old_served)
        fl.new_served = np.where(rows, arrivals, fl.new_served)
    return fl
