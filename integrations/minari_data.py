"""Offline data: a Minari dataset of heuristic or reference-policy episodes.

    MINARI_DATASETS_PATH=data/minari python -m integrations.minari_data --agent oracle \\
        --env EdgePFMCache-Small-v0 --episodes 10 --out edgepfmcache/small-oracle-v0

Each episode is played by :func:`evaluation.engine.run_episode` (the benchmark's own loop) on
``reset(seed=s)``, s = ``--seed`` ... (default: the evaluation seeds of :mod:`evaluation.seeds`,
never the benchmark's). The oracle's actions are labels no other caching environment offers: a
clairvoyant plan over the realised requests. With ``--infos`` every step's ``info`` (the action
mask, the cost terms) is stored too. The env is stored as its spec, with the config in plain form,
so ``minari.load_dataset(ID).recover_environment()`` rebuilds the very scenario. Datasets go to
``MINARI_DATASETS_PATH`` (Minari's default: ``~/.minari/datasets``).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import gymnasium as gym

import edge_cache_env  # noqa: F401  (registers the ids)
from edge_cache_env.config import EnvConfig


def make_recoverable(env_id: str, env_kwargs: dict[str, Any]) -> gym.Env:
    """``gym.make`` whose spec serialises: an ``EnvConfig`` is passed in its ``to_dict()`` form."""
    kwargs = dict(env_kwargs)
    if isinstance(kwargs.get("config"), EnvConfig):
        kwargs["config"] = kwargs["config"].to_dict()
    return gym.make(env_id, **kwargs)


def collect(env_id: str, agent_spec: str, seeds: list[int], dataset_id: str,
            env_kwargs: dict[str, Any] | None = None, record_infos: bool = False) -> Any:
    """Play ``agent_spec`` on each seed and write the Minari dataset ``dataset_id``."""
    import os

    # Minari 0.5 joins a relative MINARI_DATASETS_PATH onto itself while it writes (a doubled
    # path, FileNotFoundError mid-collection): make it absolute first.
    if os.environ.get("MINARI_DATASETS_PATH"):
        os.environ["MINARI_DATASETS_PATH"] = os.path.abspath(os.environ["MINARI_DATASETS_PATH"])
    import minari
    from minari import DataCollector

    from agents import make
    from evaluation.engine import run_episode

    if dataset_id in minari.list_local_datasets():  # nothing is overwritten
        raise FileExistsError(f"Minari dataset {dataset_id!r} already exists in {minari.storage.get_dataset_path()}")
    agent = make(agent_spec)
    env = DataCollector(make_recoverable(env_id, env_kwargs or {}), record_infos=record_infos,
                        data_format="arrow")  # pyarrow: no HDF5 library needed
    costs = [run_episode(env, agent, s)["cost"] for s in seeds]
    dataset = env.create_dataset(
        dataset_id=dataset_id, algorithm_name=agent_spec, author="edge-pfm-cache",
        description=(f"{len(seeds)} episodes of the {agent_spec!r} policy on {env_id} "
                     f"(env kwargs {env_kwargs or {}}), seeds {seeds[0]}..{seeds[-1]}; "
                     f"mean episode cost {sum(costs) / len(costs):.2f}."),
        requirements=["edge-pfm-cache"])
    env.close()
    return dataset


def main(argv: list[str] | None = None) -> Any:
    from evaluation import seeds as seed_rule

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--agent", required=True, help="agent name (lc, oracle, ...) or ALGO:PATH")
    p.add_argument("--env", default="EdgePFMCache-v0", help="registered env id")
    p.add_argument("--episodes", type=int, default=10)
    p.add_argument("--seed", type=int, default=None, help="first seed (default: the evaluation seeds)")
    p.add_argument("--env-kwargs", default="{}", help="JSON overrides, e.g. '{\"n_slots\": 120}'")
    p.add_argument("--infos", action="store_true", help="store every step's info (action mask, cost terms)")
    p.add_argument("--out", required=True, help="dataset id, e.g. edgepfmcache/small-oracle-v0")
    args = p.parse_args(argv)

    import json

    from agents import make

    if args.env not in gym.registry:
        p.error(f"--env: unknown id {args.env!r}")
    if args.episodes < 1:
        p.error(f"--episodes must be >= 1, got {args.episodes}")
    try:
        env_kwargs = json.loads(args.env_kwargs)
        make(args.agent)
        gym.make(args.env, **env_kwargs).close()
    except (ValueError, TypeError, FileNotFoundError) as e:
        p.error(str(e))
    first = args.seed if args.seed is not None else seed_rule.eval_seeds(1)[0]
    seeds = list(range(first, first + args.episodes))
    try:
        dataset = collect(args.env, args.agent, seeds, args.out, env_kwargs, args.infos)
    except (FileExistsError, ValueError) as e:
        p.error(str(e))
    print(f"wrote Minari dataset {args.out}: {dataset.total_episodes} episodes, "
          f"{dataset.total_steps} steps", file=sys.stderr)
    return dataset


if __name__ == "__main__":
    main()
