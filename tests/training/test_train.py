"""train.py end to end (tiny nets, a few hundred steps, 20-slot episodes), the trained-agent
loader, hyperparameter handling and the seed rule."""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import yaml

pytest.importorskip("stable_baselines3")
pytest.importorskip("sb3_contrib")

import edge_cache_env  # noqa: E402,F401
from agents.trained import ALGOS, algo_class, load_trained, vecnormalize_path  # noqa: E402
from evaluation import seeds  # noqa: E402
from training import cli as train  # noqa: E402
from training.hyperparams import load_hyperparams, parse_overrides, parse_value, split_hyperparams  # noqa: E402

ENV = "EdgePFMCache-Small-v0"
SHORT = json.dumps({"n_slots": 20})


def run_train(out: Path, algo: str, *extra: str, seed: int = 0, steps: int = 256) -> Path:
    tiny = ["policy_kwargs={net_arch: [16]}"]
    tiny += ["n_steps=64", "batch_size=32", "n_epochs=2"] if algo != "dqn" else \
        ["learning_starts=64", "buffer_size=1000", "target_update_interval=100"]
    return train.main([
        "--algo", algo, "--env", ENV, "--timesteps", str(steps), "--seed", str(seed),
        "--n-envs", "2", "--out", str(out), "--env-kwargs", SHORT, "--eval-freq", "128",
        "--eval-episodes", "2", "--checkpoint-freq", "128", "--no-progress-bar",
        "--hyperparams", *tiny, *extra])


def rollout_actions(agent, n_steps: int = 150, seed: int = 3, env_id: str = ENV,
                    env_kwargs: dict | None = None) -> list[tuple[int, bool]]:
    """(action, was it valid) along one env, with masks offered to the agent."""
    env = gym.make(env_id, **(env_kwargs if env_kwargs is not None else {"n_slots": 20}))
    obs, _ = env.reset(seed=seed)
    out = []
    for _ in range(n_steps):
        mask = env.unwrapped.action_masks()
        action, _ = agent.predict(obs[None], deterministic=True, action_masks=mask[None])
        a = int(np.asarray(action).reshape(-1)[0])
        assert env.action_space.contains(a)
        out.append((a, bool(mask[a])))
        obs, _, _, truncated, _ = env.step(a)
        if truncated:
            obs, _ = env.reset(seed=seed + 1)
    return out


@pytest.mark.slow
@pytest.mark.parametrize("algo", ALGOS)
def test_train_writes_run_folder_and_model_acts(tmp_path, algo):
    run = run_train(tmp_path, algo)
    for name in ("model.zip", "best_model.zip", "config.yml", "args.yml", "command.txt",
                 "eval_log.csv", "evaluations.npz", "summary.yml"):
        assert (run / name).is_file(), name
    assert list((run / "checkpoints").glob("ckpt_*_steps.zip"))
    config = yaml.safe_load((run / "config.yml").read_text())
    assert config["env_config"]["n_slots"] == 20
    assert config["env_config"]["server"]["gpu_gb"] == 40.0
    assert config["hyperparams"]["policy_kwargs"] == {"net_arch": [16]}
    assert config["seeds"]["train_seed_base"] == seeds.train_seed(0)
    assert (run / "command.txt").read_text().startswith(f"python train.py --algo {algo}")
    rows = list(csv.DictReader((run / "eval_log.csv").open()))
    assert [int(r["timesteps"]) for r in rows] == [0, 128, 256]
    assert all(float(r["mean_cost"]) > 0 for r in rows)
    assert rows[0]["reference"] == "lc" and float(rows[0]["reference_cost"]) > 0
    # The best model is the one with the lowest evaluation cost.
    best = yaml.safe_load((run / "summary.yml").read_text())[-1]["best_eval_cost"]
    assert best == pytest.approx(min(float(r["mean_cost"]) for r in rows), rel=1e-6)

    agent = load_trained(algo, run / "model.zip")
    steps = rollout_actions(agent)
    if algo == "maskable_ppo":
        assert all(valid for _, valid in steps), "MaskablePPO took a masked-out action"
    assert load_trained(algo, run / "best_model").model is not None  # ".zip" may be omitted


