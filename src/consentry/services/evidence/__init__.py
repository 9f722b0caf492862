"""Evidence bundles for checked outputs: signed facts, a report, and a verifier (issue 6).

See docs/evidence.md for the layout, the canonical JSON rule and how a third
party verifies a bundle with nothing but openssl.
"""

from consentry.services.evidence.bundle import (
    BUNDLE_FORMAT, BUNDLE_FORMAT_VERSION, MEMBER_NAMES, bundle_name, write_bundle,
)
from consentry.services.evidence.canonical import canonical_json
from consentry.services.evidence.keys import (
    KEY_FILE_NAME, EvidenceKeyError, key_fingerprint, load_or_create_signing_key, read_trusted_key,
    registry_key_fingerprint,
)
from consentry.services.evidence.verify import (
    OFFSET_TOLERANCE_S, VerifyResult, compare_findings, format_verify_result, short_fingerprint, verify_bundle,
)

__all__ = [
    "BUNDLE_FORMAT",
    "BUNDLE_FORMAT_VERSION",
    "KEY_FILE_NAME",
    "MEMBER_NAMES",
    "OFFSET_TOLERANCE_S",
    "EvidenceKeyError",
    "VerifyResult",
    "bundle_name",
    "canonical_json",
    "compare_findings",
    "format_verify_result",
    "key_fingerprint",
    "load_or_create_signing_key",
    "read_trusted_key",
    "registry_key_fingerprint",
    "short_fingerprint",
    "verify_bundle",
    "write_bundle",
]
