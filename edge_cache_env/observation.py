"""The flat observation: its layout, its squashing, and how to read it back.

Layout: ``N x len(MODEL_FEATURES)`` per-model values (model-major: model 0's features first),
then ``len(GLOBAL_FEATURES)`` global values. Every feature is squashed monotonically into
[0, 1] (``x / (x + scale)`` for unbounded counts), so heuristics that rank models by a feature
can rank by its observed value.
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
F = {name: i for i, name in enumerate(MODEL_FEATURES)}
G = {name: i for i, name in enumerate(GLOBAL_FEATURES)}

# Half-saturation points of the squashing x / (x + scale).
REQUESTS_SCALE = 10.0
RECENCY_SCALE_SLOTS = 30.0
FREQUENCY_SCALE = 5.0
AGE_SCALE_SLOTS = 30.0


def observation_size(n_models: int) -> int:
    return n_models * len(MODEL_FEATURES) + len(GLOBAL_FEATURES)


def squash(x: np.ndarray, scale: float) -> np.ndarray:
    return x / (x + scale)


def split_observation(obs: np.ndarray, n_models: int) -> tuple[np.ndarray, np.ndarray]:
    """``(per_model[..., N, F], globals[..., G])`` views of a (batched) observation."""
    obs = np.asarray(obs)
    k = n_models * len(MODEL_FEATURES)
    per_model = obs[..., :k].reshape(*obs.shape[:-1], n_models, len(MODEL_FEATURES))
    return per_model, obs[..., k:]


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
        self.per_model, self.globals = split_observation(self.buffer, n)
        self.per_model[:, F["footprint"]] = sim.mem_mb / sim.gpu_mb
        self.per_model[:, F["load_time"]] = sim.load_s / (sim.load_s + cfg.slot_s)
        self.window = np.array([m.window_examples for m in cfg.models], dtype=np.float64)

    def __getstate__(self) -> dict:
        # The per-model and global arrays are views of `buffer`; pickle would copy them apart.
        state = self.__dict__.copy()
        del state["per_model"], state["globals"]
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self.per_model, self.globals = split_observation(self.buffer, self.sim.n_models)

    def full(self) -> np.ndarray:
        """Recompute every changing feature (after reset and SERVE)."""
        sim, pm = self.sim, self.per_model
        pm[:, F["cached"]] = sim.cached_f
        pm[:, F["requests"]] = squash(sim.current_counts(), REQUESTS_SCALE)
        pm[:, F["recency"]] = squash(sim.slots_since_request().astype(np.float64), RECENCY_SCALE_SLOTS)
        pm[:, F["frequency"]] = squash(sim.frequency, FREQUENCY_SCALE)
        pm[:, F["aoc"]] = np.minimum(sim.context.aoc / self.window, 1.0)
        pm[:, F["age"]] = squash(sim.slots_since_loaded().astype(np.float64), AGE_SCALE_SLOTS)
        self._globals()
        return self.buffer

    def model_changed(self, m: int) -> np.ndarray:
        """Update after LOAD/EVICT of model ``m`` (only its row and the globals change)."""
        sim, row = self.sim, self.per_model[m]
        row[F["cached"]] = sim.cached_f[m]
        row[F["aoc"]] = min(sim.context.aoc[m] / self.window[m], 1.0)
        age = (sim.t - sim.loaded_at[m] + 1) if sim.cached[m] else 0
        row[F["age"]] = age / (age + AGE_SCALE_SLOTS)
        self._globals()
        return self.buffer

    def _globals(self) -> None:
        sim = self.sim
        self.globals[G["free_memory"]] = sim.free_mb / sim.gpu_mb
        self.globals[G["ops_used"]] = min(sim.ops_used / sim.config.ops_per_slot, 1.0)
        self.globals[G["progress"]] = min(sim.t / sim.config.n_slots, 1.0)
