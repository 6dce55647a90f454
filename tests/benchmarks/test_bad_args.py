"""The benchmark scripts reject a bad flag with a usage error naming it (exit 2) before any work,
and check --out before the work whose results it would hold; results are written atomically."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import bench_args  # noqa: E402

# Everything that does work in the scripts: any call fails the test.
WORK = ("run_benchmark", "run_episode", "plan_episode", "lc_load", "run_instance", "costs",
        "measure_headline", "measure_native", "measure_suite_timing", "measure_single_before_after")
SCRIPTS = ("admission_baselines", "bench_env", "calibration", "calibration_capacity", "generalist",
           "headroom", "oracle_strength", "suite_on_eval_seeds", "train_targets")


@pytest.fixture
def no_work(monkeypatch):
    def boom(*a, **k):
        raise AssertionError("work started before the arguments were checked")

    for name in SCRIPTS:
        module = importlib.import_module(name)
        for attr in WORK:
            if hasattr(module, attr):
                monkeypatch.setattr(module, attr, boom)
    monkeypatch.setattr("agents.generalist.GeneralistAgent.__init__", boom)


@pytest.fixture
def a_file(tmp_path) -> Path:
    f = tmp_path / "a_file"
    f.write_text("keep me")
    return f


def usage_error(capsys, script: str, argv: list[str]) -> str:
    with pytest.raises(SystemExit) as e:
        importlib.import_module(script).main(argv)
    assert e.value.code == 2, f"not a usage error: {e.value.code!r}"
    return capsys.readouterr().err


CASES = [
    ("calibration", ["--episodes", "0"], "--episodes 0: must be >= 1"),
    ("calibration", ["--episodes", "-1"], "--episodes -1: must be >= 1"),
    ("calibration", ["--seed", "-5", "--episodes", "1"], "--seed -5: must be >= 0"),
    ("calibration_capacity", ["--episodes", "0"], "--episodes 0: must be >= 1"),
    ("calibration_capacity", ["--seed", "-1"], "--seed -1: must be >= 0"),
    ("calibration_capacity", ["--env", "Bogus-v0"], "--env: unknown env 'Bogus-v0'; registered: "),
    ("calibration_capacity", ["--env", "EdgePFMCache-v0"], "--env EdgePFMCache-v0: the capacity model is off"),
    ("admission_baselines", ["--seed", "-1", "--episodes", "1", "--scenarios", "small"],
     "--seed -1: must be >= 0"),
    ("generalist", ["--episodes", "0"], "--episodes 0: must be >= 1"),
    ("generalist", ["--seed", "-3"], "--seed -3: must be >= 0"),
    ("generalist", ["--agents", "lc,bogus"], "--agents: unknown agent 'bogus'; known: lc, "),
    ("generalist", ["--scenarios", "small,nope"], "--scenarios: unknown ['nope']"),
    ("generalist", ["--scenarios", ","], "--scenarios: give at least one of"),
    ("generalist", ["--model", "/no/such/generalist.zip"], "--model: no file /no/such/generalist.zip"),
    ("oracle_strength", ["--seed", "-1"], "--seed -1: must be >= 0"),
    ("oracle_strength", ["--agents", "lc,bogus"], "--agents: unknown agent 'bogus'"),
    ("oracle_strength", ["--agents", "lc,ppo:/no/such/model.zip"],
     "--agents: no trained model file at '/no/such/model.zip'"),
    ("oracle_strength", ["--agents", "lru"], "--agents lru: must include lc"),
    ("headroom", ["--instances=-1"], "--instances: 'all' or indices in 0..4, got '-1'"),
    ("headroom", ["--instances", "0,-2"], "--instances: 'all' or indices in 0..4, got '0,-2'"),
    ("headroom", ["--seed", "-1"], "--seed -1: must be >= 0"),
    ("train_targets", ["--episodes", "0"], "--episodes 0: must be >= 1"),
    ("train_targets", ["--seed", "-1"], "--seed -1: must be >= 0"),
    ("train_targets", ["--pretrained", "/no/such/folder"],
     "--pretrained /no/such/folder: cannot read the models of /no/such/folder/manifest.json"),
]


@pytest.mark.parametrize("script, argv, message", CASES, ids=[f"{s} {' '.join(a)}" for s, a, _ in CASES])
def test_bad_flag_is_a_usage_error_before_work(capsys, tmp_path, no_work, script, argv, message):
    if script in ("oracle_strength", "headroom", "train_targets", "generalist") and "--out" not in argv:
        argv = [*argv, "--out", str(tmp_path / ("o.json" if script in ("train_targets", "generalist") else "o"))]
    assert message in usage_error(capsys, script, argv)
    assert not (tmp_path / "o").exists() and not (tmp_path / "o.json").exists()


# --out as a folder (its files written there) or as a file.
OUT_CASES = [
    ("oracle_strength", ["--episodes", "1"], "{file}", "--out: '{file}' is an existing file"),
    ("oracle_strength", ["--episodes", "1"], "{file}/x", "--out: '{file}' in '{file}/x' is a file"),
    ("headroom", ["--seeds", "1", "--instances", "0"], "{file}", "--out: '{file}' is an existing file"),
    ("bench_env", ["--quick"], "{file}", "--out: '{file}' is an existing file"),
    ("bench_env", ["--suite-timing", "--quick"], "{file}/b", "--out: '{file}' in '{file}/b' is a file"),
    ("bench_env", ["--native", "--quick"], "{file}/b", "--out: '{file}' in '{file}/b' is a file"),
    ("generalist", ["--episodes", "1", "--scenarios", "small", "--agents", "lc"], "{file}/x.json",
     "--out: '{file}' in '{file}/x.json' is a file, not a folder"),
    ("generalist", ["--episodes", "1"], "{tmp}", "--out: '{tmp}' is a folder; give a file name"),
    ("suite_on_eval_seeds", ["--agents", "lru", "--scenarios", "catalog-small", "--episodes", "1"],
     "{file}/x.json", "--out: '{file}' in '{file}/x.json' is a file, not a folder"),
    ("suite_on_eval_seeds", ["--agents", "lru", "--episodes", "1"], "{tmp}", "--out: '{tmp}' is a folder"),
    ("train_targets", ["--episodes", "1"], "{file}/tt.json", "--out: '{file}' in '{file}/tt.json' is a file"),
    ("train_targets", ["--episodes", "1"], "{tmp}", "--out: '{tmp}' is a folder; give a file name"),
]


@pytest.mark.parametrize("script, argv, out, message", OUT_CASES,
                         ids=[f"{s} {o}" for s, _, o, _ in OUT_CASES])
def test_bad_out_is_a_usage_error_before_work(capsys, tmp_path, a_file, no_work, script, argv, out, message):
    fill = {"file": str(a_file), "tmp": str(tmp_path)}
    assert message.format(**fill) in usage_error(capsys, script, [*argv, "--out", out.format(**fill)])
    assert a_file.read_text() == "keep me"


def test_unwritable_out_is_a_usage_error(capsys, tmp_path, no_work, monkeypatch):
    from evaluation import validate

    monkeypatch.setattr(validate.os, "access", lambda *a: False)  # (root may write anywhere)
    err = usage_error(capsys, "train_targets", ["--episodes", "1", "--out", str(tmp_path / "d" / "tt.json")])
    assert f"--out: cannot write in '{tmp_path}'" in err


def test_results_are_written_atomically_into_missing_folders(tmp_path, monkeypatch):
    path = bench_args.write_text(tmp_path / "new" / "sub" / "tt.json", "{}\n")
    assert path.read_text() == "{}\n" and [p.name for p in path.parent.iterdir()] == ["tt.json"]

    import evaluation.output as output

    def disk_full(*a):
        raise OSError("disk full")

    with monkeypatch.context() as m:
        m.setattr(output.os, "replace", disk_full)
        with pytest.raises(OSError, match="disk full"):
            bench_args.write_text(path, '{"half": ')
    assert path.read_text() == "{}\n" and [p.name for p in path.parent.iterdir()] == ["tt.json"]


def test_a_run_writes_all_of_its_results_or_none(tmp_path, monkeypatch):
    import json

    import headroom

    import evaluation.output as output

    def disk_full(*a):
        raise OSError("disk full")

    out = tmp_path / "new" / "folder"
    with monkeypatch.context() as m:  # the rename fails: no file, nor a temporary, left
        m.setattr(output.os, "replace", disk_full)
        with pytest.raises(OSError, match="disk full"):
            headroom.main(["--instances", "0", "--seeds", "1", "--out", str(out)])
    assert list(out.iterdir()) == []
    headroom.main(["--instances", "0", "--seeds", "1", "--out", str(out)])
    assert sorted(p.name for p in out.iterdir()) == ["headroom.json", "headroom.md"]
    assert list(json.loads((out / "headroom.json").read_text())) == [next(iter(headroom.INSTANCES))]
