"""The Helm chart rendered with Helm's own Go SDK (helm-python-sdk), as ordered documents.

One place turns charts/pulse into manifests, so that the golden files, the static
manifest (manifests/install.yaml), checkov's input and the install tests all see exactly
what `helm template` would produce.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import helm_python as helm
import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
CHART_DIR = REPO_ROOT / "charts" / "pulse"
CHART_CRDS_DIR = CHART_DIR / "crds"
INSTALL_MANIFEST = REPO_ROOT / "manifests" / "install.yaml"
TOP_LEVEL_CRDS_DIR = REPO_ROOT / "crds"
RELEASE = "pulse"
NAMESPACE = "pulse-system"
"""Release name and namespace of the static manifest (and the default of render())."""

# Helm's install order (pkg/release/util/kind_sorter.go), cut to the kinds that matter
# here; unknown kinds (custom resources) come last, as in Helm.
_KIND_ORDER = [
    "Namespace",
    "NetworkPolicy",
    "ResourceQuota",
    "LimitRange",
    "PodDisruptionBudget",
    "ServiceAccount",
    "Secret",
    "ConfigMap",
    "CustomResourceDefinition",
    "ClusterRole",
    "ClusterRoleBinding",
    "Role",
    "RoleBinding",
    "Service",
    "Deployment",
]
_SEPARATOR = re.compile(r"^---[ \t]*$", re.MULTILINE)


@dataclass(frozen=True)
class Document:
    """One YAML document of the rendered chart: where it came from, its text, its object."""

    source: str
    text: str
    obj: dict[str, Any]

    @property
    def kind(self) -> str:
        return str(self.obj.get("kind", ""))

    @property
    def name(self) -> str:
        return str(self.obj.get("metadata", {}).get("name", ""))


def _documents(source: str, text: str) -> list[Document]:
    """Splits a rendered template into its non-empty documents."""
    found = []
    for chunk in _SEPARATOR.split(text):
        obj = yaml.safe_load(chunk)
        if obj:
            found.append(Document(source=source, text=chunk.strip("\n") + "\n", obj=obj))
    return found


def _install_order(document: Document) -> tuple[int, str, str]:
    kind = document.kind
    rank = _KIND_ORDER.index(kind) if kind in _KIND_ORDER else len(_KIND_ORDER)
    return rank, kind, document.obj.get("metadata", {}).get("namespace", "") + document.name


def render(
    values: dict[str, Any] | None = None,
    *,
    release: str = RELEASE,
    namespace: str = NAMESPACE,
) -> list[Document]:
    """The chart's templates with these values, in Helm's install order (CRDs excluded;
    see crds()). Raises helm_python.HelmError when values.schema.json rejects the values
    or a template fails."""
    with helm.Chart.load(CHART_DIR) as chart:
        rendered = chart.render(values, name=release, namespace=namespace, is_install=True)
    documents = [
        document
        for source, text in sorted(rendered.items())
        if not source.endswith("NOTES.txt")
        for document in _documents(source, text)
    ]
    return sorted(documents, key=_install_order)


def notes(values: dict[str, Any] | None = None, *, namespace: str = NAMESPACE) -> str:
    """The rendered NOTES.txt: what `helm install` prints."""
    with helm.Chart.load(CHART_DIR) as chart:
        rendered = chart.render(values, name=RELEASE, namespace=namespace, is_install=True)
    return next(text for source, text in rendered.items() if source.endswith("NOTES.txt"))


def crds() -> list[Document]:
    """The CRDs in the chart's crds/ folder, which Helm installs before the templates."""
    return [
        document
        for path in sorted(CHART_CRDS_DIR.glob("*.yaml"))
        for document in _documents(f"{CHART_DIR.name}/crds/{path.name}", path.read_text())
    ]


def crd_copies() -> dict[Path, bytes]:
    """What the chart's crds/ folder must hold of Pulse's own CRDs: crds/, byte for byte."""
    return {
        CHART_CRDS_DIR / path.name: path.read_bytes() for path in TOP_LEVEL_CRDS_DIR.glob("*.yaml")
    }


def stream(documents: list[Document]) -> str:
    """A multi-document YAML stream, each document headed by the file it came from."""
    return "".join(f"---\n# Source: {d.source}\n{d.text}" for d in documents)


def _namespace() -> Document:
    obj = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": NAMESPACE,
            "labels": {
                "app.kubernetes.io/part-of": "pulse",
                # The operator's pod passes the restricted Pod Security Standard.
                "pod-security.kubernetes.io/enforce": "restricted",
                "pod-security.kubernetes.io/enforce-version": "latest",
            },
        },
    }
    text = yaml.safe_dump(obj, sort_keys=False)
    return Document(source="hack/pulse_chart.py (the release's namespace)", text=text, obj=obj)


def install_manifest() -> str:
    """manifests/install.yaml: the namespace, the CRDs and the chart with default values."""
    with helm.Chart.load(CHART_DIR) as chart:
        version = chart.metadata["appVersion"]
    header = (
        f"# Pulse {version}: the CRDs, the RBAC and the operator, in namespace {NAMESPACE}.\n"
        "# Generated from charts/pulse (default values) by hack/gen-manifests.py: do not edit.\n"
        "# Install or upgrade: kubectl apply --server-side -f manifests/install.yaml\n"
    )
    return header + stream([_namespace(), *crds(), *render()])
