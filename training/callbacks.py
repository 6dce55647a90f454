"""SB3 callbacks of ``train.py``: the env's episode figures in TensorBoard, and an evaluation
on fixed held-out seeds that logs costs (not only rewards) next to a reference heuristic.

Imports SB3 (and so torch): used by training only, never by the env or the heuristics.
"""

from __future__ import annotations

import csv
import io
import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from sb3_contrib.common.maskable.callbacks import MaskableEvalCallback
from stable_baselines3.common.callbacks import BaseCallback, EvalCallback

from edge_cache_env.costs import TERMS
from evaluation.engine import ci95, run_episode
from training.run_folder import save_atomic, write_text_atomic

# Per-episode figures the env puts in ``info`` (final step of an episode).
EPISODE_KEYS = ("episode_cost", *(f"episode_cost_{t}" for t in TERMS), "hit_ratio",
                "mean_accuracy", "mean_aoc", "invalid_actions", "loads")
EVAL_LOG_FIELDS = ("timesteps", "wall_s", "mean_cost", "ci95", "reference", "reference_cost",
                   "ratio_to_reference", "hit_ratio", "mean_accuracy", "invalid_actions", "loads")


class EpisodeInfoCallback(BaseCallback):
    """Records the env's per-episode figures (means over the episodes ended since the last dump)
    under ``episode/``: total cost, each cost term, hit ratio, accuracy, AoC, invalid actions."""

    def _on_step(self) -> bool:
        for done, info in zip(self.locals["dones"], self.locals["infos"]):
            if done:
                for key in EPISODE_KEYS:
                    if key in info:
                        self.logger.record_mean(f"episode/{key}", float(info[key]))
        return True


class TimeBudgetCallback(BaseCallback):
    """Stops training once ``seconds`` of wall-clock time have passed (checked every step)."""

    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.seconds = seconds
        self.stopped_early = False
        self._start = time.perf_counter()

    def _on_training_start(self) -> None:
        self._start = time.perf_counter()

    def _on_step(self) -> bool:
        if time.perf_counter() - self._start > self.seconds:
            self.stopped_early = True
            return False
        return True


class StepLimitCallback(BaseCallback):
    """Stops training once this leg has run ``steps`` env steps (``--stop-after-steps``).

    Checked in ``_on_step`` exactly where :class:`TimeBudgetCallback` checks its clock (and
    :class:`StopFlagCallback` a signal's flag): a leg one of them stopped at step S is rebuilt
    bit for bit by the same command with this limit at S, while ``--timesteps`` keeps setting
    the budget that ``lin_`` schedules decay over.
    """

    def __init__(self, steps: int) -> None:
        super().__init__()
        self.steps = steps
        self.stopped_early = False
        self._start_steps = 0

    def _on_training_start(self) -> None:
        self._start_steps = self.model.num_timesteps  # a resumed leg counts its own steps

    def _on_step(self) -> bool:
        if self.num_timesteps - self._start_steps >= self.steps:
            self.stopped_early = True
            return False
        return True


class SaveBestCallback(BaseCallback):
    """Saves the best model (and its VecNormalize statistics) atomically when it changes."""

    def __init__(self, model_path: str | Path, vecnormalize_path: str | Path) -> None:
        super().__init__()
        self.model_path = Path(model_path)
        self.vecnormalize_path = Path(vecnormalize_path)

    def _on_step(self) -> bool:
        vec_normalize = self.model.get_vec_normalize_env()
        if vec_normalize is not None:
            save_atomic(self.vecnormalize_path, lambda p: vec_normalize.save(str(p)))
        save_atomic(self.model_path, self.model.save)
        return True


