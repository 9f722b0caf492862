"""Verify an evidence bundle: safely, completely, and saying exactly what fails.

The bundle is read in memory, never extracted: a member name is only used as
a key, so a hostile name (``../evil``, ``/etc/passwd``) cannot write
anywhere. Sizes, the number of members and compression ratios are capped
before anything is decompressed, and every read is bounded, so a zip bomb
costs at most the caps. Every problem becomes one line in
:attr:`VerifyResult.failures`; no exception escapes :func:`verify_bundle`.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Mapping

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from consentry.domain.hashing import sha256_and_size
from consentry.services.evidence.bundle import BUNDLE_FORMAT, BUNDLE_FORMAT_VERSION, MEMBER_NAMES
from consentry.services.evidence.canonical import canonical_json, parse_canonical
from consentry.services.evidence.keys import key_fingerprint

__all__ = [
    "MAX_BUNDLE_BYTES",
    "MAX_COMPRESSION_RATIO",
    "MAX_MEMBER_BYTES",
    "OFFSET_TOLERANCE_S",
    "VOICE_SCORE_TOLERANCE",
    "VerifyResult",
    "short_fingerprint",
    "compare_findings",
    "format_verify_result",
    "verify_bundle",
]

#: Largest bundle file read (bytes).
MAX_BUNDLE_BYTES = 512 << 20
#: Largest uncompressed size of each member (bytes).
MAX_MEMBER_BYTES = {
    "facts.json": 64 << 20, "facts.json.sig": 1024, "signer.pub": 4096, "report.html": 64 << 20,
    "report.pdf": 256 << 20, "manifest.json": 1 << 20, "manifest.json.sig": 1024,
}
#: Largest uncompressed/compressed ratio of a member over 64 KiB (JSON and HTML compress 5-20x).
MAX_COMPRESSION_RATIO = 100.0
_RATIO_FLOOR_BYTES = 64 << 10
_MAX_ENTRIES = 32
_REQUIRED = ("facts.json", "facts.json.sig", "signer.pub", "report.html", "manifest.json", "manifest.json.sig")
_SIGNED_ELSEWHERE = ("manifest.json", "manifest.json.sig")
#: A re-run reproduces a match when its offsets are within this many seconds of the bundle's.
OFFSET_TOLERANCE_S = 0.5
#: ... and a voice when the decision is the same and the similarity within this much.
VOICE_SCORE_TOLERANCE = 0.05
#: A recording finding's matched hashes reproduce when at least this share of the
#: bundle's are found again (same hash, same offsets to the millisecond).
HASHES_REPRODUCE_SHARE = 0.5

Rematch = Callable[[Path, dict], dict]


def short_fingerprint(fingerprint: str | None) -> str:
    """The first 16 hex digits of a ``sha256:<hex>`` key fingerprint and an ellipsis, for people (``ab12cd34ef567890…``)."""
    if not fingerprint:
        return "(none)"
    text = str(fingerprint).strip().lower()
    text = text[len("sha256:"):] if text.startswith("sha256:") else text
    return text[:16] + "…"


def _normal_fingerprint(fingerprint: str) -> str:
    text = str(fingerprint).strip().lower()
    return text if text.startswith("sha256:") else "sha256:" + text


@dataclass
class VerifyResult:
    """What :func:`verify_bundle` found.

    Attributes
    ----------
    path : str
        The bundle as given.
    failures : list of str
        One line per problem, each starting with the file at fault. Empty
        when everything checked out.
    passed : list of str
        One line per check that passed.
    notes : list of str
        Things that are not failures but a reader should know (no PDF, a
        file not at hand, a rematch not run).
    key_fingerprint : str or None
        ``sha256:<hex>`` of the signing key in the bundle.
    registry_fingerprint : str or None
        ``sha256:<hex>`` of this registry's key, when one was given.
    signer : {"registry", "trusted", "unknown"} or None
        Whose key signed: this registry's, a key the caller trusts
        explicitly, or an unknown key (a failure unless the caller accepted
        any signer: then the bundle is checked for integrity only). None when
        the bundle has no readable key.
    facts : dict or None
        facts.json, when it could be read.
    reproduces : bool or None
        Whether a rematch reproduced every finding; None if none was run.
    """

    path: str
    failures: list[str] = field(default_factory=list)
    passed: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    key_fingerprint: str | None = None
    registry_fingerprint: str | None = None
    signer: str | None = None
    facts: dict | None = None
    reproduces: bool | None = None

    @property
    def ok(self) -> bool:
        """True when nothing failed."""
        return not self.failures


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _unsafe_name(name: str) -> bool:
    return (name.startswith(("/", "\\")) or "\\" in name or re.match(r"[A-Za-z]:", name) is not None
            or any(part in ("..", "") for part in name.split("/")[:-1]) or name.split("/")[-1] == ".."
            or "\x00" in name)


def _read_members(archive: zipfile.ZipFile, result: VerifyResult) -> dict[str, bytes]:
    infos = archive.infolist()
    if len(infos) > _MAX_ENTRIES:
        result.failures.append(f"{result.path}: {len(infos)} members, more than an evidence bundle has "
                               f"({_MAX_ENTRIES} at most); not read")
        return {}
    seen: set[str] = set()
    members: dict[str, bytes] = {}
    for info in infos:
        name = info.filename
        shown = repr(name) if not name.isprintable() else name
        if name in seen:
            result.failures.append(f"{shown}: appears more than once in the zip")
            members.pop(name, None)
            continue
        seen.add(name)
        if _unsafe_name(name):
            result.failures.append(f"{shown}: unsafe member path (points outside the bundle); not read")
            continue
        if name not in MEMBER_NAMES:
            result.failures.append(f"{shown}: unexpected member, not part of an evidence bundle")
            continue
        if info.flag_bits & 0x1:
            result.failures.append(f"{name}: encrypted member; not read")
            continue
        cap = MAX_MEMBER_BYTES[name]
        if info.file_size > cap:
            result.failures.append(f"{name}: {info.file_size} bytes uncompressed, over the {cap}-byte limit; not read")
            continue
        if info.file_size > _RATIO_FLOOR_BYTES and info.file_size > MAX_COMPRESSION_RATIO * max(1, info.compress_size):
            result.failures.append(f"{name}: compression ratio {info.file_size / max(1, info.compress_size):.0f}:1 "
                                   f"is over {MAX_COMPRESSION_RATIO:.0f}:1 (a zip bomb?); not read")
            continue
        try:
            with archive.open(info) as f:
                data = f.read(min(cap, info.file_size) + 1)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError, OSError, ValueError,
                RuntimeError, zlib.error) as exc:  # zlib.error: corrupt deflate data (fuzz finding, issue 15)
            result.failures.append(f"{name}: cannot be read from the zip ({_one_line(exc)})")
            continue
        if len(data) > info.file_size:
            result.failures.append(f"{name}: holds more bytes than its zip header says; not read")
            continue
        members[name] = data
    return members


def _load_public_key(data: bytes, result: VerifyResult) -> Ed25519PublicKey | None:
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        key = None
    if not isinstance(key, Ed25519PublicKey):
        result.failures.append("signer.pub: not an Ed25519 public key in PEM")
        return None
    return key


def _check_signature(key: Ed25519PublicKey, members: dict[str, bytes], name: str, result: VerifyResult) -> None:
    signed, signature = members.get(name), members.get(name + ".sig")
    if signed is None or signature is None:
        return  # already reported as missing
    try:
        key.verify(signature, signed)
    except InvalidSignature:
        result.failures.append(f"{name}.sig: signature does not verify with signer.pub "
                               f"({name} was changed, or signed by another key)")
    else:
        result.passed.append(f"{name}.sig: Ed25519 signature over {name} verifies")


def _check_manifest(members: dict[str, bytes], unread: set[str], result: VerifyResult) -> dict | None:
    data = members.get("manifest.json")
    if data is None:
        return None
    try:
        manifest = parse_canonical(data)
    except ValueError as exc:
        result.failures.append(f"manifest.json: {exc}")
        return None
    files = manifest.get("files") if isinstance(manifest, dict) else None
    if not isinstance(files, dict):
        result.failures.append("manifest.json: has no 'files' object")
        return None
    if manifest.get("format") != BUNDLE_FORMAT or manifest.get("format_version") != BUNDLE_FORMAT_VERSION:
        result.failures.append(f"manifest.json: format {manifest.get('format')!r} version "
                               f"{manifest.get('format_version')!r} is not {BUNDLE_FORMAT!r} "
                               f"version {BUNDLE_FORMAT_VERSION}")
    matched = 0
    for name, entry in sorted(files.items()):
        expected = entry.get("sha256") if isinstance(entry, dict) else None
        if name in _SIGNED_ELSEWHERE or name not in MEMBER_NAMES:
            result.failures.append(f"manifest.json: lists {name}, which is not a file a bundle may list")
        elif name not in members:
            if name not in unread:
                result.failures.append(f"manifest.json: lists {name} which is missing")
        elif hashlib.sha256(members[name]).hexdigest() != expected:
            result.failures.append(f"{name}: SHA-256 differs from manifest.json")
        else:
            matched += 1
    for name in members:
        if name not in files and name not in _SIGNED_ELSEWHERE:
            result.failures.append(f"{name}: not listed in manifest.json")
    result.passed.append(f"manifest.json: {matched} of {len(files)} listed files match their SHA-256")
    pdf = manifest.get("pdf")
    if isinstance(pdf, dict) and not pdf.get("included"):
        result.notes.append(f"report.pdf: not in the bundle ({_one_line(pdf.get('reason', 'no reason given'))})")
    return manifest


def _check_facts(members: dict[str, bytes], result: VerifyResult) -> dict | None:
    data = members.get("facts.json")
    if data is None:
        return None
    try:
        facts = parse_canonical(data)
    except ValueError as exc:
        result.failures.append(f"facts.json: {exc}")
        return None
    if not isinstance(facts, dict):
        result.failures.append("facts.json: is not a JSON object")
        return None
    if canonical_json(facts) != data:
        result.failures.append("facts.json: not in canonical JSON form (see docs/evidence.md)")
    if facts.get("format") != BUNDLE_FORMAT or facts.get("format_version") != BUNDLE_FORMAT_VERSION:
        result.failures.append(f"facts.json: format {facts.get('format')!r} version {facts.get('format_version')!r} "
                               f"is not {BUNDLE_FORMAT!r} version {BUNDLE_FORMAT_VERSION}")
    return facts


def _files_by_hash(files_dir: Path) -> tuple[dict[str, Path], dict[str, list[Path]]]:
    by_hash: dict[str, Path] = {}
    by_name: dict[str, list[Path]] = {}
    for path in sorted(files_dir.rglob("*")):
        if path.is_file() and not path.is_symlink():
            try:
                digest, _ = sha256_and_size(path)
            except OSError:
                continue
            by_hash.setdefault(digest, path)
            by_name.setdefault(path.name, []).append(path)
    return by_hash, by_name


def _check_files(facts: dict, files_dir: Path, result: VerifyResult) -> Path | None:
    if not files_dir.is_dir():
        result.failures.append(f"{files_dir}: not a folder (files_dir should hold the output and references)")
        return None
    by_hash, by_name = _files_by_hash(files_dir)
    output = facts.get("output") if isinstance(facts.get("output"), dict) else {}
    entries = [("output", output)] + [("reference " + str(r.get("id")), r)
                                      for r in facts.get("references") or [] if isinstance(r, dict)]
    output_path = None
    for label, entry in entries:
        digest, name = entry.get("sha256"), str(entry.get("name"))
        if not digest:
            result.notes.append(f"{label} {name}: not at hand when the bundle was made, so no SHA-256 to check")
            continue
        if digest in by_hash:
            result.passed.append(f"{label} {name}: SHA-256 matches {by_hash[digest]}")
            if label == "output":
                output_path = by_hash[digest]
        elif name in by_name:
            result.failures.append(f"{by_name[name][0]}: SHA-256 differs from the {label} {name} in facts.json "
                                   "(the file was changed, or it is another file)")
        else:
            result.notes.append(f"{label} {name}: no file with its SHA-256 in {files_dir}")
    return output_path


def _num(item: dict, key: str) -> float | None:
    value = item.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def _label(kind: str, index: int, item: dict) -> str:
    who = item.get("work_id", item.get("voice_id"))
    title = item.get("title") or item.get("creator")
    text = f"{kind} finding {index} ({'work' if kind != 'voice' else 'voice'} {who}"
    return _one_line(text + (f", {title!r})" if title else ")"))


def _hash_rows(raw) -> set[tuple]:
    """The ``(hash, query_offset_s, work_offset_s)`` rows of a finding's ``matched_hashes`` (malformed rows dropped)."""
    rows = set()
    for h in raw if isinstance(raw, list) else []:
        if not isinstance(h, dict):
            continue
        k, q, w = h.get("hash"), _num(h, "query_offset_s"), _num(h, "work_offset_s")
        if isinstance(k, int) and not isinstance(k, bool) and q is not None and w is not None:
            rows.add((k, round(q, 3), round(w, 3)))
    return rows


