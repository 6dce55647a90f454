"""Train PPO, MaskablePPO or DQN on an EdgePFMCache scenario and leave a complete run folder.

    python train.py --algo maskable_ppo --env EdgePFMCache-v0 --timesteps 1000000 --seed 0 \\
        --n-envs 2 --out runs/ [--vec dummy|subproc|native] [--tensorboard] [--env-kwargs JSON] \\
        [--hyperparams key=value ...] [--resume] [--max-minutes M] [--stop-after-steps N]

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
import math
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any, NoReturn

from agents import AGENTS
from agents.trained import ALGOS  # one list of trainable algorithms (light import)
from evaluation import validate as evaluation_validate
from evaluation.seeds import MAX_RUN_SEED
from training.run_folder import RunFolder, RunFolderError


def _rollout_steps(sb3_kwargs: dict, n_envs: int) -> float:
    """Env steps of one SB3 rollout: ``n_steps`` per env (on-policy) or ``train_freq`` steps
    per env (off-policy: an int or an (n, "step") pair; in episodes it has no bound here)."""
    if "n_steps" in sb3_kwargs:
        return int(sb3_kwargs["n_steps"]) * n_envs
    freq = sb3_kwargs.get("train_freq", 1)
    n, unit = (freq, "step") if isinstance(freq, int) else (int(freq[0]), str(freq[1]))
    return n * n_envs if unit == "step" else math.inf


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--algo", required=True, help=f"one of {', '.join(ALGOS)}")
    p.add_argument("--env", default="EdgePFMCache-v0", help="registered env id")
    p.add_argument("--timesteps", type=int, default=None,
                   help="steps to train (with --resume: additional steps); default: YAML n_timesteps")
    p.add_argument("--seed", type=int, default=None,
                   help=f"run seed (0..{MAX_RUN_SEED}; default 0; with --resume: the run's, found by "
                        f"its folder name when it is the only one of --algo and --env); see "
                        "evaluation/seeds.py")
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
    p.add_argument("--eval-episodes", type=int, default=None,
                   help="held-out episodes per evaluation (default 10; with --resume: the run's)")
    p.add_argument("--checkpoint-freq", type=int, default=200_000, help="checkpoint every N total steps (0: never)")
    p.add_argument("--reference", default=None,
                   help="heuristic drawn as a reference line ('none': skip; default lc; with --resume: "
                        "the run's)")
    p.add_argument("--max-minutes", type=float, default=None,
                   help="stop training after this wall-clock time (warm start included)")
    p.add_argument("--stop-after-steps", type=int, default=None, metavar="N",
                   help="stop training once this leg has run N env steps, where "
                        "--max-minutes or Ctrl-C would stop it, while --timesteps keeps setting the "
                        "span lin_ schedules decay over: a run stopped by time or a signal at step S "
                        "is rebuilt bit for bit by its command without --max-minutes, with "
                        "--stop-after-steps S")
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
    """``--env-kwargs`` as evaluate.py reads it (one parser), failing the train.py way."""
    try:
        return evaluation_validate.parse_env_kwargs(text)
    except SystemExit as e:
        fail(str(e))


# Flags a resumed run keeps (omitted with --resume: the run's value; a different one is refused):
# a first leg's defaults.
RUN_FLAG_DEFAULTS = {"seed": 0, "eval_episodes": 10, "reference": "lc"}


def default_run_flags(args: argparse.Namespace) -> None:
    """The run flags still omitted take a first leg's defaults."""
    for flag, default in RUN_FLAG_DEFAULTS.items():
        if getattr(args, flag) is None:
            setattr(args, flag, default)


