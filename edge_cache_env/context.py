"""Age of Context (AoC): decayed example mass per model and task, accuracy, per-model AoC.

    S[m,k](t+1) = nu * S[m,k](t) + served_at_edge[m,k](t)     (row capped at W[m])
    C[m,k]      = S[m,k] + rho * sum_{j != k} S[m,j]
    A[m,k]      = min(acc_max, acc0 + acc_gain * log2(1 + C[m,k]))
    AoC[m]      = sum_k p[m,k] C[m,k]       (p: EWMA of the model's task mix)
"""

from __future__ import annotations

import numpy as np

from edge_cache_env.config import EnvConfig


class AgeOfContext:
    """The context state of every model; vectorised over models and tasks."""

    def __init__(self, config: EnvConfig) -> None:
        models = config.models
        self.nu = config.aoc.nu
        self.rho = config.aoc.rho
        self.mix_rate = config.aoc.task_mix_ewma
        self.n_tasks = config.aoc.tasks_per_model
        self.window = np.array([m.window_examples for m in models], dtype=np.float64)
        self.acc0 = np.array([m.acc0 for m in models], dtype=np.float64)
        self.acc_gain = np.array([m.acc_gain for m in models], dtype=np.float64)
        self.acc_max = np.array([m.acc_max for m in models], dtype=np.float64)
        n = len(models)
        self.mass = np.zeros((n, self.n_tasks))  # S
        self.task_mix = np.full((n, self.n_tasks), 1.0 / self.n_tasks)  # p
        self.effective = np.zeros((n, self.n_tasks))  # C, derived from S
        self.accuracy = np.empty((n, self.n_tasks))  # A at the edge, derived from C
        self.aoc = np.zeros(n)  # AoC per model, derived from p and C
        self.reset()

    def reset(self) -> None:
        self.mass.fill(0.0)
        self.task_mix.fill(1.0 / self.n_tasks)
        self._derive()

    def evict(self, m: int) -> None:
        """The context lived in GPU memory: eviction throws it away."""
        self.mass[m] = 0.0
        self.effective[m] = 0.0
        self.accuracy[m] = self.acc0[m]
        self.aoc[m] = 0.0

    def update(self, served_at_edge: np.ndarray, requested: np.ndarray) -> None:
        """End of a slot: decay, add the examples served at the edge, cap at the window.

        ``served_at_edge[m, k]`` counts requests served at the edge; ``requested[m, k]`` all
        requests of the slot (the task mix follows demand, wherever it was served).
        """
        s = self.mass
        s *= self.nu
        s += served_at_edge
        total = s.sum(axis=1)
        over = total > self.window
        if over.any():
            # The oldest examples fall out: scale the row down to the window.
            s[over] *= (self.window[over] / total[over])[:, None]
        per_model = requested.sum(axis=1)
        seen = per_model > 0
        if seen.any():
            share = requested[seen] / per_model[seen, None]
            self.task_mix[seen] += self.mix_rate * (share - self.task_mix[seen])
        self._derive()

    def _derive(self) -> None:
        s = self.mass
        np.multiply(s, 1.0 - self.rho, out=self.effective)
        self.effective += self.rho * s.sum(axis=1, keepdims=True)
        np.log2(1.0 + self.effective, out=self.accuracy)
        self.accuracy *= self.acc_gain[:, None]
        self.accuracy += self.acc0[:, None]
        np.minimum(self.accuracy, self.acc_max[:, None], out=self.accuracy)
        np.einsum("mk,mk->m", self.task_mix, self.effective, out=self.aoc)