def _engine_of(findings: dict, check: str) -> str | None:
    """``name/version/params_hash`` of the engine a findings dict names for ``check``, if any."""
    for e in findings.get("engines") or []:
        if isinstance(e, dict) and e.get("check") == check:
            return "/".join(str(e.get(k)) for k in ("name", "version", "params_hash"))
    return None


def compare_matched_hashes(claim: dict, found: dict) -> tuple[int, int]:
    """How many of a recording finding's listed hash matches a re-run lists again: (listed, reproduced)."""
    listed = _hash_rows(claim.get("matched_hashes"))
    return len(listed), len(listed & _hash_rows(found.get("matched_hashes")))


def _voice_noun(finding: dict) -> str:
    """What a voice finding's score is: a cohort score (more than 10 creators enrolled) or a similarity."""
    return "cohort score" if finding.get("statistic") == "cohort" else "similarity"


#: Why a bundle's cohort voice score is not what a re-run gives: only the check of 2026-12-07, 17:00 to 19:34 UTC,
#: scored voices by cohort (more than 10 creators enrolled); it was withdrawn (docs/voice.md).
VOICE_COHORT_WITHDRAWN = ("the check no longer scores voices by cohort (withdrawn on 2026-12-07: it falsely matched "
                          "outputs whose voice is not enrolled; docs/voice.md), and a re-run scores the best window")


