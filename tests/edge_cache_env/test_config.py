"""Config validation: every check names the field and the bad value; overrides; round-trips."""

from __future__ import annotations

import json

import gymnasium as gym
import pytest

from edge_cache_env.config import AoCConfig, config_from_dict, load_config_yaml, make_config, resolve_config


@pytest.mark.parametrize(
    ("overrides", "field", "value"),
    [
        ({"gpu_gb": -1}, "server.gpu_gb", "-1"),
        ({"gpu_gb": 10}, "mem_gb", "<= server.gpu_gb = 10"),
        ({"load_gbps": 0}, "server.load_gbps", "0"),
        ({"nu": 0.0}, "aoc.nu", "0.0"),
        ({"aoc": {"nu": 1.5}}, "aoc.nu", "1.5"),
        ({"rho": -0.1}, "aoc.rho", "-0.1"),
        ({"tasks_per_model": 0}, "aoc.tasks_per_model", "0"),
        ({"n_slots": 0}, "config.n_slots", "0"),
        ({"slot_s": -2.0}, "config.slot_s", "-2.0"),
        ({"reward_scale": 0}, "config.reward_scale", "0"),
        ({"max_ops_per_slot": 0}, "config.max_ops_per_slot", "0"),
        ({"invalid_action_penalty": -1}, "config.invalid_action_penalty", "-1"),
        ({"requests_per_slot": 0}, "workload.requests_per_slot", "0"),
        ({"split": "validation"}, "workload.split", "validation"),
        ({"source": "kafka"}, "workload.source", "kafka"),
        ({"costs": {"cloud_per_usd": -5}}, "costs.cloud_per_usd", "-5"),
        ({"uplink_mbps": 0}, "cloud.uplink_mbps", "0"),
        ({"model_overrides": {"SDXL": {"weights_gb": -3}}}, "weights_gb", "-3"),
        ({"model_overrides": {"*": {"acc0": 0.99}}}, "acc_max", "acc0=0.99"),
        ({"model_overrides": {"SDXL": {"kind": "video"}}}, "kind", "video"),
    ],
)
def test_bad_values_name_field_and_value(overrides, field, value):
    with pytest.raises(ValueError) as err:
        make_config("default", **overrides)
    assert field in str(err.value) and value in str(err.value)


def test_empty_catalog_is_rejected():
    with pytest.raises(ValueError, match="config.models"):
        make_config("default", models=[])


def test_unknown_keys_are_rejected_everywhere():
    with pytest.raises(TypeError, match="gpu_gbb"):
        make_config("default", gpu_gbb=40)
    with pytest.raises(TypeError, match="nuu"):
        make_config("default", aoc={"nuu": 0.5})
    with pytest.raises(TypeError, match="acc_gainn"):
        make_config("default", model_overrides={"*": {"acc_gainn": 0}})
    with pytest.raises(ValueError, match="GPT-5"):
        make_config("default", model_overrides={"GPT-5": {"acc_gain": 0}})
    with pytest.raises(ValueError, match="unknown catalog"):
        make_config("huge")
    with pytest.raises(TypeError, match="gpu_gbb"):
        gym.make("EdgePFMCache-v0", gpu_gbb=40)


def test_overrides_reach_the_env():
    env = gym.make("EdgePFMCache-v0", gpu_gb=60, aoc={"nu": 0.8}, n_slots=12,
                   model_overrides={"*": {"acc_gain": 0.0}})
    cfg = env.unwrapped.config
    assert cfg.server.gpu_gb == 60 and cfg.aoc.nu == 0.8 and cfg.aoc.rho == AoCConfig().rho
    assert cfg.n_slots == 12 and all(m.acc_gain == 0.0 for m in cfg.models)


def test_small_catalog_sets_its_own_gpu_and_overrides_apply_on_top():
    assert make_config("small").server.gpu_gb == 40
    assert make_config("small", gpu_gb=50).server.gpu_gb == 50
    assert len(make_config("small").models) == 6


def test_default_catalog_is_about_twice_the_gpu():
    cfg = make_config("default")
    total = sum(m.mem_gb for m in cfg.models)
    assert len(cfg.models) == 10
    assert 1.8 <= total / cfg.server.gpu_gb <= 2.6


def test_dict_and_json_round_trip():
    cfg = make_config("default", gpu_gb=70, nu=0.7)
    data = json.loads(json.dumps(cfg.to_dict()))
    assert config_from_dict(data) == cfg


def test_yaml_overrides(tmp_path):
    p = tmp_path / "scenario.yml"
    p.write_text("catalog: small\ngpu_gb: 48\naoc:\n  rho: 0.5\n")
    cfg = load_config_yaml(p)
    assert cfg.server.gpu_gb == 48 and cfg.aoc.rho == 0.5 and len(cfg.models) == 6
    with pytest.raises(FileNotFoundError, match="nope.yml"):
        load_config_yaml(tmp_path / "nope.yml")
    bad = tmp_path / "bad.yml"
    bad.write_text("gpu_gbb: 1\n")
    with pytest.raises(TypeError, match="gpu_gbb"):
        load_config_yaml(bad)


