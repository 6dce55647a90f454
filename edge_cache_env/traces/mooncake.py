"""Mooncake (Kimi) FAST'25 traces: one LLM service, with measured prompt sharing.

Each JSON line has ``timestamp`` (ms), ``input_length``, ``output_length`` and ``hash_ids``
(ids of the prompt's 512-token blocks). Timestamps and token counts are replayed as given.

Tasks (relevance from the data): blocks shared by *every* request of the file (the common
system prompt: block 0 of the conversation trace) say nothing about relatedness, so they are
skipped; the next ``prefix_blocks`` ids (default 1) form the request's *prefix group*:
requests that share them share that prompt prefix (a conversation, a document). Within each
model and episode, the busiest ``K - 1`` prefix groups become tasks ``0 .. K-2``, the rest
"other" (see :func:`~edge_cache_env.traces.replay.rank_tasks`).

Models: the trace is one service, so prefix groups are spread over the catalog's LLMs by a
seeded Zipf mapping (``zipf``, ``mapping_seed``; the AlpaServe way): every request of a group
goes to the same model, so a conversation keeps its model and its context.

``trace_options``: ``file`` ("conversation" | "synthetic", when ``trace_path`` is a folder),
``prefix_blocks`` (int >= 1), ``models`` (catalog names; default: all LLMs), ``zipf`` (1.0),
``mapping_seed`` (0).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge_cache_env.config import EnvConfig
from edge_cache_env.traces.paths import TraceFile, read_trace_text, resolve_trace_file
from edge_cache_env.traces.replay import (
    ReplayWorkload,
    RequestTable,
    TraceFormatError,
    check_finite,
    check_options,
    line_error,
    load_cached,
    mapping_options,
    model_indices,
    token_counts,
    zipf_mapping,
)
from edge_cache_env.validation import check, integer, is_integer, is_number

SOURCE = "https://github.com/kvcache-ai/Mooncake (FAST25-release/traces/)"
FILES = {
    "conversation": TraceFile("mooncake-fast25", "conversation_trace.jsonl", SOURCE),
    "synthetic": TraceFile("mooncake-fast25", "synthetic_trace.jsonl", SOURCE),
}
OPTIONS = ("file", "prefix_blocks", "models", "zipf", "mapping_seed")
FIELDS = ("timestamp", "input_length", "output_length", "hash_ids")


@dataclass(frozen=True)
class MooncakeTrace:
    """Parsed Mooncake file: the requests (group filled per config) and each one's hash ids."""

    table: RequestTable
    hash_ids: tuple[tuple[int, ...], ...]  # per request, in time order
    common_blocks: int  # leading blocks shared by every request


def parse_mooncake(path: Path) -> MooncakeTrace:
    """Read a Mooncake JSONL file, plain or ``.gz``; a bad line raises with its line number."""
    ts, inp, out, hashes, nos = [], [], [], [], []
    # lines split at "\n" only, numbered as iterating over the file numbered them
    for no, raw in enumerate(read_trace_text(path).split("\n"), start=1):
        if not raw.strip():
            continue
        try:
            rec = json.loads(raw)
            row = [rec[k] for k in FIELDS]
        except json.JSONDecodeError as e:
            raise line_error(path, no, f"not valid JSON ({e.msg})") from None
        except (KeyError, TypeError):
            raise line_error(path, no, f"expected an object with fields {list(FIELDS)}") from None
        t, i, o, h = row
        if not all(is_number(v) for v in (t, i, o)):
            raise line_error(path, no, "timestamp, input_length and output_length must be numbers")
        if not isinstance(h, list) or not all(is_integer(x) for x in h):
            raise line_error(path, no, "hash_ids must be a list of integers")
        ts.append(t)
        inp.append(i)
        out.append(o)
        hashes.append(tuple(h))
        nos.append(no)
    if not ts:
        raise TraceFormatError(f"{path}: no requests")
    lines = np.asarray(nos, dtype=np.int64)
    t_s = check_finite(path, ts, "timestamp", lines) / 1000.0
    inp_a = token_counts(path, inp, "input_length", lines)
    out_a = token_counts(path, out, "output_length", lines)
    order = np.argsort(t_s, kind="stable")
    common = _common_prefix(hashes)
    table = RequestTable(path=path, t_s=t_s[order], group=np.zeros(len(ts), dtype=np.int64),
                         input_tokens=inp_a[order], output_tokens=out_a[order], line=lines[order])
    return MooncakeTrace(table=table, hash_ids=tuple(hashes[i] for i in order), common_blocks=common)


def _common_prefix(hashes: list[tuple[int, ...]]) -> int:
    first = hashes[0]
    n = len(first)
    for h in hashes:
        while n and h[:n] != first[:n]:
            n -= 1
        if n == 0:
            break
    return n


def prefix_groups(trace: MooncakeTrace, prefix_blocks: int) -> np.ndarray:
    """Group id per request: equal ids = same ``prefix_blocks`` blocks after the common prefix.

    Ids are numbered in order of first appearance (deterministic for a file).
    """
    c = trace.common_blocks
    ids: dict[tuple[int, ...], int] = {}
    return np.fromiter((ids.setdefault(h[c:c + prefix_blocks], len(ids)) for h in trace.hash_ids),
                       dtype=np.int64, count=len(trace.hash_ids))


class MooncakeWorkload(ReplayWorkload):
    """Replays a Mooncake trace; see the module docstring for tasks and model mapping."""

    def __init__(self, config: EnvConfig) -> None:
        opts = config.workload.trace_options
        check_options(opts, OPTIONS, "mooncake")
        which = opts.get("file", "conversation")
        check(isinstance(which, str) and which in FILES, "trace_options", "file", which,
              f"one of {sorted(FILES)}")
        blocks = opts.get("prefix_blocks", 1)
        integer("trace_options", "prefix_blocks", blocks, 1)
        zipf, seed = mapping_options(opts)
        trace_path = config.workload.trace_path
        if trace_path is not None and Path(trace_path).expanduser().is_file():
            check("file" not in opts, "trace_options", "file", which,
                  f"left out when workload.trace_path is a file ({trace_path}): it chooses among "
                  f"a folder's files")
        path = resolve_trace_file(trace_path, FILES[which], "Mooncake")
        trace = load_cached("mooncake", path, parse_mooncake)
        group = prefix_groups(trace, blocks)
        models = model_indices(config, opts.get("models"), ("llm",), "mooncake")
        group_model = zipf_mapping(int(group.max()) + 1, models, zipf, seed)
        table = RequestTable(path=path, t_s=trace.table.t_s, group=group,
                             input_tokens=trace.table.input_tokens,
                             output_tokens=trace.table.output_tokens, line=trace.table.line)
        super().__init__(config, table, group_model[group], where=str(path))
