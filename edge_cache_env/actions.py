"""The action encoding, in one place: ``Discrete(2N + 1)``.

``0`` = SERVE (serve this slot and advance), ``1..N`` = LOAD model ``a - 1``,
``N+1..2N`` = EVICT model ``a - N - 1``. The env decodes with :func:`decode_action`; agents
encode with :func:`load_action` / :func:`evict_action` (scalars or numpy arrays alike).
"""

from __future__ import annotations

import numbers
from typing import Any, Literal, TypeVar

import numpy as np

SERVE = 0
ActionKind = Literal["serve", "load", "evict"]
IntOrArray = TypeVar("IntOrArray", int, np.ndarray)


def n_actions(n_models: int) -> int:
    """Size of the action space for ``n_models`` models."""
    return 2 * n_models + 1


def load_action(model: IntOrArray) -> IntOrArray:
    """The action that loads ``model``."""
    return model + 1


def evict_action(model: IntOrArray, n_models: int) -> IntOrArray:
    """The action that evicts ``model`` from a catalog of ``n_models``."""
    return model + n_models + 1


def decode_action(action: int, n_models: int) -> tuple[ActionKind, int]:
    """``(kind, model)`` of a valid action index (model -1 for SERVE)."""
    if action == SERVE:
        return "serve", -1
    if action <= n_models:
        return "load", action - 1
    return "evict", action - n_models - 1


def integer_action(action: Any, n: int) -> int:
    """``action`` as an int, if it is an integer (numpy integers and 0-d integer arrays too);
    anything else is a ``TypeError`` naming ``Discrete(n)``: truncating 1.7 to LOAD model 0, or
    reading ``True`` as 1, would hide a bug. (The range is the caller's to check.)"""
    if isinstance(action, np.ndarray) and action.shape == () and action.dtype.kind in "iu":
        return int(action)
    if isinstance(action, numbers.Integral) and not isinstance(action, (bool, np.bool_)):
        return int(action)
    raise TypeError(f"action {action!r} ({type(action).__name__}) is invalid: must be an "
                    f"integer in Discrete({n}) (0 = SERVE, 1..N = LOAD, N+1..2N = EVICT)")
