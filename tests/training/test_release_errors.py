"""The release tools refuse bad input before any work, naming the path or flag: missing or
damaged run folders and files, runs that would ship under one name, damaged candidates."""

from __future__ import annotations

import json
import re
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

from training.release import plot_training, select_checkpoint, ship_pretrained, verify_pretrained
from training.run_folder import RunFolderError

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_train import run_train  # noqa: E402

ENV_KWARGS = {"n_slots": 20}


def fake_run(path: Path, algo: str = "ppo") -> Path:
    """A finished run's records and a (tiny, not loadable) best_model.zip: enough to ship."""
    path.mkdir(parents=True)
    config = {"algo": algo, "env_id": "EdgePFMCache-Small-v0", "env_kwargs": ENV_KWARGS,
              "hyperparams": {}, "seeds": {"eval_seeds": [10_000]}, "versions": {}}
    (path / "config.yml").write_text(yaml.safe_dump(config))
    leg = {"end_timesteps": 64, "wall_s": 1.0, "best_eval_cost": 10.0, "reference": "lc",
           "reference_cost": 9.0, "stopped_by_time_budget": False, "interrupted": None}
    (path / "summary.yml").write_text(yaml.safe_dump([leg]))
    (path / "command.txt").write_text(f"python train.py --algo {algo} --timesteps 64\n")
    with zipfile.ZipFile(path / "best_model.zip", "w") as z:
        z.writestr("data", json.dumps({"tensorboard_log": None}))
        z.writestr("policy.pth", b"weights")
    return path


def usage_error(main, argv: list[str], capsys) -> str:
    """argparse's usage error: exit 2, the message on stderr."""
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2
    return capsys.readouterr().err


def test_ship_refuses_runs_that_would_share_a_name_before_copying(tmp_path, capsys):
    a, b = fake_run(tmp_path / "a"), fake_run(tmp_path / "b")
    dqn = fake_run(tmp_path / "c", algo="dqn")
    dest = tmp_path / "dest"
    err = usage_error(ship_pretrained.main, [str(a), str(b), str(dqn), "--dest", str(dest)], capsys)
    assert f"{a}, {b} would all ship as ppo.zip" in err and str(dqn) not in err
    err = usage_error(ship_pretrained.main, [str(a), str(dqn), "--name", "x", "--dest", str(dest)], capsys)
    assert f"{a}, {dqn} would all ship as x.zip (manifest entry 'x')" in err
    assert not dest.exists(), "nothing may be copied before the checks pass"

    ship_pretrained.main([str(a), str(a), str(dqn), "--dest", str(dest)])  # a run given twice: once
    assert sorted(p.name for p in dest.iterdir()) == ["dqn.zip", "manifest.json", "ppo.zip"]
    assert sorted(json.loads((dest / "manifest.json").read_text())["models"]) == ["dqn", "ppo"]


def test_ship_names_a_missing_or_damaged_run_before_any_work(tmp_path, capsys):
    run, dest = fake_run(tmp_path / "run"), tmp_path / "dest"

    def error(*argv: str) -> str:
        return usage_error(ship_pretrained.main, [*argv, "--dest", str(dest)], capsys)

    assert f"{tmp_path / 'nope'} is not a train.py run folder (no such folder)" in error(str(tmp_path / "nope"))
    assert f"{tmp_path} is not a train.py run folder (no config.yml)" in error(str(tmp_path))
    assert f"{run} has no selected_model.zip (run python -m training.release.select_checkpoint" in error(
        str(run), "--model", "selected")
    assert "--name: 'a/b' is not a plain file name" in error(str(run), "--name", "a/b")
    (tmp_path / "file").write_text("")
    assert "--dest: " in usage_error(ship_pretrained.main, [str(run), "--dest", str(tmp_path / "file")], capsys)

    dest.mkdir()
    (dest / "manifest.json").write_text("{")
    assert f"{dest / 'manifest.json'} is not readable JSON" in error(str(run))
    assert sorted(p.name for p in dest.iterdir()) == ["manifest.json"]  # no zip copied
    (dest / "manifest.json").unlink()

    (run / "best_model.zip").write_bytes(b"not a zip")
    assert f"{run / 'best_model.zip'} is damaged: not a zip" in error(str(run))
    (run / "best_model.zip").unlink()
    assert f"{run} has no best_model.zip" in error(str(run))
    (run / "summary.yml").write_text("[]\n")
    assert f"{run / 'summary.yml'} records no finished leg" in error(str(run))
    (run / "summary.yml").write_text(yaml.safe_dump([{"end_timesteps": 5}]))
    assert f"{run / 'summary.yml'} is damaged: leg 1 has no wall_s" in error(str(run))
    config = yaml.safe_load((run / "config.yml").read_text())
    del config["seeds"]["eval_seeds"], config["versions"]
    (run / "config.yml").write_text(yaml.safe_dump(config))
    assert f"{run / 'config.yml'} is damaged: no seeds.eval_seeds, versions" in error(str(run))
    (run / "config.yml").write_text("algo: [")
    assert f"{run / 'config.yml'} is not readable YAML" in error(str(run))
    assert list(dest.iterdir()) == []
    with pytest.raises(RunFolderError, match="config.yml is not readable YAML"):  # as a library too
        ship_pretrained.ship(run, dest)


