"""Workload sources: the synthetic generator, and the trace replays by name.

The workload is open-loop: it is drawn once per episode from the env's ``np_random`` and does
not depend on the agent, so every agent sees the same requests for the same seed and reference
policies (clairvoyant, lower bound) may read the future.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from edge_cache_env.config import EnvConfig
from edge_cache_env.requests import EpisodeRequests, lognormal_tokens
from edge_cache_env.traces import make_trace_workload


class WorkloadSource(Protocol):
    """Anything that draws one episode's requests from the env's random generator."""

    def sample_episode(self, np_random: np.random.Generator) -> EpisodeRequests: ...


def _zipf_weights(n: int, exponent: float) -> np.ndarray:
    w = 1.0 / np.arange(1, n + 1, dtype=np.float64) ** exponent
    return w / w.sum()


class SyntheticWorkload:
    """Poisson arrivals, drifting Zipf model popularity, Zipf tasks, log-normal tokens."""

    def __init__(self, config: EnvConfig) -> None:
        self.config = config
        # Fixed by the config (frozen): computed once, not at every reset.
        self._model_w = _zipf_weights(config.n_models, config.workload.zipf_models)
        self._task_cum = np.cumsum(_zipf_weights(config.aoc.tasks_per_model, config.workload.zipf_tasks))[:-1]

    def sample_episode(self, np_random: np.random.Generator) -> EpisodeRequests:
        cfg, wl = self.config, self.config.workload
        n_models, n_slots, n_tasks = cfg.n_models, cfg.n_slots, cfg.aoc.tasks_per_model
        model_w = self._model_w
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
        # Each request's model: the first in its period's cumulative popularity beyond its draw,
        # i.e. how many cumulative values are <= it (searchsorted side="right" on the period's
        # row; requests are sorted by slot, so each period's are one contiguous run).
        u = np_random.random(n)
        model = np.empty(n, dtype=np.int64)
        ends = np.searchsorted(slot, np.arange(1, n_periods + 1) * wl.shift_every_slots)
        start = 0
        for p, end in enumerate(ends.tolist()):
            model[start:end] = np.searchsorted(cum[p], u[start:end], side="right")
            start = end
        task_rank = np.searchsorted(self._task_cum, np_random.random(n), side="right")
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
    return make_trace_workload(config)
