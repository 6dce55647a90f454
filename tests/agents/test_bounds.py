"""The DP lower bound: exact on tiny instances, never beaten by any agent, tractable."""

from __future__ import annotations

import itertools

import gymnasium as gym
import numpy as np
import pytest

import agents
from agents.bounds import MAX_MODELS, bound_slot_costs, lower_bound
from agents.exact import exact_optimum
from edge_cache_env.config import make_config
from edge_cache_env.simulator import CacheSimulator
from edge_cache_env.workload import SyntheticWorkload
from evaluation.engine import run_episode


def brute_force(config, requests) -> float:
    """Min over every sequence of memory-feasible cache sets of the same slot and load costs."""
    edge, cloud, load = bound_slot_costs(config, requests)
    sim = CacheSimulator(config)
    n = config.n_models
    sets = [np.array(b, dtype=bool) for b in itertools.product((0, 1), repeat=n)
            if np.dot(b, sim.mem_mb) <= sim.gpu_mb]
    best = np.inf
    for seq in itertools.product(range(len(sets)), repeat=config.n_slots):
        prev, cost = np.zeros(n, dtype=bool), 0.0
        for t, i in enumerate(seq):
            x = sets[i]
            cost += load[t][x & ~prev].sum() + np.where(x, edge[t], cloud[t]).sum()
            prev = x
        best = min(best, cost)
    return best


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_dp_equals_brute_force_on_tiny_instances(seed):
    cfg = make_config("small", n_slots=4, gpu_gb=35.0, requests_per_slot=6.0,
                      models=[m for m in make_config("small").models[:3]])
    requests = SyntheticWorkload(cfg).sample_episode(np.random.default_rng(seed))
    assert lower_bound(cfg, requests).cost == pytest.approx(brute_force(cfg, requests), rel=1e-12)


def test_the_cloud_part_is_exact():
    env = gym.make("EdgePFMCache-Small-v0")
    cost = run_episode(env, agents.make("cloud"), seed=3)["cost"]
    _, cloud, _ = bound_slot_costs(env.unwrapped.config, env.unwrapped.requests)
    assert cloud.sum() == pytest.approx(cost, rel=1e-9)


class RandomMasked:
    """Uniform over valid actions: visits states no heuristic does (reloads, early SERVE)."""

    def __init__(self) -> None:
        self.rng = np.random.default_rng(0)
        self.env = None

    def reset(self, seed):
        self.rng = np.random.default_rng(seed)

    def attach(self, env):
        self.env = env

    def predict(self, obs, deterministic=True):
        return self.rng.choice(np.flatnonzero(self.env.unwrapped.action_masks())), None


def test_no_agent_beats_the_bound_on_the_small_scenario():
    # Episodes of 120 slots (a third of the default) keep the test fast over many seeds.
    env = gym.make("EdgePFMCache-Small-v0", n_slots=120)
    players = {name: agents.make(name) for name in agents.AGENTS} | {"random_masked": RandomMasked()}
    for seed in range(16):
        env.reset(seed=seed)
        cfg, req = env.unwrapped.config, env.unwrapped.requests
        bound = lower_bound(cfg, req).cost
        assert lower_bound(cfg, req, accuracy="acc_max").cost <= bound + 1e-9
        for name, agent in players.items():
            cost = run_episode(env, agent, seed)["cost"]
            assert bound <= cost + 1e-6, f"{name} beat the bound on seed {seed}: {cost} < {bound}"


def test_the_bound_holds_when_context_is_worth_everything():
    # No decay, a large gain and accuracy weight: the accuracy bound is the one that matters.
    kwargs = dict(nu=1.0, model_overrides={"*": {"acc_gain": 0.1, "acc_max": 1.0}},
                  costs={"accuracy_per_miss": 50.0}, n_slots=60)
    env = gym.make("EdgePFMCache-Small-v0", **kwargs)
    for seed in range(4):
        env.reset(seed=seed)
        bound = lower_bound(env.unwrapped.config, env.unwrapped.requests).cost
        for name in ("lc", "lfu", "static", "clairvoyant"):
            assert bound <= run_episode(env, agents.make(name), seed)["cost"] + 1e-6, name


