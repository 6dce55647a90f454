"""Reactive caching heuristics: LC (the source paper's least context), LRU, LFU, FIFO, random.

They are pure functions of the observation (no access to the simulator), vectorised over a
batch, so they run inside vector envs too. One rule, different victims (docs/model.md section 13.1):

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

from collections.abc import Sequence
from typing import Any

import numpy as np

from agents.base import Agent
from edge_cache_env.actions import SERVE, evict_action, load_action
from edge_cache_env.observation import GLOBAL_FEATURE, MODEL_FEATURE, ObservationLayout

_ROOM_TOL = 1e-6  # share of the GPU; one MB of an 80 GB GPU is 1.25e-5


def resolve_layout(layout: ObservationLayout | None, size: int) -> ObservationLayout:
    """The layout learned at ``attach(env)`` if it matches ``size``; else the v0 layout of that
    size (agents used without attach, on v0 observations)."""
    if layout is not None and layout.size == size:
        return layout
    return ObservationLayout.from_size(size)


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
    """The shared admission rule; subclasses choose the victim.

    A victim rule is ``victim_keys``: ``(feature, sign)`` pairs, the victim minimising
    ``sign * feature`` lexicographically (ties: lowest index), or an override of both
    :meth:`victim` (batched numpy) and :meth:`victim_one` (one observation, plain Python).
    A single observation takes the plain-Python path: for ten models, a handful of list
    operations cost less than the numpy calls of the batched path, which matters inside
    env-speed benchmarks and evaluation loops. Both paths decide identically (tested).
    """

    name = "reactive"
    victim_keys: tuple[tuple[str, int], ...] = ()
    FAST_PATH_MAX_MODELS = 64

    def __init__(self) -> None:
        self._layouts: dict[int, tuple[int, dict[str, list[int]], dict[str, int]]] = {}
        self._batch_indices: dict[int, tuple[int, np.ndarray, int, int, np.ndarray]] = {}
        self.obs_layout: ObservationLayout | None = None

    def attach(self, env: Any) -> None:
        """Learn the observation layout from the env's config (v1 appends capacity features)."""
        self._set_layout(ObservationLayout.of(env.unwrapped.config))

    def _set_layout(self, layout: ObservationLayout) -> None:
        if layout != self.obs_layout:
            self.obs_layout = layout
            self._layouts = {}
            self._batch_indices = {}

    def _layout(self, size: int) -> tuple[int, dict[str, list[int]], dict[str, int]]:
        """Number of models and the flat index of every feature (whatever the obs layout)."""
        if size not in self._layouts:
            layout = resolve_layout(self.obs_layout, size)
            pm, g = layout.split(np.arange(size))
            self._layouts[size] = (layout.n_models,
                                   {f: pm[:, i].tolist() for f, i in MODEL_FEATURE.items()},
                                   {name: int(g[i]) for name, i in GLOBAL_FEATURE.items()})
        return self._layouts[size]

    def victim(self, pm: np.ndarray, candidates: np.ndarray) -> np.ndarray:
        """Index of the model to evict per row, among ``candidates[B, N]``."""
        return lex_argmin([sign * pm[..., MODEL_FEATURE[f]] for f, sign in self.victim_keys], candidates)

    def victim_one(self, col: dict[str, list[float]], candidates: list[int]) -> int:
        """The victim of one observation (``col[feature][m]``) among ``candidates``."""
        keys = [(col[f], sign) for f, sign in self.victim_keys]
        return min(candidates, key=lambda m: tuple(sign * v[m] for v, sign in keys))

    def act(self, obs: np.ndarray) -> np.ndarray:
        if len(obs) == 1:
            n, pos, gpos = self._layout(obs.shape[-1])
            if n <= self.FAST_PATH_MAX_MODELS:
                return np.array([self._act_one(obs[0].tolist(), n, pos, gpos)], dtype=np.int64)
        return self._act_batch(obs)

    def _act_one(self, flat: list[float], n: int, pos: dict[str, list[int]], gpos: dict[str, int]) -> int:
        if flat[gpos["ops_used"]] >= 1.0:
            return SERVE
        col = {f: [flat[i] for i in idx] for f, idx in pos.items()}
        cached, req, fp = col["cached"], col["requests"], col["footprint"]
        free = flat[gpos["free_memory"]]
        candidates = [m for m in range(n) if cached[m] > 0.5 and req[m] == 0]
        room = free + sum(fp[m] for m in candidates) + _ROOM_TOL
        want, best = -1, 0.0
        for m in range(n):
            if req[m] > best and cached[m] <= 0.5 and fp[m] <= room:
                want, best = m, req[m]
        if want < 0:
            return SERVE
        if fp[want] <= free:
            return load_action(want)
        return evict_action(self.victim_one(col, candidates), n)

    def _batch_index(self, size: int) -> tuple[int, np.ndarray, int, int, np.ndarray]:
        """``(N, [3, N] flat indices of cached / requests / footprint, free memory index, ops
        used index, [N, F] flat indices of the per-model rows)``: one fancy index gathers what
        the admission rule reads, another the per-model rows the victim rules read (cached
        per observation size)."""
        if size not in self._batch_indices:
            self._batch_indices[size] = self._build_batch_index(size)
        return self._batch_indices[size]

    def _build_batch_index(self, size: int) -> tuple[int, np.ndarray, int, int, np.ndarray]:
        n, pos, gpos = self._layout(size)
        cols = np.array([pos["cached"], pos["requests"], pos["footprint"]], dtype=np.intp)
        per_model, _ = resolve_layout(self.obs_layout, size).split(np.arange(size))
        return n, cols, gpos["free_memory"], gpos["ops_used"], np.ascontiguousarray(per_model)

    def _act_batch(self, obs: np.ndarray) -> np.ndarray:
        actions, evict, candidates = self._admit(obs)
        if evict.any():
            self._evict(obs, evict.nonzero()[0], candidates, actions)
        return actions

    def _admit(self, obs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The shared admission rule on a batch: ``(actions, evict, candidates)``: LOAD or
        SERVE per row, the rows that must EVICT (their victim still to choose) and the victim
        candidates ``[B, N]``. The same for every heuristic (the victim rule is apart)."""
        n, cols, i_free, i_ops, _ = self._batch_index(obs.shape[-1])
        sel = obs[:, cols]  # [B, 3, N]: cached, requests, footprint (float32, as observed)
        cached = sel[:, 0] > 0.5
        req = sel[:, 1]
        fp32 = sel[:, 2]
        fp = fp32.astype(np.float64)
        free32 = obs[:, i_free]
        candidates = cached & (req == 0)
        room = free32.astype(np.float64) + (fp * candidates).sum(axis=1)
        wantable = ~cached & (req > 0) & (fp <= room[:, None] + _ROOM_TOL)
        score = np.where(wantable, req, -1.0)
        want = score.argmax(axis=1)
        rows = np.arange(len(obs))
        has_want = score[rows, want] > 0
        fits = fp32[rows, want] <= free32
        ops_left = obs[:, i_ops] < 1.0
        actions = np.zeros(len(obs), dtype=np.int64)
        load = has_want & ops_left & fits
        actions[load] = load_action(want[load])
        return actions, has_want & ops_left & ~fits, candidates

    def _evict(self, obs: np.ndarray, rows: np.ndarray, candidates: np.ndarray,
               actions: np.ndarray) -> None:
        """EVICT actions of the rows ``rows`` of ``obs`` into ``actions``: the victim rule."""
        self._victim_rows = rows  # for victim rules with per-row state (gdsf, random)
        n, *_, per_model = self._batch_index(obs.shape[-1])
        pm = obs[rows[:, None, None], per_model]  # [b, N, F]: split()'s per-model rows
        actions[rows] = evict_action(self.victim(pm, candidates[rows]), n)


def fusable(agent: Any) -> bool:
    """Whether ``agent`` acts by the shared admission rule plus its victim rule alone (its
    batched actions can come from :class:`FusedHeuristics`)."""
    t = type(agent)
    return (isinstance(agent, ReactiveHeuristic) and t.act is ReactiveHeuristic.act
            and t._act_batch is ReactiveHeuristic._act_batch and t._admit is ReactiveHeuristic._admit)


class FusedHeuristics:
    """Several :func:`fusable` heuristics on the same layout acting together, agent i on rows
    ``slices[i]`` (contiguous, in order from row 0) of each batch of observations.

    :meth:`act` applies the admission rule once for all the rows, then the victims: one
    lexicographic argmin for every agent that ranks by ``victim_keys`` (each row by its agent's
    keys, precomputed per row; shorter key lists padded with a constant key, which changes no
    ranking), and each other agent's own victim rule on its rows. The same actions as each
    agent's ``predict`` on its rows (a single row's plain-Python path decides identically,
    tested).
    """

    def __init__(self, agents: list[ReactiveHeuristic], slices: list[slice]) -> None:
        if not agents or not all(fusable(a) for a in agents):
            raise ValueError("FusedHeuristics: every agent must be fusable (see fusable())")
        self.agents, self.slices = agents, slices
        rows = slices[-1].stop
        keyed = [type(a).victim is ReactiveHeuristic.victim for a in agents]
        depth = max((len(a.victim_keys) for a, k in zip(agents, keyed, strict=True) if k), default=0)
        self._keyed_row = np.zeros(rows, dtype=bool)
        self._feature = np.zeros((rows, depth), dtype=np.intp)
        self._sign = np.zeros((rows, depth), dtype=np.float32)  # 0: the constant padding key
        self._own: list[tuple[ReactiveHeuristic, slice]] = []
        for agent, sl, k in zip(agents, slices, keyed, strict=True):
            if not k:
                self._own.append((agent, sl))
                continue
            self._keyed_row[sl] = True
            for j, (f, sign) in enumerate(agent.victim_keys):
                self._feature[sl, j] = MODEL_FEATURE[f]
                self._sign[sl, j] = sign

    def act(self, obs: np.ndarray) -> np.ndarray:
        first = self.agents[0]
        actions, evict, candidates = first._admit(obs)
        for agent, sl in self._own:
            rows = evict[sl].nonzero()[0]
            if len(rows):
                agent._evict(obs[sl], rows, candidates[sl], actions[sl])  # a view: written in place
        rows = (evict & self._keyed_row).nonzero()[0]
        if len(rows):
            n, *_, per_model = first._batch_index(obs.shape[-1])
            pm = obs[rows[:, None, None], per_model]  # [b, N, F]
            at = np.arange(len(rows))
            feature, sign = self._feature[rows], self._sign[rows]
            victims = lex_argmin([sign[:, j, None] * pm[at, :, feature[:, j]]
                                  for j in range(feature.shape[1])], candidates[rows])
            actions[rows] = evict_action(victims, n)
        return actions


class LeastContext(ReactiveHeuristic):
    """LC, the source paper's policy: evict the model with the least Age of Context."""

    name = "lc"
    victim_keys = (("aoc", 1), ("recency", -1))


