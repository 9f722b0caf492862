"""Write a work's AI-use terms into its media files, and read every embedded signal back.

:func:`embed_terms` writes, by the file's content type (sniffed, not its
name): Consentry tags (ID3v2.4, Vorbis comments, MP4 freeform atoms), an
XMP packet in images (PLUS ``DataMining``), and, with a signer, a C2PA
manifest with the CAWG training-and-data-mining assertion.  The file is
replaced atomically (temporary file + :func:`os.replace`), or a copy is
written; the audio samples and image pixels are never touched.  A file
already carrying exactly these terms is left byte for byte as it is.

:func:`read_embedded_signals` reads all of it back as
:class:`~consentry.domain.signals.Signal` objects; anything unreadable becomes a
:class:`~consentry.domain.signals.SignalProblem`, never an exception.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from consentry.domain.terms import DECISIONS
from consentry.domain.errors import InputError
from consentry.domain.usage import USES
from consentry.domain.signals import AiGeneratedLabel, Signal, SignalProblem, ai_source_type
from consentry.formats.embed import c2pa_manifest, tags as tagio, xmp
from consentry.formats.embed.iscc import iscc_codes
from consentry.formats.sniff import KINDS, sniff_kind
from consentry.formats.embed.terms import (
    CONSENTRY_LABEL, PLUS_TO_DECISIONS, TAG_KEYS, TAG_PAYLOAD, EmbedTerms, cawg_entries, consentry_payload,
    embed_terms_from_work, payload_json, plus_data_mining, summary_text, tag_values, terms_detail,
)

__all__ = ["SignerConfig", "EmbedResult", "EmbedError", "EmbeddedSignals", "embed_terms", "read_embedded_signals"]

#: XMP local names of Consentry's per-use properties (namespace :data:`xmp.NS` ``consentry``).
XMP_USE_NAMES = {"ai_training": "AiTraining", "ai_generative": "AiGenerative", "voice_likeness": "VoiceLikeness",
                 "tdm": "Tdm", "search_indexing": "SearchIndexing"}
_SEE_ELSEWHERE = ("DMI-PROHIBITED-SEECONSTRAINT", "DMI-PROHIBITED-SEEEMBEDDEDRIGHTSEXPR",
                  "DMI-PROHIBITED-SEELINKEDRIGHTSEXPR")
#: The ISCC units stored in the file (not the bookkeeping of :func:`iscc_codes`).
_ISCC_UNITS = ("iscc", "meta", "audio", "image", "data", "instance")


class EmbedError(InputError):
    """A file cannot be written to safely; the message says why and what to do."""


@dataclass(frozen=True)
class SignerConfig:
    """A C2PA signing credential: PEM certificate chain (leaf first) and PEM private key (PKCS#8).

    ``alg`` is one of ``es256``, ``es384``, ``es512``, ``ps256``, ``ps384``,
    ``ps512``, ``ed25519`` and must match the key; ``tsa_url`` an RFC 3161
    time-stamp authority, or ``None`` for none.
    """

    cert_chain_pem: Path
    private_key_pem: Path
    alg: str = "es256"
    tsa_url: str | None = None

    def load(self) -> tuple[bytes, bytes, str]:
        """The chain and key bytes and the algorithm, checked; raises :class:`InputError`."""
        alg = str(self.alg).lower()
        if alg not in c2pa_manifest.SIGNING_ALGS:
            raise InputError(f"signing algorithm {self.alg!r}: choose one of {', '.join(c2pa_manifest.SIGNING_ALGS)}")
        out = []
        for what, path in (("certificate chain", self.cert_chain_pem), ("private key", self.private_key_pem)):
            try:
                data = Path(path).read_bytes()
            except OSError as exc:
                raise InputError(f"{path}: cannot read the {what} ({exc.strerror or exc})") from None
            if b"-----BEGIN " not in data:
                raise InputError(f"{path}: the {what} is not PEM (-----BEGIN ...)")
            out.append(data)
        return out[0], out[1], alg

    def leaf_serial(self) -> str | None:
        """Decimal serial number of the leaf certificate (first in the chain), if it can be parsed."""
        try:
            from cryptography import x509

            return str(x509.load_pem_x509_certificate(Path(self.cert_chain_pem).read_bytes()).serial_number)
        except Exception:  # noqa: BLE001 - only used to decide whether to re-sign
            return None


@dataclass(frozen=True)
class EmbedResult:
    """What :func:`embed_terms` did to one file.

    ``written``: signal formats written (``"id3"``, ``"vorbis"``, ``"mp4"``,
    ``"xmp"``, ``"c2pa"``); ``skipped``: ``(format, reason)`` for each one not
    written; ``iscc``: the ISCC record stored (see :func:`iscc_codes`), or
    ``None``.
    """

    path: Path
    written: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    iscc: dict | None = None
    kind: str | None = None

    def as_dict(self) -> dict:
        return {"path": str(self.path), "kind": self.kind, "written": list(self.written),
                "skipped": [list(s) for s in self.skipped], "iscc": self.iscc}


# -- writing ----------------------------------------------------------------------------------------


def _xmp_props(terms: EmbedTerms, *, iscc: Mapping | None) -> dict[str, object]:
    consentry = {XMP_USE_NAMES[u]: terms.uses[u].decision for u in USES}
    consentry["WorkId"] = terms.work_id
    if terms.terms_version is not None:
        consentry["TermsVersion"] = str(terms.terms_version)
    consentry["Terms"] = payload_json(consentry_payload(terms, iscc=iscc))
    if iscc and iscc.get("iscc"):
        consentry["Iscc"] = str(iscc["iscc"])
    return xmp.build_properties(data_mining=plus_data_mining(terms), other_constraints=summary_text(terms),
                                web_statement=terms.terms_url, consentry=consentry)


def _flat(props: Mapping[str, object]) -> dict[str, str]:
    return {k: (v[1] if isinstance(v, tuple) else str(v)) for k, v in props.items()}


def _stored_payload(state: c2pa_manifest.ManifestState | None, tag_vals: Mapping[str, str],
                    xmp_props: Mapping[str, str]) -> dict | None:
    """Consentry's payload as a file already carries it (C2PA, tags or XMP), if any."""
    if state is not None and state.present:
        for assertion in state.assertions:
            if assertion.get("label") == CONSENTRY_LABEL and isinstance(assertion.get("data"), dict):
                return assertion["data"]
    raw = tag_vals.get(TAG_PAYLOAD) or xmp_props.get("{%s}Terms" % xmp.NS["consentry"])
    if raw:
        try:
            parsed = json.loads(raw)
            return parsed if isinstance(parsed, dict) else None
        except ValueError:
            return None
    return None


def _choose_iscc(now: dict, stored: Mapping | None) -> dict:
    """The ISCC record to store: the earlier one if the content is unchanged, else ``now``'s units.

    Data- and Instance-Code depend on every byte, so they change when terms
    are embedded; Meta- and Content-Code do not.  The record of the file as
    it was before Consentry first wrote to it is kept while those match.
    """
    fresh = {k: now[k] for k in _ISCC_UNITS if k in now}
    if isinstance(stored, Mapping) and all(isinstance(stored.get(k, ""), str) for k in _ISCC_UNITS):
        same = all(stored.get(k) == fresh.get(k) for k in ("meta", "audio", "image"))
        if same and stored.get("iscc"):
            return {k: stored[k] for k in _ISCC_UNITS if k in stored}
    return fresh


def embed_terms(path: str | os.PathLike, work: Mapping, *, terms_url: str, out: str | os.PathLike | None = None,
                signer: SignerConfig | None = None, iscc: bool = True,
                trust_anchors_pem: str | None = None) -> EmbedResult:
    """Write a work's AI-use terms into one media file.

    Parameters
    ----------
    path : str or os.PathLike
        The audio or image file (its type is sniffed from its bytes).
    work : mapping
        One entry of ``export["works"]`` (docs/terms-model.md): every use resolved.
    terms_url : str
        The work's terms page (``https://...``).
    out : str or os.PathLike, optional
        Write a copy here and leave ``path`` as it is.  Default: replace
        ``path`` atomically (a temporary file in the same folder, then
        :func:`os.replace`; a failure leaves the original untouched).
    signer : SignerConfig, optional
        Sign a C2PA manifest with this credential.  ``None``: no C2PA.
    iscc : bool, default True
        Compute the ISCC and store it with the terms.
    trust_anchors_pem : str, optional
        PEM trust anchors used when reading an existing manifest.

    Returns
    -------
    EmbedResult

    Raises
    ------
    InputError
        If the work entry, URL or signer is unusable, or the file cannot be
        read, is not a supported type, or is damaged.
    EmbedError
        If writing would break a C2PA manifest the file carries and no
        signer is given, or signing fails.
    """
    terms = embed_terms_from_work(work, terms_url=terms_url)
    src = Path(path)
    dest = Path(out) if out is not None else src
    if not src.is_file():
        raise InputError(f"{src}: no such file")
    try:
        kind = sniff_kind(src)
    except OSError as exc:
        raise InputError(f"{src}: cannot read ({exc.strerror or exc})") from None
    if kind is None:
        text = _embed_text_terms(src, dest, terms)  # an HTML article or an EPUB: TDMRep (issue 18)
        if text is not None:
            return text
        raise EmbedError(f"{src}: not an audio or image type Consentry can write terms into, nor an HTML or EPUB "
                         f"document (supported: {', '.join(KINDS)}, html, epub)")
    spec = KINDS[kind]
    skipped: list[tuple[str, str]] = []
    signer_material = signer.load() if signer is not None else None

    # What the file carries now.
    family = spec["tags"]
    tag_vals: dict[str, str] = {}
    if family:
        try:
            tag_vals = tagio.read_tag_values(src, kind, family)
        except Exception as exc:  # noqa: BLE001 - mutagen raises many kinds on damaged files
            raise EmbedError(f"{src}: cannot read its {family} tags ({str(exc)[:120]}); "
                             f"the file may be damaged, so it was not changed") from None
    packet = None
    xmp_props: dict[str, str] = {}
    xmp_usable = bool(spec["xmp"])
    if spec["xmp"]:
        try:
            packet = xmp.extract_xmp(kind, src.read_bytes())
            xmp_props = xmp.read_properties(packet) if packet else {}
        except xmp.XmpError as exc:
            xmp_usable = False
            skipped.append(("xmp", f"existing XMP or image structure unreadable ({exc}); not rewritten"))
    c2pa_why_not = c2pa_manifest.c2pa_available()
    state = None
    if spec["c2pa"] and c2pa_why_not is None:
        try:
            state = c2pa_manifest.read_manifest(src, mime=spec["mime"], trust_anchors_pem=trust_anchors_pem)
        except Exception as exc:  # noqa: BLE001 - a broken store: re-signing replaces it
            state = c2pa_manifest.ManifestState(present=True, validation_state="Invalid",
                                                failures=(f"unreadable: {str(exc)[:80]}",))

    # What it should carry.
    record = None
    iscc_full = None
    if iscc:
        try:
            iscc_full = iscc_codes(src, title=terms.title, creator=terms.creator, kind=kind)
            stored = _stored_payload(state, tag_vals, xmp_props)
            record = _choose_iscc(iscc_full, stored.get("iscc") if stored else None)
            for unit, why in iscc_full.get("missing", {}).items():
                skipped.append((f"iscc {unit}", why))
        except InputError as exc:
            skipped.append(("iscc", str(exc)))
    want_tags = tag_values(terms, iscc=record) if family else {}
    want_xmp = _xmp_props(terms, iscc=record) if spec["xmp"] else {}
    payload = consentry_payload(terms, iscc=record)
    assertions = [{"label": "cawg.training-mining", "data": {"entries": cawg_entries(terms)}},
                  {"label": CONSENTRY_LABEL, "data": payload}]

    tags_due = bool(family) and {k: v for k, v in tag_vals.items() if k in TAG_KEYS} != want_tags
    xmp_due = xmp_usable and xmp_props != _flat(want_xmp)
    bytes_due = tags_due or xmp_due
    can_sign = signer is not None and spec["c2pa"] and c2pa_why_not is None
    c2pa_current = bool(can_sign and state is not None and state.present
                        and state.validation_state in ("Valid", "Trusted") and not state.failures
                        and _same_assertions(state, assertions)
                        and (state.signature or {}).get("cert_serial_number") == signer.leaf_serial())
    sign_due = can_sign and (bytes_due or not c2pa_current)
    if signer is None:
        skipped.append(("c2pa", "no signer given"))
    elif not spec["c2pa"]:
        skipped.append(("c2pa", f"c2pa-python cannot sign {kind.upper()} files"))
    elif c2pa_why_not:
        skipped.append(("c2pa", c2pa_why_not))
    if bytes_due and state is not None and state.present and not sign_due and state.failures:
        skipped.append(("c2pa", f"the C2PA manifest the file carries already fails validation "
                                f"({', '.join(state.failures)[:120]}); left as it is"))
    elif bytes_due and state is not None and state.present and not sign_due:
        who = (state.signature or {}).get("common_name") or (state.signature or {}).get("issuer") or "someone"
        raise EmbedError(f"{src}: carries a C2PA manifest signed by {who}; writing terms into its metadata would "
                         f"break that signature: give a signer to re-sign (the manifest is kept as the parent "
                         f"ingredient), or remove the manifest first")
    iscc_result = dict(iscc_full, stored=record) if iscc_full is not None else None

    if not (bytes_due or sign_due):
        for fmt in ([tagio.TAG_FORMAT[family]] if family else []) + (["xmp"] if xmp_usable else []) + (
                ["c2pa"] if can_sign else []):
            skipped.append((fmt, "already up to date"))
        if dest != src:
            _atomic_copy(src, dest)
        return EmbedResult(path=dest, written=[], skipped=skipped, iscc=iscc_result, kind=kind)

    written: list[str] = []
    temps: list[Path] = []
    try:
        stage = _temp_beside(dest, temps)
        shutil.copyfile(src, stage)
        if tags_due:
            try:
                skipped += tagio.write_tags(stage, kind, family, want_tags, summary=summary_text(terms))
            except Exception as exc:  # noqa: BLE001
                raise EmbedError(f"{src}: cannot write {family} tags ({str(exc)[:120]})") from None
            written.append(tagio.TAG_FORMAT[family])
        elif family:
            skipped.append((tagio.TAG_FORMAT[family], "already up to date"))
        if xmp_due:
            try:
                data = stage.read_bytes()
                stage.write_bytes(xmp.insert_xmp(kind, data, xmp.merge_packet(packet, want_xmp)))
                written.append("xmp")
            except xmp.XmpError as exc:
                skipped.append(("xmp", str(exc)))
        elif xmp_usable:
            skipped.append(("xmp", "already up to date"))
        final = stage
        if sign_due:
            chain, key, alg = signer_material
            signed = _temp_beside(dest, temps)
            try:
                c2pa_manifest.sign_file(stage, signed, mime=spec["mime"], parent=src,
                                        title=terms.title or src.name, assertions=assertions,
                                        cert_chain_pem=chain, private_key_pem=key, alg=alg, tsa_url=signer.tsa_url)
            except Exception as exc:  # noqa: BLE001 - C2paError and friends
                raise EmbedError(f"{src}: C2PA signing failed ({str(exc)[:200]}); the file was not changed") from None
            final = signed
            written.append("c2pa")
        _finish(final, dest, mode_from=src)
    finally:
        for temp in temps:
            try:
                temp.unlink()
            except FileNotFoundError:
                pass
    return EmbedResult(path=dest, written=written, skipped=skipped, iscc=iscc_result, kind=kind)


def _embed_text_terms(src: Path, dest: Path, terms: EmbedTerms) -> EmbedResult | None:
    """TDMRep written into an HTML document (``<meta>``) or an EPUB (package ``tdm:`` properties), or None
    for another kind of file (:mod:`consentry.formats.embed.text_terms`)."""
    from consentry.formats.embed import text_terms
    from consentry.formats.tdmrep import policy_path

    data = src.read_bytes()
    kind = text_terms.text_kind(data)
    if kind is None:
        return None
    tdm = terms.uses["tdm"]
    reservation = 0 if tdm.decision == "allow" else 1
    policy = None
    suffix = f"/terms/works/{terms.work_id}.html"
    if tdm.decision == "license" and terms.terms_url.endswith(suffix):
        policy = terms.terms_url[: -len(suffix)] + policy_path(terms.work_id)
    before = text_terms.read_text_terms(data)
    if (before.reservation, before.policy) == (reservation, policy):
        if dest != src:
            _finish_text(dest, data, src)
        return EmbedResult(path=dest, written=[], skipped=[("tdmrep", "already carries these terms")], kind=kind)
    try:
        new = (text_terms.html_with_terms if kind == "html" else text_terms.epub_with_terms)(
            data, reservation=reservation, policy_url=policy)
    except ValueError as exc:
        raise InputError(f"{src}: {exc}; the file was not changed") from None
    _finish_text(dest, new, src)
    return EmbedResult(path=dest, written=["tdmrep"], kind=kind)


def _finish_text(dest: Path, data: bytes, mode_from: Path) -> None:
    temps: list[Path] = []
    tmp = _temp_beside(dest, temps)
    try:
        tmp.write_bytes(data)
        _finish(tmp, dest, mode_from=mode_from)
    finally:
        for t in temps:
            t.unlink(missing_ok=True)


def _same_assertions(state: c2pa_manifest.ManifestState, assertions: list[dict]) -> bool:
    have = {a.get("label"): a.get("data") for a in state.assertions}
    return all(json.dumps(have.get(a["label"]), sort_keys=True) == json.dumps(a["data"], sort_keys=True)
               for a in assertions)


def _temp_beside(dest: Path, temps: list[Path]) -> Path:
    try:
        handle, name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".consentry-tmp", dir=dest.parent or ".")
    except OSError as exc:
        raise InputError(f"{dest.parent}: cannot write there ({exc.strerror or exc})") from None
    os.close(handle)
    temps.append(Path(name))
    return Path(name)


