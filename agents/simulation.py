"""Choosing by simulation: paired episodes of the scenario's own workload model.

Some agents decide how to act on a scenario before playing it, by simulating a few episodes of
that scenario (its config, as ``cost_benefit`` reads the catalog) and comparing candidates on
them: ``cost_benefit_tuned`` picks a setting of the rule (:mod:`agents.tuned`), the generalist
checks that its learned policy beats the rule before it plays it (:mod:`agents.generalist`).
Both use the same seeds, the same split of a trace, the same side-by-side runs and the same
significance test, from here. No realised request of a played episode is read.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from edge_cache_env.config import EnvConfig
from edge_cache_env.vector_env import EdgePFMCacheVectorEnv

#: Seeds of the simulated episodes: outside the benchmark (0..9_999), evaluation
#: (10_000..10_999) and training (100_000 + 1_000 * run seed ...) ranges of evaluation/seeds.py
#: (a test checks it; agents may not import evaluation).
TUNING_SEEDS: tuple[int, ...] = tuple(range(900_000, 900_008))
#: A candidate replaces the default only if its paired mean saving over the simulated episodes
#: exceeds this many standard errors: with a few episodes the best of several candidates is often
#: the luckiest, not the best (with 4 episodes and no test a tuned setting lost up to 3.5% on
#: some scenarios).
CONFIDENCE_SE = 2.0

#: An actor plays a block of rows: (observations ``[b, D]``, action masks ``[b, A]``) -> actions.
Actor = Callable[[np.ndarray, np.ndarray], np.ndarray]


def tuning_config(config: EnvConfig) -> EnvConfig:
    """The config simulated for ``config``: itself, on its trace's train split if it replays one."""
    if config.workload.source != "synthetic" and config.workload.split != "train":
        return replace(config, workload=replace(config.workload, split="train"))
    return config


class PerScenario:
    """What an agent decided for each scenario config it met, decided once: looked up by the
    config object (an env keeps its own; the entry holds it, so its id is not reused), then by
    equality (another env of the same scenario). EnvConfig holds mappings: it is not hashable."""

    def __init__(self) -> None:
        self._by_id: dict[int, tuple[EnvConfig, Any]] = {}

    def get(self, config: EnvConfig, decide: Callable[[EnvConfig], Any]) -> Any:
        """The value for ``config``: the one decided before for it (or an equal one), else
        ``decide(config)``."""
        if id(config) in self._by_id:
            return self._by_id[id(config)][1]
        value = next((v for c, v in self._by_id.values() if c == config), None)
        if value is None:
            value = decide(config)
        self._by_id[id(config)] = (config, value)
        return value


def side_by_side_costs(config: EnvConfig, actors: Sequence[Actor], seeds: Sequence[int]) -> np.ndarray:
    """``[actor, seed]`` episode costs of each actor on ``seeds`` of ``config``, all in one native
    vector env (row ``i * len(seeds) + j`` is actor i on seed j: the actors' episodes are paired)."""
    n = len(seeds)
    venv = EdgePFMCacheVectorEnv(num_envs=len(actors) * n, config=config, autoreset_mode="Disabled")
    obs, _ = venv.reset(seed=[int(s) for _ in actors for s in seeds])
    cost = np.zeros(len(actors) * n)
    done = np.zeros(len(actors) * n, dtype=bool)
    actions = np.zeros(len(actors) * n, dtype=np.int64)
    while not done.all():
        masks = venv.action_masks()
        for i, actor in enumerate(actors):
            block = slice(i * n, (i + 1) * n)
            actions[block] = actor(obs[block], masks[block])
        obs, _, terminated, truncated, info = venv.step(actions)
        ended = (terminated | truncated) & ~done
        if ended.any():  # the episode figures are in the info of the steps where some end
            cost[ended] = info["episode_cost"][ended]
            done |= ended
    venv.close()
    return cost.reshape(len(actors), n)


def paired_savings(costs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each candidate's mean saving over the default (row 0 of ``[candidate, seed]`` costs) and
    its standard error, from the paired episodes (inf with one seed)."""
    saving = costs[0] - costs  # paired: the same episodes
    se = saving.std(axis=1, ddof=1) / np.sqrt(costs.shape[1]) if costs.shape[1] > 1 else \
        np.full(len(costs), np.inf)
    return saving.mean(axis=1), se


def choose(costs: np.ndarray, confidence_se: float = CONFIDENCE_SE) -> int:
    """Index of the candidate to play from ``[candidate, seed]`` costs (row 0: the default): the
    one of largest mean saving over the default among those whose paired saving is significant."""
    mean, se = paired_savings(costs)
    ok = mean > confidence_se * se
    ok[0] = True
    return int(np.argmax(np.where(ok, mean, -np.inf)))


__all__ = ["CONFIDENCE_SE", "TUNING_SEEDS", "Actor", "PerScenario", "choose", "paired_savings", "side_by_side_costs",
           "tuning_config"]
