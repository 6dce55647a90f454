"""train.py rejects every bad flag, agent name and hyperparameter before any work, naming it,
and leaves no run folder behind."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("stable_baselines3")

from training import cli  # noqa: E402

ENV = "EdgePFMCache-Small-v0"


def error(capsys, tmp_path, *extra: str) -> str:
    argv = ["--algo", "ppo", "--env", ENV, "--out", str(tmp_path / "runs"), "--timesteps", "64",
            "--no-progress-bar", "--env-kwargs", json.dumps({"n_slots": 20}), *extra]
    with pytest.raises(SystemExit) as e:
        cli.main(argv)
    assert e.value.code == 2
    assert not (tmp_path / "runs").exists(), "a rejected command must leave nothing behind"
    return capsys.readouterr().err


@pytest.mark.parametrize("extra, message", [
    (["--timesteps", "0"], "--timesteps 0 is invalid: must be >= 1"),
    (["--timesteps", "-5"], "--timesteps -5 is invalid"),
    (["--max-minutes", "0"], "--max-minutes 0.0 is invalid: must be > 0"),
    (["--max-minutes", "-1"], "--max-minutes -1.0 is invalid"),
    (["--max-minutes", "nan"], "--max-minutes nan is invalid"),
    (["--n-envs", "0"], "--n-envs 0 is invalid: must be in 1..100"),
    (["--stop-after-steps", "0"], "--stop-after-steps 0 is invalid: must be >= 1"),
    # --timesteps 64 and one PPO rollout (8 envs x 512 steps) past it: a stop can land there
    (["--stop-after-steps", "4161"], "--stop-after-steps 4161 is invalid: must be <= 4160"),
    (["--hyperparams", "n_steps=64", "--stop-after-steps", "577"], "must be <= 576"),
    (["--eval-episodes", "0"], "--eval-episodes 0 is invalid"),
    (["--eval-freq", "-1"], "--eval-freq -1 is invalid: must be >= 0"),
    (["--checkpoint-freq", "-1"], "--checkpoint-freq -1 is invalid"),
    (["--threads", "0"], "--threads 0 is invalid"),
    (["--seed", "-1"], "--seed -1 is invalid"),
    (["--seed", "99999999"], "--seed 99999999 is invalid: must be in 0..4294866"),
    (["--seed", "4294867"], "--seed 4294867 is invalid: must be in 0..4294866"),
    (["--verbose", "7"], "--verbose 7 is invalid"),
    (["--reference", "bogus"], "--reference 'bogus' is invalid: must be 'none' or one of"),
    (["--run-name", "a/b"], "--run-name 'a/b' is invalid"),
    (["--hyperparams", "batch_size=0"], "hyperparams.batch_size = 0 is invalid"),
    (["--hyperparams", "learning_rate=-1"], "hyperparams.learning_rate = -1 is invalid: must be > 0"),
    (["--hyperparams", "gamma=1.5"], "hyperparams.gamma = 1.5 is invalid"),
    (["--hyperparams", "n_epochs=true"], "hyperparams.n_epochs = True is invalid"),
    (["--hyperparams", "ent_coef=abc"], "hyperparams.ent_coef = 'abc' is invalid: must be a number"),
    (["--hyperparams", "policy_kwargs={net_arch: [8], net_arch: [16]}"],
     "--hyperparams policy_kwargs: cannot parse value '{net_arch: [8], net_arch: [16]}': line 1, "
     "column 17: duplicate key 'net_arch'"),
    (["--hyperparams", "warm_start={agent: lcc}"], "warm_start.agent = 'lcc' is invalid"),
    (["--hyperparams", "warm_start={steps: 0}"], "warm_start.steps = 0 is invalid"),
    (["--hyperparams", "n_timesteps=0", "--timesteps", "0"], "--timesteps 0"),
    (["--env-kwargs", '{"gpu_gb": "4e1"}'], "server.gpu_gb = '4e1' is invalid"),
    (["--env-kwargs", '{"trace_path": "x.csv"}'], "workload.trace_path = 'x.csv' is invalid"),
    (["--env-kwargs", '{"source": "csv", "trace_path": "/nonexistent.csv"}'], "/nonexistent.csv"),
])
def test_bad_flags_are_named(capsys, tmp_path, extra, message):
    assert message in error(capsys, tmp_path, *extra)


@pytest.mark.parametrize("extra, message", [
    (["--vec", "native", "--hyperparams", "warm_start={agent: clairvoyant, steps: 64}"],
     "--vec native: warm_start.agent 'clairvoyant' reads each env's own episode"),
    (["--vec", "native", "--hyperparams", "warm_start={agent: oracle, steps: 64}"], "'oracle'"),
    (["--hyperparams", "policy=agents.set_policy:SetPolicy", "policy_kwargs={hidden: 8}"],
     "SetPolicy needs --algo maskable_ppo"),
])
def test_options_that_do_not_work_together_are_named(capsys, tmp_path, extra, message):
    assert message in error(capsys, tmp_path, *extra)


def test_vec_native_needs_a_vector_entry_point(capsys, tmp_path):
    argv = ["--algo", "maskable_ppo", "--env", "EdgePFMCache-Random-v0", "--vec", "native", "--out",
            str(tmp_path / "runs"), "--timesteps", "64", "--no-progress-bar"]
    with pytest.raises(SystemExit):
        cli.main(argv)
    assert "--vec native: EdgePFMCache-Random-v0 has no native vector env" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


def test_yaml_counts_are_checked(capsys, tmp_path):
    (tmp_path / "ppo.yml").write_text("default: {n_timesteps: 0, n_envs: 0}\n")
    err = error(capsys, tmp_path, "--hyperparams-dir", str(tmp_path), "--timesteps", "64")
    assert "hyperparams.n_envs = 0 is invalid" in err


def test_out_is_a_file(capsys, tmp_path):
    f = tmp_path / "a_file"
    f.write_text("x")
    with pytest.raises(SystemExit):
        cli.main(["--algo", "ppo", "--env", ENV, "--out", str(f), "--timesteps", "64"])
    assert f"--out {f} is a file" in capsys.readouterr().err


@pytest.mark.parametrize("content, message", [
    (b"default: {n_steps: [1, 2\n", "line 2, column 1: expected ',' or ']'"),
    (b"default: {gamma: 0.9}\ndefault: {gamma: 0.5}\n", "line 2, column 1: duplicate key 'default' "
                                                       "(first given on line 1)"),
    (b"default:\n  gamma: 0.9\n  gamma: 0.5\n", "line 3, column 3: duplicate key 'gamma'"),
    (b"default: {gamma: 0.9}  # caf\xe9\n", "not UTF-8 text"),
])
def test_a_bad_hyperparameter_file_is_named(capsys, tmp_path, content, message):
    (tmp_path / "hp").mkdir()
    path = tmp_path / "hp" / "ppo.yml"
    path.write_bytes(content)
    err = error(capsys, tmp_path, "--hyperparams-dir", str(tmp_path / "hp"))
    assert err.startswith(f"train.py: error: {path}: ") and message in err, err
    assert "Traceback" not in err
