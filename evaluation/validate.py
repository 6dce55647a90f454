"""Check every evaluate.py argument before any episode runs; each error names its flag.

Every check raises ``SystemExit("--flag: what is wrong; what is valid")``, so a bad argument
costs seconds, never a half-finished benchmark.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym

import edge_cache_env  # noqa: F401  (registers the env ids)
from agents import AGENTS, PRETRAINED_AGENTS, TRAINED_ALGOS, make
from edge_cache_env.scenarios import Scenario, resolve_suite, select_scenarios
from evaluation.engine import not_applicable
from evaluation.seeds import BENCHMARK_SEEDS


def _known_agents() -> str:
    return (f"{', '.join([*AGENTS, *PRETRAINED_AGENTS])}, all, or ALGO:PATH with ALGO in "
            f"{', '.join(TRAINED_ALGOS)}")


def parse_agents(text: str) -> list[str]:
    """Agent specs of ``--agents`` (``all`` expands to ``agents.AGENTS``), each checked: names
    known, trained algorithms known and their model files present."""
    specs = [s.strip() for s in str(text).split(",") if s.strip()]
    out: list[str] = []
    for s in specs:
        out.extend(AGENTS if s == "all" else [s])
    if not out:
        raise SystemExit(f"--agents: give at least one agent ({_known_agents()})")
    for s in out:
        check_agent_spec(s, "--agents")
    return list(dict.fromkeys(out))


def check_agent_spec(spec: str, flag: str) -> None:
    if ":" in spec:
        algo, path = spec.split(":", 1)
        if algo not in TRAINED_ALGOS:
            raise SystemExit(f"{flag}: unknown trained-agent algorithm {algo!r} in {spec!r}; "
                             f"known: {', '.join(TRAINED_ALGOS)} (as ALGO:PATH)")
        p = Path(path)
        if not path or not p.name:
            raise SystemExit(f"{flag}: {spec!r} names no model file (as ALGO:PATH)")
        if not (p.is_file() or (p.suffix != ".zip" and p.with_suffix(".zip").is_file())):
            raise SystemExit(f"{flag}: no trained model file at {path!r} (in {spec!r})")
    elif spec not in AGENTS and spec not in PRETRAINED_AGENTS:
        raise SystemExit(f"{flag}: unknown agent {spec!r}; known: {_known_agents()}")


def load_agents(specs: list[str], flag: str = "--agents") -> Callable[[str], Any]:
    """Load every trained policy once (a broken zip fails here, before any episode) and
    return the ``make_agent`` the engine uses: trained policies reused, heuristics fresh."""
    loaded: dict[str, Any] = {}
    if any(":" in s or s in PRETRAINED_AGENTS for s in specs):
        import torch

        # A small policy network acts fastest on one thread; more only contend with the
        # episodes (and, on a shared machine, with everything else).
        torch.set_num_threads(1)
    for s in specs:
        if ":" in s:
            try:
                loaded[s] = make(s)
            except (ValueError, FileNotFoundError, OSError) as e:
                raise SystemExit(f"{flag}: cannot load {s!r}: {e}") from e

    def make_agent(spec: str) -> Any:
        return loaded[spec] if spec in loaded else make(spec)

    return make_agent


def check_env_id(env_id: str, flag: str = "--env") -> None:
    if env_id not in gym.registry:
        known = sorted(k for k in gym.registry if k.startswith("EdgePFMCache"))
        raise SystemExit(f"{flag}: unknown env {env_id!r}; registered: {', '.join(known)}")


def parse_env_kwargs(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise SystemExit(f"--env-kwargs is not valid JSON ({e}): {text!r}") from e
    if not isinstance(value, dict):
        raise SystemExit(f"--env-kwargs must be a JSON object, got {text!r}")
    return value


def check_env(env_id: str, env_kwargs: dict[str, Any], flag: str) -> gym.Env:
    """Build the env once (config, catalog, trace files): a bad value fails here, named."""
    try:
        return gym.make(env_id, **env_kwargs)
    except Exception as e:  # any construction error is the user's argument: say which flag
        raise SystemExit(f"{flag}: {env_id} with {json.dumps(env_kwargs)} is invalid: "
                         f"{type(e).__name__}: {e}") from e


def parse_sweep(text: str | None) -> tuple[str, list[Any]] | None:
    if not text:
        return None
    if "=" not in text:
        raise SystemExit(f"--sweep must look like PARAM=V1,V2,... (e.g. gpu_gb=40,60,80,120), got {text!r}")
    param, values = text.split("=", 1)
    param = param.strip()
    if not param:
        raise SystemExit(f"--sweep: no parameter name before '=' in {text!r}")
    try:
        if values.lstrip().startswith("["):  # a JSON list: values that contain commas themselves
            parsed = json.loads(values)
            if not isinstance(parsed, list):
                raise json.JSONDecodeError("not a list", values, 0)
        else:
            parsed = [json.loads(v) for v in values.split(",") if v.strip()]
    except json.JSONDecodeError as e:
        raise SystemExit(f"--sweep values must be numbers or JSON (V1,V2,... or a JSON list "
                         f"[V1, V2, ...] for values with commas): {values!r} ({e})") from e
    if not parsed:
        raise SystemExit(f"--sweep {param}: no values given")
    return param, parsed


def check_seeds(seed: int, episodes: int) -> list[int]:
    """The benchmark seeds ``seed .. seed + episodes - 1``, all inside 0..9999."""
    lo, hi = BENCHMARK_SEEDS.start, BENCHMARK_SEEDS.stop - 1
    if not 1 <= episodes <= len(BENCHMARK_SEEDS):
        raise SystemExit(f"--episodes must be in 1..{len(BENCHMARK_SEEDS)}, got {episodes}")
    if not lo <= seed <= hi:
        raise SystemExit(f"--seed must be in the benchmark range {lo}..{hi}, got {seed} "
                         "(seeds >= 10000 are for model selection and training: evaluation/seeds.py)")
    if seed + episodes - 1 > hi:
        raise SystemExit(f"--seed {seed} --episodes {episodes}: seeds {seed}..{seed + episodes - 1} "
                         f"leave the benchmark range {lo}..{hi} (evaluation/seeds.py)")
    return list(range(seed, seed + episodes))


def _check_creatable(folder: Path, out: str, flag: str) -> None:
    """``folder`` is, or can be made, a writable folder: every existing path on the way is a
    folder and the nearest existing one is writable (the missing ones are created later)."""
    for d in (folder, *folder.parents):  # a file on the way down would make mkdir fail later
        if d.exists() and not d.is_dir():
            raise SystemExit(f"{flag}: {str(d)!r} in {out!r} is a file, not a folder")
    existing = next(d for d in (folder, *folder.parents) if d.exists())
    if not os.access(existing, os.W_OK | os.X_OK):
        raise SystemExit(f"{flag}: cannot write in {str(existing)!r} (for {out!r}): permission denied")


def check_out(out: str, flag: str = "--out") -> Path:
    """An output folder (created if missing), checked before any work."""
    p = Path(out)
    if p.exists() and not p.is_dir():
        raise SystemExit(f"{flag}: {out!r} is an existing file; give a folder (created if missing)")
    _check_creatable(p, out, flag)
    return p


def check_out_file(out: str | Path, flag: str = "--out") -> Path:
    """An output file (its missing folders created when it is written), checked before any work."""
    p = Path(out)
    if not p.name or p.is_dir():
        raise SystemExit(f"{flag}: {str(out)!r} is a folder; give a file name")
    _check_creatable(p.parent, str(out), flag)
    return p


def check_suite(name: str, scenarios: str | None) -> tuple[str, tuple[Scenario, ...]]:
    """``(version, scenarios)`` of ``--suite`` restricted to ``--scenarios``."""
    try:
        version, all_scenarios = resolve_suite(name)
    except ValueError as e:
        raise SystemExit(f"--suite: {e}") from e
    names = None if scenarios is None else [n.strip() for n in scenarios.split(",") if n.strip()]
    try:
        return version, select_scenarios(all_scenarios, names)
    except ValueError as e:
        raise SystemExit(f"--scenarios: {e}") from e


def first_acting_agent(specs: list[str], env: gym.Env, make_agent: Callable[[str], Any]) -> str | None:
    """The first of ``specs`` that can act on ``env`` (None if none can)."""
    return next((s for s in specs if not_applicable(make_agent(s), env) is None), None)


def check_timeline_agent(spec: str, env: gym.Env,
                         make_agent: Callable[[str], Any]) -> None:
    check_agent_spec(spec, "--timeline-agent")
    reason = not_applicable(make_agent(spec), env)
    if reason is not None:
        raise SystemExit(f"--timeline-agent: {spec!r} cannot act on this env: {reason}")
