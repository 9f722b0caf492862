"""Write an evidence bundle for one checked output (issue 6, "Evidence").

A bundle is a zip file ``<output stem>.evidence.zip`` holding

==================  ==========================================================
``facts.json``      the facts, in canonical JSON (see :mod:`.canonical`)
``facts.json.sig``  Ed25519 signature over the exact bytes of facts.json (64 bytes, raw)
``signer.pub``      the public key (PEM, SubjectPublicKeyInfo)
``report.html``     the human report, self-contained
``report.pdf``      the same, printed by headless Chromium (absent if it could not be made)
``manifest.json``   every other file with its SHA-256 and size, the key fingerprint, the PDF status
``manifest.json.sig`` Ed25519 signature over the exact bytes of manifest.json
==================  ==========================================================

The findings structure is plain data, made by the check (see docs/evidence.md
for every key); this module only copies it into the facts, hashes the
files, draws the pictures and signs.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import math
import os
import secrets
import zipfile
from pathlib import Path
from typing import Any, Iterable

import jinja2
import numpy as np
from markupsafe import Markup

from consentry.domain.errors import ConsentryError, InputError
from consentry.domain.hashing import sha256_and_size
from consentry.services.evidence import pictures
from consentry.services.evidence.canonical import canonical_json, to_plain
from consentry.services.evidence.keys import key_fingerprint, load_or_create_signing_key, public_key_pem
from consentry.services.evidence.pdf import print_to_pdf

__all__ = [
    "BUNDLE_FORMAT",
    "BUNDLE_FORMAT_VERSION",
    "MEMBER_NAMES",
    "bundle_name",
    "write_bundle",
]

BUNDLE_FORMAT = "consentry-evidence"
#: Bumped on any change to the layout or to the meaning of a key of facts.json or manifest.json.
BUNDLE_FORMAT_VERSION = 1
#: Every member a bundle may hold; ``report.pdf`` is optional, the others are required.
MEMBER_NAMES = ("facts.json", "facts.json.sig", "signer.pub", "report.html", "report.pdf",
                "manifest.json", "manifest.json.sig")
#: Longest stretch of audio drawn per spectrogram (seconds).
PICTURE_MAX_S = 30.0
#: Matched hashes listed as rows in the report (all of them are in facts.json).
REPORT_HASH_ROWS = 12

_FINDING_KINDS = ("recording", "melody", "voice")
# Bidirectional formatting and other invisible controls shown as visible marks
# in the report, so a title cannot reorder or hide the text around it.
_INVISIBLE = {c: f"[U+{c:04X}]" for c in [*range(0x00, 0x09), 0x0b, 0x0c, *range(0x0e, 0x20), 0x7f,
                                           0x061c, 0x200b, 0x200c, 0x200d, 0x200e, 0x200f,
                                           *range(0x202a, 0x202f), *range(0x2066, 0x206a), 0xfeff]}


def bundle_name(output_path: str | os.PathLike) -> str:
    """``"<stem>.evidence.zip"`` for an output file."""
    return f"{Path(output_path).stem or 'output'}.evidence.zip"


def _utc_iso(now: dt.datetime | None) -> str:
    moment = now or dt.datetime.now(dt.timezone.utc)
    if moment.tzinfo is None:
        raise ValueError("now must be timezone-aware (a naive time has no defined UTC instant)")
    return moment.astimezone(dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def _reference_id(reference: dict) -> str:
    value = reference.get("id", reference.get("work_id", reference.get("voice_id")))
    if value is None:
        raise InputError(f"reference {reference.get('path')!s}: has no id (give 'id', 'work_id' or 'voice_id')")
    return str(value)


def _collect_terms(findings: dict) -> dict:
    terms = dict(findings.get("terms") or {})
    for kind in _FINDING_KINDS:
        for item in findings.get(kind) or []:
            if isinstance(item, dict) and "work_id" in item and "terms" in item:
                terms.setdefault(str(item["work_id"]), item["terms"])
    return terms


def _base_name(name: str) -> str:
    """The last component of a file name or path (either slash), never empty."""
    return str(name).replace("\\", "/").rstrip("/").split("/")[-1] or "output"


def _without_paths(findings: dict) -> dict:
    """``findings`` with each finding's ``source`` path replaced by ``source_name`` (its base name)."""
    out = dict(findings)
    for kind in _FINDING_KINDS:
        items = out.get(kind)
        if isinstance(items, list):
            out[kind] = [{**{k: v for k, v in item.items() if k != "source"},
                          **({"source_name": _base_name(item["source"])}
                             if isinstance(item.get("source"), str) and "source_name" not in item else {})}
                         if isinstance(item, dict) else item for item in items]
    return out