def test_plot_names_a_missing_folder_or_log_before_plotting(tmp_path, capsys):
    run = fake_run(tmp_path / "run")
    out = tmp_path / "curves.png"
    assert f"{tmp_path / 'nope'} is not a train.py run folder (no such folder)" in usage_error(
        plot_training.main, [str(tmp_path / "nope"), "--out", str(out)], capsys)
    assert f"{run} has no eval_log.csv" in usage_error(plot_training.main, [str(run), "--out", str(out)], capsys)
    (run / "eval_log.csv").write_text("timesteps,mean_cost\n0,1.0\n")
    assert f"{run / 'eval_log.csv'} is damaged (KeyError" in usage_error(
        plot_training.main, [str(run), "--out", str(out)], capsys)
    assert "--out: " in usage_error(plot_training.main, [str(run), "--out", str(tmp_path)], capsys)
    assert not out.exists()


def test_select_names_a_damaged_config_before_any_scoring(tmp_path):
    run = fake_run(tmp_path / "run")
    (run / "config.yml").write_text("algo: [")
    with pytest.raises(SystemExit, match=f"error: {run / 'config.yml'} is not readable YAML"):
        select_checkpoint.main([str(run), "--episodes", "2"])
    (run / "config.yml").write_text("algo: ppo\nenv_kwargs: {}\n")
    with pytest.raises(SystemExit, match=f"error: {run / 'config.yml'} is damaged: no env_id"):
        select_checkpoint.main([str(run), "--episodes", "2"])


def test_select_without_a_usable_candidate_fails_before_scoring(tmp_path, capsys, monkeypatch):
    run = fake_run(tmp_path / "run")  # its best_model.zip is no SB3 model
    monkeypatch.setattr(select_checkpoint, "score", lambda *a: pytest.fail("scored"))
    with pytest.raises(SystemExit, match=f"no usable model in {run} .1 damaged"):
        select_checkpoint.main([str(run), "--episodes", "2"])
    assert f"warning: skipping {run / 'best_model.zip'}" in capsys.readouterr().err


@pytest.mark.slow
def test_select_skips_a_damaged_candidate_and_scores_the_others(tmp_path, capsys):
    run = run_train(tmp_path / "runs", "ppo", steps=128)
    (run / "model.zip").write_bytes(b"damaged")
    record = select_checkpoint.main([str(run), "--episodes", "2"])
    assert [r["model"] for r in record["skipped"]] == ["model"]
    assert "not an SB3 model zip" in record["skipped"][0]["error"]
    assert sorted(r["model"] for r in record["table"]) == ["best_model", "ckpt_128_steps"]
    assert record["candidates"] == 2 and record["selected"]["model"] != "model"
    assert json.loads((run / "selected.json").read_text())["skipped"] == record["skipped"]
    out = capsys.readouterr()
    assert f"warning: skipping {run / 'model.zip'}" in out.err
    assert re.search(f"{re.escape(str(run))}/model +skipped: cannot be loaded", out.out)


def test_verify_names_a_damaged_manifest_and_a_bad_workdir(tmp_path, capsys):
    def error(*argv: str) -> str:
        with pytest.raises(SystemExit) as e:
            verify_pretrained.main(["x", "--dir", str(tmp_path), *argv])
        assert e.value.code == 2
        return capsys.readouterr().err

    manifest = tmp_path / "manifest.json"
    manifest.write_text("{")
    assert f"{manifest} is not readable JSON" in error()
    for damaged in ({}, [], {"models": []}):
        manifest.write_text(json.dumps(damaged))
        assert f'{manifest} is damaged: no "models" object' in error()
    manifest.write_text(json.dumps({"models": {"x": {"reproduce": "python train.py"}}}))
    assert f"{manifest} is damaged: the entry 'x' names no \"file\"" in error()
    assert "--workdir: " in error("--workdir", str(manifest))
