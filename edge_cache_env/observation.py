"""The flat observation: its layout, its squashing, and how to read it back.

Layout: ``len(MODEL_FEATURES) x N`` per-model values (feature-major: the N values of
``cached`` first, then the N of ``footprint``, ...), then ``len(GLOBAL_FEATURES)`` global
values. Feature-major keeps each feature contiguous, so a slot's update is a few block copies.
Read it with :func:`split_observation`, which returns per-model rows whatever the layout.
Every feature is squashed monotonically into [0, 1] (``x / (x + scale)`` for unbounded
counts), so heuristics that rank models by a feature can rank by its observed value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit

from edge_cache_env import kernels
from edge_cache_env.config import EnvConfig
from edge_cache_env.simulator import BatchSimulator

MODEL_FEATURES = (
    "cached",  # 1 if in GPU memory
    "footprint",  # mem_gb / gpu_gb
    "requests",  # requests this slot, squashed
    "recency",  # slots since last request, squashed (0 = requested this slot)
    "frequency",  # EWMA of requests per slot, squashed
    "aoc",  # AoC / window examples
    "age",  # slots since loaded + 1, squashed (0 = not cached)
    "load_time",  # load_s / (load_s + slot_s)
)
GLOBAL_FEATURES = ("free_memory", "ops_used", "progress")
# Position of each feature in its group (per-model rows of split_observation, and the globals).
MODEL_FEATURE = {name: i for i, name in enumerate(MODEL_FEATURES)}
GLOBAL_FEATURE = {name: i for i, name in enumerate(GLOBAL_FEATURES)}

_CACHED, _AOC, _AGE = MODEL_FEATURE["cached"], MODEL_FEATURE["aoc"], MODEL_FEATURE["age"]
_REQUESTS, _RECENCY, _FREQUENCY = (MODEL_FEATURE[f] for f in ("requests", "recency", "frequency"))
# The globals are written as one tuple in GLOBAL_FEATURES order (free memory, ops, progress).
assert GLOBAL_FEATURES == ("free_memory", "ops_used", "progress")

# Half-saturation points of the squashing x / (x + scale).
REQUESTS_SCALE = 10.0
RECENCY_SCALE_SLOTS = 30.0
FREQUENCY_SCALE = 5.0
AGE_SCALE_SLOTS = 30.0
_FRESH_AGE = 1.0 / (1.0 + AGE_SCALE_SLOTS)


# With the capacity model on (v2 ids), appended after the v0 block: N values of each extra
# per-model feature (feature-major), then the extra globals.
CAPACITY_MODEL_FEATURES = (
    "queue",  # batched GPU-s queued for the model, squashed against a tenth of the slot's capacity
)
CAPACITY_GLOBAL_FEATURES = (
    "gpu_utilisation",  # busy GPU-s / capacity of the last served slot, in [0, 1]
    "gpu_load",  # offered load (demand / capacity) of the last served slot, squashed x / (x + 1)
)
QUEUE_SCALE_SLOTS = 0.1  # half-saturation of the queue feature: 10% of a slot's GPU capacity
LOAD_SCALE = 1.0


def observation_size(n_models: int, capacity: bool = False) -> int:
    size = n_models * len(MODEL_FEATURES) + len(GLOBAL_FEATURES)
    if capacity:
        size += n_models * len(CAPACITY_MODEL_FEATURES) + len(CAPACITY_GLOBAL_FEATURES)
    return size


@dataclass(frozen=True)
class ObservationLayout:
    """Where every feature sits in a flat observation, derived from the config (not the size).

    v0: ``[MODEL_FEATURES x N (feature-major)] [GLOBAL_FEATURES]``; with the capacity model on,
    ``[CAPACITY_MODEL_FEATURES x N] [CAPACITY_GLOBAL_FEATURES]`` follow. :meth:`split` returns
    per-model rows ``[..., N, F]`` with ``model_features`` in order (the v0 ones first, so
    :data:`MODEL_FEATURE` indices hold) and the globals ``[..., G]`` likewise.
    """

    n_models: int
    capacity: bool = False

    @classmethod
    def of(cls, config: EnvConfig) -> ObservationLayout:
        return cls(config.n_models, bool(config.capacity.enabled))

    @classmethod
    def from_size(cls, size: int) -> ObservationLayout:
        """Fallback for agents that were not attached to an env: the v0 layout of this size."""
        return cls(n_models_of(size))

    @property
    def model_features(self) -> tuple[str, ...]:
        return MODEL_FEATURES + (CAPACITY_MODEL_FEATURES if self.capacity else ())

    @property
    def global_features(self) -> tuple[str, ...]:
        return GLOBAL_FEATURES + (CAPACITY_GLOBAL_FEATURES if self.capacity else ())

    @property
    def size(self) -> int:
        return observation_size(self.n_models, self.capacity)

    @property
    def v0_size(self) -> int:
        return observation_size(self.n_models)

    def split(self, obs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(per_model[..., N, F], globals[..., G])`` of a (batched) observation."""
        obs = np.asarray(obs)
        if obs.shape[-1] != self.size:
            raise ValueError(f"observation of size {obs.shape[-1]} does not match the layout of "
                             f"{self.n_models} models (capacity={self.capacity}): size {self.size}")
        pm, g = split_observation(obs[..., :self.v0_size], self.n_models)
        if not self.capacity:
            return pm, g
        n, k = self.n_models, len(CAPACITY_MODEL_FEATURES)
        extra = obs[..., self.v0_size:self.v0_size + n * k]
        extra = np.swapaxes(extra.reshape(*obs.shape[:-1], k, n), -1, -2)
        return (np.concatenate([pm, extra], axis=-1),
                np.concatenate([g, obs[..., self.v0_size + n * k:]], axis=-1))

    def model_index(self, feature: str) -> int:
        """Column of ``feature`` in :meth:`split`'s per-model rows."""
        return self.model_features.index(feature)

    def global_index(self, feature: str) -> int:
        return self.global_features.index(feature)


