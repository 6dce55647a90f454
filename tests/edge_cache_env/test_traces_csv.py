"""Generic CSV traces: round-trip, the example file, split boundaries, and every error message."""

from __future__ import annotations

import gzip
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import edge_cache_env  # noqa: F401  (registers ids)
from edge_cache_env.config import make_config
from edge_cache_env.traces import TraceFormatError, make_trace_workload, parse_csv_trace, write_csv_trace
from edge_cache_env.traces.azure import AzureWorkload
from edge_cache_env.traces.generic_csv import CsvWorkload
from edge_cache_env.traces.mooncake import MooncakeWorkload
from edge_cache_env.traces.paths import DATA_DIR, ENV_VAR
from edge_cache_env.traces.servegen import ServeGenWorkload
from edge_cache_env.workload import SyntheticWorkload

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "trace_example.csv"
HEADER = "t_seconds,model,task,input_tokens,output_tokens\n"


def csv_config(path, **overrides):
    overrides = {"n_slots": 10, **overrides}
    return make_config("default", source="csv", trace_path=str(path), **overrides)


def write(tmp_path, body: str, name: str = "t.csv") -> Path:
    p = tmp_path / name
    p.write_text(body)
    return p


@pytest.mark.parametrize("jitter", [False, True])
def test_round_trip_through_the_generic_format(tmp_path, jitter):
    cfg = make_config("default", n_slots=40, requests_per_slot=8.0)
    original = SyntheticWorkload(cfg).sample_episode(np.random.default_rng(5))
    path = tmp_path / "trace.csv"
    names = [m.name for m in cfg.models]
    write_csv_trace(path, original, names, s_per_slot=10.0, t0=100.0,
                    jitter=np.random.default_rng(1) if jitter else None)
    tab = parse_csv_trace(path).table
    assert len(tab.t_s) == original.n_requests
    # replaying from t0 with the same seconds per slot gives back the same episode
    back = CsvWorkload(csv_config(path, n_slots=12)).episode_at(100.0)
    first = original.slot < 12
    assert back.n_requests == first.sum()
    np.testing.assert_array_equal(back.count_task, original.count_task[:12])
    np.testing.assert_array_equal(back.input_sum, original.input_sum[:12])
    np.testing.assert_array_equal(back.output_sum, original.output_sum[:12])
    key = lambda r, keep: sorted(zip(r.slot[keep], r.model[keep], r.task[keep],  # noqa: E731
                                     r.input_tokens[keep], r.output_tokens[keep]))
    assert key(back, slice(None)) == key(original, first)


def test_model_names_with_commas_and_quotes_round_trip(tmp_path):
    # was: written unquoted, so 'Llama,8B' made a line of 6 fields that the reader rejected
    cfg = make_config("default", n_slots=40, requests_per_slot=8.0)
    requests = SyntheticWorkload(cfg).sample_episode(np.random.default_rng(5))
    names = [f"{m.name},v2" for m in cfg.models]
    names[0] = 'say "hi", 8B'
    path = tmp_path / "t.csv"
    write_csv_trace(path, requests, names, s_per_slot=10.0)
    trace = parse_csv_trace(path)
    assert sorted(trace.model_names) == sorted(set(np.asarray(names)[requests.model]))
    np.testing.assert_array_equal(trace.model_names[trace.model_code],
                                  np.asarray(names)[requests.model][np.argsort(requests.slot, kind="stable")])


def test_the_example_trace_is_what_its_script_makes(tmp_path):
    import runpy

    make = runpy.run_path(str(EXAMPLE.with_name("make_example_trace.py")))["main"]
    make(tmp_path / "made.csv")
    assert (tmp_path / "made.csv").read_text() == EXAMPLE.read_text()


def test_the_example_trace_runs_in_both_splits():
    for split in ("train", "test"):
        env = gym.make("EdgePFMCache-v0", source="csv", trace_path=str(EXAMPLE), split=split)
        env.reset(seed=0)
        r = env.unwrapped.requests
        assert r.n_requests > 500 and r.n_slots == 360
        assert set(np.unique(r.task)) <= set(range(4))


