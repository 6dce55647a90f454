"""EdgePFMCache: a Gymnasium environment for caching foundation models on an edge GPU.

Importing the package registers the environment ids (idempotently).
"""

from __future__ import annotations

import warnings

from edge_cache_env.config import EnvConfig, load_config_yaml, make_config
from edge_cache_env.registration import ENV_IDS, register_envs

__all__ = ["ENV_IDS", "EnvConfig", "load_config_yaml", "make_config", "register_envs"]
__version__ = "0.1.0"

register_envs()
# v1 adds the GPU capacity model; it does not replace v0, which stays the frozen benchmark of
# the caching problem alone. Gymnasium would call every v0 id "out of date" once v1 exists.
warnings.filterwarnings("ignore", message=r".*EdgePFMCache-\w*-?v0 is out of date.*")
