"""Speed of EdgePFMCache, measured against CartPole-v1 in the same run and across scale.

Usage: python benchmarks/bench_env.py [--quick] [--out results/bench]

Reports (and writes ``bench.json`` and ``scaling.png`` to ``--out``):
  - env steps/s through ``gym.make`` with random masked actions and with the LC agent, next to
    CartPole-v1's steps/s (random actions) through ``gym.make``, and the ratio;
  - simulated requests/s of a SERVE-only policy at 2,000 requests per slot;
  - time per step for N = 10, 50, 200 models and for 20 .. 20,000 requests per slot;
  - ``gym.make_vec`` with 2 envs, "sync" and "async";
  - SB3 PPO training fps on our env vs CartPole-v1 with the same settings;
  - peak RSS after 10k and after 1M steps (leak check).
Times are process CPU time where one process does all the work (robust to other load on the
machine) and wall time where several processes are involved (async vectors).
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

import edge_cache_env  # noqa: F401  (registers the ids)
from edge_cache_env.catalog import DEFAULT_MODELS
from edge_cache_env.config import make_config

ENV_ID = "EdgePFMCache-v0"


def steps_per_second(env: gym.Env, choose: Callable[[np.ndarray, dict], int], steps: int,
                     seed: int = 0) -> float:
    """Steps/s of ``env`` (CPU time) with actions from ``choose(obs, info)``; resets included."""
    obs, info = env.reset(seed=seed)
    start = time.process_time()
    for _ in range(steps):
        obs, _, terminated, truncated, info = env.step(choose(obs, info))
        if terminated or truncated:
            obs, info = env.reset()
    return steps / (time.process_time() - start)


def random_masked(rng: np.random.Generator) -> Callable[[np.ndarray, dict], int]:
    def choose(obs: np.ndarray, info: dict) -> int:
        valid = np.flatnonzero(info["action_mask"])
        return int(valid[rng.integers(len(valid))])
    return choose


ROUNDS = 3  # measurements alternate between the envs; the best round of each is kept, so
# that load from other processes on the machine does not favour one side of a ratio


def measure_headline(steps: int) -> dict[str, float]:
    cart = gym.make("CartPole-v1")
    cart.action_space.seed(0)
    ours = gym.make(ENV_ID)
    choose = random_masked(np.random.default_rng(0))
    cart_sps = ours_sps = 0.0
    for _ in range(ROUNDS):
        cart_sps = max(cart_sps, steps_per_second(cart, lambda o, i: cart.action_space.sample(), steps))
        ours_sps = max(ours_sps, steps_per_second(ours, choose, steps))
    out = {"cartpole_steps_per_s": cart_sps, "random_masked_steps_per_s": ours_sps,
           "ratio_to_cartpole": ours_sps / cart_sps}
    try:
        import agents

        lc = agents.make("lc")
        out["lc_steps_per_s"] = steps_per_second(
            gym.make(ENV_ID), lambda o, i: int(lc.predict(o[None])[0][0]), steps)
    except (ImportError, AttributeError) as err:  # agents package not installed
        print(f"(LC agent not measured: {err})")
    return out


def measure_v1_vs_v0(steps: int) -> dict[str, float]:
    """CPU µs per step of EdgePFMCache-v1 (capacity model) and -v0, same random masked actions,
    alternating rounds (best of each kept); the ratio must stay below 1.5."""
    envs = {"v0": gym.make("EdgePFMCache-v0"), "v1": gym.make("EdgePFMCache-v1")}
    best = dict.fromkeys(envs, 0.0)
    for _ in range(ROUNDS):
        for name, env in envs.items():
            best[name] = max(best[name], steps_per_second(env, random_masked(np.random.default_rng(0)), steps))
    return {"v0_us_per_step": 1e6 / best["v0"], "v1_us_per_step": 1e6 / best["v1"],
            "v1_over_v0": best["v0"] / best["v1"]}


def scaled_config(n_models: int, requests_per_slot: float) -> Any:
    """A catalog of ``n_models`` built by repeating the default models, GPU scaled with it so
    that the cache pressure (footprint / GPU) stays that of the default scenario."""
    models = [replace(DEFAULT_MODELS[i % len(DEFAULT_MODELS)],
                      name=f"{DEFAULT_MODELS[i % len(DEFAULT_MODELS)].name}#{i}")
              for i in range(n_models)]
    gpu = make_config("default").server.gpu_gb * max(1.0, n_models / len(DEFAULT_MODELS))
    return make_config(catalog=None, models=models, gpu_gb=gpu, requests_per_slot=requests_per_slot)


def us_per_step(config: Any, steps: int) -> dict[str, float]:
    """CPU µs per step (random masked actions), resets excluded; and ms per reset (the
    episode's request generation), measured apart."""
    env = gym.make(ENV_ID, config=config)
    choose = random_masked(np.random.default_rng(1))
    obs, info = env.reset(seed=0)
    step_time = reset_time = 0.0
    resets = 1
    t0 = time.process_time()
    env.reset(seed=0)
    reset_time += time.process_time() - t0
    for _ in range(steps):
        t0 = time.process_time()
        obs, _, terminated, truncated, info = env.step(choose(obs, info))
        step_time += time.process_time() - t0
        if terminated or truncated:
            t0 = time.process_time()
            obs, info = env.reset()
            reset_time += time.process_time() - t0
            resets += 1
    return {"us_per_step": 1e6 * step_time / steps, "ms_per_reset": 1e3 * reset_time / resets}


def measure_scaling(steps: int) -> dict[str, list]:
    by_models = [{"n_models": n, **us_per_step(scaled_config(n, 30.0), steps)}
                 for n in (10, 50, 200)]
    by_rate = [{"requests_per_slot": r, **us_per_step(scaled_config(10, r), steps)}
               for r in (20, 200, 2000, 20000)]
    return {"by_models": by_models, "by_rate": by_rate}


def measure_requests_per_second(episodes: int) -> dict[str, float]:
    """SERVE-only at 2,000 requests per slot: requests simulated per CPU second."""
    env = gym.make(ENV_ID, requests_per_slot=2000.0)
    env.reset(seed=0)
    serve_time = total_time = 0.0
    requests = 0
    for ep in range(episodes):
        t0 = time.process_time()
        env.reset(seed=ep)
        t1 = time.process_time()
        truncated = False
        while not truncated:
            _, _, _, truncated, info = env.step(0)
        t2 = time.process_time()
        serve_time += t2 - t1
        total_time += t2 - t0
        requests += int(info["requests"])
    return {"requests_per_s_stepping": requests / serve_time,
            "requests_per_s_with_generation": requests / total_time,
            "requests": requests}


def measure_vector(steps: int) -> dict[str, float]:
    out = {}
    for mode in ("sync", "async"):
        envs = gym.make_vec(ENV_ID, num_envs=2, vectorization_mode=mode)
        _, infos = envs.reset(seed=0)
        rng = np.random.default_rng(0)
        start = time.perf_counter()
        for _ in range(steps):
            masks = infos["action_mask"]
            actions = [int(rng.choice(np.flatnonzero(m))) for m in masks]
            _, _, _, _, infos = envs.step(np.array(actions))
        out[f"{mode}_env_steps_per_s"] = 2 * steps / (time.perf_counter() - start)
        envs.close()
    return out


def measure_ppo_fps(timesteps: int) -> dict[str, float]:
    import torch
    from stable_baselines3 import PPO

    torch.set_num_threads(1)  # same for both envs; the machine's other core stays free
    models = {}
    for env_id in ("CartPole-v1", ENV_ID):
        models[env_id] = PPO("MlpPolicy", gym.make(env_id), n_steps=512, batch_size=64, n_epochs=4,
                             seed=0, device="cpu", verbose=0)
        models[env_id].learn(total_timesteps=512)  # warm-up: torch's first-call costs
    fps = dict.fromkeys(models, 0.0)
    for _ in range(ROUNDS):
        for env_id, model in models.items():
            start = time.perf_counter()
            model.learn(total_timesteps=timesteps, reset_num_timesteps=False)
            fps[env_id] = max(fps[env_id], timesteps / (time.perf_counter() - start))
    return {"ppo_fps_cartpole": fps["CartPole-v1"], "ppo_fps_ours": fps[ENV_ID],
            "ppo_fps_ratio": fps[ENV_ID] / fps["CartPole-v1"]}


def peak_rss_mb() -> float:
    """Peak resident set of this process (VmHWM; ru_maxrss would carry a parent's peak)."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _memory_child(long_steps: int) -> dict[str, float]:
    env = gym.make(ENV_ID)
    choose = random_masked(np.random.default_rng(2))
    steps_per_second(env, choose, 10_000)
    after_10k = peak_rss_mb()
    steps_per_second(env, choose, long_steps - 10_000)
    after_long = peak_rss_mb()
    return {"peak_rss_mb_10k": after_10k, f"peak_rss_mb_{long_steps}": after_long,
            "rss_growth": after_long / after_10k - 1.0}


def measure_memory(long_steps: int) -> dict[str, float]:
    """Peak RSS after 10k and after ``long_steps`` steps, in a fresh process (so that what the
    other measurements imported, torch among them, does not mask the env's own memory)."""
    import multiprocessing

    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(_memory_child, (long_steps,))


def plot_scaling(scaling: dict[str, list], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.5))
    n = [r["n_models"] for r in scaling["by_models"]]
    ax1.plot(n, [r["us_per_step"] for r in scaling["by_models"]], "o-")
    ax1.set(xlabel="models N", ylabel="µs per step", title="scaling with catalog size")
    rates = [r["requests_per_slot"] for r in scaling["by_rate"]]
    ax2.semilogx(rates, [r["us_per_step"] for r in scaling["by_rate"]], "o-")
    # The episode's request generation (at reset) grows with the rate; its own axis.
    twin = ax2.twinx()
    twin.semilogx(rates, [r["ms_per_reset"] for r in scaling["by_rate"]], "s--", color="C1")
    twin.set_ylabel("ms per reset (request generation)", color="C1")
    ax2.set(xlabel="requests per slot", ylabel="µs per step", title="scaling with load")
    for ax in (ax1, ax2):
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps (a smoke run)")
    parser.add_argument("--out", default="results/bench", help="folder for bench.json, scaling.png")
    parser.add_argument("--skip-ppo", action="store_true", help="skip the SB3 training comparison")
    args = parser.parse_args(argv)
    q = args.quick
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {}
    report["headline"] = measure_headline(5_000 if q else 50_000)
    print("steps/s:", {k: round(v, 3) for k, v in report["headline"].items()})
    report["v1_vs_v0"] = measure_v1_vs_v0(5_000 if q else 50_000)
    print("v1 vs v0:", {k: round(v, 3) for k, v in report["v1_vs_v0"].items()})
    report["heavy_load"] = measure_requests_per_second(1 if q else 5)
    print("SERVE-only at 2,000 requests/slot:", {k: round(v) for k, v in report["heavy_load"].items()})
    report["scaling"] = measure_scaling(2_000 if q else 20_000)
    by_n = report["scaling"]["by_models"]
    report["scaling"]["n200_over_n10"] = by_n[-1]["us_per_step"] / by_n[0]["us_per_step"]
    print("scaling:", json.dumps(report["scaling"]))
    report["vector"] = measure_vector(500 if q else 10_000)
    print("vector envs (2):", {k: round(v) for k, v in report["vector"].items()})
    if not args.skip_ppo:
        report["ppo"] = measure_ppo_fps(1_024 if q else 8_192)
        print("SB3 PPO fps:", {k: round(v, 3) for k, v in report["ppo"].items()})
    report["memory"] = measure_memory(20_000 if q else 1_000_000)
    print("memory:", {k: round(v, 4) for k, v in report["memory"].items()})
    (out / "bench.json").write_text(json.dumps(report, indent=1))
    plot_scaling(report["scaling"], out / "scaling.png")
    print(f"wrote {out / 'bench.json'} and {out / 'scaling.png'}")
    return report


if __name__ == "__main__":
    main()
