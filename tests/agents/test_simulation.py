"""Choosing by simulation: the seeds, the trace split, side-by-side episodes, the paired test."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import agents
import edge_cache_env  # noqa: F401  (registers the ids)
from agents.simulation import TUNING_SEEDS, choose, paired_savings, side_by_side_costs, tuning_config
from edge_cache_env.config import make_config
from evaluation.engine import run_episode
from evaluation.seeds import (
    BENCHMARK_SEEDS,
    EVAL_SEED_BASE,
    MAX_ENVS,
    MAX_EVAL_EPISODES,
    TRAIN_SEED_BASE,
    check_training_seeds,
)


def test_tuning_seeds_are_outside_the_benchmark_evaluation_and_training_ranges():
    for s in TUNING_SEEDS:
        assert s not in BENCHMARK_SEEDS
        assert not EVAL_SEED_BASE <= s < EVAL_SEED_BASE + MAX_EVAL_EPISODES
    # The one run seed whose training block holds them is refused; its neighbours are not.
    holding = {(s - TRAIN_SEED_BASE) // MAX_ENVS for s in TUNING_SEEDS}
    assert holding == {800}
    with pytest.raises(ValueError, match="seed = 800 is invalid: its training seeds"):
        check_training_seeds(800, 8)
    check_training_seeds(799, 8)
    check_training_seeds(801, 8)


def test_side_by_side_costs_are_each_actors_single_env_episodes():
    """Two actors, one of them reading the masks, in one vector env: their rows are paired with
    single-env episodes on the same seeds (v1: the capacity model on)."""
    env = gym.make("EdgePFMCache-Small-v2", n_slots=40)
    cfg = env.unwrapped.config
    seeds = (900_000, 900_001, 900_002)
    cb = agents.make("cost_benefit")
    cb.attach(env)
    rng = np.random.default_rng(0)

    def first_valid_load(obs: np.ndarray, masks: np.ndarray) -> np.ndarray:
        loads = masks[:, 1:1 + cfg.n_models]  # LOAD actions come right after SERVE
        return np.where(loads.any(axis=1), 1 + loads.argmax(axis=1), 0) * (rng.random(len(obs)) < 0.1)

    got = side_by_side_costs(cfg, [lambda obs, _m: cb.act(obs), lambda obs, m: cb.act(obs)], seeds)
    want = [run_episode(env, agents.make("cost_benefit"), s)["cost"] for s in seeds]
    np.testing.assert_allclose(got, [want, want], rtol=1e-12)
    mixed = side_by_side_costs(cfg, [lambda obs, _m: cb.act(obs), first_valid_load], seeds)
    np.testing.assert_allclose(mixed[0], want, rtol=1e-12)
    assert not np.allclose(mixed[1], want)  # the other actor played its own episodes


def test_choose_takes_a_setting_only_if_its_paired_saving_is_significant():
    default = np.array([10.0, 20.0, 30.0, 40.0])
    steady = default - 1.0  # saves 1 on every episode: significant
    lucky = default + np.array([-9.0, 8.0, -9.0, 8.0])  # saves more on average, by luck
    assert choose(np.stack([default, lucky])) == 0
    assert choose(np.stack([default, steady, lucky])) == 1
    bigger = default - np.array([2.0, 2.5, 2.0, 2.5])
    assert choose(np.stack([default, steady, bigger])) == 2  # the largest significant saving
    assert choose(np.stack([default, default + 1.0])) == 0  # worse: the default


def test_trace_scenarios_are_simulated_on_the_train_split():
    test_cfg = gym.make("EdgePFMCache-Azure-v2", split="test").unwrapped.config
    assert tuning_config(test_cfg).workload.split == "train"
    synthetic = make_config("default")
    assert tuning_config(synthetic) is synthetic


def test_paired_savings_are_the_mean_and_standard_error_of_the_differences():
    costs = np.array([[10.0, 20.0, 30.0], [9.0, 18.0, 30.0]])
    mean, se = paired_savings(costs)
    np.testing.assert_allclose(mean, [0.0, 1.0])
    np.testing.assert_allclose(se, [0.0, np.std([1.0, 2.0, 0.0], ddof=1) / np.sqrt(3)])
    assert np.isinf(paired_savings(costs[:, :1])[1]).all()  # one episode: no error estimate
