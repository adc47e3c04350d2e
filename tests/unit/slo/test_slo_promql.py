"""Every PromQL an author writes is parsed before anything is applied, and its errors say where."""

from __future__ import annotations

from typing import Any

import pytest

from pulse_operator.api import slo
from pulse_operator.slo import promql, rules


def spec_with(sli: dict[str, Any]) -> slo.SLOSpec:
    return slo.SLOSpec.model_validate({"service": "api", "objective": 99, "sli": sli})


def ratio(error: str, total: str = "sum(rate(requests_total[{{.window}}]))") -> slo.SLOSpec:
    return spec_with({"ratio": {"errorQuery": error, "totalQuery": total}})


@pytest.mark.parametrize(
    ("text", "column", "words"),
    [
        pytest.param("sum(rate(x[5m])", 4, "unclosed left parenthesis", id="an unclosed bracket"),
        pytest.param("rate(x[5m])) ", 12, "unexpected right parenthesis", id="a stray bracket"),
        pytest.param("rate(x[5m]) +* 2", 14, "invalid promql query", id="two operators in a row"),
        pytest.param("foo{a=}", 7, "invalid promql query", id="a matcher without a value"),
        pytest.param("rate(x[5x])", 8, "bad number or duration syntax: 5x", id="a bad duration"),
        pytest.param("nosuchfn(x)", 1, "unknown function", id="an unknown function"),
        pytest.param("rate(x)", 1, "expected type matrix", id="a function given the wrong type"),
        pytest.param("up unless", 10, "invalid promql query", id="a query cut short"),
        pytest.param("abc def", 5, "invalid promql query", id="two selectors side by side"),
        pytest.param("x[5m]", 1, "must return an instant vector", id="a range vector"),
        pytest.param("1", 1, "must return an instant vector", id="a number"),
    ],
)
def test_a_syntax_error_is_reported_with_its_column_and_the_parser_message(
    text: str, column: int, words: str
) -> None:
    problems = promql.check_spec(spec_with({"availability": {"query": text}}))
    assert [(p.field, p.line, p.column) for p in problems] == [
        ("sli.availability.query", 1, column)
    ]
    assert words in problems[0].message


def test_a_position_counts_in_the_author_text_with_the_window_placeholder() -> None:
    problems = promql.check_spec(ratio("sum(rate(errors_total[{{ .window }}])) +* 2"))
    assert [(p.field, p.line, p.column) for p in problems] == [("sli.ratio.errorQuery", 1, 41)]


def test_a_multi_line_query_gets_a_line_and_a_column() -> None:
    problems = promql.check_spec(ratio("sum(\n  rate(errors_total[{{.window}}])\n  +* 2\n)"))
    assert [(p.line, p.column) for p in problems] == [(3, 4)]


def test_every_bad_query_of_an_slo_is_reported_in_field_order() -> None:
    problems = promql.check_spec(
        ratio("sum(rate(errors_total[{{.window}}])", total="sum(x[{{.window}}]) by")
    )
    assert [p.field for p in problems] == ["sli.ratio.errorQuery", "sli.ratio.totalQuery"]
    assert str(problems[0]) == (
        "spec.sli.ratio.errorQuery: line 1, column 4: unclosed left parenthesis"
    )


def test_a_latency_selector_error_is_placed_in_the_selector() -> None:
    # the schema admits only matchers; model_copy skips it, as a gap in its pattern would
    spec = spec_with({"latency": {"metric": "h", "threshold": 0.2, "selector": 'job="a"'}})
    assert spec.sli.latency is not None
    latency = spec.sli.latency.model_copy(update={"selector": 'job="a",,'})
    spec = spec.model_copy(update={"sli": spec.sli.model_copy(update={"latency": latency})})
    problems = promql.check_spec(spec)
    assert [(p.field, p.column) for p in problems] == [("sli.latency.selector", 9)]


@pytest.mark.parametrize(
    "sli",
    [
        {"latency": {"metric": "h", "threshold": 0.2, "selector": 'job="a",route!~"/health.*"'}},
        {"freshness": {"query": "max by (job) (last_success)", "maxLagSeconds": 60}},
        {"saturation": {"query": "sum by (i) (rate(cpu[5m])) # CPU", "ceiling": 0.8}},
    ],
)
def test_valid_queries_have_no_problems(sli: dict[str, Any]) -> None:
    assert promql.check_spec(spec_with(sli)) == []


def test_rendering_refuses_a_spec_whose_promql_does_not_parse() -> None:
    with pytest.raises(promql.InvalidPromQLError, match=r"spec\.sli\.ratio\.errorQuery") as raised:
        rules.render_slo_rules(
            "api", "default", ratio("sum(rate(e[{{.window}}])"), "https://runbooks.example.com"
        )
    assert len(raised.value.problems) == 1


def test_the_window_placeholder_takes_each_spelling_go_templates_accept() -> None:
    query = "rate(x[{{.window}}]) + rate(y[{{ .window }}])"
    assert promql.with_window(query, "1h") == "rate(x[1h]) + rate(y[1h])"
