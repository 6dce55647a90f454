"""Named scenario suites: the field of settings ``evaluate.py --suite NAME`` compares agents on.

A suite is DATA: a versioned name mapped to a tuple of :class:`Scenario` (name, env id, env
kwargs as plain JSON, one-line purpose). ``default`` is an alias of the newest version
(``default-v2``); results record the resolved version, so numbers from different versions are
never mixed up. To extend: add a Scenario to a NEW version (``default-v2``) and point the alias
at it; never change the scenarios of a published version. docs/scenarios.md is the table.

The env id is a per-scenario field, so moving the loaded scenarios to another env version
(e.g. a GPU capacity model) is a one-line change per scenario.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any


@dataclass(frozen=True)
class Scenario:
    """One point of the field: ``gym.make(env_id, **env_kwargs)`` and why it is there."""

    name: str
    env_id: str
    env_kwargs: Mapping[str, Any] = field(default_factory=dict)
    purpose: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name or any(c in self.name for c in " ,"):
            raise ValueError(f"scenario name {self.name!r} is invalid: a non-empty string "
                             "without spaces or commas")
        if not isinstance(self.env_id, str) or not self.env_id:
            raise ValueError(f"scenario {self.name!r}: env_id {self.env_id!r} is invalid: a registered env id")
        if not isinstance(self.env_kwargs, Mapping):
            raise ValueError(f"scenario {self.name!r}: env_kwargs must be a JSON object, "
                             f"got {type(self.env_kwargs).__name__}")
        try:  # plain JSON only: the kwargs are written to results.json as they are
            plain = json.loads(json.dumps(dict(self.env_kwargs), allow_nan=False))
        except (TypeError, ValueError) as e:
            raise ValueError(f"scenario {self.name!r}: env_kwargs is not plain JSON ({e})") from e
        object.__setattr__(self, "env_kwargs", plain)
        if not isinstance(self.purpose, str) or not self.purpose or "\n" in self.purpose:
            raise ValueError(f"scenario {self.name!r}: purpose must be one non-empty line")

    def kwargs(self) -> dict[str, Any]:
        """A fresh deep copy of the env kwargs (callers may change it freely)."""
        return json.loads(json.dumps(self.env_kwargs))

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "env_id": self.env_id, "env_kwargs": self.kwargs(),
                "purpose": self.purpose}


_V0 = "EdgePFMCache-v0"
# Loaded scenarios run on the capacity model (v1 here; default-v2 below is the same on v2):
# there one GPU cannot serve everything at the edge (queueing, offloading), and v0's unlimited
# GPU would reward caching more than reality does.
_V1 = "EdgePFMCache-v1"

DEFAULT_V1: tuple[Scenario, ...] = (
    Scenario("base", _V0, {}, "the calibrated default: 80 GB GPU, 2 requests/slot, Zipf 1.2, 10 models"),
    # GPU memory (the source paper's x axis): from 2 LLMs resident to nearly the whole catalog.
    Scenario("gpu-40", _V0, {"gpu_gb": 40}, "tight GPU: about two LLMs fit, every load evicts"),
    Scenario("gpu-120", _V0, {"gpu_gb": 120}, "roomy GPU: most hot models fit at once"),
    Scenario("gpu-160", _V0, {"gpu_gb": 160}, "nearly the whole catalog fits: eviction rarely binds"),
    # Load (requests per 10 s slot).
    Scenario("load-0.5", _V0, {"requests_per_slot": 0.5},
             "light load: models idle for minutes, context decays between requests"),
    Scenario("load-8", _V1, {"requests_per_slot": 8.0},
             "heavy load on a GPU of finite throughput (v1): queueing and offloading matter"),
    Scenario("gpu-capacity", _V1, {},
             "the default on a GPU of finite throughput (v1): bursts above its capacity queue or offload"),
    # Popularity skew and drift.
    Scenario("skew-flat", _V0, {"zipf_models": 0.6}, "flat popularity: no small hot set to keep"),
    Scenario("skew-steep", _V0, {"zipf_models": 2.0}, "steep popularity: a few models take almost all requests"),
    Scenario("drift-fast", _V0, {"shift_every_slots": 12, "shift_fraction": 0.6},
             "fast drift: 60% of the ranking reshuffled every 2 minutes"),
    Scenario("drift-none", _V0, {"shift_fraction": 0.0}, "stationary popularity: frequency is a safe signal"),
    # Context: how fast it decays and how much it is worth.
    Scenario("aoc-fast-decay", _V0, {"aoc": {"nu": 0.95}},
             "context decays fast (half-life ~2 min): keeping old context pays less"),
    Scenario("aoc-slow-decay", _V0, {"aoc": {"nu": 0.999}},
             "context decays slowly (half-life ~2 h): evicting context is costly"),
    Scenario("context-no-gain", _V0, {"model_overrides": {"*": {"acc_gain": 0.0}}},
             "context is worthless: a classic cache (does LC still help?)"),
    Scenario("context-high-gain", _V0, {"model_overrides": {"*": {"acc_gain": 0.08}}},
             "context is worth more (+8 points per doubling of examples)"),
    # Catalog size.
    Scenario("catalog-small", "EdgePFMCache-Small-v0", {},
             "6 models on a 40 GB GPU (the lower bound and oracle are fast)"),
    Scenario("catalog-large", "EdgePFMCache-Large-v0", {},
             "a large catalog (>= 20 models): beyond the oracle's and the lower bound's reach"),
    # Real traces, held-out (test) split.
    Scenario("trace-servegen", "EdgePFMCache-ServeGen-v1", {"split": "test"},
             "ServeGen client rates (Alibaba): real per-model load and burstiness"),
    Scenario("trace-mooncake", "EdgePFMCache-Mooncake-v1", {"split": "test"},
             "Mooncake (Kimi) conversation arrivals: real bursty timing"),
    Scenario("trace-azure", "EdgePFMCache-Azure-v1", {"split": "test"},
             "Azure LLM inference 2023 (code + conversation): real arrivals"),
)

# default-v2: the same scenarios, the loaded ones on the -v2 ids (v1's charge of a carried
# queue fixed: docs/model.md section 14.3).
DEFAULT_V2: tuple[Scenario, ...] = tuple(
    replace(s, env_id=s.env_id.replace("-v1", "-v2"), purpose=s.purpose.replace("(v1)", "(v2)"))
    for s in DEFAULT_V1)

#: THE suites: versioned name -> scenarios. Published versions never change.
SUITES: dict[str, tuple[Scenario, ...]] = {"default-v1": DEFAULT_V1, "default-v2": DEFAULT_V2}
#: Unversioned names -> the version they currently mean.
ALIASES: dict[str, str] = {"default": "default-v2"}


def _check_unique(suites: Mapping[str, Sequence[Scenario]]) -> None:
    for suite, scenarios in suites.items():
        names = [s.name for s in scenarios]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"suite {suite!r}: duplicate scenario names {dup}")


_check_unique(SUITES)


def suite_names() -> list[str]:
    """Every accepted suite name: aliases and versions."""
    return sorted({*ALIASES, *SUITES})


def resolve_suite(name: str) -> tuple[str, tuple[Scenario, ...]]:
    """``(version, scenarios)`` of a suite name or alias; unknown names list the valid ones."""
    version = ALIASES.get(name, name)
    if version not in SUITES:
        raise ValueError(f"unknown suite {name!r}; valid: {', '.join(suite_names())}")
    return version, SUITES[version]


def select_scenarios(scenarios: Sequence[Scenario], names: Sequence[str] | None
                     ) -> tuple[Scenario, ...]:
    """The named subset, in the order given (``None``: all); unknown names list the valid ones."""
    if names is None:
        return tuple(scenarios)
    by_name = {s.name: s for s in scenarios}
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise ValueError(f"unknown scenario(s) {unknown}; valid: {', '.join(by_name)}")
    if not names:
        raise ValueError(f"no scenario named; valid: {', '.join(by_name)}")
    return tuple(by_name[n] for n in dict.fromkeys(names))
