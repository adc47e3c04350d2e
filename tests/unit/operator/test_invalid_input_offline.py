"""`pulse-operator render` refuses every case of the invalid-input suite, naming its field.

The integration suite gives the same files to the real API server and the operator; both
must name the same field (tests/integration/test_invalid_input.py).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from tests.invalid_input import (
    KINDS,
    InvalidInput,
    invalid_inputs,
    named_fields,
    names,
    render_problems,
)

CASES = invalid_inputs()


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_render_refuses_the_case_naming_its_field(
    case: InvalidInput, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    problems = render_problems(case, tmp_path, capsys)
    assert names(case.field, named_fields(problems)), problems
    if case.says:
        assert case.says in problems, problems


@pytest.mark.parametrize("plural", KINDS)
def test_the_suite_has_at_least_60_distinct_mistakes_per_kind(plural: str) -> None:
    cases = [case for case in CASES if case.plural == plural]
    assert len(cases) >= 60, f"{plural}: {len(cases)} cases"
    mistakes = Counter(case.mistake for case in cases)
    assert max(mistakes.values()) == 1, mistakes.most_common(3)
