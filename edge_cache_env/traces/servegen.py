"""ServeGen (Alibaba Bailian, 2025): per-client request rates of five production model groups.

The file gives, per model group, client and 10-minute window, the client's mean rate and its
fitted inter-arrival distribution (Gamma or Weibull, shape ``param1``). Replay:

* **Counts.** In each window, a client's number of requests is Poisson with mean
  ``rate_rps x 600 s x scale``. ``scale`` is one constant for the whole trace, chosen so the
  mean over the trace is ``requests_per_slot`` per slot: the trace's shape (which groups and
  clients are busy when, the day/night cycle) is kept, its volume fitted to one edge server.
* **Times.** ``arrivals="pattern"`` (default): ServeGen's way: inter-arrival gaps are drawn
  from the client's fitted distribution (shape ``param1``) and rescaled to span the window, so
  a bursty client (CV >> 1) puts its requests into a few bursts. ``arrivals="poisson"``:
  uniform times in the window (a Poisson process at the window's rate).
* **Models.** Each group maps to one or more catalog models (``model_map``; default
  :data:`DEFAULT_MODEL_MAP`, restricted to the catalog); a group's clients are spread over its
  models by volume (largest client first, each to the least-loaded model), and a client always
  uses the same model. ``group_share``: ``"volume"`` (default: the groups' real mix; m-mid and
  m-small carry ~95% of requests), ``"equal"`` (each group, when active, carries the same mean
  load) or ``{group: weight}`` (mean load share when active).
* **Tasks.** Clients are tasks: within each model and episode the ``K - 1`` busiest clients
  get their own task, the rest share "other".
* **Tokens.** The file has none: log-normal as configured (``input_tokens_median`` ...).
* **Split.** Train episodes lie in the first ``train_days`` (10) days, test in days 10-14.
  ``mm-image`` and ``deepseek-r1`` are only active on day 0, so they appear in train only.

``trace_options``: ``model_map``, ``group_share``, ``arrivals``, ``train_days``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edge_cache_env.config import EnvConfig
from edge_cache_env.requests import EpisodeRequests, lognormal_tokens
from edge_cache_env.traces.paths import TraceFile, read_trace_text, resolve_trace_file
from edge_cache_env.traces.replay import (
    check_options,
    draw_start,
    line_error,
    load_cached,
    rank_tasks,
    read_csv_table,
    slot_seconds,
    start_range,
)
from edge_cache_env.validation import check, is_number, number

FILE = TraceFile("servegen", "servegen_client_rates.csv.gz",
                 "https://github.com/alibaba/ServeGen (data/*/*/chunk-*-trace.csv, one file per "
                 "client; rebuild it with python -m edge_cache_env.traces.derive_servegen)")
COLUMNS = ("model_group", "client", "t_seconds", "rate_rps", "cv", "pattern", "param1", "param2")
GROUPS = ("m-small", "m-mid", "m-large", "mm-image", "deepseek-r1")
PATTERNS = ("Gamma", "Weibull")
WINDOW_S = 600.0
MAX_RATE_RPS = 1e6  # per client and window; ServeGen's busiest sends ~2,900 requests/s
MAX_T_S = 366 * 86400.0  # ServeGen's windows span 14 days; a far later one stretches the trace
OPTIONS = ("model_map", "group_share", "arrivals", "train_days")

# Open models of the default catalog that fit each group: small/mid/large language models by
# size class, the image models for the multimodal group, and the 32B Qwen for DeepSeek-R1 (its
# distilled 32B model is a Qwen2.5-32B).
DEFAULT_MODEL_MAP: dict[str, tuple[str, ...]] = {
    "m-small": ("Phi-3-mini", "Llama-3.1-8B", "Mistral-7B"),
    "m-mid": ("Gemma-2-9B", "Qwen2.5-14B", "Llama-2-13B"),
    "m-large": ("Qwen2.5-32B-AWQ",),
    "mm-image": ("SDXL", "FLUX.1-schnell"),
    "deepseek-r1": ("Qwen2.5-32B-AWQ",),
}


@dataclass(frozen=True)
class ServeGenTrace:
    """Parsed rows (sorted by window start): group, client, window start, rate, pattern, shape."""

    path: Path
    group_names: np.ndarray  # distinct groups in the file
    group: np.ndarray  # per row: index into group_names
    client: np.ndarray
    t_s: np.ndarray
    rate_rps: np.ndarray
    weibull: np.ndarray  # per row: True = Weibull, False = Gamma
    shape: np.ndarray
    line: np.ndarray


def parse_servegen(path: Path) -> ServeGenTrace:
    """Read the per-client rate file (gzip or plain CSV, vectorised; errors name the file and line)."""
    tab = read_csv_table(path, read_trace_text(path), COLUMNS)
    n = len(tab)
    lines = np.arange(2, n + 2)
    client = tab.column("client", np.int64)
    t_s = tab.column("t_seconds", np.float64)
    rate = tab.column("rate_rps", np.float64)
    shape = tab.column("param1", np.float64)
    pattern = tab.text("pattern")
    # A window without traffic, a bad shape, a negative time; an absurd rate or time, which
    # would set the trace-wide scale (one outlier: every other window ~empty, or a huge one).
    for name, ok, rule in (
            ("rate_rps", (rate > 0) & (rate <= MAX_RATE_RPS), f"> 0 and <= {MAX_RATE_RPS:g}"),
            ("param1", shape > 0, "> 0"),
            ("t_seconds", (t_s >= 0) & (t_s <= MAX_T_S), f">= 0 and <= {MAX_T_S:g} (366 days)")):
        bad = np.flatnonzero(~ok)  # nan fails every comparison
        if bad.size:
            i = int(bad[0])
            raise line_error(path, i + 2, f"{name} must be {rule}, got {tab.columns[name][i]!r}")
    bad = np.flatnonzero(~np.isin(pattern, PATTERNS))
    if bad.size:
        raise line_error(path, int(bad[0]) + 2, f"pattern {str(pattern[bad[0]])!r} is not one of "
                         f"{list(PATTERNS)}")
    names, group = np.unique(tab.text("model_group"), return_inverse=True)
    order = np.argsort(t_s, kind="stable")
    return ServeGenTrace(path=path, group_names=names, group=group.ravel()[order],
                         client=client[order], t_s=t_s[order], rate_rps=rate[order],
                         weibull=(pattern == "Weibull")[order], shape=shape[order],
                         line=lines[order])


def _resolve_model_map(config: EnvConfig, given: Any, trace: ServeGenTrace) -> dict[str, list[int]]:
    """Group -> catalog model indices (an empty list drops the group)."""
    catalog = [m.name for m in config.models]
    if given is None:
        out = {g: [catalog.index(n) for n in names if n in catalog]
               for g, names in DEFAULT_MODEL_MAP.items()}
        for g, idx in out.items():
            if not idx:
                raise ValueError(f"servegen: none of the default models {list(DEFAULT_MODEL_MAP[g])} "
                                 f"of group {g!r} is in the catalog; set trace_options['model_map']"
                                 f"[{g!r}] to catalog model name(s) or None")
    else:
        if not isinstance(given, Mapping):
            raise TypeError(f"trace_options['model_map'] must map a model group to a catalog model "
                            f"name, a list of names or None, got {given!r}")
        out = {}
        for g, names in given.items():
            if g not in GROUPS:
                raise ValueError(f"trace_options['model_map']: unknown model group {g!r}; "
                                 f"ServeGen groups: {list(GROUPS)}")
            check(names is None or isinstance(names, str) or (isinstance(names, (list, tuple))
                  and all(isinstance(n, str) for n in names)), "trace_options", f"model_map[{g!r}]",
                  names, "a catalog model name, a list of names or None")
            names = [] if names is None else [names] if isinstance(names, str) else list(names)
            unknown = [n for n in names if n not in catalog]
            if unknown:
                raise ValueError(f"trace_options['model_map'][{g!r}]: unknown model(s) {unknown}; "
                                 f"catalog models: {catalog}")
            out[g] = [catalog.index(n) for n in names]
    for gi, g in enumerate(trace.group_names.tolist()):
        if g not in out:
            i = int(np.argmax(trace.group == gi))
            raise line_error(trace.path, int(trace.line[i]),
                             f"unknown model group {g!r}: not in the model map {sorted(out)} "
                             f"(set trace_options['model_map'][{g!r}], or None to drop it)")
    return out


def _group_multipliers(share: Any, trace: ServeGenTrace) -> np.ndarray:
    """Per group of the file: factor on its rates before the global scaling."""
    names = trace.group_names.tolist()
    if share == "volume":
        return np.ones(len(names))
    if share == "equal":
        weights = dict.fromkeys(names, 1.0)
    elif isinstance(share, Mapping):
        unknown = sorted(set(share) - set(names))
        if unknown:
            raise ValueError(f"trace_options['group_share']: unknown model group(s) {unknown}; "
                             f"groups in the file: {names}")
        for g, w in share.items():
            check(is_number(w) and math.isfinite(w) and w >= 0, "trace_options",
                  f"group_share[{g!r}]", w, "a finite number >= 0")
        weights = {g: float(share.get(g, 0.0)) for g in names}
        if any(w < 0 for w in weights.values()) or not any(w > 0 for w in weights.values()):
            raise ValueError(f"trace_options['group_share'] = {share!r}: weights must be >= 0, "
                             f"one of them > 0")
    else:
        raise ValueError(f"trace_options['group_share'] = {share!r} is invalid: must be 'volume', "
                         f"'equal' or a mapping group -> weight")
    mult = np.zeros(len(names))
    for gi, g in enumerate(names):
        rows = trace.group == gi
        active_mean = trace.rate_rps[rows].sum() / max(len(np.unique(trace.t_s[rows])), 1)
        mult[gi] = weights[g] / active_mean  # mean rate when active becomes the weight
    return mult


def _spread_clients(volume: np.ndarray, models: list[int]) -> np.ndarray:
    """Model of each client: largest client first, each to the least-loaded model so far."""
    load = np.zeros(len(models))
    out = np.empty(len(volume), dtype=np.int64)
    for c in np.lexsort((np.arange(len(volume)), -volume)):
        j = int(np.argmin(load))
        out[c] = models[j]
        load[j] += volume[c]
    return out


class ServeGenWorkload:
    """Samples episodes from ServeGen's per-client rates; see the module docstring."""

    def __init__(self, config: EnvConfig) -> None:
        opts = config.workload.trace_options
        check_options(opts, OPTIONS, "servegen")
        self.arrivals = opts.get("arrivals", "pattern")
        check(self.arrivals in ("pattern", "poisson"), "trace_options", "arrivals", self.arrivals,
              "'pattern' or 'poisson'")
        train_days = opts.get("train_days", 10)
        number("trace_options", "train_days", train_days)
        check(train_days > 0, "trace_options", "train_days", train_days, "> 0")
        path = resolve_trace_file(config.workload.trace_path, FILE, "ServeGen")
        trace = load_cached("servegen", path, parse_servegen)
        self.config, self.trace = config, trace
        model_map = _resolve_model_map(config, opts.get("model_map"), trace)
        mult = _group_multipliers(opts.get("group_share", "volume"), trace)
        # Clients are identified within their group: (group, client) -> one id per client.
        keys, cid = np.unique(np.stack([trace.group, trace.client], axis=1), axis=0,
                              return_inverse=True)
        cid = cid.ravel()
        volume = np.bincount(cid, weights=trace.rate_rps * mult[trace.group])
        client_model = np.full(len(keys), -1, dtype=np.int64)
        key_group = keys[:, 0]
        for gi, g in enumerate(trace.group_names.tolist()):
            members = np.flatnonzero(key_group == gi)
            if model_map[g]:
                client_model[members] = _spread_clients(volume[members], model_map[g])
        keep = client_model[cid] >= 0  # rows of dropped groups go
        if not keep.any():
            raise ValueError("servegen: trace_options['model_map'] drops every model group")
        self.t_s = trace.t_s[keep]
        self.client = cid[keep]
        self.client_model = client_model
        self.weibull = trace.weibull[keep]
        self.shape = trace.shape[keep]
        weighted = trace.rate_rps[keep] * mult[trace.group[keep]]
        t_begin, t_end = float(trace.t_s.min()), float(trace.t_s.max()) + WINDOW_S
        self.s_per_slot = slot_seconds(config)
        # One scale for the whole trace: mean requests per slot = requests_per_slot.
        mean_rps = weighted.sum() * WINDOW_S / (t_end - t_begin)
        scale = config.workload.requests_per_slot / (mean_rps * self.s_per_slot)
        self.expected = weighted * WINDOW_S * scale  # mean requests per row's window
        self.episode_s = config.n_slots * self.s_per_slot
        self.boundary = t_begin + 86400.0 * train_days
        if not t_begin < self.boundary < t_end:
            raise ValueError(f"servegen: trace_options['train_days'] = {train_days} puts the "
                             f"split outside the trace [{t_begin:g}, {t_end:g}) s")
        self.start_lo, self.start_hi = start_range(t_begin, t_end, self.boundary,
                                                   config.workload.split, self.episode_s, str(path))
        lo = np.searchsorted(self.t_s, self.start_lo - WINDOW_S, side="right")
        hi = np.searchsorted(self.t_s, self.start_hi + self.episode_s, side="left")
        if not np.any(self.expected[lo:hi] > 0):  # no window of a kept, weighted group
            raise ValueError(f"{path}: no requests in the {config.workload.split} split: none of "
                             f"its windows is of a model group kept by trace_options.model_map "
                             f"and weighted > 0 by trace_options.group_share")

    def draw_start(self, np_random: np.random.Generator) -> float:
        return draw_start(np_random, self.start_lo, self.start_hi)

    def sample_episode(self, np_random: np.random.Generator) -> EpisodeRequests:
        return self.episode_at(self.draw_start(np_random), np_random)

    def episode_at(self, start: float, np_random: np.random.Generator) -> EpisodeRequests:
        """Requests of the episode starting at trace time ``start``, drawn from ``np_random``."""
        cfg, wl = self.config, self.config.workload
        end = start + self.episode_s
        lo = np.searchsorted(self.t_s, start - WINDOW_S, side="right")  # windows overlapping
        hi = np.searchsorted(self.t_s, end, side="left")
        n = np_random.poisson(self.expected[lo:hi])
        rows = lo + np.flatnonzero(n)
        n = n[n > 0]
        pos = self._positions(rows, n, np_random)
        t = np.repeat(self.t_s[rows], n) + WINDOW_S * pos
        client = np.repeat(self.client[rows], n)
        inside = (t >= start) & (t < end)
        t, client = t[inside], client[inside]
        order = np.argsort(t, kind="stable")
        t, client = t[order], client[order]
        slot = np.clip(np.floor((t - start) / self.s_per_slot).astype(np.int64), 0, cfg.n_slots - 1)
        model = self.client_model[client]
        k = len(t)
        return EpisodeRequests(
            slot=slot, model=model, task=rank_tasks(model, client, cfg.aoc.tasks_per_model),
            input_tokens=lognormal_tokens(np_random, k, wl.input_tokens_median,
                                          wl.input_tokens_sigma, wl.max_tokens),
            output_tokens=lognormal_tokens(np_random, k, wl.output_tokens_median,
                                           wl.output_tokens_sigma, wl.max_tokens),
            n_slots=cfg.n_slots, n_models=cfg.n_models, n_tasks=cfg.aoc.tasks_per_model)

    def _positions(self, rows: np.ndarray, n: np.ndarray, np_random: np.random.Generator
                   ) -> np.ndarray:
        """Arrival positions in [0, 1) of each row's window, ``n[i]`` for row ``rows[i]``."""
        if self.arrivals == "poisson" or len(rows) == 0:
            return np_random.random(int(n.sum()))
        # n + 1 gaps per row; the first n partial sums over the total are the arrival positions.
        # Logs of the gaps avoid overflow for tiny shapes (CV in the hundreds).
        size = n + 1
        shape = np.repeat(self.shape[rows], size)
        weib = np.repeat(self.weibull[rows], size)
        log_gap = np.empty(len(shape))
        g = ~weib
        # Gamma(a) = Gamma(a + 1) * U^(1/a) (Marsaglia-Tsang), stable for a << 1.
        log_gap[g] = (np.log(np_random.gamma(shape[g] + 1.0))
                      + np.log1p(-np_random.random(int(g.sum()))) / shape[g])
        # Weibull(c) = E^(1/c) with E standard exponential.
        log_gap[weib] = np.log(np.maximum(np_random.standard_exponential(int(weib.sum())), 1e-300)
                               ) / shape[weib]
        starts = np.concatenate([[0], np.cumsum(size)[:-1]])
        gap = np.exp(log_gap - np.repeat(np.maximum.reduceat(log_gap, starts), size))
        csum = np.cumsum(gap)
        before = np.repeat(csum[starts] - gap[starts], size)  # cumsum up to each row's start
        within = csum - before
        total = np.repeat(within[starts + size - 1], size)
        last = np.zeros(len(gap), dtype=bool)
        last[starts + size - 1] = True
        return (within / total)[~last]
