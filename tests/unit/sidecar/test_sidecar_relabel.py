"""Metric relabeling with Prometheus's semantics (cases taken from its relabel_test.go)."""

from __future__ import annotations

from typing import Any

import pydantic
import pytest

from pulse_sidecar import config
from pulse_sidecar.sources import exposition, relabel

SERIES = ("http_requests_total", (("code", "200"), ("path", "/api/v1"), ("pod", "p")))


def apply(*rules: dict[str, Any], series: tuple[str, Any] = SERIES) -> Any:
    compiled = relabel.compile_rules([config.MetricRelabel(**rule) for rule in rules])
    return relabel.apply(compiled, *series)


def test_replace_fills_groups_by_number_and_name_and_anchors_the_regex() -> None:
    name, labels = apply(
        {
            "source_labels": ["code", "path"],
            "regex": r"(?P<class>\d)\d\d;/api/(v\d)",
            "target_label": "route",
            "replacement": "${class}xx-$2-$$",
        }
    )
    assert name == "http_requests_total"
    assert dict(labels)["route"] == "2xx-v1-$"
    unanchored = apply({"source_labels": ["path"], "regex": "api", "target_label": "x"})
    assert "x" not in dict(unanchored[1]), "regex is anchored at both ends"


def test_an_unknown_group_is_empty_and_an_emptied_label_is_removed() -> None:
    _, labels = apply({"source_labels": ["code"], "target_label": "path", "replacement": "$9"})
    assert "path" not in dict(labels)


def test_an_invalid_target_label_after_expansion_is_skipped() -> None:
    _, labels = apply({"source_labels": ["path"], "regex": "(.*)", "target_label": "$1"})
    assert labels == SERIES[1]


@pytest.mark.parametrize(
    ("action", "regex", "kept"),
    [("keep", "2..", True), ("keep", "5..", False), ("drop", "2..", False), ("drop", "5..", True)],
)
def test_keep_and_drop(action: str, regex: str, kept: bool) -> None:
    result = apply({"action": action, "source_labels": ["code"], "regex": regex})
    assert (result is not None) == kept


def test_a_missing_source_label_is_an_empty_value_and_sources_join_with_the_separator() -> None:
    assert apply({"action": "keep", "source_labels": ["absent"], "regex": ""}) is not None
    matched = {"action": "keep", "source_labels": ["code", "pod"], "separator": "|"}
    assert apply({**matched, "regex": r"200\|p"}) is not None
    assert apply({**matched, "regex": "200;p"}) is None


def test_labeldrop_removes_matching_names_but_never_the_name() -> None:
    name, labels = apply({"action": "labeldrop", "regex": "pa.*|__name__"})
    assert name == SERIES[0]
    assert dict(labels) == {"code": "200", "pod": "p"}


def test_renaming_and_emptying_the_name() -> None:
    renamed = apply(
        {"source_labels": ["__name__"], "regex": "(.*)_total", "target_label": "__name__"}
    )
    assert renamed is not None
    assert renamed[0] == "http_requests"
    emptied = {"source_labels": ["absent"], "target_label": "__name__"}
    assert apply(emptied) is None, "a series without a name is dropped"


def test_rules_apply_in_order() -> None:
    copy = {"source_labels": ["code"], "target_label": "status"}
    drop = {"action": "labeldrop", "regex": "code"}
    assert dict(apply(copy, drop)[1]) == {"path": "/api/v1", "pod": "p", "status": "200"}
    assert "status" not in dict(apply(drop, copy)[1])


@pytest.mark.parametrize(
    ("rule", "problem"),
    [
        ({"regex": "(unclosed"}, "not a valid expression"),
        ({"action": "replace"}, "needs target_label"),
        ({"action": "hashmod", "target_label": "x"}, "replace"),
        ({"action": "keep", "source_labels": ["bad-name"]}, "source_labels"),
    ],
)
def test_an_invalid_rule_is_refused_with_what_is_wrong(rule: dict[str, Any], problem: str) -> None:
    with pytest.raises(pydantic.ValidationError, match=problem):
        config.MetricRelabel(**rule)


def test_the_parser_relabels_once_per_series_and_counts_what_it_dropped() -> None:
    rules = relabel.compile_rules(
        [config.MetricRelabel(action="drop", source_labels=["code"], regex="5..")]
    )
    parser = exposition.SeriesParser({"pod": "p"}, rules=rules)
    text = 'a_total{code="200"} 1\na_total{code="500"} 2\n'
    for timestamp in (0, 1):
        parsed = parser.parse(text, False, timestamp)
        assert [dict(s.labels)["code"] for s in parsed] == ["200"]
        assert parser.scraped == 2
    assert parser.added == 0, "the second parse met no new series"
