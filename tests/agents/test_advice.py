"""The cost-benefit advice: features, layouts (own, padded, v1), and the advised set policy."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from generalists import gated_generalist, set_policy_agent

import agents
import edge_cache_env  # noqa: F401  (registers the env ids)
from agents.advice import (
    ADVICE_MODEL_FEATURES,
    Advisor,
    advised_size,
    n_models_of_advised,
    split_advised,
)
from agents.padded import PaddedAgent
from edge_cache_env.actions import SERVE, decode_action
from edge_cache_env.observation import MODEL_FEATURES, observation_size, split_observation
from edge_cache_env.padding import pad_observation

LOAD, EVICT = ADVICE_MODEL_FEATURES.index("cb_load"), ADVICE_MODEL_FEATURES.index("cb_evict")


def _cb_trajectory(env_id: str, seed: int = 3, steps: int = 300, **kw) -> tuple[gym.Env, list[np.ndarray]]:
    """Observations of an episode played by cost_benefit (states where it loads and evicts)."""
    env = gym.make(env_id, **kw)
    cb = PaddedAgent(agents.make("cost_benefit"))
    obs, _ = env.reset(seed=seed)
    cb.attach(env)
    seen = []
    for _ in range(steps):
        seen.append(obs)
        obs, _, terminated, truncated, _ = env.step(int(cb.predict(obs)[0]))
        if terminated or truncated:
            break
    return env, seen


@pytest.mark.parametrize("env_id", ["EdgePFMCache-v0", "EdgePFMCache-Small-v2"])
def test_advice_names_the_rules_action_and_stays_in_range(env_id):
    env, seen = _cb_trajectory(env_id)
    cfg = env.unwrapped.config
    advisor, cb = Advisor(cfg), agents.make("cost_benefit")
    cb.attach(env)
    obs = np.stack(seen)
    adv_pm, adv_g = advisor.features(obs)
    actions = cb.predict(obs)[0]
    assert (actions != SERVE).sum() > 3  # the episode has loads/evictions to check
    for row, a in enumerate(actions):
        kind, m = decode_action(int(a), cfg.n_models)
        onehot = np.zeros((cfg.n_models, 2), dtype=np.float32)
        if kind != "serve":
            onehot[m, 0 if kind == "load" else 1] = 1.0
        np.testing.assert_array_equal(adv_pm[row][:, [LOAD, EVICT]], onehot)
        assert adv_g[row, 0] == float(kind == "serve")
    assert np.all(np.abs(adv_pm) <= 1.0) and np.isfinite(adv_pm).all()
    # the numeric features vary: they carry information beyond the choice
    assert all(np.ptp(adv_pm[..., k]) > 0.1 for k in range(2, len(ADVICE_MODEL_FEATURES)))


def test_advised_layout_round_trips_and_sizes_are_checked():
    for n in (4, 10, 32):
        assert n_models_of_advised(advised_size(n)) == n
    with pytest.raises(ValueError, match="advised observation"):
        n_models_of_advised(advised_size(10) + 1)
    env, seen = _cb_trajectory("EdgePFMCache-v0", steps=50)
    advisor = Advisor(env.unwrapped.config)
    obs = np.stack(seen)
    advised = advisor.advise(obs)
    assert advised.shape == (len(obs), advised_size(10))
    pm, g = split_advised(advised, 10)
    pm_obs, g_obs = split_observation(obs, 10)
    np.testing.assert_array_equal(pm[..., :len(MODEL_FEATURES)], pm_obs)
    np.testing.assert_array_equal(pm[..., len(MODEL_FEATURES):], advisor.features(obs)[0])
    np.testing.assert_array_equal(g[..., :g_obs.shape[-1]], g_obs)
    for rows in (advisor.rows(obs), advisor.rows(pad_observation(obs, 16))):  # built directly
        np.testing.assert_array_equal(rows[0], pm)
        np.testing.assert_array_equal(rows[1], g)


def test_padded_and_v1_observations_get_the_same_advice_as_their_own():
    env, seen = _cb_trajectory("EdgePFMCache-v0", steps=60)
    advisor = Advisor(env.unwrapped.config)
    obs = np.stack(seen)
    own = advisor.advise(obs, n_slots=16)
    padded = advisor.advise(pad_observation(obs, 16), n_slots=16)
    np.testing.assert_array_equal(own, padded)
    pm, _ = split_advised(own, 16)
    assert not pm[:, 10:].any()  # absent models: no observation, no advice
    env1, seen1 = _cb_trajectory("EdgePFMCache-Small-v2", steps=60)
    adv1 = Advisor(env1.unwrapped.config)
    obs1 = np.stack(seen1)
    out = adv1.advise(obs1)
    n = env1.unwrapped.config.n_models
    np.testing.assert_array_equal(out[:, :observation_size(n)], obs1[:, :observation_size(n)])


def test_random_env_advice_follows_the_scenario():
    from training.wrappers import Advised

    env = Advised(gym.make("EdgePFMCache-Random-v0", n_max=10, n_slots=30))
    sizes = set()
    for seed in range(4):
        obs, _ = env.reset(seed=seed)
        assert env.observation_space.contains(obs)
        n = env.unwrapped.config.n_models
        sizes.add(n)
        pm, _ = split_advised(obs, 10)
        assert not pm[n:].any() and pm[:n, MODEL_FEATURES.index("footprint")].all()
    assert len(sizes) > 1
    with pytest.raises(RuntimeError, match="set_scenario"):
        Advisor().features(obs[None])


def _advised_policy(n: int, perturb: bool):
    import torch as th

    from agents.set_policy import SetPolicy

    th.manual_seed(0)
    space = gym.spaces.Box(-1.0, 1.0, shape=(advised_size(n),), dtype=np.float32)
    policy = SetPolicy(space, gym.spaces.Discrete(2 * n + 1), lambda _: 1e-3, hidden=16, advice=True)
    if perturb:
        for p in policy.parameters():
            p.data.normal_(0.0, 0.5)
    return policy.eval()


def test_advised_policy_moves_with_the_models_and_ignores_padding():
    import torch as th

    env, seen = _cb_trajectory("EdgePFMCache-v0", steps=40)
    advisor = Advisor(env.unwrapped.config)
    obs = np.stack(seen[::8])
    small, big = _advised_policy(10, True), _advised_policy(16, True)
    big.load_state_dict(small.state_dict())
    perm = np.random.default_rng(2).permutation(10)

    def probs(policy, x):
        with th.no_grad():
            return policy.get_distribution(th.as_tensor(x)).distribution.probs.numpy()

    def permuted(x):
        out = x.copy()
        pm_o, _ = split_observation(out[:, :observation_size(10)], 10)
        pm_i, _ = split_observation(x[:, :observation_size(10)], 10)
        pm_o[...] = pm_i[:, perm]
        k = len(ADVICE_MODEL_FEATURES)
        base = observation_size(10)
        adv = x[:, base:base + 10 * k].reshape(-1, k, 10)
        out[:, base:base + 10 * k] = adv[:, :, perm].reshape(len(x), -1)
        return out

    plain = advisor.advise(obs)
    p, p_perm = probs(small, plain), probs(small, permuted(plain))
    np.testing.assert_allclose(p_perm[:, 1:11], p[:, 1 + perm], rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(p_perm[:, 11:], p[:, 11 + perm], rtol=1e-5, atol=1e-7)
    padded = probs(big, advisor.advise(obs, n_slots=16))
    np.testing.assert_allclose(padded[:, 1:11], p[:, 1:11], rtol=1e-5, atol=1e-7)
    assert (padded[:, 11:17] == 0).all() and (padded[:, 17 + 10:] == 0).all()


@pytest.mark.parametrize("env_id", ["EdgePFMCache-v0", "EdgePFMCache-Small-v2", "large"])
def test_untrained_advised_generalist_is_the_rule(tmp_path, env_id):
    """The prior puts the rule's choice first: before any learning, the greedy generalist plays
    exactly cost_benefit's episode, on any catalog (21 models: a size never trained on)."""
    from evaluation.engine import run_episode

    agent = set_policy_agent(tmp_path, verify=False)  # the policy itself: its prior
    env = gym.make("EdgePFMCache-Large-v2" if env_id == "large" else env_id, n_slots=60)
    got = run_episode(env, agent, 5)
    want = run_episode(env, agents.make("cost_benefit"), 5)
    assert got["cost"] == want["cost"] and got["loads"] == want["loads"] and want["loads"] > 0


