"""The capacity model of the edge GPU (issue 16): batching, a fluid queue per model, offloading.

The simulator runs the fluid queue compiled (:func:`edge_cache_env.kernels.fluid_model`, once
per model and slot when ``config.capacity.enabled``: the ``-v2`` ids); :func:`fluid_slot` runs
the same function on arrays. Units: seconds, GPU-seconds (GPU-s: one second of
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

from edge_cache_env import kernels
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
    ``B0 / r <= theta <= S`` (its backlog integral is ``B0^2 / (2r)``). The formulas are the
    simulator's (:func:`edge_cache_env.kernels.fluid_model`), run on these arrays."""
    queued = np.asarray(queued, dtype=np.float64)
    batch = queued.ndim > 1
    q = np.ascontiguousarray(np.atleast_2d(queued))
    a = np.ascontiguousarray(np.broadcast_to(arrivals, queued.shape), dtype=np.float64).reshape(q.shape)
    theta = np.ascontiguousarray(np.broadcast_to(theta_s, queued.shape), dtype=np.float64).reshape(q.shape)
    out = np.empty((7, *q.shape))
    totals = np.empty(len(q))
    kernels.fluid_rows(q, a, theta, float(gpu_throughput), float(slot_s), out, totals)
    parts = [x if batch else x[0] for x in out]
    return FluidSlot(*parts, totals if batch else float(totals[0]), gpu_throughput * slot_s)
