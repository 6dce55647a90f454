"""The oracle against the reactive rules on the default scenario and its variations.

For each scenario and seed: the cost of every agent given (``--agents``), of the previous
oracle (the lower bound's DP plan followed as is: ``planner`` with that start only, no
improvement) and of the current ``oracle``; prints the mean ratio to LC per scenario and writes
``oracle_strength.json``. Benchmark seeds by default (0..19); design on ``--seed 10000``.

    python benchmarks/oracle_strength.py --episodes 20 --out results/
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench_args, beside this script

from bench_args import check_agents, check_episodes, check_names, check_seed, out_folder, write_text  # noqa: E402

import agents  # noqa: E402
import edge_cache_env  # noqa: E402,F401  (registers the env ids)
from agents.planner import plan_episode  # noqa: E402
from evaluation.engine import run_episode  # noqa: E402

SCENARIOS: dict[str, tuple[str, dict]] = {
    "default": ("EdgePFMCache-v0", {}),
    "gpu_gb=40": ("EdgePFMCache-v0", {"gpu_gb": 40.0}),
    "gpu_gb=120": ("EdgePFMCache-v0", {"gpu_gb": 120.0}),
    "gpu_gb=160": ("EdgePFMCache-v0", {"gpu_gb": 160.0}),
    "requests_per_slot=0.5": ("EdgePFMCache-v0", {"requests_per_slot": 0.5}),
    "requests_per_slot=4": ("EdgePFMCache-v0", {"requests_per_slot": 4.0}),
    "requests_per_slot=8": ("EdgePFMCache-v0", {"requests_per_slot": 8.0}),
    "Small": ("EdgePFMCache-Small-v0", {}),
    "ServeGen test": ("EdgePFMCache-ServeGen-v0", {"split": "test"}),
    "Azure test": ("EdgePFMCache-Azure-v0", {"split": "test"}),
}


def old_oracle_cost(env: gym.Env, seed: int) -> float:
    """The previous oracle's cost: the bound's DP plan as is (its true cost, exact)."""
    env.reset(seed=seed)
    return plan_episode(env.unwrapped, replans=0, passes=0, rollouts=()).cost


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--episodes", type=int, default=20)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--agents", default="lc,lru,lfu,clairvoyant,static")
    p.add_argument("--scenarios", default=",".join(SCENARIOS))
    p.add_argument("--out", default="results")
    a = p.parse_args(argv)
    names = [s for s in a.scenarios.split(",") if s]
    check_names(p, names, SCENARIOS, "--scenarios")
    specs = [s for s in a.agents.split(",") if s]
    check_agents(p, specs)  # unknown names fail before any work
    if "lc" not in specs:
        p.error(f"--agents {a.agents}: must include lc (the ratios are to LC)")
    check_episodes(p, a.episodes)
    check_seed(p, a.seed)
    path = out_folder(p, a.out) / "oracle_strength.json"
    seeds = range(a.seed, a.seed + a.episodes)
    out: dict[str, dict] = {}
    for name in names:
        env_id, kwargs = SCENARIOS[name]
        env = gym.make(env_id, **kwargs)
        costs: dict[str, list[float]] = {s: [] for s in [*specs, "oracle_old", "oracle"]}
        for seed in seeds:
            for s in specs:
                costs[s].append(run_episode(env, agents.make(s), seed)["cost"])
            costs["oracle_old"].append(old_oracle_cost(env, seed))
            costs["oracle"].append(run_episode(env, agents.make("oracle"), seed)["cost"])
        lc = np.array(costs["lc"]) if "lc" in costs else None
        row = {s: {"mean_cost": float(np.mean(c)),
                   "ratio_to_lc": float(np.mean(c) / lc.mean()) if lc is not None else None}
               for s, c in costs.items()}
        out[name] = {"env_id": env_id, "kwargs": kwargs, "seeds": list(seeds), "agents": row}
        best = min((s for s in specs if s not in agents.REFERENCE_AGENTS), key=lambda s: row[s]["mean_cost"])
        print(f"{name:24s} " + "  ".join(f"{s} {v['ratio_to_lc']:.3f}" for s, v in row.items())
              + f"   best reactive: {best}", flush=True)
    write_text(path, json.dumps(out, indent=1))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