def _voice_why(claim: dict, found: dict) -> str:
    """Why a voice finding's score may have moved: the statistic or the creators compared changed (else "")."""
    then, now = claim.get("statistic") or "best_window", found.get("statistic") or "best_window"
    n_then, n_now = claim.get("creators_compared"), found.get("creators_compared")
    if then != now:
        why = (VOICE_COHORT_WITHDRAWN if then == "cohort"
               else "the check scores voices by another statistic than when the bundle was made")
        return (f"; scored as a {_voice_noun(claim)} against {n_then} creators in the bundle and as a "
                f"{_voice_noun(found)} against {n_now} now: {why} (the voice's own similarity: "
                f"{_num(claim, 'similarity')} in the bundle, {_num(found, 'similarity')} now)")
    if then == "cohort" and n_then != n_now:
        a, b = _num(claim, "similarity"), _num(found, "similarity")
        return (f"; a cohort score depends on the other creators enrolled: {n_then} in the bundle, {n_now} now "
                f"(the voice's own similarity: {a} in the bundle, {b} now)")
    return ""


def compare_findings(claimed: dict, found: dict, *, tolerance_s: float = OFFSET_TOLERANCE_S,
                     score_tolerance: float = VOICE_SCORE_TOLERANCE,
                     hash_counts: list | None = None) -> tuple[int, list[str]]:
    """Whether the findings of a re-run reproduce those of a bundle.

    Recording and melody findings reproduce when the re-run finds the same
    work with its start in the output and in the work within
    ``tolerance_s`` seconds; voice findings when the re-run reaches the same
    decision for the same voice with a similarity within
    ``score_tolerance``. Findings the re-run adds are not differences (the
    bundle claims what it lists, not that nothing else is there).  A
    recording finding that lists matched hashes also needs at least
    :data:`HASHES_REPRODUCE_SHARE` of them listed again by the re-run; the
    counts ``(label, listed, reproduced)`` are appended to ``hash_counts``.

    Returns
    -------
    (int, list of str)
        Number of claimed findings, and one line per finding that did not
        reproduce, naming it and what differs.
    """
    total, differences = 0, []
    starts = {"recording": ("query_start_s", "work_start_s"), "melody": ("query_start_s", "reference_start_s")}
    for kind in ("recording", "melody", "voice"):
        claims = [c for c in claimed.get(kind) or [] if isinstance(c, dict)]
        pool = [f for f in (found.get(kind) or []) if isinstance(f, dict)]
        used: set[int] = set()
        then, now = _engine_of(claimed, kind), _engine_of(found, kind)
        if kind == "voice" and claims and then and now and then != now:
            # Prints of different voice models are never compared: the re-run cannot speak to these findings.
            total += len(claims)
            differences += [f"{_label(kind, index, claim)}: made with the voice model {then}; this Consentry "
                            f"compares {now}, so it cannot re-run it" for index, claim in enumerate(claims, start=1)]
            continue
        for index, claim in enumerate(claims, start=1):
            total += 1
            key = "voice_id" if kind == "voice" else "work_id"
            same = [(k, f) for k, f in enumerate(pool) if k not in used and f.get(key) == claim.get(key)]
            if not same:
                differences.append(f"{_label(kind, index, claim)}: not found by the re-run")
                continue
            if kind == "voice":
                k, f = same[0]
                a, b = _num(claim, "score"), _num(f, "score")
                if bool(f.get("is_match")) != bool(claim.get("is_match")):
                    differences.append(f"{_label(kind, index, claim)}: decision differs "
                                       f"({'match' if claim.get('is_match') else 'no match'} in the bundle, "
                                       f"{'match' if f.get('is_match') else 'no match'} now)" + _voice_why(claim, f))
                elif a is None or b is None or abs(a - b) > score_tolerance:
                    differences.append(f"{_label(kind, index, claim)}: {_voice_noun(claim)} {a} in the bundle, "
                                       f"{b} now (tolerance {score_tolerance:g})" + _voice_why(claim, f))
                used.add(k)
                continue
            best, best_gap = None, math.inf
            for k, f in same:
                gaps = [abs(x - y) if (x := _num(claim, s)) is not None and (y := _num(f, s)) is not None else math.inf
                        for s in starts[kind]]
                if max(gaps) < best_gap:
                    best, best_gap = (k, f), max(gaps)
            k, f = best
            if best_gap <= tolerance_s:
                used.add(k)
                listed, again = compare_matched_hashes(claim, f) if kind == "recording" else (0, 0)
                if listed:
                    if hash_counts is not None:
                        hash_counts.append((_label(kind, index, claim), listed, again))
                    if again < HASHES_REPRODUCE_SHARE * listed:
                        differences.append(f"{_label(kind, index, claim)}: only {again} of its {listed} matched hashes "
                                           f"reproduce (at least {HASHES_REPRODUCE_SHARE:.0%} needed)")
                continue
            detail = ", ".join(f"{s} {_num(claim, s)} in the bundle, {_num(f, s)} now" for s in starts[kind])
            differences.append(f"{_label(kind, index, claim)}: offsets differ ({detail}; tolerance {tolerance_s:g} s)")
    return total, differences


