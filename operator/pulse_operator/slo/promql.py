"""Parse the PromQL an SLO's author wrote, before any rule made from it is applied.

promql-parser says what is wrong but not where, so the position is worked out here, in this
order: an unbalanced bracket is where it is; a token the message names (`'rate'`, `5x`) is
found in the text; an error of meaning (a type) is the whole query's; otherwise the error is
at the first token after the longest prefix that can still be completed into a query.
`{{.window}}` is replaced by a duration padded to its length (`0000000005m`), so positions
count in the author's text.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator, Sequence

import promql_parser

from pulse_operator.api import slo
from pulse_operator.validation import SpecError

_PLACEHOLDER = re.compile(slo.WINDOW_PLACEHOLDER)
_CLOSERS = {"(": ")", "[": "]", "{": "}"}
_TOKEN = re.compile(
    r"""(?P<skip>\s+|\#[^\n]*)
    |"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*'|`[^`]*`
    |[0-9.][\w.]*(?:[eE][-+][0-9]+)?
    |[a-zA-Z_:][\w:]*
    |=~|!~|!=|==|<=|>=
    |.""",
    re.VERBOSE | re.DOTALL,
)
# Ways to finish a prefix: an infix, then its open brackets closed, a suffix among them.
_INFIXES = ("", " x", " 1", ' "x"', '="x"', "5m", " (x)")
_SUFFIXES = ("", " (x)")
# Messages about what a query means rather than how it is written: the text parses.
_SEMANTIC = re.compile(r"expected type|must contain|wrong number|expected at least|expected \d")
_NAMED_TOKEN = re.compile(r"'([^']+)'|: (\S+)$")


@dataclasses.dataclass(frozen=True)
class Problem:
    """A PromQL error in one field of an SLO's spec, with its 1-based position."""

    field: str
    line: int
    column: int
    message: str

    def __str__(self) -> str:
        return f"spec.{self.field}: line {self.line}, column {self.column}: {self.message}"


class InvalidPromQLError(SpecError):
    """An SLO whose PromQL does not parse; nothing may be generated from it."""

    reason = "InvalidPromQL"

    def __init__(self, problems: Sequence[Problem]) -> None:
        super().__init__([str(problem) for problem in problems])


def with_window(query: str, window: str) -> str:
    """The query with every `{{.window}}` replaced by `window`, e.g. `5m`."""
    return _PLACEHOLDER.sub(window, query)


def check_spec(spec: slo.SLOSpec) -> list[Problem]:
    """Every PromQL problem in the spec, in field order; empty when all of it parses."""
    problems = []
    for field, text, start, end in _queries(spec.sli):
        found = find_error(text)
        if found is not None:
            offset, message = found
            written = text[start:end]
            position = min(max(offset - start, 0), len(written))
            line_start = written.rfind("\n", 0, position) + 1
            line = written.count("\n", 0, position) + 1
            problems.append(Problem(field, line, position - line_start + 1, message))
    return problems


def _queries(sli: slo.SLI) -> Iterator[tuple[str, str, int, int]]:
    """(field, text to parse, start and end of the author's part in it) per user query."""
    if sli.ratio is not None:
        for name, query in (
            ("errorQuery", sli.ratio.error_query),
            ("goodQuery", sli.ratio.good_query),
            ("totalQuery", sli.ratio.total_query),
        ):
            if query is not None:
                padded = _PLACEHOLDER.sub(lambda match: "5m".rjust(len(match[0]), "0"), query)
                yield f"sli.ratio.{name}", padded, 0, len(padded)
    if sli.latency is not None:
        head = f"{sli.latency.metric}_count{{"
        text = f"{head}{sli.latency.selector}}}"
        yield "sli.latency.selector", text, len(head), len(text) - 1
    for kind in (sli.availability, sli.freshness, sli.saturation):
        if kind is not None:
            yield f"sli.{sli.kind}.query", kind.query, 0, len(kind.query)


def find_error(text: str) -> tuple[int, str] | None:
    """(offset, message) of the first error in `text`, which must be an instant vector."""
    try:
        promql_parser.parse(text)
    except ValueError as error:
        return _locate(text, str(error)), str(error)
    try:
        promql_parser.parse(f"sum({text}\n)")  # on its own line, out of any `#` comment
    except ValueError as error:
        return 0, f"must return an instant vector ({error})"
    return None


def _locate(text: str, message: str) -> int:
    open_brackets, stray = _brackets(text)
    if stray is not None:
        return stray
    if open_brackets:
        return open_brackets[-1].start()
    named = _NAMED_TOKEN.search(message)
    if named is not None:
        token = named[1] or named[2]
        found = re.search(rf"(?<!\w){re.escape(token)}(?![\w:])", text)
        if found is not None:
            return found.start()
    return 0 if _SEMANTIC.search(message) else _first_unviable_token(text)


def _tokens(text: str) -> Iterator[re.Match[str]]:
    return (token for token in _TOKEN.finditer(text) if token["skip"] is None)


def _brackets(text: str) -> tuple[list[re.Match[str]], int | None]:
    """The brackets left open, and the offset of the first closing one that does not match."""
    open_brackets: list[re.Match[str]] = []
    for token in _tokens(text):
        bracket = token[0]
        if bracket in _CLOSERS:
            open_brackets.append(token)
        elif bracket in _CLOSERS.values() and (
            not open_brackets or _CLOSERS[open_brackets.pop()[0]] != bracket
        ):
            return open_brackets, token.start()
    return open_brackets, None


def _first_unviable_token(text: str) -> int:
    for token in _tokens(text):
        if not _viable(text[: token.end()]):
            return token.start()
    return len(text)


def _viable(prefix: str) -> bool:
    """Whether some ending makes `prefix` a query that parses (or fails only on meaning)."""
    for infix in _INFIXES:
        candidate = prefix + infix
        open_brackets, _ = _brackets(candidate)  # no stray closer: _locate found none
        closers = "".join(_CLOSERS[bracket[0]] for bracket in reversed(open_brackets))
        for suffix in _SUFFIXES:
            for closed in range(len(closers) + 1):
                ending = closers[:closed] + suffix + closers[closed:]
                try:
                    promql_parser.parse(candidate + ending)
                except ValueError as error:
                    if _SEMANTIC.search(str(error)):
                        return True
                else:
                    return True
    return False
