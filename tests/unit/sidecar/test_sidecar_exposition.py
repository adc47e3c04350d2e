"""The scrape parser: Prometheus text format and OpenMetrics into labelled samples.

prometheus_client's parsers are the reference: on every exposition where the two formats'
rules agree, the fast parser must give exactly what prometheus_client's families flatten to.
"""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import parser
from prometheus_client.openmetrics import parser as openmetrics_parser

from pulse_sidecar import samples
from pulse_sidecar.sources import exposition

IDENTITY = {"collector": "c", "namespace": "ns", "pod": "p"}

names = st.from_regex(r"[a-z][a-z0-9_]{0,12}", fullmatch=True).filter(
    lambda name: not name.endswith(("_total", "_created", "_bucket", "_count", "_sum", "_info"))
)
label_names = st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True)
label_values = st.text(st.characters(codec="utf-8", exclude_characters="\r"), max_size=12)
values = st.floats(allow_nan=False) | st.integers(-(10**6), 10**6).map(float)


def escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def label_text(labels: dict[str, str]) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{k}="{escape(v)}"' for k, v in labels.items()) + "}"


def number(value: float) -> str:
    return repr(value).replace("inf", "Inf")


@st.composite
def families(draw: st.DrawFn, openmetrics: bool) -> str:
    """One metric family as exposition lines (with a trailing newline)."""
    name = draw(names)
    kind = draw(st.sampled_from(["counter", "gauge", "untyped", "summary"]))
    if openmetrics and kind in ("untyped", "summary"):
        kind = "unknown"
    series = draw(st.lists(st.dictionaries(label_names, label_values, max_size=3), max_size=4))
    unique = {label_text(labels): labels for labels in series}
    lines = [f"# HELP {name} {escape(draw(label_values))}"]
    if kind != "untyped":
        typed = f"{name}_total" if kind == "counter" and not openmetrics else name
        lines.append(f"# TYPE {typed} {kind}")
    sample_name = f"{name}_total" if kind == "counter" else name
    for text in unique:
        timestamp = draw(st.none() | st.integers(0, 2_000_000_000))
        stamp = "" if timestamp is None else f" {timestamp}" if openmetrics else f" {timestamp}000"
        value = abs(draw(values)) if kind == "counter" else draw(values)
        lines.append(f"{sample_name}{text} {number(value)}{stamp}")
        if kind == "counter" and openmetrics and draw(st.booleans()):
            lines.append(f"{name}_created{text} 1700000000{stamp}")
    return "".join(f"{line}\n" for line in lines)


def exposition_of(openmetrics: bool) -> st.SearchStrategy[str]:
    body = st.lists(families(openmetrics), max_size=5, unique_by=lambda f: f.split()[2])
    return body.map(lambda parts: "".join(parts) + ("# EOF\n" if openmetrics else ""))


def reference(text: str, openmetrics: bool) -> list[samples.Sample]:
    if openmetrics:
        parsed = openmetrics_parser.text_string_to_metric_families(text)  # type: ignore[no-untyped-call]
    else:
        parsed = parser.text_string_to_metric_families(text)
    return samples.flatten(parsed, 42_000, IDENTITY)


@settings(max_examples=300, deadline=None)
@given(st.booleans(), st.data())
def test_the_parser_agrees_with_prometheus_client(openmetrics: bool, data: st.DataObject) -> None:
    text = data.draw(exposition_of(openmetrics))
    fast = exposition.SeriesParser(IDENTITY)
    assert fast.parse(text, openmetrics, 42_000) == reference(text, openmetrics)
    assert fast.parse(text, openmetrics, 42_000) == reference(text, openmetrics), "from memory"


def parse(text: str, openmetrics: bool = False) -> list[samples.Sample]:
    return exposition.SeriesParser(IDENTITY).parse(text, openmetrics, 7_000)


def test_identity_labels_win_and_the_scraped_ones_are_kept_as_exported() -> None:
    (sample,) = parse('up{pod="from-app",job="x"} 1\n')
    assert sample.labels == (
        ("collector", "c"),
        ("exported_pod", "from-app"),
        ("job", "x"),
        ("namespace", "ns"),
        ("pod", "p"),
    )


def test_a_label_with_an_empty_value_is_left_out_and_clashes_with_nothing() -> None:
    """Remote write 1.0: "the label set MUST NOT contain any empty label names or values";
    to Prometheus `a=""` is no label at all, so it cannot clash with an identity label."""
    (sample,) = parse('up{a="",pod="",job="x"} 1\n')
    assert sample.labels == (("collector", "c"), ("job", "x"), ("namespace", "ns"), ("pod", "p"))


