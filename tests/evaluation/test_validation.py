"""evaluate.py checks every argument before any episode runs; each error names its flag."""

from __future__ import annotations

import pytest

from agents.trained import PRETRAINED_DIR
from evaluation import cli as evaluate
from evaluation import engine

SMALL = ["--env", "EdgePFMCache-Small-v0", "--quiet"]
PRE = PRETRAINED_DIR  # absolute: the tests may run from any folder


@pytest.fixture
def no_episodes(monkeypatch):
    """Fail the test if any episode starts: validation must come first."""
    def boom(*a, **k):
        raise AssertionError("an episode ran before the arguments were checked")
    monkeypatch.setattr(engine, "run_episode", boom)
    monkeypatch.setattr(engine, "lower_bound", boom)


@pytest.mark.parametrize("argv, message", [
    (["--agents", "lc,nope"], "--agents: unknown agent 'nope'; known: lc, lru"),
    (["--agents", " , "], "--agents: give at least one agent"),
    (["--agents", "lc,sac:x.zip"], "--agents: unknown trained-agent algorithm 'sac'"),
    (["--agents", "lc,ppo:/no/such/model.zip"], "--agents: no trained model file at '/no/such/model.zip'"),
    (["--env", "EdgePFMCache-v9"], "--env: unknown env 'EdgePFMCache-v9'; registered: "),
    (["--env-kwargs", "[1, 2]"], "--env-kwargs must be a JSON object"),
    (["--env-kwargs", '{"gpu_gb": -5}'], "--env-kwargs: .*gpu_gb"),
    (["--env-kwargs", '{"aoc": {"nu": 2}}'], "--env-kwargs: .*nu"),
    (["--sweep", "gpu_gb=40,abc"], "--sweep values must be numbers or JSON"),
    (["--sweep", "=40"], "--sweep: no parameter name"),
    (["--sweep", "gpu_gbx=40,60"], "--sweep gpu_gbx=40: .*gpu_gbx"),
    (["--sweep", "gpu_gb=40,1"], "--sweep gpu_gb=1: .*gpu_gb"),
    (["--sweep", "gpu_gb=40", "--sweep-episodes", "0"], "--sweep-episodes must be in 1..--episodes"),
    (["--timeline-agent", "nope"], "--timeline-agent: unknown agent 'nope'"),
    (["--episodes", "0"], "--episodes must be in 1..10000, got 0"),
    (["--seed", "-1"], "--seed must be in the benchmark range 0..9999, got -1"),
    (["--seed", "9995", "--episodes", "10"], "--seed 9995 --episodes 10: seeds 9995..10004 leave"),
    (["--scenarios", "base"], "--scenarios: only with --suite"),
    (["--agents", "lc,ppo:"], "--agents: 'ppo:' names no model file"),
    (["--agents", f"lc,ppo:{PRE}/generalist.zip"],
     "--agents: cannot load .*MaskablePPO set-policy model .*load it as 'maskable_ppo:.*not as ppo"),
    (["--agents", f"lc,dqn:{PRE}/generalist.zip"], "MaskablePPO set-policy model .*not as dqn"),
    (["--suite", "default", "--ray"], "--ray: not with --suite"),
    (["--ray", "127.0.0.1:1"], r"--ray 127.0.0.1:1: no Ray cluster answers there"),
    (["--suite", "nope"], "--suite: unknown suite 'nope'; valid: default, default-v1, default-v2"),
    (["--suite", "default", "--scenarios", "base,nope"],
     r"--scenarios: unknown scenario\(s\) \['nope'\]; valid: base, gpu-40"),
])
def test_bad_argument_names_its_flag(tmp_path, no_episodes, argv, message):
    base = ["--quiet", "--out", str(tmp_path / "o")]
    if "--agents" not in argv:
        base += ["--agents", "lc"]
    if "--env" not in argv and "--suite" not in argv:
        base += ["--env", "EdgePFMCache-Small-v0"]
    with pytest.raises(SystemExit, match=message):
        evaluate.main([*base, *argv])
    assert not (tmp_path / "o").exists()  # nothing written either


def test_suite_rejects_single_env_flags(tmp_path, no_episodes):
    with pytest.raises(SystemExit, match="--env-kwargs: not with --suite"):
        evaluate.main(["--suite", "default", "--env-kwargs", '{"gpu_gb": 40}', "--out", str(tmp_path)])
    with pytest.raises(SystemExit, match="--env: not with --suite"):
        evaluate.main(["--suite", "default", "--env", "EdgePFMCache-v0", "--out", str(tmp_path)])


