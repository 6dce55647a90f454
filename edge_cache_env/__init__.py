"""EdgePFMCache: a Gymnasium environment for caching foundation models on an edge GPU.

Importing the package registers the environment ids (idempotently).
"""

from __future__ import annotations

import warnings

from edge_cache_env.config import EnvConfig, load_config_yaml, make_config
from edge_cache_env.registration import ENV_IDS, register_envs

__all__ = ["ENV_IDS", "EnvConfig", "load_config_yaml", "make_config", "register_envs"]
__version__ = "0.3.0"

register_envs()
# v1/v2 add the GPU capacity model (v2 fixes v1's charge); they do not replace v0, which stays
# the frozen benchmark of the caching problem alone. Gymnasium would call every v0 id "out of
# date" once v2 exists; the v1 ids are (deprecated), and the warning for them stays.
warnings.filterwarnings("ignore", message=r".*EdgePFMCache-\w*-?v0 is out of date.*")
