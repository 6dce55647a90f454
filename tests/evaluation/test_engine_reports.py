"""The benchmark engine records what an agent reports it chose for the scenario (results.json)."""

from __future__ import annotations

from dataclasses import asdict

from agents import make
from agents.cost_benefit import CostBenefitConfig
from agents.simulation import TUNING_SEEDS
from agents.tuned import TunedCostBenefit
from evaluation.engine import run_benchmark


def test_an_agents_report_is_kept_beside_its_figures():
    tuned = TunedCostBenefit(grid=(CostBenefitConfig(), CostBenefitConfig(horizon_slots=2.0)),
                             seeds=TUNING_SEEDS[:2])
    result = run_benchmark("EdgePFMCache-Small-v0", ["lc", "tuned"], seeds=[0, 1],
                           env_kwargs={"n_slots": 20}, bound=False, progress=False,
                           make_agent=lambda spec: tuned if spec == "tuned" else make(spec))
    agents = result.summary()["agents"]
    assert agents["tuned"]["report"] == {"setting": asdict(tuned.params)}
    assert "report" not in agents["lc"]  # LC has nothing to report


def test_a_random_scenario_timeline_names_its_own_episode_catalog():
    import gymnasium as gym

    from evaluation.engine import record_timeline

    for seed in (0, 1):
        tl = record_timeline("EdgePFMCache-Random-v0", "lc", seed)
        env = gym.make("EdgePFMCache-Random-v0")
        env.reset(seed=seed)
        cfg = env.unwrapped.config
        assert tl.model_names == [m.name for m in cfg.models] and tl.gpu_gb == cfg.server.gpu_gb
        assert len(tl.cached[0]) == len(tl.model_names)


def test_reports_that_differ_by_episode_are_kept_per_seed():
    from evaluation.engine import merge_reports

    class Counting:  # LC that reports how many episodes it has played (a per-episode choice)
        def __init__(self) -> None:
            self.lc, self.episodes = make("lc"), 0

        def __getattr__(self, name: str):
            return getattr(self.lc, name)

        def reset(self, *args, **kwargs):
            self.episodes += 1
            return self.lc.reset(*args, **kwargs)

        def report(self) -> dict:
            return {"episodes": self.episodes}

    counting = Counting()
    result = run_benchmark("EdgePFMCache-Small-v0", ["lc", "counting"], seeds=[0, 1],
                           env_kwargs={"n_slots": 20}, bound=False, progress=False, vectorize=False,
                           make_agent=lambda spec: counting if spec == "counting" else make(spec))
    assert result.reports["counting"] == {"per_seed": [{"episodes": 1}, {"episodes": 2}]}
    assert merge_reports([{"a": 1}, {"a": 1}]) == {"a": 1}
