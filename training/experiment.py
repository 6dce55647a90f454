"""One leg of a training run: build the envs, the model and the callbacks; learn; save.

:class:`Experiment` gets validated settings (:class:`Settings`, made by :mod:`training.cli`)
and a :class:`~training.run_folder.RunFolder`. ``build()`` does everything that can fail
before training (so a failure leaves no records behind); ``train()`` learns, saves
``model.zip`` (also when SIGINT/SIGTERM stop it) and appends the leg to ``summary.yml``.
Imports torch and SB3.
"""

from __future__ import annotations

import csv
import io
import math
import signal
import sys
import threading
import time
import warnings
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3.common.callbacks import BaseCallback, CallbackList
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv, VecNormalize

import agents
from agents.trained import algo_class, vecnormalize_path
from training import slot_discount as sd
from training.callbacks import (
    AtomicCheckpointCallback,
    CostEvalCallback,
    EpisodeInfoCallback,
    MaskableCostEvalCallback,
    SaveBestCallback,
    StepLimitCallback,
    StopFlagCallback,
    TimeBudgetCallback,
    agent_episode_costs,
    load_evaluations,
    save_evaluations,
)
from training.run_folder import RunFolder, RunFolderError, repaired_log, save_atomic, write_text_atomic
from training.warm_start import MarginDQN, WarmStartLogCallback, teacher, warm_start
from training.wrappers import Advised, HorizonTerminal


@dataclass
class Settings:
    """Everything a leg needs, validated by the CLI."""

    algo: str
    env_id: str
    env_kwargs: dict[str, Any]
    train_cfg: dict[str, Any]
    sb3_kwargs: dict[str, Any]
    n_envs: int
    timesteps: int
    train_seed: int
    eval_seeds: list[int]
    reward_scale: float
    resume_index: int = 0
    vec: str = "dummy"
    tensorboard: bool = False
    eval_freq: int = 50_000
    checkpoint_freq: int = 200_000
    reference: str | None = "lc"
    max_minutes: float | None = None
    stop_after_steps: int | None = None  # this leg's steps; --timesteps still sets the schedules' span
    verbose: int = 0
    progress_bar: bool = True
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def resume(self) -> bool:
        return self.resume_index > 0


def make_vec(env_id: str, env_kwargs: dict[str, Any], n_envs: int, vec: str,
             monitor_dir: str | None, seed: int | None, advice: bool = False,
             capacity_gate: bool = False) -> Any:
    """Monitored vector env (episode cost and hit ratio go into the monitor CSVs); ``advice``:
    observations carry the cost-benefit rule's advice (:class:`training.wrappers.Advised`, with
    the capacity-model flag if ``capacity_gate``)."""
    if vec == "native":  # all envs in one batched-numpy vector env
        if advice:
            raise ValueError("--vec native does not carry advice (policy_kwargs advice: true); "
                             "use --vec dummy or subproc")
        from training.vec_adapter import make_native_vec

        return make_native_vec(env_id, env_kwargs, n_envs, monitor_dir, seed)
    # A callable, not the id: make_vec_env would ask the id for render_mode="rgb_array".
    wrapper = (lambda env: HorizonTerminal(Advised(env, capacity_gate))) if advice else HorizonTerminal
    return make_vec_env(partial(_make_env, env_id), n_envs=n_envs, wrapper_class=wrapper,
                        seed=seed, env_kwargs=env_kwargs,
                        vec_env_cls=SubprocVecEnv if vec == "subproc" else DummyVecEnv,
                        monitor_dir=monitor_dir,
                        monitor_kwargs={"info_keywords": ("episode_cost", "hit_ratio", "invalid_actions")})


def _make_env(env_id: str, **kwargs: Any) -> gym.Env:
    """``gym.make`` for make_vec_env. In a SubprocVecEnv worker it first ignores SIGINT and
    SIGTERM: a signal to the whole process group (Ctrl-C, ``timeout``, ``docker stop``, a
    scheduler) must stop the run through the main process, which saves the model and then
    closes the workers; a worker killed by it first broke the pipe and lost the model."""
    import multiprocessing

    if multiprocessing.parent_process() is not None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    return gym.make(env_id, **kwargs)


