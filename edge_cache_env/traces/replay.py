"""What every trace reader shares: the per-process file cache, CSV parsing with line-numbered
errors, the train/test split by time, task ranking, the seeded Zipf model mapping, and the
replay of a time window of timestamped requests as one episode.
"""

from __future__ import annotations

import csv
import math
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from edge_cache_env.config import EnvConfig
from edge_cache_env.requests import EpisodeRequests
from edge_cache_env.validation import check, integer, number

TRAIN_FRACTION = 0.7  # train episodes lie in the first 70% of a trace's time span, test in the rest

T = TypeVar("T")


class TraceFormatError(ValueError):
    """A trace file (or its options) cannot be read; the message names the file and line."""


def line_error(path: Path | str, line: int, message: str) -> TraceFormatError:
    return TraceFormatError(f"{path}, line {line}: {message}")


# ------------------------------------------------------------------ per-process file cache
_CACHE: dict[tuple[str, str], tuple[tuple[int, int], Any]] = {}


def load_cached(kind: str, path: Path, parse: Callable[[Path], T]) -> T:
    """``parse(path)``, computed once per process per (file, mtime, size): envs and resets share it."""
    st = path.stat()
    key, stamp = (kind, str(path.resolve())), (st.st_mtime_ns, st.st_size)
    hit = _CACHE.get(key)
    if hit is None or hit[0] != stamp:
        _CACHE[key] = (stamp, parse(path))
    return _CACHE[key][1]


def clear_cache() -> None:
    """Forget every parsed trace (the next env re-reads its file)."""
    _CACHE.clear()


# ------------------------------------------------------------------ CSV parsing
@dataclass(frozen=True)
class CsvTable:
    """A CSV's header and its data columns as lists of strings (row i is file line i + 2)."""

    path: Path
    header: tuple[str, ...]
    columns: dict[str, list[str]]

    def __len__(self) -> int:
        return len(self.columns[self.header[0]])

    def column(self, name: str, dtype: type) -> np.ndarray:
        """Column ``name`` converted to ``dtype``; a bad cell raises with its line number."""
        col = self.columns[name]
        try:
            return np.array(col).astype(dtype)
        except (ValueError, OverflowError):
            for i, v in enumerate(col):  # a list of str
                try:
                    np.array([v]).astype(dtype)
                except (ValueError, OverflowError):
                    raise line_error(self.path, i + 2, f"column {name!r}: {v!r} is not a valid "
                                     f"{np.dtype(dtype).name} value") from None
            raise

    def text(self, name: str) -> np.ndarray:
        return np.char.strip(np.array(self.columns[name]))


def read_csv_table(path: Path, text: str, required: Sequence[str], exact: bool = False) -> CsvTable:
    """Split ``text`` (a CSV with a header) into columns: vectorised, or with the csv module
    when it holds quoted fields (a quoted field must end on its line).

    A line with the wrong number of fields raises with its line number.
    """
    head, _, body = text.removeprefix("\ufeff").replace("\r", "").partition("\n")  # BOM: Excel
    if not head.strip():
        raise line_error(path, 1, f"missing header (expected columns {', '.join(required)})")
    quoted = '"' in text
    header = tuple(h.strip() for h in (_quoted_rows(path, head, 1)[0] if quoted else head.split(",")))
    twice = sorted({h for h in header if header.count(h) > 1})
    if twice:
        raise line_error(path, 1, f"header {list(header)} has column(s) {twice} more than once")
    missing = [c for c in required if c not in header]
    if missing:
        raise line_error(path, 1, f"header {list(header)} lacks column(s) {missing}")
    if exact and sorted(header) != sorted(required):
        extra = sorted(set(header) - set(required))
        raise line_error(path, 1, f"unknown column(s) {extra}; the columns are {list(required)}")
    body = body.rstrip("\n")  # trailing blank lines are harmless
    if not body.strip():
        raise TraceFormatError(f"{path}: no requests (only a header)")
    n = len(header)
    if quoted:
        rows = _quoted_rows(path, body, 2)
        fields = np.array([len(r) for r in rows])
    else:  # fields per line from the positions of commas and newlines (fast on large files)
        raw = np.frombuffer(body.encode(), dtype=np.uint8)
        ends = np.concatenate([[0], np.flatnonzero(raw == 10), [len(raw)]])
        fields = np.diff(np.searchsorted(np.flatnonzero(raw == 44), ends)) + 1
    bad = np.flatnonzero(fields != n)
    if bad.size:
        i = int(bad[0])
        line = body.split("\n")[i]
        raise line_error(path, i + 2, f"{fields[i]} fields, expected {n} "
                         f"({','.join(header)}): {line!r}")
    if quoted:
        return CsvTable(path=path, header=header,
                        columns={h: [r[j] for r in rows] for j, h in enumerate(header)})
    flat = body.replace("\n", ",").split(",")
    return CsvTable(path=path, header=header, columns={h: flat[j::n] for j, h in enumerate(header)})


