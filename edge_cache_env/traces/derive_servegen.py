"""Re-derive the ServeGen per-client rates file from ServeGen's released per-client files.

Usage::

    python -m edge_cache_env.traces.derive_servegen SERVEGEN_DATA_DIR OUT.csv.gz

``SERVEGEN_DATA_DIR`` is the ``data`` folder of a clone of https://github.com/alibaba/ServeGen:
it holds ``<category>/<model_group>/chunk-<client>-trace.csv`` (e.g.
``language/m-mid/chunk-7-trace.csv``), one file per client. Each such file has no header and
one 10-minute window a line, as ServeGen's ``clientpool.py`` reads it::

    timestamp,rate,cv,pattern,param1,param2
    0,1.3316666666666668,8.598383725990791,Weibull,0.3753486140101707,0.3967677807107179
    600,0,0,,0,0

(``timestamp``: window start in seconds; ``rate``: requests per second, 0 for a window without
traffic, whose ``pattern`` is empty; ``pattern``: ``Gamma`` or ``Weibull``, the fitted
inter-arrival distribution with shape ``param1`` and scale ``param2``.)

What it does (see ``edge_cache_env/data/traces/servegen/NOTICE.md``): reads every client file,
in sorted path order (groups: ``language/m-large``, ``m-mid``, ``m-small``,
``multimodal/mm-image``, ``reason/deepseek-r1``; clients in file-name order), drops the windows
with rate 0 and writes the rest, values exactly as given, to one CSV (gzip if ``OUT`` ends in
``.gz``; CRLF line ends) with the columns ``model_group, client, t_seconds, rate_rps, cv,
pattern, param1, param2``. Run on ServeGen's released data, the gunzipped output is
byte-identical to the shipped ``servegen_client_rates.csv.gz``.

A missing folder, a folder without client files, or a malformed line (wrong number of fields,
a value that is not a number, a negative rate, an unknown pattern) stops with a message naming
the file and line.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import math
import re
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

COLUMNS = ("model_group", "client", "t_seconds", "rate_rps", "cv", "pattern", "param1", "param2")
INPUT_COLUMNS = ("timestamp", "rate", "cv", "pattern", "param1", "param2")
PATTERNS = ("Gamma", "Weibull")
CLIENT_FILE = re.compile(r"chunk-(\d+)-trace\.csv")


class DeriveError(ValueError):
    """The input folder or one of its files cannot be used; the message names it (and the line)."""


def client_files(data_dir: Path) -> list[tuple[str, int, Path]]:
    """``(model_group, client, path)`` of every ``<category>/<group>/chunk-<client>-trace.csv``,
    in sorted path order."""
    if not data_dir.is_dir():
        raise DeriveError(f"ServeGen data folder not found: {data_dir} (expected the 'data' folder "
                          f"of a clone of https://github.com/alibaba/ServeGen, holding "
                          f"<category>/<model_group>/chunk-<client>-trace.csv)")
    found = sorted(data_dir.glob("*/*/chunk-*-trace.csv"), key=lambda p: p.as_posix())
    out = []
    for p in found:
        m = CLIENT_FILE.fullmatch(p.name)
        if m is None:  # e.g. chunk-x-trace.csv
            raise DeriveError(f"{p}: cannot read the client id from the file name (expected "
                              f"chunk-<integer>-trace.csv)")
        out.append((p.parent.name, int(m.group(1)), p))
    if not out:
        raise DeriveError(f"{data_dir}: no client files <category>/<model_group>/"
                          f"chunk-<client>-trace.csv found (is it ServeGen's 'data' folder?)")
    return out


def _number(path: Path, no: int, name: str, value: str) -> float:
    try:
        x = float(value)
    except ValueError:
        raise DeriveError(f"{path}, line {no}: {name} {value!r} is not a number") from None
    if not math.isfinite(x):
        raise DeriveError(f"{path}, line {no}: {name} {value!r} is not finite")
    return x


def windows(path: Path) -> Iterator[tuple[str, ...]]:
    """The windows with rate > 0 of one client file: ``(t, rate, cv, pattern, p1, p2)`` as given."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise DeriveError(f"{path}: not UTF-8 text (byte {e.start})") from None
    for no, line in enumerate(text.split("\n"), start=1):
        line = line.strip()
        if not line:
            continue
        fields = [f.strip() for f in line.split(",")]
        if len(fields) != len(INPUT_COLUMNS):
            raise DeriveError(f"{path}, line {no}: {len(fields)} fields, expected "
                              f"{len(INPUT_COLUMNS)} ({','.join(INPUT_COLUMNS)}): {line!r}")
        t, rate, cv, pattern, p1, p2 = fields
        if not t.isdigit():
            raise DeriveError(f"{path}, line {no}: timestamp {t!r} is not a whole number of seconds")
        r = _number(path, no, "rate", rate)
        if r < 0:
            raise DeriveError(f"{path}, line {no}: negative rate {rate!r}")
        if r == 0:
            continue  # a window without traffic
        _number(path, no, "cv", cv)
        if pattern not in PATTERNS:
            raise DeriveError(f"{path}, line {no}: pattern {pattern!r} is not one of "
                              f"{list(PATTERNS)} (rate {rate} > 0)")
        _number(path, no, "param1", p1)
        _number(path, no, "param2", p2)
        yield t, rate, cv, pattern, p1, p2


def derive(data_dir: Path, out: Path) -> tuple[int, int]:
    """Write the combined file; returns (client files read, windows written)."""
    files = client_files(data_dir)
    buf = io.StringIO()
    writer = csv.writer(buf)  # CRLF line ends, as the shipped file
    writer.writerow(COLUMNS)
    rows = 0
    for group, client, path in files:
        for w in windows(path):
            writer.writerow((group, client, *w))
            rows += 1
    data = buf.getvalue().encode("utf-8")
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".gz":
        with open(out, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw,
                                                   compresslevel=9, mtime=0) as f:
            f.write(data)
    else:
        out.write_bytes(data)
    return len(files), rows


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m edge_cache_env.traces.derive_servegen",
        description="Combine ServeGen's per-client files (data/<category>/<model_group>/"
                    "chunk-<client>-trace.csv) into the per-client rates file the ServeGen "
                    "reader replays (windows with rate 0 dropped).")
    ap.add_argument("data_dir", type=Path, help="ServeGen's data folder")
    ap.add_argument("out", type=Path, help="output CSV (gzip if it ends in .gz), e.g. "
                                           "servegen_client_rates.csv.gz")
    args = ap.parse_args(argv)
    try:
        n_files, n_rows = derive(args.data_dir, args.out)
    except DeriveError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"{args.out}: {n_rows} windows with rate > 0 from {n_files} client files")
    return 0


if __name__ == "__main__":
    sys.exit(main())
