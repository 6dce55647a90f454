"""A native Gymnasium vector env: B edge servers stepped together by one compiled kernel.

``gym.make_vec(id, num_envs=B, vectorization_mode="vector_entry_point")`` for every registered
id. Sub-env b behaves exactly as ``gym.make(id)`` reset with the same seed and given the same
actions (tested): each has its own ``np_random`` stream and draws its episode's requests at its
reset, as the single env does; the model's equations are the single env's
(:class:`~edge_cache_env.simulator.BatchSimulator`), the capacity model of the ``-v2`` ids
included.

Autoreset: Gymnasium's default ``NEXT_STEP``: the step after a sub-env's episode ends resets it
(its action is ignored; reward 0, not terminated or truncated, the reset's observation).
``autoreset_mode=AutoresetMode.DISABLED``: a sub-env whose episode ended stays as it ended (its
actions are ignored, reward 0, no flags) until ``reset(options={"reset_mask": ...})`` resets it.

Info: per step, arrays over the batch (Gymnasium's convention: ``info[k]`` and a boolean
``info["_" + k]`` saying which sub-envs have it): the step's cost terms ``cost_<term>`` and
``cost_total``, ``action_mask`` ``[B, 2N + 1]``, ``slot`` and ``memory_used_gb`` for every
sub-env; the episode figures (``episode_cost*``, ``requests``, ``hit_ratio``, ``mean_accuracy``,
... : the single env's running metrics) only for the sub-envs whose episode ended this step.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from edge_cache_env.actions import SERVE, evict_action, load_action, n_actions
from edge_cache_env.config import MB_PER_GB, EnvConfig, resolve_config
from edge_cache_env.costs import TERMS
from edge_cache_env.observation import BatchObservation, observation_size
from edge_cache_env.simulator import BatchSimulator
from edge_cache_env.validation import num_envs_of
from edge_cache_env.workload import make_workload

COST_KEYS = tuple(f"cost_{t}" for t in TERMS) + ("cost_total",)
# Episode figures derived from the running metrics, as in the single env's info.
RATIO_KEYS = ("hit_ratio", "mean_accuracy", "mean_aoc")


class EdgePFMCacheVectorEnv(VectorEnv):
    """``num_envs`` EdgePFMCache servers of one config; see the module docstring.

    Arguments as :class:`~edge_cache_env.env.EdgePFMCacheEnv` (``catalog``, ``config`` or
    overrides), plus ``num_envs``. :meth:`action_masks` gives the ``[B, 2N + 1]`` valid actions.
    """

    metadata = {"autoreset_mode": AutoresetMode.NEXT_STEP, "render_modes": []}

    def __init__(self, num_envs: int = 1, render_mode: str | None = None, catalog: str = "default",
                 config: EnvConfig | dict[str, Any] | None = None,
                 autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
                 **overrides: Any) -> None:
        b = num_envs_of(num_envs)
        if render_mode is not None:
            raise ValueError(f"render_mode={render_mode!r} is not supported by the vector env; "
                             "use None (render a single env from gym.make instead)")
        modes = (AutoresetMode.NEXT_STEP, AutoresetMode.DISABLED)
        mode = autoreset_mode
        if isinstance(mode, str):
            mode = next((m for m in modes if mode in (m.value, m.name)), mode)
        if mode not in modes:
            raise ValueError(f"autoreset_mode={autoreset_mode!r} is not supported; use one of "
                             f"{[m.value for m in modes]}")
        self.metadata = {**self.metadata, "autoreset_mode": mode}
        self._reset_ended = mode == AutoresetMode.NEXT_STEP
        self.config = cfg = resolve_config(catalog, config, overrides)
        self.num_envs = b
        self.render_mode = None
        n = self.n_models = cfg.n_models
        self._n_actions = n_actions(n)
        self.single_observation_space = spaces.Box(
            0.0, 1.0, shape=(observation_size(n, cfg.capacity.enabled),), dtype=np.float32)
        self.single_action_space = spaces.Discrete(self._n_actions)
        self.observation_space = batch_space(self.single_observation_space, b)
        self.action_space = batch_space(self.single_action_space, b)
        self._scale = cfg.reward_scale
        self._mask = np.zeros((b, self._n_actions), dtype=bool)
        self._mask[:, SERVE] = True  # always valid (BatchSimulator.masks leaves it)
        self._autoreset = np.zeros(b, dtype=bool)
        self._started = False
        # The per-step info's keys in order; every sub-env has them (their "_" masks all True,
        # fresh at each step: a user or a wrapper may write into an info's arrays).
        self._info_template: dict[str, Any] = {}
        for k in (*COST_KEYS, "action_mask", "slot", "memory_used_gb"):
            self._info_template.update({k: None, "_" + k: None})
        self._every_env_keys = tuple(k for k in self._info_template if k.startswith("_"))
        self.workload = make_workload(cfg)
        self._rngs: list[np.random.Generator | None] = [None] * b
        self.sim = BatchSimulator(cfg, b)
        self._obs = BatchObservation(self.sim)
        # The step's cost terms, one row per TERMS entry, then their total (COST_KEYS order).
        self._costs = np.zeros((len(COST_KEYS), b))
        self._row_base = np.arange(b) * self._n_actions  # flat index of each row's mask
        # The simulator's operation kind of each action (BatchSimulator.step: EVICT m = m,
        # LOAD m = N + m, SERVE: none).
        models = np.arange(n)
        self._kind = np.empty(self._n_actions, dtype=np.int64)
        self._kind[SERVE] = self.sim.no_op
        self._kind[load_action(models)] = n + models
        self._kind[evict_action(models, n)] = models

    # ---------------------------------------------------------------- gym API
    def reset(self, *, seed: int | list[int | None] | None = None,
              options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        """Reset every sub-env (or those of ``options["reset_mask"]``); an int seed ``s`` seeds
        sub-env b with ``s + b``, a list gives one seed (or None) per sub-env."""
        b = self.num_envs
        if seed is None:
            seeds: list[int | None] = [None] * b
        elif isinstance(seed, int | np.integer) and not isinstance(seed, bool):
            seeds = [int(seed) + i for i in range(b)]
        else:
            seeds = list(seed)
            if len(seeds) != b:
                raise ValueError(f"seed: a list of {len(seeds)} seeds for num_envs={b}")
        options = dict(options or {})
        rows_mask = options.pop("reset_mask", None)
        if options:
            raise ValueError(f"options: unknown keys {sorted(options)} (only 'reset_mask')")
        if rows_mask is None:
            rows = np.arange(b)
        else:
            rows_mask = np.asarray(rows_mask)
            if rows_mask.shape != (b,) or rows_mask.dtype != np.bool_ or not rows_mask.any():
                raise ValueError(f"options['reset_mask'] must be a bool array of shape ({b},) with "
                                 f"a True value, got {rows_mask!r}")
            if not self._started and not rows_mask.all():
                raise ValueError("options['reset_mask']: the first reset must reset every sub-env")
            rows = np.flatnonzero(rows_mask)
        self._reset_rows(rows, [seeds[r] for r in rows.tolist()])
        self.sim.masks(self._mask)
        self._started = True
        self._autoreset[rows] = False
        entered = np.zeros(b, dtype=bool)
        entered[rows] = True
        obs = self._obs.observe(np.full(b, self.sim.no_op), entered).copy()
        zeros = np.zeros(b)
        info = self._step_info({k: zeros for k in COST_KEYS}, None)
        return obs, info

    def step(self, actions: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray,
                                          dict[str, Any]]:
        if not self._started:
            raise RuntimeError("step() called before reset()")
        a = np.asarray(actions)
        b = self.num_envs
        if a.shape != (b,) or a.dtype.kind not in "iu":
            if a.shape != (b,) or a.dtype.kind != "f":
                raise ValueError(f"actions must be {b} integers (one per sub-env), got shape "
                                 f"{a.shape} dtype {a.dtype}")
            # Integral floats (a policy's output) are taken; a fraction, nan or inf is not, and
            # nothing out of range is cast (the cast would make up an action).
            whole = np.isfinite(a) & (a == np.round(a))
            if not whole.all():
                bad = int(np.flatnonzero(~whole)[0])
                raise ValueError(f"actions must be {b} integers (one per sub-env): sub-env {bad} "
                                 f"got {a[bad]!r}")
            outside = (a < 0) | (a >= self._n_actions)
            if outside.any():
                bad = int(np.flatnonzero(outside)[0])
                raise ValueError(f"action {a[bad]!r} of sub-env {bad} outside "
                                 f"Discrete({self._n_actions})")
            a = a.astype(np.int64)
        if a.dtype != np.int64:
            a = a.astype(np.int64)
        if a.view(np.uint64).max() >= self._n_actions:  # negatives wrap to huge values
            bad = int(np.flatnonzero((a < 0) | (a >= self._n_actions))[0])
            raise ValueError(f"action {a[bad]!r} of sub-env {bad} outside Discrete({self._n_actions})")
        again = self._autoreset
        any_again = bool(again.any())
        valid = self._mask.reshape(-1)[self._row_base + a]  # SERVE is always valid
        kind = np.where(valid, self._kind[a], self.sim.no_op)  # masked out: served as SERVE
        invalid = ~valid
        if any_again:  # autoreset rows: no operation, no SERVE
            kind[again] = self.sim.no_op
            invalid &= ~again
        serve = kind == self.sim.no_op
        if any_again:
            serve &= ~again
        self._costs.fill(0.0)
        self.sim.step(kind, serve, invalid, self._costs, self._mask)  # and the new masks
        entered = serve  # in a new slot: the servers that served, and those reset below
        if any_again and self._reset_ended:
            rows = np.flatnonzero(again)
            self._reset_rows(rows, [None] * len(rows))
            self.sim.masks(self._mask, rows)
            entered = serve | again
        obs = self._obs.observe(kind, entered).copy()
        # Left to right, as the single env adds them (a reduction over the outer axis is
        # sequential).
        np.add.reduce(self._costs[:-1], axis=0, out=self._costs[-1])
        matrix = self._costs.copy()
        costs = dict(zip(COST_KEYS, matrix, strict=True))
        ended = self.sim.t >= self.sim.n_slots
        done = ended & ~again if any_again else ended
        reward = matrix[-1] / -self._scale
        if any_again:
            reward[again] = 0.0
        self._autoreset = done if self._reset_ended else done | again
        info = self._step_info(costs, done if done.any() else None)
        return obs, reward, np.zeros(b, dtype=bool), done.copy(), info

    def action_masks(self) -> np.ndarray:
        """``[B, 2N + 1]``: the valid actions of every sub-env now (SERVE always)."""
        return self._mask.copy()

    # --------------------------------------------------------------- helpers
    def _reset_rows(self, rows: np.ndarray, seeds: list[int | None]) -> None:
        """Reset sub-envs ``rows``: as ``EdgePFMCacheEnv.reset(seed=s)`` each (a None seed keeps
        the sub-env's random stream going, or starts an unseeded one)."""
        requests = []
        for r, s in zip(rows.tolist(), seeds, strict=True):
            if s is not None or self._rngs[r] is None:
                self._rngs[r] = seeding.np_random(s)[0]
            requests.append(self.workload.sample_episode(self._rngs[r]))
        self.sim.reset_rows(rows, requests)  # the masks and observation: the caller's

    def _step_info(self, costs: dict[str, np.ndarray], ended: np.ndarray | None) -> dict[str, Any]:
        info = self._info_template.copy()  # every key in order
        info.update(zip(self._every_env_keys, np.ones((len(self._every_env_keys), self.num_envs),
                                                      dtype=bool), strict=True))
        info.update(costs)
        info["action_mask"] = self._mask.copy()
        info["slot"] = self.sim.t.copy()
        info["memory_used_gb"] = self.sim.used_mb / MB_PER_GB
        if ended is not None:
            metrics = {k: v.copy() for k, v in self.sim.metrics.items()}
            served = np.where(metrics["requests"] > 0, metrics["requests"], 1.0)
            metrics["hit_ratio"] = metrics["edge_hits"] / served
            metrics["mean_accuracy"] = metrics["accuracy_sum"] / served
            metrics["mean_aoc"] = metrics["aoc_sum"] / served
            for k, v in metrics.items():
                v[~ended] = 0.0
                info[k] = v
                info["_" + k] = ended
        return info