def check_flags(args: argparse.Namespace) -> None:
    """Every numeric flag in range before any work: no silent default for 0 or a negative."""
    if args.timesteps is not None and args.timesteps < 1:
        fail(f"--timesteps {args.timesteps} is invalid: must be >= 1 (omit it for the YAML's n_timesteps)")
    if args.n_envs is not None and not 1 <= args.n_envs <= 100:
        fail(f"--n-envs {args.n_envs} is invalid: must be in 1..100 (omit it for the YAML's n_envs)")
    if args.max_minutes is not None and not (math.isfinite(args.max_minutes) and args.max_minutes > 0):
        fail(f"--max-minutes {args.max_minutes} is invalid: must be > 0 (omit it for no limit)")
    if args.stop_after_steps is not None and args.stop_after_steps < 1:
        fail(f"--stop-after-steps {args.stop_after_steps} is invalid: must be >= 1 (omit it for no limit)")
    if args.seed is not None and not 0 <= args.seed <= MAX_RUN_SEED:
        fail(f"--seed {args.seed} is invalid: must be in 0..{MAX_RUN_SEED} (its training envs' "
             f"seeds, 100000 + 1000 * seed + ..., must stay below 2**32; see evaluation/seeds.py)")
    if args.eval_episodes is not None and not 1 <= args.eval_episodes <= 1000:
        fail(f"--eval-episodes {args.eval_episodes} is invalid: must be in 1..1000")
    for flag in ("eval_freq", "checkpoint_freq"):
        if getattr(args, flag) < 0:
            fail(f"--{flag.replace('_', '-')} {getattr(args, flag)} is invalid: must be >= 0 (0: never)")
    if args.threads < 1:
        fail(f"--threads {args.threads} is invalid: must be >= 1")
    if args.verbose not in (0, 1, 2):
        fail(f"--verbose {args.verbose} is invalid: must be 0, 1 or 2")
    if args.reference is not None and args.reference != "none" and args.reference not in AGENTS:
        fail(f"--reference {args.reference!r} is invalid: must be 'none' or one of {sorted(AGENTS)}")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        fail(f"--out {out} is a file, not a folder")
    if args.run_name is not None and (not args.run_name or "/" in args.run_name or args.run_name in (".", "..")):
        fail(f"--run-name {args.run_name!r} is invalid: must be a plain folder name")


def plain_json(obj: Any) -> Any:
    """Tuples to lists (YAML's safe dumper accepts no tuples)."""
    return json.loads(json.dumps(obj))


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


_CHECKOUT = Path(__file__).resolve().parents[1]  # this code's repository, if it is a git checkout


def code_commit(repo: Path = _CHECKOUT) -> str | None:
    """The git commit of the code training runs with (``<sha>-dirty`` with uncommitted changes
    to tracked files; None outside a git checkout): a reproduce command rebuilds a model with
    the code it was trained with."""
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                              check=True).stdout.strip()

    try:
        # This code's own checkout only (an installed copy inside some other repository is not).
        if Path(git("rev-parse", "--show-toplevel")).resolve() != repo.resolve():
            return None
        sha = git("rev-parse", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.CalledProcessError):
        return None
    return f"{sha}-dirty" if dirty else sha


def check_resume(folder: RunFolder, args: argparse.Namespace) -> dict[str, Any]:
    """config.yml of the run to resume; settings passed again must not contradict it."""
    stored = folder.stored_config()
    if stored["algo"] != args.algo or stored["env_id"] != args.env:
        fail(f"--resume: {folder.path} is a {stored['algo']} run on {stored['env_id']}")
    if args.hyperparams:
        fail("--resume keeps the run's hyperparameters (config.yml): drop --hyperparams")
    if parse_env_kwargs(args.env_kwargs) not in ({}, stored["env_kwargs"]):
        fail(f"--resume: --env-kwargs differ from the run's {stored['env_kwargs']}")
    if args.n_envs not in (None, stored["n_envs"]):
        fail(f"--resume: the run used --n-envs {stored['n_envs']}")
    # The evaluation (its episodes, the reference line, the best score so far) and the seed
    # block stay the run's: omitted, they are taken from it; a different value is refused.
    for flag, value in folder.stored_flags().items():
        given = getattr(args, flag)
        if given is None:
            setattr(args, flag, value)
        elif given != value:
            option = "--" + flag.replace("_", "-")
            fail(f"--resume: {folder.path} was run with {option} {value} (its eval_log.csv, best "
                 f"model and seeds follow it), not {given}: drop {option} or pass {value}")
    default_run_flags(args)  # a folder that does not record them
    return stored


def check_combination(args: argparse.Namespace, train_cfg: dict[str, Any]) -> None:
    """Flags and hyperparameters that are each valid but do not work together: named before
    any run folder or training."""

    from agents import REFERENCE_AGENTS
    from edge_cache_env.registration import has_native_vector_env

    teacher = (train_cfg.get("warm_start") or {}).get("agent")
    if args.vec == "native":
        if not has_native_vector_env(args.env):
            fail(f"--vec native: {args.env} has no native vector env (it draws a new scenario "
                 "per episode); use --vec dummy or subproc")
        if teacher in REFERENCE_AGENTS and not args.resume:  # only a first leg warm-starts
            fail(f"--vec native: warm_start.agent {teacher!r} reads each env's own episode, which "
                 "the native vector env does not expose; use --vec dummy or subproc, or another "
                 "teacher")
    policy = train_cfg.get("policy")  # the class, when given by import path
    if isinstance(policy, type) and args.algo != "maskable_ppo":
        from agents.set_policy import SetPolicy

        if issubclass(policy, SetPolicy):
            fail(f"policy agents.set_policy:SetPolicy needs --algo maskable_ppo (an actor-critic "
                 f"over the masked actions), not --algo {args.algo}")


