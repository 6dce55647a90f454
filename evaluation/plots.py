"""Figures of the benchmark (matplotlib, Agg backend): cost per agent, GPU sweep, timeline."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from edge_cache_env.costs import TERMS
from evaluation.engine import Timeline

TERM_COLORS = {"latency": "#4c72b0", "energy": "#dd8452", "accuracy": "#55a868", "cloud": "#c44e52",
               "switch": "#8172b3", "invalid": "#937860"}


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_costs(summary: dict[str, Any], path: Path) -> Path:
    """Left: mean total cost per agent with its 95% CI (and the lower bound); right: the
    cost terms stacked."""
    plt = _plt()
    agents = summary["agents"]
    names = list(agents)
    x = np.arange(len(names))
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(max(9, 1.6 * len(names)), 4.2))
    means = [agents[n]["mean_cost"] for n in names]
    ax1.bar(x, means, yerr=[agents[n]["ci95"] for n in names], capsize=4, color="#4c72b0")
    if summary.get("lower_bound"):
        ax1.axhline(summary["lower_bound"]["mean_cost"], color="k", ls="--", lw=1, label="lower bound")
        ax1.legend(loc="upper left")
    ax1.set_xticks(x, names, rotation=30, ha="right")
    ax1.set_ylabel("episode cost (mean, 95% CI)")
    ax1.set_title(f"{summary['env']}: total cost ({summary['episodes']} episodes)")
    bottom = np.zeros(len(names))
    for t in TERMS:
        vals = np.array([agents[n]["terms"][t] for n in names])
        if t == "invalid" and not vals.any():
            continue
        ax2.bar(x, vals, bottom=bottom, label=t, color=TERM_COLORS[t])
        bottom += vals
    ax2.set_xticks(x, names, rotation=30, ha="right")
    ax2.set_ylabel("episode cost by term (mean)")
    ax2.set_title("cost terms")
    ax2.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_sweep(sweep: dict[str, Any], path: Path) -> Path:
    """Total cost per agent against the swept parameter (e.g. GPU memory), with 95% CIs."""
    fig = sweep_figure(sweep)
    fig.savefig(path, dpi=120)
    _plt().close(fig)
    return path


def sweep_figure(sweep: dict[str, Any]) -> Any:
    """:func:`plot_sweep`'s figure (open: the caller saves and closes it)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    values = sweep["values"]
    # Numbers go on a numeric axis; anything else (a mapping such as a capacity setting, a
    # name) at evenly spaced positions labelled with its compact JSON.
    numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
    x = values if numeric else list(range(len(values)))
    for name, row in sweep["agents"].items():  # None (n/a or failed at that value) -> a gap
        mean = [np.nan if v is None else v for v in row["mean_cost"]]
        err = [np.nan if v is None else v for v in row["ci95"]]
        ax.errorbar(x, mean, yerr=err, marker="o", capsize=3, label=name)
    if sweep.get("lower_bound") and all(v is not None for v in sweep["lower_bound"]):
        ax.plot(x, sweep["lower_bound"], "k--", marker="x", label="lower bound")
    if not numeric:
        labels = [v if isinstance(v, str) else json.dumps(v, separators=(",", ":")) for v in values]
        ax.set_xticks(x, labels, fontsize=8, rotation=15 if max(map(len, labels)) > 12 else 0)
    ax.set_xlabel(sweep["param"])
    ax.set_ylabel("episode cost (mean, 95% CI)")
    ax.set_title(f"{sweep['env']}: cost vs {sweep['param']}")
    ax.legend(fontsize=8, ncol=2)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_timeline(tl: Timeline, agent: str, path: Path) -> Path:
    """Top: AoC of each cached model per slot (blank when not cached); bottom: GPU memory."""
    plt = _plt()
    cached = np.array(tl.cached, dtype=bool).T  # [N, T]
    aoc = np.where(cached, np.array(tl.aoc).T, np.nan)
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(11, 6), sharex=True, layout="constrained",
                                   gridspec_kw={"height_ratios": [3, 1]})
    im = ax1.imshow(np.ma.masked_invalid(aoc), aspect="auto", interpolation="nearest", cmap="viridis")
    ax1.set_yticks(range(len(tl.model_names)), tl.model_names, fontsize=8)
    ax1.set_title(f"{agent}: cached models and their AoC (blank = not cached)")
    fig.colorbar(im, ax=[ax1, ax2], label="AoC (effective examples)", pad=0.01)
    ax2.plot(tl.memory_gb, color="#4c72b0")
    ax2.axhline(tl.gpu_gb, color="k", ls="--", lw=1)
    ax2.set_ylabel("GPU GB used")
    ax2.set_xlabel("slot")
    ax2.set_ylim(0, tl.gpu_gb * 1.05)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_suite_heatmap(matrix: dict[str, dict[str, dict[str, Any]]], agents: list[str], suite: str,
                       path: Path) -> Path:
    """Scenario x agent heatmap of the cost ratio to LC (log colour scale centred on 1; blue
    cheaper than LC, red dearer); cells annotated with the ratio, ``n/a`` / ``failed`` in grey."""
    plt = _plt()
    scenarios = list(matrix)
    ratio = np.full((len(scenarios), len(agents)), np.nan)
    for i, sc in enumerate(scenarios):
        for j, a in enumerate(agents):
            c = matrix[sc][a]
            if c["status"] == "ok" and c.get("ratio_to_lc") is not None and c["ratio_to_lc"] > 0:
                ratio[i, j] = c["ratio_to_lc"]
    logr = np.log2(ratio)
    span = float(np.nanmax(np.abs(logr))) if np.isfinite(logr).any() else 1.0
    span = max(span, 0.05)
    fig, ax = plt.subplots(figsize=(1.1 * len(agents) + 3, 0.42 * len(scenarios) + 1.8))
    cmap = plt.get_cmap("RdBu_r").with_extremes(bad="#dddddd")
    im = ax.imshow(np.ma.masked_invalid(logr), aspect="auto", cmap=cmap, vmin=-span, vmax=span)
    for i, sc in enumerate(scenarios):
        for j, a in enumerate(agents):
            c = matrix[sc][a]
            if np.isfinite(ratio[i, j]):
                mark = {"win": "*", "loss": "!"}.get(c.get("outcome") or "", "")
                text = f"{ratio[i, j]:.2f}{mark}"
            else:
                text = {"ok": "-", "n/a": "n/a", "failed": "failed", "unavailable": "-"}[c["status"]]
            ax.text(j, i, text, ha="center", va="center", fontsize=7)
    ax.set_xticks(range(len(agents)), agents, rotation=30, ha="right")
    ax.set_yticks(range(len(scenarios)), scenarios, fontsize=8)
    ax.set_title(f"{suite}: cost / LC cost (* significantly cheaper, ! dearer; grey: n/a)")
    cb = fig.colorbar(im, ax=ax, pad=0.01)
    cb.set_label("log2(cost / LC)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
