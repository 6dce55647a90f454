"""The scenario suite and evaluate.py --suite: data, matrix, n/a handling, files that survive failures."""

from __future__ import annotations

import csv
import dataclasses
import json
import math

import gymnasium as gym
import numpy as np
import pytest

import agents as agents_pkg
from agents.bounds import MAX_MODELS
from edge_cache_env import scenarios as sc_mod
from edge_cache_env.catalog import catalog_defaults
from edge_cache_env.scenarios import Scenario, resolve_suite, select_scenarios
from evaluation import cli as evaluate
from evaluation.engine import BenchmarkResult, run_benchmark
from evaluation.output import write_json
from evaluation.suite import aggregates, build_matrix, outcome


def big_catalog(n: int = MAX_MODELS + 1) -> list[dict]:
    """``n`` models as plain JSON (the default catalog repeated under new names)."""
    base = catalog_defaults("default")["models"]
    return [dataclasses.asdict(dataclasses.replace(base[i % len(base)], name=f"{base[i % len(base)].name}-{i}"))
            for i in range(n)]


# --- the suite as data -------------------------------------------------------------------------

def test_default_suite_is_versioned_and_covers_the_field():
    version, scenarios = resolve_suite("default")
    assert version == "default-v2" and resolve_suite("default-v2")[1] == scenarios
    # default-v1 stays as published: the same scenarios, the loaded ones on the v1 ids.
    v1 = resolve_suite("default-v1")[1]
    assert [s.name for s in v1] == [s.name for s in scenarios]
    assert [s.env_id.replace("-v1", "-v2") for s in v1] == [s.env_id for s in scenarios]
    assert sum(s.env_id.endswith("-v1") for s in v1) == 5
    assert len(scenarios) >= 12 and len({s.name for s in scenarios}) == len(scenarios)
    kw = [s.env_kwargs for s in scenarios]
    gpus = [k["gpu_gb"] for k in kw if "gpu_gb" in k]
    loads = [k["requests_per_slot"] for k in kw if "requests_per_slot" in k]
    assert min(gpus) <= 40 and max(gpus) >= 160 and min(loads) <= 0.5 and max(loads) >= 8
    assert any("zipf_models" in k for k in kw) and any("shift_fraction" in k for k in kw)
    assert any("aoc" in k for k in kw) and any("model_overrides" in k for k in kw)
    ids = {s.env_id for s in scenarios}
    assert {"EdgePFMCache-v0", "EdgePFMCache-Small-v0", "EdgePFMCache-Large-v0"} <= ids
    for trace in ("ServeGen", "Mooncake", "Azure"):
        (s,) = [s for s in scenarios if s.env_id == f"EdgePFMCache-{trace}-v2"]  # loaded: v2
        assert s.env_kwargs == {"split": "test"}
    assert {s.env_id for s in scenarios if s.kwargs().get("requests_per_slot", 0) >= 8} == {"EdgePFMCache-v2"}
    for s in scenarios:
        assert json.loads(json.dumps(s.to_dict())) == s.to_dict() and s.purpose


def test_every_scenario_builds():
    for s in resolve_suite("default-v1")[1] + resolve_suite("default-v2")[1]:
        env = gym.make(s.env_id, **s.kwargs())
        if s.name == "catalog-large":
            assert env.unwrapped.config.n_models >= 20
        env.close()


def test_unknown_names_list_the_valid_ones():
    with pytest.raises(ValueError, match="unknown suite 'x'; valid: default, default-v1, default-v2"):
        resolve_suite("x")
    with pytest.raises(ValueError, match=r"unknown scenario\(s\) \['x'\]; valid: base, gpu-40"):
        select_scenarios(resolve_suite("default")[1], ["base", "x"])
    assert [s.name for s in select_scenarios(resolve_suite("default")[1], ["gpu-40", "base"])] == ["gpu-40", "base"]


def test_scenario_is_validated_plain_json():
    with pytest.raises(ValueError, match="not plain JSON"):
        Scenario("x", "EdgePFMCache-v0", {"gpu_gb": float("nan")}, "p")
    with pytest.raises(ValueError, match="purpose must be one non-empty line"):
        Scenario("x", "EdgePFMCache-v0", {}, "")
    with pytest.raises(ValueError, match="scenario name 'a b'"):
        Scenario("a b", "EdgePFMCache-v0", {}, "p")
    s = Scenario("x", "EdgePFMCache-v0", {"aoc": {"nu": 0.9}}, "p")
    s.kwargs()["aoc"]["nu"] = 0.1
    assert s.env_kwargs["aoc"]["nu"] == 0.9  # callers get copies


