"""cost_benefit_tuned: the grid setting of least simulated cost, on its own seeds, per scenario."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import agents
import edge_cache_env  # noqa: F401  (registers the ids)
from agents import tuned
from agents.cost_benefit import CostBenefit, CostBenefitConfig
from agents.simulation import TUNING_SEEDS, choose
from agents.tuned import TunedCostBenefit, episode_costs
from edge_cache_env.config import make_config
from evaluation.engine import run_episode

SHORT = {"n_slots": 40, "requests_per_slot": 6.0}
GRID = (CostBenefitConfig(), CostBenefitConfig(horizon_slots=2.0, keep_weight=1.0),
        CostBenefitConfig(horizon_slots=40.0, keep_weight=0.5))


def test_episode_costs_are_the_single_env_episodes_of_each_setting():
    cfg = make_config("default", **SHORT)
    seeds = (900_000, 900_001)
    got = episode_costs(cfg, GRID, seeds)
    env = gym.make("EdgePFMCache-v0", **SHORT)
    want = [[run_episode(env, CostBenefit(p), s)["cost"] for s in seeds] for p in GRID]
    np.testing.assert_allclose(got, want, rtol=1e-12)
    assert len(set(np.round(got.mean(axis=1), 6))) > 1  # the settings differ here


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
    with pytest.raises(ValueError, match="unknown grid '0.1'; valid: 0.3, 0.2"):
        TunedCostBenefit(grid="0.1")


def test_named_grids_keep_the_published_settings():
    """``grid="0.2"`` is the 36 settings of 0.2.0 (the shipped generalist's demonstrator), the
    default the 96 of 0.3.0, which holds every one of them but the keep weight 5."""
    assert TunedCostBenefit(grid="0.2").grid == tuned.GRID_0_2 and len(tuned.GRID_0_2) == 36
    assert TunedCostBenefit().grid == tuned.GRID == TunedCostBenefit(grid="0.3").grid
    assert len(tuned.GRID) == 96 and len(set(tuned.GRID)) == 96
    assert {p for p in tuned.GRID_0_2 if p.keep_weight != 5.0} <= set(tuned.GRID)
    assert max(p.margin for p in tuned.GRID) == 100.0 and max(p.keep_weight for p in tuned.GRID) == 30.0
