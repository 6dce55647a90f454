"""The Gymnasium adapter: API checks, determinism, pickling, masks, reward, rendering."""

from __future__ import annotations

import json
import pickle
import warnings

import gymnasium as gym
import numpy as np
import pytest
from conftest import assert_check_env_clean
from hypothesis import given, settings
from hypothesis import strategies as st

import edge_cache_env
from edge_cache_env.costs import TERMS

CORE_IDS = ["EdgePFMCache-v0", "EdgePFMCache-Small-v0"]


def random_masked_rollout(env, seed, steps):
    rng = np.random.default_rng(seed)
    obs, info = env.reset(seed=seed)
    out = [(obs, 0.0, info)]
    for _ in range(steps):
        a = rng.choice(np.flatnonzero(info["action_mask"]))
        obs, reward, terminated, truncated, info = env.step(a)
        out.append((obs, reward, info))
        if terminated or truncated:
            obs, info = env.reset()
    return out


def assert_same(a, b):
    assert len(a) == len(b)
    for (o1, r1, i1), (o2, r2, i2) in zip(a, b):
        np.testing.assert_array_equal(o1, o2)
        assert r1 == r2
        assert i1.keys() == i2.keys()
        for k in i1:
            np.testing.assert_array_equal(i1[k], i2[k])


@pytest.mark.parametrize("env_id", CORE_IDS)
def test_gymnasium_check_env_without_warnings(env_id):
    assert_check_env_clean(env_id, n_slots=20)


@pytest.mark.parametrize("env_id", CORE_IDS)
def test_sb3_check_env_without_warnings(env_id):
    sb3_env_checker = pytest.importorskip("stable_baselines3.common.env_checker")
    env = gym.make(env_id, n_slots=20)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sb3_env_checker.check_env(env.unwrapped, warn=True)
    assert [str(w.message) for w in caught] == []


def test_registration_is_idempotent_and_specs_serialise():
    edge_cache_env.register_envs()
    edge_cache_env.register_envs()
    for env_id in edge_cache_env.ENV_IDS:
        spec_json = gym.spec(env_id).to_json()
        assert json.loads(spec_json)["id"] == env_id


def test_same_seed_same_rollout_different_seed_differs():
    a = random_masked_rollout(gym.make("EdgePFMCache-v0"), 7, 400)
    b = random_masked_rollout(gym.make("EdgePFMCache-v0"), 7, 400)
    assert_same(a, b)
    c = random_masked_rollout(gym.make("EdgePFMCache-v0"), 8, 400)
    assert any(not np.array_equal(x[0], y[0]) for x, y in zip(a, c))


def test_pickle_mid_episode_continues_identically():
    env = gym.make("EdgePFMCache-v0")
    random_masked_rollout(env, 3, 150)
    clone = pickle.loads(pickle.dumps(env))
    assert clone.unwrapped.sim.t == env.unwrapped.sim.t
    np.testing.assert_array_equal(clone.unwrapped.action_masks(), env.unwrapped.action_masks())
    rng1, rng2 = np.random.default_rng(11), np.random.default_rng(11)
    for _ in range(300):
        a1 = rng1.choice(np.flatnonzero(env.unwrapped.action_masks()))
        a2 = rng2.choice(np.flatnonzero(clone.unwrapped.action_masks()))
        assert a1 == a2
        s1, s2 = env.step(a1), clone.step(a2)
        np.testing.assert_array_equal(s1[0], s2[0])
        assert s1[1:4] == s2[1:4]
        if s1[3]:
            break


