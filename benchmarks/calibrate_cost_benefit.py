"""Calibrate :class:`agents.cost_benefit.CostBenefitConfig` on training seeds, rerunnably:

    python benchmarks/calibrate_cost_benefit.py                 # 6 seeds per scenario
    python benchmarks/calibrate_cost_benefit.py --episodes 3    # quicker, noisier

Grid search over ``horizon_slots`` x ``keep_weight`` x ``margin``. Each setting plays the same
training-seed episodes (``100_000 ..``; never the benchmark seeds 0..9_999) on a set of
scenarios (default, small, other GPU sizes, request rates, skews, context decay, a trace's
train split), paired with LC. Score of a setting: the mean over scenarios of its cost / LC's
cost; settings whose worst scenario stays <= 1.0 are preferred (the rule must never lose to LC).
Prints every setting's row and the selected one.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from a clone

import edge_cache_env  # noqa: E402,F401  (registers the env ids)
from agents.cost_benefit import CostBenefit, CostBenefitConfig  # noqa: E402
from agents.heuristics import LeastContext  # noqa: E402
from evaluation.engine import run_episode  # noqa: E402
from evaluation.seeds import TRAIN_SEED_BASE  # noqa: E402

SCENARIOS: dict[str, tuple[str, dict[str, Any]]] = {
    "default": ("EdgePFMCache-v0", {}),
    "small": ("EdgePFMCache-Small-v0", {}),
    "gpu40": ("EdgePFMCache-v0", {"gpu_gb": 40}),
    "gpu120": ("EdgePFMCache-v0", {"gpu_gb": 120}),
    "rps0.5": ("EdgePFMCache-v0", {"requests_per_slot": 0.5}),
    "rps8": ("EdgePFMCache-v0", {"requests_per_slot": 8}),
    "zipf0.8": ("EdgePFMCache-v0", {"zipf_models": 0.8}),
    "nu0.98": ("EdgePFMCache-v0", {"nu": 0.98}),
    "large": ("EdgePFMCache-Large-v0", {}),
    "azure-train": ("EdgePFMCache-Azure-v0", {"split": "train"}),
}
HORIZONS = (5.0, 8.0, 12.0, 20.0)
KEEP_WEIGHTS = (1.0, 2.0, 3.0)
MARGINS = (0.0, 1.0)


def costs(env: gym.Env, agent: Any, seeds: list[int]) -> np.ndarray:
    return np.array([run_episode(env, agent, s)["cost"] for s in seeds])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="calibrate cost_benefit on training seeds")
    p.add_argument("--episodes", type=int, default=6)
    p.add_argument("--seed", type=int, default=TRAIN_SEED_BASE)
    p.add_argument("--scenarios", default=",".join(SCENARIOS),
                   help=f"comma-separated subset of {list(SCENARIOS)}")
    args = p.parse_args(argv)
    if args.seed < TRAIN_SEED_BASE:
        p.error(f"--seed {args.seed}: calibrate on training seeds >= {TRAIN_SEED_BASE} only")
    if args.episodes < 1:
        p.error(f"--episodes {args.episodes}: must be >= 1")
    names = args.scenarios.split(",")
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        p.error(f"--scenarios: unknown {unknown}; known: {list(SCENARIOS)}")
    seeds = list(range(args.seed, args.seed + args.episodes))
    envs = {n: gym.make(SCENARIOS[n][0], **SCENARIOS[n][1]) for n in names}
    lc = {n: costs(envs[n], LeastContext(), seeds).mean() for n in names}
    grid = [CostBenefitConfig(h, k, m) for h, k, m in itertools.product(HORIZONS, KEEP_WEIGHTS, MARGINS)]
    print(f"seeds {seeds[0]}..{seeds[-1]}; ratio to LC per scenario")
    print(f"{'H':>6} {'keep':>5} {'margin':>6} " + " ".join(f"{n:>11}" for n in names)
          + f" {'mean':>6} {'max':>6}")
    rows = []
    for cfg in grid:
        ratios = np.array([costs(envs[n], CostBenefit(cfg), seeds).mean() / lc[n] for n in names])
        rows.append((cfg, ratios))
        print(f"{cfg.horizon_slots:6.0f} {cfg.keep_weight:5.2f} {cfg.margin:6.2f} "
              + " ".join(f"{r:11.3f}" for r in ratios) + f" {ratios.mean():6.3f} {ratios.max():6.3f}",
              flush=True)
    safe = [r for r in rows if r[1].max() <= 1.0]
    best = min(safe or rows, key=lambda r: r[1].mean() if safe else r[1].max())
    print(f"selected: {best[0]} (mean ratio {best[1].mean():.3f}, worst {best[1].max():.3f}; "
          f"{'every scenario <= 1.0' if safe else 'no setting keeps every scenario <= 1.0'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
