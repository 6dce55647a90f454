"""benchmarks/suite_on_eval_seeds.py: agents over a suite on evaluation seeds, ratios to cost_benefit."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from edge_cache_env.scenarios import Scenario
from evaluation import validate
from evaluation.engine import run_episode

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import suite_on_eval_seeds as bench  # noqa: E402

SMALL = (Scenario("short", "EdgePFMCache-Small-v0", {"n_slots": 30}, "a short small episode"),
         Scenario("tight", "EdgePFMCache-Small-v0", {"n_slots": 20, "gpu_gb": 30}, "a tighter GPU"))


def test_ratios_are_on_evaluation_seeds_and_match_single_episodes(tmp_path, monkeypatch):
    import gymnasium as gym

    import agents

    monkeypatch.setattr(validate, "resolve_suite", lambda name: (name, SMALL))
    out = tmp_path / "r.json"
    record = bench.main(["--agents", "lru,cost_benefit_tuned", "--episodes", "2", "--scenarios", "short",
                         "--out", str(out)])
    assert list(record["mean_costs"]) == ["short"]
    assert record["seeds"] == [10_000, 10_001] and json.loads(out.read_text())["summary"]
    env = gym.make("EdgePFMCache-Small-v0", n_slots=30)
    lru = np.mean([run_episode(env, agents.make("lru"), s)["cost"] for s in (10_000, 10_001)])
    assert record["mean_costs"]["short"]["lru"] == pytest.approx(lru)
    s = record["summary"]["lru"]
    row = record["mean_costs"]["short"]
    assert s["geomean_to_cost_benefit"] == pytest.approx(row["lru"] / row["cost_benefit"])
    assert record["summary"]["cost_benefit"]["geomean_to_cost_benefit"] == 1.0


@pytest.mark.parametrize("argv, message", [
    (["--agents", "nope"], "--agents: unknown agent 'nope'"),
    (["--agents", "lc", "--episodes", "0"], "--episodes"),
    (["--agents", "lc", "--suite", "nope"], "--suite: unknown suite"),
    (["--agents", "lc", "--scenarios", "base,nope"], "--scenarios: unknown scenario(s) ['nope']"),
])
def test_bad_arguments_fail_before_any_episode(argv, message, capsys):
    with pytest.raises(SystemExit):
        bench.main(argv)
    assert message in capsys.readouterr().err
