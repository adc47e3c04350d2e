"""The shared table of templates, checked with the real promtool: it takes exactly the ones
pulse_operator.api.gotemplate takes, as an annotation and as a label value, and says of the
others what the table says. One promtool run checks every case, a rule file each."""

from __future__ import annotations

import itertools
import subprocess

import pytest
import yaml
from pulse_devcluster import paths
from tests.gotemplate_cases import INVALID, VALID

from pulse_operator.api.gotemplate import template_error

TEMPLATES = [*VALID, *(text for text, _ in INVALID)]
PLACES = ("annotations", "labels")
PROMTOOL_TIMEOUT = 300

Verdicts = dict[tuple[str, str], str | None]


@pytest.fixture(scope="module")
def promtool_verdicts(tmp_path_factory: pytest.TempPathFactory) -> Verdicts:
    """For each template and place: None when promtool passes its rule file, else what
    promtool says of it. (The `promtool` fixture fails the test when promtool does.)"""
    try:
        binary = paths.binary("promtool")
    except paths.MissingToolError as error:
        pytest.fail(str(error))
    directory = tmp_path_factory.mktemp("rules")
    files: dict[str, tuple[str, str]] = {}
    for number, text in enumerate(TEMPLATES):
        for place in PLACES:
            rule = {"alert": "A", "expr": "up == 0", place: {"summary": text}}
            path = directory / f"{number}-{place}.yaml"
            path.write_text(yaml.safe_dump({"groups": [{"name": "g", "rules": [rule]}]}))
            files[str(path)] = (text, place)
    done = subprocess.run(
        [str(binary), "check", "rules", "--lint=none", *files],
        capture_output=True,
        text=True,
        timeout=PROMTOOL_TIMEOUT,
    )
    # stdout: "Checking FILE", then "  SUCCESS: ..." unless it failed; stderr: "FILE: why"
    lines = done.stdout.splitlines()
    checked = [line.removeprefix("Checking ") for line in lines if line.startswith("Checking ")]
    assert checked == list(files), done.stdout + done.stderr
    passed = {
        line.removeprefix("Checking ")
        for line, following in itertools.pairwise(lines)
        if line.startswith("Checking ") and following.startswith("  SUCCESS")
    }
    verdicts: Verdicts = {key: None for path, key in files.items() if path in passed}
    for line in done.stderr.splitlines():
        if (name := line.split(": ", 1)[0]) in files and name not in passed:
            verdicts[files[name]] = line
    assert len(verdicts) == len(files), done.stderr
    return verdicts


@pytest.mark.parametrize("place", PLACES)
@pytest.mark.parametrize("text", TEMPLATES)
def test_promtool_takes_what_the_port_takes(
    promtool_verdicts: Verdicts, text: str, place: str
) -> None:
    promtool = promtool_verdicts[text, place]
    port = template_error(text)
    assert (promtool is None) == (port is None), f"promtool: {promtool}; port: {port}"


@pytest.mark.parametrize("place", PLACES)
@pytest.mark.parametrize(("text", "message"), INVALID)
def test_promtool_says_what_the_table_says(
    promtool_verdicts: Verdicts, text: str, message: str, place: str
) -> None:
    assert message in (promtool_verdicts[text, place] or "passed")
