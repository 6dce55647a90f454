"""evaluate.py end to end on the small scenario: table, JSON shape, CSV, plots."""

from __future__ import annotations

import csv
import json

import pytest

from agents import AGENTS
from edge_cache_env.costs import TERMS
from evaluation import cli as evaluate


def test_evaluate_end_to_end(tmp_path, capsys):
    out = tmp_path / "res"
    evaluate.main(["--env", "EdgePFMCache-Small-v0", "--agents", "all", "--episodes", "2",
                   "--seed", "5", "--out", str(out), "--quiet"])
    printed = capsys.readouterr().out
    assert "lower bound" in printed and "clairvoyant" in printed
    data = json.loads((out / "results.json").read_text())
    assert data["env"] == "EdgePFMCache-Small-v0" and data["episodes"] == 2 and data["seeds"] == [5, 6]
    assert isinstance(data["lower_bound"]["mean_cost"], float)
    assert list(data["agents"]) == list(AGENTS)
    for name, r in data["agents"].items():
        assert isinstance(r["mean_cost"], float) and isinstance(r["ci95"], float)
        assert len(r["episode_costs"]) == 2
        assert set(r["terms"]) == set(TERMS)
        assert r["mean_cost"] == pytest.approx(sum(r["terms"].values()))
        assert 0 <= r["hit_ratio"] <= 1 and 0 <= r["mean_accuracy"] <= 1 and r["mean_aoc"] >= 0
        assert r["mean_cost"] >= data["lower_bound"]["mean_cost"] - 1e-6, name
    assert data["agents"]["cloud"]["hit_ratio"] == 0
    with open(out / "results.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2 * len(AGENTS)
    assert {r["agent"] for r in rows} == set(AGENTS) and {r["seed"] for r in rows} == {"5", "6"}
    for png in ("costs.png", "timeline_lc.png"):
        assert (out / png).stat().st_size > 10_000


def test_sweep_env_kwargs_and_timeline_agent(tmp_path):
    out = tmp_path / "sweep"
    evaluate.main(["--env", "EdgePFMCache-Small-v0", "--agents", "lc,cloud", "--episodes", "1",
                   "--env-kwargs", '{"n_slots": 30, "aoc": {"nu": 0.9}}', "--sweep", "gpu_gb=30,50",
                   "--timeline-agent", "cloud", "--out", str(out), "--quiet"])
    data = json.loads((out / "results.json").read_text())
    assert data["env_kwargs"] == {"n_slots": 30, "aoc": {"nu": 0.9}}
    sweep = data["sweep"]
    assert sweep["param"] == "gpu_gb" and sweep["values"] == [30, 50]
    assert len(sweep["agents"]["lc"]["mean_cost"]) == 2 and len(sweep["lower_bound"]) == 2
    assert (out / "sweep_gpu_gb.png").is_file() and (out / "timeline_cloud.png").is_file()


def test_bad_arguments_are_clear_errors(tmp_path):
    with pytest.raises(SystemExit, match="--agents: unknown agent 'nope'"):
        evaluate.main(["--env", "EdgePFMCache-Small-v0", "--agents", "lc,nope", "--out", str(tmp_path)])
    with pytest.raises(SystemExit, match="--env: unknown env"):
        evaluate.main(["--env", "EdgePFMCache-v9", "--out", str(tmp_path)])
    with pytest.raises(SystemExit, match="--env-kwargs"):
        evaluate.main(["--env-kwargs", "{gpu_gb: 4", "--out", str(tmp_path)])
    with pytest.raises(SystemExit, match="--sweep"):
        evaluate.main(["--sweep", "gpu_gb", "--out", str(tmp_path)])
    with pytest.raises(SystemExit, match="--env-kwargs: .*gpu_gbb"):
        evaluate.main(["--env", "EdgePFMCache-Small-v0", "--agents", "lc", "--env-kwargs",
                       '{"gpu_gbb": 40}', "--out", str(tmp_path), "--quiet"])


def test_scenario_reading_agents_play_the_random_env():
    """cost_benefit reads the current scenario: on the padded random env it plays the scenario's
    own models (PaddedAgent), with the cost it has on that scenario's plain env."""
    import gymnasium as gym

    import agents
    from edge_cache_env.env import EdgePFMCacheEnv
    from evaluation.engine import run_episode

    env = gym.make("EdgePFMCache-Random-v0", n_max=12, n_slots=30)
    for name in ("cost_benefit", "lc"):
        got = run_episode(env, agents.make(name), 7)
        inner = env.unwrapped.inner
        plain = EdgePFMCacheEnv(config=inner.config)
        want = run_episode(plain, agents.make(name), inner.np_random_seed)
        assert got["invalid_actions"] == 0 and got["loads"] > 0
        assert got["cost"] == want["cost"]


def test_files_of_an_earlier_run_in_the_same_folder_are_pointed_out(tmp_path, capsys):
    out = tmp_path / "ev"
    evaluate.main(["--env", "EdgePFMCache-Small-v0", "--agents", "lru", "--episodes", "1",
                   "--env-kwargs", '{"n_slots": 20}', "--no-bound", "--out", str(out), "--quiet"])
    assert "earlier run" not in capsys.readouterr().err
    evaluate.main(["--env", "EdgePFMCache-Small-v0", "--agents", "lfu", "--episodes", "1",
                   "--env-kwargs", '{"n_slots": 20}', "--no-bound", "--out", str(out), "--quiet"])
    err = capsys.readouterr().err
    assert "timeline_lru.png from an earlier run" in err and "results.json" not in err
    assert (out / "timeline_lru.png").is_file()  # pointed out, not deleted


def test_an_env_that_cannot_be_built_without_kwargs_blames_the_env_not_a_flag(monkeypatch):
    import gymnasium as gym

    def broken(env_id, **kwargs):
        raise OSError("checksum mismatch: /data/traces/x.csv.gz")

    monkeypatch.setattr(gym, "make", broken)
    with pytest.raises(SystemExit, match=r"^--env: EdgePFMCache-Small-v0 with \{\} is invalid: "
                                         r"OSError: checksum mismatch"):
        evaluate.main(["--env", "EdgePFMCache-Small-v0", "--agents", "lc", "--episodes", "1"])
