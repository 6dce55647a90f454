"""Pick a run's model on many held-out evaluation episodes, never on benchmark seeds.

    python -m training.release.select_checkpoint runs/RUN [runs/OTHER ...] [--episodes 50] [--min-steps N]

During training the best model is kept by a short periodic evaluation (10-20 episodes), and
picking the best of ~30 noisy evaluations flatters it. This script re-scores, for every run
given, ``best_model.zip``, the final ``model.zip`` and each ``checkpoints/ckpt_*_steps.zip`` on
the evaluation seeds ``10_000 ..`` (evaluation/seeds.py; disjoint from the benchmark's 0..9_999 and
from training), pairs them with LC on the same seeds, and prints a table sorted by mean cost.
A candidate that cannot be loaded (a damaged zip) is skipped with a warning and listed under
"skipped" in the record. The candidate with the lowest mean cost over all runs (ties: the one
trained longest) is written to ``<run>/selected_model.zip`` (with its VecNormalize statistics
and ``selected.json``), which ``training/release/ship_pretrained.py --model selected`` ships.

``--also ENV_ID`` (repeatable; e.g. ``EdgePFMCache-Large-v0`` for a set policy trained on
smaller catalogs) scores every candidate on that env too, on the same seeds; ``--suite NAME``
on every scenario of a suite (edge_cache_env/scenarios.py; ``--scenarios a,b``: a subset of
it), still on the evaluation seeds; the candidate with the lowest geometric mean over all envs
of its cost ratio to LC is selected.

``--no-worse-than AGENT`` (e.g. ``cost_benefit``) scores AGENT on the same envs and seeds and
selects, among the candidates whose mean cost is at most AGENT's on every env, the one with the
lowest geometric mean; if there is none, the one whose worst ratio to AGENT is smallest. A
learned agent is shipped to beat a rule everywhere, and a geometric mean can hide one loss.

``--verify`` scores a generalist as users get it from ``agents.make``: with its per-scenario
check against the rule (agents/generalist.py). Without it the network alone is scored, and the
two rankings can differ (README, "The generalist": the network that scored best alone was sent
back to the rule by its check on load-8).
"""

from __future__ import annotations

import argparse
import json
import math
import pickle
import re
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from agents import AGENTS, make
from agents.trained import vecnormalize_path
from evaluation import seeds
from evaluation.engine import ci95, run_episode
from evaluation.validate import check_suite
from training.release.run_files import read_config
from training.run_folder import RunFolderError

_CKPT = re.compile(r"ckpt_(\d+)_steps\.zip$")


def candidates(run: Path, min_steps: int = 0) -> list[tuple[str, Path]]:
    """``(label, path)`` of every model of a run folder that exists (checkpoints from ``min_steps``)."""
    found = [("best_model", run / "best_model.zip"), ("model", run / "model.zip")]
    ckpts = sorted((int(_CKPT.search(p.name).group(1)), p)
                   for p in (run / "checkpoints").glob("ckpt_*_steps.zip"))
    found += [(p.stem, p) for steps, p in ckpts if steps >= min_steps]
    return [(label, path) for label, path in found if path.is_file()]


def load_candidates(runs: list[Path], configs: dict[Path, dict], min_steps: int = 0,
                    verify: bool = False
                    ) -> tuple[list[tuple[Path, str, Path, Any]], list[dict[str, str]]]:
    """Every candidate's agent, loaded before any scoring: ``(run, label, path, agent)``, and
    the damaged ones that cannot be loaded (each warned about and recorded, then skipped).

    ``verify``: a generalist as ``agents.make`` plays it, with its per-scenario check against
    the rule (agents/generalist.py: it simulates each new scenario first); else the network
    alone. The two can rank candidates differently: a network that saves more on average but
    loses one simulated episode badly is sent back to the rule by its check."""
    models, skipped = [], []
    for run in runs:
        for label, path in candidates(run, min_steps):
            try:
                models.append((run, label, path, make(f"{configs[run]['algo']}:{path}", verify=verify)))
            except (ValueError, OSError, EOFError, pickle.UnpicklingError) as e:
                print(f"select_checkpoint: warning: skipping {path}: {e}", file=sys.stderr)
                skipped.append({"run": str(run), "model": label, "path": str(path), "error": str(e)})
    return models, skipped


