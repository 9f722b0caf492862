"""C2PA manifests with c2pa-python: sign the terms into a file, read and verify them back.

The manifest Consentry signs holds

- ``cawg.training-mining``: the CAWG Training and Data Mining assertion
  (entries from :func:`~consentry.formats.embed.terms.cawg_entries`);
- ``org.consentry.terms``: the full effective terms of all five uses, the
  work id, terms version, terms URL and the ISCC;
- ``c2pa.actions.v2`` with ``c2pa.opened`` (the file before signing, as the
  ``parentOf`` ingredient; a manifest it already carried stays in the
  store as that ingredient's) and ``c2pa.edited.metadata``.

c2pa-python is imported lazily: without it, embedding skips C2PA and
reading reports that it could not check.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from consentry import __version__
from consentry.domain.signals import AiGeneratedLabel, Signal, SignalProblem, ai_source_type
from consentry.domain.usage import USES
from consentry.formats.embed.terms import CAWG_TO_USE, CAWG_USE_TO_DECISION, CONSENTRY_LABEL, terms_detail
from consentry.domain.terms import DECISIONS

__all__ = ["SIGNING_ALGS", "c2pa_available", "sign_file", "read_manifest", "ManifestState", "signals_from_manifest",
           "ai_labels_from_manifest"]

SIGNING_ALGS = ("es256", "es384", "es512", "ps256", "ps384", "ps512", "ed25519")
TRAINING_MINING_LABELS = ("cawg.training-mining", "c2pa.training-mining")
#: Validation codes about trust in a signer, not about the integrity of
#: the manifest: a signature that checks out by an unknown signer is
#: "Valid", reported with these codes; one by a trusted signer "Trusted".
#: The C2PA ones (C2PA 2.x validation), and the two of the CAWG identity
#: assertion 1.1 that only say its credential is not on the validator's
#: trust list: ``cawg.x509.credential.untrusted`` (an X.509-signed identity
#: assertion; c2pa-rs checks it against its separate CAWG trust list, so a
#: manifest with one is "Valid" even with our trust anchors) and
#: ``cawg.ica.untrusted_issuer`` (an identity claims aggregator's). Every
#: other ``cawg.*`` failure (signature mismatch, invalid credential, outside
#: validity, unsupported algorithm, ...) still makes the manifest unreadable.
TRUST_CODES = frozenset({"signingCredential.untrusted", "timeStamp.untrusted", "signingCredential.ocsp.skipped",
                         "signingCredential.ocsp.unknown",
                         "cawg.x509.credential.untrusted", "cawg.ica.untrusted_issuer"})


def c2pa_available() -> str | None:
    """``None`` if c2pa-python can be used, else why not."""
    try:
        import c2pa  # noqa: F401
    except ImportError:
        return "c2pa-python is not installed (pip install c2pa-python)"
    except OSError as exc:  # the native library failed to load
        return f"c2pa-python cannot load its native library ({exc})"
    return None


def _settings(*, trust_anchors_pem: str | None = None):
    import c2pa

    config: dict = {"verify": {"remote_manifest_fetch": False, "ocsp_fetch": False},
                    "builder": {"thumbnail": {"enabled": False}}}
    if trust_anchors_pem:
        config["trust"] = {"trust_anchors": trust_anchors_pem}
    return c2pa.Context(c2pa.Settings.from_dict(config))


def sign_file(source: Path, dest: Path, *, mime: str, parent: Path, title: str, assertions: list[dict],
              cert_chain_pem: bytes, private_key_pem: bytes, alg: str, tsa_url: str | None) -> None:
    """Sign ``source`` into ``dest`` with a manifest holding ``assertions``.

    ``parent`` is the file as it was before Consentry touched it: it becomes
    the ``parentOf`` ingredient (with its own manifest, if it had one).
    Raises ``c2pa.C2paError`` (or ``ValueError`` for a bad key/chain).
    """
    import c2pa

    signer = c2pa.Signer.from_info(c2pa.C2paSignerInfo(alg.encode(), cert_chain_pem, private_key_pem, tsa_url))
    definition = {
        "claim_generator_info": [{"name": "consentry", "version": __version__}],
        "title": title,
        "assertions": assertions,
    }
    with _settings() as context, c2pa.Builder(definition, context) as builder:
        builder.set_intent(c2pa.C2paBuilderIntent.EDIT)
        with open(parent, "rb") as original:
            builder.add_ingredient_from_stream({"title": title, "relationship": "parentOf"}, mime, original)
        builder.add_action({"action": "c2pa.edited.metadata",
                            "description": "AI-use terms written by Consentry"})
        with open(source, "rb") as src, open(dest, "w+b") as dst:
            builder.sign(signer, mime, src, dst)
    signer.close()


@dataclass(frozen=True)
class ManifestState:
    """What the active manifest of a file says, as read by c2pa-python."""

    present: bool
    validation_state: str | None = None         # "Invalid" | "Valid" | "Trusted"
    failures: tuple[str, ...] = ()               # integrity failure codes (not TRUST_CODES)
    statuses: tuple[str, ...] = ()               # other validation status codes (e.g. signingCredential.untrusted)
    signature: Mapping | None = None             # signature_info: issuer, common_name, cert_serial_number, time
    assertions: tuple[Mapping, ...] = ()         # {"label": ..., "data": ...}
    manifest_label: str | None = None


def read_manifest(path: str | os.PathLike, *, mime: str, trust_anchors_pem: str | None = None) -> ManifestState:
    """The active manifest of the file at ``path`` (``present=False`` if it has none).

    Raises ``c2pa.C2paError`` for a store that cannot be read at all.
    """
    import c2pa

    with _settings(trust_anchors_pem=trust_anchors_pem) as context, open(path, "rb") as stream:
        try:
            reader = c2pa.Reader(mime, stream, None, context)
        except c2pa.C2paError.ManifestNotFound:
            return ManifestState(present=False)
        with reader:
            store = json.loads(reader.json())
    active = store.get("active_manifest")
    manifest = (store.get("manifests") or {}).get(active) if isinstance(store, dict) else None
    if not isinstance(manifest, dict):
        raise ValueError("the manifest store names no readable active manifest")
    results = store.get("validation_results") or {}
    active_results = results.get("activeManifest") or {} if isinstance(results, dict) else {}
    failures = tuple(code for code in (str(f.get("code")) for f in active_results.get("failure") or []
                                       if isinstance(f, dict)) if code not in TRUST_CODES)
    statuses = tuple(str(s.get("code")) for s in store.get("validation_status") or [] if isinstance(s, dict))
    assertions = tuple(a for a in manifest.get("assertions") or [] if isinstance(a, dict))
    return ManifestState(present=True, validation_state=store.get("validation_state"), failures=failures,
                         statuses=statuses, signature=manifest.get("signature_info") or {},
                         assertions=assertions, manifest_label=active)


def signals_from_manifest(state: ManifestState, *, file_label: str,
                          location: str) -> tuple[list[Signal], list[SignalProblem]]:
    """Signals of the training-mining and Consentry assertions of a valid manifest.

    A manifest whose signature or bindings do not validate gives one
    problem and no signals: nobody verifiable made its statements.
    """
    signals: list[Signal] = []
    problems: list[SignalProblem] = []
    if not state.present:
        return signals, problems
    sig = state.signature or {}
    base = {"validation_state": state.validation_state, "signer": sig.get("common_name"),
            "issuer": sig.get("issuer"), "cert_serial_number": sig.get("cert_serial_number"),
            "signed_at": sig.get("time"), "manifest": state.manifest_label,
            "trusted": state.validation_state == "Trusted", "validation_status": list(state.statuses)}
    if state.validation_state not in ("Valid", "Trusted") or state.failures:
        codes = ", ".join(state.failures) or f"validation state {state.validation_state}"
        problems.append(SignalProblem(format="c2pa", source=f"unreadable signal at C2PA manifest in {file_label}",
                                      message=f"the manifest does not validate ({codes}); its statements are ignored"))
        return signals, problems

    for assertion in state.assertions:
        label = str(assertion.get("label", ""))
        data = assertion.get("data")
        bare = re.sub(r"(\.v\d+)?(__\d+)?$", "", label)  # version and instance suffixes
        if bare in TRAINING_MINING_LABELS:
            entries = data.get("entries") if isinstance(data, dict) else None
            if not isinstance(entries, dict):
                problems.append(SignalProblem(format="c2pa", source=f"unreadable signal at C2PA {label} in {file_label}",
                                              message="the assertion has no entries map"))
                continue
            for key, entry in entries.items():
                use = CAWG_TO_USE.get(str(key))
                if use is None:
                    continue  # a custom entry: not one of ours to interpret
                value = entry.get("use") if isinstance(entry, dict) else None
                decision = CAWG_USE_TO_DECISION.get(value) if isinstance(value, str) else None
                if decision is None:
                    problems.append(SignalProblem(
                        format="c2pa", source=f"unreadable signal at C2PA {label} {key} in {file_label}",
                        message=f"use {str(value)[:40]!r} is not allowed, notAllowed or constrained"))
                    continue
                detail = dict(base, entry=str(key), assertion=label)
                info = entry.get("constraint_info", entry.get("constraints_info"))
                if isinstance(info, str):
                    detail["constraint_info"] = info[:2048]
                signals.append(Signal(use=use, decision=decision, format="c2pa",
                                      source=f"C2PA {label} {key} in {file_label}", location=location,
                                      detail=detail))
        elif label == CONSENTRY_LABEL:
            uses = data.get("uses") if isinstance(data, dict) else None
            if not isinstance(uses, dict):
                problems.append(SignalProblem(format="c2pa", source=f"unreadable signal at C2PA {label} in {file_label}",
                                              message="the assertion has no uses map"))
                continue
            common = {k: data.get(k) for k in ("work_id", "terms_version", "terms_url") if isinstance(
                data.get(k), (str, int)) and not isinstance(data.get(k), bool)}
            if isinstance(data.get("iscc"), dict) and isinstance(data["iscc"].get("iscc"), str):
                common["iscc"] = data["iscc"]["iscc"]
            for use in USES:
                if use not in uses:
                    continue
                raw = uses[use]
                decision = raw.get("decision") if isinstance(raw, dict) else None
                if decision not in DECISIONS:
                    problems.append(SignalProblem(
                        format="c2pa", source=f"unreadable signal at C2PA {label} {use} in {file_label}",
                        message=f"decision {str(decision)[:40]!r} is not deny, allow or license"))
                    continue
                detail = dict(base, assertion=label, **common)
                detail.update(terms_detail(raw))
                signals.append(Signal(use=use, decision=decision, format="c2pa",
                                      source=f"C2PA {label} ({use}) in {file_label}", location=location,
                                      detail=detail))
    return signals, problems


def ai_labels_from_manifest(state: ManifestState, *, file_label: str, location: str) -> list[AiGeneratedLabel]:
    """The active manifest's declarations that the file was made by generative AI.

    Every action of a ``c2pa.actions`` or ``c2pa.actions.v2`` assertion whose
    ``digitalSourceType`` is an IPTC AI code (``trainedAlgorithmicMedia``,
    ``compositeWithTrainedAlgorithmicMedia``), as platforms read them to
    label AI-made images and music.  Only a manifest that validates speaks
    (the same rule as :func:`signals_from_manifest`, whose problem covers it).
    """
    labels: list[AiGeneratedLabel] = []
    if not state.present or state.validation_state not in ("Valid", "Trusted") or state.failures:
        return labels
    sig = state.signature or {}
    base = {"validation_state": state.validation_state, "signer": sig.get("common_name"),
            "issuer": sig.get("issuer"), "signed_at": sig.get("time"), "manifest": state.manifest_label,
            "trusted": state.validation_state == "Trusted", "validation_status": list(state.statuses)}
    for assertion in state.assertions:
        label = str(assertion.get("label", ""))
        if re.sub(r"(\.v\d+)?(__\d+)?$", "", label) != "c2pa.actions":
            continue
        data = assertion.get("data")
        actions = data.get("actions") if isinstance(data, dict) else None
        for action in actions if isinstance(actions, list) else ():
            if not isinstance(action, dict):
                continue
            value = action.get("digitalSourceType")
            if value is None and isinstance(action.get("parameters"), dict):
                value = action["parameters"].get("digitalSourceType")
            code = ai_source_type(value)
            if code is None:
                continue
            name = str(action.get("action", ""))[:80]
            labels.append(AiGeneratedLabel(
                source_type=code, value=str(value)[:300], format="c2pa",
                source=f"C2PA {label} {name} in {file_label}".replace("  ", " "), location=location,
                detail=dict(base, assertion=label, action=name)))
    return labels
