"""Behaviour must not change with speed: a seeded 500-step rollout fixed in tests/golden/."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from edge_cache_env.observation import GLOBAL_FEATURES, MODEL_FEATURES, split_observation

sys.path.insert(0, str(Path(__file__).parent / "golden"))
from make_golden import CONFIG_PATH, DATA_PATH, rollout  # noqa: E402


def test_rollout_matches_golden_file():
    expected = np.load(DATA_PATH)
    got = rollout(json.loads(CONFIG_PATH.read_text()))
    assert sorted(got) == sorted(expected.files)
    np.testing.assert_array_equal(got["action"], expected["action"])
    np.testing.assert_array_equal(got["mask"], expected["mask"])
    # The file keeps observations as first written (model-major: a model's 8 features together);
    # the env now stores them feature-major. Compare feature by feature, whatever the layout.
    n_models = (expected["obs"].shape[1] - len(GLOBAL_FEATURES)) // len(MODEL_FEATURES)
    k = n_models * len(MODEL_FEATURES)
    want_models = expected["obs"][:, :k].reshape(-1, n_models, len(MODEL_FEATURES))
    got_models, got_globals = split_observation(got["obs"], n_models)
    np.testing.assert_allclose(got_models, want_models, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(got_globals, expected["obs"][:, k:], rtol=1e-6, atol=1e-7)
    for key in expected.files:
        if key not in ("action", "mask", "obs"):
            np.testing.assert_allclose(got[key], expected[key], rtol=1e-9, atol=1e-9, err_msg=key)