@pytest.mark.parametrize("split", ["train", "test"])
def test_episodes_stay_inside_their_split(split):
    w = CsvWorkload(csv_config(EXAMPLE, n_slots=60, split=split))
    tab = w.table
    span = tab.t_end - tab.t_begin
    assert w.boundary == pytest.approx(tab.t_begin + 0.7 * span)
    rng = np.random.default_rng(0)
    starts = np.array([w.draw_start(rng) for _ in range(300)])
    lo, hi = (tab.t_begin, w.boundary) if split == "train" else (w.boundary, tab.t_end)
    assert starts.min() >= lo and starts.max() + w.episode_s <= hi
    assert starts.max() - starts.min() > 0.8 * (hi - lo - w.episode_s)  # the whole range is used


def test_one_hour_trace_ids_never_mix_train_and_test():
    for env_id in ("EdgePFMCache-Mooncake-v0", "EdgePFMCache-Azure-v0"):
        train = gym.make(env_id).unwrapped.workload
        test = gym.make(env_id, split="test").unwrapped.workload
        assert train.start_hi + train.episode_s <= train.boundary <= test.start_lo
        assert test.start_hi + test.episode_s <= test.table.t_end
        assert test.start_hi - test.start_lo >= 300  # test starts still spread over 5+ minutes


def test_servegen_split_is_ten_days():
    train = gym.make("EdgePFMCache-ServeGen-v0").unwrapped.workload
    test = gym.make("EdgePFMCache-ServeGen-v0", split="test").unwrapped.workload
    assert train.start_lo == 0 and train.start_hi + train.episode_s == 10 * 86400
    assert test.start_lo == 10 * 86400 and test.start_hi + test.episode_s == 14 * 86400


# ----------------------------------------------------------------------------- errors
@pytest.mark.parametrize("body, message", [
    (HEADER + "1.0,Mistral-7B,0,10,5\n2.0,Mistral-7B,0,10\n", r"t\.csv, line 3: 4 fields"),
    (HEADER + "1.0,Mistral-7B,0,10,5\nx,Mistral-7B,0,10,5\n", r"line 3: column 't_seconds'"),
    (HEADER + "1.0,Mistral-7B,0,ten,5\n", r"line 2: column 'input_tokens'"),
    (HEADER + "1.0,Mistral-7B,0,10,5\n2.0,Mistral-7B,0,10,-1\n", r"line 3: output_tokens -1 is not a token count"),
    (HEADER + "1.0,Mistral-7B,-2,10,5\n", r"line 2: negative task"),
    (HEADER, r"t\.csv: no requests"),
    ("", r"line 1: missing header"),
    ("t_seconds,model,task,input_tokens\n1,Mistral-7B,0,3\n", r"line 1: header .* lacks .*output_tokens"),
    (HEADER.strip() + ",user\n1,Mistral-7B,0,3,4,u\n", r"line 1: unknown column\(s\) \['user'\]"),
    (HEADER.strip() + ",task\n1,Mistral-7B,0,3,4,0\n", r"line 1: header .* has column\(s\) \['task'\] more "
                                                       r"than once"),  # was: 'unknown column(s) []'
    (HEADER + '1,"Mistral-7B,0,3,4\n', r"t\.csv, line 2: bad CSV quoting"),
])
def test_malformed_csv_names_file_and_line(tmp_path, body, message):
    with pytest.raises(TraceFormatError, match=message):
        parse_csv_trace(write(tmp_path, body))