def replay_buffer_path(model_path: Path) -> Path:
    """``model.zip`` -> ``model_replay_buffer.pkl``; checkpoints use SB3's naming."""
    vn = vecnormalize_path(model_path)  # the same naming rule, another tag
    return vn.with_name(vn.name.replace("_vecnormalize", "_replay_buffer"))


class Experiment:
    """One leg of a run folder (a fresh run or a resume)."""

    def __init__(self, settings: Settings, folder: RunFolder) -> None:
        self.s = settings
        self.folder = folder
        self.algo_cls = algo_class(settings.algo)
        if settings.algo == "dqn" and settings.train_cfg.get("warm_start"):
            self.algo_cls = MarginDQN  # saved as a plain DQN; keeps DQfD's margin loss
        self.env: Any = None
        self.eval_env: Any = None
        self.model: Any = None
        self.model_path: Path | None = None  # the file a resume starts from
        self.callbacks: list[BaseCallback] = []
        self.eval_cb: Any = None
        self.budget: TimeBudgetCallback | None = None
        self.step_limit: StepLimitCallback | None = None
        self.stop = {"stop": False, "signal": None}
        self.repairs: list[Any] = []  # writes that fix a resumed folder's records, done in train()
        self.checkpoint_cb: AtomicCheckpointCallback | None = None

    # ------------------------------------------------------------------ build
    def build(self) -> Experiment:
        """Envs, model (loaded with fallback when resuming), reference costs, callbacks."""
        s = self.s
        monitor = self.folder.monitor_dir(s.resume_index)
        policy_kwargs = s.sb3_kwargs.get("policy_kwargs", {})
        advice = bool(policy_kwargs.get("advice", False))
        gate = bool(policy_kwargs.get("capacity_gate", False))
        self.env = make_vec(s.env_id, s.env_kwargs, s.n_envs, s.vec, str(monitor), s.train_seed, advice,
                            gate)
        # With --vec native the evaluation envs are native too: VecNormalize's statistics are
        # copied between wrapper chains of the same shape (SB3's sync_envs_normalization), and
        # sub-env i plays the episode of eval seed i exactly as a single env would (tested).
        eval_vec = "native" if s.vec == "native" else "dummy"
        self.eval_env = make_vec(s.env_id, s.env_kwargs, len(s.eval_seeds), eval_vec, None,
                                 s.eval_seeds[0], advice, gate)
        self._wire_slot_discount()
        if s.resume:
            self._load_latest()
        else:
            self._normalize(None)
            self.model = self.algo_cls(s.train_cfg.get("policy", "MlpPolicy"), self.env, seed=s.train_seed,
                                       device="cpu", tensorboard_log=self._tb(), verbose=s.verbose,
                                       **s.sb3_kwargs)
        self._callbacks()
        return self

    def _tb(self) -> str | None:
        return str(self.folder.path / "tb") if self.s.tensorboard else None

    def _normalize(self, stats: Path | None) -> None:
        """Wrap the envs in VecNormalize (statistics from ``stats`` if given) if configured."""
        normalize = self.s.train_cfg.get("normalize", False)
        if not normalize:
            return
        kw = {} if normalize is True else dict(normalize)
        kw.setdefault("gamma", self.s.sb3_kwargs.get("gamma", 0.99))
        if isinstance(self.env, VecNormalize):
            self.env = self.env.venv
        self.env = VecNormalize.load(str(stats), self.env) if stats is not None else VecNormalize(self.env, **kw)
        if not isinstance(self.eval_env, VecNormalize):
            self.eval_env = VecNormalize(self.eval_env, training=False, norm_reward=False,
                                         norm_obs=kw.get("norm_obs", True), clip_obs=kw.get("clip_obs", 10.0))

    def _wire_slot_discount(self) -> None:
        if not self.s.train_cfg.get("slot_discount", False):
            return
        kw = self.s.sb3_kwargs
        if self.s.algo == "dqn":
            kw["replay_buffer_class"] = sd.SlotReplayBuffer
            kw["replay_buffer_kwargs"] = {**kw.get("replay_buffer_kwargs", {}), "gamma": kw.get("gamma", 0.99)}
        else:
            kw["rollout_buffer_class"] = (sd.MaskableSlotRolloutBuffer if self.s.algo == "maskable_ppo"
                                          else sd.SlotRolloutBuffer)

    def _load_latest(self) -> None:
        """The model with the most training steps whose files all read (not the newest file:
        :meth:`RunFolder.model_candidates`); a broken one is named and skipped."""
        broken = []
        for path in self.folder.model_candidates():
            try:
                stats = None
                if self.s.train_cfg.get("normalize", False):
                    stats = vecnormalize_path(path)
                    if not stats.is_file():
                        raise FileNotFoundError(f"its VecNormalize statistics {stats.name} are missing")
                self._normalize(stats)
                model = self.algo_cls.load(path, env=self.env, device="cpu", tensorboard_log=self._tb())
            except Exception as e:  # noqa: BLE001  (any damage: fall back to an older file)
                broken.append(f"{path}: {type(e).__name__}: {e}")
                warnings.warn(f"--resume: cannot load {path} ({type(e).__name__}: {e}); trying an "
                              f"older checkpoint", stacklevel=2)
                continue
            self.model, self.model_path = model, path
            break
        if self.model is None:
            raise RunFolderError("--resume: no readable model in " + str(self.folder.path) + ":\n  "
                                 + "\n  ".join(broken))
        self.model.set_random_seed(self.s.train_seed)  # fresh training streams for this leg (also torch)
        buffer = replay_buffer_path(self.model_path)
        if hasattr(self.model, "load_replay_buffer"):
            if buffer.is_file():
                try:
                    self.model.load_replay_buffer(buffer)
                except Exception as e:  # noqa: BLE001
                    warnings.warn(f"--resume: cannot read the replay buffer {buffer} ({e}); the leg starts "
                                  f"with an empty buffer", stacklevel=2)
            else:
                warnings.warn(f"--resume: no replay buffer next to {self.model_path.name}; the leg starts "
                              f"with an empty buffer", stacklevel=2)
        if isinstance(self.model, MarginDQN):
            self._load_demonstrations()
        print(f"resuming {self.model_path} at {self.model.num_timesteps} steps", file=sys.stderr)

    def _load_demonstrations(self) -> None:
        path = self.folder.demonstrations
        try:
            with np.load(path) as d:
                self.model.demonstrations = (d["obs"], d["actions"])
                self.model.margin, self.model.margin_weight = float(d["margin"]), float(d["margin_weight"])
        except Exception as e:  # noqa: BLE001
            warnings.warn(f"--resume: cannot read the warm-start demonstrations {path} ({e}); DQfD's "
                          f"margin loss is off for this leg", stacklevel=2)
            self.model.margin_weight = 0.0

    def _callbacks(self) -> None:
        s, run = self.s, self.folder.path
        reference_costs = None
        if s.reference:
            reference_costs = agent_episode_costs(agents.make(s.reference),
                                                  lambda: gym.make(s.env_id, **s.env_kwargs), s.eval_seeds)
        eval_cls = MaskableCostEvalCallback if s.algo == "maskable_ppo" else CostEvalCallback
        per_env = lambda freq: max(freq // s.n_envs, 1)  # noqa: E731  (callbacks count vector steps)
        self.eval_cb = eval_cls(
            self.eval_env, seed_base=s.eval_seeds[0], log_file=run / "eval_log.csv", reference=s.reference,
            reference_costs=reference_costs, n_eval_episodes=len(s.eval_seeds),
            eval_freq=per_env(s.eval_freq) if s.eval_freq > 0 else 0, log_path=None,
            best_model_save_path=None, deterministic=True, verbose=s.verbose,
            callback_on_new_best=SaveBestCallback(run / "best_model.zip", run / "best_model_vecnormalize.pkl"))
        self.eval_cb.npz_file = run / "evaluations.npz"
        if s.resume:
            self._restore_eval_state()
        self.budget = TimeBudgetCallback(s.max_minutes * 60) if s.max_minutes else None
        self.callbacks = [StopFlagCallback(self.stop), EpisodeInfoCallback(), self.eval_cb]
        if self.budget:
            self.callbacks.append(self.budget)
        # Next to the budget: every callback sees the step at which one of them stops training.
        self.step_limit = StepLimitCallback(s.stop_after_steps) if s.stop_after_steps else None
        if self.step_limit:
            self.callbacks.append(self.step_limit)
        if s.train_cfg.get("slot_discount", False) and s.algo != "dqn":
            self.callbacks.insert(0, sd.SlotDiscountCallback())
        if s.checkpoint_freq > 0:
            self.checkpoint_cb = AtomicCheckpointCallback(per_env(s.checkpoint_freq), self.folder.checkpoints)
            self.callbacks.append(self.checkpoint_cb)

    def _restore_eval_state(self) -> None:
        """Keep the best score, the evaluation history and the wall clock of the earlier legs."""
        cb, run = self.eval_cb, self.folder.path
        start = int(self.model.num_timesteps)
        log = run / "eval_log.csv"
        log_text = None  # eval_log.csv's text if it needs repair (written when training starts)
        if log.is_file():
            repair = repaired_log(log, start)
            if repair is not None:
                log_text, dropped = repair
                warnings.warn(f"--resume: {log} is repaired (rewritten atomically when the leg "
                              f"starts): dropping " + "; ".join(dropped), stacklevel=2)
                self.repairs.append(lambda: write_text_atomic(log, log_text))
            else:
                with log.open(newline="") as f:
                    log_text = f.read()
        # The two records go in step: the history keeps no evaluation after the log's last one
        # (a row cut off by a kill is evaluated again where the leg resumes) nor after ``start``.
        logged = [int(r["timesteps"]) for r in csv.DictReader(io.StringIO(log_text or ""))
                  if str(r.get("timesteps", "")).lstrip("-").isdigit()]
        cut = min(start, max(logged, default=-1)) if log.is_file() else start
        npz = run / "evaluations.npz"
        history = load_evaluations(npz) if npz.is_file() else None
        if history is not None and any(int(t) > cut for t in history["timesteps"]):
            keep = [i for i, t in enumerate(history["timesteps"]) if int(t) <= cut]
            history = {k: [v[i] for i in keep] for k, v in history.items()}
            warnings.warn(f"--resume: {npz}: dropping the evaluations after step {cut} (the resume "
                          f"starts at {start}; {log.name} ends there)", stacklevel=2)
            self.repairs.append(lambda: save_evaluations(npz, history))
        if history is None:  # rebuild from eval_log.csv (the costs, one mean per evaluation)
            if npz.is_file():
                warnings.warn(f"--resume: {npz} is unreadable; its history is rebuilt from eval_log.csv",
                              stacklevel=2)
            history = {"timesteps": [], "results": [], "ep_lengths": []}
            rows = list(csv.DictReader(io.StringIO(log_text or "")))
            for r in rows:
                try:
                    t, cost = int(r["timesteps"]), float(r["mean_cost"])
                except (KeyError, TypeError, ValueError):
                    continue
                history["timesteps"].append(t)
                history["results"].append([-cost / self.s.reward_scale])
                history["ep_lengths"].append([])
        cb.history = history
        # A leg that ran to its end evaluated this very model there; one stopped by a signal or
        # the budget may not have: then the curve gets a point where the resume starts.
        done = [int(t) for t in history["timesteps"]]
        cb.eval_at_start = not done or done[-1] != int(self.model.num_timesteps)
        means = [float(np.mean(r)) for r in history["results"] if len(r)]
        if means:
            cb.best_mean_reward = max(means)
        cb.wall_offset = float(sum(leg.get("wall_s", 0.0) for leg in self.folder.legs()
                                   if isinstance(leg, dict)))

    # ------------------------------------------------------------------ train
    def train(self) -> dict[str, Any]:
        """Warm start (fresh runs), learn, save; the leg's summary (``interrupted`` if stopped by
        SIGINT/SIGTERM: the model is saved all the same)."""
        s = self.s
        t0 = time.perf_counter()
        old = self._install_signal_handlers()
        try:
            for repair in self.repairs:
                repair()
            warm = None
            if s.train_cfg.get("warm_start") and not s.resume:
                ws = s.train_cfg["warm_start"]
                budget = self.budget.seconds if self.budget is not None else math.inf

                def should_stop() -> bool:  # Ctrl-C / SIGTERM, or the budget spent
                    return bool(self.stop["stop"]) or time.perf_counter() - t0 > budget

                warm = warm_start(self.model, s.algo, teacher(ws), ws,
                                  gamma=s.sb3_kwargs.get("gamma", 0.99),
                                  slot_discount=bool(s.train_cfg.get("slot_discount", False)),
                                  should_stop=should_stop)
                print(f"warm start: {warm}", file=sys.stderr)
                self.callbacks.append(WarmStartLogCallback(warm))
                if isinstance(self.model, MarginDQN) and self.model.demonstrations is not None:
                    self._save_demonstrations()
            start_steps = self.model.num_timesteps
            if self.budget is not None:  # the warm start counts against the budget
                self.budget.seconds -= time.perf_counter() - t0
            self.model.learn(total_timesteps=s.timesteps, callback=CallbackList(self.callbacks),
                             reset_num_timesteps=not s.resume, progress_bar=s.progress_bar,
                             tb_log_name=s.algo)
            wall = time.perf_counter() - t0
            self.save()
        finally:
            self._restore_signal_handlers(old)
        leg = {"start_timesteps": int(start_steps), "end_timesteps": int(self.model.num_timesteps),
               "wall_s": round(wall, 1), "train_seed_base": s.train_seed, "warm_start": warm,
               "stopped_by_time_budget": bool(self.budget and self.budget.stopped_early),
               "stop_after_steps": s.stop_after_steps,
               "stopped_by_step_limit": bool(self.step_limit and self.step_limit.stopped_early),
               "best_eval_cost": float(-self.eval_cb.best_mean_reward * s.reward_scale)
               if math.isfinite(self.eval_cb.best_mean_reward) else None,
               "reference": s.reference, "reference_cost": self.eval_cb.reference_cost,
               "resumed_from": str(self.model_path.relative_to(self.folder.path)) if self.model_path else None,
               "interrupted": self.stop["signal"],
               "finished_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        self.folder.append_leg(leg)
        self.close()
        print(f"run folder: {self.folder.path}  ({self.model.num_timesteps} steps, {wall:.0f} s)")
        return leg

    def save(self) -> None:
        """``model.zip`` with its VecNormalize statistics and replay buffer, each atomically
        (the zip last: whoever finds it finds its companions)."""
        run = self.folder.path
        if isinstance(self.env, VecNormalize):
            save_atomic(run / "model_vecnormalize.pkl", lambda p: self.env.save(str(p)))
        if hasattr(self.model, "save_replay_buffer"):
            save_atomic(run / "model_replay_buffer.pkl", self.model.save_replay_buffer)
        save_atomic(run / "model.zip", self.model.save)

    def _save_demonstrations(self) -> None:
        obs, actions = self.model.demonstrations

        def save(tmp: Path) -> None:
            with open(tmp, "wb") as f:
                np.savez(f, obs=obs, actions=actions, margin=self.model.margin,
                         margin_weight=self.model.margin_weight)

        save_atomic(self.folder.demonstrations, save)

    def close(self) -> None:
        for env in (self.env, self.eval_env):
            if env is not None:
                env.close()

    # ------------------------------------------------------------------ signals
    def _install_signal_handlers(self) -> dict[int, Any]:
        """SIGINT/SIGTERM stop training at the next step (then the model is saved)."""
        if threading.current_thread() is not threading.main_thread():
            return {}

        def handler(signum: int, frame: Any) -> None:
            if self.stop["stop"]:  # a second signal: give up at once
                raise KeyboardInterrupt
            self.stop["stop"] = True
            self.stop["signal"] = signal.Signals(signum).name
            print(f"\n{signal.Signals(signum).name}: saving the model, then stopping "
                  f"(send it again to stop at once)", file=sys.stderr)

        old = {}
        for sig in (signal.SIGINT, signal.SIGTERM):
            old[sig] = signal.signal(sig, handler)
        return old

    @staticmethod
    def _restore_signal_handlers(old: dict[int, Any]) -> None:
        for sig, h in old.items():
            signal.signal(sig, h)


def configure_torch(threads: int) -> None:
    torch.set_num_threads(threads)
    # torch checks every distribution's arguments by default: for the masked categorical that is
    # ~10% of training time (cProfile), and the checks only ever raise, never change a number.
    torch.distributions.Distribution.set_default_validate_args(False)
