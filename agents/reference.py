"""Reference policies that read the realised request sequence: ``static``, ``clairvoyant``
and ``oracle``.

They are yardsticks, not deployable policies. All follow the predict protocol, but must be
bound to the env whose episode they play: call ``agent.attach(env)`` after every
``env.reset(seed=...)`` (``evaluate.py`` does). They read ``env.unwrapped.requests`` (the
episode's :class:`~edge_cache_env.workload.EpisodeRequests`) and the catalog's footprints from
``env.unwrapped.config``; the current slot comes from the observation's progress feature.
A batch must hold the observation of that one env.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from agents.base import Agent
from agents.heuristics import ReactiveHeuristic, lex_argmin, resolve_layout
from agents.padded import refuse_padded
from agents.planner import ROLLOUTS, plan_episode
from edge_cache_env.actions import SERVE, evict_action, load_action
from edge_cache_env.costs import ModelCosts
from edge_cache_env.observation import GLOBAL_FEATURE, MODEL_FEATURE, ObservationLayout

EXHAUSTIVE_MAX_MODELS = 16  # 2^16 subsets; beyond that, greedy by requests per MB


class _BoundAgent(Agent):
    def __init__(self) -> None:
        self.env: Any = None
        self._episode: Any = None  # the EpisodeRequests the agent planned for
        self.obs_layout: ObservationLayout | None = None

    def attach(self, env: Any) -> None:
        if not isinstance(self, ReactiveHeuristic):  # clairvoyant reads padded rows as LC does
            refuse_padded(env, self)
        env = env.unwrapped
        if env is self.env and env.requests is self._episode:
            return  # same env, same episode: keep the plan (attaching again must not re-plan)
        self.env = env
        layout = ObservationLayout.of(env.config)
        if isinstance(self, ReactiveHeuristic):
            self._set_layout(layout)
        else:
            self.obs_layout = layout
        self.n_slots = env.config.n_slots
        models = ModelCosts.of(env.config)
        self.mem_mb, self.gpu_mb = models.mem_mb, models.gpu_mb
        self._episode = env.requests
        self.on_attach(env.requests)

    def on_attach(self, requests: Any) -> None:
        """Precompute what the policy needs from the episode's requests."""

    def _check(self, obs: np.ndarray) -> None:
        if self.env is None:
            raise RuntimeError(f"{self.name} reads the future: call agent.attach(env) after env.reset()")
        if len(obs) != 1:
            raise ValueError(f"{self.name} is bound to one env; got a batch of {len(obs)} observations")
        if self.env.requests is not self._episode:
            # The env was reset since attach(): plan for the episode it plays now, never follow
            # a stale one.
            self.attach(self.env)

    def slot_of(self, g: np.ndarray) -> int:
        """Current slot from the (float32) progress feature t / n_slots."""
        return min(int(round(float(g[GLOBAL_FEATURE["progress"]]) * self.n_slots)), self.n_slots - 1)


def best_static_set(counts: np.ndarray, mem_mb: np.ndarray, gpu_mb: int) -> np.ndarray:
    """Memory-feasible set with the most requests (ties: least memory); boolean mask."""
    n = len(counts)
    if n <= EXHAUSTIVE_MAX_MODELS:
        bits = np.array(list(itertools.product((0, 1), repeat=n)), dtype=bool)
        mem = bits @ mem_mb
        hits = np.where(mem <= gpu_mb, bits @ counts, -1)
        best = np.flatnonzero(hits == hits.max())
        return bits[best[np.argmin(mem[best])]]
    order = np.argsort(-counts / mem_mb, kind="stable")
    chosen, used = np.zeros(n, dtype=bool), 0
    for m in order:
        if counts[m] > 0 and used + mem_mb[m] <= gpu_mb:
            chosen[m], used = True, used + mem_mb[m]
    return chosen


