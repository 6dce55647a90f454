"""The simulator core: cache state, LOAD / EVICT / SERVE, costs and running metrics.

Pure numpy; it knows nothing of gymnasium, actions encodings or agents. Everything that does not
depend on the agent (each slot's edge compute time, cloud latency and price per model) is
computed once per episode, so serving a slot costs O(N K) whatever the request rate.
"""

from __future__ import annotations

import numpy as np

from edge_cache_env import kernels
from edge_cache_env.capacity import batched_work, fluid_slot, offload_threshold_s
from edge_cache_env.config import MB_PER_GB, EnvConfig
from edge_cache_env.context import AgeOfContext, ewma_step
from edge_cache_env.costs import TERMS, ModelCosts, SlotCosts, weigh, weight_values, zero_terms
from edge_cache_env.requests import EpisodeRequests

METRICS = (*(f"episode_cost_{k}" for k in TERMS), "episode_cost",
           "requests", "edge_hits", "cloud_requests", "loads", "evictions", "invalid_actions",
           "accuracy_sum", "aoc_sum", "latency_s", "energy_j", "cloud_usd", "switch_gb")
# Extra running metrics with the capacity model on (v1 ids); v0's info keeps its keys.
CAPACITY_METRICS = ("offloaded_requests", "queued_requests", "wait_s", "gpu_busy_s",
                    "gpu_demand_s")


def slot_columns(c: SlotCosts, cloud_accuracy: np.ndarray, out: np.ndarray | None = None
                 ) -> np.ndarray:
    """Per slot and model ``[T, N, 6]``, the columns a SERVE multiplies by its three serving
    rows (edge, loaded now, cloud): edge compute s, cold-start wait s, cloud latency s, cloud
    USD, cloud accuracy sum, count. One matrix product then gives every sum a slot needs.
    ``out``: written into it (a batch's episode rows) instead of a new array."""
    columns = serving_columns(c, cloud_accuracy)
    if out is None:
        return np.stack(columns, axis=2)
    out[...] = np.array(columns).transpose(1, 2, 0)  # one interleaving copy
    return out


def simulator_params(config: EnvConfig, mc: ModelCosts) -> np.ndarray:
    """The compiled kernels' cost constants (:func:`edge_cache_env.kernels.simulator_params`)."""
    return kernels.simulator_params(weight_values(config.costs), config.server.gpu_power_w / 1000.0,
                                    config.invalid_action_penalty, mc.mem_mb, mc.weights_gb,
                                    mc.load_cost)


def episode_rows(config: EnvConfig, batch: int) -> np.ndarray:
    """Zeroed episode rows of ``batch`` servers (``[B, T + 1, ...]``, layout of
    :mod:`edge_cache_env.kernels`) with the frequency EWMA's rate into each next slot, the same
    in every episode (0 after the last: the demand then stays, as demand_history's row T)."""
    n, t, k = config.n_models, config.n_slots, config.aoc.tasks_per_model
    data = np.zeros((batch, t + 1, 6 * n + n * k + kernels.SLOT_BLOCKS * n))
    rate0 = 6 * n + n * k + kernels.NEXT_RATE * n
    data[:, :t - 1, rate0:rate0 + n] = config.frequency_ewma
    return data


def serving_columns(c: SlotCosts, cloud_accuracy: np.ndarray) -> tuple[np.ndarray, ...]:
    """:func:`slot_columns`' six ``[T, N]`` columns, in order."""
    return (c.edge_compute_s, c.cold_wait_s, c.cloud_latency_s, c.cloud_usd,
            c.count * cloud_accuracy, c.count)


def demand_history(count: np.ndarray, frequency_rate: float) -> tuple[np.ndarray, np.ndarray]:
    """Per slot ``[..., T + 1, N]``: the slot of each model's latest request (-1: none yet) and
    the EWMA of its requests per slot, from ``count[..., T, N]`` (leading dimensions: a batch
    of episodes). Open-loop, so computed once per episode; row ``T`` (after the last slot)
    repeats the last one."""
    n_slots, n_models = count.shape[-2:]
    slots = np.arange(n_slots)[:, None]
    last = np.maximum.accumulate(np.where(count > 0, slots, -1), axis=-2)
    freq = np.empty((n_slots + 1, *count.shape[:-2], n_models))  # slot first: contiguous rows
    f = np.zeros((*count.shape[:-2], n_models))
    by_slot = np.moveaxis(count, -2, 0)
    for t in range(n_slots):
        ewma_step(f, by_slot[t], frequency_rate)
        freq[t] = f
    freq[n_slots] = f
    return np.concatenate([last, last[..., -1:, :]], axis=-2), np.moveaxis(freq, 0, -2)


