"""Age of Context (AoC): decayed example mass per model and task, accuracy, per-model AoC.

    S[m,k](t+1) = nu * S[m,k](t) + served_at_edge[m,k](t)     (row capped at W[m])
    C[m,k]      = S[m,k] + rho * sum_{j != k} S[m,j]
    A[m,k]      = min(acc_max, acc0 + acc_gain * log2(1 + C[m,k]))
    AoC[m]      = sum_k p[m,k] C[m,k]       (p: EWMA of the model's task mix)
"""

from __future__ import annotations

import numpy as np

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


def mix_inputs(count_task: np.ndarray, mix_rate: float, per_model: np.ndarray | None = None
               ) -> tuple[np.ndarray, np.ndarray]:
    """The task-mix EWMA's inputs from requests ``count_task[..., N, K]``: each model's task
    shares and its rate (``mix_rate`` where the model has requests, else 0: p stays).
    ``per_model``: the requests per model if the caller has them (``count_task``'s sums)."""
    # Request counts are integers: their sum is exact in any order, and a product with ones is
    # much faster than a reduction over a short last axis.
    if per_model is None:
        per_model = count_task @ np.ones(count_task.shape[-1])
    share = count_task / np.maximum(per_model, 1.0)[..., None]
    rate = ((per_model > 0) * mix_rate)[..., None]  # mix_rate or exactly 0.0
    return share, rate


