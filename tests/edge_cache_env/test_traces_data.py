"""The traces shipped with the package: checksums, look-up order, damaged data, the replay from
the compressed files equal to the replay from the originals, and the ServeGen derivation."""

from __future__ import annotations

import gzip
import os
import shutil
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import edge_cache_env  # noqa: F401  (registers ids)
from edge_cache_env.traces import clear_cache, paths
from edge_cache_env.traces.derive_servegen import COLUMNS, DeriveError, derive, main
from edge_cache_env.traces.paths import DATA_DIR, ENV_VAR, MANIFEST, TraceDataError

TRACE_IDS = ["EdgePFMCache-ServeGen-v0", "EdgePFMCache-Mooncake-v0", "EdgePFMCache-Azure-v0"]
FIELDS = ("slot", "model", "task", "input_tokens", "output_tokens")
SHIPPED = {
    "azure-llm-2023/AzureLLMInferenceTrace_code.csv.gz",
    "azure-llm-2023/AzureLLMInferenceTrace_conv.csv.gz",
    "mooncake-fast25/conversation_trace.jsonl.gz",
    "mooncake-fast25/synthetic_trace.jsonl.gz",
    "servegen/servegen_client_rates.csv.gz",
}
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _no_env_var(monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)


# ----------------------------------------------------------------------------- shipped data
def test_every_shipped_file_matches_the_manifest():
    listed = paths.read_manifest()
    assert set(listed) == SHIPPED
    assert {p.relative_to(DATA_DIR).as_posix() for p in paths.verify_all()} == SHIPPED
    on_disk = {p.relative_to(DATA_DIR).as_posix() for p in DATA_DIR.glob("*/*.gz")}
    assert on_disk == SHIPPED  # nothing shipped without a checksum
    for folder in ("azure-llm-2023", "mooncake-fast25", "servegen"):
        assert (DATA_DIR / folder / "NOTICE.md").is_file()
    assert (DATA_DIR / "azure-llm-2023" / "LICENSE.md").read_text().count("CC-BY-4.0") >= 1
    for folder in ("mooncake-fast25", "servegen"):
        assert "Apache License" in (DATA_DIR / folder / "LICENSE-Apache-2.0.txt").read_text()
    assert (DATA_DIR / "README.md").is_file()


def test_package_data_lists_the_shipped_files():
    text = (REPO / "pyproject.toml").read_text()
    for pattern in ('"data/traces/*/*.gz"', '"data/traces/SHA256SUMS"', '"data/traces/*/*.md"',
                    '"data/traces/*/*.txt"'):
        assert pattern in text


def test_nothing_refers_outside_the_repository():
    outside = ("/".join(["..", "sha" + "red"]), '"sha' + 'red" / "traces"')  # the old folder
    for p in [*(REPO / "edge_cache_env").rglob("*.py"), *(REPO / "tests").glob("test_traces_*.py")]:
        text = p.read_text()
        assert not any(o in text for o in outside), p


def test_trace_ids_replay_the_shipped_data_with_no_argument():
    for env_id in TRACE_IDS:
        env = gym.make(env_id)
        env.reset(seed=0)
        path = env.unwrapped.workload.trace.path if env_id.endswith("ServeGen-v0") \
            else env.unwrapped.workload.table.path
        assert Path(path).resolve().is_relative_to(DATA_DIR.resolve())
        assert env.unwrapped.requests.n_requests > 0


def _episodes(env_id: str, seeds, **kwargs):
    out = []
    for split in ("train", "test"):
        env = gym.make(env_id, split=split, **kwargs)
        for seed in seeds:
            env.reset(seed=seed)
            r = env.unwrapped.requests
            out.append({f: getattr(r, f).copy() for f in FIELDS})
    return out


def test_compressed_and_original_files_replay_identical_episodes(tmp_path):
    # the originals are the gunzipped shipped files (their SHA-256 is in each NOTICE.md)
    for rel in SHIPPED:
        dst = tmp_path / rel[:-3]
        dst.parent.mkdir(parents=True, exist_ok=True)
        with gzip.open(DATA_DIR / rel, "rb") as f:
            dst.write_bytes(f.read())
    for env_id in TRACE_IDS:
        shipped = _episodes(env_id, range(3))
        plain = _episodes(env_id, range(3), trace_path=str(tmp_path))
        for a, b in zip(shipped, plain, strict=True):
            for f in FIELDS:
                np.testing.assert_array_equal(a[f], b[f])
        assert sum(len(e["slot"]) for e in shipped) > 0
    env = gym.make("EdgePFMCache-Mooncake-v0", trace_path=str(tmp_path))
    assert env.unwrapped.workload.table.path.suffix == ".jsonl"  # the plain file was read


