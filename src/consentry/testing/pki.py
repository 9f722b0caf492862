"""Throw-away signing credentials for the tests, the fuzz benchmark and demos: a CA and leaf certificates.

C2PA signers need an X.509 chain whose leaf carries an extended key usage that
c2pa-rs accepts (emailProtection here) and an authority key identifier; these
are made fresh each time, valid from yesterday for 30 days. Never use them for
anything but tests: the keys are not protected.

>>> from cryptography.hazmat.primitives.asymmetric import ec
>>> ca_key = ec.generate_private_key(ec.SECP256R1())
>>> ca, ca_name = certificate("Test CA", ca_key, ca=True)
>>> leaf, _ = certificate("Signer", ec.generate_private_key(ec.SECP256R1()), issuer_name=ca_name, issuer_key=ca_key)
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

__all__ = ["certificate", "write_signer"]


def certificate(subject: str, key, *, issuer_name=None, issuer_key=None, ca: bool = False,
                organisation: str = "Consentry tests"):
    """``(certificate, name)``: a CA (self-signed when no issuer) or a leaf certificate for ``key``.

    Parameters
    ----------
    subject : str
        The common name.
    key : private key (EC, Ed25519 or RSA from ``cryptography``)
        The subject's key; its public half goes into the certificate.
    issuer_name, issuer_key : optional
        The issuing CA's name and key (default: self-signed by ``key``).
    ca : bool
        A CA certificate (may sign certificates) or a leaf (signs content; carries
        the emailProtection EKU and the issuer's key identifier).
    organisation : str
        The organisation attribute of the name.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ed25519
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = dt.datetime.now(dt.timezone.utc)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation)])
    flags = dict(content_commitment=False, key_encipherment=False, data_encipherment=False, key_agreement=False,
                 encipher_only=False, decipher_only=False)
    builder = (x509.CertificateBuilder().subject_name(name).issuer_name(issuer_name or name)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=0 if ca else None), critical=True)
               .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=ca, crl_sign=ca, **flags),
                              critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False))
    if not ca:
        # C2PA requires an EKU; c2pa-rs accepts emailProtection or documentSigning by default.
        builder = (builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
                   .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key((issuer_key or key).public_key()),
                                  critical=False))
    signer = issuer_key or key
    algorithm = None if isinstance(signer, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    return builder.sign(signer, algorithm), name


def write_signer(folder: str | Path, *, subject: str = "Test Signer", organisation: str = "Consentry tests",
                 key=None, ca=None, stem: str = "") -> tuple[Path, Path]:
    """Write ``<stem>chain.pem`` (leaf + CA) and ``<stem>key.pem`` (PKCS#8) into ``folder``; returns both paths.

    ``ca`` is ``(ca_certificate, ca_name, ca_key)`` to issue under an existing
    CA (default: a new ES256 CA); ``key`` the leaf's key (default: a new P-256 key).
    """
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    folder = Path(folder)
    if ca is None:
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_cert, ca_name = certificate(f"{organisation} CA", ca_key, ca=True, organisation=organisation)
    else:
        ca_cert, ca_name, ca_key = ca
    key = key if key is not None else ec.generate_private_key(ec.SECP256R1())
    leaf, _ = certificate(subject, key, issuer_name=ca_name, issuer_key=ca_key, organisation=organisation)
    pem = serialization.Encoding.PEM
    chain, key_path = folder / f"{stem}chain.pem", folder / f"{stem}key.pem"
    chain.write_bytes(leaf.public_bytes(pem) + ca_cert.public_bytes(pem))
    key_path.write_bytes(key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return chain, key_path
