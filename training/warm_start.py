"""Warm start from a heuristic: learn to imitate it before reinforcement learning improves on it.

A policy that starts uniform over ~2N+1 actions loads and evicts at random, pays switching
cost on every step and needs many episodes just to learn to SERVE. Starting from the
least-context heuristic (LC, the source paper's policy) instead, the learner only has to find
where LC is wrong. This is the usual "behaviour cloning, then fine-tuning" recipe:

* PPO / MaskablePPO: the actor is fitted to the heuristic's actions (cross-entropy, with the
  env's masks for MaskablePPO) and the critic to the heuristic's (slot-)discounted returns,
  so the first PPO updates start from a consistent actor-critic pair.
* DQN: the demonstrations go into the replay buffer and the Q-network is pre-trained on them
  with the TD loss plus DQfD's large-margin loss (Hester et al., AAAI 2018), which makes the
  demonstrated action the greedy one. As in DQfD the margin loss stays on during training
  (:class:`MarginDQN`, on a batch of demonstrations per update, weight ``margin_weight``):
  without it, TD updates soon make untried (often invalid) actions look best.

The demonstrations are collected on the training vector env itself (training seeds only,
through any VecNormalize), so they also warm up the reward normaliser. Their env steps are
reported (``steps``) next to the training timesteps.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch as th
import torch.nn.functional as F
from stable_baselines3 import DQN
from stable_baselines3.common.callbacks import BaseCallback

import agents
from agents.padded import PaddedAgent
from edge_cache_env.validation import integer, number

DEFAULTS = {"agent": "lc", "agent_kwargs": {}, "steps": 50_000, "epochs": 10, "batch_size": 256,
            "learning_rate": 1e-3, "margin": 0.8, "vf_coef": 0.5, "margin_weight": 1.0}


@dataclass
class Demonstrations:
    obs: np.ndarray  # [T, D] what the learner sees (normalised if VecNormalize normalises obs)
    actions: np.ndarray  # [T]
    masks: np.ndarray  # [T, A]
    returns: np.ndarray  # [T] discounted returns (in the learner's reward units); NaN if unknown
    episode_costs: list[float]


def check_settings(value: Any) -> dict[str, Any]:
    """Validated ``warm_start`` settings (a mapping with keys of :data:`DEFAULTS`)."""
    if value in (None, False):
        return {}
    if value is True:
        return dict(DEFAULTS)
    if not isinstance(value, Mapping) or set(value) - set(DEFAULTS):
        raise ValueError(f"warm_start = {value!r} is invalid: must be false, true or a mapping with "
                         f"keys among {sorted(DEFAULTS)}")
    out = {**DEFAULTS, **value}
    integer("warm_start", "steps", out["steps"], 1)
    integer("warm_start", "epochs", out["epochs"], 0)
    integer("warm_start", "batch_size", out["batch_size"], 1)
    for key in ("learning_rate", "margin", "vf_coef", "margin_weight"):
        number("warm_start", key, out[key])
        if out[key] < 0 or (key == "learning_rate" and out[key] == 0):
            raise ValueError(f"warm_start.{key} = {out[key]!r} is invalid: must be "
                             f"{'> 0' if key == 'learning_rate' else '>= 0'}")
    if not isinstance(out["agent"], str) or out["agent"] not in agents.AGENTS:
        raise ValueError(f"warm_start.agent = {out['agent']!r} is invalid: must be one of "
                         f"{sorted(agents.AGENTS)}")
    kwargs = out["agent_kwargs"]
    if not isinstance(kwargs, Mapping) or not all(isinstance(k, str) for k in kwargs):
        raise ValueError(f"warm_start.agent_kwargs = {kwargs!r} is invalid: must be a mapping of "
                         f"keyword arguments of {out['agent']!r}")
    out["agent_kwargs"] = dict(kwargs)  # the run's own copy, never DEFAULTS' shared mapping
    try:  # build it once now: a bad argument fails here, before any training starts
        teacher(out)
    except (TypeError, ValueError) as e:
        raise ValueError(f"warm_start.agent_kwargs = {out['agent_kwargs']!r} is invalid for agent "
                         f"{out['agent']!r}: {e}") from None
    return out


def teacher(settings: Mapping[str, Any]) -> Any:
    """The demonstrator of validated ``warm_start`` settings: ``agent`` built with ``agent_kwargs``
    (e.g. ``{agent: cost_benefit_tuned, agent_kwargs: {grid: "0.2"}}``)."""
    return agents.make(settings["agent"], **dict(settings.get("agent_kwargs") or {}))


def collect(model: Any, agent: Any, n_steps: int, gamma: float, slot_discount: bool,
            should_stop: Callable[[], bool] | None = None) -> Demonstrations:
    """Run ``agent`` on the model's training vector env for ``n_steps`` env steps (all envs), or
    fewer if ``should_stop()`` says so (checked after every step)."""
    from stable_baselines3.common.vec_env import VecNormalize

    env = model.get_env()
    norm = model.get_vec_normalize_env()
    n_envs = env.num_envs
    buffer = getattr(model, "replay_buffer", None)
    obs = env.reset()
    raw = norm.get_original_obs() if isinstance(norm, VecNormalize) else obs
    steps = max(n_steps // n_envs, 1)
    rec_obs, rec_act, rec_mask, rec_rew, rec_disc, rec_done = [], [], [], [], [], []
    costs: list[float] = []
    # Every agent acts per env, attached to that env's current scenario: agents read the
    # observation layout (v1 appends features), cost_benefit the catalog, and the random env
    # draws a new scenario per episode.
    env_agents = [PaddedAgent(copy.deepcopy(agent)) for _ in range(n_envs)]
    # With advice (training.wrappers.Advised) the teacher reads the env's own observation, the
    # first part of the advised one.
    # has_attr, not get_attr in a try: a SubprocVecEnv worker dies on a missing attribute.
    advised = env.has_attr("advice_base_size")
    teacher_view = int(env.get_attr("advice_base_size")[0]) if advised else raw.shape[-1]
    for _ in range(steps):
        masks = np.stack(env.env_method("action_masks"))
        actions = np.empty(n_envs, dtype=np.int64)
        for i, (a_i, inner) in enumerate(zip(env_agents, env.get_attr("unwrapped"), strict=True)):
            a_i.attach(inner)
            actions[i] = a_i.predict(raw[i][:teacher_view], deterministic=True)[0]
        new_obs, rewards, dones, infos = env.step(actions)
        new_raw = norm.get_original_obs() if isinstance(norm, VecNormalize) else new_obs
        served = np.array([info.get("slot_served", True) for info in infos])
        rec_obs.append(obs)
        rec_act.append(actions)
        rec_mask.append(masks)
        rec_rew.append(rewards)
        rec_disc.append(np.where(served | (not slot_discount), gamma, 1.0))
        rec_done.append(dones)
        if buffer is not None:  # DQN: the demonstrations become replay data (unnormalised)
            next_raw = new_raw.copy()
            for i, done in enumerate(dones):
                if done:
                    next_raw[i] = infos[i]["terminal_observation"]
            reward_raw = norm.get_original_reward() if isinstance(norm, VecNormalize) else rewards
            buffer.add(raw, next_raw, actions, reward_raw, dones, infos)
        costs += [float(info["episode_cost"]) for info, d in zip(infos, dones) if d]
        obs, raw = new_obs, new_raw
        if should_stop is not None and should_stop():
            break
    rew, disc, done = np.array(rec_rew), np.array(rec_disc), np.array(rec_done)
    returns = np.full(rew.shape, np.nan, dtype=np.float64)
    acc = np.full(n_envs, np.nan)  # unknown until an episode end is seen (no bootstrap)
    for t in reversed(range(len(rew))):
        acc = np.where(done[t], rew[t], rew[t] + disc[t] * acc)
        returns[t] = acc
    flat = lambda x: np.asarray(x).reshape(len(rew) * n_envs, *np.asarray(x).shape[2:])  # noqa: E731
    return Demonstrations(flat(rec_obs).astype(np.float32), flat(rec_act).astype(np.int64),
                          flat(rec_mask).astype(bool), flat(returns), costs)


def clone_actor_critic(model: Any, demo: Demonstrations, settings: Mapping[str, Any],
                       masked: bool, should_stop: Callable[[], bool] | None = None) -> dict[str, float]:
    """Fit the policy to the demonstrated actions and the critic to their returns (epochs end
    early once ``should_stop()`` says so)."""
    policy = model.policy
    policy.set_training_mode(True)
    optimizer = th.optim.Adam(policy.parameters(), lr=float(settings["learning_rate"]))
    known = ~np.isnan(demo.returns)
    n = len(demo.actions)
    rng = np.random.default_rng(0)
    bs = int(settings["batch_size"])
    stats = {"bc_nll": float("nan"), "bc_accuracy": float("nan"), "bc_value_mse": float("nan")}
    for _ in range(int(settings["epochs"])):
        if should_stop is not None and should_stop():
            break
        order = rng.permutation(n)
        for start in range(0, n, bs):
            idx = order[start:start + bs]
            obs = th.as_tensor(demo.obs[idx])
            act = th.as_tensor(demo.actions[idx])
            if masked:
                values, log_prob, _ = policy.evaluate_actions(obs, act, action_masks=demo.masks[idx])
            else:
                values, log_prob, _ = policy.evaluate_actions(obs, act)
            loss = -log_prob.mean()
            k = known[idx]
            if k.any():
                target = th.as_tensor(demo.returns[idx][k], dtype=th.float32)
                loss = loss + float(settings["vf_coef"]) * F.mse_loss(values.flatten()[th.as_tensor(k)], target)
            optimizer.zero_grad()
            loss.backward()
            th.nn.utils.clip_grad_norm_(policy.parameters(), 1.0)
            optimizer.step()
    policy.set_training_mode(False)
    with th.no_grad():
        obs = th.as_tensor(demo.obs)
        act = th.as_tensor(demo.actions)
        if masked:
            values, log_prob, _ = policy.evaluate_actions(obs, act, action_masks=demo.masks)
            dist = policy.get_distribution(obs, action_masks=demo.masks)
        else:
            values, log_prob, _ = policy.evaluate_actions(obs, act)
            dist = policy.get_distribution(obs)
        greedy = dist.mode()
        stats["bc_nll"] = float(-log_prob.mean())
        stats["bc_accuracy"] = float((greedy == act).float().mean())
        if known.any():
            stats["bc_value_mse"] = float(F.mse_loss(values.flatten()[th.as_tensor(known)],
                                                     th.as_tensor(demo.returns[known], dtype=th.float32)))
    return stats


def pretrain_q(model: Any, settings: Mapping[str, Any], should_stop: Callable[[], bool] | None = None
               ) -> dict[str, float]:
    """DQfD-style pre-training of DQN on the demonstrations in its replay buffer (ends early once
    ``should_stop()`` says so, checked every 50 updates)."""
    q_net, target = model.q_net, model.q_net_target
    optimizer = th.optim.Adam(q_net.parameters(), lr=float(settings["learning_rate"]))
    buffer, norm = model.replay_buffer, model.get_vec_normalize_env()
    n_samples = buffer.size() * buffer.n_envs
    updates = int(settings["epochs"]) * max(n_samples // int(settings["batch_size"]), 1)
    margin = float(settings["margin"])
    model.policy.set_training_mode(True)
    done = 0
    for u in range(updates):
        if should_stop is not None and u % 50 == 0 and should_stop():
            break
        done = u + 1
        data = buffer.sample(int(settings["batch_size"]), env=norm)
        with th.no_grad():
            next_q = target(data.next_observations).max(dim=1, keepdim=True).values
            disc = data.discounts if data.discounts is not None else model.gamma
            y = data.rewards + (1 - data.dones) * disc * next_q
        q = q_net(data.observations)
        act = data.actions.long()
        q_a = th.gather(q, 1, act)
        td = F.smooth_l1_loss(q_a, y)
        loss = td + large_margin_loss(q, act, margin)
        optimizer.zero_grad()
        loss.backward()
        th.nn.utils.clip_grad_norm_(q_net.parameters(), model.max_grad_norm)
        optimizer.step()
        if (u + 1) % max(model.target_update_interval // buffer.n_envs, 1) == 0 or u == updates - 1:
            target.load_state_dict(q_net.state_dict())
    if done < updates:  # stopped early: the target network takes the last weights
        target.load_state_dict(q_net.state_dict())
    model.policy.set_training_mode(False)
    with th.no_grad():
        data = buffer.sample(min(4096, n_samples), env=norm)
        greedy = q_net(data.observations).argmax(dim=1)
        agree = float((greedy == data.actions.long().flatten()).float().mean())
    return {"q_updates": float(done), "bc_accuracy": agree}


def large_margin_loss(q: th.Tensor, actions: th.Tensor, margin: float) -> th.Tensor:
    """DQfD's J_E: max_a [Q(s, a) + margin * (a != a_E)] - Q(s, a_E), averaged."""
    q_e = th.gather(q, 1, actions)
    bonus = th.full_like(q, margin).scatter(1, actions, 0.0)
    return ((q + bonus).max(dim=1, keepdim=True).values - q_e).mean()


