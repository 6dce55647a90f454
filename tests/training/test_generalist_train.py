"""train.py with the set policy on EdgePFMCache-Random-v0, shipping it as the generalist."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("sb3_contrib")

import gymnasium as gym  # noqa: E402

import edge_cache_env  # noqa: E402,F401
from agents.generalist import GeneralistAgent  # noqa: E402
from agents.set_policy import SetPolicy  # noqa: E402
from agents.trained import algo_class  # noqa: E402
from evaluation.engine import run_episode  # noqa: E402
from training import cli as train  # noqa: E402
from training.hyperparams import load_hyperparams, split_hyperparams  # noqa: E402
from training.release import ship_pretrained  # noqa: E402

RANDOM = "EdgePFMCache-Random-v0"


def test_random_entry_of_the_yaml_uses_the_set_policy():
    cls = algo_class("maskable_ppo")
    train_cfg, kwargs = split_hyperparams(cls, load_hyperparams("maskable_ppo", RANDOM))
    assert train_cfg["policy"] is SetPolicy
    assert kwargs["policy_kwargs"] == {"hidden": 64, "advice": True, "capacity_gate": True}
    assert train_cfg["warm_start"]["agent"] == "cost_benefit_tuned"
    assert train_cfg["warm_start"]["agent_kwargs"] == {"grid": "0.2"}  # the shipped model's


def test_policy_by_import_path_errors_name_the_path():
    cls = algo_class("maskable_ppo")
    with pytest.raises(ValueError, match="agents.set_policy:Nope"):
        split_hyperparams(cls, {"policy": "agents.set_policy:Nope"})
    with pytest.raises(ValueError, match="unknown policy 'SetPolicy'"):
        split_hyperparams(cls, {"policy": "SetPolicy"})


@pytest.mark.slow
def test_train_ship_and_play_the_generalist(tmp_path):
    run = train.main([
        "--algo", "maskable_ppo", "--env", RANDOM, "--timesteps", "128", "--seed", "0",
        "--n-envs", "2", "--out", str(tmp_path), "--env-kwargs", json.dumps({"n_max": 10, "n_slots": 20}),
        "--eval-freq", "128", "--eval-episodes", "2", "--checkpoint-freq", "0", "--no-progress-bar",
        "--hyperparams", "policy_kwargs={hidden: 8}", "n_steps=64", "batch_size=32", "n_epochs=1",
        "warm_start={agent: lc, steps: 200, epochs: 1}"])
    dest = tmp_path / "pretrained"
    entry = ship_pretrained.ship(run, dest, name="generalist")
    assert entry["file"] == "generalist.zip" and entry["algo"] == "maskable_ppo"
    assert "--env EdgePFMCache-Random-v0" in entry["reproduce"]
    assert json.loads((dest / "manifest.json").read_text())["models"]["generalist"]["env_id"] == RANDOM
    agent = GeneralistAgent(dest / "generalist.zip")
    for env_id in ("EdgePFMCache-Small-v0", "EdgePFMCache-v0"):
        assert run_episode(gym.make(env_id, n_slots=20), agent, 0)["invalid_actions"] == 0


def test_train_an_advised_generalist_with_a_warm_start(tmp_path):
    """policy_kwargs advice: true wraps the training and evaluation envs with the advice; the
    heuristic teacher of the warm start reads the env's own part of the observation."""
    run = train.main([
        "--algo", "maskable_ppo", "--env", RANDOM, "--timesteps", "128", "--seed", "0",
        "--n-envs", "2", "--out", str(tmp_path), "--env-kwargs", json.dumps({"n_max": 10, "n_slots": 20}),
        "--eval-freq", "128", "--eval-episodes", "2", "--checkpoint-freq", "0", "--no-progress-bar",
        "--reference", "cost_benefit",
        "--hyperparams", "policy_kwargs={hidden: 8, advice: true}", "n_steps=64", "batch_size=32",
        "n_epochs=1", "warm_start={agent: cost_benefit, steps: 200, epochs: 1}"])
    agent = GeneralistAgent(run / "model.zip")
    assert agent.policy.advice
    for env_id in ("EdgePFMCache-Small-v0", "EdgePFMCache-v2", RANDOM):
        assert run_episode(gym.make(env_id, n_slots=20), agent, 0)["invalid_actions"] == 0
    with pytest.raises(SystemExit):
        train.main(["--algo", "maskable_ppo", "--env", RANDOM, "--timesteps", "128", "--vec", "native",
                    "--out", str(tmp_path), "--hyperparams", "policy_kwargs={advice: true}"])
