"""A CA and certificates made for one run, with the ``cryptography`` package.

Each member gets one key pair for its client and peer listeners, valid for every address
it is dialed at (its own IP, the peer proxy's, loopback); the harness gets a client
certificate, since members require one (``--client-cert-auth``), and a loopback server
certificate for what it puts before a member (the self-test's interposer). Nothing is reused
between runs, so a certificate problem is the run's own and never a stale file's.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Sequence
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from harness.tls import Credentials

_VALID = dt.timedelta(days=2)
_SERVER_AND_CLIENT = x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH])


def make_run_pki(folder: Path, members: Sequence[tuple[str, Sequence[str]]]) -> Credentials:
    """Write ``ca.crt``, ``<name>.crt``/``.key`` per (name, addresses) and ``client.crt``/``.key``
    into ``folder``; returns the client's credentials."""
    folder.mkdir(parents=True, exist_ok=True)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("etcd-harness run CA")
    ca = (
        _builder(ca_name, ca_name, ca_key)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    (folder / "ca.crt").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    for name, addresses in [*members, ("loopback", [])]:
        key = ec.generate_private_key(ec.SECP256R1())
        sans = x509.SubjectAlternativeName(_sans([*addresses, "127.0.0.1", "localhost"]))
        cert = (
            _builder(_name(name), ca_name, key)
            .add_extension(sans, critical=False)
            .add_extension(_SERVER_AND_CLIENT, critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        _write(folder, name, cert, key)
    key = ec.generate_private_key(ec.SECP256R1())
    usage = x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH])
    client = _builder(_name("etcd-harness"), ca_name, key).add_extension(usage, critical=False)
    _write(folder, "client", client.sign(ca_key, hashes.SHA256()), key)
    return Credentials(folder / "ca.crt", folder / "client.crt", folder / "client.key")


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _builder(
    subject: x509.Name, issuer: x509.Name, key: ec.EllipticCurvePrivateKey
) -> x509.CertificateBuilder:
    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + _VALID)
    )


def _sans(addresses: Sequence[str]) -> list[x509.GeneralName]:
    out: list[x509.GeneralName] = []
    for a in dict.fromkeys(addresses):
        try:
            out.append(x509.IPAddress(ipaddress.ip_address(a)))
        except ValueError:
            out.append(x509.DNSName(a))
    return out


def _write(folder: Path, name: str, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> None:
    (folder / f"{name}.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    path = folder / f"{name}.key"
    path.write_bytes(pem)
    path.chmod(0o600)


def tls_flags(folder: str, name: str) -> list[str]:
    """Both listeners on the member's certificate, and certificates required of clients and peers."""
    cert, key, ca = f"{folder}/{name}.crt", f"{folder}/{name}.key", f"{folder}/ca.crt"
    return [
        *("--cert-file", cert, "--key-file", key, "--trusted-ca-file", ca, "--client-cert-auth"),
        *("--peer-cert-file", cert, "--peer-key-file", key, "--peer-trusted-ca-file", ca),
        "--peer-client-cert-auth",
    ]