class CacheSimulator:
    """One edge GPU's model cache over an episode of slots.

    Use: :meth:`reset` with an episode's requests, then any number of :meth:`load` /
    :meth:`evict` in the current slot, then :meth:`serve`, until :attr:`done`.
    Each operation returns the weighted cost terms it incurred (keys :data:`TERMS`).
    """

    def __init__(self, config: EnvConfig) -> None:
        self.config = config
        models = config.models
        self.n_models = len(models)
        self.n_slots = config.n_slots
        self.ops_limit = config.ops_per_slot  # resolved once: read on every step
        self.model_costs = mc = ModelCosts.of(config)
        self.gpu_mb = mc.gpu_mb
        self.mem_mb = mc.mem_mb
        self.load_s = mc.load_s
        # Python-scalar copies for the per-operation path (numpy scalar access is slower).
        self._mem_mb = [int(x) for x in mc.mem_mb]
        self._weights_gb = [float(x) for x in mc.weights_gb]
        self._load_cost = [float(x) for x in mc.load_cost]
        self.cloud_accuracy = mc.cloud_accuracy
        self.invalid_penalty = config.invalid_action_penalty
        self.context = AgeOfContext(config)
        # The compiled SERVE's arrays (kernels.serve_server): this server is row 0 of a batch of
        # one, in the batch simulator's layout, so both run the same code on the same data.
        self._sim_params = simulator_params(config, mc)
        self._charges = np.zeros(kernels.N_CHARGES)  # the compiled SERVE's output
        self._counters = np.zeros((1, 3), dtype=np.int64)  # its slot, for the SERVE
        self._slot_data = episode_rows(config, 1)
        self.frequency_rate = config.frequency_ewma
        self.requests: EpisodeRequests | None = None
        # State (allocated once, reset per episode).
        n = self.n_models
        self.cached = np.zeros(n, dtype=bool)
        self.uncached = np.ones(n, dtype=bool)  # kept as the complement: read on every step
        # Serving weights, one row each: cached (edge), loaded in this slot (cold start), not
        # cached (cloud). One matrix product with the slot's per-model cost columns then gives
        # every sum a slot needs.
        self._state = np.zeros((1, kernels.STATE_BLOCKS * n))
        self._views()
        self._rows[2] = 1.0
        self.loaded_at = np.full(n, -1, dtype=np.int64)
        self.used_mb = 0
        self.t = 0
        self.ops_used = 0
        # Running totals of the episode: the weighted cost terms and the raw metrics, in one
        # flat dict (the env's info starts as a copy of it).
        self.metrics = dict.fromkeys(METRICS, 0.0)
        cap = config.capacity
        self.capacity_on = cap.enabled
        self._metric_keys = METRICS + (CAPACITY_METRICS if cap.enabled else ())
        self.gpu_throughput = float(cap.gpu_throughput)
        self.queue_frac = np.zeros(n)  # share of the previous slot's arrivals still queued
        self.last_utilisation = 0.0  # busy GPU-s / capacity of the last served slot
        self.last_load = 0.0  # demand GPU-s / capacity of the last served slot
        self.queued_work_s = np.zeros(n)  # batched GPU-s queued per model

    def _views(self) -> None:
        # The serving weights, one row each: cached (edge), loaded in this slot (cold start),
        # not cached (cloud): the first blocks of the state row.
        self._rows = self._state[0, :3 * self.n_models].reshape(3, self.n_models)
        self.cached_f, self.loaded_now_f, self.cloud_f = self._rows

    def __getstate__(self) -> dict:
        # The serving rows are views of the state row; pickle would copy them apart.
        state = self.__dict__.copy()
        del state["_rows"], state["cached_f"], state["loaded_now_f"], state["cloud_f"]
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._views()

    # ------------------------------------------------------------------ episode
    def reset(self, requests: EpisodeRequests) -> None:
        """Start an episode on a realised request sequence."""
        cfg = self.config
        if requests.n_models != self.n_models or requests.n_slots != cfg.n_slots:
            raise ValueError(f"requests are for {requests.n_models} models x {requests.n_slots} "
                             f"slots, config has {self.n_models} x {cfg.n_slots}")
        if requests.n_tasks != cfg.aoc.tasks_per_model:
            raise ValueError(f"requests have {requests.n_tasks} tasks, config.aoc.tasks_per_model "
                             f"= {cfg.aoc.tasks_per_model}")
        self.requests = requests
        self._precompute_slot_costs(requests)
        self._precompute_demand()
        self.context.reset(requests.count_task)
        self.cached[:] = False
        self.uncached[:] = True
        self._rows[:2] = 0.0
        self._rows[2] = 1.0
        self.loaded_at[:] = -1
        self.used_mb = 0
        self.t = 0
        # Running totals of the episode: the weighted cost terms and the raw metrics, in one
        # flat dict (the env's info starts as a copy of it).
        self.metrics = dict.fromkeys(self._metric_keys, 0.0)
        if self.capacity_on:
            self._reset_capacity()
        self._begin_slot()

    def _reset_capacity(self) -> None:
        c = self.slot_costs
        self.work_s = batched_work(self.config, c.edge_compute_s)  # batched GPU-s [T, N]
        self.theta_s = offload_threshold_s(self.config, c.count, c.cloud_latency_s)
        # Requests per batched GPU-s of each cohort (0 where there is no work).
        self._req_per_work = np.divide(c.count, self.work_s, out=np.zeros_like(c.count),
                                       where=self.work_s > 0)
        self.queue_frac[:] = 0.0
        self.queued_work_s[:] = 0.0
        self._queued_any = False
        self._capacity_s = self.gpu_throughput * self.config.slot_s
        self.last_utilisation = self.last_load = 0.0
        n = self.n_models
        # Per model, episode totals: arrived = served at the edge + queued + offloaded + cloud.
        self.arrived = np.zeros(n)
        self.served_edge = np.zeros(n)
        self.offloaded = np.zeros(n)
        self.sent_cloud = np.zeros(n)
        self.utilisation_by_slot = np.zeros(self.n_slots)
        self.load_by_slot = np.zeros(self.n_slots)

    def queued_requests(self) -> np.ndarray:
        """Requests queued per model now (fluid): a share of the previous slot's arrivals."""
        if not self.capacity_on or self.t == 0:
            return np.zeros(self.n_models)
        return self.queue_frac * self.count_f[self.t - 1]

    def _precompute_slot_costs(self, r: EpisodeRequests) -> None:
        """Per slot and model, everything that does not depend on the agent."""
        self.slot_costs = c = SlotCosts.of(self.config, r, self.model_costs)
        self.count_f = c.count
        self._slot_columns = slot_columns(c, self.cloud_accuracy)
        kernels.write_episode(0, self._slot_data, np.stack(serving_columns(c, self.cloud_accuracy)),
                              r.count_task)
        self.energy_kj_per_s = self.config.server.gpu_power_w / 1000.0
        self._w = self.config.costs

    def _precompute_demand(self) -> None:
        """Recency and frequency of requests per slot: open-loop, so computed once per episode.
        Row ``n_slots`` (after the last slot) repeats the last one."""
        self.last_request_by_slot, self.frequency_by_slot = demand_history(self.count_f,
                                                                           self.frequency_rate)

    def _begin_slot(self) -> None:
        """Begin slot ``t``: a fresh operation budget, nothing loaded in it yet."""
        self.ops_used = 0
        self.loaded_now_f[:] = 0.0

    @property
    def done(self) -> bool:
        return self.t >= self.n_slots

    @property
    def last_request(self) -> np.ndarray:
        """Slot of each model's latest request up to now (-1: none yet)."""
        return self.last_request_by_slot[self.t]

    @property
    def frequency(self) -> np.ndarray:
        """EWMA of each model's requests per slot, up to now."""
        return self.frequency_by_slot[self.t]

    # --------------------------------------------------------------- operations
    @property
    def free_mb(self) -> int:
        return self.gpu_mb - self.used_mb

    def ops_left(self) -> bool:
        return self.ops_used < self.ops_limit and self.t < self.n_slots

    def loadable(self, out: np.ndarray | None = None) -> np.ndarray:
        """Models that LOAD would accept now (written into ``out`` if given: no allocation)."""
        out = np.empty(self.n_models, dtype=bool) if out is None else out
        if not self.ops_left():
            out[:] = False
            return out
        np.less_equal(self.mem_mb, self.free_mb, out=out)
        out &= self.uncached
        return out

    def evictable(self, out: np.ndarray | None = None) -> np.ndarray:
        """Models that EVICT would accept now (written into ``out`` if given)."""
        out = np.empty(self.n_models, dtype=bool) if out is None else out
        out[:] = self.cached if self.ops_left() else False
        return out

    def load(self, m: int) -> dict[str, float]:
        """Load model ``m`` into the GPU; charges its switching cost (GB moved, load energy)."""
        mem = self._mem_mb[m]
        if self.cached[m] or mem > self.gpu_mb - self.used_mb or not self.ops_left():
            raise ValueError(f"cannot load model {m} ({self.config.models[m].name}): cached="
                             f"{bool(self.cached[m])}, needs {mem} MB, free {self.free_mb} MB, "
                             f"ops used {self.ops_used}/{self.ops_limit}")
        self.cached[m] = True
        self.uncached[m] = False
        self.cached_f[m] = 1.0
        self.cloud_f[m] = 0.0
        self.loaded_now_f[m] = 1.0
        self.used_mb += mem
        self.loaded_at[m] = self.t
        self.ops_used += 1
        metrics = self.metrics
        metrics["loads"] += 1
        metrics["switch_gb"] += self._weights_gb[m]
        cost = self._load_cost[m]
        metrics["episode_cost_switch"] += cost
        metrics["episode_cost"] += cost
        return {"latency": 0.0, "energy": 0.0, "accuracy": 0.0, "cloud": 0.0, "switch": cost,
                "invalid": 0.0}

    def evict(self, m: int) -> dict[str, float]:
        """Evict model ``m``; its context is lost. Evictions are free."""
        if not self.cached[m] or not self.ops_left():
            raise ValueError(f"cannot evict model {m} ({self.config.models[m].name}): not cached "
                             f"or no operations left this slot")
        self.cached[m] = False
        self.uncached[m] = True
        self.cached_f[m] = 0.0
        self.cloud_f[m] = 1.0
        self.loaded_now_f[m] = 0.0
        self.used_mb -= self._mem_mb[m]
        self.loaded_at[m] = -1
        self.context.evict(m)
        self.ops_used += 1
        self.metrics["evictions"] += 1
        if self.capacity_on and self.queue_frac[m] > 0:
            return self._offload_queue(np.arange(self.n_models) == m)
        return zero_terms()

    def _offload_queue(self, which: np.ndarray) -> dict[str, float]:
        """Send the queued requests of the models ``which`` to the cloud (an evicted model's
        queue, or every queue at the episode's end). They already waited until now."""
        frac = np.where(which, self.queue_frac, 0.0)
        self.queue_frac[which] = 0.0
        self.queued_work_s[which] = 0.0
        self._queued_any = bool(self.queue_frac.any())
        prev = self.t - 1
        _, _, cloud_s, usd, cloud_acc, count = (frac @ self._slot_columns[prev]).tolist()
        self.offloaded += frac * self.count_f[prev]
        return self._charge(0.0, 0.0, cloud_s, usd, cloud_acc, 0.0, count, 0.0, 0.0,
                            extra={"offloaded_requests": count, "queued_requests": -count})

    def _charge(self, edge_s: float, cold_s: float, cloud_s: float, usd: float, cloud_acc: float,
                n_edge: float, n_cloud: float, edge_acc: float, busy_s: float,
                wait_s: float = 0.0, extra: dict[str, float] | None = None) -> dict[str, float]:
        """Weighted terms of a set of resolved requests; adds them to the running metrics."""
        w = self._w
        acc_sum = edge_acc + cloud_acc
        n_req = n_edge + n_cloud
        latency_s = edge_s + cold_s + cloud_s + wait_s
        energy_kj = self.energy_kj_per_s * busy_s
        w_lat, w_energy, w_acc, w_cloud = weigh(w, latency_s, energy_kj, n_req, acc_sum, usd)
        m = self.metrics
        m["episode_cost_latency"] += w_lat
        m["episode_cost_energy"] += w_energy
        m["episode_cost_accuracy"] += w_acc
        m["episode_cost_cloud"] += w_cloud
        m["episode_cost"] += w_lat + w_energy + w_acc + w_cloud
        m["requests"] += n_req
        m["edge_hits"] += n_edge
        m["cloud_requests"] += n_cloud
        m["accuracy_sum"] += acc_sum
        m["latency_s"] += latency_s
        m["energy_j"] += energy_kj * 1000.0
        m["cloud_usd"] += usd
        if wait_s:  # only the capacity model queues (v0 has no wait_s metric)
            m["wait_s"] += wait_s
        if extra:
            for k, v in extra.items():
                m[k] += v
        return {"latency": w_lat, "energy": w_energy, "accuracy": w_acc, "cloud": w_cloud,
                "switch": 0.0, "invalid": 0.0}

    def _charge_invalid(self, terms: dict[str, float]) -> None:
        """The penalty of a masked-out operation (served as SERVE): a term and a metric."""
        penalty = self.invalid_penalty
        m = self.metrics
        m["invalid_actions"] += 1
        m["episode_cost_invalid"] += penalty
        m["episode_cost"] += penalty
        terms["invalid"] = penalty

    def serve(self, invalid: bool = False) -> dict[str, float]:
        """Serve slot ``t``: cached models at the edge, the rest in the cloud; next slot begins.

        ``invalid``: the agent asked for an operation the mask forbade; the slot is served as
        asked for SERVE and ``config.invalid_action_penalty`` is charged as the ``invalid`` term.
        """
        if self.t >= self.n_slots:
            raise RuntimeError("episode is over: call reset()")
        if self.capacity_on:
            return self._serve_capacity(invalid)
        ctx, out = self.context, self._charges
        self._counters[0, kernels.SLOT] = self.t
        kernels.serve_server(self._state, self._slot_data, ctx.state, self._counters, ctx.params,
                             self._sim_params, ctx.scratch, out)
        charges = out.tolist()
        m = self.metrics
        for key, value in zip(kernels.CHARGES, charges):
            m[key] += value
        terms = {"latency": charges[1], "energy": charges[2], "accuracy": charges[3],
                 "cloud": charges[4], "switch": 0.0, "invalid": 0.0}
        if invalid:
            self._charge_invalid(terms)
        self.t += 1
        self._begin_slot()
        return terms

    def _serve_capacity(self, invalid: bool) -> dict[str, float]:
        """SERVE with the capacity model (:mod:`edge_cache_env.capacity`): the queue carried
        from slot t-1 and slot t's arrivals share the GPU; what waits too long is offloaded."""
        t, ctx, cached = self.t, self.context, self.cached_f
        cols = self._slot_columns
        work_t = self.work_s[t]
        if not self._queued_any:
            demand = float(cached @ work_t)
            if demand <= self._capacity_s:
                return self._serve_within_capacity(invalid, demand)
        prev = t - 1 if t > 0 else 0
        old_work = self.queued_work_s  # zero for uncached models (eviction offloads it)
        fl = fluid_slot(old_work, cached * work_t, self.theta_s, self.gpu_throughput,
                        self.config.slot_s)
        # Work shares -> request shares of each cohort (fluid: work is proportional to requests).
        inv_new = np.divide(1.0, work_t, out=np.zeros(self.n_models), where=work_t > 0)
        # A cohort without work (zero service time) is served at once.
        e_new = np.where(work_t > 0, fl.new_served * inv_new, cached)
        o_new = fl.new_offloaded * inv_new
        q_new = fl.new_queued * inv_new
        if t > 0 and old_work.any():
            inv_old = np.divide(self.queue_frac, old_work, out=np.zeros(self.n_models),
                                where=old_work > 0)
            e_old = fl.old_served * inv_old
            o_old = fl.old_offloaded * inv_old
            (old_edge_s, _, old_cloud_s, old_usd, old_cacc, old_n), \
                (_, _, off_cloud_s, off_usd, off_cacc, off_n) = (np.stack([e_old, o_old])
                                                                 @ cols[prev]).tolist()
            old_wait = float(fl.old_wait @ self._req_per_work[prev])
            served = (self.requests.count_task[t] * e_new[:, None]
                      + self.requests.count_task[prev] * e_old[:, None])
            busy = float(e_new @ work_t + e_old @ self.work_s[prev])
            cnt_prev = self.count_f[prev]
            self.served_edge += e_old * cnt_prev
            self.offloaded += o_old * cnt_prev
        else:
            old_edge_s = old_cloud_s = old_usd = old_cacc = old_n = 0.0
            off_cloud_s = off_usd = off_cacc = off_n = old_wait = 0.0
            served = self.requests.count_task[t] * e_new[:, None]
            busy = float(e_new @ work_t)
        to_cloud = self.cloud_f + o_new
        (edge_s, _, _, _, _, n_edge), (_, cold_s, _, _, _, _), \
            (_, _, cloud_s, usd, cloud_acc, n_cloud) = (np.stack([e_new, self.loaded_now_f, to_cloud])
                                                        @ cols[t]).tolist()
        wait_s = float(fl.new_wait @ self._req_per_work[t]) + old_wait
        edge_acc = float(np.vdot(served, ctx.accuracy))
        cnt = self.count_f[t]
        n_off = float(o_new @ cnt) + off_n
        n_queued = float(q_new @ cnt)
        self.arrived += cnt
        self.served_edge += e_new * cnt
        self.offloaded += o_new * cnt
        self.sent_cloud += self.cloud_f * cnt
        self.metrics["aoc_sum"] += float(cnt @ ctx.aoc)  # AoC each arrival saw (0 in the cloud)
        terms = self._charge(edge_s + old_edge_s, cold_s, cloud_s + old_cloud_s + off_cloud_s,
                             usd + old_usd + off_usd, cloud_acc + old_cacc + off_cacc,
                             n_edge + old_n, n_cloud + off_n, edge_acc, busy, wait_s,
                             extra={"offloaded_requests": n_off, "gpu_busy_s": busy,
                                    "gpu_demand_s": fl.demand})
        self.metrics["queued_requests"] = n_queued
        self.queue_frac[:] = q_new
        self.queued_work_s[:] = fl.new_queued
        self._queued_any = bool(q_new.any())
        self.last_utilisation = self.utilisation_by_slot[t] = min(busy / fl.capacity, 1.0)
        self.last_load = self.load_by_slot[t] = fl.demand / fl.capacity
        return self._end_capacity_slot(terms, served, invalid)

    def _serve_within_capacity(self, invalid: bool, demand: float) -> dict[str, float]:
        """No queue and the slot's demand fits: every cached request is served at once (the
        fluid model gives no wait and no offloading), as in v0 but with batched GPU time."""
        t, ctx = self.t, self.context
        (edge_s, _, _, _, _, n_edge), (_, cold_s, _, _, _, _), \
            (_, _, cloud_s, usd, cloud_acc, n_cloud) = (self._rows @ self._slot_columns[t]).tolist()
        served = self.requests.count_task[t] * self.cached_f[:, None]
        edge_acc = float(np.vdot(served, ctx.accuracy))
        cnt = self.count_f[t]
        self.arrived += cnt
        self.served_edge += self.cached_f * cnt
        self.sent_cloud += self.cloud_f * cnt
        m = self.metrics
        m["aoc_sum"] += float(cnt @ ctx.aoc)
        m["gpu_busy_s"] += demand
        m["gpu_demand_s"] += demand
        m["queued_requests"] = 0.0
        terms = self._charge(edge_s, cold_s, cloud_s, usd, cloud_acc, n_edge, n_cloud, edge_acc,
                             demand)
        self.last_utilisation = self.utilisation_by_slot[t] = demand / self._capacity_s
        self.last_load = self.load_by_slot[t] = self.last_utilisation
        return self._end_capacity_slot(terms, served, invalid)

    def _end_capacity_slot(self, terms: dict[str, float], served: np.ndarray, invalid: bool
                           ) -> dict[str, float]:
        t, ctx = self.t, self.context
        if invalid:
            self._charge_invalid(terms)
        ctx.update(served, t)
        self.t += 1
        self._begin_slot()
        if self.t == self.n_slots and self._queued_any:  # the episode ends: the queue goes to the cloud
            for k, v in self._offload_queue(np.ones(self.n_models, dtype=bool)).items():
                terms[k] += v
        return terms

    # ------------------------------------------------------------------ views
    @property
    def used_gb(self) -> float:
        return self.used_mb / MB_PER_GB

    def slots_since_loaded(self) -> np.ndarray:
        """Slots since each cached model was loaded, plus one (0 for uncached models)."""
        since = self.t + 1 - self.loaded_at
        since *= self.cached
        return since

    def slot_counts(self) -> np.ndarray:
        """Requests per model in every slot, plus a row of zeros for 'after the last slot'."""
        return np.vstack([self.count_f, np.zeros((1, self.n_models))])

    def current_counts(self) -> np.ndarray:
        """Requests per model in the current slot (zeros once the episode is over)."""
        if self.done:
            return np.zeros(self.n_models)
        return self.count_f[self.t]


