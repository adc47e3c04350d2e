"""Parsing a scrape into labelled samples: Prometheus text format 0.0.4 and OpenMetrics 1.0.

This is the relay's hot path, so it is written for it rather than taken from
prometheus_client (whose parser builds a dictionary and an object per sample, about 11 us):
a target serves the same series on every scrape, so the parser remembers each series by its
text as written (`http_requests_total{code="200"}`) with its labels already parsed, checked,
merged with the target's labels, relabeled and sorted (or remembered as dropped). A line of
a known series then costs a partition, a dictionary lookup and a float(); only new series go
through the grammar and the relabeling rules.

Where the formats leave room, Prometheus' own parser is followed: names are kept as written
(a counter without `_total` is not renamed), text-format timestamps are integer milliseconds
and OpenMetrics ones seconds, OpenMetrics must end with `# EOF` (a cut-off body is refused),
exemplars are dropped, and `_created` samples are left out.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TypeVar

from pulse_sidecar import samples
from pulse_sidecar.sources import relabel

_SAMPLE_LINE = re.compile(
    r"(([a-zA-Z_:][a-zA-Z0-9_:]*)"  # series: the name,
    r'(?:[ \t]*\{((?:[^"}]|"(?:[^"\\]|\\.)*")*)\})?)'  # then its labels, if any
    r"[ \t]++([^ \t]++)"  # value
    r"(?:[ \t]++([^ \t#][^ \t]*+))?"  # timestamp
    r"[ \t]*+(#[ \t].*)?$"  # exemplar (OpenMetrics only)
)
"""Possessive where it matters, so that no line costs more than a pass over it."""
_LABEL = re.compile(r'[ \t]*([a-zA-Z_][a-zA-Z0-9_]*)[ \t]*=[ \t]*"((?:[^"\\]|\\.)*)"[ \t]*(,|$)')
_ESCAPE = re.compile(r"\\(.)")
_UNESCAPED = {"\\": "\\", '"': '"', "n": "\n"}

_N = TypeVar("_N", int, float)

_SUFFIXES = {
    "counter": ("", "_total", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "gaugehistogram": ("_bucket", "_gcount", "_gsum"),
    "summary": ("", "_count", "_sum", "_created"),
    "info": ("_info",),
    "stateset": ("",),
    "unknown": ("",),
    "untyped": ("",),
}
"""The sample names a family of each type has, after its name."""


_LEFT_OUT = ("", "")
"""The family entry of a `_created` sample name: Prometheus does not ingest those as series."""
_DROPPED: tuple[str, samples.Labels] = ("", ())
"""The remembered series of a line that metric relabeling drops."""


class ExpositionError(ValueError):
    """The body is not valid exposition; the message names the line."""


class SampleLimitError(Exception):
    """The scrape holds more samples than its target's limit."""