def test_a_config_works_with_every_id_whose_registration_it_agrees_with():
    """gym.make(id, config=...) with a v1 or trace id: the id's kwargs arrive as overrides; they
    agree with the config of an env of that id (single and vector env, object and dict form)."""
    for env_id in ("EdgePFMCache-v2", "EdgePFMCache-ServeGen-v0", "EdgePFMCache-Mooncake-v2"):
        config = gym.make(env_id).unwrapped.config
        assert gym.make(env_id, config=config).unwrapped.config == config
        assert gym.make(env_id, config=config.to_dict()).unwrapped.config == config
        venv = gym.make_vec(env_id, num_envs=2, vectorization_mode="vector_entry_point",
                            config=config.to_dict())
        assert venv.unwrapped.config == config


def test_a_config_that_disagrees_with_the_overrides_names_each_field():
    plain = make_config("default")
    with pytest.raises(ValueError, match=r"config\.capacity\.enabled: config has False, the "
                                         r"overrides True"):
        gym.make("EdgePFMCache-v2", config=plain)
    with pytest.raises(ValueError, match=r"config\.workload\.source: config has 'synthetic'"):
        gym.make_vec("EdgePFMCache-ServeGen-v0", num_envs=2,
                     vectorization_mode="vector_entry_point", config=plain)
    with pytest.raises(ValueError, match=r"config\.server\.gpu_gb: config has 80\.0, the "
                                         r"overrides 40"):
        resolve_config("default", plain, {"gpu_gb": 40})
    assert resolve_config("default", plain, {"server": {"gpu_gb": 80}}) is plain
    with pytest.raises(TypeError, match="must be an EnvConfig"):
        resolve_config("default", 42, {})


def test_a_field_that_would_do_nothing_is_an_error_naming_it():
    """Capacity fields while the capacity model is off, and the synthetic generator's fields
    with a trace source that takes them from its file, were silently ignored."""
    with pytest.raises(ValueError, match=r"capacity\.gpu_throughput = 0\.01 .* while "
                                         r"capacity\.enabled is False"):
        gym.make("EdgePFMCache-v0", gpu_throughput=0.01)
    with pytest.raises(ValueError, match=r"workload\.requests_per_slot = 50 .* source='azure'"):
        gym.make("EdgePFMCache-Azure-v0", requests_per_slot=50)
    with pytest.raises(ValueError, match=r"workload\.zipf_models = 3 .* source='servegen'"):
        gym.make("EdgePFMCache-ServeGen-v0", zipf_models=3)
    with pytest.raises(ValueError, match=r"workload\.max_tokens = 10 .* source='csv'"):
        make_config("default", source="csv", trace_path="examples/trace_example.csv", max_tokens=10)
    # What the source reads is taken: ServeGen's rate scale and token sizes, v1's capacity.
    assert make_config("default", source="servegen", requests_per_slot=4.0,
                       max_tokens=10).workload.requests_per_slot == 4.0
    assert gym.make("EdgePFMCache-v2", gpu_throughput=0.5).unwrapped.config.capacity.gpu_throughput == 0.5


def test_a_field_given_flat_and_in_its_section_takes_the_later_one():
    """The documented rule, both orders; it is what lets a v1 id's registered flat fields be
    refined by a user's capacity mapping."""
    assert make_config("small", gpu_gb=50, server={"gpu_gb": 40}).server.gpu_gb == 40
    assert make_config("small", server={"gpu_gb": 40}, gpu_gb=50).server.gpu_gb == 50
    cap = gym.make("EdgePFMCache-v2", capacity={"gpu_throughput": 0.5}).unwrapped.config.capacity
    assert cap.enabled and cap.gpu_throughput == 0.5


def test_token_sizes_are_taken_with_any_source_and_random_scenarios_play_traces():
    """Every source's agents price a typical request with the token sizes, so they are not
    'fields that do nothing' with a trace; and Random-v0's drawn generator fields are left out
    for a trace source that takes them from its file (they were refused as if the user set them)."""
    assert gym.make("EdgePFMCache-Mooncake-v0",
                    input_tokens_median=8000).unwrapped.config.workload.input_tokens_median == 8000
    env = gym.make("EdgePFMCache-Random-v0", source="mooncake", n_slots=120, trace_s_per_slot=3.0)
    env.reset(seed=1)
    assert env.unwrapped.config.workload.source == "mooncake"
    assert env.unwrapped.config.workload.requests_per_slot == 2.0  # the default: not drawn
