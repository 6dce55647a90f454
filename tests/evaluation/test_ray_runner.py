"""evaluate.py --ray: the same numbers as the local run, from Ray tasks."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("ray")  # the [ray] extra, installed by `make test`

from evaluation.engine import run_benchmark  # noqa: E402

TIMING = ("seconds", "steps_per_s", "seconds_mean")


def _without_timings(obj):
    if isinstance(obj, dict):
        return {k: _without_timings(v) for k, v in obj.items() if k not in TIMING}
    if isinstance(obj, list):
        return [_without_timings(v) for v in obj]
    return obj


@pytest.mark.slow
def test_ray_results_equal_the_local_run(local_ray):
    from evaluation.ray_runner import run_benchmark_ray

    args = ("EdgePFMCache-Small-v0", ["lc", "lru", "oracle"], [0, 1, 2], {"n_slots": 20})
    local = run_benchmark(*args, progress=False)
    remote = run_benchmark_ray(*args, progress=False)
    assert remote.bound_costs == local.bound_costs
    assert _without_timings(remote.episodes) == _without_timings(local.episodes)
    assert _without_timings(remote.summary()) == _without_timings(local.summary())


@pytest.mark.slow
def test_evaluate_cli_with_ray(local_ray, tmp_path):
    from evaluation.cli import main

    summary = main(["--env", "EdgePFMCache-Small-v0", "--agents", "lc,lru", "--episodes", "2",
                    "--env-kwargs", '{"n_slots": 20}', "--out", str(tmp_path), "--no-plots",
                    "--quiet", "--ray"])
    local = main(["--env", "EdgePFMCache-Small-v0", "--agents", "lc,lru", "--episodes", "2",
                  "--env-kwargs", '{"n_slots": 20}', "--out", str(tmp_path / "local"), "--no-plots",
                  "--quiet"])
    assert summary["agents"]["lc"]["episode_costs"] == local["agents"]["lc"]["episode_costs"]
    assert json.loads((tmp_path / "results.json").read_text())["agents"].keys() == {"lc", "lru"}


def test_bad_agent_fails_before_ray_starts():
    from evaluation.ray_runner import run_benchmark_ray

    with pytest.raises(ValueError, match="unknown agent"):
        run_benchmark_ray("EdgePFMCache-Small-v0", ["nope"], [0], {"n_slots": 20}, progress=False)


@pytest.mark.slow
def test_ray_reports_inapplicable_agents_as_the_local_run_does(local_ray):
    from agents.trained import PRETRAINED_DIR
    from evaluation.ray_runner import run_benchmark_ray

    # A 10-model policy on the 6-model catalog: n/a with its reason, the others scored.
    args = ("EdgePFMCache-Small-v0", ["lc", f"ppo:{PRETRAINED_DIR / 'ppo.zip'}"], [0, 1], {"n_slots": 20})
    local = run_benchmark(*args, bound=False, progress=False)
    remote = run_benchmark_ray(*args, bound=False, progress=False)
    assert remote.not_applicable == local.not_applicable and len(remote.not_applicable) == 1
    assert list(remote.episodes) == ["lc"] and remote.failed == {}
    assert _without_timings(remote.summary()) == _without_timings(local.summary())


@pytest.mark.slow
def test_ray_records_what_an_agent_chose_as_the_local_run_does(local_ray):
    from evaluation.ray_runner import run_benchmark_ray

    args = ("EdgePFMCache-Small-v0", ["lc", "cost_benefit_tuned"], [0, 1], {"n_slots": 20})
    local = run_benchmark(*args, bound=False, progress=False)
    remote = run_benchmark_ray(*args, bound=False, progress=False)
    assert remote.reports == local.reports and "setting" in remote.reports["cost_benefit_tuned"]
