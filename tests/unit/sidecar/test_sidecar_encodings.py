"""The sinks' wire formats, taken apart by an independent protobuf reader."""

from __future__ import annotations

import math
import struct

from prometheus_client import parser
from tests.wire import decode_write_request, protobuf_fields, scalar, submessages

from pulse_sidecar import config, samples
from pulse_sidecar.sinks import otlp, protobuf, pushgateway, remote_write
from pulse_sidecar.sources import exposition


def sample(
    name: str,
    value: float,
    timestamp_ms: int = 1_000,
    family: str | None = None,
    kind: str = "gauge",
    **labels: str,
) -> samples.Sample:
    return samples.Sample(
        name, tuple(sorted(labels.items())), value, timestamp_ms, family or name, kind
    )


def test_varints_match_the_protobuf_documentation() -> None:
    assert protobuf.varint(1) == b"\x01"
    assert protobuf.varint(150) == b"\x96\x01"
    assert protobuf.varint(300) == b"\xac\x02"
    assert protobuf.varint(-1) == b"\xff" * 9 + b"\x01"


def test_remote_write_groups_samples_by_series_with_sorted_labels_and_name_first() -> None:
    batch = [
        sample("up", 1, 2_000, job="a", Zone="z"),
        sample("up", 0, 1_000, job="a", Zone="z"),
        sample("other", 5, 1_000),
    ]
    decoded = decode_write_request(remote_write.encode(batch))
    assert decoded == [
        ([("Zone", "z"), ("__name__", "up"), ("job", "a")], [(0.0, 1_000), (1.0, 2_000)]),
        ([("__name__", "other")], [(5.0, 1_000)]),
    ]


def test_remote_write_never_sends_a_label_with_an_empty_value() -> None:
    """Remote write 1.0: "the label set MUST NOT contain any empty label names or values".
    From the scrape to the wire: `jobs{a=""}` goes out as `jobs`."""
    scraped = exposition.SeriesParser({"pod": "p"}).parse(
        'jobs{a="",queue="q"} 3\njobs{a="x"} 4\n', openmetrics=False, timestamp_ms=1_000
    )
    sent = decode_write_request(remote_write.encode(scraped))
    assert [labels for labels, _ in sent] == [
        [("__name__", "jobs"), ("pod", "p"), ("queue", "q")],
        [("__name__", "jobs"), ("a", "x"), ("pod", "p")],
    ]


def test_remote_write_keeps_the_exact_staleness_marker() -> None:
    body = remote_write.encode([sample("up", samples.STALE_NAN)])
    ((_, [(value, _)]),) = decode_write_request(body)
    assert samples.is_stale(value)


def test_remote_write_sends_the_four_required_headers() -> None:
    assert remote_write.HEADERS == {
        "Content-Encoding": "snappy",
        "Content-Type": "application/x-protobuf",
        "X-Prometheus-Remote-Write-Version": "0.1.0",
    }
    assert remote_write.http.USER_AGENT.startswith("pulse-sidecar/")


def otlp_metrics(body: bytes) -> dict[str, tuple[int, bytes]]:
    """Metric name -> (data field number: 5 gauge, 7 sum, 9 histogram, the data message)."""
    (resource_metrics,) = submessages(body, 1)
    (scope_metrics,) = submessages(resource_metrics, 2)
    scope = submessages(scope_metrics, 1)[0]
    assert submessages(scope, 1) == [b"pulse-sidecar"]
    found = {}
    for metric in submessages(scope_metrics, 2):
        fields = dict(protobuf_fields(metric))
        name = fields.pop(1)
        assert isinstance(name, bytes)
        ((number, data),) = fields.items()
        assert isinstance(data, bytes)
        found[name.decode()] = (number, data)
    return found


def attributes(point: bytes, number: int) -> dict[str, str]:
    found = {}
    for pair in submessages(point, number):
        key = submessages(pair, 1)[0].decode()
        value = submessages(submessages(pair, 2)[0], 1)[0].decode()
        found[key] = value
    return found