def trained_steps(label: str) -> float:
    """Training of a candidate, for ties (equal scores, e.g. a policy that still plays like its
    prior): the one trained longest wins. ``model`` is the final one, ``best_model`` unknown."""
    m = _CKPT.match(label + ".zip")
    return float(m.group(1)) if m else (math.inf if label == "model" else -1.0)


def score(env_id: str, env_kwargs: dict, agent, seed_list: list[int]) -> np.ndarray:
    import gymnasium as gym

    env = gym.make(env_id, **env_kwargs)
    costs = np.array([run_episode(env, agent, s)["cost"] for s in seed_list])
    env.close()
    return costs


def _guard_key(row: dict, guard: str | None) -> tuple[int, float]:
    """Sort key first part: candidates no worse than ``guard`` everywhere first (ranked on), the
    others by their worst ratio to it; ``(0, 0.0)`` for all without a guard."""
    if guard is None:
        return 0, 0.0
    worst = row[f"worst_ratio_to_{guard}"]
    return (0, 0.0) if worst <= 1.0 else (1, round(worst, 9))


def copy_selected(run: Path, path: Path, record: dict) -> Path:
    """``path`` (and its VecNormalize statistics) -> ``run/selected_model.zip``."""
    dest = run / "selected_model.zip"
    shutil.copyfile(path, dest)
    stats, dest_stats = vecnormalize_path(path), vecnormalize_path(dest)
    if dest_stats.exists():
        dest_stats.unlink()
    if stats.is_file():
        shutil.copyfile(stats, dest_stats)
    (run / "selected.json").write_text(json.dumps(record, indent=2) + "\n")
    return dest


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("runs", nargs="+", type=Path, help="train.py run folders (same env)")
    p.add_argument("--episodes", type=int, default=50, help="evaluation episodes per model")
    p.add_argument("--min-steps", type=int, default=0, help="skip checkpoints saved before this step")
    p.add_argument("--no-copy", action="store_true", help="only print the table")
    p.add_argument("--also", action="append", default=[], metavar="ENV_ID",
                   help="score on this env id too; select by the geometric mean ratio to LC over all envs")
    p.add_argument("--suite", default=None, metavar="NAME",
                   help="score on every scenario of this suite too (evaluation seeds)")
    p.add_argument("--scenarios", default=None, metavar="A,B",
                   help="with --suite: only these of its scenarios (comma-separated)")
    p.add_argument("--no-worse-than", default=None, metavar="AGENT",
                   help="prefer candidates no worse than AGENT on every env (then the geometric mean)")
    p.add_argument("--verify", action="store_true",
                   help="score a generalist as agents.make plays it: with its per-scenario check "
                        "against the rule (slower: the check simulates each new scenario)")
    args = p.parse_args(argv)
    if args.no_worse_than is not None and args.no_worse_than not in AGENTS:
        sys.exit(f"error: --no-worse-than: unknown agent {args.no_worse_than!r}; one of {sorted(AGENTS)}")
    if args.scenarios is not None and args.suite is None:
        sys.exit("error: --scenarios: only with --suite NAME")
    try:
        seed_list = seeds.eval_seeds(args.episodes)
    except ValueError as e:
        sys.exit(f"error: --episodes: {e}")
    try:
        configs = {run: read_config(run) for run in args.runs}
    except RunFolderError as e:
        sys.exit(f"error: {e}")
    envs = {(c["env_id"], json.dumps(c["env_kwargs"], sort_keys=True)) for c in configs.values()}
    if len(envs) != 1:
        sys.exit(f"error: the runs were trained on different envs: {sorted(envs)}")
    env_id, env_kwargs = configs[args.runs[0]]["env_id"], configs[args.runs[0]]["env_kwargs"]
    import gymnasium as gym

    unknown = [e for e in args.also if e not in gym.registry]
    if unknown:
        sys.exit(f"error: --also: unknown env id(s) {unknown}")
    # label -> (env id, kwargs) of every other env a candidate is scored on
    others: dict[str, tuple[str, dict]] = {e: (e, {}) for e in args.also}
    if args.suite is not None:
        try:
            _, scenarios = check_suite(args.suite, args.scenarios)  # evaluate.py's rules
        except SystemExit as e:
            sys.exit(f"error: {e}")
        others.update({sc.name: (sc.env_id, dict(sc.env_kwargs)) for sc in scenarios})

    models, skipped = load_candidates(args.runs, configs, args.min_steps, args.verify)
    if not models:
        sys.exit(f"error: no usable model in {', '.join(map(str, args.runs))}"
                 + (f" ({len(skipped)} damaged: see the warnings)" if skipped else ""))

    t0 = time.perf_counter()
    lc = score(env_id, env_kwargs, make("lc"), seed_list)
    lc_also = {e: score(*others[e], make("lc"), seed_list) for e in others}
    guard = args.no_worse_than
    if guard is not None:  # its mean cost on the training env, then on each other env
        guard_costs = [float(score(env_id, env_kwargs, make(guard), seed_list).mean()),
                       *(float(score(*others[e], make(guard), seed_list).mean()) for e in others)]
    rows = []
    for run, label, path, agent in models:
        costs = score(env_id, env_kwargs, agent, seed_list)
        row = {"run": str(run), "model": label, "path": str(path), "mean_cost": float(costs.mean()),
               "ci95": ci95(costs), "ratio_to_lc": float(costs.mean() / lc.mean()),
               "paired_diff_vs_lc": float((costs - lc).mean()), "paired_ci95": ci95(costs - lc)}
        means = [float(costs.mean())]  # on the training env, then on each other env
        ratios = [row["ratio_to_lc"]]
        for e, lc_e in lc_also.items():
            means.append(float(score(*others[e], agent, seed_list).mean()))
            ratios.append(means[-1] / float(lc_e.mean()))
            row[f"ratio_to_lc_{e}"] = ratios[-1]
        row["geomean_ratio_to_lc"] = float(np.exp(np.mean(np.log(ratios))))
        if guard is not None:
            row[f"worst_ratio_to_{guard}"] = max(m / g for m, g in zip(means, guard_costs, strict=True))
        rows.append(row)
    rows.sort(key=lambda r: (*_guard_key(r, guard),
                             round(r["geomean_ratio_to_lc"] if others else r["mean_cost"], 9),
                             -trained_steps(r["model"])))
    print(f"{env_id}, evaluation seeds {seed_list[0]}..{seed_list[-1]}; LC {lc.mean():.1f} ± {ci95(lc):.1f}")
    width = max(len(f"{r['run']}/{r['model']}") for r in rows)
    also = "".join(f"  {'/ LC ' + e:>{len(e) + 5}}" for e in others)
    if guard is not None:
        also += f"  {'worst / ' + guard:>{len(guard) + 8}}"
    print(f"{'model':<{width}}  {'mean cost':>10}  {'± 95%':>6}  {'/ LC':>6}  {'vs LC (paired)':>16}{also}")
    for r in rows:
        extra = "".join(f"  {r[f'ratio_to_lc_{e}']:>{len(e) + 5}.3f}" for e in others)
        if guard is not None:
            extra += f"  {r[f'worst_ratio_to_{guard}']:>{len(guard) + 8}.4f}"
        print(f"{r['run'] + '/' + r['model']:<{width}}  {r['mean_cost']:10.1f}  {r['ci95']:6.1f}  "
              f"{r['ratio_to_lc']:6.3f}  {r['paired_diff_vs_lc']:8.1f} ± {r['paired_ci95']:5.1f}{extra}")
    for r in skipped:
        print(f"{r['run'] + '/' + r['model']:<{width}}  skipped: cannot be loaded (damaged?)")
    best = rows[0]
    command = ["python", "-m", "training.release.select_checkpoint", *map(str, args.runs),
               "--episodes", str(args.episodes), "--min-steps", str(args.min_steps),
               *[a for e in args.also for a in ("--also", e)],
               *(["--suite", args.suite] if args.suite is not None else []),
               *(["--scenarios", args.scenarios] if args.scenarios is not None else []),
               *(["--no-worse-than", guard] if guard is not None else []),
               *(["--verify"] if args.verify else [])]
    record = {"selected": best, "lc_mean_cost": float(lc.mean()), "eval_seeds": [seed_list[0], seed_list[-1]],
              "candidates": len(rows), "skipped": skipped, "runs": [str(r) for r in args.runs],
              "verify": args.verify,
              "command": " ".join(command),
              "seconds": round(time.perf_counter() - t0, 1), "table": rows}
    if not args.no_copy:
        dest = copy_selected(Path(best["run"]), Path(best["path"]), record)
        print(f"selected {best['run']}/{best['model']} -> {dest}")
    return record


if __name__ == "__main__":
    main()
