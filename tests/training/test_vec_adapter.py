"""``--vec native``: the SB3 adapter steps like DummyVecEnv + HorizonTerminal, masks included."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("stable_baselines3")
pytest.importorskip("sb3_contrib")

import edge_cache_env  # noqa: E402,F401
from training import cli as train  # noqa: E402
from training.experiment import make_vec  # noqa: E402
from training.vec_adapter import NativeVecEnv  # noqa: E402

ENV = "EdgePFMCache-Small-v0"
KW = {"n_slots": 10}


def test_native_adapter_matches_dummy_vec_env_across_episode_ends():
    from sb3_contrib.common.maskable.utils import get_action_masks, is_masking_supported

    native = make_vec(ENV, KW, 3, "native", None, 100_000)
    dummy = make_vec(ENV, KW, 3, "dummy", None, 100_000)
    assert is_masking_supported(native)
    np.testing.assert_array_equal(native.reset(), dummy.reset())
    rng = np.random.default_rng(0)
    ends = 0
    for _ in range(120):
        masks = get_action_masks(native)
        np.testing.assert_array_equal(masks, get_action_masks(dummy))
        actions = np.array([rng.choice(np.flatnonzero(m)) for m in masks])
        o1, r1, d1, i1 = native.step(actions)
        o2, r2, d2, i2 = dummy.step(actions)
        np.testing.assert_array_equal(o1, o2)
        np.testing.assert_array_equal(r1, r2)
        np.testing.assert_array_equal(d1, d2)
        for a, b in zip(i1, i2, strict=True):
            assert a["slot_served"] == b["slot_served"]
            if "terminal_observation" in b:
                ends += 1
                np.testing.assert_array_equal(a["terminal_observation"], b["terminal_observation"])
                assert a["TimeLimit.truncated"] == b["TimeLimit.truncated"]
                for k in ("episode_cost", "hit_ratio", "invalid_actions"):
                    assert a[k] == b[k]
                assert a["episode"]["r"] == pytest.approx(b["episode"]["r"])
                assert a["episode"]["l"] == b["episode"]["l"]
    assert ends >= 6


@pytest.mark.parametrize("algo", ["maskable_ppo", "ppo"])
def test_train_py_vec_native(tmp_path: Path, algo: str):
    run = train.main([
        "--algo", algo, "--env", ENV, "--timesteps", "128", "--seed", "0", "--n-envs", "4",
        "--vec", "native", "--out", str(tmp_path), "--env-kwargs", json.dumps({"n_slots": 20}),
        "--eval-freq", "0", "--checkpoint-freq", "0", "--reference", "none", "--no-progress-bar",
        "--hyperparams", "policy_kwargs={net_arch: [16]}", "n_steps=32", "batch_size=32",
        "n_epochs=1"])
    assert (run / "model.zip").is_file()
    monitors = list((run / "monitor").glob("*.monitor.csv"))
    assert monitors and f'"env_id": "{ENV}"' in monitors[0].read_text().splitlines()[0]  # was "None"


@pytest.mark.parametrize("algo", ["maskable_ppo", "dqn"])
def test_train_py_vec_native_evaluates_with_normalized_observations(tmp_path: Path, algo: str):
    # The YAML's VecNormalize is on: its statistics are synced into the evaluation envs, whose
    # wrapper chain must have the training chain's shape (SB3 walks both).
    tiny = ["n_steps=32", "batch_size=32", "n_epochs=1"] if algo != "dqn" else \
        ["learning_starts=32", "buffer_size=500"]
    run = train.main([
        "--algo", algo, "--env", ENV, "--timesteps", "64", "--seed", "0", "--n-envs", "2",
        "--vec", "native", "--out", str(tmp_path), "--env-kwargs", json.dumps({"n_slots": 20}),
        "--eval-freq", "32", "--eval-episodes", "2", "--checkpoint-freq", "0", "--no-progress-bar",
        "--hyperparams", "policy_kwargs={net_arch: [16]}", "normalize={norm_obs: true, norm_reward: true}",
        "warm_start=false", *tiny])
    rows = (run / "eval_log.csv").read_text().splitlines()
    assert len(rows) == 1 + 3  # header, then evaluations at 0, 32 and 64 steps
    assert (run / "model_vecnormalize.pkl").is_file()


def test_native_evaluation_envs_play_the_dummy_ones_episodes():
    from stable_baselines3 import PPO
    from stable_baselines3.common.evaluation import evaluate_policy

    def costs(vec: str) -> dict[int, float]:
        env = make_vec(ENV, KW, 3, vec, None, 500)
        model = PPO("MlpPolicy", env, seed=0, policy_kwargs={"net_arch": [8]}, device="cpu")
        out: dict[int, float] = {}

        def record(local: dict, _: dict) -> None:
            if local["done"] and local["i"] not in out:
                out[local["i"]] = local["info"]["episode_cost"]

        env.seed(500)
        evaluate_policy(model, env, n_eval_episodes=3, deterministic=True, callback=record)
        return out

    native = costs("native")
    assert len(native) == 3 and min(native.values()) > 0
    assert native == costs("dummy")


def test_adapter_needs_disabled_autoreset():
    import gymnasium as gym

    venv = gym.make_vec(ENV, num_envs=2, vectorization_mode="vector_entry_point", **KW)
    with pytest.raises(ValueError, match="DISABLED"):
        NativeVecEnv(venv)
