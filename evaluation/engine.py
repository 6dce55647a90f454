"""Run agents on paired seeds and summarise: the engine behind ``evaluate.py``.

Every agent plays the same episodes: one ``gym.make(env_id, **env_kwargs)`` per agent, and
``env.reset(seed=s)`` for each seed ``s``, so the workload (open-loop) is identical across
agents and differences are paired. The lower bound is computed once per seed from the same
realised requests.
"""

from __future__ import annotations

import copy
import inspect
import math
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode

import edge_cache_env  # noqa: F401  (registers the env ids)
from agents.base import Agent
from agents.bounds import MAX_MODELS, MAX_PLAN_MODELS, is_tractable, lower_bound
from agents.heuristics import CloudOnly, FusedHeuristics, ReactiveHeuristic, fusable
from agents.padded import PaddedAgent
from agents.reference import Oracle
from edge_cache_env.actions import SERVE
from edge_cache_env.costs import TERMS
from edge_cache_env.registration import has_native_vector_env

# Student t quantiles t_{0.975, df} for df = 1..30; beyond, the Cornish-Fisher expansion
# (:func:`_t975`, within 1e-5 of the exact quantile from df = 30 on).
_T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179,
         2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064,
         2.060, 2.056, 2.052, 2.048, 2.045, 2.042)
EPISODE_FIELDS = ("cost", *(f"cost_{t}" for t in TERMS), "hit_ratio", "cloud_share", "loads",
                  "loads_per_hour", "evictions", "mean_accuracy", "mean_aoc", "invalid_actions",
                  "steps", "seconds")


def ci95(x: Sequence[float]) -> float:
    """Half-width of the 95% confidence interval of the mean (Student t); 0 for one value."""
    x = np.asarray(x, dtype=np.float64)
    if len(x) < 2:
        return 0.0
    df = len(x) - 1
    t = _T975[df - 1] if df <= len(_T975) else _t975(df)
    return float(t * x.std(ddof=1) / math.sqrt(len(x)))


def _t975(df: int) -> float:
    """t_{0.975, df} by the Cornish-Fisher expansion around the normal quantile (the normal
    1.96 alone is 3.9% too narrow at df = 31, 1.2% at df = 99)."""
    z = 1.959963984540054
    return (z + (z**3 + z) / (4 * df) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)
            + (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / (384 * df**3))


@dataclass
class Timeline:
    """One episode slot by slot, recorded at each SERVE: what served the slot."""

    model_names: list[str]
    cached: list[np.ndarray] = field(default_factory=list)  # [N] bool per slot
    aoc: list[np.ndarray] = field(default_factory=list)  # [N] AoC (effective examples)
    memory_gb: list[float] = field(default_factory=list)
    requests: list[np.ndarray] = field(default_factory=list)  # [N] requests per model
    gpu_gb: float = 0.0


def _predict_fn(agent: Any, env: gym.Env) -> Callable[[np.ndarray], int]:
    """``obs -> action`` for one env; passes the mask to agents whose predict takes one."""
    masked = "action_masks" in inspect.signature(agent.predict).parameters
    base = env.unwrapped
    if masked:
        def act(obs: np.ndarray) -> int:
            a, _ = agent.predict(obs, deterministic=True, action_masks=base.action_masks())
            return int(np.asarray(a).reshape(-1)[0])
    else:
        def act(obs: np.ndarray) -> int:
            a, _ = agent.predict(obs, deterministic=True)
            return int(np.asarray(a).reshape(-1)[0])
    return act


def _for_padded(agent: Any, env: gym.Env) -> Any:
    """On a padded env (EdgePFMCache-Random-v0), an agent written for one catalog (a heuristic,
    cost_benefit, a reference agent) plays the current scenario's own models through
    :class:`~agents.padded.PaddedAgent`; learned agents (their predict takes masks) act on the
    padded spaces they were trained on."""
    padded = hasattr(env.unwrapped, "inner")
    takes_masks = "action_masks" in inspect.signature(agent.predict).parameters
    return PaddedAgent(agent) if padded and not takes_masks and not isinstance(agent, PaddedAgent) else agent