def _rematch(rematch: Rematch, output_path: Path, facts: dict, tolerance_s: float, result: VerifyResult) -> None:
    try:
        found = rematch(output_path, facts)
    except Exception as exc:  # the callable is the caller's code: report, do not crash
        result.failures.append(f"rematch: the re-run failed ({type(exc).__name__}: {_one_line(exc)})")
        result.reproduces = False
        return
    if not isinstance(found, dict):
        result.failures.append(f"rematch: the re-run returned {type(found).__name__}, not a findings dict")
        result.reproduces = False
        return
    claimed = facts.get("findings") if isinstance(facts.get("findings"), dict) else {}
    claimed = {**claimed, "engines": facts.get("engines") if isinstance(facts.get("engines"), list) else []}
    hash_counts: list = []
    total, differences = compare_findings(claimed, found, tolerance_s=tolerance_s, hash_counts=hash_counts)
    result.reproduces = not differences
    if differences:
        result.failures.extend(f"rematch: {line}" for line in differences)
    else:
        result.passed.append(f"rematch: reproduces ({total} of {total} findings; offsets within {tolerance_s:g} s)")
    result.passed.extend(f"rematch: {label}: {again} of {listed} matched hashes reproduce"
                         for label, listed, again in hash_counts if again >= HASHES_REPRODUCE_SHARE * listed)


