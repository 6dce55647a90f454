"""Training sweeps with Ray Tune: seeds x a hyperparameter grid, each trial a normal ``train.py``
run folder, stopped early (ASHA) on the evaluation cost ratio to LC.

    python -m integrations.tune --algo maskable_ppo --env EdgePFMCache-Small-v0 --seeds 0,1,2 \\
        --grid learning_rate=1e-4,3e-4 --grid ent_coef=0.0,0.01 --timesteps 500000 \\
        --eval-freq 50000 --out runs/sweep [--address HOST:6379] [--cpus-per-trial 1] \\
        [--train-args "--n-envs 4 --env-kwargs '{\\"n_slots\\": 120}'"]

A trial runs ``python -m training.cli`` (train.py's entry point) with the trial's ``--seed`` and
``--hyperparams KEY=VALUE``, its run folder ``<out>/runs/<algo>-<env>-seed<S>-<key>=<value>...``;
each new row of the run's ``eval_log.csv`` (written by :mod:`training.callbacks` at every
``--eval-freq``) is reported to Tune as ``ratio_to_lc`` (mean evaluation cost / LC's on the same
held-out seeds), ``mean_cost`` and ``timesteps``. ASHA stops trials whose ratio lags at a rung
(``--grace-evals``); a stopped trial's run folder keeps what it had (model, eval log). The
summary (best trial per metric, every trial's last row) is ``<out>/tune_summary.json``. On a
cluster (``--address``) the run folders are written on the nodes that ran them: give ``--out`` on
a shared file system.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from training.hyperparams import parse_value

METRIC = "ratio_to_lc"


def parse_grid(items: list[str]) -> dict[str, list[Any]]:
    """``["learning_rate=1e-4,3e-4"]`` -> ``{"learning_rate": [0.0001, 0.0003]}`` (values as in
    train.py's ``--hyperparams``; separate them by ``;`` when a value holds commas:
    ``"policy_kwargs={net_arch: [64, 64]};{net_arch: [256, 256]}"``)."""
    grid: dict[str, list[Any]] = {}
    for item in items:
        key, sep, values = item.partition("=")
        if not sep or not key.strip() or not values.strip():
            raise ValueError(f"--grid must look like KEY=V1,V2,... got {item!r}")
        parsed = [parse_value(v) for v in values.split(";" if ";" in values else ",") if v.strip()]
        if key.strip() in ("seed", "algo", "env"):
            raise ValueError(f"--grid {key}: use --seeds / --algo / --env")
        grid[key.strip()] = parsed
    return grid


def run_name(algo: str, env_id: str, config: dict[str, Any]) -> str:
    params = "-".join(f"{k}={config[k]}" for k in sorted(config) if k != "seed")
    return f"{algo}-{env_id}-seed{config['seed']}" + (f"-{params}" if params else "")


def read_eval_log(path: Path) -> list[dict[str, float]]:
    if not path.is_file():
        return []
    with path.open() as f:
        rows = list(csv.DictReader(f))
    return [{"timesteps": float(r["timesteps"]), "mean_cost": float(r["mean_cost"]),
             METRIC: float(r["ratio_to_reference"])} for r in rows if r.get("ratio_to_reference")]


# The train.py flags a trial sets itself (train_trial), which --train-args may not repeat.
SWEEP_FLAGS = ("--algo", "--env", "--seed", "--timesteps", "--out", "--run-name", "--eval-freq",
               "--eval-episodes", "--checkpoint-freq", "--reference", "--hyperparams")
NO_MAX_EVALS = 1_000_000  # ASHA's max_t: see sweep()


def sweep_flag(token: str) -> str | None:
    """The sweep's flag that a train.py argument sets, if any: ``--seed``, ``--seed=3`` and
    an abbreviation argparse would expand (``--see 3``) alike."""
    if not token.startswith("--"):
        return None
    name = token.split("=", 1)[0]
    from training.cli import build_parser

    known = [o for a in build_parser()._actions for o in a.option_strings if o.startswith("--")]
    matches = [o for o in known if o == name] or [o for o in known if o.startswith(name)]
    return matches[0] if len(matches) == 1 and matches[0] in SWEEP_FLAGS else None


def train_trial(config: dict[str, Any], *, algo: str, env_id: str, timesteps: int, eval_freq: int,
                eval_episodes: int, runs: str, train_args: list[str], poll_s: float = 2.0) -> None:
    """One Tune trial: train.py in a subprocess; every new eval_log.csv row is a Tune report."""
    from ray import tune

    name = run_name(algo, env_id, config)
    hyper = [f"{k}={json.dumps(v)}" for k, v in sorted(config.items()) if k != "seed"]
    argv = [sys.executable, "-m", "training.cli", "--algo", algo, "--env", env_id,
            "--seed", str(config["seed"]), "--timesteps", str(timesteps), "--out", runs,
            "--run-name", name, "--eval-freq", str(eval_freq), "--eval-episodes", str(eval_episodes),
            "--checkpoint-freq", "0", "--no-progress-bar", "--reference", "lc", *train_args]
    if hyper:
        argv += ["--hyperparams", *hyper]
    log = Path(runs) / name / "eval_log.csv"
    Path(runs).mkdir(parents=True, exist_ok=True)
    stderr = open(Path(runs) / f"{name}.stderr.txt", "w")  # noqa: SIM115  (closed in finally)
    proc = subprocess.Popen(argv, stdout=stderr, stderr=subprocess.STDOUT, env=dict(os.environ))
    reported = 0
    try:
        while True:
            finished = proc.poll() is not None
            rows = read_eval_log(log)
            if not finished:
                # The last evaluation is reported once train.py has exited: ASHA stops every
                # trial that reaches max_t, and the run folder (model.zip, summary) is
                # complete only when train.py is done.
                rows = [r for r in rows if r["timesteps"] < timesteps]
            for row in rows[reported:]:
                tune.report({**row, "run_folder": str(Path(runs) / name)})  # ASHA may stop us here
            reported = len(rows)
            if finished:
                break
            time.sleep(poll_s)
        if proc.returncode != 0:
            raise RuntimeError(f"train.py failed (exit {proc.returncode}) for {name}: "
                               f"{shlex.join(argv)}; see {stderr.name}")
        if reported == 0:
            raise RuntimeError(f"{name}: train.py wrote no evaluation to {log} (is --eval-freq <= --timesteps?)")
    finally:
        if proc.poll() is None:  # stopped by ASHA: end the run, keep its folder
            proc.terminate()
            proc.wait(timeout=60)
        stderr.close()


def sweep(algo: str, env_id: str, seeds: list[int], grid: dict[str, list[Any]], timesteps: int,
          eval_freq: int, out: str | Path, eval_episodes: int = 5, train_args: list[str] | None = None,
          address: str | None = None, cpus_per_trial: float = 1.0, grace_evals: int = 1,
          max_concurrent: int | None = None) -> dict[str, Any]:
    """Run the sweep and return (and write) its summary."""
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler

    from evaluation.ray_cluster import connect

    if not seeds:
        raise ValueError("--seeds: give at least one seed")
    if eval_freq < 1 or eval_freq > timesteps:
        raise ValueError(f"--eval-freq must be in 1..--timesteps ({timesteps}), got {eval_freq}")
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    started = connect(address)
    try:
        space = {"seed": tune.grid_search(list(seeds)),
                 **{k: tune.grid_search(v) for k, v in grid.items()}}
        trainable = tune.with_resources(
            tune.with_parameters(train_trial, algo=algo, env_id=env_id, timesteps=timesteps,
                                 eval_freq=eval_freq, eval_episodes=eval_episodes,
                                 runs=str(out / "runs"), train_args=list(train_args or [])),
            {"cpu": cpus_per_trial})
        # ASHA stops a trial that reaches max_t. How many evaluations train.py makes depends on
        # how SB3 rounds the budget up to whole rollouts and on --n-envs, so no count made here
        # is safe: a trial ends when its train.py does, and max_t is out of reach.
        scheduler = ASHAScheduler(time_attr="training_iteration", max_t=NO_MAX_EVALS,
                                  grace_period=grace_evals, reduction_factor=2)
        tuner = tune.Tuner(
            trainable, param_space=space,
            tune_config=tune.TuneConfig(metric=METRIC, mode="min", scheduler=scheduler,
                                        max_concurrent_trials=max_concurrent),
            run_config=tune.RunConfig(name="tune", storage_path=str(out / "ray_results"), verbose=0))
        results = tuner.fit()
    finally:
        if started:
            import ray

            ray.shutdown()
    trials = []
    for r in results:
        trials.append({"config": r.config, "error": str(r.error) if r.error else None,
                       "last": {k: r.metrics.get(k) for k in ("timesteps", "mean_cost", METRIC)},
                       "iterations": r.metrics.get("training_iteration"),
                       "run_folder": r.metrics.get("run_folder")})
    ok = [t for t in trials if t["error"] is None and t["last"][METRIC] is not None]
    best = min(ok, key=lambda t: t["last"][METRIC]) if ok else None
    summary = {"algo": algo, "env": env_id, "seeds": list(seeds), "grid": grid, "timesteps": timesteps,
               "eval_freq": eval_freq, "metric": METRIC, "best": best, "trials": trials}
    (out / "tune_summary.json").write_text(json.dumps(summary, indent=1, default=str))
    return summary


def main(argv: list[str] | None = None) -> dict[str, Any]:
    from agents.trained import ALGOS

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--algo", required=True, help=f"one of {', '.join(ALGOS)}")
    p.add_argument("--env", default="EdgePFMCache-v0")
    p.add_argument("--seeds", default="0", help="comma-separated run seeds, e.g. 0,1,2")
    p.add_argument("--grid", action="append", default=[], metavar="KEY=V1,V2",
                   help="a hyperparameter and its values (repeatable; values in YAML syntax)")
    p.add_argument("--timesteps", type=int, required=True)
    p.add_argument("--eval-freq", type=int, required=True, help="evaluate (and report to ASHA) every N steps")
    p.add_argument("--eval-episodes", type=int, default=5)
    p.add_argument("--grace-evals", type=int, default=2, help="ASHA: evaluations before a trial can be stopped")
    p.add_argument("--cpus-per-trial", type=float, default=1.0)
    p.add_argument("--max-concurrent", type=int, default=None)
    p.add_argument("--train-args", default="", help="more train.py flags, as one shell-quoted string")
    p.add_argument("--address", default=None, help="Ray cluster address (default: a local Ray)")
    p.add_argument("--out", default="runs/tune")
    args = p.parse_args(argv)
    if args.algo not in ALGOS:
        p.error(f"--algo: unknown {args.algo!r}; known: {', '.join(ALGOS)}")
    try:
        seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
        grid = parse_grid(args.grid)
    except ValueError as e:
        p.error(str(e))
    train_args = shlex.split(args.train_args)
    for token in train_args:
        flag = sweep_flag(token)
        if flag:
            p.error(f"--train-args must not set {flag} ({token!r}): the sweep sets it")
    try:
        summary = sweep(args.algo, args.env, seeds, grid, args.timesteps, args.eval_freq, args.out,
                        args.eval_episodes, train_args, args.address, args.cpus_per_trial, args.grace_evals,
                        args.max_concurrent)
    except ValueError as e:
        p.error(str(e))
    best = summary["best"]
    print(json.dumps({"best": best, "summary": str(Path(args.out) / "tune_summary.json")}, indent=1, default=str))
    return summary


if __name__ == "__main__":
    main()
