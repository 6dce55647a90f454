"""Azure LLM inference trace 2023 (Splitwise): a code service and a conversation service.

Each CSV line has ``TIMESTAMP`` (``YYYY-MM-DD HH:MM:SS.fffffff``), ``ContextTokens`` and
``GeneratedTokens``; timestamps and token counts are replayed as given. By default both files
are merged on their absolute timestamps (the two services ran in the same hour), as one edge
server serving both.

The trace names no model, so each request is assigned a model by a seeded Zipf mapping over
the catalog's LLMs (``zipf``, ``mapping_seed``; the AlpaServe way): fixed for the file, the same
in every episode. Nothing in the trace says which requests are related except their service,
so the service is the only measured group: within each model, code and conversation requests
are two tasks (ranked by volume per episode; see :func:`~edge_cache_env.traces.replay.rank_tasks`).

``trace_options``: ``services`` (subset of ["code", "conv"], when ``trace_path`` is a folder),
``models`` (catalog names; default: all LLMs), ``zipf`` (1.0), ``mapping_seed`` (0).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge_cache_env.config import EnvConfig
from edge_cache_env.traces.paths import TraceFile, read_trace_text, resolve_trace_file
from edge_cache_env.traces.replay import (
    CsvTable,
    ReplayWorkload,
    RequestTable,
    check_options,
    line_error,
    load_cached,
    mapping_options,
    model_indices,
    read_csv_table,
    token_counts,
    zipf_mapping,
)
from edge_cache_env.validation import check

SOURCE = "https://github.com/Azure/AzurePublicDataset (data/AzureLLMInferenceTrace_*.csv)"
FILES = {
    "code": TraceFile("azure-llm-2023", "AzureLLMInferenceTrace_code.csv", SOURCE),
    "conv": TraceFile("azure-llm-2023", "AzureLLMInferenceTrace_conv.csv", SOURCE),
}
COLUMNS = ("TIMESTAMP", "ContextTokens", "GeneratedTokens")
OPTIONS = ("services", "models", "zipf", "mapping_seed")


@dataclass(frozen=True)
class AzureFile:
    """One parsed Azure CSV: absolute times (datetime64[us]) and tokens, in file order."""

    time: np.ndarray
    input_tokens: np.ndarray
    output_tokens: np.ndarray


def _is_time(text: str) -> bool:
    try:
        return not np.isnat(np.datetime64(text, "us"))  # '' and 'NaT' parse as NaT
    except ValueError:
        return False


def _timestamps(tab: CsvTable) -> np.ndarray:
    col = tab.text("TIMESTAMP")
    try:
        time = col.astype("datetime64[us]")
        suspects = np.flatnonzero(np.isnat(time)).tolist()
    except ValueError:
        time, suspects = None, range(len(col))
    for i in suspects:
        if not _is_time(str(col[i])):
            raise line_error(tab.path, i + 2, f"TIMESTAMP {str(col[i])!r} is not 'YYYY-MM-DD "
                             f"HH:MM:SS.fffffff'")
    if time is None:
        raise line_error(tab.path, 2, "the TIMESTAMP column is not 'YYYY-MM-DD HH:MM:SS.fffffff'")
    return time


def parse_azure(path: Path) -> AzureFile:
    """Read one Azure LLM CSV, plain or ``.gz`` (vectorised; errors name the file and line)."""
    tab = read_csv_table(path, read_trace_text(path), COLUMNS)
    time = _timestamps(tab)
    lines = np.arange(2, len(tab) + 2)
    inp = token_counts(path, tab.column("ContextTokens", np.int64), "ContextTokens", lines)
    out = token_counts(path, tab.column("GeneratedTokens", np.int64), "GeneratedTokens", lines)
    return AzureFile(time=time, input_tokens=inp, output_tokens=out)


class AzureWorkload(ReplayWorkload):
    """Replays the Azure LLM trace; see the module docstring for models and tasks."""

    def __init__(self, config: EnvConfig) -> None:
        opts = config.workload.trace_options
        check_options(opts, OPTIONS, "azure")
        zipf, seed = mapping_options(opts)
        services = opts.get("services", ["code", "conv"])
        check(isinstance(services, (list, tuple)) and len(services) > 0
              and all(isinstance(s, str) and s in FILES for s in services)
              and len(set(services)) == len(services), "trace_options", "services", services,
              f"a non-empty list of distinct names from {sorted(FILES)}")
        trace_path = config.workload.trace_path
        if trace_path is not None and Path(trace_path).expanduser().is_file():
            # One file: one service; choosing services would do nothing.
            check("services" not in opts, "trace_options", "services", services,
                  f"left out when workload.trace_path is a file ({trace_path}): it chooses among "
                  f"a folder's files")
            paths = [Path(trace_path).expanduser()]
        else:
            paths = [resolve_trace_file(trace_path, FILES[s], "Azure LLM 2023") for s in services]
        files = [load_cached("azure", p, parse_azure) for p in paths]
        time = np.concatenate([f.time for f in files])
        t0 = time.min()
        t_s = (time - t0).astype(np.float64) / 1e6
        group = np.concatenate([np.full(len(f.time), i, dtype=np.int64) for i, f in enumerate(files)])
        line = np.concatenate([np.arange(2, len(f.time) + 2) for f in files])
        order = np.argsort(t_s, kind="stable")
        table = RequestTable(
            path=paths[0] if len(paths) == 1 else paths[0].parent, t_s=t_s[order],
            group=group[order],
            input_tokens=np.concatenate([f.input_tokens for f in files])[order],
            output_tokens=np.concatenate([f.output_tokens for f in files])[order],
            line=line[order])
        models = model_indices(config, opts.get("models"), ("llm",), "azure")
        model = zipf_mapping(len(t_s), models, zipf, seed)
        super().__init__(config, table, model, where=", ".join(str(p) for p in paths))