class AtomicCheckpointCallback(BaseCallback):
    """Every ``save_freq`` calls: ``ckpt_<N>_steps.zip`` with its VecNormalize statistics and
    (off-policy) replay buffer, each written to a temporary name and renamed; the zip last, so
    a checkpoint whose zip exists is complete. Only the newest replay buffer is kept (they
    are large)."""

    def __init__(self, save_freq: int, folder: str | Path) -> None:
        super().__init__()
        self.save_freq = save_freq
        self.folder = Path(folder)

    def _on_step(self) -> bool:
        if self.n_calls % self.save_freq == 0:
            self.save()
        return True

    def save(self) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        n = self.num_timesteps
        vec_normalize = self.model.get_vec_normalize_env()
        if vec_normalize is not None:
            save_atomic(self.folder / f"ckpt_vecnormalize_{n}_steps.pkl", lambda p: vec_normalize.save(str(p)))
        if hasattr(self.model, "save_replay_buffer"):
            buffer = self.folder / f"ckpt_replay_buffer_{n}_steps.pkl"
            save_atomic(buffer, self.model.save_replay_buffer)
            for old in self.folder.glob("ckpt_replay_buffer_*_steps.pkl"):
                if old != buffer:
                    old.unlink(missing_ok=True)
        path = self.folder / f"ckpt_{n}_steps.zip"
        save_atomic(path, self.model.save)
        return path


class StopFlagCallback(BaseCallback):
    """Stops training at the next step once ``flag["stop"]`` is set (by a signal handler)."""

    def __init__(self, flag: dict[str, Any]) -> None:
        super().__init__()
        self.flag = flag

    def _on_step(self) -> bool:
        return not self.flag.get("stop")


class _CostEvalMixin:
    """Evaluates on the same held-out seeds every time and logs the episodes' costs.

    The eval vector env must hold one env per episode: it is re-seeded with ``seed_base``
    before each evaluation, so env ``i`` plays the episode of seed ``seed_base + i``, the same
    episodes at every evaluation and for the reference heuristic.
    """

    def _setup_costs(self, seed_base: int, log_file: Path, reference: str | None,
                     reference_costs: Sequence[float] | None) -> None:
        if self.eval_env.num_envs != self.n_eval_episodes:
            raise ValueError(f"the eval env needs one env per episode: {self.eval_env.num_envs} "
                             f"envs for {self.n_eval_episodes} episodes")
        self.seed_base = seed_base
        self.log_file = Path(log_file)
        self.reference = reference
        self.reference_cost = float(np.mean(reference_costs)) if reference_costs else math.nan
        self._infos: list[dict[str, float]] = []
        self._start = time.perf_counter()
        self.wall_offset = 0.0  # seconds trained by earlier legs of a resumed run
        self.eval_at_start = True  # a curve point at the start (off when resuming)
        self.last_mean_cost = math.nan
        self.npz_file: Path | None = None  # evaluations.npz, written by _record (not by SB3)
        self.history: dict[str, list[Any]] = {"timesteps": [], "results": [], "ep_lengths": []}

    def _on_training_start(self) -> None:
        super()._on_training_start()
        if self.eval_at_start and self.eval_freq > 0:
            self._on_step()  # n_calls is 0: evaluates the starting (e.g. warm-started) policy

    def _on_step(self) -> bool:
        if self.eval_freq > 0 and self.n_calls % self.eval_freq == 0:
            self.eval_env.seed(self.seed_base)
            self._infos = []
        return super()._on_step()

    def _log_success_callback(self, locals_: dict[str, Any], globals_: dict[str, Any]) -> None:
        super()._log_success_callback(locals_, globals_)
        if locals_["done"]:
            info = locals_["info"]
            row = {k: float(info[k]) for k in EPISODE_KEYS if k in info}
            if "episode" in info:  # Monitor's episode return and length
                row["_r"], row["_l"] = float(info["episode"]["r"]), float(info["episode"]["l"])
            self._infos.append(row)
            # The last episode of the evaluation: record now, before EvalCallback dumps the log.
            if len(self._infos) == self.n_eval_episodes:
                self._record()

    def _record(self) -> None:
        costs = [i["episode_cost"] for i in self._infos]
        mean, ci = float(np.mean(costs)), ci95(costs)
        self.last_mean_cost = mean
        row = {
            "timesteps": self.num_timesteps,
            "wall_s": round(self.wall_offset + time.perf_counter() - self._start, 1),
            "mean_cost": mean, "ci95": ci,
            "reference": self.reference or "", "reference_cost": self.reference_cost,
            "ratio_to_reference": mean / self.reference_cost if self.reference_cost > 0 else math.nan,
        }
        for key in ("hit_ratio", "mean_accuracy", "invalid_actions", "loads"):
            row[key] = float(np.mean([i.get(key, math.nan) for i in self._infos]))
        self.logger.record("eval/mean_cost", mean)
        self.logger.record("eval/mean_cost_ci95", ci)
        if self.reference:
            self.logger.record(f"eval/reference_{self.reference}_cost", self.reference_cost)
            self.logger.record(f"eval/cost_ratio_to_{self.reference}", row["ratio_to_reference"])
        for key in ("hit_ratio", "mean_accuracy", "invalid_actions", "loads"):
            self.logger.record(f"eval/{key}", row[key])
        # Rewritten whole, atomically (not appended): a kill never leaves a cut-off row.
        old = ""
        if self.log_file.is_file():
            with self.log_file.open(newline="") as f:
                old = f.read()
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=EVAL_LOG_FIELDS)
        if not old:
            writer.writeheader()
        writer.writerow(row)
        write_text_atomic(self.log_file, old + text.getvalue())
        if self.npz_file is not None:
            self.history["timesteps"].append(self.num_timesteps)
            self.history["results"].append([i.get("_r", math.nan) for i in self._infos])
            self.history["ep_lengths"].append([i.get("_l", math.nan) for i in self._infos])
            save_evaluations(self.npz_file, self.history)


