"""Set policies saved as MaskablePPO zips, loaded as the generalist agent, for the tests."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym


def set_policy_agent(tmp_path: Path, advice: bool = True, capacity_gate: bool = False,
                     random_weights: bool = False, verify: bool | None = None):
    """A :class:`GeneralistAgent` of an untrained set policy (``random_weights``: large random
    weights, so its own correction of the rule is strong wherever it acts)."""
    import torch as th
    from sb3_contrib import MaskablePPO

    from agents.generalist import GeneralistAgent
    from agents.set_policy import SetPolicy
    from training.wrappers import Advised

    env = gym.make("EdgePFMCache-Random-v0", n_max=10, n_slots=20)
    if advice:
        env = Advised(env, capacity_gate=capacity_gate)
    model = MaskablePPO(SetPolicy, env, policy_kwargs={"hidden": 16, "advice": advice,
                                                       "capacity_gate": capacity_gate},
                        device="cpu", seed=0)
    if random_weights:
        with th.no_grad():
            for name, p in model.policy.named_parameters():
                if name != "mlp_extractor.prior_weight":
                    p.normal_(0.0, 2.0)
    path = tmp_path / f"set-{int(advice)}{int(capacity_gate)}{int(random_weights)}.zip"
    model.save(path)
    return GeneralistAgent(path, verify=verify)


def gated_generalist(tmp_path: Path, verify: bool | None = None):
    """A gated advised generalist with large random weights."""
    return set_policy_agent(tmp_path, capacity_gate=True, random_weights=True, verify=verify)
