"""The Gymnasium adapter: spaces, observation, action mask, reward and info around the simulator."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from edge_cache_env.actions import SERVE, decode_action, integer_action, n_actions
from edge_cache_env.config import MB_PER_GB, EnvConfig, resolve_config
from edge_cache_env.costs import TERMS
from edge_cache_env.observation import BatchObservation, observation_size
from edge_cache_env.render import render_ansi, render_rgb
from edge_cache_env.requests import EpisodeRequests
from edge_cache_env.simulator import CacheSimulator
from edge_cache_env.workload import make_workload


class EdgePFMCacheEnv(gym.Env):
    """Cache pretrained foundation models on one edge GPU; serve the rest in the cloud.

    ## Description
    An edge server with one GPU (``gpu_gb``) is asked, slot after slot, to serve requests for a
    catalog of N pretrained foundation models (LLMs, image and speech models) that together need
    about 2.5 times its memory. The agent decides which models to load and evict. Requests for
    cached models are served at the edge, where the model's in-context examples (its Age of
    Context, AoC) raise accuracy; the others go to the cloud (more latency, a price, zero-shot
    accuracy). Evicting a model throws its context away. See ``docs/model.md`` for the system model.

    ## Action Space
    ``Discrete(2N + 1)``: ``0`` = SERVE (serve this slot and advance), ``1..N`` = LOAD model
    ``a - 1``, ``N+1..2N`` = EVICT model ``a - N - 1``. LOAD is valid iff the model is not cached
    and fits in free memory, EVICT iff it is cached, SERVE always; at most ``max_ops_per_slot``
    LOAD/EVICT per slot. :meth:`action_masks` (sb3-contrib) and ``info["action_mask"]`` give
    the valid actions. An invalid action acts as SERVE and is charged
    ``invalid_action_penalty``.

    ## Observation Space
    ``Box(0, 1, (8N + 3,), float32)``. Per model (stored feature-major: the N values of a
    feature together): cached, footprint share of the GPU, requests this slot, recency,
    frequency, AoC / window, age since loaded, load time;
    then free memory share, operations used this slot, episode progress. All squashed
    monotonically into [0, 1]; see :mod:`edge_cache_env.observation`.

    ## Rewards
    ``-cost / reward_scale`` of the step: a LOAD carries its switching cost (GB moved, load
    energy); SERVE carries the slot's latency, edge energy, accuracy loss and cloud price;
    invalid actions add their penalty. ``info["cost_<term>"]`` for ``term`` in
    latency, energy, accuracy, cloud, switch, invalid add up to ``-reward * reward_scale``.

    ## Starting State
    Empty cache, no context; the first slot's requests are revealed.

    ## Episode End
    ``terminated`` is always False; ``truncated`` is True once the last slot (``n_slots - 1``)
    has been served.

    ## Arguments
    ``gym.make("EdgePFMCache-v0", render_mode=None, catalog="default", **overrides)``:
    overrides of any config field, flat (``gpu_gb=40``, ``nu=0.5``), by section
    (``aoc={"nu": 0.8}``), or per model (``model_overrides={"*": {"acc_gain": 0}}``); unknown
    keys raise ``TypeError``. ``config=EnvConfig(...)`` passes a whole config instead, or its
    plain form ``config=cfg.to_dict()`` (what ``env.spec.to_json()`` stores, so a spec rebuilds
    the same env: Minari's ``recover_environment``, RLlib's remote env runners).

    ## Rendering
    ``"ansi"``: a text table. ``"rgb_array"``: a uint8 ``[H, W, 3]`` frame of the same state drawn
    with numpy (see :mod:`edge_cache_env.render`): GPU memory by cached model, each model's memory,
    AoC and this slot's demand (blue: served at the edge, orange: sent to the cloud).
    ``gym.make(id, render_mode="human")`` shows that frame in a window: Gymnasium wraps the env in
    ``HumanRendering``, which needs ``pygame`` and a display (``DependencyNotInstalled`` at the
    first ``reset`` without pygame). Other modes raise ``ValueError``.

    With the capacity model on (``-v2`` ids; the deprecated ``-v1``), ``Box(0, 1, (9N + 5,))``:
    the v0 block, then each model's queued GPU work, then the GPU's utilisation and offered
    load of the last slot (:class:`edge_cache_env.observation.ObservationLayout`).

    ## Version History
    * v0: initial release.
    * v1: the capacity model (``config.capacity``): a GPU of finite throughput with continuous
      batching, a fluid queue per model and offloading to the cloud (docs/model.md).
      Deprecated: requests of a carried queue served at the edge were also charged the cloud's
      latency, price and accuracy (kept, ``capacity.legacy_v1_charge``, so v1 figures
      reproduce).
    * v2: v1 with that charge fixed; each request is charged once (docs/model.md 14.3).
    """

    metadata = {"render_modes": ["ansi", "rgb_array"], "render_fps": 4}

    def __init__(self, render_mode: str | None = None, catalog: str = "default",
                 config: EnvConfig | dict[str, Any] | None = None, **overrides: Any) -> None:
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode={render_mode!r} is not supported; "
                             f"use one of {self.metadata['render_modes']} or None")
        self.config = resolve_config(catalog, config, overrides)
        self.render_mode = render_mode
        n = self.config.n_models
        self.n_models = n
        self._n_actions = n_actions(n)
        self.action_space = spaces.Discrete(self._n_actions)
        self.observation_space = spaces.Box(
            0.0, 1.0, shape=(observation_size(n, self.config.capacity.enabled),), dtype=np.float32)
        self.sim = CacheSimulator(self.config)
        self.workload = make_workload(self.config)
        # The batch of one's observation (row 0), updated after each step by what it changed.
        self._obs = BatchObservation(self.sim.batch)
        self._entered = np.ones(1, dtype=bool)  # a new slot: after SERVE or reset
        self._same_slot = np.zeros(1, dtype=bool)
        self._no_op = np.full(1, self.sim.batch.no_op)
        self._mask = self.sim.mask  # the valid actions, kept current by the simulator
        self._scale = self.config.reward_scale

    # ---------------------------------------------------------------- gym API
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None
              ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        self.sim.reset(self.workload.sample_episode(self.np_random))
        obs = self._obs.observe(self._no_op, self._entered)[0].copy()
        return obs, self._info(dict.fromkeys(TERMS, 0.0))

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        if self.sim.requests is None:
            raise RuntimeError("step() called before reset(); call reset() first")
        if self.sim.done:
            raise RuntimeError("step() called after the episode ended; call reset()")
        a = action if type(action) is int else integer_action(action, self._n_actions)
        n = self.n_models
        if not 0 <= a < self._n_actions:
            raise ValueError(f"action {action!r} outside Discrete({self._n_actions})")
        sim = self.sim
        if a != SERVE and self._mask[a]:
            kind, m = decode_action(a, n)
            terms = sim.load(m) if kind == "load" else sim.evict(m)
            obs = self._obs.observe(sim.last_kind, self._same_slot)[0]
        else:  # SERVE, or a masked-out operation: served as SERVE, plus the penalty
            terms = sim.serve(invalid=a != SERVE)
            obs = self._obs.observe(self._no_op, self._entered)[0]
        info = self._info(terms)
        return obs.copy(), -info["cost_total"] / self._scale, False, sim.t >= sim.n_slots, info

    def action_masks(self) -> np.ndarray:
        """Valid actions now (sb3-contrib's MaskablePPO calls this)."""
        return self._mask.copy()

    def render(self) -> str | np.ndarray | None:
        """``"ansi"``: text; ``"rgb_array"``: a uint8 ``[H, W, 3]`` frame."""
        if self.sim.requests is None:
            raise RuntimeError("render() called before reset(); call reset() first")
        if self.render_mode == "ansi":
            return render_ansi(self.sim)
        if self.render_mode == "rgb_array":
            return render_rgb(self.sim)
        gym.logger.warn('render() called without a render_mode; pass render_mode="rgb_array" or '
                        '"ansi" to gym.make')
        return None

    # --------------------------------------------------------------- helpers
    @property
    def requests(self) -> EpisodeRequests:
        """The realised request sequence of the episode (for clairvoyant references)."""
        if self.sim.requests is None:
            raise RuntimeError("no episode yet: call reset()")
        return self.sim.requests

    def _info(self, terms: dict[str, float]) -> dict[str, Any]:
        sim = self.sim
        info: dict[str, Any] = sim.metrics  # a new dict: episode cost terms, running metrics
        lat, energy, acc = terms["latency"], terms["energy"], terms["accuracy"]
        cloud, switch, invalid = terms["cloud"], terms["switch"], terms["invalid"]
        info["cost_latency"] = lat
        info["cost_energy"] = energy
        info["cost_accuracy"] = acc
        info["cost_cloud"] = cloud
        info["cost_switch"] = switch
        info["cost_invalid"] = invalid
        info["cost_total"] = lat + energy + acc + cloud + switch + invalid
        served = info["requests"] or 1.0
        info["hit_ratio"] = info["edge_hits"] / served
        info["mean_accuracy"] = info["accuracy_sum"] / served
        info["mean_aoc"] = info["aoc_sum"] / served
        info["slot"] = sim.t
        info["memory_used_gb"] = sim.used_mb / MB_PER_GB
        info["action_mask"] = self._mask.copy()
        return info
