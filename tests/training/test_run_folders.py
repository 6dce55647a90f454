"""Run folders survive interruption and damage: atomic checkpoints, SIGINT saves, resume falls
back past broken files, a resume keeps the run's evaluation and seed, an untrained
folder restarts, DQN keeps its replay buffer and demonstrations; and a kill test."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import yaml

pytest.importorskip("stable_baselines3")

from agents.trained import load_trained  # noqa: E402
from evaluation import seeds  # noqa: E402
from training import cli  # noqa: E402

ENV = "EdgePFMCache-Small-v0"
ROOT = Path(__file__).resolve().parents[2]
TINY = ["policy_kwargs={net_arch: [8]}", "n_steps=32", "batch_size=32", "n_epochs=1"]


def argv(out: Path, *extra: str, steps: int = 128, algo: str = "ppo", resume: bool = False) -> list[str]:
    hp = [] if resume else ["--hyperparams", *(TINY if algo != "dqn" else [
        "policy_kwargs={net_arch: [8]}", "learning_starts=32", "buffer_size=500"])]
    return ["--algo", algo, "--env", ENV, "--out", str(out), "--timesteps", str(steps), "--n-envs", "2",
            "--eval-freq", "64", "--eval-episodes", "1", "--checkpoint-freq", "64", "--no-progress-bar",
            *([] if resume else ["--env-kwargs", json.dumps({"n_slots": 20})]), *hp,
            *(["--resume"] if resume else []), *extra]


def assert_consistent(run: Path, algo: str = "ppo") -> None:
    """model.zip loads; evaluations readable and matching eval_log.csv; one record per leg."""
    assert load_trained(algo, run / "model.zip").model is not None
    with np.load(run / "evaluations.npz") as d:
        assert len(d["timesteps"]) == len(d["results"]) == len(d["ep_lengths"]) > 0
        assert list(d["timesteps"]) == sorted(d["timesteps"])
    legs = yaml.safe_load((run / "summary.yml").read_text())
    commands = (run / "command.txt").read_text().splitlines()
    args = sorted(p.name for p in run.glob("args*.yml"))
    assert len(args) == len(commands) >= len(legs) >= 1
    assert args[0] == "args.yml" and all(f"args_resume{i}.yml" in args for i in range(1, len(commands)))
    assert not list(run.rglob(".*.tmp*")), "a temporary file was left behind"


def test_resume_refuses_another_evaluation_or_seed_and_keeps_the_runs(tmp_path, capsys):
    run = cli.main(argv(tmp_path, "--run-name", "r", "--seed", "3"))
    before = (run / "command.txt").read_text()
    for flag, value, stored in (("--eval-episodes", "3", "1"), ("--reference", "lru", "lc"),
                                ("--seed", "7", "3")):
        with pytest.raises(SystemExit):
            cli.main(argv(tmp_path, "--run-name", "r", flag, value, resume=True))
        err = capsys.readouterr().err
        assert f"was run with {flag} {stored}" in err and f"not {value}" in err, err
        assert (run / "command.txt").read_text() == before and not list(run.glob("args_resume*"))
    # Omitted (the parser's defaults differ: 10 episodes, seed 0), they are the run's.
    resume = [a for a in argv(tmp_path, "--run-name", "r", resume=True)]
    i = resume.index("--eval-episodes")
    del resume[i:i + 2]
    cli.main(resume)
    record = yaml.safe_load((run / "args_resume1.yml").read_text())
    assert (record["seed"], record["eval_episodes"], record["reference"]) == (3, 1, "lc")
    legs = yaml.safe_load((run / "summary.yml").read_text())
    assert legs[1]["train_seed_base"] == seeds.train_seed(3, 1)
    with np.load(run / "evaluations.npz") as d:
        assert d["results"].shape == (len(d["timesteps"]), 1)
    assert_consistent(run)


def test_resume_repairs_a_damaged_evaluation_history(tmp_path):
    run = cli.main(argv(tmp_path))
    np.savez(run / "evaluations.npz", timesteps=np.array([0, 64]))  # the old crash's leftover
    with pytest.warns(UserWarning, match="evaluations.npz is unreadable; its history is rebuilt"):
        cli.main(argv(tmp_path, resume=True))
    assert_consistent(run)


def test_resume_falls_back_past_a_broken_model(tmp_path, capsys):
    run = cli.main(argv(tmp_path))
    (run / "model.zip").write_bytes(b"not a zip")
    with pytest.warns(UserWarning, match=r"cannot load .*model.zip .*trying an older checkpoint"):
        cli.main(argv(tmp_path, resume=True))
    legs = yaml.safe_load((run / "summary.yml").read_text())
    assert legs[-1]["resumed_from"].startswith("checkpoints/ckpt_")
    assert_consistent(run)


def test_resume_with_broken_config_or_no_model_is_a_clear_error(tmp_path, capsys):
    run = cli.main(argv(tmp_path))
    before = (run / "command.txt").read_text()
    (run / "config.yml").write_text("algo: [unclosed\n")
    with pytest.raises(SystemExit):
        cli.main(argv(tmp_path, resume=True))
    assert "config.yml is not readable YAML" in capsys.readouterr().err
    assert (run / "command.txt").read_text() == before and not list(run.glob("args_resume*"))
    with pytest.raises(SystemExit):
        cli.main(argv(tmp_path / "other", resume=True))
    assert "is not a run folder" in capsys.readouterr().err


def test_failed_resume_records_nothing(tmp_path, capsys):
    run = cli.main(argv(tmp_path))
    before = (run / "command.txt").read_text()
    with pytest.raises(SystemExit):
        cli.main(argv(tmp_path, "--reference", "bogus", resume=True))
    assert (run / "command.txt").read_text() == before and not list(run.glob("args_resume*"))


def test_untrained_folder_restarts(tmp_path, capsys):
    run = cli.main(argv(tmp_path))
    (run / "model.zip").unlink()
    for p in (run / "checkpoints").iterdir():
        p.unlink()
    with pytest.raises(SystemExit):
        cli.main(argv(tmp_path, resume=True))
    assert "run again without --resume" in capsys.readouterr().err
    cli.main(argv(tmp_path))
    assert "starting over" in capsys.readouterr().err
    assert list(run.glob("abandoned-*/command.txt"))
    assert_consistent(run)


def test_dqn_resume_keeps_buffer_and_demonstrations(tmp_path):
    run = cli.main(argv(tmp_path, "warm_start={steps: 64, epochs: 1}", algo="dqn"))
    assert list((run / "checkpoints").glob("ckpt_replay_buffer_*_steps.pkl"))
    assert (run / "model_replay_buffer.pkl").is_file() and (run / "demonstrations.npz").is_file()
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        cli.main(argv(tmp_path, algo="dqn", resume=True))
    assert not [w for w in record if "replay buffer" in str(w.message) or "demonstrations" in str(w.message)]
    assert_consistent(run, "dqn")


def _start(out: Path, *extra: str, resume: bool = False, steps: int = 640) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(ROOT / "train.py"), *argv(out, *extra, steps=steps,
                                                                            resume=resume)],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def test_sigint_saves_the_model_and_exits_nonzero(tmp_path):
    proc = _start(tmp_path, steps=100_000)
    run = tmp_path / f"ppo-{ENV}-seed0"
    deadline = time.time() + 120
    while not list((run / "checkpoints").glob("ckpt_*_steps.zip")) and time.time() < deadline:
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    leg = yaml.safe_load((run / "summary.yml").read_text())[-1]
    assert leg["interrupted"] == "SIGINT" and leg["end_timesteps"] < 100_000
    assert_consistent(run)


def test_kill_at_random_points_then_resume_finishes(tmp_path):
    """SIGKILL a tiny run at seeded random moments (the first after its first checkpoint);
    each time the folder resumes, and the last leg leaves a complete, consistent folder."""
    rng = random.Random(15)
    run = tmp_path / f"ppo-{ENV}-seed0"
    for leg, delay in enumerate((rng.uniform(0.0, 2.0), rng.uniform(0.5, 4.0))):
        proc = _start(tmp_path, resume=leg > 0, steps=100_000)
        if leg == 0:  # killed after its first checkpoint, whatever the machine's load: the
            # later legs then exercise the resume, not a restart
            deadline = time.time() + 120
            while not list((run / "checkpoints").glob("ckpt_*_steps.zip")) and time.time() < deadline:
                time.sleep(0.1)
        time.sleep(delay)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
    proc = _start(tmp_path, resume=True, steps=128)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    last = yaml.safe_load((run / "summary.yml").read_text())[-1]
    assert last["start_timesteps"] > 0  # it resumed from a saved model
    assert_consistent(run)


def test_a_killed_writers_temporary_files_are_removed_when_the_next_leg_starts(tmp_path):
    from training.run_folder import RunFolder

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()  # a pid that no longer runs
    folder = RunFolder(tmp_path / "run")
    (folder.checkpoints).mkdir(parents=True)
    stale = folder.checkpoints / f".ckpt_4160_steps.tmp{dead.pid}.zip"
    live = folder.path / f".summary.tmp{os.getpid()}.yml"  # a writer still at work: kept
    other = folder.path / ".notes.tmp"  # not a temporary of ours: kept
    for p in (stale, live, other):
        p.write_text("x")
    folder.write_records(["--algo", "ppo"], {"algo": "ppo"}, {"algo": "ppo"}, 0)
    assert not stale.exists() and live.exists() and other.exists()
    assert (folder.path / "args.yml").is_file()


def _log_rows(run: Path) -> list[list[str]]:
    import csv

    with (run / "eval_log.csv").open(newline="") as f:
        return list(csv.reader(f))


def test_resume_repairs_an_eval_log_cut_off_mid_row(tmp_path):
    run = cli.main(argv(tmp_path))
    rows = _log_rows(run)
    assert [r[0] for r in rows] == ["timesteps", "0", "64", "128"]
    raw = (run / "eval_log.csv").read_bytes()
    (run / "eval_log.csv").write_bytes(raw[:-25])  # a kill in the middle of the last row
    with pytest.warns(UserWarning, match=r"eval_log.csv is repaired .*line 4: cut off"):
        cli.main(argv(tmp_path, resume=True))
    rows = _log_rows(run)
    assert {len(r) for r in rows} == {len(rows[0])} == {11}, rows  # no row glued to a cut one
    assert [int(r[0]) for r in rows[1:]] == [0, 64, 128, 192, 256]
    assert (run / "eval_log.csv").read_bytes().startswith(raw[:raw.index(b"\r\n128,")])
    assert_consistent(run)


def test_resume_from_an_older_checkpoint_drops_the_later_evaluations(tmp_path):
    run = cli.main(argv(tmp_path))
    (run / "model.zip").write_bytes(b"not a zip")
    (run / "checkpoints" / "ckpt_128_steps.zip").unlink()
    with pytest.warns(UserWarning, match=r"eval_log.csv is repaired .*line 4: step 128, after the resume's 64"):
        cli.main(argv(tmp_path, resume=True))
    assert [int(r[0]) for r in _log_rows(run)[1:]] == [0, 64, 128, 192]
    with np.load(run / "evaluations.npz") as d:
        assert list(d["timesteps"]) == [0, 64, 128, 192]
    assert_consistent(run)


def test_resume_names_config_yml_and_the_field_it_cannot_use(tmp_path, capsys):
    run = cli.main(argv(tmp_path))
    good = (run / "config.yml").read_text()
    before = (run / "command.txt").read_text()
    config = yaml.safe_load(good)
    for field, value, message in (
            ("n_envs", "two", "n_envs = 'two' is invalid: must be an integer in 1..100"),
            ("hyperparams", 5, "hyperparams = 5 is invalid: must be a mapping"),
            ("env_kwargs", [1], "env_kwargs = [1] is invalid: must be a mapping"),
            ("env_kwargs", {"gpu_gb": -3}, "env_kwargs {'gpu_gb': -3} rejected by"),
            ("hyperparams", {**config["hyperparams"], "gamma": 7}, "hyperparams: hyperparams.gamma = 7"),
            ("seeds", {**config["seeds"], "run_seed": "x"}, "seeds.run_seed = 'x' is invalid")):
        (run / "config.yml").write_text(yaml.safe_dump({**config, field: value}, sort_keys=False))
        with pytest.raises(SystemExit) as e:
            cli.main(argv(tmp_path, resume=True))
        err = capsys.readouterr().err
        assert e.value.code == 2 and f"{run / 'config.yml'}" in err and message in err, err
        assert "--env-kwargs" not in err
        assert (run / "command.txt").read_text() == before and not list(run.glob("args_resume*"))
    (run / "config.yml").write_text(good)
    cli.main(argv(tmp_path, resume=True))
    assert_consistent(run)


def test_resume_picks_the_model_with_the_most_steps_not_the_newest_file(tmp_path, capsys):
    from training.run_folder import RunFolder, model_steps

    run = cli.main(argv(tmp_path))
    folder = RunFolder(run)
    ckpt = {n: run / "checkpoints" / f"ckpt_{n}_steps.zip" for n in (64, 128)}
    assert model_steps(run / "model.zip") == 128 and model_steps(ckpt[64]) == 64
    future = time.time() + 3600
    os.utime(ckpt[64], (future, future))  # `touch` (or a copy) makes the oldest the newest file
    assert folder.model_candidates() == [run / "model.zip", ckpt[128], ckpt[64]]
    (run / "model.zip").rename(run / "model.bak")
    for p in ckpt.values():  # a copy without timestamps: all files alike
        os.utime(p, (future, future))
    assert folder.model_candidates() == [ckpt[128], ckpt[64]]
    (run / "model.bak").rename(run / "model.zip")
    cli.main(argv(tmp_path, resume=True))
    assert "resuming" in (err := capsys.readouterr().err) and "model.zip at 128 steps" in err
    legs = yaml.safe_load((run / "summary.yml").read_text())
    assert legs[-1]["resumed_from"] == "model.zip" and legs[-1]["end_timesteps"] == 256
    assert_consistent(run)


def test_resume_without_seed_finds_the_one_run_of_its_algorithm_and_env(tmp_path, capsys):
    """The default folder name holds the seed: resuming without --seed found only seed 0's."""
    run = cli.main(argv(tmp_path, "--seed", "12"))
    assert run.name.endswith("-seed12")
    cli.main(argv(tmp_path, resume=True))  # no --seed, no --run-name: the one run, seed 12
    assert yaml.safe_load((run / "args_resume1.yml").read_text())["seed"] == 12
    cli.main(argv(tmp_path, "--seed", "5"))
    with pytest.raises(SystemExit):
        cli.main(argv(tmp_path, resume=True))
    assert "holds runs of seeds [5, 12]" in capsys.readouterr().err


def test_sigterm_to_the_process_group_with_subproc_workers_saves_the_model(tmp_path):
    """timeout, docker stop and schedulers signal the whole group: the SubprocVecEnv workers
    got it too, died, and the main process crashed on the broken pipe without a model."""
    proc = subprocess.Popen([sys.executable, str(ROOT / "train.py"),
                             *argv(tmp_path, "--vec", "subproc", steps=100_000)],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    run = tmp_path / f"ppo-{ENV}-seed0"
    deadline = time.time() + 120
    while not list((run / "checkpoints").glob("ckpt_*_steps.zip")) and time.time() < deadline:
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err
    leg = yaml.safe_load((run / "summary.yml").read_text())[-1]
    assert leg["interrupted"] == "SIGTERM" and (run / "model.zip").is_file()
    assert_consistent(run)
