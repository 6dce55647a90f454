"""The true headroom on small instances: lower bound, exact optimum, oracles and heuristics.

On instances small enough for :mod:`agents.exact` (a few models of the small catalog, a short
horizon), per instance and averaged over seeds: the lower bound (``agents.bounds``; with and
without its Lagrangian tightening), the exact optimum, the previous oracle (the bound's DP plan
followed as is), the current ``oracle``, the best non-reference agent of ``agents.AGENTS``
and its name, and LC; each also as a ratio to the exact optimum. The shipped trained agents
act on the 10-model default catalog only: "n/a" here. Prints the table and writes ``headroom.json`` and ``headroom.md``.

    python benchmarks/headroom.py --seeds 5 --out results/
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import gymnasium as gym
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench_args, beside this script

from bench_args import check_episodes, check_seed, out_folder, write_text  # noqa: E402

import agents  # noqa: E402
import edge_cache_env  # noqa: E402,F401  (registers the env ids)
from agents.bounds import lower_bound  # noqa: E402
from agents.exact import check_tractable, exact_optimum  # noqa: E402
from agents.planner import plan_episode  # noqa: E402
from edge_cache_env.config import make_config  # noqa: E402
from evaluation.engine import run_episode  # noqa: E402

_SMALL = {m.name: m for m in make_config("small").models}


def _models(*names: str) -> list:
    return [_SMALL[n] for n in names]


# name -> EdgePFMCache-Small-v0 overrides. Memory: Llama-3.1-8B 18.21 GB, Mistral-7B 16.65,
# Phi-3-mini 14.08, Gemma-2-9B 19.89, SDXL 7.5: two or three fit at once.
INSTANCES: dict[str, dict] = {
    "3 LLMs, 35 GB, 30 slots, 2 req/slot": dict(
        models=_models("Llama-3.1-8B", "Mistral-7B", "Phi-3-mini"), gpu_gb=35.0, n_slots=30),
    "3 LLMs, 35 GB, 30 slots, 6 req/slot": dict(
        models=_models("Llama-3.1-8B", "Mistral-7B", "Phi-3-mini"), gpu_gb=35.0, n_slots=30,
        requests_per_slot=6.0),
    "4 LLMs, 40 GB, 20 slots, 2 req/slot": dict(
        models=_models("Llama-3.1-8B", "Mistral-7B", "Phi-3-mini", "Gemma-2-9B"), gpu_gb=40.0,
        n_slots=20),
    "4 LLMs, 40 GB, 20 slots, 6 req/slot": dict(
        models=_models("Llama-3.1-8B", "Mistral-7B", "Phi-3-mini", "Gemma-2-9B"), gpu_gb=40.0,
        n_slots=20, requests_per_slot=6.0),
    "4 models, 30 GB, 24 slots, 4 req/slot, nu=1": dict(
        models=_models("Llama-3.1-8B", "Mistral-7B", "Phi-3-mini", "SDXL"), gpu_gb=30.0,
        n_slots=24, requests_per_slot=4.0, nu=1.0),
}
COLUMNS = ("set_dp_bound", "lower_bound", "exact", "oracle_old", "oracle", "best_heuristic", "lc")


def run_instance(kwargs: dict, seeds: range) -> dict:
    env = gym.make("EdgePFMCache-Small-v0", **kwargs)
    check_tractable(env.unwrapped.config)  # a clear error before any work
    reactive = [n for n in agents.AGENTS if n not in agents.REFERENCE_AGENTS]
    cols: dict[str, list[float]] = {c: [] for c in COLUMNS if c != "best_heuristic"}
    per_agent: dict[str, list[float]] = {n: [] for n in reactive}
    exact_s = []
    for seed in seeds:
        env.reset(seed=seed)
        cfg, req = env.unwrapped.config, env.unwrapped.requests
        cols["set_dp_bound"].append(lower_bound(cfg, req, iterations=0).cost)
        cols["lower_bound"].append(lower_bound(cfg, req).cost)  # tightened (small catalog)
        ex = exact_optimum(cfg, req)
        cols["exact"].append(ex.cost)
        exact_s.append(ex.seconds)
        cols["oracle_old"].append(plan_episode(env.unwrapped, replans=0, passes=0, rollouts=()).cost)
        cols["oracle"].append(run_episode(env, agents.make("oracle"), seed)["cost"])
        for n in reactive:
            per_agent[n].append(run_episode(env, agents.make(n), seed)["cost"])
    cols["lc"] = per_agent["lc"]
    best = min(reactive, key=lambda n: np.mean(per_agent[n]))
    cols["best_heuristic"] = per_agent[best]
    lc = np.mean(cols["lc"])
    return {"kwargs": {k: (v if k != "models" else [m.name for m in v]) for k, v in kwargs.items()},
            "seeds": list(seeds), "best_heuristic_name": best,
            "mean_cost": {c: float(np.mean(v)) for c, v in cols.items()},
            "ratio_to_lc": {c: float(np.mean(v) / lc) for c, v in cols.items()},
            "ratio_to_exact": {c: float(np.mean(v) / np.mean(cols["exact"])) for c, v in cols.items()},
            "exact_seconds_mean": float(np.mean(exact_s)),
            "agents_mean_cost": {n: float(np.mean(v)) for n, v in per_agent.items()}}


def table(results: dict[str, dict]) -> str:
    head = ("| instance | bound (set DP) | bound (tightened) | exact optimum | oracle (old) "
            "| oracle (new) | best heuristic | LC | learned |")
    lines = [head, "|" + "---|" * 9]
    for name, r in results.items():
        m, x = r["mean_cost"], r["ratio_to_exact"]
        cell = [f"{m[c]:.1f} ({x[c]:.3f})" for c in COLUMNS]
        cell[5] = f"{r['best_heuristic_name']} {cell[5]}"
        lines.append(f"| {name} | " + " | ".join(cell) + " | n/a |")
    lines.append("\nMean episode cost (ratio to the exact optimum). learned: the shipped "
                 "MaskablePPO acts on the 10-model default catalog only.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=5, help="episodes per instance (seeds from --seed)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--instances", default="all",
                   help="'all' or comma-separated indices into INSTANCES")
    p.add_argument("--out", default="results")
    a = p.parse_args(argv)
    check_episodes(p, a.seeds, "--seeds")
    check_seed(p, a.seed)
    names = list(INSTANCES)
    if a.instances != "all":
        parts = a.instances.split(",")  # digits only: -1 would pick the last one, silently
        if not all(i.strip().isdigit() and int(i) < len(names) for i in parts):
            p.error(f"--instances: 'all' or indices in 0..{len(INSTANCES) - 1}, got {a.instances!r}")
        names = [names[int(i)] for i in parts]
    out = out_folder(p, a.out)
    results = {}
    for name in names:
        start = time.perf_counter()
        results[name] = run_instance(INSTANCES[name], range(a.seed, a.seed + a.seeds))
        print(f"{name}: {time.perf_counter() - start:.0f} s", flush=True)
    text = table(results)
    print(text)
    write_text(out / "headroom.json", json.dumps(results, indent=1))
    write_text(out / "headroom.md", text + "\n")
    print(f"wrote {out / 'headroom.json'} and {out / 'headroom.md'}")


if __name__ == "__main__":
    main()
