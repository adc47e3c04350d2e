"""`pulse-operator render` output for every example, compared with reviewed golden files.

Regenerate after an intended change with PULSE_UPDATE_GOLDEN=1 and review the diff.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.support import assert_matches_golden

from pulse_operator import yamlout
from pulse_operator.offline import render_paths
from pulse_operator.settings import OperatorSettings

REPO = Path(__file__).resolve().parents[3]
GOLDEN = Path(__file__).parent / "golden"
EXAMPLES = sorted(
    [
        *(REPO / "examples" / "collectors").glob("*.yaml"),
        *(REPO / "examples" / "slos").glob("*.yaml"),
        *(REPO / "examples" / "real-node").glob("*.yaml"),
    ]
)


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda path: path.stem)
def test_rendering_an_example_gives_its_golden_file(example: Path) -> None:
    result = render_paths([example], OperatorSettings())
    assert result.problems == []
    rendered = yamlout.dump_all(result.objects)
    assert_matches_golden(rendered, GOLDEN / f"{example.stem}.yaml")


def test_every_example_is_covered_by_a_golden_file() -> None:
    assert {p.stem for p in EXAMPLES} == {p.stem for p in GOLDEN.glob("*.yaml")}
