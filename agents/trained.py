"""Trained policies (SB3 PPO and DQN, sb3-contrib MaskablePPO) behind the agents' predict protocol.

``load_trained(algo, path)`` returns an object with SB3's
``predict(obs, state=None, episode_start=None, deterministic=True, action_masks=None)``.
MaskablePPO uses the masks it is given; PPO and DQN ignore them (they are the "no mask"
agents: an invalid action acts as SERVE and pays the env's penalty). If a VecNormalize file
sits next to the model (see :func:`vecnormalize_path`), observations are normalised with its
frozen statistics, exactly as during training.

torch and SB3 are imported only when a model is loaded, so ``import agents`` stays light.
"""

from __future__ import annotations

import json
import pickle
import re
import warnings
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

ALGOS = ("ppo", "maskable_ppo", "dqn")
PRETRAINED_DIR = Path(__file__).resolve().parent / "pretrained"
_CHECKPOINT = re.compile(r"^(?P<prefix>.+)_(?P<steps>\d+)_steps$")


def algo_class(algo: str) -> type:
    """The SB3 / sb3-contrib class of ``algo`` (imports torch)."""
    if algo == "ppo":
        from stable_baselines3 import PPO

        return PPO
    if algo == "dqn":
        from stable_baselines3 import DQN

        return DQN
    if algo == "maskable_ppo":
        from sb3_contrib import MaskablePPO

        return MaskablePPO
    raise ValueError(f"unknown algorithm {algo!r}; known: {', '.join(ALGOS)}")


def vecnormalize_path(model_path: str | Path) -> Path:
    """Where the VecNormalize statistics of a saved model live.

    ``dir/name.zip`` -> ``dir/name_vecnormalize.pkl``; an SB3 checkpoint
    ``dir/prefix_N_steps.zip`` -> ``dir/prefix_vecnormalize_N_steps.pkl`` (CheckpointCallback's
    own naming).
    """
    p = Path(model_path)
    stem = p.name[:-4] if p.name.endswith(".zip") else p.name
    m = _CHECKPOINT.match(stem)
    if m:
        return p.with_name(f"{m['prefix']}_vecnormalize_{m['steps']}_steps.pkl")
    return p.with_name(f"{stem}_vecnormalize.pkl")


def load_vecnormalize_stats(path: str | Path) -> Any:
    """A VecNormalize object without its venv, frozen (no updates, no reward scaling)."""
    with open(path, "rb") as f:
        vec_normalize = pickle.load(f)
    vec_normalize.training = False
    vec_normalize.norm_reward = False
    return vec_normalize


# Acting needs no training buffers or schedules: a zip whose buffer classes or schedules were
# pickled under another module path (an older layout of this project) still loads for acting.
ACTING_ONLY = {"rollout_buffer_class": None, "rollout_buffer_kwargs": {},
               "replay_buffer_class": None, "replay_buffer_kwargs": {},
               "learning_rate": 0.0, "lr_schedule": lambda _: 0.0, "clip_range": lambda _: 0.0,
               "exploration_schedule": lambda _: 0.0}


class TrainedAgent:
    """A trained SB3 model that follows the agents' predict protocol."""

    def __init__(self, algo: str, model: Any, vec_normalize: Any | None = None,
                 path: str | None = None) -> None:
        self.algo = algo
        self.model = model
        self.vec_normalize = vec_normalize
        self.path = path
        self.uses_masks = algo == "maskable_ppo"
        self._warned_no_masks = False
        self.name = algo

    def predict(self, obs: np.ndarray, state: Any = None, episode_start: np.ndarray | None = None,
                deterministic: bool = True, action_masks: np.ndarray | None = None
                ) -> tuple[np.ndarray, Any]:
        """Actions for a (batched or single) observation; masks used by MaskablePPO only."""
        obs = np.asarray(obs, dtype=np.float32)
        if self.vec_normalize is not None:
            obs = self.vec_normalize.normalize_obs(obs).astype(np.float32)
        if self.uses_masks:
            if action_masks is None and not getattr(self, "_warned_no_masks", False):
                # Not an error (SB3 allows it), but the policy then picks masked-out actions,
                # which the env charges as invalid: said once per agent.
                warnings.warn(f"{self}: predict() without action_masks: a MaskablePPO policy "
                              f"then plays masked-out (invalid) actions; pass "
                              f"action_masks=env.unwrapped.action_masks()", stacklevel=2)
                self._warned_no_masks = True
            return self.model.predict(obs, state=state, episode_start=episode_start,
                                      deterministic=deterministic, action_masks=action_masks)
        return self.model.predict(obs, state=state, episode_start=episode_start,
                                  deterministic=deterministic)

    def __repr__(self) -> str:
        norm = ", normalised obs" if self.vec_normalize is not None else ""
        return f"TrainedAgent({self.algo}, {self.path}{norm})"


