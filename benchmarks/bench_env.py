"""Speed of EdgePFMCache, measured against CartPole-v1 in the same run and across scale.

Usage: python benchmarks/bench_env.py [--quick] [--out results/bench]
       python benchmarks/bench_env.py --native [--baseline-tree PATH] [--episodes 20] [--quick] [--out results/bench]
       python benchmarks/bench_env.py --suite-timing [--episodes 20] [--quick] [--out results/bench]

Reports (and writes ``bench.json`` and ``scaling.png`` to ``--out``):
  - env steps/s through ``gym.make`` with random masked actions and with the LC agent, next to
    CartPole-v1's steps/s (random actions) through ``gym.make``, and the ratio;
  - simulated requests/s of a SERVE-only policy at 2,000 requests per slot;
  - time per step for N = 10, 50, 200 models and for 20 .. 20,000 requests per slot;
  - ``gym.make_vec`` with 2 envs, "sync" and "async";
  - SB3 PPO training fps on our env vs CartPole-v1 with the same settings;
  - peak RSS after 10k and after 1M steps (leak check).
With ``--native`` (``native.json``), the native vector env (edge_cache_env/vector_env.py) only:
  - env-steps/s at B = 1, 16, 64, 256, 1024 with masked random actions and with LC (batched
    predict), beside gymnasium's ``CartPoleVectorEnv`` at the same B (random actions), rounds
    alternating between them; over 4,000 steps per row (two masked random episodes: autoresets
    included in proportion);
  - the single env's steps/s (masked random and LC) in this tree and, with ``--baseline-tree``,
    in another checkout (e.g. main before the change), alternating rounds in the same run;
  - the heuristic part of ``evaluate.py --suite default --agents lc,lru,lfu,fifo,random,cloud
    --episodes 20`` (no bound) with the per-episode loop and batched, per scenario, and whether
    they agree (as ``--suite-timing``; ``--episodes`` sets the number);
  - peak RSS after 10k and after 1M batched env-steps (B = 256, masked random), fresh process.
With ``--suite-timing`` (``suite_timing.json``): the heuristic part of ``evaluate.py --suite
default`` (agents lc, lru, lfu, fifo, random, cloud; ``--episodes`` seeds, no bound) per
scenario, ``run_suite(vectorize=False)`` vs ``True`` (CPU time), and the whole suite's total.
Times are process CPU time where one process does all the work (robust to other load on the
machine) and wall time where several processes are involved (async vectors).
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this clone's code, not an installed one
sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench_args, beside this script

from bench_args import out_folder, write_text  # noqa: E402

import edge_cache_env  # noqa: E402,F401  (registers the ids)
from edge_cache_env.catalog import DEFAULT_MODELS  # noqa: E402
from edge_cache_env.config import make_config  # noqa: E402

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


def measure_capacity_vs_v0(steps: int) -> dict[str, float]:
    """CPU µs per step of EdgePFMCache-v2 (capacity model) and -v0, same random masked actions,
    alternating rounds (best of each kept); the ratio must stay below 1.5."""
    envs = {"v0": gym.make("EdgePFMCache-v0"), "v2": gym.make("EdgePFMCache-v2")}
    best = dict.fromkeys(envs, 0.0)
    for _ in range(ROUNDS):
        for name, env in envs.items():
            best[name] = max(best[name], steps_per_second(env, random_masked(np.random.default_rng(0)), steps))
    return {"v0_us_per_step": 1e6 / best["v0"], "v2_us_per_step": 1e6 / best["v2"],
            "v2_over_v0": best["v0"] / best["v2"]}


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


# ----------------------------------------------------------------- native vector env
NATIVE_BATCHES = (1, 16, 64, 256, 1024)
STEADY_STEPS = 4000  # ~2 masked random episodes of 360 slots per row, resets included


def _native_vec(b: int, env_id: str = ENV_ID) -> Any:
    return gym.make_vec(env_id, num_envs=b, vectorization_mode="vector_entry_point")


def batched_steps_per_second(b: int, policy: str, steps: int, warmup: int) -> float:
    """Env-steps/s (CPU time) of the native vector env with B = ``b``: masked random actions
    (one uniform draw per row among its valid actions) or LC's batched predict."""
    import agents

    venv = _native_vec(b)
    obs, _ = venv.reset(seed=0)
    rng = np.random.default_rng(0)
    lc = agents.make("lc")
    lc.attach(venv)

    def act(obs: np.ndarray) -> np.ndarray:
        if policy == "lc":
            return lc.predict(obs)[0]
        return (rng.random((b, venv.single_action_space.n)) * venv.action_masks()).argmax(axis=1)

    for _ in range(warmup):
        obs = venv.step(act(obs))[0]
    start = time.process_time()
    for _ in range(steps):
        obs = venv.step(act(obs))[0]
    return b * steps / (time.process_time() - start)


