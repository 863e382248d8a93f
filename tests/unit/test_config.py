"""The distribution config: variable expansion, environment overrides, clear errors."""

from pathlib import Path

import pytest

from stackmesh_common.config import ConfigError, load_config
from stackmesh_common.registry import ProviderRegistry, ProviderSpec
from stackmesh_common.config import ProviderConfig

BASE = """
name: t
state_dir: ${STATE:-/tmp/default-state}
postgres: {url: "${PG_URL}"}
services:
  inference:
    port: 50051
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "dist.yaml"
    path.write_text(text)
    return path


def test_variables_expand_with_defaults(tmp_path):
    """`${VAR:-default}` takes the default; `${VAR}` takes the environment."""
    config = load_config(write(tmp_path, BASE), env={"PG_URL": "postgresql://x"})
    assert config.state_dir == Path("/tmp/default-state")
    assert config.postgres.url == "postgresql://x"


def test_missing_variable_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="PG_URL is not set"):
        load_config(write(tmp_path, BASE), env={})


def test_environment_overrides_nested_values_with_types(tmp_path):
    """STACKMESH_A__B=... overrides config path a.b, parsed as a YAML scalar."""
    env = {"PG_URL": "u", "STACKMESH_SERVICES__INFERENCE__PORT": "0", "STACKMESH_GATEWAY__PORT": "9000"}
    config = load_config(write(tmp_path, BASE), env=env)
    assert config.services["inference"].port == 0
    assert config.gateway.port == 9000


def test_unknown_key_is_rejected(tmp_path):
    with pytest.raises(ConfigError, match="gatway"):
        load_config(write(tmp_path, BASE + "gatway: {port: 1}\n"), env={"PG_URL": "u"})


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml")


def test_unknown_service_lists_known_ones(tmp_path):
    config = load_config(write(tmp_path, BASE), env={"PG_URL": "u"})
    with pytest.raises(ConfigError, match="has: inference"):
        config.service("safety")


def test_unknown_provider_type_lists_known_types():
    registry = ProviderRegistry("inference", [ProviderSpec("inline::a", "x.a", ""), ProviderSpec("remote::b", "x.b", "")])
    with pytest.raises(ConfigError, match=r"unknown inference provider type 'inline::nope'; known types: inline::a, remote::b"):
        registry.spec("inline::nope")


def test_invalid_provider_config_names_the_provider():
    from stackmesh_inference import providers

    bad = ProviderConfig(provider_id="llama", provider_type="inline::llama-cpp", config={"n_threads": 0})
    with pytest.raises(ConfigError, match="invalid config for provider 'llama'"):
        providers.registry().parse_config(bad)


@pytest.mark.parametrize(
    ("api", "provider_type", "typo"),
    [("inference", "inline::llama-cpp", "n_thread"), ("safety", "inline::pii", "default_regoin"), ("vector_io", "remote::pgvector", "hnsw_m_")],
)
def test_a_typo_in_a_provider_config_is_a_start_up_error_naming_the_key(api, provider_type, typo):
    import importlib

    providers = importlib.import_module(f"stackmesh_{api}.providers")
    bad = ProviderConfig(provider_id="p", provider_type=provider_type, config={typo: 1})
    with pytest.raises(ConfigError, match=rf"provider 'p' \({provider_type}\) has no setting '{typo}'; its settings: "):
        providers.registry().parse_config(bad)


def test_the_service_kit_rejects_unknown_settings_and_resource_kinds(tmp_path):
    from stackmesh_common.service import _validate
    from stackmesh_inference.app import SPEC

    text = BASE + "    settings: {batches: {in_proces: false}}\n"
    with pytest.raises(ConfigError, match="in_proces"):
        _validate(SPEC, load_config(write(tmp_path, text), env={"PG_URL": "x"}))
    text = BASE + "    resources: {shields: []}\n"
    with pytest.raises(ConfigError, match="no resources of kind shields; it takes: models"):
        _validate(SPEC, load_config(write(tmp_path, text), env={"PG_URL": "x"}))


def test_a_seeded_resource_naming_an_unknown_provider_is_a_start_up_error(tmp_path):
    from stackmesh_common.service import _validate
    from stackmesh_safety.app import SPEC

    text = BASE + """  safety:
    port: 50052
    providers: [{provider_id: pii, provider_type: inline::pii}]
    resources: {shields: [{shield_id: s, provider_id: pi}]}
"""
    with pytest.raises(ConfigError, match="names provider 'pi'; safety providers: pii"):
        _validate(SPEC, load_config(write(tmp_path, text), env={"PG_URL": "x"}))


def test_a_service_connects_with_its_own_postgres_url_else_the_shared_one(tmp_path):
    """services.<name>.postgres_url wins; without either URL the error names both settings."""
    text = BASE + "    postgres_url: postgresql://stackmesh_inference@db/x\n  safety:\n    port: 50052\n"
    config = load_config(write(tmp_path, text), env={"PG_URL": "postgresql://admin@db/x"})
    assert config.postgres_for("inference").url == "postgresql://stackmesh_inference@db/x"
    assert config.postgres_for("safety").url == "postgresql://admin@db/x"
    assert config.postgres_for("safety").pool_max_size == config.postgres.pool_max_size
    with pytest.raises(ConfigError, match=r"STACKMESH_SERVICES__SAFETY__POSTGRES_URL\) or postgres.url"):
        load_config(write(tmp_path, text), env={"PG_URL": ""}).postgres_for("safety")


def test_an_override_yaml_cannot_parse_is_taken_verbatim(tmp_path):
    """A password such as `@x: y` is a string, not a YAML error quoting the secret."""
    config = load_config(write(tmp_path, BASE), env={"PG_URL": "u", "STACKMESH_NATS__PASSWORD": "@x: y"})
    assert config.nats.password == "@x: y"
