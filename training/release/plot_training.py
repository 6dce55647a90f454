"""Training curves: evaluation cost vs timesteps per run, from the runs' ``eval_log.csv``.

    python -m training.release.plot_training RUN_DIR [RUN_DIR ...] --out agents/pretrained/training_curves.png

Each curve is the mean cost on the held-out evaluation seeds (left) and its ratio to the
reference heuristic of the runs (LC by default) on the same seeds (right).
"""

from __future__ import annotations

import argparse
import csv
import math
from pathlib import Path

from training.release.run_files import read_config
from training.run_folder import RunFolderError


def read_eval_log(run: Path) -> dict[str, list[float]]:
    path = run / "eval_log.csv"
    if not path.is_file():
        raise RunFolderError(f"{run} has no eval_log.csv (not a train.py run folder?)")
    rows = list(csv.DictReader(path.open()))
    if not rows:
        raise RunFolderError(f"{path} has no evaluations yet")
    cols = ("timesteps", "wall_s", "mean_cost", "ci95", "reference_cost")
    try:
        return {c: [float(r[c]) if r[c] not in ("", "nan") else math.nan for r in rows] for c in cols} | {
            "reference": rows[0]["reference"]}
    except (KeyError, TypeError, ValueError) as e:
        raise RunFolderError(f"{path} is damaged ({type(e).__name__}: {e})") from None


def read_runs(runs: list[Path]) -> tuple[dict[Path, dict], dict[Path, dict[str, list[float]]]]:
    """Each run's config.yml and eval_log.csv, checked (errors name the file)."""
    configs = {run: read_config(run, ("algo", "seeds.eval_seeds")) for run in runs}
    return configs, {run: read_eval_log(run) for run in runs}


def curve_names(algos: dict[Path, str]) -> dict[Path, str]:
    """Each run's legend name: its algorithm, or its folder's name where runs share one."""
    shared = len(set(algos.values())) < len(algos)
    return {run: run.name if shared else algo for run, algo in algos.items()}


def plot(runs: list[Path], out: Path, title: str | None = None) -> Path:
    """Left: mean cost per evaluation; right: the same as a ratio to the reference heuristic.

    Each run's ratio is to the reference on that run's own evaluation seeds (the first n of
    10,000+; runs may use different n), so it is a paired comparison; a CI band of the unpaired
    costs would mostly show how episodes differ, not the agents. The left panel draws one
    reference line per distinct set of evaluation seeds.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, ax_ratio) = plt.subplots(1, 2, figsize=(12, 4.5))
    references: dict[tuple[str, int], float] = {}
    configs, logs = read_runs(runs)
    names = curve_names({run: c["algo"] for run, c in configs.items()})
    for run in runs:
        log = logs[run]
        config = configs[run]
        x = [t / 1e3 for t in log["timesteps"]]
        label = f"{names[run]} ({log['wall_s'][-1] / 60:.0f} min)"
        ax.plot(x, log["mean_cost"], marker="o", ms=3, label=label)
        ref = log["reference_cost"][0]
        if log["reference"] and ref == ref:
            references[(log["reference"], len(config["seeds"]["eval_seeds"]))] = ref
            ax_ratio.plot(x, [c / ref for c in log["mean_cost"]], marker="o", ms=3, label=label)
    styles = ["--", "-.", ":"]
    for i, ((name, n_seeds), cost) in enumerate(sorted(references.items())):
        ax.axhline(cost, color="black", ls=styles[i % len(styles)], lw=1,
                   label=f"{name.upper()} ({n_seeds} eval seeds)")
    names = sorted({name for name, _ in references})
    for name in names:
        ax_ratio.axhline(1.0, color="black", ls="--", lw=1, label=name.upper())
    if names:
        ax_ratio.axhline(0.9, color="gray", ls=":", lw=1, label=f"0.9 x {names[0].upper()}")
    ax.set_ylabel("mean episode cost (held-out eval seeds)")
    ax_ratio.set_ylabel(f"cost / {names[0].upper() if names else 'reference'} cost (each run's seeds)")
    for a in (ax, ax_ratio):
        a.set_xlabel("training timesteps (thousands of env steps)")
        a.grid(alpha=0.3)
        a.legend(fontsize=8)
    fig.suptitle(title or "Training curves")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("runs", nargs="+", type=Path, help="train.py run folders")
    p.add_argument("--out", type=Path, default=Path("agents/pretrained/training_curves.png"))
    p.add_argument("--title", default=None)
    args = p.parse_args(argv)
    from evaluation.validate import check_out_file

    try:
        check_out_file(args.out)
        read_runs(args.runs)  # before matplotlib: a bad folder is named at once
    except (SystemExit, RunFolderError) as e:
        p.error(str(e))
    print(plot(args.runs, args.out, args.title))


if __name__ == "__main__":
    main()
