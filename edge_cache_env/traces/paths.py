"""Where trace files live, and the error that says which file is missing and where to get it.

The traces are data, not code: the project never ships them. A trace is found, in order, at
``trace_path`` (a file, or a folder holding the trace's own folder or its files); else, if the environment variable ``EDGE_PFM_TRACES``
is set, under the folder it names (only there); else under ``../shared/traces`` relative to the
working directory, then relative to the repository root.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

ENV_VAR = "EDGE_PFM_TRACES"
DEFAULT_ROOT = Path("..") / "shared" / "traces"
_REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class TraceFile:
    """One file a reader needs: its place in the traces folder and where to download it."""

    folder: str  # sub-folder of the traces root, e.g. "servegen"
    name: str  # file name, e.g. "servegen_client_rates.csv.gz"
    source: str  # URL (and path within it) of the original data

    @property
    def relative(self) -> Path:
        return Path(self.folder) / self.name


def trace_roots() -> list[Path]:
    """Candidate traces folders: the variable's folder if it is set, else the two defaults."""
    if os.environ.get(ENV_VAR):
        return [Path(os.environ[ENV_VAR]).expanduser()]
    return [Path.cwd() / DEFAULT_ROOT, _REPO_ROOT / DEFAULT_ROOT]


def resolve_trace_file(trace_path: str | None, needed: TraceFile, what: str) -> Path:
    """The file ``needed`` of trace ``what``; a clear ``FileNotFoundError`` if it is absent.

    ``trace_path`` may be the file itself, the traces root (holding ``needed.folder``) or the
    trace's own folder (holding ``needed.name``). Without it the roots of :func:`trace_roots`
    are searched.
    """
    if trace_path is not None:
        p = Path(trace_path).expanduser()
        if p.is_file():
            return p
        candidates = [p / needed.relative, p / needed.name]
    else:
        candidates = [root / needed.relative for root in trace_roots()]
    for c in candidates:
        if c.is_file():
            return c
    searched = ", ".join(str(c) for c in candidates)
    raise FileNotFoundError(
        f"{what} trace file {needed.relative} not found (searched: {searched}). "
        f"Download it from {needed.source}, then pass trace_path=<its file or folder> or set "
        f"{ENV_VAR}=<folder holding {needed.folder}/>.")
