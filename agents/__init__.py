"""Agents for EdgePFMCache: heuristics, reference policies, and loaders for trained policies.

``make(spec)`` builds an agent from a name (``"lc"``, ``"lru"``, ..., or a shipped trained agent
of :data:`PRETRAINED_AGENTS` such as ``"generalist"``) or, for a trained policy,
``"ALGO:PATH"`` (``"ppo:runs/x/best_model.zip"``, ``"maskable_ppo:PATH"``, ``"dqn:PATH"``), which
is routed to :func:`agents.trained.load_trained` (imported lazily: SB3 and torch stay out of
the heuristics' import path).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from agents.base import Agent
from agents.cost_benefit import CostBenefit
from agents.gdsf import GreedyDualSizeFrequency
from agents.heuristics import (
    CloudOnly,
    FirstInFirstOut,
    LeastContext,
    LeastFrequentlyUsed,
    LeastRecentlyUsed,
    RandomVictim,
)
from agents.reference import Clairvoyant, Oracle, StaticBest
from agents.trained import ALGOS as TRAINED_ALGOS  # light: torch loads only with a model
from agents.tuned import TunedCostBenefit

# THE agent list: evaluate.py's "all" is every name here, in this order.
AGENTS: dict[str, Callable[[], Agent]] = {
    "lc": LeastContext,
    "lru": LeastRecentlyUsed,
    "lfu": LeastFrequentlyUsed,
    "fifo": FirstInFirstOut,
    "random": RandomVictim,
    "gdsf": GreedyDualSizeFrequency,
    "cost_benefit": CostBenefit,
    "cost_benefit_tuned": TunedCostBenefit,
    "cloud": CloudOnly,
    "static": StaticBest,
    "clairvoyant": Clairvoyant,
    "oracle": Oracle,
}
#: Agents that read the realised future of the episode (yardsticks, not deployable policies).
REFERENCE_AGENTS = ("static", "clairvoyant", "oracle")
#: Shipped trained agents by name (agents/pretrained/); they load torch, so they are not in
#: AGENTS ("all") and their modules are imported only when asked for.
PRETRAINED_AGENTS: dict[str, str] = {
    # One set policy for any catalog of up to 32 models (agents/generalist.py).
    "generalist": "agents.generalist:GeneralistAgent",
}
#: The reactive rules whose episodes seed the oracle's search, so the oracle is never worse than
#: any of them (random: seeded per episode; cloud: never caches).
ORACLE_STARTS = tuple(n for n in AGENTS if n not in (*REFERENCE_AGENTS, "random", "cloud"))


def _oracle() -> Oracle:
    """The oracle with every rule of :data:`ORACLE_STARTS` as a start. The tuned rule is one
    instance per oracle: it tunes once per scenario, not once per planned episode."""
    tuned = TunedCostBenefit()
    return Oracle(rollouts=tuple((lambda: tuned) if n == "cost_benefit_tuned" else AGENTS[n]
                                 for n in ORACLE_STARTS))


AGENTS["oracle"] = _oracle


def make(spec: str, **kwargs: Any) -> Any:
    """An agent by name, or a trained policy by ``"ALGO:PATH"``; unknown names list the known ones.
    A set policy (agents/set_policy.py) loads as a :class:`~agents.generalist.GeneralistAgent`,
    which plays any catalog and computes the advice an advised policy reads."""
    if not isinstance(spec, str) or not spec:
        raise ValueError(f"agent spec must be a non-empty string, got {spec!r}")
    if ":" in spec:
        algo, path = spec.split(":", 1)
        if algo not in TRAINED_ALGOS:
            raise ValueError(f"unknown trained-agent algorithm {algo!r} in {spec!r}; "
                             f"known: {list(TRAINED_ALGOS)} (as ALGO:PATH)")
        from agents.trained import load_trained  # heavy imports only when asked for

        verify = kwargs.pop("verify", None)  # the generalist's check (agents/generalist.py)
        agent = load_trained(algo, path, **kwargs)
        policy = getattr(getattr(agent, "model", None), "policy", None)
        if type(policy).__name__ == "SetPolicy":  # any catalog, maybe advised
            from agents.generalist import GeneralistAgent

            return GeneralistAgent(agent.path, verify=verify)
        if verify:
            raise ValueError(f"verify=True: only a set policy (the generalist) verifies itself; "
                             f"{spec!r} holds a {type(policy).__name__}")
        return agent
    if spec in PRETRAINED_AGENTS:
        import importlib

        module, _, cls = PRETRAINED_AGENTS[spec].partition(":")
        return getattr(importlib.import_module(module), cls)(**kwargs)
    if spec not in AGENTS:
        raise ValueError(f"unknown agent {spec!r}; known: {sorted([*AGENTS, *PRETRAINED_AGENTS])} "
                         f"or ALGO:PATH with ALGO in {list(TRAINED_ALGOS)}")
    return AGENTS[spec](**kwargs)


__all__ = ["AGENTS", "ORACLE_STARTS", "PRETRAINED_AGENTS", "REFERENCE_AGENTS", "TRAINED_ALGOS", "Agent", "make"]