def test_the_default_scenario_is_tractable():
    env = gym.make("EdgePFMCache-v0")
    env.reset(seed=0)
    lb = lower_bound(env.unwrapped.config, env.unwrapped.requests)
    assert 0 < lb.cost and lb.feasible_sets > 10 and lb.seconds < 30


def test_too_many_models_is_a_clear_error():
    base = make_config("default").models[0]
    from dataclasses import replace

    models = [replace(base, name=f"m{i}", weights_gb=1.0, context_gb=0.1) for i in range(MAX_MODELS + 1)]
    cfg = make_config(None, models=models, n_slots=2)
    req = SyntheticWorkload(cfg).sample_episode(np.random.default_rng(0))
    with pytest.raises(ValueError, match="tractable up to"):
        lower_bound(cfg, req)


def test_the_plan_attains_the_bound_in_the_dp_cost_model():
    env = gym.make("EdgePFMCache-Small-v0", n_slots=60)
    for seed in range(3):
        env.reset(seed=seed)
        cfg, req = env.unwrapped.config, env.unwrapped.requests
        lb = lower_bound(cfg, req, plan=True, iterations=0)  # the set DP alone
        edge, cloud, load = bound_slot_costs(cfg, req)
        prev, cost = np.zeros(cfg.n_models, dtype=bool), 0.0
        for t, x in enumerate(lb.plan):
            assert CacheSimulator(cfg).mem_mb[x].sum() <= CacheSimulator(cfg).gpu_mb
            cost += load[t][x & ~prev].sum() + np.where(x, edge[t], cloud[t]).sum()
            prev = x
        assert cost == pytest.approx(lb.cost, rel=1e-12)
        assert lower_bound(cfg, req, iterations=0).cost == lb.cost


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_tightened_bound_stays_below_the_exact_optimum(seed):
    small = make_config("small").models
    for models, gpu_gb, n_slots, rate in ((small[:3], 35.0, 16, 6.0), (small[:4], 40.0, 10, 4.0)):
        cfg = make_config("small", models=list(models), gpu_gb=gpu_gb, n_slots=n_slots,
                          requests_per_slot=rate)
        req = SyntheticWorkload(cfg).sample_episode(np.random.default_rng(seed))
        exact = exact_optimum(cfg, req).cost
        plain = lower_bound(cfg, req, iterations=0).cost
        tight = lower_bound(cfg, req).cost  # tightened: a small catalog
        assert plain <= tight <= exact * (1 + 1e-9)


def test_tightening_raises_the_bound_on_the_small_scenario():
    env = gym.make("EdgePFMCache-Small-v0", n_slots=120)
    env.reset(seed=1)
    cfg, req = env.unwrapped.config, env.unwrapped.requests
    assert lower_bound(cfg, req).cost > 1.02 * lower_bound(cfg, req, iterations=0).cost


def test_no_agent_beats_the_bound_on_v1():
    """The capacity model (issue 16): the bound's edge cost is min(edge without queueing,
    cloud), with batched energy and a one-slot-delay accuracy bound; also under overload."""
    for kwargs in ({}, {"requests_per_slot": 12.0},
                   {"capacity": {"enabled": True, "gpu_throughput": 0.3}}):
        env = gym.make("EdgePFMCache-Small-v2", n_slots=60, **kwargs)
        players = {name: agents.make(name) for name in agents.AGENTS} | {"random_masked": RandomMasked()}
        for seed in range(3):
            env.reset(seed=seed)
            bound = lower_bound(env.unwrapped.config, env.unwrapped.requests).cost
            for name, agent in players.items():
                cost = run_episode(env, agent, seed)["cost"]
                assert bound <= cost + 1e-6, f"{name} beat the v1 bound ({kwargs}, seed {seed})"
