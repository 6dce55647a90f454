"""Probe set for issue 15: feed bad inputs to every surface and classify what happens.

    python benchmarks/probe_bad_inputs.py [--fast] [--verbose]

Surfaces: config (make_config / gym.make kwargs), env API (the raw env class), trace files
(generic CSV), train CLI (training.cli.main), benchmark scripts (their ``main(argv)``: a bad
flag or ``--out`` is an error before any work), run folders (tiny training runs, resumes).
Each probe has an expected outcome: an error whose message names the field/flag/file
(``error``), a warning naming the problem (``warn``), or acceptance with a correct result
(``ok``). What happened is one of:

* ``clear``: the expected outcome (clear error / warning / correct acceptance);
* ``unclear``: an exception whose message does not name what is wrong (or the wrong reason);
* ``silent``: accepted without a word where an error or warning was due;
* ``wrong``: accepted but the result is wrong, or data was lost / a folder left unusable.

``--fast`` skips the run-folder probes (they train tiny models, ~1 min).
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import io
import json
import shutil
import signal
import sys
import tempfile
import traceback
import warnings
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import gymnasium as gym  # noqa: E402

import edge_cache_env  # noqa: E402,F401
from edge_cache_env.config import make_config  # noqa: E402
from edge_cache_env.env import EdgePFMCacheEnv  # noqa: E402

ENV = "EdgePFMCache-Small-v0"
PROBES: list[tuple[str, str, Callable[[], str]]] = []
TMP = Path(tempfile.mkdtemp(prefix="probe_bad_inputs_"))


def probe(surface: str, name: str) -> Callable[[Callable[[], str]], Callable[[], str]]:
    def deco(fn: Callable[[], str]) -> Callable[[], str]:
        PROBES.append((surface, name, fn))
        return fn
    return deco


def _message(e: BaseException, stderr: str) -> str:
    return f"{type(e).__name__}: {e} {stderr}"


class ProbeTimeout(BaseException):
    """A probe still running after its time limit: the input was accepted and work started."""


TIMEOUT = object()  # result of a probe cut off by its time limit
LIMIT_S = 45  # a tiny run takes ~10 s; a bad input silently accepted may train 1M steps


def _alarm(signum: int, frame: Any) -> None:
    raise ProbeTimeout


def run_capture(fn: Callable[[], Any]) -> tuple[Any, BaseException | None, str, list[str]]:
    """(result, exception, stderr text, warning messages); result TIMEOUT if cut off."""
    err = io.StringIO()
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(LIMIT_S)
    with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stderr(err):
        warnings.simplefilter("always")
        try:
            return fn(), None, err.getvalue(), [str(w.message) for w in caught]
        except ProbeTimeout:
            return TIMEOUT, None, err.getvalue(), [str(w.message) for w in caught]
        except (Exception, SystemExit) as e:  # noqa: BLE001  (classifying is the point)
            return None, e, err.getvalue(), [str(w.message) for w in caught]
        finally:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, old)


def expect_error(fn: Callable[[], Any], *keywords: str) -> str:
    _, e, stderr, _ = run_capture(fn)
    if e is None:
        return "silent"
    text = _message(e, stderr)
    return "clear" if all(k in text for k in keywords) else "unclear"


def expect_ok(fn: Callable[[], Any], check: Callable[[Any], bool] = lambda _: True) -> str:
    result, e, _, _ = run_capture(fn)
    if e is not None:
        return "unclear"
    if result is TIMEOUT:
        return "wrong"
    try:
        return "clear" if check(result) else "wrong"
    except Exception:  # noqa: BLE001  (the result is not what it should be)
        return "wrong"


def expect_warning(fn: Callable[[], Any], *keywords: str) -> str:
    _, e, stderr, caught = run_capture(fn)
    text = " ".join(caught) + stderr + (_message(e, "") if e is not None else "")
    if all(k in text for k in keywords):
        return "clear"
    return "unclear" if e is not None else "silent"


def env(**kw: Any) -> EdgePFMCacheEnv:
    return EdgePFMCacheEnv(catalog="small", **{"n_slots": 20, **kw})


# ------------------------------------------------------------------------------ config
CONFIG_ERRORS = [
    ("gpu_gb as YAML string '4e1'", {"gpu_gb": "4e1"}, ("gpu_gb", "'4e1'", "number")),
    ("gpu_gb=True", {"gpu_gb": True}, ("gpu_gb", "True", "number")),
    ("nu as string", {"nu": "0.9"}, ("aoc.nu", "number")),
    ("nu=None", {"nu": None}, ("aoc.nu", "None")),
    ("rho as string", {"rho": "x"}, ("aoc.rho",)),
    ("models=None", {"models": None}, ("models",)),
    ("n_slots=True", {"n_slots": True}, ("n_slots", "True")),
    ("n_slots=20.0", {"n_slots": 20.0}, ("n_slots", "integer")),
    ("n_slots=0", {"n_slots": 0}, ("n_slots",)),
    ("requests_per_slot=nan", {"requests_per_slot": float("nan")}, ("requests_per_slot",)),
    ("cloud accuracy string", {"cloud": {"accuracy": "0.5"}}, ("cloud.accuracy",)),
    ("max_ops_per_slot=True", {"max_ops_per_slot": True}, ("max_ops_per_slot",)),
    ("shift_fraction=None", {"shift_fraction": None}, ("shift_fraction",)),
    ("frequency_ewma string", {"frequency_ewma": "0.1"}, ("frequency_ewma",)),
    ("tasks_per_model=True", {"tasks_per_model": True}, ("tasks_per_model",)),
    ("split='Train'", {"split": "Train"}, ("split",)),
    ("unknown key gpu_gbb", {"gpu_gbb": 40}, ("gpu_gbb",)),
    ("tiny gpu_gb with tiny models", {"gpu_gb": 1e-300, "model_overrides": {
        "*": {"weights_gb": 1e-301, "context_gb": 0.0}}}, ("gpu_gb",)),
    ("trace_path with synthetic source", {"trace_path": "x.csv"}, ("trace_path", "synthetic")),
    ("trace_options with synthetic source", {"trace_options": {"zipf": 1}},
     ("trace_options", "synthetic")),
    ("model_overrides not a mapping of mappings", {"model_overrides": {"*": 3}}, ("model_overrides",)),
]
for _name, _kw, _keys in CONFIG_ERRORS:
    def _fn(kw: dict[str, Any] = _kw, keys: tuple[str, ...] = _keys) -> str:
        def build() -> None:
            e = env(**kw)
            e.reset(seed=0)
            e.step(0)
        return expect_error(build, *keys)
    probe("config", _name)(_fn)


@probe("config", "gym.make(config='x')")
def _config_str() -> str:
    return expect_error(lambda: gym.make(ENV, config="x"), "config", "EnvConfig")


for _name, _kw in [("gpu_gb=np.float32(80)", {"gpu_gb": np.float32(80)}),
                   ("n_slots=np.int64(20)", {"n_slots": np.int64(20)}),
                   ("tasks_per_model=np.int32(3)", {"tasks_per_model": np.int32(3)}),
                   ("nu=np.float64(0.9)", {"nu": np.float64(0.9)})]:
    def _ok(kw: dict[str, Any] = _kw) -> str:
        def build() -> Any:
            e = env(**kw)
            e.reset(seed=0)
            e.step(0)
            json.dumps(e.config.to_dict())  # a numpy scalar must not leak into the saved config
            return e.config
        return expect_ok(build)
    probe("config", f"accepted: {_name}")(_ok)


# ------------------------------------------------------------------------------ env API
@probe("env", "step before reset (raw class)")
def _step_before_reset() -> str:
    return expect_error(lambda: env().step(0), "reset")


@probe("env", "render before reset (raw class)")
def _render_before_reset() -> str:
    return expect_error(lambda: env(render_mode="ansi").render(), "reset")


for _name, _action in [("float action 1.7", 1.7), ("string action '1'", "1"), ("bool action True", True),
                       ("float action 0.0", 0.0), ("list action [1]", [1])]:
    def _bad_action(action: Any = _action) -> str:
        def go() -> None:
            e = env()
            e.reset(seed=0)
            e.step(action)
        return expect_error(go, "action", repr(action))
    probe("env", _name)(_bad_action)


@probe("env", "action -1")
def _neg_action() -> str:
    def go() -> None:
        e = env()
        e.reset(seed=0)
        e.step(-1)
    return expect_error(go, "action", "-1")


for _name, _action in [("np.int64 action", np.int64(1)), ("0-d int array action", np.array(1))]:
    def _good_action(action: Any = _action) -> str:
        def go() -> int:
            e = env()
            e.reset(seed=0)
            e.step(action)
            return e.sim.used_mb
        return expect_ok(go, lambda used: used > 0)  # action 1 loads model 0
    probe("env", f"accepted: {_name}")(_good_action)


@probe("env", "requests before reset")
def _requests_before_reset() -> str:
    return expect_error(lambda: env().requests, "reset")


# ------------------------------------------------------------------------------ trace files
HEADER = "t_seconds,model,task,input_tokens,output_tokens\n"
SMALL_MODEL = make_config("small").models[0].name


def _csv_env(path: Path, **kw: Any) -> None:
    e = env(source="csv", trace_path=str(path), **kw)
    for s in range(3):
        e.reset(seed=s)


def _rows(times: Any) -> str:
    return "".join(f"{t},{SMALL_MODEL},0,100,50\n" for t in times)


def _write(name: str, data: bytes | str) -> Path:
    p = TMP / name
    p.write_bytes(data if isinstance(data, bytes) else data.encode())
    return p


@probe("trace", "non-UTF-8 CSV")
def _latin1() -> str:
    p = _write("latin1.csv", HEADER.encode() + _rows(range(0, 4000, 7)).encode()
               + f"5000,{SMALL_MODEL}\xe9,0,1,1\n".encode("latin-1"))
    return expect_error(lambda: _csv_env(p), "latin1.csv", "line")


@probe("trace", "gzip CSV named .csv")
def _gzip_named_csv() -> str:
    p = _write("packed.csv", gzip.compress((HEADER + _rows(range(0, 4000, 7))).encode()))
    return expect_error(lambda: _csv_env(p), "packed.csv", "gzip")


@probe("trace", "UTF-8 BOM before the header")
def _bom() -> str:
    p = _write("bom.csv", "\ufeff" + HEADER + _rows(range(0, 4000, 7)))
    return expect_ok(lambda: _csv_env(p))


@probe("trace", "20-digit token count")
def _big_token() -> str:
    p = _write("big.csv", HEADER + _rows(range(0, 4000, 7)) + f"4001,{SMALL_MODEL},0,{'9' * 20},5\n")
    return expect_error(lambda: _csv_env(p), "big.csv", "line", "input_tokens")


@probe("trace", "long time gap: empty episodes")
def _gap() -> str:
    p = _write("gap.csv", HEADER + _rows([0, 1, 2]) + _rows(range(10 ** 7, 10 ** 7 + 60, 7)))
    return expect_warning(lambda: _csv_env(p), "gap.csv", "empty")


@probe("trace", "millisecond timestamps")
def _millis() -> str:
    p = _write("ms.csv", HEADER + _rows(range(0, 4_000_000, 700)))
    return expect_warning(lambda: _csv_env(p, trace_s_per_slot=10_000.0), "ms.csv", "millisecond")


@probe("trace", "missing trace file")
def _missing() -> str:
    return expect_error(lambda: _csv_env(TMP / "nope.csv"), "nope.csv")


@probe("trace", "unknown model name on a line")
def _unknown_model() -> str:
    p = _write("unk.csv", HEADER + _rows(range(0, 4000, 7)) + "4001,NoSuchModel,0,1,1\n")
    return expect_error(lambda: _csv_env(p), "unk.csv", "line", "NoSuchModel")


@probe("trace", "source csv without trace_path")
def _no_path() -> str:
    return expect_error(lambda: env(source="csv"), "trace_path")


# ------------------------------------------------------------------------------ train CLI
def _cli(*argv: str) -> Any:
    from training import cli

    return cli.main(list(argv))


def cli_base(out: Path, *extra: str) -> list[str]:
    return ["--algo", "ppo", "--env", ENV, "--out", str(out), "--timesteps", "64", "--n-envs", "2",
            "--eval-freq", "64", "--eval-episodes", "1", "--checkpoint-freq", "64",
            "--no-progress-bar", "--env-kwargs", json.dumps({"n_slots": 20}), *extra]


TINY = ["--hyperparams", "policy_kwargs={net_arch: [8]}", "n_steps=32", "batch_size=32", "n_epochs=1"]
CLI_ERRORS = [
    ("--timesteps 0", ["--timesteps", "0"], ("--timesteps",)),
    ("--timesteps -5", ["--timesteps", "-5"], ("--timesteps",)),
    ("--max-minutes 0", ["--max-minutes", "0"], ("--max-minutes",)),
    ("--max-minutes -1", ["--max-minutes", "-1"], ("--max-minutes",)),
    ("--max-minutes nan", ["--max-minutes", "nan"], ("--max-minutes",)),
    ("--n-envs 0", ["--n-envs", "0"], ("--n-envs",)),
    ("--eval-episodes 0", ["--eval-episodes", "0"], ("--eval-episodes",)),
    ("--eval-freq -1", ["--eval-freq", "-1"], ("--eval-freq",)),
    ("--checkpoint-freq -1", ["--checkpoint-freq", "-1"], ("--checkpoint-freq",)),
    ("--threads 0", ["--threads", "0"], ("--threads",)),
    ("--seed -1", ["--seed", "-1"], ("seed",)),
    ("--verbose 7", ["--verbose", "7"], ("--verbose",)),
    ("--reference bogus", ["--reference", "bogus"], ("--reference", "bogus")),
    ("hyperparam batch_size=0", ["--hyperparams", "batch_size=0"], ("batch_size",)),
    ("hyperparam learning_rate=-1", ["--hyperparams", "learning_rate=-1"], ("learning_rate",)),
    ("hyperparam gamma=1.5", ["--hyperparams", "gamma=1.5"], ("gamma",)),
    ("warm start agent typo", ["--hyperparams", "warm_start={agent: lcc}"], ("warm_start", "lcc")),
    ("warm start unknown grid", ["--hyperparams", "warm_start={agent: cost_benefit_tuned, agent_kwargs: {grid: 0.2}}"],
     ("warm_start.agent_kwargs", "grid")),
    ("--env-kwargs gpu_gb '4e1'", ["--env-kwargs", '{"gpu_gb": "4e1"}'], ("gpu_gb",)),
    ("--env-kwargs trace_path w/o source", ["--env-kwargs", '{"trace_path": "x.csv"}'], ("trace_path",)),
]
for _name, _extra, _keys in CLI_ERRORS:
    def _cli_err(extra: list[str] = _extra, keys: tuple[str, ...] = _keys, name: str = _name) -> str:
        out = TMP / f"cli_{abs(hash(name))}"
        res = expect_error(lambda: _cli(*cli_base(out, *extra)), *keys)
        if res == "clear" and out.exists() and any(out.iterdir()):
            return "wrong"  # a rejected command must leave nothing behind
        return res
    probe("cli", _name)(_cli_err)


@probe("cli", "--out is a file")
def _out_file() -> str:
    f = _write("a_file", "x")
    return expect_error(lambda: _cli(*cli_base(f)), "--out", "a_file")


# ------------------------------------------------------------------------------ benchmark scripts
def _bench(script: str, argv: list[str]) -> Any:
    import importlib

    return importlib.import_module(script).main(argv)  # benchmarks/ is on sys.path (this folder)


# (name, script, argv, keywords the error must name); {file} is an existing file.
BENCH_ERRORS = [
    ("calibration --episodes 0", "calibration", ["--episodes", "0"], ("--episodes", "0")),
    ("calibration --seed -5", "calibration", ["--seed", "-5", "--episodes", "1"], ("--seed", "-5")),
    ("calibration_capacity --episodes 0", "calibration_capacity", ["--episodes", "0"], ("--episodes", "0")),
    ("calibration_capacity --env Bogus-v0", "calibration_capacity", ["--env", "Bogus-v0"], ("--env", "Bogus-v0")),
    ("calibration_capacity --env without the capacity model", "calibration_capacity", ["--env", "EdgePFMCache-v0"],
     ("--env", "EdgePFMCache-v0", "capacity")),
    ("admission_baselines --seed -1", "admission_baselines",
     ["--seed", "-1", "--episodes", "1", "--scenarios", "small"], ("--seed", "-1")),
    ("generalist --episodes 0", "generalist", ["--episodes", "0"], ("--episodes", "0")),
    ("generalist --seed -3", "generalist", ["--seed", "-3"], ("--seed", "-3")),
    ("generalist --out under a file", "generalist",
     ["--episodes", "1", "--scenarios", "small", "--agents", "lc", "--out", "{file}/x.json"], ("--out", "a_file")),
    ("oracle_strength --seed -1", "oracle_strength", ["--seed", "-1"], ("--seed", "-1")),
    ("oracle_strength --agents bogus", "oracle_strength", ["--agents", "lc,bogus"], ("--agents", "bogus")),
    ("oracle_strength --out is a file", "oracle_strength", ["--episodes", "1", "--out", "{file}"],
     ("--out", "a_file")),
    ("headroom --instances=-1", "headroom", ["--instances=-1"], ("--instances", "-1")),
    ("suite_on_eval_seeds --out under a file", "suite_on_eval_seeds",
     ["--agents", "lru", "--scenarios", "catalog-small", "--episodes", "1", "--out", "{file}/x.json"],
     ("--out", "a_file")),
    ("train_targets --episodes 0", "train_targets", ["--episodes", "0"], ("--episodes", "0")),
    ("train_targets --out under a file", "train_targets", ["--episodes", "1", "--out", "{file}/tt.json"],
     ("--out", "a_file")),
]
for _name, _script, _argv, _keys in BENCH_ERRORS:
    def _bench_err(script: str = _script, argv: list[str] = _argv, keys: tuple[str, ...] = _keys) -> str:
        f = _write("a_file", "x")
        return expect_error(lambda: _bench(script, [a.replace("{file}", str(f)) for a in argv]), *keys)
    probe("bench", _name)(_bench_err)


# ------------------------------------------------------------------------------ run folders
def _run(out: Path, *extra: str, resume: bool = False) -> Path:
    args = cli_base(out, *extra) + (["--resume"] if resume else TINY)
    return _cli(*args)


def _folder(out: Path) -> Path:
    return out / f"ppo-{ENV}-seed0"


def _readable_evals(run: Path) -> bool:
    data = np.load(run / "evaluations.npz")
    return len(data["timesteps"]) == len(data["results"]) > 0


@probe("runs", "resume with another --eval-episodes (refused: the log keeps one evaluation)")
def _resume_eval_episodes() -> str:
    out = TMP / "r1"
    _run(out)
    res = expect_error(lambda: _run(out, "--eval-episodes", "3", resume=True),
                       "--eval-episodes 1", "not 3")
    try:
        return res if _readable_evals(_folder(out)) else "wrong"
    except Exception:  # noqa: BLE001
        return "wrong"


@probe("runs", "restart after a first run failing once the folder exists")
def _restart_failed() -> str:
    out = TMP / "r2"
    run_capture(lambda: _cli(*cli_base(out), *TINY, "warm_start={agent: lcc}"))
    return expect_ok(lambda: _run(out), lambda run: (run / "model.zip").is_file())


@probe("runs", "interrupted before the first checkpoint: resume")
def _interrupted() -> str:
    out = TMP / "r3"
    run = _run(out)
    for name in ("model.zip", "model_vecnormalize.pkl", "summary.yml"):
        (run / name).unlink(missing_ok=True)
    shutil.rmtree(run / "checkpoints")
    res = expect_ok(lambda: _run(out, resume=True), lambda r: (r / "model.zip").is_file())
    if res == "clear":
        return res
    res2 = expect_ok(lambda: _run(out), lambda r: (r / "model.zip").is_file())
    return "clear" if res2 == "clear" else "wrong"


@probe("runs", "corrupt model.zip, good checkpoint: resume falls back")
def _corrupt_model() -> str:
    out = TMP / "r4"
    run = _run(out)
    (run / "model.zip").write_bytes(b"not a zip")
    _, e, stderr, caught = run_capture(lambda: _run(out, resume=True))
    if e is None:
        return "clear" if "model.zip" in stderr + " ".join(caught) else "silent"
    return "unclear"


@probe("runs", "corrupt config.yml: resume")
def _corrupt_config() -> str:
    out = TMP / "r5"
    run = _run(out)
    (run / "config.yml").write_text("algo: [unclosed\n")
    return expect_error(lambda: _run(out, resume=True), "config.yml")


@probe("runs", "evaluations.npz holding only timesteps: resume")
def _npz_only_timesteps() -> str:
    out = TMP / "r6"
    run = _run(out)
    np.savez(run / "evaluations.npz", timesteps=np.array([0, 64]))
    res = expect_ok(lambda: _run(out, resume=True), _readable_evals)
    return res


@probe("runs", "failed resume leaves the records alone")
def _failed_resume_records() -> str:
    out = TMP / "r7"
    run = _run(out)
    before = (run / "command.txt").read_text()
    run_capture(lambda: _run(out, "--reference", "bogus", resume=True))
    after = (run / "command.txt").read_text()
    extra = sorted(p.name for p in run.glob("args_resume*.yml"))
    return "clear" if before == after and not extra else "wrong"


@probe("runs", "DQN checkpoint keeps the replay buffer")
def _dqn_buffer() -> str:
    out = TMP / "r8"

    def go() -> Path:
        return _cli("--algo", "dqn", "--env", ENV, "--out", str(out), "--timesteps", "128",
                    "--n-envs", "2", "--eval-freq", "0", "--checkpoint-freq", "64", "--no-progress-bar",
                    "--env-kwargs", json.dumps({"n_slots": 20}), "--hyperparams",
                    "policy_kwargs={net_arch: [8]}", "learning_starts=32", "buffer_size=500")
    return expect_ok(go, lambda run: bool(list((run / "checkpoints").glob("*replay_buffer*"))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fast", action="store_true", help="skip the run-folder probes")
    parser.add_argument("--verbose", action="store_true", help="print every probe's outcome")
    args = parser.parse_args()
    counts: Counter[str] = Counter()
    by_surface: dict[str, Counter[str]] = {}
    for surface, name, fn in PROBES:
        if args.fast and surface == "runs":
            continue
        try:
            outcome = fn()
        except Exception:  # noqa: BLE001  (a probe that crashes its own set-up)
            outcome = "unclear"
            if args.verbose:
                traceback.print_exc()
        counts[outcome] += 1
        by_surface.setdefault(surface, Counter())[outcome] += 1
        if args.verbose or outcome != "clear":
            print(f"{outcome:8s} {surface:7s} {name}", flush=True)
    shutil.rmtree(TMP, ignore_errors=True)
    print(f"\n{sum(counts.values())} probes:", ", ".join(f"{k} {counts[k]}" for k in
                                                   ("clear", "unclear", "silent", "wrong")))
    for surface, c in by_surface.items():
        print(f"  {surface:7s}", ", ".join(f"{k} {c[k]}" for k in ("clear", "unclear", "silent", "wrong")))


if __name__ == "__main__":
    main()