@pytest.mark.slow
def test_same_seed_same_policy_other_seed_differs(tmp_path):
    probe = np.random.default_rng(0).random((32, gym.make(ENV).observation_space.shape[0]),
                                            dtype=np.float32)

    def logits(run: Path) -> np.ndarray:
        import torch

        model = load_trained("ppo", run / "model.zip").model
        with torch.no_grad():
            dist = model.policy.get_distribution(torch.as_tensor(probe))
        return dist.distribution.logits.numpy()

    warm = "warm_start={steps: 400, epochs: 2}"  # the warm start must be deterministic too
    a = logits(run_train(tmp_path / "a", "ppo", warm, seed=1))
    b = logits(run_train(tmp_path / "b", "ppo", warm, seed=1))
    c = logits(run_train(tmp_path / "c", "ppo", warm, seed=2))
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    acts_a = load_trained("ppo", tmp_path / "a" / "ppo-EdgePFMCache-Small-v0-seed1" / "model.zip")
    acts_b = load_trained("ppo", tmp_path / "b" / "ppo-EdgePFMCache-Small-v0-seed1" / "model.zip")
    assert rollout_actions(acts_a) == rollout_actions(acts_b)


@pytest.mark.slow
def test_resume_continues_the_run(tmp_path):
    run = run_train(tmp_path, "maskable_ppo")
    with pytest.raises(SystemExit):  # the folder exists: no silent overwrite
        run_train(tmp_path, "maskable_ppo")
    train.main(["--algo", "maskable_ppo", "--env", ENV, "--timesteps", "128", "--seed", "0",
                "--n-envs", "2", "--out", str(tmp_path), "--env-kwargs", SHORT, "--eval-freq", "128",
                "--eval-episodes", "2", "--checkpoint-freq", "0", "--no-progress-bar", "--resume"])
    legs = yaml.safe_load((run / "summary.yml").read_text())
    assert [leg["end_timesteps"] for leg in legs] == [256, 384]
    assert (run / "args_resume1.yml").is_file()
    assert yaml.safe_load((run / "config.yml").read_text())["env_kwargs"] == {"n_slots": 20}
    with pytest.raises(SystemExit):  # a resumed run keeps its hyperparameters
        train.main(["--algo", "maskable_ppo", "--env", ENV, "--out", str(tmp_path), "--resume",
                    "--timesteps", "64", "--hyperparams", "gamma=0.9"])
    assert legs[1]["train_seed_base"] != legs[0]["train_seed_base"]
    assert len((run / "command.txt").read_text().splitlines()) == 2
    rows = list(csv.DictReader((run / "eval_log.csv").open()))
    assert [int(r["timesteps"]) for r in rows] == [0, 128, 256, 384]
    assert len(np.load(run / "evaluations.npz")["timesteps"]) == 4
    assert load_trained("maskable_ppo", run / "model.zip").model.num_timesteps == 384


@pytest.mark.slow
def test_vecnormalize_saved_and_reloaded(tmp_path):
    run = run_train(tmp_path, "ppo", "normalize={norm_obs: true, norm_reward: true}")
    assert vecnormalize_path(run / "model.zip").is_file()
    agent = load_trained("ppo", run / "model.zip")
    assert agent.vec_normalize is not None and not agent.vec_normalize.training
    obs = np.full((1, agent.model.observation_space.shape[0]), 0.5, dtype=np.float32)
    normed = agent.vec_normalize.normalize_obs(obs)
    assert not np.allclose(normed, obs)  # statistics were learned, not identity
    rollout_actions(agent, n_steps=50)


# ------------------------------------------------------------------------- clear errors
def _error(capsys, *argv: str) -> str:
    with pytest.raises(SystemExit) as e:
        train.main(list(argv))
    assert e.value.code == 2
    return capsys.readouterr().err


