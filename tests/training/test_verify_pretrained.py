"""verify_pretrained: a shipped model rebuilt from its manifest's reproduce command is identical,
a changed one is reported with its tensors, and bad names or entries fail before any training."""

from __future__ import annotations

import io
import json
import shutil
import zipfile
from pathlib import Path

import pytest

pytest.importorskip("stable_baselines3")
pytest.importorskip("sb3_contrib")

from training import cli as train  # noqa: E402
from training.release import verify_pretrained as verify  # noqa: E402
from training.release.ship_pretrained import ship  # noqa: E402

TINY = ["--algo", "maskable_ppo", "--env", "EdgePFMCache-Small-v0", "--timesteps", "256",
        "--seed", "3", "--n-envs", "2", "--env-kwargs", json.dumps({"n_slots": 20}),
        "--eval-freq", "128", "--eval-episodes", "2", "--checkpoint-freq", "128",
        "--no-progress-bar", "--run-name", "tiny", "--hyperparams", "policy_kwargs={net_arch: [16]}",
        "n_steps=64", "batch_size=32", "n_epochs=2"]


def _perturb(path: Path) -> None:
    """Add 1e-3 to one weight of the zip's policy."""
    import torch

    with zipfile.ZipFile(path) as z:
        files = {n: z.read(n) for n in z.namelist()}
    state = torch.load(io.BytesIO(files["policy.pth"]), weights_only=True)
    key = sorted(state)[0]
    state[key].view(-1)[0] += 1e-3
    buffer = io.BytesIO()
    torch.save(state, buffer)
    files["policy.pth"] = buffer.getvalue()
    with zipfile.ZipFile(path, "w") as z:
        for n, data in files.items():
            z.writestr(n, data)


@pytest.mark.slow
def test_rebuilt_model_is_identical_and_a_change_is_caught(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the command's relative paths stay in tmp_path
    run = train.main([*TINY, "--out", str(tmp_path / "original")])
    shipped = tmp_path / "pretrained"
    entry = ship(run, dest=shipped, name="tiny")
    assert entry["reproduce"].startswith("python train.py --algo maskable_ppo")
    assert entry["commit"] == train.code_commit() and entry["commit"]  # the code it was trained with

    record = verify.main(["tiny", "--dir", str(shipped), "--workdir", str(tmp_path / "rebuilt")])
    assert record["identical"] and record["tensors"] > 4 and record["differing"] == []
    assert record["model"] == "best_model"
    rebuilt = Path(record["rebuilt"])
    assert rebuilt.parent == tmp_path / "rebuilt" / "tiny"
    assert json.loads((rebuilt.parent / "verify.json").read_text())["identical"] is True

    # One weight changed in the shipped file: caught, named, and the exit code says so.
    _perturb(shipped / "tiny.zip")
    result = verify.compare(shipped / "tiny.zip", rebuilt)
    assert not result["identical"] and len(result["differing"]) == 1
    assert result["max_abs_diff"] == pytest.approx(1e-3, rel=1e-3)
    shutil.rmtree(tmp_path / "rebuilt")
    with pytest.raises(SystemExit) as exit_info:
        verify.main(["tiny", "--dir", str(shipped), "--workdir", str(tmp_path / "rebuilt")])
    assert exit_info.value.code == 1


def test_selected_and_checkpoint_models_are_found_in_the_run(tmp_path):
    assert verify.source_label({}) == "best_model"
    assert verify.source_label({"selected": {"model": "ckpt_3400000_steps"}}) == "ckpt_3400000_steps"
    assert verify.run_model(tmp_path, "ckpt_128_steps") == tmp_path / "checkpoints" / "ckpt_128_steps.zip"
    assert verify.run_model(tmp_path, "model") == tmp_path / "model.zip"
    argv = verify.reproduce_argv("python train.py --algo ppo --out runs --seed 0", tmp_path)
    assert argv == ["--algo", "ppo", "--out", str(tmp_path), "--seed", "0"]
    assert verify.reproduce_argv("python train.py --algo ppo", tmp_path)[-2:] == ["--out", str(tmp_path)]


def test_versions_and_code_commit_that_differ_are_named():
    from training.cli import code_commit, versions

    same = {"versions": versions(), "commit": code_commit()}
    assert verify.version_differences(same) == {}
    other = {"versions": {**versions(), "torch": "0.0.1"}, "commit": "0" * 40}
    assert verify.version_differences(other) == {"torch": ("0.0.1", versions()["torch"]),
                                                 "code commit": ("0" * 40, code_commit())}
    assert "code commit" not in verify.version_differences({"versions": {}})  # older entries


def test_bad_names_and_entries_fail_before_training(tmp_path, capsys):
    def error(argv: list[str]) -> str:
        with pytest.raises(SystemExit) as e:
            verify.main(argv)
        assert e.value.code == 2
        return capsys.readouterr().err

    assert "does not exist" in error(["tiny", "--dir", str(tmp_path)])
    models = {"a": {"file": "a.zip", "reproduce": None, "commands": ["python train.py --algo ppo"]},
              "b": {"file": "b.zip", "reproduce": "python evaluate.py --agents lc"},
              "c": {"file": "c.zip", "reproduce": "python train.py --algo ppo"}}
    (tmp_path / "manifest.json").write_text(json.dumps({"models": models}))
    assert "no shipped model 'zzz'" in error(["zzz", "--dir", str(tmp_path)])
    assert "shipped: a, b, c" in error(["zzz", "--dir", str(tmp_path)])
    assert "has no reproduce command" in error(["a", "--dir", str(tmp_path)])
    assert "c.zip does not exist" in error(["c", "--dir", str(tmp_path)])
    (tmp_path / "b.zip").write_bytes(b"")
    assert "does not start with 'python train.py'" in error(["b", "--dir", str(tmp_path)])
    assert not list(tmp_path.glob("*/")), "nothing may be written before the checks pass"


def test_observation_statistics_are_compared_reward_scaling_is_not(tmp_path):
    import gymnasium as gym
    from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

    from agents.trained import vecnormalize_path

    def save(model: Path, norm_obs: bool, shift: float = 0.0) -> None:
        norm = VecNormalize(DummyVecEnv([lambda: gym.make("CartPole-v1")]), norm_obs=norm_obs)
        if norm_obs:
            norm.obs_rms.mean += shift
        norm.save(str(vecnormalize_path(model)))

    a, b = tmp_path / "a.zip", tmp_path / "b.zip"
    save(a, True)
    save(b, True, shift=0.5)
    assert set(verify._normalizer_arrays(a)) == {"obs_rms.mean", "obs_rms.var"}
    assert (verify._normalizer_arrays(b)["obs_rms.mean"] == 0.5).all()
    save(b, False)  # reward scaling only: nothing to compare (ship_pretrained ships none)
    assert verify._normalizer_arrays(b) == {}
    assert verify._normalizer_arrays(tmp_path / "none.zip") == {}