def build_facts(*, output_path: Path, findings: dict, references: list[dict], tool_version: str,
                checked_at: str, output_name: str | None = None) -> tuple[dict, dict[str, Path]]:
    """The facts of a bundle, and the reference files found on disk by id.

    Missing reference files are listed with ``"sha256": null`` and
    ``"present": false``; they do not stop the bundle. Files are named by
    base name only (``output_name`` for the output when given); a finding's
    ``source`` (a path) becomes ``source_name`` (its base name): no local or
    server path leaves in the facts.
    """
    output_sha, output_size = sha256_and_size(output_path)
    found: dict[str, Path] = {}
    reference_facts = []
    for reference in references:
        ref_id = _reference_id(reference)
        path = Path(reference["path"]) if reference.get("path") is not None else None
        given = reference.get("name")  # the name its owner gave the file (an upload's), when known
        entry: dict[str, Any] = {"id": ref_id, "kind": str(reference.get("kind", "work")),
                                 "name": _base_name(given) if given else (path.name if path else None)}
        if path is not None and path.is_file():
            entry["sha256"], entry["size_bytes"] = sha256_and_size(path)
            entry["present"] = True
            found.setdefault(ref_id, path)
        else:
            entry["sha256"], entry["size_bytes"], entry["present"] = None, None, False
        reference_facts.append(entry)
    plain = _without_paths(to_plain(findings, where="findings"))
    body = {key: value for key, value in plain.items() if key not in ("engines", "terms")}
    for kind in _FINDING_KINDS:
        body.setdefault(kind, [])
    facts = {
        "format": BUNDLE_FORMAT,
        "format_version": BUNDLE_FORMAT_VERSION,
        "tool": {"name": "consentry", "version": str(tool_version)},
        "checked_at": checked_at,
        "output": {"name": _base_name(output_name) if output_name else output_path.name, "sha256": output_sha,
                   "size_bytes": output_size},
        "references": reference_facts,
        "engines": plain.get("engines") or [],
        "terms_in_force": to_plain(_collect_terms(findings), where="findings.terms"),
        "findings": body,
    }
    return facts, found


# ---------------------------------------------------------------- the report

def _visible(value: Any) -> Any:
    if isinstance(value, Markup) or not isinstance(value, str):
        return value
    return value.translate(_INVISIBLE)


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.PackageLoader("consentry.services.evidence", "templates"),
                             autoescape=True, finalize=_visible, undefined=jinja2.ChainableUndefined,
                             trim_blocks=True, lstrip_blocks=True)
    env.filters["terms_in_words"] = _terms_in_words
    env.globals["use_labels"] = _use_labels()
    env.filters["num"] = _format_number
    env.filters["pct"] = _format_percent
    return env


def _terms_in_words(t: Any) -> str:
    """One use's terms as the rest of the report words them: "deny", "allow", "license at 40.00 EUR per work"."""
    if not isinstance(t, dict):
        return str(t)
    d = t.get("decision")
    if d == "license":
        from consentry.reporting.format import format_money

        price = t.get("price")
        unit = (t.get("unit") or "per-work").replace("-", " ")
        return f"license at {format_money(price, t.get('currency'))} {unit}" if price is not None else "license"
    return str(d or "none")


def _use_labels() -> dict:
    from consentry.domain.terms import USE_LABELS

    return dict(USE_LABELS)