# The module of the policy class each algorithm saves, as recorded in the zip's "data" entry.
_POLICY_MODULES = {"ppo": "stable_baselines3.common.policies", "dqn": "stable_baselines3.dqn.policies",
                   "maskable_ppo": "sb3_contrib.common.maskable.policies"}


def _check_saved_algo(path: Path, algo: str) -> None:
    """Fail clearly when the zip holds another algorithm's model (SB3 would raise deep inside,
    e.g. a TypeError about ``use_sde`` for a DQN zip loaded as PPO)."""
    try:
        with zipfile.ZipFile(path) as z:
            module = json.loads(z.read("data"))["policy_class"]["__module__"]
    except (zipfile.BadZipFile, KeyError, ValueError, TypeError) as e:
        raise ValueError(f"{path} is not an SB3 model zip ({type(e).__name__}: {e})") from e
    if module == "agents.set_policy" and algo != "maskable_ppo":  # the generalist's network
        raise ValueError(f"{path} holds a MaskablePPO set-policy model (the generalist's kind); "
                         f"load it as 'maskable_ppo:{path}' (or agents.make('generalist') for "
                         f"the shipped one), not as {algo}")
    saved = [a for a, m in _POLICY_MODULES.items() if module == m]
    expected = _POLICY_MODULES.get(algo)
    if expected is not None and module != expected and module in _POLICY_MODULES.values():
        raise ValueError(f"{path} holds a {saved[0]} model; load it as '{saved[0]}:{path}', not as {algo}")


def load_trained(algo: str, path: str | Path) -> TrainedAgent:
    """Load a model saved by ``train.py`` (or any SB3 ``.zip`` of ``algo``) on the CPU."""
    cls = algo_class(algo)
    p = Path(path)
    if not p.is_file() and p.suffix != ".zip" and p.with_suffix(".zip").is_file():
        p = p.with_suffix(".zip")
    if not p.is_file():
        raise FileNotFoundError(f"no trained {algo} model at {path}")
    _check_saved_algo(p, algo)
    try:
        try:
            model = cls.load(p, device="cpu")
        except (ModuleNotFoundError, AttributeError):
            model = cls.load(p, device="cpu", custom_objects=ACTING_ONLY)
    except (ValueError, KeyError, RuntimeError, TypeError, AttributeError) as e:
        # TypeError / AttributeError: a custom policy of another algorithm (the generalist's
        # set policy is a MaskablePPO policy) fails deep inside SB3.
        raise ValueError(f"{p} is not a loadable {algo} model ({cls.__name__}): "
                         f"{type(e).__name__}: {e}") from e
    norm_file = vecnormalize_path(p)
    vec_normalize = load_vecnormalize_stats(norm_file) if norm_file.is_file() else None
    return TrainedAgent(algo, model, vec_normalize, str(p))


def pretrained_specs(env_id: str = "EdgePFMCache-v0", directory: str | Path = PRETRAINED_DIR) -> list[str]:
    """``["maskable_ppo:<dir>/maskable_ppo.zip", ...]`` for the shipped models trained on
    ``env_id`` (from ``manifest.json``), plus ``"generalist"`` when it is shipped (it plays any
    env id), ready for ``agents.make`` / ``evaluate.py --agents``."""
    manifest = Path(directory) / "manifest.json"
    if not manifest.is_file():
        return []
    import os

    models = json.loads(manifest.read_text())["models"]
    # Relative to the working directory when possible: shorter names in evaluate.py's table.
    specs = [f"{algo}:{os.path.relpath(Path(directory) / m['file'])}" for algo in ALGOS
             if (m := models.get(algo)) and m["env_id"] == env_id]
    # The generalist (agents/generalist.py) plays every scenario; agents.make knows it by name.
    if "generalist" in models and Path(directory).resolve() == PRETRAINED_DIR:
        specs.append("generalist")
    return specs
