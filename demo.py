"""The README's main job: one episode of EdgePFMCache-v0 with random masked actions, and its
cost breakdown. (Replaced by the agent benchmark once agents exist.)"""

from __future__ import annotations

import gymnasium as gym
import numpy as np

import edge_cache_env  # noqa: F401  (registers the env ids)
from edge_cache_env.simulator import TERMS


def main(seed: int = 0) -> None:
    env = gym.make("EdgePFMCache-v0")
    rng = np.random.default_rng(seed)
    obs, info = env.reset(seed=seed)
    steps, done = 0, False
    while not done:
        action = rng.choice(np.flatnonzero(info["action_mask"]))
        obs, reward, terminated, truncated, info = env.step(action)
        steps += 1
        done = terminated or truncated
    print(f"EdgePFMCache-v0, random masked agent, seed {seed}: {steps} steps")
    for term in TERMS:
        print(f"  {term:<10} {info[f'episode_cost_{term}']:10.1f}")
    print(f"  {'total':<10} {info['episode_cost']:10.1f}")
    print(f"  hit ratio {info['hit_ratio']:.3f}, mean accuracy {info['mean_accuracy']:.3f}, "
          f"loads {int(info['loads'])}")


if __name__ == "__main__":
    main()
