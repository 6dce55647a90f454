"""Training curves: evaluation cost vs timesteps per run, from the runs' ``eval_log.csv``.

    python benchmarks/plot_training.py RUN_DIR [RUN_DIR ...] --out agents/pretrained/training_curves.png

Each curve is the mean cost (95% CI band) on the held-out evaluation seeds; the reference
heuristic of the runs (LC by default) is drawn as a dashed line at its cost on the same seeds.
"""

from __future__ import annotations

import argparse
import csv
import math
from pathlib import Path

import yaml


def read_eval_log(run: Path) -> dict[str, list[float]]:
    path = run / "eval_log.csv"
    if not path.is_file():
        raise FileNotFoundError(f"{run} has no eval_log.csv (not a train.py run folder?)")
    rows = list(csv.DictReader(path.open()))
    if not rows:
        raise ValueError(f"{path} has no evaluations yet")
    cols = ("timesteps", "wall_s", "mean_cost", "ci95", "reference_cost")
    return {c: [float(r[c]) if r[c] not in ("", "nan") else math.nan for r in rows] for c in cols} | {
        "reference": rows[0]["reference"]}


def run_label(run: Path) -> str:
    config = yaml.safe_load((run / "config.yml").read_text())
    return config["algo"]


def plot(runs: list[Path], out: Path, title: str | None = None) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    references: dict[str, float] = {}
    for run in runs:
        log = read_eval_log(run)
        label = run_label(run)
        x, y, ci = log["timesteps"], log["mean_cost"], log["ci95"]
        line, = ax.plot(x, y, marker="o", ms=3, label=f"{label} ({log['wall_s'][-1] / 60:.0f} min)")
        lo = [a - (c if c == c else 0) for a, c in zip(y, ci)]
        hi = [a + (c if c == c else 0) for a, c in zip(y, ci)]
        ax.fill_between(x, lo, hi, color=line.get_color(), alpha=0.15)
        if log["reference"] and log["reference_cost"][0] == log["reference_cost"][0]:
            references[log["reference"]] = log["reference_cost"][0]
    for name, cost in references.items():
        ax.axhline(cost, color="black", ls="--", lw=1, label=f"{name.upper()} (same seeds)")
    ax.set_xlabel("training timesteps (env steps)")
    ax.set_ylabel("mean episode cost on held-out eval seeds")
    ax.set_title(title or "Training curves")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("runs", nargs="+", type=Path, help="train.py run folders")
    p.add_argument("--out", type=Path, default=Path("agents/pretrained/training_curves.png"))
    p.add_argument("--title", default=None)
    args = p.parse_args(argv)
    print(plot(args.runs, args.out, args.title))


if __name__ == "__main__":
    main()
