"""The realised requests of one episode (:class:`EpisodeRequests`) and token-length draws.

The data type every workload source produces (synthetic generator or trace replay) and the
simulator consumes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


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
            if (self.slot[1:] < self.slot[:-1]).any():
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


def lognormal_tokens(np_random: np.random.Generator, n: int, median: float, sigma: float,
                     max_tokens: int) -> np.ndarray:
    """Heavy-tailed token counts (log-normal around ``median``), clipped to [1, max_tokens]."""
    x = np.exp(np.log(median) + sigma * np_random.standard_normal(n))
    return np.clip(np.rint(x), 1, max_tokens).astype(np.int64)
