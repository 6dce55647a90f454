"""The run folder of ``train.py``: its layout, its records, and the bookkeeping of resumes.

Layout of ``<out>/<algo>-<env>-seed<S>/``: ``model.zip`` (last), ``best_model.zip``,
``checkpoints/ckpt_<N>_steps.zip`` (+ ``ckpt_vecnormalize_<N>_steps.pkl``,
``ckpt_replay_buffer_<N>_steps.pkl``), ``config.yml`` (first leg's resolved settings),
``args.yml`` / ``args_resume<K>.yml``, ``command.txt`` (one line per leg that started
training), ``eval_log.csv``, ``evaluations.npz``, ``monitor/`` (``monitor/resume<K>/`` for
later legs), ``summary.yml``, ``demonstrations.npz`` (DQN warm start), ``tb/``.

Records are written only once a leg is ready to train, so a rejected command or a leg that
fails while being set up leaves the folder as it was. Every file of train.py's own is written
to a temporary name and renamed into place (``eval_log.csv`` too: each evaluation rewrites it
whole), so a kill at any moment leaves either the old or the new file. Files that others append
to (SB3's ``monitor/`` CSVs, TensorBoard's ``tb/``) may end in a cut-off line; a resume drops
such a line from an ``eval_log.csv`` written by an older version.
Light: no torch or SB3 here.
"""

from __future__ import annotations

import csv
import json
import math
import os
import re
import shlex
import time
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

CHECKPOINT = re.compile(r"^ckpt_(\d+)_steps\.zip$")
TEMPORARY = re.compile(r"^\..+\.tmp(\d+)(\.[^.]+)?$")  # atomic_path's names: .<stem>.tmp<pid><suffix>


class RunFolderError(ValueError):
    """The run folder cannot be used as asked; the message names the folder or file."""


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A temporary path next to ``path`` (same suffix) that is renamed onto ``path`` on success."""
    tmp = path.with_name(f".{path.stem}.tmp{os.getpid()}{path.suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    """Whether process ``pid`` exists (a reused pid counts as alive: its file is kept)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by another user
        pass
    return True


