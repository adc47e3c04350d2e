"""The dev cluster's throwaway PKI: the API server's certificate verifies for loopback."""

from __future__ import annotations

import ipaddress
from pathlib import Path

from cryptography import x509
from cryptography.x509.oid import NameOID
from pulse_devcluster.pki import create_pki


def test_serving_certificate_is_signed_by_the_ca_and_names_loopback(tmp_path: Path) -> None:
    pki = create_pki(tmp_path, "10.96.0.1")
    ca = x509.load_pem_x509_certificate(pki.ca.cert.read_bytes())
    server = x509.load_pem_x509_certificate(pki.apiserver.cert.read_bytes())
    server.verify_directly_issued_by(ca)
    names = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert ipaddress.ip_address("127.0.0.1") in names.get_values_for_type(x509.IPAddress)
    assert "kubernetes.default.svc" in names.get_values_for_type(x509.DNSName)


def test_admin_client_certificate_is_in_system_masters(tmp_path: Path) -> None:
    pki = create_pki(tmp_path, "10.96.0.1")
    admin = x509.load_pem_x509_certificate(pki.admin.cert.read_bytes())
    organizations = admin.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    assert [o.value for o in organizations] == ["system:masters"]


def test_private_keys_are_readable_only_by_their_owner(tmp_path: Path) -> None:
    pki = create_pki(tmp_path, "10.96.0.1")
    for key in (pki.ca.key, pki.apiserver.key, pki.admin.key, pki.service_account.key):
        assert key.stat().st_mode & 0o077 == 0
