"""The cost model's inputs, in one place: the cost terms, each model's memory and load cost,
and every per-slot quantity that does not depend on the agent.

The simulator charges with these arrays; the lower bound (``agents.bounds``) reads the same
arrays, so the two can never disagree on a formula. Units are in the names; the weights that
turn them into cost units are :class:`~edge_cache_env.config.CostWeights`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from edge_cache_env import kernels
from edge_cache_env.config import MB_PER_GB, CostWeights, EnvConfig
from edge_cache_env.requests import EpisodeRequests

#: The cost terms of a step, in the order the env's info and the tables report them.
TERMS = ("latency", "energy", "accuracy", "cloud", "switch", "invalid")


def zero_terms() -> dict[str, float]:
    return dict.fromkeys(TERMS, 0.0)


@dataclass(frozen=True)
class ModelCosts:
    """Per-model constants of a scenario (arrays of length N)."""

    gpu_mb: int  # GPU memory, integer MB (exact sums: the mask and the observation agree)
    mem_mb: np.ndarray  # footprint: weights plus context window, integer MB
    weights_gb: np.ndarray
    load_s: np.ndarray  # time to move the weights onto the GPU
    load_cost: np.ndarray  # weighted switching cost of one LOAD: GB moved plus load energy
    cloud_accuracy: np.ndarray  # accuracy of a cloud answer (no edge context)
    # Per request and token (SlotCosts' inputs, kept here: an episode's reset then builds no
    # array from the catalog)
    edge_s_per_request: np.ndarray
    inv_prefill_tok_s: np.ndarray  # 1 / prefill tokens per second (0 if prefill is free)
    decode_s_per_tok: np.ndarray
    response_mb: np.ndarray
    cloud_usd_per_1k_tok: np.ndarray
    cloud_usd_per_request: np.ndarray

    @classmethod
    def of(cls, config: EnvConfig) -> ModelCosts:
        models, server, w = config.models, config.server, config.costs
        weights_gb = np.array([m.weights_gb for m in models])
        load_s = weights_gb / server.load_gbps
        load_energy_kj = server.load_power_w * load_s / 1000.0
        cloud_acc = config.cloud.accuracy
        return cls(
            gpu_mb=int(round(server.gpu_gb * MB_PER_GB)),
            mem_mb=np.array([int(round(m.mem_gb * MB_PER_GB)) for m in models], dtype=np.int64),
            weights_gb=weights_gb,
            load_s=load_s,
            load_cost=w.switch_per_gb * weights_gb + w.energy_per_kj * load_energy_kj,
            cloud_accuracy=np.array([m.acc0 if cloud_acc is None else cloud_acc for m in models]),
            edge_s_per_request=np.array([m.edge_s_per_request for m in models]),
            inv_prefill_tok_s=np.array([1.0 / m.prefill_tok_s if m.prefill_tok_s > 0 else 0.0
                                        for m in models]),
            decode_s_per_tok=np.array([m.decode_s_per_tok for m in models]),
            response_mb=np.array([m.response_mb for m in models]),
            cloud_usd_per_1k_tok=np.array([m.cloud_usd_per_1k_tok for m in models]),
            cloud_usd_per_request=np.array([m.cloud_usd_per_request for m in models]),
        )


@dataclass(frozen=True)
class SlotCosts:
    """Per slot and model (arrays ``[T, N]``), everything that does not depend on the agent."""

    count: np.ndarray  # requests (float)
    edge_compute_s: np.ndarray  # stand-alone edge service time of the slot's requests
    cold_wait_s: np.ndarray  # extra wait if the model was loaded in this very slot
    cloud_latency_s: np.ndarray  # end-to-end latency had the requests gone to the cloud
    cloud_usd: np.ndarray  # cloud price of the slot's requests

    @classmethod
    def of(cls, config: EnvConfig, requests: EpisodeRequests, models: ModelCosts) -> SlotCosts:
        cloud, m = config.cloud, models
        r = requests
        count = r.count.astype(np.float64)
        edge_compute_s = (count * m.edge_s_per_request + r.input_sum * m.inv_prefill_tok_s
                          + r.output_sum * m.decode_s_per_tok)
        bytes_up = r.input_sum * cloud.bytes_per_token
        bytes_down = r.output_sum * cloud.bytes_per_token + count * m.response_mb * 1e6
        transfer_s = (bytes_up * 8 / (cloud.uplink_mbps * 1e6)
                      + bytes_down * 8 / (cloud.downlink_mbps * 1e6))
        cloud_latency_s = (count * (cloud.rtt_s + cloud.queue_s) + transfer_s
                           + edge_compute_s / cloud.speedup)
        cloud_usd = ((r.input_sum + r.output_sum) / 1000.0 * m.cloud_usd_per_1k_tok
                     + count * m.cloud_usd_per_request)
        return cls(count=count, edge_compute_s=edge_compute_s, cold_wait_s=count * m.load_s,
                   cloud_latency_s=cloud_latency_s, cloud_usd=cloud_usd)


def weigh(w: CostWeights, latency_s: Any, energy_kj: Any, n_requests: Any, accuracy_sum: Any,
          usd: Any) -> tuple[Any, Any, Any, Any]:
    """The weighted latency, energy, accuracy and cloud terms of a set of requests (floats, or
    arrays of a batch of servers): :func:`edge_cache_env.kernels.weigh` with the weights ``w``,
    the one formula of the env, the vector env and the compiled SERVE."""
    return kernels.weigh(*weight_values(w), latency_s, energy_kj, n_requests, accuracy_sum, usd)


def weight_values(w: CostWeights) -> tuple[float, float, float, float]:
    """The weights :func:`weigh` applies, in its order: per s, per kJ, per miss, per USD."""
    return (float(w.latency_per_s), float(w.energy_per_kj), float(w.accuracy_per_miss),
            float(w.cloud_per_usd))


@dataclass(frozen=True)
class RequestCosts:
    """Expected weighted cost of one request per model (arrays of length N), accuracy apart.

    At the workload's mean token lengths (log-normal: ``median * exp(sigma^2 / 2)``), with the
    same formulas as :class:`SlotCosts` (one request per model in one slot). Agents that weigh
    edge against cloud (``agents.cost_benefit``) read these; accuracy is priced separately
    because it depends on the model's context.
    """

    edge: np.ndarray  # latency + energy of serving at the edge (no cold start)
    cloud: np.ndarray  # latency + price of the cloud
    cold_wait: np.ndarray  # extra latency cost of a request served in its model's load slot
    miss: float  # cost of one unit of (1 - accuracy)

    @classmethod
    def of(cls, config: EnvConfig, models: ModelCosts | None = None) -> RequestCosts:
        models = ModelCosts.of(config) if models is None else models
        wl, w, n = config.workload, config.costs, config.n_models
        mean_in = wl.input_tokens_median * np.exp(wl.input_tokens_sigma ** 2 / 2)
        mean_out = wl.output_tokens_median * np.exp(wl.output_tokens_sigma ** 2 / 2)
        one = EpisodeRequests(slot=np.zeros(n, dtype=np.int64), model=np.arange(n),
                              task=np.zeros(n, dtype=np.int64),
                              input_tokens=np.full(n, mean_in), output_tokens=np.full(n, mean_out),
                              n_slots=1, n_models=n, n_tasks=1)
        s = SlotCosts.of(config, one, models)
        energy_per_s = w.energy_per_kj * config.server.gpu_power_w / 1000.0
        return cls(edge=(w.latency_per_s + energy_per_s) * s.edge_compute_s[0],
                   cloud=w.latency_per_s * s.cloud_latency_s[0] + w.cloud_per_usd * s.cloud_usd[0],
                   cold_wait=w.latency_per_s * s.cold_wait_s[0], miss=w.accuracy_per_miss)
