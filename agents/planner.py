"""The oracle's planner: a sequence of cache sets for a known episode, judged by its TRUE cost.

Starts: the lower bound's DP plan (optimal for the bound's optimistic accuracy) and the cache
trajectories of reactive rules (``rollouts``; :data:`ROLLOUTS` by default, every reactive rule of
the registry for the registered ``oracle``) played on the episode. Every start is a candidate as
is; the best few (by true cost) are

1. improved by coordinate descent (:func:`improve`): for one model at a time, the others'
   schedule fixed, an exact DP over "not cached / cached since slot l" finds that model's best
   schedule under the true AoC, the memory the others leave and the per-slot operation limit;
2. the best is re-planned (up to ``replans`` rounds, while it helps): the DP over cache sets
   of :mod:`agents.bounds`, run with the accuracy the current plan really produces (where it
   caches m in slot t: the context since its load slot; where it does not: the context m would
   have had, had its previous run been kept),
   then improved again; kept only if its true cost is lower.

Every candidate is scored exactly with :class:`~agents.true_costs.TrueCosts` (the simulator's
cost of following the plan, to rounding) and no step raises the true cost, so the plan returned
is at least as good as every start, including the reactive rules' own episodes. Heuristic
search, not an optimum: :mod:`agents.exact` gives the optimum on small instances. Where the
tables are not exact (a GPU capacity model: :func:`~agents.true_costs.is_exact_for`), every
candidate is scored by replaying it in a copy of the env instead, and the cheapest is returned.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from agents.bounds import MAX_PLAN_MODELS, bound_slot_costs, set_dp
from agents.heuristics import LeastContext, LeastFrequentlyUsed
from agents.true_costs import TrueCosts, is_exact_for, plan_from_sets, simulate_plan
from edge_cache_env.costs import ModelCosts

ROLLOUTS = (LeastContext, LeastFrequentlyUsed)


@dataclass(frozen=True)
class Plan:
    loaded_at: np.ndarray  # [T, N]: load slot of each cached model, -1 if not cached
    cost: float  # true episode cost of following it
    source: str  # the candidate it came from


def plan_episode(env: Any, replans: int = 1, passes: int = 2,
                 rollouts: Sequence[Callable[[], Any]] = ROLLOUTS, improve_top: int = 2) -> Plan:
    """The best plan found for the episode ``env`` (an unwrapped env just after reset) plays.

    ``rollouts``: factories of the reactive agents whose episodes are starts. Every executable
    start is a candidate as is; the ``improve_top`` best of them are improved.
    """
    config, requests = env.config, env.requests
    tc = TrueCosts.of(config, requests)
    models = ModelCosts.of(config)
    edge_ub, cloud, load = bound_slot_costs(config, requests)
    starts: dict[str, np.ndarray] = {}
    use_dp = config.n_models <= MAX_PLAN_MODELS  # the DP keeps T x 2^N values
    if use_dp:
        _, sets, _ = set_dp(edge_ub, cloud, load, models, plan=True)
        starts["bound_dp"] = plan_from_sets(sets)
    for make_agent in rollouts:
        agent = make_agent()
        starts[agent.name] = rollout_plan(env, agent)
    ranked = sorted((tc.plan_cost(p), name) for name, p in starts.items()
                    if _executable(tc, p))  # e.g. the bound's plan over a tight max_ops_per_slot
    if not ranked:
        raise ValueError("planner: no executable start (pass rollouts)")
    candidates = [Plan(starts[name], cost, name) for cost, name in ranked]
    best = candidates[0]
    for _, name in ranked[:improve_top]:
        plan = improve(tc, starts[name], passes)
        candidates.append(Plan(plan, tc.plan_cost(plan), f"{name}+improved"))
        if candidates[-1].cost < best.cost:
            best = candidates[-1]
    for r in range(replans if use_dp else 0):  # re-plan the best with its own accuracy
        _, sets, _ = set_dp(_edge_under(tc, best.loaded_at, load), cloud, load, models, plan=True)
        trial = plan_from_sets(sets)
        if not _executable(tc, trial):
            break
        trial = improve(tc, trial, passes)
        cost = tc.plan_cost(trial)
        if cost >= best.cost:
            break
        best = Plan(trial, cost, f"{best.source}+replan{r + 1}")
        candidates.append(best)
    if not is_exact_for(config):
        # The tables only approximate these dynamics: pick by the cost of replaying each plan
        # (a rollout start replays to the rule's own cost, so none of them is beaten).
        return min((Plan(p.loaded_at, simulate_plan(env, p.loaded_at), p.source) for p in candidates),
                   key=lambda p: p.cost)
    return best


def _executable(tc: TrueCosts, plan: np.ndarray) -> bool:
    try:
        tc.check_plan(plan)
    except ValueError:
        return False
    return True


def _edge_under(tc: TrueCosts, plan: np.ndarray, load: np.ndarray) -> np.ndarray:
    """Per slot and model, the edge cost (cold wait excluded: ``load`` carries it) with the
    context the plan gives: since its load slot where cached, else since the previous run's."""
    n_slots, n = plan.shape
    t_idx = np.arange(n_slots)
    anchor = np.where(plan >= 0, plan, -1)
    anchor = np.maximum.accumulate(anchor, axis=0).clip(min=0)  # latest load slot so far
    edge = tc.edge[np.arange(n)[None, :], anchor, t_idx[:, None]]
    # tc.edge includes the cold wait on its diagonal; the set DP charges it with the load.
    cold = (anchor == t_idx[:, None]) * (load - tc.load[None, :])
    return edge - cold