def test_advised_wrapper_on_v1_keeps_the_v0_block():
    from training.wrappers import Advised

    plain = gym.make("EdgePFMCache-Small-v2", n_slots=20)
    env = Advised(gym.make("EdgePFMCache-Small-v2", n_slots=20))
    raw, _ = plain.reset(seed=1)
    obs, _ = env.reset(seed=1)
    n = plain.unwrapped.config.n_models
    assert env.observation_space.shape == (advised_size(n),)
    assert env.advice_base_size == raw.shape[0]  # the heuristic teacher reads the full v1 view
    advisor = Advisor(plain.unwrapped.config)
    for action in (0, 1, 0, 0, 2, 0):
        np.testing.assert_array_equal(obs, advisor.advise(raw))
        np.testing.assert_array_equal(obs[:observation_size(n)], raw[:observation_size(n)])
        assert env.observation_space.contains(obs)
        raw, *_ = plain.step(action)
        obs, *_ = env.step(action)


@pytest.mark.parametrize("env_id", ["EdgePFMCache-v0", "EdgePFMCache-Small-v0", "large"])
def test_gated_generalist_is_the_rule_without_the_capacity_model(tmp_path, env_id):
    from evaluation.engine import run_episode

    agent = gated_generalist(tmp_path)
    assert agent.policy.capacity_gate
    env = gym.make("EdgePFMCache-Large-v0" if env_id == "large" else env_id, n_slots=60)
    got = run_episode(env, agent, 5)
    want = run_episode(env, agents.make("cost_benefit"), 5)
    assert got["cost"] == want["cost"] and got["loads"] == want["loads"] and want["loads"] > 0


