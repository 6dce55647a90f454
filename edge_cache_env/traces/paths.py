"""Where trace files live, the integrity check of the shipped copies, and the errors that say
which file is missing (and where it was searched) or damaged.

The three public traces ship with the package, gzip-compressed, under
``edge_cache_env/data/traces/<folder>/`` (see that folder's README.md and each trace's
NOTICE.md), with a checksum manifest ``SHA256SUMS``. A trace file is found, in order:

1. ``trace_path`` (the config field ``workload.trace_path``): the file itself, or a folder
   holding the trace's own folder or its files;
2. else, if the environment variable ``EDGE_PFM_TRACES`` is set, the folder it names
   (holding ``<folder>/<file>``);
3. else the shipped copy.

An explicit place (``trace_path`` or ``EDGE_PFM_TRACES``) that lacks the file is an error
naming every path searched; it never falls back silently to other data. In every place a file
may be stored as given (``conversation_trace.jsonl``) or gzip-compressed (``... .jsonl.gz``);
the readers read both. A shipped file is checked against ``SHA256SUMS`` the first time a
process uses it: a missing or corrupted copy raises :class:`TraceDataError` naming it.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import zlib
from dataclasses import dataclass
from pathlib import Path

ENV_VAR = "EDGE_PFM_TRACES"
DATA_DIR = Path(__file__).resolve().parents[1] / "data" / "traces"  # the shipped traces
MANIFEST = DATA_DIR / "SHA256SUMS"  # "<sha256>  <path relative to DATA_DIR>" per shipped file


class TraceDataError(OSError):
    """A trace file cannot be read at all (damaged gzip, checksum mismatch); names the file."""


@dataclass(frozen=True)
class TraceFile:
    """One file a reader needs: its place in a traces folder and where to download it."""

    folder: str  # sub-folder of the traces root, e.g. "servegen"
    name: str  # file name, e.g. "servegen_client_rates.csv.gz"
    source: str  # URL (and path within it) of the original data

    @property
    def relative(self) -> Path:
        return Path(self.folder) / self.name

    def names(self) -> list[str]:
        """The accepted file names: as given, and gzip-compressed (or uncompressed)."""
        if self.name.endswith(".gz"):
            return [self.name, self.name[:-3]]
        return [self.name, self.name + ".gz"]


def trace_roots() -> list[Path]:
    """The traces folders searched when no ``trace_path`` is given: ``$EDGE_PFM_TRACES`` if it
    is set (only that one), else the shipped data folder."""
    if os.environ.get(ENV_VAR):
        return [Path(os.environ[ENV_VAR]).expanduser()]
    return [DATA_DIR]


def resolve_trace_file(trace_path: str | os.PathLike | None, needed: TraceFile, what: str) -> Path:
    """The file ``needed`` of trace ``what``; a clear ``FileNotFoundError`` if it is absent.

    ``trace_path`` may be the file itself, the traces root (holding ``needed.folder``) or the
    trace's own folder (holding the file). Without it the folder of :func:`trace_roots` is
    searched. A shipped file is verified against the manifest (once per process).
    """
    if trace_path is not None:
        p = Path(trace_path).expanduser()
        if p.is_file():
            return p
        candidates = ([p / needed.folder / n for n in needed.names()]
                      + [p / n for n in needed.names()])
        where = f"trace_path={str(trace_path)!r}"
    else:
        candidates = [root / needed.folder / n for root in trace_roots() for n in needed.names()]
        where = (f"{ENV_VAR}={os.environ[ENV_VAR]!r}" if os.environ.get(ENV_VAR)
                 else "the data shipped with the package")
    for c in candidates:
        if c.is_file():
            if trace_path is None and not os.environ.get(ENV_VAR):
                verify_shipped(c)
            return c
    searched = ", ".join(str(c) for c in candidates)
    if trace_path is None and not os.environ.get(ENV_VAR):
        hint = (f"The package's data is incomplete: reinstall it, or download the file from "
                f"{needed.source} and pass trace_path=<its file or folder>.")
    else:
        hint = (f"Download it from {needed.source}, then pass trace_path=<its file or folder> or "
                f"set {ENV_VAR}=<folder holding {needed.folder}/>; unset both to use the data "
                f"shipped with the package.")
    raise FileNotFoundError(f"{what} trace file {needed.relative} not found in {where} "
                            f"(searched: {searched}). {hint}")


# ------------------------------------------------------------------ checksums of the shipped data
def read_manifest(manifest: Path | None = None) -> dict[str, str]:
    """``{relative path: sha256}`` from a ``sha256sum``-format manifest (default: the shipped one)."""
    manifest = MANIFEST if manifest is None else manifest
    if not manifest.is_file():
        raise TraceDataError(f"checksum manifest not found: {manifest} (the package's data is "
                             f"incomplete: reinstall it)")
    out: dict[str, str] = {}
    for no, line in enumerate(manifest.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        digest, sep, name = line.partition("  ")
        if not sep or len(digest) != 64:
            raise TraceDataError(f"{manifest}, line {no}: expected '<sha256>  <path>', got {line!r}")
        out[name.strip().lstrip("*")] = digest.lower()
    return out


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def check_file(path: Path, expected: str, manifest: Path | None = None) -> None:
    """Raise :class:`TraceDataError` if ``path`` is missing or its SHA-256 differs."""
    manifest = MANIFEST if manifest is None else manifest
    if not path.is_file():
        raise TraceDataError(f"shipped trace file not found: {path} (listed in {manifest}; "
                             f"the package's data is incomplete: reinstall it)")
    got = sha256_file(path)
    if got != expected:
        raise TraceDataError(f"checksum mismatch for shipped trace file {path}: SHA-256 {got}, "
                             f"expected {expected} (from {manifest}); the file is damaged or was "
                             f"edited: reinstall the package or restore the file")


_VERIFIED: dict[str, tuple[int, int]] = {}  # path -> (mtime_ns, size) when it last passed


def verify_shipped(path: Path) -> None:
    """Check a shipped file against the manifest, once per process (again if it changes)."""
    st = path.stat()
    key, stamp = str(path.resolve()), (st.st_mtime_ns, st.st_size)
    if _VERIFIED.get(key) == stamp:
        return
    rel = path.resolve().relative_to(DATA_DIR.resolve()).as_posix()
    manifest = read_manifest()
    if rel not in manifest:
        raise TraceDataError(f"shipped trace file {path} is not listed in {MANIFEST}")
    check_file(path, manifest[rel])
    _VERIFIED[key] = stamp


def verify_all(manifest: Path | None = None) -> list[Path]:
    """Check every file listed in the manifest; returns their paths (raises on the first bad)."""
    manifest = MANIFEST if manifest is None else manifest
    paths = []
    for rel, digest in read_manifest(manifest).items():
        p = manifest.parent / rel
        check_file(p, digest, manifest)
        paths.append(p)
    return paths


# ------------------------------------------------------------------ reading (plain or gzip)
def read_trace_text(path: Path) -> str:
    """The text of a trace file, gunzipped if its name ends in ``.gz``.

    A damaged gzip, a file that is not UTF-8 text or an unreadable file raises
    :class:`TraceDataError` naming the file (not a traceback from deep in gzip).
    """
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rt", encoding="utf-8") as f:
                return f.read()
        with open(path, encoding="utf-8") as f:
            return f.read()
    except (EOFError, zlib.error, gzip.BadGzipFile) as e:
        raise TraceDataError(f"{path}: damaged or truncated gzip file ({e or type(e).__name__}); "
                             f"re-download it (or reinstall the package for a shipped file)") from None
    except UnicodeDecodeError as e:
        data = e.object if isinstance(e.object, bytes) else b""
        if path.suffix != ".gz" and data[:2] == b"\x1f\x8b":
            raise TraceDataError(f"{path}: the file is gzip-compressed; name it *.gz") from None
        line = data[:e.start].count(b"\n") + 1
        hint = "" if path.suffix == ".gz" else " (save it as UTF-8; a gzip file must be named *.gz)"
        raise TraceDataError(f"{path}, line {line}: not UTF-8 text at byte {e.start}{hint}") from None
    except FileNotFoundError:
        raise
    except OSError as e:
        raise TraceDataError(f"{path}: cannot be read ({e.strerror or e})") from None
