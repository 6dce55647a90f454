"""RLlib (Ray 2.x, new API stack): the env by a registered name that remote env runners find,
with the action mask in the observation, and a PPO config that masks invalid actions.

    from integrations.rllib import masked_ppo_config
    algo = masked_ppo_config("EdgePFMCache-Small-v0", env_kwargs={"n_slots": 60}).build_algo()
    algo.train()

Why a registration: a plain Gymnasium id reaches only the local env runner (remote runners are
fresh processes where ``edge_cache_env`` was never imported, so the id is unknown).
:func:`register` gives RLlib a creator that imports the package itself, so any runner on any
node builds the env. (Without masks, ``env="edge_cache_env:EdgePFMCache-v0"`` also works: Gymnasium
imports the module named before the colon.)
"""

from __future__ import annotations

from typing import Any

from integrations.masking import make_masked


def env_name(env_id: str, masked: bool = True) -> str:
    return f"{env_id}-masked" if masked else env_id


def _creator(env_id: str, masked: bool) -> Any:
    def create(env_config: Any) -> Any:
        import gymnasium as gym

        import edge_cache_env  # noqa: F401  (registers the ids in this runner)

        kwargs = dict(env_config or {})
        return make_masked(env_id, **kwargs) if masked else gym.make(env_id, **kwargs)

    return create


def register(env_id: str = "EdgePFMCache-v0", masked: bool = True) -> str:
    """Register ``env_id`` (with the mask in a Dict observation) with RLlib; the name to use as
    ``config.environment(name, env_config=KWARGS)`` (KWARGS: the env's ``gym.make`` overrides)."""
    from ray.tune.registry import register_env

    name = env_name(env_id, masked)
    register_env(name, _creator(env_id, masked))
    return name


def masked_ppo_config(env_id: str = "EdgePFMCache-v0", env_kwargs: dict[str, Any] | None = None,
                      num_env_runners: int = 1, hidden: tuple[int, ...] = (64, 64)) -> Any:
    """A ``PPOConfig`` whose module never samples a masked-out action
    (RLlib's ``ActionMaskingTorchRLModule``); tune it further with the usual ``.training(...)``."""
    from ray.rllib.algorithms.ppo import PPOConfig
    from ray.rllib.core.rl_module.rl_module import RLModuleSpec
    from ray.rllib.examples.rl_modules.classes.action_masking_rlm import ActionMaskingTorchRLModule

    return (
        PPOConfig()
        .environment(register(env_id, masked=True), env_config=dict(env_kwargs or {}))
        .env_runners(num_env_runners=num_env_runners)
        .rl_module(rl_module_spec=RLModuleSpec(
            module_class=ActionMaskingTorchRLModule,
            model_config={"head_fcnet_hiddens": list(hidden), "head_fcnet_activation": "relu"}))
        .callbacks(on_episode_end=log_episode_metrics)
    )


def log_episode_metrics(*, episode: Any, metrics_logger: Any = None, **_: Any) -> None:
    """The env's episode cost and invalid-action count as RLlib metrics (``result["env_runners"]``)."""
    info = episode.get_infos(-1)
    if metrics_logger is not None and "episode_cost" in info:
        metrics_logger.log_value("episode_cost", float(info["episode_cost"]))
        metrics_logger.log_value("invalid_actions", float(info["invalid_actions"]))
        metrics_logger.log_value("hit_ratio", float(info["hit_ratio"]))