def write_atomic(path: Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def save_atomic(path: Path, save: Callable[[Path], Any]) -> None:
    """``save(tmp)`` then rename: for SB3's ``model.save`` / ``VecNormalize.save`` / buffers."""
    with atomic_path(path) as tmp:
        save(tmp)


def write_text_atomic(path: Path, text: str) -> None:
    """``text`` as is (no newline translation: a CSV keeps its ``\\r\\n``), atomically."""
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        f.write(text)


def repaired_log(path: Path, max_timesteps: int) -> tuple[str, list[str]] | None:
    """``eval_log.csv`` fit to resume at step ``max_timesteps``: ``(text, what was dropped)``, or
    None if it needs no change. Dropped: a last line cut off by a kill (no line end), rows with
    another number of fields than the header (such a line glued to a later row), rows whose
    step is not a number, and rows after ``max_timesteps`` (a resume from an older checkpoint)."""
    with open(path, newline="", errors="replace") as f:
        raw = f.read()
    lines = raw.splitlines(keepends=True)
    dropped = []
    if lines and not lines[-1].endswith("\n"):
        dropped.append(f"line {len(lines)}: cut off (no line end)")
        lines = lines[:-1]
    if not lines:
        return ("", dropped) if dropped else None
    header = next(csv.reader([lines[0]]), [])
    if "timesteps" not in header:
        return ("", [*dropped, "line 1: not eval_log.csv's header"])
    column = header.index("timesteps")
    keep = [lines[0]]
    for number, line in enumerate(lines[1:], start=2):
        row = next(csv.reader([line]), [])
        if len(row) != len(header):
            dropped.append(f"line {number}: {len(row)} fields, not {len(header)}")
            continue
        try:
            step = int(row[column])
        except ValueError:
            dropped.append(f"line {number}: timesteps {row[column]!r} is not a number")
            continue
        if step > max_timesteps:
            dropped.append(f"line {number}: step {step}, after the resume's {max_timesteps}")
            continue
        keep.append(line)
    return ("".join(keep), dropped) if dropped else None


def model_steps(path: Path) -> int | None:
    """Training steps of a saved model: ``ckpt_<N>_steps.zip`` -> N; otherwise the
    ``num_timesteps`` in the zip's ``data`` (SB3's format; read without SB3); None if unreadable."""
    m = CHECKPOINT.match(path.name)
    if m:
        return int(m.group(1))
    try:
        with zipfile.ZipFile(path) as z:
            steps = json.loads(z.read("data"))["num_timesteps"]
    except (OSError, KeyError, ValueError, TypeError, zipfile.BadZipFile):
        return None
    return steps if isinstance(steps, int) and not isinstance(steps, bool) and steps >= 0 else None


@dataclass(frozen=True)
class RunFolder:
    path: Path

    # ------------------------------------------------------------------ layout
    @property
    def commands(self) -> Path:
        return self.path / "command.txt"

    @property
    def config_file(self) -> Path:
        return self.path / "config.yml"

    @property
    def summary_file(self) -> Path:
        return self.path / "summary.yml"

    @property
    def checkpoints(self) -> Path:
        return self.path / "checkpoints"

    @property
    def model(self) -> Path:
        return self.path / "model.zip"

    @property
    def demonstrations(self) -> Path:
        return self.path / "demonstrations.npz"

    def monitor_dir(self, resume_index: int) -> Path:
        """Each leg its own monitor files (a later leg must not overwrite the first's episodes)."""
        base = self.path / "monitor"
        return base if resume_index == 0 else base / f"resume{resume_index}"

    def model_candidates(self) -> list[Path]:
        """``model.zip`` and the checkpoints, most training steps first (a leg may have been
        killed after a checkpoint): a checkpoint's steps from its name, model.zip's from the
        ``num_timesteps`` it stores; not file times, which a ``touch`` or a copy changes. At equal
        steps model.zip comes first (a leg's final save), then the newer file; a model.zip
        whose steps cannot be read is tried first, so that the resume names its damage."""
        found = [p for p in [self.model, *self.checkpoints.glob("ckpt_*_steps.zip")]
                 if p.is_file() and (p == self.model or CHECKPOINT.match(p.name))]

        def key(p: Path) -> tuple[float, bool, int]:
            steps = model_steps(p)
            return (math.inf if steps is None else steps, p == self.model, p.stat().st_mtime_ns)

        return sorted(found, key=key, reverse=True)

    # ------------------------------------------------------------------ state
    def has_trained(self) -> bool:
        """True once any leg saved a model (the folder can then only be resumed)."""
        return bool(self.model_candidates())

    def exists(self) -> bool:
        return self.path.exists() and any(self.path.iterdir())

    def check_new(self) -> None:
        if self.path.exists() and not self.path.is_dir():
            raise RunFolderError(f"run folder {self.path} is a file")
        if self.has_trained():
            raise RunFolderError(f"run folder {self.path} already holds a trained model; pass "
                                 f"--resume to continue it or choose --out/--run-name")

    def set_aside_untrained(self) -> Path | None:
        """Move the files of a first leg that never saved a model into ``abandoned-<time>/``.

        Such a folder (a leg killed or failed before its first checkpoint) would otherwise be
        a dead end: no model to resume, and "already exists" for a fresh run.
        """
        if not self.exists():
            return None
        dest = self.path / time.strftime("abandoned-%Y%m%dT%H%M%S")
        dest.mkdir()
        for p in self.path.iterdir():
            if p != dest and not p.name.startswith("abandoned-"):
                p.rename(dest / p.name)
        return dest

    def resume_index(self) -> int:
        """Index of the next leg: the number of legs that started training."""
        if not self.commands.is_file():
            return 0
        return len([line for line in self.commands.read_text().splitlines() if line.strip()])

    def stored_config(self) -> dict[str, Any]:
        """``config.yml`` of the first leg, checked to be readable and complete."""
        if not self.commands.is_file() or not self.config_file.is_file():
            raise RunFolderError(f"--resume: {self.path} is not a run folder (no command.txt / "
                                 f"config.yml)")
        if not self.has_trained():
            raise RunFolderError(f"--resume: {self.path} holds no model.zip or checkpoint (its first "
                                 f"leg stopped before saving one); run again without --resume to "
                                 f"start it over")
        try:
            stored = yaml.safe_load(self.config_file.read_text())
        except (yaml.YAMLError, UnicodeDecodeError) as e:
            raise RunFolderError(f"--resume: {self.config_file} is not readable YAML ({e})") from None
        required = ("algo", "env_id", "env_kwargs", "hyperparams", "n_envs")
        if not isinstance(stored, dict) or any(k not in stored for k in required):
            raise RunFolderError(f"--resume: {self.config_file} is damaged: needs keys {list(required)}")

        def bad(field: str, must: str) -> RunFolderError:
            value = stored[field] if field in stored else stored["seeds"].get(field.partition(".")[2])
            return RunFolderError(f"--resume: {self.config_file} is damaged: {field} = {value!r} is "
                                  f"invalid: {must}")

        def count(value: Any, lo: int, hi: float) -> bool:
            return isinstance(value, int) and not isinstance(value, bool) and lo <= value <= hi

        for field in ("algo", "env_id"):
            if not isinstance(stored[field], str):
                raise bad(field, "must be a name")
        for field in ("env_kwargs", "hyperparams"):
            if not isinstance(stored[field], dict):
                raise bad(field, "must be a mapping")
        if not count(stored["n_envs"], 1, 100):
            raise bad("n_envs", "must be an integer in 1..100")
        if "seeds" in stored:
            seeds = stored["seeds"]
            if not isinstance(seeds, dict):
                raise bad("seeds", "must be a mapping")
            if "run_seed" in seeds and not count(seeds["run_seed"], 0, float("inf")):
                raise bad("seeds.run_seed", "must be an integer >= 0")
            eval_seeds = seeds.get("eval_seeds", [0])
            if not isinstance(eval_seeds, list) or not 1 <= len(eval_seeds) <= 1000:
                raise bad("seeds.eval_seeds", "must be a list of 1..1000 seeds")
        return stored

    def _args_records(self) -> list[dict[str, Any]]:
        """The readable ``args*.yml`` of the legs, newest first."""
        names = [f"args_resume{k}.yml" for k in range(self.resume_index() - 1, 0, -1)] + ["args.yml"]
        out = []
        for name in names:
            try:
                record = yaml.safe_load((self.path / name).read_text())
            except (OSError, yaml.YAMLError, UnicodeDecodeError):
                continue
            if isinstance(record, dict):
                out.append(record)
        return out

    def stored_flags(self) -> dict[str, Any]:
        """The run's ``--seed`` (config.yml's run seed: its seed block), ``--eval-episodes`` and
        ``--reference`` (as the latest leg ran them), where the records hold them."""
        def valid(flag: str, value: Any) -> bool:
            if flag == "reference":
                return isinstance(value, str) and bool(value)
            ok_int = isinstance(value, int) and not isinstance(value, bool)
            return ok_int and (value >= 0 if flag == "seed" else 1 <= value <= 1000)

        config = self.stored_config()
        seeds = config.get("seeds") if isinstance(config.get("seeds"), dict) else {}
        eval_seeds = seeds.get("eval_seeds")
        from_config = {"seed": seeds.get("run_seed"),
                       "eval_episodes": len(eval_seeds) if isinstance(eval_seeds, list) else None}
        records = self._args_records()
        found: dict[str, Any] = {}
        for flag in ("seed", "eval_episodes", "reference"):
            sources = [r.get(flag) for r in records]
            if flag == "seed":
                sources.insert(0, from_config["seed"])
            elif flag == "eval_episodes":
                sources.append(from_config["eval_episodes"])
            value = next((v for v in sources if valid(flag, v)), None)
            if value is not None:
                found[flag] = value
        return found

    def legs(self) -> list[dict[str, Any]]:
        """``summary.yml``; an unreadable one is reported and replaced by an empty history."""
        if not self.summary_file.is_file():
            return []
        try:
            legs = yaml.safe_load(self.summary_file.read_text()) or []
        except (yaml.YAMLError, UnicodeDecodeError) as e:
            import warnings

            warnings.warn(f"{self.summary_file} is not readable YAML ({e}); starting a new history",
                          stacklevel=2)
            return []
        return legs if isinstance(legs, list) else []

    def remove_stale_temporaries(self) -> list[Path]:
        """Delete the temporary files of writers that were killed mid-write (SIGKILL leaves
        :func:`atomic_path`'s file behind); a live writer's (its pid in the name) is kept."""
        removed = []
        for p in self.path.rglob(".*.tmp*"):
            m = TEMPORARY.match(p.name)
            if m and p.is_file() and not _alive(int(m.group(1))):
                p.unlink(missing_ok=True)
                removed.append(p)
        return removed

    # ------------------------------------------------------------------ records
    def write_records(self, argv: list[str], args: dict[str, Any], config: dict[str, Any],
                      resume_index: int) -> None:
        """command.txt line, args(_resumeK).yml and (first leg) config.yml: the leg starts now
        (the leftovers of a killed leg's writes go first)."""
        self.path.mkdir(parents=True, exist_ok=True)
        self.remove_stale_temporaries()
        name = "args.yml" if resume_index == 0 else f"args_resume{resume_index}.yml"
        write_atomic(self.path / name, yaml.safe_dump(args, sort_keys=False))
        if resume_index == 0:
            write_atomic(self.config_file, yaml.safe_dump(config, sort_keys=False))
        old = self.commands.read_text() if self.commands.is_file() else ""
        write_atomic(self.commands, old + shlex.join(["python", "train.py", *argv]) + "\n")

    def append_leg(self, leg: dict[str, Any]) -> None:
        write_atomic(self.summary_file, yaml.safe_dump([*self.legs(), leg], sort_keys=False))
