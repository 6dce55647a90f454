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
