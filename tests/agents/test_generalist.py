"""The generalist agent's check: it plays its learned policy on a scenario only if that beats the
rule on simulated episodes of the scenario (agents/generalist.py, agents/simulation.py)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from generalists import gated_generalist, set_policy_agent

import agents
import edge_cache_env  # noqa: F401  (registers the ids)
from agents import generalist
from agents.simulation import TUNING_SEEDS
from agents.trained import PRETRAINED_DIR
from evaluation.engine import run_episode

SHORT = {"n_slots": 40}
SEEDS = TUNING_SEEDS[:3]


def test_verify_is_on_for_advised_policies_and_asks_for_one(tmp_path):
    assert gated_generalist(tmp_path).verify
    assert not gated_generalist(tmp_path, verify=False).verify
    assert set_policy_agent(tmp_path).verify  # advised, no gate
    assert not set_policy_agent(tmp_path, advice=False).verify  # no advice: no rule to fall back on
    with pytest.raises(ValueError, match="verify=True needs a policy trained with advice"):
        set_policy_agent(tmp_path, advice=False, verify=True)
    with pytest.raises(ValueError, match="seeds must hold at least 2"):
        generalist.GeneralistAgent(gated_generalist(tmp_path).path, seeds=(1,))
    specialist = f"maskable_ppo:{PRETRAINED_DIR / 'maskable_ppo.zip'}"
    with pytest.raises(ValueError, match="verify=True: only a set policy"):
        agents.make(specialist, verify=True)
    assert not hasattr(agents.make(specialist, verify=False), "verify")  # nothing to switch off
    assert agents.make(f"maskable_ppo:{gated_generalist(tmp_path).path}", verify=False).verify is False


def test_verification_costs_are_the_rule_and_the_learned_policy_on_simulated_episodes(tmp_path):
    agent = gated_generalist(tmp_path)
    agent.seeds = SEEDS
    env = gym.make("EdgePFMCache-Small-v2", **SHORT)
    costs = agent.verification_costs(env.unwrapped.config)
    rule = [run_episode(env, agents.make("cost_benefit"), s)["cost"] for s in SEEDS]
    learned = [run_episode(env, gated_generalist(tmp_path, verify=False), s)["cost"] for s in SEEDS]
    np.testing.assert_allclose(costs, [rule, learned], rtol=1e-12)
    assert not np.allclose(costs[0], costs[1])


@pytest.mark.parametrize("gate, env_id", [(True, "EdgePFMCache-Small-v2"), (False, "EdgePFMCache-Small-v0")])
@pytest.mark.parametrize("verdict", [0, 1])
def test_it_plays_the_rule_unless_the_learned_policy_wins(tmp_path, monkeypatch, verdict, gate, env_id):
    """Gated (on v1) or not (on v0: there its learned part acts too), the loser plays the rule."""
    monkeypatch.setattr(generalist, "choose", lambda costs: verdict)  # the paired test's answer
    agent = set_policy_agent(tmp_path, capacity_gate=gate, random_weights=True)
    agent.seeds = SEEDS
    env = gym.make(env_id, **SHORT)
    got = run_episode(env, agent, 5)
    assert agent.plays_learned is bool(verdict)
    unchecked = set_policy_agent(tmp_path, capacity_gate=gate, random_weights=True, verify=False)
    want = run_episode(env, agents.make("cost_benefit") if verdict == 0 else unchecked, 5)
    assert got["cost"] == want["cost"] and got["loads"] == want["loads"]
    assert want["cost"] != run_episode(env, agents.make("cost_benefit") if verdict else unchecked, 5)["cost"]


def test_one_check_per_scenario_and_none_without_the_capacity_model(tmp_path, monkeypatch):
    agent = gated_generalist(tmp_path)
    agent.seeds = SEEDS
    calls = []
    real = agent.verification_costs
    monkeypatch.setattr(agent, "verification_costs", lambda cfg: calls.append(cfg) or real(cfg))
    run_episode(gym.make("EdgePFMCache-Small-v0", **SHORT), agent, 1)
    assert calls == [] and agent.plays_learned  # the gate is closed there: the rule anyway
    assert agent.report() == {"plays_learned": True, "gate_closed": True, "check": None}
    env = gym.make("EdgePFMCache-Small-v2", **SHORT)
    first = run_episode(env, agent, 2)
    assert len(calls) == 1
    assert agent.report()["gate_closed"] is False
    check = agent.report()["check"]  # what the benchmark engine records
    assert check["plays_learned"] is agent.plays_learned and check["seeds"] == list(SEEDS)
    assert check["saving"] == pytest.approx(check["rule_cost"] - check["learned_cost"])
    assert run_episode(env, agent, 2)["cost"] == first["cost"]
    run_episode(gym.make("EdgePFMCache-Small-v2", **SHORT), agent, 3)  # an equal config
    assert len(calls) == 1
    run_episode(gym.make("EdgePFMCache-Small-v2", n_slots=30), agent, 3)  # another scenario
    assert len(calls) == 2
