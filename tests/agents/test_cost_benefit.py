"""cost_benefit on hand-built observations (admission, victims) and over short episodes."""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest
from obs_builder import build_observation

import agents
from agents.cost_benefit import CostBenefit, CostBenefitConfig, mean_log2_growth
from edge_cache_env.actions import SERVE, evict_action, load_action
from edge_cache_env.config import make_config

CONFIG = make_config("small")  # Llama-3.1-8B, Mistral-7B, Phi-3-mini, Gemma-2-9B, SDXL, Whisper; 40 GB
NAMES = [m.name for m in CONFIG.models]
N = len(NAMES)
FP = [m.mem_gb / CONFIG.server.gpu_gb for m in CONFIG.models]


def idx(name: str) -> int:
    return NAMES.index(name)


def make_obs(cached=(), requests=None, frequency=None, aoc=None, free=None, ops_used=0.0) -> np.ndarray:
    """Observation of the small catalog: ``cached`` names, per-name requests / EWMA rate / AoC share."""
    c = np.array([1.0 if n in cached else 0.0 for n in NAMES])
    return build_observation(
        N, cached=c, footprint=FP, requests=[(requests or {}).get(n, 0) for n in NAMES],
        frequency=[(frequency or {}).get(n, 0.0) for n in NAMES], aoc=[(aoc or {}).get(n, 0.0) for n in NAMES],
        free_memory=1.0 - float(c @ FP) if free is None else free, ops_used=ops_used)

def agent(**params) -> CostBenefit:
    return CostBenefit(CostBenefitConfig(**params), env_config=CONFIG)


def test_declines_a_load_its_expected_saving_cannot_pay():
    # Llama requested once, forecast 0.01 requests per slot: 0.3 requests over H=30 save less
    # than its load cost (~0.9) plus the cold wait; LC would load it.
    obs = make_obs(requests={"Llama-3.1-8B": 1}, frequency={"Llama-3.1-8B": 0.01})
    assert agent().predict(obs)[0] == SERVE
    assert agents.make("lc").predict(obs)[0] == load_action(idx("Llama-3.1-8B"))


def test_admits_a_hot_model_into_free_memory():
    obs = make_obs(requests={"Llama-3.1-8B": 3}, frequency={"Llama-3.1-8B": 2.0})
    assert agent().predict(obs)[0] == load_action(idx("Llama-3.1-8B"))


def test_evicts_the_lowest_value_per_gb_and_keeps_valuable_ones():
    # Full GPU: Mistral (hot, full context), SDXL (images: a cloud answer costs ~16 units),
    # Llama (almost idle). Hot Gemma is requested: Llama, the least value per GB, goes first.
    cached = ("Mistral-7B", "SDXL", "Llama-3.1-8B")
    obs = make_obs(cached=cached, requests={"Gemma-2-9B": 4},
                   frequency={"Gemma-2-9B": 3.0, "Mistral-7B": 1.0, "SDXL": 0.5, "Llama-3.1-8B": 0.02},
                   aoc={"Mistral-7B": 1.0, "SDXL": 0.5, "Llama-3.1-8B": 0.1}, free=0.0)
    assert agent().predict(obs)[0] == evict_action(idx("Llama-3.1-8B"), N)


def test_declines_when_the_victims_are_worth_more_than_the_newcomer():
    # Same full GPU, but every cached model is hot with a full context and Gemma is lukewarm.
    cached = ("Mistral-7B", "SDXL", "Llama-3.1-8B")
    obs = make_obs(cached=cached, requests={"Gemma-2-9B": 1},
                   frequency={"Gemma-2-9B": 0.3, "Mistral-7B": 1.0, "SDXL": 1.0, "Llama-3.1-8B": 1.0},
                   aoc={"Mistral-7B": 1.0, "SDXL": 1.0, "Llama-3.1-8B": 1.0}, free=0.0)
    assert agent().predict(obs)[0] == SERVE
    assert agents.make("lc").predict(obs)[0] != SERVE  # LC evicts for it


def test_no_operation_left_means_serve():
    obs = make_obs(requests={"Llama-3.1-8B": 3}, frequency={"Llama-3.1-8B": 2.0}, ops_used=1.0)
    assert agent().predict(obs)[0] == SERVE


def test_batched_predict_matches_one_by_one():
    rng = np.random.default_rng(0)
    rows = []
    for _ in range(48):
        cached = tuple(n for n in NAMES if rng.random() < 0.4)
        rows.append(make_obs(cached=cached,
                             requests={n: int(rng.integers(0, 3)) for n in NAMES},
                             frequency={n: float(rng.uniform(0, 2)) for n in NAMES},
                             aoc={n: float(rng.uniform(0, 1)) for n in NAMES if n in cached},
                             free=max(0.0, 1.0 - sum(FP[idx(n)] for n in cached))))
    batch = np.stack(rows)
    a = agent()
    actions, _ = a.predict(batch)
    assert actions.shape == (48,)
    assert list(actions) == [int(a.predict(o)[0]) for o in batch]
    assert len(set(actions.tolist())) > 2  # loads, evictions and serves were exercised


def test_needs_the_catalog_and_a_matching_observation():
    obs = make_obs()
    with pytest.raises(RuntimeError, match="attach"):
        CostBenefit().predict(obs)
    with pytest.raises(ValueError, match="observation of size 51, the attached scenario.s is 83 .10 models."):
        CostBenefit(env_config=make_config("default")).predict(obs)


@pytest.mark.parametrize("field, value", [("horizon_slots", 0.0), ("keep_weight", -1.0), ("margin", math.nan)])
def test_config_errors_name_the_field(field, value):
    with pytest.raises(ValueError, match=f"cost_benefit.{field}"):
        CostBenefitConfig(**{field: value})


def test_mean_log2_growth_is_the_average_of_log2():
    a, n = np.array([0.0, 5.0, 3.0]), np.array([40.0, 10.0, 0.0])
    numeric = [np.mean(np.log2(1 + np.linspace(ai, ai + ni, 100_001))) for ai, ni in zip(a, n)]
    assert np.allclose(mean_log2_growth(a, n), numeric, rtol=1e-4)


@pytest.mark.parametrize("env_id", ["EdgePFMCache-Small-v0", "EdgePFMCache-Large-v0"])
def test_valid_actions_only_and_it_loads_over_episodes(env_id):
    env = gym.make(env_id, n_slots=60)
    cb = agents.make("cost_benefit")
    for seed in (0, 1):
        obs, info = env.reset(seed=seed)
        cb.attach(env)
        done = False
        while not done:
            a = int(cb.predict(obs)[0])
            assert info["action_mask"][a], f"masked action {a} at slot {info['slot']}"
            obs, _, terminated, truncated, info = env.step(a)
            done = terminated or truncated
        assert info["invalid_actions"] == 0 and info["loads"] > 0
