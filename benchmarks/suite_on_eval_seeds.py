"""Compare agents over a suite on evaluation seeds (10_000 ..), never on benchmark seeds.

    python benchmarks/suite_on_eval_seeds.py --agents cost_benefit_tuned,maskable_ppo:runs/X/best_model.zip
        [--suite default] [--scenarios a,b] [--episodes 10] [--out results/suite_eval_seeds.json]

``evaluate.py`` scores on benchmark seeds (0..9_999) only; choosing between trained candidates
there would tune on the benchmark. This plays LC, ``cost_benefit`` and every ``--agents`` entry
on the same evaluation seeds of each scenario of the suite (evaluation/seeds.py) and prints each
agent's mean cost as a ratio to ``cost_benefit`` per scenario, then its geometric means over the
suite (to LC and to ``cost_benefit``) and its worst ratio to ``cost_benefit``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this clone's code
sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench_args, beside this script

from bench_args import out_file, write_text  # noqa: E402

from agents import make  # noqa: E402
from evaluation.engine import run_benchmark  # noqa: E402
from evaluation.seeds import eval_seeds  # noqa: E402
from evaluation.validate import check_suite  # noqa: E402

BASE = ("lc", "cost_benefit")


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--agents", required=True, help="comma-separated agent specs (as evaluate.py's)")
    p.add_argument("--suite", default="default")
    p.add_argument("--scenarios", default=None, help="comma-separated subset of the suite's scenarios")
    p.add_argument("--episodes", type=int, default=10)
    p.add_argument("--out", type=Path, default=None, help="JSON file for every mean cost")
    args = p.parse_args(argv)
    try:  # every argument checked before any episode
        seeds = eval_seeds(args.episodes)
    except ValueError as e:
        p.error(f"--episodes: {e}")
    try:
        suite, scenarios = check_suite(args.suite, args.scenarios)  # evaluate.py's rules
    except SystemExit as e:
        p.error(str(e))
    specs = [s for s in args.agents.split(",") if s]
    if not specs:
        p.error("--agents: give at least one agent")
    for spec in specs:
        try:
            make(spec)
        except (ValueError, FileNotFoundError) as e:
            p.error(f"--agents: {e}")
    out = out_file(p, args.out) if args.out is not None else None
    costs: dict[str, dict[str, float]] = {}
    for sc in scenarios:
        r = run_benchmark(sc.env_id, [*BASE, *specs], seeds, dict(sc.env_kwargs), bound=False,
                          progress=False)
        costs[sc.name] = {k: float(np.mean([e["cost"] for e in v])) for k, v in r.episodes.items()}
        row = costs[sc.name]
        cells = " ".join(f"{row[k] / row['cost_benefit']:10.4f}" if k in row else f"{'n/a':>10}"
                         for k in specs)
        print(f"{sc.name:18s} {cells}", flush=True)
    summary = {}
    for k in ("cost_benefit", *specs):
        rows = [v for v in costs.values() if k in v]
        to_lc = float(np.exp(np.mean([np.log(v[k] / v["lc"]) for v in rows])))
        to_cb = [v[k] / v["cost_benefit"] for v in rows]
        summary[k] = {"scenarios": len(rows), "geomean_to_lc": to_lc,
                      "geomean_to_cost_benefit": float(np.exp(np.mean(np.log(to_cb)))),
                      "worst_to_cost_benefit": float(max(to_cb))}
        print(f"{k}: geomean / LC {to_lc:.4f}, / cost_benefit {summary[k]['geomean_to_cost_benefit']:.4f}, "
              f"worst / cost_benefit {summary[k]['worst_to_cost_benefit']:.4f} ({len(rows)} scenarios)")
    record = {"suite": suite, "seeds": [seeds[0], seeds[-1]], "agents": specs, "mean_costs": costs,
              "summary": summary, "command": "python benchmarks/suite_on_eval_seeds.py " + " ".join(
                  sys.argv[1:] if argv is None else argv)}
    if out is not None:
        write_text(out, json.dumps(record, indent=1) + "\n")
    return record


if __name__ == "__main__":
    main()
