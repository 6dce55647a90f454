"""Model selection on evaluation seeds (select_checkpoint.py) and shipping it (ship_pretrained.py)."""

from __future__ import annotations

import json
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

from agents import make
from agents.trained import load_trained
from edge_cache_env.scenarios import Scenario
from evaluation import seeds, validate
from training.release import select_checkpoint, ship_pretrained, verify_pretrained

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_train import run_train  # noqa: E402


@pytest.mark.slow
def test_select_scores_every_model_on_eval_seeds_and_ship_records_it(tmp_path, capsys, monkeypatch):
    run = run_train(tmp_path / "runs", "maskable_ppo", steps=256)
    labels = [label for label, _ in select_checkpoint.candidates(run)]
    assert labels == ["best_model", "model", "ckpt_128_steps", "ckpt_256_steps"]
    assert [label for label, _ in select_checkpoint.candidates(run, min_steps=200)] == [
        "best_model", "model", "ckpt_256_steps"]

    record = select_checkpoint.main([str(run), "--episodes", "3"])
    table = record["table"]
    assert len(table) == record["candidates"] == 4
    assert [r["mean_cost"] for r in table] == sorted(r["mean_cost"] for r in table)
    assert record["selected"] == table[0]
    # Scored on evaluation seeds only: never a benchmark (or training) seed.
    assert record["eval_seeds"] == [10_000, 10_002]
    assert all(s not in seeds.BENCHMARK_SEEDS for s in range(10_000, 10_003))
    assert (run / "selected_model.zip").read_bytes() == Path(table[0]["path"]).read_bytes()
    assert "selected" in capsys.readouterr().out

    dest = tmp_path / "pretrained"
    entry = ship_pretrained.ship(run, dest, model="selected")
    assert verify_pretrained.compare(dest / "maskable_ppo.zip", run / "selected_model.zip")["identical"]
    with zipfile.ZipFile(dest / "maskable_ppo.zip") as z:  # no path of the training machine
        assert json.loads(z.read("data"))["tensorboard_log"] is None
    assert entry["selected"]["model"] == table[0]["model"]
    assert entry["selected"]["command"].startswith("python -m training.release.select_checkpoint ")
    manifest = json.loads((dest / "manifest.json").read_text())
    assert manifest["models"]["maskable_ppo"]["selected"]["candidates"] == 4
    load_trained("maskable_ppo", dest / "maskable_ppo.zip")  # the shipped file loads

    # --also: scored on another env too, selected by the geometric mean of the ratios to LC
    also = select_checkpoint.main([str(run), "--episodes", "2", "--no-copy", "--also", "EdgePFMCache-Small-v0"])
    rows = also["table"]
    assert all(r["geomean_ratio_to_lc"] == pytest.approx(
        (r["ratio_to_lc"] * r["ratio_to_lc_EdgePFMCache-Small-v0"]) ** 0.5) for r in rows)
    assert [r["geomean_ratio_to_lc"] for r in rows] == sorted(r["geomean_ratio_to_lc"] for r in rows)
    assert "--also EdgePFMCache-Small-v0" in also["command"]

    # --suite: scored on every scenario of a suite too (here a two-scenario one)
    two = (Scenario("small", "EdgePFMCache-Small-v0", {}, "six models"),
           Scenario("tight", "EdgePFMCache-Small-v0", {"gpu_gb": 30}, "a tighter GPU"))
    monkeypatch.setattr(validate, "resolve_suite", lambda name: (name, two))
    suite = select_checkpoint.main([str(run), "--episodes", "2", "--no-copy", "--suite", "mine"])
    rows = suite["table"]
    assert all(r["geomean_ratio_to_lc"] == pytest.approx(
        (r["ratio_to_lc"] * r["ratio_to_lc_small"] * r["ratio_to_lc_tight"]) ** (1 / 3)) for r in rows)
    assert rows[0]["ratio_to_lc_small"] == also["table"][[r["model"] for r in also["table"]].index(
        rows[0]["model"])]["ratio_to_lc_EdgePFMCache-Small-v0"]  # same episodes as --also
    assert "--suite mine" in suite["command"]
    # --scenarios: a subset of the suite
    one = select_checkpoint.main([str(run), "--episodes", "2", "--no-copy", "--suite", "mine",
                                  "--scenarios", "tight"])
    assert all("ratio_to_lc_small" not in r for r in one["table"])
    assert sorted((r["model"], r["ratio_to_lc_tight"]) for r in one["table"]) == sorted(
        (r["model"], r["ratio_to_lc_tight"]) for r in rows)
    assert "--suite mine --scenarios tight" in one["command"]
    with pytest.raises(SystemExit, match="--scenarios: unknown scenario.*nope"):
        select_checkpoint.main([str(run), "--episodes", "2", "--suite", "mine", "--scenarios", "nope"])

    # --no-worse-than: each candidate's worst ratio to the rule over every env it was scored on
    guarded = select_checkpoint.main([str(run), "--episodes", "2", "--no-copy", "--suite", "mine",
                                      "--no-worse-than", "cost_benefit"])
    seed_list = seeds.eval_seeds(2)
    trained_on = yaml.safe_load((run / "config.yml").read_text())
    envs = [(trained_on["env_id"], trained_on["env_kwargs"]), *((sc.env_id, dict(sc.env_kwargs)) for sc in two)]
    rule = [select_checkpoint.score(*e, make("cost_benefit"), seed_list).mean() for e in envs]
    for r in guarded["table"]:
        agent = make(f"maskable_ppo:{r['path']}")
        mine = [select_checkpoint.score(*e, agent, seed_list).mean() for e in envs]
        assert r["worst_ratio_to_cost_benefit"] == pytest.approx(max(m / g for m, g in zip(mine, rule)))
    keys = [select_checkpoint._guard_key(r, "cost_benefit") for r in guarded["table"]]
    assert keys == sorted(keys)
    assert "--no-worse-than cost_benefit" in guarded["command"]


