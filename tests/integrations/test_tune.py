"""Ray Tune sweep: two tiny train.py trials on the shared local Ray."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

pytest.importorskip("ray.tune")  # the [ray] extra, installed by `make test`

from integrations.tune import parse_grid, sweep_flag  # noqa: E402


def test_parse_grid():
    assert parse_grid(["learning_rate=1e-4,3e-4", "n_steps=64"]) == {"learning_rate": [1e-4, 3e-4], "n_steps": [64]}
    assert parse_grid(["policy_kwargs={net_arch: [8, 8]};{net_arch: [16]}"]) == {
        "policy_kwargs": [{"net_arch": [8, 8]}, {"net_arch": [16]}]}
    with pytest.raises(ValueError, match="KEY=V1"):
        parse_grid(["learning_rate"])
    with pytest.raises(ValueError, match="--seeds"):
        parse_grid(["seed=1,2"])


def test_train_args_may_not_set_what_the_sweep_sets(capsys):
    """Exact, '=' and abbreviated forms (train.py's argparse expands '--see' to '--seed')."""
    from integrations.tune import main

    assert [sweep_flag(t) for t in ("--seed", "--seed=3", "--see", "--eval-freq=9", "--ref")] == \
        ["--seed", "--seed", "--seed", "--eval-freq", "--reference"]
    assert [sweep_flag(t) for t in ("--n-envs", "--threads", "2", "--ev")] == [None] * 4
    for bad in ("--seed=3", "--eval-freq 100", "--see 3"):
        with pytest.raises(SystemExit):
            main(["--algo", "ppo", "--timesteps", "64", "--eval-freq", "64", f"--train-args={bad}"])
        assert "--train-args must not set" in capsys.readouterr().err


def test_asha_never_cuts_a_trial_short_of_its_train_py(monkeypatch, tmp_path):
    """max_t is out of reach: a trial ends when train.py does (a count of evaluations made here
    missed SB3's rounding up to whole rollouts, and ASHA killed train.py before its end)."""
    import ray.tune.schedulers

    from integrations import tune as integration

    seen = {}

    class Stop(Exception):
        pass

    def capture(**kwargs):
        seen.update(kwargs)
        raise Stop

    monkeypatch.setattr(ray.tune.schedulers, "ASHAScheduler", capture)
    monkeypatch.setattr("evaluation.ray_cluster.connect", lambda address: False)
    with pytest.raises(Stop):
        integration.sweep("ppo", "EdgePFMCache-Small-v0", [0], {}, timesteps=1500, eval_freq=512,
                          out=tmp_path)
    assert seen["max_t"] >= 1000 * (1500 // 512 + 1)


class _Running:
    """A train.py process that runs for ``polls`` polls, its evaluations already written."""

    def __init__(self, polls: int) -> None:
        self.left, self.returncode = polls, None

    def poll(self):
        self.left -= 1
        if self.left < 0:
            self.returncode = 0
        return self.returncode


def test_the_last_evaluation_is_reported_once_train_py_has_exited(tmp_path, monkeypatch):
    """ASHA stops a trial at its last report: train.py must have finished its run folder by then."""
    import ray.tune

    from integrations import tune as integration

    config = {"seed": 0}
    log = tmp_path / integration.run_name("ppo", "EdgePFMCache-Small-v0", config) / "eval_log.csv"
    log.parent.mkdir()
    log.write_text("timesteps,mean_cost,ratio_to_reference\n0,10.0,1.0\n64,9.0,0.9\n")
    proc = _Running(polls=3)
    monkeypatch.setattr(integration.subprocess, "Popen", lambda *a, **k: proc)
    reports = []
    monkeypatch.setattr(ray.tune, "report", lambda row: reports.append((row["timesteps"], proc.returncode)))
    integration.train_trial(config, algo="ppo", env_id="EdgePFMCache-Small-v0", timesteps=64, eval_freq=64,
                            eval_episodes=1, runs=str(tmp_path), train_args=[], poll_s=0.0)
    assert reports == [(0.0, None), (64.0, 0)]  # the first at once, the last after the exit


@pytest.mark.slow
def test_two_trials_are_train_py_run_folders(local_ray, tmp_path):
    from integrations.tune import main

    summary = main(["--algo", "ppo", "--env", "EdgePFMCache-Small-v0", "--seeds", "0,1",
                    "--grid", "n_steps=64", "--grid", "batch_size=32", "--grid", "n_epochs=1",
                    "--timesteps", "64", "--eval-freq", "64", "--eval-episodes", "1",
                    "--train-args", "--n-envs 1 --env-kwargs '{\"n_slots\": 20}'", "--out", str(tmp_path)])
    assert len(summary["trials"]) == 2
    for trial in summary["trials"]:
        assert trial["error"] is None
        run = Path(trial["run_folder"])
        rows = list(csv.DictReader((run / "eval_log.csv").open()))
        assert trial["last"]["ratio_to_lc"] == pytest.approx(float(rows[-1]["ratio_to_reference"]))
        assert trial["iterations"] == len(rows) == 2  # evaluated at the start and at 64 steps
        assert (run / "model.zip").is_file() and (run / "config.yml").is_file()
    assert {t["config"]["seed"] for t in summary["trials"]} == {0, 1}
    saved = json.loads((tmp_path / "tune_summary.json").read_text())
    assert saved["best"]["last"]["ratio_to_lc"] == min(t["last"]["ratio_to_lc"] for t in summary["trials"])
