"""Field checks shared by every config dataclass (and train.py's hyperparameters): each error
names the section, the field and the bad value.

Numbers may be Python or numpy scalars (``np.float32(80)``); numpy scalars are turned into
Python numbers (:func:`plain_numbers`) so configs stay JSON/YAML-serialisable. Booleans and
strings are never numbers: ``True`` is not 1 GB, and ``"4e1"`` (what PyYAML makes of ``4e1``)
is rejected with a hint rather than a misleading range error.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from typing import Any

import numpy as np


def check(ok: bool, section: str, name: str, value: Any, rule: str) -> None:
    if not ok:
        raise ValueError(f"{section}.{name} = {value!r} is invalid: must be {rule}")


def is_number(value: Any) -> bool:
    """A real number (Python or numpy), not a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def is_integer(value: Any) -> bool:
    """An integer (Python or numpy), not a bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def num_envs_of(num_envs: Any) -> int:
    """A vector env's ``num_envs`` as an int (numpy integers too), or a ``ValueError``."""
    if not is_integer(num_envs) or num_envs < 1:
        raise ValueError(f"num_envs={num_envs!r} is invalid: an integer >= 1")
    return int(num_envs)


def plain_numbers(obj: Any) -> None:
    """Replace numpy scalar fields of a (frozen) dataclass by the equal Python number."""
    for f in dataclasses.fields(obj):
        v = getattr(obj, f.name)
        if isinstance(v, np.generic) and not isinstance(v, np.bool_):
            object.__setattr__(obj, f.name, v.item())


def _type_rule(value: Any, kind: str) -> str:
    hint = ""
    if isinstance(value, str):
        hint = " (YAML reads 4e1 as a string: write 4.0e+1 or 40)"
    elif isinstance(value, (bool, np.bool_)):
        hint = " (a boolean is not a number)"
    return f"{kind}, not {type(value).__name__}{hint}"


def number(section: str, name: str, value: Any) -> None:
    """``value`` is a finite real number."""
    check(is_number(value), section, name, value, _type_rule(value, "a number"))
    check(math.isfinite(value), section, name, value, "finite")


def integer(section: str, name: str, value: Any, minimum: int) -> None:
    """``value`` is an integer >= ``minimum``."""
    check(is_integer(value), section, name, value, _type_rule(value, f"an integer >= {minimum}"))
    check(value >= minimum, section, name, value, f"an integer >= {minimum}")


def in_range(section: str, name: str, value: Any, lo: float, hi: float,
             lo_open: bool = False, hi_open: bool = False) -> None:
    """``value`` is a number in the interval, e.g. ``(0, 1]``."""
    rule = f"in {'(' if lo_open else '['}{lo:g}, {hi:g}{')' if hi_open else ']'}"
    number(section, name, value)
    ok = (value > lo if lo_open else value >= lo) and (value < hi if hi_open else value <= hi)
    check(ok, section, name, value, rule)


def positive(section: str, obj: Any, *names: str) -> None:
    for n in names:
        v = getattr(obj, n)
        number(section, n, v)
        check(v > 0, section, n, v, "> 0")


def non_negative(section: str, obj: Any, *names: str) -> None:
    for n in names:
        v = getattr(obj, n)
        number(section, n, v)
        check(v >= 0, section, n, v, ">= 0")
