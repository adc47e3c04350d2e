"""Which apply failures mean the namespace is going: the bodies are the API server's own."""

import json

import pytest
from kubernetes.client.exceptions import ApiException

from pulse_operator.kube import namespace_going


def _error(status: int, message: str, details: dict[str, str]) -> ApiException:
    error = ApiException(status=status, reason="")
    error.body = json.dumps(
        {"kind": "Status", "status": "Failure", "message": message, "details": details}
    )
    return error


@pytest.mark.parametrize(
    ("error", "going"),
    [
        (
            _error(
                403,
                'configmaps "c-sidecar" is forbidden: unable to create new content in '
                "namespace doomed because it is being terminated",
                {"name": "c-sidecar", "kind": "configmaps"},
            ),
            True,
        ),
        (
            _error(404, 'namespaces "doomed" not found', {"name": "doomed", "kind": "namespaces"}),
            True,
        ),
        (
            _error(
                404, 'configmaps "c-sidecar" not found', {"name": "c-sidecar", "kind": "configmaps"}
            ),
            False,
        ),
        (_error(403, "configmaps is forbidden: User cannot patch", {"kind": "configmaps"}), False),
        (_error(500, "etcdserver: request timed out", {}), False),
    ],
    ids=["terminating", "deleted", "object-missing", "rbac", "server-error"],
)
def test_only_a_terminating_or_deleted_namespace_counts(error: ApiException, going: bool) -> None:
    assert namespace_going(error) is going


def test_a_body_that_is_not_json_is_not_a_namespace_going() -> None:
    error = ApiException(status=404, reason="Not Found")
    error.body = "<html>404</html>"
    assert namespace_going(error) is False
