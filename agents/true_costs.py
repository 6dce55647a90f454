"""Exact per-model costs of an episode under the real Age-of-Context dynamics.

A model's context depends only on its own history: the simulator zeroes it at eviction, and
while the model is cached it collects every one of its requests (``served_at_edge`` is the
model's whole row). So the accuracy of model m in slot t is a function of the slot l in which
m was last loaded, and the episode cost of any sequence of cache sets is additive over models:

    cost = sum_m [ sum over runs [l, e) of m:  load[m] + sum_{t=l}^{e-1} edge[m, l, t]
                   + sum over slots m is not cached:  cloud[t, m] ]

``edge[m, l, t]`` is the true weighted cost of m's requests in slot t at the edge when m was
loaded in slot l (cold-start wait included when t == l). The tables are computed with the
simulator's own formulas (:mod:`edge_cache_env.costs` arrays, the :mod:`~edge_cache_env.context`
recurrence run for every load slot at once), so a plan's cost here equals the simulated cost to
rounding. A *plan* is ``loaded_at[t, m]``: the slot in which m was loaded if it is cached in slot
t, else -1 (:func:`plan_from_sets` turns cache sets into one).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import numpy as np

from edge_cache_env.config import EnvConfig
from edge_cache_env.context import AgeOfContext
from edge_cache_env.costs import ModelCosts, SlotCosts, weigh
from edge_cache_env.requests import EpisodeRequests


def is_exact_for(config: EnvConfig) -> bool:
    """The tables are exact for the v0 dynamics only. A GPU capacity model (the ``-v2`` ids'
    ``config.capacity.enabled``: shared GPU time, queues, offloading) couples the models' costs,
    so there the tables are an approximation: the tightened bound and the exact optimum refuse
    such configs and the planner scores its plans by replaying them in the env."""
    return not config.capacity.enabled


def simulate_plan(env: Any, loaded_at: np.ndarray) -> float:
    """The episode cost of following a plan in a copy of ``env`` (unwrapped, at slot 0): in each
    slot, evictions first, then loads, then SERVE, as the oracle plays it."""
    sim = copy.deepcopy(env.sim)
    for t, row in enumerate(loaded_at):
        for m in np.flatnonzero(sim.cached & (row != sim.loaded_at)):
            sim.evict(int(m))
        for m in np.flatnonzero((row == t) & ~sim.cached):
            sim.load(int(m))
        sim.serve()
    return float(sim.metrics["episode_cost"])


@dataclass(frozen=True)
class TrueCosts:
    edge: np.ndarray  # [N, T(load slot l), T(slot t)]; +inf where l > t
    edge_by_slot: np.ndarray  # the same, [N, T(slot t), T(load slot l)], contiguous
    cloud: np.ndarray  # [T, N]
    load: np.ndarray  # [N] switching cost of one LOAD
    mem_mb: np.ndarray  # [N] integer MB
    gpu_mb: int
    ops_limit: int  # LOAD/EVICT operations per slot

    @classmethod
    def of(cls, config: EnvConfig, requests: EpisodeRequests) -> TrueCosts:
        models = ModelCosts.of(config)
        c = SlotCosts.of(config, requests, models)
        w = config.costs
        n_slots, n = c.count.shape
        acc_sum = _edge_accuracy_sums(config, requests)  # [N, T(l), T(t)]
        energy_kj_per_s = config.server.gpu_power_w / 1000.0
        # Edge cost without accuracy, per slot and model; the cold wait only when t == l.
        base = sum(weigh(w, c.edge_compute_s, energy_kj_per_s * c.edge_compute_s, c.count, 0.0,
                         0.0))  # [T, N]
        # The accuracy actually reached (acc_sum) takes its share off the per-request misses.
        edge = base.T[:, None, :] + weigh(w, 0.0, 0.0, 0.0, acc_sum, 0.0)[2]
        idx = np.arange(n_slots)
        edge[:, idx, idx] += weigh(w, c.cold_wait_s.T, 0.0, 0.0, 0.0, 0.0)[0]
        edge[:, idx[:, None] > idx[None, :]] = np.inf
        cloud = sum(weigh(w, c.cloud_latency_s, 0.0, c.count, c.count * models.cloud_accuracy,
                          c.cloud_usd))
        return cls(edge=edge, edge_by_slot=np.ascontiguousarray(edge.transpose(0, 2, 1)),
                   cloud=cloud, load=models.load_cost.copy(), mem_mb=models.mem_mb,
                   gpu_mb=models.gpu_mb, ops_limit=config.ops_per_slot)

    @property
    def n_slots(self) -> int:
        return self.cloud.shape[0]

    @property
    def n_models(self) -> int:
        return self.cloud.shape[1]

    def plan_cost(self, loaded_at: np.ndarray) -> float:
        """True episode cost of a plan ``loaded_at[t, m]`` (see the module docstring)."""
        t_idx = np.arange(self.n_slots)[:, None]
        m_idx = np.arange(self.n_models)[None, :]
        cached = loaded_at >= 0
        edge = self.edge[m_idx, np.maximum(loaded_at, 0), t_idx]
        serve = np.where(cached, edge, self.cloud).sum()
        loads = (loaded_at == t_idx) & cached
        return float(serve + (loads * self.load[None, :]).sum())

    def check_plan(self, loaded_at: np.ndarray) -> None:
        """Raise ``ValueError`` unless the plan is executable: consistent load slots, memory
        within the GPU, operations within the per-slot limit (a reload counts two)."""
        t = np.arange(len(loaded_at))[:, None]
        prev = np.vstack([np.full((1, self.n_models), -1), loaded_at[:-1]])
        ok = (loaded_at == -1) | (loaded_at == t) | ((loaded_at == prev) & (prev >= 0))
        mem = (loaded_at >= 0) @ self.mem_mb
        ops = ((prev >= 0) & (loaded_at != prev)).sum(axis=1) + (loaded_at == t).sum(axis=1)
        for name, bad in (("load slots", ~ok.all(axis=1)), ("memory", mem > self.gpu_mb),
                          ("operations", ops > self.ops_limit)):
            if bad.any():
                s = int(np.argmax(bad))
                raise ValueError(f"plan slot {s}: {name} infeasible (load slots "
                                 f"{loaded_at[s].tolist()}, {mem[s]} MB of {self.gpu_mb}, "
                                 f"{ops[s]} operations of {self.ops_limit})")


def _edge_accuracy_sums(config: EnvConfig, requests: EpisodeRequests) -> np.ndarray:
    """``acc_sum[m, l, t]``: sum of the accuracies of m's requests in slot t at the edge, m loaded
    in slot l <= t and cached since. The simulator's recurrence, one context per load slot."""
    ctx = AgeOfContext(config)  # its constants; the state here is one mass per load slot
    count_task = requests.count_task.astype(np.float64)
    n_slots, n, k = count_task.shape
    mass = np.zeros((n_slots, n, k))  # mass[l]: the context of a model loaded in slot l
    out = np.zeros((n, n_slots, n_slots))
    for t in range(n_slots):
        live = mass[: t + 1]  # loads in slots 0..t; mass[t] is still empty (a fresh load)
        acc = ctx.accuracy_of(ctx.effective_of(live))
        out[:, : t + 1, t] = (acc * count_task[t]).sum(axis=2).T
        ctx.decay(live, count_task[t])
    return out


def plan_from_sets(sets: np.ndarray) -> np.ndarray:
    """``loaded_at[t, m]`` of a sequence of cache sets ``sets[t, m]`` (a model absent in t-1 and
    present in t is loaded in t)."""
    out = np.full(sets.shape, -1, dtype=np.int64)
    prev = np.full(sets.shape[1], -1, dtype=np.int64)
    for t, row in enumerate(sets):
        cur = np.where(row, np.where(prev >= 0, prev, t), -1)
        out[t], prev = cur, cur
    return out
