"""Set policies with random weights, saved as MaskablePPO zips, for the generalist's tests."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym


def gated_generalist(tmp_path: Path, verify: bool | None = None):
    """A gated advised generalist with large random weights: its own correction of the rule is
    strong wherever the gate lets it act (``verify``: :class:`GeneralistAgent`'s)."""
    import torch as th
    from sb3_contrib import MaskablePPO

    from agents.generalist import GeneralistAgent
    from agents.set_policy import SetPolicy
    from training.wrappers import Advised

    env = Advised(gym.make("EdgePFMCache-Random-v0", n_max=10, n_slots=20), capacity_gate=True)
    model = MaskablePPO(SetPolicy, env, policy_kwargs={"hidden": 16, "advice": True,
                                                       "capacity_gate": True}, device="cpu", seed=0)
    with th.no_grad():
        for name, p in model.policy.named_parameters():
            if name != "mlp_extractor.prior_weight":
                p.normal_(0.0, 2.0)
    model.save(tmp_path / "gated.zip")
    return GeneralistAgent(tmp_path / "gated.zip", verify=verify)


def advised_generalist(tmp_path: Path, verify: bool | None = None):
    """An untrained advised generalist without the gate (it plays the rule by its prior)."""
    from sb3_contrib import MaskablePPO

    from agents.generalist import GeneralistAgent
    from agents.set_policy import SetPolicy
    from training.wrappers import Advised

    model = MaskablePPO(SetPolicy, Advised(gym.make("EdgePFMCache-Random-v0", n_max=10, n_slots=20)),
                        policy_kwargs={"hidden": 16, "advice": True}, device="cpu", seed=0)
    model.save(tmp_path / "g.zip")
    return GeneralistAgent(tmp_path / "g.zip", verify=verify)