# ----------------------------------------------------------------------------- look-up order
def _mooncake(folder: Path, n: int, gz: bool = False) -> Path:
    (folder / "mooncake-fast25").mkdir(parents=True)
    text = "".join(f'{{"timestamp": {1000 * i}, "input_length": 10, "output_length": 2, '
                   f'"hash_ids": [0, {i % 7}]}}\n' for i in range(n))
    p = folder / "mooncake-fast25" / ("conversation_trace.jsonl" + (".gz" if gz else ""))
    if gz:
        with gzip.open(p, "wt", encoding="utf-8") as f:
            f.write(text)
    else:
        p.write_text(text)
    return p


def test_trace_path_beats_environment_variable_beats_shipped(tmp_path, monkeypatch):
    a = _mooncake(tmp_path / "a", 600)
    b = _mooncake(tmp_path / "b", 500, gz=True)

    def table(**kwargs):
        return gym.make("EdgePFMCache-Mooncake-v0", n_slots=20, **kwargs).unwrapped.workload.table

    monkeypatch.setenv(ENV_VAR, str(tmp_path / "b"))
    t = table(trace_path=str(tmp_path / "a"))
    assert t.path == a and len(t.t_s) == 600
    t = table()
    assert t.path == b and len(t.t_s) == 500  # a .gz under the variable's folder is read
    monkeypatch.delenv(ENV_VAR)
    t = table()
    assert t.path == DATA_DIR / "mooncake-fast25" / "conversation_trace.jsonl.gz"
    assert len(t.t_s) == 12031


def test_a_missing_file_names_every_searched_path(tmp_path, monkeypatch):
    monkeypatch.setenv(ENV_VAR, str(tmp_path))  # set, but without the file: no silent fallback
    with pytest.raises(FileNotFoundError) as e:
        gym.make("EdgePFMCache-Azure-v0")
    msg = str(e.value)
    for name in ("AzureLLMInferenceTrace_code.csv", "AzureLLMInferenceTrace_code.csv.gz"):
        assert str(tmp_path / "azure-llm-2023" / name) in msg
    assert ENV_VAR in msg and "github.com/Azure/AzurePublicDataset" in msg
    monkeypatch.delenv(ENV_VAR)
    with pytest.raises(FileNotFoundError) as e:
        gym.make("EdgePFMCache-Mooncake-v0", trace_path=str(tmp_path / "x"))
    msg = str(e.value)
    for p in (tmp_path / "x" / "mooncake-fast25" / "conversation_trace.jsonl.gz",
              tmp_path / "x" / "conversation_trace.jsonl"):
        assert str(p) in msg


# ----------------------------------------------------------------------------- damaged data
@pytest.fixture
def shipped_copy(tmp_path, monkeypatch):
    """A copy of the shipped Azure files and manifest, used as the package's data folder."""
    root = tmp_path / "traces"
    shutil.copytree(DATA_DIR / "azure-llm-2023", root / "azure-llm-2023")
    shutil.copy(MANIFEST, root / "SHA256SUMS")
    monkeypatch.setattr(paths, "DATA_DIR", root)
    monkeypatch.setattr(paths, "MANIFEST", root / "SHA256SUMS")
    monkeypatch.setattr(paths, "_VERIFIED", {})
    clear_cache()
    yield root
    clear_cache()


