"""Client certificates for mutual TLS, built with cryptography's X.509 builder.

trustme issues leaf certificates for hosts: it puts every identity in a Subject Alternative Name
extension and, from cryptography 51 on, cannot issue one with no identity at all (an empty SAN is
refused). A client certificate names a person or a service in its subject instead, so it is
built here: signed by the test CA's key, with the CA as its issuer, no SAN (RFC 5280 §4.2.1.6
allows none when the subject is not empty) and ``clientAuth`` as its only extended key usage
(RFC 5280 §4.2.1.12).
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

if TYPE_CHECKING:
    import trustme

__all__ = ["DEFAULT_ORGANIZATION", "issue"]

#: The subject's ``O`` when the test names none.
DEFAULT_ORGANIZATION = "understudy"
#: The subject's ``OU``, so a recorded subject says where the certificate came from.
ORGANIZATIONAL_UNIT = "understudy client"
#: How long a client certificate is valid: from an hour ago (clock skew) for a year.
_VALID_BEFORE = datetime.timedelta(hours=1)
_VALID_FOR = datetime.timedelta(days=365)


def issue(ca: trustme.CA, common_name: str, organization: str | None) -> tuple[bytes, bytes]:
    """A client certificate for ``common_name`` signed by ``ca``.

    Returns:
        ``(certificate PEM, private key PEM)``: the key is PKCS #8, unencrypted.
    """
    ca_cert = x509.load_pem_x509_certificate(ca.cert_pem.bytes())
    ca_key = serialization.load_pem_private_key(ca.private_key_pem.bytes(), password=None)
    if not isinstance(ca_key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise TypeError(f"the test CA's key is a {type(ca_key).__name__}: expected EC or RSA")
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization or DEFAULT_ORGANIZATION),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, ORGANIZATIONAL_UNIT),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )
    now = datetime.datetime.now(datetime.UTC)
    ca_key_id = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _VALID_BEFORE)
        .not_valid_after(now + _VALID_FOR)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_key_id),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    cert_pem = certificate.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return cert_pem, key_pem
