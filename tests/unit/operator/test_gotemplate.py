"""The port of Go's template parser says what Prometheus says of the shared table of
templates (which tests/integration/test_gotemplate_promtool.py checks with promtool)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.gotemplate_cases import INVALID, VALID

from pulse_operator.api import gotemplate
from pulse_operator.api.gotemplate import template_error


@pytest.mark.parametrize("text", VALID)
def test_parses_what_prometheus_parses(text: str) -> None:
    assert template_error(text) is None


@pytest.mark.parametrize(("text", "message"), INVALID)
def test_refuses_what_prometheus_refuses_saying_why(text: str, message: str) -> None:
    error = template_error(text)
    assert error is not None
    assert message in error


def test_the_table_has_each_template_once() -> None:
    texts = [*VALID, *(text for text, _ in INVALID)]
    assert len(texts) == len(set(texts)) >= 60


PIECES = ["{{", "}}", "{{- ", " -}}", "/*", "*/", " ", "\n", "$labels", ".x", "$", "|", "(", ")"]
PIECES += [":=", "=", ",", '"', "'", "`", "\\", "1", "-", "e", "if ", "else ", "end", "range "]


@given(st.lists(st.sampled_from(PIECES)).map("".join) | st.text())
def test_any_text_gets_an_answer_not_an_exception(text: str) -> None:
    error = template_error(text)
    assert error is None or error


def test_deep_nesting_is_refused_not_a_crash() -> None:
    error = template_error("{{ " + "(" * 2000 + "1" + ")" * 2000 + " }}")
    assert error == "template nests too deeply"


def test_it_imports_only_the_standard_library() -> None:
    imported: set[str] = set()
    for node in ast.walk(ast.parse(Path(gotemplate.__file__).read_text())):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add(str(node.module).split(".")[0])
    assert imported <= sys.stdlib_module_names | {"__future__"}
