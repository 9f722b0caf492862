"""Slow, obviously-correct reference for peak picking, quads and hash keys.

Plain loops over the definitions in :mod:`.extract`; the tests check that the
fast implementation gives the same peaks, quads and keys.  Use it on short
inputs only (seconds of audio).
"""

from __future__ import annotations

import math

import numpy as np

from consentry.engines.music.params import MusicEngineParams


def reference_peaks(logspec: np.ndarray, params: MusicEngineParams, *, peaks_per_s: float):
    """List of (frame, midi, strength), sorted by frame then bin."""
    n_frames, n_bins = logspec.shape
    if n_frames == 0:
        return []
    rt, rb = params.peak_radius_frames, params.peak_radius_bins
    floor = float(logspec.max()) - params.floor_db
    cand = []
    for t in range(n_frames):
        for b in range(n_bins):
            v = logspec[t, b]
            # maximum over the clipped neighbourhood ("nearest" edges repeat the
            # border value, which never exceeds the neighbourhood's maximum)
            t0, t1 = max(0, t - rt), min(n_frames, t + rt + 1)
            b0, b1 = max(0, b - rb), min(n_bins, b + rb + 1)
            if v != logspec[t0:t1, b0:b1].max() or not v > floor:
                continue
            # background: mean over a (2rt+1) x (4rb+1) box, edges repeated
            total = 0.0
            for dt in range(-rt, rt + 1):
                for db in range(-2 * rb, 2 * rb + 1):
                    tt = min(max(t + dt, 0), n_frames - 1)
                    bb = min(max(b + db, 0), n_bins - 1)
                    total += float(logspec[tt, bb])
            background = total / ((2 * rt + 1) * (4 * rb + 1))
            if not v > background + 1e-3:
                continue
            cand.append((t, b, float(v) - background))
    block = max(1, int(round(params.budget_block_s * params.frames_per_s)))
    quota = max(1, int(round(peaks_per_s * params.budget_block_s)))
    by_block: dict[int, list] = {}
    for t, b, s in cand:
        by_block.setdefault(t // block, []).append((t, b, s))
    kept = []
    for blk in sorted(by_block):
        ranked = sorted(by_block[blk], key=lambda x: (-np.float32(x[2]), x[0], x[1]))
        kept.extend(ranked[:quota])
    kept.sort(key=lambda x: (x[0], x[1]))
    out = []
    for t, b, s in kept:
        delta = 0.0
        if 0 < b < n_bins - 1:
            y0, y1, y2 = (float(logspec[t, b + d]) for d in (-1, 0, 1))
            den = y0 - 2 * y1 + y2
            if den < 0:
                delta = min(0.5, max(-0.5, 0.5 * (y0 - y2) / den))
        out.append((t, params.min_midi + (b + delta) / params.bins_per_semitone, s))
    return out


def reference_keys(peaks, params: MusicEngineParams, *, fanout: int):
    """List of (key, anchor_frame) for the quads of ``peaks`` (as from :func:`reference_peaks`)."""
    n_df = 2 * params.zone_max_semitones + 1
    n_band = int(math.ceil((params.max_midi - params.min_midi + 1) / params.anchor_band_semitones)) + 1
    n_span = int(math.floor(math.log(params.zone_max_frames / params.zone_min_frames) / params.log_span_step)) + 1
    n_ratio = params.ratio_bins

    def clip(v, n):
        return min(max(v, 0), n - 1)

    def df(f, f1):
        return clip(math.floor(f - f1 + 0.5) + params.zone_max_semitones, n_df)

    out = []
    for i, (t1, f1, _) in enumerate(peaks):
        f1 = float(np.float32(f1))
        zone = []
        for j in range(i + 1, len(peaks)):
            t, f, _ = peaks[j]
            f = float(np.float32(f))
            if t - t1 > params.zone_max_frames:
                break
            if t - t1 >= params.zone_min_frames and abs(f - f1) <= params.zone_max_semitones:
                zone.append((t, f))
            if len(zone) == fanout:
                break
        for a in range(len(zone)):
            for b in range(a + 1, len(zone)):
                for c in range(b + 1, len(zone)):
                    (t2, f2), (t3, f3), (t4, f4) = zone[a], zone[b], zone[c]
                    if not t2 < t3 < t4:
                        continue
                    if all(abs(f - f1) < 0.5 for f in (f2, f3, f4)):
                        continue
                    span = t4 - t1
                    band = clip(math.floor((f1 - params.min_midi) / params.anchor_band_semitones), n_band)
                    lspan = clip(math.floor(math.log(span / params.zone_min_frames) / params.log_span_step), n_span)
                    r2 = clip(math.floor((t2 - t1) / span * n_ratio), n_ratio)
                    r3 = clip(math.floor((t3 - t1) / span * n_ratio), n_ratio)
                    key = band
                    for digit, size in ((lspan, n_span), (df(f2, f1), n_df), (df(f3, f1), n_df), (df(f4, f1), n_df),
                                        (r2, n_ratio), (r3, n_ratio)):
                        key = key * size + digit
                    out.append((key, t1))
    return out
