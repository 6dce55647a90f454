"""The trained-model loader fails clearly on a zip of another algorithm or a file that is no zip."""

from __future__ import annotations

import re
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


@pytest.mark.parametrize("algo", ["ppo", "dqn"])
def test_the_generalists_zip_as_another_algorithm_says_how_to_load_it(algo):
    """Was an SB3-internal TypeError ('use_sde') or AttributeError ('q_net')."""
    path = PRETRAINED / "generalist.zip"
    with pytest.raises(ValueError, match=r"MaskablePPO set-policy model .* load it as "
                                         + re.escape(f"'maskable_ppo:{path}'")):
        agents.make(f"{algo}:{path}")


def test_a_maskable_policy_asked_without_masks_says_so_once():
    """It then plays masked-out actions (24 of 35 steps on v0), silently before."""
    import warnings

    import gymnasium as gym

    agent = agents.make(f"maskable_ppo:{PRETRAINED / 'maskable_ppo.zip'}")
    env = gym.make("EdgePFMCache-v0")
    obs, _ = env.reset(seed=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        agent.predict(obs)
        agent.predict(obs)
        agent.predict(obs, action_masks=env.unwrapped.action_masks())
    assert sum("without action_masks" in str(w.message) for w in caught) == 1
