"""Benchmark agents on paired seeds: table, results.json / results.csv, and plots.

    python evaluate.py --env EdgePFMCache-v0 --agents all --episodes 20 --seed 0 --out results/
    python evaluate.py --agents lc,lru,maskable_ppo:runs/x/best_model.zip --episodes 20
    python evaluate.py --agents lc,lru,cloud --sweep gpu_gb=40,60,80,120 --episodes 10
    python evaluate.py --env-kwargs '{"gpu_gb": 48, "aoc": {"nu": 0.9}}' --agents lc,lru
    python evaluate.py --suite default --agents lc,lru,lfu,oracle --episodes 20 --out results/suite

Every agent plays the same episodes (``gym.make(env, **env_kwargs)``, ``reset(seed=s)`` for
s = seed .. seed + episodes - 1; benchmark seeds are 0..9999, never used in training, see
``evaluation/seeds.py``). The lower bound (``agents/bounds.py``) is computed on the same episodes
when the catalog is small enough.

Writes to ``--out``: ``results.json`` (``{"env", "episodes", "seeds", "lower_bound":
{"mean_cost", ...} | null, "agents": {NAME: {"mean_cost", "ci95", "episode_costs", "terms",
"hit_ratio", "mean_accuracy", "mean_aoc", ...}}}``), ``results.csv`` (one row per agent and
episode), ``costs.png``, ``timeline_<agent>.png`` and, with ``--sweep``, ``sweep_<param>.png``.
Agents that cannot act on the env are listed under ``not_applicable`` with the reason, agents
that raised under ``failed``; ratios are null without ``lc`` or when a denominator is zero. An
agent that chooses per scenario says what it chose under ``report``: ``cost_benefit_tuned`` its
setting, the generalist whether its learned policy played and the check that decided.

With ``--suite NAME`` (``edge_cache_env/scenarios.py``, docs/scenarios.md; ``--scenarios a,b``
for a subset) every agent plays every scenario on the same seeds. Writes ``results.json``
(``{"suite": "default-v2", "scenarios": {NAME: <the single-env object above>}, "matrix":
{NAME: {AGENT: {"status", "ratio_to_lc", "ratio_ci95", "outcome", "reason", ...}}},
"aggregates": {AGENT: {"geomean_ratio_to_lc", "worst_ratio_to_lc", "wins", "ties",
"losses", ...}}, ...}``), ``results.csv`` (scenario, agent, episode), ``matrix.csv`` and
``heatmap.png``.

Every argument is checked before any episode runs; ``results.json`` is strict JSON (no NaN)
written atomically, also when some agent fails.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import edge_cache_env  # noqa: F401  (registers the env ids)
from edge_cache_env.costs import TERMS
from edge_cache_env.scenarios import suite_names
from evaluation.engine import EPISODE_FIELDS, BenchmarkResult, record_timeline, run_benchmark
from evaluation.output import atomic_open, write_json
from evaluation.suite import (
    aggregates,
    build_matrix,
    format_matrix,
    run_suite,
    unavailable_reason,
    write_matrix_csv,
    write_suite_csv,
)
from evaluation.validate import (
    check_env,
    check_env_id,
    check_out,
    check_seeds,
    check_suite,
    check_timeline_agent,
    first_acting_agent,
    load_agents,
    parse_agents,
    parse_env_kwargs,
    parse_sweep,
)


def format_table(summary: dict[str, Any]) -> str:
    """The comparison table: one row per agent (and the lower bound)."""
    lb = summary.get("lower_bound")
    has_lc = "lc" in summary["agents"]
    w = max([16, *(len(name) + 1 for name in summary["agents"])])  # trained specs carry a path
    head = (f"{'agent':<{w}}{'cost':>9} {'±95%':>7}{'/LC':>7}{'/LB':>7} "
            + "".join(f"{t[:7]:>9}" for t in TERMS)
            + f"{'hit':>7}{'cloud%':>8}{'loads/h':>9}{'acc':>7}{'AoC':>7}{'inval':>7}")
    lines = [head, "-" * len(head)]
    for name, r in summary["agents"].items():
        ratio_lc = f"{r['ratio_to_lc']:.3f}" if r.get("ratio_to_lc") is not None else "-"
        ratio_lb = f"{r['ratio_to_bound']:.3f}" if r.get("ratio_to_bound") is not None else "-"
        lines.append(f"{name:<{w}}{r['mean_cost']:>9.1f} {r['ci95']:>7.1f}{ratio_lc:>7}{ratio_lb:>7} "
                     + "".join(f"{r['terms'][t]:>9.1f}" for t in TERMS)
                     + f"{r['hit_ratio']:>7.3f}{100 * r['cloud_share']:>7.1f}%{r['loads_per_hour']:>9.1f}"
                       f"{r['mean_accuracy']:>7.3f}{r['mean_aoc']:>7.2f}{r['invalid_actions']:>7.1f}")
    if lb:
        lc_cost = summary["agents"]["lc"]["mean_cost"] if has_lc else 0.0
        ratio = f"{lb['mean_cost'] / lc_cost:.3f}" if lc_cost else "-"
        lines.append(f"{'lower bound':<{w}}{lb['mean_cost']:>9.1f} {lb['ci95']:>7.1f}{ratio:>7}{'1.000':>7}"
                     f"   (DP over cache sets, {lb['seconds_mean']:.2f} s per episode)")
    elif summary.get("lower_bound_na"):
        lines.append(f"lower bound: n/a ({summary['lower_bound_na']})")
    else:
        lines.append("lower bound: not computed (catalog too large for the DP, or --no-bound)")
    for name, reason in summary.get("not_applicable", {}).items():
        lines.append(f"{name}: n/a ({reason})")
    for name, reason in summary.get("failed", {}).items():
        lines.append(f"{name}: FAILED, not scored ({reason})")
    if has_lc and len(summary["agents"]) > 1:
        lines.append("")
        lines.append("paired difference vs LC (mean ± 95% CI):  " + ",  ".join(
            f"{n} {r['diff_vs_lc']['mean']:+.1f} ± {r['diff_vs_lc']['ci95']:.1f}"
            for n, r in summary["agents"].items() if n != "lc"))
    return "\n".join(lines)


def write_csv(result: BenchmarkResult, path: Path) -> None:
    with atomic_open(path, newline="") as f:
        w = csv.writer(f)
        w.writerow(["agent", "seed", *EPISODE_FIELDS, "lower_bound"])
        for name, eps in result.episodes.items():
            for i, (seed, e) in enumerate(zip(result.seeds, eps)):
                lb = result.bound_costs[i] if result.bound_costs is not None else ""
                w.writerow([name, seed, *(e[k] for k in EPISODE_FIELDS), lb])


def run_sweep(env_id: str, agents: list[str], seeds: list[int], env_kwargs: dict[str, Any],
              param: str, values: list[Any], bound: bool, progress: bool,
              make_agent: Callable[[str], Any] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"env": env_id, "param": param, "values": values, "agents": {},
                           "lower_bound": [], "not_applicable": {}, "failed": {}}
    for v in values:
        summary = run_benchmark(env_id, agents, seeds, {**env_kwargs, param: v}, bound=bound,
                                progress=progress, make_agent=make_agent).summary()
        for name in agents:  # one entry per value: None where the agent was n/a or failed
            r = summary["agents"].get(name)
            row = out["agents"].setdefault(name, {"mean_cost": [], "ci95": []})
            row["mean_cost"].append(r["mean_cost"] if r else None)
            row["ci95"].append(r["ci95"] if r else None)
        for key in ("not_applicable", "failed"):
            for name, reason in summary[key].items():
                out[key].setdefault(name, {})[json.dumps(v)] = reason
        out["lower_bound"].append(summary["lower_bound"]["mean_cost"] if summary["lower_bound"] else None)
        print(f"  {param}={v}: " + ", ".join(f"{n} {r['mean_cost']:.0f}" for n, r in summary["agents"].items()),
              flush=True)
    return out


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--env", default=None, help="registered env id (default EdgePFMCache-v0)")
    p.add_argument("--agents", default="all", help="comma-separated names, 'all', or ALGO:PATH")
    p.add_argument("--episodes", type=int, default=20)
    p.add_argument("--seed", type=int, default=0, help="first seed (benchmark seeds: 0..9999)")
    p.add_argument("--out", default="results", help="output folder")
    p.add_argument("--env-kwargs", default=None, help='JSON overrides, e.g. \'{"gpu_gb": 48}\'')
    p.add_argument("--sweep", default=None,
                   help="PARAM=V1,V2,... e.g. gpu_gb=40,60,80,120, or PARAM=[JSON list] for values with commas")
    p.add_argument("--sweep-episodes", type=int, default=None, help="episodes per sweep point (default: --episodes)")
    p.add_argument("--timeline-agent", default=None, help="agent whose first episode is plotted (default: lc)")
    p.add_argument("--suite", default=None,
                   help=f"run every agent on every scenario of a suite ({', '.join(suite_names())})")
    p.add_argument("--scenarios", default=None, help="with --suite: comma-separated subset of its scenarios")
    p.add_argument("--no-bound", action="store_true", help="skip the lower bound")
    p.add_argument("--no-plots", action="store_true")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--ray", nargs="?", const="local", default=None, metavar="ADDRESS",
                   help="run the episodes as Ray tasks: a local Ray, or the cluster at ADDRESS "
                        "(pip install '.[ray]')")
    return p


def _command(argv: list[str] | None) -> str:
    return " ".join(["python", "evaluate.py", *(argv if argv is not None else sys.argv[1:])])


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = build_parser().parse_args(argv)
    # Every argument is checked here, before any episode runs.
    seeds = check_seeds(args.seed, args.episodes)
    out = check_out(args.out)
    agents = parse_agents(args.agents)
    if args.suite is not None:
        return _main_suite(args, agents, seeds, out, argv)
    if args.scenarios is not None:
        raise SystemExit("--scenarios: only with --suite NAME")
    env_id = args.env or "EdgePFMCache-v0"
    check_env_id(env_id)
    env_kwargs = parse_env_kwargs(args.env_kwargs)
    sweep = parse_sweep(args.sweep)
    if args.sweep_episodes is not None and not 1 <= args.sweep_episodes <= args.episodes:
        raise SystemExit(f"--sweep-episodes must be in 1..--episodes ({args.episodes}), got {args.sweep_episodes}")
    if args.ray not in (None, "local"):  # a cluster that does not answer: said now, not hung on
        from evaluation.ray_cluster import check_reachable

        try:
            check_reachable(args.ray)
        except ConnectionError as e:
            raise SystemExit(str(e)) from e
    # Without --env-kwargs a failure is the env's own (its shipped trace files, say): name --env.
    env = check_env(env_id, env_kwargs, "--env-kwargs" if env_kwargs else "--env")
    if sweep:
        param, values = sweep
        for v in values:
            check_env(env_id, {**env_kwargs, param: v}, f"--sweep {param}={json.dumps(v)}").close()
    make_agent = load_agents(agents)
    tl_agent = args.timeline_agent
    if not args.no_plots:
        if tl_agent is not None:  # asked for: it must be able to act
            check_timeline_agent(tl_agent, env, make_agent)
        else:  # the default: LC, else the first agent that can act on this env (none: no timeline)
            tl_agent = first_acting_agent(["lc", *agents] if "lc" in agents else agents, env,
                                          make_agent)
    env.close()
    out.mkdir(parents=True, exist_ok=True)

    start = time.perf_counter()
    if args.ray:  # evaluation.ray_runner: same inputs, same BenchmarkResult
        from evaluation.ray_runner import run_benchmark_ray

        result = run_benchmark_ray(env_id, agents, seeds, env_kwargs, bound=not args.no_bound, make_agent=make_agent,
                                   progress=not args.quiet,
                                   address=None if args.ray == "local" else args.ray)
    else:
        result = run_benchmark(env_id, agents, seeds, env_kwargs, bound=not args.no_bound,
                               progress=not args.quiet, make_agent=make_agent)
    summary = result.summary()
    summary["command"] = _command(argv)
    print(f"\n{env_id}  {len(seeds)} episodes, seeds {seeds[0]}..{seeds[-1]}"
          + (f", env kwargs {json.dumps(env_kwargs)}" if env_kwargs else ""))
    print(format_table(summary))
    write_csv(result, out / "results.csv")
    write_json(out / "results.json", summary)  # the results are safe before any extra work
    written = [out / "results.json", out / "results.csv"]
    if sweep:
        param, values = sweep
        print(f"\nsweep {param} = {values}")
        sweep_seeds = seeds[:args.sweep_episodes] if args.sweep_episodes else seeds
        summary["sweep"] = run_sweep(env_id, agents, sweep_seeds, env_kwargs, param, values,
                                     not args.no_bound, not args.quiet, make_agent)
        write_json(out / "results.json", summary)
    if not args.no_plots:
        from evaluation.plots import plot_costs, plot_sweep, plot_timeline

        plots: list[tuple[str, Callable[[], Path]]] = [("costs", lambda: plot_costs(summary, out / "costs.png"))]
        if tl_agent is not None:
            plots.append(("timeline", lambda: plot_timeline(
                record_timeline(env_id, tl_agent, seeds[0], env_kwargs), tl_agent,
                out / f"timeline_{_safe(tl_agent)}.png")))
        if sweep:
            plots.append(("sweep", lambda: plot_sweep(summary["sweep"], out / f"sweep_{_safe(sweep[0])}.png")))
        written += _draw(plots, summary)
    summary["seconds"] = time.perf_counter() - start
    write_json(out / "results.json", summary)
    print(f"\nwrote {', '.join(str(w) for w in written)}  ({summary['seconds']:.0f} s)")
    _warn_stale(out, written)
    return summary


def _warn_stale(out: Path, written: list[Path]) -> None:
    """Say which files of an earlier run into the same folder this run left beside its own
    (a suite's matrix, another agent's timeline, ...): they are not deleted (nothing of the
    user's is), but must not be read as this run's."""
    ours = {Path(w).name for w in written}
    stale = sorted(f.name for f in out.iterdir() if f.is_file() and f.name not in ours
                   and (f.suffix == ".png" or f.name in ("results.csv", "results.json", "matrix.csv")))
    if stale:
        print(f"note: {out} also holds {', '.join(stale)} from an earlier run (not this run's)",
              file=sys.stderr)


def _draw(plots: list[tuple[str, Callable[[], Path]]], summary: dict[str, Any]) -> list[Path]:
    """Draw each figure; a figure that fails is recorded (``plot_errors``), never loses results."""
    written = []
    for name, draw in plots:
        try:
            written.append(draw())
        except Exception as e:
            summary.setdefault("plot_errors", {})[name] = f"{type(e).__name__}: {e}"
            print(f"warning: plot {name} failed: {type(e).__name__}: {e}", file=sys.stderr)
    return written


def _main_suite(args: argparse.Namespace, agents: list[str], seeds: list[int], out: Path,
                argv: list[str] | None) -> dict[str, Any]:
    for flag, value in (("--env", args.env), ("--env-kwargs", args.env_kwargs), ("--sweep", args.sweep),
                        ("--sweep-episodes", args.sweep_episodes), ("--timeline-agent", args.timeline_agent)):
        if value is not None:
            raise SystemExit(f"{flag}: not with --suite (each scenario sets its own env and kwargs)")
    if args.ray is not None:
        raise SystemExit("--ray: not with --suite (a suite runs in this process; run one scenario "
                         "on Ray with --env and --env-kwargs)")
    version, scenarios = check_suite(args.suite, args.scenarios)
    for sc in scenarios:  # a scenario's env kwargs are checked like --env-kwargs
        if unavailable_reason(sc) is None:
            check_env(sc.env_id, sc.kwargs(), f"--suite {version}, scenario {sc.name}").close()
    make_agent = load_agents(agents)
    out.mkdir(parents=True, exist_ok=True)

    start = time.perf_counter()
    runs = run_suite(scenarios, agents, seeds, bound=not args.no_bound, progress=not args.quiet,
                     make_agent=make_agent)
    summaries = {name: r.summary for name, r in runs.items()}
    matrix = build_matrix(summaries, agents)
    aggs = aggregates(matrix, agents)
    data: dict[str, Any] = {
        "suite": version, "suite_requested": args.suite, "agents": agents, "episodes": len(seeds),
        "seeds": seeds, "scenario_list": [sc.to_dict() for sc in scenarios],
        "scenarios": summaries, "matrix": matrix, "aggregates": aggs, "command": _command(argv)}
    print(f"\n{len(scenarios)} scenarios x {len(agents)} agents, {len(seeds)} episodes each, "
          f"seeds {seeds[0]}..{seeds[-1]}")
    print(format_matrix(version, matrix, aggs, agents, summaries))
    write_json(out / "results.json", data)
    written = [out / "results.json", write_suite_csv(runs, out / "results.csv"),
               write_matrix_csv(matrix, out / "matrix.csv")]
    if not args.no_plots:
        from evaluation.plots import plot_suite_heatmap

        written += _draw([("heatmap", lambda: plot_suite_heatmap(matrix, agents, version,
                                                                 out / "heatmap.png"))], data)
    data["seconds"] = time.perf_counter() - start
    write_json(out / "results.json", data)
    print(f"\nwrote {', '.join(str(w) for w in written)}  ({data['seconds']:.0f} s)")
    _warn_stale(out, written)
    return data


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


if __name__ == "__main__":
    main()
