"""The simulator core: cache state, LOAD / EVICT / SERVE, costs and running metrics.

It knows nothing of gymnasium, action encodings or agents. :class:`BatchSimulator` steps B edge
servers with one compiled kernel per step (:mod:`edge_cache_env.kernels`, the capacity model
included); :class:`CacheSimulator`, the single env's, is its B = 1 case. Everything that does
not depend on the agent (each slot's edge compute time, cloud latency and price per model) is
computed once per episode, so serving a slot costs O(N K) whatever the request rate.
"""

from __future__ import annotations

import operator

import numpy as np

from edge_cache_env import kernels
from edge_cache_env.capacity import batched_work, offload_threshold_s
from edge_cache_env.config import MB_PER_GB, EnvConfig
from edge_cache_env.context import AgeOfContext
from edge_cache_env.costs import TERMS, ModelCosts, SlotCosts, weight_values
from edge_cache_env.kernels import CAPACITY_METRICS
from edge_cache_env.requests import EpisodeRequests

METRICS = (*(f"episode_cost_{k}" for k in TERMS), "episode_cost",
           "requests", "edge_hits", "cloud_requests", "loads", "evictions", "invalid_actions",
           "accuracy_sum", "aoc_sum", "latency_s", "energy_j", "cloud_usd", "switch_gb")
# With the capacity model on (v2 ids), CAPACITY_METRICS follow; v0's info keeps its keys.


def simulator_params(config: EnvConfig, mc: ModelCosts) -> np.ndarray:
    """The compiled kernels' cost constants (:func:`edge_cache_env.kernels.simulator_params`)."""
    return kernels.simulator_params(weight_values(config.costs), config.server.gpu_power_w / 1000.0,
                                    config.invalid_action_penalty,
                                    float(config.capacity.gpu_throughput), config.slot_s,
                                    config.capacity.legacy_v1_charge, mc.mem_mb, mc.weights_gb, mc.load_cost)


def episode_rows(config: EnvConfig, batch: int) -> np.ndarray:
    """Zeroed episode rows of ``batch`` servers (``[B, T + 1, ...]``, layout of
    :mod:`edge_cache_env.kernels`) with the frequency EWMA's rate into each next slot, the same
    in every episode (0 after the last slot: the demand then stays as it was)."""
    n, t, k = config.n_models, config.n_slots, config.aoc.tasks_per_model
    data = np.zeros((batch, t + 1, 6 * n + n * k + kernels.SLOT_BLOCKS * n))
    rate0 = 6 * n + n * k + kernels.NEXT_RATE * n
    data[:, :t - 1, rate0:rate0 + n] = config.frequency_ewma
    return data


def serving_columns(c: SlotCosts, cloud_accuracy: np.ndarray) -> tuple[np.ndarray, ...]:
    """Per slot and model ``[T, N]``, the six columns a SERVE multiplies by its three serving
    rows (edge, loaded now, cloud): edge compute s, cold-start wait s, cloud latency s, cloud
    USD, cloud accuracy sum, count (:func:`edge_cache_env.kernels.write_episode` interleaves them
    into the episode rows)."""
    return (c.edge_compute_s, c.cold_wait_s, c.cloud_latency_s, c.cloud_usd,
            c.count * cloud_accuracy, c.count)