def run_episode(env: gym.Env, agent: Any, seed: int, timeline: Timeline | None = None
                ) -> dict[str, float]:
    """Play one episode of ``agent`` on ``env`` reset with ``seed``; its metrics."""
    start = time.perf_counter()
    agent = _for_padded(agent, env)
    obs, info = env.reset(seed=seed)
    if hasattr(agent, "reset"):
        agent.reset(seed)
    if hasattr(agent, "attach"):
        agent.attach(env)
    act = _predict_fn(agent, env)
    base = env.unwrapped
    steps, done = 0, False
    while not done:
        a = act(obs)
        if timeline is not None and (a == SERVE or not info["action_mask"][a]):
            sim = base.sim
            timeline.cached.append(sim.cached.copy())
            timeline.aoc.append(sim.context.aoc.copy())
            timeline.memory_gb.append(sim.used_gb)
            timeline.requests.append(np.asarray(sim.current_counts()).copy())
        obs, _, terminated, truncated, info = env.step(a)
        steps += 1
        done = terminated or truncated
    return episode_figures(lambda k: info[k], base.config, steps, time.perf_counter() - start)


def episode_figures(get: Callable[[str], Any], cfg: Any, steps: int, seconds: float
                    ) -> dict[str, float]:
    """An episode's :data:`EPISODE_FIELDS` from its last info (``get(key)``)."""
    hours = cfg.n_slots * cfg.slot_s / 3600.0
    out = {"cost": float(get("episode_cost"))}
    for t in TERMS:
        out[f"cost_{t}"] = float(get(f"episode_cost_{t}"))
    requests = max(float(get("requests")), 1.0)
    out.update(hit_ratio=float(get("hit_ratio")), cloud_share=float(get("cloud_requests")) / requests,
               loads=float(get("loads")), loads_per_hour=float(get("loads")) / hours,
               evictions=float(get("evictions")), mean_accuracy=float(get("mean_accuracy")),
               mean_aoc=float(get("mean_aoc")), invalid_actions=float(get("invalid_actions")),
               steps=float(steps), seconds=seconds)
    return out


def batchable(agent: Any) -> bool:
    """Policies of the observation alone (the heuristics; attach only learns the layout): they
    can play many episodes side by side in one vector env. Reference agents read their own
    env's requests and keep the per-episode loop."""
    return (isinstance(agent, ReactiveHeuristic | CloudOnly)
            and type(agent).attach in (ReactiveHeuristic.attach, Agent.attach))


def run_episodes_batched(env_id: str, agents: dict[str, Any], seeds: Sequence[int],
                         env_kwargs: dict[str, Any] | None = None) -> dict[str, list[dict[str, float]]]:
    """Every agent on every seed, all episodes side by side in one native vector env (sub-env
    ``i * len(seeds) + j``: agent i, seed j), one ``predict`` per step for all episodes of an
    agent. The same figures as :func:`run_episode` per seed (tested), except ``seconds``: the
    batch's wall time shared in proportion to steps.

    An agent with per-episode state plays all its episodes in one copy if it can hold that
    state per row (:meth:`~agents.base.Agent.reset_batch`: the random victim's seeded stream,
    gdsf's priorities); otherwise it gets one copy per episode, reset with its seed, as the
    per-episode loop does.
    """
    start = time.perf_counter()
    specs, n = list(agents), len(seeds)
    b = len(specs) * n
    venv = gym.make_vec(env_id, num_envs=b, vectorization_mode="vector_entry_point",
                        autoreset_mode=AutoresetMode.DISABLED, **dict(env_kwargs or {}))
    obs, _ = venv.reset(seed=[s for _ in specs for s in seeds])
    players: list[tuple[slice, list[Any]]] = []
    for i, spec in enumerate(specs):
        agent = agents[spec]
        if agent.reset_batch(seeds):  # row j of the agent's rows: as reset(seeds[j])
            copies = [agent]
        else:
            copies = [copy.deepcopy(agent) for _ in seeds]
            for c, s in zip(copies, seeds, strict=True):
                c.reset(s)
        for c in copies:
            c.attach(venv)
        players.append((slice(i * n, (i + 1) * n), copies))
    masked = {id(c): "action_masks" in inspect.signature(c.predict).parameters
              for _, copies in players for c in copies}
    # Heuristics that differ only in their victims share one admission pass over their rows.
    fused = [(rows, copies[0]) for rows, copies in players
             if len(copies) == 1 and fusable(copies[0]) and not masked[id(copies[0])]]
    if len(fused) < 2:
        fused = []
    fused_rows = np.concatenate([np.arange(r.start, r.stop) for r, _ in fused]) if fused else None
    fused_slices, first = [], 0  # the fused agents' rows, renumbered from 0
    for r, _ in fused:
        fused_slices.append(slice(first, first + r.stop - r.start))
        first += r.stop - r.start
    fused_ids = {id(a) for _, a in fused}
    group = FusedHeuristics([a for _, a in fused], fused_slices) if fused else None
    any_masked = any(masked.values())
    done = np.zeros(b, dtype=bool)
    steps = np.zeros(b, dtype=np.int64)
    actions = np.zeros(b, dtype=np.int64)
    ends: list[dict[str, float]] = [{} for _ in range(b)]
    cfg = venv.config
    while not done.all():
        masks = venv.action_masks() if any_masked else None
        if group is not None:
            actions[fused_rows] = group.act(obs[fused_rows])
        for rows, copies in players:
            if id(copies[0]) in fused_ids:
                continue
            if done[rows].all():
                actions[rows] = SERVE
                continue
            if len(copies) == 1:  # one call for all episodes of the agent
                kw = {"action_masks": masks[rows]} if masked[id(copies[0])] else {}
                actions[rows] = np.asarray(copies[0].predict(obs[rows], deterministic=True, **kw)[0]
                                           ).reshape(-1)
            else:
                for j, c in zip(range(rows.start, rows.stop), copies, strict=True):
                    if not done[j]:
                        kw = {"action_masks": masks[j]} if masked[id(c)] else {}
                        actions[j] = int(np.asarray(c.predict(obs[j], deterministic=True, **kw)[0]
                                                    ).reshape(-1)[0])
        obs, _, terminated, truncated, info = venv.step(actions)
        steps += ~done
        ended = (terminated | truncated) & ~done
        for j in np.flatnonzero(ended).tolist():
            ends[j] = episode_figures(lambda k, j=j, info=info: info[k][j], cfg, int(steps[j]), 0.0)
        done |= ended
    venv.close()
    seconds = time.perf_counter() - start
    total = max(int(steps.sum()), 1)
    for e in ends:
        e["seconds"] = seconds * e["steps"] / total
    return {spec: ends[i * n:(i + 1) * n] for i, spec in enumerate(specs)}


