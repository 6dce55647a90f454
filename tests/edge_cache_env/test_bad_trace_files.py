"""Bad or suspicious trace files: errors name the file and line (and field); suspicious data warns."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from edge_cache_env.config import make_config
from edge_cache_env.env import EdgePFMCacheEnv
from edge_cache_env.traces import TraceDataError, TraceFormatError, clear_cache
from edge_cache_env.traces.azure import AzureWorkload
from edge_cache_env.traces.mooncake import MooncakeWorkload

HEADER = "t_seconds,model,task,input_tokens,output_tokens\n"
MODEL = make_config("small").models[0].name


def rows(times) -> str:
    return "".join(f"{t},{MODEL},0,100,50\n" for t in times)


def env_on(path: Path, **kw) -> EdgePFMCacheEnv:
    clear_cache()
    env = EdgePFMCacheEnv(catalog="small", n_slots=20, source="csv", trace_path=str(path), **kw)
    env.reset(seed=0)
    return env


def write(tmp_path: Path, name: str, data: str | bytes) -> Path:
    p = tmp_path / name
    p.write_bytes(data if isinstance(data, bytes) else data.encode())
    return p


def test_not_utf8_names_file_and_line(tmp_path):
    p = write(tmp_path, "latin.csv", (HEADER + rows(range(0, 4000, 7))).encode()
              + f"5000,{MODEL}\xe9,0,1,1\n".encode("latin-1"))
    with pytest.raises(TraceDataError, match=r"latin.csv, line 574: not UTF-8 text at byte"):
        env_on(p)


def test_gzip_named_csv(tmp_path):
    p = write(tmp_path, "packed.csv", gzip.compress((HEADER + rows(range(0, 4000, 7))).encode()))
    with pytest.raises(TraceDataError, match=r"packed.csv: the file is gzip-compressed; name it \*.gz"):
        env_on(p)


def test_bom_is_accepted(tmp_path):
    p = write(tmp_path, "bom.csv", "\ufeff" + HEADER + rows(range(0, 4000, 7)))
    assert env_on(p).requests.n_requests > 0


def test_huge_token_count_names_line_and_column(tmp_path):
    p = write(tmp_path, "big.csv", HEADER + rows(range(0, 4000, 7)) + f"4001,{MODEL},0,{'9' * 20},5\n")
    with pytest.raises(TraceFormatError, match=r"big.csv, line 574: column 'input_tokens': '9{20}' is not"):
        env_on(p)


def test_long_gap_warns_about_empty_episodes(tmp_path):
    p = write(tmp_path, "gap.csv", HEADER + rows([0, 1, 2]) + rows(range(10 ** 7, 10 ** 7 + 60, 7)))
    with pytest.warns(UserWarning, match=r"gap.csv: \d+ of 64 evenly spaced train episode windows .* "
                                         r"hold no request"):
        env_on(p)


def test_millisecond_timestamps_warn(tmp_path):
    p = write(tmp_path, "ms.csv", HEADER + rows(range(0, 4_000_000, 700)))
    with pytest.warns(UserWarning, match=r"ms.csv: timestamps look like milliseconds"):
        env_on(p, trace_s_per_slot=10_000.0)


def test_clean_trace_gives_no_warning(tmp_path, recwarn):
    env_on(write(tmp_path, "ok.csv", HEADER + rows(range(0, 4000, 7))))
    assert not [w for w in recwarn if issubclass(w.category, UserWarning)]


# ----------------------------------------------------------------------------- Mooncake
def mooncake_line(t_ms, input_length=100, output_length=10) -> str:
    return (f'{{"timestamp": {t_ms}, "input_length": {input_length}, '
            f'"output_length": {output_length}, "hash_ids": [0, 1]}}\n')


@pytest.mark.parametrize("field, value, shown", [
    ("timestamp", "NaN", "nan"),  # was: accepted (every train episode the same, test ones empty)
    ("timestamp", "Infinity", "inf"),  # was: OverflowError in reset, no path
    ("input_length", "NaN", "nan"),  # was: ValueError without path or line
    ("input_length", "1e23", r"1e\+23"),  # was: OverflowError
    ("input_length", "1.7", r"1\.7"),  # was: silently 1
    ("output_length", "-1", "-1"),
    ("output_length", "1" + "0" * 400, "10+"),  # beyond the float range
])
def test_mooncake_bad_number_names_file_line_and_field(tmp_path, field, value, shown):
    lines = [mooncake_line(1000 * i) for i in range(600)]
    lines[4] = mooncake_line(4000, **{field: value}) if field != "timestamp" else mooncake_line(value)
    p = write(tmp_path, "m.jsonl", "".join(lines))
    clear_cache()
    with pytest.raises(TraceFormatError, match=rf"m\.jsonl, line 5: {field} {shown} is not a "
                                               rf"(finite number|token count \(an integer in 0\.\.1,000,000,000\))"):
        MooncakeWorkload(make_config("small", source="mooncake", trace_path=str(p), n_slots=20))


def test_mooncake_integral_float_lengths_are_read_as_integers(tmp_path):
    p = write(tmp_path, "m.jsonl", "".join(mooncake_line(1000 * i, "100.0", "1e3") for i in range(600)))
    clear_cache()
    w = MooncakeWorkload(make_config("small", source="mooncake", trace_path=str(p), n_slots=20))
    assert set(w.table.input_tokens) == {100} and set(w.table.output_tokens) == {1000}


# ----------------------------------------------------------------------------- Azure
AZURE_HEADER = "TIMESTAMP,ContextTokens,GeneratedTokens\n"


def azure_rows(n: int) -> list[str]:
    t0 = np.datetime64("2023-11-16T18:00:00.0000000")
    return [f"{str(t0 + np.timedelta64(i, 's')).replace('T', ' ')},100,10\n" for i in range(n)]


@pytest.mark.parametrize("row, message", [
    (",1,1", r"line 5: TIMESTAMP '' is not 'YYYY-MM-DD HH:MM:SS.fffffff'"),  # was: 'does not fit
    ("NaT,1,1", r"line 5: TIMESTAMP 'NaT' is not"),                          # in [-9.2e12, ...)'
    ("2023-11-16 18:00:04.0,9000000000000000000,1",
     r"line 5: ContextTokens 9000000000000000000 is not a token count \(an integer in 0\.\.1,000,000,000\)"),
    ("2023-11-16 18:00:04.0,1,-2", r"line 5: GeneratedTokens -2 is not a token count"),
])
def test_azure_bad_row_names_file_line_and_field(tmp_path, row, message):
    rows = azure_rows(600)
    rows[3] = row + "\n"
    p = write(tmp_path, "AzureLLMInferenceTrace_code.csv", AZURE_HEADER + "".join(rows))
    clear_cache()
    with pytest.raises(TraceFormatError, match=r"AzureLLMInferenceTrace_code\.csv, " + message):
        AzureWorkload(make_config("small", source="azure", trace_path=str(p), n_slots=20))


def test_absurd_token_count_in_a_generic_csv_names_line_and_field(tmp_path):
    # 9e18 fits an int64: it was accepted (an episode cost ~8e17)
    p = write(tmp_path, "big.csv", HEADER + rows(range(0, 4000, 7)) + f"4001,{MODEL},0,5,{9 * 10**18}\n")
    with pytest.raises(TraceFormatError, match=r"big\.csv, line 574: output_tokens 9000000000000000000 "
                                               r"is not a token count"):
        env_on(p)


# ----------------------------------------------------------------------------- ServeGen
SERVEGEN_HEADER = "model_group,client,t_seconds,rate_rps,cv,pattern,param1,param2\n"


def servegen_rows(group: str, days: range, client: int = 0) -> str:
    return "".join(f"{group},{client},{t},1.0,1.0,Gamma,1.0,1.0\n"
                   for t in range(days.start * 86400, days.stop * 86400, 600))


def servegen_env(path: Path, **kw) -> EdgePFMCacheEnv:
    clear_cache()
    return EdgePFMCacheEnv(catalog="default", n_slots=60, source="servegen", trace_path=str(path),
                           **kw)


@pytest.mark.parametrize("row, message", [
    # was: the trace span reached 3e7 years, so reset() tried to allocate 5.6 TiB
    ("m-small,1,1e15,1.0,1.0,Gamma,1.0,1.0", r"t_seconds must be >= 0 and <= 3\.16224e\+07 \(366 days\), "
                                            r"got '1e15'"),
    # was: this one window set the scale, every episode elsewhere came out empty
    ("m-small,1,600,1e300,1.0,Gamma,1.0,1.0", r"rate_rps must be > 0 and <= 1e\+06, got '1e300'"),
])
def test_servegen_absurd_time_or_rate_names_file_and_line(tmp_path, row, message):
    p = write(tmp_path, "sg.csv", SERVEGEN_HEADER + servegen_rows("m-small", range(2)) + row + "\n")
    with pytest.raises(TraceFormatError, match=rf"sg\.csv, line 290: {message}"):
        servegen_env(p, trace_options={"train_days": 1})


def test_servegen_split_without_weighted_traffic_is_an_error(tmp_path):
    # mm-image on day 0 only: weighting it alone leaves the test split (day 1) without traffic
    # (was: every test episode empty, silently; the split still held rows of weight 0)
    p = write(tmp_path, "sg.csv", SERVEGEN_HEADER + servegen_rows("m-small", range(2))
              + servegen_rows("mm-image", range(1)))
    opts = {"train_days": 1, "group_share": {"mm-image": 1.0}}
    with pytest.raises(ValueError, match=r"sg\.csv: no requests in the test split: .*"
                                         r"trace_options\.group_share"):
        servegen_env(p, split="test", trace_options=opts)
    assert servegen_env(p, split="train", trace_options=opts).reset(seed=0)[1] is not None


def test_servegen_negative_client_ids_stay_distinct_clients(tmp_path):
    # m-small's client -1 was keyed as m-mid's client 3 (group * (max client + 1) + client)
    p = write(tmp_path, "sg.csv", SERVEGEN_HEADER + servegen_rows("m-mid", range(2), client=3)
              + servegen_rows("m-small", range(2), client=-1))
    w = servegen_env(p, trace_options={"train_days": 1}).workload
    assert len(w.client_model) == 2