def test_clear_errors(tmp_path, capsys):
    base = ["--env", ENV, "--timesteps", "10", "--out", str(tmp_path), "--no-progress-bar"]
    assert "unknown algorithm 'a2c'" in _error(capsys, "--algo", "a2c", *base)
    assert "unknown env id 'EdgePFMCache-v9'" in _error(
        capsys, "--algo", "ppo", "--env", "EdgePFMCache-v9", "--timesteps", "10", "--out", str(tmp_path))
    err = _error(capsys, "--algo", "ppo", *base, "--hyperparams", "n_step=64")
    assert "does not accept hyperparameter(s) ['n_step']" in err and "n_steps" in err
    err = _error(capsys, "--algo", "dqn", *base, "--hyperparams", "policy_kwargs={net_arc: [16]}")
    assert "policy_kwargs ['net_arc']" in err
    assert "set by train.py (--seed)" in _error(capsys, "--algo", "ppo", *base, "--hyperparams", "seed=3")
    assert "gpu_gbb" in _error(capsys, "--algo", "ppo", *base, "--env-kwargs", '{"gpu_gbb": 40}')
    assert "not valid JSON" in _error(capsys, "--algo", "ppo", *base, "--env-kwargs", "{gpu_gb: 40}")
    assert "key=value" in _error(capsys, "--algo", "ppo", *base, "--hyperparams", "gamma")
    assert not any(tmp_path.iterdir()), "a rejected command must not leave a run folder"


def test_load_trained_errors(tmp_path):
    with pytest.raises(ValueError, match="unknown algorithm 'sac'"):
        algo_class("sac")
    with pytest.raises(FileNotFoundError, match="no trained ppo model"):
        load_trained("ppo", tmp_path / "missing.zip")


# ------------------------------------------------------------------- hyperparameter files
def test_hyperparams_merge_and_parse(tmp_path):
    (tmp_path / "ppo.yml").write_text(
        "default: {gamma: 0.99, n_steps: 512, policy_kwargs: {net_arch: [64, 64]}}\n"
        f"{ENV}: {{n_steps: 128}}\n")
    assert load_hyperparams("ppo", ENV, tmp_path) == {
        "gamma": 0.99, "n_steps": 128, "policy_kwargs": {"net_arch": [64, 64]}}
    assert load_hyperparams("ppo", "EdgePFMCache-v0", tmp_path)["n_steps"] == 512
    (tmp_path / "dqn.yml").write_text("default: {}\nEdgePFMCach-v0: {gamma: 0.9}\n")
    with pytest.raises(ValueError, match="'EdgePFMCach-v0' is neither 'default' nor a registered env id"):
        load_hyperparams("dqn", ENV, tmp_path)
    assert parse_value("3e-4") == pytest.approx(3e-4)
    assert parse_overrides(["policy_kwargs={net_arch: [16], activation_fn: relu}", "normalize=true"]) == {
        "policy_kwargs": {"net_arch": [16], "activation_fn": "relu"}, "normalize": True}
    import torch.nn as nn

    _, kwargs = split_hyperparams(algo_class("ppo"), {"policy_kwargs": {"activation_fn": "relu"}})
    assert kwargs["policy_kwargs"]["activation_fn"] is nn.ReLU
    with pytest.raises(ValueError, match="activation_fn = 'relux'"):
        split_hyperparams(algo_class("ppo"), {"policy_kwargs": {"activation_fn": "relux"}})
    with pytest.raises(ValueError, match="normalize"):
        split_hyperparams(algo_class("ppo"), {"normalize": {"norm_obss": True}})


def test_linear_schedules_parse_and_reject_bad_values():
    _, kwargs = split_hyperparams(algo_class("maskable_ppo"),
                                  parse_overrides(["learning_rate=lin_2.0e-4", "clip_range=lin_0.2"]))
    assert kwargs["learning_rate"](1.0) == pytest.approx(2e-4)
    assert kwargs["learning_rate"](0.25) == pytest.approx(5e-5)
    assert kwargs["clip_range"](0.5) == pytest.approx(0.1)
    for bad in ("lin_", "lin_x", "exp_1e-4", "lin_-1"):
        with pytest.raises(ValueError, match=f"learning_rate = '{bad}' is invalid"):
            split_hyperparams(algo_class("ppo"), {"learning_rate": bad})


@pytest.mark.slow
def test_linear_learning_rate_decays_during_training(tmp_path):
    run = run_train(tmp_path, "ppo", "learning_rate=lin_1.0e-3", steps=256)
    assert yaml.safe_load((run / "config.yml").read_text())["hyperparams"]["learning_rate"] == "lin_1.0e-3"
    model = load_trained("ppo", run / "model.zip").model
    # The last update ran at progress_remaining 0: a constant rate would have left 1e-3 here.
    assert model.policy.optimizer.param_groups[0]["lr"] == pytest.approx(0.0)
    assert model.lr_schedule(1.0) == pytest.approx(1e-3)
    assert model.lr_schedule(0.5) == pytest.approx(5e-4)


