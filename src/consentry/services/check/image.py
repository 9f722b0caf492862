"""Checking AI image outputs against the registry: which registered images an output reproduces (issue 19).

``consentry check OUTPUT`` on an image (JPEG, PNG, WebP, TIFF, GIF, BMP,
HEIC, AVIF, sniffed by content) identifies every registered image it holds,
in whole or in part, located in both images (``docs/images.md``), and writes,
on request, a signed evidence bundle showing both images with the matched
regions and the matched points.

The bundle has the members and signatures of the other bundles
(``docs/evidence.md``): ``facts.json`` (canonical JSON) and
``facts.json.sig``, ``signer.pub``, ``report.html``, ``manifest.json`` and
``manifest.json.sig``; ``report.html`` embeds both pictures (JPEG, at most
1024 pixels a side) with the matched regions and points drawn over them.
``facts.json`` says
``"medium": "image"`` and holds, per match, the engine's evidence facts
(``query_box``, ``work_box``, the transform, the matched points in each
image's pixels or both PDQ hashes) and the work's terms.  A third party
re-checks a match with the engine alone: the matched points of the work,
mapped by ``work_to_query``, land on those of the output.
"""

from __future__ import annotations

import datetime as dt
import io
import os
from dataclasses import dataclass, field
from pathlib import Path

from consentry import __version__, engines
from consentry.domain.errors import ConsentryError, DecodeError, InputError

__all__ = ["ImageCheckResult", "check_image_output", "is_image_output", "write_image_evidence"]

#: Matched points kept per match in the evidence (strongest first).
MAX_POINTS = 200
#: Longest side of the pictures put in a bundle (pixels).
BUNDLE_SIDE_PX = 1024


@dataclass
class ImageCheckResult:
    """What the check found in one image output (or why it could not be checked)."""

    output: str
    error: str | None = None
    sha256: str | None = None
    width_px: int = 0
    height_px: int = 0
    matches: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    medium: str = "image"

    @property
    def has_findings(self) -> bool:
        return bool(self.matches)

    def as_dict(self) -> dict:
        """The JSON line of ``consentry check --json`` for an image output."""
        if self.error is not None:
            return {"output": self.output, "medium": "image", "error": self.error}
        return {"output": self.output, "medium": "image", "sha256": self.sha256, "width_px": self.width_px,
                "height_px": self.height_px, "matches": [{k: v for k, v in m.items() if k != "evidence"}
                                                         for m in self.matches],
                "findings": len(self.matches), "notes": self.notes}


def is_image_output(path: str | os.PathLike) -> bool:
    """Whether the file is an image (the image engine's sniffer claims it)."""
    from consentry.services.media import engine_for_path

    try:
        engine = engine_for_path(path)
    except InputError:
        return False
    return engine is not None and engine.medium == "image"


def check_image_output(registry, path: str | os.PathLike) -> ImageCheckResult:
    """Every registered image found in the image at ``path``; bad input gives a result with ``error``."""
    from consentry.domain.hashing import sha256_and_size
    from consentry.services.media import identify_signal, unsearched_note, unsearched_works

    label = str(path)
    res = ImageCheckResult(output=label)
    engine = engines.get("image")
    unsearched = unsearched_works(registry, engine)  # images an older engine version fingerprinted: not compared
    if unsearched:
        res.notes.append(unsearched_note("image", unsearched))
    try:
        signal = engine.decode(path, name=label)
        res.sha256 = sha256_and_size(path)[0]
        res.width_px, res.height_px = (int(round(v)) for v in signal.extent)
        found = identify_signal(registry, engine, signal, with_evidence=True, refine=True)
    except DecodeError as exc:
        res.error = exc.reason
        return res
    except ConsentryError as exc:
        res.error = str(exc)
        return res
    except OSError as exc:
        res.error = f"{label}: {exc.strerror or exc}"
        return res
    except MemoryError:
        res.error = f"{label}: too large to check in memory"
        return res
    for m in found:
        d = m.as_dict()
        res.matches.append({k: d[k] for k in ("work_id", "title", "creator", "terms", "score", "confidence",
                                              "query_box", "work_box", "transform", "method", "inliers",
                                              "pdq_distance", "matched_work_box", "work_share",
                                              "disputed_claims") if k in d}
                           | {"evidence": _trimmed(m.detail.get("evidence") or {})})
    return res


