"""rl-zoo3: hyperparameter files in the zoo's format (``ppo.yml``, ``dqn.yml``) and the hooks they
name by dotted path (:mod:`integrations.zoo.hooks`). See :data:`CONFIG_DIR`."""

from __future__ import annotations

from pathlib import Path

CONFIG_DIR = Path(__file__).resolve().parent
