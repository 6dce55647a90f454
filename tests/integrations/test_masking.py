"""The Dict-observation mask wrapper (RLlib's convention), without any RL library."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from edge_cache_env.actions import SERVE, load_action
from integrations.masking import MASK_KEY, OBS_KEY, ActionMaskObservation, make_masked


def test_mask_in_the_observation_matches_action_masks():
    env = make_masked("EdgePFMCache-Small-v0", n_slots=20)
    obs, _ = env.reset(seed=0)
    assert env.observation_space.contains(obs)
    assert obs[MASK_KEY].dtype == np.float32 and obs[OBS_KEY].dtype == np.float32
    np.testing.assert_array_equal(obs[MASK_KEY], env.unwrapped.action_masks().astype(np.float32))
    assert obs[MASK_KEY][SERVE] == 1.0
    obs, *_ = env.step(load_action(0))
    np.testing.assert_array_equal(obs[MASK_KEY], env.unwrapped.action_masks().astype(np.float32))
    assert obs[MASK_KEY][load_action(0)] == 0.0  # loaded: cannot load again


def test_check_env_on_the_wrapped_env():
    from gymnasium.utils.env_checker import check_env

    check_env(make_masked("EdgePFMCache-Small-v0", n_slots=20), skip_render_check=True)


def test_refuses_an_env_without_masks():
    with pytest.raises(TypeError, match="action_masks"):
        ActionMaskObservation(gym.make("CartPole-v1"))


def test_the_mask_comes_through_the_wrappers_it_wraps():
    """Over PadModels the observation's mask is the padded one (was the base env's: 13 of 65
    entries, outside the observation space)."""
    from edge_cache_env.padding import PadModels

    env = ActionMaskObservation(PadModels(gym.make("EdgePFMCache-Small-v0", n_slots=20), 32))
    obs, _ = env.reset(seed=0)
    assert obs[MASK_KEY].shape == (65,) and env.observation_space.contains(obs)
    np.testing.assert_array_equal(obs[MASK_KEY], env.env.action_masks().astype(np.float32))
