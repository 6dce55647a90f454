"""Request sequences: the realised episode (:class:`EpisodeRequests`) and the synthetic generator.

The workload is open-loop: it is drawn once per episode from the env's ``np_random`` and does
not depend on the agent, so every agent sees the same requests for the same seed and reference
policies (clairvoyant, lower bound) may read the future.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from edge_cache_env.config import EnvConfig


@dataclass(frozen=True)
class EpisodeRequests:
    """All requests of one episode, sorted by slot, with per-slot aggregates.

    Per request: ``slot``, ``model``, ``task`` (0..K-1), ``input_tokens``, ``output_tokens``.
    Aggregates (computed once, so that serving a slot costs O(N K), not O(requests)):
    ``count[t, m]``, ``count_task[t, m, k]``, ``input_sum[t, m]``, ``output_sum[t, m]``.
    """

    slot: np.ndarray
    model: np.ndarray
    task: np.ndarray
    input_tokens: np.ndarray
    output_tokens: np.ndarray
    n_slots: int
    n_models: int
    n_tasks: int
    count: np.ndarray = field(init=False, repr=False)
    count_task: np.ndarray = field(init=False, repr=False)
    input_sum: np.ndarray = field(init=False, repr=False)
    output_sum: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        n = len(self.slot)
        for name in ("model", "task", "input_tokens", "output_tokens"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"EpisodeRequests.{name} has {len(getattr(self, name))} entries, "
                                 f"slot has {n}")
        if n:
            if self.slot.min() < 0 or self.slot.max() >= self.n_slots:
                raise ValueError(f"EpisodeRequests.slot outside [0, {self.n_slots})")
            if self.model.min() < 0 or self.model.max() >= self.n_models:
                raise ValueError(f"EpisodeRequests.model outside [0, {self.n_models})")
            if self.task.min() < 0 or self.task.max() >= self.n_tasks:
                raise ValueError(f"EpisodeRequests.task outside [0, {self.n_tasks})")
            if self.input_tokens.min() < 0 or self.output_tokens.min() < 0:
                raise ValueError("EpisodeRequests: token counts must be >= 0")
            if np.any(np.diff(self.slot) < 0):
                raise ValueError("EpisodeRequests.slot must be sorted")
        t, m, k = self.n_slots, self.n_models, self.n_tasks
        cell = self.slot.astype(np.int64) * m + self.model
        object.__setattr__(self, "count", np.bincount(cell, minlength=t * m).reshape(t, m))
        object.__setattr__(self, "count_task", np.bincount(
            cell * k + self.task, minlength=t * m * k).reshape(t, m, k).astype(np.float64))
        object.__setattr__(self, "input_sum", np.bincount(
            cell, weights=self.input_tokens, minlength=t * m).reshape(t, m))
        object.__setattr__(self, "output_sum", np.bincount(
            cell, weights=self.output_tokens, minlength=t * m).reshape(t, m))

    @property
    def n_requests(self) -> int:
        return len(self.slot)

    def next_request_slot(self) -> np.ndarray:
        """``nxt[t, m]``: first slot >= t with a request for m (``n_slots`` if none)."""
        t, m = self.count.shape
        nxt = np.full((t + 1, m), t, dtype=np.int64)
        for s in range(t - 1, -1, -1):
            nxt[s] = np.where(self.count[s] > 0, s, nxt[s + 1])
        return nxt[:t]


class WorkloadSource(Protocol):
    """Anything that draws one episode's requests from the env's random generator."""

    def sample_episode(self, np_random: np.random.Generator) -> EpisodeRequests: ...


def _zipf_weights(n: int, exponent: float) -> np.ndarray:
    w = 1.0 / np.arange(1, n + 1, dtype=np.float64) ** exponent
    return w / w.sum()


def lognormal_tokens(np_random: np.random.Generator, n: int, median: float, sigma: float,
                     max_tokens: int) -> np.ndarray:
    """Heavy-tailed token counts (log-normal around ``median``), clipped to [1, max_tokens]."""
    x = np.exp(np.log(median) + sigma * np_random.standard_normal(n))
    return np.clip(np.rint(x), 1, max_tokens).astype(np.int64)


class SyntheticWorkload:
    """Poisson arrivals, drifting Zipf model popularity, Zipf tasks, log-normal tokens."""

    def __init__(self, config: EnvConfig) -> None:
        self.config = config

    def sample_episode(self, np_random: np.random.Generator) -> EpisodeRequests:
        cfg, wl = self.config, self.config.workload
        n_models, n_slots, n_tasks = cfg.n_models, cfg.n_slots, cfg.aoc.tasks_per_model
        model_w = _zipf_weights(n_models, wl.zipf_models)
        task_w = _zipf_weights(n_tasks, wl.zipf_tasks)
        # Popularity ranking: a random permutation; every shift period, a random part of the
        # ranking is reshuffled among itself (the popular set drifts, as in real traffic).
        rank = np_random.permutation(n_models)
        n_periods = -(-n_slots // wl.shift_every_slots)
        period_probs = np.empty((n_periods, n_models))
        n_move = int(round(wl.shift_fraction * n_models))
        for p in range(n_periods):
            if p > 0 and n_move >= 2:
                pos = np_random.choice(n_models, size=n_move, replace=False)
                rank[pos] = rank[np_random.permutation(pos)]
            period_probs[p, rank] = model_w
        # Each model has its own task permutation (a model's clients differ).
        task_perm = np.argsort(np_random.random((n_models, n_tasks)), axis=1)
        counts = np_random.poisson(wl.requests_per_slot, size=n_slots)
        slot = np.repeat(np.arange(n_slots, dtype=np.int64), counts)
        n = len(slot)
        cum = np.cumsum(period_probs, axis=1)
        cum[:, -1] = 1.0
        # Slots are sorted, so each popularity period is one contiguous run of requests.
        u = np_random.random(n)
        model = np.empty(n, dtype=np.int64)
        bounds = np.searchsorted(slot, np.arange(n_periods + 1) * wl.shift_every_slots)
        for p in range(n_periods):
            lo, hi = bounds[p], bounds[p + 1]
            model[lo:hi] = np.searchsorted(cum[p], u[lo:hi], side="right")
        task_rank = np.searchsorted(np.cumsum(task_w)[:-1], np_random.random(n), side="right")
        task = task_perm[model, task_rank].astype(np.int64)
        inp = lognormal_tokens(np_random, n, wl.input_tokens_median, wl.input_tokens_sigma,
                               wl.max_tokens)
        out = lognormal_tokens(np_random, n, wl.output_tokens_median, wl.output_tokens_sigma,
                               wl.max_tokens)
        return EpisodeRequests(slot=slot, model=model, task=task, input_tokens=inp,
                               output_tokens=out, n_slots=n_slots, n_models=n_models,
                               n_tasks=n_tasks)


def make_workload(config: EnvConfig) -> WorkloadSource:
    """The workload source named by ``config.workload.source``."""
    if config.workload.source == "synthetic":
        return SyntheticWorkload(config)
    from edge_cache_env.traces import make_trace_workload  # only trace scenarios need it

    return make_trace_workload(config)