class CacheSimulator:
    """One edge GPU's model cache over an episode of slots: the :class:`BatchSimulator`'s B = 1
    case.

    Use: :meth:`reset` with an episode's requests, then any number of :meth:`load` /
    :meth:`evict` in the current slot, then :meth:`serve`, until :attr:`done`.
    Each operation returns the weighted cost terms it incurred (keys :data:`TERMS`).

    The state is row 0 of a batch of one (:attr:`batch`), stepped by the same code as every
    sub-env of the vector env. This class adds what a single env and its agents read: the
    episode's requests and per-slot costs, each model's load slot, and the state as one
    server's arrays and Python numbers.
    """

    def __init__(self, config: EnvConfig) -> None:
        self.config = config
        self.context = AgeOfContext(config)  # one server's views of row 0 of its state
        self.batch = BatchSimulator(config, 1, context=self.context)
        b = self.batch
        self.n_models = n = config.n_models
        self.n_slots = config.n_slots
        self.ops_limit = b.ops_limit
        self.model_costs = mc = b.model_costs
        self.gpu_mb = mc.gpu_mb
        self.mem_mb = mc.mem_mb
        self.load_s = mc.load_s
        self.cloud_accuracy = mc.cloud_accuracy
        self.capacity_on = b.capacity_on
        self.gpu_throughput = float(config.capacity.gpu_throughput)
        self._mem_mb = [int(x) for x in mc.mem_mb]  # Python ints: the per-operation checks
        self.requests: EpisodeRequests | None = None
        self.loaded_at = np.full(n, -1, dtype=np.int64)
        # One step of the batch: the operation (the last step's, as BatchSimulator.step takes
        # it: what the observation reads), SERVE and penalty flags, the cost terms.
        self.last_kind = np.full(1, b.no_op, dtype=np.int64)
        self._serve = np.zeros(1, dtype=bool)
        self._invalid = np.zeros(1, dtype=bool)
        self._costs = np.zeros((len(TERMS), 1))
        self._row0 = np.zeros(1, dtype=np.int64)
        # The valid actions now (SERVE, LOAD m, EVICT m), kept current by every operation.
        self.mask = np.zeros(2 * n + 1, dtype=bool)
        self.mask[0] = True
        self._metric_keys = tuple(b.metrics)
        self._metric_values = operator.itemgetter(*(b.metric_columns.index(k)
                                                    for k in self._metric_keys))
        self._views()
        self._read_counters()

    def _views(self) -> None:
        b = self.batch
        self.cached_f = b._rows[0, 0]  # 1.0 for a model in the GPU (the state's EDGE block)
        self._metrics_row = b._metrics[0]
        # The compiled step's arguments: BatchSimulator.step's call.
        self._step_args = (self.last_kind, self._serve, self._invalid, b._state, b._slot_data,
                           b.context.state, b.counters, b._metrics, b.context.params,
                           b._sim_params, self._costs, self.mask.reshape(1, -1), self.ops_limit,
                           self.n_slots, b._cap_state, b._cap_episode)
        if self.capacity_on:
            self.queue_frac = b.queue_frac[0]  # share of the previous slot's arrivals queued
            self.queued_work_s = b.queued_work_s[0]  # batched GPU-s queued per model
            # Per model, episode totals: arrived = served at the edge + queued + offloaded +
            # cloud; per slot, the GPU's utilisation and offered load.
            self.arrived, self.served_edge = b.arrived[0], b.served_edge[0]
            self.offloaded, self.sent_cloud = b.offloaded[0], b.sent_cloud[0]
            self.utilisation_by_slot, self.load_by_slot = b.utilisation_by_slot[0], b.load_by_slot[0]

    _VIEWS = ("cached_f", "_metrics_row", "_step_args",
              "queue_frac", "queued_work_s",
              "arrived", "served_edge", "offloaded", "sent_cloud", "utilisation_by_slot",
              "load_by_slot")

    def __getstate__(self) -> dict:
        # Views of the batch's arrays: pickle would copy them apart.
        return {k: v for k, v in self.__dict__.items() if k not in self._VIEWS}

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
        # Per slot and model, everything that does not depend on the agent.
        self.slot_costs = c = SlotCosts.of(cfg, requests, self.model_costs)
        self.count_f = c.count
        self.batch.reset_rows(self._row0, [requests], [c])  # the context's row too
        self.context.effective.fill(0.0)  # no C before the first SERVE
        self.loaded_at[:] = -1
        self._read_counters()
        self.batch.masks(self.mask.reshape(1, -1), self._row0)

    def _read_counters(self) -> None:
        """The batch row's counters as Python ints (read on every step): free MB, operations
        used in the current slot, the current slot."""
        self.free_mb, self.ops_used, self.t = self.batch.counters[0].tolist()

    @property
    def cached(self) -> np.ndarray:
        """``[N]`` bool: the models in the GPU."""
        return self.cached_f > 0.0

    @property
    def used_mb(self) -> int:
        return self.gpu_mb - self.free_mb

    @property
    def metrics(self) -> dict[str, float]:
        """Running totals of the episode: the weighted cost terms and the raw metrics (the
        env's info starts as a copy)."""
        return dict(zip(self._metric_keys, self._metric_values(self._metrics_row.tolist())))

    @property
    def last_utilisation(self) -> float:
        """Busy GPU-s / capacity of the last served slot (capacity model)."""
        return float(self.batch.last_utilisation[0])

    @property
    def last_load(self) -> float:
        """Demand GPU-s / capacity of the last served slot (capacity model)."""
        return float(self.batch.last_load[0])

    def queued_requests(self) -> np.ndarray:
        """Requests queued per model now (fluid): a share of the previous slot's arrivals."""
        t = self.t
        if not self.capacity_on or t == 0:
            return np.zeros(self.n_models)
        return self.queue_frac * self.count_f[t - 1]

    @property
    def done(self) -> bool:
        return self.t >= self.n_slots

    # --------------------------------------------------------------- operations
    def ops_left(self) -> bool:
        return self.ops_used < self.ops_limit and self.t < self.n_slots

    def loadable(self, out: np.ndarray | None = None) -> np.ndarray:
        """Models that LOAD would accept now (written into ``out`` if given)."""
        n = self.n_models
        if out is None:
            return self.mask[1:n + 1].copy()
        out[:] = self.mask[1:n + 1]
        return out

    def evictable(self, out: np.ndarray | None = None) -> np.ndarray:
        """Models that EVICT would accept now (written into ``out`` if given)."""
        n = self.n_models
        if out is None:
            return self.mask[n + 1:].copy()
        out[:] = self.mask[n + 1:]
        return out

    def load(self, m: int) -> dict[str, float]:
        """Load model ``m`` into the GPU; charges its switching cost (GB moved, load energy)."""
        mem = self._mem_mb[m]
        cached = self.cached_f[m] > 0.0
        if cached or mem > self.free_mb or not self.ops_left():
            raise ValueError(f"cannot load model {m} ({self.config.models[m].name}): cached="
                             f"{bool(cached)}, needs {mem} MB, free {self.free_mb} MB, "
                             f"ops used {self.ops_used}/{self.ops_limit}")
        self.loaded_at[m] = self.t
        return self._step(self.n_models + m)

    def evict(self, m: int) -> dict[str, float]:
        """Evict model ``m``; its context is lost. Evictions are free (with the capacity model,
        its queue goes to the cloud)."""
        if not self.cached_f[m] > 0.0 or not self.ops_left():
            raise ValueError(f"cannot evict model {m} ({self.config.models[m].name}): not cached "
                             f"or no operations left this slot")
        self.loaded_at[m] = -1
        return self._step(m)

    def serve(self, invalid: bool = False) -> dict[str, float]:
        """Serve slot ``t``: cached models at the edge, the rest in the cloud; next slot begins.

        ``invalid``: the agent asked for an operation the mask forbade; the slot is served as
        asked for SERVE and ``config.invalid_action_penalty`` is charged as the ``invalid`` term.
        """
        if self.t >= self.n_slots:
            raise RuntimeError("episode is over: call reset()")
        self._serve[0] = True
        self._invalid[0] = invalid
        try:
            return self._step(self.batch.no_op)
        finally:
            self._serve[0] = self._invalid[0] = False

    def _step(self, kind: int) -> dict[str, float]:
        """One step of the batch of one; its cost terms."""
        self.last_kind[0] = kind
        costs = self._costs
        costs.fill(0.0)
        kernels.step_rows(*self._step_args)  # the batch's step (BatchSimulator.step)
        self._read_counters()
        return dict(zip(TERMS, costs[:, 0].tolist()))

    # ------------------------------------------------------------------ views
    @property
    def used_gb(self) -> float:
        return self.used_mb / MB_PER_GB

    def current_counts(self) -> np.ndarray:
        """Requests per model in the current slot (zeros once the episode is over)."""
        if self.done:
            return np.zeros(self.n_models)
        return self.count_f[self.t]


