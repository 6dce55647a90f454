"""Every reactive heuristic, ``gdsf``, ``cost_benefit`` and the oracle against LC on many
scenarios (benchmark seeds), rerunnably:

    python benchmarks/admission_baselines.py                    # 20 seeds (0..19) per scenario
    python benchmarks/admission_baselines.py --scenarios default,gpu_gb=120 --episodes 5

Prints one markdown row per scenario: each agent's mean cost / LC's (paired seeds), the oracle
where the catalog allows it (<= 12 models), and whether ``cost_benefit`` stays <= 1.00x LC.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from a clone
sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench_args, beside this script

from bench_args import check_episodes, check_names, check_seed  # noqa: E402

from agents.bounds import MAX_PLAN_MODELS  # noqa: E402
from edge_cache_env.config import make_config  # noqa: E402
from edge_cache_env.registration import ENV_IDS  # noqa: E402
from evaluation.engine import run_benchmark  # noqa: E402

SCENARIOS: dict[str, tuple[str, dict[str, Any]]] = {
    "default": ("EdgePFMCache-v0", {}),
    "small": ("EdgePFMCache-Small-v0", {}),
    "gpu_gb=40": ("EdgePFMCache-v0", {"gpu_gb": 40}),
    "gpu_gb=60": ("EdgePFMCache-v0", {"gpu_gb": 60}),
    "gpu_gb=120": ("EdgePFMCache-v0", {"gpu_gb": 120}),
    "gpu_gb=160": ("EdgePFMCache-v0", {"gpu_gb": 160}),
    "requests_per_slot=0.5": ("EdgePFMCache-v0", {"requests_per_slot": 0.5}),
    "requests_per_slot=4": ("EdgePFMCache-v0", {"requests_per_slot": 4}),
    "requests_per_slot=8": ("EdgePFMCache-v0", {"requests_per_slot": 8}),
    "zipf_models=0.8": ("EdgePFMCache-v0", {"zipf_models": 0.8}),
    "zipf_models=1.6": ("EdgePFMCache-v0", {"zipf_models": 1.6}),
    "nu=0.98": ("EdgePFMCache-v0", {"nu": 0.98}),
    "rho=0.2": ("EdgePFMCache-v0", {"rho": 0.2}),
    "servegen (test)": ("EdgePFMCache-ServeGen-v0", {"split": "test"}),
    "mooncake (test)": ("EdgePFMCache-Mooncake-v0", {"split": "test"}),
    "azure (test)": ("EdgePFMCache-Azure-v0", {"split": "test"}),
    "large": ("EdgePFMCache-Large-v0", {}),
}
AGENTS = ("lc", "lru", "lfu", "fifo", "gdsf", "cost_benefit")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="admission-aware baselines vs LC on many scenarios")
    p.add_argument("--episodes", type=int, default=20)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--scenarios", default=",".join(SCENARIOS), help=f"subset of {list(SCENARIOS)}")
    args = p.parse_args(argv)
    names = args.scenarios.split(",")
    check_names(p, names, SCENARIOS, "--scenarios")
    check_episodes(p, args.episodes)
    check_seed(p, args.seed)
    seeds = list(range(args.seed, args.seed + args.episodes))
    print(f"seeds {seeds[0]}..{seeds[-1]}; mean cost / LC's (paired)")
    print("| scenario | LC cost | " + " | ".join(AGENTS[1:]) + " | oracle | cost_benefit <= 1.00 |")
    print("|---" * (len(AGENTS) + 3) + "|")
    for name in names:
        env_id, kwargs = SCENARIOS[name]
        catalog = ENV_IDS[env_id]["catalog"]
        with_oracle = make_config(catalog).n_models <= MAX_PLAN_MODELS
        specs = [*AGENTS, "oracle"] if with_oracle else list(AGENTS)
        res = run_benchmark(env_id, specs, seeds, env_kwargs=kwargs, bound=False, progress=False)
        cost = {a: float(np.mean([e["cost"] for e in res.episodes[a]])) for a in specs}
        ratio = {a: cost[a] / cost["lc"] for a in specs}
        oracle = f"{ratio['oracle']:.3f}" if with_oracle else "n/a (> 12 models)"
        print(f"| {name} | {cost['lc']:.1f} | " + " | ".join(f"{ratio[a]:.3f}" for a in AGENTS[1:])
              + f" | {oracle} | {'yes' if ratio['cost_benefit'] <= 1.0 else 'NO'} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
