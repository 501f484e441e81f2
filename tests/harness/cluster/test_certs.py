"""The run's CA and certificates: every member certificate is signed by the run's CA and
valid for each address the member is dialed at; the client certificate is for clients only."""

from __future__ import annotations

import ipaddress
from pathlib import Path

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from harness.cluster.certs import make_run_pki, tls_flags


def load(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def test_member_certificates_cover_their_addresses_and_chain_to_the_run_ca(tmp_path: Path) -> None:
    creds = make_run_pki(tmp_path, [("m0", ["198.18.1.2"]), ("m1", ["198.18.1.3", "10.0.0.9"])])
    ca = load(creds.ca)
    m1 = load(tmp_path / "m1.crt")
    m1.verify_directly_issued_by(ca)
    sans = m1.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    ips = {str(ip) for ip in sans.get_values_for_type(x509.IPAddress)}
    assert ips == {"198.18.1.3", "10.0.0.9", "127.0.0.1"}
    assert ipaddress.ip_address("198.18.1.2") not in sans.get_values_for_type(x509.IPAddress)
    usage = m1.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH} <= set(usage)
    assert (tmp_path / "m1.key").stat().st_mode & 0o077 == 0


def test_the_client_certificate_cannot_serve(tmp_path: Path) -> None:
    creds = make_run_pki(tmp_path, [("m0", ["198.18.1.2"])])
    client = load(creds.cert)
    client.verify_directly_issued_by(load(creds.ca))
    usage = client.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    assert load(tmp_path / "loopback.crt").issuer == load(creds.ca).subject


def test_two_runs_never_share_a_ca(tmp_path: Path) -> None:
    a = make_run_pki(tmp_path / "a", [("m0", ["198.18.1.2"])])
    b = make_run_pki(tmp_path / "b", [("m0", ["198.18.1.2"])])
    assert a.ca.read_bytes() != b.ca.read_bytes()


def test_members_require_certificates_of_clients_and_peers() -> None:
    flags = tls_flags("/tls", "m2")
    assert "--client-cert-auth" in flags and "--peer-client-cert-auth" in flags
    assert flags[flags.index("--cert-file") + 1] == "/tls/m2.crt"