def _check_signer(result: VerifyResult, *, trusted: dict[str, str], accept_any_signer: bool) -> None:
    """Whose key signed, against this registry's key and the keys the caller trusts; a failure when nobody vouches for it."""
    fp, ours = result.key_fingerprint, result.registry_fingerprint
    if ours is not None and fp == ours:
        result.signer = "registry"
        result.passed.append(f"signer.pub: signed by this registry (key {short_fingerprint(fp)})")
        return
    if fp in trusted:
        result.signer = "trusted"
        result.passed.append(f"signer.pub: signed by key {short_fingerprint(fp)}, trusted explicitly ({trusted[fp]})")
        return
    result.signer = "unknown"
    if accept_any_signer:
        result.notes.append(f"signer.pub: signed by unknown key {short_fingerprint(fp)} ({fp}), integrity only: the "
                            "signatures prove the bundle is unchanged since that key signed it, not who signed it")
        return
    if ours is not None:
        result.failures.append(f"signer.pub: signed by unknown key {short_fingerprint(fp)} ({fp}), not by this "
                               f"registry's key {short_fingerprint(ours)}; if you trust the signer, give its key "
                               "with --trust-key FILE (or --accept-any-signer for integrity only)")
    elif trusted:
        result.failures.append(f"signer.pub: signed by unknown key {short_fingerprint(fp)} ({fp}), none of the "
                               f"{len(trusted)} trusted key(s) given")
    else:
        result.failures.append(f"signer.pub: signed by key {short_fingerprint(fp)} ({fp}), but there is no registry "
                               "key here to compare it with; give the key the registry publishes with --trust-key "
                               "FILE or --fingerprint sha256:..., or --accept-any-signer for integrity only")


