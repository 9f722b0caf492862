"""Pictures for the evidence report: PNG data URIs and inline SVG, no external assets.

Every function here takes numbers and returns markup that holds only
numbers and fixed labels; untrusted text (titles, names) is never put inside
a picture, it goes in the surrounding HTML where the template escapes it.
"""

from __future__ import annotations

import base64
import io
import math
from typing import Sequence

import numpy as np
from markupsafe import Markup
from scipy import signal

__all__ = [
    "SPECTROGRAM_SAMPLE_RATE_HZ",
    "matched_hashes_svg",
    "melody_alignment_svg",
    "png_data_uri",
    "spectrogram_image",
    "voice_distribution_svg",
]

#: Audio is decoded at this rate for the pictures (Hz); 4 kHz of bandwidth
#: shows melody and harmonics, which is what a reader compares.
SPECTROGRAM_SAMPLE_RATE_HZ = 8000

_FONT = 'font-family="sans-serif" font-size="11"'


def spectrogram_image(samples: np.ndarray, *, sample_rate_hz: int, width_px: int = 640,
                      height_px: int = 160, dynamic_range_db: float = 70.0) -> np.ndarray:
    """A log-magnitude spectrogram as a greyscale image.

    Parameters
    ----------
    samples : numpy.ndarray of float, shape (n,)
        Mono audio.
    sample_rate_hz : int
        Its sample rate (Hz).
    width_px, height_px : int
        Size of the image; time runs left to right over the whole signal,
        frequency bottom (0 Hz) to top (``sample_rate_hz / 2``).
    dynamic_range_db : float
        Levels this far below the loudest bin are drawn white.

    Returns
    -------
    numpy.ndarray of uint8, shape (height_px, width_px)
        0 is loud (black), 255 is quiet (white).
    """
    x = np.asarray(samples, dtype=np.float64)
    if x.size < 256:
        x = np.pad(x, (0, 256 - x.size))
    _, _, z = signal.stft(x, fs=sample_rate_hz, nperseg=256, noverlap=192, boundary=None, padded=True)
    db = 20.0 * np.log10(np.abs(z) + 1e-10)
    db = np.clip(db - db.max(), -dynamic_range_db, 0.0)
    level = (-db / dynamic_range_db * 255.0)[::-1]  # low frequencies at the bottom
    rows = np.linspace(0, level.shape[0] - 1, height_px).round().astype(int)
    cols = np.linspace(0, level.shape[1] - 1, width_px).round().astype(int)
    return level[np.ix_(rows, cols)].astype(np.uint8)


