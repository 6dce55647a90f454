"""The benchmark's confidence intervals: Student t half-widths at every episode count."""

from __future__ import annotations

import math

import numpy as np
import pytest

from evaluation.engine import ci95

# t_{0.975, df} from statistical tables (scipy.stats.t.ppf(0.975, df)), for df beyond the
# engine's own table: the normal 1.96 was used there, 3.9% too narrow at df = 31.
TABLE = {1: 12.706, 19: 2.093, 30: 2.042, 31: 2.0395, 40: 2.0211, 60: 2.0003, 99: 1.9842,
         1000: 1.9623}


@pytest.mark.parametrize("df", sorted(TABLE))
def test_the_half_width_uses_the_t_quantile(df):
    x = np.random.default_rng(df).normal(size=df + 1)
    t = ci95(x) / (x.std(ddof=1) / math.sqrt(len(x)))
    assert t == pytest.approx(TABLE[df], abs=6e-4)


def test_one_value_has_no_interval():
    assert ci95([3.0]) == 0.0