@pytest.mark.parametrize("algo", ALGOS)
def test_shipped_yaml_files_are_valid(algo):
    for env_id in ("EdgePFMCache-v0", ENV):
        split_hyperparams(algo_class(algo), load_hyperparams(algo, env_id))


# -------------------------------------------------------------------------------- seeds
def test_seed_ranges_never_overlap():
    bench = set(seeds.BENCHMARK_SEEDS)
    evals = set(seeds.eval_seeds(seeds.MAX_EVAL_EPISODES))
    train_seeds = {seeds.train_seed(s, r) + i for s in range(50) for r in range(10) for i in range(100)}
    assert not bench & evals and not bench & train_seeds and not evals & train_seeds
    # Distinct runs and legs never share a starting seed.
    assert len(train_seeds) == 50 * 10 * 100
    with pytest.raises(ValueError, match="n_envs"):
        seeds.check_training_seeds(0, 101)
    with pytest.raises(ValueError, match="seed"):
        seeds.train_seed(-1)
    # The largest run seed: its last env of its last possible resume still seeds numpy.
    top = seeds.train_seed(seeds.MAX_RUN_SEED, 9) + 99
    assert top < 2**32 <= seeds.train_seed(seeds.MAX_RUN_SEED + 1, 9) + 999
    np.random.default_rng(top), np.random.RandomState(top)


# ------------------------------------------------------------------------ slot discounting
def _buffers(n: int):
    from gymnasium import spaces
    from stable_baselines3.common.buffers import RolloutBuffer

    from training.slot_discount import SlotRolloutBuffer

    obs_space, act_space = spaces.Box(0, 1, (2,), np.float32), spaces.Discrete(3)
    plain_buf = RolloutBuffer(n, obs_space, act_space, gamma=0.9, gae_lambda=0.8)
    slot_buf = SlotRolloutBuffer(n, obs_space, act_space, gamma=0.9, gae_lambda=0.8)
    rng = np.random.default_rng(0)
    for buf in (plain_buf, slot_buf):
        buf.rewards[:] = rng.random((n, 1)) if buf is plain_buf else plain_buf.rewards
        buf.values[:] = np.linspace(1, 2, n)[:, None]
    return plain_buf, slot_buf


def test_slot_gae_equals_gae_when_every_step_serves_and_ignores_in_slot_steps():
    import torch

    plain_buf, slot_buf = _buffers(6)
    last, dones = torch.tensor([0.5]), np.array([False])
    plain_buf.compute_returns_and_advantage(last, dones)
    slot_buf.compute_returns_and_advantage(last, dones)
    np.testing.assert_allclose(slot_buf.advantages, plain_buf.advantages, rtol=1e-6)
    # Steps 0 and 1 are operations inside the slot that step 2 serves: no discount between them.
    slot_buf.slot_served[:, 0] = [0, 0, 1, 1, 1, 1]
    slot_buf.compute_returns_and_advantage(last, dones)
    r, v = slot_buf.rewards[:, 0], slot_buf.values[:, 0]
    a2 = slot_buf.advantages[2, 0]
    a1 = r[1] + v[2] - v[1] + a2  # gamma = lambda = 1 inside the slot
    a0 = r[0] + v[1] - v[0] + a1
    np.testing.assert_allclose(slot_buf.advantages[:2, 0], [a0, a1], rtol=1e-6)
    assert a2 == pytest.approx(plain_buf.advantages[2, 0], rel=1e-6)  # later steps unchanged


def test_horizon_terminal_wrapper_marks_served_slots_and_the_end():
    from training.wrappers import HorizonTerminal

    env = HorizonTerminal(gym.make(ENV, n_slots=3))
    obs, info = env.reset(seed=0)
    mask = env.get_wrapper_attr("action_masks")()
    load = int(np.flatnonzero(mask[1:])[0]) + 1
    _, _, term, trunc, info = env.step(load)
    assert not info["slot_served"] and not term and not trunc
    flags = []
    for _ in range(3):
        _, _, term, trunc, info = env.step(0)
        flags.append((info["slot_served"], term, trunc))
        if not term:  # mid-episode: the lean info that DummyVecEnv deep-copies cheaply
            assert info == {"slot_served": True}
    assert flags == [(True, False, False), (True, False, False), (True, True, False)]
    # The last step carries the env's episode figures (read by the Monitor and callbacks).
    assert info["slot"] == 3 and "episode_cost" in info and "hit_ratio" in info