def rollout_plan(env: Any, agent: Any) -> np.ndarray:
    """The cache trajectory (``loaded_at`` in each slot as served) of ``agent`` played on a copy
    of ``env`` (an unwrapped env at the start of its episode), as the evaluator plays it."""
    sim_env = copy.deepcopy(env)
    sim = sim_env.sim
    if hasattr(agent, "attach"):
        agent.attach(sim_env)
    masked = "action_masks" in inspect.signature(agent.predict).parameters
    rows = []
    obs = sim_env._obs.full()[0].copy()
    while not sim.done:
        kw = {"action_masks": sim_env.action_masks()} if masked else {}
        a = int(np.asarray(agent.predict(obs[None], deterministic=True, **kw)[0]).ravel()[0])
        before, t = sim.loaded_at.copy(), sim.t
        obs = sim_env.step(a)[0]
        if sim.t > t:  # SERVE, or an invalid action served as SERVE
            rows.append(before)
    return np.array(rows)


def improve(tc: TrueCosts, plan: np.ndarray, passes: int) -> np.ndarray:
    """Coordinate descent over models with :func:`best_schedule`; never raises the true cost."""
    plan = plan.copy()
    cost = tc.plan_cost(plan)
    for _ in range(passes):
        improved = False
        for m in range(tc.n_models):
            trial = plan.copy()
            trial[:, m] = best_schedule(tc, plan, m)
            c = tc.plan_cost(trial)
            if c < cost - 1e-9:
                plan, cost, improved = trial, c, True
        if not improved:
            break
    return plan


def _ops(plan: np.ndarray) -> np.ndarray:
    """Operations per slot: loads plus evictions (no reloads in the planner's plans)."""
    prev = np.vstack([np.full((1, plan.shape[1]), -1), plan[:-1]])
    return ((plan >= 0) & (plan != prev)).sum(axis=1) + ((prev >= 0) & (plan < 0)).sum(axis=1)


def best_schedule(tc: TrueCosts, plan: np.ndarray, m: int) -> np.ndarray:
    """Model m's best column ``loaded_at[:, m]`` with every other model's schedule fixed.

    States per slot: not cached, or cached since slot l. Model m fits in slot t iff the others
    leave ``mem_mb[m]``; its load or eviction needs an operation the others leave free.
    """
    n_slots = tc.n_slots
    others = plan.copy()
    others[:, m] = -1
    used = (others >= 0) @ tc.mem_mb
    fits = used + tc.mem_mb[m] <= tc.gpu_mb
    op_free = _ops(others) < tc.ops_limit
    edge, cloud, load = tc.edge_by_slot[m], tc.cloud[:, m].tolist(), tc.load[m]
    v_out, v_in = 0.0, np.full(n_slots, np.inf)  # v_in[l]: cached since l (l < t so far)
    from_in = np.full(n_slots, -1)  # slot t out: the run evicted at t (-1: was out already)
    fits_l, op_l = fits.tolist(), op_free.tolist()
    for t in range(n_slots):
        out = v_out
        if t and op_l[t]:
            best_l = int(v_in[:t].argmin())
            if v_in[best_l] < out:
                out, from_in[t] = float(v_in[best_l]), best_l
        if fits_l[t]:
            v_in[:t] += edge[t, :t]
            if op_l[t]:
                v_in[t] = v_out + load + edge[t, t]
        else:
            v_in[: t + 1] = np.inf
        v_out = out + cloud[t]
    col = np.full(n_slots, -1)
    best_l = int(np.argmin(v_in))
    state = best_l if v_in[best_l] < v_out else -1
    for t in range(n_slots - 1, -1, -1):
        if state >= 0:
            col[t] = state
            if t == state:
                state = -1  # loaded in t from "not cached"
        elif from_in[t] >= 0:
            state = int(from_in[t])
    return col