def _finish(final: Path, dest: Path, *, mode_from: Path) -> None:
    """Flush ``final`` to disk, give it the source's permissions, and move it over ``dest``."""
    with open(final, "rb+") as handle:
        os.fsync(handle.fileno())
    try:
        os.chmod(final, os.stat(mode_from).st_mode & 0o7777)
    except OSError:
        pass
    os.replace(final, dest)


def _atomic_copy(src: Path, dest: Path) -> None:
    temps: list[Path] = []
    try:
        stage = _temp_beside(dest, temps)
        shutil.copyfile(src, stage)
        _finish(stage, dest, mode_from=src)
    finally:
        for temp in temps:
            if temp.exists():
                temp.unlink()


# -- reading ----------------------------------------------------------------------------------------


class EmbeddedSignals(tuple):
    """What :func:`read_embedded_signals` found: ``(signals, problems)``, plus ``ai_generated``.

    A pair, so ``signals, problems = read_embedded_signals(p)`` keeps
    working; ``ai_generated`` lists the file's own declarations that it was
    made by generative AI (:class:`~consentry.domain.signals.AiGeneratedLabel`: C2PA
    actions and IPTC XMP ``DigitalSourceType``), which are provenance, not
    terms of use.
    """

    def __new__(cls, signals: list[Signal], problems: list[SignalProblem],
                ai_generated: list[AiGeneratedLabel] | None = None) -> "EmbeddedSignals":
        self = super().__new__(cls, (signals, problems))
        self.ai_generated = list(ai_generated or ())
        return self

    @property
    def signals(self) -> list[Signal]:
        return self[0]

    @property
    def problems(self) -> list[SignalProblem]:
        return self[1]


