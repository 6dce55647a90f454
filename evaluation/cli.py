"""Benchmark agents on paired seeds: table, results.json / results.csv, and plots.

    python evaluate.py --env EdgePFMCache-v0 --agents all --episodes 20 --seed 0 --out results/
    python evaluate.py --agents lc,lru,maskable_ppo:runs/x/best_model.zip --episodes 20
    python evaluate.py --agents lc,lru,cloud --sweep gpu_gb=40,60,80,120 --episodes 10
    python evaluate.py --env-kwargs '{"gpu_gb": 48, "aoc": {"nu": 0.9}}' --agents lc,lru

Every agent plays the same episodes (``gym.make(env, **env_kwargs)``, ``reset(seed=s)`` for
s = seed .. seed + episodes - 1; benchmark seeds are 0..9999, never used in training, see
``evaluation/seeds.py``). The lower bound (``agents/bounds.py``) is computed on the same episodes
when the catalog is small enough.

Writes to ``--out``: ``results.json`` (``{"env", "episodes", "seeds", "lower_bound":
{"mean_cost", ...} | null, "agents": {NAME: {"mean_cost", "ci95", "episode_costs", "terms",
"hit_ratio", "mean_accuracy", "mean_aoc", ...}}}``), ``results.csv`` (one row per agent and
episode), ``costs.png``, ``timeline_<agent>.png`` and, with ``--sweep``, ``sweep_<param>.png``.
"""

from __future__ import annotations

import argparse
import csv
import functools
import json
import sys
import time
from pathlib import Path
from typing import Any

import gymnasium as gym

import edge_cache_env  # noqa: F401  (registers the env ids)
from agents import AGENTS
from edge_cache_env.costs import TERMS
from evaluation.engine import EPISODE_FIELDS, BenchmarkResult, record_timeline, run_benchmark


def parse_agents(text: str) -> list[str]:
    specs = [s.strip() for s in text.split(",") if s.strip()]
    out: list[str] = []
    for s in specs:
        out.extend(AGENTS if s == "all" else [s])
    if not out:
        raise SystemExit("--agents: give at least one agent (known: "
                         f"{', '.join(sorted(AGENTS))}, all, or ALGO:PATH)")
    return list(dict.fromkeys(out))


def parse_env_kwargs(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise SystemExit(f"--env-kwargs is not valid JSON ({e}): {text!r}") from e
    if not isinstance(value, dict):
        raise SystemExit(f"--env-kwargs must be a JSON object, got {text!r}")
    return value


def parse_sweep(text: str | None) -> tuple[str, list[Any]] | None:
    if not text:
        return None
    if "=" not in text:
        raise SystemExit(f"--sweep must look like PARAM=V1,V2,... (e.g. gpu_gb=40,60,80,120), got {text!r}")
    param, values = text.split("=", 1)
    try:
        parsed = [json.loads(v) for v in values.split(",") if v.strip()]
    except json.JSONDecodeError as e:
        raise SystemExit(f"--sweep values must be numbers or JSON: {values!r} ({e})") from e
    if not parsed:
        raise SystemExit(f"--sweep {param}: no values given")
    return param.strip(), parsed


def format_table(summary: dict[str, Any]) -> str:
    """The comparison table: one row per agent (and the lower bound)."""
    lb = summary.get("lower_bound")
    has_lc = "lc" in summary["agents"]
    w = max(16, *(len(name) + 1 for name in summary["agents"]))  # trained specs carry a path
    head = (f"{'agent':<{w}}{'cost':>9} {'±95%':>7}{'/LC':>7}{'/LB':>7} "
            + "".join(f"{t[:7]:>9}" for t in TERMS)
            + f"{'hit':>7}{'cloud%':>8}{'loads/h':>9}{'acc':>7}{'AoC':>7}{'inval':>7}")
    lines = [head, "-" * len(head)]
    for name, r in summary["agents"].items():
        ratio_lc = f"{r['ratio_to_lc']:.3f}" if has_lc else "-"
        ratio_lb = f"{r['ratio_to_bound']:.3f}" if lb else "-"
        lines.append(f"{name:<{w}}{r['mean_cost']:>9.1f} {r['ci95']:>7.1f}{ratio_lc:>7}{ratio_lb:>7} "
                     + "".join(f"{r['terms'][t]:>9.1f}" for t in TERMS)
                     + f"{r['hit_ratio']:>7.3f}{100 * r['cloud_share']:>7.1f}%{r['loads_per_hour']:>9.1f}"
                       f"{r['mean_accuracy']:>7.3f}{r['mean_aoc']:>7.2f}{r['invalid_actions']:>7.1f}")
    if lb:
        ratio = f"{lb['mean_cost'] / summary['agents']['lc']['mean_cost']:.3f}" if has_lc else "-"
        lines.append(f"{'lower bound':<{w}}{lb['mean_cost']:>9.1f} {lb['ci95']:>7.1f}{ratio:>7}{'1.000':>7}"
                     f"   (DP over cache sets, {lb['seconds_mean']:.2f} s per episode)")
    else:
        lines.append("lower bound: not computed (catalog too large for the DP, or --no-bound)")
    if has_lc and len(summary["agents"]) > 1:
        lines.append("")
        lines.append("paired difference vs LC (mean ± 95% CI):  " + ",  ".join(
            f"{n} {r['diff_vs_lc']['mean']:+.1f} ± {r['diff_vs_lc']['ci95']:.1f}"
            for n, r in summary["agents"].items() if n != "lc"))
    return "\n".join(lines)


def write_csv(result: BenchmarkResult, path: Path) -> None:
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["agent", "seed", *EPISODE_FIELDS, "lower_bound"])
        for name, eps in result.episodes.items():
            for i, (seed, e) in enumerate(zip(result.seeds, eps)):
                lb = result.bound_costs[i] if result.bound_costs is not None else ""
                w.writerow([name, seed, *(e[k] for k in EPISODE_FIELDS), lb])


