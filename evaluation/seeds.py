"""The seed rule that keeps training, model selection and the benchmark apart.

Every episode of the environment is fixed by the seed of its ``reset``. Three disjoint ranges
(and a fourth, ``agents.simulation.TUNING_SEEDS`` 900_000.., which no run seed's block may hold):

* benchmark (``evaluate.py``): seeds ``0 .. 9_999`` (``--seed 0 --episodes 20`` uses 0..19);
* evaluation during training (best-model selection, curves): ``10_000 .. 10_999``;
* training: run seed ``S``, vector env ``i`` starts from ``100_000 + 1_000 * S + i`` and later
  episodes continue that env's random stream (never re-seeded from a small number).

So a trained agent is never trained nor selected on an episode the benchmark scores it on.
"""

from __future__ import annotations

from agents.simulation import TUNING_SEEDS  # a fourth range, owned by the agents that use it

BENCHMARK_SEEDS = range(0, 10_000)
EVAL_SEED_BASE = 10_000
MAX_EVAL_EPISODES = 1_000
TRAIN_SEED_BASE = 100_000
MAX_ENVS = 1_000
# Largest run seed: env i (< 100) of resume 9, seed train_seed(S, 9) + i <= S's block end
# 100_000 + 1_000 S + 999, must stay a valid numpy / gymnasium seed (< 2**32).
MAX_RUN_SEED = (2**32 - 1 - TRAIN_SEED_BASE - (MAX_ENVS - 1)) // MAX_ENVS


def train_seed(seed: int, resume_index: int = 0) -> int:
    """Base seed of the training vector env of run ``seed`` (env ``i`` gets ``base + i``).

    A resumed run (``resume_index`` >= 1) starts fresh streams inside the run's own block, so
    it does not replay the episodes the first leg trained on.
    """
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed = {seed!r} is invalid: must be an integer >= 0")
    return TRAIN_SEED_BASE + MAX_ENVS * seed + 100 * resume_index


def eval_seeds(n_episodes: int) -> list[int]:
    """Held-out seeds of the periodic evaluation (one episode each)."""
    if not 1 <= n_episodes <= MAX_EVAL_EPISODES:
        raise ValueError(f"n_eval_episodes = {n_episodes} is invalid: must be in 1..{MAX_EVAL_EPISODES}")
    return [EVAL_SEED_BASE + j for j in range(n_episodes)]


def check_training_seeds(seed: int, n_envs: int, resume_index: int = 0) -> None:
    """Fail if env ``i`` of this run could leave the run's own block of 1_000 seeds, or if the
    block holds the seeds the tuned rule and the generalist simulate on (run seed 800)."""
    block = range(TRAIN_SEED_BASE + MAX_ENVS * seed, TRAIN_SEED_BASE + MAX_ENVS * (seed + 1))
    if any(s in block for s in TUNING_SEEDS):
        raise ValueError(f"seed = {seed} is invalid: its training seeds {block.start}.."
                         f"{block.stop - 1} hold the simulated episodes' seeds "
                         f"({TUNING_SEEDS[0]}..{TUNING_SEEDS[-1]}, agents/simulation.py); "
                         f"use another run seed")
    if not 1 <= n_envs <= 100:
        raise ValueError(f"n_envs = {n_envs} is invalid: must be in 1..100 (seed block layout)")
    if not 0 <= resume_index < MAX_ENVS // 100:
        raise ValueError(f"a run can be resumed at most {MAX_ENVS // 100 - 1} times "
                         f"(seed block layout), this would be resume {resume_index}")
