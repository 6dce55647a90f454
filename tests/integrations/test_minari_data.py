"""A Minari dataset of oracle episodes, written under tmp_path, and the env recovered from it."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("minari")  # the [offline] extra, installed by `make test`

from edge_cache_env.config import make_config  # noqa: E402
from evaluation.engine import run_benchmark  # noqa: E402


def test_oracle_dataset_and_recover_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path))
    import minari

    from integrations.minari_data import collect

    cfg = make_config("small", n_slots=20, gpu_gb=30)
    seeds = [10_000, 10_001]
    collect("EdgePFMCache-Small-v0", "oracle", seeds, "edgepfmcache/test-oracle-v0",
            {"config": cfg}, record_infos=True)
    assert (tmp_path / "edgepfmcache" / "test-oracle-v0").is_dir()
    data = minari.load_dataset("edgepfmcache/test-oracle-v0")
    assert data.total_episodes == 2
    env = data.recover_environment()
    assert env.unwrapped.config == cfg  # the very scenario, not the id's defaults
    # the stored episodes are the oracle's: same costs as the benchmark engine's run
    oracle = run_benchmark("EdgePFMCache-Small-v0", ["oracle"], seeds, {"config": cfg}, bound=False,
                           progress=False).episodes["oracle"]
    for ep, ref in zip(data.iterate_episodes(), oracle):
        cost = -float(np.sum(ep.rewards)) * cfg.reward_scale
        assert cost == pytest.approx(ref["cost"])
        assert not np.any(ep.infos["cost_invalid"])  # every labelled action was valid
        assert ep.infos["action_mask"].shape == (len(ep.actions) + 1, env.action_space.n)


def test_cli_refuses_to_overwrite(tmp_path, monkeypatch):
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path))
    from integrations.minari_data import main

    args = ["--agent", "lc", "--env", "EdgePFMCache-Small-v0", "--episodes", "1",
            "--env-kwargs", '{"n_slots": 20}', "--out", "edgepfmcache/test-lc-v0"]
    assert main(args).total_episodes == 1
    with pytest.raises(SystemExit):
        main(args)


def test_a_relative_datasets_path_works(tmp_path, monkeypatch):
    """The README's command sets MINARI_DATASETS_PATH=data/minari (relative): Minari doubled it."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MINARI_DATASETS_PATH", "data/minari")
    from integrations.minari_data import main

    main(["--agent", "lc", "--env", "EdgePFMCache-Small-v0", "--episodes", "1",
          "--env-kwargs", '{"n_slots": 20}', "--out", "edgepfmcache/rel-lc-v0"])
    assert (tmp_path / "data" / "minari" / "edgepfmcache" / "rel-lc-v0").is_dir()
