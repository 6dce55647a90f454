"""True-cost tables, the exact optimum and the planner, checked against the simulator itself."""

from __future__ import annotations

import copy
import itertools

import gymnasium as gym
import numpy as np
import pytest

import agents
from agents import exact, planner
from agents.bounds import lower_bound
from agents.exact import MAX_STATES, exact_optimum, state_bound
from agents.planner import best_schedule, plan_episode, rollout_plan
from agents.true_costs import TrueCosts, plan_from_sets, simulate_plan
from edge_cache_env.actions import SERVE
from edge_cache_env.config import make_config
from edge_cache_env.simulator import CacheSimulator
from edge_cache_env.workload import SyntheticWorkload
from evaluation.engine import run_episode

SMALL = make_config("small").models


def tiny(n_models=3, n_slots=3, gpu_gb=35.0, seed=0, **kw):
    cfg = make_config("small", models=list(SMALL[:n_models]), n_slots=n_slots, gpu_gb=gpu_gb,
                      requests_per_slot=6.0, **kw)
    return cfg, SyntheticWorkload(cfg).sample_episode(np.random.default_rng(seed))


def simulator_brute_force(cfg, requests) -> float:
    """Min over every per-slot outcome (each model: out, loaded, kept, evicted, reloaded), played
    through deep copies of the real simulator: no cost table involved."""
    sim = CacheSimulator(cfg)
    sim.reset(requests)
    n = cfg.n_models
    best = np.inf

    def walk(s: CacheSimulator) -> None:
        nonlocal best
        if s.done:
            best = min(best, s.metrics["episode_cost"])
            return
        # Per model: 0 out, 1 in, 2 evict and reload (cached models only).
        for choice in itertools.product(*[range(3) if s.cached[m] else range(2) for m in range(n)]):
            nxt = copy.deepcopy(s)
            try:
                for m, c in enumerate(choice):  # evictions first, as the env's best order
                    if nxt.cached[m] and c != 1:
                        nxt.evict(m)
                for m, c in enumerate(choice):
                    if c == 2 or (c == 1 and not nxt.cached[m]):
                        nxt.load(m)
            except ValueError:  # memory or the operation limit
                continue
            nxt.serve()
            walk(nxt)

    walk(sim)
    return best


@pytest.mark.parametrize("seed", [0, 1])
def test_exact_equals_brute_force_over_the_simulator(seed):
    cfg, req = tiny(seed=seed, nu=1.0)
    assert exact_optimum(cfg, req).cost == pytest.approx(simulator_brute_force(cfg, req), rel=1e-9)


def test_exact_respects_the_operation_limit():
    cfg, req = tiny(n_slots=3, max_ops_per_slot=1, seed=2)
    ex = exact_optimum(cfg, req)
    TrueCosts.of(cfg, req).check_plan(ex.loaded_at)
    assert ex.cost == pytest.approx(simulator_brute_force(cfg, req), rel=1e-9)


def play(env, agent, seed):
    """Run an episode; return the simulated cost and the plan (load slots before each SERVE)."""
    obs, _ = env.reset(seed=seed)
    if hasattr(agent, "attach"):
        agent.attach(env)
    rows, done, info = [], False, {}
    while not done:
        a = int(np.asarray(agent.predict(obs[None])[0]).ravel()[0])
        if a == SERVE:
            rows.append(env.unwrapped.sim.loaded_at.copy())
        obs, _, _, done, info = env.step(a)
    return info["episode_cost"], np.array(rows)


@pytest.mark.parametrize("name", ["lc", "lfu", "oracle"])
def test_true_costs_price_a_trajectory_as_the_simulator_does(name):
    env = gym.make("EdgePFMCache-v0", n_slots=60, requests_per_slot=4.0)
    cost, plan = play(env, agents.make(name), seed=5)
    tc = TrueCosts.of(env.unwrapped.config, env.unwrapped.requests)
    tc.check_plan(plan)
    assert tc.plan_cost(plan) == pytest.approx(cost, rel=1e-10)


def test_exact_sits_between_the_bound_and_every_agent():
    env = gym.make("EdgePFMCache-Small-v0", models=list(SMALL[:3]), gpu_gb=30.0, n_slots=16,
                   requests_per_slot=4.0)
    players = {name: agents.make(name) for name in agents.AGENTS}
    for seed in range(2):
        env.reset(seed=seed)
        cfg, req = env.unwrapped.config, env.unwrapped.requests
        ex = exact_optimum(cfg, req)
        assert lower_bound(cfg, req).cost <= ex.cost + 1e-9
        for name, agent in players.items():
            assert ex.cost <= run_episode(env, agent, seed)["cost"] + 1e-9, name