def _quoted_rows(path: Path, text: str, first_line: int) -> list[list[str]]:
    """The fields of each line of ``text`` (csv quoting; the first is file line ``first_line``)."""
    rows: list[list[str]] = []
    try:
        rows.extend(csv.reader(text.split("\n"), strict=True))
    except csv.Error as e:  # strict: a quote left open at the end of its line, too
        raise line_error(path, first_line + len(rows), f"bad CSV quoting ({e})") from None
    return rows


# ------------------------------------------------------------------ values
MAX_TOKENS = 10**9  # per request: 100x the longest context windows (~10**7 tokens)


def _floats(values: Sequence[float] | np.ndarray) -> np.ndarray:
    try:
        return np.asarray(values, dtype=np.float64)
    except OverflowError:  # a Python int beyond the float range (JSON allows any digits)
        return np.array([v if abs(v) < 1e308 else math.inf if v > 0 else -math.inf for v in values])


def _show(value: Any) -> str:
    return repr(value.item() if isinstance(value, np.generic) else value)


def check_finite(path: Path, values: Sequence[float] | np.ndarray, name: str,
                 lines: np.ndarray) -> np.ndarray:
    """``values`` as float64, each finite (not nan or inf); else names the first bad one's line."""
    x = _floats(values)
    bad = np.flatnonzero(~np.isfinite(x))
    if bad.size:
        i = int(bad[0])
        raise line_error(path, int(lines[i]), f"{name} {_show(values[i])} is not a finite number")
    return x


def token_counts(path: Path, values: Sequence[float] | np.ndarray, name: str,
                 lines: np.ndarray) -> np.ndarray:
    """``values`` as int64 token counts, each an integer in ``0 .. MAX_TOKENS``; else names the
    first bad one's line (a nan, a fraction, a negative or an absurd count)."""
    x = _floats(values)
    bad = np.flatnonzero(~((x >= 0) & (x <= MAX_TOKENS) & (x == np.floor(x))))  # nan: all False
    if bad.size:
        i = int(bad[0])
        raise line_error(path, int(lines[i]), f"{name} {_show(values[i])} is not a token count "
                         f"(an integer in 0..{MAX_TOKENS:,})")
    return x.astype(np.int64)


# ------------------------------------------------------------------ options
def check_options(options: Mapping[str, Any], known: Iterable[str], source: str) -> None:
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise TypeError(f"unknown trace_options key(s) {unknown} for source={source!r}; "
                        f"known: {sorted(known)}")


def model_indices(config: EnvConfig, names: Sequence[str] | None, kinds: Sequence[str],
                  where: str) -> np.ndarray:
    """Catalog indices of ``names`` (default: every model of one of ``kinds``), validated."""
    catalog = [m.name for m in config.models]
    if names is None:
        idx = [i for i, m in enumerate(config.models) if m.kind in kinds]
        if not idx:
            raise ValueError(f"{where}: the catalog has no model of kind {list(kinds)}; "
                             f"name the models in trace_options['models']")
        return np.array(idx, dtype=np.int64)
    if isinstance(names, str) or not names:
        raise TypeError(f"{where}: trace_options['models'] must be a non-empty list of catalog "
                        f"model names, got {names!r}")
    check(all(isinstance(n, str) for n in names) and len(set(names)) == len(names),
          "trace_options", "models", names, "a list of distinct catalog model names")
    unknown = [n for n in names if n not in catalog]
    if unknown:
        raise ValueError(f"{where}: unknown model(s) {unknown} in trace_options['models']; "
                         f"catalog models: {catalog}")
    return np.array([catalog.index(n) for n in names], dtype=np.int64)


