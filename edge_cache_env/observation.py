"""The flat observation: its layout, its squashing, and how to read it back.

Layout: ``len(MODEL_FEATURES) x N`` per-model values (feature-major: the N values of
``cached`` first, then the N of ``footprint``, ...), then ``len(GLOBAL_FEATURES)`` global
values. Feature-major keeps each feature contiguous, so a slot's update is a few block copies.
Read it with :func:`split_observation`, which returns per-model rows whatever the layout.
Every feature is squashed monotonically into [0, 1] (``x / (x + scale)`` for unbounded
counts), so heuristics that rank models by a feature can rank by its observed value.
"""

from __future__ import annotations

import numpy as np

from edge_cache_env.simulator import CacheSimulator

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
# The globals are written as one tuple in GLOBAL_FEATURES order (free memory, ops, progress).
assert GLOBAL_FEATURES == ("free_memory", "ops_used", "progress")
_DEMAND = slice(MODEL_FEATURE["requests"], MODEL_FEATURE["frequency"] + 1)  # requests, recency, frequency: adjacent

# Half-saturation points of the squashing x / (x + scale).
REQUESTS_SCALE = 10.0
RECENCY_SCALE_SLOTS = 30.0
FREQUENCY_SCALE = 5.0
AGE_SCALE_SLOTS = 30.0
_FRESH_AGE = 1.0 / (1.0 + AGE_SCALE_SLOTS)


def observation_size(n_models: int) -> int:
    return n_models * len(MODEL_FEATURES) + len(GLOBAL_FEATURES)


def squash(x: np.ndarray, scale: float) -> np.ndarray:
    return x / (x + scale)


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


class ObservationBuilder:
    """Writes the observation of a simulator into one preallocated float32 buffer."""

    def __init__(self, sim: CacheSimulator) -> None:
        cfg = sim.config
        self.sim = sim
        n = sim.n_models
        self.buffer = np.zeros(observation_size(n), dtype=np.float32)
        self._views()
        self.features[MODEL_FEATURE["footprint"]] = sim.mem_mb / sim.gpu_mb
        self.features[MODEL_FEATURE["load_time"]] = sim.load_s / (sim.load_s + cfg.slot_s)
        self._inv_window = 1.0 / np.array([m.window_examples for m in cfg.models], dtype=np.float64)
        # Squashed age by "slots since loaded + 1", for every possible value.
        ages = np.arange(cfg.n_slots + 2, dtype=np.float64)
        self._age_table = squash(ages, AGE_SCALE_SLOTS).astype(np.float32)

    def _views(self) -> None:
        n = self.sim.n_models
        k = n * len(MODEL_FEATURES)
        self.features = self.buffer[:k].reshape(len(MODEL_FEATURES), n)  # [feature, model]
        self.globals = self.buffer[k:]

    def __getstate__(self) -> dict:
        # `features` and `globals` are views of `buffer`; pickle would copy them apart.
        state = self.__dict__.copy()
        del state["features"], state["globals"]
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._views()

    def on_reset(self) -> np.ndarray:
        """Start of an episode: squash the open-loop demand features of every slot at once."""
        sim = self.sim
        slots = np.arange(sim.n_slots + 1, dtype=np.float64)[:, None]
        demand = np.stack([squash(sim.slot_counts(), REQUESTS_SCALE),
                           squash(slots - sim.last_request_by_slot, RECENCY_SCALE_SLOTS),
                           squash(sim.frequency_by_slot, FREQUENCY_SCALE)], axis=1)
        self._demand_by_slot = demand.astype(np.float32)  # [slot, requests/recency/frequency, model]
        return self.full()

    def full(self) -> np.ndarray:
        """Recompute every changing feature (after reset and SERVE)."""
        sim, fm = self.sim, self.features
        fm[_CACHED] = sim.cached_f
        fm[_DEMAND] = self._demand_by_slot[sim.t]
        # AoC <= W holds exactly (rho <= 1); the minimum guards float rounding only.
        np.minimum(sim.context.aoc * self._inv_window, 1.0, out=fm[_AOC], casting="same_kind")
        np.take(self._age_table, sim.slots_since_loaded(), out=fm[_AGE])
        self.globals[:] = (sim.free_mb / sim.gpu_mb, min(sim.ops_used / sim.ops_limit, 1.0),
                           min(sim.t / sim.n_slots, 1.0))
        return self.buffer

    def model_changed(self, m: int) -> np.ndarray:
        """Update after LOAD/EVICT of model ``m``: only its column, free memory and ops change.

        An uncached model holds no context, so a model just loaded or evicted has AoC 0; a model
        loaded now has age 1 (slots since loaded + 1).
        """
        sim, fm = self.sim, self.features
        cached = bool(sim.cached[m])
        fm[_CACHED, m] = 1.0 if cached else 0.0
        fm[_AOC, m] = 0.0
        fm[_AGE, m] = _FRESH_AGE if cached else 0.0
        self.globals[:2] = ((sim.gpu_mb - sim.used_mb) / sim.gpu_mb,
                            min(sim.ops_used / sim.ops_limit, 1.0))
        return self.buffer