def not_applicable(agent: Any, env: gym.Env) -> str | None:
    """Why ``agent`` cannot act on ``env`` (``None``: it can). Checked before any episode, so
    an agent that does not fit a scenario is reported as n/a instead of crashing the run."""
    base = env.unwrapped
    n = base.config.n_models
    if isinstance(agent, Oracle) and n > MAX_PLAN_MODELS:
        return f"oracle plans over cache sets of up to {MAX_PLAN_MODELS} models; this catalog has {n}"
    model = getattr(agent, "model", None)  # a trained SB3 policy carries its spaces
    obs_space = getattr(model, "observation_space", None)
    if obs_space is not None and tuple(obs_space.shape) != tuple(env.observation_space.shape):
        return (f"trained on observations of shape {tuple(obs_space.shape)}, this env's are "
                f"{tuple(env.observation_space.shape)} ({n} models)")
    act_space = getattr(model, "action_space", None)
    if act_space is not None and getattr(act_space, "n", None) != getattr(env.action_space, "n", None):
        return (f"trained with {getattr(act_space, 'n', '?')} actions, this env has "
                f"{getattr(env.action_space, 'n', '?')} ({n} models)")
    return None


def _failure(e: BaseException, seed: int | None = None) -> str:
    where = f" (seed {seed})" if seed is not None else ""
    return f"{type(e).__name__}: {e}{where}"


def _ratio(num: float, den: float) -> float | None:
    """``num / den``, or ``None`` when the denominator is zero or either is not finite."""
    if den == 0 or not math.isfinite(num) or not math.isfinite(den):
        return None
    return float(num / den)