def test_gated_generalist_acts_on_its_own_with_the_capacity_model(tmp_path):
    from evaluation.engine import run_episode

    agent = gated_generalist(tmp_path, verify=False)  # the policy itself, unchecked
    env = gym.make("EdgePFMCache-Small-v2", n_slots=60)
    got = run_episode(env, agent, 5)
    want = run_episode(env, agents.make("cost_benefit"), 5)
    assert got["cost"] != want["cost"]  # the gate is open: the (random) correction acts


def test_capacity_gate_flag_and_layout():
    from agents.set_policy import SetExtractor

    v0, v1 = gym.make("EdgePFMCache-v0"), gym.make("EdgePFMCache-v2")
    for env, flag in ((v0, 0.0), (v1, 1.0)):
        obs, _ = env.reset(seed=0)
        advisor = Advisor(env.unwrapped.config, capacity_gate=True)
        advised = advisor.advise(obs)
        assert advised.shape == (advised_size(10, capacity_gate=True),) == (advised_size(10) + 1,)
        assert advised[-1] == flag
        np.testing.assert_array_equal(advised[:-1], Advisor(env.unwrapped.config).advise(obs))
        assert n_models_of_advised(len(advised), capacity_gate=True) == 10
    with pytest.raises(ValueError, match="capacity_gate .* needs advice=True"):
        SetExtractor(observation_size(10), 16, advice=False, capacity_gate=True)
