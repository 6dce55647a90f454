"""Copy a run's best model into ``agents/pretrained/`` and record how to reproduce it.

    python -m training.release.ship_pretrained runs/maskable_ppo-EdgePFMCache-v0-seed0 [...]

For each run folder: ``best_model.zip`` (or, with ``--model selected``, the
``selected_model.zip`` of :mod:`training.release.select_checkpoint`) -> ``agents/pretrained/<algo>.zip`` (plus its
VecNormalize statistics when observations were normalised), and an entry in
``agents/pretrained/manifest.json`` with the exact train.py command lines, timesteps,
wall-clock time, the best held-out evaluation cost and the library versions, plus a
``reproduce`` command without the ``--max-minutes`` budget (see :func:`reproduce_command`).
"""

from __future__ import annotations

import argparse
import json
import pickle
import shlex
import shutil
import zipfile
from pathlib import Path

import yaml

from agents.trained import PRETRAINED_DIR


def _flag(arg: str) -> str:
    """``--flag`` of ``--flag`` or ``--flag=value``."""
    return arg.split("=", 1)[0] if arg.startswith("--") else arg


def reproduce_command(commands: list[str], legs: list[dict]) -> str | None:
    """The first command, without its wall-clock budget.

    Training is deterministic on the CPU for a given seed and step count, and evaluations (so
    the best model) happen at fixed steps, so this rebuilds the same model on any machine. The
    command keeps its ``--timesteps`` (a ``lin_`` schedule decays over exactly that many steps);
    a run stopped early, by its ``--max-minutes`` budget or by SIGINT/SIGTERM, gets
    ``--stop-after-steps`` = the steps it reached, where train.py stops it the same way.
    Resumed runs (several commands) have none: replay their commands in order.
    """
    if len(commands) != 1:
        return None
    last = legs[-1]
    stopped = bool(last.get("stopped_by_time_budget") or last.get("interrupted"))
    dropped = {"--max-minutes", *(["--stop-after-steps"] if stopped else [])}
    out, args = [], iter(shlex.split(commands[0]))
    for a in args:
        if a in dropped:
            next(args, None)  # its value
        elif _flag(a) not in dropped:
            out.append(a)
    if stopped:
        out += ["--stop-after-steps", str(last["end_timesteps"])]
    elif "--timesteps" not in map(_flag, out):
        out += ["--timesteps", str(last["end_timesteps"])]
    return shlex.join(out)


def copy_without_local_paths(source: Path, target: Path) -> None:
    """Copy an SB3 zip, dropping the training run's TensorBoard folder from its saved
    attributes: a path of the machine it was trained on (an absolute one once), meaningless in
    a clone. Nothing else changes (the policy's tensors are the same bytes)."""
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as out:
        for item in src.infolist():
            payload = src.read(item)
            if item.filename == "data":
                data = json.loads(payload)
                if data.get("tensorboard_log") is not None:
                    data["tensorboard_log"] = None
                    payload = json.dumps(data, indent=4).encode()
            out.writestr(item, payload)


def ship(run: Path, dest: Path = PRETRAINED_DIR, model: str = "best", name: str | None = None) -> dict:
    """Copy ``<run>/<model>_model.zip`` (``best`` or ``selected``) and record it in the manifest
    as ``<name>.zip`` (default: the algorithm's name, e.g. ``maskable_ppo.zip``)."""
    config = yaml.safe_load((run / "config.yml").read_text())
    legs = yaml.safe_load((run / "summary.yml").read_text())
    algo = config["algo"]
    name = name or algo
    source = run / f"{model}_model.zip"
    if not source.is_file():
        hint = " (run python -m training.release.select_checkpoint first)" if model == "selected" else ""
        raise FileNotFoundError(f"{run} has no {source.name}{hint}")
    selection = None
    if model == "selected":
        selection = json.loads((run / "selected.json").read_text())
    dest.mkdir(parents=True, exist_ok=True)
    copy_without_local_paths(source, dest / f"{name}.zip")
    norm = run / f"{model}_model_vecnormalize.pkl"
    stats = dest / f"{name}_vecnormalize.pkl"
    if stats.exists():
        stats.unlink()
    if norm.is_file():
        with norm.open("rb") as f:
            needs_obs_stats = pickle.load(f).norm_obs  # reward scaling is training-only
        if needs_obs_stats:
            shutil.copyfile(norm, stats)
    commands = (run / "command.txt").read_text().splitlines()
    entry = {
        "file": f"{name}.zip",
        "algo": algo,
        "env_id": config["env_id"],
        "env_kwargs": config["env_kwargs"],
        "commands": commands,
        "reproduce": reproduce_command(commands, legs),
        "timesteps": legs[-1]["end_timesteps"],
        "wall_clock_s": round(sum(leg["wall_s"] for leg in legs), 1),
        "best_eval_cost": legs[-1]["best_eval_cost"],
        "eval_seeds": config["seeds"]["eval_seeds"],
        "reference": legs[-1]["reference"],
        "reference_cost_on_eval_seeds": legs[-1]["reference_cost"],
        "hyperparams": config["hyperparams"],
        "versions": config["versions"],
        "commit": config.get("commit"),  # the code it was trained with (runs since this field)
        "vecnormalize": stats.name if stats.exists() else None,
        "zip_bytes": (dest / f"{name}.zip").stat().st_size,
    }
    if selection is not None:  # chosen after training on more evaluation episodes
        entry["selected"] = {
            "model": selection["selected"]["model"],
            "eval_seeds": selection["eval_seeds"],
            "mean_cost_on_eval_seeds": selection["selected"]["mean_cost"],
            "lc_mean_cost_on_eval_seeds": selection["lc_mean_cost"],
            "candidates": selection["candidates"],
            "command": selection["command"],
        }
    manifest_path = dest / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {"models": {}}
    manifest["models"][name] = entry
    manifest_path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return entry


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("runs", nargs="+", type=Path, help="train.py run folders")
    p.add_argument("--dest", type=Path, default=PRETRAINED_DIR)
    p.add_argument("--model", choices=("best", "selected"), default="best",
                   help="best_model.zip (training-time evaluation) or selected_model.zip "
                        "(python -m training.release.select_checkpoint)")
    p.add_argument("--name", default=None,
                   help="ship as <name>.zip and manifest key <name> (default: the algorithm; "
                        "'generalist' for agents.make('generalist'))")
    args = p.parse_args(argv)
    for run in args.runs:
        entry = ship(run, args.dest, args.model, args.name)
        print(f"{entry['file']}: {entry['timesteps']} steps, {entry['wall_clock_s']:.0f} s, "
              f"best eval cost {entry['best_eval_cost']:.1f}")


if __name__ == "__main__":
    main()
