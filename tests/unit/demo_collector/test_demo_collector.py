"""The demo collector (examples/apps/demo-collector/app.py), run for real on loopback: its
exposition, its knobs, its events to the real sidecar application, and its process life."""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from demo_testing import (
    APP_PATH,
    StartDemo,
    demo,
    post_json,
    request,
    requests_by_code,
    samples,
)
from prometheus_client import parser
from pytest_aiohttp import AiohttpServer
from tests.support import eventually

from pulse_sidecar import app as sidecar_app
from pulse_sidecar import config as sidecar_config

FAST = {"rate": 100.0}


def metrics_of(app: Any) -> str:
    status, headers, body = request(f"http://127.0.0.1:{app.port}/metrics")
    assert status == 200
    assert headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    return body.decode()


async def until(check: Callable[[], object], what: str) -> None:
    """`eventually` in a worker thread, so the event loop (serving the sidecar) keeps running."""
    await asyncio.to_thread(eventually, check, 15.0, what)


def total(app: Any) -> float:
    return sum(requests_by_code(metrics_of(app)).values())


# --- exposition -------------------------------------------------------------------------


def test_metrics_parse_with_prometheus_client_and_counts_move(start_demo: StartDemo) -> None:
    app = start_demo(knobs=FAST)
    eventually(lambda: total(app) >= 5)
    first = metrics_of(app)
    families = {f.name: f for f in parser.text_string_to_metric_families(first)}
    assert families["demo_requests"].type == "counter"
    assert families["demo_requests"].documentation
    assert {tuple(sorted(s.labels.items())) for s in families["demo_requests"].samples} == {
        (("code", "200"), ("route", "/work")),
        (("code", "500"), ("route", "/work")),
    }
    histogram = families["demo_request_duration_seconds"]
    assert histogram.type == "histogram"
    assert histogram.documentation
    buckets = [s for s in histogram.samples if s.name.endswith("_bucket")]
    bounds = [float(s.labels["le"]) for s in buckets]
    assert bounds == [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, math.inf]
    counts = [s.value for s in buckets]
    assert counts == sorted(counts), "buckets are cumulative"
    (count,) = [s.value for s in histogram.samples if s.name.endswith("_count")]
    (seconds,) = [s.value for s in histogram.samples if s.name.endswith("_sum")]
    assert counts[-1] == count
    assert count >= 5
    assert seconds >= 0
    for gauge in ("demo_knob_error_ratio", "demo_knob_latency_seconds", "demo_knob_rate"):
        assert families[gauge].type == "gauge"
    assert families["demo_knob_rate"].samples[0].value == 100

    before = sum(requests_by_code(first).values())
    eventually(lambda: total(app) >= before + 10)


def test_healthz_and_unknown_paths(start_demo: StartDemo) -> None:
    app = start_demo()
    base = f"http://127.0.0.1:{app.port}"
    assert post_json(f"{base}/healthz")[0] == 200
    assert post_json(f"{base}/nope")[0] == 404
    assert post_json(f"{base}/metrics", {"x": 1})[0] == 405


# --- knobs --------------------------------------------------------------------------------


def test_error_ratio_one_gives_only_500s_and_a_share_gives_that_share(
    start_demo: StartDemo,
) -> None:
    app = start_demo(knobs=FAST)
    knobs_url = f"http://127.0.0.1:{app.port}/knobs"
    eventually(lambda: total(app) >= 5)

    status, answer = post_json(knobs_url, {"errorRatio": 1.0})
    assert (status, answer) == (
        200,
        {"errorRatio": 1.0, "latencySeconds": 0.0, "rate": 100.0, "ready": True},
    )
    start = requests_by_code(metrics_of(app))
    eventually(lambda: total(app) >= sum(start.values()) + 20)
    end = requests_by_code(metrics_of(app))
    assert end["200"] == start["200"], "no 200 once errorRatio is 1"
    assert end["500"] >= start["500"] + 20

    assert post_json(knobs_url, {"errorRatio": 0.25})[0] == 200
    start = requests_by_code(metrics_of(app))
    eventually(lambda: total(app) >= sum(start.values()) + 40)
    end = requests_by_code(metrics_of(app))
    errors, answered = end["500"] - start["500"], sum(end.values()) - sum(start.values())
    assert abs(errors - 0.25 * answered) <= 1, (errors, answered)  # spread evenly, not random

    assert post_json(knobs_url, {"errorRatio": 0})[0] == 200
    start = requests_by_code(metrics_of(app))
    eventually(lambda: total(app) >= sum(start.values()) + 10)
    assert requests_by_code(metrics_of(app))["500"] == start["500"]