# The running metrics a LOAD / EVICT adds to, then those a charge adds to (episode_cost is
# both the last of the first and the first of the second): adjacent columns of
# BatchSimulator._metrics, so each adds with one slice.
_OP_METRICS = kernels.OP_METRICS
_CHARGE_METRICS = kernels.CHARGES[:-1]  # then aoc_sum: the compiled SERVE's charges in order
_OPS = slice(0, len(_OP_METRICS))
assert TERMS[:4] == ("latency", "energy", "accuracy", "cloud")  # BatchSimulator._serve's rows
_CHARGES = slice(kernels.FIRST_CHARGE, kernels.FIRST_CHARGE + len(_CHARGE_METRICS))


def _dot_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Row-wise dot products of ``x[B, K]`` and ``y[B, K]`` as the single simulator's ``x @ y``
    computes each (one BLAS dot per row on contiguous copies: bit-identical sums)."""
    b = len(x)
    return np.matmul(np.ascontiguousarray(x).reshape(b, 1, -1),
                     np.ascontiguousarray(y).reshape(b, -1, 1))[:, 0, 0]


class BatchSimulator:
    """B independent edge servers of one config, stepped together with batched numpy.

    The same model as :class:`CacheSimulator`, through the same functions:
    :func:`slot_columns`, :func:`~edge_cache_env.costs.weigh`, the batch rows of
    :class:`~edge_cache_env.context.AgeOfContext` and, with the capacity model on,
    :func:`~edge_cache_env.capacity.fluid_slot` on ``[B, N]`` rows, :func:`batched_work` and
    :func:`offload_threshold_s`. State arrays carry a leading batch dimension; a step applies at
    most one operation per server: LOAD, EVICT or SERVE (:meth:`step`). Each server's episode
    arrays come from its own :class:`~edge_cache_env.requests.EpisodeRequests`
    (:meth:`reset_rows`). The open-loop recursions the single simulator runs over the whole
    episode at reset (:func:`demand_history`, the task mix) advance here one slot per SERVE,
    with the same EWMA step (:func:`~edge_cache_env.context.ewma_step`): an autoreset then costs
    no loop over the episode's slots, which matters when some server resets at every step.

    Speed: a step's cost is the number of small numpy calls, not the data. So a SERVE gathers
    each kind of per-server data once (the slot's episode row, the state row, the context row)
    and writes each back once; LOAD / EVICT write a table row through precomputed flat cells;
    counters, running metrics and the masks are dense over the batch, by table or in one
    comparison. :attr:`changed` and :attr:`entered` tell the observation what a step changed.
    """

    def __init__(self, config: EnvConfig, batch: int) -> None:
        self.config = config
        self.batch = b = batch
        self.n_models = n = config.n_models
        self.n_slots = config.n_slots
        self.ops_limit = config.ops_per_slot
        self.model_costs = mc = ModelCosts.of(config)
        self.gpu_mb = mc.gpu_mb
        self.mem_mb = mc.mem_mb
        self.load_s = mc.load_s
        self.cloud_accuracy = mc.cloud_accuracy
        self.invalid_penalty = config.invalid_action_penalty
        self.energy_kj_per_s = config.server.gpu_power_w / 1000.0
        self._w = config.costs
        self.frequency_rate = config.frequency_ewma
        self.context = AgeOfContext(config, batch=b)
        self._sim_params = simulator_params(config, mc)
        self._costs_out: np.ndarray | None = None
        # Per server, side by side in one row (a SERVE reads and writes it in one go): blocks of
        # N values, as :mod:`edge_cache_env.kernels` names them (EDGE ... SINCE).
        self._state = np.zeros((b, kernels.STATE_BLOCKS * n))
        self._rows = self._state[:, :3 * n].reshape(b, 3, n)  # serving weights: edge, now, cloud
        self._rows[:, 2] = 1.0
        self.frequency = self._block(kernels.FREQUENCY)
        self.recency = self._block(kernels.RECENCY)  # float: slot counts are exact
        self.since_loaded = self._block(kernels.SINCE)
        self._block(kernels.NEED_LOAD)[:] = self.mem_mb
        self._block(kernels.NEED_EVICT)[:] = np.inf
        self._fresh_state = self._state[0].copy()
        # Per server: free MB, operations used, slot: side by side, so the
        # observation's globals (their ratios to gpu_mb, ops_limit, n_slots) are one division.
        self.counters = np.zeros((b, 3), dtype=np.int64)
        self.counters[:, kernels.FREE_MB] = self.gpu_mb
        self.free_mb, self.ops_used, self.t = self.counters.T
        self._fresh_counters = self.counters[0].copy()
        self.counter_limits = np.array([self.gpu_mb, self.ops_limit, self.n_slots], dtype=np.float64)
        cap = config.capacity
        self.capacity_on = cap.enabled
        keys = METRICS + (CAPACITY_METRICS if cap.enabled else ())
        # Running metrics: one row per server, one column per key (``metrics``: a dict of column
        # views in the single env's key order); the columns of _OP_METRICS then _CHARGE_METRICS
        # come first and adjacent (the kernels add by row index).
        columns = list(dict.fromkeys(kernels.METRIC_COLUMNS + keys))
        assert columns[_OPS] == list(_OP_METRICS) and columns[_CHARGES] == list(_CHARGE_METRICS)
        assert columns[_CHARGES.stop] == "aoc_sum"
        # Server-major (a server's metrics in one or two cache lines: a kernel's row updates).
        self._metrics = np.zeros((b, len(columns)))
        self.metrics = {k: self._metrics[:, columns.index(k)] for k in keys}
        self._models = np.arange(n)
        self.no_op = 2 * n  # step's kind of a row without operation (EVICT m = m, LOAD m = N + m)
        self._no_invalid = np.zeros(b, dtype=bool)
        self._models_rows = np.arange(b)
        # Episode arrays, filled row by row at reset: per server and slot (row T: 'after the
        # last slot', zeros), side by side in one row (a SERVE gathers its slot's in one go):
        # slot_columns, requests per model and task, requests per model, the next slot's
        # requests per model, and the frequency EWMA's rate into the next slot (0 after the
        # last: the demand then stays, as demand_history's row T).
        t, k = config.n_slots, config.aoc.tasks_per_model
        self._slot_data = data = episode_rows(config, b)
        self._slot_columns = data[..., :6 * n].reshape(b, t + 1, n, 6)
        self.count_task = data[..., 6 * n:6 * n + n * k].reshape(b, t + 1, n, k)
        count0 = 6 * n + n * k + kernels.COUNT * n
        self.count_f = data[..., count0:count0 + n]
        if cap.enabled:
            self.gpu_throughput = float(cap.gpu_throughput)
            self._capacity_s = self.gpu_throughput * config.slot_s
            self.work_s = np.zeros((b, t, n))  # batched GPU-s per slot and model
            self.theta_s = np.zeros((b, n))
            self._req_per_work = np.zeros((b, t, n))
            self.queue_frac = np.zeros((b, n))
            self.queued_work_s = np.zeros((b, n))
            self.queued_any = np.zeros(b, dtype=bool)
            self.last_utilisation = np.zeros(b)
            self.last_load = np.zeros(b)

    def _block(self, block: int) -> np.ndarray:
        """``[B, N]`` view of block ``block`` of the state rows (:mod:`edge_cache_env.kernels`)."""
        n = self.n_models
        return self._state[:, block * n:(block + 1) * n]

    @property
    def cached_f(self) -> np.ndarray:
        return self._rows[:, 0]

    @property
    def cached(self) -> np.ndarray:
        """``[B, N]`` bool: the models in each server's GPU."""
        return self._rows[:, 0] > 0.0

    @property
    def cloud_f(self) -> np.ndarray:
        return self._rows[:, 2]

    @property
    def used_mb(self) -> np.ndarray:
        return self.gpu_mb - self.free_mb

    @property
    def done(self) -> np.ndarray:
        return self.t >= self.n_slots

    def reset_rows(self, rows: np.ndarray, requests: list[EpisodeRequests]) -> None:
        """Start an episode in each server ``rows[i]`` on ``requests[i]``."""
        cfg = self.config
        for r, req in zip(rows.tolist(), requests, strict=True):
            if req.n_models != self.n_models or req.n_slots != cfg.n_slots:
                raise ValueError(f"requests are for {req.n_models} models x {req.n_slots} slots, "
                                 f"config has {self.n_models} x {cfg.n_slots}")
            c = SlotCosts.of(cfg, req, self.model_costs)
            kernels.write_episode(r, self._slot_data, np.stack(serving_columns(c, self.cloud_accuracy)),
                                  req.count_task)
            if self.capacity_on:
                work = self.work_s[r] = batched_work(cfg, c.edge_compute_s)
                self.theta_s[r] = offload_threshold_s(cfg, c.count, c.cloud_latency_s)
                self._req_per_work[r] = np.divide(c.count, work, out=np.zeros_like(c.count),
                                                  where=work > 0)
        # Nothing cached, no demand yet; then slot 0's requests join the demand.
        state = np.tile(self._fresh_state, (len(rows), 1))
        self._advance_demand(state, self.count_f[rows, 0], self.frequency_rate)
        self._state[rows] = state
        self.context.reset_rows(rows)
        self.counters[rows] = self._fresh_counters
        self._metrics[rows] = 0.0
        if self.capacity_on:
            self.queue_frac[rows] = 0.0
            self.queued_work_s[rows] = 0.0
            self.queued_any[rows] = False
            self.last_utilisation[rows] = 0.0
            self.last_load[rows] = 0.0

    def masks(self, out: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
        """Valid actions of every server (or of ``rows``) into ``out[B, 2N + 1]`` (SERVE, LOAD
        m, EVICT m; the SERVE column is left as it is: True). LOAD m: m uncached and its MB
        free; EVICT m: m cached; both: an operation left in a slot of the episode."""
        kernels.masks_rows(self._models_rows if rows is None else rows, self._state,
                           self.counters, self.ops_limit, self.n_slots, out)
        return out

    def step(self, kind: np.ndarray, serve: np.ndarray, invalid: np.ndarray, costs: np.ndarray
             ) -> np.ndarray:
        """At most one operation per server: ``kind[B]`` is EVICT model m (``m``), LOAD model m
        (``N + m``) or none (:attr:`no_op` = 2N); ``serve[B]`` which servers serve (none with
        an operation); ``invalid`` servers (a subset of ``serve``) are charged the penalty. The
        weighted cost terms of the servers that act are written into ``costs``
        ``[len(TERMS), B]`` (the terms' rows in TERMS order; the caller zeroes them first).
        Operations must be valid (the caller checks the mask). Returns the servers that served
        (they entered their next slot)."""
        ctx = self.context
        capacity = self.capacity_on
        kernels.step_rows(kind, self._no_invalid if capacity else serve,
                          self._no_invalid if capacity else invalid, self._state,
                          self._slot_data, ctx.state, self.counters, self._metrics, ctx.params,
                          self._sim_params, costs)
        r = serve.nonzero()[0]  # 1-D: nonzero() skips flatnonzero's ravel
        if capacity:
            evicted = np.flatnonzero(kind < self.n_models)
            if len(evicted):  # an evicted model's queue goes to the cloud
                ev_m = kind[evicted]
                queued = self.queue_frac[evicted, ev_m] > 0
                if queued.any():
                    ev, ev_m = evicted[queued], ev_m[queued]
                    self._offload_rows(ev, self._models == ev_m[:, None], costs, add=False)
            if len(r):
                self._serve_capacity(r, invalid, costs)
        return r

    # ------------------------------------------------------------------ charges
    def _charge_rows(self, r: np.ndarray, edge_s: np.ndarray, cold_s: np.ndarray,
                     cloud_s: np.ndarray, usd: np.ndarray, cloud_acc: np.ndarray,
                     n_edge: np.ndarray, n_cloud: np.ndarray, edge_acc: np.ndarray,
                     busy_s: np.ndarray, wait_s: np.ndarray | None = None,
                     aoc_sum: np.ndarray | None = None
                     ) -> np.ndarray:
        """:meth:`CacheSimulator._charge` of servers ``r`` (one value per row): adds to the
        running metrics (and ``aoc_sum`` to its metric if given), returns the weighted latency,
        energy, accuracy and cloud terms (rows ``[4, b]``, TERMS order)."""
        acc_sum = edge_acc + cloud_acc
        n_req = n_edge + n_cloud
        latency_s = edge_s + cold_s + cloud_s
        if wait_s is not None:
            latency_s += wait_s
        energy_kj = self.energy_kj_per_s * busy_s
        w_lat, w_energy, w_acc, w_cloud = weigh(self._w, latency_s, energy_kj, n_req, acc_sum, usd)
        # In _CHARGE_METRICS order (then aoc_sum).
        charges = [w_lat + w_energy + w_acc + w_cloud, w_lat, w_energy, w_acc, w_cloud, n_req,
                   n_edge, n_cloud, acc_sum, latency_s, energy_kj * 1000.0, usd]
        if aoc_sum is not None:
            charges.append(aoc_sum)
        charges = np.array(charges)
        self._metrics[r, _CHARGES.start:_CHARGES.start + len(charges)] += charges.T
        if wait_s is not None:
            self.metrics["wait_s"][r] += wait_s
        return charges[1:5]  # the weighted terms: latency, energy, accuracy, cloud rows

    def _charge_invalid(self, invalid: np.ndarray, costs: np.ndarray) -> None:
        """The penalty of the ``invalid`` servers' masked-out actions (as the compiled step)."""
        bad = np.flatnonzero(invalid)
        m = self.metrics
        m["invalid_actions"][bad] += 1
        m["episode_cost_invalid"][bad] += self.invalid_penalty
        m["episode_cost"][bad] += self.invalid_penalty
        costs[TERMS.index("invalid"), bad] = self.invalid_penalty

    def _end_slot(self, r: np.ndarray, served: np.ndarray, count_task: np.ndarray,
                  count: np.ndarray) -> None:
        """After SERVE in servers ``r`` (requests ``count_task`` and ``count`` per model, of
        which ``served`` at the edge): context update, next slot (as the compiled SERVE)."""
        self.context.update_rows(r, served, count_task, count)
        kernels.enter_next_slot_rows(r, self._state, self.counters, self._slot_data)

    def _advance_demand(self, state: np.ndarray, count: np.ndarray, rate: float | np.ndarray
                        ) -> None:
        """Servers of state rows ``state[b, ...]`` enter their first slot (requests
        ``count[b, N]``): it joins the recency and the frequency EWMA (:func:`demand_history`'s
        step, as the compiled SERVE takes it)."""
        n = self.n_models
        ewma_step(state[:, kernels.FREQUENCY * n:(kernels.FREQUENCY + 1) * n], count, rate)
        recency = state[:, kernels.RECENCY * n:(kernels.RECENCY + 1) * n]
        recency += 1.0
        np.copyto(recency, 0.0, where=count > 0)

    # ------------------------------------------------------------ capacity model
    def _serve_capacity(self, r: np.ndarray, invalid: np.ndarray, costs: np.ndarray) -> None:
        """SERVE in servers ``r`` with the capacity model: :meth:`CacheSimulator._serve_capacity`
        row by row in one go. Servers without a queue whose demand fits take its fast path
        (``_serve_within_capacity``): every cached request served at once; the others go
        through :func:`fluid_slot` on their rows. The fast path is the fluid path with the
        fluid's shares replaced by exact ones (served = cached, nothing offloaded or queued),
        so both are written as one computation that adds exact zeros where a term is absent;
        when every server takes the fast path, those zero terms are left out (x + 0.0 = x)."""
        b, n = len(r), self.n_models
        ctx = self.context
        t = self.t[r]
        weights = self._rows[r]  # [b, 3, N]: cached, loaded now, cloud
        cached = weights[:, 0]
        work_t = self.work_s[r, t]
        demand = _dot_rows(cached, work_t)  # cached @ work_t, as the fast path's test
        fast = ~self.queued_any[r] & (demand <= self._capacity_s)
        count_task = self.count_task[r, t]
        cnt = self.count_f[r, t]
        m = self.metrics
        if fast.all():  # the common case: the zero terms of the fluid path left out (exact)
            new = np.matmul(weights, self._slot_columns[r, t])
            edge_s, n_edge = new[:, 0, 0], new[:, 0, 5]
            cloud_s, usd, cloud_acc, n_cloud = new[:, 2, 2], new[:, 2, 3], new[:, 2, 4], new[:, 2, 5]
            served = count_task * cached[:, :, None]
            busy = total = demand
            wait_s = None
            q_new = new_queued = np.zeros((b, n))
            n_queued = np.zeros(b)
        else:
            prev = np.maximum(t - 1, 0)
            e_new = cached.copy()  # request shares of the slot's arrivals served at the edge
            o_new = np.zeros((b, n))  # ... offloaded
            q_new = np.zeros((b, n))  # ... still queued
            new_wait = np.zeros((b, n))
            new_queued = np.zeros((b, n))
            e_old = np.zeros((b, n))  # request shares of the carried queue served / offloaded
            o_old = np.zeros((b, n))
            old_wait = np.zeros((b, n))
            total = demand.copy()  # the fluid's demand (queue + arrivals)
            s = np.flatnonzero(~fast)
            rs = r[s]
            wt = work_t[s]
            old_work = self.queued_work_s[rs]
            fl = fluid_slot(old_work, cached[s] * wt, self.theta_s[rs], self.gpu_throughput,
                            self.config.slot_s)
            # Work shares -> request shares (fluid: work is proportional to requests).
            inv_new = np.divide(1.0, wt, out=np.zeros_like(wt), where=wt > 0)
            # A cohort without work (zero service time) is served at once.
            e_new[s] = np.where(wt > 0, fl.new_served * inv_new, cached[s])
            o_new[s] = fl.new_offloaded * inv_new
            q_new[s] = fl.new_queued * inv_new
            new_wait[s] = fl.new_wait
            new_queued[s] = fl.new_queued
            # No carried queue (or slot 0): exact zeros, as the single simulator's 0.0 terms.
            inv_old = np.divide(self.queue_frac[rs], old_work, out=np.zeros_like(old_work),
                                where=old_work > 0)
            e_old[s] = fl.old_served * inv_old
            o_old[s] = fl.old_offloaded * inv_old
            old_wait[s] = fl.old_wait
            total[s] = fl.demand
            old = np.matmul(np.stack([e_old, o_old], axis=1), self._slot_columns[r, prev])
            new = np.matmul(np.stack([e_new, weights[:, 1], weights[:, 2] + o_new], axis=1),
                            self._slot_columns[r, t])
            edge_s, n_edge = new[:, 0, 0] + old[:, 0, 0], new[:, 0, 5] + old[:, 0, 5]
            cloud_s = new[:, 2, 2] + old[:, 0, 2] + old[:, 1, 2]
            usd = new[:, 2, 3] + old[:, 0, 3] + old[:, 1, 3]
            cloud_acc = new[:, 2, 4] + old[:, 0, 4] + old[:, 1, 4]
            n_cloud = new[:, 2, 5] + old[:, 1, 5]
            wait_s = _dot_rows(new_wait, self._req_per_work[r, t])
            wait_s += _dot_rows(old_wait, self._req_per_work[r, prev])
            served = count_task * e_new[:, :, None]
            served += self.count_task[r, prev] * e_old[:, :, None]
            busy = _dot_rows(e_new, work_t) + _dot_rows(e_old, self.work_s[r, prev])
            m["offloaded_requests"][r] += _dot_rows(o_new, cnt) + old[:, 1, 5]
            n_queued = _dot_rows(q_new, cnt)
        edge_acc = _dot_rows(served.reshape(b, -1), ctx.accuracy[r].reshape(b, -1))
        m["aoc_sum"][r] += _dot_rows(cnt, ctx.aoc[r])  # AoC each arrival saw (0 in the cloud)
        costs[:4, r] = self._charge_rows(
            r, edge_s, new[:, 1, 1], cloud_s, usd, cloud_acc, n_edge, n_cloud, edge_acc, busy,
            wait_s)
        m["gpu_busy_s"][r] += busy
        m["gpu_demand_s"][r] += total
        m["queued_requests"][r] = n_queued
        self.queue_frac[r] = q_new
        self.queued_work_s[r] = new_queued
        self.queued_any[r] = q_new.any(axis=1)
        self.last_utilisation[r] = np.minimum(busy / self._capacity_s, 1.0)
        self.last_load[r] = total / self._capacity_s
        if invalid.any():
            self._charge_invalid(invalid, costs)
        self._end_slot(r, served, count_task, cnt)
        ending = self.queued_any[r] & (self.t[r] == self.n_slots)
        if ending.any():  # the episode ends: the queue goes to the cloud
            e = r[ending]
            self._offload_rows(e, np.ones((len(e), n), dtype=bool), costs, add=True)

    def _offload_rows(self, r: np.ndarray, which: np.ndarray, costs: np.ndarray, add: bool
                      ) -> None:
        """:meth:`CacheSimulator._offload_queue` in servers ``r``: the queues of models
        ``which[b, N]`` go to the cloud (they already waited until now). Their terms are
        written into ``costs``' first four rows (``add``: added to the SERVE's of the step)."""
        queue = self.queue_frac[r]
        frac = np.where(which, queue, 0.0)
        queue[which] = 0.0
        self.queue_frac[r] = queue
        work = self.queued_work_s[r]
        work[which] = 0.0
        self.queued_work_s[r] = work
        self.queued_any[r] = queue.any(axis=1)
        prev = self.t[r] - 1
        sums = np.matmul(frac[:, None, :], self._slot_columns[r, prev])[:, 0]  # [b, 6]
        count = sums[:, 5]
        zeros = np.zeros(len(r))
        w = self._charge_rows(r, zeros, zeros, sums[:, 2], sums[:, 3], sums[:, 4], zeros, count,
                              zeros, zeros, zeros)
        self.metrics["offloaded_requests"][r] += count
        self.metrics["queued_requests"][r] += -count
        if add:
            costs[:4, r] += w
        else:
            costs[:4, r] = w

    def slots_since_loaded(self) -> np.ndarray:
        """``[B, N]``: slots since each cached model was loaded, plus one (0 if uncached)."""
        return self.since_loaded.astype(np.int64)
