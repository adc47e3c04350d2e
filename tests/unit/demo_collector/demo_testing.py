"""Helpers for the demo collector's tests: the app module (it lives under examples/, not in a
package) and small HTTP and exposition readers."""

from __future__ import annotations

import importlib.util
import json
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from prometheus_client import parser

APP_PATH = Path(__file__).resolve().parents[3] / "examples" / "apps" / "demo-collector" / "app.py"


def load_app() -> ModuleType:
    """The app as a module, loaded from its file once (dataclasses need it in sys.modules)."""
    name = "demo_collector_app"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, APP_PATH)
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


demo = load_app()

StartDemo = Callable[..., Any]
"""The `start_demo(**settings)` fixture: a started `App`, stopped after the test."""


def request(
    url: str, body: object = None, *, raw: bytes | None = None
) -> tuple[int, dict[str, str], bytes]:
    """(status, headers, body) of a GET, or of a POST when a body is given; errors included."""
    data = raw if raw is not None else None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method="GET" if data is None else "POST")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, dict(error.headers), error.read()


def post_json(url: str, body: object = None, *, raw: bytes | None = None) -> tuple[int, Any]:
    status, _, text = request(url, body, raw=raw)
    return status, json.loads(text)


Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def samples(exposition: str, family: str) -> Samples:
    """The samples of one family, by (sample name, sorted labels)."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for f in parser.text_string_to_metric_families(exposition)
        if f.name == family
        for s in f.samples
    }


def requests_by_code(exposition: str) -> dict[str, float]:
    return {
        dict(labels)["code"]: value
        for (_, labels), value in samples(exposition, "demo_requests").items()
    }
