"""The configuration model, its loader with environment overrides, and the CLI's exit 2."""

from __future__ import annotations

import typing
from pathlib import Path
from typing import Any

import pydantic
import pytest
import yaml

from pulse_sidecar import cli, config, config_loader

EXAMPLE = Path(__file__).parents[3] / "examples" / "sidecar" / "standalone.yaml"

FULL = """
collector: {name: checkout, namespace: shop}
server: {port: 9000}
scrape:
  - {name: app, port: 8080, path: /metrics, interval_seconds: 10, timeout_seconds: 5}
ingest:
  api_keys_dir: /etc/pulse/keys
  rate_limit_per_minute: 600
  allowed_types: [login, logout]
dependencies:
  - {type: http, name: api, target: "http://api:8080/healthz"}
  - {type: tcp, name: db, target: "postgres:5432"}
sinks:
  - type: remote_write
    url: http://prometheus:9090/api/v1/write
    bearer_token_file: /var/run/secrets/pulse/token
  - type: pushgateway
    url: http://pushgateway:9091
    basic_auth: {username_file: /s/user, password_file: /s/password}
  - type: otlp
    name: otel
    url: http://otel:4318/v1/metrics
    circuit_breaker: {open_seconds: 10}
spool: {path: /var/lib/pulse/spool.db, max_bytes: 1048576}
"""


def load(tmp_path: Path, text: str, environ: dict[str, str] | None = None) -> config.SidecarConfig:
    path = tmp_path / "sidecar.yaml"
    path.write_text(text)
    return config_loader.load(path, environ or {})


def problems(tmp_path: Path, text: str, environ: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(config_loader.ConfigError) as caught:
        load(tmp_path, text, environ)
    return caught.value.problems


def test_the_defaults_are_the_documented_ones() -> None:
    settings = config.SidecarConfig.model_validate({"collector": {"name": "c"}})
    assert settings.server.port == 8000
    assert settings.ingest.rate_limit_per_minute == 1000
    assert settings.ingest.api_keys_dir is None
    breaker = config.CircuitBreakerConfig()
    assert (breaker.failure_threshold, breaker.failure_rate) == (5, 0.5)
    assert (breaker.window_size, breaker.min_calls) == (10, 5)
    assert (breaker.open_seconds, breaker.max_open_seconds, breaker.jitter) == (30, 30, 0.2)
    pool = config.PoolConfig()
    assert (pool.max_connections, pool.max_connections_per_host) == (100, 20)


def test_a_full_file_loads_with_every_sink_type(tmp_path: Path) -> None:
    settings = load(tmp_path, FULL)
    assert [type(s) for s in settings.sinks] == [
        config.RemoteWriteSink,
        config.PushgatewaySink,
        config.OtlpSink,
    ]
    assert [s.name for s in settings.sinks] == ["remote-write", "pushgateway", "otel"]
    assert settings.sinks[2].circuit_breaker.open_seconds == 10
    assert isinstance(settings.dependencies[1], config.TcpCheck)


def test_the_standalone_example_is_valid_and_has_no_upstream() -> None:
    settings = config_loader.load(EXAMPLE, {})
    assert settings.server.port == 8000
    assert settings.sinks == []
    assert settings.ingest.enabled
    assert settings.ingest.api_keys_dir is None


def test_a_dumped_configuration_loads_back_identical(tmp_path: Path) -> None:
    """What the operator writes into the ConfigMap is what the sidecar reads."""
    settings = load(tmp_path, FULL)
    dumped = yaml.safe_dump(settings.model_dump(mode="json", exclude_defaults=True))
    assert load(tmp_path, dumped) == settings


def models() -> list[type[pydantic.BaseModel]]:
    found: list[type[pydantic.BaseModel]] = []

    def visit(annotation: Any) -> None:
        is_model = isinstance(annotation, type) and issubclass(annotation, pydantic.BaseModel)
        if is_model and annotation not in found:
            found.append(annotation)
            for field in annotation.model_fields.values():
                visit(field.annotation)
        for argument in typing.get_args(annotation):
            visit(argument)

    visit(config.SidecarConfig)
    return found


@pytest.mark.parametrize("model", models(), ids=lambda m: m.__name__)
def test_every_model_forbids_unknown_keys_and_describes_every_field(
    model: type[pydantic.BaseModel],
) -> None:
    assert model.model_config.get("extra") == "forbid"
    for name, field in model.model_fields.items():
        assert field.description, f"{model.__name__}.{name} has no description"


def test_the_json_schema_carries_the_bounds() -> None:
    schema = config.SidecarConfig.model_json_schema()
    port = schema["$defs"]["ServerConfig"]["properties"]["port"]
    assert (port["minimum"], port["maximum"], port["default"]) == (1, 65535, 8000)
    assert schema["$defs"]["CircuitBreakerConfig"]["properties"]["jitter"]["exclusiveMaximum"] == 1
    assert set(schema["properties"]["sinks"]["items"]["discriminator"]["mapping"]) == {
        "remote_write",
        "pushgateway",
        "otlp",
    }


SINK = "collector: {name: c}\nsinks: [{type: otlp, url: 'http://x', "


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "collector: {name: c}\nserver: {port: 0}",
            "server.port: Input should be greater than or equal to 1",
        ),
        (
            "collector: {name: c}\nserver: {prot: 1}",
            "server.prot: unknown setting; allowed: address, port, shutdown_grace_seconds, "
            "read_timeout_seconds",
        ),
        ("server: {port: 1}", "collector: Field required"),
        (
            "collector: {name: c}\nsinks: [{type: kafka, url: 'http://x'}]",
            "sinks[0]: Input tag 'kafka' found using 'type' does not match any of the expected"
            " tags: 'remote_write', 'pushgateway', 'otlp'",
        ),
        (
            SINK + "retry: {max_attempts: 0}}]",
            "sinks[0].retry.max_attempts: Input should be greater than or equal to 1",
        ),
        (
            SINK + "token: abc}]",
            "sinks[0].token: unknown setting; allowed: name, url, timeout_seconds,"
            " push_interval_seconds, bearer_token_file, basic_auth, circuit_breaker, retry, pool,"
            " type, max_samples_per_send",
        ),
        (
            "collector: {name: c}\n"
            "scrape: [{name: a, port: 1, interval_seconds: 5, timeout_seconds: 6}]",
            "scrape[0]: timeout_seconds must not exceed interval_seconds",
        ),
        (
            SINK + "}, {type: otlp, url: 'http://y'}]",
            "sinks: names must be unique, repeated: ['otlp']",
        ),
        (
            SINK + "bearer_token_file: /t, basic_auth: {username_file: /u, password_file: /p}}]",
            "sinks[0]: set bearer_token_file or basic_auth, not both",
        ),
        (
            "collector: {name: c}\nlog_level: TRACE",
            "log_level: Input should be 'DEBUG', 'INFO', 'WARNING' or 'ERROR'",
        ),
    ],
)
def test_a_bad_file_is_explained_field_by_field(tmp_path: Path, text: str, expected: str) -> None:
    assert expected in problems(tmp_path, text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[1, 2]", "the file must hold a mapping of settings at the top level"),
        ("collector: {name: [", "not valid YAML"),
    ],
)
def test_a_file_that_is_not_a_mapping_is_explained(
    tmp_path: Path, text: str, expected: str
) -> None:
    assert problems(tmp_path, text)[0].startswith(expected)


