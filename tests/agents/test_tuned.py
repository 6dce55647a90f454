"""cost_benefit_tuned: the grid setting of least simulated cost, on its own seeds, per scenario."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import agents
import edge_cache_env  # noqa: F401  (registers the ids)
from agents import tuned
from agents.cost_benefit import CostBenefit, CostBenefitConfig
from agents.tuned import TUNING_SEEDS, TunedCostBenefit, choose, episode_costs, tuning_config
from edge_cache_env.config import make_config
from evaluation.engine import run_episode
from evaluation.seeds import BENCHMARK_SEEDS, EVAL_SEED_BASE, MAX_EVAL_EPISODES, TRAIN_SEED_BASE

SHORT = {"n_slots": 40, "requests_per_slot": 6.0}
GRID = (CostBenefitConfig(), CostBenefitConfig(horizon_slots=2.0, keep_weight=1.0),
        CostBenefitConfig(horizon_slots=40.0, keep_weight=0.5))


def test_tuning_seeds_are_outside_the_benchmark_evaluation_and_training_ranges():
    for s in TUNING_SEEDS:
        assert s not in BENCHMARK_SEEDS
        assert not EVAL_SEED_BASE <= s < EVAL_SEED_BASE + MAX_EVAL_EPISODES
        assert s >= TRAIN_SEED_BASE + 1_000 * 500  # beyond the blocks of run seeds 0..499


def test_episode_costs_are_the_single_env_episodes_of_each_setting():
    cfg = make_config("default", **SHORT)
    seeds = (900_000, 900_001)
    got = episode_costs(cfg, GRID, seeds)
    env = gym.make("EdgePFMCache-v0", **SHORT)
    want = [[run_episode(env, CostBenefit(p), s)["cost"] for s in seeds] for p in GRID]
    np.testing.assert_allclose(got, want, rtol=1e-12)
    assert len(set(np.round(got.mean(axis=1), 6))) > 1  # the settings differ here


def test_choose_takes_a_setting_only_if_its_paired_saving_is_significant():
    default = np.array([10.0, 20.0, 30.0, 40.0])
    steady = default - 1.0  # saves 1 on every episode: significant
    lucky = default + np.array([-9.0, 8.0, -9.0, 8.0])  # saves more on average, by luck
    assert choose(np.stack([default, lucky])) == 0
    assert choose(np.stack([default, steady, lucky])) == 1
    bigger = default - np.array([2.0, 2.5, 2.0, 2.5])
    assert choose(np.stack([default, steady, bigger])) == 2  # the largest significant saving
    assert choose(np.stack([default, default + 1.0])) == 0  # worse: the default


def test_attach_chooses_the_least_cost_setting_once_per_scenario(monkeypatch):
    cfg = make_config("default", **SHORT)
    want = GRID[choose(episode_costs(cfg, GRID, TUNING_SEEDS[:3]))]
    calls = []
    real = tuned.episode_costs
    monkeypatch.setattr(tuned, "episode_costs", lambda *a: calls.append(a) or real(*a))
    agent = TunedCostBenefit(grid=GRID, seeds=TUNING_SEEDS[:3])
    env = gym.make("EdgePFMCache-v0", **SHORT)
    first = run_episode(env, agent, 3)
    assert agent.params == want and len(calls) == 1
    again = run_episode(env, agent, 3)  # same scenario: no new tuning, same episode
    assert len(calls) == 1 and again["cost"] == first["cost"]
    plain = run_episode(env, CostBenefit(want), 3)
    assert first["cost"] == plain["cost"]  # it plays the rule with the chosen setting
    other = gym.make("EdgePFMCache-v0", **SHORT)  # another env of an equal config: no new tuning
    run_episode(other, agent, 4)
    assert len(calls) == 1


def test_trace_scenarios_are_tuned_on_the_train_split():
    test_cfg = gym.make("EdgePFMCache-Azure-v1", split="test").unwrapped.config
    assert tuning_config(test_cfg).workload.split == "train"
    synthetic = make_config("default")
    assert tuning_config(synthetic) is synthetic


def test_plays_the_random_env_through_its_scenarios():
    env = gym.make("EdgePFMCache-Random-v0", n_max=10, n_slots=30)
    agent = TunedCostBenefit(grid=GRID[:2], seeds=TUNING_SEEDS[:2])
    out = run_episode(env, agent, 10_000)
    assert out["invalid_actions"] == 0 and agent.params in GRID[:2]


def test_errors_name_what_is_wrong():
    with pytest.raises(RuntimeError, match="attach"):
        TunedCostBenefit().act(np.zeros((1, 10), dtype=np.float32))
    with pytest.raises(ValueError, match="grid"):
        TunedCostBenefit(grid=())
    with pytest.raises(ValueError, match="seeds"):
        TunedCostBenefit(seeds=(900_000,))
    with pytest.raises(ValueError, match="default"):
        TunedCostBenefit(grid=GRID[1:])
    assert isinstance(agents.make("cost_benefit_tuned"), TunedCostBenefit)
