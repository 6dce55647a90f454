"""Trace replay: real request traces as EdgePFMCache workloads.

``make_trace_workload(config)`` returns the reader named by ``config.workload.source``:

===========  =============================================  ==========================================================
source       reader                                         file(s), under a traces folder
===========  =============================================  ==========================================================
``servegen`` :class:`~.servegen.ServeGenWorkload`           servegen/servegen_client_rates.csv.gz
``mooncake`` :class:`~.mooncake.MooncakeWorkload`           mooncake-fast25/conversation_trace.jsonl(.gz)
``azure``    :class:`~.azure.AzureWorkload`                 azure-llm-2023/AzureLLMInferenceTrace_{code,conv}.csv(.gz)
``csv``      :class:`~.generic_csv.CsvWorkload`             your file (``trace_path``)
===========  =============================================  ==========================================================

The three traces ship with the package (gzip, in ``edge_cache_env/data/traces/``, checked
against its ``SHA256SUMS`` once per process), so the trace env ids need no argument. A file
is looked up at ``trace_path``, else under ``$EDGE_PFM_TRACES``, else in the shipped data (see
:mod:`.paths`); plain and ``.gz`` files are read alike. Files are parsed once per process
(cached by path, mtime and size); ``reset()`` only draws a window. Train episodes lie in the
first 70% of a trace's time span (ServeGen: the first 10 days), test episodes in the rest.
"""

from __future__ import annotations

from typing import Any

from edge_cache_env.config import EnvConfig
from edge_cache_env.traces.azure import AzureWorkload
from edge_cache_env.traces.generic_csv import CsvWorkload, parse_csv_trace, write_csv_trace
from edge_cache_env.traces.mooncake import MooncakeWorkload
from edge_cache_env.traces.paths import DATA_DIR, ENV_VAR, TraceDataError, trace_roots, verify_all
from edge_cache_env.traces.replay import TraceFormatError, clear_cache
from edge_cache_env.traces.servegen import ServeGenWorkload

READERS: dict[str, Any] = {
    "servegen": ServeGenWorkload,
    "mooncake": MooncakeWorkload,
    "azure": AzureWorkload,
    "csv": CsvWorkload,
}

__all__ = ["DATA_DIR", "ENV_VAR", "READERS", "TraceDataError", "TraceFormatError", "clear_cache",
           "make_trace_workload", "parse_csv_trace", "trace_roots", "verify_all", "write_csv_trace"]


def make_trace_workload(config: EnvConfig) -> Any:
    """The trace reader for ``config.workload.source`` (loads its file once per process)."""
    source = config.workload.source
    if source not in READERS:
        raise ValueError(f"workload.source = {source!r} is not a trace source; known: {sorted(READERS)}")
    return READERS[source](config)