def read_embedded_signals(path: str | os.PathLike, *, trust_anchors_pem: str | None = None,
                          ) -> EmbeddedSignals:
    """Every AI-use signal embedded in one file: C2PA, XMP, ID3, Vorbis comments, MP4 atoms.

    Parameters
    ----------
    path : str or os.PathLike
        Any file; its type is sniffed from its bytes.
    trust_anchors_pem : str, optional
        PEM root certificates to trust when verifying C2PA signatures (a
        valid signature chaining to one is ``"Trusted"``; otherwise
        ``"Valid"`` with ``signingCredential.untrusted``).

    Returns
    -------
    EmbeddedSignals
        ``(list of Signal, list of SignalProblem)``, with ``ai_generated``
        (list of AiGeneratedLabel) the declarations that the file was made
        by generative AI. Never raises for a bad file: damaged, truncated
        or hostile metadata and invalid C2PA signatures are problems.
    """
    location = os.fspath(path)
    label = Path(location).name or location
    signals: list[Signal] = []
    problems: list[SignalProblem] = []
    ai_generated: list[AiGeneratedLabel] = []
    try:
        kind = sniff_kind(location)
    except InputError as exc:
        problems.append(SignalProblem(format="file", source=location, message=str(exc)))
        return EmbeddedSignals(signals, problems)
    except (OSError, ValueError) as exc:
        problems.append(SignalProblem(format="c2pa", source=f"unreadable signal at {location}",
                                      message=f"cannot read the file ({getattr(exc, 'strerror', None) or exc})"))
        return EmbeddedSignals(signals, problems)
    spec = KINDS.get(kind or "")
    if spec is None:  # an HTML article or an EPUB: its TDMRep declaration (issue 18)
        signals += _text_signals(location, label, problems)

    family = spec["tags"] if spec else None
    if family:
        fmt = tagio.TAG_FORMAT[family]
        try:
            values = tagio.read_tag_values(location, kind, family)
            found, bad = tagio.signals_from_tags(values, family=family, file_label=label, location=location)
            signals += found
            problems += bad
        except Exception as exc:  # noqa: BLE001 - whatever a damaged file makes mutagen raise
            problems.append(SignalProblem(format=fmt, source=f"unreadable signal at {fmt} tags in {label}",
                                          message=str(exc)[:200] or type(exc).__name__))

    if spec and spec["xmp"]:
        try:
            with open(location, "rb") as handle:
                packet = xmp.extract_xmp(kind, handle.read())
            if packet:
                found, bad = signals_from_xmp(xmp.read_properties(packet), file_label=label, location=location)
                signals += found
                problems += bad
                ai_generated += ai_labels_from_xmp(xmp.read_digital_source_types(packet), file_label=label,
                                                   location=location)
        except (xmp.XmpError, OSError, RecursionError, ValueError) as exc:
            problems.append(SignalProblem(format="xmp", source=f"unreadable signal at XMP in {label}",
                                          message=str(exc)[:200] or type(exc).__name__))

    if spec is None or spec["c2pa"]:
        why_not = c2pa_manifest.c2pa_available()
        if why_not and spec is not None:
            problems.append(SignalProblem(format="c2pa", source=f"unreadable signal at C2PA in {label}",
                                          message=f"not checked: {why_not}"))
        elif not why_not:
            try:
                state = c2pa_manifest.read_manifest(location, mime=spec["mime"] if spec else None,
                                                    trust_anchors_pem=trust_anchors_pem)
                found, bad = c2pa_manifest.signals_from_manifest(state, file_label=label, location=location)
                signals += found
                problems += bad
                ai_generated += c2pa_manifest.ai_labels_from_manifest(state, file_label=label, location=location)
            except Exception as exc:  # noqa: BLE001 - C2paError and anything a hostile store provokes
                text = str(exc)
                if spec is None and ("NotSupported" in text or "type is unsupported" in text):
                    pass  # not a type C2PA can carry: nothing to read
                else:
                    problems.append(SignalProblem(format="c2pa", source=f"unreadable signal at C2PA manifest in {label}",
                                                  message=text[:200] or type(exc).__name__))
    return EmbeddedSignals(signals, problems, ai_generated)