def png_data_uri(image: np.ndarray) -> str:
    """A greyscale uint8 image, shape (height, width), as a ``data:image/png;base64,`` URI."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image), mode="L").save(buffer, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _num(value: float) -> str:
    return f"{value:.1f}"


def _notes(raw: Sequence) -> list[tuple[float, float, float]]:
    """Notes as (start_s, end_s, midi_pitch); accepts lists or dicts, drops malformed ones."""
    notes = []
    for note in raw or []:
        try:
            if isinstance(note, dict):
                start, end, pitch = note["start_s"], note["end_s"], note["midi_pitch"]
            else:
                start, end, pitch = note[0], note[1], note[2]
            start, end, pitch = float(start), float(end), float(pitch)
        except (KeyError, IndexError, TypeError, ValueError):
            continue
        if all(math.isfinite(v) for v in (start, end, pitch)) and end >= start:
            notes.append((start, end, pitch))
    return notes


def melody_alignment_svg(query_notes: Sequence, reference_notes: Sequence, pairs: Sequence, *,
                         width_px: int = 640, row_height_px: int = 120) -> Markup | None:
    """The output's notes over the reference's notes, paired notes joined by lines.

    Parameters
    ----------
    query_notes, reference_notes : sequence
        Notes as ``[start_s, end_s, midi_pitch]`` or dicts with those keys
        (seconds, MIDI note number).
    pairs : sequence of (int, int)
        Indices (query note, reference note) paired by the alignment.
        Only the notes from the first to the last pair (plus two on each
        side) are drawn, each row on its own time axis.

    Returns
    -------
    Markup or None
        An ``<svg>`` element, or None when there is nothing to draw.
    """
    query, reference = _notes(query_notes), _notes(reference_notes)
    good_pairs = []
    for pair in pairs or []:
        try:
            i, j = int(pair[0]), int(pair[1])
        except (IndexError, TypeError, ValueError):
            continue
        if 0 <= i < len(query) and 0 <= j < len(reference):
            good_pairs.append((i, j))
    if not query or not reference:
        return None

    def window(notes, indices):
        if indices:
            lo, hi = max(0, min(indices) - 2), min(len(notes), max(indices) + 3)
        else:
            lo, hi = 0, min(len(notes), 40)
        return lo, hi

    q_lo, q_hi = window(query, [i for i, _ in good_pairs])
    r_lo, r_hi = window(reference, [j for _, j in good_pairs])
    left, label_w, gap = 8, 90, 30
    plot_w = width_px - left - label_w - 8
    height = 2 * row_height_px + gap + 40
    parts = [f'<svg role="img" width="{width_px}" height="{height}" viewBox="0 0 {width_px} {height}" '
             f'aria-label="Melody alignment: output notes above, reference notes below, paired notes joined">']
    positions: dict[tuple[str, int], tuple[float, float]] = {}
    for row, (name, notes, lo, hi) in enumerate((("output", query, q_lo, q_hi), ("reference", reference, r_lo, r_hi))):
        shown = notes[lo:hi]
        t0, t1 = min(n[0] for n in shown), max(n[1] for n in shown)
        p0, p1 = min(n[2] for n in shown) - 1, max(n[2] for n in shown) + 1
        top = 10 + row * (row_height_px + gap)
        x_of = lambda t: left + label_w + (t - t0) / max(t1 - t0, 1e-6) * plot_w  # noqa: E731
        y_of = lambda p: top + row_height_px - (p - p0) / max(p1 - p0, 1e-6) * row_height_px  # noqa: E731
        parts.append(f'<rect x="{left + label_w}" y="{top}" width="{plot_w}" height="{row_height_px}" '
                     'fill="#f4f4f4" stroke="#bbbbbb"/>')
        parts.append(f'<text x="{left}" y="{top + 14}" {_FONT}>{name}</text>')
        parts.append(f'<text x="{left}" y="{top + 30}" {_FONT} fill="#555555">{t0:.1f}–{t1:.1f} s</text>')
        parts.append(f'<text x="{left}" y="{top + 46}" {_FONT} fill="#555555">MIDI {p0 + 1:.0f}–{p1 - 1:.0f}</text>')
        for k, (start, end, pitch) in enumerate(shown, start=lo):
            x, y = x_of(start), y_of(pitch)
            w = max(2.0, x_of(end) - x)
            parts.append(f'<rect x="{_num(x)}" y="{_num(y - 3)}" width="{_num(w)}" height="6" fill="#2b5d8c"/>')
            positions[(name, k)] = (x + 1, y + (3 if row == 0 else -3))
    for i, j in good_pairs:
        if ("output", i) in positions and ("reference", j) in positions:
            (x1, y1), (x2, y2) = positions[("output", i)], positions[("reference", j)]
            parts.append(f'<line x1="{_num(x1)}" y1="{_num(y1)}" x2="{_num(x2)}" y2="{_num(y2)}" '
                         'stroke="#b2182b" stroke-width="0.8" stroke-opacity="0.7"/>')
    parts.append(f'<text x="{left + label_w}" y="{height - 8}" {_FONT} fill="#555555">'
                 f'time (each row on its own axis) — {len(good_pairs)} paired notes shown as lines</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def voice_distribution_svg(score: float, *, unrelated_scores: Sequence[float], threshold: float | None = None,
                           statistic: str = "best_window", width_px: int = 640, height_px: int = 200,
                           bins: int = 40) -> Markup | None:
    """Histogram of the scores of unrelated voices, with the output's score marked.

    Parameters
    ----------
    score : float
        The output's score for the enrolled voice: a cosine similarity
        (``statistic="best_window"``) or a cohort-normalised score
        (``statistic="cohort"``, standard deviations above the other
        creators' similarities).
    unrelated_scores : sequence of float
        The same statistic for the other creators' voices (the
        distribution a coincidence would come from).
    threshold : float, optional
        The decision threshold, drawn as a dashed line.
    statistic : str
        Which score is drawn; it names the axis.

    Returns
    -------
    Markup or None
        An ``<svg>`` element, or None when no finite score is given.
    """
    values = np.asarray([v for v in (unrelated_scores or []) if isinstance(v, (int, float)) and math.isfinite(v)],
                        dtype=np.float64)
    if not (isinstance(score, (int, float)) and math.isfinite(score)):
        return None
    cohort = statistic == "cohort"
    noun = "cohort score" if cohort else "similarity"
    floor, ceiling = (-2.0, 4.0) if cohort else (-0.2, 1.0)
    lo = min(floor, float(values.min()) if values.size else 0.0, score) - 0.02
    hi = max(ceiling, float(values.max()) if values.size else ceiling, score) + 0.02
    counts, edges = np.histogram(values, bins=bins, range=(lo, hi)) if values.size else (np.zeros(bins), np.linspace(lo, hi, bins + 1))
    left, right, top, bottom = 40, 12, 12, 36
    plot_w, plot_h = width_px - left - right, height_px - top - bottom
    x_of = lambda v: left + (v - lo) / (hi - lo) * plot_w  # noqa: E731
    peak = max(1, int(counts.max()))
    parts = [f'<svg role="img" width="{width_px}" height="{height_px}" viewBox="0 0 {width_px} {height_px}" '
             f'aria-label="{noun.capitalize()} of unrelated voices ({values.size} scores) and of the output '
             f'({score:.3f})">']
    parts.append(f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="#f4f4f4" stroke="#bbbbbb"/>')
    for count, a, b in zip(counts, edges[:-1], edges[1:]):
        if count:
            h = count / peak * plot_h
            parts.append(f'<rect x="{_num(x_of(a))}" y="{_num(top + plot_h - h)}" width="{_num(x_of(b) - x_of(a) - 0.5)}" '
                         f'height="{_num(h)}" fill="#8c8c8c"/>')
    if threshold is not None and math.isfinite(threshold):
        x = x_of(threshold)
        parts.append(f'<line x1="{_num(x)}" y1="{top}" x2="{_num(x)}" y2="{top + plot_h}" stroke="#1a1a1a" '
                     'stroke-dasharray="4 3"/>')
        parts.append(f'<text x="{_num(x + 3)}" y="{top + 12}" {_FONT}>threshold {threshold:.2f}</text>')
    x = x_of(score)
    parts.append(f'<line x1="{_num(x)}" y1="{top}" x2="{_num(x)}" y2="{top + plot_h}" stroke="#b2182b" stroke-width="2"/>')
    parts.append(f'<text x="{_num(x + 3)}" y="{top + 28}" {_FONT} fill="#b2182b">output {score:.3f}</text>')
    step = 1.0 if cohort else 0.2
    for tick in np.arange(math.ceil(lo / step) * step, hi, step):
        parts.append(f'<text x="{_num(x_of(tick))}" y="{height_px - 20}" {_FONT} text-anchor="middle">{tick:.1f}</text>')
    axis = ("cohort score (standard deviations above the mean of the other creators' similarities)" if cohort
            else "cosine similarity to the enrolled voice")
    parts.append(f'<text x="{left}" y="{height_px - 4}" {_FONT} fill="#555555">{axis}; '
                 f'grey: {values.size} unrelated voices (peak bar {peak})</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def _hash_points(raw: Sequence) -> list[tuple[float, float]]:
    """(query_offset_s, work_offset_s) of matched hashes given as dicts; malformed ones are dropped."""
    points = []
    for item in raw or []:
        if not isinstance(item, dict):
            continue
        q, w = item.get("query_offset_s"), item.get("work_offset_s")
        if isinstance(q, (int, float)) and isinstance(w, (int, float)) and not isinstance(q, bool) \
                and not isinstance(w, bool) and math.isfinite(q) and math.isfinite(w):
            points.append((float(q), float(w)))
    return points


def matched_hashes_svg(matched_hashes: Sequence, *, speed: float | None = None, width_px: int = 360,
                       height_px: int = 300) -> Markup | None:
    """Dot plot of matched hashes: time in the output (x) against time in the work (y).

    Hashes of a real copy fall on one straight line whose slope is the speed
    change (work time / output time); chance matches would be scattered.

    Parameters
    ----------
    matched_hashes : sequence of dict
        ``{"hash", "query_offset_s", "work_offset_s"}`` (seconds).
    speed : float, optional
        The finding's speed, printed under the plot.

    Returns
    -------
    Markup or None
        An ``<svg>`` element, or None when no point can be drawn.
    """
    points = _hash_points(matched_hashes)
    if not points:
        return None
    qs = np.array([p[0] for p in points])
    ws = np.array([p[1] for p in points])
    q0, q1 = float(qs.min()), float(qs.max())
    w0, w1 = float(ws.min()), float(ws.max())
    pad_q, pad_w = max(0.5, 0.05 * (q1 - q0)), max(0.5, 0.05 * (w1 - w0))
    q0, q1, w0, w1 = q0 - pad_q, q1 + pad_q, w0 - pad_w, w1 + pad_w
    left, right, top, bottom = 52, 10, 10, 46
    plot_w, plot_h = width_px - left - right, height_px - top - bottom
    x_of = lambda v: left + (v - q0) / (q1 - q0) * plot_w  # noqa: E731
    y_of = lambda v: top + plot_h - (v - w0) / (w1 - w0) * plot_h  # noqa: E731
    parts = [f'<svg role="img" width="{width_px}" height="{height_px}" viewBox="0 0 {width_px} {height_px}" '
             f'aria-label="{len(points)} matched hashes: time in the output against time in the work">']
    parts.append(f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="#f4f4f4" stroke="#bbbbbb"/>')
    for q, w in points:
        parts.append(f'<circle cx="{_num(x_of(q))}" cy="{_num(y_of(w))}" r="2" fill="#2b5d8c" fill-opacity="0.7"/>')
    parts.append(f'<text x="{left}" y="{height_px - 28}" {_FONT}>{q0 + pad_q:.1f} s</text>')
    parts.append(f'<text x="{left + plot_w}" y="{height_px - 28}" {_FONT} text-anchor="end">{q1 - pad_q:.1f} s</text>')
    parts.append(f'<text x="{left - 4}" y="{top + plot_h}" {_FONT} text-anchor="end">{w0 + pad_w:.1f} s</text>')
    parts.append(f'<text x="{left - 4}" y="{top + 10}" {_FONT} text-anchor="end">{w1 - pad_w:.1f} s</text>')
    slope = "" if speed is None or not math.isfinite(speed) else f"; slope = speed x{speed:.3f}"
    parts.append(f'<text x="{left}" y="{height_px - 14}" {_FONT} fill="#555555">x: time in the output; '
                 f'y: time in the work</text>')
    parts.append(f'<text x="{left}" y="{height_px - 2}" {_FONT} fill="#555555">{len(points)} hashes{slope}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