def _verify(path: Path, result: VerifyResult, *, files_dir: Path | None, rematch: Rematch | None, tolerance_s: float,
            trusted: dict[str, str] | None = None, accept_any_signer: bool = False,
            expected_fingerprint: str | None = None) -> None:
    trusted = dict(trusted or {})
    if expected_fingerprint:
        trusted.setdefault(_normal_fingerprint(expected_fingerprint), "--fingerprint")
    try:
        size = path.stat().st_size
    except OSError as exc:
        result.failures.append(f"{path}: cannot be read ({exc.strerror or exc})")
        return
    if not path.is_file():
        result.failures.append(f"{path}: not a file")
        return
    if size == 0:
        result.failures.append(f"{path}: empty file, not an evidence bundle")
        return
    if size > MAX_BUNDLE_BYTES:
        result.failures.append(f"{path}: {size} bytes, over the {MAX_BUNDLE_BYTES}-byte limit of a bundle; not read")
        return
    with open(path, "rb") as f:
        head = f.read(4)
    if head[:2] != b"PK":
        result.failures.append(f"{path}: not a zip file, so not an evidence bundle")
        return
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
        result.failures.append(f"{path}: damaged or truncated zip ({_one_line(exc)})")
        return
    with archive:
        names = {info.filename for info in archive.infolist()}
        members = _read_members(archive, result)
    unread = {name for name in names if name in MEMBER_NAMES} - set(members)
    manifest = _check_manifest(members, unread, result)
    listed = set(manifest["files"]) if manifest else set()
    for name in _REQUIRED:
        if name not in members and name not in unread and name not in listed:
            result.failures.append(f"{name}: missing (every evidence bundle has it)")
    key = _load_public_key(members["signer.pub"], result) if "signer.pub" in members else None
    if key is not None:
        result.key_fingerprint = key_fingerprint(key)
        _check_signature(key, members, "manifest.json", result)
        _check_signature(key, members, "facts.json", result)
        if manifest and manifest.get("key_fingerprint") != result.key_fingerprint:
            result.failures.append(f"manifest.json: key fingerprint {manifest.get('key_fingerprint')} "
                                   f"is not that of signer.pub ({result.key_fingerprint})")
        _check_signer(result, trusted=trusted, accept_any_signer=accept_any_signer)
    facts = _check_facts(members, result)
    result.facts = facts
    if facts is None:
        return
    output_path = _check_files(facts, files_dir, result) if files_dir is not None else None
    if rematch is not None:
        if result.failures:
            result.notes.append("rematch: not run, the bundle did not verify")
        elif output_path is None:
            result.notes.append("rematch: not run, the output file is not at hand (give files_dir holding it)")
        else:
            _rematch(rematch, output_path, facts, tolerance_s, result)