def mapping_options(options: Mapping[str, Any]) -> tuple[float, int]:
    """``zipf`` (default 1.0, a finite number >= 0) and ``mapping_seed`` (default 0, an integer
    >= 0) of ``trace_options``, checked."""
    zipf, seed = options.get("zipf", 1.0), options.get("mapping_seed", 0)
    number("trace_options", "zipf", zipf)
    check(zipf >= 0, "trace_options", "zipf", zipf, ">= 0")
    integer("trace_options", "mapping_seed", seed, 0)
    return float(zipf), int(seed)


def zipf_mapping(n_items: int, models: np.ndarray, exponent: float, seed: int) -> np.ndarray:
    """Assign each of ``n_items`` to a model: Zipf(``exponent``) popularity over a seeded
    permutation of ``models`` (AlpaServe's way of spreading one trace over many models);
    ``exponent`` and ``seed`` as :func:`mapping_options` returns them."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(models)
    w = 1.0 / np.arange(1, len(order) + 1, dtype=np.float64) ** exponent
    return order[rng.choice(len(order), size=n_items, p=w / w.sum())]


def rank_tasks(model: np.ndarray, group: np.ndarray, n_tasks: int) -> np.ndarray:
    """Task ids from measured groups (clients, prompt-prefix groups, services).

    Within each model, the ``n_tasks - 1`` groups with the most requests in this episode get
    tasks ``0 .. n_tasks - 2`` (busiest first; ties: smaller group id); every other group
    shares the last task, "other". Requests of one group thus always share a task.
    """
    if len(model) == 0:
        return np.zeros(0, dtype=np.int64)
    span = int(group.max()) + 1
    uniq, inv, cnt = np.unique(model * span + group, return_inverse=True, return_counts=True)
    um = uniq // span
    order = np.lexsort((uniq, -cnt, um))
    sorted_models = um[order]
    first = np.searchsorted(sorted_models, sorted_models, side="left")
    rank = np.empty(len(uniq), dtype=np.int64)
    rank[order] = np.arange(len(uniq)) - first
    return np.minimum(rank, n_tasks - 1)[inv.ravel()]


# ------------------------------------------------------------------ time split
def slot_seconds(config: EnvConfig) -> float:
    """Trace seconds per slot (``trace_s_per_slot``, default ``slot_s``)."""
    s = config.workload.trace_s_per_slot
    return float(s) if s is not None else float(config.slot_s)


def start_range(t_begin: float, t_end: float, boundary: float, split: str, episode_s: float,
                where: str) -> tuple[float, float]:
    """Range of episode starts such that the whole episode lies inside its split.

    Train episodes lie in ``[t_begin, boundary)``, test episodes in ``[boundary, t_end)``, so
    no test episode ever overlaps a train episode's window.
    """
    lo, hi = (t_begin, boundary) if split == "train" else (boundary, t_end)
    if hi - lo < episode_s:
        raise ValueError(
            f"{where}: an episode of {episode_s:g} trace seconds (n_slots x trace_s_per_slot) "
            f"does not fit in the {split} split [{lo:g}, {hi:g}) s ({hi - lo:g} s); lower n_slots "
            f"or trace_s_per_slot")
    return lo, hi - episode_s


def draw_start(np_random: np.random.Generator, lo: float, hi: float) -> float:
    return float(np_random.uniform(lo, hi)) if hi > lo else lo


# ------------------------------------------------------------------ timestamped replay
@dataclass(frozen=True)
class RequestTable:
    """A parsed trace of timestamped requests (sorted by time); ``line`` is each one's file line."""

    path: Path
    t_s: np.ndarray
    group: np.ndarray  # measured group (prefix group, service) or, for the generic CSV, the task
    input_tokens: np.ndarray
    output_tokens: np.ndarray
    line: np.ndarray

    @property
    def t_begin(self) -> float:
        return float(self.t_s[0])

    @property
    def t_end(self) -> float:
        return float(np.nextafter(self.t_s[-1], np.inf))  # the last request lies inside the span


