"""The exact optimum of an episode, for small catalogs and short horizons.

Any policy's episode is, slot by slot, a sequence of cache sets plus, for each cached model,
the slot it was last loaded in (the context of a model depends on nothing else: see
:mod:`agents.true_costs`). The state of this dynamic program is exactly that: ``loaded_at[m]``
per model (-1 = not cached). In slot t each model either stays out, is loaded (1 operation),
stays cached, is evicted (1 operation) or is evicted and reloaded (2 operations: its context
restarts, which can pay when a full window holds the wrong task); the new cache set must fit in
GPU memory (integer MB; evictions run first, so the final set fitting is exactly the env's
rule) and the slot's operations must be within ``ops_per_slot``. Every other order of
operations within a slot reaches one of these outcomes at no lower cost (an extra LOAD only
adds switching cost). The value is the true episode cost, so the minimum is the optimum over
all policies, including ones that read the future.

The work is the number of states times 3^N per slot, states growing like ``T^k`` for k models
cached at once: :func:`exact_optimum` refuses instances whose state bound exceeds
:data:`MAX_STATES` with a ``ValueError`` naming the numbers.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass

import numpy as np

from agents.true_costs import TrueCosts, is_exact_for
from edge_cache_env.config import EnvConfig
from edge_cache_env.requests import EpisodeRequests

MAX_MODELS = 6
MAX_STATES = 150_000  # bound on (cache set, load slots) states summed over slots (~40 s)


@dataclass(frozen=True)
class ExactOptimum:
    cost: float
    loaded_at: np.ndarray  # [T, N] an optimal plan (load slot of each cached model, else -1)
    states: int  # states visited, summed over slots
    seconds: float


def state_bound(config: EnvConfig) -> int:
    """Upper bound on the states the DP visits: sum over slots t and memory-feasible sets X of
    (t + 1)^|X| (each cached model's load slot is one of 0..t)."""
    costs_mb = [int(round(m.mem_gb * 1000)) for m in config.models]
    gpu_mb = int(round(config.server.gpu_gb * 1000))
    sizes = [sum(bits) for bits in itertools.product((0, 1), repeat=config.n_models)
             if np.dot(bits, costs_mb) <= gpu_mb]
    return int(sum((t + 1) ** k for t in range(config.n_slots) for k in sizes))


def check_tractable(config: EnvConfig) -> None:
    if not is_exact_for(config):
        raise ValueError("exact optimum: the capacity model couples the models' costs; the exact "
                         "search covers the v0 dynamics (config.capacity.enabled = False)")
    if config.n_models > MAX_MODELS:
        raise ValueError(f"exact optimum: {config.n_models} models; tractable up to {MAX_MODELS}")
    bound = state_bound(config)
    if bound > MAX_STATES:
        raise ValueError(f"exact optimum: up to {bound} states for {config.n_models} models x "
                         f"{config.n_slots} slots (gpu_gb={config.server.gpu_gb}); tractable up "
                         f"to MAX_STATES={MAX_STATES}: use fewer slots or models")


def exact_optimum(config: EnvConfig, requests: EpisodeRequests) -> ExactOptimum:
    """The minimum true episode cost over every policy (see the module docstring)."""
    check_tractable(config)
    start = time.perf_counter()
    tc = TrueCosts.of(config, requests)
    n, n_slots = tc.n_models, tc.n_slots
    sets = [bits for bits in itertools.product((False, True), repeat=n)
            if tc.mem_mb[list(bits)].sum() <= tc.gpu_mb]
    states: dict[tuple[int, ...], float] = {(-1,) * n: 0.0}
    parents: list[dict[tuple[int, ...], tuple[int, ...]]] = []
    visited = 0
    for t in range(n_slots):
        cloud = tc.cloud[t].tolist()
        fresh = (tc.load + tc.edge[:, t, t]).tolist()
        kept_cost = tc.edge[:, :, t]
        new: dict[tuple[int, ...], float] = {}
        parent: dict[tuple[int, ...], tuple[int, ...]] = {}
        for key, value in states.items():
            # Per model and target set: out (cloud), loaded now, or cached since key[m]
            # (kept, or evicted and reloaded: two operations, a fresh context).
            for target in sets:
                options, ops = [], 0
                for m, (lm, keep) in enumerate(zip(key, target)):
                    if not keep:
                        options.append(((-1, 0, cloud[m]),))
                        ops += lm >= 0
                    elif lm < 0:
                        options.append(((t, 0, fresh[m]),))
                        ops += 1
                    else:
                        options.append(((lm, 0, float(kept_cost[m, lm])), (t, 2, fresh[m])))
                if ops > tc.ops_limit:
                    continue
                for combo in itertools.product(*options):
                    if ops + sum(o[1] for o in combo) > tc.ops_limit:
                        continue
                    nxt = tuple(o[0] for o in combo)
                    v = value + sum(o[2] for o in combo)
                    if v < new.get(nxt, np.inf):
                        new[nxt], parent[nxt] = v, key
        states = new
        parents.append(parent)
        visited += len(states)
    key = min(states, key=states.__getitem__)
    cost = states[key]
    plan = np.empty((n_slots, n), dtype=np.int64)
    for t in range(n_slots - 1, -1, -1):
        plan[t] = key
        key = parents[t][key]
    return ExactOptimum(cost=float(cost), loaded_at=plan, states=visited,
                        seconds=time.perf_counter() - start)
