"""Train PPO, MaskablePPO or DQN on an EdgePFMCache scenario and leave a complete run folder.

    python train.py --algo maskable_ppo --env EdgePFMCache-v0 --timesteps 1000000 --seed 0 \\
        --n-envs 2 --out runs/ [--vec dummy|subproc] [--tensorboard] [--env-kwargs JSON] \\
        [--hyperparams key=value ...] [--resume] [--max-minutes M]

Run folder ``<out>/<algo>-<env>-seed<S>/``: ``model.zip`` (last), ``best_model.zip`` (best on the
held-out evaluation seeds), ``checkpoints/``, ``config.yml`` (resolved env config and
hyperparameters), ``args.yml``, ``command.txt``, ``eval_log.csv`` and ``evaluations.npz``
(periodic evaluation), ``monitor/`` (training episodes), ``summary.yml`` (wall-clock time per
leg), ``tb/`` with ``--tensorboard``. Seeds follow :mod:`evaluation.seeds`: training, evaluation
and benchmark episodes never overlap.
"""

from __future__ import annotations

import argparse
import json
import platform
import shlex
import sys
import time
from pathlib import Path
from typing import Any, NoReturn

import yaml

from agents.trained import ALGOS  # one list of trainable algorithms (light import)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--algo", required=True, help=f"one of {', '.join(ALGOS)}")
    p.add_argument("--env", default="EdgePFMCache-v0", help="registered env id")
    p.add_argument("--timesteps", type=int, default=None,
                   help="steps to train (with --resume: additional steps); default: YAML n_timesteps")
    p.add_argument("--seed", type=int, default=0, help="run seed (>= 0); see evaluation/seeds.py")
    p.add_argument("--n-envs", type=int, default=None, help="parallel envs (default: YAML n_envs or 2)")
    p.add_argument("--out", default="runs", help="parent folder of the run folder")
    p.add_argument("--run-name", default=None, help="run folder name (default <algo>-<env>-seed<S>)")
    p.add_argument("--vec", choices=("dummy", "subproc", "native"), default="dummy",
                   help="DummyVecEnv (one process), SubprocVecEnv (one process per env) or native "
                        "(all envs in one batched-numpy vector env: training/vec_adapter.py)")
    p.add_argument("--tensorboard", action="store_true", help="log to <run>/tb for TensorBoard")
    p.add_argument("--env-kwargs", default="{}", help="JSON object of env overrides, e.g. '{\"gpu_gb\": 60}'")
    p.add_argument("--hyperparams", nargs="*", default=[], metavar="KEY=VALUE",
                   help="override YAML hyperparameters, values in YAML syntax: gamma=0.995 "
                        "'policy_kwargs={net_arch: [64, 64]}'")
    p.add_argument("--hyperparams-dir", default=None,
                   help="folder of <algo>.yml (default: the package's training/configs/)")
    p.add_argument("--resume", action="store_true", help="continue the run folder's latest model")
    p.add_argument("--eval-freq", type=int, default=50_000, help="evaluate every N total steps (0: never)")
    p.add_argument("--eval-episodes", type=int, default=10, help="held-out episodes per evaluation")
    p.add_argument("--checkpoint-freq", type=int, default=200_000, help="checkpoint every N total steps (0: never)")
    p.add_argument("--reference", default="lc", help="heuristic drawn as a reference line ('none': skip)")
    p.add_argument("--max-minutes", type=float, default=None,
                   help="stop training after this wall-clock time (warm start included)")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    p.add_argument("--no-progress-bar", action="store_true", help="hide the progress bar")
    p.add_argument("--verbose", type=int, default=0, help="SB3 verbosity (0, 1, 2)")
    return p


def fail(message: str) -> NoReturn:
    print(f"train.py: error: {message}", file=sys.stderr)
    raise SystemExit(2)


def check_env_id(env_id: str) -> None:
    import gymnasium as gym

    import edge_cache_env  # noqa: F401  (registers the ids)

    if env_id not in gym.registry:
        from edge_cache_env.registration import ENV_IDS

        fail(f"unknown env id {env_id!r}; registered EdgePFMCache ids: {', '.join(ENV_IDS)}")