class BatchSimulator:
    """B independent edge servers of one config, stepped together; the single simulator is its
    B = 1 case (:class:`CacheSimulator`).

    State arrays carry a leading batch dimension; a step applies at most one operation per
    server: LOAD, EVICT or SERVE (:meth:`step`), compiled (:func:`edge_cache_env.kernels.step_rows`,
    the capacity model's fluid queue included). Each server's episode arrays come from its own
    :class:`~edge_cache_env.requests.EpisodeRequests` (:meth:`reset_rows`). The open-loop
    recursions (the request frequency and recency, the task mix) advance one slot per SERVE:
    an autoreset then costs no loop over the episode's slots.

    ``context``: the :class:`~edge_cache_env.context.AgeOfContext` to step (its ``state`` has B
    rows), for a caller that reads it in its own shape (the single simulator).
    """

    def __init__(self, config: EnvConfig, batch: int, context: AgeOfContext | None = None
                 ) -> None:
        self.config = config
        self.batch = b = batch
        self.n_models = n = config.n_models
        self.n_slots = t = config.n_slots
        self.ops_limit = config.ops_per_slot
        self.model_costs = mc = ModelCosts.of(config)
        self.gpu_mb = mc.gpu_mb
        self.mem_mb = mc.mem_mb
        self.load_s = mc.load_s
        self.cloud_accuracy = mc.cloud_accuracy
        self.frequency_rate = config.frequency_ewma
        self.context = AgeOfContext(config, batch=b) if context is None else context
        if self.context.state.shape[0] != b:
            raise ValueError(f"context has {self.context.state.shape[0]} rows, batch is {b}")
        self._sim_params = simulator_params(config, mc)
        # Per server, side by side in one row (a SERVE reads and writes it in one go): blocks of
        # N values, as :mod:`edge_cache_env.kernels` names them (EDGE ... SINCE).
        self._state = np.zeros((b, kernels.STATE_BLOCKS * n))
        self._state[:, kernels.CLOUD * n:(kernels.CLOUD + 1) * n] = 1.0
        self._state[:, kernels.NEED_LOAD * n:(kernels.NEED_LOAD + 1) * n] = self.mem_mb
        self._state[:, kernels.NEED_EVICT * n:(kernels.NEED_EVICT + 1) * n] = np.inf
        self._fresh_state = self._state[0].copy()
        # Per server: free MB, operations used, slot: side by side, so the
        # observation's globals (their ratios to gpu_mb, ops_limit, n_slots) are one division.
        self.counters = np.zeros((b, 3), dtype=np.int64)
        self.counters[:, kernels.FREE_MB] = self.gpu_mb
        self._fresh_counters = self.counters[0].copy()
        self.counter_limits = np.array([self.gpu_mb, self.ops_limit, self.n_slots], dtype=np.float64)
        cap = config.capacity
        self.capacity_on = cap.enabled
        self._metric_keys = METRICS + (CAPACITY_METRICS if cap.enabled else ())
        # Running metrics: one row per server, one column per key (``metrics``: a dict of column
        # views in the single env's key order); kernels.METRIC_COLUMNS first (the kernels add by
        # column index).
        self.metric_columns = list(dict.fromkeys(kernels.METRIC_COLUMNS + self._metric_keys))
        # Server-major (a server's metrics in one or two cache lines: a kernel's row updates).
        self._metrics = np.zeros((b, len(self.metric_columns)))
        self.no_op = 2 * n  # step's kind of a row without operation (EVICT m = m, LOAD m = N + m)
        self._no_mask = np.zeros((0, 2 * n + 1), dtype=bool)  # step_rows: no masks wanted
        self._models_rows = np.arange(b)
        # Episode arrays, filled row by row at reset: per server and slot (row T: 'after the
        # last slot', zeros), the layout of edge_cache_env.kernels.
        self._slot_data = episode_rows(config, b)
        # The capacity model's state and episode data (kernels' layout; no rows without it).
        rows = b if cap.enabled else 0
        self.gpu_throughput = float(cap.gpu_throughput)
        self._cap_state = np.zeros((rows, kernels.CAP_BLOCKS * n + 3))
        self._cap_episode = np.zeros((rows, t, kernels.CAP_EPISODE_BLOCKS * n + 2))
        self._views()

    _VIEWS = ("_rows", "frequency", "recency", "free_mb", "ops_used", "t", "metrics", "count_f",
              "queue_frac", "queued_work_s",
              "theta_s", "arrived", "served_edge", "offloaded", "sent_cloud", "last_utilisation",
              "last_load", "work_s", "_req_per_work", "utilisation_by_slot", "load_by_slot")

    def _views(self) -> None:
        """The named views of the state, counters, metrics and episode arrays."""
        b, n = self.batch, self.n_models
        k = self.config.aoc.tasks_per_model
        self._rows = self._state[:, :3 * n].reshape(b, 3, n)  # serving weights: edge, now, cloud
        self.frequency = self._block(kernels.FREQUENCY)
        self.recency = self._block(kernels.RECENCY)  # float: slot counts are exact
        self.free_mb, self.ops_used, self.t = self.counters.T
        cols = self.metric_columns
        self.metrics = {key: self._metrics[:, cols.index(key)] for key in self._metric_keys}
        count0 = 6 * n + n * k + kernels.COUNT * n
        self.count_f = self._slot_data[..., count0:count0 + n]  # requests per slot and model
        if self.capacity_on:
            cs, ce = self._cap_state, self._cap_episode
            block = lambda a, i: a[..., i * n:(i + 1) * n]  # noqa: E731
            self.queue_frac = block(cs, kernels.QUEUE_FRAC)  # share of last slot's arrivals queued
            self.queued_work_s = block(cs, kernels.QUEUED_WORK)  # their batched GPU-s
            self.theta_s = block(cs, kernels.THETA)
            # Per model, the episode's totals: arrived = served at the edge + queued +
            # offloaded + sent to the cloud.
            self.arrived = block(cs, kernels.ARRIVED)
            self.served_edge = block(cs, kernels.SERVED_EDGE)
            self.offloaded = block(cs, kernels.OFFLOADED)
            self.sent_cloud = block(cs, kernels.SENT_CLOUD)
            q0 = kernels.CAP_BLOCKS * n
            self.last_utilisation = cs[:, q0 + kernels.LAST_UTIL]  # busy / capacity, last slot
            self.last_load = cs[:, q0 + kernels.LAST_LOAD]  # demand / capacity, last slot
            self.work_s = block(ce, kernels.WORK)  # batched GPU-s per slot and model
            self._req_per_work = block(ce, kernels.REQ_PER_WORK)
            e0 = kernels.CAP_EPISODE_BLOCKS * n
            self.utilisation_by_slot = ce[..., e0]
            self.load_by_slot = ce[..., e0 + 1]

    def __getstate__(self) -> dict:
        # Views of a few arrays: pickle would copy them apart.
        return {key: v for key, v in self.__dict__.items() if key not in self._VIEWS}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._views()

    def _block(self, block: int) -> np.ndarray:
        """``[B, N]`` view of block ``block`` of the state rows (:mod:`edge_cache_env.kernels`)."""
        n = self.n_models
        return self._state[:, block * n:(block + 1) * n]

    @property
    def cached(self) -> np.ndarray:
        """``[B, N]`` bool: the models in each server's GPU."""
        return self._rows[:, 0] > 0.0

    @property
    def used_mb(self) -> np.ndarray:
        return self.gpu_mb - self.free_mb

    @property
    def done(self) -> np.ndarray:
        return self.t >= self.n_slots

    def reset_rows(self, rows: np.ndarray, requests: list[EpisodeRequests],
                   slot_costs: list[SlotCosts] | None = None) -> None:
        """Start an episode in each server ``rows[i]`` on ``requests[i]`` (``slot_costs[i]``:
        its :class:`SlotCosts` if the caller has them)."""
        cfg = self.config
        for i, (r, req) in enumerate(zip(rows.tolist(), requests, strict=True)):
            if req.n_models != self.n_models or req.n_slots != cfg.n_slots:
                raise ValueError(f"requests are for {req.n_models} models x {req.n_slots} slots, "
                                 f"config has {self.n_models} x {cfg.n_slots}")
            c = SlotCosts.of(cfg, req, self.model_costs) if slot_costs is None else slot_costs[i]
            kernels.write_episode(r, self._slot_data, np.stack(serving_columns(c, self.cloud_accuracy)),
                                  req.count_task)
            if self.capacity_on:
                work = self.work_s[r] = batched_work(cfg, c.edge_compute_s)
                self.theta_s[r] = offload_threshold_s(cfg, c.count, c.cloud_latency_s)
                # Requests per batched GPU-s of each cohort (0 where there is no work).
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
            theta = self.theta_s[rows].copy()  # set above; the rest of the state starts empty
            self._cap_state[rows] = 0.0
            self.theta_s[rows] = theta
            self.utilisation_by_slot[rows] = 0.0
            self.load_by_slot[rows] = 0.0

    def masks(self, out: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
        """Valid actions of every server (or of ``rows``) into ``out[B, 2N + 1]`` (SERVE, LOAD
        m, EVICT m; the SERVE column is left as it is: True). LOAD m: m uncached and its MB
        free; EVICT m: m cached; both: an operation left in a slot of the episode."""
        kernels.masks_rows(self._models_rows if rows is None else rows, self._state,
                           self.counters, self.ops_limit, self.n_slots, out)
        return out

    def step(self, kind: np.ndarray, serve: np.ndarray, invalid: np.ndarray, costs: np.ndarray,
             mask: np.ndarray | None = None) -> None:
        """At most one operation per server: ``kind[B]`` is EVICT model m (``m``), LOAD model m
        (``N + m``) or none (:attr:`no_op` = 2N); ``serve[B]`` which servers serve (none with
        an operation); ``invalid`` servers (a subset of ``serve``) are charged the penalty. The
        weighted cost terms of the servers that act are written into ``costs``
        ``[len(TERMS), B]`` (the terms' rows in TERMS order; the caller zeroes them first).
        Operations must be valid (the caller checks the mask). ``mask``: every server's valid
        actions after the step are written into it (:meth:`masks`)."""
        ctx = self.context
        kernels.step_rows(kind, serve, invalid, self._state, self._slot_data, ctx.state,
                          self.counters, self._metrics, ctx.params, self._sim_params, costs,
                          self._no_mask if mask is None else mask, self.ops_limit, self.n_slots,
                          self._cap_state, self._cap_episode)

    def _advance_demand(self, state: np.ndarray, count: np.ndarray, rate: float | np.ndarray
                        ) -> None:
        """Servers of state rows ``state[b, ...]`` enter their first slot (requests
        ``count[b, N]``): it joins the recency and the frequency EWMA (as
        :func:`edge_cache_env.kernels.enter_next_slot` joins each next slot's)."""
        n = self.n_models
        frequency = state[:, kernels.FREQUENCY * n:(kernels.FREQUENCY + 1) * n]
        frequency[:] = kernels.ewma(frequency, count, rate)
        recency = state[:, kernels.RECENCY * n:(kernels.RECENCY + 1) * n]
        recency += 1.0
        np.copyto(recency, 0.0, where=count > 0)