def squash(x: np.ndarray, scale: float | np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``x / (x + scale)``, computed in x's precision (into ``out`` if given, cast to its
    dtype)."""
    if out is None:
        return x / (x + scale)
    return np.divide(x, x + scale, out=out, casting="same_kind")


def split_observation(obs: np.ndarray, n_models: int) -> tuple[np.ndarray, np.ndarray]:
    """``(per_model[..., N, F], globals[..., G])`` views of a (batched) observation."""
    obs = np.asarray(obs)
    k = n_models * len(MODEL_FEATURES)
    by_feature = obs[..., :k].reshape(*obs.shape[:-1], len(MODEL_FEATURES), n_models)
    return np.swapaxes(by_feature, -1, -2), obs[..., k:]


def n_models_of(obs_size: int) -> int:
    """Number of models of an observation of this size."""
    n, rest = divmod(obs_size - len(GLOBAL_FEATURES), len(MODEL_FEATURES))
    if rest or n < 1:
        raise ValueError(f"observation size {obs_size} does not match any catalog size")
    return n


class BatchObservation:
    """The observations of a :class:`~edge_cache_env.simulator.BatchSimulator`, ``[B, D]``
    float32 (the single env's is the batch of one, its row 0). Kept up to date by events: after
    each step, :meth:`observe` rewrites what the step changed (:func:`observe_rows`)."""

    def __init__(self, sim: BatchSimulator) -> None:
        cfg = sim.config
        self.sim = sim
        self.layout = ObservationLayout.of(cfg)
        b, n = sim.batch, sim.n_models
        self.buffer = np.zeros((b, self.layout.size), dtype=np.float32)
        # The constant features, once; the kernel writes the rest (observe_rows).
        features = self.buffer[:, :n * len(MODEL_FEATURES)].reshape(b, len(MODEL_FEATURES), n)
        features[:, MODEL_FEATURE["footprint"]] = sim.mem_mb / sim.gpu_mb
        features[:, MODEL_FEATURE["load_time"]] = sim.load_s / (sim.load_s + cfg.slot_s)
        self._inv_window = 1.0 / np.array([m.window_examples for m in cfg.models], dtype=np.float64)
        # Half-saturation of the queue feature (capacity model), GPU-s.
        self._queue_scale_s = sim.gpu_throughput * cfg.slot_s * QUEUE_SCALE_SLOTS
        self._all_rows = np.ones(b, dtype=bool)
        self._no_ops = np.full(b, sim.no_op)

    def full(self) -> np.ndarray:
        """Every row's observation recomputed from the simulator (the buffer itself)."""
        return self.observe(self._no_ops, self._all_rows)

    def observe(self, kind: np.ndarray, entered: np.ndarray) -> np.ndarray:
        """After a step of the simulator (``kind[b]``: the operation of server b, as
        ``BatchSimulator.step`` takes it; ``entered[b]``: server b is in a new slot, after
        SERVE or reset): the rows' changed features and every row's globals, the capacity
        model's features included (:func:`observe_rows`). Returns the buffer (copy it before
        handing it out)."""
        sim = self.sim
        observe_rows(kind, entered, sim.n_models, self.buffer, sim._state, sim.counters,
                     sim.counter_limits, sim.count_f, sim.context.aoc_rows, self._inv_window,
                     sim._cap_state, self._queue_scale_s, self.layout.v0_size)
        return self.buffer


@njit(cache=True)
def squash_value(x: float, scale: float) -> float:
    """:func:`squash` of one value (float64, as the array form computes it)."""
    return x / (x + scale)


@njit(cache=True)
def observe_rows(kind: np.ndarray, entered: np.ndarray, n: int, buffer: np.ndarray,
                 state: np.ndarray, counters: np.ndarray, limits: np.ndarray,
                 count: np.ndarray, aoc: np.ndarray, inv_window: np.ndarray,
                 cap_state: np.ndarray, queue_scale_s: float, v0_size: int) -> None:
    """:class:`BatchObservation`'s rows after a step: a LOAD / EVICT (``kind[b] < 2N``: EVICT
    m = m, LOAD m = N + m) changes its model's cached, AoC and age features (an uncached model
    holds no context; a model loaded now has age 1); a server in a new slot (``entered[b]``)
    gets its cached, demand, AoC and age features; every row its globals (free memory,
    operations used, progress). With the capacity model (``cap_state`` has rows), a SERVE or an
    EVICT (a queue offloaded) also rewrites the row's queue features and its utilisation and
    load."""
    g0 = n * len(MODEL_FEATURES)
    for b in range(len(kind)):
        row = buffer[b]
        kb = kind[b]
        if kb < 2 * n:
            m = kb - n if kb >= n else kb
            load = kb >= n
            row[_CACHED * n + m] = 1.0 if load else 0.0
            row[_AOC * n + m] = 0.0
            row[_AGE * n + m] = _FRESH_AGE if load else 0.0
        if entered[b]:
            t = counters[b, kernels.SLOT]
            st = state[b]
            for m in range(n):
                row[_CACHED * n + m] = st[kernels.EDGE * n + m]  # 1.0 if cached, else 0.0
                row[_REQUESTS * n + m] = squash_value(count[b, t, m], REQUESTS_SCALE)
                row[_RECENCY * n + m] = squash_value(st[kernels.RECENCY * n + m],
                                                     RECENCY_SCALE_SLOTS)
                row[_FREQUENCY * n + m] = squash_value(st[kernels.FREQUENCY * n + m],
                                                       FREQUENCY_SCALE)
                # AoC <= W holds exactly (rho <= 1); the minimum guards float rounding only.
                a = aoc[b, m] * inv_window[m]
                row[_AOC * n + m] = a if a < 1.0 else 1.0
                row[_AGE * n + m] = squash_value(st[kernels.SINCE * n + m], AGE_SCALE_SLOTS)
        for i in range(3):  # free memory, operations used, progress: free <= gpu
            v = counters[b, i] / limits[i]
            row[g0 + i] = v if v < 1.0 else 1.0
        if cap_state.shape[0] > 0 and (entered[b] or kb < n):
            for m in range(n):
                w = cap_state[b, kernels.QUEUED_WORK * n + m]
                row[v0_size + m] = w / (w + queue_scale_s) if math.isfinite(queue_scale_s) else 0.0
            q0 = kernels.CAP_BLOCKS * n
            row[v0_size + n] = cap_state[b, q0 + kernels.LAST_UTIL]
            row[v0_size + n + 1] = squash_value(cap_state[b, q0 + kernels.LAST_LOAD], LOAD_SCALE)
