"""The large catalog: size, quantised variants, sane footprints and prices, its env id."""

from __future__ import annotations

import gymnasium as gym

from edge_cache_env.catalog import CATALOGS, DEFAULT_MODELS, LARGE_GPU_GB, LARGE_MODELS
from edge_cache_env.config import make_config

QUANT_TAGS = ("FP8", "W4A16", "AWQ")


def test_large_catalog_validates_and_is_two_to_three_times_the_gpu():
    cfg = make_config("large")
    assert cfg.n_models >= 20 and cfg.server.gpu_gb == LARGE_GPU_GB
    assert len({m.name for m in cfg.models}) == cfg.n_models
    total = sum(m.mem_gb for m in cfg.models)
    assert 2.0 <= total / cfg.server.gpu_gb <= 3.0
    assert all(m.mem_gb <= cfg.server.gpu_gb for m in cfg.models)
    assert set(DEFAULT_MODELS) <= set(LARGE_MODELS) and "large" in CATALOGS


def test_quantised_variants_are_smaller_faster_and_no_more_accurate_than_full_precision():
    by_name = {m.name: m for m in LARGE_MODELS}
    quantised = [m for m in LARGE_MODELS if any(t in m.name for t in QUANT_TAGS)]
    assert len(quantised) >= 5
    full = by_name["Llama-3.1-8B"]
    fp8, w4 = by_name["Llama-3.1-8B-FP8"], by_name["Llama-3.1-8B-W4A16"]
    assert full.weights_gb > fp8.weights_gb > w4.weights_gb
    assert full.decode_s_per_tok > fp8.decode_s_per_tok > w4.decode_s_per_tok
    assert full.acc0 >= fp8.acc0 >= w4.acc0 >= full.acc0 - 0.03  # recoveries of 97.5..99.5%
    assert by_name["Llama-3.1-70B-FP8"].weights_gb > by_name["Llama-3.1-70B-W4A16"].weights_gb


def test_footprints_and_prices_are_sane():
    for m in LARGE_MODELS:
        assert 1.0 <= m.mem_gb <= 80.0, m.name
        assert 0.0 < m.context_gb < m.weights_gb or m.kind != "llm", m.name
        assert 0.0 < m.cloud_usd_per_1k_tok + m.cloud_usd_per_request < 0.01, m.name
        assert 0.3 < m.acc0 < m.acc_max <= 0.97 or m.kind != "llm", m.name


def test_large_env_id_steps():
    env = gym.make("EdgePFMCache-Large-v0", n_slots=5)
    obs, info = env.reset(seed=0)
    assert env.unwrapped.n_models == len(LARGE_MODELS)
    obs, *_ = env.step(0)
    assert env.observation_space.contains(obs)
