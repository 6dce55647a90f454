"""``EdgePFMCache-Random-v0``: every episode a different scenario, drawn from documented ranges.

:class:`ScenarioRanges` is the range spec (validated; errors name the field), :func:`draw_scenario`
draws one :class:`Scenario` from a numpy Generator, and :meth:`Scenario.config` turns it into
an ordinary :class:`~edge_cache_env.config.EnvConfig` through
:func:`~edge_cache_env.config.make_config`. The env plays that config with a normal
:class:`~edge_cache_env.env.EdgePFMCacheEnv`, seen through
:class:`~edge_cache_env.padding.PadModels` so the spaces never change.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from functools import partial
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.vector import SyncVectorEnv

from edge_cache_env.actions import n_actions
from edge_cache_env.catalog import catalog_defaults
from edge_cache_env.config import SECTIONS, TRACE_READS, EnvConfig, make_config
from edge_cache_env.env import EdgePFMCacheEnv
from edge_cache_env.model_spec import ModelSpec
from edge_cache_env.observation import observation_size
from edge_cache_env.padding import PAD_MODELS, PadModels, V0Observation
from edge_cache_env.validation import check, num_envs_of

#: Catalogs whose models the random env draws from (union by name). Adding one (e.g. ``"large"``,
#: whose 21 models the shipped generalist never trained on) is a change of this line.
RANDOM_CATALOGS: tuple[str, ...] = ("default",)


def _pair(value: Any) -> tuple[float, float]:
    return (value[0], value[1]) if isinstance(value, (list, tuple)) and len(value) == 2 else value


@dataclass(frozen=True)
class ScenarioRanges:
    """Ranges ``(low, high)`` each episode's scenario is drawn from (``low == high`` fixes a value).

    ========================  ============  ===========  ==========================================
    field                     default       draw         meaning
    ========================  ============  ===========  ==========================================
    ``gpu_gb``                40 .. 160     log-uniform  GPU memory (A100-40GB .. 2 x H100-80GB)
    ``requests_per_slot``     0.5 .. 8      log-uniform  mean arrivals per 10 s slot
    ``zipf_models``           0.6 .. 1.6    uniform      skew of model popularity
    ``shift_every_slots``     30 .. 120     integer      popularity drift period (slots)
    ``shift_fraction``        0 .. 0.6      uniform      share of the ranking reshuffled per drift
    ``nu``                    0.98 .. 1.0   uniform      AoC freshness factor per slot
    ``rho``                   0.2 .. 0.8    uniform      AoC relevance of another task's examples
    ``acc_gain_scale``        0.5 .. 1.5    uniform      multiplies every model's ``acc_gain``
    ``n_models``              4 .. 10       integer      catalog size (a random subset, in random
                                                         order, of the models of ``catalogs`` that
                                                         fit on the drawn GPU)
    ``catalogs``              ("default",)               catalogs the models come from
    ========================  ============  ===========  ==========================================

    Every other config field keeps its default (or the env's fixed overrides).
    """

    gpu_gb: tuple[float, float] = (40.0, 160.0)
    requests_per_slot: tuple[float, float] = (0.5, 8.0)
    zipf_models: tuple[float, float] = (0.6, 1.6)
    shift_every_slots: tuple[int, int] = (30, 120)
    shift_fraction: tuple[float, float] = (0.0, 0.6)
    nu: tuple[float, float] = (0.98, 1.0)
    rho: tuple[float, float] = (0.2, 0.8)
    acc_gain_scale: tuple[float, float] = (0.5, 1.5)
    n_models: tuple[int, int] = (4, 10)
    catalogs: tuple[str, ...] = RANDOM_CATALOGS

    def __post_init__(self) -> None:
        domains = {  # field: (check, rule)
            "gpu_gb": (lambda v: v > 0, "> 0"),
            "requests_per_slot": (lambda v: v > 0, "> 0"),
            "zipf_models": (lambda v: v >= 0, ">= 0"),
            "shift_every_slots": (lambda v: isinstance(v, int) and v >= 1, "integers >= 1"),
            "shift_fraction": (lambda v: 0 <= v <= 1, "in [0, 1]"),
            "nu": (lambda v: 0 < v <= 1, "in (0, 1]"),
            "rho": (lambda v: 0 <= v <= 1, "in [0, 1]"),
            "acc_gain_scale": (lambda v: v >= 0, ">= 0"),
            "n_models": (lambda v: isinstance(v, int) and 1 <= v <= PAD_MODELS,
                         f"integers in [1, {PAD_MODELS}] (the padded model slots)"),
        }
        for name, (ok, rule) in domains.items():
            value = _pair(getattr(self, name))
            check(isinstance(value, tuple) and len(value) == 2, "ranges", name, getattr(self, name),
                  "a pair [low, high]")
            object.__setattr__(self, name, value)
            numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool)
                          and math.isfinite(v) for v in value)
            check(numeric and ok(value[0]) and ok(value[1]), "ranges", name, list(value),
                  f"a pair of numbers {rule}")
            check(value[0] <= value[1], "ranges", name, list(value), "a pair with low <= high")
        cats = self.catalogs
        check(isinstance(cats, (list, tuple)) and len(cats) > 0 and all(isinstance(c, str) for c in cats),
              "ranges", "catalogs", cats, "a non-empty list of catalog names")
        object.__setattr__(self, "catalogs", tuple(cats))
        for c in self.catalogs:
            try:
                catalog_defaults(c)
            except ValueError as e:
                raise ValueError(f"ranges.catalogs = {list(cats)!r} is invalid: {e}") from None
        pool = model_pool(self.catalogs)
        fit = [m for m in pool if m.mem_gb <= self.gpu_gb[0]]
        check(len(fit) >= self.n_models[0], "ranges", "n_models", list(self.n_models),
              f"a pair whose low is <= the {len(fit)} models of {list(self.catalogs)} that fit "
              f"on the smallest GPU ({self.gpu_gb[0]} GB)")
        # A high beyond the pool would be capped silently at draw time.
        check(self.n_models[1] <= len(pool), "ranges", "n_models", list(self.n_models),
              f"a pair whose high is <= the {len(pool)} models of {list(self.catalogs)}")

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any] | None) -> ScenarioRanges:
        """Defaults updated by ``values``; unknown keys are errors."""
        if values is not None and not isinstance(values, Mapping):
            raise TypeError(f"ranges = {values!r} is invalid: must be a mapping of field -> "
                            f"[low, high] (e.g. {{'gpu_gb': [40, 80]}})")
        values = dict(values or {})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise TypeError(f"unknown key(s) {unknown} in ranges; known: {sorted(known)}")
        return cls(**values)


def model_pool(catalogs: tuple[str, ...]) -> tuple[ModelSpec, ...]:
    """The models of ``catalogs``, first occurrence of each name, in catalog order."""
    pool: dict[str, ModelSpec] = {}
    for c in catalogs:
        for m in catalog_defaults(c)["models"]:
            pool.setdefault(m.name, m)
    return tuple(pool.values())


@dataclass(frozen=True)
class Scenario:
    """One drawn scenario: plain values (JSON-able with :meth:`to_dict`)."""

    gpu_gb: float
    requests_per_slot: float
    zipf_models: float
    shift_every_slots: int
    shift_fraction: float
    nu: float
    rho: float
    acc_gain_scale: float
    models: tuple[str, ...]  # names, in the env's model order

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["models"] = list(self.models)
        d["n_models"] = len(self.models)
        return d

    def config(self, catalogs: tuple[str, ...], **overrides: Any) -> EnvConfig:
        """The scenario as an EnvConfig (through make_config; ``overrides`` fix other fields)."""
        pool = {m.name: m for m in model_pool(catalogs)}
        models = [replace(pool[name], acc_gain=pool[name].acc_gain * self.acc_gain_scale)
                  for name in self.models]
        workload = {"requests_per_slot": self.requests_per_slot, "zipf_models": self.zipf_models,
                    "shift_every_slots": self.shift_every_slots,
                    "shift_fraction": self.shift_fraction}
        source = overrides.get("source", dict(overrides.get("workload") or {}).get("source"))
        if source not in (None, "synthetic"):  # a trace gives these itself (ServeGen: its rate)
            workload = {k: v for k, v in workload.items() if k in TRACE_READS.get(source, ())}
        return make_config(None, models=models, gpu_gb=self.gpu_gb, nu=self.nu, rho=self.rho,
                           **workload, **overrides)


def draw_scenario(ranges: ScenarioRanges, rng: np.random.Generator) -> Scenario:
    """One scenario from ``ranges`` (a fixed number of draws from ``rng``, in a fixed order)."""
    def uniform(lo_hi: tuple[float, float]) -> float:
        return float(rng.uniform(*lo_hi))

    def log_uniform(lo_hi: tuple[float, float]) -> float:
        return float(math.exp(rng.uniform(math.log(lo_hi[0]), math.log(lo_hi[1]))))

    def integer(lo_hi: tuple[int, int]) -> int:
        return int(rng.integers(lo_hi[0], lo_hi[1] + 1))

    gpu_gb = round(log_uniform(ranges.gpu_gb), 1)
    gpu_gb = min(max(gpu_gb, ranges.gpu_gb[0]), ranges.gpu_gb[1])  # rounding stays in range
    values = dict(requests_per_slot=log_uniform(ranges.requests_per_slot),
                  zipf_models=uniform(ranges.zipf_models),
                  shift_every_slots=integer(ranges.shift_every_slots),
                  shift_fraction=uniform(ranges.shift_fraction), nu=uniform(ranges.nu),
                  rho=uniform(ranges.rho), acc_gain_scale=uniform(ranges.acc_gain_scale))
    fit = [m.name for m in model_pool(ranges.catalogs) if m.mem_gb <= gpu_gb]
    k = min(integer(ranges.n_models), len(fit))
    chosen = rng.permutation(len(fit))[:k]
    return Scenario(gpu_gb=gpu_gb, models=tuple(fit[i] for i in chosen), **values)


class RandomizedEdgePFMCacheEnv(gym.Env):
    """EdgePFMCache with a new scenario every episode, padded to ``PAD_MODELS`` model slots.

    ``reset(seed=s)`` draws a scenario from the ranges (:class:`ScenarioRanges`, defaults in
    its table: GPU 40-160 GB, 0.5-8 requests/slot, Zipf 0.6-1.6, drift every 30-120 slots
    reshuffling 0-60%, AoC nu 0.98-1 and rho 0.2-0.8, acc_gain x0.5-1.5, and 4-10 models of
    the ``default`` catalog in random order) and plays it with a normal
    :class:`EdgePFMCacheEnv` built from its config; the same seed gives the same scenario and
    the same requests. ``info["scenario"]`` (at reset) holds the drawn values as plain JSON
    (:meth:`Scenario.to_dict`).

    Spaces are fixed: the observation is that of ``n_max`` models (default ``PAD_MODELS`` = 32;
    absent models all zero, a real model has footprint > 0) and the actions
    ``Discrete(2 * n_max + 1)`` with absent models masked out (:mod:`edge_cache_env.padding`).
    A smaller ``n_max`` (>= the largest catalog drawn) only saves compute: a set policy
    (agents/set_policy.py) trained on it acts on any padded size.

    ``gym.make("EdgePFMCache-Random-v0", ranges={"gpu_gb": [40, 80]}, n_max=12, n_slots=120)``: ``ranges``
    updates the default ranges; other keyword arguments are fixed config overrides applied to
    every scenario (not the drawn fields). With the capacity model on
    (``capacity={"enabled": True, "gpu_throughput": 1.0}``, v2's values) the scenarios have v2's
    dynamics (queueing, offloading) and the observation is the v0 block of theirs (the padded
    layout has no capacity features): what a set policy reading the v0 block trains on.
    """

    metadata = {"render_modes": ["ansi"], "render_fps": 4}

    def __init__(self, render_mode: str | None = None, ranges: Mapping[str, Any] | None = None,
                 n_max: int = PAD_MODELS, **overrides: Any) -> None:
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode={render_mode!r} is not supported; "
                             f"use one of {self.metadata['render_modes']} or None")
        self.ranges = ScenarioRanges.from_mapping(ranges)
        drawn = {f.name for f in fields(Scenario)} | {"catalog", "config", "model_overrides"}
        clash = sorted(set(overrides) & drawn)
        # The section form of a drawn field too (server={"gpu_gb": ...}): it would replace the
        # draw while info["scenario"] still reports the drawn value.
        clash += sorted(f"{key}.{name}" for key, value in overrides.items()
                        if key in SECTIONS and isinstance(value, Mapping)
                        for name in value if name in drawn)
        if clash:
            raise TypeError(f"{clash} are drawn per episode by EdgePFMCache-Random-v0; set their "
                            f"ranges instead (ranges={{'gpu_gb': [60, 60]}})")
        if isinstance(n_max, np.integer):
            n_max = int(n_max)
        check(isinstance(n_max, int) and not isinstance(n_max, bool)
              and self.ranges.n_models[1] <= n_max <= PAD_MODELS, "env",
              "n_max", n_max, f"an integer in [ranges.n_models high = {self.ranges.n_models[1]}, "
              f"{PAD_MODELS}]")
        self.overrides = dict(overrides)
        self.render_mode = render_mode
        self.n_max = n_max
        self.observation_space = spaces.Box(0.0, 1.0, shape=(observation_size(n_max),), dtype=np.float32)
        self.action_space = spaces.Discrete(n_actions(n_max))
        # A first scenario (from a fixed stream) so that config, spaces and masks exist before
        # reset; it also checks the fixed overrides once, before any episode.
        self.scenario = draw_scenario(self.ranges, np.random.default_rng(0))
        self._env = self._build(self.scenario)

    def _build(self, scenario: Scenario) -> PadModels:
        config = scenario.config(self.ranges.catalogs, **self.overrides)
        env: gym.Env = EdgePFMCacheEnv(render_mode=self.render_mode, config=config)
        if config.capacity.enabled:  # v2 dynamics; the padding is of the v0 layout
            env = V0Observation(env)
        return PadModels(env, self.n_max)

    @property
    def config(self) -> EnvConfig:
        """The config of the current scenario."""
        return self._env.unwrapped.config

    @property
    def inner(self) -> EdgePFMCacheEnv:
        """The EdgePFMCacheEnv playing the current scenario (its own, unpadded model indices)."""
        return self._env.unwrapped

    @property
    def sim(self) -> Any:
        return self.inner.sim

    @property
    def requests(self) -> Any:
        return self.inner.requests

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None
              ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        self.scenario = draw_scenario(self.ranges, self.np_random)
        self._env = self._build(self.scenario)
        obs, info = self._env.reset(seed=int(self.np_random.integers(2**31)))
        info["scenario"] = self.scenario.to_dict()
        return obs, info

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        return self._env.step(action)

    def action_masks(self) -> np.ndarray:
        return self._env.action_masks()

    def render(self) -> str | None:
        return self._env.render()


class RandomizedVectorEnv(SyncVectorEnv):
    """``gym.make_vec("EdgePFMCache-Random-v0", num_envs=B, vectorization_mode="vector_entry_point")``.

    Every sub-env draws its own scenario (GPU, load, catalog, ...) at each reset, so the batch
    shares no config for one compiled step: the B randomized envs step one after the other
    (Gymnasium's :class:`~gymnasium.vector.SyncVectorEnv`, NEXT_STEP autoreset), each on its own
    batch-of-one simulator. Sub-env b reset with seed ``s + b`` plays what ``gym.make`` reset
    with that seed plays. :meth:`action_masks` gives the ``[B, 2 n_max + 1]`` masks. Keyword
    arguments are :class:`RandomizedEdgePFMCacheEnv`'s.
    """

    def __init__(self, num_envs: int = 1, render_mode: str | None = None, **kwargs: Any) -> None:
        make = partial(RandomizedEdgePFMCacheEnv, render_mode=render_mode, **kwargs)
        super().__init__([make] * num_envs_of(num_envs))

    def action_masks(self) -> np.ndarray:
        """``[B, 2 n_max + 1]``: the valid actions of every sub-env now."""
        return np.stack([env.action_masks() for env in self.envs])