def _trimmed(facts: dict) -> dict:
    out = dict(facts)
    if "matched_points" in out:
        out["matched_points"] = out["matched_points"][:MAX_POINTS]
    return out


def _picture(source, *, name: str) -> tuple[bytes, float, tuple[int, int]] | None:
    """``(JPEG bytes, scale, (width, height))`` of an image at most BUNDLE_SIDE_PX a side, as shown (EXIF applied); None if unreadable."""
    from PIL import Image, ImageOps

    try:
        with Image.open(source) as im:
            im = ImageOps.exif_transpose(im).convert("RGB")
            size = im.size
            scale = min(1.0, BUNDLE_SIDE_PX / max(im.size))
            if scale < 1.0:
                im = im.resize((max(1, round(im.width * scale)), max(1, round(im.height * scale))),
                               Image.Resampling.LANCZOS)
            buf = io.BytesIO()
            im.save(buf, "JPEG", quality=85)
            return buf.getvalue(), scale, size
    except (OSError, ValueError, Image.DecompressionBombError):
        return None


def write_image_evidence(registry, res: ImageCheckResult, out_dir: str | os.PathLike, *,
                         now: dt.datetime | None = None) -> Path:
    """Write ``out_dir/<output>.evidence.zip`` for an image output with findings (see the module docstring)."""
    from consentry.domain.hashing import sha256_and_size
    from consentry.services.check.service import given_name
    from consentry.services.evidence.bundle import BUNDLE_FORMAT, BUNDLE_FORMAT_VERSION, seal, write_atomically
    from consentry.services.evidence.canonical import canonical_json, to_plain
    from consentry.services.evidence.keys import key_fingerprint, load_or_create_signing_key, public_key_pem

    checked_at = (now or dt.datetime.now(dt.timezone.utc)).astimezone(dt.timezone.utc).replace(microsecond=0)
    engine = engines.get("image")
    pictures: dict[str, bytes] = {}
    scales: dict[str, float] = {}
    sizes: dict[str, tuple[int, int]] = {}
    src = getattr(res, "path", None) or res.output  # the file checked (the server names it for its sender)
    out_pic = _picture(src, name=res.output)
    if out_pic is not None:
        pictures["output.jpg"], scales["output.jpg"], _ = out_pic
    references, views = [], []
    for m in res.matches:
        work = registry.store.get_work(m["work_id"])
        ref = {"id": work.work_id, "kind": "work", "name": given_name(registry, work.source), "sha256": work.sha256,
               "size_bytes": None, "present": False}
        try:
            sha, size = sha256_and_size(work.source)
            ref.update(size_bytes=size, present=sha == work.sha256)
        except OSError:
            pass
        if ref not in references:
            references.append(ref)
        member = f"work-{work.work_id}.jpg"
        if ref["present"] and member not in pictures:
            pic = _picture(work.source, name=work.source)
            if pic is not None:
                pictures[member], scales[member], sizes[member] = pic
        views.append({"match": m, "member": member if member in pictures else None,
                      "terms": {"terms_version": work.terms_version, **work.terms.as_dict()}})
    facts = to_plain({
        "format": BUNDLE_FORMAT, "format_version": BUNDLE_FORMAT_VERSION, "medium": "image",
        "tool": {"name": "consentry", "version": __version__},
        "checked_at": checked_at.isoformat().replace("+00:00", "Z"),
        "engine": engine.id.as_dict(),
        "output": {"name": Path(res.output).name, "sha256": res.sha256, "size_bytes": _size(src),
                   "width_px": res.width_px, "height_px": res.height_px},
        "references": references,
        "matches": [{**v["match"], "terms": v["terms"]} for v in views],
    })
    facts_bytes = canonical_json(facts)
    key = load_or_create_signing_key(registry.local_dir)
    fingerprint = key_fingerprint(key)
    members = {"facts.json": facts_bytes, "facts.json.sig": key.sign(facts_bytes), "signer.pub": public_key_pem(key),
               "report.html": _report_html(res, views, pictures, scales, sizes, fingerprint).encode("utf-8")}
    data = seal(members, key=key, fingerprint=fingerprint, pdf={"included": False, "reason": "not made for image outputs"},
                checked_at=checked_at)
    return write_atomically(out_dir, f"{Path(res.output).stem or 'output'}.evidence.zip", data)


