"""The trained-model loader fails clearly on a zip of another algorithm or a file that is no zip."""

from __future__ import annotations

from pathlib import Path

import pytest

import agents

pytest.importorskip("stable_baselines3")
PRETRAINED = Path(__file__).resolve().parents[2] / "agents" / "pretrained"


def test_a_zip_of_another_algorithm_names_the_right_one():
    with pytest.raises(ValueError, match="holds a dqn model; load it as 'dqn:"):
        agents.make(f"ppo:{PRETRAINED / 'dqn.zip'}")


def test_a_file_that_is_not_a_model_zip(tmp_path):
    bad = tmp_path / "model.zip"
    bad.write_text("not a zip")
    with pytest.raises(ValueError, match="is not an SB3 model zip"):
        agents.make(f"ppo:{bad}")