def test_out_must_not_be_a_file(tmp_path, no_episodes):
    f = tmp_path / "results.txt"
    f.write_text("keep me")
    with pytest.raises(SystemExit, match="--out: .*results.txt' is an existing file"):
        evaluate.main([*SMALL, "--agents", "lc", "--out", str(f)])
    with pytest.raises(SystemExit, match="--out: .*is a file, not a folder"):
        evaluate.main([*SMALL, "--agents", "lc", "--out", str(f / "sub")])
    assert f.read_text() == "keep me"


def test_broken_trained_zip_fails_before_episodes(tmp_path, no_episodes):
    bad = tmp_path / "model.zip"
    bad.write_bytes(b"not a zip")
    with pytest.raises(SystemExit, match="--agents: cannot load 'ppo:"):
        evaluate.main([*SMALL, "--agents", f"lc,ppo:{bad}", "--out", str(tmp_path / "o")])


def test_only_inapplicable_agents_still_write_results(tmp_path):
    # Every agent n/a: no table rows, but results.json (with the reasons) and no crash.
    summary = evaluate.main(["--env", "EdgePFMCache-Large-v0", "--agents", "oracle", "--episodes", "1",
                             "--no-bound", "--quiet", "--no-plots", "--out", str(tmp_path)])
    assert summary["agents"] == {} and "oracle" in summary["not_applicable"]
    assert (tmp_path / "results.json").is_file()


def test_the_default_timeline_is_the_first_agent_that_can_act(tmp_path):
    # The 10-model PPO cannot act on the 6-model catalog: the timeline goes to lru, not an error.
    ppo = f"ppo:{PRE}/ppo.zip"
    evaluate.main([*SMALL, "--agents", f"{ppo},lru", "--episodes", "1", "--no-bound",
                   "--env-kwargs", '{"n_slots": 20}', "--out", str(tmp_path)])
    assert (tmp_path / "timeline_lru.png").is_file()
    with pytest.raises(SystemExit, match="--timeline-agent: 'ppo:.*ppo.zip' cannot act"):
        evaluate.main([*SMALL, "--agents", f"{ppo},lru", "--episodes", "1", "--timeline-agent", ppo,
                       "--out", str(tmp_path / "b")])


def test_sweep_values_with_commas_as_a_json_list():
    from evaluation.validate import parse_sweep

    assert parse_sweep("gpu_gb=40,80") == ("gpu_gb", [40, 80])
    assert parse_sweep('capacity=[{"enabled": true, "gpu_throughput": 0.5}, {"gpu_throughput": 2}]') == \
        ("capacity", [{"enabled": True, "gpu_throughput": 0.5}, {"gpu_throughput": 2}])
    with pytest.raises(SystemExit, match="a JSON list"):
        parse_sweep("capacity=[1, 2")


def test_out_file_is_checked_before_work(tmp_path, monkeypatch):
    from evaluation import validate

    f = tmp_path / "a_file"
    f.write_text("keep me")
    with pytest.raises(SystemExit, match=r"--out: .*a_file' in .*x.json' is a file, not a folder"):
        validate.check_out_file(f / "sub" / "x.json")
    with pytest.raises(SystemExit, match=r"--json: .* is a folder; give a file name"):
        validate.check_out_file(tmp_path, "--json")
    assert validate.check_out_file(tmp_path / "new" / "x.json") == tmp_path / "new" / "x.json"
    assert not (tmp_path / "new").exists()  # created when written, not when checked
    monkeypatch.setattr(validate.os, "access", lambda *a: False)  # (root may write anywhere)
    with pytest.raises(SystemExit, match=r"--out: cannot write in .* permission denied"):
        validate.check_out_file(tmp_path / "new" / "x.json")
    with pytest.raises(SystemExit, match=r"--out: cannot write in .* permission denied"):
        validate.check_out(str(tmp_path / "o"))
    assert f.read_text() == "keep me"


def test_atomic_files_get_the_usual_mode(tmp_path):
    import os

    from evaluation.output import write_json

    umask = os.umask(0o022)
    try:
        path = write_json(tmp_path / "r.json", {"a": 1})
    finally:
        os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o644  # not mkstemp's 0600
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]  # no temporary left
