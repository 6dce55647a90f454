"""Calibration checks of the capacity model's default (issue 16), rerunnable:

    python benchmarks/calibration_capacity.py                  # 20 seeds (0..19)
    python benchmarks/calibration_capacity.py --seed 10000     # calibration seeds (never 0..9999)

On ``EdgePFMCache-v2`` under LC, paired seeds:
1. mean offered GPU load (demand / capacity per slot) between 40% and 70%, with bursts above
   100% (p95 and max reported, with the utilisation: busy / capacity);
2. every cost term at least 5% of LC's total;
3. LC ahead of LRU: the paired 95% CI of LRU - LC above zero;
and every baseline against LC. Exits 1 if a check fails.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import agents  # noqa: E402
from evaluation.engine import run_benchmark, run_episode  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_args import check_episodes, check_seed, make_env  # noqa: E402
from calibration import BASELINES, check_term_shares, lru_minus_lc, print_against_lc, report  # noqa: E402

ENV_ID = "EdgePFMCache-v2"
LOAD_RANGE = (0.40, 0.70)


def lc_load(env_id: str, seeds: list[int], **env_kwargs) -> dict[str, float]:
    """Per-slot offered load and utilisation of the GPU under LC, pooled over the seeds."""
    env = gym.make(env_id, **env_kwargs)
    lc = agents.make("lc")
    load, util = [], []
    for seed in seeds:
        run_episode(env, lc, seed)
        sim = env.unwrapped.sim
        load.append(sim.load_by_slot.copy())
        util.append(sim.utilisation_by_slot.copy())
    load, util = np.concatenate(load), np.concatenate(util)
    return {"load_mean": float(load.mean()), "load_p95": float(np.percentile(load, 95)),
            "load_max": float(load.max()), "util_mean": float(util.mean()),
            "util_p95": float(np.percentile(util, 95)), "slots_over_100": float((load > 1).mean())}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="calibration checks of the capacity model (EdgePFMCache-v2)")
    p.add_argument("--episodes", type=int, default=20)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--env", default=ENV_ID)
    args = p.parse_args(argv)
    check_episodes(p, args.episodes)
    check_seed(p, args.seed)
    with make_env(p, args.env) as env:
        if not env.unwrapped.config.capacity.enabled:
            p.error(f"--env {args.env}: the capacity model is off in this env, so it has no GPU "
                    f"load to check; give an id with it on (the -v2 ids, e.g. {ENV_ID})")
    seeds = list(range(args.seed, args.seed + args.episodes))
    checks: list[tuple[str, bool]] = []
    load = lc_load(args.env, seeds)
    print(f"{args.env}, {len(seeds)} seeds ({seeds[0]}..{seeds[-1]})")
    ok = LOAD_RANGE[0] <= load["load_mean"] <= LOAD_RANGE[1] and load["load_max"] > 1.0
    checks.append(("load mean in [40%, 70%], max > 100%", ok))
    print(f"1. GPU offered load under LC: mean {100 * load['load_mean']:.1f}%, p95 "
          f"{100 * load['load_p95']:.1f}%, max {100 * load['load_max']:.1f}%, slots over 100%: "
          f"{100 * load['slots_over_100']:.1f}%; utilisation mean {100 * load['util_mean']:.1f}%, "
          f"p95 {100 * load['util_p95']:.1f}%  {'ok' if ok else 'FAIL'}")
    res = run_benchmark(args.env, BASELINES, seeds, bound=False, progress=False)
    summary = res.summary()["agents"]
    lc = summary["lc"]
    print(f"2. cost terms as a share of LC's total {lc['mean_cost']:.1f} (each >= 5%):")
    check_term_shares(lc, checks)
    mean, ci, lc_mean = lru_minus_lc(res.episodes)
    ok = mean - ci > 0
    checks.append(("LRU - LC CI above 0", ok))
    print(f"3. LRU - LC = {mean:+.1f} ± {ci:.1f} ({100 * mean / lc_mean:+.2f}% ± "
          f"{100 * ci / lc_mean:.2f}%)  {'ok' if ok else 'FAIL'}")
    print("4. every baseline against LC (paired difference, mean ± 95% CI):")
    print_against_lc(summary)
    return report(checks)


if __name__ == "__main__":
    sys.exit(main())
