"""Argument checks and result writing shared by the benchmark scripts (not a benchmark).

Each check is an argparse usage error (``p.error``: the usage line, ``error: --flag VALUE:
what is wrong``, exit 2) raised before any episode runs; the output checks are evaluate.py's
(``evaluation/validate.py``). Results are written atomically (``evaluation/output.py``), so a
failure never leaves a half-written file.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this clone's code

from agents import AGENTS, PRETRAINED_AGENTS, TRAINED_ALGOS  # noqa: E402
from evaluation import validate  # noqa: E402
from evaluation.output import atomic_open  # noqa: E402


def _usage(p: argparse.ArgumentParser, check: Callable[..., Any], *args: Any) -> Any:
    """``check(*args)``, its ``SystemExit(message)`` turned into ``p``'s usage error."""
    try:
        return check(*args)
    except SystemExit as e:
        p.error(str(e))


def check_episodes(p: argparse.ArgumentParser, episodes: int, flag: str = "--episodes") -> None:
    if episodes < 1:
        p.error(f"{flag} {episodes}: must be >= 1")


def check_seed(p: argparse.ArgumentParser, seed: int, flag: str = "--seed") -> None:
    if seed < 0:
        p.error(f"{flag} {seed}: must be >= 0 (episode seeds are non-negative)")


def check_agents(p: argparse.ArgumentParser, specs: Iterable[str], flag: str = "--agents",
                 also: Iterable[str] = ()) -> None:
    """Each of ``specs`` (at least one) a name of ``agents.make`` or of ``also``, or
    ``ALGO:PATH`` with ALGO known and the model file there."""
    specs, known = list(specs), list(dict.fromkeys([*AGENTS, *PRETRAINED_AGENTS, *also]))
    if not specs:
        p.error(f"{flag}: give at least one agent")
    for s in specs:
        if ":" in s:
            _usage(p, validate.check_agent_spec, s, flag)
        elif s not in known:
            p.error(f"{flag}: unknown agent {s!r}; known: {', '.join(known)}, or ALGO:PATH with "
                    f"ALGO in {', '.join(TRAINED_ALGOS)}")


def check_names(p: argparse.ArgumentParser, names: list[str], known: Iterable[str], flag: str) -> None:
    """Every one of ``names`` (at least one) among ``known``."""
    known = list(known)
    if not names:
        p.error(f"{flag}: give at least one of {known}")
    unknown = [n for n in names if n not in known]
    if unknown:
        p.error(f"{flag}: unknown {unknown}; known: {known}")


def check_env_id(p: argparse.ArgumentParser, env_id: str, flag: str = "--env") -> None:
    _usage(p, validate.check_env_id, env_id, flag)


def make_env(p: argparse.ArgumentParser, env_id: str, flag: str = "--env") -> Any:
    """The env of a registered ``env_id``, built once now: an unknown id or an env that cannot
    be built (e.g. a missing trace file) is a usage error naming ``flag``."""
    check_env_id(p, env_id, flag)
    return _usage(p, validate.check_env, env_id, {}, flag)


def out_folder(p: argparse.ArgumentParser, out: str | Path, flag: str = "--out") -> Path:
    """``out`` as a folder to write in (created if missing): a file in the way, or a folder
    that cannot be written, is an error now."""
    return _usage(p, validate.check_out, str(out), flag)


def out_file(p: argparse.ArgumentParser, out: str | Path, flag: str = "--out") -> Path:
    """``out`` as a file to write (its folders created if missing), checked now."""
    return _usage(p, validate.check_out_file, out, flag)


def write_text(path: Path, text: str) -> Path:
    """``text`` at ``path`` (missing folders created), atomically: all of it or nothing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_open(path) as f:
        f.write(text)
    return path
