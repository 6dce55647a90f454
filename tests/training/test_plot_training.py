"""Training curves from run folders (python -m training.release.plot_training)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from training.release import plot_training

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_train import run_train  # noqa: E402


@pytest.mark.slow
def test_plot_reads_eval_logs_and_writes_a_png(tmp_path):
    a = run_train(tmp_path / "a", "maskable_ppo", steps=256)
    log = plot_training.read_eval_log(a)
    assert log["timesteps"] == [0, 128, 256] and len(log["mean_cost"]) == 3
    out = plot_training.plot([a, a], tmp_path / "curves.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 10_000


def test_curves_are_named_by_algorithm_or_by_run_folder():
    algos = {Path("runs/a-seed1"): "ppo", Path("runs/b"): "dqn"}
    assert plot_training.curve_names(algos) == {Path("runs/a-seed1"): "ppo", Path("runs/b"): "dqn"}
    algos[Path("runs/c-seed2")] = "ppo"  # two PPO runs: told apart by their folders
    assert plot_training.curve_names(algos) == {p: p.name for p in algos}