def _padded(rows: list[list[float]]) -> np.ndarray:
    """Rows of unequal length (a resumed leg may evaluate more episodes) padded with NaN."""
    width = max((len(r) for r in rows), default=0)
    out = np.full((len(rows), width), np.nan)
    for i, r in enumerate(rows):
        out[i, :len(r)] = r
    return out


def save_evaluations(path: Path, history: dict[str, list[Any]]) -> None:
    """SB3's ``evaluations.npz`` layout (timesteps, results, ep_lengths), NaN-padded, atomic."""
    def save(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            np.savez(f, timesteps=np.asarray(history["timesteps"], dtype=np.int64),
                     results=_padded(history["results"]), ep_lengths=_padded(history["ep_lengths"]))

    save_atomic(Path(path), save)


def load_evaluations(path: Path) -> dict[str, list[Any]] | None:
    """The history of ``evaluations.npz``; None if it is missing or unreadable (any layout)."""
    try:
        with np.load(path) as data:
            t = [int(x) for x in data["timesteps"]]
            results = [[float(v) for v in np.atleast_1d(r) if not np.isnan(v)] for r in data["results"]]
            lengths = [[float(v) for v in np.atleast_1d(r) if not np.isnan(v)] for r in data["ep_lengths"]]
    except Exception:  # noqa: BLE001  (any damage: the caller warns and rebuilds)
        return None
    if not len(t) == len(results) == len(lengths):
        return None
    return {"timesteps": t, "results": results, "ep_lengths": lengths}


class CostEvalCallback(_CostEvalMixin, EvalCallback):
    """:class:`EvalCallback` on fixed held-out seeds, with costs and a reference line."""

    def __init__(self, eval_env: Any, *, seed_base: int, log_file: str | Path,
                 reference: str | None = None, reference_costs: Sequence[float] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(eval_env, **kwargs)
        self._setup_costs(seed_base, Path(log_file), reference, reference_costs)


class MaskableCostEvalCallback(_CostEvalMixin, MaskableEvalCallback):
    """The same for MaskablePPO: evaluation with the env's action masks."""

    def __init__(self, eval_env: Any, *, seed_base: int, log_file: str | Path,
                 reference: str | None = None, reference_costs: Sequence[float] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(eval_env, **kwargs)
        self._setup_costs(seed_base, Path(log_file), reference, reference_costs)


def agent_episode_costs(agent: Any, make_env: Callable[[], gym.Env], seeds: Sequence[int]) -> list[float]:
    """Total cost of ``agent`` (predict protocol) on one episode per seed."""
    env = make_env()
    costs = [run_episode(env, agent, seed)["cost"] for seed in seeds]
    env.close()
    return costs