def test_unknown_model_and_task_out_of_range_name_the_line(tmp_path):
    p = write(tmp_path, HEADER + "5,Mistral-7B,0,1,1\n1,GPT-9,0,1,1\n9,GPT-9,0,1,1\n")
    with pytest.raises(TraceFormatError, match=r"line 3: unknown model 'GPT-9'"):
        CsvWorkload(csv_config(p, n_slots=1, trace_s_per_slot=1.0))
    p = write(tmp_path, HEADER + "1,Mistral-7B,0,1,1\n9,Mistral-7B,4,1,1\n", "k.csv")
    with pytest.raises(TraceFormatError, match=r"k\.csv, line 3: task 4 outside 0\.\.3"):
        CsvWorkload(csv_config(p, n_slots=1, trace_s_per_slot=1.0))


def test_episode_longer_than_the_split_is_an_error():
    with pytest.raises(ValueError, match=r"does not fit in the test split"):
        CsvWorkload(csv_config(EXAMPLE, n_slots=360, trace_s_per_slot=20.0, split="test"))
    with pytest.raises(ValueError, match=r"does not fit in the train split"):
        gym.make("EdgePFMCache-Mooncake-v0", n_slots=360, trace_s_per_slot=10.0)


def test_missing_trace_names_the_file_and_where_to_get_it(tmp_path, monkeypatch):
    for env_id, file, url in [
            ("EdgePFMCache-ServeGen-v0", "servegen_client_rates.csv.gz", "github.com/alibaba/ServeGen"),
            ("EdgePFMCache-Mooncake-v0", "conversation_trace.jsonl", "github.com/kvcache-ai/Mooncake"),
            ("EdgePFMCache-Azure-v0", "AzureLLMInferenceTrace_code.csv",
             "github.com/Azure/AzurePublicDataset")]:
        with pytest.raises(FileNotFoundError, match=rf"{file}.*{url}"):
            gym.make(env_id, trace_path=str(tmp_path))
        monkeypatch.setenv(ENV_VAR, str(tmp_path / "nowhere"))
        with pytest.raises(FileNotFoundError, match=rf"nowhere.*{file}.*{ENV_VAR}"):
            gym.make(env_id)
        monkeypatch.delenv(ENV_VAR)
    with pytest.raises(ValueError, match=r"source='csv' needs trace_path"):
        make_trace_workload(make_config("default", source="csv"))
    with pytest.raises(FileNotFoundError, match=r"generic CSV trace not found: .*none\.csv"):
        make_trace_workload(csv_config(tmp_path / "none.csv"))


def test_environment_variable_points_at_the_traces_folder(tmp_path, monkeypatch):
    folder = tmp_path / "mooncake-fast25"
    folder.mkdir()
    (folder / "conversation_trace.jsonl").write_text("".join(
        f'{{"timestamp": {1000 * i}, "input_length": 10, "output_length": 2, "hash_ids": [0, {i % 7}]}}\n'
        for i in range(600)))
    monkeypatch.setenv(ENV_VAR, str(tmp_path))
    w = gym.make("EdgePFMCache-Mooncake-v0", n_slots=20).unwrapped.workload
    assert w.table.path == folder / "conversation_trace.jsonl" and len(w.table.t_s) == 600


def test_malformed_jsonl_and_negative_tokens_name_the_line(tmp_path):
    good = '{"timestamp": 0, "input_length": 5, "output_length": 1, "hash_ids": [1]}\n'
    cases = [(good + '{"timestamp": 5, "input_length": 5\n', r"m\.jsonl, line 2: not valid JSON"),
             (good + '{"timestamp": 5}\n', r"line 2: expected an object with fields"),
             (good * 2 + '{"timestamp": 5, "input_length": -5, "output_length": 1, "hash_ids": [2]}\n',
              r"line 3: input_length -5 is not a token count"),
             (good + '{"timestamp": 5, "input_length": 5, "output_length": 1, "hash_ids": "x"}\n',
              r"line 2: hash_ids must be a list")]
    for i, (body, message) in enumerate(cases):
        (tmp_path / str(i)).mkdir()
        p = write(tmp_path / str(i), body, "m.jsonl")
        with pytest.raises(TraceFormatError, match=message):
            MooncakeWorkload(make_config("default", source="mooncake", trace_path=str(p)))


