"""Reference agents (static, clairvoyant), the trained-agent route, and mask passing."""

from __future__ import annotations

from types import SimpleNamespace

import gymnasium as gym
import numpy as np
import pytest

import agents
from agents.reference import Clairvoyant, best_static_set
from edge_cache_env.observation import GLOBAL_FEATURE, MODEL_FEATURE, observation_size, split_observation
from evaluation.engine import run_episode


def test_best_static_set_maximises_requests_within_memory():
    counts = np.array([10, 9, 8, 1])
    mem = np.array([60, 30, 30, 10])
    # {1, 2, 3} (18 requests, 70 MB) beats {0, 3} (11) and {0} alone; {0, 1} does not fit.
    assert best_static_set(counts, mem, 80).tolist() == [False, True, True, True]
    # Ties on requests: the smaller set wins.
    assert best_static_set(np.array([5, 5, 0]), np.array([10, 10, 50]), 60).tolist() == [True, True, False]


def test_clairvoyant_evicts_the_model_requested_furthest_in_the_future():
    n = 4
    agent = Clairvoyant()
    # bound by hand: only the next-request table is read (no episode: nothing to re-plan)
    agent.env, agent.n_slots = SimpleNamespace(requests=None), 10
    agent.next_request = np.array([[10, 3, 7, 0]] * 10)  # model 0 never again, 2 at slot 7
    obs = np.zeros(observation_size(n), dtype=np.float32)
    pm, g = split_observation(obs, n)
    pm[:, MODEL_FEATURE["cached"]] = [1, 1, 1, 0]
    pm[:, MODEL_FEATURE["footprint"]] = [0.3, 0.3, 0.3, 0.3]
    pm[:, MODEL_FEATURE["requests"]] = [0, 0, 0, 0.5]  # model 3 wanted; 0, 1, 2 idle
    g[GLOBAL_FEATURE["free_memory"]] = 0.1
    assert agent.predict(obs)[0] == n + 1 + 0
    agent.next_request = np.array([[4, 3, 7, 0]] * 10)
    assert agent.predict(obs)[0] == n + 1 + 2


def test_trained_specs_route_to_load_trained(monkeypatch):
    import agents.trained

    calls = []
    monkeypatch.setattr(agents.trained, "load_trained", lambda algo, path: calls.append((algo, path)) or "model")
    assert agents.make("maskable_ppo:runs/a/best_model.zip") == "model"
    assert calls == [("maskable_ppo", "runs/a/best_model.zip")]


class FirstValidOperation:
    """Takes the first valid LOAD/EVICT it is given a mask for: fails without the mask."""

    def __init__(self) -> None:
        self.masks_seen = 0

    def predict(self, obs, state=None, episode_start=None, deterministic=True, action_masks=None):
        assert action_masks is not None
        self.masks_seen += 1
        ops = np.flatnonzero(action_masks[1:]) + 1
        loads = ops[ops <= (len(action_masks) - 1) // 2]
        return (int(loads[0]) if len(loads) and self.masks_seen % 3 else 0), state


def test_the_evaluator_passes_masks_to_agents_that_take_them():
    env = gym.make("EdgePFMCache-Small-v0", n_slots=30)
    agent = FirstValidOperation()
    out = run_episode(env, agent, seed=0)
    assert agent.masks_seen == out["steps"] and out["invalid_actions"] == 0 and out["loads"] > 0


@pytest.mark.parametrize("name", ["static", "clairvoyant", "oracle"])
def test_reference_agents_never_play_a_stale_episode(name):
    """After reset(seed) without a new attach(), a reference agent re-plans for the new episode."""
    env = gym.make("EdgePFMCache-Small-v0", n_slots=40)
    fresh = run_episode(env, agents.make(name), seed=7)["cost"]
    agent = agents.make(name)
    env.reset(seed=3)
    agent.attach(env)  # attached to episode 3 ...
    obs, _ = env.reset(seed=7)  # ... but the env now plays episode 7
    done = False
    while not done:
        obs, _, term, trunc, info = env.step(int(agent.predict(obs)[0]))
        done = term or trunc
    assert info["episode_cost"] == pytest.approx(fresh)


def test_attaching_again_in_the_same_episode_keeps_the_plan(monkeypatch):
    """Per-step attach (the warm start's teacher loop) must not re-plan every step; a reset must."""
    import gymnasium as gym

    import agents.reference as reference

    calls = []
    real = reference.plan_episode
    monkeypatch.setattr(reference, "plan_episode", lambda env, **kw: calls.append(1) or real(env, **kw))
    env = gym.make("EdgePFMCache-Small-v0", n_slots=20)
    oracle = reference.Oracle()
    env.reset(seed=0)
    for _ in range(3):
        oracle.attach(env)
    assert len(calls) == 1
    env.reset(seed=1)
    oracle.attach(env)
    assert len(calls) == 2