def resolve(args: argparse.Namespace, folder: RunFolder) -> tuple[Any, dict[str, Any]]:
    """Validated :class:`~training.experiment.Settings` and the config.yml record of this leg."""
    import gymnasium as gym

    from agents.trained import algo_class
    from evaluation import seeds
    from training.experiment import Settings
    from training.hyperparams import HYPERPARAMS_DIR, load_hyperparams, parse_overrides, plain, split_hyperparams

    stored = check_resume(folder, args) if args.resume else None
    env_kwargs = stored["env_kwargs"] if stored else parse_env_kwargs(args.env_kwargs)
    algo_cls = algo_class(args.algo)
    try:
        if stored is not None:
            params = dict(stored["hyperparams"])
        else:
            params = load_hyperparams(args.algo, args.env, args.hyperparams_dir or HYPERPARAMS_DIR)
            overrides = parse_overrides(args.hyperparams)
            for key, value in overrides.items():  # a mapping replaces the YAML's whole mapping
                dropped = sorted(set(params.get(key) or {}) - set(value)) \
                    if isinstance(value, dict) and isinstance(params.get(key), dict) else []
                if dropped:
                    print(f"train.py: note: --hyperparams {key} replaces the YAML's {key} "
                          f"{params[key]}: {', '.join(dropped)} not given, so not taken from the "
                          "YAML", file=sys.stderr)
            params.update(overrides)
        train_cfg, sb3_kwargs = split_hyperparams(algo_cls, params)
    except (ValueError, TypeError, FileNotFoundError) as e:
        fail(f"--resume: {folder.config_file}: hyperparams: {e}" if stored else str(e))
    check_combination(args, train_cfg)
    try:
        probe = gym.make(args.env, **env_kwargs)
        probe.reset(seed=0)  # a trace source reads its file here
    except (TypeError, ValueError, OSError) as e:
        if stored:
            fail(f"--resume: {folder.config_file}: env_kwargs {env_kwargs} rejected by {args.env}: {e}")
        fail(f"--env-kwargs rejected by {args.env}: {e}")
    env_config = plain_json(probe.unwrapped.config.to_dict())
    reward_scale = probe.unwrapped.config.reward_scale
    probe.close()

    if stored:
        n_envs = int(stored["n_envs"])
    else:
        n_envs = args.n_envs if args.n_envs is not None else train_cfg.get("n_envs", 2)
    timesteps = args.timesteps if args.timesteps is not None else train_cfg.get("n_timesteps")
    if timesteps is None:
        fail("--timesteps is required (no n_timesteps in the YAML entry)")
    for name, value, lo, hi in (("n_timesteps", timesteps, 1, math.inf), ("n_envs", n_envs, 1, 100)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                or value != int(value) or not lo <= value <= hi:
            where = f"--resume: {folder.config_file}: " if stored else ""
            fail(f"{where}hyperparams.{name} = {value!r} is invalid: must be an integer in [{lo}, {hi}]")
    # SB3 runs whole rollouts, so a leg can stop (by time or a signal) up to one rollout past
    # its --timesteps; a limit beyond that could never be reached.
    reach = timesteps + _rollout_steps(sb3_kwargs, int(n_envs))
    if args.stop_after_steps is not None and args.stop_after_steps > reach:
        fail(f"--stop-after-steps {args.stop_after_steps} is invalid: must be <= {int(reach)} (the "
             f"run's {int(timesteps)} timesteps and one rollout of SB3's, which a leg can finish "
             f"past them)")
    resume_index = folder.resume_index() if args.resume else 0
    try:
        seeds.check_training_seeds(args.seed, int(n_envs), resume_index)
        eval_seed_list = seeds.eval_seeds(args.eval_episodes)
    except ValueError as e:
        fail(str(e))
    train_seed = seeds.train_seed(args.seed, resume_index)
    settings = Settings(
        algo=args.algo, env_id=args.env, env_kwargs=env_kwargs, train_cfg=train_cfg,
        sb3_kwargs=sb3_kwargs, n_envs=int(n_envs), timesteps=int(timesteps), train_seed=train_seed,
        eval_seeds=eval_seed_list, reward_scale=reward_scale, resume_index=resume_index, vec=args.vec,
        tensorboard=args.tensorboard, eval_freq=args.eval_freq, checkpoint_freq=args.checkpoint_freq,
        reference=None if args.reference == "none" else args.reference, max_minutes=args.max_minutes,
        stop_after_steps=args.stop_after_steps, verbose=args.verbose, progress_bar=not args.no_progress_bar)
    config = {
        "algo": args.algo, "env_id": args.env, "env_kwargs": env_kwargs,
        "hyperparams": plain(params), "n_envs": int(n_envs),
        "seeds": {"run_seed": args.seed, "train_seed_base": train_seed, "eval_seeds": eval_seed_list,
                  "rule": "evaluation/seeds.py: benchmark 0..9999, evaluation 10000.., training 100000+"},
        "versions": versions(), "commit": code_commit(), "env_config": env_config,
    }
    return settings, config


def _only_seed_run(out: Path, prefix: str) -> int:
    """``--resume`` without ``--seed`` or ``--run-name``: the seed of the one run folder
    ``<prefix><seed>`` under ``out`` (0 if there is none: the usual error follows); several
    are an error naming them."""
    seeds = sorted(int(p.name[len(prefix):]) for p in out.glob(f"{prefix}*")
                   if p.is_dir() and p.name[len(prefix):].isdigit())
    if len(seeds) > 1:
        fail(f"--resume: {out} holds runs of seeds {seeds} ({prefix}<seed>): pass --seed or "
             f"--run-name to say which")
    return seeds[0] if seeds else RUN_FLAG_DEFAULTS["seed"]


def main(argv: list[str] | None = None) -> Path:
    args = build_parser().parse_args(argv)
    if args.algo not in ALGOS:
        fail(f"unknown algorithm {args.algo!r}; known: {', '.join(ALGOS)}")
    check_flags(args)
    check_env_id(args.env)
    parse_env_kwargs(args.env_kwargs)
    seed = args.seed if args.seed is not None else RUN_FLAG_DEFAULTS["seed"]
    if args.resume and args.run_name is None and args.seed is None:
        seed = _only_seed_run(Path(args.out), f"{args.algo}-{args.env}-seed")
    folder = RunFolder(Path(args.out) / (args.run_name or f"{args.algo}-{args.env}-seed{seed}"))
    if not args.resume:  # a resume takes the omitted ones from the run (check_resume)
        default_run_flags(args)
    try:
        if not args.resume:
            folder.check_new()
        settings, config = resolve(args, folder)
    except RunFolderError as e:
        fail(str(e))

    from training.experiment import Experiment, configure_torch

    configure_torch(args.threads)
    existed = folder.path.exists()
    if not args.resume and folder.exists():
        moved = folder.set_aside_untrained()
        print(f"train.py: {folder.path} holds no model (its first leg stopped before saving one): "
              f"starting over; its files moved to {moved}", file=sys.stderr)
    experiment = Experiment(settings, folder)
    try:
        experiment.build()
    except RunFolderError as e:
        _undo_build(experiment, folder, existed)
        fail(str(e))
    except Exception as e:  # noqa: BLE001  (SB3 / torch reject a setting: say so, leave nothing)
        _undo_build(experiment, folder, existed)
        fail(f"could not set up the run ({type(e).__name__}: {e})")
    folder.write_records(sys.argv[1:] if argv is None else list(argv), vars(args), config,
                         settings.resume_index)
    leg = experiment.train()
    if leg["interrupted"]:
        raise SystemExit(130 if leg["interrupted"] == "SIGINT" else 143)
    return folder.path


def _undo_build(experiment: Any, folder: RunFolder, existed: bool) -> None:
    """A leg that failed while being set up leaves the folder as it found it."""
    import shutil

    experiment.close()
    shutil.rmtree(folder.monitor_dir(experiment.s.resume_index), ignore_errors=True)
    if not existed:
        shutil.rmtree(folder.path, ignore_errors=True)
    elif folder.path.is_dir() and not any(folder.path.iterdir()):
        folder.path.rmdir()


if __name__ == "__main__":
    main()