def parse_env_kwargs(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        fail(f"--env-kwargs is not valid JSON ({e}): {text!r}")
    if not isinstance(value, dict):
        fail(f"--env-kwargs must be a JSON object, got {text!r}")
    return value


def make_vec(env_id: str, env_kwargs: dict[str, Any], n_envs: int, vec: str,
             monitor_dir: str | None, seed: int | None) -> Any:
    """Monitored vector env (episode cost and hit ratio go into the monitor CSVs)."""
    import gymnasium as gym
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv

    from training.wrappers import HorizonTerminal

    if vec == "native":
        from training.vec_adapter import make_native_vec

        return make_native_vec(env_id, env_kwargs, n_envs, monitor_dir, seed)
    # A callable, not the id: make_vec_env would ask the id for render_mode="rgb_array".
    return make_vec_env(lambda **kw: gym.make(env_id, **kw), n_envs=n_envs, wrapper_class=HorizonTerminal,
                        seed=seed, env_kwargs=env_kwargs,
                        vec_env_cls=SubprocVecEnv if vec == "subproc" else DummyVecEnv,
                        monitor_dir=monitor_dir,
                        monitor_kwargs={"info_keywords": ("episode_cost", "hit_ratio", "invalid_actions")})


def latest_model(run: Path) -> Path:
    """The most recent of ``model.zip`` and the checkpoints (a leg may have been killed)."""
    candidates = [run / "model.zip", *sorted((run / "checkpoints").glob("ckpt_*_steps.zip"))]
    candidates = [c for c in candidates if c.is_file()]
    if not candidates:
        fail(f"--resume: no model.zip or checkpoint in {run}")
    return max(candidates, key=lambda c: c.stat().st_mtime)


def versions() -> dict[str, str]:
    import gymnasium
    import numpy
    import sb3_contrib
    import stable_baselines3
    import torch

    return {"python": platform.python_version(), "gymnasium": str(gymnasium.__version__),
            "numpy": str(numpy.__version__), "torch": str(torch.__version__),
            "stable_baselines3": str(stable_baselines3.__version__),
            "sb3_contrib": str(sb3_contrib.__version__)}


def plain_json(obj: Any) -> Any:
    """Tuples to lists (YAML's safe dumper accepts no tuples)."""
    return json.loads(json.dumps(obj))


def main(argv: list[str] | None = None) -> Path:
    args = build_parser().parse_args(argv)
    if args.algo not in ALGOS:
        fail(f"unknown algorithm {args.algo!r}; known: {', '.join(ALGOS)}")
    check_env_id(args.env)
    env_kwargs = parse_env_kwargs(args.env_kwargs)

    import gymnasium as gym
    import torch

    from agents.trained import algo_class, vecnormalize_path
    from evaluation import seeds
    from training.callbacks import (
        CostEvalCallback,
        EpisodeInfoCallback,
        MaskableCostEvalCallback,
        SaveVecNormalizeCallback,
        TimeBudgetCallback,
        agent_episode_costs,
    )
    from training.hyperparams import HYPERPARAMS_DIR, load_hyperparams, parse_overrides, plain, split_hyperparams

    torch.set_num_threads(args.threads)
    # torch checks every distribution's arguments by default: for the masked categorical that is
    # ~10% of training time (cProfile), and the checks only ever raise, never change a number.
    torch.distributions.Distribution.set_default_validate_args(False)
    algo_cls = algo_class(args.algo)
    run = Path(args.out) / (args.run_name or f"{args.algo}-{args.env}-seed{args.seed}")
    stored = _stored_config(run, args) if args.resume else None
    if stored is not None:  # a resumed run keeps the settings of its first leg
        env_kwargs = stored["env_kwargs"]
    try:
        if stored is not None:
            params = dict(stored["hyperparams"])
        else:
            params = load_hyperparams(args.algo, args.env, args.hyperparams_dir or HYPERPARAMS_DIR)
            params.update(parse_overrides(args.hyperparams))
        train_cfg, sb3_kwargs = split_hyperparams(algo_cls, params)
    except (ValueError, FileNotFoundError) as e:
        fail(str(e))
    try:
        probe = gym.make(args.env, **env_kwargs)
    except (TypeError, ValueError) as e:
        fail(f"--env-kwargs rejected by {args.env}: {e}")
    env_config = plain_json(probe.unwrapped.config.to_dict())
    reward_scale = probe.unwrapped.config.reward_scale
    probe.close()

    n_envs = int(stored["n_envs"]) if stored else args.n_envs or int(train_cfg.get("n_envs", 2))
    timesteps = args.timesteps or train_cfg.get("n_timesteps")
    if not timesteps or int(timesteps) < 1:
        fail("--timesteps is required (no n_timesteps in the YAML entry)")
    timesteps = int(timesteps)

    commands = run / "command.txt"
    if commands.exists() and not args.resume:
        fail(f"run folder {run} already exists; pass --resume to continue it or choose --out/--run-name")
    resume_index = len(commands.read_text().splitlines()) if args.resume and commands.exists() else 0
    try:
        seeds.check_training_seeds(args.seed, n_envs, resume_index)
        eval_seed_list = seeds.eval_seeds(args.eval_episodes)
    except ValueError as e:
        fail(str(e))
    train_seed = seeds.train_seed(args.seed, resume_index)
    run.mkdir(parents=True, exist_ok=True)
    with commands.open("a") as f:
        f.write(shlex.join(["python", "train.py", *(sys.argv[1:] if argv is None else argv)]) + "\n")
    if args.resume:  # the run's config.yml stays that of its first leg (the model's own settings)
        (run / f"args_resume{resume_index}.yml").write_text(yaml.safe_dump(vars(args), sort_keys=False))
    else:
        (run / "args.yml").write_text(yaml.safe_dump(vars(args), sort_keys=False))
    config = {
        "algo": args.algo, "env_id": args.env, "env_kwargs": env_kwargs,
        "hyperparams": plain(params), "n_envs": n_envs,
        "seeds": {"run_seed": args.seed, "train_seed_base": train_seed, "eval_seeds": eval_seed_list,
                  "rule": "evaluation/seeds.py: benchmark 0..9999, evaluation 10000.., training 100000+"},
        "versions": versions(), "env_config": env_config,
    }
    if not args.resume:
        (run / "config.yml").write_text(yaml.safe_dump(config, sort_keys=False))

    # --- environments ---------------------------------------------------------------------
    from stable_baselines3.common.callbacks import CallbackList, CheckpointCallback
    from stable_baselines3.common.vec_env import VecNormalize

    env = make_vec(args.env, env_kwargs, n_envs, args.vec, str(run / "monitor"), train_seed)
    eval_env = make_vec(args.env, env_kwargs, args.eval_episodes, "dummy", None, eval_seed_list[0])
    normalize = train_cfg.get("normalize", False)
    model_path = latest_model(run) if args.resume else None
    if normalize:
        norm_kwargs = {} if normalize is True else dict(normalize)
        norm_kwargs.setdefault("gamma", sb3_kwargs.get("gamma", 0.99))
        stats = vecnormalize_path(model_path) if model_path else None
        if stats is not None and stats.is_file():
            env = VecNormalize.load(str(stats), env)
        else:
            env = VecNormalize(env, **norm_kwargs)
        eval_env = VecNormalize(eval_env, training=False, norm_reward=False,
                                norm_obs=norm_kwargs.get("norm_obs", True),
                                clip_obs=norm_kwargs.get("clip_obs", 10.0))

    # --- model ---------------------------------------------------------------------------
    slot_discount = bool(train_cfg.get("slot_discount", False))
    if slot_discount:
        from training import slot_discount as sd

        if args.algo == "dqn":
            sb3_kwargs["replay_buffer_class"] = sd.SlotReplayBuffer
            sb3_kwargs["replay_buffer_kwargs"] = {**sb3_kwargs.get("replay_buffer_kwargs", {}),
                                                  "gamma": sb3_kwargs.get("gamma", 0.99)}
        else:
            sb3_kwargs["rollout_buffer_class"] = (sd.MaskableSlotRolloutBuffer if args.algo == "maskable_ppo"
                                                  else sd.SlotRolloutBuffer)
    tb = str(run / "tb") if args.tensorboard else None
    if model_path is not None:
        model = algo_cls.load(model_path, env=env, device="cpu", tensorboard_log=tb)
        model.set_random_seed(train_seed)  # fresh training streams for this leg (also torch)
        buffer = model_path.with_name(model_path.name[:-4] + "_replay_buffer.pkl")
        if hasattr(model, "load_replay_buffer") and buffer.is_file():
            model.load_replay_buffer(buffer)
        print(f"resuming {model_path} at {model.num_timesteps} steps", file=sys.stderr)
    else:
        if args.algo == "dqn" and train_cfg.get("warm_start"):
            from training.warm_start import MarginDQN

            algo_cls = MarginDQN  # saved as a plain DQN
        model = algo_cls(train_cfg.get("policy", "MlpPolicy"), env, seed=train_seed, device="cpu",
                         tensorboard_log=tb, verbose=args.verbose, **sb3_kwargs)

    # --- callbacks -----------------------------------------------------------------------
    reference = None if args.reference == "none" else args.reference
    reference_costs = None
    if reference:
        import agents

        ref_agent = agents.make(reference)
        reference_costs = agent_episode_costs(ref_agent, lambda: gym.make(args.env, **env_kwargs),
                                              eval_seed_list)
    eval_cls = MaskableCostEvalCallback if args.algo == "maskable_ppo" else CostEvalCallback
    per_env = lambda freq: max(freq // n_envs, 1)  # noqa: E731  (callbacks count vector steps)
    eval_cb = eval_cls(
        eval_env, seed_base=eval_seed_list[0], log_file=run / "eval_log.csv", reference=reference,
        reference_costs=reference_costs, n_eval_episodes=args.eval_episodes,
        eval_freq=per_env(args.eval_freq) if args.eval_freq > 0 else 0,
        log_path=str(run), best_model_save_path=str(run), deterministic=True, verbose=args.verbose,
        callback_on_new_best=SaveVecNormalizeCallback(run / "best_model_vecnormalize.pkl"))
    summary_file = run / "summary.yml"
    legs = (yaml.safe_load(summary_file.read_text()) or []) if summary_file.exists() else []
    if args.resume:
        _restore_eval_state(eval_cb, run, legs)
    budget = TimeBudgetCallback(args.max_minutes * 60) if args.max_minutes else None
    callbacks = [EpisodeInfoCallback(), eval_cb] + ([budget] if budget else [])
    if slot_discount and args.algo != "dqn":
        callbacks.insert(0, sd.SlotDiscountCallback())
    if args.checkpoint_freq > 0:
        callbacks.append(CheckpointCallback(per_env(args.checkpoint_freq), str(run / "checkpoints"),
                                            name_prefix="ckpt", save_vecnormalize=True))

    t0 = time.perf_counter()
    warm = None
    if train_cfg.get("warm_start") and model_path is None:
        import agents
        from training.warm_start import warm_start

        ws = train_cfg["warm_start"]
        warm = warm_start(model, args.algo, agents.make(ws["agent"]), ws,
                          gamma=sb3_kwargs.get("gamma", 0.99), slot_discount=slot_discount)
        print(f"warm start: {warm}", file=sys.stderr)
    start_steps = model.num_timesteps
    if budget is not None:  # the warm start counts against the budget
        budget.seconds -= time.perf_counter() - t0
    model.learn(total_timesteps=timesteps, callback=CallbackList(callbacks),
                reset_num_timesteps=not args.resume, progress_bar=not args.no_progress_bar,
                tb_log_name=args.algo)
    wall = time.perf_counter() - t0

    model.save(run / "model.zip")
    if isinstance(env, VecNormalize):
        env.save(str(run / "model_vecnormalize.pkl"))
    if hasattr(model, "save_replay_buffer"):
        model.save_replay_buffer(run / "model_replay_buffer.pkl")
    legs.append({"start_timesteps": int(start_steps), "end_timesteps": int(model.num_timesteps),
                 "wall_s": round(wall, 1), "train_seed_base": train_seed, "warm_start": warm,
                 "stopped_by_time_budget": bool(budget and budget.stopped_early),
                 "best_eval_cost": float(-eval_cb.best_mean_reward * reward_scale),
                 "reference": reference, "reference_cost": eval_cb.reference_cost,
                 "finished_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
    summary_file.write_text(yaml.safe_dump(legs, sort_keys=False))
    env.close()
    eval_env.close()
    print(f"run folder: {run}  ({model.num_timesteps} steps, {wall:.0f} s)")
    return run


def _stored_config(run: Path, args: argparse.Namespace) -> dict[str, Any]:
    """config.yml of the run to resume; settings passed again must not contradict it."""
    path = run / "config.yml"
    if not (run / "command.txt").exists() or not path.exists():
        fail(f"--resume: {run} is not a run folder (no command.txt / config.yml)")
    stored = yaml.safe_load(path.read_text())
    if stored["algo"] != args.algo or stored["env_id"] != args.env:
        fail(f"--resume: {run} is a {stored['algo']} run on {stored['env_id']}")
    if args.hyperparams:
        fail("--resume keeps the run's hyperparameters (config.yml): drop --hyperparams")
    if parse_env_kwargs(args.env_kwargs) not in ({}, stored["env_kwargs"]):
        fail(f"--resume: --env-kwargs differ from the run's {stored['env_kwargs']}")
    if args.n_envs not in (None, stored["n_envs"]):
        fail(f"--resume: the run used --n-envs {stored['n_envs']}")
    return stored


def _restore_eval_state(eval_cb: Any, run: Path, legs: list[dict[str, Any]]) -> None:
    """Keep the best score, the npz history and the wall clock of the earlier legs."""
    import numpy as np

    eval_cb.eval_at_start = False  # the previous leg evaluated this very model at its end
    npz = run / "evaluations.npz"
    if npz.is_file():
        data = np.load(npz)
        eval_cb.evaluations_timesteps = [int(t) for t in data["timesteps"]]
        eval_cb.evaluations_results = [list(r) for r in data["results"]]
        eval_cb.evaluations_length = [list(x) for x in data["ep_lengths"]]
        eval_cb.best_mean_reward = float(np.max(np.mean(data["results"], axis=1)))
    eval_cb.wall_offset = float(sum(leg.get("wall_s", 0.0) for leg in legs))


if __name__ == "__main__":
    main()
