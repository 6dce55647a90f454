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
from collections import defaultdict
from pathlib import Path
from typing import Any

from agents.trained import PRETRAINED_DIR
from training.release.run_files import missing_fields, read_commands, read_config, read_legs
from training.run_folder import RunFolderError, atomic_path, save_atomic, write_atomic


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
    Resumed runs (several commands) have none: replay their commands in order, a leg that
    stopped early with ``--stop-after-steps`` = its own steps (a leg counts from its start).
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


# What the manifest entry takes from config.yml and from each leg of summary.yml.
CONFIG_FIELDS = ("algo", "env_id", "env_kwargs", "hyperparams", "seeds.eval_seeds", "versions")
LEG_FIELDS = ("end_timesteps", "wall_s", "best_eval_cost", "reference", "reference_cost")
SELECTION_FIELDS = ("selected.model", "selected.mean_cost", "eval_seeds", "lc_mean_cost", "candidates",
                    "command")


def read_run(run: Path, model: str = "best") -> dict[str, Any]:
    """Everything :func:`ship` takes from a run folder, checked before anything is copied: a
    missing or damaged file is a :class:`RunFolderError` naming it."""
    found: dict[str, Any] = {"config": read_config(run, CONFIG_FIELDS), "legs": read_legs(run, LEG_FIELDS),
                             "commands": read_commands(run), "selection": None, "norm_obs": False}
    source = found["source"] = run / f"{model}_model.zip"
    if not source.is_file():
        hint = " (run python -m training.release.select_checkpoint first)" if model == "selected" else ""
        raise RunFolderError(f"{run} has no {source.name}{hint}")
    if not zipfile.is_zipfile(source):
        raise RunFolderError(f"{source} is damaged: not a zip")
    if model == "selected":
        path = run / "selected.json"
        try:
            found["selection"] = selection = json.loads(path.read_text())
        except (OSError, ValueError) as e:
            raise RunFolderError(f"{path} is missing or damaged ({type(e).__name__}: {e})") from None
        missing = missing_fields(selection, SELECTION_FIELDS)
        if missing:
            raise RunFolderError(f"{path} is damaged: no {', '.join(missing)}")
    norm = found["norm"] = run / f"{model}_model_vecnormalize.pkl"
    if norm.is_file():
        try:
            with norm.open("rb") as f:
                found["norm_obs"] = bool(pickle.load(f).norm_obs)  # reward scaling is training-only
        except (pickle.UnpicklingError, EOFError, AttributeError, ValueError, ImportError) as e:
            raise RunFolderError(f"{norm} is damaged ({type(e).__name__}: {e})") from None
    return found


def load_manifest(dest: Path) -> dict[str, Any]:
    """``<dest>/manifest.json`` (empty if there is none yet); a damaged one is an error naming it."""
    path = dest / "manifest.json"
    if not path.exists():
        return {"models": {}}
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise ValueError(f"{path} is not readable JSON ({e})") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("models"), dict):
        raise ValueError(f"{path} is damaged: no \"models\" object")
    return manifest


def ship(run: Path, dest: Path = PRETRAINED_DIR, model: str = "best", name: str | None = None) -> dict:
    """Copy ``<run>/<model>_model.zip`` (``best`` or ``selected``) and record it in the manifest
    as ``<name>.zip`` (default: the algorithm's name, e.g. ``maskable_ppo.zip``). Every file is
    checked first and written whole (a temporary file renamed into place)."""
    found = read_run(run, model)
    manifest = load_manifest(dest)
    config, legs, selection = found["config"], found["legs"], found["selection"]
    algo = config["algo"]
    name = name or algo
    dest.mkdir(parents=True, exist_ok=True)
    with atomic_path(dest / f"{name}.zip") as tmp:
        copy_without_local_paths(found["source"], tmp)
    stats = dest / f"{name}_vecnormalize.pkl"
    if found["norm_obs"]:
        save_atomic(stats, lambda tmp: shutil.copyfile(found["norm"], tmp))
    else:
        stats.unlink(missing_ok=True)
    commands = found["commands"]
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
    manifest["models"][name] = entry
    write_atomic(dest / "manifest.json", json.dumps(manifest, indent=2, sort_keys=True) + "\n")
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
    if args.name is not None and (not args.name or Path(args.name).name != args.name):
        p.error(f"--name: {args.name!r} is not a plain file name")
    from evaluation.validate import check_out

    try:
        check_out(str(args.dest), "--dest")
    except SystemExit as e:
        p.error(str(e))
    runs = list({run.resolve(): run for run in args.runs}.values())  # a run given twice: once
    shipped_as: dict[str, list[Path]] = defaultdict(list)
    try:  # every run and the manifest checked before anything is copied
        for run in runs:
            shipped_as[args.name or read_run(run, args.model)["config"]["algo"]].append(run)
        load_manifest(args.dest)
    except ValueError as e:
        p.error(str(e))
    clashes = [f"{', '.join(map(str, clash))} would all ship as {name}.zip (manifest entry {name!r})"
               for name, clash in shipped_as.items() if len(clash) > 1]
    if clashes:
        p.error("; ".join(clashes) + ": each would overwrite the one before; ship them one at a "
                "time, each with its own --name")
    for run in runs:
        entry = ship(run, args.dest, args.model, args.name)
        best = entry["best_eval_cost"]
        print(f"{entry['file']}: {entry['timesteps']} steps, {entry['wall_clock_s']:.0f} s, "
              f"best eval cost {'none' if best is None else f'{best:.1f}'}")


if __name__ == "__main__":
    main()