class LeastRecentlyUsed(ReactiveHeuristic):
    name = "lru"
    victim_keys = (("recency", -1), ("frequency", 1))


class LeastFrequentlyUsed(ReactiveHeuristic):
    name = "lfu"
    victim_keys = (("frequency", 1), ("recency", -1))


class FirstInFirstOut(ReactiveHeuristic):
    name = "fifo"
    victim_keys = (("age", -1),)


class RandomVictim(ReactiveHeuristic):
    """Uniform victim; reproducible through :meth:`reset` (the evaluator passes the episode seed)."""

    name = "random"

    def __init__(self, seed: int | None = 0) -> None:
        super().__init__()
        self.rng = np.random.default_rng(seed)
        self._row_rngs: list[np.random.Generator] | None = None  # one stream per batch row

    def reset(self, seed: int | None = None) -> None:
        self.rng = np.random.default_rng(seed)
        self._row_rngs = None

    def reset_batch(self, seeds: Sequence[int | None]) -> bool:
        """Row i draws from its own stream seeded ``seeds[i]``: the draws it would make alone."""
        self._row_rngs = [np.random.default_rng(s) for s in seeds]
        return True

    def victim(self, pm, candidates):
        if self._row_rngs is None:
            draws = self.rng.random(candidates.shape)
        else:  # each evicting row draws N from its own stream, as victim_one does
            n = candidates.shape[1]
            draws = np.stack([self._row_rngs[r].random(n) for r in self._victim_rows.tolist()])
        return lex_argmin([draws], candidates)

    def victim_one(self, col, candidates):
        rng = self.rng if self._row_rngs is None else self._row_rngs[0]
        draws = rng.random(len(col["cached"]))  # the batch path's draws for one row
        return min(candidates, key=lambda m: draws[m])


class CloudOnly(Agent):
    """Never loads anything: every request goes to the cloud."""

    name = "cloud"

    def act(self, obs: np.ndarray) -> np.ndarray:
        return np.zeros(len(obs), dtype=np.int64)
