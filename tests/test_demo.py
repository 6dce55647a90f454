"""demo.py: its flags are its own (it passed its first argument on as --episodes)."""

from __future__ import annotations

import json

import pytest

import demo


def test_unknown_flags_and_help_are_the_demos_own(capsys):
    with pytest.raises(SystemExit) as e:
        demo.main(["--bogus"])
    assert e.value.code == 2 and "unrecognized arguments: --bogus" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        demo.main(["--help"])
    assert e.value.code == 0 and "--episodes" in capsys.readouterr().out


def test_a_bad_value_is_refused_before_any_work(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        demo.main(["--episodes", "0", "--out", str(tmp_path / "r")])
    assert "--episodes" in f"{e.value.code} {capsys.readouterr().err}"
    assert not (tmp_path / "r").exists()


def test_the_demo_writes_where_it_is_told(tmp_path):
    out = tmp_path / "demo"
    demo.main(["--episodes", "1", "--out", str(out)])
    data = json.loads((out / "results.json").read_text())
    assert {"lc", "cost_benefit", "oracle", "generalist"} <= set(data["agents"])
