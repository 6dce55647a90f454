"""The release tools' reading of a train.py run folder (layout: :mod:`training.run_folder`).

A missing folder or file, unreadable YAML or a missing field is a :class:`RunFolderError`
naming the file (and the field), so each tool can refuse before any work.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from training.run_folder import RunFolder, RunFolderError


def read_yaml(path: Path) -> Any:
    """``path``'s YAML; a missing run folder or file, or bad YAML, is an error naming it."""
    if not path.parent.is_dir():
        raise RunFolderError(f"{path.parent} is not a train.py run folder (no such folder)")
    if not path.is_file():
        raise RunFolderError(f"{path.parent} is not a train.py run folder (no {path.name})")
    try:
        return yaml.safe_load(path.read_text())
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise RunFolderError(f"{path} is not readable YAML ({' '.join(str(e).split())})") from None


def missing_fields(record: Any, fields: tuple[str, ...]) -> list[str]:
    """The ``fields`` (dotted for nested ones: ``seeds.eval_seeds``) that ``record`` lacks."""
    missing = []
    for field in fields:
        value = record
        for key in field.split("."):
            value = value.get(key, KeyError) if isinstance(value, dict) else KeyError
        if value is KeyError:
            missing.append(field)
    return missing


def read_config(run: Path, fields: tuple[str, ...] = ("algo", "env_id", "env_kwargs")) -> dict[str, Any]:
    """``<run>/config.yml``, with every one of ``fields``."""
    path = RunFolder(run).config_file
    config = read_yaml(path)
    missing = missing_fields(config, fields)
    if missing:
        raise RunFolderError(f"{path} is damaged: no {', '.join(missing)}")
    return config


def read_legs(run: Path, fields: tuple[str, ...] = ("end_timesteps",)) -> list[dict[str, Any]]:
    """``<run>/summary.yml``: one record per finished leg (at least one), each with ``fields``."""
    path = RunFolder(run).summary_file
    legs = read_yaml(path)
    if not isinstance(legs, list) or not legs:
        raise RunFolderError(f"{path} records no finished leg (a run still training, or killed)")
    for i, leg in enumerate(legs):
        missing = missing_fields(leg, fields)
        if missing:
            raise RunFolderError(f"{path} is damaged: leg {i + 1} has no {', '.join(missing)}")
    return legs


def read_commands(run: Path) -> list[str]:
    """``<run>/command.txt``: the train.py command of each leg."""
    path = RunFolder(run).commands
    if not path.is_file():
        raise RunFolderError(f"{run} is not a train.py run folder (no {path.name})")
    commands = [line for line in path.read_text().splitlines() if line.strip()]
    if not commands:
        raise RunFolderError(f"{path} is empty")
    return commands
