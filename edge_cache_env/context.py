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


def ewma_step(avg: np.ndarray, x: np.ndarray, rate: float | np.ndarray, in_place: bool = True
              ) -> np.ndarray:
    """One step of an exponentially weighted moving average: ``avg + rate (x - avg)`` (the task
    mix here, the request frequency in the simulator), in place (returns ``avg``) or as a new
    array."""
    step = rate * (x - avg)
    if in_place:
        avg += step
        return avg
    step += avg  # the same sum (addition commutes exactly)
    return step


class AgeOfContext:
    """The context state of every model; vectorised over models and tasks.

    ``batch=B`` gives every state array a leading dimension of B independent edge servers (the
    vector env). The equations are compiled once (:mod:`edge_cache_env.kernels`) and run on
    the one server (:meth:`update`) or on a batch's rows (:meth:`update_rows`) alike.
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
        n = len(models)
        # The kernels' per-model constants (window, acc0, gain, acc_max: log2(1 + C) = log1p(C) /
        # ln 2, so 1 / ln 2 goes into the gain) and C = S R's matrix.
        self.model_params = np.stack([self.window, self.acc0, self.acc_gain / np.log(2.0),
                                      self.acc_max])
        self.relevance = (1.0 - self.rho) * np.eye(k) + self.rho * np.ones((k, k))
        self.batch = batch
        if batch is None:
            self.mass = np.zeros((n, k))  # S
            self.task_mix = np.full((n, k), 1.0 / k)  # p
            self.accuracy = np.empty((n, k))  # A at the edge, derived from C
            self.aoc = np.zeros(n)  # AoC per model, derived from p and C
            self.effective = np.zeros((n, k))  # C, derived from S
            self._count_task: np.ndarray | None = None
            self._count: np.ndarray | None = None
            self.reset()
        else:
            # A batch keeps each server's S, p, A and AoC side by side in one row of `state`
            # (the arrays are views of it).
            self.state = np.zeros((batch, 3 * n * k + n))
            self.mass, self.task_mix, self.accuracy, self.aoc = self.row_views(self.state)
            self.task_mix[:] = 1.0 / k
            self.accuracy[:] = self.accuracy_of(np.zeros((n, k)))
            self._scratch = np.zeros(n * k)  # C of one row (read by nothing else)
            # What EVICT writes for each model (S 0, A acc0, AoC 0), by flat cell (server * N +
            # model): the state's flat indices and their values.
            nk = n * k
            tasks = np.arange(k)
            offsets = np.array([np.concatenate([m * k + tasks, 2 * nk + m * k + tasks, [3 * nk + m]])
                                for m in range(n)])
            self._evict_cells = ((np.arange(batch) * self.state.shape[1])[:, None, None]
                                 + offsets).reshape(batch * n, -1)
            values = np.array([np.concatenate([np.zeros(k), np.full(k, self.acc0[m]), [0.0]])
                               for m in range(n)])
            self._evict_values = np.tile(values, (batch, 1))
            self._fresh_state = self.state[0].copy()

    def reset(self, count_task: np.ndarray | None = None) -> None:
        """Empty context; ``count_task[t, m, k]``: the episode's requests per slot, which the
        task mix follows (it follows demand only, not the agent)."""
        self.mass.fill(0.0)
        self.task_mix.fill(1.0 / self.n_tasks)
        self.effective.fill(0.0)
        self.aoc.fill(0.0)
        self.accuracy_of(self.effective, out=self.accuracy)
        if count_task is None:
            self._count_task = self._count = None
        else:
            self._count_task = np.ascontiguousarray(count_task, dtype=np.float64)
            self._count = self._count_task.sum(axis=2)  # integer counts: exact in any order

    def evict(self, m: int) -> None:
        """The context lived in GPU memory: eviction throws it away.

        C is not reset: it is only read through its derived values (accuracy, AoC), reset
        here, and is rederived at the next update.
        """
        self.mass[m] = 0.0
        self.accuracy[m] = self.acc0[m]  # a model reloaded in the same slot starts zero-shot
        self.aoc[m] = 0.0

    def update(self, served_at_edge: np.ndarray, slot: int) -> None:
        """End of slot ``slot``: decay, add the examples served at the edge, cap at the window;
        the task mix takes the slot's step (:func:`~edge_cache_env.kernels.update_context`).

        ``served_at_edge[m, k]`` counts the slot's requests served at the edge.
        """
        if self._count_task is None:
            raise RuntimeError("AgeOfContext.reset(count_task) must be called at episode start")
        kernels.update_context(np.ascontiguousarray(served_at_edge, dtype=np.float64).reshape(-1),
                               self._count_task[slot].reshape(-1), self._count[slot],
                               self.mass.reshape(-1), self.task_mix.reshape(-1),
                               self.effective.reshape(-1), self.accuracy.reshape(-1), self.aoc,
                               self.nu, self.mix_rate, *self.model_params, self.relevance)

    def decay(self, mass: np.ndarray, served_at_edge: np.ndarray) -> None:
        """:meth:`update`'s decay of ``mass[..., N, K]`` (C-contiguous, in place), each context
        adding the same ``served_at_edge[N, K]``: the planner's contexts, one per load slot."""
        n_k = len(self.window) * self.n_tasks
        kernels.decay_all(mass.reshape(-1, n_k),
                          np.ascontiguousarray(served_at_edge, dtype=np.float64).reshape(-1),
                          self.nu, self.window)

    def effective_of(self, mass: np.ndarray) -> np.ndarray:
        """C from S for ``mass[..., N, K]``: own task fully, the others at rho (``S R``)."""
        mass = np.ascontiguousarray(mass, dtype=np.float64)
        out = np.empty_like(mass)
        kernels.effective_of(mass.reshape(-1, *mass.shape[-2:]), self.relevance,
                             out.reshape(-1, *mass.shape[-2:]))
        return out

    def accuracy_of(self, c: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """A = min(acc_max, acc0 + gain log2(1 + C)) for ``c[..., N, K]`` (into ``out`` if
        given): the simulators' curve (:func:`~edge_cache_env.kernels.accuracy`), for the
        planner's true costs."""
        c = np.ascontiguousarray(c, dtype=np.float64)
        res = np.empty_like(c) if out is None or not out.flags.c_contiguous else out
        shape = (-1, *c.shape[-2:])
        kernels.accuracy_of(c.reshape(shape), self.model_params[1], self.model_params[2],
                            self.model_params[3], res.reshape(shape))
        if out is not None and res is not out:
            out[...] = res
            return out
        return res

    # ------------------------------------------------------------ batch rows
    def reset_rows(self, rows: np.ndarray) -> None:
        """Batch: empty context and the reset task mix in ``rows``. The mix then follows each
        row's requests slot by slot (:meth:`update_rows`)."""
        self.state[rows] = self._fresh_state  # every row's state at construction

    def row_views(self, state: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                      np.ndarray]:
        """Batch: S, p, A ``[b, N, K]`` and AoC ``[b, N]``: views of state rows ``[b, ...]``."""
        b, n, k = len(state), len(self.window), self.n_tasks
        nk = n * k
        return (state[:, :nk].reshape(b, n, k), state[:, nk:2 * nk].reshape(b, n, k),
                state[:, 2 * nk:3 * nk].reshape(b, n, k), state[:, 3 * nk:])

    def evict_cells(self, cells: np.ndarray) -> None:
        """Batch: :meth:`evict` of model ``cells[i] % N`` in row ``cells[i] // N`` (one flat
        write)."""
        self.state.reshape(-1)[self._evict_cells.take(cells, axis=0)] = \
            self._evict_values.take(cells, axis=0)

    def update_rows(self, rows: np.ndarray, served_at_edge: np.ndarray, count_task: np.ndarray,
                    count: np.ndarray) -> None:
        """Batch: :meth:`update` of servers ``rows`` at the end of their slot, whose requests
        are ``count_task[i]`` ``[N, K]`` (``count[i]`` per model)."""
        b = len(rows)
        kernels.update_context_rows(
            rows, np.ascontiguousarray(served_at_edge, dtype=np.float64).reshape(b, -1),
            np.ascontiguousarray(count_task, dtype=np.float64).reshape(b, -1),
            np.ascontiguousarray(count, dtype=np.float64), self.state, self._scratch,
            np.array([self.nu, self.mix_rate]), self.model_params, self.relevance)
