"""Benchmark the generalist against LC (and the other baselines) on many scenarios, paired seeds.

    python -m benchmarks.generalist [--model agents/pretrained/generalist.zip] [--episodes 20]
        [--seed 0] [--scenarios default,small,...] [--agents lc,maskable_ppo] [--agreement]
        [--out results/generalist.json]

Every agent plays the same episodes of each scenario (``reset(seed=s)``, s = seed ..
seed + episodes - 1; benchmark seeds 0..9999 by default, ``--seed 10000`` for evaluation
seeds). Extra agents join where they can act: the 10-model specialists (``maskable_ppo``) on
10-model catalogs only. Prints one table (mean cost per agent, ratio to LC and to
``cost_benefit`` when it plays, paired 95% CI of the difference to LC) and writes every number
to ``--out``.

Scenarios (:data:`SCENARIOS`): the default, the small catalog, GPU 40/120/160 GB, load
0.5/4/8 requests per slot, the three traces' test split, and catalogs of sizes never drawn in
training (3 models; 16 models: the default ten plus six fine-tuned variants; the 21-model large
catalog where ``EdgePFMCache-Large-v0`` exists). ``--agents`` may name any agent of
``agents.make`` (e.g. ``cost_benefit`` where it exists).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench_args, beside this script

from bench_args import check_agents, check_episodes, check_names, check_seed, out_file, write_text  # noqa: E402

from agents import make  # noqa: E402
from agents.trained import PRETRAINED_DIR, pretrained_specs  # noqa: E402
from edge_cache_env.catalog import DEFAULT_MODELS  # noqa: E402
from evaluation.engine import ci95, run_benchmark  # noqa: E402


def _variants() -> list[dict[str, Any]]:
    """Six fine-tuned variants of default LLMs: same memory and speed, their own demand."""
    llms = [m for m in DEFAULT_MODELS if m.kind == "llm"][:6]
    return [replace(m, name=f"{m.name}-ft") for m in llms]


# name -> (env id, env kwargs, number of models)
SCENARIOS: dict[str, tuple[str, dict[str, Any], int]] = {
    "default": ("EdgePFMCache-v0", {}, 10),
    "small": ("EdgePFMCache-Small-v0", {}, 6),
    "gpu40": ("EdgePFMCache-v0", {"gpu_gb": 40}, 10),
    "gpu120": ("EdgePFMCache-v0", {"gpu_gb": 120}, 10),
    "gpu160": ("EdgePFMCache-v0", {"gpu_gb": 160}, 10),
    "load0.5": ("EdgePFMCache-v0", {"requests_per_slot": 0.5}, 10),
    "load4": ("EdgePFMCache-v0", {"requests_per_slot": 4}, 10),
    "load8": ("EdgePFMCache-v0", {"requests_per_slot": 8}, 10),
    "servegen-test": ("EdgePFMCache-ServeGen-v0", {"split": "test"}, 10),
    "mooncake-test": ("EdgePFMCache-Mooncake-v0", {"split": "test"}, 10),
    "azure-test": ("EdgePFMCache-Azure-v0", {"split": "test"}, 10),
    "3-models": ("EdgePFMCache-v0", {"models": [m.name for m in DEFAULT_MODELS[:3]]}, 3),
    "16-models": ("EdgePFMCache-v0", {"models": "default+variants", "gpu_gb": 120}, 16),
    # The large catalog (21 models, 192 GB; branch baselines): run where that id is registered.
    "large": ("EdgePFMCache-Large-v0", {}, 21),
}


def env_kwargs_of(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Scenario kwargs -> env kwargs (model lists by name become ModelSpecs)."""
    out = dict(kwargs)
    if out.get("models") == "default+variants":
        out["models"] = [*DEFAULT_MODELS, *_variants()]
    elif "models" in out:
        by_name = {m.name: m for m in DEFAULT_MODELS}
        out["models"] = [by_name[n] for n in out["models"]]
    return out


