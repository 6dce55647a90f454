"""EdgePFMCache-Random-v0 and padding: seeded draws, drawn values in info, validated ranges,
check_env, padding round trips, heuristics on padded observations."""

from __future__ import annotations

import json

import gymnasium as gym
import numpy as np
import pytest

import agents
from edge_cache_env.actions import SERVE, evict_action, load_action
from edge_cache_env.env import EdgePFMCacheEnv
from edge_cache_env.observation import observation_size
from edge_cache_env.padding import (
    PAD_MODELS,
    PadModels,
    V0Observation,
    pad_action,
    pad_mask,
    pad_observation,
    present_models,
    unpad_action,
    unpad_actions,
    unpad_observation,
)
from edge_cache_env.randomized import ScenarioRanges, draw_scenario
from evaluation.engine import run_episode
from tests.conftest import assert_check_env_clean

RANDOM = "EdgePFMCache-Random-v0"


def _rollout(env, seed, agent, steps=200):
    obs, info = env.reset(seed=seed)
    trace = [obs.copy()]
    for _ in range(steps):
        a = agent.predict(obs)[0]
        obs, reward, terminated, truncated, _ = env.step(a)
        trace.append(np.float32(reward))
        if terminated or truncated:
            break
    return info, trace


def test_same_seed_same_scenario_and_episode():
    env_a, env_b = gym.make(RANDOM, n_slots=30), gym.make(RANDOM, n_slots=30)
    info_a, trace_a = _rollout(env_a, 7, agents.make("lc"))
    info_b, trace_b = _rollout(env_b, 7, agents.make("lc"))
    assert info_a["scenario"] == info_b["scenario"]
    assert all(np.array_equal(x, y) for x, y in zip(trace_a, trace_b, strict=True))
    info_c, _ = _rollout(env_a, 8, agents.make("lc"))
    assert info_c["scenario"] != info_a["scenario"]


def test_info_holds_the_drawn_values_as_json_and_they_are_the_config():
    env = gym.make(RANDOM, n_slots=20)
    sizes = set()
    for seed in range(12):
        _, info = env.reset(seed=seed)
        sc = json.loads(json.dumps(info["scenario"]))  # plain JSON
        cfg = env.unwrapped.config
        assert sc["n_models"] == cfg.n_models == len(sc["models"])
        assert [m.name for m in cfg.models] == sc["models"]
        assert cfg.server.gpu_gb == sc["gpu_gb"] and 40 <= sc["gpu_gb"] <= 160
        assert cfg.workload.requests_per_slot == sc["requests_per_slot"]
        assert 0.5 <= sc["requests_per_slot"] <= 8
        assert cfg.aoc.nu == sc["nu"] and cfg.aoc.rho == sc["rho"]
        assert 4 <= sc["n_models"] <= 10
        assert cfg.n_slots == 20  # a fixed override
        sizes.add(sc["n_models"])
    assert len(sizes) > 1


def test_draw_respects_narrow_ranges():
    ranges = ScenarioRanges.from_mapping({"gpu_gb": [60, 60], "n_models": [5, 5], "nu": [0.99, 0.99]})
    sc = draw_scenario(ranges, np.random.default_rng(3))
    assert sc.gpu_gb == 60 and len(sc.models) == 5 and sc.nu == 0.99


@pytest.mark.parametrize(("ranges", "field"), [
    ({"gpu_gb": [100, 40]}, "gpu_gb"),
    ({"nu": [0.9, 1.2]}, "nu"),
    ({"requests_per_slot": [0, 2]}, "requests_per_slot"),
    ({"n_models": [4, 99]}, "n_models"),
    ({"n_models": [2.5, 4]}, "n_models"),
    ({"rho": 0.5}, "rho"),
    ({"catalogs": ["nope"]}, "catalogs"),
    ({"n_models": [4, 32]}, "n_models"),  # the default pool has 10: was capped silently
])
def test_bad_range_names_the_field(ranges, field):
    with pytest.raises(ValueError, match=f"ranges.{field}"):
        gym.make(RANDOM, ranges=ranges)


def test_unknown_range_key_and_drawn_override_are_errors():
    with pytest.raises(TypeError, match="gpu_size"):
        gym.make(RANDOM, ranges={"gpu_size": [40, 80]})
    with pytest.raises(TypeError, match="gpu_gb"):
        gym.make(RANDOM, gpu_gb=80)
    with pytest.raises(ValueError, match="n_max"):
        gym.make(RANDOM, n_max=6)
    # A drawn field in its section's form: it replaced the draw while info["scenario"] still
    # reported the drawn value.
    for section in ({"server": {"gpu_gb": 100}}, {"aoc": {"nu": 0.5}},
                    {"workload": {"requests_per_slot": 50.0}}):
        (key, inner), = section.items()
        with pytest.raises(TypeError, match=rf"\['{key}\.{next(iter(inner))}'\] are drawn"):
            gym.make(RANDOM, **section)
    with pytest.raises(TypeError, match=r"ranges = \[1, 2\] is invalid: must be a mapping"):
        gym.make(RANDOM, ranges=[1, 2])
    # A fixed field in section form is taken; a numpy integer n_max too.
    env = gym.make(RANDOM, server={"load_gbps": 8.0}, n_max=np.int64(12))
    env.reset(seed=0)
    assert env.unwrapped.config.server.load_gbps == 8.0 and env.unwrapped.n_max == 12


def test_check_env_clean():
    assert_check_env_clean(RANDOM, n_slots=20)


