"""Bad config values: every error names the field and the bad value; numpy scalars are numbers,
booleans and strings are not; options a source would ignore are errors."""

from __future__ import annotations

import json

import gymnasium as gym
import numpy as np
import pytest

import edge_cache_env  # noqa: F401
from edge_cache_env.config import make_config


@pytest.mark.parametrize("overrides, match", [
    ({"gpu_gb": "4e1"}, r"server.gpu_gb = '4e1' is invalid: must be a number, not str \(YAML reads 4e1"),
    ({"gpu_gb": True}, r"server.gpu_gb = True is invalid: must be a number, not bool"),
    ({"nu": "0.9"}, r"aoc.nu = '0.9' is invalid: must be a number"),
    ({"nu": None}, r"aoc.nu = None is invalid: must be a number"),
    ({"nu": 0.0}, r"aoc.nu = 0.0 is invalid: must be in \(0, 1\]"),
    ({"rho": "x"}, r"aoc.rho = 'x' is invalid"),
    ({"n_slots": True}, r"config.n_slots = True is invalid: must be an integer >= 1, not bool"),
    ({"n_slots": 20.0}, r"config.n_slots = 20.0 is invalid: must be an integer >= 1"),
    ({"n_slots": 0}, r"config.n_slots = 0 is invalid"),
    ({"tasks_per_model": True}, r"aoc.tasks_per_model = True"),
    ({"max_ops_per_slot": True}, r"config.max_ops_per_slot = True"),
    ({"requests_per_slot": float("nan")}, r"workload.requests_per_slot = nan is invalid: must be finite"),
    ({"cloud": {"accuracy": "0.5"}}, r"cloud.accuracy = '0.5'"),
    ({"shift_fraction": None}, r"workload.shift_fraction = None"),
    ({"frequency_ewma": "0.1"}, r"config.frequency_ewma = '0.1'"),
    ({"gpu_gb": 1e-300, "model_overrides": {"*": {"weights_gb": 1e-301, "context_gb": 0.0}}},
     r"server.gpu_gb = 1e-300 is invalid: must be >= 0.001"),
    ({"trace_path": "x.csv"}, r"workload.trace_path = 'x.csv' is invalid: must be unset with source='synthetic'"),
    ({"trace_options": {"zipf": 1}}, r"workload.trace_options = \{'zipf': 1\} is invalid"),
    ({"trace_s_per_slot": 3.0}, r"workload.trace_s_per_slot = 3.0 is invalid"),
])
def test_bad_values_name_the_field(overrides, match):
    with pytest.raises(ValueError, match=match):
        make_config("small", **overrides)


def test_bad_shapes_name_the_key():
    with pytest.raises(TypeError, match=r"config.models = None is invalid: must be a list"):
        make_config("small", models=None)
    with pytest.raises(TypeError, match=r"config.models = 'abc' is invalid"):
        make_config("small", models="abc")
    with pytest.raises(TypeError, match=r"model_overrides\['\*'\] = 3 is invalid: must be a mapping"):
        make_config("small", model_overrides={"*": 3})
    with pytest.raises(TypeError, match=r"config = 'x' is invalid: must be an EnvConfig"):
        gym.make("EdgePFMCache-Small-v0", config="x")


@pytest.mark.parametrize("overrides", [
    {"gpu_gb": np.float32(80)}, {"n_slots": np.int64(20)}, {"tasks_per_model": np.int32(3)},
    {"nu": np.float64(0.9)}, {"model_overrides": {"*": {"window_examples": np.int64(8)}}},
])
def test_numpy_scalars_are_numbers_and_stored_as_python_numbers(overrides):
    config = make_config("small", **overrides)
    json.dumps(config.to_dict())  # no numpy scalar leaks into the saved config
    key, value = next(iter(overrides.items()))
    if key in ("gpu_gb", "n_slots", "nu"):
        stored = {"gpu_gb": config.server.gpu_gb, "n_slots": config.n_slots, "nu": config.aoc.nu}[key]
        assert type(stored) in (int, float) and stored == pytest.approx(float(value))
    env = gym.make("EdgePFMCache-Small-v0", **{"n_slots": 20, **overrides})
    env.reset(seed=0)
    env.step(0)
