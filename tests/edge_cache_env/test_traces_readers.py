"""Trace readers on slices of the real files shipped in edge_cache_env/data/traces: parsing,
mapping, tasks, scaling."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest

from edge_cache_env.config import make_config
from edge_cache_env.traces import clear_cache
from edge_cache_env.traces.azure import AzureWorkload, parse_azure
from edge_cache_env.traces.mooncake import MooncakeWorkload, parse_mooncake, prefix_groups
from edge_cache_env.traces.paths import DATA_DIR
from edge_cache_env.traces.replay import rank_tasks
from edge_cache_env.traces.servegen import WINDOW_S, ServeGenWorkload, parse_servegen

TRACES = DATA_DIR  # the shipped traces (gzip)
SERVEGEN = TRACES / "servegen" / "servegen_client_rates.csv.gz"
MOONCAKE = TRACES / "mooncake-fast25" / "conversation_trace.jsonl.gz"
AZURE = TRACES / "azure-llm-2023"


def head_lines(path: Path, n: int) -> list[str]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        return [next(f) for _ in range(n)]


@pytest.fixture(scope="module")
def servegen_slice(tmp_path_factory) -> Path:
    """Every 40th row of the real file (all groups, the whole 14 days), as a gzip CSV."""
    with gzip.open(SERVEGEN, "rt", encoding="utf-8") as f:
        lines = f.read().splitlines()
    out = tmp_path_factory.mktemp("servegen") / "servegen_client_rates.csv.gz"
    with gzip.open(out, "wt", encoding="utf-8") as f:
        f.write("\n".join([lines[0], *lines[1::40]]) + "\n")
    return out


@pytest.fixture(scope="module")
def mooncake_slice(tmp_path_factory) -> tuple[Path, list[dict]]:
    lines = head_lines(MOONCAKE, 3000)
    out = tmp_path_factory.mktemp("mooncake") / "conversation_trace.jsonl"
    out.write_text("".join(lines))
    return out, [json.loads(x) for x in lines]


@pytest.fixture(scope="module")
def azure_slice(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("azure")
    for name in ("AzureLLMInferenceTrace_code.csv", "AzureLLMInferenceTrace_conv.csv"):
        (folder / name).write_text("".join(head_lines(AZURE / (name + ".gz"), 2001)))
    return folder


# ----------------------------------------------------------------------------- ServeGen
def test_servegen_parse_slice(servegen_slice):
    tr = parse_servegen(servegen_slice)
    assert list(tr.group_names) == sorted(["deepseek-r1", "m-large", "m-mid", "m-small", "mm-image"])
    assert np.all(np.diff(tr.t_s) >= 0) and tr.t_s.min() >= 0 and tr.t_s.max() <= 1_209_000
    assert np.all(tr.rate_rps > 0) and np.all(tr.shape > 0)
    assert 0 < tr.weibull.mean() < 1  # both fitted patterns occur
    # the first data line of the file is m-large client 0 at t=0 (the slice keeps it)
    first = head_lines(SERVEGEN, 2)[1].split(",")
    i = int(np.flatnonzero(tr.line == 2)[0])
    assert tr.group_names[tr.group[i]] == first[0] and tr.client[i] == int(first[1])
    assert tr.rate_rps[i] == pytest.approx(float(first[3]))


def servegen_config(path, **overrides):
    overrides = {"n_slots": 60, **overrides}
    return make_config("default", source="servegen", trace_path=str(path), **overrides)


def test_servegen_scaling_mapping_and_tasks(servegen_slice):
    cfg = servegen_config(servegen_slice, requests_per_slot=25.0, aoc={"tasks_per_model": 3})
    w = ServeGenWorkload(cfg)
    # the trace-wide mean is the configured rate
    n_slots_trace = (w.trace.t_s.max() + WINDOW_S) / w.s_per_slot
    assert w.expected.sum() / n_slots_trace == pytest.approx(25.0)
    # each client keeps one model, chosen from its group's default models
    names = [m.name for m in cfg.models]
    group_of = {g: set() for g in w.trace.group_names}
    assert len(w.client) == len(w.trace.group)  # no group dropped by default
    for c, gi in zip(w.client, w.trace.group):
        group_of[w.trace.group_names[gi]].add(names[w.client_model[c]])
    assert group_of["m-large"] == {"Qwen2.5-32B-AWQ"}
    assert group_of["mm-image"] <= {"SDXL", "FLUX.1-schnell"}
    assert group_of["m-small"] == {"Phi-3-mini", "Llama-3.1-8B", "Mistral-7B"}
    r = w.sample_episode(np.random.default_rng(0))
    assert r.n_tasks == 3 and r.n_requests > 0
    assert r.task.max() <= 2 and np.all(np.diff(r.slot) >= 0)


def test_servegen_poisson_counts_match_window_rates(servegen_slice):
    cfg = servegen_config(servegen_slice, trace_options={"arrivals": "poisson"})
    w = ServeGenWorkload(cfg)
    start = w.start_lo + 1234.0
    end = start + w.episode_s
    overlap = np.clip(np.minimum(w.t_s + WINDOW_S, end) - np.maximum(w.t_s, start), 0, None)
    expected = (w.expected * overlap / WINDOW_S).sum()
    rng = np.random.default_rng(1)
    counts = [w.episode_at(start, rng).n_requests for _ in range(200)]
    assert np.mean(counts) == pytest.approx(expected, rel=0.05)


def write_servegen(path: Path, shape: float, pattern: str, days: int = 14) -> Path:
    """A one-client ServeGen file: rate 1 req/s in every window, the given inter-arrival shape."""
    rows = [f"m-small,0,{t},1.0,1.0,{pattern},{shape},1.0" for t in range(0, days * 86400, 600)]
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.write("model_group,client,t_seconds,rate_rps,cv,pattern,param1,param2\n")
        f.write("\n".join(rows) + "\n")
    return path


@pytest.mark.parametrize("pattern", ["Gamma", "Weibull"])
def test_servegen_pattern_arrivals_are_burstier_than_poisson(tmp_path, pattern):
    # shape 0.1: CV of the gaps ~3 (Gamma) or far more (Weibull); shape 1 Gamma is Poisson
    path = write_servegen(tmp_path / "servegen_client_rates.csv.gz", 0.1, pattern)
    disp = {}
    for arrivals in ("pattern", "poisson"):
        w = ServeGenWorkload(servegen_config(path, n_slots=360, requests_per_slot=30.0, trace_options={
            "arrivals": arrivals, "model_map": {"m-small": "Phi-3-mini"}}))
        rng = np.random.default_rng(2)
        per_slot = np.stack([w.episode_at(86400.0, rng).count.sum(axis=1).reshape(6, 60)
                             for _ in range(5)])  # episode x window x slot
        disp[arrivals] = np.mean(per_slot.var(axis=2) / per_slot.mean(axis=2))
        assert per_slot.sum(axis=2).mean() == pytest.approx(60 * 30, rel=0.05)  # the rate holds
    assert disp["poisson"] == pytest.approx(1.0, abs=0.3)  # a Poisson process
    assert disp["pattern"] > 3.0


def test_servegen_model_map_and_group_share(servegen_slice):
    only = {"m-small": "Phi-3-mini", "m-mid": None, "m-large": None, "mm-image": None,
            "deepseek-r1": None}
    w = ServeGenWorkload(servegen_config(servegen_slice, trace_options={"model_map": only}))
    r = w.sample_episode(np.random.default_rng(0))
    assert set(np.unique(r.model)) == {3}  # Phi-3-mini is catalog index 3
    # "equal": day 0 (all five groups active) sends a far larger share to the image models
    shares = {}
    for share in ("volume", "equal"):
        w = ServeGenWorkload(servegen_config(servegen_slice, trace_options={"group_share": share}))
        r = w.episode_at(6 * 3600.0, np.random.default_rng(0))
        shares[share] = np.isin(r.model, [7, 8]).mean()
    assert shares["volume"] < 0.01 < 0.1 < shares["equal"]


# ----------------------------------------------------------------------------- Mooncake
def test_mooncake_parse_slice(mooncake_slice):
    path, records = mooncake_slice
    tr = parse_mooncake(path)
    t = np.array([r["timestamp"] for r in records]) / 1000.0
    np.testing.assert_allclose(np.sort(t), tr.table.t_s)
    order = np.argsort(t, kind="stable")
    np.testing.assert_array_equal(tr.table.input_tokens,
                                  np.array([r["input_length"] for r in records])[order])
    np.testing.assert_array_equal(tr.table.output_tokens,
                                  np.array([r["output_length"] for r in records])[order])
    assert tr.common_blocks == 1  # block 0 (the system prompt) is in every request
    group = prefix_groups(tr, 1)
    second = np.array([h[1] if len(h) > 1 else -1 for h in tr.hash_ids])
    for g in np.unique(group)[:200]:
        assert len(set(second[group == g])) == 1  # same group <=> same second block
    assert len(np.unique(group)) == len(np.unique(second))
    assert len(np.unique(prefix_groups(tr, 3))) >= len(np.unique(group))


def test_mooncake_groups_keep_their_model_and_task(mooncake_slice):
    path, _ = mooncake_slice
    cfg = make_config("default", source="mooncake", trace_path=str(path), trace_s_per_slot=2.0,
                      n_slots=60)
    w = MooncakeWorkload(cfg)
    llms = {i for i, m in enumerate(cfg.models) if m.kind == "llm"}
    assert set(np.unique(w.model)) <= llms
    for g in np.unique(w.table.group):
        assert len(np.unique(w.model[w.table.group == g])) == 1
    # requests of one prefix group in the episode share one task
    start = w.draw_start(np.random.default_rng(3))
    i0, i1 = np.searchsorted(w.table.t_s, [start, start + w.episode_s])
    r = w.episode_at(start)
    groups = w.table.group[i0:i1]
    assert r.n_requests == i1 - i0 > 0
    for g in np.unique(groups):
        assert len(np.unique(r.task[groups == g])) == 1


def test_rank_tasks_busiest_groups_first():
    model = np.array([0, 0, 0, 0, 0, 1, 1, 0, 0])
    group = np.array([5, 5, 5, 2, 2, 9, 9, 7, 8])
    task = rank_tasks(model, group, 3)
    # model 0: group 5 (3 requests) -> 0, group 2 (2) -> 1, groups 7 and 8 -> "other" (2)
    np.testing.assert_array_equal(task, [0, 0, 0, 1, 1, 0, 0, 2, 2])
    assert rank_tasks(model, group, 1).max() == 0


# ----------------------------------------------------------------------------- Azure
def test_azure_parse_slice(azure_slice):
    f = parse_azure(azure_slice / "AzureLLMInferenceTrace_code.csv")
    first = head_lines(AZURE / "AzureLLMInferenceTrace_code.csv.gz", 2)[1].strip().split(",")
    assert len(f.time) == 2000
    assert str(f.time[0]) == first[0].replace(" ", "T")[:26]
    assert f.input_tokens[0] == int(first[1]) and f.output_tokens[0] == int(first[2])


def test_azure_merge_and_seeded_zipf_mapping(azure_slice):
    def workload(**opts):
        return AzureWorkload(make_config("default", source="azure", trace_path=str(azure_slice),
                                         trace_s_per_slot=1.0, n_slots=60, trace_options=opts))
    w = workload()
    tab = w.table
    assert tab.t_s[0] == 0.0 and np.all(np.diff(tab.t_s) >= 0)
    assert np.bincount(tab.group).tolist() == [2000, 2000]  # code, conv
    shares = np.sort(np.bincount(w.model, minlength=10))[::-1] / len(w.model)
    assert shares[0] == pytest.approx(1 / sum(1 / k for k in range(1, 8)), abs=0.03)  # Zipf(1), 7 LLMs
    np.testing.assert_array_equal(w.model, workload().model)  # fixed for the file
    assert not np.array_equal(w.model, workload(mapping_seed=1).model)
    code_only = workload(services=["code"])
    assert len(code_only.table.t_s) == 2000
    r = w.sample_episode(np.random.default_rng(0))
    assert r.task.max() <= 1  # two services -> at most two tasks per model


def test_files_are_parsed_once_per_process(azure_slice, monkeypatch):
    import edge_cache_env.traces.azure as azure_mod

    clear_cache()
    calls = []
    real = azure_mod.parse_azure
    monkeypatch.setattr(azure_mod, "parse_azure", lambda p: calls.append(p) or real(p))
    cfg = make_config("default", source="azure", trace_path=str(azure_slice),
                      trace_s_per_slot=1.0, n_slots=60)
    AzureWorkload(cfg)
    AzureWorkload(cfg)
    assert len(calls) == 2  # two files, each once
    f = azure_slice / "AzureLLMInferenceTrace_code.csv"
    f.write_text(f.read_text())  # a new mtime: re-read that file only
    import os
    st = f.stat()
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    AzureWorkload(cfg)
    assert len(calls) == 3
