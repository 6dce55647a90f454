"""``cost_benefit_tuned``: the cost-benefit rule with its parameters chosen per scenario by simulation.

:class:`~agents.cost_benefit.CostBenefit` has three parameters (horizon, keep weight, margin),
calibrated once over a set of scenarios. The best values move with the scenario: under heavy
load a short horizon and a large margin pay. :class:`TunedCostBenefit` knows the scenario's config (as
``cost_benefit`` knows the catalog) and, the first time it meets a config, plays every setting
of a small grid on a few simulated episodes of that config (its own seeds,
:data:`TUNING_SEEDS`, never a benchmark episode; a trace scenario is tuned on the trace's
``train`` split), all side by side in one native vector env, and then acts as the rule with the
setting of largest mean saving over the calibrated default, if that saving is significant on
the paired episodes (:func:`choose`), else with the default. It reads no realised request of
the episode it plays: it is a reactive policy that uses the scenario's workload model, as an
operator who simulates before deploying would.
"""

from __future__ import annotations

import itertools
from dataclasses import asdict
from typing import Any

import numpy as np

from agents.base import Agent
from agents.cost_benefit import CostBenefit, CostBenefitConfig
from agents.padded import refuse_padded
from agents.simulation import TUNING_SEEDS, PerScenario, choose, side_by_side_costs, tuning_config
from edge_cache_env.config import EnvConfig


def product_grid(horizons: tuple[float, ...], keep_weights: tuple[float, ...],
                 margins: tuple[float, ...]) -> tuple[CostBenefitConfig, ...]:
    """Every setting of ``horizons x keep_weights x margins``, the calibrated default first."""
    return (CostBenefitConfig(),) + tuple(
        CostBenefitConfig(h, k, m) for h, k, m in itertools.product(horizons, keep_weights, margins)
        if CostBenefitConfig(h, k, m) != CostBenefitConfig())


#: The settings tried: horizons (slots) x keep weights x margins (cost units). Large keep weights
#: and margins (hysteresis: load rarely) are what pays under heavy load on a GPU of finite
#: throughput, where each switch cold-starts the newcomer and sends the victim's queue to the
#: cloud (evaluation seeds 10000..10007 of load-8: 0.816x the calibrated rule, against 0.841x for
#: the best setting of GRID_0_2).
GRID: tuple[CostBenefitConfig, ...] = product_grid(
    (3.0, 5.0, 8.0, 12.0, 20.0, 32.0), (1.0, 3.0, 10.0, 30.0), (0.0, 2.0, 20.0, 100.0))
#: The grid of package 0.2.0 and before (36 settings), kept so that runs warm-started from the
#: rule it tuned (the shipped generalist's) still reproduce: ``TunedCostBenefit(grid="0.2")``.
GRID_0_2: tuple[CostBenefitConfig, ...] = product_grid(
    (3.0, 5.0, 8.0, 12.0, 20.0, 32.0), (1.0, 3.0, 5.0), (0.0, 2.0))
#: The grids by the package version that introduced them (``grid=`` accepts the name).
GRIDS: dict[str, tuple[CostBenefitConfig, ...]] = {"0.3": GRID, "0.2": GRID_0_2}


def episode_costs(config: EnvConfig, settings: tuple[CostBenefitConfig, ...],
                  seeds: tuple[int, ...]) -> np.ndarray:
    """``[setting, seed]`` episode costs of the rule with each setting on ``seeds`` of ``config``
    (one vector env: row ``i * len(seeds) + j`` plays setting i on seed j)."""
    rules = [CostBenefit(p, env_config=config) for p in settings]
    return side_by_side_costs(config, [lambda obs, _masks, rule=rule: rule.act(obs) for rule in rules], seeds)


class TunedCostBenefit(Agent):
    """``cost_benefit`` with the grid setting that saves most (significantly) on simulated episodes
    of the scenario it plays."""

    name = "cost_benefit_tuned"

    def __init__(self, grid: tuple[CostBenefitConfig, ...] | str = GRID,
                 seeds: tuple[int, ...] = TUNING_SEEDS) -> None:
        if isinstance(grid, str):
            if grid not in GRIDS:
                raise ValueError(f"cost_benefit_tuned: unknown grid {grid!r}; valid: {', '.join(GRIDS)}")
            grid = GRIDS[grid]
        if not isinstance(grid, (tuple, list)) or not grid or not all(
                isinstance(p, CostBenefitConfig) for p in grid):
            raise ValueError(f"cost_benefit_tuned: grid must be a grid's name ({', '.join(GRIDS)}) or "
                             f"a non-empty tuple of CostBenefitConfig, got {grid!r}")
        if len(seeds) < 2:
            raise ValueError(f"cost_benefit_tuned: seeds must hold at least 2 seeds (a paired test), "
                             f"got {seeds!r}")
        if grid[0] != CostBenefitConfig():
            raise ValueError("cost_benefit_tuned: the grid's first setting must be the calibrated "
                             "default (CostBenefitConfig()), which the others must beat")
        self.grid, self.seeds = tuple(grid), tuple(int(s) for s in seeds)
        self._chosen = PerScenario()  # the setting chosen per scenario met
        self._config: EnvConfig | None = None
        self.rule: CostBenefit | None = None

    def attach(self, env: Any) -> None:
        """Tune for the env's config the first time it is met (cached), then act with it."""
        refuse_padded(env, self)
        cfg = env.unwrapped.config
        if cfg is self._config:
            return
        chosen = self._chosen.get(cfg, lambda c: self.grid[choose(episode_costs(tuning_config(c), self.grid,
                                                                               self.seeds))])
        self._config = cfg
        self.rule = CostBenefit(chosen, env_config=cfg)

    @property
    def params(self) -> CostBenefitConfig | None:
        """The setting chosen for the attached scenario."""
        return None if self.rule is None else self.rule.params

    def report(self) -> dict[str, Any]:
        """The setting it plays on the attached scenario (recorded by the benchmark engine)."""
        return {"setting": None if self.params is None else asdict(self.params)}

    def act(self, obs: np.ndarray) -> np.ndarray:
        if self.rule is None:
            raise RuntimeError("cost_benefit_tuned tunes on the scenario: call agent.attach(env) "
                               "after env.reset() (evaluate.py does)")
        return self.rule.act(obs)


__all__ = ["GRID", "GRIDS", "GRID_0_2", "TunedCostBenefit", "episode_costs", "product_grid"]