def cartpole_vector_steps_per_second(b: int, steps: int) -> float:
    from gymnasium.envs.classic_control.cartpole import CartPoleVectorEnv

    env = CartPoleVectorEnv(num_envs=b)
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    start = time.process_time()
    for _ in range(steps):
        env.step(rng.integers(0, 2, size=b))
    return b * steps / (time.process_time() - start)


def measure_native(quick: bool) -> list[dict[str, float]]:
    rows = []
    for b in NATIVE_BATCHES:
        # Every row starts together and a masked random episode lasts ~2,000 steps (LC's ~500),
        # so the rows autoreset together: a window shorter than an episode can miss every reset
        # (a 600-step window did, and read 1.3x too fast). The window covers whole episodes.
        steps, warmup = (400, 50) if quick else (STEADY_STEPS, 500)
        best = {"random": 0.0, "lc": 0.0, "cartpole": 0.0}
        for _ in range(ROUNDS):
            best["cartpole"] = max(best["cartpole"], cartpole_vector_steps_per_second(b, steps))
            for policy in ("random", "lc"):
                best[policy] = max(best[policy], batched_steps_per_second(b, policy, steps, warmup))
        rows.append({"B": b, "random_masked_env_steps_per_s": best["random"],
                     "lc_env_steps_per_s": best["lc"], "cartpole_vector_env_steps_per_s": best["cartpole"],
                     "random_over_cartpole": best["random"] / best["cartpole"]})
        print(f"B={b:5d}  random {best['random']:>11,.0f}  lc {best['lc']:>11,.0f}  "
              f"CartPoleVectorEnv {best['cartpole']:>12,.0f}  ratio {best['random'] / best['cartpole']:.3f}",
              flush=True)
    return rows


_SINGLE_CODE = """
import json, sys, time
sys.path.insert(0, {tree!r})
import gymnasium as gym, numpy as np
import edge_cache_env, agents
assert edge_cache_env.__file__.startswith({tree!r}), edge_cache_env.__file__
env = gym.make({env_id!r})
lc = agents.make("lc")
lc.attach(env)  # the layout of the env's observation (v1 has the capacity features)
out = {{}}
for policy in ("random", "lc"):
    rng = np.random.default_rng(0)
    obs, info = env.reset(seed=0)
    best = float("inf")
    for _ in range({reps}):  # the fastest of many short repetitions: robust to other load
        start = time.process_time()
        for _ in range(1000):
            if policy == "lc":
                a = int(lc.predict(obs[None])[0][0])
            else:
                valid = np.flatnonzero(info["action_mask"])
                a = int(valid[rng.integers(len(valid))])
            obs, _, terminated, truncated, info = env.step(a)
            if terminated or truncated:
                obs, info = env.reset()
        best = min(best, time.process_time() - start)
    out[policy] = 1000 / best
print(json.dumps(out))
"""


def single_env_in_tree(tree: str, steps: int, env_id: str = ENV_ID) -> dict[str, float]:
    """Single-env steps/s of ``env_id`` (masked random, LC; the fastest 1,000-step repetition
    of ``steps / 1000``) of the code in ``tree``, in a fresh process."""
    import subprocess

    code = _SINGLE_CODE.format(tree=str(Path(tree).resolve()), reps=max(steps // 1000, 1),
                               env_id=env_id)
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=tree)
    return json.loads(res.stdout.strip().splitlines()[-1])


SINGLE_ROUNDS = 8  # alternations of the two trees: single-env rates move by up to 25% with load
# v0, and the capacity model (on its v1 id: the same kernel as v2's, and older trees have it)
SINGLE_ENV_IDS = (ENV_ID, "EdgePFMCache-v1")


