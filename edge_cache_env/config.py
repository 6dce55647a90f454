"""Frozen, validated configuration of an EdgePFMCache scenario.

One :class:`EnvConfig` flows through workload, simulator, env and agents. Every field carries
its unit in its name; every check names the field and the bad value. Overrides come as
keyword arguments (``gpu_gb=40``, ``aoc={"nu": 0.8}``, ``model_overrides={"*": {"acc_gain": 0}}``)
or from YAML; unknown keys are errors, never silently ignored.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from edge_cache_env.catalog import catalog_defaults
from edge_cache_env.model_spec import ModelSpec
from edge_cache_env.validation import (
    check,
    in_range,
    integer,
    is_number,
    non_negative,
    plain_numbers,
    positive,
)

MB_PER_GB = 1000  # decimal units, as model cards and GPU data sheets use


@dataclass(frozen=True)
class ServerConfig:
    """The edge server: one GPU."""

    gpu_gb: float = 80.0  # A100/H100 80 GB
    load_gbps: float = 4.0  # host/SSD -> GPU with safetensors; ServerlessLLM reaches 20+
    gpu_power_w: float = 400.0  # A100 SXM TDP while serving
    load_power_w: float = 150.0  # GPU + PCIe + NVMe drawn while loading weights

    def __post_init__(self) -> None:
        plain_numbers(self)
        positive("server", self, "gpu_gb", "load_gbps")
        # Below 1 MB the memory shares of the observation lose all precision (and divide by ~0).
        check(self.gpu_gb >= 1e-3, "server", "gpu_gb", self.gpu_gb, ">= 0.001 (1 MB)")
        non_negative("server", self, "gpu_power_w", "load_power_w")


@dataclass(frozen=True)
class CloudConfig:
    """The cloud that serves every request whose model is not cached at the edge."""

    rtt_s: float = 0.15  # edge <-> cloud region round trip, plus request admission
    uplink_mbps: float = 20.0
    downlink_mbps: float = 100.0
    bytes_per_token: float = 4.0  # UTF-8 text of one token, on average
    speedup: float = 2.0  # cloud GPUs (H100 class, batched) vs the edge A100
    queue_s: float = 0.5  # shared-endpoint queueing before inference starts
    accuracy: float | None = None  # None: each model's zero-shot acc0 (no edge context)

    def __post_init__(self) -> None:
        plain_numbers(self)
        positive("cloud", self, "uplink_mbps", "downlink_mbps", "speedup")
        non_negative("cloud", self, "rtt_s", "bytes_per_token", "queue_s")
        if self.accuracy is not None:
            in_range("cloud", "accuracy", self.accuracy, 0, 1)


@dataclass(frozen=True)
class CostWeights:
    """Weights of the five cost families; each multiplies a term in its own unit.

    Calibrated (README "Calibration", ``benchmarks/calibration.py``) so that on the default
    scenario under LC every other term is about 6-9% of the total (cloud 5.8%) and accuracy ~70% (the
    paper's focus), and an episode costs ~2,500 units (return ~ -250 at ``reward_scale`` 10).
    One unit is about what a user loses waiting 20 s.
    """

    # 0.05 per second of latency: the unit of the scale (20 s of waiting = 1 unit).
    latency_per_s: float = 0.05
    # 0.2 per kJ of edge GPU energy: at the 8000 units/$ below, electricity at ~$0.09/kWh
    # ($2.5e-5/kJ); ~7% of LC's total.
    energy_per_kj: float = 0.2
    # 10 per unit of (1 - accuracy): a wrong answer costs as much as 200 s of waiting (a retry,
    # a human check). The largest term, as in the paper, and where context pays.
    accuracy_per_miss: float = 10.0
    # 8000 per USD (one unit = $0.000125): API list prices are tiny per request ($0.0002 for an
    # 8B LLM answer, $0.002-0.003 per image or audio clip); at this weight the cloud term is
    # ~6% of LC's total and cloud-only costs ~3.4x LC.
    cloud_per_usd: float = 8000.0
    # 0.05 per GB loaded (host I/O contention, SSD wear), plus load energy: a 16 GB model costs
    # ~0.8 units plus its cold-start wait; switching is ~9% of LC's total.
    switch_per_gb: float = 0.05

    def __post_init__(self) -> None:
        plain_numbers(self)
        non_negative("costs", self, "latency_per_s", "energy_per_kj", "accuracy_per_miss",
                      "cloud_per_usd", "switch_per_gb")


@dataclass(frozen=True)
class AoCConfig:
    """Age of Context: decay, cross-task relevance, tasks."""

    # 0.995 per 10 s slot: an example's weight halves in ~23 min, about the time a client's
    # session or task keeps its format; with W = 64 a model needs minutes of traffic to build
    # its context, so evicting it has a lasting price (calibrated: LC vs LRU).
    nu: float = 0.995  # freshness factor per slot
    # 0.5: a model's tasks come from the same site's clients (shared domain and format), so
    # another task's example is worth half of one of the same task.
    rho: float = 0.5  # relevance of another task's examples
    tasks_per_model: int = 4
    task_mix_ewma: float = 0.1  # weight of the newest slot in each model's task mix

    def __post_init__(self) -> None:
        plain_numbers(self)
        in_range("aoc", "nu", self.nu, 0, 1, lo_open=True)
        in_range("aoc", "rho", self.rho, 0, 1)
        integer("aoc", "tasks_per_model", self.tasks_per_model, 1)
        in_range("aoc", "task_mix_ewma", self.task_mix_ewma, 0, 1, lo_open=True)


# WorkloadConfig's fields that only the synthetic generator reads, and those of them a trace
# reader reads as well (ServeGen's file has rates and no tokens: its rate scale and the clip of
# its token draws); the other readers take them from their file, so setting one there would be
# silently ignored. (The token sizes' medians and sigmas are not among them: every source's
# agents price a typical request with them, RequestCosts.)
GENERATOR_FIELDS = ("requests_per_slot", "zipf_models", "zipf_tasks", "shift_every_slots",
                    "shift_fraction", "max_tokens")
TRACE_READS: dict[str, tuple[str, ...]] = {"servegen": ("requests_per_slot", "max_tokens")}


@dataclass(frozen=True)
class WorkloadConfig:
    """Where requests come from: the synthetic generator or a trace."""

    source: str = "synthetic"  # "synthetic", "servegen", "mooncake", "azure" or "csv"
    # 2 per 10 s slot (720 requests/hour): a small edge site (a campus, a factory). Per-model
    # rates are then mostly below one per slot, so cached models are often idle when a load
    # needs room and the choice of victim matters (at 30/slot almost every cached model is
    # requested every slot and all reactive policies coincide).
    requests_per_slot: float = 2.0  # mean arrivals per slot
    # 1.2: the skew measured for model/API popularity in serving traces (AlpaServe, ServeGen
    # report a few hot models and a long tail).
    zipf_models: float = 1.2  # Zipf exponent of model popularity
    zipf_tasks: float = 1.0  # Zipf exponent of tasks within a model
    shift_every_slots: int = 60  # popularity drift period (10 min)
    shift_fraction: float = 0.3  # share of the ranking reshuffled at each drift
    input_tokens_median: float = 400.0  # log-normal prompt length
    input_tokens_sigma: float = 1.0
    output_tokens_median: float = 150.0  # log-normal answer length
    output_tokens_sigma: float = 0.8
    max_tokens: int = 16384
    trace_path: str | None = None  # trace file or folder (traces only)
    split: str = "train"  # "train" or "test" episodes of a trace
    trace_s_per_slot: float | None = None  # trace seconds per slot (None: slot_s)
    trace_options: Mapping[str, Any] = field(default_factory=dict)  # reader-specific settings

    def __post_init__(self) -> None:
        plain_numbers(self)
        sources = ("synthetic", "servegen", "mooncake", "azure", "csv")
        check(self.source in sources, "workload", "source", self.source, f"one of {sources}")
        positive("workload", self, "requests_per_slot", "input_tokens_median",
                  "output_tokens_median")
        non_negative("workload", self, "zipf_models", "zipf_tasks", "input_tokens_sigma",
                      "output_tokens_sigma")
        integer("workload", "shift_every_slots", self.shift_every_slots, 1)
        in_range("workload", "shift_fraction", self.shift_fraction, 0, 1)
        integer("workload", "max_tokens", self.max_tokens, 1)
        check(self.split in ("train", "test"), "workload", "split", self.split, "'train' or 'test'")
        check(self.trace_path is None or isinstance(self.trace_path, (str, os.PathLike)), "workload",
              "trace_path", self.trace_path, "a file or folder path (str)")
        if self.trace_s_per_slot is not None:
            positive("workload", self, "trace_s_per_slot")
        check(isinstance(self.trace_options, Mapping), "workload", "trace_options",
               self.trace_options, "a mapping")
        if self.source == "synthetic":  # options the synthetic generator would silently ignore
            for name in ("trace_path", "trace_options", "trace_s_per_slot"):
                value = getattr(self, name)
                check(value in (None, {}), "workload", name, value,
                      f"unset with source='synthetic' (it only applies to a trace source; set "
                      f"source to one of {sources[1:]})")
        else:  # the generator's fields a trace reader takes from its file instead
            reads = TRACE_READS.get(self.source, ())
            for name in GENERATOR_FIELDS:
                value, default = getattr(self, name), getattr(WorkloadConfig, name)
                readers = ["synthetic", *(src for src, r in TRACE_READS.items() if name in r)]
                check(name in reads or value == default, "workload", name, value,
                      f"left at its default ({default!r}) with source={self.source!r}: the trace "
                      f"gives it, so it would have no effect (it applies to source {readers})")
        # A frozen dataclass must stay hashable-free but picklable; keep a plain dict copy.
        object.__setattr__(self, "trace_options", dict(self.trace_options))


@dataclass(frozen=True)
class CapacityConfig:
    """The inference half: a GPU of finite throughput, batching, queueing and offloading.

    Off by default (``EdgePFMCache-v0``: every cached request is served at once with its
    stand-alone service time). The ``-v2`` ids turn it on (``-v1``: deprecated, with
    ``legacy_v1_charge``); formulas in
    :mod:`edge_cache_env.capacity` and docs/model.md section "Capacity". Batching curves:
    ``speedup(b) = min(max(b, 1), batch_max) ** batch_alpha`` for a model whose stand-alone
    work keeps ``b`` requests in flight on average (Little's law: b = stand-alone GPU-s / slot_s).
    """

    enabled: bool = False
    # GPU-seconds of compute per second of slot: 1.0 is the one A100 the catalog's service times
    # were measured on; inf = unlimited throughput (no queue, no capacity offloading).
    gpu_throughput: float = 1.0
    # LLM decode is memory-bound: a batch of b sequences reads the weights once per step, so
    # throughput grows almost linearly with b until compute-bound. vLLM (Kwon et al. SOSP'23,
    # Fig. 12: 8-24x the throughput of one-at-a-time HF serving on Llama-13B/A100) and Orca
    # (Yu et al. OSDI'22: iteration-level batching, ~b^0.9 up to batch 32-64 on GPT-3 13B)
    # and Vidur's A100 profiles (Agrawal et al. MLSys'24: decode step time nearly flat to ~64).
    llm_batch_max: float = 64.0
    llm_batch_alpha: float = 0.9
    # Diffusion models are compute-bound (UNet/DiT at 1024^2 saturates an A100 at batch 1-4):
    # diffusers/TensorRT benchmarks of SDXL report ~1.3-1.6x images/s at batch 4 vs 1.
    image_batch_max: float = 4.0
    image_batch_alpha: float = 0.3
    # Whisper: the encoder is compute-bound, decoding memory-bound; batched inference
    # (faster-whisper / WhisperX batched pipelines) reports ~4-6x throughput at batch 16.
    speech_batch_max: float = 16.0
    speech_batch_alpha: float = 0.6
    # A request is offloaded to the cloud when its expected wait exceeds this factor times the
    # cloud's end-to-end latency for it (the mean over the model's requests of the episode);
    # the wait is also capped at one slot (so a queue is always drained in the next slot).
    offload_wait_factor: float = 1.0
    # True only on the deprecated -v1 ids: requests of a carried queue served at the edge were
    # also charged the cloud's latency, price and accuracy (an error, fixed in -v2; kept so v1
    # figures reproduce; docs/model.md section 14.3).
    legacy_v1_charge: bool = False

    def __post_init__(self) -> None:
        plain_numbers(self)
        for name in ("enabled", "legacy_v1_charge"):
            check(isinstance(getattr(self, name), bool), "capacity", name, getattr(self, name),
                  "a bool")
        # inf is allowed here (unlimited); NaN fails every comparison.
        check(is_number(self.gpu_throughput) and self.gpu_throughput > 0, "capacity",
              "gpu_throughput", self.gpu_throughput, "a number > 0 (inf: unlimited)")
        for kind in ("llm", "image", "speech"):
            bmax = getattr(self, f"{kind}_batch_max")
            check(is_number(bmax) and bmax >= 1, "capacity", f"{kind}_batch_max", bmax,
                  "a number >= 1 (inf: no limit)")
            in_range("capacity", f"{kind}_batch_alpha", getattr(self, f"{kind}_batch_alpha"), 0, 1)
        non_negative("capacity", self, "offload_wait_factor")
        if not self.enabled:  # the v0 dynamics read none of them: a change would do nothing
            for f in fields(self):
                value = getattr(self, f.name)
                check(f.name == "enabled" or value == f.default, "capacity", f.name, value,
                      f"left at its default ({f.default!r}) while capacity.enabled is False: it "
                      f"would have no effect; set enabled=True (or use a -v2 id)")


@dataclass(frozen=True)
class EnvConfig:
    """A whole scenario. Build with :func:`make_config`; access sections by name."""

    models: tuple[ModelSpec, ...]
    server: ServerConfig = field(default_factory=ServerConfig)
    cloud: CloudConfig = field(default_factory=CloudConfig)
    costs: CostWeights = field(default_factory=CostWeights)
    aoc: AoCConfig = field(default_factory=AoCConfig)
    workload: WorkloadConfig = field(default_factory=WorkloadConfig)
    capacity: CapacityConfig = field(default_factory=CapacityConfig)
    n_slots: int = 360  # one hour of 10 s slots
    slot_s: float = 10.0
    max_ops_per_slot: int | None = None  # None: N, the number of models
    reward_scale: float = 10.0  # reward = -cost / reward_scale
    invalid_action_penalty: float = 1.0  # cost charged for a masked-out action
    frequency_ewma: float = 0.1  # weight of the newest slot in each model's request-rate EWMA

    def __post_init__(self) -> None:
        plain_numbers(self)
        check(isinstance(self.models, tuple) and len(self.models) > 0, "config", "models",
               self.models, "a non-empty catalog of ModelSpec")
        for m in self.models:
            check(isinstance(m, ModelSpec), "config", "models", m, "ModelSpec entries")
        names = [m.name for m in self.models]
        dup = sorted({n for n in names if names.count(n) > 1})
        check(not dup, "config", "models", dup, "uniquely named (duplicates found)")
        for m in self.models:
            check(m.mem_gb <= self.server.gpu_gb, f"models[{m.name!r}]", "mem_gb", m.mem_gb,
                   f"<= server.gpu_gb = {self.server.gpu_gb} (the model could never be cached)")
        integer("config", "n_slots", self.n_slots, 1)
        positive("config", self, "slot_s", "reward_scale")
        non_negative("config", self, "invalid_action_penalty")
        in_range("config", "frequency_ewma", self.frequency_ewma, 0, 1, lo_open=True)
        if self.max_ops_per_slot is not None:
            integer("config", "max_ops_per_slot", self.max_ops_per_slot, 1)

    @property
    def n_models(self) -> int:
        return len(self.models)

    @property
    def ops_per_slot(self) -> int:
        """The resolved operation limit per slot."""
        return self.max_ops_per_slot if self.max_ops_per_slot is not None else self.n_models

    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON/YAML-serialisable form (round-trips through :func:`config_from_dict`)."""
        return dataclasses.asdict(self)


SECTIONS: dict[str, type] = {
    "server": ServerConfig,
    "cloud": CloudConfig,
    "costs": CostWeights,
    "aoc": AoCConfig,
    "workload": WorkloadConfig,
    "capacity": CapacityConfig,
}
TOP_LEVEL = tuple(f.name for f in fields(EnvConfig) if f.name not in SECTIONS and f.name != "models")


def _field_names(cls: type) -> set[str]:
    return {f.name for f in fields(cls)}


def _flat_owner(key: str) -> str | None:
    """Section that owns a flat key such as ``gpu_gb`` (field names are unique across sections)."""
    owners = [s for s, cls in SECTIONS.items() if key in _field_names(cls)]
    return owners[0] if len(owners) == 1 else None


def _build(cls: type, values: Mapping[str, Any], where: str) -> Any:
    if not isinstance(values, Mapping):
        raise TypeError(f"{where} must be a mapping of field -> value, got {type(values).__name__}")
    unknown = sorted(set(values) - _field_names(cls))
    if unknown:
        raise TypeError(f"unknown key(s) {unknown} in {where}; known: {sorted(_field_names(cls))}")
    return cls(**values)


def _model_from(value: Any, i: int) -> ModelSpec:
    if isinstance(value, ModelSpec):
        return value
    return _build(ModelSpec, value, f"models[{i}]")


def make_config(catalog: str | None = "default", **overrides: Any) -> EnvConfig:
    """Build a validated config from a named catalog and overrides.

    Overrides may be top-level fields (``n_slots=120``), whole sections as mappings
    (``aoc={"nu": 0.8}``, merged into the defaults), flat section fields (``gpu_gb=40``,
    ``nu=0.8``), ``models=[...]`` (a list of ModelSpec or mappings) and
    ``model_overrides={"Llama-3.1-8B": {...}, "*": {...}}`` (per-model field changes; ``"*"``
    applies to every model). A catalog may set its own section defaults (the small catalog's
    GPU); overrides apply on top. Unknown keys raise ``TypeError``. A field given both flat and
    in its section's mapping takes the later of the two, in argument order: that is how a
    user's ``capacity={...}`` refines a ``-v2`` id's registered flat fields (gym.make puts the
    registered kwargs first), and how ``evaluate.py --sweep gpu_gb=...`` refines an
    ``--env-kwargs`` section.
    """
    base = catalog_defaults(catalog) if catalog is not None else {}
    merged_sections: dict[str, dict[str, Any]] = {s: dict(base.get(s, {})) for s in SECTIONS}
    top: dict[str, Any] = {k: v for k, v in base.items() if k not in SECTIONS}
    model_overrides: Mapping[str, Mapping[str, Any]] = {}
    for key, value in overrides.items():
        if key in SECTIONS:
            if not isinstance(value, Mapping):
                raise TypeError(f"override {key!r} must be a mapping of field -> value, got {value!r}")
            unknown = sorted(set(value) - _field_names(SECTIONS[key]))
            if unknown:
                raise TypeError(f"unknown key(s) {unknown} in {key}; known: "
                                f"{sorted(_field_names(SECTIONS[key]))}")
            merged_sections[key].update(value)
        elif key == "models":
            if isinstance(value, (str, Mapping)) or not isinstance(value, (list, tuple)):
                raise TypeError(f"config.models = {value!r} is invalid: must be a list of ModelSpec "
                                f"or mappings (or pass catalog='default'/'small')")
            top["models"] = list(value)
        elif key == "model_overrides":
            model_overrides = value
        elif key in TOP_LEVEL:
            top[key] = value
        elif (owner := _flat_owner(key)) is not None:
            merged_sections[owner][key] = value
        else:
            known = sorted([*TOP_LEVEL, *SECTIONS, "models", "model_overrides"])
            raise TypeError(f"unknown config key {key!r}; known top-level keys: {known} "
                            f"(section fields such as 'gpu_gb' or 'nu' are accepted flat too)")
    if "models" not in top:
        raise ValueError("config.models is empty: pass catalog='default'/'small' or models=[...]")
    models = [_model_from(v, i) for i, v in enumerate(top.pop("models"))]
    models = _apply_model_overrides(models, model_overrides)
    sections = {s: _build(cls, merged_sections[s], s) for s, cls in SECTIONS.items()}
    return EnvConfig(models=tuple(models), **sections, **top)


def _apply_model_overrides(models: list[ModelSpec],
                           model_overrides: Mapping[str, Mapping[str, Any]]) -> list[ModelSpec]:
    if not isinstance(model_overrides, Mapping):
        raise TypeError(f"model_overrides must map a model name (or '*') to fields, got {model_overrides!r}")
    names = [m.name for m in models]
    for name, changes in model_overrides.items():
        if not isinstance(changes, Mapping):
            raise TypeError(f"model_overrides[{name!r}] = {changes!r} is invalid: must be a mapping "
                            f"of ModelSpec fields")
        if name != "*" and name not in names:
            raise ValueError(f"model_overrides: unknown model {name!r}; catalog models: {names}")
        unknown = sorted(set(changes) - _field_names(ModelSpec))
        if unknown:
            raise TypeError(f"unknown key(s) {unknown} in model_overrides[{name!r}]; known: "
                            f"{sorted(_field_names(ModelSpec))}")
    out = []
    for m in models:
        changes = {**model_overrides.get("*", {}), **model_overrides.get(m.name, {})}
        out.append(replace(m, **changes) if changes else m)
    return out


def config_from_dict(data: Mapping[str, Any]) -> EnvConfig:
    """Inverse of :meth:`EnvConfig.to_dict` (no catalog defaults: the dict is complete)."""
    data = dict(data)
    return make_config(catalog=None, **data)


def resolve_config(catalog: str | None, config: EnvConfig | Mapping[str, Any] | None,
                   overrides: Mapping[str, Any]) -> EnvConfig:
    """An env's config from its arguments: ``config`` (an :class:`EnvConfig` or its
    :meth:`~EnvConfig.to_dict` form) as it is, else ``catalog`` with ``overrides``.

    A registered id's kwargs reach the env as overrides (v2's capacity fields, a trace's
    ``source``), so ``gym.make(id, config=...)`` brings both: they are accepted when every
    override agrees with ``config`` (the config of an env made from that id agrees, unless it
    refined one of those kwargs), and are an error naming each disagreeing field otherwise,
    never silently applied or dropped. ``catalog`` is not compared: a config brings its models."""
    if config is None:
        return make_config(catalog, **overrides)
    if isinstance(config, Mapping):  # the plain form a spec's JSON stores
        config = config_from_dict(config)
    elif not isinstance(config, EnvConfig):
        raise TypeError(f"config = {config!r} is invalid: must be an EnvConfig (build one with "
                        f"make_config(...)) or its to_dict() form, or pass overrides as keyword "
                        f"arguments")
    if not overrides:
        return config
    # The overrides applied to the config by make_config's own rules (a section mapping merges
    # into the config's section; flat fields, after the sections, win).
    wanted = config.to_dict()
    data = {**wanted, **{k: {**wanted[k], **v} if k in SECTIONS and isinstance(v, Mapping) else v
                         for k, v in overrides.items()}}
    merged = make_config(catalog=None, **data).to_dict()
    differ = [f"{where}: config has {have!r}, the overrides {want!r}"
              for where, have, want in _differences(wanted, merged)]
    if differ:
        raise ValueError(f"config= and the keyword overrides {sorted(overrides)} disagree ("
                         f"{'; '.join(differ)}). A registered id passes its own kwargs as "
                         f"overrides (gym.spec(id).kwargs): give a config that agrees with them, "
                         f"or use an id without them (e.g. EdgePFMCache-v0)")
    return config


def _differences(a: Any, b: Any, where: str = "config") -> list[tuple[str, Any, Any]]:
    """Leaves where two ``to_dict()`` forms differ: (dotted path, value in a, value in b)."""
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return [d for k in a for d in _differences(a[k], b.get(k), f"{where}.{k}")]
    if isinstance(a, list | tuple) and isinstance(b, list | tuple) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in _differences(x, y, f"{where}[{i}]")]
    return [] if a == b else [(where, a, b)]


def load_config_yaml(path: str | Path, catalog: str | None = "default") -> EnvConfig:
    """Read overrides from a YAML file (same keys as :func:`make_config`)."""
    import yaml  # optional: only needed for YAML configs

    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"config file not found: {p}")
    data = yaml.safe_load(p.read_text()) or {}
    if not isinstance(data, Mapping):
        raise TypeError(f"{p}: top level must be a mapping of config keys, got {type(data).__name__}")
    if "catalog" in data:
        data = dict(data)
        catalog = data.pop("catalog")
    return make_config(catalog=catalog, **data)
