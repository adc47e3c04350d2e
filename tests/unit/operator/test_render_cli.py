"""`pulse-operator render`: offline output, and errors that name the file, object and field."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from pulse_operator import cli

REPO = Path(__file__).resolve().parents[3]


def test_rendering_the_examples_directory_prints_every_child(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cli.main(["render", "-f", str(REPO / "examples")]) == 0
    kinds = [doc["kind"] for doc in yaml.safe_load_all(capsys.readouterr().out)]
    examples = [
        doc.get("kind")
        for path in sorted((REPO / "examples").rglob("*.yaml"))
        for doc in yaml.safe_load_all(path.read_text())
        if isinstance(doc, dict)
    ]
    assert kinds.count("Deployment") == examples.count("MetricsCollector") > 0
    assert kinds.count("PrometheusRule") >= examples.count("SLO") > 0


def test_json_output_is_one_list(capsys: pytest.CaptureFixture[str]) -> None:
    example = REPO / "examples" / "collectors" / "minimal.yaml"
    assert cli.main(["render", "-f", str(example), "-o", "json"]) == 0
    assert '"kind": "List"' in capsys.readouterr().out


def test_invalid_input_exits_1_with_one_line_per_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "apiVersion: pulse.dev/v1alpha1\nkind: MetricsCollector\nmetadata: {name: web}\n"
        "spec: {collector: {image: app}, replicas: 500, sinks: [{name: s}]}\n"
        "---\n"
        "apiVersion: pulse.dev/v1alpha1\nkind: SLO\nmetadata: {name: api}\n"
        "spec:\n  service: api\n  objective: 99.9\n  sli:\n    ratio:\n"
        "      errorQuery: sum(rate(errors[{{.window}}])\n"
        "      totalQuery: sum(rate(total[{{.window}}]))\n"
    )
    assert cli.main(["render", "-f", str(bad)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert f"{bad}: MetricsCollector web: spec.replicas: " in "\n".join(lines)
    assert any(
        line.startswith(f"{bad}: MetricsCollector web: spec.sinks[0]: set exactly one of")
        for line in lines
    )
    assert any(
        line.startswith(f"{bad}: SLO api: spec.sli.ratio.errorQuery: line 1, column")
        for line in lines
    )
