"""GDSF: victims by least H = L + F * C / S, inflation L, per-row state in a batch."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
from obs_builder import build_observation

import agents
from agents.gdsf import GreedyDualSizeFrequency
from edge_cache_env.actions import evict_action

N = 4


def make_obs(cached, footprint, requests, frequency, load_time, free, progress=0.5) -> np.ndarray:
    return build_observation(N, cached=cached, footprint=footprint, requests=requests, frequency=frequency,
                             load_time=load_time, free_memory=free, progress=progress)

def test_victim_is_the_least_frequency_times_cost_per_size_and_inflation_follows_it():
    # All three cached models requested once (H = 0 + F * C / S), then model 3 wants room.
    # F * C / S: model 0: 1 * 1 / 0.3 = 3.3; model 1: 2 * 1 / 0.3 = 6.7; model 2: 1 * 0.2 / 0.3
    # = 0.67 (cheap to reload: the victim, although as frequent as model 0).
    fp, lt = [0.3, 0.3, 0.3, 0.3], [0.5, 0.5, 1 / 6, 0.5]  # load_s / slot_s: 1, 1, 0.2, 1
    agent = GreedyDualSizeFrequency()
    warm = make_obs([1, 1, 1, 0], fp, [1, 1, 1, 0], [1, 2, 1, 0], lt, free=0.1)
    agent.predict(warm)
    h = agent.priority[0].copy()
    assert np.allclose(h[:3], [1 / 0.3, 2 / 0.3, 0.2 / 0.3], rtol=1e-4)
    need = make_obs([1, 1, 1, 0], fp, [0, 0, 0, 3], [1, 2, 1, 3], lt, free=0.1)
    assert agent.predict(need)[0] == evict_action(2, N)
    assert np.isclose(agent.inflation[0], h[2])  # L rises to the victim's H
    # Model 3 loads and is requested: its H starts from the inflated L.
    loaded = make_obs([1, 1, 0, 1], fp, [0, 0, 0, 3], [1, 2, 1, 3], lt, free=0.1)
    agent.predict(loaded)
    assert np.isclose(agent.priority[0, 3], h[2] + 3 * 1 / 0.3, rtol=1e-4)
    # reset() (a new episode) clears L and H.
    agent.reset(1)
    assert agent.inflation.size == 0


def test_a_fresh_episode_observation_resets_its_row():
    agent = GreedyDualSizeFrequency()
    fp, lt = [0.3] * 4, [0.5] * 4
    agent.predict(make_obs([1, 1, 1, 0], fp, [0, 0, 0, 3], [1, 2, 1, 3], lt, free=0.1))
    agent.inflation[:] = 7.0
    agent.predict(make_obs([0, 0, 0, 0], fp, [1, 0, 0, 0], [1, 0, 0, 0], lt, free=1.0, progress=0.0))
    assert agent.inflation[0] == 0.0


def test_batched_rows_keep_their_own_state_and_match_single_agents():
    env_ids = [("EdgePFMCache-Small-v0", 3), ("EdgePFMCache-Small-v0", 8)]
    envs = [gym.make(e, n_slots=60) for e, _ in env_ids]
    singles = [agents.make("gdsf") for _ in envs]
    batched = agents.make("gdsf")
    obs = [env.reset(seed=s)[0] for env, (_, s) in zip(envs, env_ids)]
    done = [False, False]
    evictions = 0
    while not all(done):
        actions, _ = batched.predict(np.stack(obs))
        for i, env in enumerate(envs):
            if done[i]:
                continue
            a = int(singles[i].predict(obs[i])[0])
            assert a == int(actions[i])
            evictions += a > env.unwrapped.n_models
            obs[i], _, term, trunc, info = env.step(a)
            assert info["invalid_actions"] == 0
            done[i] = term or trunc
        if any(done) and not all(done):
            break  # rows are in lockstep only while both episodes run
    assert evictions > 0
