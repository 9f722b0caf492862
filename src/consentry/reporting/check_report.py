"""The HTML summary of a check run (``consentry check OUTPUTS --report FILE``): every output, every medium.

One row per output checked: audio (copied recordings, reused melodies, cloned
voices), texts (copied passages with their place in both texts and the words
matched) and images (registered images with their regions and the transform).
The page is self-contained (no scripts, no external resources) and every value
is escaped by the template environment (``templates/check_report.html.j2``).
The service results are read as they are; nothing here decides a finding.
"""

from __future__ import annotations

from typing import Any, Iterable

from consentry import __version__
from consentry.reporting.findings import confidence_text, group_matches
from consentry.reporting.templating import template_environment


def _audio_row(r: Any) -> dict:
    recordings = [{
        "title": f["title"], "work_id": f["work_id"], "confidence": confidence_text(f["confidence"]),
        "segments": [f"{m['query_start_s']:.1f}-{m['query_end_s']:.1f} s (work {m['work_start_s']:.1f}-"
                     f"{m['work_end_s']:.1f} s, speed {m['speed']:.3f}, pitch {m['pitch_shift_semitones']:+.2f} st)"
                     for m in f["segments"]],
    } for f in group_matches(r.recording)]
    melodies = [f"{m['title']} ({m['work_id']}): {m['n_matched_notes']} notes at {m['query_start_s']:.1f} s "
                f"(work {m['reference_start_s']:.1f} s), {m['transposition_semitones']:+d} st, tempo x{m['tempo_ratio']}, "
                f"false alarm {m['false_alarm']:.1e}" + (f"; caution: {m['caution']}" if m.get("caution") else "")
                for m in r.melody]
    voices = [f"{v['creator']}: {'cohort score' if v.get('statistic') == 'cohort' else 'similarity'} {v['score']:.3f} "
              f"(threshold {v['threshold']:.2f}, P {v['probability']:.2f})"
              + (f" at {v['window_start_s']:.1f}-{v['window_end_s']:.1f} s" if "window_start_s" in v else "")
              + (f"; caution: {v['caution']}" if v.get("caution") else "")
              for v in r.voice_matches]
    skipped = dict(r.skipped)
    other_skips = [reason for check, reason in skipped.items() if check != "melody"]
    return {"medium": "audio", "size": f"{r.duration_s:.1f} s", "recordings": recordings,
            "copied": f"{100 * r.copied_share:.1f} %" if r.recording else None, "melodies": melodies,
            "melody_note": None if melodies or "melody" not in skipped else f"skipped: {skipped['melody']}",
            "voices": voices,
            "voice_note": None if voices else (r.voice_note or (f"skipped: {other_skips[0]}" if other_skips else None))}


def _text_row(r: Any) -> dict:
    passages = [f"{p['title']} ({p['work_id']}): {p['matched_words']} words, characters {p['query_start_char']}-"
                f"{p['query_end_char']} of the output = {p['work_start_char']}-{p['work_end_char']} of the work "
                f"(terms: {p['terms']})" for p in r.passages]
    return {"medium": "text", "size": f"{r.words:,} words", "passages": passages,
            "copied": f"{100 * r.copied_share:.1f} %" if r.passages else None}


def _image_row(r: Any) -> dict:
    found = []
    for m in r.matches:
        t = m.get("transform") or {}
        found.append(f"{m['title']} ({m['work_id']}), {confidence_text(m.get('confidence'))}: box {m['query_box']} of the "
                     f"output = {m['work_box']} of the work, scale {t.get('scale')}, rotation {t.get('rotation_deg')} deg"
                     f"{', mirrored' if t.get('mirrored') else ''} (terms: {m['terms']})")
    return {"medium": "image", "size": f"{r.width_px} x {r.height_px} px", "images": found}


def check_rows(results: Iterable[Any]) -> list[dict]:
    """One row per checked output, whatever its medium (an error row when it could not be checked)."""
    rows = []
    for r in results:
        medium = getattr(r, "medium", "audio")
        row = {"output": r.output, "error": r.error, "has_findings": bool(r.error is None and r.has_findings)}
        if r.error is None:
            row.update(_text_row(r) if medium == "text" else _image_row(r) if medium == "image" else _audio_row(r))
        else:
            row["medium"] = medium if medium in ("text", "image") else "audio"
        rows.append(row)
    return rows


def render_check_html(results: Iterable[Any], *, checked_at: str) -> str:
    """The self-contained HTML summary of a check run over ``results`` (audio, text and image check results)."""
    rows = check_rows(results)
    return template_environment().get_template("check_report.html.j2").render(
        rows=rows, checked_at=checked_at, version=__version__,
        n_findings=sum(r["has_findings"] for r in rows), n_errors=sum(r["error"] is not None for r in rows))