def test_otlp_maps_counters_to_monotonic_cumulative_sums_named_after_the_family() -> None:
    body = otlp.export_request(
        [sample("requests_total", 7, 2_000, family="requests", kind="counter", code="200")]
    )
    number, data = otlp_metrics(body)["requests"]
    assert number == 7
    assert scalar(data, 2) == 2  # cumulative
    assert scalar(data, 3) == 1  # monotonic
    (point,) = submessages(data, 1)
    assert attributes(point, 7) == {"code": "200"}
    assert struct.unpack("<Q", scalar(point, 3))[0] == 2_000_000_000  # type: ignore[arg-type]
    assert struct.unpack("<d", scalar(point, 4))[0] == 7  # type: ignore[arg-type]


def test_otlp_maps_gauges_and_flags_stale_points_as_having_no_value() -> None:
    body = otlp.export_request([sample("temperature", 21.5), sample("gone", samples.STALE_NAN)])
    metrics = otlp_metrics(body)
    assert metrics["temperature"][0] == 5
    (stale,) = submessages(metrics["gone"][1], 1)
    assert scalar(stale, 8) == 1
    assert scalar(stale, 4) is None


def test_otlp_rebuilds_histograms_from_cumulative_buckets() -> None:
    family = "latency_seconds"
    batch = [
        sample(f"{family}_bucket", 1, family=family, kind="histogram", le="0.1", path="/"),
        sample(f"{family}_bucket", 3, family=family, kind="histogram", le="1.0", path="/"),
        sample(f"{family}_bucket", 4, family=family, kind="histogram", le="+Inf", path="/"),
        sample(f"{family}_count", 4, family=family, kind="histogram", path="/"),
        sample(f"{family}_sum", 2.5, family=family, kind="histogram", path="/"),
    ]
    number, data = otlp_metrics(otlp.export_request(batch))[family]
    assert number == 9
    assert scalar(data, 2) == 2
    (point,) = submessages(data, 1)
    assert attributes(point, 9) == {"path": "/"}
    assert struct.unpack("<Q", scalar(point, 4))[0] == 4  # type: ignore[arg-type]
    assert struct.unpack("<d", scalar(point, 5))[0] == 2.5  # type: ignore[arg-type]
    counts = submessages(point, 6)[0]
    assert struct.unpack(f"<{len(counts) // 8}Q", counts) == (1, 2, 1)
    bounds = submessages(point, 7)[0]
    assert struct.unpack(f"<{len(bounds) // 8}d", bounds) == (0.1, 1.0)


def test_otlp_retries_only_what_the_specification_allows() -> None:
    assert [s for s in range(400, 600) if otlp.retryable(s)] == [429, 502, 503, 504]
    assert [s for s in (400, 404, 429, 500, 503) if remote_write.retryable(s)] == [429, 500, 503]


def test_pushgateway_exposition_keeps_types_and_drops_timestamps() -> None:
    body = pushgateway.encode(
        [
            sample("jobs_total", 3, 5_000, family="jobs", kind="counter", queue="a"),
            sample("temperature", 21.5),
        ]
    )
    text = body.decode()
    assert "# TYPE jobs_total counter" in text
    assert 'jobs_total{queue="a"} 3.0\n' in text
    assert "temperature 21.5\n" in text
    families = {f.name: f for f in parser.text_string_to_metric_families(text)}
    assert all(s.timestamp is None for f in families.values() for s in f.samples)


def test_the_pushgateway_group_is_unique_to_the_pod() -> None:
    identity = config.CollectorIdentity(name="checkout", namespace="shop", pod="checkout-7d9f")
    assert pushgateway.grouping_path(identity) == (
        "/metrics/job/checkout/namespace/shop/pod/checkout-7d9f"
    )
    odd = config.CollectorIdentity(name="checkout", pod="a/b")
    assert pushgateway.grouping_path(odd) == "/metrics/job/checkout/pod@base64/YS9i"


def test_stale_marker_is_a_specific_nan() -> None:
    assert math.isnan(samples.STALE_NAN)
    assert samples.is_stale(samples.STALE_NAN)
    assert not samples.is_stale(math.nan)
    assert not samples.is_stale(1.0)