class MarginDQN(DQN):
    """DQN whose every update adds DQfD's large-margin loss on a batch of demonstrations.

    Saved and loaded as a plain DQN (the demonstrations are not saved).
    """

    demonstrations: tuple[np.ndarray, np.ndarray] | None = None
    margin = 0.8
    margin_weight = 1.0

    def _excluded_save_params(self) -> list[str]:
        return [*super()._excluded_save_params(), "demonstrations"]

    def train(self, gradient_steps: int, batch_size: int = 100) -> None:
        self.policy.set_training_mode(True)
        self._update_learning_rate(self.policy.optimizer)
        losses, margins = [], []
        rng = np.random.default_rng(self._n_updates)
        for _ in range(gradient_steps):
            data = self.replay_buffer.sample(batch_size, env=self._vec_normalize_env)
            discounts = data.discounts if data.discounts is not None else self.gamma
            with th.no_grad():
                next_q = self.q_net_target(data.next_observations).max(dim=1).values.reshape(-1, 1)
                target = data.rewards + (1 - data.dones) * discounts * next_q
            q = th.gather(self.q_net(data.observations), 1, data.actions.long())
            loss = F.smooth_l1_loss(q, target)
            losses.append(loss.item())
            if self.demonstrations is not None and self.margin_weight > 0:
                obs, act = self.demonstrations
                idx = rng.integers(0, len(act), size=batch_size)
                jm = large_margin_loss(self.q_net(th.as_tensor(obs[idx])),
                                       th.as_tensor(act[idx]).reshape(-1, 1), self.margin)
                margins.append(jm.item())
                loss = loss + self.margin_weight * jm
            self.policy.optimizer.zero_grad()
            loss.backward()
            th.nn.utils.clip_grad_norm_(self.policy.parameters(), self.max_grad_norm)
            self.policy.optimizer.step()
        self._n_updates += gradient_steps
        self.logger.record("train/n_updates", self._n_updates, exclude="tensorboard")
        self.logger.record("train/loss", float(np.mean(losses)))
        if margins:
            self.logger.record("train/margin_loss", float(np.mean(margins)))


