"""Bridges to other libraries and to more than one machine: RLlib, Ray (evaluation fan-out and
Tune sweeps), Minari (offline data) and rl-zoo3. Each module imports its library itself; nothing
in ``edge_cache_env``, ``agents``, ``evaluation`` or ``training`` imports this package at module
level. Install with ``pip install "edge-pfm-cache[integrations]"`` (or ``[ray]``, ``[offline]``,
``[zoo]``).
"""
