"""Every agent on every scenario of a suite (``evaluate.py --suite NAME``): matrix and aggregates.

Each scenario is one :func:`evaluation.engine.run_benchmark` on the same paired seeds, so each
cell of the matrix is a paired comparison with LC on that scenario: the ratio of mean costs
with the 95% CI of the paired difference over LC's mean, and an outcome (``win`` when the CI
lies below zero, ``loss`` above, else ``tie``). Per agent, over the scenarios it was scored on:
the geometric mean of its ratios to LC, its worst ratio, and its wins/ties/losses.

An agent that cannot act on a scenario (``engine.not_applicable``), one that failed there, and
a scenario whose env is not registered are reported with their reason; the run goes on.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym

from edge_cache_env.scenarios import Scenario
from evaluation.engine import EPISODE_FIELDS, BenchmarkResult, progress_bar, run_benchmark
from evaluation.output import atomic_open

LB = "lower bound"  # the matrix's pseudo-agent for the DP bound


@dataclass
class ScenarioRun:
    """One scenario's outcome: the engine's result (``None`` if the scenario could not run)
    and the summary that goes into ``results.json``."""

    scenario: Scenario
    result: BenchmarkResult | None
    summary: dict[str, Any]


def unavailable_reason(scenario: Scenario) -> str | None:
    """Why a scenario cannot run here at all (its env id is not registered), else ``None``."""
    if scenario.env_id not in gym.registry:
        return f"env id {scenario.env_id!r} is not registered in this version"
    return None


def _empty_summary(scenario: Scenario, seeds: Sequence[int], reason: str) -> dict[str, Any]:
    return {"env": scenario.env_id, "env_kwargs": scenario.kwargs(), "episodes": len(seeds),
            "seeds": list(seeds), "lower_bound": None, "agents": {}, "not_applicable": {},
            "failed": {}, "lower_bound_na": None, "unavailable": reason}


def run_suite(scenarios: Sequence[Scenario], agent_specs: Sequence[str], seeds: Sequence[int],
              bound: bool = True, progress: bool = True,
              make_agent: Callable[[str], Any] | None = None, vectorize: bool = True
              ) -> dict[str, ScenarioRun]:
    """Run every scenario; one progress bar over all episodes of all scenarios. ``vectorize``:
    as in :func:`~evaluation.engine.run_benchmark` (the same results either way)."""
    from agents import make

    make_agent = make_agent or make
    loaded: dict[str, Any] = {}

    def agent_for(spec: str) -> Any:
        # Trained policies are stateless between episodes and slow to load: load once. The
        # heuristics keep per-episode state sized by the catalog: a fresh one per scenario.
        if ":" in spec:
            if spec not in loaded:
                loaded[spec] = make_agent(spec)
            return loaded[spec]
        return make_agent(spec)

    per_scenario = len(agent_specs) * len(seeds) + (len(seeds) if bound else 0)
    bar = progress_bar(per_scenario * len(scenarios), progress, "suite")
    runs: dict[str, ScenarioRun] = {}
    for sc in scenarios:
        bar.set_description_str(sc.name)
        reason = unavailable_reason(sc)
        if reason is None:
            try:
                result = run_benchmark(sc.env_id, agent_specs, seeds, sc.kwargs(), bound=bound,
                                       make_agent=agent_for, bar=bar, vectorize=vectorize)
            except Exception as e:  # a scenario that breaks must not lose the others
                reason = f"{type(e).__name__}: {e}"
        if reason is not None:
            runs[sc.name] = ScenarioRun(sc, None, _empty_summary(sc, seeds, reason))
            bar.update(per_scenario)
            continue
        summary = result.summary()
        summary["purpose"] = sc.purpose
        runs[sc.name] = ScenarioRun(sc, result, summary)
    bar.close()
    return runs


def outcome(row: dict[str, Any]) -> str | None:
    """``win`` / ``tie`` / ``loss`` against LC by the paired 95% CI (``None`` without LC, or
    with one episode: no interval)."""
    d = row.get("diff_vs_lc")
    if not d or d["mean"] is None or d["ci95"] is None or len(row.get("episode_costs", ())) < 2:
        return None
    if d["mean"] + d["ci95"] < 0:
        return "win"
    if d["mean"] - d["ci95"] > 0:
        return "loss"
    return "tie"


def cell(summary: dict[str, Any], agent: str) -> dict[str, Any]:
    """One matrix cell: status ``ok`` / ``n/a`` / ``failed`` / ``unavailable`` and the numbers."""
    if summary.get("unavailable"):
        return {"status": "unavailable", "reason": summary["unavailable"]}
    if agent == LB:
        lb = summary.get("lower_bound")
        if lb is None:
            return {"status": "n/a", "reason": summary.get("lower_bound_na") or "not computed (--no-bound)"}
        lc = summary["agents"].get("lc")
        ratio = lb["mean_cost"] / lc["mean_cost"] if lc and lc["mean_cost"] else None
        return {"status": "ok", "mean_cost": lb["mean_cost"], "ci95": lb["ci95"],
                "ratio_to_lc": ratio, "ratio_ci95": None, "outcome": None}
    if agent in summary.get("not_applicable", {}):
        return {"status": "n/a", "reason": summary["not_applicable"][agent]}
    if agent in summary.get("failed", {}):
        return {"status": "failed", "reason": summary["failed"][agent]}
    r = summary["agents"][agent]
    return {"status": "ok", "mean_cost": r["mean_cost"], "ci95": r["ci95"],
            "ratio_to_lc": r.get("ratio_to_lc"), "ratio_ci95": r.get("ratio_ci95"),
            "outcome": outcome(r) if agent != "lc" else None}


def build_matrix(summaries: dict[str, dict[str, Any]], agents: Sequence[str]
                 ) -> dict[str, dict[str, dict[str, Any]]]:
    """scenario -> agent (and ``"lower bound"``) -> cell."""
    return {name: {a: cell(s, a) for a in [*agents, LB]} for name, s in summaries.items()}


def aggregates(matrix: dict[str, dict[str, dict[str, Any]]], agents: Sequence[str]
               ) -> dict[str, dict[str, Any]]:
    """Per agent over the scenarios where it has a ratio to LC: geometric-mean and worst
    ratio, wins/ties/losses against LC, and how many scenarios were n/a or failed."""
    out: dict[str, dict[str, Any]] = {}
    for a in agents:
        cells = {name: row[a] for name, row in matrix.items()}
        ratios = {n: c["ratio_to_lc"] for n, c in cells.items()
                  if c["status"] == "ok" and c.get("ratio_to_lc") is not None and c["ratio_to_lc"] > 0}
        worst = max(ratios, key=ratios.__getitem__) if ratios else None
        outcomes = [c.get("outcome") for c in cells.values() if c["status"] == "ok"]
        out[a] = {
            "geomean_ratio_to_lc": (math.exp(sum(math.log(r) for r in ratios.values()) / len(ratios))
                                    if ratios else None),
            "worst_ratio_to_lc": ratios[worst] if worst else None,
            "worst_scenario": worst,
            "wins": outcomes.count("win"), "ties": outcomes.count("tie"),
            "losses": outcomes.count("loss"),
            "scored": len(ratios),
            "not_applicable": sum(c["status"] in ("n/a", "unavailable") for c in cells.values()),
            "failed": sum(c["status"] == "failed" for c in cells.values()),
        }
    return out


def _fmt_cell(c: dict[str, Any]) -> str:
    if c["status"] != "ok":
        return {"n/a": "n/a", "failed": "FAILED", "unavailable": "-"}[c["status"]]
    if c.get("ratio_to_lc") is None:
        return f"{c['mean_cost']:.0f}"
    ci = f"±{c['ratio_ci95']:.3f}" if c.get("ratio_ci95") is not None else ""
    mark = {"win": " W", "loss": " L", "tie": "  "}.get(c.get("outcome") or "", "  ")
    return f"{c['ratio_to_lc']:.3f}{ci}{mark}"


def format_matrix(suite: str, matrix: dict[str, dict[str, dict[str, Any]]],
                  aggs: dict[str, dict[str, Any]], agents: Sequence[str],
                  summaries: dict[str, dict[str, Any]]) -> str:
    """The text report: the matrix (ratio to LC ± paired 95% CI, W/L = significant win/loss
    against LC), LC's mean cost per scenario, the reasons of every n/a, and the aggregates."""
    cols = [*agents, LB]
    sw = max(10, *(len(n) + 1 for n in matrix))
    cw = max(15, *(len(a) + 2 for a in cols))
    has_lc = "lc" in agents
    head = f"{'scenario':<{sw}}{'LC cost':>9}  " + "".join(f"{a:>{cw}}" for a in cols)
    lines = [f"suite {suite}: cost ratio to LC ± paired 95% CI (W/L: significant win/loss vs LC)",
             head, "-" * len(head)]
    for name, row in matrix.items():
        lc = row["lc"] if has_lc else None
        lc_cost = f"{lc['mean_cost']:.0f}" if lc and lc["status"] == "ok" else "-"
        lines.append(f"{name:<{sw}}{lc_cost:>9}  " + "".join(f"{_fmt_cell(row[a]):>{cw}}" for a in cols))
    notes = [f"  {a} on {name}: {row[a]['status']}: {row[a]['reason']}"
             for name, row in matrix.items() for a in cols
             if row[a]["status"] in ("n/a", "failed") and not (a == LB and "--no-bound" in row[a]["reason"])]
    unavailable = [f"  {name}: {s['unavailable']}" for name, s in summaries.items() if s.get("unavailable")]
    if unavailable:
        lines += ["", "scenarios not run:", *unavailable]
    if notes:
        lines += ["", "n/a and failures:", *notes]
    lines += ["", f"{'agent':<16}{'geomean/LC':>11}{'worst/LC':>10}  {'worst scenario':<20}"
                  f"{'W/T/L vs LC':>12}{'scored':>8}{'n/a':>5}{'failed':>7}"]
    for a, g in aggs.items():
        gm = f"{g['geomean_ratio_to_lc']:.3f}" if g["geomean_ratio_to_lc"] is not None else "-"
        wr = f"{g['worst_ratio_to_lc']:.3f}" if g["worst_ratio_to_lc"] is not None else "-"
        wtl = f"{g['wins']}/{g['ties']}/{g['losses']}" if has_lc and a != "lc" else "-"
        lines.append(f"{a:<16}{gm:>11}{wr:>10}  {g['worst_scenario'] or '-':<20}{wtl:>12}"
                     f"{g['scored']:>8}{g['not_applicable']:>5}{g['failed']:>7}")
    if not has_lc:
        lines.append("(no 'lc' among the agents: ratios to LC are null)")
    return "\n".join(lines)


