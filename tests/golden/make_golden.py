"""Regenerate the golden rollout (only when dynamics or reward change on purpose; bump the env
version then). Usage: python tests/golden/make_golden.py"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
CONFIG_PATH = HERE / "rollout_config.json"
DATA_PATH = HERE / "rollout_500.npz"
STEPS = 500
SEED = 2024


def rollout(config_dict: dict) -> dict[str, np.ndarray]:
    """500 steps of seeded random masked actions; every observation, reward and info value."""
    import gymnasium as gym

    import edge_cache_env  # noqa: F401
    from edge_cache_env.config import config_from_dict

    env = gym.make("EdgePFMCache-v0", config=config_from_dict(config_dict))
    rng = np.random.default_rng(SEED)
    obs, info = env.reset(seed=SEED)
    keys = sorted(k for k in info if k != "action_mask")
    rec: dict[str, list] = {"obs": [obs], "reward": [0.0], "action": [-1],
                            "mask": [info["action_mask"]], **{f"info/{k}": [info[k]] for k in keys}}
    for _ in range(STEPS):
        a = int(rng.choice(np.flatnonzero(info["action_mask"])))
        obs, reward, terminated, truncated, info = env.step(a)
        rec["obs"].append(obs)
        rec["reward"].append(reward)
        rec["action"].append(a)
        rec["mask"].append(info["action_mask"])
        for k in keys:
            rec[f"info/{k}"].append(info[k])
        if terminated or truncated:
            obs, info = env.reset()
    return {k: np.asarray(v) for k, v in rec.items()}


def main() -> None:
    from edge_cache_env.config import make_config

    # 120 slots so that the 500 steps cross episode boundaries (reset path included).
    config = make_config("default", n_slots=120).to_dict()
    CONFIG_PATH.write_text(json.dumps(config, indent=1))
    np.savez_compressed(DATA_PATH, **rollout(config))
    print(f"wrote {CONFIG_PATH} and {DATA_PATH}")


if __name__ == "__main__":
    main()