class _TargetFollower(_BoundAgent):
    """Moves the cache towards a target set each slot: evictions first (they free the memory
    the loads need), then loads that fit, then SERVE."""

    def target(self, slot: int) -> np.ndarray:
        """Boolean mask of the models to hold in ``slot``."""
        raise NotImplementedError

    def act(self, obs: np.ndarray) -> np.ndarray:
        self._check(obs)
        layout = resolve_layout(self.obs_layout, obs.shape[-1])
        n = layout.n_models
        pm, g = layout.split(obs[0])
        if g[GLOBAL_FEATURE["ops_used"]] >= 1.0:
            return np.array([SERVE])
        target = self.target(self.slot_of(g))
        cached = pm[:, MODEL_FEATURE["cached"]] > 0.5
        drop = cached & ~target
        if drop.any():
            return np.array([evict_action(int(np.argmax(drop)), n)])
        add = target & ~cached & (pm[:, MODEL_FEATURE["footprint"]] <= g[GLOBAL_FEATURE["free_memory"]])
        if add.any():
            return np.array([load_action(int(np.argmax(add)))])
        return np.array([SERVE])


class StaticBest(_TargetFollower):
    """Loads, in the first slot, the memory-feasible set serving the most requests of the
    episode (long-run popularity of the realised sequence), then never changes it."""

    name = "static"

    def on_attach(self, requests: Any) -> None:
        self.static_set = best_static_set(requests.count.sum(axis=0), self.mem_mb, self.gpu_mb)

    def target(self, slot: int) -> np.ndarray:
        return self.static_set


class Clairvoyant(_BoundAgent, ReactiveHeuristic):
    """Belady-style: the reactive admission rule, evicting the candidate whose next request is
    furthest in the future (ties: the larger footprint, which frees more memory)."""

    name = "clairvoyant"

    def __init__(self) -> None:
        _BoundAgent.__init__(self)
        ReactiveHeuristic.__init__(self)

    def on_attach(self, requests: Any) -> None:
        self.next_request = requests.next_request_slot()
        self._t = 0

    def act(self, obs: np.ndarray) -> np.ndarray:
        self._check(obs)
        self._t = self.slot_of(resolve_layout(self.obs_layout, obs.shape[-1]).split(obs[0])[1])
        return ReactiveHeuristic.act(self, obs)

    def victim(self, pm: np.ndarray, candidates: np.ndarray) -> np.ndarray:
        nxt = self.next_request[self._t][None, :].astype(np.float64)
        return lex_argmin([-nxt, -pm[..., MODEL_FEATURE["footprint"]]], candidates)

    def victim_one(self, col: dict[str, list[float]], candidates: list[int]) -> int:
        nxt, fp = self.next_request[self._t].tolist(), col["footprint"]
        return min(candidates, key=lambda m: (-nxt[m], -fp[m]))


class Oracle(_TargetFollower):
    """Follows the best plan of :func:`agents.planner.plan_episode`: in each slot, evict what the
    plan drops, then load what it adds, then SERVE. The planner starts from the lower bound's DP
    plan and from reactive rules' episodes (``rollouts``; ``agents.AGENTS["oracle"]`` passes every
    reactive rule of the registry, ``agents.ORACLE_STARTS``), improves the best few by exact per-model
    re-optimisation under the true Age of Context and by re-planning the cache-set DP with the
    accuracy the plan really produces, and keeps the plan of least TRUE cost (the simulator's).
    So the oracle never does worse than the rules it starts from; it is a strong achievable
    reference that knows the future, not the optimum (``agents/exact.py`` computes that on
    small instances). Beyond ``agents.bounds.MAX_PLAN_MODELS`` models the DP parts are skipped
    and only the rollouts are improved: played directly it still acts there, but the benchmark
    does not run it (``evaluation.engine.not_applicable``), as it is then no longer the
    reference the tables describe."""

    name = "oracle"

    def __init__(self, rollouts: Sequence[Callable[[], Any]] = ROLLOUTS) -> None:
        super().__init__()
        self.rollouts = tuple(rollouts)  # reactive rules whose episodes seed the planner

    def on_attach(self, requests: Any) -> None:
        self.plan = plan_episode(self.env, rollouts=self.rollouts).loaded_at >= 0

    def target(self, slot: int) -> np.ndarray:
        return self.plan[slot]