def _text_signals(location: str, label: str, problems: list) -> list[Signal]:
    from consentry.formats.embed import text_terms
    from consentry.formats.tdmrep import tdm_signals

    try:
        with open(location, "rb") as handle:
            data = handle.read(64 * 1024 * 1024)
    except OSError:
        return []
    found = text_terms.read_text_terms(data)
    fmt = "html-meta" if text_terms.text_kind(data) == "html" else "tdmrep"
    for p in found.problems:
        problems.append(SignalProblem(format=fmt, source=f"unreadable signal at TDMRep in {label}", message=p))
    if found.reservation is None:
        return []
    return tdm_signals(found.reservation, policy_url=found.policy, policy=None, fmt=fmt,
                       source=f"TDMRep in {label}", location=location)


def ai_labels_from_xmp(values: list[str], *, file_label: str, location: str) -> list[AiGeneratedLabel]:
    """Declarations of AI-made content among IPTC ``Iptc4xmpExt:DigitalSourceType`` values (others are ignored)."""
    labels = []
    for value in values:
        code = ai_source_type(value)
        if code is not None:
            labels.append(AiGeneratedLabel(source_type=code, value=value[:300], format="xmp",
                                           source=f"XMP Iptc4xmpExt:DigitalSourceType in {file_label}",
                                           location=location))
    return labels