def test_mask_matches_effect_exhaustively():
    """From a state with some models cached, every action: masked-in acts as named,
    masked-out acts as SERVE plus the penalty."""
    base = gym.make("EdgePFMCache-Small-v0", n_slots=10, invalid_action_penalty=3.0).unwrapped
    base.reset(seed=5)
    base.step(1)  # LOAD model 0
    base.step(3)  # LOAD model 2
    n = base.n_models
    mask = base.action_masks()
    assert mask[0] and mask[1 + n] and mask[3 + n]  # SERVE, EVICT 0, EVICT 2
    assert not mask[1] and not mask[3] and not mask[2 + n]
    for a in range(2 * n + 1):
        env = pickle.loads(pickle.dumps(base))
        sim = env.sim
        cached, t = sim.cached.copy(), sim.t
        _, reward, _, _, info = env.step(a)
        if a == 0 or not mask[a]:
            assert sim.t == t + 1, f"action {a} should serve the slot"
            assert info["cost_invalid"] == (0.0 if a == 0 else 3.0)
            assert info["invalid_actions"] == (0 if a == 0 else 1)
        elif a <= n:
            assert sim.t == t and sim.cached[a - 1] and not cached[a - 1]
            assert info["cost_switch"] > 0
        else:
            assert sim.t == t and not sim.cached[a - n - 1] and cached[a - n - 1]
            assert info["cost_total"] == 0.0
        assert reward == pytest.approx(-info["cost_total"] / env.config.reward_scale)


def test_ops_limit_masks_everything_but_serve():
    env = gym.make("EdgePFMCache-Small-v0", max_ops_per_slot=1).unwrapped
    env.reset(seed=0)
    env.step(1)
    mask = env.action_masks()
    assert mask[0] and not mask[1:].any()
    assert env.observation_space.contains(env._obs.buffer[0])


def test_full_episode_info_keys_reward_and_bounds():
    env = gym.make("EdgePFMCache-v0")
    rng = np.random.default_rng(0)
    obs, info = env.reset(seed=0)
    keys = set(info)
    total_reward, steps, truncated = 0.0, 0, False
    while not truncated:
        a = rng.choice(np.flatnonzero(info["action_mask"]))
        obs, reward, terminated, truncated, info = env.step(a)
        assert not terminated and set(info) == keys
        assert env.observation_space.contains(obs)
        assert info["cost_total"] == pytest.approx(sum(info[f"cost_{k}"] for k in TERMS))
        assert reward == pytest.approx(-info["cost_total"] / env.unwrapped.config.reward_scale)
        total_reward += reward
        steps += 1
    assert info["slot"] == env.unwrapped.config.n_slots
    assert -total_reward * env.unwrapped.config.reward_scale == pytest.approx(info["episode_cost"])
    assert info["requests"] == env.unwrapped.requests.n_requests
    assert info["edge_hits"] + info["cloud_requests"] == info["requests"]
    with pytest.raises(RuntimeError, match="reset"):
        env.step(0)


def test_render_ansi_shows_memory_and_models():
    env = gym.make("EdgePFMCache-Small-v0", render_mode="ansi")
    env.reset(seed=0)
    env.step(1)
    frame = env.render()
    assert "GPU [" in frame and "Llama-3.1-8B" in frame and "yes" in frame
    with pytest.raises(ValueError, match="render_mode"), pytest.warns(UserWarning, match="depth_array"):
        gym.make("EdgePFMCache-v0", render_mode="depth_array")  # gymnasium warns, the env refuses


def test_bad_actions_are_rejected_clearly():
    env = gym.make("EdgePFMCache-Small-v0")
    env.reset(seed=0)
    with pytest.raises(ValueError, match="outside Discrete"):
        env.unwrapped.step(99)


@settings(max_examples=25, deadline=None)
@given(actions=st.lists(st.integers(min_value=0, max_value=12), min_size=1, max_size=200),
       seed=st.integers(0, 2**16))
def test_reward_is_the_sum_of_the_cost_terms_for_any_actions(actions, seed):
    """Any action sequence, masked-out ones included: the info's cost terms add up to
    -reward * reward_scale, the running total to the episode's cost, and obs stay in bounds."""
    env = gym.make("EdgePFMCache-Small-v0", n_slots=15).unwrapped
    env.reset(seed=seed)
    scale = env.config.reward_scale
    total = 0.0
    for a in actions:
        was_valid = bool(env.action_masks()[a])
        invalid_before = env.sim.metrics["invalid_actions"]
        obs, reward, _, truncated, info = env.step(a)
        assert sum(info[f"cost_{k}"] for k in TERMS) == pytest.approx(-reward * scale, abs=1e-9)
        assert info["invalid_actions"] == invalid_before + (0 if was_valid else 1)
        assert env.observation_space.contains(obs)
        total += -reward * scale
        assert info["episode_cost"] == pytest.approx(total)
        if truncated:
            break
