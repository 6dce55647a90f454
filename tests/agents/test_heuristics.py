"""Heuristics on hand-built observations (victims, admission rule) and over full episodes."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from obs_builder import build_observation

import agents
from agents.heuristics import FusedHeuristics, fusable, lex_argmin

N = 5
SERVE = 0


def load(m: int) -> int:
    return 1 + m


def evict(m: int) -> int:
    return 1 + N + m


def make_obs(cached, footprint, requests, free, recency=None, frequency=None, aoc=None, age=None,
             ops_used=0.0, progress=0.0) -> np.ndarray:
    """An observation with the given per-model values (raw counts are squashed like the env)."""
    return build_observation(
        N, cached=cached, footprint=footprint, requests=requests,
        recency=recency if recency is not None else 0, frequency=frequency if frequency is not None else 1,
        aoc=aoc if aoc is not None else 0.5, age=age if age is not None else 1,
        free_memory=free, ops_used=ops_used, progress=progress)

# Models 0..3 cached (0.2 of the GPU each), model 4 (0.3) requested and not cached; 0.2 free.
FULL = dict(cached=[1, 1, 1, 1, 0], footprint=[0.2, 0.2, 0.2, 0.2, 0.3], free=0.2)


def test_every_heuristic_loads_the_most_requested_model_that_fits():
    obs = make_obs(cached=[0, 0, 0, 0, 0], footprint=[0.2] * 5, requests=[1, 5, 0, 3, 0], free=1.0)
    for name in ("lc", "lru", "lfu", "fifo", "random"):
        a, _ = agents.make(name).predict(obs)
        assert a == load(1), name


@pytest.mark.parametrize("name, victim, features", [
    # LC: least AoC; model 2 has the least context
    ("lc", 2, dict(aoc=[0.9, 0.5, 0.1, 0.7, 0.0])),
    # LC ties on AoC: least recently requested (largest recency) among the tied
    ("lc", 3, dict(aoc=[0.9, 0.2, 0.2, 0.2, 0.0], recency=[1, 2, 3, 9, 0])),
    # LRU: largest recency
    ("lru", 0, dict(recency=[12, 3, 5, 2, 0], aoc=[0.0, 0.9, 0.9, 0.9, 0.0])),
    # LFU: least frequency
    ("lfu", 3, dict(frequency=[4.0, 2.0, 3.0, 0.5, 1.0], recency=[9, 1, 1, 1, 0])),
    # FIFO: loaded earliest (largest age)
    ("fifo", 1, dict(age=[3, 40, 10, 2, 0], recency=[9, 1, 1, 1, 0])),
])
def test_victim_choice(name, victim, features):
    obs = make_obs(requests=[0, 0, 0, 0, 4], **FULL, **features)
    a, _ = agents.make(name).predict(obs)
    assert a == evict(victim)


def test_models_requested_this_slot_are_never_victims():
    # Model 0 has the least AoC but is requested this slot: LC must pick model 2 instead.
    obs = make_obs(requests=[2, 0, 0, 1, 4], aoc=[0.0, 0.9, 0.3, 0.0, 0.0], **FULL)
    a, _ = agents.make("lc").predict(obs)
    assert a == evict(2)


def test_random_victim_covers_the_candidates_only_and_is_seeded():
    obs = make_obs(requests=[3, 0, 0, 0, 4], **FULL)
    agent = agents.make("random")
    agent.reset(0)
    draws = [int(agent.predict(obs)[0]) for _ in range(200)]
    assert set(draws) == {evict(1), evict(2), evict(3)}
    agent.reset(0)
    assert [int(agent.predict(obs)[0]) for _ in range(200)] == draws


def test_random_victim_batch_rows_draw_as_seeded_single_agents():
    # reset_batch(seeds): row i decides, step after step, as an agent reset with seeds[i] alone.
    rng = np.random.default_rng(1)
    seeds = [5, 0, 12, 5]
    batched = agents.make("random")
    assert batched.reset_batch(seeds)
    alone = [agents.make("random") for _ in seeds]
    for a, s in zip(alone, seeds, strict=True):
        a.reset(s)
    for _ in range(30):
        batch = np.stack([make_obs(requests=[int(rng.integers(0, 2)), 0, 0, int(rng.integers(0, 2)), 4],
                                   **FULL) for _ in seeds])
        want = [int(a.predict(o)[0]) for a, o in zip(alone, batch, strict=True)]
        assert list(batched.predict(batch)[0]) == want
    one = agents.make("random")  # a batch of one takes the single-observation path
    one.reset_batch([7])
    ref = agents.make("random")
    ref.reset(7)
    obs = make_obs(requests=[3, 0, 0, 0, 4], **FULL)
    assert [int(one.predict(obs)[0]) for _ in range(20)] == [int(ref.predict(obs)[0]) for _ in range(20)]


def test_a_model_that_cannot_fit_even_after_evictions_is_skipped():
    # Model 4 (0.7) needs more than free (0.2) plus the only idle cached model (3, 0.2):
    # evicting would be pointless, and no other uncached model is requested, so SERVE.
    obs = make_obs(cached=[1, 1, 1, 1, 0], footprint=[0.2, 0.2, 0.2, 0.2, 0.7], free=0.2,
                   requests=[1, 1, 1, 0, 9])
    for name in ("lc", "lru", "lfu", "fifo", "random"):
        a, _ = agents.make(name).predict(obs)
        assert a == SERVE, name


def test_the_next_most_requested_model_is_tried_when_the_first_can_never_fit():
    # Uncached: model 3 (0.7, 9 requests; can never fit) and model 4 (0.3, 2 requests; fits
    # after evicting the idle model 2).
    obs = make_obs(cached=[1, 1, 1, 0, 0], footprint=[0.3, 0.3, 0.2, 0.7, 0.3], free=0.2,
                   requests=[1, 1, 0, 9, 2])
    a, _ = agents.make("lc").predict(obs)
    assert a == evict(2)


def test_no_operation_left_means_serve():
    obs = make_obs(requests=[0, 0, 0, 0, 4], ops_used=1.0, **FULL)
    for name in ("lc", "lru", "lfu", "fifo", "random"):
        assert agents.make(name).predict(obs)[0] == SERVE


def test_nothing_requested_means_serve():
    obs = make_obs(requests=[0, 0, 0, 0, 0], **FULL)
    assert agents.make("lc").predict(obs)[0] == SERVE
    assert agents.make("cloud").predict(obs)[0] == SERVE


def test_batched_predict_matches_one_by_one():
    rng = np.random.default_rng(0)
    batch = np.stack([make_obs(cached=rng.integers(0, 2, N), footprint=rng.uniform(0.1, 0.4, N),
                               requests=rng.integers(0, 4, N), free=float(rng.uniform(0, 0.5)),
                               recency=rng.integers(0, 20, N), frequency=rng.uniform(0, 3, N),
                               aoc=rng.uniform(0, 1, N), age=rng.integers(0, 50, N))
                      for _ in range(64)])
    for name in ("lc", "lru", "lfu", "fifo"):
        agent = agents.make(name)
        actions, state = agent.predict(batch)
        assert actions.shape == (64,) and state is None
        assert list(actions) == [int(agent.predict(o)[0]) for o in batch]


def test_fused_heuristics_equal_each_heuristic_on_its_rows():
    rng = np.random.default_rng(3)
    names = ["lc", "lru", "lfu", "fifo", "random", "random"]
    sizes = [5, 1, 4, 3, 6, 1]  # one-row agents take the plain-Python path when alone
    batch = np.stack([make_obs(cached=rng.integers(0, 2, N), footprint=rng.uniform(0.1, 0.4, N),
                               requests=rng.integers(0, 3, N), free=float(rng.uniform(0, 0.3)),
                               recency=rng.integers(0, 20, N), frequency=rng.uniform(0, 3, N),
                               aoc=rng.uniform(0, 1, N), age=rng.integers(0, 50, N))
                      for _ in range(sum(sizes))])
    together, alone, slices, start = [], [], [], 0
    for name, k in zip(names, sizes, strict=True):
        a, b = agents.make(name), agents.make(name)
        seeds = list(range(start, start + k))
        a.reset_batch(seeds)
        b.reset_batch(seeds)
        together.append(a)
        alone.append(b)
        slices.append(slice(start, start + k))
        start += k
    assert all(fusable(a) for a in together) and not fusable(agents.make("gdsf"))
    group = FusedHeuristics(together, slices)
    for _ in range(5):  # the random victims' streams move on identically
        got = group.act(batch)
        want = np.concatenate([b.predict(batch[sl])[0].reshape(-1) for b, sl in zip(alone, slices)])
        assert (got > N).any() and list(got) == list(want)


def test_lex_argmin_breaks_ties_with_the_next_key():
    valid = np.array([[True, True, True, False]])
    assert lex_argmin([np.array([[1.0, 0.0, 0.0, -5.0]]), np.array([[0.0, 2.0, 1.0, 0.0]])], valid)[0] == 2


def test_registry_errors_name_the_known_agents():
    with pytest.raises(ValueError, match="known: .*'lc'.*'lru'"):
        agents.make("belady")
    with pytest.raises(ValueError, match="unknown trained-agent algorithm 'a2c'"):
        agents.make("a2c:model.zip")


@pytest.mark.parametrize("env_id, seeds", [("EdgePFMCache-Small-v0", (0, 1)), ("EdgePFMCache-v0", (0,))])
def test_no_agent_takes_a_masked_out_action_over_full_episodes(env_id, seeds):
    env = gym.make(env_id)
    for name in sorted(agents.AGENTS):
        agent = agents.make(name)
        for seed in seeds:
            obs, info = env.reset(seed=seed)
            agent.reset(seed)
            agent.attach(env)
            done = False
            while not done:
                a = int(agent.predict(obs)[0])
                assert info["action_mask"][a], f"{name} took masked action {a} at slot {info['slot']}"
                obs, _, terminated, truncated, info = env.step(a)
                done = terminated or truncated
            assert info["invalid_actions"] == 0
            assert (info["loads"] == 0) == (name == "cloud"), name


def test_reference_agents_need_an_env():
    obs = make_obs(requests=[0, 0, 0, 0, 4], **FULL)
    for name in ("static", "clairvoyant"):
        with pytest.raises(RuntimeError, match="attach"):
            agents.make(name).predict(obs)


@pytest.mark.parametrize("name", ["lc", "lru", "lfu", "fifo", "random", "clairvoyant"])
def test_single_observation_fast_path_plays_like_the_batched_path(name):
    env = gym.make("EdgePFMCache-Small-v0", n_slots=80)
    runs = []
    for fast in (True, False):
        agent = agents.make(name)
        if not fast:
            agent.FAST_PATH_MAX_MODELS = 0  # every observation through the numpy path
        obs, info = env.reset(seed=4)
        agent.reset(4)
        agent.attach(env)
        actions, done = [], False
        while not done:
            a = int(agent.predict(obs)[0])
            actions.append(a)
            obs, _, terminated, truncated, info = env.step(a)
            done = terminated or truncated
        runs.append(actions)
    assert runs[0] == runs[1]
    assert any(a > env.unwrapped.n_models for a in runs[0])  # evictions were exercised