def test_azure_bad_timestamp_and_negative_tokens(tmp_path):
    head = "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:17:03.9799600,10,2\n"
    for body, message in [(head + "yesterday,10,2\n", r"line 3: TIMESTAMP 'yesterday'"),
                          (head + "2023-11-16 18:17:04.0,10,-3\n", r"line 3: GeneratedTokens -3 is not a token count")]:
        p = write(tmp_path, body, "AzureLLMInferenceTrace_code.csv")
        with pytest.raises(TraceFormatError, match=message):
            AzureWorkload(make_config("default", source="azure", trace_path=str(p)))


def servegen_file(tmp_path, rows: list[str]) -> Path:
    p = tmp_path / "servegen_client_rates.csv.gz"
    with gzip.open(p, "wt") as f:
        f.write("model_group,client,t_seconds,rate_rps,cv,pattern,param1,param2\n" + "\n".join(rows))
    return p


def test_servegen_bad_rows_and_unknown_group(tmp_path):
    ok = [f"m-small,0,{t},1.0,1.0,Gamma,1.0,1.0" for t in range(0, 86400 * 2, 600)]
    cases = [
        (ok + ["m-huge,3,600,1.0,1.0,Gamma,1.0,1.0"], TraceFormatError,
         rf"line {len(ok) + 2}: unknown model group 'm-huge'"),
        (ok[:3] + ["m-small,0,1800,0.0,1.0,Gamma,1.0,1.0"], TraceFormatError,
         r"line 5: rate_rps must be > 0"),
        (ok[:3] + ["m-small,0,1800,1.0,1.0,Pareto,1.0,1.0"], TraceFormatError,
         r"line 5: pattern 'Pareto'"),
        (ok[:2] + ["m-small,0,1800,1.0"], TraceFormatError, r"line 4: 4 fields, expected 8"),
    ]
    for rows, error, message in cases:
        with pytest.raises(error, match=message):
            ServeGenWorkload(make_config("default", source="servegen",
                                         trace_path=str(servegen_file(tmp_path, rows)),
                                         n_slots=60, trace_options={"train_days": 1}))
    # m-small on day 0 only, m-mid on day 1: without m-mid the test split (day 1) is empty
    rows = [f"m-small,0,{t},1.0,1.0,Gamma,1.0,1.0" for t in range(0, 86400, 600)]
    rows += [f"m-mid,0,{t},1.0,1.0,Gamma,1.0,1.0" for t in range(86400, 2 * 86400, 600)]
    opts = {"train_days": 1, "model_map": {"m-small": "Phi-3-mini", "m-mid": None}}
    with pytest.raises(ValueError, match=r"no requests in the test split"):
        ServeGenWorkload(make_config("default", source="servegen", split="test", n_slots=60,
                                     trace_path=str(servegen_file(tmp_path, rows)),
                                     trace_options=opts))


def test_bad_trace_options_are_errors():
    with pytest.raises(TypeError, match=r"unknown trace_options key\(s\) \['arival'\]"):
        gym.make("EdgePFMCache-ServeGen-v0", trace_options={"arival": "poisson"})
    with pytest.raises(ValueError, match=r"unknown model group 'm-tiny'"):
        gym.make("EdgePFMCache-ServeGen-v0", trace_options={"model_map": {"m-tiny": "SDXL"}})
    with pytest.raises(ValueError, match=r"unknown model\(s\) \['GPT-4'\]"):
        gym.make("EdgePFMCache-Azure-v0", trace_options={"models": ["GPT-4"]})
    with pytest.raises(ValueError, match=r"none of the default models .* 'm-large'"):
        gym.make("EdgePFMCache-ServeGen-v0", catalog="small")
    with pytest.raises(ValueError, match=r"prefix_blocks"):
        gym.make("EdgePFMCache-Mooncake-v0", trace_options={"prefix_blocks": 0})


AZURE_CODE = DATA_DIR / "azure-llm-2023" / "AzureLLMInferenceTrace_code.csv.gz"