def signals_from_xmp(props: Mapping[str, str], *, file_label: str,
                     location: str) -> tuple[list[Signal], list[SignalProblem]]:
    """Signals of ``plus:DataMining`` and Consentry's ``consentry:*`` XMP properties.

    A PLUS value that defers to constraints stated elsewhere
    (``DMI-PROHIBITED-SEE...``) gives no PLUS signal for a use that a
    ``consentry:*`` property states: that property is the constraint.
    """
    signals: list[Signal] = []
    problems: list[SignalProblem] = []
    cns = "{%s}" % xmp.NS["consentry"]
    data_mining = props.get("{%s}DataMining" % xmp.NS["plus"])
    common = {}
    for key, name in (("{%s}WebStatement" % xmp.NS["xmpRights"], "web_statement"),
                      ("{%s}OtherConstraints" % xmp.NS["plus"], "other_constraints"),
                      (cns + "WorkId", "work_id"), (cns + "TermsVersion", "terms_version"), (cns + "Iscc", "iscc")):
        if key in props:
            common[name] = props[key][:2048]
    payload: dict = {}
    if cns + "Terms" in props:
        try:
            parsed = json.loads(props[cns + "Terms"])
            payload = parsed if isinstance(parsed, dict) else {}
            if not isinstance(parsed, dict):
                raise ValueError("not a JSON object")
        except (ValueError, RecursionError) as exc:
            problems.append(SignalProblem(format="xmp", source=f"unreadable signal at XMP consentry:Terms in {file_label}",
                                          message=f"not the JSON object Consentry writes ({str(exc)[:80]})"))
    uses_detail = payload.get("uses") if isinstance(payload.get("uses"), dict) else {}

    stated: set[str] = set()
    for use, name in XMP_USE_NAMES.items():
        raw = props.get(cns + name)
        if raw is None:
            continue
        value = raw.strip().lower()
        if value not in DECISIONS:
            problems.append(SignalProblem(format="xmp", source=f"unreadable signal at XMP consentry:{name} in {file_label}",
                                          message=f"value {raw[:40]!r} is not deny, allow or license"))
            continue
        stated.add(use)
        detail = dict(common)
        detail.update(terms_detail(uses_detail.get(use)))
        if data_mining:
            detail["plus_data_mining"] = data_mining[:200]
        signals.append(Signal(use=use, decision=value, format="xmp", source=f"XMP consentry:{name} in {file_label}",
                              location=location, detail=detail))

    if data_mining is not None:
        decisions = PLUS_TO_DECISIONS.get(data_mining.strip())
        if decisions is None:
            problems.append(SignalProblem(format="xmp", source=f"unreadable signal at XMP plus:DataMining in {file_label}",
                                          message=f"value {data_mining[:80]!r} is not in the PLUS Data Mining vocabulary"))
        else:
            defers = data_mining.strip().rsplit("/", 1)[-1] in _SEE_ELSEWHERE
            for use, decision in decisions.items():
                if defers and use in stated:
                    continue
                signals.append(Signal(use=use, decision=decision, format="xmp",
                                      source=f"XMP plus:DataMining in {file_label}", location=location,
                                      detail=dict(common, plus_data_mining=data_mining.strip())))
    return signals, problems
