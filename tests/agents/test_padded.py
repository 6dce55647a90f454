"""PaddedAgent: agents of the unpadded catalog (those reading the scenario too) on the random env."""

from __future__ import annotations

import gymnasium as gym
import pytest

import agents
from agents.padded import PaddedAgent
from edge_cache_env.padding import unpad_observation
from evaluation.engine import run_episode


def _plain_episode_cost(env: gym.Env, name: str, seed: int) -> float:
    """The agent on the inner (unpadded) env of the random env's scenario for ``seed``."""
    obs, _ = env.reset(seed=seed)
    inner = env.unwrapped.inner
    agent = agents.make(name)
    agent.reset(seed)
    agent.attach(inner)
    o, done = unpad_observation(obs, inner.config.n_models), False
    while not done:
        o, _, terminated, truncated, info = inner.step(agent.predict(o)[0])
        done = terminated or truncated
    return info["episode_cost"]


def test_padded_agent_plays_the_random_env_as_on_its_scenario():
    env = gym.make("EdgePFMCache-Random-v0", n_slots=25)
    for name in ("clairvoyant", "lc"):
        padded = run_episode(env, PaddedAgent(agents.make(name)), 3)
        assert padded["invalid_actions"] == 0
        assert padded["cost"] == _plain_episode_cost(env, name, 3)




@pytest.mark.parametrize("name", ["cost_benefit", "cost_benefit_tuned", "static", "oracle"])
def test_an_agent_that_reads_the_scenario_says_how_to_play_a_padded_env(name):
    """In a plain loop on Random-v0 these failed with shape errors or a missing attribute;
    wrapped (as run_episode does) they play."""
    env = gym.make("EdgePFMCache-Random-v0", n_slots=20)
    env.reset(seed=0)
    with pytest.raises(TypeError, match=rf"{name} acts on one catalog's observation.*"
                                        r"PaddedAgent\(agent\)"):
        agents.make(name).attach(env)
    PaddedAgent(agents.make(name)).attach(env)