class WarmStartLogCallback(BaseCallback):
    """Writes the warm start's figures (``bc_nll``, ``bc_accuracy``, ...) to the logger, so
    TensorBoard shows them under ``warm_start/`` at step 0 of the run."""

    def __init__(self, summary: Mapping[str, Any]) -> None:
        super().__init__()
        self.summary = dict(summary)

    def _on_training_start(self) -> None:
        for key, value in self.summary.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                self.logger.record(f"warm_start/{key}", float(value))
        self.logger.dump(step=self.num_timesteps)

    def _on_step(self) -> bool:
        return True


def warm_start(model: Any, algo: str, agent: Any, settings: Mapping[str, Any], gamma: float,
               slot_discount: bool, should_stop: Callable[[], bool] | None = None) -> dict[str, Any]:
    """Collect demonstrations of ``agent`` and pre-train ``model`` on them; a summary dict.
    ``should_stop()`` (a signal, the time budget) cuts both short: the summary then says
    ``stopped``."""
    t0 = time.perf_counter()
    stopped = False

    def stop() -> bool:
        nonlocal stopped
        stopped = stopped or (should_stop is not None and bool(should_stop()))
        return stopped

    demo = collect(model, agent, int(settings["steps"]), gamma, slot_discount, stop)
    if algo == "dqn":
        stats = pretrain_q(model, settings, stop)
        if hasattr(model, "margin_weight"):  # MarginDQN: keep the margin loss while training
            model.demonstrations = (demo.obs, demo.actions)
            model.margin = float(settings["margin"])
            model.margin_weight = float(settings["margin_weight"])
    else:
        stats = clone_actor_critic(model, demo, settings, masked=algo == "maskable_ppo", should_stop=stop)
    summary = {"agent": settings["agent"], "steps": len(demo.actions),
               "episodes": len(demo.episode_costs),
               "demo_mean_cost": float(np.mean(demo.episode_costs)) if demo.episode_costs else None,
               "seconds": round(time.perf_counter() - t0, 1), **{k: round(v, 4) for k, v in stats.items()}}
    if stopped:
        summary["stopped"] = True
    return summary