def test_corrupted_shipped_file_is_a_checksum_mismatch(shipped_copy):
    gym.make("EdgePFMCache-Azure-v0")  # the intact copy passes
    f = shipped_copy / "azure-llm-2023" / "AzureLLMInferenceTrace_conv.csv.gz"
    data = bytearray(f.read_bytes())
    data[len(data) // 2] ^= 0xFF
    st = f.stat()
    f.write_bytes(bytes(data))
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # a new mtime even on coarse clocks
    with pytest.raises(TraceDataError, match=r"checksum mismatch .*AzureLLMInferenceTrace_conv\.csv\.gz"):
        gym.make("EdgePFMCache-Azure-v0")
    with pytest.raises(TraceDataError, match=r"checksum mismatch"):
        paths.verify_all()


def test_missing_shipped_file_names_it(shipped_copy):
    (shipped_copy / "azure-llm-2023" / "AzureLLMInferenceTrace_code.csv.gz").unlink()
    with pytest.raises(FileNotFoundError, match=r"AzureLLMInferenceTrace_code\.csv.*not found in "
                                                r"the data shipped.*reinstall"):
        gym.make("EdgePFMCache-Azure-v0")
    with pytest.raises(TraceDataError, match=r"shipped trace file not found: .*_code\.csv\.gz"):
        paths.verify_all()
    (shipped_copy / "SHA256SUMS").unlink()
    with pytest.raises(TraceDataError, match=r"checksum manifest not found"):
        gym.make("EdgePFMCache-Azure-v0", trace_options={"services": ["conv"]})


def test_damaged_gzip_names_the_file(tmp_path):
    good = gzip.compress(b'{"timestamp": 0, "input_length": 5, "output_length": 1, "hash_ids": [1]}\n' * 50)
    (tmp_path / "mooncake-fast25").mkdir()
    for name, data in [("truncated.jsonl.gz", good[: len(good) // 2]), ("notgzip.jsonl.gz", b"plain text\n"),
                       ("flipped.jsonl.gz", good[:20] + bytes([good[20] ^ 0xFF]) + good[21:])]:
        p = tmp_path / name
        p.write_bytes(data)
        with pytest.raises(TraceDataError, match=rf"{name}: damaged or truncated gzip"):
            gym.make("EdgePFMCache-Mooncake-v0", trace_path=str(p))


# ----------------------------------------------------------------------------- derive_servegen
def _client(folder: Path, client: int, lines: list[str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"chunk-{client}-trace.csv").write_text("\n".join(lines) + "\n")


def test_derive_servegen_combines_clients_and_drops_zero_rate_windows(tmp_path):
    data = tmp_path / "data"
    _client(data / "language" / "m-small", 0, [
        "0,1.5,2.0,Weibull,0.4,0.5", "600,0,0,,0,0", "1200,0.25,1.0,Gamma,1.0,4.0"])
    _client(data / "language" / "m-small", 10, ["0,0,0,,0,0", "600,0.1,3.0,Gamma,0.1,100.0"])
    _client(data / "language" / "m-small", 2, ["0,0,0,,0,0"])  # never active: no rows
    _client(data / "reason" / "deepseek-r1", 3, ["600,2,1.1,Gamma,0.8,0.6"])
    (data / "offline").mkdir()
    (data / "offline" / "trace_a.jsonl").write_text("{}\n")  # not a client file: ignored
    out = tmp_path / "out" / "rates.csv.gz"
    assert derive(data, out) == (4, 4)
    with gzip.open(out, "rt", encoding="utf-8", newline="") as f:
        text = f.read()
    assert text.endswith("\r\n")
    rows = [r.split(",") for r in text.split("\r\n")[:-1]]
    assert tuple(rows[0]) == COLUMNS
    assert rows[1:] == [  # sorted path order (client "10" before "2"), values as given
        ["m-small", "0", "0", "1.5", "2.0", "Weibull", "0.4", "0.5"],
        ["m-small", "0", "1200", "0.25", "1.0", "Gamma", "1.0", "4.0"],
        ["m-small", "10", "600", "0.1", "3.0", "Gamma", "0.1", "100.0"],
        ["deepseek-r1", "3", "600", "2", "1.1", "Gamma", "0.8", "0.6"]]
    # the reader replays it
    from edge_cache_env.traces.servegen import parse_servegen
    tr = parse_servegen(out)
    assert sorted(tr.group_names) == ["deepseek-r1", "m-small"] and len(tr.t_s) == 4
    # deterministic output (no time stamp in the gzip header)
    again = tmp_path / "again.csv.gz"
    derive(data, again)
    assert again.read_bytes() == out.read_bytes()


@pytest.mark.parametrize("line, message", [
    ("0,1.0,2.0,Gamma,0.5", r"chunk-5-trace\.csv, line 2: 5 fields, expected 6"),
    ("0,fast,2.0,Gamma,0.5,1.0", r"line 2: rate 'fast' is not a number"),
    ("0,-1.0,2.0,Gamma,0.5,1.0", r"line 2: negative rate"),
    ("0,1.0,2.0,Pareto,0.5,1.0", r"line 2: pattern 'Pareto'"),
    ("0,1.0,2.0,Gamma,nan,1.0", r"line 2: param1 'nan' is not finite"),
    ("1.5,1.0,2.0,Gamma,0.5,1.0", r"line 2: timestamp '1.5'"),
])
def test_derive_servegen_names_file_and_line_of_a_malformed_line(tmp_path, line, message):
    data = tmp_path / "data"
    _client(data / "language" / "m-mid", 5, ["600,0,0,,0,0", line])
    with pytest.raises(DeriveError, match=message):
        derive(data, tmp_path / "o.csv.gz")


def test_derive_servegen_cli_errors(tmp_path, capsys):
    assert main([str(tmp_path / "missing"), str(tmp_path / "o.csv.gz")]) == 1
    assert "ServeGen data folder not found" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main([str(tmp_path / "empty"), str(tmp_path / "o.csv.gz")]) == 1
    assert "no client files" in capsys.readouterr().err
    _client(tmp_path / "d" / "language" / "m-mid", 1, ["0,1,1,Gamma,1,1"])
    assert main([str(tmp_path / "d"), str(tmp_path / "o.csv")]) == 0
    assert "1 windows with rate > 0 from 1 client files" in capsys.readouterr().out
    assert (tmp_path / "o.csv").read_text().startswith(",".join(COLUMNS))