def run_sweep(env_id: str, agents: list[str], seeds: list[int], env_kwargs: dict[str, Any],
              param: str, values: list[Any], bound: bool, progress: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"env": env_id, "param": param, "values": values, "agents": {},
                           "lower_bound": []}
    for v in values:
        summary = run_benchmark(env_id, agents, seeds, {**env_kwargs, param: v}, bound=bound,
                                progress=progress).summary()
        for name, r in summary["agents"].items():
            row = out["agents"].setdefault(name, {"mean_cost": [], "ci95": []})
            row["mean_cost"].append(r["mean_cost"])
            row["ci95"].append(r["ci95"])
        out["lower_bound"].append(summary["lower_bound"]["mean_cost"] if summary["lower_bound"] else None)
        print(f"  {param}={v}: " + ", ".join(f"{n} {r['mean_cost']:.0f}" for n, r in summary["agents"].items()),
              flush=True)
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--env", default="EdgePFMCache-v0", help="registered env id")
    p.add_argument("--agents", default="all", help="comma-separated names, 'all', or ALGO:PATH")
    p.add_argument("--episodes", type=int, default=20)
    p.add_argument("--seed", type=int, default=0, help="first seed (benchmark seeds: 0..9999)")
    p.add_argument("--out", default="results", help="output folder")
    p.add_argument("--env-kwargs", default=None, help='JSON overrides, e.g. \'{"gpu_gb": 48}\'')
    p.add_argument("--sweep", default=None, help="PARAM=V1,V2,... e.g. gpu_gb=40,60,80,120")
    p.add_argument("--sweep-episodes", type=int, default=None, help="episodes per sweep point (default: --episodes)")
    p.add_argument("--timeline-agent", default=None, help="agent whose first episode is plotted (default: lc)")
    p.add_argument("--no-bound", action="store_true", help="skip the lower bound")
    p.add_argument("--no-plots", action="store_true")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--ray", nargs="?", const="local", default=None, metavar="ADDRESS",
                   help="run the episodes as Ray tasks: a local Ray, or the cluster at ADDRESS (pip install '.[ray]')")
    args = p.parse_args(argv)

    if args.env not in gym.registry:
        known = sorted(k for k in gym.registry if k.startswith("EdgePFMCache"))
        raise SystemExit(f"unknown env {args.env!r}; registered: {', '.join(known)}")
    if args.episodes < 1:
        raise SystemExit(f"--episodes must be >= 1, got {args.episodes}")
    if not 0 <= args.seed or args.seed + args.episodes > 10_000:
        print(f"warning: seeds {args.seed}..{args.seed + args.episodes - 1} leave the benchmark range "
              f"0..9999 (training and model selection use seeds >= 10000)", file=sys.stderr)
    agents = parse_agents(args.agents)
    env_kwargs = parse_env_kwargs(args.env_kwargs)
    sweep = parse_sweep(args.sweep)
    seeds = list(range(args.seed, args.seed + args.episodes))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    start = time.perf_counter()
    if args.ray:  # integrations.ray_eval: same inputs, same BenchmarkResult
        from integrations.ray_eval import run_benchmark_ray

        run = functools.partial(run_benchmark_ray, address=None if args.ray == "local" else args.ray)
    else:
        run = run_benchmark
    result = run(args.env, agents, seeds, env_kwargs, bound=not args.no_bound, progress=not args.quiet)
    summary = result.summary()
    summary["command"] = " ".join(["python", "evaluate.py", *(argv if argv is not None else sys.argv[1:])])
    print(f"\n{args.env}  {len(seeds)} episodes, seeds {seeds[0]}..{seeds[-1]}"
          + (f", env kwargs {json.dumps(env_kwargs)}" if env_kwargs else ""))
    print(format_table(summary))
    write_csv(result, out / "results.csv")
    written = [out / "results.json", out / "results.csv"]
    if sweep:
        param, values = sweep
        print(f"\nsweep {param} = {values}")
        sweep_seeds = seeds[:args.sweep_episodes] if args.sweep_episodes else seeds
        summary["sweep"] = run_sweep(args.env, agents, sweep_seeds, env_kwargs, param, values,
                                     not args.no_bound, not args.quiet)
    if not args.no_plots:
        from evaluation.plots import plot_costs, plot_sweep, plot_timeline

        written.append(plot_costs(summary, out / "costs.png"))
        tl_agent = args.timeline_agent or ("lc" if "lc" in agents else agents[0])
        tl = record_timeline(args.env, tl_agent, seeds[0], env_kwargs)
        written.append(plot_timeline(tl, tl_agent, out / f"timeline_{_safe(tl_agent)}.png"))
        if sweep:
            written.append(plot_sweep(summary["sweep"], out / f"sweep_{_safe(sweep[0])}.png"))
    summary["seconds"] = time.perf_counter() - start
    (out / "results.json").write_text(json.dumps(summary, indent=1))
    print(f"\nwrote {', '.join(str(w) for w in written)}  ({summary['seconds']:.0f} s)")
    return summary


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


if __name__ == "__main__":
    main()