def _size(path: str) -> int | None:
    try:
        return os.path.getsize(path)
    except OSError:
        return None


def _svg(jpeg: bytes, scale: float, width: float, height: float, box, points) -> str:
    """An inline SVG: the picture (embedded JPEG), the matched region's box and the matched points."""
    import base64

    w, h = width * scale, height * scale
    uri = "data:image/jpeg;base64," + base64.b64encode(jpeg).decode("ascii")
    parts = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{w:.0f}' height='{h:.0f}' viewBox='0 0 {w:.0f} {h:.0f}'>",
             f"<image href='{uri}' width='{w:.0f}' height='{h:.0f}'/>"]
    if box:
        x0, y0, x1, y1 = (v * scale for v in box)
        parts.append(f"<rect x='{x0:.1f}' y='{y0:.1f}' width='{x1 - x0:.1f}' height='{y1 - y0:.1f}' "
                     "fill='none' stroke='#ff2d55' stroke-width='3'/>")
    for i, (x, y) in enumerate(points):
        parts.append(f"<circle cx='{x * scale:.1f}' cy='{y * scale:.1f}' r='4' fill='none' stroke='#ffd60a' "
                     f"stroke-width='2'><title>point {i + 1}</title></circle>")
    parts.append("</svg>")
    return "".join(parts)


def _report_html(res: ImageCheckResult, views: list[dict], pictures: dict, scales: dict, sizes: dict,
                 fingerprint: str) -> str:
    """Both images side by side per match: the matched region boxed, matched points numbered alike."""
    from html import escape

    parts = ["<!DOCTYPE html><html><head><meta charset='utf-8'><title>Evidence: ", escape(res.output),
             "</title><style>body{font:14px/1.45 sans-serif;margin:2em}.pair{display:flex;gap:1em;flex-wrap:wrap}"
             "figure{margin:0}svg{max-width:48vw;height:auto;border:1px solid #ccc}</style></head><body>",
             f"<h1>Registered images in {escape(Path(res.output).name)}</h1>",
             f"<p>{len(res.matches)} match(es). Signed by key {escape(fingerprint)}. The red box is the matched "
             "region in each image; yellow circles are matched points (the same number in both).</p>"]
    for v in views:
        m = v["match"]
        ev = m.get("evidence") or {}
        pts = ev.get("matched_points") or []
        t = m.get("transform") or {}
        parts.append(f"<h2>{escape(str(m.get('title')))} <small>({escape(m['work_id'])}, "
                     f"{escape(str(m.get('creator') or 'creator unknown'))}; terms: {escape(str(m.get('terms')))})</small></h2>")
        parts.append(f"<p>Output box {m.get('query_box')} = work box {m.get('work_box')}; scale {t.get('scale')}, "
                     f"rotation {t.get('rotation_deg')}°, mirrored: {t.get('mirrored')}; {m.get('method')}, "
                     f"{m.get('inliers')} matched points, PDQ distance {m.get('pdq_distance')}.</p><div class='pair'>")
        if "output.jpg" in scales:
            parts.append("<figure>" + _svg(pictures["output.jpg"], scales["output.jpg"], res.width_px, res.height_px,
                                           m.get("query_box"), [p["query_xy"] for p in pts]) +
                         "<figcaption>The output</figcaption></figure>")
        if v["member"]:
            ww, wh = sizes[v["member"]]
            parts.append("<figure>" + _svg(pictures[v["member"]], scales[v["member"]], ww, wh, m.get("work_box"),
                                           [p["work_xy"] for p in pts]) +
                         "<figcaption>The registered work</figcaption></figure>")
        else:
            parts.append("<p><i>The registered file is not at its path (or changed): only its facts are shown.</i></p>")
        parts.append("</div>")
    parts.append("</body></html>")
    return "".join(parts)