@pytest.mark.slow
def test_slot_discount_trains_for_each_algo(tmp_path):
    for algo in ALGOS:
        run = run_train(tmp_path, algo, "slot_discount=true", steps=128)
        config = yaml.safe_load((run / "config.yml").read_text())
        assert config["hyperparams"]["slot_discount"] is True
        model = load_trained(algo, run / "model.zip").model
        buffer_cls = type(model.replay_buffer if algo == "dqn" else model.rollout_buffer).__name__
        assert buffer_cls.startswith(("Slot", "MaskableSlot")), buffer_cls


# ------------------------------------------------------------------------------ warm start
@pytest.mark.slow
@pytest.mark.parametrize("algo", ALGOS)
def test_warm_start_imitates_lc(tmp_path, algo):
    extra = ["buffer_size=4000"] if algo == "dqn" else []  # keep every demonstration
    run = run_train(tmp_path, algo, "warm_start={steps: 1600, epochs: 20, batch_size: 32, learning_rate: 3.0e-3}",
                    *extra, steps=128)
    warm = yaml.safe_load((run / "summary.yml").read_text())[0]["warm_start"]
    assert warm["agent"] == "lc" and warm["steps"] == 1600 and warm["episodes"] >= 2
    assert warm["demo_mean_cost"] > 0
    # A uniform policy agrees with LC on ~1/13 of the steps; the clone on most of them.
    assert warm["bc_accuracy"] > 0.7, warm


def test_warm_start_settings_are_checked():
    from agents.tuned import GRID_0_2
    from training.warm_start import DEFAULTS, check_settings, teacher

    assert check_settings(True) == DEFAULTS and check_settings(False) == {}
    assert check_settings({"steps": 10})["steps"] == 10
    with pytest.raises(ValueError, match="warm_start"):
        check_settings({"step": 10})
    pinned = check_settings({"agent": "cost_benefit_tuned", "agent_kwargs": {"grid": "0.2"}})
    assert teacher(pinned).grid == GRID_0_2 and teacher(check_settings(True)).name == "lc"
    # A bad argument is refused when the settings are read, naming the field and the agent.
    with pytest.raises(ValueError, match=r"warm_start.agent_kwargs = \{'grid': 0.2\} is invalid for agent "
                                         r"'cost_benefit_tuned': .*grid must be a grid's name \(0.3, 0.2\)"):
        check_settings({"agent": "cost_benefit_tuned", "agent_kwargs": {"grid": 0.2}})
    with pytest.raises(ValueError, match="warm_start.agent_kwargs = .* invalid for agent 'lc'"):
        check_settings({"agent": "lc", "agent_kwargs": {"horizon": 3}})
    with pytest.raises(ValueError, match="warm_start.agent_kwargs = 3 is invalid: must be a mapping"):
        check_settings({"agent_kwargs": 3})


@pytest.mark.slow
def test_time_budget_stops_training(tmp_path):
    run = run_train(tmp_path, "ppo", "--max-minutes", "0.05", steps=10_000_000)
    leg = yaml.safe_load((run / "summary.yml").read_text())[0]
    assert leg["stopped_by_time_budget"] and leg["end_timesteps"] < 10_000_000
    assert (run / "model.zip").is_file()


# --------------------------------------------------------------------------- pretrained
PRETRAINED = Path(__file__).resolve().parents[2] / "agents" / "pretrained"


def _manifest() -> dict:
    path = PRETRAINED / "manifest.json"
    assert path.is_file(), f"{path} is missing"
    return json.loads(path.read_text())


