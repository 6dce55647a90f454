"""``gdsf``: GreedyDual-Size-Frequency (Cherkasova, "Improving WWW proxies performance with
Greedy-Dual-Size-Frequency caching policy", HP Labs HPL-98-69, 1998) on the model cache.

Each model has a priority ``H = L + F * C / S``: ``C`` its load cost, ``S`` its size, ``F`` its
request frequency and ``L`` the inflation value, the ``H`` of the last victim (so models that
were hot long ago age out). A requested model's ``H`` is refreshed with the current ``L``; when
room is needed the cached model with the least ``H`` is evicted and ``L`` rises to its ``H``.

Admission as GDSF defines it: every requested object is brought in (the newcomer is always
inserted; victims go until it fits), so the shared rule of :mod:`agents.heuristics` decides what
to load and GDSF only chooses victims. Mapping to the observation:

* ``C``: the load time ``load_s`` (from the ``load_time`` feature ``load_s / (load_s + slot_s)``);
  the switching cost of a LOAD is proportional to it (GB moved and load energy both scale with
  the weights, ``edge_cache_env.costs.ModelCosts``), and a constant factor changes no ranking;
* ``S``: the ``footprint`` (share of the GPU);
* ``F``: the EWMA request rate (``frequency`` feature, unsquashed) in place of the hit count
  since insertion: the observation carries it, and it forgets like the EWMA.

``L`` and ``H`` are per-episode state, one row per batch row; a row is reset when
:meth:`reset` is called or its observation is the first of an episode (slot 0, nothing cached).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from agents.cost_benefit import unsquash
from agents.heuristics import ReactiveHeuristic, lex_argmin, resolve_layout
from edge_cache_env.observation import FREQUENCY_SCALE, GLOBAL_FEATURE, MODEL_FEATURE


class GreedyDualSizeFrequency(ReactiveHeuristic):
    """GDSF victims (least ``H = L + F * C / S``) under the shared reactive admission rule."""

    name = "gdsf"

    def __init__(self) -> None:
        super().__init__()
        self.inflation = np.zeros(0)  # L per batch row
        self.priority = np.zeros((0, 0))  # H per batch row and model

    def reset(self, seed: int | None = None) -> None:
        self.inflation = np.zeros(0)
        self.priority = np.zeros((0, 0))

    def reset_batch(self, seeds: Sequence[int | None]) -> bool:
        """L and H are already per row (and reset at a row's first observation)."""
        self.reset()
        return True

    def act(self, obs: np.ndarray) -> np.ndarray:
        layout = resolve_layout(self.obs_layout, obs.shape[-1])
        n, b = layout.n_models, len(obs)
        if self.priority.shape != (b, n):
            self.inflation, self.priority = np.zeros(b), np.zeros((b, n))
        pm, g = layout.split(obs)
        cached = pm[..., MODEL_FEATURE["cached"]] > 0.5
        fresh = (g[:, GLOBAL_FEATURE["progress"]] == 0) & ~cached.any(axis=1)
        self.inflation[fresh] = 0.0
        self.priority[fresh] = 0.0
        requested = pm[..., MODEL_FEATURE["requests"]] > 0
        freq = unsquash(pm[..., MODEL_FEATURE["frequency"]], FREQUENCY_SCALE)
        load_y = pm[..., MODEL_FEATURE["load_time"]].astype(np.float64)
        cost = load_y / np.maximum(1.0 - load_y, 1e-9)  # load_s / slot_s
        size = np.maximum(pm[..., MODEL_FEATURE["footprint"]].astype(np.float64), 1e-9)
        refreshed = self.inflation[:, None] + freq * cost / size
        np.copyto(self.priority, refreshed, where=requested)
        self._victim_rows = np.arange(b)  # the single-observation path reads row 0
        actions = super().act(obs)
        evicted = actions > n  # EVICT actions are 1 + N + m
        if evicted.any():
            rows = np.flatnonzero(evicted)
            self.inflation[rows] = self.priority[rows, actions[rows] - 1 - n]
        return actions

    def victim(self, pm: np.ndarray, candidates: np.ndarray) -> np.ndarray:
        h = self.priority[self._victim_rows]
        recency = pm[..., MODEL_FEATURE["recency"]]
        return lex_argmin([h, -recency], candidates)

    def victim_one(self, col: dict[str, list[float]], candidates: list[int]) -> int:
        h, recency = self.priority[0], col["recency"]
        return min(candidates, key=lambda m: (h[m], -recency[m]))


__all__ = ["GreedyDualSizeFrequency"]