def test_the_latency_knob_shows_in_the_histogram(start_demo: StartDemo) -> None:
    app = start_demo(knobs=FAST)
    status, answer = post_json(f"http://127.0.0.1:{app.port}/knobs", {"latencySeconds": 0.03})
    assert status == 200
    assert answer == {"errorRatio": 0.0, "latencySeconds": 0.03, "rate": 100.0, "ready": True}, (
        "partial update"
    )
    time.sleep(0.2)  # requests already past their delay finish first

    def histogram() -> dict[str, float]:
        found = samples(metrics_of(app), "demo_request_duration_seconds")
        return {dict(labels).get("le", name): value for (name, labels), value in found.items()}

    start = histogram()
    eventually(lambda: histogram()["demo_request_duration_seconds_count"] >= start["+Inf"] + 10)
    end = histogram()
    count = "demo_request_duration_seconds_count"
    answered = end[count] - start[count]
    assert end["0.025"] == start["0.025"], "every request waited at least 30 ms"
    assert end["+Inf"] - start["+Inf"] == answered
    seconds = end["demo_request_duration_seconds_sum"] - start["demo_request_duration_seconds_sum"]
    assert seconds >= 0.03 * answered


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"errorRatio": 1.5}, "errorRatio"),
        ({"errorRatio": -0.1}, "errorRatio"),
        ({"errorRatio": "0.5"}, "errorRatio"),
        ({"errorRatio": True}, "errorRatio"),
        ({"latencySeconds": -1}, "latencySeconds"),
        ({"latencySeconds": None}, "latencySeconds"),
        ({"rate": 0}, "rate"),
        ({"rate": 10, "speed": 2}, "speed"),
        ({"ready": "no"}, "ready"),
        ({"ready": 0}, "ready"),
        ([1, 2], "body"),
    ],
)
def test_a_bad_knob_is_400_naming_the_field_and_changes_nothing(
    start_demo: StartDemo, body: object, field: str
) -> None:
    app = start_demo()
    url = f"http://127.0.0.1:{app.port}/knobs"
    before = post_json(url)
    status, answer = post_json(url, body)
    assert status == 400
    assert answer["field"] == field
    assert field in answer["error"]
    assert post_json(url) == before, "all or nothing"


def test_a_body_that_is_not_json_is_400(start_demo: StartDemo) -> None:
    app = start_demo()
    status, answer = post_json(f"http://127.0.0.1:{app.port}/knobs", raw=b"errorRatio=1")
    assert (status, answer["field"]) == (400, "body")


def test_knobs_and_settings_from_the_environment() -> None:
    settings = demo.settings_from(
        ["--port", "9100"],
        {
            "DEMO_ERROR_RATIO": "0.5",
            "DEMO_LATENCY_SECONDS": "0.2",
            "DEMO_RATE": "2",
            "DEMO_SIDECAR_URL": "http://sidecar.local:8000/",
            "DEMO_EVENT_INTERVAL_SECONDS": "3",
            "HOSTNAME": "demo-7d9f",
        },
    )
    assert settings.port == 9100
    assert settings.knobs == demo.Knobs(error_ratio=0.5, latency_seconds=0.2, rate=2.0)
    assert settings.sidecar_url == "http://sidecar.local:8000"
    assert settings.event_interval_seconds == 3
    assert settings.instance_id == "demo-7d9f"
    assert demo.settings_from([], {}).knobs == demo.Knobs(error_ratio=0, latency_seconds=0, rate=5)
    for variable, value in [
        ("DEMO_ERROR_RATIO", "2"),
        ("DEMO_LATENCY_SECONDS", "soon"),
        ("DEMO_RATE", "0"),
        ("DEMO_EVENT_INTERVAL_SECONDS", "-1"),
        ("DEMO_SIDECAR_URL", "sidecar:8000"),
        ("DEMO_SERVICE", "demo collector"),
    ]:
        with pytest.raises(demo.SettingError) as raised:
            demo.settings_from([], {variable: value})
        assert raised.value.field == variable
    with pytest.raises(demo.SettingError, match="port"):
        demo.settings_from(["--port", "70000"], {})