def _format_number(value: Any, digits: int = 2) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return "—" if value is None or isinstance(value, jinja2.Undefined) else str(value)
    return f"{value:.{digits}f}"


def _format_percent(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return "—"
    if 0 < value < 0.0001:
        return "<0.01%"
    return f"{100 * value:.2f}%"


def _number(item: dict, key: str, default: float | None = None) -> float | None:
    value = item.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return default
    return float(value)


def _decode_segment(path: Path, *, start_s: float, duration_s: float) -> np.ndarray | None:
    from consentry.io.decode import decode_audio

    try:
        audio = decode_audio(path, sample_rate_hz=pictures.SPECTROGRAM_SAMPLE_RATE_HZ,
                             start_s=max(0.0, start_s), max_duration_s=max(0.1, duration_s))
    except (ConsentryError, OSError, ValueError):
        return None
    return audio.samples if audio.samples.size else None


def _spectrogram_pair(output_path: Path, reference_path: Path | None, item: dict) -> dict:
    q0, q1 = _number(item, "query_start_s"), _number(item, "query_end_s")
    w0, w1 = _number(item, "work_start_s"), _number(item, "work_end_s")
    pair: dict[str, Any] = {"output": None, "reference": None, "note": ""}
    if q0 is None or q1 is None or q1 <= q0:
        pair["note"] = "no segment in the output to draw"
        return pair
    q_len = min(q1 - q0, PICTURE_MAX_S)
    samples = _decode_segment(output_path, start_s=q0, duration_s=q_len)
    if samples is not None:
        pair["output"] = pictures.png_data_uri(
            pictures.spectrogram_image(samples, sample_rate_hz=pictures.SPECTROGRAM_SAMPLE_RATE_HZ))
    if reference_path is not None and w0 is not None and w1 is not None and w1 > w0:
        # The same stretch of the work: its length scales with the speed change.
        w_len = min(w1 - w0, q_len * (w1 - w0) / (q1 - q0))
        samples = _decode_segment(reference_path, start_s=w0, duration_s=w_len)
        if samples is not None:
            pair["reference"] = pictures.png_data_uri(
                pictures.spectrogram_image(samples, sample_rate_hz=pictures.SPECTROGRAM_SAMPLE_RATE_HZ))
    if (q1 - q0) > PICTURE_MAX_S:
        pair["note"] = f"first {PICTURE_MAX_S:g} s of the matched segment shown"
    if pair["output"] is None:
        pair["note"] = "the output could not be decoded for a picture"
    elif pair["reference"] is None:
        pair["note"] = "the reference file is not at hand or could not be decoded; only the output is drawn"
    return pair


def _hashes_view(item: dict) -> dict:
    """The matched hashes of a recording finding as the report shows them: count, total, dot plot, first rows."""
    raw = item.get("matched_hashes")
    rows = [h for h in raw if isinstance(h, dict)] if isinstance(raw, list) else []
    total = item.get("matched_hashes_total")
    total = total if isinstance(total, int) and not isinstance(total, bool) and total >= len(rows) else len(rows)
    return dict(count=len(rows), total=total, rows=rows[:REPORT_HASH_ROWS],
                plot=pictures.matched_hashes_svg(rows, speed=_number(item, "speed")))


def _copied_share(recording: list, duration_s: float | None) -> float | None:
    if not duration_s:
        return None
    spans = sorted((a, b) for a, b in ((_number(i, "query_start_s"), _number(i, "query_end_s"))
                                       for i in recording if isinstance(i, dict))
                   if a is not None and b is not None and b > a)
    covered, end = 0.0, -math.inf
    for a, b in spans:
        if b > end:
            covered += b - max(a, end)
            end = b
    return min(1.0, covered / duration_s)


def report_views(facts: dict, *, output_path: Path, reference_paths: dict[str, Path]) -> dict:
    """What the report shows, pictures included (decoding audio is the slow part)."""
    body = facts["findings"]
    recording = [i for i in body.get("recording") or [] if isinstance(i, dict)]
    melody = [i for i in body.get("melody") or [] if isinstance(i, dict)]
    voice = [i for i in body.get("voice") or [] if isinstance(i, dict)]
    duration = _number(body, "output_duration_s")
    if duration is None:
        decoded = _decode_segment(output_path, start_s=0.0, duration_s=4 * 3600.0)
        duration = None if decoded is None else decoded.size / pictures.SPECTROGRAM_SAMPLE_RATE_HZ
    recording_view = [dict(item=item, pictures=_spectrogram_pair(
        output_path, reference_paths.get(str(item.get("work_id"))), item),
        hashes=_hashes_view(item)) for item in recording]
    melody_view = [dict(item=item, picture=pictures.melody_alignment_svg(
        item.get("query_notes"), item.get("reference_notes"), item.get("pairs"))) for item in melody]
    voice_view = [dict(item=item, picture=pictures.voice_distribution_svg(
        _number(item, "score", math.nan), unrelated_scores=item.get("unrelated_scores") or [],
        threshold=_number(item, "threshold"), statistic=str(item.get("statistic") or "best_window")))
        for item in voice]
    return dict(facts=facts, recording=recording_view, melody=melody_view, voice=voice_view,
                duration_s=duration, copied_share=_copied_share(recording, duration))


def render_report(views: dict, *, fingerprint: str, pdf_status: str) -> bytes:
    """The self-contained HTML report (UTF-8 bytes) from :func:`report_views`."""
    html = _environment().get_template("report.html.j2").render(**views, fingerprint=fingerprint,
                                                                 pdf_status=pdf_status)
    return html.encode("utf-8")


# ---------------------------------------------------------------- the bundle

def _zip_bytes(members: Iterable[tuple[str, bytes]], *, date_time: tuple[int, ...]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members:
            info = zipfile.ZipInfo(name, date_time=date_time)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    return buffer.getvalue()


def seal(members: dict[str, bytes], *, key, fingerprint: str, pdf: dict, checked_at: dt.datetime,
         order: Iterable[str] | None = None) -> bytes:
    """The bundle's zip: ``members`` plus ``manifest.json`` (every file's SHA-256 and size, ``pdf``) and its signature.

    Every bundle, whatever the medium of its output, is sealed here, so that
    ``consentry evidence verify`` reads them all the same way.  ``members`` gets
    the two manifest files added; ``order`` lists the members in the order they
    are zipped (default: as given).  Entries are dated ``checked_at`` (UTC), so
    the same facts give the same zip.
    """
    manifest = {
        "format": BUNDLE_FORMAT,
        "format_version": BUNDLE_FORMAT_VERSION,
        "key_fingerprint": fingerprint,
        "signature_algorithm": "Ed25519",
        "files": {name: {"sha256": hashlib.sha256(data).hexdigest(), "size_bytes": len(data)}
                  for name, data in members.items()},
        "pdf": pdf,
    }
    manifest_bytes = canonical_json(manifest)
    members["manifest.json"] = manifest_bytes
    members["manifest.json.sig"] = key.sign(manifest_bytes)
    names = [name for name in order if name in members] if order is not None else list(members)
    stamp = checked_at.astimezone(dt.timezone.utc)
    return _zip_bytes(((name, members[name]) for name in names),
                      date_time=(max(1980, stamp.year), stamp.month, stamp.day, stamp.hour, stamp.minute, stamp.second))


def write_atomically(folder: str | os.PathLike, name: str, data: bytes) -> Path:
    """Write ``folder/name`` whole or not at all (a temporary file, synced, then renamed); a one-line error names it."""
    folder = Path(folder)
    target = folder / name
    temporary = folder / f".{target.name}.{secrets.token_hex(6)}.tmp"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with open(temporary, "xb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, target)
    except OSError as exc:
        try:
            temporary.unlink()
        except OSError:
            pass
        raise InputError(f"{target}: cannot write the evidence bundle ({exc.strerror or exc})") from None
    return target


def write_bundle(out_dir: str | os.PathLike, *, output_path: str | os.PathLike, findings: dict,
                 references: list[dict], registry_dir: str | os.PathLike, tool_version: str,
                 now: dt.datetime | None = None, pdf: bool = True,
                 chromium: str | os.PathLike | None = None, output_name: str | None = None) -> Path:
    """Write ``out_dir/<output stem>.evidence.zip`` for one checked output.

    Parameters
    ----------
    out_dir : path
        Folder for the bundle (made if missing). An older bundle of the same
        name is replaced atomically.
    output_path : path
        The checked output (any audio file ``decode_audio`` reads; its bytes
        are hashed whatever they are).
    findings : dict
        Plain findings of the check: ``recording``, ``melody`` and ``voice``
        lists, ``engines`` and ``terms`` (see docs/evidence.md). Copied into
        facts.json; every string in it is treated as untrusted text.
    references : list of dict
        The files the findings point at: ``{"id": work or voice id,
        "path": file, "kind": "work" | "voice"}`` (``work_id`` is accepted
        for ``id``). Missing files are recorded as not present.
    registry_dir : path
        The registry's folder; holds the signing key ``evidence-key.pem``.
    tool_version : str
        Version of Consentry that made the findings.
    now : datetime, optional
        Time of the check (timezone-aware); default the current time.
    pdf : bool
        Print report.html to report.pdf with Chromium (default True).
    chromium : path, optional
        Chromium executable; default the first found on ``PATH``.
    output_name : str, optional
        The output's file name as its sender knows it (a server passes the
        upload's name): facts.json names the output by it and the bundle is
        ``<its stem>.evidence.zip``. Default: the name of ``output_path``.

    Returns
    -------
    Path
        The bundle.

    Raises
    ------
    InputError
        The output file is missing or unreadable, or the findings hold a
        value JSON cannot carry (NaN, infinity, an object).
    EvidenceKeyError
        The signing key file is corrupt (it is not replaced).
    """
    output_path = Path(output_path)
    if not output_path.is_file():
        raise InputError(f"{output_path}: the checked output is not a readable file")
    key = load_or_create_signing_key(registry_dir)
    fingerprint = key_fingerprint(key)
    checked_at = _utc_iso(now)
    try:
        facts, reference_paths = build_facts(output_path=output_path, findings=findings, references=references,
                                             tool_version=tool_version, checked_at=checked_at,
                                             output_name=output_name)
        facts_bytes = canonical_json(facts)
    except ValueError as exc:
        raise InputError(f"{output_path}: findings cannot be written as evidence ({exc})") from None
    except OSError as exc:
        raise InputError(f"{getattr(exc, 'filename', None) or output_path}: cannot read ({exc.strerror or exc})") from None
    members: dict[str, bytes] = {
        "facts.json": facts_bytes,
        "facts.json.sig": key.sign(facts_bytes),
        "signer.pub": public_key_pem(key),
    }
    pending = "No PDF was requested for this bundle." if not pdf else "The PDF in this bundle is printed from this page."
    views = report_views(facts, output_path=output_path, reference_paths=reference_paths)
    html = render_report(views, fingerprint=fingerprint, pdf_status=pending)
    pdf_bytes, pdf_reason = (None, "not requested") if not pdf else print_to_pdf(html, chromium=chromium)
    if pdf and pdf_bytes is None:
        # Say in the report itself why there is no PDF.
        html = render_report(views, fingerprint=fingerprint, pdf_status=f"No PDF in this bundle: {pdf_reason}.")
    members["report.html"] = html
    if pdf_bytes is not None:
        members["report.pdf"] = pdf_bytes
    stamp = dt.datetime.fromisoformat(checked_at.replace("Z", "+00:00"))
    data = seal(members, key=key, fingerprint=fingerprint, pdf={"included": pdf_bytes is not None, "reason": pdf_reason},
                checked_at=stamp, order=MEMBER_NAMES)
    return write_atomically(out_dir, bundle_name(_base_name(output_name) if output_name else output_path), data)