def agreement(env: Any, generalist: Any, seeds: list[int]) -> float:
    """Share of the generalist's steps (its own episodes) on which cost_benefit, shown the same
    observation, would take the same action: how far the learned policy has moved from the rule."""
    rule = make("cost_benefit")
    same = total = 0
    for seed in seeds:
        obs, _ = env.reset(seed=seed)
        generalist.attach(env)
        rule.attach(env)
        done = False
        while not done:
            a = int(generalist.predict(obs, action_masks=env.unwrapped.action_masks())[0])
            same += a == int(rule.predict(obs)[0])
            total += 1
            obs, _, terminated, truncated, _ = env.step(a)
            done = terminated or truncated
    return same / max(total, 1)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", type=Path, default=PRETRAINED_DIR / "generalist.zip",
                   help="the generalist's zip (a MaskablePPO with agents.set_policy.SetPolicy)")
    p.add_argument("--episodes", type=int, default=20)
    p.add_argument("--seed", type=int, default=0, help="first seed (benchmark 0..9999, evaluation 10000..)")
    p.add_argument("--scenarios", default=",".join(SCENARIOS), help=f"comma-separated, of {list(SCENARIOS)}")
    p.add_argument("--agents", default="lc,maskable_ppo,cost_benefit",
                   help="baselines besides the generalist (maskable_ppo: the shipped 10-model specialist)")
    p.add_argument("--agreement", action="store_true",
                   help="also report the share of steps on which the generalist acts as cost_benefit")
    p.add_argument("--out", type=Path, default=None, help="JSON file for every number")
    args = p.parse_args(argv)
    # Every argument checked before any work.
    names = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    check_names(p, names, SCENARIOS, "--scenarios")
    check_episodes(p, args.episodes)
    check_seed(p, args.seed)
    if not args.model.is_file():
        p.error(f"--model: no file {args.model}")
    specialists = {s.split(":", 1)[0]: s for s in pretrained_specs("EdgePFMCache-v0")}
    baselines = [b.strip() for b in args.agents.split(",") if b.strip()]
    if "lc" not in baselines:
        baselines.insert(0, "lc")
    check_agents(p, baselines, also=specialists)
    out = out_file(p, args.out) if args.out is not None else None
    import torch

    from agents.generalist import GeneralistAgent

    torch.set_num_threads(1)
    generalist = GeneralistAgent(args.model)

    def make_agent(spec: str) -> Any:
        if spec == "generalist":
            return generalist
        return make(specialists.get(spec, spec))

    seeds = list(range(args.seed, args.seed + args.episodes))
    results: dict[str, Any] = {"model": str(args.model), "seeds": [seeds[0], seeds[-1]], "scenarios": {}}
    print(f"seeds {seeds[0]}..{seeds[-1]}, model {args.model}")
    print(f"{'scenario':<15}{'agent':<14}{'mean cost':>10}{'/ LC':>8}{'/ cb':>8}{'vs LC (paired)':>20}{'s':>7}")
    import gymnasium as gym

    for name in names:
        env_id, kwargs, n_models = SCENARIOS[name]
        if env_id not in gym.registry:
            print(f"{name:<15}skipped: {env_id} is not registered in this version")
            continue
        agent_specs = [b for b in baselines if b not in specialists or n_models == 10] + ["generalist"]
        t0 = time.perf_counter()
        res = run_benchmark(env_id, agent_specs, seeds, env_kwargs_of(kwargs), bound=False,
                            progress=False, make_agent=make_agent)
        lc = np.array([e["cost"] for e in res.episodes["lc"]])
        cb = (np.array([e["cost"] for e in res.episodes["cost_benefit"]])
              if "cost_benefit" in res.episodes else None)
        rows = {}
        for spec, eps in res.episodes.items():
            costs = np.array([e["cost"] for e in eps])
            d = costs - lc
            rows[spec] = {"mean_cost": float(costs.mean()), "ci95": ci95(costs),
                          "ratio_to_lc": float(costs.mean() / lc.mean()),
                          "ratio_to_cost_benefit": float(costs.mean() / cb.mean()) if cb is not None else None,
                          "diff_vs_lc": float(d.mean()), "diff_ci95": ci95(d),
                          "invalid_actions": float(np.mean([e["invalid_actions"] for e in eps])),
                          "episode_costs": [float(c) for c in costs]}
            to_cb = f"{costs.mean() / cb.mean():8.3f}" if cb is not None else f"{'':8}"
            print(f"{name:<15}{spec:<14}{costs.mean():10.1f}{costs.mean() / lc.mean():8.3f}{to_cb}"
                  f"{d.mean():11.1f} ± {ci95(d):6.1f}{time.perf_counter() - t0:7.0f}", flush=True)
        results["scenarios"][name] = {"env_id": env_id, "env_kwargs": kwargs, "agents": rows}
        if args.agreement:
            share = agreement(gym.make(env_id, **env_kwargs_of(kwargs)), generalist, seeds)
            results["scenarios"][name]["agrees_with_cost_benefit"] = share
            print(f"{name:<15}generalist's greedy action = cost_benefit's on {100 * share:.2f}% of its steps")
    if out is not None:
        write_text(out, json.dumps(results, indent=2) + "\n")
    return results


if __name__ == "__main__":
    main()