def test_select_and_ship_errors(tmp_path):
    with pytest.raises(SystemExit, match="not a train.py run folder"):
        select_checkpoint.main([str(tmp_path), "--episodes", "2"])
    with pytest.raises(SystemExit, match="--episodes"):
        select_checkpoint.main([str(tmp_path), "--episodes", "0"])
    (tmp_path / "cfg").mkdir()
    (tmp_path / "cfg" / "config.yml").write_text("algo: ppo\nenv_id: EdgePFMCache-v0\nenv_kwargs: {}\n")
    with pytest.raises(SystemExit, match="--also: unknown env id"):
        select_checkpoint.main([str(tmp_path / "cfg"), "--episodes", "2", "--also", "Nope-v0"])
    with pytest.raises(SystemExit, match="--scenarios: only with --suite"):
        select_checkpoint.main([str(tmp_path / "cfg"), "--episodes", "2", "--scenarios", "base"])
    with pytest.raises(SystemExit, match="--no-worse-than: unknown agent 'nope'"):
        select_checkpoint.main([str(tmp_path / "cfg"), "--episodes", "2", "--no-worse-than", "nope"])
    with pytest.raises(SystemExit, match="--suite: .*nope"):
        select_checkpoint.main([str(tmp_path / "cfg"), "--episodes", "2", "--suite", "nope"])


def test_reproduce_command_drops_the_budget_and_keeps_a_finished_runs_timesteps():
    cmd = ["python train.py --algo ppo --seed 1 --timesteps 3600000 --max-minutes 29"]
    finished = [{"end_timesteps": 3604480, "stopped_by_time_budget": False, "interrupted": None}]
    # A finished run keeps --timesteps: a lin_ schedule decays over exactly those steps.
    assert ship_pretrained.reproduce_command(cmd, finished) == \
        "python train.py --algo ppo --seed 1 --timesteps 3600000"
    assert ship_pretrained.reproduce_command(cmd * 2, finished) is None  # resumed: replay all
    # No --timesteps (the YAML's n_timesteps): the steps it trained.
    assert ship_pretrained.reproduce_command(["python train.py --algo ppo --max-minutes=29"], finished) == \
        "python train.py --algo ppo --timesteps 3604480"


@pytest.mark.parametrize("stop", [{"stopped_by_time_budget": True, "interrupted": None},
                                  {"stopped_by_time_budget": False, "interrupted": "SIGINT"},
                                  {"stopped_by_time_budget": False, "interrupted": "SIGTERM"}])
