"""The generalist: one trained set policy that plays any catalog of up to ``PAD_MODELS`` models.

``agents.make("generalist")`` loads ``agents/pretrained/generalist.zip`` (a MaskablePPO with
:class:`agents.set_policy.SetPolicy`, trained on ``EdgePFMCache-Random-v0`` with the capacity
model; with ``capacity_gate`` it plays ``cost_benefit`` exactly on scenarios without the capacity
model, docs/model.md §15.1). The set policy's
weights do not depend on the number of models, so the trained network is rebuilt for
``n_max`` (default :data:`~edge_cache_env.padding.PAD_MODELS`) model slots; an observation of
``n <= n_max`` models is what its padding to ``n_max`` slots would be (absent rows are ignored),
and actions come back in the env's own catalog (:mod:`edge_cache_env.padding`). It plays
EdgePFMCache-v0, -Small-v0, the traces, the random env, and any catalog of up to ``n_max``
models.

torch and SB3 are imported here: ``agents`` imports this module only when asked for the agent.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from gymnasium import spaces

from agents.advice import Advisor, advised_size
from agents.cost_benefit import CostBenefit
from agents.padded import scenario_env
from agents.simulation import (
    TUNING_SEEDS,
    PerScenario,
    choose,
    paired_savings,
    side_by_side_costs,
    tuning_config,
)
from agents.trained import ACTING_ONLY, PRETRAINED_DIR
from edge_cache_env.actions import n_actions
from edge_cache_env.config import EnvConfig
from edge_cache_env.observation import (
    MODEL_FEATURE,
    ObservationLayout,
    n_models_of,
    observation_size,
    split_observation,
)
from edge_cache_env.padding import PAD_MODELS, pad_action, pad_observation

GENERALIST_FILE = "generalist.zip"


def load_set_policy(path: str | Path, n_max: int = PAD_MODELS) -> Any:
    """The SetPolicy of a saved MaskablePPO zip, rebuilt for ``n_max`` model slots (CPU, eval mode)."""
    from sb3_contrib import MaskablePPO

    from agents.set_policy import SetPolicy

    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"no generalist model at {p} (train it: see agents/pretrained/manifest.json)")
    try:
        model = MaskablePPO.load(p, device="cpu", custom_objects=ACTING_ONLY)
    except (ValueError, KeyError, RuntimeError) as e:
        raise ValueError(f"{p} is not a loadable MaskablePPO model: {e}") from e
    trained = model.policy
    if not isinstance(trained, SetPolicy):
        raise ValueError(f"{p} holds a {type(trained).__name__}, not a SetPolicy: only a set "
                         f"policy acts on catalogs of any size")
    advice = getattr(trained, "advice", False)
    gate = getattr(trained, "capacity_gate", False)
    size = advised_size(n_max, gate) if advice else observation_size(n_max)
    policy = SetPolicy(spaces.Box(-1.0, 1.0, shape=(size,), dtype=np.float32),
                       spaces.Discrete(n_actions(n_max)), lambda _: 0.0, hidden=trained.hidden,
                       advice=advice, capacity_gate=gate)
    policy.load_state_dict(trained.state_dict())  # same weights: none depends on the size
    policy.set_training_mode(False)
    return policy


class GeneralistAgent:
    """A set policy behind the agents' predict protocol, for any catalog of up to ``n_max`` models.

    Acting on a catalog's own ``n`` model rows is acting on its padding to ``n_max`` slots:
    absent rows are left out of every pooling and never chosen (tested), so by default the
    network reads the ``n`` rows directly (3x less work for ten models on 32 slots, with the
    same actions); ``pad=True`` pads every observation to ``n_max`` first (a policy trained with
    advice always acts on the ``n`` rows, with the advice of the attached scenario). Deterministic
    actions are the argmax of the masked logits, without SB3's per-call overhead.

    ``verify`` (default: on for a policy with advice, the kind that knows the rule's choice):
    the first time the agent meets a scenario where its learned policy acts (with
    ``capacity_gate``: only where the capacity model is on), it plays the learned policy and
    ``cost_benefit`` side by side on simulated episodes of that scenario
    (:mod:`agents.simulation`: the seeds and the significance test of ``cost_benefit_tuned``,
    never a benchmark episode, a trace's train split) and keeps the learned policy only if it
    saves significantly; otherwise it plays the rule's choice, which its advice carries:
    ``cost_benefit`` exactly. :attr:`plays_learned` says which.
    """

    name = "generalist"

    def __init__(self, path: str | Path | None = None, n_max: int = PAD_MODELS, pad: bool = False,
                 verify: bool | None = None, seeds: tuple[int, ...] = TUNING_SEEDS) -> None:
        self.path = Path(path) if path is not None else PRETRAINED_DIR / GENERALIST_FILE
        self.n_max = n_max
        self.pad = pad
        self.policy = load_set_policy(self.path, n_max)
        self._rows: dict[int, tuple[Any, Any]] = {}
        self._layout: ObservationLayout | None = None
        # A policy trained with advice reads the cost-benefit rule's assessment (agents/advice.py),
        # which needs the scenario's catalog, as cost_benefit itself does.
        self.advisor = Advisor(capacity_gate=self.policy.capacity_gate) if self.policy.advice else None
        if verify and not self.policy.advice:
            raise ValueError(f"generalist: verify=True needs a policy trained with advice (it falls "
                             f"back to the rule's choice, which the advice carries); {self.path} "
                             f"has none")
        if len(seeds) < 2:
            raise ValueError(f"generalist: seeds must hold at least 2 seeds (a paired test), got {seeds!r}")
        self.verify = self.policy.advice if verify is None else bool(verify)
        self.seeds = tuple(int(s) for s in seeds)
        self._checks = PerScenario()  # per scenario met: the check (its "plays_learned")
        self.plays_learned = True
        self.last_check: dict[str, Any] | None = None  # the attached scenario's check, if any
        # The capacity gate closed on the attached scenario: the network's learned part is
        # multiplied by 0 there, so it plays cost_benefit exactly whatever plays_learned says.
        self.gate_closed = False

    def attach(self, env: Any) -> None:
        """Learn the env's observation layout: on v1 the policy reads the v0 block it was trained
        on, which v1 observations begin with (the capacity features follow it). An advised
        policy also reads the current scenario's catalog; with ``verify``, whether its learned
        policy beats the rule there (simulated once per scenario)."""
        self._layout = ObservationLayout.of(env.unwrapped.config)
        if self.advisor is not None:
            config = scenario_env(env).config
            self.advisor.set_scenario(config)
            self.gate_closed = bool(self.policy.capacity_gate and not config.capacity.enabled)
            if self.verify:
                self.plays_learned = self._verdict(config)

    def _verdict(self, config: EnvConfig) -> bool:
        """Whether the learned policy plays on ``config`` (see the class docstring)."""
        self.last_check = None
        if self.gate_closed:
            return True  # the learned policy is the rule there
        self.last_check = self._checks.get(config, self._check)
        return self.last_check["plays_learned"]

    def _check(self, config: EnvConfig) -> dict[str, Any]:
        """The paired comparison on ``config``'s simulated episodes, and its verdict."""
        costs = self.verification_costs(config)
        saving, se = paired_savings(costs)
        return {"plays_learned": bool(choose(costs) == 1), "seeds": list(self.seeds),
                "rule_cost": float(costs[0].mean()), "learned_cost": float(costs[1].mean()),
                "saving": float(saving[1]), "saving_se": float(se[1])}

    def report(self) -> dict[str, Any]:
        """What it played on the attached scenario, and the check that decided (None without
        one): recorded by the benchmark engine beside the agent's figures. ``gate_closed``: no
        capacity model here, so the network is ``cost_benefit`` exactly."""
        return {"plays_learned": self.plays_learned, "gate_closed": self.gate_closed,
                "check": self.last_check}

    def verification_costs(self, config: EnvConfig) -> np.ndarray:
        """``[2, seed]`` costs of ``cost_benefit`` (row 0) and the learned policy (row 1) on the
        simulated episodes of ``config``, paired."""
        simulated = tuning_config(config)
        rule = CostBenefit(env_config=simulated)
        advisor = Advisor(simulated, capacity_gate=self.policy.capacity_gate)
        return side_by_side_costs(simulated, [
            lambda obs, _masks: rule.act(obs),
            lambda obs, masks: np.where(masks, self._advised_logits(obs, advisor, learned=True),
                                        -np.inf).argmax(axis=1),
        ], self.seeds)

    def _indices(self, n: int) -> tuple[Any, Any]:
        """Flat positions of the per-model rows ``[N, F]`` and the globals, for ``n`` models."""
        if n not in self._rows:
            import torch as th

            pm, g = split_observation(np.arange(observation_size(n)), n)
            self._rows[n] = (th.as_tensor(np.ascontiguousarray(pm), dtype=th.long),
                             th.as_tensor(np.ascontiguousarray(g), dtype=th.long))
        return self._rows[n]

    def logits(self, obs: np.ndarray) -> np.ndarray:
        """Unmasked action logits ``[B, 2n + 1]`` of a batch of observations of ``n`` models."""
        import torch as th

        if self.advisor is not None:
            return self._advised_logits(obs, self.advisor, self.plays_learned)
        layout = self._layout
        if layout is not None and obs.shape[-1] == layout.size and layout.size != observation_size(layout.n_models):
            obs = obs[..., :observation_size(layout.n_models)]  # the v0 block of a v1 observation
        n = n_models_of(obs.shape[-1])
        if n > self.n_max:
            raise ValueError(f"generalist: a catalog of {n} models exceeds its {self.n_max} model slots")
        if self.pad and n < self.n_max:
            padded = self.logits(pad_observation(obs, self.n_max))
            return padded[:, [pad_action(a, n, self.n_max) for a in range(n_actions(n))]]
        pm_idx, g_idx = self._indices(n)
        with th.no_grad():
            x = th.as_tensor(np.asarray(obs, dtype=np.float32))
            pm, g = x[:, pm_idx], x[:, g_idx]
            present = pm[..., MODEL_FEATURE["footprint"]] > 0
            return self.policy.mlp_extractor.actor_logits(pm, g, present).numpy()

    def _advised_logits(self, obs: np.ndarray, advisor: Advisor | None, learned: bool) -> np.ndarray:
        """Logits of an advised policy (``learned``: the network's, else the rule's choice) with
        ``advisor``'s advice: computed on the scenario's own ``n`` models, then placed in the
        observation's slots (a padded observation gets padded logits)."""
        import torch as th

        from agents.set_policy import ABSENT_LOGIT

        if advisor is None or advisor.config is None:
            raise RuntimeError("generalist: call agent.attach(env) after env.reset() (evaluate.py does)")
        n = advisor.config.n_models
        if n > self.n_max:
            raise ValueError(f"generalist: a catalog of {n} models exceeds its {self.n_max} model slots")
        pm, g = advisor.rows(obs)  # [B, n, F + A], [B, G + Ga]
        extractor = self.policy.mlp_extractor
        if learned:
            with th.no_grad():
                pm_t, g_t = th.as_tensor(pm), th.as_tensor(g)
                present = th.ones(pm_t.shape[:2], dtype=th.bool)
                logits = extractor.actor_logits(pm_t, g_t, present).numpy()
        else:  # the rule's choice, in the advice columns the prior reads: 1 on its action
            serve, (load, evict) = extractor.cb_serve_col, extractor.cb_cols
            logits = np.concatenate([g[:, serve:serve + 1], pm[..., load], pm[..., evict]], axis=1)
        slots = n if obs.shape[-1] == advisor.layout.size else n_models_of(obs.shape[-1])
        if slots == n:
            return logits
        out = np.full((len(logits), n_actions(slots)), ABSENT_LOGIT, dtype=logits.dtype)
        out[:, [pad_action(a, n, slots) for a in range(n_actions(n))]] = logits
        return out

    def predict(self, obs: np.ndarray, state: Any = None, episode_start: np.ndarray | None = None,
                deterministic: bool = True, action_masks: np.ndarray | None = None
                ) -> tuple[np.ndarray, Any]:
        """Actions in the env's own catalog for a (batched or single) observation of any size."""
        obs = np.asarray(obs, dtype=np.float32)
        single = obs.ndim == 1
        batch = obs[None] if single else obs
        logits = self.logits(batch).astype(np.float64)
        if action_masks is not None:
            mask = np.asarray(action_masks, dtype=bool).reshape(logits.shape)
            logits = np.where(mask, logits, -np.inf)
        if deterministic:
            actions = logits.argmax(axis=1)
        else:
            p = np.exp(logits - logits.max(axis=1, keepdims=True))
            p /= p.sum(axis=1, keepdims=True)
            u = np.random.default_rng().random((len(p), 1))
            actions = np.minimum((p.cumsum(axis=1) < u).sum(axis=1), p.shape[1] - 1)
        actions = actions.astype(np.int64)
        return (actions[0] if single else actions), state

    def __repr__(self) -> str:
        return f"GeneralistAgent({self.path}, n_max={self.n_max})"
