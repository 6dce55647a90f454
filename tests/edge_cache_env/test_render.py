"""rgb_array frames (numpy only), Gymnasium's human/video wrappers, and SB3's make_vec_env."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from conftest import assert_check_env_clean

import edge_cache_env  # noqa: F401  (registers ids)
from edge_cache_env.actions import SERVE, load_action
from edge_cache_env.render import EDGE_BLUE, TRACK, frame_shape, model_colours, render_rgb


def test_rgb_frame_shape_dtype_and_check_env():
    env = gym.make("EdgePFMCache-Small-v0", render_mode="rgb_array", n_slots=20)
    env.reset(seed=0)
    frame = env.render()
    n = env.unwrapped.n_models
    assert frame.dtype == np.uint8 and frame.shape == frame_shape(n)
    assert frame.shape[0] % 16 == 0 and frame.shape[1] % 16 == 0  # video encoders take it as is
    assert_check_env_clean("EdgePFMCache-Small-v0", render_mode="rgb_array", n_slots=20)


def test_frame_follows_the_cache_state():
    env = gym.make("EdgePFMCache-Small-v0", render_mode="rgb_array", n_slots=20)
    env.reset(seed=3)
    sim = env.unwrapped.sim
    empty = env.render()
    gpu_strip = empty[8 + 16 + 8 + 8]  # a pixel row through the GPU memory strip
    assert (gpu_strip[8:-8] == TRACK).all()  # nothing cached: the whole strip is free memory
    env.step(load_action(0))
    loaded = env.render()
    colour = model_colours(env.unwrapped.n_models)[0]
    strip = loaded[8 + 16 + 8 + 8, 8:-8]
    share = (strip == colour).all(axis=1).mean()
    assert share == pytest.approx(sim.mem_mb[0] / sim.gpu_mb, abs=0.02)  # model 0's memory share
    assert not np.array_equal(empty, loaded)
    # this slot's demand of a cached model is drawn in the edge colour, iff it has demand
    has_demand = sim.current_counts()[0] > 0
    row = loaded[8 + 16 + 8 + 16 + 8 + 2 + 4]
    assert (row == EDGE_BLUE).all(axis=1).any() == has_demand


def test_frames_are_deterministic_and_change_over_an_episode():
    frames = []
    for _ in range(2):
        env = gym.make("EdgePFMCache-Small-v0", render_mode="rgb_array", n_slots=20)
        env.reset(seed=1)
        env.step(load_action(1))
        for _ in range(5):
            env.step(SERVE)
        frames.append(env.render())
    assert np.array_equal(frames[0], frames[1])
    assert np.array_equal(render_rgb(env.unwrapped.sim), frames[1])


def test_human_mode_goes_through_gymnasium_human_rendering():
    pygame_missing = False
    try:
        import pygame  # noqa: F401
    except ImportError:
        pygame_missing = True
    with pytest.warns(UserWarning, match="HumanRendering"):
        env = gym.make("EdgePFMCache-Small-v0", render_mode="human", n_slots=20)
    assert isinstance(env, gym.wrappers.HumanRendering) or any(
        isinstance(w, gym.wrappers.HumanRendering) for w in _wrappers(env))
    if pygame_missing:  # a clear error naming the missing package, before any step
        with pytest.raises(gym.error.DependencyNotInstalled, match="pygame"):
            env.reset(seed=0)


def _wrappers(env):
    while isinstance(env, gym.Wrapper):
        yield env
        env = env.env


def test_sb3_make_vec_env_with_the_plain_id():
    """SB3 asks the id for render_mode="rgb_array" (falling back only on TypeError)."""
    pytest.importorskip("stable_baselines3")
    from stable_baselines3.common.env_util import make_vec_env

    venv = make_vec_env("EdgePFMCache-Small-v0", n_envs=2, seed=0, env_kwargs={"n_slots": 20})
    venv.reset()
    frames = venv.get_images()
    assert len(frames) == 2 and frames[0].dtype == np.uint8 and frames[0].ndim == 3
    venv.close()


def test_record_video(tmp_path):
    import moviepy  # noqa: F401  (in the test extra; RecordVideo needs it)
    env = gym.make("EdgePFMCache-Small-v0", render_mode="rgb_array", n_slots=20)
    env = gym.wrappers.RecordVideo(env, str(tmp_path), episode_trigger=lambda ep: True,
                                   name_prefix="cache", disable_logger=True)
    env.reset(seed=0)
    done = False
    while not done:
        _, _, terminated, truncated, _ = env.step(SERVE)
        done = terminated or truncated
    env.close()
    videos = list(tmp_path.glob("cache-episode-0.mp4"))
    assert len(videos) == 1 and videos[0].stat().st_size > 1000
