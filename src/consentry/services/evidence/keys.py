"""The registry's evidence signing key: Ed25519, made on first use, kept beside the registry.

The private key lives at ``<registry_dir>/evidence-key.pem`` (PKCS#8 PEM,
unencrypted, file mode 0600). It is written atomically and never
overwritten: if two processes make a key at once, one wins and both use it.
A file that is there but is not an Ed25519 private key is an error naming
the file; it is never replaced, because replacing it would silently change
the identity that published fingerprints vouch for.

The key's fingerprint is ``sha256:`` and the hex SHA-256 of the public key's
DER SubjectPublicKeyInfo, which anyone can recompute with::

    openssl pkey -pubin -in signer.pub -outform DER | sha256sum
"""

from __future__ import annotations

import hashlib
import os
import secrets
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from consentry.domain.errors import ConsentryError

__all__ = [
    "KEY_FILE_NAME",
    "EvidenceKeyError",
    "key_fingerprint",
    "load_or_create_signing_key",
    "public_key_pem",
    "read_trusted_key",
    "registry_key_fingerprint",
]

#: Name of the key file inside the registry's folder.
KEY_FILE_NAME = "evidence-key.pem"


class EvidenceKeyError(ConsentryError):
    """The evidence signing key file cannot be used."""


def public_key_pem(key: Ed25519PrivateKey | Ed25519PublicKey) -> bytes:
    """The public half of ``key`` as PEM (SubjectPublicKeyInfo) bytes."""
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def key_fingerprint(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    """``"sha256:<64 hex digits>"``: SHA-256 of the public key's DER SubjectPublicKeyInfo."""
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    der = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return "sha256:" + hashlib.sha256(der).hexdigest()


def _read_key(path: Path) -> Ed25519PrivateKey:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise EvidenceKeyError(f"{path}: cannot read the evidence signing key ({exc.strerror or exc}); "
                               "check its permissions") from None
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        key = None
    if not isinstance(key, Ed25519PrivateKey):
        raise EvidenceKeyError(
            f"{path}: not an unencrypted Ed25519 private key in PEM; it was left as it is — restore it "
            "from a backup, or move it aside to make a new key (bundles it signed keep its fingerprint)")
    return key


def load_or_create_signing_key(registry_dir: str | os.PathLike) -> Ed25519PrivateKey:
    """Load the registry's signing key, making it on first use.

    Parameters
    ----------
    registry_dir : path
        The folder that holds the registry; the key is ``registry_dir / "evidence-key.pem"``.

    Raises
    ------
    EvidenceKeyError
        The key file exists but is unreadable or not an Ed25519 private key
        (it is not replaced), or the folder cannot be written.
    """
    folder = Path(registry_dir)
    path = folder / KEY_FILE_NAME
    if path.exists() or path.is_symlink():
        return _read_key(path)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    temporary = folder / f".{KEY_FILE_NAME}.{secrets.token_hex(8)}.tmp"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, pem)
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            # A hard link never replaces an existing file: if another process
            # made the key meanwhile, keep theirs.
            os.link(temporary, path)
        except FileExistsError:
            pass
        except OSError:
            # File systems without hard links: rename, after a last check.
            if not path.exists():
                os.replace(temporary, path)
    except OSError as exc:
        raise EvidenceKeyError(f"{path}: cannot write the evidence signing key ({exc.strerror or exc}); "
                               "check that the registry folder is writable") from None
    finally:
        try:
            temporary.unlink()
        except FileNotFoundError:
            pass
    return _read_key(path)


def registry_key_fingerprint(registry_dir: str | os.PathLike) -> str | None:
    """Fingerprint of the registry's evidence key, or None when it has none yet (never makes a key).

    Raises
    ------
    EvidenceKeyError
        The key file exists but is unreadable or not an Ed25519 private key.
    """
    path = Path(registry_dir) / KEY_FILE_NAME
    if not (path.exists() or path.is_symlink()):
        return None
    return key_fingerprint(_read_key(path))


def read_trusted_key(path: str | os.PathLike) -> str:
    """The fingerprint of a key someone chose to trust: a PEM public key (e.g. a bundle's ``signer.pub``,
    a registry's published key) or a text file holding its ``sha256:<hex>`` fingerprint.

    Raises
    ------
    EvidenceKeyError
        The file cannot be read or holds neither.
    """
    path = Path(path)
    try:
        data = path.read_bytes()[:65536]
    except OSError as exc:
        raise EvidenceKeyError(f"{path}: cannot read the trusted key ({exc.strerror or exc})") from None
    text = data.decode("ascii", "replace").strip()
    if text.lower().startswith("sha256:") and len(text) == 71 and all(c in "0123456789abcdef" for c in text[7:].lower()):
        return text.lower()
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        key = None
    if not isinstance(key, Ed25519PublicKey):
        raise EvidenceKeyError(f"{path}: not an Ed25519 public key in PEM, nor a sha256:<64 hex digits> fingerprint; "
                               "give the key the registry publishes (or a bundle's signer.pub)")
    return key_fingerprint(key)
