"""The env, agents, evaluation and training never import Ray, RLlib, Minari or the zoo at module
level (they are optional integrations), and evaluate.py --ray says how to install Ray."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CORE = ("edge_cache_env", "agents", "evaluation", "training")
OPTIONAL = ("ray", "minari", "rl_zoo3", "integrations")


def test_core_modules_do_not_import_the_integrations():
    modules = sorted(".".join(p.relative_to(REPO).with_suffix("").parts) for pkg in CORE
                     for p in (REPO / pkg).rglob("*.py"))
    code = ("import importlib, sys\n"
            f"for m in {modules!r}:\n"
            "    importlib.import_module(m)\n"
            f"print(sorted(k for k in sys.modules if k.split('.')[0] in {OPTIONAL!r}))\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "[]"
