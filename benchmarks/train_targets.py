"""The training targets of the learned agents (a benchmark, not a test).

    python benchmarks/train_targets.py [--episodes 20] [--out agents/pretrained/targets.json]

Evaluates the shipped models of ``agents/pretrained/`` with the heuristics and the lower bound
on the benchmark seeds 0..episodes-1 of their env (the same run as
``python evaluate.py --agents lc,lru,...,maskable_ppo:agents/pretrained/maskable_ppo.zip,...``)
and checks:

* MaskablePPO: mean cost <= 0.90 x LC's, or (if the lower bound leaves less room than that)
  at least half of the LC - lower bound gap closed;
* PPO and DQN: mean cost below LRU's.

Prints a Markdown table (mean cost with 95% CI, ratio to LC, LRU and the lower bound) with the
training time and timesteps of each model from ``manifest.json``, and writes it as JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench_args, beside this script

from bench_args import check_agents, check_episodes, check_seed, out_file, write_text  # noqa: E402

from agents import AGENTS  # noqa: E402
from agents.trained import ALGOS  # noqa: E402
from agents.trained import PRETRAINED_DIR as PRETRAINED  # noqa: E402
from evaluation.engine import run_benchmark  # noqa: E402

# every agent but the random victim (noise) and the oracle (its own row in the README)
HEURISTICS = tuple(a for a in AGENTS if a not in ("random", "oracle"))


def check_targets(costs: dict[str, float], bound: float | None) -> dict[str, dict]:
    lc, lru = costs["lc"], costs["lru"]
    out = {}
    if "maskable_ppo" in costs:
        c = costs["maskable_ppo"]
        gap_closed = (lc - c) / (lc - bound) if bound is not None and lc > bound else None
        room = (lc - bound) / lc if bound is not None else None
        target = "<= 0.90 x LC" if room is None or room > 0.10 else ">= half of the LC - bound gap"
        ok = c <= 0.90 * lc if target.startswith("<=") else (gap_closed or 0) >= 0.5
        out["maskable_ppo"] = {"target": target, "ratio_to_lc": c / lc,
                               "gap_closed": gap_closed, "met": bool(ok)}
    for algo in ("ppo", "dqn"):
        if algo in costs:
            out[algo] = {"target": "< LRU", "ratio_to_lru": costs[algo] / lru,
                         "met": bool(costs[algo] < lru)}
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--episodes", type=int, default=20)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--pretrained", type=Path, default=PRETRAINED)
    p.add_argument("--out", type=Path, default=PRETRAINED / "targets.json")
    args = p.parse_args(argv)
    # Every argument checked before any work.
    check_episodes(p, args.episodes)
    check_seed(p, args.seed)
    out_path = out_file(p, args.out)
    manifest_file = args.pretrained / "manifest.json"
    try:
        manifest = json.loads(manifest_file.read_text())["models"]
        # The specialists of one env (the generalist plays every env: benchmarks/generalist.py).
        manifest = {algo: m for algo, m in manifest.items() if algo in ALGOS}
        env_ids = {m["env_id"] for m in manifest.values()}
        specs = {algo: f"{algo}:{args.pretrained / m['file']}" for algo, m in manifest.items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        p.error(f"--pretrained {args.pretrained}: cannot read the models of {manifest_file}: "
                f"{type(e).__name__}: {e}")
    if len(env_ids) != 1:
        p.error(f"--pretrained {args.pretrained}: the shipped models were trained on different envs "
                f"(or none is listed): {sorted(env_ids)}")
    check_agents(p, specs.values(), "--pretrained")  # each model file there
    env_id = env_ids.pop()
    seeds = list(range(args.seed, args.seed + args.episodes))
    result = run_benchmark(env_id, [*HEURISTICS, *specs.values()], seeds, progress=sys.stderr.isatty())
    summary = result.summary()
    names = {spec: algo for algo, spec in specs.items()}
    rows = {names.get(k, k): v for k, v in summary["agents"].items()}
    bound = summary["lower_bound"]["mean_cost"] if summary["lower_bound"] else None
    costs = {k: v["mean_cost"] for k, v in rows.items()}
    targets = check_targets(costs, bound)

    print(f"\n{env_id}, benchmark seeds {seeds[0]}..{seeds[-1]}\n")
    print("| agent | mean cost (95% CI) | / LC | / LRU | / lower bound | train time | timesteps | target |")
    print("|---|---|---|---|---|---|---|---|")
    for name, row in sorted(rows.items(), key=lambda kv: kv[1]["mean_cost"]):
        m, t = manifest.get(name), targets.get(name)
        cells = [name, f"{row['mean_cost']:.0f} ± {row['ci95']:.0f}",
                 f"{row['mean_cost'] / costs['lc']:.3f}", f"{row['mean_cost'] / costs['lru']:.3f}",
                 f"{row['mean_cost'] / bound:.3f}" if bound else "-",
                 f"{m['wall_clock_s'] / 60:.1f} min" if m else "",
                 f"{m['timesteps']:,}" if m else "",
                 f"{t['target']}: {'met' if t['met'] else 'NOT met'}" if t else ""]
        print("| " + " | ".join(cells) + " |")
    if bound is not None:
        print(f"| lower bound | {bound:.0f} ± {summary['lower_bound']['ci95']:.0f} | "
              f"{bound / costs['lc']:.3f} | {bound / costs['lru']:.3f} | 1.000 | | | |")
    diffs = {name: float(np.mean(np.array(rows[name]["episode_costs"]) - np.array(rows["lc"]["episode_costs"])))
             for name in specs}
    out = {"env": env_id, "seeds": seeds, "lower_bound": summary["lower_bound"], "targets": targets,
           "agents": {k: {kk: v[kk] for kk in ("mean_cost", "ci95", "episode_costs", "terms",
                                              "hit_ratio", "mean_accuracy", "invalid_actions",
                                              "loads")} for k, v in rows.items()},
           "paired_diff_to_lc": {k: {"mean": diffs[k], **rows[k].get("diff_vs_lc", {})} for k in specs},
           "training": {k: {"wall_clock_s": m["wall_clock_s"], "timesteps": m["timesteps"],
                            "commands": m["commands"]} for k, m in manifest.items()}}
    write_text(out_path, json.dumps(out, indent=2) + "\n")
    print(f"\n{out_path}")


if __name__ == "__main__":
    main()