# --- evaluate.py --suite end to end ------------------------------------------------------------

class Broken:
    """An agent that fails on its second episode."""

    def __init__(self) -> None:
        self.episodes = 0

    def reset(self, seed: int) -> None:
        self.episodes += 1
        if self.episodes == 2:
            raise RuntimeError("boom on purpose")

    def predict(self, obs, deterministic=True):
        return np.zeros(1, dtype=np.int64), None


@pytest.fixture
def tiny_suite(monkeypatch):
    monkeypatch.setitem(sc_mod.SUITES, "tiny-v1", (
        Scenario("small", "EdgePFMCache-Small-v0", {"n_slots": 20}, "small catalog"),
        Scenario("big", "EdgePFMCache-v0", {"n_slots": 20, "gpu_gb": 80, "models": big_catalog()},
                 "beyond the oracle and the bound"),
        Scenario("absent", "EdgePFMCache-Absent-v0", {}, "an env id not registered"),
    ))
    monkeypatch.setitem(agents_pkg.AGENTS, "broken", Broken)


def test_suite_end_to_end_with_na_failures_and_absent_env(tmp_path, tiny_suite, capsys):
    out = tmp_path / "suite"
    data = evaluate.main(["--suite", "tiny-v1", "--agents", "lc,cloud,oracle,broken", "--episodes", "2",
                          "--out", str(out), "--quiet"])
    printed = capsys.readouterr().out
    disk = json.loads((out / "results.json").read_text())
    assert disk["suite"] == "tiny-v1" and list(disk["scenarios"]) == ["small", "big", "absent"]
    assert disk["matrix"] == json.loads(json.dumps(data["matrix"]))
    small, big = disk["scenarios"]["small"], disk["scenarios"]["big"]
    assert set(small["agents"]) == {"lc", "cloud", "oracle"} and small["lower_bound"]["mean_cost"] > 0
    assert small["failed"] == {"broken": "RuntimeError: boom on purpose (seed 1)"}
    assert "oracle plans over cache sets of up to 12 models; this catalog has 17" in big["not_applicable"]["oracle"]
    assert big["lower_bound"] is None and "up to 16 models; this catalog has 17" in big["lower_bound_na"]
    assert "not registered" in disk["scenarios"]["absent"]["unavailable"]
    m = disk["matrix"]
    assert m["small"]["cloud"]["status"] == "ok" and m["small"]["cloud"]["outcome"] in ("tie", "loss")
    assert m["small"]["cloud"]["ratio_to_lc"] == pytest.approx(
        small["agents"]["cloud"]["mean_cost"] / small["agents"]["lc"]["mean_cost"])
    assert m["big"]["oracle"]["status"] == "n/a" and m["small"]["broken"]["status"] == "failed"
    assert m["absent"]["lc"]["status"] == "unavailable"
    agg = disk["aggregates"]
    assert agg["cloud"]["scored"] == 2 and agg["cloud"]["losses"] + agg["cloud"]["ties"] == 2
    assert agg["oracle"]["not_applicable"] == 2
    assert agg["lc"]["geomean_ratio_to_lc"] == 1.0 and agg["broken"]["failed"] == 2
    assert "oracle on big: n/a: oracle plans over" in printed and "absent: env id" in printed
    with open(out / "results.csv") as f:
        rows = list(csv.DictReader(f))
    assert {(r["scenario"], r["agent"]) for r in rows} >= {("small", "lc"), ("big", "cloud")}
    assert len(rows) == 2 * 3 + 2 * 2  # small: lc, cloud, oracle; big: lc, cloud (oracle n/a, broken failed)
    assert (out / "heatmap.png").stat().st_size > 10_000 and (out / "matrix.csv").is_file()


