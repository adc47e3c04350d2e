"""checkov finds nothing to fail in the rendered chart (every variant) or in
manifests/install.yaml, and every check it skips is skipped on the object, with a reason.

checkov lives in its own virtual environment (.pulse/checkov, from
hack/requirements-checkov.txt, created by hack/install-checkov.sh): its pins conflict
with the project's.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pulse_chart
import pytest
from tests.unit.chart.chart_variants import VARIANTS

pytestmark = pytest.mark.integration  # needs the tool in .pulse/, like the built binaries

CHECKOV = pulse_chart.REPO_ROOT / ".pulse" / "checkov" / "bin" / "checkov"
INSECURE_DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: insecure
  namespace: pulse-system
spec:
  selector:
    matchLabels: {app: insecure}
  template:
    metadata:
      labels: {app: insecure}
    spec:
      containers:
        - name: app
          image: app:latest
          securityContext:
            privileged: true
"""


def _checkov(files: list[Path]) -> dict[str, Any]:
    assert CHECKOV.exists(), f"{CHECKOV} is missing: run hack/install-checkov.sh"
    args = [str(CHECKOV), "--framework", "kubernetes", "--skip-download", "-o", "json"]
    for path in files:
        args += ["-f", str(path)]
    result = subprocess.run(args, capture_output=True, text=True, timeout=300, check=False)
    assert result.stdout, result.stderr
    report: dict[str, Any] = json.loads(result.stdout)
    assert report["summary"]["parsing_errors"] == 0, report["summary"]
    return report


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    directory = tmp_path_factory.mktemp("rendered")
    files = [pulse_chart.INSTALL_MANIFEST]
    for variant, values in VARIANTS.items():
        path = directory / f"{variant}.yaml"
        path.write_text(pulse_chart.stream(pulse_chart.render(values)))
        files.append(path)
    return _checkov(files)


def test_checkov_fails_no_check(report: dict[str, Any]) -> None:
    failed = [
        f"{c['check_id']} {c['resource']} ({c['file_path']})"
        for c in report["results"]["failed_checks"]
    ]
    assert failed == []
    # Every variant's operator Deployment was really checked.
    checked = {c["file_path"] for c in report["results"]["passed_checks"]}
    assert len(checked) == len(VARIANTS) + 1


def test_every_skip_is_annotated_on_its_object_with_a_reason(report: dict[str, Any]) -> None:
    for check in report["results"]["skipped_checks"]:
        assert check["check_result"]["suppress_comment"].strip(), check["check_id"]
    skipped = {c["check_id"] for c in report["results"]["skipped_checks"]}
    assert skipped <= {"CKV_K8S_43"}, "a new skip needs a reason here and on the object"


def test_checkov_does_fail_an_insecure_deployment(tmp_path: Path) -> None:
    """The scan above can fail: the same command flags what the chart avoids."""
    insecure = tmp_path / "insecure.yaml"
    insecure.write_text(INSECURE_DEPLOYMENT)
    failed = {c["check_id"] for c in _checkov([insecure])["results"]["failed_checks"]}
    # privileged, image tag latest, no readOnlyRootFilesystem, no probes
    assert {"CKV_K8S_16", "CKV_K8S_14", "CKV_K8S_22", "CKV_K8S_8"} <= failed
