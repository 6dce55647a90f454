"""Rebuild a shipped model from its manifest's ``reproduce`` command and compare it with the
shipped file, weight by weight.

    python -m training.release.verify_pretrained generalist [--workdir DIR]

Training is deterministic for a seed and a step count on one machine and library stack, so
the ``reproduce`` command of ``agents/pretrained/manifest.json`` rebuilds the shipped network bit
for bit there (on another machine the results, not always the bits: README, "To check a shipped
model"). This runs it (``--out`` redirected to ``--workdir``),
takes the run's model the shipped file came from (``best_model``, or the one
:mod:`training.release.select_checkpoint` chose) and compares every tensor of the policy (and
the VecNormalize statistics, if shipped). It writes ``verify.json`` into the rebuilt run and
exits 0 if every tensor is identical, 1 if not. It takes as long as the original training
(``wall_clock_s`` in the manifest).
"""

from __future__ import annotations

import argparse
import io
import json
import pickle
import shlex
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from agents.trained import PRETRAINED_DIR, vecnormalize_path

_PREFIX = ["python", "train.py"]


def fail(message: str) -> None:
    print(f"verify_pretrained: error: {message}", file=sys.stderr)
    raise SystemExit(2)


def manifest_entry(name: str, directory: Path) -> dict[str, Any]:
    """The manifest's entry for ``name``, with a reproduce command (else a clear error)."""
    path = directory / "manifest.json"
    if not path.is_file():
        fail(f"{path} does not exist")
    from training.release.ship_pretrained import load_manifest

    try:
        models = load_manifest(directory)["models"]
    except ValueError as e:
        fail(str(e))
    if name not in models:
        fail(f"no shipped model {name!r} in {path}; shipped: {', '.join(sorted(models))}")
    entry = models[name]
    if not isinstance(entry, dict) or not isinstance(entry.get("file"), str):
        fail(f"{path} is damaged: the entry {name!r} names no \"file\"")
    if not entry.get("reproduce"):
        fail(f"{name!r} has no reproduce command (a resumed run): replay its commands in order, "
             f"each leg that stopped early (summary.yml: stopped_by_time_budget, interrupted) "
             f"without --max-minutes and with --stop-after-steps <its end_timesteps - "
             f"start_timesteps>: " + " ; ".join(entry.get("commands", [])))
    return entry


def reproduce_argv(command: str, out: Path | None = None) -> list[str]:
    """train.py's arguments of ``command`` (``python train.py ...``), with ``--out`` set to
    ``out`` if given."""
    args = shlex.split(command)
    if args[:2] != _PREFIX:
        fail(f"reproduce command does not start with {' '.join(_PREFIX)!r}: {command}")
    args = args[2:]
    if out is None:
        return args
    if "--out" in args:
        i = args.index("--out")
        args[i + 1] = str(out)
    else:
        args += ["--out", str(out)]
    return args


def source_label(entry: dict[str, Any]) -> str:
    """Which model of the run was shipped: the selection's, else the best model."""
    return entry.get("selected", {}).get("model", "best_model")


def run_model(run: Path, label: str) -> Path:
    """``<run>/<label>.zip``; checkpoints (``ckpt_<N>_steps``) live in ``<run>/checkpoints``."""
    folder = run / "checkpoints" if label.startswith("ckpt_") else run
    return folder / f"{label}.zip"


def _policy_tensors(path: Path) -> dict[str, np.ndarray]:
    import torch

    with zipfile.ZipFile(path) as z:
        state = torch.load(io.BytesIO(z.read("policy.pth")), map_location="cpu", weights_only=True)
    return {k: v.numpy() for k, v in state.items()}


def _normalizer_arrays(model: Path) -> dict[str, np.ndarray]:
    stats = vecnormalize_path(model)
    if not stats.is_file():
        return {}
    with stats.open("rb") as f:
        state = pickle.load(f).__dict__  # unpickled without its env: read its fields directly
    if not state.get("norm_obs"):  # reward scaling is training-only: never shipped
        return {}
    rms = state["obs_rms"]
    return {"obs_rms.mean": np.asarray(rms.mean), "obs_rms.var": np.asarray(rms.var)}


