"""The generic CSV trace: bring your own requests.

Format (a header, then one request a line; rows in any order)::

    t_seconds,model,task,input_tokens,output_tokens
    0.52,Llama-3.1-8B,0,412,96

``t_seconds``: arrival time in seconds (any origin); ``model``: a catalog model name;
``task``: an integer in ``0 .. aoc.tasks_per_model - 1``; token counts: integers in
``0 .. 10**9``. A field with a comma is quoted (``"Llama,8B"``, CSV quoting).
:func:`write_csv_trace` writes this format (``examples/trace_example.csv`` was made with it).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge_cache_env.config import EnvConfig
from edge_cache_env.requests import EpisodeRequests
from edge_cache_env.traces.paths import read_trace_text
from edge_cache_env.traces.replay import (
    ReplayWorkload,
    RequestTable,
    check_finite,
    check_options,
    line_error,
    load_cached,
    read_csv_table,
    token_counts,
)

COLUMNS = ("t_seconds", "model", "task", "input_tokens", "output_tokens")


@dataclass(frozen=True)
class CsvTrace:
    """A parsed generic CSV: the requests (``table.group`` holds the task) and their model names."""

    table: RequestTable
    model_names: np.ndarray  # distinct names in the file
    model_code: np.ndarray  # per request: index into model_names


def parse_csv_trace(path: Path) -> CsvTrace:
    """Read a generic CSV trace, plain or ``.gz`` (vectorised; errors name the file and line)."""
    tab = read_csv_table(path, read_trace_text(path), COLUMNS, exact=True)
    lines = np.arange(2, len(tab) + 2)
    t = check_finite(path, tab.column("t_seconds", np.float64), "t_seconds", lines)
    task = tab.column("task", np.int64)
    inp = token_counts(path, tab.column("input_tokens", np.int64), "input_tokens", lines)
    out = token_counts(path, tab.column("output_tokens", np.int64), "output_tokens", lines)
    bad = np.flatnonzero(task < 0)
    if bad.size:
        raise line_error(path, int(lines[bad[0]]), f"negative task ({task[bad[0]]})")
    names, code = np.unique(tab.text("model"), return_inverse=True)
    order = np.argsort(t, kind="stable")
    table = RequestTable(path=path, t_s=t[order], group=task[order], input_tokens=inp[order],
                         output_tokens=out[order], line=lines[order])
    return CsvTrace(table=table, model_names=names, model_code=code.ravel()[order])


class CsvWorkload(ReplayWorkload):
    """Replays a generic CSV trace: models by catalog name, tasks as given."""

    def __init__(self, config: EnvConfig) -> None:
        check_options(config.workload.trace_options, (), "csv")
        if config.workload.trace_path is None:
            raise ValueError("source='csv' needs trace_path=<file.csv> (columns "
                             f"{', '.join(COLUMNS)}; see examples/trace_example.csv)")
        path = Path(config.workload.trace_path).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"generic CSV trace not found: {path}")
        trace = load_cached("csv", path, parse_csv_trace)
        tab = trace.table
        catalog = [m.name for m in config.models]
        lookup = np.array([catalog.index(n) if n in catalog else -1 for n in trace.model_names])
        model = lookup[trace.model_code]
        bad = np.flatnonzero(model < 0)
        if bad.size:
            i = int(np.argmin(tab.line[bad]))  # report the first such line of the file
            raise line_error(path, int(tab.line[bad[i]]),
                             f"unknown model {str(trace.model_names[trace.model_code[bad[i]]])!r}; "
                             f"catalog models: {catalog}")
        k = config.aoc.tasks_per_model
        bad = np.flatnonzero(tab.group >= k)
        if bad.size:
            i = int(np.argmin(tab.line[bad]))
            raise line_error(path, int(tab.line[bad[i]]),
                             f"task {tab.group[bad[i]]} outside 0..{k - 1} (aoc.tasks_per_model={k})")
        super().__init__(config, tab, model, where=str(path), task=tab.group)


def write_csv_trace(path: str | Path, requests: EpisodeRequests, model_names: list[str],
                    s_per_slot: float, t0: float = 0.0,
                    jitter: np.random.Generator | None = None) -> None:
    """Write an episode's requests as a generic CSV trace.

    A request of slot ``t`` gets ``t_seconds = t0 + (t + u) * s_per_slot`` with ``u = 0.5``
    (mid-slot), or ``u`` uniform in [0.01, 0.99] drawn from ``jitter``: either way a replay
    with the same ``trace_s_per_slot`` from ``t0`` puts it back into slot ``t``.
    """
    if len(model_names) != requests.n_models:
        raise ValueError(f"model_names has {len(model_names)} names, the requests "
                         f"{requests.n_models} models")
    u: float | np.ndarray = 0.5 if jitter is None else 0.01 + 0.98 * jitter.random(requests.n_requests)
    t = t0 + (requests.slot + u) * s_per_slot
    order = np.argsort(t, kind="stable")  # rows in time order (readers accept any order)
    names = np.asarray(model_names)[requests.model]
    cols = (t, names, requests.task, requests.input_tokens, requests.output_tokens)
    with open(path, "w", encoding="utf-8", newline="") as f:
        out = csv.writer(f, lineterminator="\n")  # quotes a name with a comma or a quote
        out.writerow(COLUMNS)
        out.writerows((f"{row[0]:.3f}", *row[1:]) for row in zip(*(c[order] for c in cols)))
