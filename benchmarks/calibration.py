"""Calibration checks of the default scenario (issue 3), rerunnable:

    python benchmarks/calibration.py                # 20 seeds (0..19), about a minute or two
    python benchmarks/calibration.py --episodes 8   # quicker, noisier

On ``EdgePFMCache-v0``, paired seeds:
1. every cost term is at least 5% of LC's total cost;
2. cloud-only costs at least 1.3x LC (caching matters);
3. LC costs at least 3% less than LRU and the paired 95% CI of LRU - LC excludes zero
   (context matters);
4. with ``nu`` near 0 (1e-3) or ``acc_gain = 0`` the LRU - LC difference vanishes (here: its
   mean is within 1% of LC's cost);
and every baseline is reported against LC, including any that beat it. Exits 1 if a check fails.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from a clone
sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench_args, beside this script

from bench_args import check_episodes, check_seed  # noqa: E402

from agents import AGENTS  # noqa: E402
from evaluation.engine import ci95, run_benchmark  # noqa: E402

ENV_ID = "EdgePFMCache-v0"
BASELINES = tuple(AGENTS)
TERMS = ("latency", "energy", "accuracy", "cloud", "switch")
ABLATIONS = {"nu=1e-3": {"nu": 1e-3}, "acc_gain=0": {"model_overrides": {"*": {"acc_gain": 0.0}}}}
MIN_TERM_SHARE, MIN_CLOUD_RATIO, MIN_LRU_GAP, MAX_ABLATION_GAP = 0.05, 1.3, 0.03, 0.01


def lru_minus_lc(episodes: dict) -> tuple[float, float, float]:
    """Mean and CI of LRU - LC (paired), and LC's mean cost."""
    lc = np.array([e["cost"] for e in episodes["lc"]])
    d = np.array([e["cost"] for e in episodes["lru"]]) - lc
    return float(d.mean()), ci95(d), float(lc.mean())


def check_term_shares(lc: dict, checks: list[tuple[str, bool]]) -> None:
    """Each cost term's share of LC's total must reach MIN_TERM_SHARE (appended to ``checks``)."""
    for t in TERMS:
        share = lc["terms"][t] / lc["mean_cost"]
        ok = share >= MIN_TERM_SHARE
        checks.append((f"term {t} >= 5%", ok))
        print(f"   {t:<9} {100 * share:5.1f}%  {'ok' if ok else 'FAIL'}")


def print_against_lc(summary: dict) -> None:
    """Every baseline's paired difference to LC, with a verdict (any that beat LC included)."""
    for name, r in summary.items():
        d = r.get("diff_vs_lc")
        if name == "lc" or d is None:
            continue
        verdict = "beats LC" if d["mean"] + d["ci95"] < 0 else ("worse than LC" if d["mean"] - d["ci95"] > 0
                                                                 else "not distinguishable from LC")
        print(f"   {name:<12} {r['mean_cost']:8.1f}  x{r['ratio_to_lc']:.3f}  "
              f"{d['mean']:+8.1f} ± {d['ci95']:6.1f}  {verdict}")


def report(checks: list[tuple[str, bool]]) -> int:
    """The verdict line; the exit code (1 if a check failed)."""
    failed = [name for name, ok in checks if not ok]
    print(f"\n{'all checks pass' if not failed else 'FAILED: ' + ', '.join(failed)}")
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="calibration checks of EdgePFMCache-v0")
    p.add_argument("--episodes", type=int, default=20)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    check_episodes(p, args.episodes)
    check_seed(p, args.seed)
    seeds = list(range(args.seed, args.seed + args.episodes))
    checks: list[tuple[str, bool]] = []

    res = run_benchmark(ENV_ID, BASELINES, seeds, bound=False, progress=False)
    summary = res.summary()["agents"]
    lc = summary["lc"]
    print(f"{ENV_ID}, {len(seeds)} seeds ({seeds[0]}..{seeds[-1]}); LC mean cost {lc['mean_cost']:.1f}")
    print("\n1. cost terms as a share of LC's total (each >= 5%):")
    check_term_shares(lc, checks)
    ratio = summary["cloud"]["mean_cost"] / lc["mean_cost"]
    ok = ratio >= MIN_CLOUD_RATIO
    checks.append(("cloud >= 1.3 LC", ok))
    print(f"\n2. cloud-only / LC = {ratio:.3f} (>= {MIN_CLOUD_RATIO})  {'ok' if ok else 'FAIL'}")
    mean, ci, lc_mean = lru_minus_lc(res.episodes)
    ok = mean / lc_mean >= MIN_LRU_GAP and mean - ci > 0
    checks.append(("LRU - LC >= 3%, CI excludes 0", ok))
    print(f"\n3. LRU - LC = {mean:+.1f} ± {ci:.1f} ({100 * mean / lc_mean:+.2f}% ± {100 * ci / lc_mean:.2f}%)"
          f" (>= 3%, CI above 0)  {'ok' if ok else 'FAIL'}")
    print("\n4. ablations (LRU - LC within 1% of LC's cost):")
    for name, kwargs in ABLATIONS.items():
        r = run_benchmark(ENV_ID, ("lc", "lru"), seeds, env_kwargs=kwargs, bound=False, progress=False)
        mean, ci, lc_mean = lru_minus_lc(r.episodes)
        ok = abs(mean) / lc_mean <= MAX_ABLATION_GAP
        checks.append((f"ablation {name}", ok))
        print(f"   {name:<11} LRU - LC = {mean:+.1f} ± {ci:.1f} ({100 * mean / lc_mean:+.2f}% ± "
              f"{100 * ci / lc_mean:.2f}%)  {'ok' if ok else 'FAIL'}")
    print("\n5. every baseline against LC (paired difference, mean ± 95% CI):")
    print_against_lc(summary)
    return report(checks)


if __name__ == "__main__":
    sys.exit(main())