# --- events to the sidecar ----------------------------------------------------------------


def sidecar_settings(tmp_path: Path, **ingest: Any) -> sidecar_config.SidecarConfig:
    return sidecar_config.SidecarConfig.model_validate(
        {
            "collector": {"name": "demo", "namespace": "default", "pod": "demo-7d9f"},
            "server": {"address": "127.0.0.1", "port": 8000},
            "resources": {"enabled": False},
            "spool": {"path": str(tmp_path / "spool.db")},
            "ingest": {"enabled": True, **ingest},
        }
    )


def pushed(exposition: str) -> dict[str, float]:
    """What the sidecar recorded from the demo's events: demo_work_total by code."""
    found = {
        labels: value
        for (name, labels), value in samples(exposition, "demo_work").items()
        if name == "demo_work_total"
    }
    assert all(dict(labels)["service"] == "demo-collector" for labels in found)
    return {dict(labels)["code"]: value for labels, value in found.items()}


async def sidecar_metrics(url: str) -> str:
    status, _, body = await asyncio.to_thread(request, f"{url}/metrics")
    assert status == 200
    return body.decode()


async def test_events_reach_the_real_sidecar_and_add_up(
    aiohttp_server: AiohttpServer, start_demo: StartDemo, tmp_path: Path
) -> None:
    server = await aiohttp_server(sidecar_app.create_app(sidecar_settings(tmp_path)))
    url = f"http://127.0.0.1:{server.port}"
    app = start_demo(
        knobs={"rate": 50.0, "error_ratio": 0.5}, sidecar_url=url, event_interval_seconds=0.2
    )
    await until(lambda: app.metrics.pushes["accepted"] >= 2, "two pushes accepted")
    exposition = await sidecar_metrics(url)
    assert set(pushed(exposition)) == {"200", "500"}
    assert samples(exposition, "demo_work_duration_seconds"), "duration_ms becomes a histogram"

    await asyncio.to_thread(app.stop)  # pushes what is left before it returns
    assert pushed(await sidecar_metrics(url)) == {
        code: float(count) for code, count in app.metrics.requests.items()
    }
    assert app.metrics.pushes["failed"] == app.metrics.pushes["rejected"] == 0