def test_reproduce_command_of_a_run_stopped_early_stops_where_it_stopped(stop):
    """Budget or signal: the same --timesteps (the schedule's decay) and a stop at the steps
    reached (not --timesteps = those steps, which changed a lin_ schedule's weights)."""
    legs = [{"end_timesteps": 2004480, **stop}]
    cmd = ["python train.py --algo ppo --timesteps 3600000 --max-minutes 29 --hyperparams "
           "learning_rate=lin_1.0e-4"]
    assert ship_pretrained.reproduce_command(cmd, legs) == (
        "python train.py --algo ppo --timesteps 3600000 --hyperparams learning_rate=lin_1.0e-4 "
        "--stop-after-steps 2004480")
    # A stop the command itself asked for is replaced by the one reached; no --timesteps stays so.
    cmd = ["python train.py --algo ppo --stop-after-steps=3000000 --max-minutes=29"]
    assert ship_pretrained.reproduce_command(cmd, legs) == \
        "python train.py --algo ppo --stop-after-steps 2004480"
    # Older summaries have no "interrupted".
    assert ship_pretrained.reproduce_command(["python train.py --timesteps 9 --max-minutes 1"], [
        {"end_timesteps": 5, "stopped_by_time_budget": False}]) == "python train.py --timesteps 9"


def test_candidates_no_worse_than_the_guard_come_first_then_the_least_worst():
    rows = [{"m": "a", "worst_ratio_to_cb": 1.02}, {"m": "b", "worst_ratio_to_cb": 0.99},
            {"m": "c", "worst_ratio_to_cb": 1.001}, {"m": "d", "worst_ratio_to_cb": 1.0}]
    ranked = sorted(rows, key=lambda r: select_checkpoint._guard_key(r, "cb"))
    assert [r["m"] for r in ranked] == ["b", "d", "c", "a"]  # b, d tie: the geomean decides
    assert select_checkpoint._guard_key(rows[0], None) == (0, 0.0)


def test_ties_go_to_the_candidate_trained_longest():
    assert select_checkpoint.trained_steps("ckpt_250000_steps") == 250000
    assert select_checkpoint.trained_steps("model") == float("inf")
    assert select_checkpoint.trained_steps("best_model") == -1


def test_a_shipped_zip_keeps_no_path_of_the_training_machine(tmp_path):
    """The generalist was shipped with its run's absolute TensorBoard folder in its data."""
    source = tmp_path / "best_model.zip"
    with zipfile.ZipFile(source, "w") as z:
        z.writestr("data", json.dumps({"tensorboard_log": "/work/runs/x/tb", "gamma": 0.99}))
        z.writestr("policy.pth", b"\x00weights\x01")
    ship_pretrained.copy_without_local_paths(source, tmp_path / "shipped.zip")
    with zipfile.ZipFile(tmp_path / "shipped.zip") as z:
        assert json.loads(z.read("data")) == {"tensorboard_log": None, "gamma": 0.99}
        assert z.read("policy.pth") == b"\x00weights\x01"
    for shipped in Path(ship_pretrained.PRETRAINED_DIR).glob("*.zip"):
        with zipfile.ZipFile(shipped) as z:
            assert not str(json.loads(z.read("data")).get("tensorboard_log") or "").startswith("/")


def test_verify_scores_candidates_as_agents_make_plays_them(tmp_path, monkeypatch):
    # A generalist's check (agents/generalist.py) can send a network that scores best alone
    # back to the rule, so --verify loads each candidate as users get it.
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    for name in ("best_model.zip", "model.zip", "checkpoints/ckpt_64_steps.zip"):
        (run / name).write_bytes(b"")
    asked = []
    monkeypatch.setattr(select_checkpoint, "make", lambda spec, **kw: asked.append((spec, kw)) or spec)
    configs = {run: {"algo": "maskable_ppo"}}
    for verify in (False, True):
        asked.clear()
        models, skipped = select_checkpoint.load_candidates([run], configs, verify=verify)
        assert [label for _, label, _, _ in models] == ["best_model", "model", "ckpt_64_steps"]
        assert not skipped and [kw for _, kw in asked] == [{"verify": verify}] * 3