def test_a_missing_file_is_explained(tmp_path: Path) -> None:
    with pytest.raises(config_loader.ConfigError) as caught:
        config_loader.load(tmp_path / "absent.yaml", {})
    assert caught.value.problems == ["cannot read the file: No such file or directory"]


def test_environment_variables_override_scalars_at_any_depth(tmp_path: Path) -> None:
    settings = load(
        tmp_path,
        FULL,
        {
            "PULSE_SIDECAR__COLLECTOR__POD": "checkout-7d9f",
            "PULSE_SIDECAR__SERVER__PORT": "9100",
            "PULSE_SIDECAR__SINKS__0__URL": "http://other:9090/api/v1/write",
            "PULSE_SIDECAR__SINKS__2__CIRCUIT_BREAKER__JITTER": "0.1",
            "PULSE_SIDECAR__RESOURCES__ENABLED": "false",
            "PULSE_SIDECAR__LOG_LEVEL": "DEBUG",
            "UNRELATED": "ignored",
        },
    )
    assert settings.collector.pod == "checkout-7d9f"
    assert settings.server.port == 9100
    assert str(settings.sinks[0].url) == "http://other:9090/api/v1/write"
    assert settings.sinks[2].circuit_breaker.jitter == 0.1
    assert settings.resources.enabled is False
    assert settings.log_level == "DEBUG"


def test_a_bad_override_names_the_variable(tmp_path: Path) -> None:
    found = problems(tmp_path, FULL, {"PULSE_SIDECAR__SERVER__PORT": "eighty"})
    assert found == [
        "server.port (from PULSE_SIDECAR__SERVER__PORT): Input should be a valid integer,"
        " unable to parse string as an integer"
    ]


@pytest.mark.parametrize(
    ("variable", "expected"),
    [
        (
            "PULSE_SIDECAR__SERVR__PORT",
            "no setting 'servr' in (top level); allowed: collector, server",
        ),
        ("PULSE_SIDECAR__SINKS", "sinks is a section or a list, not a scalar setting"),
        ("PULSE_SIDECAR__SERVER", "server is a section or a list, not a scalar setting"),
        ("PULSE_SIDECAR__SINKS__7__URL", "sinks has no item 7 in the file"),
        ("PULSE_SIDECAR__SINKS__0", "sinks[0] is a section or a list, not a scalar setting"),
        ("PULSE_SIDECAR__SERVER__PORT__X", "server.port is a scalar and has no field 'x'"),
        (
            "PULSE_SIDECAR__SINKS__1__MAX_SAMPLES_PER_SEND",
            "no setting 'max_samples_per_send' in sinks[1]",
        ),
    ],
)
def test_an_override_of_something_that_is_not_a_scalar_setting_is_refused(
    tmp_path: Path, variable: str, expected: str
) -> None:
    (problem,) = problems(tmp_path, FULL, {variable: "1"})
    assert problem.startswith(f"{variable}: {expected}")


def test_the_cli_exits_2_naming_the_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("collector: {name: c}\ningest: {rate_limit_per_minute: -5}\n")
    assert cli.main(["--config", str(path)]) == 2
    error = capsys.readouterr().err
    assert f"invalid configuration in {path}" in error
    assert "ingest.rate_limit_per_minute: Input should be greater than or equal to 1" in error


def test_the_cli_exits_2_when_the_api_keys_cannot_be_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "sidecar.yaml"
    path.write_text(f"collector: {{name: c}}\ningest: {{api_keys_dir: {tmp_path / 'absent'}}}\n")
    assert cli.main(["--config", str(path)]) == 2
    assert "ingest.api_keys_dir: cannot read the API keys" in capsys.readouterr().err


def test_the_cli_needs_the_config_option(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main([])
    assert exited.value.code == 2
    assert "--config" in capsys.readouterr().err