@dataclass
class BenchmarkResult:
    env_id: str
    env_kwargs: dict[str, Any]
    seeds: list[int]
    episodes: dict[str, list[dict[str, float]]]  # agent -> one dict per seed
    bound_costs: list[float] | None
    bound_seconds: list[float] | None
    not_applicable: dict[str, str] = field(default_factory=dict)  # agent -> why it cannot act
    failed: dict[str, str] = field(default_factory=dict)  # agent -> the error that stopped it
    lower_bound_na: str | None = None  # why the bound is missing (None: computed or not asked)
    # agent -> what it reports it chose for this scenario (its report(), if it has one: the
    # tuned rule's setting, the generalist's check)
    reports: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """The ``results.json`` content (see evaluate.py)."""
        lc = self.episodes.get("lc")
        lc_costs = np.array([e["cost"] for e in lc]) if lc else None
        lb = np.array(self.bound_costs) if self.bound_costs is not None else None
        agents: dict[str, Any] = {}
        for name, eps in self.episodes.items():
            costs = np.array([e["cost"] for e in eps])
            row: dict[str, Any] = {
                "mean_cost": float(costs.mean()), "ci95": ci95(costs),
                "episode_costs": [float(c) for c in costs],
                "terms": {t: float(np.mean([e[f"cost_{t}"] for e in eps])) for t in TERMS},
            }
            for k in ("hit_ratio", "cloud_share", "loads_per_hour", "mean_accuracy", "mean_aoc",
                      "invalid_actions", "loads", "evictions"):
                row[k] = float(np.mean([e[k] for e in eps]))
            row["steps_per_s"] = float(sum(e["steps"] for e in eps) / max(sum(e["seconds"] for e in eps), 1e-9))
            # Ratios are null without LC (or the bound), or when the denominator is zero. The
            # ratio's CI is the paired difference's CI over LC's mean (LC's mean held fixed).
            row["ratio_to_lc"] = row["ratio_ci95"] = None
            if lc_costs is not None:
                d = costs - lc_costs
                row["ratio_to_lc"] = _ratio(costs.mean(), lc_costs.mean())
                # One episode gives no interval (ci95's 0 would read as certainty).
                row["ratio_ci95"] = _ratio(ci95(d), lc_costs.mean()) if len(d) > 1 else None
                row["diff_vs_lc"] = {"mean": float(d.mean()), "ci95": ci95(d)}
            row["ratio_to_bound"] = _ratio(costs.mean(), lb.mean()) if lb is not None else None
            if name in self.reports:
                row["report"] = self.reports[name]
            agents[name] = row
        bound = None
        if lb is not None:
            bound = {"mean_cost": float(lb.mean()), "ci95": ci95(lb),
                     "episode_costs": [float(c) for c in lb],
                     "seconds_mean": float(np.mean(self.bound_seconds)),
                     "accuracy_bound": "context"}
        return {"env": self.env_id, "env_kwargs": self.env_kwargs, "episodes": len(self.seeds),
                "seeds": list(self.seeds), "lower_bound": bound, "agents": agents,
                "not_applicable": dict(self.not_applicable), "failed": dict(self.failed),
                "lower_bound_na": self.lower_bound_na}


def merge_reports(per_seed: list[Any]) -> Any:
    """An agent's reports over a run's seeds: the one report when every episode had the same
    (one scenario), else ``{"per_seed": [...]}`` (a random scenario per episode)."""
    if all(r == per_seed[0] for r in per_seed[1:]):
        return per_seed[0]
    return {"per_seed": per_seed}


def bound_unavailable(config: Any) -> str | None:
    """Why the lower bound is not computed for ``config`` (None: it is tractable)."""
    if is_tractable(config):
        return None
    return f"the lower bound's DP covers up to {MAX_MODELS} models; this catalog has {config.n_models}"