def measure_single_before_after(baseline_tree: str | None, steps: int) -> dict[str, Any]:
    """This tree's single env vs ``baseline_tree``'s, per id of :data:`SINGLE_ENV_IDS`."""
    return {env_id: single_before_after(baseline_tree, steps, env_id) for env_id in SINGLE_ENV_IDS}


def single_before_after(baseline_tree: str | None, steps: int, env_id: str) -> dict[str, Any]:
    """This tree's single ``env_id`` vs ``baseline_tree``'s, alternating rounds; the best and
    the median of the rounds (run to run the machine's load moves a single measurement by up to
    25%; the fastest repetition within a run, and the best round, much less)."""
    import statistics

    trees = {"this": str(Path(__file__).resolve().parents[1])}
    if baseline_tree is not None:
        trees["baseline"] = baseline_tree
    rounds: dict[str, dict[str, list[float]]] = {name: {"random": [], "lc": []} for name in trees}
    for _ in range(SINGLE_ROUNDS if baseline_tree is not None else 1):
        for name, tree in trees.items():
            for policy, v in single_env_in_tree(tree, steps, env_id).items():
                rounds[name][policy].append(v)
    best = {name: {p: max(v) for p, v in r.items()} for name, r in rounds.items()}
    out: dict[str, Any] = {"trees": trees, "steps_per_s": best, "rounds": rounds}
    if baseline_tree is not None:
        out["this_over_baseline"] = {p: best["this"][p] / best["baseline"][p] for p in ("random", "lc")}
        out["this_over_baseline_median"] = {
            p: statistics.median(rounds["this"][p]) / statistics.median(rounds["baseline"][p])
            for p in ("random", "lc")}
    return out


SUITE_AGENTS = ("lc", "lru", "lfu", "fifo", "random", "cloud")


def measure_suite_timing(episodes: int, quick: bool) -> dict[str, Any]:
    """Per scenario of the default suite: CPU s of ``run_suite`` with the per-episode loop and
    batched (heuristics only, no bound), their ratio, and whether every figure agrees; then
    the totals. Each scenario runs both ways back to back, so load drifts hit both alike; its
    env is built once before, so that neither side pays the parsing of a trace file."""
    import os

    from edge_cache_env.scenarios import resolve_suite
    from evaluation.suite import run_suite

    version, scenarios = resolve_suite("default")
    scenarios = scenarios[:4] if quick else scenarios
    seeds = list(range(episodes))
    rows = []
    print(f"suite {version}, agents {','.join(SUITE_AGENTS)}, {episodes} episodes, load "
          f"{os.getloadavg()[0]:.2f}", flush=True)
    print(f"{'scenario':<20}{'env':<28}{'loop cpu s':>11}{'batched cpu s':>14}{'speedup':>9}  same",
          flush=True)
    for sc in scenarios:
        cpu: dict[str, float] = {}
        figures: dict[str, Any] = {}
        if sc.env_id in gym.registry:  # parse the scenario's trace file (a per-process cache)
            gym.make(sc.env_id, **sc.kwargs()).close()  # before timing: neither side pays it
        for vectorize in (False, True):
            start = time.process_time()
            run = run_suite([sc], list(SUITE_AGENTS), seeds, bound=False, progress=False,
                            vectorize=vectorize)[sc.name]
            cpu[str(vectorize)] = time.process_time() - start
            figures[str(vectorize)] = (run.summary if run.result is None else
                                       {a: [{k: v for k, v in e.items() if k != "seconds"} for e in eps]
                                        for a, eps in run.result.episodes.items()})
        row = {"scenario": sc.name, "env_id": sc.env_id, "per_episode_cpu_s": cpu["False"],
               "batched_cpu_s": cpu["True"], "speedup_cpu": cpu["False"] / cpu["True"],
               "identical": figures["False"] == figures["True"]}
        rows.append(row)
        print(f"{sc.name:<20}{sc.env_id:<28}{row['per_episode_cpu_s']:>11.2f}"
              f"{row['batched_cpu_s']:>14.2f}{row['speedup_cpu']:>8.1f}x  {row['identical']}",
              flush=True)
    loop = sum(r["per_episode_cpu_s"] for r in rows)
    batched = sum(r["batched_cpu_s"] for r in rows)
    total = {"per_episode_cpu_s": loop, "batched_cpu_s": batched, "speedup_cpu": loop / batched,
             "identical": all(r["identical"] for r in rows), "load_after": os.getloadavg()[0]}
    print(f"{'total':<48}{loop:>11.2f}{batched:>14.2f}{loop / batched:>8.1f}x  {total['identical']}"
          f"  (load {total['load_after']:.2f})", flush=True)
    return {"suite": version, "agents": list(SUITE_AGENTS), "episodes": episodes,
            "scenarios": rows, "total": total}