def verify_bundle(path: str | os.PathLike, *, files_dir: str | os.PathLike | None = None,
                  rematch: Rematch | None = None, registry_fingerprint: str | None = None,
                  trusted_fingerprints: Iterable[str] | Mapping[str, str] = (),
                  expected_fingerprint: str | None = None, accept_any_signer: bool = False,
                  tolerance_s: float = OFFSET_TOLERANCE_S) -> VerifyResult:
    """Check an evidence bundle and say exactly what fails.

    Signatures alone prove nothing about who made a bundle: anyone can sign
    with a key of their own and put it in ``signer.pub``. So the signing key
    must be this registry's (``registry_fingerprint``) or one the caller
    trusts explicitly (``trusted_fingerprints``); any other key is a failure
    naming both fingerprints, unless ``accept_any_signer`` (then the bundle
    is checked for integrity only, and a note says so). With no registry key
    and no trusted key given, every bundle fails: say whose key to trust.

    Parameters
    ----------
    path : path
        The ``.evidence.zip`` file.
    files_dir : path, optional
        A folder holding the output and reference files (any names: they are
        found by SHA-256); each one found is checked against facts.json.
    rematch : callable, optional
        ``rematch(output_path, facts) -> findings``: re-runs the check on the
        output found in ``files_dir``; the result is compared with the
        bundle's findings (:func:`compare_findings`). Run only when the
        bundle itself verifies.
    registry_fingerprint : str, optional
        ``sha256:<hex>`` of this registry's evidence key
        (:func:`consentry.services.evidence.keys.key_fingerprint`); None when there
        is no registry (or it has no key yet).
    trusted_fingerprints : iterable of str, or mapping str -> str, optional
        Other keys to accept (``sha256:<hex>``), e.g. another registry's
        published key; a mapping gives each one's origin (a file name) for
        the report.
    expected_fingerprint : str, optional
        One more trusted fingerprint (kept for callers of format version 1
        verifiers; same as listing it in ``trusted_fingerprints``).
    accept_any_signer : bool
        Accept a key that is neither this registry's nor trusted: the
        bundle is then checked for integrity only (``signer == "unknown"``,
        with a note).
    tolerance_s : float
        Largest difference of offsets (seconds) for a match to reproduce.

    Returns
    -------
    VerifyResult
        Never raises for anything in the bundle or the files.
    """
    result = VerifyResult(path=str(path),
                          registry_fingerprint=_normal_fingerprint(registry_fingerprint) if registry_fingerprint else None)
    given = trusted_fingerprints if isinstance(trusted_fingerprints, Mapping) else {
        fp: "given" for fp in trusted_fingerprints}
    trusted = {_normal_fingerprint(fp): str(origin) for fp, origin in given.items() if fp}
    if expected_fingerprint:
        trusted.setdefault(_normal_fingerprint(expected_fingerprint), "--fingerprint")
    try:
        _verify(Path(path), result, files_dir=Path(files_dir) if files_dir is not None else None,
                rematch=rematch, trusted=trusted, accept_any_signer=accept_any_signer, tolerance_s=tolerance_s)
    except Exception as exc:  # last resort: a bundle must never crash the verifier
        result.failures.append(f"{path}: could not be verified ({type(exc).__name__}: {_one_line(exc)})")
    return result


def format_verify_result(result: VerifyResult) -> str:
    """A readable report of :func:`verify_bundle`'s result, for ``consentry evidence verify``."""
    if not result.ok:
        verdict = f"FAILED ({len(result.failures)} problem" + ("s" if len(result.failures) != 1 else "") + ")"
    elif result.signer == "unknown":
        verdict = f"INTEGRITY ONLY (signed by unknown key {short_fingerprint(result.key_fingerprint)})"
    else:
        verdict = "VERIFIED"
    lines = [f"{result.path}: {verdict}"]
    if result.key_fingerprint:
        whose = {"registry": "this registry's key", "trusted": "a key you trusted explicitly",
                 "unknown": "an unknown key"}.get(result.signer or "", "a key")
        lines.append(f"  signed by {whose}: {result.key_fingerprint}")
    if result.registry_fingerprint:
        lines.append(f"  this registry's key:  {result.registry_fingerprint}")
    else:
        lines.append("  this registry's key:  none (no registry here, or it has not signed anything yet)")
    if result.facts:
        output = result.facts.get("output") or {}
        if isinstance(output, dict):
            lines.append(f"  output: {_one_line(output.get('name'))}  sha256 {output.get('sha256')}")
        lines.append(f"  checked at {result.facts.get('checked_at')} by consentry "
                     f"{(result.facts.get('tool') or {}).get('version') if isinstance(result.facts.get('tool'), dict) else '?'}")
    lines += [f"  FAIL  {line}" for line in result.failures]
    lines += [f"  ok    {line}" for line in result.passed]
    lines += [f"  note  {line}" for line in result.notes]
    if result.reproduces is True:
        lines.append("  the findings reproduce")
    elif result.reproduces is False:
        lines.append("  the findings do NOT reproduce")
    return "\n".join(lines)
