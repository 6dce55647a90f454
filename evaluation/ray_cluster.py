"""Connect to Ray once: a local Ray by default, a cluster given its address; shared by the
evaluation fan-out (:mod:`evaluation.ray_runner`) and the Tune sweeps (:mod:`integrations.tune`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

# The packages a Ray worker must import to play an episode or run train.py.
PACKAGES = ("edge_cache_env", "agents", "evaluation", "training", "integrations")
REPO_ROOT = Path(__file__).resolve().parent.parent


def runtime_env(address: str | None) -> dict[str, Any]:
    """Workers import the driver's code: locally through PYTHONPATH (no copy); on a cluster the
    packages are shipped with the job (``py_modules``), so nodes need only the dependencies."""
    if address is None:
        path = os.pathsep.join(p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH", "")) if p)
        return {"env_vars": {"PYTHONPATH": path}}
    import importlib

    return {"py_modules": [importlib.import_module(p) for p in PACKAGES]}


def require_ray() -> Any:
    """The ``ray`` module, or an ImportError that says how to install it."""
    try:
        import ray
    except ImportError as e:
        raise ImportError('Ray is not installed: pip install "edge-pfm-cache[ray]" '
                          '(or pip install "ray[tune,rllib]")') from e
    return ray


def connect(address: str | None = None, num_cpus: int | None = None) -> bool:
    """Start (or join) Ray; ``True`` if this call started it (the caller then shuts it down).

    An already initialised Ray (a test fixture, a notebook) is used as it is.
    """
    ray = require_ray()

    if ray.is_initialized():
        return False
    kwargs: dict[str, Any] = {"runtime_env": runtime_env(address), "include_dashboard": False,
                              "log_to_driver": False, "configure_logging": False}
    if address is None:
        # "local": always a fresh Ray of this process, never a stray cluster found on the machine.
        kwargs["address"], kwargs["num_cpus"] = "local", num_cpus
    else:
        check_reachable(address)
        kwargs["address"] = address
    ray.init(**kwargs)
    return True


def check_reachable(address: str, timeout_s: float = 10.0) -> None:
    """A ``HOST:PORT`` cluster address must answer (ray.init waits for an unreachable one
    without end); other forms ("auto", "ray://...") are left to Ray."""
    import socket

    host, _, port = address.rpartition(":")
    if not host or not port.isdigit() or "//" in address:
        return
    try:
        socket.create_connection((host, int(port)), timeout=timeout_s).close()
    except OSError as e:
        raise ConnectionError(f"--ray {address}: no Ray cluster answers there ({e})") from e
