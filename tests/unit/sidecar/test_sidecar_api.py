"""The HTTP API against the real application: endpoints, authentication, rate limit, ingest."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import parser
from sidecar_testing import StartSidecar

CHECKOUT = {
    "service": "checkout",
    "version": "1.4.2",
    "instance_id": "checkout-7d9f",
    "metrics": [
        {
            "type": "auth_request",
            "value": 1.0,
            "duration_ms": 45.2,
            "timestamp": "2026-01-01T00:00:00Z",
            "dimensions": {"method": "jwt", "success": "true"},
            "metadata": {"trace_id": "abc"},
        }
    ],
}


def event(**fields: Any) -> dict[str, Any]:
    return {"type": "auth_request", "value": 1.0, **fields}


def body(*events: dict[str, Any], service: str = "checkout") -> dict[str, Any]:
    return {"service": service, "metrics": list(events)}


def samples_of(
    exposition: str, family: str
) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for f in parser.text_string_to_metric_families(exposition)
        if f.name == family
        for s in f.samples
    }


async def test_health_answers_while_the_loop_runs(start_sidecar: StartSidecar) -> None:
    client = await start_sidecar()
    response = await client.get("/health")
    assert response.status == 200
    assert (await response.json())["status"] == "healthy"


async def test_ready_is_200_once_started(start_sidecar: StartSidecar) -> None:
    client = await start_sidecar()
    response = await client.get("/ready")
    assert response.status == 200
    assert await response.json() == {"status": "ready"}


async def test_every_answer_carries_a_request_id_and_echoes_a_sane_one(
    start_sidecar: StartSidecar,
) -> None:
    client = await start_sidecar()
    generated = await client.get("/health")
    assert len(generated.headers["X-Request-ID"]) == 32
    echoed = await client.get("/health", headers={"X-Request-ID": "abc-123"})
    assert echoed.headers["X-Request-ID"] == "abc-123"
    replaced = await client.get("/health", headers={"X-Request-ID": "bad id\twith spaces"})
    assert replaced.headers["X-Request-ID"] != "bad id\twith spaces"


async def test_unknown_paths_and_methods_answer_json_errors(start_sidecar: StartSidecar) -> None:
    client = await start_sidecar()
    missing = await client.get("/nope")
    assert missing.status == 404
    assert await missing.json() == {"detail": "404: Not Found", "status_code": 404}
    wrong = await client.delete("/metrics")
    assert wrong.status == 405
    assert (await wrong.json())["status_code"] == 405


async def test_the_contract_example_is_accepted_and_becomes_a_counter_and_a_histogram(
    start_sidecar: StartSidecar,
) -> None:
    client = await start_sidecar()
    response = await client.post("/metrics", json=CHECKOUT)
    answer = await response.json()
    assert response.status == 200
    assert answer == {
        "status": "success",
        "accepted": 1,
        "rejected": 0,
        "errors": [],
        "request_id": response.headers["X-Request-ID"],
    }
    exposition = await (await client.get("/metrics")).text()
    labels = (("method", "jwt"), ("service", "checkout"), ("success", "true"))
    assert samples_of(exposition, "auth_request") == {("auth_request_total", labels): 1.0}
    histogram = samples_of(exposition, "auth_request_duration_seconds")
    assert histogram[("auth_request_duration_seconds_count", labels)] == 1
    assert histogram[("auth_request_duration_seconds_sum", labels)] == pytest.approx(0.0452)
    bucket = "auth_request_duration_seconds_bucket"
    assert histogram[(bucket, tuple(sorted((*labels, ("le", "0.05")))))] == 1
    assert histogram[(bucket, tuple(sorted((*labels, ("le", "0.025")))))] == 0


async def test_values_add_up_per_label_set(start_sidecar: StartSidecar) -> None:
    client = await start_sidecar()
    await client.post(
        "/metrics", json=body(event(value=2), event(value=3), event(value=5, dimensions={"a": "b"}))
    )
    exposition = await (await client.get("/metrics")).text()
    assert samples_of(exposition, "auth_request") == {
        ("auth_request_total", (("service", "checkout"),)): 5.0,
        ("auth_request_total", (("a", "b"), ("service", "checkout"))): 5.0,
    }


async def test_metrics_answers_openmetrics_when_asked(start_sidecar: StartSidecar) -> None:
    client = await start_sidecar()
    response = await client.get("/metrics", headers={"Accept": "application/openmetrics-text"})
    assert response.headers["Content-Type"].startswith("application/openmetrics-text")
    assert (await response.text()).endswith("# EOF\n")
    plain = await client.get("/metrics")
    assert plain.headers["Content-Type"].startswith("text/plain")


async def test_own_metrics_are_exposed(start_sidecar: StartSidecar) -> None:
    client = await start_sidecar()
    await client.post("/metrics", json=body(event(), event(value="x")))
    exposition = await (await client.get("/metrics")).text()
    assert samples_of(exposition, "collector_events") == {
        ("collector_events_total", (("result", "accepted"),)): 1.0,
        ("collector_events_total", (("result", "rejected"),)): 1.0,
    }
    assert "collector_spool_limit_bytes 2.68435456e+08" in exposition


async def test_a_partly_valid_batch_keeps_the_valid_events(start_sidecar: StartSidecar) -> None:
    client = await start_sidecar()
    response = await client.post(
        "/metrics", json=body(event(), event(value=True), event(type="9bad"))
    )
    answer = await response.json()
    assert response.status == 200
    assert answer["status"] == "partial"
    assert (answer["accepted"], answer["rejected"]) == (1, 2)
    assert [(e["index"], e["field"]) for e in answer["errors"]] == [
        (1, "metrics[1].value"),
        (2, "metrics[2].type"),
    ]


async def test_a_batch_with_no_valid_event_is_422_with_the_same_body(
    start_sidecar: StartSidecar,
) -> None:
    client = await start_sidecar()
    response = await client.post("/metrics", json=body(event(value="1")))
    answer = await response.json()
    assert response.status == 422
    assert answer["status_code"] == 422
    assert answer["detail"]
    assert (answer["accepted"], answer["rejected"], answer["status"]) == (0, 1, "partial")
    assert answer["errors"] == [
        {"index": 0, "field": "metrics[0].value", "message": "must be a number"}
    ]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"type": None}, "type"),
        ({"type": ""}, "type"),
        ({"type": "has-dash"}, "type"),
        ({"type": 12}, "type"),
        ({"value": True}, "value"),
        ({"value": False}, "value"),
        ({"value": "1.0"}, "value"),
        ({"value": None}, "value"),
        ({"value": [1]}, "value"),
        ({"value": 1e12 + 1}, "value"),
        ({"value": -1e13}, "value"),
        ({"value": 10**400}, "value"),
        ({"duration_ms": -1}, "duration_ms"),
        ({"duration_ms": 86_400_001}, "duration_ms"),
        ({"duration_ms": "5"}, "duration_ms"),
        ({"timestamp": "yesterday"}, "timestamp"),
        ({"timestamp": 1767225600}, "timestamp"),
        ({"timestamp": "2999-01-01T00:00:00Z"}, "timestamp"),
        ({"dimensions": {f"d{i}": "x" for i in range(21)}}, "dimensions"),
        ({"dimensions": {"a" * 51: "x"}}, "dimensions." + "a" * 51),
        ({"dimensions": {"bad-name": "x"}}, "dimensions.bad-name"),
        ({"dimensions": {"__reserved": "x"}}, "dimensions.__reserved"),
        ({"dimensions": {"service": "other"}}, "dimensions.service"),
        ({"dimensions": {"le": "1"}}, "dimensions.le"),
        ({"dimensions": {"a": "x" * 201}}, "dimensions.a"),
        ({"dimensions": {"a": 1}}, "dimensions.a"),
        ({"dimensions": {"a": {"deep": "x"}}}, "dimensions.a"),
        ({"dimensions": ["a"]}, "dimensions"),
        ({"metadata": {f"m{i}": "x" for i in range(31)}}, "metadata"),
        ({"metadata": {"k" * 51: "x"}}, "metadata." + "k" * 51),
        ({"metadata": {"k": "x" * 1001}}, "metadata.k"),
        ({"unexpected": 1}, "unexpected"),
    ],
)
async def test_each_rule_of_an_event_names_the_field(
    start_sidecar: StartSidecar, fields: dict[str, Any], field: str
) -> None:
    client = await start_sidecar()
    response = await client.post("/metrics", json=body(event(**fields)))
    answer = await response.json()
    assert response.status == 422, answer
    assert {e["field"] for e in answer["errors"]} == {f"metrics[0].{field}"}
    exposition = await (await client.get("/metrics")).text()
    assert "auth_request_total" not in exposition


async def test_a_missing_value_is_required(start_sidecar: StartSidecar) -> None:
    client = await start_sidecar()
    answer = await (await client.post("/metrics", json=body({"type": "x"}))).json()
    assert answer["errors"] == [{"index": 0, "field": "metrics[0].value", "message": "is required"}]


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
async def test_non_finite_numbers_are_rejected(start_sidecar: StartSidecar, literal: str) -> None:
    client = await start_sidecar()
    raw = '{"service": "s", "metrics": [{"type": "t", "value": ' + literal + "}]}"
    response = await client.post("/metrics", data=raw)
    assert response.status == 422
    assert (await response.json())["errors"][0]["field"] == "metrics[0].value"


@pytest.mark.parametrize(
    ("envelope", "field"),
    [
        ({"service": ""}, "service"),
        ({"service": "a" * 101}, "service"),
        ({"service": "has space"}, "service"),
        ({"service": 5}, "service"),
        ({"version": "1.2"}, "version"),
        ({"version": "v1.2.3"}, "version"),
        ({"metrics": []}, "metrics"),
        ({"metrics": [{"type": "t", "value": 1}] * 101}, "metrics"),
        ({"extra": True}, "extra"),
    ],
)
async def test_envelope_rules_reject_every_event(
    start_sidecar: StartSidecar, envelope: dict[str, Any], field: str
) -> None:
    client = await start_sidecar()
    payload = {**body(event(), event()), **envelope}
    response = await client.post("/metrics", json=payload)
    answer = await response.json()
    assert response.status == 422
    assert answer["accepted"] == 0
    assert answer["rejected"] == len(payload["metrics"])
    assert [(e["index"], e["field"]) for e in answer["errors"]] == [(None, field)]


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"not json",
        b"[1, 2]",
        b'"checkout"',
        b"null",
        b'{"service": "s"}',
        b'{"service": "s", "metrics": {"type": "t"}}',
        b'{"service": "s", "metrics": [',
        b"\xff\xfe\x00garbage",
        b'{"service": "caf\xe9", "metrics": []}',
        b"[" * 100_000 + b"]" * 100_000,
        b'{"service": "s", "metrics": [{"type": "t", "value": 1' + b"0" * 5000 + b"}]}",
    ],
    ids=[
        "empty",
        "text",
        "array",
        "string",
        "null",
        "no metrics",
        "metrics not an array",
        "truncated",
        "binary",
        "invalid utf-8",
        "deep nesting",
        "huge integer literal",
    ],
)
async def test_bodies_that_are_not_json_of_the_shape_are_400(
    start_sidecar: StartSidecar, raw: bytes
) -> None:
    client = await start_sidecar()
    response = await client.post("/metrics", data=raw)
    answer = await response.json()
    assert response.status == 400
    assert answer["status_code"] == 400
    assert answer["detail"]
    assert response.headers["X-RateLimit-Limit"] == "1000"


async def test_deep_nesting_inside_a_valid_shape_is_a_field_error(
    start_sidecar: StartSidecar,
) -> None:
    client = await start_sidecar()
    nested = '{"a": ' * 500 + "1" + "}" * 500
    raw = '{"service": "s", "metrics": [{"type": "t", "value": 1, "metadata": ' + nested + "}]}"
    response = await client.post("/metrics", data=raw)
    assert response.status == 422


async def test_a_body_over_one_mebibyte_is_413_before_it_is_read(
    start_sidecar: StartSidecar,
) -> None:
    client = await start_sidecar()
    response = await client.post("/metrics", data=b"x" * (10 * 1024 * 1024))
    assert response.status == 413
    assert (await response.json())["status_code"] == 413
    assert "X-RateLimit-Remaining" in response.headers


async def test_a_chunked_body_over_the_limit_is_413(start_sidecar: StartSidecar) -> None:
    client = await start_sidecar()

    async def chunks():  # type: ignore[no-untyped-def]
        for _ in range(20):
            yield b"x" * 100_000

    response = await client.post("/metrics", data=chunks())
    assert response.status == 413


async def test_a_body_of_exactly_the_limit_is_read(start_sidecar: StartSidecar) -> None:
    client = await start_sidecar()
    document = json.dumps(body(event()))
    padded = document + " " * (1024 * 1024 - len(document))
    response = await client.post("/metrics", data=padded.encode())
    assert response.status == 200


async def test_the_series_cap_rejects_new_label_sets_but_not_known_ones(
    start_sidecar: StartSidecar,
) -> None:
    client = await start_sidecar(ingest={"max_series_per_metric": 3})
    explosion = [event(dimensions={"user": str(i)}) for i in range(5)]
    answer = await (await client.post("/metrics", json=body(*explosion))).json()
    assert (answer["accepted"], answer["rejected"]) == (3, 2)
    assert {e["field"] for e in answer["errors"]} == {
        "metrics[3].dimensions",
        "metrics[4].dimensions",
    }
    again = await client.post("/metrics", json=body(event(dimensions={"user": "0"})))
    assert again.status == 200
    exposition = await (await client.get("/metrics")).text()
    assert len(samples_of(exposition, "auth_request")) == 3


async def test_the_cap_on_event_types_protects_against_type_explosions(
    start_sidecar: StartSidecar,
) -> None:
    client = await start_sidecar(ingest={"max_metrics": 2})
    answer = await (
        await client.post("/metrics", json=body(*(event(type=f"t{i}") for i in range(4))))
    ).json()
    assert (answer["accepted"], answer["rejected"]) == (2, 2)
    assert answer["errors"][0]["field"] == "metrics[2].type"


async def test_event_types_cannot_shadow_the_sidecars_own_metrics(
    start_sidecar: StartSidecar,
) -> None:
    client = await start_sidecar()
    answer = await (await client.post("/metrics", json=body(event(type="collector_errors")))).json()
    assert answer["errors"][0]["field"] == "metrics[0].type"


async def test_allowed_types_restrict_what_is_accepted(start_sidecar: StartSidecar) -> None:
    client = await start_sidecar(ingest={"allowed_types": ["login"]})
    answer = await (
        await client.post("/metrics", json=body(event(type="login"), event(type="logout")))
    ).json()
    assert answer["accepted"] == 1
    assert answer["errors"] == [
        {"index": 1, "field": "metrics[1].type", "message": "is not one of the allowed types"}
    ]


async def test_ingest_can_be_disabled(start_sidecar: StartSidecar) -> None:
    client = await start_sidecar(ingest={"enabled": False})
    response = await client.post("/metrics", json=CHECKOUT)
    assert response.status == 404


def write_keys(directory: Path, *keys: str) -> Path:
    directory.mkdir()
    for index, key in enumerate(keys):
        (directory / f"key-{index}").write_text(key + "\n")
    (directory / "..data").mkdir()  # a Secret volume's own bookkeeping is not a key
    return directory


async def test_with_keys_a_missing_or_wrong_key_is_401(
    start_sidecar: StartSidecar, tmp_path: Path
) -> None:
    keys = write_keys(tmp_path / "keys", "s3cret", "other")
    client = await start_sidecar(ingest={"api_keys_dir": str(keys)})
    missing = await client.post("/metrics", json=CHECKOUT)
    assert missing.status == 401
    assert (await missing.json())["status_code"] == 401
    wrong = await client.post("/metrics", json=CHECKOUT, headers={"X-API-Key": "s3cre"})
    assert wrong.status == 401
    right = await client.post("/metrics", json=CHECKOUT, headers={"X-API-Key": "s3cret"})
    assert right.status == 200
    also = await client.post("/metrics", json=CHECKOUT, headers={"X-API-Key": "other"})
    assert also.status == 200


async def test_each_key_has_its_own_bucket(start_sidecar: StartSidecar, tmp_path: Path) -> None:
    keys = write_keys(tmp_path / "keys", "a", "b")
    client = await start_sidecar(ingest={"api_keys_dir": str(keys), "rate_limit_per_minute": 2})
    for _ in range(2):
        assert (
            await client.post("/metrics", json=CHECKOUT, headers={"X-API-Key": "a"})
        ).status == 200
    assert (await client.post("/metrics", json=CHECKOUT, headers={"X-API-Key": "a"})).status == 429
    assert (await client.post("/metrics", json=CHECKOUT, headers={"X-API-Key": "b"})).status == 200


async def test_rate_limit_headers_count_down_and_429_says_when_to_retry(
    start_sidecar: StartSidecar,
) -> None:
    client = await start_sidecar(ingest={"rate_limit_per_minute": 3})
    remaining = []
    for _ in range(3):
        response = await client.post("/metrics", json=CHECKOUT)
        assert response.headers["X-RateLimit-Limit"] == "3"
        remaining.append(response.headers["X-RateLimit-Remaining"])
    assert remaining == ["2", "1", "0"]
    limited = await client.post("/metrics", json=CHECKOUT)
    assert limited.status == 429
    assert limited.headers["Retry-After"] == "20"
    assert limited.headers["X-RateLimit-Remaining"] == "0"
    assert (await limited.json())["status_code"] == 429


async def test_rate_limit_endpoint_reports_without_spending(start_sidecar: StartSidecar) -> None:
    client = await start_sidecar(ingest={"rate_limit_per_minute": 10})
    await client.post("/metrics", json=CHECKOUT)
    for _ in range(3):
        answer = await (await client.get("/rate-limit")).json()
        assert answer["limit"] == 10
        assert answer["remaining"] == 9
        assert 5 < answer["reset_seconds"] <= 6


async def test_rate_limit_endpoint_needs_the_key_too(
    start_sidecar: StartSidecar, tmp_path: Path
) -> None:
    keys = write_keys(tmp_path / "keys", "k")
    client = await start_sidecar(ingest={"api_keys_dir": str(keys)})
    assert (await client.get("/rate-limit")).status == 401
    assert (await client.get("/rate-limit", headers={"X-API-Key": "k"})).status == 200


async def test_status_reports_the_collector(start_sidecar: StartSidecar) -> None:
    client = await start_sidecar()
    await client.post("/metrics", json=CHECKOUT)
    document = await (await client.get("/status")).json()
    assert document["collector"] == {
        "name": "checkout",
        "namespace": "shop",
        "pod": "checkout-7d9f",
    }
    assert document["status"] == "healthy"
    assert document["health_score"] == 100
    assert document["ingest"]["series"] == 1
    assert document["ingest"]["authentication"] == "loopback"
    assert document["sinks"] == []
    assert {"uptime_seconds", "container_id", "last_collection", "buffer", "spool"} <= set(document)


async def test_flush_with_no_sinks_sends_nothing(start_sidecar: StartSidecar) -> None:
    client = await start_sidecar()
    answer = await (await client.post("/flush")).json()
    assert (answer["sent"], answer["total"]) == ({}, 0)
