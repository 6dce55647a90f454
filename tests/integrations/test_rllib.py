"""RLlib's PPO with action masking, one iteration, one remote env runner."""

from __future__ import annotations

import pytest

pytest.importorskip("ray.rllib")  # the [ray] extra, installed by `make test`


@pytest.mark.slow
def test_masked_ppo_trains_with_a_remote_env_runner_and_never_acts_invalid(local_ray):
    from integrations.rllib import masked_ppo_config

    config = (masked_ppo_config("EdgePFMCache-Small-v0", {"n_slots": 20}, num_env_runners=1)
              .training(train_batch_size_per_learner=256, minibatch_size=64, num_epochs=1))
    algo = config.build_algo()
    try:
        assert algo.env_runner_group.num_remote_env_runners() == 1  # the env was built remotely
        result = algo.train()
    finally:
        algo.stop()
    runners = result["env_runners"]
    assert runners["num_env_steps_sampled"] >= 256
    assert runners["num_episodes"] >= 1  # episodes ended, so their metrics were logged
    assert runners["invalid_actions"] == 0.0
    assert runners["episode_cost"] > 0