def run_benchmark(env_id: str, agent_specs: Sequence[str], seeds: Sequence[int],
                  env_kwargs: dict[str, Any] | None = None, bound: bool = True,
                  progress: bool = True, make_agent: Callable[[str], Any] | None = None,
                  bar: Any = None, vectorize: bool = True) -> BenchmarkResult:
    """Every agent on every seed (paired), plus the lower bound where tractable.

    An agent that cannot act on this env (:func:`not_applicable`) is skipped with its reason;
    an agent that raises on some seed is recorded in ``failed`` with the error and dropped
    from the paired results (its other seeds are not scored: pairs must be complete), and the
    other agents go on. ``bar``: an outer progress bar to advance (the suite's).
    ``vectorize``: the heuristics (:func:`batchable`) play all their episodes at once in the
    native vector env (:func:`run_episodes_batched`; the same results as the per-episode loop);
    if that raises, they fall back to the per-episode loop, which records the failing agent.
    """
    from agents import make

    make_agent = make_agent or make
    env_kwargs = dict(env_kwargs or {})
    agents = {spec: make_agent(spec) for spec in agent_specs}  # fail fast on a bad name
    env = gym.make(env_id, **env_kwargs)
    na = {spec: r for spec, agent in agents.items() if (r := not_applicable(agent, env)) is not None}
    runnable = {spec: a for spec, a in agents.items() if spec not in na}
    tractable = is_tractable(env.unwrapped.config)
    own_bar = bar is None
    if own_bar:
        bar = _progress(len(agents) * len(seeds) + (len(seeds) if bound else 0), progress, env_id)
    bar.update(len(na) * len(seeds) + (len(seeds) if bound and not tractable else 0))
    bound_costs = bound_seconds = None
    bound_na = bound_unavailable(env.unwrapped.config) if bound else None
    if bound and tractable:
        bound_costs, bound_seconds = [], []
        bar.set_postfix_str("lower bound")
        for i, s in enumerate(seeds):
            try:
                env.reset(seed=s)
                lb = lower_bound(env.unwrapped.config, env.unwrapped.requests)
            except Exception as e:  # keep the agents' results; record why the bound is missing
                bound_costs = bound_seconds = None
                bound_na = _failure(e, s)
                bar.update(len(seeds) - i)
                break
            bound_costs.append(lb.cost)
            bound_seconds.append(lb.seconds)
            bar.update()
    episodes: dict[str, list[dict[str, float]]] = {}
    failed: dict[str, str] = {}
    reports: dict[str, Any] = {}
    batched: dict[str, list[dict[str, float]]] = {}
    # Side by side only in the native vector env (Random-v0's steps its sub-envs one by one).
    native = vectorize and has_native_vector_env(env_id)
    together = {spec: a for spec, a in runnable.items() if batchable(a)} if native else {}
    if together:
        bar.set_postfix_str(",".join(together))
        try:
            batched = run_episodes_batched(env_id, together, seeds, env_kwargs)
        except Exception as e:  # noqa: BLE001  (the per-episode loop below records who failed)
            # Said, not hidden: the loop gives the same figures, only slower.
            warnings.warn(f"the batched run of {sorted(together)} failed ({type(e).__name__}: {e}); "
                          f"playing them episode by episode", RuntimeWarning, stacklevel=2)
            batched = {}
        bar.update(sum(len(seeds) for spec in batched))
    for spec, agent in runnable.items():
        if spec in batched:
            episodes[spec] = batched[spec]
            continue
        bar.set_postfix_str(spec)
        eps, chosen = [], []
        for i, s in enumerate(seeds):
            try:
                eps.append(run_episode(env, agent, s))
                if hasattr(agent, "report"):  # after the episode: attached to its scenario
                    chosen.append(agent.report())
            except Exception as e:  # one agent's bug must not lose the others' results
                failed[spec] = _failure(e, s)
                bar.update(len(seeds) - i)
                break
            bar.update()
        if spec not in failed:
            episodes[spec] = eps
            if chosen:
                reports[spec] = merge_reports(chosen)
    if own_bar:
        bar.close()
    env.close()
    return BenchmarkResult(env_id, env_kwargs, list(seeds), episodes, bound_costs, bound_seconds,
                           not_applicable=na, failed=failed, lower_bound_na=bound_na, reports=reports)


def record_timeline(env_id: str, agent_spec: str, seed: int, env_kwargs: dict[str, Any] | None = None
                    ) -> Timeline:
    """One episode of ``agent_spec`` with its slot-by-slot cache state."""
    from agents import make

    env = gym.make(env_id, **dict(env_kwargs or {}))
    tl = Timeline(model_names=[])
    run_episode(env, make(agent_spec), seed, timeline=tl)
    # The episode's own catalog and GPU, read after its reset (a random scenario per episode).
    cfg = env.unwrapped.config
    tl.model_names, tl.gpu_gb = [m.name for m in cfg.models], cfg.server.gpu_gb
    env.close()
    return tl


class _NoBar:
    def update(self, n: int = 1) -> None: ...
    def set_postfix_str(self, s: str) -> None: ...
    def set_description_str(self, s: str) -> None: ...
    def close(self) -> None: ...


def progress_bar(total: int, enabled: bool, desc: str) -> Any:
    """A tqdm bar (or a silent stand-in when disabled or tqdm is missing)."""
    return _progress(total, enabled, desc)


def _progress(total: int, enabled: bool, desc: str) -> Any:
    if not enabled:
        return _NoBar()
    try:
        from tqdm.auto import tqdm
    except ImportError:  # tqdm is in the train extra; the benchmark runs without it
        return _NoBar()
    return tqdm(total=total, desc=desc, unit="ep", leave=False)
