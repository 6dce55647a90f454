"""Field checks shared by every config dataclass: each error names the section, the field and
the bad value."""

from __future__ import annotations

import math
from typing import Any


def check(ok: bool, section: str, name: str, value: Any, rule: str) -> None:
    if not ok:
        raise ValueError(f"{section}.{name} = {value!r} is invalid: must be {rule}")


def positive(section: str, obj: Any, *names: str) -> None:
    for n in names:
        v = getattr(obj, n)
        check(isinstance(v, (int, float)) and math.isfinite(v) and v > 0, section, n, v, "> 0")


def non_negative(section: str, obj: Any, *names: str) -> None:
    for n in names:
        v = getattr(obj, n)
        check(isinstance(v, (int, float)) and math.isfinite(v) and v >= 0, section, n, v, ">= 0")
