"""A throwaway certificate authority and the keys a local control plane needs.

Elliptic-curve keys keep generation in the milliseconds, so every cluster gets a
fresh CA and nothing secret outlives it.
"""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_VALIDITY = datetime.timedelta(days=2)


@dataclass(frozen=True)
class KeyPair:
    """A certificate (or public key) file and its private key file."""

    cert: Path
    key: Path


@dataclass(frozen=True)
class ClusterPki:
    """Every credential file of one local cluster."""

    ca: KeyPair
    apiserver: KeyPair
    admin: KeyPair
    kubelet_client: KeyPair  # the API server's client certificate for kubelets (logs, exec)
    service_account: KeyPair  # `cert` holds the public key


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)


def _name(common_name: str, organization: str | None = None) -> x509.Name:
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if organization:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    return x509.Name(attributes)


def _issue(
    directory: Path,
    stem: str,
    subject: x509.Name,
    ca: tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None,
    *,
    server_names: list[str] | None = None,
) -> tuple[KeyPair, x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    issuer_name, issuer_key = (ca[0].subject, ca[1]) if ca else (subject, key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + _VALIDITY)
        .add_extension(x509.BasicConstraints(ca=ca is None, path_length=None), critical=True)
    )
    if ca is None:
        builder = builder.add_extension(
            x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True
        )
    else:
        usage = ExtendedKeyUsageOID.SERVER_AUTH if server_names else ExtendedKeyUsageOID.CLIENT_AUTH
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    if server_names:
        alt_names: list[x509.GeneralName] = []
        for name in server_names:
            try:
                alt_names.append(x509.IPAddress(ipaddress.ip_address(name)))
            except ValueError:
                alt_names.append(x509.DNSName(name))
        builder = builder.add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
    cert = builder.sign(issuer_key, hashes.SHA256())
    pair = KeyPair(cert=directory / f"{stem}.crt", key=directory / f"{stem}.key")
    pair.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    _write_key(pair.key, key)
    return pair, cert, key


def create_pki(directory: Path, service_ip: str) -> ClusterPki:
    """Writes a CA, the API server's serving pair, an admin client pair and SA keys."""
    directory.mkdir(parents=True, exist_ok=True)
    ca_pair, ca_cert, ca_key = _issue(directory, "ca", _name("pulse-dev-ca"), None)
    apiserver, _, _ = _issue(
        directory,
        "apiserver",
        _name("kube-apiserver"),
        (ca_cert, ca_key),
        server_names=[
            "127.0.0.1",
            "localhost",
            service_ip,
            "kubernetes",
            "kubernetes.default",
            "kubernetes.default.svc",
            "kubernetes.default.svc.cluster.local",
        ],
    )
    admin, _, _ = _issue(
        directory, "admin", _name("pulse-admin", "system:masters"), (ca_cert, ca_key)
    )
    kubelet_client, _, _ = _issue(
        directory,
        "apiserver-kubelet-client",
        _name("kube-apiserver-kubelet-client", "system:masters"),
        (ca_cert, ca_key),
    )
    sa_key = ec.generate_private_key(ec.SECP256R1())
    service_account = KeyPair(cert=directory / "sa.pub", key=directory / "sa.key")
    service_account.cert.write_bytes(
        sa_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    _write_key(service_account.key, sa_key)
    return ClusterPki(
        ca=ca_pair,
        apiserver=apiserver,
        admin=admin,
        kubelet_client=kubelet_client,
        service_account=service_account,
    )


def issue_from_ca(
    directory: Path,
    stem: str,
    common_name: str,
    organization: str | None,
    ca: KeyPair,
    *,
    server_names: list[str] | None = None,
) -> KeyPair:
    """A pair signed by an existing CA's files: a client certificate, or a serving one
    when `server_names` is given (a kubelet's, for instance)."""
    directory.mkdir(parents=True, exist_ok=True)
    ca_cert = x509.load_pem_x509_certificate(ca.cert.read_bytes())
    ca_key = serialization.load_pem_private_key(ca.key.read_bytes(), password=None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    pair, _, _ = _issue(
        directory,
        stem,
        _name(common_name, organization),
        (ca_cert, ca_key),
        server_names=server_names,
    )
    return pair
