"""Hyperparameters: YAML per algorithm keyed by env id, command-line overrides, validation.

``training/configs/<algo>.yml`` maps env ids (and ``default``) to structured settings: plain
numbers, strings, lists (``net_arch: [64, 64]``) and mappings (``policy_kwargs``); nothing is
passed to ``eval()``. An env's entry updates the ``default`` entry key by key. Keys that are not
SB3 constructor arguments are the few of :data:`TRAIN_KEYS`. Every other key is checked
against the algorithm's (and its policy's) signature, so a typo fails before training starts.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from edge_cache_env.validation import integer, number

HYPERPARAMS_DIR = Path(__file__).resolve().parent / "configs"  # package data: found when installed

# Keys train.py consumes itself (not SB3 arguments).
TRAIN_KEYS = {
    "policy": "policy class name (default MlpPolicy) or module:Class",
    "n_timesteps": "training steps when --timesteps is not given",
    "n_envs": "parallel training envs when --n-envs is not given",
    "normalize": "false, true, or VecNormalize keyword arguments (norm_obs, norm_reward, ...)",
    "slot_discount": "true: gamma per served slot, not per env step (training/slot_discount.py)",
    "warm_start": "imitate a heuristic before RL: false, true or settings (training/warm_start.py)",
}
# SB3 arguments train.py sets from its own flags; in YAML they would be silently overridden.
RESERVED = {"env": "--env", "seed": "--seed", "tensorboard_log": "--tensorboard",
            "verbose": "--verbose", "device": "(always cpu)",
            "_init_setup_model": "(internal)"}
ACTIVATIONS = ("relu", "tanh", "elu", "leaky_relu", "silu", "gelu")
# Arguments SB3 accepts as a schedule of the remaining progress (1 -> 0); ``lin_<v>`` as in
# rl-zoo3 decays them linearly from v to 0 over the run's --timesteps.
SCHEDULE_KEYS = ("learning_rate", "clip_range", "clip_range_vf")


class LinearSchedule:
    """``progress_remaining * initial``: a picklable schedule, saved with the model."""

    def __init__(self, initial: float) -> None:
        self.initial = float(initial)

    def __call__(self, progress_remaining: float) -> float:
        return progress_remaining * self.initial

    def __repr__(self) -> str:
        return f"lin_{self.initial:g}"


def resolve_schedule(key: str, value: Any) -> Any:
    """``"lin_3e-4"`` -> :class:`LinearSchedule`; numbers pass through; anything else fails."""
    if isinstance(value, str):
        prefix, _, number = value.partition("_")
        try:
            initial = float(number)
        except ValueError:
            initial = None
        if prefix != "lin" or initial is None or initial <= 0:
            raise ValueError(f"{key} = {value!r} is invalid: use a number or lin_<initial value> "
                             f"(e.g. lin_3.0e-4, linear decay to 0)")
        return LinearSchedule(initial)
    return value


class UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader that refuses a key given twice in one mapping (PyYAML keeps the last
    one silently)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # ``<<: *anchor``
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"duplicate key {key!r} (first given on line {seen[key] + 1})",
                        key_node.start_mark)
                seen[key] = key_node.start_mark.line
            except TypeError:  # an unhashable key: PyYAML's own error follows
                continue
        return super().construct_mapping(node, deep)


def yaml_error(e: yaml.YAMLError) -> str:
    """PyYAML's error in one line, with its line and column where it gives them."""
    mark = getattr(e, "problem_mark", None)
    problem = getattr(e, "problem", None) or str(e)
    context = getattr(e, "context", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    return f"{where}{problem}" + (f" ({context})" if context else "")


def load_hyperparams(algo: str, env_id: str, directory: str | Path = HYPERPARAMS_DIR) -> dict[str, Any]:
    """The ``default`` entry of ``<directory>/<algo>.yml`` updated by the entry of ``env_id``.
    An unreadable file, bad YAML or a key given twice is a ValueError naming the file (and the
    line)."""
    path = Path(directory) / f"{algo}.yml"
    if not path.is_file():
        raise FileNotFoundError(f"no hyperparameter file for {algo!r}: {path}")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise ValueError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    except OSError as e:
        raise ValueError(f"{path}: cannot be read ({e.strerror or e})") from None
    try:
        data = yaml.load(text, Loader=UniqueKeyLoader) or {}
    except yaml.YAMLError as e:
        raise ValueError(f"{path}: not valid YAML: {yaml_error(e)}") from None
    if not isinstance(data, Mapping):
        raise ValueError(f"{path}: top level must map env ids (and 'default') to settings")
    import gymnasium as gym

    for key, entry in data.items():
        if key != "default" and key not in gym.registry:
            raise ValueError(f"{path}: entry {key!r} is neither 'default' nor a registered env id")
        if not isinstance(entry, Mapping):
            raise ValueError(f"{path}: entry {key!r} must be a mapping of settings, got {entry!r}")
    return {**dict(data.get("default", {})), **dict(data.get(env_id, {}))}


def parse_value(text: str) -> Any:
    """A command-line value as YAML (``[64, 64]``, ``{net_arch: [16]}``, ``0.99``, ``true``).

    PyYAML reads ``3e-4`` as a string (YAML 1.1 wants ``3.0e-4``); such strings become floats.
    """
    value = yaml.load(text, Loader=UniqueKeyLoader)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def parse_overrides(items: Iterable[str]) -> dict[str, Any]:
    """``["gamma=0.99", "policy_kwargs={net_arch: [16]}"]`` -> a dict of parsed values."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ValueError(f"--hyperparams entry {item!r} is not of the form key=value")
        try:
            out[key] = parse_value(text)
        except yaml.YAMLError as e:
            raise ValueError(f"--hyperparams {key}: cannot parse value {text!r}: {yaml_error(e)}") from e
    return out


def split_hyperparams(algo_cls: type, params: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(train_settings, sb3_kwargs)`` after checking every key; ``policy_kwargs`` resolved."""
    train = {k: params[k] for k in TRAIN_KEYS if k in params}
    kwargs = {k: v for k, v in params.items() if k not in TRAIN_KEYS}
    for key in kwargs:
        if key in RESERVED:
            raise ValueError(f"hyperparameter {key!r} is set by train.py ({RESERVED[key]}); "
                             f"remove it from the YAML / --hyperparams")
    accepted = _parameters(algo_cls.__init__, skip={"self", "policy", "env"})
    unknown = sorted(set(kwargs) - accepted)
    if unknown:
        raise ValueError(f"{algo_cls.__name__} does not accept hyperparameter(s) {unknown}; "
                         f"accepted: {sorted(accepted - set(RESERVED))} and train.py's own "
                         f"{sorted(TRAIN_KEYS)}")
    policy = train.get("policy", "MlpPolicy")
    aliases = dict(getattr(algo_cls, "policy_aliases", {}))
    if isinstance(policy, str) and ":" in policy:  # a policy class by import path
        aliases[policy] = train["policy"] = import_policy(policy)
    if policy not in aliases:
        raise ValueError(f"{algo_cls.__name__}: unknown policy {policy!r}; known: {sorted(aliases)} "
                         f"or module:Class (e.g. agents.set_policy:SetPolicy)")
    for key in SCHEDULE_KEYS:
        if key in kwargs:
            kwargs[key] = resolve_schedule(key, kwargs[key])
    if "policy_kwargs" in kwargs:
        kwargs["policy_kwargs"] = resolve_policy_kwargs(aliases[policy], kwargs["policy_kwargs"])
    check_values(kwargs)
    _check_normalize(train.get("normalize", False))
    from training.warm_start import check_settings

    if "warm_start" in train:
        train["warm_start"] = check_settings(train["warm_start"])
    if not isinstance(train.get("slot_discount", False), bool):
        raise ValueError(f"slot_discount = {train['slot_discount']!r} is invalid: must be true or false")
    if train.get("slot_discount") and kwargs.get("n_steps", 1) > 1 and "buffer_size" in accepted:
        raise ValueError("slot_discount cannot be combined with DQN's n-step replay (n_steps > 1)")
    return train, kwargs


# Ranges of the SB3 numbers whose bad values SB3 accepts silently (a negative learning rate
# trains uphill) or rejects deep inside torch: (minimum, maximum, integer).
RANGES: dict[str, tuple[float, float, bool]] = {
    "n_steps": (1, math.inf, True), "batch_size": (1, math.inf, True), "n_epochs": (1, math.inf, True),
    "buffer_size": (1, math.inf, True), "learning_starts": (0, math.inf, True),
    "target_update_interval": (1, math.inf, True),
    "gamma": (0, 1, False), "gae_lambda": (0, 1, False), "ent_coef": (0, math.inf, False),
    "vf_coef": (0, math.inf, False), "max_grad_norm": (0, math.inf, False), "tau": (0, 1, False),
    "exploration_fraction": (0, 1, False), "exploration_initial_eps": (0, 1, False),
    "exploration_final_eps": (0, 1, False), "target_kl": (0, math.inf, False),
}
POSITIVE = ("learning_rate", "clip_range", "max_grad_norm", "target_kl", "batch_size")


def check_values(kwargs: Mapping[str, Any]) -> None:
    """Numbers in range, never a bool or a string (schedules are resolved before)."""
    for key, value in kwargs.items():
        if key in SCHEDULE_KEYS and callable(value):
            continue
        if key == "target_kl" and value is None:
            continue
        if key in RANGES:
            lo, hi, is_int = RANGES[key]
            if is_int:
                integer("hyperparams", key, value, int(lo))
            else:
                number("hyperparams", key, value)
            if not lo <= value <= hi:
                raise ValueError(f"hyperparams.{key} = {value!r} is invalid: must be in [{lo:g}, {hi:g}]")
        if key in POSITIVE:
            number("hyperparams", key, value)
            if value <= 0:
                raise ValueError(f"hyperparams.{key} = {value!r} is invalid: must be > 0")


def import_policy(path: str) -> type:
    """``"module:Class"`` -> the class (a custom SB3 policy, e.g. ``agents.set_policy:SetPolicy``)."""
    import importlib

    module, _, name = path.partition(":")
    try:
        cls = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as e:
        raise ValueError(f"policy {path!r} cannot be imported: {e}") from e
    if not isinstance(cls, type):
        raise ValueError(f"policy {path!r} is not a class")
    return cls


def resolve_policy_kwargs(policy_cls: type, policy_kwargs: Any) -> dict[str, Any]:
    """Check keys against the policy's signature; turn ``activation_fn: relu`` into the class."""
    if not isinstance(policy_kwargs, Mapping):
        raise ValueError(f"policy_kwargs must be a mapping, got {policy_kwargs!r}")
    accepted = _parameters(policy_cls.__init__,
                           skip={"self", "observation_space", "action_space", "lr_schedule"})
    unknown = sorted(set(policy_kwargs) - accepted)
    if unknown:
        raise ValueError(f"{policy_cls.__name__} does not accept policy_kwargs {unknown}; "
                         f"accepted: {sorted(accepted)}")
    out = dict(policy_kwargs)
    if "activation_fn" in out:
        name = out["activation_fn"]
        if name not in ACTIVATIONS:
            raise ValueError(f"policy_kwargs.activation_fn = {name!r}: use one of {ACTIVATIONS}")
        import torch.nn as nn

        out["activation_fn"] = {"relu": nn.ReLU, "tanh": nn.Tanh, "elu": nn.ELU,
                                "leaky_relu": nn.LeakyReLU, "silu": nn.SiLU, "gelu": nn.GELU}[name]
    return out


def _parameters(fn: Any, skip: set[str]) -> set[str]:
    params = inspect.signature(fn).parameters.values()
    return {p.name for p in params if p.name not in skip
            and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}


def _check_normalize(value: Any) -> None:
    if isinstance(value, bool):
        return
    allowed = {"norm_obs", "norm_reward", "clip_obs", "clip_reward", "gamma", "epsilon"}
    if not isinstance(value, Mapping) or set(value) - allowed:
        raise ValueError(f"normalize = {value!r} is invalid: must be true/false or a mapping with "
                         f"keys among {sorted(allowed)}")


def plain(params: Mapping[str, Any]) -> dict[str, Any]:
    """YAML-safe copy of resolved hyperparameters (classes become their names)."""
    def conv(v: Any) -> Any:
        if isinstance(v, Mapping):
            return {str(k): conv(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [conv(x) for x in v]
        if isinstance(v, type):
            return v.__name__
        return v

    return conv(params)
