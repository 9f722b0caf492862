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
    step = float(getattr(params, "semitone_step", 1.0))
    df_off = int(round(params.zone_max_semitones / step))
    n_df = 2 * df_off + 1
    n_band = int(math.ceil((params.max_midi - params.min_midi + 1) / params.anchor_band_semitones)) + 1
    n_span = int(math.floor(math.log(params.zone_max_frames / params.zone_min_frames) / params.log_span_step)) + 1
    n_ratio = params.ratio_bins

    def clip(v, n):
        return min(max(v, 0), n - 1)

    def df(f, f1):
        return clip(math.floor((f - f1) / step + 0.5) + df_off, n_df)

    out = []
    for i, (t1, f1, _) in enumerate(peaks):
        f1 = float(np.float32(f1))
        zone = []
        by_strength = getattr(params, "zone_by_strength", False)
        for j in range(i + 1, len(peaks)):
            t, f, strength = peaks[j]
            f = float(np.float32(f))
            if t - t1 > params.zone_max_frames:
                break
            if t - t1 >= params.zone_min_frames and abs(f - f1) <= params.zone_max_semitones:
                zone.append((t, f, float(np.float32(strength)), j))
            if len(zone) == fanout and not by_strength:
                break
        if by_strength:  # version 2: the strongest of the zone (the earlier on a tie), in time order
            zone = sorted(sorted(zone, key=lambda z: (-z[2], z[3]))[:fanout], key=lambda z: z[3])
        zone = [(t, f) for t, f, _, _ in zone]
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
                    out.append((key if params.version == "1" else reference_mix(key), t1))
    return out


def reference_mix(descriptor: int) -> int:
    """Version 2's 32-bit key of a descriptor, in Python integers (xor-shift, multiply mod 2**64, xor-shift, top half)."""
    m = (1 << 64) - 1
    x = descriptor & m
    x ^= x >> 31
    x = (x * 0x9E3779B97F4A7C15) & m
    x ^= x >> 29
    return x >> 32


def reference_query_keys(values, params: MusicEngineParams) -> set[int]:
    """Version 2: every key one query quad is looked up under.

    ``values`` are the quad's seven continuous components (a column of
    ``Quads.values``): each is floored and clipped as on the index side, and a
    component within tolerance of an edge of its bin adds the neighbouring
    bin (if it exists); the keys are all combinations.
    """
    import itertools

    step = float(params.semitone_step)
    df_off = int(round(params.zone_max_semitones / step))
    n_df = 2 * df_off + 1
    n_band = int(math.ceil((params.max_midi - params.min_midi + 1) / params.anchor_band_semitones)) + 1
    n_span = int(math.floor(math.log(params.zone_max_frames / params.zone_min_frames) / params.log_span_step)) + 1
    sizes = (n_df, n_df, n_df, n_band, n_span, params.ratio_bins, params.ratio_bins)
    offsets = (df_off, df_off, df_off, 0, 0, 0, 0)
    tol = (params.semitone_tolerance / step,) * 3 + (
        params.max_pitch_shift_semitones / params.anchor_band_semitones,
        min(0.49, (math.log1p(params.max_speed_change) + params.log_span_tolerance) / params.log_span_step),
        params.ratio_tolerance_bins, params.ratio_tolerance_bins)
    choices = []
    for c in range(7):
        v = float(values[c])
        base = math.floor(v)
        frac = v - base
        q = min(max(base + offsets[c], 0), sizes[c] - 1)
        alts = [q]
        if frac < tol[c] and q - 1 >= 0:
            alts.append(q - 1)
        if frac > 1.0 - tol[c] and q + 1 < sizes[c]:
            alts.append(q + 1)
        choices.append(alts)
    keys = set()
    # the key's digit order: band, span, df2, df3, df4, r2, r3 (extract.KEY_ORDER)
    for df2, df3, df4, band, span, r2, r3 in itertools.product(*choices):
        d = band
        for digit, size in ((span, n_span), (df2, n_df), (df3, n_df), (df4, n_df), (r2, params.ratio_bins),
                            (r3, params.ratio_bins)):
            d = d * size + digit
        keys.add(reference_mix(d))
    return keys
