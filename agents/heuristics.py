"""Reactive caching heuristics: LC (the source paper's least context), LRU, LFU, FIFO, random.

They are pure functions of the observation (no access to the simulator), vectorised over a
batch, so they run inside vector envs too. One rule, different victims (DESIGN.md section 4):

1. *Wanted* model: among uncached models requested this slot, the one with the most requests
   (ties: lowest index) that **can fit after evicting every cached model not requested this
   slot**. A model that cannot fit even then is skipped and the next most-requested one is
   tried, so the agent never evicts pointlessly for a load that cannot happen.
2. If the wanted model fits in free memory: LOAD it.
3. Else EVICT one victim among cached models not requested this slot (the heuristic's choice);
   the next step re-applies the rule, so victims go one by one until the wanted model fits.
4. If no model is wanted, or no operation is left this slot ("ops used" = 1): SERVE.

Models requested this slot are never evicted and a just-loaded model is requested, so the rule
never undoes its own work within a slot. Memory is compared in the observed shares
(``footprint`` vs ``free_memory``), which agree exactly with the env's mask (integer-MB
accounting); sums of shares get a tolerance far below one MB. The rule does not know the
per-slot operation budget (not in the observation); with the default budget N it is never the
limit in practice.

Victims:

====== ==============================================================
lc      least AoC (ties: least recently requested)
lru     least recently requested (ties: least frequent)
lfu     least frequently requested, EWMA rate (ties: least recent)
fifo    loaded earliest (largest age since loaded)
random  uniform among the candidates (seeded by :meth:`reset`)
====== ==============================================================
"""

from __future__ import annotations

import numpy as np

from agents.base import Agent
from edge_cache_env.observation import F, G, n_models_of, split_observation

SERVE = 0
_ROOM_TOL = 1e-6  # share of the GPU; one MB of an 80 GB GPU is 1.25e-5


def lex_argmin(keys: list[np.ndarray], valid: np.ndarray) -> np.ndarray:
    """Per row, the index minimising ``keys`` lexicographically among ``valid`` entries.

    Rows without a valid entry return 0 (callers only read rows that have one).
    """
    mask = valid.copy()
    for key in keys:
        k = np.where(mask, key, np.inf)
        mask &= k == k.min(axis=1, keepdims=True)
    return mask.argmax(axis=1)


class ReactiveHeuristic(Agent):
    """The shared admission rule; subclasses choose the victim."""

    name = "reactive"

    def victim(self, pm: np.ndarray, candidates: np.ndarray) -> np.ndarray:
        """Index of the model to evict per row, among ``candidates[B, N]``."""
        raise NotImplementedError

    def act(self, obs: np.ndarray) -> np.ndarray:
        n = n_models_of(obs.shape[-1])
        pm, g = split_observation(obs, n)
        cached = pm[..., F["cached"]] > 0.5
        req = pm[..., F["requests"]].astype(np.float64)
        fp = pm[..., F["footprint"]].astype(np.float64)
        free = g[:, G["free_memory"]].astype(np.float64)
        candidates = cached & (req == 0)
        room = free + (fp * candidates).sum(axis=1)
        wantable = ~cached & (req > 0) & (fp <= room[:, None] + _ROOM_TOL)
        score = np.where(wantable, req, -1.0)
        want = score.argmax(axis=1)
        rows = np.arange(len(obs))
        has_want = score[rows, want] > 0
        fits = pm[rows, want, F["footprint"]] <= g[:, G["free_memory"]]
        ops_left = g[:, G["ops_used"]] < 1.0
        actions = np.zeros(len(obs), dtype=np.int64)
        load = has_want & ops_left & fits
        actions[load] = want[load] + 1
        evict = has_want & ops_left & ~fits
        if evict.any():
            v = self.victim(pm[evict], candidates[evict])
            actions[evict] = n + 1 + v
        return actions


class LeastContext(ReactiveHeuristic):
    """LC, the source paper's policy: evict the model with the least Age of Context."""

    name = "lc"

    def victim(self, pm, candidates):
        return lex_argmin([pm[..., F["aoc"]], -pm[..., F["recency"]]], candidates)


class LeastRecentlyUsed(ReactiveHeuristic):
    name = "lru"

    def victim(self, pm, candidates):
        return lex_argmin([-pm[..., F["recency"]], pm[..., F["frequency"]]], candidates)


class LeastFrequentlyUsed(ReactiveHeuristic):
    name = "lfu"

    def victim(self, pm, candidates):
        return lex_argmin([pm[..., F["frequency"]], -pm[..., F["recency"]]], candidates)


class FirstInFirstOut(ReactiveHeuristic):
    name = "fifo"

    def victim(self, pm, candidates):
        return lex_argmin([-pm[..., F["age"]]], candidates)


class RandomVictim(ReactiveHeuristic):
    """Uniform victim; reproducible through :meth:`reset` (the evaluator passes the episode seed)."""

    name = "random"

    def __init__(self, seed: int | None = 0) -> None:
        self.rng = np.random.default_rng(seed)

    def reset(self, seed: int | None = None) -> None:
        self.rng = np.random.default_rng(seed)

    def victim(self, pm, candidates):
        return lex_argmin([self.rng.random(candidates.shape)], candidates)


class CloudOnly(Agent):
    """Never loads anything: every request goes to the cloud."""

    name = "cloud"

    def act(self, obs: np.ndarray) -> np.ndarray:
        return np.zeros(len(obs), dtype=np.int64)