def test_spaces_are_padded_and_absent_models_masked():
    env = gym.make(RANDOM, n_slots=20)
    assert env.observation_space.shape == (observation_size(PAD_MODELS),)
    assert env.action_space.n == 2 * PAD_MODELS + 1
    obs, info = env.reset(seed=1)
    n = info["scenario"]["n_models"]
    present = present_models(obs)
    assert present[:n].all() and not present[n:].any()
    mask = env.unwrapped.action_masks()
    assert np.array_equal(mask, info["action_mask"])
    assert not mask[load_action(np.arange(n, PAD_MODELS))].any()
    assert not mask[evict_action(np.arange(n, PAD_MODELS), PAD_MODELS)].any()


def test_action_on_absent_model_is_an_invalid_operation():
    env = gym.make(RANDOM, n_slots=20, ranges={"n_models": [4, 4]})
    env.reset(seed=0)
    _, _, _, _, info = env.step(load_action(20))
    assert info["invalid_actions"] == 1 and info["slot"] == 1  # served as SERVE, plus the penalty


def test_padding_round_trip():
    rng = np.random.default_rng(0)
    n, n_max = 6, 11
    obs = rng.random((3, observation_size(n))).astype(np.float32)
    padded = pad_observation(obs, n_max)
    assert padded.shape == (3, observation_size(n_max))
    assert np.array_equal(unpad_observation(padded, n), obs)
    mask = rng.random((3, 2 * n + 1)) > 0.5
    pmask = pad_mask(mask, n_max)
    for a in range(2 * n + 1):
        pa = pad_action(a, n, n_max)
        assert unpad_action(pa, n, n_max) == a
        assert (pmask[:, pa] == mask[:, a]).all()
    assert unpad_action(load_action(n), n, n_max) is None
    assert unpad_action(evict_action(n_max - 1, n_max), n, n_max) is None
    every = np.arange(2 * n_max + 1)
    expected = [unpad_action(a, n, n_max) for a in every]
    assert unpad_actions(every, n, n_max).tolist() == [SERVE if e is None else e for e in expected]
    with pytest.raises(ValueError, match="cannot pad"):
        pad_observation(obs, 4)


def test_pad_wrapper_matches_the_plain_env():
    plain = gym.make("EdgePFMCache-Small-v0", n_slots=30)
    padded = PadModels(gym.make("EdgePFMCache-Small-v0", n_slots=30), 16)
    lc = agents.make("lc")
    o1, _ = plain.reset(seed=4)
    o2, _ = padded.reset(seed=4)
    done = False
    while not done:
        assert np.array_equal(pad_observation(o1, 16), o2)
        assert np.array_equal(pad_mask(plain.unwrapped.action_masks(), 16), padded.action_masks())
        a = lc.predict(o1)[0]
        assert lc.predict(o2)[0] == pad_action(a, 6, 16)  # LC acts alike on the padded obs
        o1, r1, t1, tr1, _ = plain.step(a)
        o2, r2, _, tr2, _ = padded.step(pad_action(a, 6, 16))
        assert r1 == r2 and tr1 == tr2
        done = t1 or tr1


@pytest.mark.parametrize("name", ["lc", "lru", "lfu", "fifo", "random"])
def test_heuristics_act_validly_on_padded_observations(name):
    env = gym.make(RANDOM, n_slots=25)
    agent = agents.make(name)
    for seed in (0, 1):
        obs, info = env.reset(seed=seed)
        agent.reset(seed)
        done = False
        while not done:
            a = int(agent.predict(obs)[0])
            assert env.unwrapped.action_masks()[a]
            obs, _, terminated, truncated, info = env.step(a)
            done = terminated or truncated
        assert info["invalid_actions"] == 0


CAPACITY = {"enabled": True, "gpu_throughput": 1.0}  # v1's values


def test_capacity_scenarios_have_v1_dynamics_behind_the_padded_v0_block():
    assert_check_env_clean(RANDOM, n_max=10, n_slots=40, capacity=CAPACITY)
    env = gym.make(RANDOM, n_max=10, n_slots=40, capacity=CAPACITY)
    env.reset(seed=100_002)
    config = env.unwrapped.config
    assert config.capacity.enabled
    n, v0 = config.n_models, observation_size(config.n_models)
    # The random env's view of a scenario, against the plain v1 env of the same config.
    view = PadModels(V0Observation(EdgePFMCacheEnv(config=config)), 10)
    plain = EdgePFMCacheEnv(config=config)
    o_view, _ = view.reset(seed=5)
    o_plain, _ = plain.reset(seed=5)
    assert o_plain.shape[-1] > v0 and o_view.shape == (observation_size(10),)
    lc = agents.make("lc")
    done = False
    while not done:
        assert np.array_equal(o_view, pad_observation(o_plain[:v0], 10))
        assert np.array_equal(view.action_masks(), pad_mask(plain.action_masks(), 10))
        a = int(lc.predict(o_plain[:v0])[0])
        o_plain, r1, _, tr1, info = plain.step(a)
        o_view, r2, _, _, _ = view.step(pad_action(a, n, 10))
        assert r1 == r2
        done = tr1
    assert "gpu_busy_s" in info  # v1's dynamics and metrics
    out = run_episode(env, agents.make("cost_benefit"), 100_002)  # the rule reads the v0 block
    assert out["invalid_actions"] == 0


def test_cost_benefit_reads_the_v0_block_of_a_v1_observation_alike():
    env = gym.make("EdgePFMCache-v2", n_slots=40, requests_per_slot=6.0)
    obs, _ = env.reset(seed=3)
    cb = agents.make("cost_benefit")
    cb.attach(env)
    v0 = observation_size(env.unwrapped.config.n_models)
    done = False
    while not done:
        a = cb.predict(obs)[0]
        assert cb.predict(obs[:v0])[0] == a
        obs, _, terminated, truncated, _ = env.step(a)
        done = terminated or truncated
    with pytest.raises(ValueError, match="observation of size"):
        cb.predict(obs[:v0 - 1])