@pytest.mark.slow
@pytest.mark.parametrize("algo", ALGOS)
def test_pretrained_model_loads_and_acts_validly(algo):
    import agents
    from agents.trained import pretrained_specs
    from evaluation.engine import run_episode

    entry = _manifest()["models"][algo]
    assert entry["reproduce"].startswith(f"python train.py --algo {algo} ")
    assert (PRETRAINED / entry["file"]).stat().st_size < 2_000_000  # small enough to commit
    agent = load_trained(algo, PRETRAINED / entry["file"])
    steps = rollout_actions(agent, n_steps=300, seed=0, env_id=entry["env_id"], env_kwargs={})
    if algo == "maskable_ppo":
        assert all(valid for _, valid in steps), "MaskablePPO took a masked-out action"
    # Through the registry and the benchmark's episode loop, on a whole benchmark episode.
    spec = next(s for s in pretrained_specs(entry["env_id"], PRETRAINED) if s.startswith(f"{algo}:"))
    env = gym.make(entry["env_id"])
    trained = run_episode(env, agents.make(spec), seed=0)
    cloud = run_episode(env, agents.make("cloud"), seed=0)
    if algo == "maskable_ppo":
        assert trained["invalid_actions"] == 0
    assert trained["cost"] < 0.5 * cloud["cost"], (trained["cost"], cloud["cost"])  # it caches


@pytest.mark.slow
def test_warm_start_from_lc_on_v1(tmp_path):
    """The demonstrator reads each env's observation layout (v1 appends capacity features)."""
    run = train.main([
        "--algo", "maskable_ppo", "--env", "EdgePFMCache-Small-v2", "--timesteps", "64", "--n-envs", "2",
        "--out", str(tmp_path), "--env-kwargs", SHORT, "--eval-freq", "0", "--checkpoint-freq", "0",
        "--no-progress-bar", "--hyperparams", "policy_kwargs={net_arch: [16]}", "n_steps=32", "batch_size=32",
        "n_epochs=1", "warm_start={steps: 1600, epochs: 20, batch_size: 32, learning_rate: 3.0e-3}"])
    warm = yaml.safe_load((run / "summary.yml").read_text())[0]["warm_start"]
    assert warm["agent"] == "lc" and warm["bc_accuracy"] > 0.7, warm


@pytest.mark.slow
def test_warm_start_in_subprocess_envs(tmp_path):
    # The warm start asks the envs whether they carry advice: a question a SubprocVecEnv worker
    # must answer, not die on (an AttributeError there kills the worker).
    run = run_train(tmp_path, "maskable_ppo", "warm_start={steps: 128, epochs: 1}", "--vec", "subproc",
                    steps=128)
    summary = yaml.safe_load((run / "summary.yml").read_text())[-1]
    assert summary["end_timesteps"] == 128
    assert yaml.safe_load((run / "args.yml").read_text())["vec"] == "subproc"


@pytest.mark.slow
def test_time_budget_cuts_the_warm_start_short(tmp_path):
    # 100k demonstration steps take far longer than the 1.2 s budget: the warm start stops,
    # pre-trains on what it has, and the run still saves a model.
    start = time.perf_counter()
    run = run_train(tmp_path, "maskable_ppo", "warm_start={steps: 100000, epochs: 50}",
                    "--max-minutes", "0.02", steps=256)
    assert time.perf_counter() - start < 60
    leg = yaml.safe_load((run / "summary.yml").read_text())[-1]
    assert leg["warm_start"]["stopped"] is True and leg["warm_start"]["steps"] < 100000
    assert leg["stopped_by_time_budget"] is True
    assert (run / "model.zip").is_file()


def test_a_stop_request_ends_collection_and_cloning_early():
    from stable_baselines3.common.env_util import make_vec_env

    from agents import make
    from training.warm_start import DEFAULTS, warm_start
    from training.wrappers import HorizonTerminal

    venv = make_vec_env(lambda **kw: gym.make(ENV, **kw), n_envs=2, env_kwargs={"n_slots": 20},
                        wrapper_class=HorizonTerminal, seed=0)
    model = algo_class("maskable_ppo")("MlpPolicy", venv, seed=0, device="cpu", n_steps=32,
                                       batch_size=32, policy_kwargs={"net_arch": [8]})
    settings = {**DEFAULTS, "steps": 1000, "epochs": 5, "batch_size": 32}
    calls: list[int] = []
    stopped = warm_start(model, "maskable_ppo", make("lc"), settings, 0.99, True,
                         should_stop=lambda: calls.append(1) or len(calls) > 10)
    assert stopped["stopped"] is True and stopped["steps"] == 2 * 11  # 11 steps of 2 envs, then no epoch
    full = warm_start(model, "maskable_ppo", make("lc"), {**settings, "steps": 40}, 0.99, True,
                      should_stop=lambda: False)
    assert "stopped" not in full and full["steps"] == 40