async def test_with_api_keys_the_key_is_sent_and_a_wrong_key_is_dropped_and_logged_once(
    aiohttp_server: AiohttpServer,
    start_demo: StartDemo,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    keys = tmp_path / "keys"
    keys.mkdir()
    (keys / "demo").write_text("s3cret\n")
    server = await aiohttp_server(
        sidecar_app.create_app(sidecar_settings(tmp_path, api_keys_dir=str(keys)))
    )
    url = f"http://127.0.0.1:{server.port}"
    caplog.set_level(logging.INFO, logger="demo_collector")
    good = start_demo(
        knobs=FAST, sidecar_url=url, sidecar_api_key="s3cret", event_interval_seconds=0.2
    )
    wrong = start_demo(
        knobs=FAST, sidecar_url=url, sidecar_api_key="guess", event_interval_seconds=0.2
    )
    await until(
        lambda: good.metrics.pushes["accepted"] >= 1 and wrong.metrics.pushes["rejected"] >= 3,
        "the good key accepted, the wrong one refused",
    )
    assert wrong.metrics.pushes["accepted"] == 0
    refusals = [r for r in caplog.records if r.getMessage().startswith("the sidecar refused")]
    assert [getattr(r, "fields", {}).get("status") for r in refusals] == [401]
    await asyncio.to_thread(good.stop)
    await asyncio.to_thread(wrong.stop)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_a_sidecar_that_is_down_is_retried_and_nothing_counted_is_lost(
    aiohttp_server: AiohttpServer,
    start_demo: StartDemo,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    port = free_port()
    caplog.set_level(logging.INFO, logger="demo_collector")
    app = start_demo(knobs=FAST, sidecar_url=f"http://127.0.0.1:{port}", event_interval_seconds=0.1)
    await until(lambda: app.metrics.pushes["failed"] >= 3, "three failed pushes")
    counted_while_down = app.metrics.requests["200"]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert [r.getMessage() for r in warnings] == [
        "cannot push events to the sidecar; keeping the counts and retrying"
    ], "an outage is logged once, not on every retry"

    server = await aiohttp_server(sidecar_app.create_app(sidecar_settings(tmp_path)), port=port)
    url = f"http://127.0.0.1:{server.port}"
    await until(lambda: app.metrics.pushes["accepted"] >= 1, "a push accepted")
    assert any(r.getMessage() == "the sidecar accepts events again" for r in caplog.records)
    assert pushed(await sidecar_metrics(url))["200"] >= counted_while_down

    await asyncio.to_thread(app.stop)
    assert pushed(await sidecar_metrics(url))["200"] == app.metrics.requests["200"]


# --- the process --------------------------------------------------------------------------


def test_the_process_logs_json_lines_and_stops_cleanly_on_sigterm() -> None:
    env = {
        "PATH": os.environ["PATH"],
        "DEMO_ERROR_RATIO": "1",
        "DEMO_RATE": "50",
        "DEMO_SIDECAR_URL": "http://127.0.0.1:9",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    process = subprocess.Popen(
        [sys.executable, str(APP_PATH), "--host", "127.0.0.1", "--port", "0"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        started = json.loads(process.stdout.readline())
        assert started["message"] == "listening"
        assert started["knobs"] == {
            "errorRatio": 1.0,
            "latencySeconds": 0.0,
            "rate": 50.0,
            "ready": True,
        }
        base = f"http://127.0.0.1:{started['port']}"
        assert request(f"{base}/healthz")[0] == 200

        def answered() -> dict[str, float]:
            return requests_by_code(request(f"{base}/metrics")[2].decode())

        eventually(lambda: answered()["500"] >= 5)
        assert answered()["200"] == 0, "DEMO_ERROR_RATIO=1 from the environment"
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, stderr
    assert stderr == ""
    lines = [started, *(json.loads(line) for line in stdout.splitlines())]
    messages = [line["message"] for line in lines]
    assert messages[0] == "listening"
    assert "stopping" in messages
    assert messages[-1] == "stopped"
    assert {"time", "level", "logger", "message"} <= set(lines[-1])
    assert any(line.get("signal") == "SIGTERM" for line in lines)


def test_a_bad_setting_exits_2_naming_it() -> None:
    result = subprocess.run(
        [sys.executable, str(APP_PATH), "--port", "0"],
        env={"PATH": os.environ["PATH"], "DEMO_RATE": "-3"},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    (line,) = [json.loads(line) for line in result.stdout.splitlines()]
    assert line["field"] == "DEMO_RATE"
    assert "DEMO_RATE" in line["error"]


def test_the_ready_knob_makes_healthz_fail_and_recover(start_demo: StartDemo) -> None:
    """What a readiness probe on /healthz sees: the real-node tests turn it off and on."""
    app = start_demo()
    base = f"http://127.0.0.1:{app.port}"
    assert request(f"{base}/healthz")[0] == 200
    assert post_json(f"{base}/knobs", {"ready": False})[0] == 200
    assert request(f"{base}/healthz")[0] == 503
    assert post_json(f"{base}/knobs", {"ready": True})[0] == 200
    assert request(f"{base}/healthz")[0] == 200
