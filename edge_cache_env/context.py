"""Age of Context (AoC): decayed example mass per model and task, accuracy, per-model AoC.

    S[m,k](t+1) = nu * S[m,k](t) + served_at_edge[m,k](t)     (row capped at W[m])
    C[m,k]      = S[m,k] + rho * sum_{j != k} S[m,j]
    A[m,k]      = min(acc_max, acc0 + acc_gain * log2(1 + C[m,k]))
    AoC[m]      = sum_k p[m,k] C[m,k]       (p: EWMA of the model's task mix)
"""

from __future__ import annotations

import numpy as np

from edge_cache_env import kernels
from edge_cache_env.config import EnvConfig


class AgeOfContext:
    """The context state of every model: S, p, A and AoC side by side in one row per server of
    ``state`` (``[B, 3 N K + N]``; the single simulator's is a batch of one), the arrays views
    of it. The equations are compiled once (:mod:`edge_cache_env.kernels`) and run on any row.

    ``batch=None``: one server, ``mass`` / ``task_mix`` / ``accuracy`` ``[N, K]`` and ``aoc``
    ``[N]``; ``batch=B``: a leading dimension of B servers (the vector env).
    """

    def __init__(self, config: EnvConfig, batch: int | None = None) -> None:
        models = config.models
        self.nu = config.aoc.nu
        self.rho = config.aoc.rho
        self.mix_rate = config.aoc.task_mix_ewma
        self.n_tasks = k = config.aoc.tasks_per_model
        self.window = np.array([m.window_examples for m in models], dtype=np.float64)
        self.acc0 = np.array([m.acc0 for m in models], dtype=np.float64)
        self.acc_gain = np.array([m.acc_gain for m in models], dtype=np.float64)
        self.acc_max = np.array([m.acc_max for m in models], dtype=np.float64)
        self.n_models = n = len(models)
        # C = S R with R = (1 - rho) I + rho 11^T: own task fully, the others at rho.
        self.relevance = (1.0 - self.rho) * np.eye(k) + self.rho * np.ones((k, k))
        self.params = kernels.context_params(self.nu, self.mix_rate, self.window, self.acc0,
                                             self.acc_gain, self.acc_max, self.relevance)
        self.batch = batch
        nk = n * k
        self.state = np.zeros((1 if batch is None else batch, 3 * nk + n))
        # The kernels' scratch: the requests served at the edge, then C (one server's).
        self.scratch = np.zeros(2 * nk)
        self._views()
        if batch is None:
            self._count_task: np.ndarray | None = None
            self._count: np.ndarray | None = None
        self.task_mix[...] = 1.0 / k
        self.accuracy[...] = self.acc0[:, None]  # C = 0: zero-shot
        self._fresh_state = self.state[0].copy()

    _VIEWS = ("mass", "task_mix", "accuracy", "aoc", "effective", "mass_rows", "task_mix_rows",
              "accuracy_rows", "aoc_rows")

    def _views(self) -> None:
        views = self.row_views(self.state)
        # Batch-shaped whatever the mode: what the batch simulator reads.
        self.mass_rows, self.task_mix_rows, self.accuracy_rows, self.aoc_rows = views
        if self.batch is None:
            self.mass, self.task_mix, self.accuracy, self.aoc = (v[0] for v in views)
            nk = self.n_models * self.n_tasks
            self.effective = self.scratch[nk:].reshape(self.n_models, self.n_tasks)  # last C
        else:
            self.mass, self.task_mix, self.accuracy, self.aoc = views

    def __getstate__(self) -> dict:
        # The per-model arrays are views of `state` and `scratch`; pickle would copy them apart.
        return {k: v for k, v in self.__dict__.items() if k not in self._VIEWS}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._views()

    def reset(self, count_task: np.ndarray | None = None) -> None:
        """One server: empty context; ``count_task[t, m, k]``: the episode's requests per slot,
        which the task mix follows (it follows demand only, not the agent)."""
        self.state[0] = self._fresh_state
        self.effective.fill(0.0)
        if count_task is None:
            self._count_task = self._count = None
        else:
            t = len(count_task)
            self._count_task = np.ascontiguousarray(count_task, dtype=np.float64).reshape(1, t, -1)
            # Integer counts: exact in any order.
            self._count = self._count_task.reshape(t, self.n_models, -1).sum(axis=2).reshape(1, t, -1)

    def evict(self, m: int) -> None:
        """The context lived in GPU memory: eviction throws it away.

        C is not reset: it is only read through its derived values (accuracy, AoC), reset
        here, and is rederived at the next update.
        """
        self.mass[m] = 0.0
        self.accuracy[m] = self.acc0[m]  # a model reloaded in the same slot starts zero-shot
        self.aoc[m] = 0.0

    def update(self, served_at_edge: np.ndarray, slot: int) -> None:
        """One server, end of slot ``slot``: decay, add the examples served at the edge, cap at
        the window; the task mix takes the slot's step
        (:func:`~edge_cache_env.kernels.update_context`).

        ``served_at_edge[m, k]`` counts the slot's requests served at the edge.
        """
        if self._count_task is None:
            raise RuntimeError("AgeOfContext.reset(count_task) must be called at episode start")
        self.update_rows(np.zeros(1, dtype=np.int64), served_at_edge, self._count_task[:, slot],
                         self._count[:, slot])

    def decay(self, mass: np.ndarray, served_at_edge: np.ndarray) -> None:
        """:meth:`update`'s decay of ``mass[..., N, K]`` (C-contiguous, in place), each context
        adding the same ``served_at_edge[N, K]``: the planner's contexts, one per load slot."""
        kernels.decay_all(mass.reshape(-1, self.n_models * self.n_tasks),
                          np.ascontiguousarray(served_at_edge, dtype=np.float64).reshape(-1),
                          self.nu, self.window)

    def effective_of(self, mass: np.ndarray) -> np.ndarray:
        """C from S for ``mass[..., N, K]``: own task fully, the others at rho (``S R``)."""
        mass = np.ascontiguousarray(mass, dtype=np.float64)
        out = np.empty_like(mass)
        nk = self.n_models * self.n_tasks
        kernels.effective_of(mass.reshape(-1, nk), self.params, self.n_models, out.reshape(-1, nk))
        return out

    def accuracy_of(self, c: np.ndarray) -> np.ndarray:
        """A = min(acc_max, acc0 + gain log2(1 + C)) for ``c[..., N, K]``: the simulators'
        curve (:func:`~edge_cache_env.kernels.accuracy`), for the planner's true costs."""
        c = np.ascontiguousarray(c, dtype=np.float64)
        out = np.empty_like(c)
        nk = self.n_models * self.n_tasks
        kernels.accuracy_of(c.reshape(-1, nk), self.params, self.n_models, out.reshape(-1, nk))
        return out

    # ------------------------------------------------------------ batch rows
    def reset_rows(self, rows: np.ndarray) -> None:
        """Batch: empty context and the reset task mix in ``rows``. The mix then follows each
        row's requests slot by slot (:meth:`update_rows`)."""
        self.state[rows] = self._fresh_state  # every row's state at construction

    def row_views(self, state: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                      np.ndarray]:
        """S, p, A ``[b, N, K]`` and AoC ``[b, N]``: views of state rows ``[b, ...]``."""
        b, n, k = len(state), self.n_models, self.n_tasks
        nk = n * k
        return (state[:, :nk].reshape(b, n, k), state[:, nk:2 * nk].reshape(b, n, k),
                state[:, 2 * nk:3 * nk].reshape(b, n, k), state[:, 3 * nk:])

    def update_rows(self, rows: np.ndarray, served_at_edge: np.ndarray, count_task: np.ndarray,
                    count: np.ndarray) -> None:
        """:meth:`update` of servers ``rows`` at the end of their slot, whose requests are
        ``count_task[i]`` ``[N, K]`` (``count[i]`` per model)."""
        b = len(rows)
        kernels.update_context_rows(
            rows, np.ascontiguousarray(served_at_edge, dtype=np.float64).reshape(b, -1),
            np.ascontiguousarray(count_task, dtype=np.float64).reshape(b, -1),
            np.ascontiguousarray(count, dtype=np.float64).reshape(b, -1), self.state,
            self.scratch, self.params)