class SeriesParser:
    """Parses one target's scrapes, remembering its series between them.

    The memory is bounded by what the target serves: when it holds more than twice the
    series of the latest scrape (plus some slack), it is forgotten and rebuilt.
    """

    def __init__(
        self,
        identity: Mapping[str, str],
        honor_labels: bool = False,
        rules: Sequence[relabel.Rule] = (),
    ) -> None:
        self._identity = dict(identity)
        self._honor_labels = honor_labels
        self._rules = list(rules)
        self._known: dict[str, tuple[str, samples.Labels]] = {}
        self.scraped = 0
        """Samples in the latest body, before relabeling (`scrape_samples_scraped`)."""
        self.added = 0
        """Series of the latest body not seen before (`scrape_series_added`)."""

    def parse(
        self, text: str, openmetrics: bool, timestamp_ms: int, limit: int = sys.maxsize
    ) -> list[samples.Sample]:
        """The samples of `text`; those without a timestamp get `timestamp_ms`. Stops with
        SampleLimitError at sample `limit` + 1, before the rest costs memory or time."""
        known = self._known
        new_sample, sample_type = tuple.__new__, samples.Sample  # half the cost of Sample(...)
        families: dict[str, tuple[str, str]] = {}
        parsed: list[samples.Sample] = []
        append = parsed.append
        ended = False
        dropped = 0
        self.added = 0
        for number, line in enumerate(_lines(text), 1):
            if ended and line:
                raise ExpositionError(f"line {number}: text after # EOF")
            if not line:
                continue
            if line[0] == "#":
                ended = self._comment(line, number, openmetrics, families)
                continue
            head, _, token = line.rpartition(" ")
            series = known.get(head)
            if series is not None and "_" not in token:
                try:
                    value, timestamp = float(token), timestamp_ms
                except ValueError:
                    series = None
            else:
                series = None
            if series is None:
                series, value, timestamp = self._parse_line(line, number, openmetrics, timestamp_ms)
            if series is _DROPPED:
                dropped += 1
                continue
            name, labels = series
            family = families.get(name)
            if family is None:
                family = families[name] = (name, "unknown")
            elif family is _LEFT_OUT:
                continue
            if number > limit and len(parsed) >= limit:
                known.clear()  # a target over its limit fails every scrape: keep nothing
                raise SampleLimitError(f"more than {limit} samples (sample_limit)")
            append(new_sample(sample_type, (name, labels, value, timestamp, family[0], family[1])))
        if openmetrics and not ended:
            raise ExpositionError("OpenMetrics must end with # EOF: the body was cut off")
        self.scraped = len(parsed) + dropped
        if len(known) > 2 * self.scraped + 1000:
            known.clear()
        return parsed

    def _comment(
        self, line: str, number: int, openmetrics: bool, families: dict[str, tuple[str, str]]
    ) -> bool:
        """Records a TYPE; returns whether the line is OpenMetrics' `# EOF`."""
        if openmetrics and line == "# EOF":
            return True
        parts = line.split(None, 3)
        if len(parts) < 4 or parts[1] != "TYPE":
            return False  # HELP, UNIT and other comments carry nothing the sinks need
        name, kind = parts[2], parts[3].strip()
        suffixes = _SUFFIXES.get(kind)
        if suffixes is None:
            allowed = ", ".join(sorted(_SUFFIXES))
            raise ExpositionError(f"line {number}: unknown type {kind!r}; allowed: {allowed}")
        family = name[:-6] if kind == "counter" and name.endswith("_total") else name
        described = (family, "unknown" if kind == "untyped" else kind)
        for suffix in suffixes:
            families.setdefault(family + suffix, _LEFT_OUT if suffix == "_created" else described)
        return False

    def _parse_line(
        self, line: str, number: int, openmetrics: bool, default_timestamp_ms: int
    ) -> tuple[tuple[str, samples.Labels], float, int]:
        match = _SAMPLE_LINE.match(line)
        if match is None:
            raise ExpositionError(f"line {number}: not a sample: {line[:200]!r}")
        head, name, label_text, value_token, timestamp_token, exemplar = match.groups()
        if exemplar is not None and not openmetrics:
            raise ExpositionError(f"line {number}: exemplars are OpenMetrics only")
        value = _number(value_token, number, "value", float)
        if timestamp_token is None:
            timestamp = default_timestamp_ms
        elif openmetrics:
            timestamp = round(_number(timestamp_token, number, "timestamp", float) * 1000)
        else:
            timestamp = _number(timestamp_token, number, "timestamp", int)
        series = self._known.get(head)
        if series is None:
            self.added += 1
            pairs = _labels(label_text or "", number)
            labels = samples.labelled(pairs, self._identity, self._honor_labels)
            relabelled = relabel.apply(self._rules, name, labels) if self._rules else (name, labels)
            series = self._known[head] = _DROPPED if relabelled is None else relabelled
        return series, value, timestamp


_BLOCK = 1 << 20


def _lines(text: str) -> Iterator[str]:
    """`text.split("\n")`, a block of about a MiB at a time: a scrape given up at its sample
    limit never holds the lines of the rest of its body."""
    start, size = 0, len(text)
    while start <= size:
        end = text.find("\n", start + _BLOCK)
        if end < 0:
            end = size
        yield from text[start:end].split("\n")
        start = end + 1


def _labels(text: str, number: int) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    seen: set[str] = set()
    position, end = 0, len(text.rstrip(" \t"))
    while position < end:
        match = _LABEL.match(text, position)
        if match is None:
            raise ExpositionError(f"line {number}: invalid labels: {text[:200]!r}")
        name, value, _ = match.groups()
        if name == "__name__":
            raise ExpositionError(f"line {number}: the name goes before the braces, not in them")
        if name in seen:
            raise ExpositionError(f"line {number}: label {name!r} appears twice")
        seen.add(name)
        pairs.append((name, _ESCAPE.sub(lambda m: _unescape(m, number), value)))
        position = match.end()
    return pairs


def _unescape(match: re.Match[str], number: int) -> str:
    replacement = _UNESCAPED.get(match.group(1))
    if replacement is None:
        raise ExpositionError(
            f'line {number}: invalid escape {match.group(0)!r}; allowed: \\\\ \\" \\n'
        )
    return replacement


def _number(token: str, number: int, what: str, convert: Callable[[str], _N]) -> _N:
    """`token` as a number; Python's own literals with underscores (`1_000`) are refused."""
    try:
        if "_" in token:
            raise ValueError(token)
        return convert(token)
    except ValueError:
        raise ExpositionError(f"line {number}: invalid {what} {token[:40]!r}") from None