def test_names_are_kept_as_written_and_millisecond_timestamps_exactly() -> None:
    (sample,) = parse("# TYPE hits counter\nhits 3 1700000000001\n")
    assert (sample.name, sample.family, sample.kind) == ("hits", "hits", "counter")
    assert sample.timestamp_ms == 1_700_000_000_001


def test_openmetrics_timestamps_are_seconds_and_exemplars_are_dropped() -> None:
    text = (
        "# TYPE rpc histogram\n"
        'rpc_bucket{le="0.5"} 2 1700000000.5 # {trace_id="abc"} 0.3 1700000000.4\n'
        'rpc_bucket{le="+Inf"} 3 1700000000.5\n'
        "rpc_count 3 1700000000.5\nrpc_sum 1.2 1700000000.5\nrpc_created 1600000000\n# EOF\n"
    )
    parsed = parse(text, openmetrics=True)
    assert [(s.name, s.value, s.timestamp_ms, s.kind) for s in parsed] == [
        ("rpc_bucket", 2.0, 1_700_000_000_500, "histogram"),
        ("rpc_bucket", 3.0, 1_700_000_000_500, "histogram"),
        ("rpc_count", 3.0, 1_700_000_000_500, "histogram"),
        ("rpc_sum", 1.2, 1_700_000_000_500, "histogram"),
    ]


def test_special_values_parse() -> None:
    parsed = parse("a +Inf\nb -Inf\nc NaN\nd 1e3\n")
    assert [s.value for s in parsed[:2]] == [math.inf, -math.inf]
    assert math.isnan(parsed[2].value)
    assert not samples.is_stale(parsed[2].value)
    assert parsed[3].value == 1000.0


def test_a_known_series_with_a_bad_value_is_still_refused() -> None:
    known = exposition.SeriesParser(IDENTITY)
    known.parse('jobs{queue="a"} 1\n', False, 0)
    with pytest.raises(exposition.ExpositionError, match="line 1: invalid value 'x'"):
        known.parse('jobs{queue="a"} x\n', False, 0)
    with pytest.raises(exposition.ExpositionError, match="invalid value '1_0'"):
        known.parse('jobs{queue="a"} 1_0\n', False, 0)


@pytest.mark.parametrize(
    ("text", "openmetrics", "message"),
    [
        ("# TYPE a gauge\na 1\n", True, "must end with # EOF"),
        ("a 1\n# EOF\na 2\n", True, "line 3: text after # EOF"),
        ('a 1 # {x="y"} 1\n', False, "exemplars are OpenMetrics only"),
        ("# TYPE a gauges\n", False, "unknown type 'gauges'; allowed: counter,"),
        ('a{x="\\t"} 1\n', False, "invalid escape"),
        ('a{x="1",x="2"} 1\n', False, "label 'x' appears twice"),
        ('{__name__="a"} 1\n', False, "not a sample"),
        ('a{__name__="a"} 1\n', False, "the name goes before the braces"),
        ('a{x="1" y="2"} 1\n', False, "invalid labels"),
        ('a{x="1} 1\n', False, "not a sample"),
        ("a 1 12_000\n", False, "invalid timestamp"),
        ("a\n", False, "line 1: not a sample"),
        ("this is { not metrics", False, "not a sample"),
    ],
)
def test_invalid_exposition_is_refused_naming_the_line(
    text: str, openmetrics: bool, message: str
) -> None:
    with pytest.raises(exposition.ExpositionError, match=message.replace("{", "\\{")):
        parse(text, openmetrics)


def test_the_memory_of_series_follows_what_the_target_serves() -> None:
    remembering = exposition.SeriesParser(IDENTITY)
    many = "".join(f'a{{i="{i}"}} 1\n' for i in range(5_000))
    remembering.parse(many, False, 0)
    assert len(remembering._known) == 5_000
    remembering.parse("a 1\n", False, 0)
    assert len(remembering._known) == 0
    assert [s.name for s in remembering.parse("a 1\n", False, 0)] == ["a"]


@pytest.mark.parametrize("block", [1, 3, 7])
def test_lines_are_split_in_blocks_exactly_as_one_split_would(
    block: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(exposition, "_BLOCK", block)
    rng = random.Random(block)
    for _ in range(2000):
        text = "".join(rng.choice("ab\n") for _ in range(rng.randrange(0, 24)))
        assert list(exposition._lines(text)) == text.split("\n"), repr(text)


def test_the_sample_limit_stops_the_parse_and_counts_only_samples_kept() -> None:
    """`_created` samples and comments are not samples; the limit is on what is kept."""
    text = "# TYPE jobs counter\njobs_total 1\njobs_created 5\n# HELP x y\nother 2\n"
    parser = exposition.SeriesParser(IDENTITY)
    assert len(parser.parse(text, False, 0, limit=2)) == 2
    with pytest.raises(exposition.SampleLimitError, match="more than 1 samples"):
        parser.parse(text, False, 0, limit=1)
