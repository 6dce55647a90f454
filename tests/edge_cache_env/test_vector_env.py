"""The native vector env: sub-env b is exactly the single env reset with the same seed."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode, VectorEnv

import edge_cache_env  # noqa: F401  (registers the ids)
from agents import make
from edge_cache_env.observation import ObservationLayout
from edge_cache_env.registration import ENTRY_POINTS, ENV_IDS
from edge_cache_env.vector_env import COST_KEYS, EdgePFMCacheVectorEnv

SEEDS = [3, 10_001, 7, 42]


def make_vec(env_id: str, b: int, **kwargs) -> EdgePFMCacheVectorEnv:
    return gym.make_vec(env_id, num_envs=b, vectorization_mode="vector_entry_point", **kwargs)


def masked_random(rng: np.random.Generator, masks: np.ndarray) -> np.ndarray:
    return np.array([rng.choice(np.flatnonzero(m)) for m in masks])


def assert_same_as_single_envs(env_id: str, policy: str, steps: int, seeds: list[int] = SEEDS,
                               **kwargs) -> int:
    """Step B single envs and one vector env with the same actions; every output must match
    bit for bit. Returns the number of episode ends seen."""
    b = len(seeds)
    venv = make_vec(env_id, b, **kwargs)
    envs = [gym.make(env_id, **kwargs) for _ in range(b)]
    vobs, vinfo = venv.reset(seed=seeds)
    for i, (env, s) in enumerate(zip(envs, seeds, strict=True)):
        obs, info = env.reset(seed=s)
        np.testing.assert_array_equal(vobs[i], obs)
        np.testing.assert_array_equal(vinfo["action_mask"][i], info["action_mask"])
    agent = make("lc")
    agent.attach(venv)
    rng = np.random.default_rng(0)
    ended, ends = [False] * b, 0
    for step in range(steps):
        masks = venv.action_masks()
        np.testing.assert_array_equal(masks, vinfo["action_mask"])
        if policy == "lc":
            actions = agent.predict(vobs)[0]
        else:
            actions = masked_random(rng, masks)
            if step % 9 == 4:  # a masked-out LOAD or EVICT now and then: penalised, acts as SERVE
                bad = np.flatnonzero(~masks[0])
                if len(bad):
                    actions[0] = bad[0]
        vobs, vrew, vterm, vtrunc, vinfo = venv.step(actions)
        for i, env in enumerate(envs):
            if ended[i]:  # NEXT_STEP autoreset: this step resets the sub-env, action ignored
                obs, info = env.reset()
                rew, term, trunc = 0.0, False, False
            else:
                obs, rew, term, trunc, info = env.step(actions[i])
            ended[i] = trunc
            ends += trunc
            np.testing.assert_array_equal(vobs[i], obs, err_msg=f"step {step} sub-env {i}")
            assert (vrew[i], bool(vterm[i]), bool(vtrunc[i])) == (rew, term, trunc), (step, i)
            for k, v in vinfo.items():
                if k.startswith("_") or not vinfo["_" + k][i]:
                    continue
                np.testing.assert_array_equal(v[i], info[k], err_msg=f"info[{k!r}] step {step} sub-env {i}")
            for k in (*COST_KEYS, "action_mask", "slot"):
                assert vinfo["_" + k][i]
            if trunc:  # the episode figures come with the episode's end
                for k in ("episode_cost", "hit_ratio", "mean_aoc", "invalid_actions", "loads"):
                    assert vinfo["_" + k][i] and vinfo[k][i] == info[k]
    return ends


@pytest.mark.parametrize("policy", ["random", "lc"])
def test_v0_sub_envs_equal_single_envs_across_autoresets(policy):
    ends = assert_same_as_single_envs("EdgePFMCache-v0", policy, steps=160, n_slots=20)
    assert ends >= len(SEEDS)  # every sub-env went through at least one autoreset


def test_many_sub_envs_acting_at_once_equal_single_envs():
    # 16 servers: every step many LOAD / EVICT / SERVE rows at once (the batched writes and the
    # one-call products over all served rows), with autoresets spread over the steps.
    seeds = list(range(10_100, 10_116))
    assert assert_same_as_single_envs("EdgePFMCache-v0", "random", steps=150, seeds=seeds,
                                      n_slots=12) >= len(seeds)


def test_small_catalog_and_capacity_model_equal_single_envs():
    assert_same_as_single_envs("EdgePFMCache-Small-v0", "random", steps=80, n_slots=12)
    assert assert_same_as_single_envs("EdgePFMCache-v2", "random", steps=80, n_slots=12) >= 1


@pytest.mark.parametrize("policy", ["random", "lc"])
def test_capacity_model_batched_equals_single_envs_under_overload(policy):
    # A GPU at half throughput and 30 requests per slot: queues carried between slots, requests
    # offloaded on arrival, evicted models' queues sent to the cloud, and queues left at the
    # episode's end; every output must still match the single envs bit for bit.
    kwargs = {"n_slots": 16, "requests_per_slot": 30.0,
              "capacity": {"enabled": True, "gpu_throughput": 0.5}}
    assert assert_same_as_single_envs("EdgePFMCache-v2", policy, steps=90, **kwargs) >= 1
    venv = make_vec("EdgePFMCache-v2", 4, **kwargs)
    venv.reset(seed=SEEDS)
    rng = np.random.default_rng(0)
    queued = offloaded = 0.0
    for _ in range(60):
        venv.step(masked_random(rng, venv.action_masks()))
        queued += venv.sim.queued_work_s.sum()
        offloaded += venv.sim.metrics["offloaded_requests"].sum()
    assert queued > 0 and offloaded > 0  # the test above exercised the queue


def test_every_registered_id_has_the_vector_entry_point():
    for env_id in ENV_IDS:
        want = ("edge_cache_env.randomized:RandomizedVectorEnv" if env_id in ENTRY_POINTS
                else "edge_cache_env.vector_env:EdgePFMCacheVectorEnv")
        assert gym.spec(env_id).vector_entry_point == want, env_id
    venv = make_vec("EdgePFMCache-v0", 3, n_slots=5)
    assert isinstance(venv, VectorEnv) and venv.metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP
    obs, info = venv.reset(seed=0)
    assert obs.shape == (3, *venv.single_observation_space.shape) and obs in venv.observation_space
    assert venv.action_masks().shape == (3, venv.single_action_space.n)
    assert venv.action_space.shape == (3,)


def test_int_seed_and_reset_mask():
    venv = make_vec("EdgePFMCache-v0", 2, n_slots=8)
    obs_int, _ = venv.reset(seed=5)
    obs_list, _ = venv.reset(seed=[5, 6])
    np.testing.assert_array_equal(obs_int, obs_list)
    venv.step(np.array([1, 0]))  # sub-env 0 loads model 0
    obs, _ = venv.reset(seed=[None, None], options={"reset_mask": np.array([False, True])})
    assert obs[0, 0] == 1.0  # sub-env 0 kept its cache (feature 'cached' of model 0)


def test_bad_arguments_are_clear_errors():
    with pytest.raises(ValueError, match="num_envs"):
        EdgePFMCacheVectorEnv(num_envs=0)
    venv = make_vec("EdgePFMCache-v0", 2, n_slots=5)
    with pytest.raises(RuntimeError, match="before reset"):
        venv.step(np.zeros(2, dtype=np.int64))
    venv.reset(seed=0)
    with pytest.raises(ValueError, match="2 integers"):
        venv.step(np.zeros(3, dtype=np.int64))
    with pytest.raises(ValueError, match="sub-env 1 outside Discrete"):
        venv.step(np.array([0, 99]))
    for bad in (np.inf, np.nan, 1.5):  # not cast into a made-up action
        with pytest.raises(ValueError, match=f"2 integers .*sub-env 1 got .*{bad!r}"):
            venv.step(np.array([0.0, bad]))
    with pytest.raises(ValueError, match="sub-env 1 outside Discrete"):
        venv.step(np.array([0.0, 1e20]))
    with pytest.raises(ValueError, match="seeds for num_envs=2"):
        venv.reset(seed=[1, 2, 3])
    with pytest.raises(ValueError, match="unknown keys"):
        venv.reset(options={"foo": 1})


@pytest.mark.parametrize("env_id", ["EdgePFMCache-v0", "EdgePFMCache-v2"])
def test_disabled_autoreset_keeps_ended_sub_envs_until_reset_mask(env_id):
    venv = make_vec(env_id, 2, n_slots=3, autoreset_mode=AutoresetMode.DISABLED)
    assert venv.metadata["autoreset_mode"] == AutoresetMode.DISABLED
    venv.reset(seed=0)
    for _ in range(3):
        obs, rew, term, trunc, info = venv.step(np.zeros(2, dtype=np.int64))
    assert trunc.all() and info["_episode_cost"].all()
    frozen, _, _, trunc2, info2 = venv.step(np.array([1, 0]))  # ignored: both have ended
    np.testing.assert_array_equal(frozen, obs)
    assert not trunc2.any() and (info2["cost_total"] == 0).all()
    obs, _ = venv.reset(options={"reset_mask": np.array([True, False])})
    layout = ObservationLayout.of(venv.config)
    progress = layout.split(obs)[1][:, layout.global_index("progress")]
    assert progress.tolist() == [0.0, 1.0]  # restarted / still at its end
    _, _, _, trunc3, _ = venv.step(np.zeros(2, dtype=np.int64))
    assert not trunc3.any()
    with pytest.raises(ValueError, match="autoreset_mode"):
        make_vec(env_id, 2, autoreset_mode="SameStep")


@pytest.mark.parametrize("env_id", ["EdgePFMCache-Small-v0", "EdgePFMCache-Small-v2"])
def test_a_copied_or_pickled_vector_env_continues_as_the_original(env_id):
    """deepcopy / pickle mid-episode: the copy steps exactly as the original, across autoresets
    (the state arrays are views of a few blocks; a naive copy split them apart)."""
    import copy
    import pickle

    kwargs = {"n_slots": 20} if env_id.endswith("v0") else {"n_slots": 20, "requests_per_slot": 8}
    venv = make_vec(env_id, 3, **kwargs)
    venv.reset(seed=0)
    rng = np.random.default_rng(1)
    for _ in range(37):
        venv.step(masked_random(rng, venv.action_masks()))
    copies = [copy.deepcopy(venv), pickle.loads(pickle.dumps(venv))]
    for _ in range(150):  # the episodes (20 slots) end and autoreset within this
        actions = masked_random(rng, venv.action_masks())
        want = venv.step(actions)
        for c in copies:
            got = c.step(actions)
            for x, y in zip(want[:4], got[:4], strict=True):
                np.testing.assert_array_equal(x, y)
            assert want[4].keys() == got[4].keys()
            for k in want[4]:
                np.testing.assert_array_equal(want[4][k], got[4][k], err_msg=k)
            np.testing.assert_array_equal(c.action_masks(), venv.action_masks())


def test_random_scenarios_vectorise_as_their_single_envs():
    """Random-v0's vector entry point: sub-env b plays what gym.make plays with seed s + b,
    across autoresets (NEXT_STEP: the step after an episode's end resets it)."""
    kwargs = {"n_slots": 4, "n_max": 12}
    venv = gym.make_vec("EdgePFMCache-Random-v0", num_envs=3, vectorization_mode="vector_entry_point",
                        **kwargs)
    singles = [gym.make("EdgePFMCache-Random-v0", **kwargs) for _ in range(3)]
    obs, info = venv.reset(seed=11)
    assert venv.action_masks().shape == (3, 25)
    want = [env.reset(seed=11 + i) for i, env in enumerate(singles)]
    np.testing.assert_array_equal(obs, np.stack([o for o, _ in want]))
    assert list(info["scenario"]["gpu_gb"]) == [i["scenario"]["gpu_gb"] for _, i in want]
    rng = np.random.default_rng(0)
    ended = [False] * 3
    resets = 0
    for _ in range(80):
        actions = masked_random(rng, venv.action_masks())
        obs, reward, term, trunc, _ = venv.step(actions)
        for i, env in enumerate(singles):
            if ended[i]:
                o, _ = env.reset()
                r, ended[i] = 0.0, False
                resets += 1
            else:
                o, r, t, tr, _ = env.step(int(actions[i]))
                ended[i] = t or tr
            np.testing.assert_array_equal(obs[i], o)
            assert reward[i] == r
    assert resets >= 3
    with pytest.raises(ValueError, match="num_envs"):
        gym.make_vec("EdgePFMCache-Random-v0", num_envs=0, vectorization_mode="vector_entry_point")
