"""Bad or suspicious generic CSV traces: errors name the file and line; suspicious data warns."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from edge_cache_env.config import make_config
from edge_cache_env.env import EdgePFMCacheEnv
from edge_cache_env.traces import TraceDataError, TraceFormatError, clear_cache

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