def test_exact_plan_replays_to_its_cost_in_the_env():
    cfg, req = tiny(n_models=3, n_slots=8, gpu_gb=30.0, seed=3)
    ex = exact_optimum(cfg, req)
    sim = CacheSimulator(cfg)
    sim.reset(req)
    for row in ex.loaded_at:
        t = sim.t
        for m in range(cfg.n_models):
            if sim.cached[m] and row[m] != sim.loaded_at[m]:
                sim.evict(m)
        for m in range(cfg.n_models):
            if row[m] == t:
                sim.load(m)
        sim.serve()
    assert sim.metrics["episode_cost"] == pytest.approx(ex.cost, rel=1e-10)


def test_intractable_instances_are_a_clear_error():
    cfg = make_config("small", n_slots=200)
    assert state_bound(cfg) > MAX_STATES
    req = SyntheticWorkload(cfg).sample_episode(np.random.default_rng(0))
    with pytest.raises(ValueError, match="MAX_STATES"):
        exact_optimum(cfg, req)


def test_best_schedule_never_loses_and_respects_memory():
    env = gym.make("EdgePFMCache-v0", n_slots=80)
    env.reset(seed=7)
    tc = TrueCosts.of(env.unwrapped.config, env.unwrapped.requests)
    plan = plan_from_sets(lower_bound(env.unwrapped.config, env.unwrapped.requests, plan=True).plan)
    for m in range(tc.n_models):
        trial = plan.copy()
        trial[:, m] = best_schedule(tc, plan, m)
        tc.check_plan(trial)
        assert tc.plan_cost(trial) <= tc.plan_cost(plan) + 1e-9


def test_the_oracle_follows_its_plan_and_beats_its_starts():
    env = gym.make("EdgePFMCache-v0", n_slots=60)
    for seed in (1, 2):
        env.reset(seed=seed)
        planned = plan_episode(env.unwrapped)
        cost = run_episode(env, agents.make("oracle"), seed)["cost"]
        assert cost == pytest.approx(planned.cost, rel=1e-10)
        assert set(agents.ORACLE_STARTS) >= {"lc", "lru", "lfu", "fifo"}
        for name in agents.ORACLE_STARTS:
            assert cost <= run_episode(env, agents.make(name), seed)["cost"] + 1e-9, name
        env.reset(seed=seed)
        bound_plan = plan_episode(env.unwrapped, replans=0, passes=0, rollouts=())
        assert planned.cost <= bound_plan.cost + 1e-9


def test_the_oracle_does_not_need_the_set_dp_for_large_catalogs():
    base = make_config("default").models[0]
    from dataclasses import replace

    models = [replace(base, name=f"m{i}", weights_gb=1.0, context_gb=0.1) for i in range(14)]
    env = gym.make("EdgePFMCache-v0", models=models, gpu_gb=5.0, n_slots=20)
    env.reset(seed=0)
    planned = plan_episode(env.unwrapped)
    assert planned.cost == pytest.approx(run_episode(env, agents.make("oracle"), 0)["cost"], rel=1e-10)
    assert planned.cost <= run_episode(env, agents.make("lc"), 0)["cost"] + 1e-9


def test_reloads_are_moves_of_the_exact_search():
    # One op per slot forbids evict+reload; with two it is available: the optimum can only drop.
    cfg1, req = tiny(n_models=2, n_slots=6, gpu_gb=35.0, seed=4, max_ops_per_slot=1)
    cfg2 = make_config("small", models=list(SMALL[:2]), n_slots=6, gpu_gb=35.0,
                       requests_per_slot=6.0, max_ops_per_slot=2)
    assert exact_optimum(cfg2, req).cost <= exact_optimum(cfg1, req).cost + 1e-12


def test_replaying_a_plan_costs_what_the_tables_say():
    env = gym.make("EdgePFMCache-v0", n_slots=50)
    env.reset(seed=3)
    tc = TrueCosts.of(env.unwrapped.config, env.unwrapped.requests)
    for plan in (plan_episode(env.unwrapped).loaded_at, rollout_plan(env.unwrapped, agents.make("lru"))):
        assert simulate_plan(env.unwrapped, plan) == pytest.approx(tc.plan_cost(plan), rel=1e-10)


def test_without_exact_tables_the_planner_picks_by_replay(monkeypatch):
    # As under a capacity model: plans are scored by replaying them, never by the tables.
    monkeypatch.setattr(planner, "is_exact_for", lambda config: False)
    env = gym.make("EdgePFMCache-v0", n_slots=50)
    env.reset(seed=4)
    plan = planner.plan_episode(env.unwrapped, rollouts=(agents.AGENTS["lc"],))
    assert plan.cost == pytest.approx(simulate_plan(env.unwrapped, plan.loaded_at), rel=1e-12)
    assert plan.cost <= run_episode(env, agents.make("lc"), 4)["cost"] + 1e-9


def test_capacity_configs_are_refused_by_the_exact_search(monkeypatch):
    monkeypatch.setattr(exact, "is_exact_for", lambda config: False)
    cfg, req = tiny()
    with pytest.raises(ValueError, match="capacity"):
        exact.exact_optimum(cfg, req)