def write_suite_csv(runs: dict[str, ScenarioRun], path: Path) -> Path:
    """One row per scenario, agent and episode (as evaluate.py's results.csv, plus the scenario)."""
    with atomic_open(path, newline="") as f:
        w = csv.writer(f)
        w.writerow(["scenario", "env", "agent", "seed", *EPISODE_FIELDS, "lower_bound"])
        for name, run in runs.items():
            res = run.result
            if res is None:
                continue
            for agent, eps in res.episodes.items():
                for i, (seed, e) in enumerate(zip(res.seeds, eps)):
                    lb = res.bound_costs[i] if res.bound_costs is not None else ""
                    w.writerow([name, res.env_id, agent, seed, *(e[k] for k in EPISODE_FIELDS), lb])
    return path


def write_matrix_csv(matrix: dict[str, dict[str, dict[str, Any]]], path: Path) -> Path:
    """The matrix in long form: scenario, agent, status, mean cost, ratio, CI, outcome, reason."""
    keys = ("status", "mean_cost", "ci95", "ratio_to_lc", "ratio_ci95", "outcome", "reason")
    with atomic_open(path, newline="") as f:
        w = csv.writer(f)
        w.writerow(["scenario", "agent", *keys])
        for name, row in matrix.items():
            for agent, c in row.items():
                w.writerow([name, agent, *("" if c.get(k) is None else c.get(k) for k in keys)])
    return path