class AgeOfContext:
    """The context state of every model; vectorised over models and tasks.

    ``batch=B`` gives every state array a leading dimension of B independent edge servers (the
    vector env); the equations are the same functions either way (:meth:`_decay`,
    :meth:`_derive_into`), applied to whole arrays (one server) or to a batch's rows.
    """

    def __init__(self, config: EnvConfig, batch: int | None = None) -> None:
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
        lead = () if batch is None else (batch,)
        self.batch = batch
        if batch is None:
            self.mass = np.zeros((n, self.n_tasks))  # S
            self.task_mix = np.full((n, self.n_tasks), 1.0 / self.n_tasks)  # p
            self.accuracy = np.empty((n, self.n_tasks))  # A at the edge, derived from C
            self.aoc = np.zeros(n)  # AoC per model, derived from p and C
        else:
            # A batch keeps each server's S, p, A and AoC side by side in one row of `state`
            # (the arrays are views of it): a SERVE reads and writes its rows in one go each.
            self.state = np.zeros((batch, 3 * n * self.n_tasks + n))
            self.mass, self.task_mix, self.accuracy, self.aoc = self.row_views(self.state)
            self.task_mix[:] = 1.0 / self.n_tasks
            # What EVICT writes for each model (S 0, A acc0, AoC 0), by flat cell (server * N +
            # model): the state's flat indices and their values.
            nk, k = n * self.n_tasks, self.n_tasks
            tasks = np.arange(k)
            offsets = np.array([np.concatenate([m * k + tasks, 2 * nk + m * k + tasks, [3 * nk + m]])
                                for m in range(n)])
            self._evict_cells = ((np.arange(batch) * self.state.shape[1])[:, None, None]
                                 + offsets).reshape(batch * n, -1)
            values = np.array([np.concatenate([np.zeros(k), np.full(k, self.acc0[m]), [0.0]])
                               for m in range(n)])
            self._evict_values = np.tile(values, (batch, 1))
        self.effective = np.zeros((*lead, n, self.n_tasks))  # C, derived from S
        self._scratch = np.zeros((*lead, n, self.n_tasks))
        k = self.n_tasks
        self._ones = np.ones(k)
        self._relevance = (1.0 - self.rho) * np.eye(k) + self.rho * np.ones((k, k))
        # Per model, repeated over tasks: full [N, K] operands (a broadcast along the short
        # last axis costs numpy a buffered copy per model).
        self._gain_col = np.repeat(self.acc_gain[:, None] / np.log(2.0), k, axis=1)
        self._acc0_col = np.repeat(self.acc0[:, None], k, axis=1)
        self._acc_max_col = np.repeat(self.acc_max[:, None], k, axis=1)
        self._mix_after: np.ndarray | None = None
        if batch is None:
            self.reset()
        else:
            self._derive_into(self.mass, self.task_mix, self.effective, self.accuracy, self.aoc,
                              self._scratch)
            self._fresh_state = self.state[0].copy()

    def reset(self, count_task: np.ndarray | None = None) -> None:
        """Empty context; with ``count_task[t, m, k]`` (the episode's requests per slot), also
        precompute the task mix after every slot: it follows demand only, not the agent."""
        self.mass.fill(0.0)
        self.task_mix = np.full(self.mass.shape, 1.0 / self.n_tasks)
        self._mix_after = None if count_task is None else self.task_mix_trajectory(count_task)
        if self._mix_after is not None:  # p becomes a view of it at each update: read-only
            self._mix_after.flags.writeable = False
        self._derive()

    def task_mix_trajectory(self, count_task: np.ndarray) -> np.ndarray:
        """``p`` after each slot t: an EWMA of each model's task shares over slots with requests.

        ``count_task[..., T, N, K]``: leading dimensions are independent episodes (a batch)."""
        n_slots = count_task.shape[-3]
        share, rate = mix_inputs(count_task, self.mix_rate)
        # Time first, so each slot is one contiguous block.
        share, rate = np.moveaxis(share, -3, 0), np.moveaxis(rate, -3, 0)
        out = np.empty_like(share)
        p = np.full(share.shape[1:], 1.0 / self.n_tasks)  # the reset mix
        for t in range(n_slots):
            ewma_step(p, share[t], rate[t])
            out[t] = p
        return np.moveaxis(out, 0, -3)

    def evict(self, m: int) -> None:
        """The context lived in GPU memory: eviction throws it away.

        C is not reset: it is only read through its derived values (accuracy, AoC), reset
        here, and is rederived at the next update.
        """
        self.mass[m] = 0.0
        self.accuracy[m] = self.acc0[m]  # a model reloaded in the same slot starts zero-shot
        self.aoc[m] = 0.0

    def update(self, served_at_edge: np.ndarray, slot: int) -> None:
        """End of slot ``slot``: decay, add the examples served at the edge, cap at the window.

        ``served_at_edge[m, k]`` counts the slot's requests served at the edge. Written with few
        numpy calls and no fancy indexing: the arrays are small (N x K), so the number of calls,
        not their size, sets the cost.
        """
        if self._mix_after is None:
            raise RuntimeError("AgeOfContext.reset(count_task) must be called at episode start")
        self._decay(self.mass, served_at_edge)
        self.task_mix = self._mix_after[slot]  # p follows demand only: a view, no copy
        self._derive_into(self.mass, self.task_mix, self.effective, self.accuracy, self.aoc,
                          self._scratch)

    def _decay(self, s: np.ndarray, served_at_edge: np.ndarray, in_place: bool = True
               ) -> np.ndarray:
        """``S <- min-capped(nu S + served)`` for ``s[..., N, K]``, in place (returns ``s``) or
        into a new array."""
        s = np.multiply(s, self.nu, out=s if in_place else None)
        s += served_at_edge
        # Rows over the window are scaled down to it (the oldest examples fall out). Row sums
        # as a matrix product: far cheaper than a reduction on arrays this small.
        total = self._task_sums(s)
        s *= (self.window / np.maximum(total, self.window))[..., None]
        return s

    def _derive(self) -> None:
        self._derive_into(self.mass, self.task_mix, self.effective, self.accuracy, self.aoc,
                          self._scratch)

    def _derive_into(self, mass: np.ndarray, task_mix: np.ndarray, effective: np.ndarray,
                     acc: np.ndarray, aoc: np.ndarray, scratch: np.ndarray) -> None:
        """C, A and AoC from S and p (arrays ``[..., N, K]``, AoC ``[..., N]``), into the outs."""
        # C = S @ R with R = (1 - rho) I + rho 11^T: own task fully, the others at rho.
        if mass.ndim > 2:  # a batch: one matrix product for all rows (row by row the same)
            k = self.n_tasks
            c = np.matmul(mass.reshape(-1, k), self._relevance, out=effective.reshape(-1, k)
                          ).reshape(mass.shape)
        else:
            c = np.matmul(mass, self._relevance, out=effective)
        self.accuracy_of(c, out=acc)
        np.multiply(task_mix, c, out=scratch)
        self._task_sums(scratch, out=aoc)

    def effective_of(self, mass: np.ndarray) -> np.ndarray:
        """C from S for ``mass[..., N, K]``: own task fully, the others at rho (``S @ R``)."""
        return mass @ self._relevance

    def accuracy_of(self, c: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """A = min(acc_max, acc0 + gain log2(1 + C)) for ``c[..., N, K]`` (into ``out`` if
        given): the one place the accuracy curve is computed for the simulator and the
        planner's true costs."""
        acc = np.log1p(c, out=out)  # log2(1 + C) = log1p(C) / ln 2; 1 / ln 2 is in the gain
        acc *= self._gain_col
        acc += self._acc0_col
        return np.minimum(acc, self._acc_max_col, out=acc)

    def _task_sums(self, x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """``x @ ones`` over the tasks of ``x[..., N, K]``. A contiguous batch goes through one
        matrix-vector product over all its rows: each row's sum is the same as server by
        server (one BLAS call instead of one per server)."""
        if x.ndim > 2 and x.flags.c_contiguous and (out is None or out.flags.c_contiguous):
            k = self.n_tasks
            flat = np.matmul(x.reshape(-1, k), self._ones,
                             out=None if out is None else out.reshape(-1))
            return flat.reshape(x.shape[:-1])
        return np.matmul(x, self._ones, out=out)

    # ------------------------------------------------------------ batch rows
    def reset_rows(self, rows: np.ndarray) -> None:
        """Batch: empty context and the reset task mix in ``rows``. The mix then follows each
        row's requests slot by slot (:meth:`update_state`): no per-episode trajectory."""
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

    def update_state(self, state: np.ndarray, served_at_edge: np.ndarray, count_task: np.ndarray,
                     count: np.ndarray) -> np.ndarray:
        """Batch: :meth:`update` of state rows ``state[b, ...]`` (gathered by the caller, updated
        in place) at the end of their slot, whose requests are ``count_task[i]`` ``[N, K]``
        (``count[i]`` per model): the task mix takes the slot's step of the same EWMA as
        :meth:`task_mix_trajectory`. C is derived into scratch (read by nothing else).
        Returns the rows' new AoC ``[b, N]`` (contiguous)."""
        # Computed into new contiguous arrays (ufuncs into row-strided views are much slower),
        # then one write back.
        s, mix = self.row_views(state)[:2]
        s = self._decay(s, served_at_edge, in_place=False)
        mix = ewma_step(mix, *mix_inputs(count_task, self.mix_rate, count), in_place=False)
        acc, scratch = np.empty(s.shape), np.empty(s.shape)
        aoc = np.empty(s.shape[:-1])
        self._derive_into(s, mix, scratch, acc, aoc, scratch)  # C is only needed until p * C
        b = len(state)
        np.concatenate([s.reshape(b, -1), mix.reshape(b, -1), acc.reshape(b, -1), aoc], axis=1,
                       out=state)
        return aoc
