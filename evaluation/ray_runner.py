"""``evaluate.py --ray [ADDRESS]``: the (agent, seed) episodes of a benchmark as Ray tasks.

:func:`run_benchmark_ray` takes the inputs of :func:`evaluation.engine.run_benchmark` and returns
the same :class:`~evaluation.engine.BenchmarkResult`: every task builds its env with
``gym.make(env_id, **env_kwargs)``, a fresh agent, and plays ``reset(seed=s)`` with
:func:`~evaluation.engine.run_episode`, so every cost equals the local run's (only the
``seconds`` of each episode differ). The lower bound of each seed is a task too. A local Ray by
default; ``address`` joins a cluster (``"auto"``, ``"HOST:6379"`` or ``"ray://HOST:10001"``),
to which this package is shipped with the job; trained policies given as ``ALGO:PATH`` must be
readable at that path on every node.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from evaluation.engine import (
    BenchmarkResult,
    _failure,
    _progress,
    bound_unavailable,
    merge_reports,
    not_applicable,
    run_episode,
)


def _episode(env_id: str, env_kwargs: dict[str, Any], spec: str, seed: int,
             make_agent: Callable[[str], Any] | None) -> tuple[dict[str, float], Any]:
    """One episode in a worker, and the agent's report of what it chose (None if it has none)."""
    import gymnasium as gym

    import edge_cache_env  # noqa: F401  (registers the ids in the worker)
    from agents import make

    env = gym.make(env_id, **env_kwargs)
    try:
        agent = (make_agent or make)(spec)
        episode = run_episode(env, agent, seed)
        return episode, (agent.report() if hasattr(agent, "report") else None)
    finally:
        env.close()


def _bound(env_id: str, env_kwargs: dict[str, Any], seed: int) -> tuple[float, float] | None:
    import gymnasium as gym

    import edge_cache_env  # noqa: F401
    from agents.bounds import is_tractable, lower_bound

    env = gym.make(env_id, **env_kwargs)
    if not is_tractable(env.unwrapped.config):
        return None
    env.reset(seed=seed)
    lb = lower_bound(env.unwrapped.config, env.unwrapped.requests)
    env.close()
    return lb.cost, lb.seconds


def _absolute(spec: str) -> str:
    """``ALGO:PATH`` with an absolute path (workers may run in another folder)."""
    if ":" not in spec:
        return spec
    algo, path = spec.split(":", 1)
    return f"{algo}:{Path(path).resolve()}"


def run_benchmark_ray(env_id: str, agent_specs: Sequence[str], seeds: Sequence[int],
                      env_kwargs: dict[str, Any] | None = None, bound: bool = True,
                      progress: bool = True, make_agent: Callable[[str], Any] | None = None,
                      address: str | None = None, num_cpus: int | None = None) -> BenchmarkResult:
    """:func:`evaluation.engine.run_benchmark`, one Ray task per (agent, seed) and per bound."""
    import gymnasium as gym

    import edge_cache_env  # noqa: F401
    from agents import make
    from evaluation.ray_cluster import connect, require_ray

    ray = require_ray()
    env_kwargs = dict(env_kwargs or {})
    # Fail fast, before any task (bad names, missing files, bad kwargs); agents that cannot act
    # on this env and an intractable bound are reported as the local run reports them.
    agents = {spec: (make_agent or make)(spec) for spec in agent_specs}
    env = gym.make(env_id, **env_kwargs)
    na = {spec: r for spec, a in agents.items() if (r := not_applicable(a, env)) is not None}
    bound_na = bound_unavailable(env.unwrapped.config) if bound else None
    bound = bound and bound_na is None
    env.close()
    agent_specs = [spec for spec in agent_specs if spec not in na]
    failed: dict[str, str] = {}
    reports: dict[str, Any] = {}
    started = connect(address, num_cpus)
    try:
        episode = ray.remote(num_cpus=1)(_episode)
        bound_task = ray.remote(num_cpus=1)(_bound)
        kwargs_ref = ray.put(env_kwargs)
        refs: dict[Any, tuple[str, int]] = {}
        for spec in agent_specs:
            for i, s in enumerate(seeds):
                refs[episode.remote(env_id, kwargs_ref, _absolute(spec), int(s), make_agent)] = (spec, i)
        bound_refs = {bound_task.remote(env_id, kwargs_ref, int(s)): i for i, s in enumerate(seeds)} if bound else {}
        bar = _progress(len(refs) + len(bound_refs), progress, f"{env_id} (ray)")
        episodes: dict[str, list[Any]] = {spec: [None] * len(seeds) for spec in agent_specs}
        bounds: list[Any] = [None] * len(seeds)
        pending = [*refs, *bound_refs]
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            for ref in done:
                try:
                    if ref in refs:
                        spec, i = refs[ref]
                        episodes[spec][i], report = ray.get(ref)
                        if report is not None:
                            reports.setdefault(spec, [None] * len(seeds))[i] = report
                    else:
                        i = bound_refs[ref]
                        bounds[i] = ray.get(ref)
                except Exception as e:  # noqa: BLE001  one agent's bug must not lose the others
                    cause = getattr(e, "cause", None) or e  # a RayTaskError wraps the task's error
                    if ref in refs:
                        failed.setdefault(spec, _failure(cause, seeds[i]))
                    else:
                        bound_na = bound_na or _failure(cause, seeds[i])
                bar.update()
        bar.close()
    finally:
        if started:
            ray.shutdown()
    bound_costs = bound_seconds = None
    if bound and all(b is not None for b in bounds):
        bound_costs = [float(b[0]) for b in bounds]
        bound_seconds = [float(b[1]) for b in bounds]
    episodes = {spec: eps for spec, eps in episodes.items() if spec not in failed}
    return BenchmarkResult(env_id, env_kwargs, list(seeds), episodes, bound_costs, bound_seconds,
                           not_applicable=na, failed=failed, lower_bound_na=bound_na,
                           reports={spec: merge_reports(r) for spec, r in reports.items() if spec in episodes})