def test_a_mapping_override_names_the_yaml_keys_it_drops(tmp_path, capsys):
    (tmp_path / "ppo.yml").write_text(
        "default: {n_envs: 2, n_steps: 32, batch_size: 32, n_epochs: 1, policy_kwargs: {net_arch: [8]},"
        " warm_start: {agent: lfu, steps: 64, epochs: 1}}\n")
    train.main(["--algo", "ppo", "--env", ENV, "--timesteps", "64", "--out", str(tmp_path / "runs"),
                "--env-kwargs", SHORT, "--eval-freq", "0", "--checkpoint-freq", "0", "--no-progress-bar",
                "--hyperparams-dir", str(tmp_path), "--hyperparams", "warm_start={steps: 32}"])
    err = capsys.readouterr().err
    assert "--hyperparams warm_start replaces the YAML's warm_start" in err
    assert "agent, epochs not given" in err
    assert "policy_kwargs" not in err  # not overridden: no note


@pytest.mark.slow
def test_a_resume_after_a_stopped_leg_evaluates_where_it_starts(tmp_path):
    # The budget stops the first leg between evaluations (here: during the warm start, so after
    # one step); the resume evaluates the model it starts from before training on.
    run = run_train(tmp_path, "maskable_ppo", "warm_start={steps: 100000, epochs: 50}",
                    "--max-minutes", "0.02", steps=256)
    first = yaml.safe_load((run / "summary.yml").read_text())[-1]["end_timesteps"]
    assert 0 < first < 128
    train.main(["--algo", "maskable_ppo", "--env", ENV, "--timesteps", "128", "--seed", "0",
                "--n-envs", "2", "--out", str(tmp_path), "--env-kwargs", SHORT, "--eval-freq", "128",
                "--eval-episodes", "2", "--checkpoint-freq", "0", "--no-progress-bar", "--resume"])
    steps = [int(r["timesteps"]) for r in csv.DictReader((run / "eval_log.csv").open())]
    assert steps[:2] == [0, first] and steps[-1] > first


@pytest.mark.slow
@pytest.mark.parametrize("stop", ["signal", "budget"])
def test_stop_after_steps_rebuilds_a_stopped_run_bit_for_bit(tmp_path, monkeypatch, stop):
    import os
    import signal

    from training import callbacks
    from training.release.verify_pretrained import compare

    lr = "learning_rate=lin_3.0e-3"  # decays over --timesteps: the rebuild must keep them
    if stop == "signal":  # a deterministic Ctrl-C in the middle of the third rollout
        original = callbacks.EpisodeInfoCallback._on_step

        def interrupt(self):
            if self.num_timesteps == 150:
                os.kill(os.getpid(), signal.SIGINT)
            return original(self)

        monkeypatch.setattr(callbacks.EpisodeInfoCallback, "_on_step", interrupt)
        with pytest.raises(SystemExit) as e:
            run_train(tmp_path / "a", "ppo", lr, steps=512)
        assert e.value.code == 130
        monkeypatch.undo()
        total = 512
    else:
        total = 100_000
        run_train(tmp_path / "a", "ppo", lr, "--max-minutes", "0.02", steps=total)
    name = "ppo-EdgePFMCache-Small-v0-seed0"
    leg = yaml.safe_load((tmp_path / "a" / name / "summary.yml").read_text())[-1]
    assert leg["interrupted" if stop == "signal" else "stopped_by_time_budget"]
    reached = leg["end_timesteps"]
    assert 0 < reached < total
    run = run_train(tmp_path / "b", "ppo", lr, "--stop-after-steps", str(reached), steps=total)
    rebuilt = yaml.safe_load((run / "summary.yml").read_text())[-1]
    assert rebuilt["end_timesteps"] == reached and rebuilt["stopped_by_step_limit"] is True
    assert rebuilt["stop_after_steps"] == reached and not rebuilt["interrupted"]
    assert yaml.safe_load((run / "args.yml").read_text())["stop_after_steps"] == reached
    assert compare(tmp_path / "a" / name / "model.zip", run / "model.zip")["identical"]
    if stop == "signal":  # the old recipe (--timesteps S) decays and finishes rollouts otherwise
        other = run_train(tmp_path / "c", "ppo", lr, steps=reached)
        assert not compare(run / "model.zip", other / "model.zip")["identical"]