def compare(shipped: Path, rebuilt: Path) -> dict[str, Any]:
    """Tensor by tensor: the policy weights, then the VecNormalize statistics if either has them."""
    a = {**_policy_tensors(shipped), **_normalizer_arrays(shipped)}
    b = {**_policy_tensors(rebuilt), **_normalizer_arrays(rebuilt)}
    differing = sorted(k for k in a.keys() & b.keys()
                       if a[k].shape != b[k].shape or not np.array_equal(a[k], b[k]))
    max_diff = max((float(np.max(np.abs(a[k] - b[k]))) for k in differing if a[k].shape == b[k].shape),
                   default=0.0)
    only = sorted(a.keys() ^ b.keys())
    return {"identical": not differing and not only, "tensors": len(a.keys() & b.keys()),
            "differing": differing, "only_in_one": only, "max_abs_diff": max_diff}


def version_differences(entry: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """Libraries (and the code's commit, where the manifest records it) that differ here from
    what the model was trained with."""
    from training.cli import code_commit, versions

    now = versions()
    changed = {k: (v, now.get(k, "missing")) for k, v in entry.get("versions", {}).items()
               if now.get(k) != v}
    commit = code_commit() if entry.get("commit") else None
    if commit != entry.get("commit"):
        changed["code commit"] = (entry["commit"], commit or "unknown")
    return changed


def verify(name: str, directory: Path = PRETRAINED_DIR, workdir: Path | None = None) -> dict[str, Any]:
    """Rebuild ``name`` in ``workdir`` (default: a new temporary folder) and compare it."""
    entry = manifest_entry(name, directory)
    shipped = directory / entry["file"]
    if not shipped.is_file():
        fail(f"{shipped} does not exist")
    reproduce_argv(entry["reproduce"])  # a train.py command: checked before any folder
    workdir = Path(tempfile.mkdtemp(prefix=f"verify-{name}-")) if workdir is None else workdir
    argv = reproduce_argv(entry["reproduce"], workdir)
    changed = version_differences(entry)
    for lib, (then, now) in changed.items():
        print(f"verify_pretrained: warning: {lib} {now} here, {then} when {name} was trained: "
              "the weights may differ", file=sys.stderr)
    from training import cli as train

    print(f"rebuilding {name}: python train.py {shlex.join(argv)}", flush=True)
    start = time.perf_counter()
    run = train.main(argv)
    seconds = time.perf_counter() - start
    label = source_label(entry)
    rebuilt = run_model(run, label)
    if not rebuilt.is_file():
        fail(f"the rebuilt run {run} has no {rebuilt.name} (the shipped model was its {label!r})")
    record = {"name": name, "shipped": str(shipped), "rebuilt": str(rebuilt), "model": label,
              "seconds": round(seconds, 1), "manifest_wall_clock_s": entry.get("wall_clock_s"),
              "version_differences": {k: list(v) for k, v in changed.items()},
              **compare(shipped, rebuilt)}
    (run / "verify.json").write_text(json.dumps(record, indent=2) + "\n")
    verdict = "identical" if record["identical"] else (
        f"DIFFERENT: {len(record['differing'])} of {record['tensors']} tensors differ "
        f"(max |diff| {record['max_abs_diff']:.3g})" + (f"; only in one: {record['only_in_one']}"
                                                          if record["only_in_one"] else ""))
    print(f"{name}: {rebuilt} vs {shipped}: {verdict} ({seconds:.0f} s; the manifest's run took "
          f"{entry.get('wall_clock_s')} s)")
    return record


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("name", help="a model of the manifest, e.g. generalist, maskable_ppo, ppo, dqn")
    p.add_argument("--dir", type=Path, default=PRETRAINED_DIR,
                   help="folder of manifest.json and the shipped zips (default agents/pretrained)")
    p.add_argument("--workdir", type=Path, default=None,
                   help="where the rebuilt run goes (default: a new temporary folder)")
    args = p.parse_args(argv)
    if args.workdir is not None:
        from evaluation.validate import check_out

        try:
            check_out(str(args.workdir), "--workdir")
        except SystemExit as e:
            fail(str(e))
    record = verify(args.name, args.dir, args.workdir)
    if not record["identical"]:
        raise SystemExit(1)
    return record


if __name__ == "__main__":
    main()
