"""rl-zoo3 trains PPO and DQN from integrations/zoo/*.yml as they are; the hooks do their job."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

pytest.importorskip("rl_zoo3")  # the [zoo] extra, installed by `make test`

from integrations.zoo import CONFIG_DIR  # noqa: E402

REPO = Path(__file__).resolve().parents[2]


def zoo_train(tmp_path: Path, algo: str, conf: Path, *hyperparams: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "rl_zoo3.train", "--algo", algo, "--env", "EdgePFMCache-Small-v0",
           "--gym-packages", "edge_cache_env", "-conf", str(conf), "-n", "128", "--seed", "0",
           "--env-kwargs", "n_slots:20", "-f", str(tmp_path / "logs"), "--eval-freq", "-1",
           "--vec-env", "dummy", "--hyperparams", "n_envs:1", *hyperparams]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_zoo_trains_ppo_with_the_shipped_file(tmp_path):
    out = zoo_train(tmp_path, "ppo", CONFIG_DIR / "ppo.yml", "n_steps:64", "batch_size:32", "n_epochs:1")
    assert out.returncode == 0, out.stderr[-3000:]
    assert list((tmp_path / "logs" / "ppo").glob("EdgePFMCache-Small-v0_1/EdgePFMCache-Small-v0.zip"))


@pytest.mark.slow
def test_zoo_trains_dqn_with_the_shipped_file(tmp_path):
    out = zoo_train(tmp_path, "dqn", CONFIG_DIR / "dqn.yml", "learning_starts:64", "buffer_size:1000")
    assert out.returncode == 0, out.stderr[-3000:]
    assert list((tmp_path / "logs" / "dqn").glob("EdgePFMCache-Small-v0_1/EdgePFMCache-Small-v0.zip"))


def test_slot_discount_hook_swaps_the_buffers():
    import gymnasium as gym
    from stable_baselines3 import DQN, PPO
    from stable_baselines3.common.env_util import make_vec_env

    from integrations.zoo.hooks import SlotDiscount
    from training.slot_discount import SlotReplayBuffer, SlotRolloutBuffer
    from training.wrappers import HorizonTerminal

    venv = make_vec_env(lambda: gym.make("EdgePFMCache-Small-v0", n_slots=20), n_envs=1,
                        wrapper_class=HorizonTerminal, seed=0)
    ppo = PPO("MlpPolicy", venv, n_steps=32, batch_size=32, n_epochs=1, seed=0, device="cpu")
    ppo.learn(32, callback=SlotDiscount())
    assert isinstance(ppo.rollout_buffer, SlotRolloutBuffer)
    served = ppo.rollout_buffer.slot_served[:, 0]
    assert 0 < served.sum() < len(served)  # copied from the infos: operations do not serve a slot
    assert set(np.unique(served)) <= {0.0, 1.0}
    dqn = DQN("MlpPolicy", venv, learning_starts=16, buffer_size=100, seed=0, device="cpu")
    dqn.learn(32, callback=SlotDiscount())
    assert isinstance(dqn.replay_buffer, SlotReplayBuffer) and dqn.replay_buffer.size() > 0


def test_warm_start_hook_clones_lc_before_training():
    import gymnasium as gym
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env

    from integrations.zoo.hooks import SlotDiscount, WarmStart
    from training.wrappers import HorizonTerminal

    entries = yaml.load((CONFIG_DIR / "ppo.yml").read_text(), Loader=yaml.UnsafeLoader)
    hooks = entries["EdgePFMCache-v0"]["callback"]  # the shipped entry names both hooks
    assert hooks[0] == "integrations.zoo.hooks.SlotDiscount" and "integrations.zoo.hooks.WarmStart" in hooks[1]
    venv = make_vec_env(lambda: gym.make("EdgePFMCache-Small-v0", n_slots=20), n_envs=1,
                        wrapper_class=HorizonTerminal, seed=0)
    ppo = PPO("MlpPolicy", venv, n_steps=32, batch_size=32, n_epochs=1, seed=0, device="cpu")
    warm = WarmStart(agent="lc", steps=100, epochs=2)
    ppo.learn(32, callback=[SlotDiscount(), warm])
    assert warm.summary["agent"] == "lc" and warm.summary["steps"] >= 100
    with pytest.raises(ValueError, match="warm_start"):
        WarmStart(agnet="lc")
