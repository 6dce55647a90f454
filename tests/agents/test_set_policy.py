"""The set policy: permutation/padding equivariance, SB3 zip round trip, and the generalist agent."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch as th

import agents
from agents.generalist import GeneralistAgent
from agents.set_policy import SetPolicy
from edge_cache_env.actions import SERVE, evict_action, load_action
from edge_cache_env.config import make_config
from edge_cache_env.env import EdgePFMCacheEnv
from edge_cache_env.observation import MODEL_FEATURES, observation_size, split_observation
from edge_cache_env.padding import pad_mask, pad_observation
from evaluation.engine import run_episode


def _policy(n: int, seed: int = 0) -> SetPolicy:
    th.manual_seed(seed)
    obs_space = gym.spaces.Box(0.0, 1.0, shape=(observation_size(n),), dtype=np.float32)
    policy = SetPolicy(obs_space, gym.spaces.Discrete(2 * n + 1), lambda _: 1e-3, hidden=16)
    # Larger head weights than the near-uniform initialisation, so probabilities differ visibly.
    for p in policy.parameters():
        p.data.normal_(0.0, 0.5)
    return policy.eval()


def _observations(n: int, batch: int = 5) -> np.ndarray:
    """Realistic observations of a catalog of n models (footprint > 0, some cached)."""
    rng = np.random.default_rng(n)
    obs = rng.random((batch, observation_size(n))).astype(np.float32)
    pm, _ = split_observation(obs, n)  # a view: write features in place
    pm[..., MODEL_FEATURES.index("cached")] = rng.random((batch, n)) > 0.5
    pm[..., MODEL_FEATURES.index("footprint")] = 0.05 + 0.3 * rng.random((batch, n))
    return obs


def _permute(obs: np.ndarray, perm: np.ndarray) -> np.ndarray:
    n = len(perm)
    out = obs.copy()
    pm_out, _ = split_observation(out, n)
    pm_in, _ = split_observation(obs, n)
    pm_out[...] = pm_in[:, perm, :]
    return out


def _probs(policy: SetPolicy, obs: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    with th.no_grad():
        dist = policy.get_distribution(th.as_tensor(obs), action_masks=mask)
        return dist.distribution.probs.numpy()


def test_probabilities_move_with_the_models_and_ignore_padding():
    n, n_max = 6, 32
    obs = _observations(n)
    perm = np.random.default_rng(1).permutation(n)
    small, big = _policy(n), _policy(n_max)
    big.load_state_dict(small.state_dict())  # one network, two sizes
    p = _probs(small, obs)
    # Padding to 32 slots: the same distribution, absent models get probability 0.
    p_pad = _probs(big, pad_observation(obs, n_max))
    np.testing.assert_allclose(p_pad[:, :n + 1], p[:, :n + 1], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(p_pad[:, n_max + 1:n_max + 1 + n], p[:, n + 1:], rtol=1e-4, atol=1e-6)
    assert (p_pad[:, n + 1:n_max + 1] == 0).all() and (p_pad[:, n_max + 1 + n:] == 0).all()
    # Permuting the models permutes their LOAD and EVICT probabilities alike; SERVE stays.
    q = _probs(small, _permute(obs, perm))
    np.testing.assert_allclose(q[:, SERVE], p[:, SERVE], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(q[:, load_action(np.arange(n))], p[:, load_action(perm)], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(q[:, evict_action(np.arange(n), n)], p[:, evict_action(perm, n)],
                               rtol=1e-4, atol=1e-6)
    # Values ignore padding and order as well.
    with th.no_grad():
        v = small.predict_values(th.as_tensor(obs))
        v_pad = big.predict_values(th.as_tensor(pad_observation(_permute(obs, perm), n_max)))
    np.testing.assert_allclose(v_pad.numpy(), v.numpy(), rtol=1e-4, atol=1e-5)


def test_masks_apply_to_padded_logits():
    n, n_max = 5, 12
    obs = pad_observation(_observations(n), n_max)
    mask = np.zeros((len(obs), 2 * n + 1), dtype=bool)
    mask[:, SERVE] = True
    mask[:, load_action(2)] = True
    p = _probs(_policy(n_max), obs, pad_mask(mask, n_max))
    assert (p[:, [SERVE, load_action(2)]].sum(axis=1) > 0.999).all()


def test_rejects_mismatched_spaces():
    with pytest.raises(ValueError, match="does not match"):
        SetPolicy(gym.spaces.Box(0, 1, (observation_size(4),), np.float32), gym.spaces.Discrete(7),
                  lambda _: 1e-3)


@pytest.fixture(scope="module")
def trained_zip(tmp_path_factory):
    """A MaskablePPO with a SetPolicy after a few updates on the random env, saved as a zip."""
    from sb3_contrib import MaskablePPO

    env = gym.make("EdgePFMCache-Random-v0", n_max=10, n_slots=20)
    model = MaskablePPO(SetPolicy, env, n_steps=64, batch_size=32, n_epochs=1, seed=0, device="cpu",
                        policy_kwargs={"hidden": 16})
    model.learn(128)
    path = tmp_path_factory.mktemp("set") / "model.zip"
    model.save(path)
    return path, model


def test_zip_round_trip_gives_the_same_policy(trained_zip):
    from sb3_contrib import MaskablePPO

    path, model = trained_zip
    loaded = MaskablePPO.load(path, device="cpu")
    assert isinstance(loaded.policy, SetPolicy) and loaded.policy.hidden == 16
    obs = pad_observation(_observations(7), 10)
    np.testing.assert_allclose(_probs(loaded.policy, obs), _probs(model.policy, obs), rtol=1e-6)


@pytest.fixture(scope="module")
def generalists(trained_zip):
    path, _ = trained_zip
    return GeneralistAgent(path), GeneralistAgent(path, pad=True)


@pytest.mark.parametrize("scenario", ["small", "default", "four"])
def test_generalist_acts_validly_on_any_catalog(generalists, scenario):
    agent, padded = generalists
    if scenario == "four":
        models = make_config("default").models[6:10]
        env = EdgePFMCacheEnv(config=make_config(None, models=list(models), n_slots=20))
    else:
        env = gym.make("EdgePFMCache-Small-v0" if scenario == "small" else "EdgePFMCache-v0", n_slots=20)
    obs, _ = env.reset(seed=0)
    done = False
    while not done:
        mask = env.unwrapped.action_masks()
        a = int(agent.predict(obs, action_masks=mask)[0])
        assert mask[a]
        assert int(padded.predict(obs, action_masks=mask)[0]) == a  # padding to 32 changes nothing
        obs, _, terminated, truncated, info = env.step(a)
        done = terminated or truncated
    assert info["invalid_actions"] == 0
    batch = np.stack([obs, obs])
    assert agent.predict(batch, action_masks=np.stack([mask, mask]))[0].shape == (2,)
    np.testing.assert_allclose(agent.logits(batch), padded.logits(batch), rtol=1e-5, atol=1e-5)
    sampled = agent.predict(np.repeat(batch, 20, axis=0), deterministic=False,
                            action_masks=np.repeat(np.stack([mask, mask]), 20, axis=0))[0]
    assert mask[sampled].all()
    assert run_episode(env, agent, 1)["invalid_actions"] == 0


def test_make_generalist_uses_the_shipped_model():
    from agents.trained import PRETRAINED_DIR

    if not (PRETRAINED_DIR / "generalist.zip").is_file():
        with pytest.raises(FileNotFoundError, match="generalist"):
            agents.make("generalist")
        return
    agent = agents.make("generalist")
    # v1 observations begin with the v0 block the policy reads (capacity features follow it)
    for env_id in ("EdgePFMCache-Small-v0", "EdgePFMCache-v0", "EdgePFMCache-Small-v2"):
        env = gym.make(env_id, n_slots=20)
        assert run_episode(env, agent, 0)["invalid_actions"] == 0