@pytest.mark.parametrize("env_id, kwargs, message", [
    # was: 'expected non-negative integer', "invalid literal for int()", 1.7 read as 1
    ("EdgePFMCache-Azure-v0", {"trace_options": {"mapping_seed": -1}},
     r"trace_options\.mapping_seed = -1 is invalid: must be an integer >= 0"),
    ("EdgePFMCache-Mooncake-v0", {"trace_options": {"mapping_seed": "abc"}},
     r"trace_options\.mapping_seed = 'abc' is invalid: must be an integer >= 0"),
    ("EdgePFMCache-Azure-v0", {"trace_options": {"mapping_seed": 1.7}},
     r"trace_options\.mapping_seed = 1\.7 is invalid: must be an integer >= 0"),
    ("EdgePFMCache-Azure-v0", {"trace_options": {"zipf": float("nan")}},
     r"trace_options\.zipf = nan is invalid: must be finite"),
    # was: 'lam value too large', 'could not convert string to float'
    ("EdgePFMCache-ServeGen-v0", {"trace_options": {"group_share": {"m-small": float("inf")}}},
     r"trace_options\.group_share\['m-small'\] = inf is invalid: must be a finite number >= 0"),
    ("EdgePFMCache-ServeGen-v0", {"trace_options": {"group_share": {"m-small": "x"}}},
     r"trace_options\.group_share\['m-small'\] = 'x' is invalid"),
    # was: "TypeError: 'int' object is not iterable"
    ("EdgePFMCache-ServeGen-v0", {"trace_options": {"model_map": {"m-small": 5}}},
     r"trace_options\.model_map\['m-small'\] = 5 is invalid: must be a catalog model name"),
    # was: 'expected str, bytes or os.PathLike object, not int'
    ("EdgePFMCache-v0", {"source": "csv", "trace_path": 123},
     r"workload\.trace_path = 123 is invalid: must be a file or folder path"),
    # was: every code request replayed twice; 'bogus' unchecked next to a file
    ("EdgePFMCache-Azure-v0", {"trace_options": {"services": ["code", "code"]}},
     r"trace_options\.services = \['code', 'code'\] is invalid: must be a non-empty list of distinct"),
    ("EdgePFMCache-Azure-v0", {"trace_path": str(AZURE_CODE), "trace_options": {"services": "bogus"}},
     r"trace_options\.services = 'bogus' is invalid"),
    ("EdgePFMCache-Azure-v0", {"trace_options": {"models": ["Llama-3.1-8B", "Llama-3.1-8B"]}},
     r"trace_options\.models = .* is invalid: must be a list of distinct catalog model names"),
    # was: accepted (True as 1), although the config's checks reject a boolean as a number
    ("EdgePFMCache-Mooncake-v0", {"trace_options": {"prefix_blocks": True}},
     r"trace_options\.prefix_blocks = True is invalid: must be an integer >= 1, not bool"),
    ("EdgePFMCache-ServeGen-v0", {"trace_options": {"train_days": True}},
     r"trace_options\.train_days = True is invalid: must be a number, not bool"),
    # was: silently ignored, the file given is the one replayed
    ("EdgePFMCache-Azure-v0", {"trace_path": str(AZURE_CODE), "trace_options": {"services": ["conv"]}},
     r"trace_options\.services = \['conv'\] is invalid: must be left out when workload\.trace_path is a file"),
    ("EdgePFMCache-Mooncake-v0", {"trace_path": str(DATA_DIR / "mooncake-fast25" / "conversation_trace.jsonl.gz"),
                                  "trace_options": {"file": "synthetic"}},
     r"trace_options\.file = 'synthetic' is invalid: must be left out when workload\.trace_path is a file"),
])
def test_bad_trace_option_values_name_the_option_when_the_env_is_built(env_id, kwargs, message):
    with pytest.raises(ValueError, match=message):
        gym.make(env_id, **kwargs)