def test_agents_all_on_a_large_catalog_skips_the_oracle(tmp_path, capsys):
    out = tmp_path / "big"
    kwargs = json.dumps({"n_slots": 20, "models": big_catalog(13)})
    data = evaluate.main(["--env", "EdgePFMCache-v0", "--env-kwargs", kwargs, "--agents", "all",
                          "--episodes", "1", "--out", str(out), "--quiet", "--no-plots"])
    assert "oracle" in data["not_applicable"] and "oracle" not in data["agents"]
    assert set(data["agents"]) == set(agents_pkg.AGENTS) - {"oracle"}
    assert data["lower_bound"] is not None  # 13 <= 16 models
    reason = "oracle plans over cache sets of up to 12 models; this catalog has 13"
    assert f"oracle: n/a ({reason})" in capsys.readouterr().out
    assert json.loads((out / "results.json").read_text())["not_applicable"] == data["not_applicable"]


# --- ratios and strict JSON --------------------------------------------------------------------

def _result(costs: dict[str, list[float]]) -> BenchmarkResult:
    eps = {a: [{"cost": c, **{k: 0.0 for k in ("hit_ratio", "cloud_share", "loads_per_hour", "mean_accuracy",
                                                "mean_aoc", "invalid_actions", "loads", "evictions", "steps")},
                "seconds": 1.0, **{f"cost_{t}": 0.0 for t in ("latency", "energy", "accuracy", "cloud",
                                                               "switch", "invalid")}}
               for c in cs] for a, cs in costs.items()}
    return BenchmarkResult("EdgePFMCache-v0", {}, list(range(len(next(iter(costs.values()))))), eps, None, None)


def test_zero_lc_cost_gives_null_ratios_and_strict_json(tmp_path):
    s = _result({"lc": [0.0, 0.0], "lru": [1.0, 2.0]}).summary()
    assert s["agents"]["lru"]["ratio_to_lc"] is None and s["agents"]["lru"]["ratio_ci95"] is None
    assert s["agents"]["lru"]["diff_vs_lc"]["mean"] == 1.5
    s["agents"]["lru"]["mean_aoc"] = float("nan")
    path = write_json(tmp_path / "r.json", s)
    text = path.read_text()
    assert "NaN" not in text and json.loads(text)["agents"]["lru"]["mean_aoc"] is None
    matrix = build_matrix({"x": s}, ["lc", "lru"])
    assert aggregates(matrix, ["lc", "lru"])["lru"]["geomean_ratio_to_lc"] is None


def test_without_lc_ratios_are_null():
    s = _result({"lru": [1.0, 2.0], "fifo": [2.0, 3.0]}).summary()
    assert all(r["ratio_to_lc"] is None and "diff_vs_lc" not in r for r in s["agents"].values())
    assert outcome(s["agents"]["lru"]) is None
    agg = aggregates(build_matrix({"x": s}, ["lru", "fifo"]), ["lru", "fifo"])
    assert agg["lru"] == {**agg["lru"], "geomean_ratio_to_lc": None, "wins": 0, "scored": 0}


def test_one_episode_gives_no_interval_and_no_outcome():
    one = _result({"lc": [10.0], "lru": [12.0]}).summary()["agents"]["lru"]
    assert one["ratio_to_lc"] == pytest.approx(1.2) and one["ratio_ci95"] is None
    assert outcome(one) is None  # not a loss on the strength of a single episode
    two = _result({"lc": [10.0, 11.0, 12.0], "lru": [12.0, 13.0, 14.1]}).summary()["agents"]["lru"]
    assert two["ratio_ci95"] is not None and outcome(two) == "loss"
    agg = aggregates(build_matrix({"x": _result({"lc": [10.0], "lru": [12.0]}).summary()}, ["lc", "lru"]),
                     ["lc", "lru"])["lru"]
    assert (agg["wins"], agg["ties"], agg["losses"]) == (0, 0, 0)


def test_write_json_is_atomic(tmp_path):
    path = tmp_path / "results.json"
    write_json(path, {"a": 1})
    with pytest.raises(TypeError):
        write_json(path, {"a": object()})
    assert json.loads(path.read_text()) == {"a": 1} and [p.name for p in tmp_path.iterdir()] == ["results.json"]


def test_failed_agent_keeps_the_others():
    res = run_benchmark("EdgePFMCache-Small-v0", ["lc", "broken"], [0, 1], {"n_slots": 20}, bound=False,
                        progress=False, make_agent=lambda s: Broken() if s == "broken" else agents_pkg.make(s))
    assert list(res.episodes) == ["lc"] and "boom on purpose (seed 1)" in res.failed["broken"]
    assert not math.isnan(res.summary()["agents"]["lc"]["mean_cost"])