def _native_memory_child(b: int, long_steps: int) -> dict[str, float]:
    venv = _native_vec(b)
    venv.reset(seed=0)
    rng = np.random.default_rng(2)
    n = venv.single_action_space.n
    done = 0
    marks = {}
    for target in (10_000, long_steps):
        while done < target:
            venv.step((rng.random((b, n)) * venv.action_masks()).argmax(axis=1))
            done += b
        marks[target] = peak_rss_mb()
    return {"batch": b, "peak_rss_mb_10k": marks[10_000], f"peak_rss_mb_{long_steps}": marks[long_steps],
            "rss_growth": marks[long_steps] / marks[10_000] - 1.0}


def measure_native_memory(b: int, long_steps: int) -> dict[str, float]:
    import multiprocessing

    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(_native_memory_child, (b, long_steps))


def main_native(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    q = args.quick
    out.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {}
    report["single_env"] = measure_single_before_after(args.baseline_tree, 5_000 if q else 60_000)
    for env_id, res in report["single_env"].items():
        best = {p: round(v) for p, v in res["steps_per_s"]["this"].items()}
        ratio = res.get("this_over_baseline")
        print(f"single env {env_id}: steps/s {best}"
              + (f", this / baseline best {ratio}, median {res['this_over_baseline_median']}"
                 if ratio else ""), flush=True)
    report["native"] = measure_native(q)
    report["suite"] = measure_suite_timing(5 if q else args.episodes, q)
    report["memory"] = measure_native_memory(256, 20_000 if q else 1_000_000)
    print("memory:", {k: round(v, 4) for k, v in report["memory"].items()})
    write_text(out / "native.json", json.dumps(report, indent=1))
    print(f"wrote {out / 'native.json'}")
    return report


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps (a smoke run)")
    parser.add_argument("--out", default="results/bench", help="folder for bench.json, scaling.png")
    parser.add_argument("--skip-ppo", action="store_true", help="skip the SB3 training comparison")
    parser.add_argument("--native", action="store_true",
                        help="only the native vector env's measurements (native.json)")
    parser.add_argument("--baseline-tree", default=None,
                        help="with --native: a checkout whose single env is measured alongside")
    parser.add_argument("--suite-timing", action="store_true",
                        help="only the default suite's heuristics, per-episode loop vs batched, "
                             "per scenario (suite_timing.json)")
    parser.add_argument("--episodes", type=int, default=20,
                        help="with --suite-timing or --native: episodes (seeds 0..E-1) per "
                             "scenario and agent in the suite timing")
    args = parser.parse_args(argv)
    if args.episodes < 1:
        parser.error(f"--episodes {args.episodes}: must be >= 1")
    if args.baseline_tree is not None and not (Path(args.baseline_tree) / "edge_cache_env").is_dir():
        parser.error(f"--baseline-tree {args.baseline_tree}: no edge_cache_env/ package there")
    if args.native and args.suite_timing:
        parser.error("--native and --suite-timing: pick one")
    out = out_folder(parser, args.out)
    if args.native:
        return main_native(args, out)
    if args.suite_timing:
        out.mkdir(parents=True, exist_ok=True)
        report = measure_suite_timing(args.episodes, args.quick)
        write_text(out / "suite_timing.json", json.dumps(report, indent=1))
        print(f"wrote {out / 'suite_timing.json'}")
        return report
    q = args.quick
    out.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {}
    report["headline"] = measure_headline(5_000 if q else 50_000)
    print("steps/s:", {k: round(v, 3) for k, v in report["headline"].items()})
    report["v2_vs_v0"] = measure_capacity_vs_v0(5_000 if q else 50_000)
    print("v2 vs v0:", {k: round(v, 3) for k, v in report["v2_vs_v0"].items()})
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
    write_text(out / "bench.json", json.dumps(report, indent=1))
    plot_scaling(report["scaling"], out / "scaling.png")
    print(f"wrote {out / 'bench.json'} and {out / 'scaling.png'}")
    return report


if __name__ == "__main__":
    main()