class ReplayWorkload:
    """Replays a window of ``n_slots x trace_s_per_slot`` trace seconds as one episode.

    The window's start is drawn from the env's ``np_random`` inside the configured split; a
    request at trace time ``t`` falls into slot ``floor((t - start) / trace_s_per_slot)``.
    """

    def __init__(self, config: EnvConfig, table: RequestTable, model: np.ndarray, where: str,
                 task: np.ndarray | None = None, boundary: float | None = None) -> None:
        self.config = config
        self.table = table
        self.model = model
        self.task = task  # given tasks (generic CSV); None: ranked from table.group per episode
        self.s_per_slot = slot_seconds(config)
        self.episode_s = config.n_slots * self.s_per_slot
        if boundary is None:
            boundary = table.t_begin + TRAIN_FRACTION * (table.t_end - table.t_begin)
        self.boundary = boundary
        self.start_lo, self.start_hi = start_range(table.t_begin, table.t_end, boundary,
                                                   config.workload.split, self.episode_s, where)
        warn_suspicious(table, self.start_lo, self.start_hi, self.episode_s, config.workload.split, where)

    def draw_start(self, np_random: np.random.Generator) -> float:
        return draw_start(np_random, self.start_lo, self.start_hi)

    def sample_episode(self, np_random: np.random.Generator) -> EpisodeRequests:
        return self.episode_at(self.draw_start(np_random))

    def episode_at(self, start: float) -> EpisodeRequests:
        """The episode whose first slot begins at trace time ``start`` (seconds)."""
        cfg, tab = self.config, self.table
        lo, hi = np.searchsorted(tab.t_s, [start, start + self.episode_s], side="left")
        slot = np.floor((tab.t_s[lo:hi] - start) / self.s_per_slot).astype(np.int64)
        np.clip(slot, 0, cfg.n_slots - 1, out=slot)  # float rounding at the window's end
        model = self.model[lo:hi]
        if self.task is not None:
            task = self.task[lo:hi]
        else:
            task = rank_tasks(model, tab.group[lo:hi], cfg.aoc.tasks_per_model)
        return EpisodeRequests(slot=slot, model=model, task=task,
                               input_tokens=tab.input_tokens[lo:hi],
                               output_tokens=tab.output_tokens[lo:hi], n_slots=cfg.n_slots,
                               n_models=cfg.n_models, n_tasks=cfg.aoc.tasks_per_model)


# ------------------------------------------------------------------ data checks
MS_EPOCH = 1e11  # seconds since 1970 stay below this until the year 5138; milliseconds do not
MAX_MEDIAN_GAP_S = 60.0  # serving traces have sub-second gaps; a median minute suggests ms


def warn_suspicious(table: RequestTable, lo: float, hi: float, episode_s: float, split: str,
                    where: str, n_probe: int = 64) -> None:
    """Warn (not fail: the data may be right) when the time unit looks wrong or when episode
    windows of the split come out empty."""
    t = table.t_s
    gaps = np.diff(t)
    gaps = gaps[gaps > 0]
    median = float(np.median(gaps)) if gaps.size else 0.0
    if table.t_end > MS_EPOCH or median > MAX_MEDIAN_GAP_S:
        warnings.warn(f"{where}: timestamps look like milliseconds, not seconds (median gap between "
                      f"requests {median:g}, last timestamp {float(t[-1]):g}); divide them by 1000 "
                      f"(t_seconds is in seconds)", stacklevel=3)
    starts = np.linspace(lo, hi, n_probe)
    counts = np.searchsorted(t, starts + episode_s) - np.searchsorted(t, starts)
    empty = int(np.sum(counts == 0))
    if empty >= n_probe // 4:  # a few empty windows happen in any bursty trace
        i = int(np.argmax(np.diff(t))) if len(t) > 1 else 0
        warnings.warn(f"{where}: {empty} of {n_probe} evenly spaced {split} episode windows "
                      f"({episode_s:g} s each) hold no request: their episodes come out empty. The "
                      f"longest gap is {float(t[i + 1] - t[i]) if len(t) > 1 else 0:g} s after line "
                      f"{int(table.line[i])}; shorten trace_s_per_slot x n_slots or cut the gap",
                      stacklevel=3)
