"""From samples to landmark hashes (the fast, vectorised implementation).

The pipeline, for mono float32 samples at ``params.sample_rate_hz``:

1. :func:`log_spectrogram`: STFT power mapped onto a log-frequency axis
   (``bins_per_semitone`` bins per semitone), in dB.  On this axis a pitch
   shift is a translation.
2. :func:`pick_peaks`: local maxima of the spectrogram, refined to a fraction
   of a bin, then thinned to a budget of peaks per second (the strongest,
   measured against their surroundings, win).
3. :func:`make_quads`: each peak (the anchor) is joined with every three of
   the first few peaks in a zone after it: a "quad" of four peaks.
4. :func:`quantise` and :func:`pack_key`: each quad is described by
   quantities that do not change when the audio is pitch-shifted (differences
   of pitch in semitones) or time-scaled (ratios of its time spans); two coarse
   quantities (the anchor's pitch band and the log of the quad's time span)
   add selectivity and are looked up with tolerance at query time.

Quads rather than pairs or triplets: a triplet carries about 20 bits of
information that survive pitch and tempo changes, too few for an index of
thousands of hours (every query would hit millions of chance postings); a quad
carries about 30 (Sonnleitner & Widmer 2016 make the same argument).

See ``reference.py`` for a slow, loop-by-loop version of steps 2-4 that the
tests compare with this one.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from consentry.engines.music.arith import SparseColumns, box_max, box_mean, box_mean_1d, loops_ready, rfft_rows
from consentry.engines.music.params import MusicEngineParams

#: Rows of :attr:`Quads.values`: pitch differences to the anchor of peaks 2, 3
#: and 4 (semitones), the anchor's pitch band, the log time span, and the
#: positions of peaks 2 and 3 within the span.  R3 is last: it is the least
#: significant part of the key, so its neighbouring bins are adjacent keys.
DF2, DF3, DF4, BAND, SPAN, R2, R3 = range(7)
N_COMPONENTS = 7


@dataclass(frozen=True)
class Peaks:
    """Spectral peaks, sorted by frame then pitch.

    Attributes
    ----------
    frame : ndarray of int32, shape (n,)
        STFT frame index (``frame / params.frames_per_s`` is seconds).
    midi : ndarray of float32, shape (n,)
        Pitch in (fractional) MIDI note numbers.
    strength : ndarray of float32, shape (n,)
        Level above the local background (dB); larger is more salient.
    """

    frame: np.ndarray
    midi: np.ndarray
    strength: np.ndarray

    def __len__(self) -> int:
        return int(self.frame.shape[0])


@dataclass(frozen=True)
class Quads:
    """Groups of four peaks and the continuous values that describe them.

    Attributes
    ----------
    anchor_frame : ndarray of int32, shape (m,)
        Frame of the first peak.
    anchor_midi : ndarray of float32, shape (m,)
        Pitch of the first peak (MIDI).
    span_frames : ndarray of int32, shape (m,)
        Frames from the first to the last peak.
    values : ndarray of float64, shape (7, m)
        Rows DF2, DF3, DF4 (pitch differences + 0.5, semitones), BAND (anchor
        pitch above ``min_midi`` in bands), SPAN (log of the span in steps),
        R2, R3 (``(t - t1) / span`` times ``ratio_bins``).  Each is quantised
        by ``floor``, so the pitch differences are rounded.
    """

    anchor_frame: np.ndarray
    anchor_midi: np.ndarray
    span_frames: np.ndarray
    values: np.ndarray

    def __len__(self) -> int:
        return int(self.anchor_frame.shape[0])


@lru_cache(maxsize=8)
def log_frequency_weights(params: MusicEngineParams) -> np.ndarray:
    """Matrix mapping STFT power bins to log-frequency bins.

    Returns
    -------
    ndarray of float32, shape (n_fft // 2 + 1, n_bins)
        Each column is a triangle on the log-frequency axis, one bin wide on
        each side; where no STFT bin centre falls inside the triangle (low
        frequencies) the column interpolates linearly between the two nearest
        STFT bins instead.  Columns sum to 1.
    """
    n_lin = params.n_fft // 2 + 1
    lin_hz = np.arange(n_lin) * params.sample_rate_hz / params.n_fft
    with np.errstate(divide="ignore"):
        lin_midi = 69.0 + 12.0 * np.log2(lin_hz / 440.0)
    step = 1.0 / params.bins_per_semitone
    centres = params.min_midi + step * np.arange(params.n_bins)
    weights = np.zeros((n_lin, params.n_bins), dtype=np.float64)
    for k, c in enumerate(centres):
        tri = 1.0 - np.abs(lin_midi - c) / step
        tri[~np.isfinite(tri)] = 0.0
        tri = np.clip(tri, 0.0, None)
        if tri.sum() > 0:
            weights[:, k] = tri / tri.sum()
        else:
            hz = 440.0 * 2.0 ** ((c - 69.0) / 12.0)
            pos = hz * params.n_fft / params.sample_rate_hz
            lo = int(np.floor(pos))
            frac = pos - lo
            weights[lo, k] = 1.0 - frac
            weights[lo + 1, k] = frac
    weights.setflags(write=False)
    return weights.astype(np.float32)


@lru_cache(maxsize=8)
def _sparse_weights(params: MusicEngineParams) -> SparseColumns:
    """:func:`log_frequency_weights` as a sparse product (about 1% of its entries are non-zero)."""
    return SparseColumns(log_frequency_weights(params))


#: Frames per block in :func:`log_spectrogram` (version 2): 1,024 frames of 513 bins, 2 MB of float32 power.
_BLOCK_FRAMES = 1024


def log_spectrogram(samples: np.ndarray, params: MusicEngineParams) -> np.ndarray:
    """Log-frequency power spectrogram.

    Parameters
    ----------
    samples : ndarray of float32, shape (n,)
        Mono audio at ``params.sample_rate_hz``.
    params : MusicEngineParams

    Returns
    -------
    ndarray of float32, shape (n_frames, params.n_bins)
        Power in dB (``10 log10``), frames every ``params.hop`` samples.
        Empty (0 frames) when the input is shorter than one frame.
    """
    x = np.asarray(samples, dtype=np.float32)
    if x.ndim != 1:
        raise ValueError("samples must be one-dimensional (mono)")
    if x.shape[0] < params.n_fft:
        return np.zeros((0, params.n_bins), dtype=np.float32)
    window = np.hanning(params.n_fft).astype(np.float32)
    frames = np.lib.stride_tricks.sliding_window_view(x, params.n_fft)[:: params.hop]
    loops = loops_ready(x.shape[0] / params.sample_rate_hz)  # bit-identical compiled loops, once loaded
    if params.version == "1":
        spec = rfft_rows(frames * window)
        power = spec.real.astype(np.float32) ** 2 + spec.imag.astype(np.float32) ** 2
        mapped = power @ log_frequency_weights(params)
    else:  # the same weights as a sparse matrix: most of the dense product is zeros
        # In blocks of frames: the FFT, the power and the sparse product work frame by frame, so the
        # blocks give the whole's numbers bit for bit, and each block's arrays stay in the processor's
        # cache (20-40 % less CPU on corpus files; found by the music helper, issue 17).
        weights = _sparse_weights(params)
        mapped = np.empty((frames.shape[0], params.n_bins), dtype=np.float32)
        for start in range(0, frames.shape[0], _BLOCK_FRAMES):
            spec = rfft_rows(frames[start:start + _BLOCK_FRAMES] * window)
            if loops is not None and weights.dtype == np.float32:
                loops.mapped_power(np.ascontiguousarray(spec).view(np.float32), weights.indptr, weights.rows,
                                   weights.values, mapped[start:start + _BLOCK_FRAMES])
                continue
            power = spec.real.astype(np.float32, copy=False) ** 2 + spec.imag.astype(np.float32, copy=False) ** 2
            mapped[start:start + _BLOCK_FRAMES] = np.asarray(power @ weights, dtype=np.float32)
    if params.smooth_frames > 1:
        # Averaging power over a few frames lets sustained partials stand out
        # of noise, whose fluctuations average away.
        if loops is not None:
            smoothed = np.empty_like(mapped)
            loops.box_mean_rows(mapped, params.smooth_frames, smoothed)
            mapped = smoothed
        else:
            mapped = box_mean_1d(mapped, params.smooth_frames, axis=0)
    # 10 log10(mapped + 1e-10) in float32, in place (``mapped`` is this function's own array).
    np.add(mapped, 1e-10, out=mapped)
    np.log10(mapped, out=mapped)
    np.multiply(mapped, 10.0, out=mapped)
    return mapped.astype(np.float32, copy=False)


def _refine(logspec: np.ndarray, t: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Sub-bin position of peaks by a parabola through the bin and its neighbours."""
    n_bins = logspec.shape[1]
    lo = np.clip(b - 1, 0, n_bins - 1)
    hi = np.clip(b + 1, 0, n_bins - 1)
    y0 = logspec[t, lo].astype(np.float64)
    y1 = logspec[t, b].astype(np.float64)
    y2 = logspec[t, hi].astype(np.float64)
    den = y0 - 2.0 * y1 + y2
    with np.errstate(divide="ignore", invalid="ignore"):
        delta = np.where(den < 0, 0.5 * (y0 - y2) / den, 0.0)
    edge = (b == 0) | (b == n_bins - 1)
    delta[edge] = 0.0
    return np.clip(delta, -0.5, 0.5)


def pick_peaks(logspec: np.ndarray, params: MusicEngineParams, *, peaks_per_s: float) -> Peaks:
    """Salient local maxima of a log-frequency spectrogram.

    Parameters
    ----------
    logspec : ndarray of float32, shape (n_frames, n_bins)
        From :func:`log_spectrogram`.
    params : MusicEngineParams
    peaks_per_s : float
        Budget: at most ``round(peaks_per_s * budget_block_s)`` peaks are kept
        in each block of ``budget_block_s`` seconds, the most salient first.

    Returns
    -------
    Peaks
    """
    n_frames, n_bins = logspec.shape
    empty = Peaks(np.zeros(0, np.int32), np.zeros(0, np.float32), np.zeros(0, np.float32))
    if n_frames == 0:
        return empty
    rt, rb = params.peak_radius_frames, params.peak_radius_bins
    floor = float(logspec.max()) - params.floor_db
    loops = loops_ready()
    if loops is not None and rt >= 1 and rb >= 1 and logspec.dtype == np.float32 and not np.isnan(floor):
        # The same mask and background from compiled loops (no float64 copies of the spectrogram).
        along_frames = np.empty_like(logspec)
        loops.box_mean_rows(logspec, 2 * rt + 1, along_frames)
        background = np.empty_like(logspec)
        loops.box_mean_cols(along_frames, 4 * rb + 1, background)
        t, b = loops.peak_candidates(logspec, background, rt, rb, np.float32(floor))
    else:
        local_max = box_max(logspec, (2 * rt + 1, 2 * rb + 1))
        background = box_mean(logspec, (2 * rt + 1, 4 * rb + 1))
        is_peak = (logspec == local_max) & (logspec > floor)
        # A flat plateau (silence, clipping) is not a peak.
        is_peak &= logspec > background + 1e-3
        t, b = np.nonzero(is_peak)
    if t.size == 0:
        return empty
    strength = (logspec[t, b] - background[t, b]).astype(np.float32)
    block = max(1, int(round(params.budget_block_s * params.frames_per_s)))
    quota = max(1, int(round(peaks_per_s * params.budget_block_s)))
    blk = t // block
    rank = strength
    weight = getattr(params, "rank_level_weight", 0.0)
    if weight:
        # Version 2 may prefer loud peaks: under added noise they are the ones that survive.
        level = logspec[t, b].astype(np.float64)
        loudest = np.full(int(blk.max()) + 1, -np.inf)
        np.maximum.at(loudest, blk, level)
        rank = (strength + weight * (level - loudest[blk])).astype(np.float32)
    order = np.lexsort((b, t, -rank, blk))
    blk_sorted = blk[order]
    starts = np.flatnonzero(np.r_[True, blk_sorted[1:] != blk_sorted[:-1]])
    counts = np.diff(np.r_[starts, blk_sorted.size])
    rank = np.arange(blk_sorted.size) - np.repeat(starts, counts)
    keep = order[rank < quota]
    keep = keep[np.lexsort((b[keep], t[keep]))]
    t, b, strength = t[keep], b[keep], strength[keep]
    midi = params.min_midi + (b + _refine(logspec, t, b)) / params.bins_per_semitone
    return Peaks(t.astype(np.int32), midi.astype(np.float32), strength)


@lru_cache(maxsize=16)
def _triples(fanout: int) -> np.ndarray:
    """All (a, b, c) with a < b < c < fanout, shape (n, 3)."""
    idx = [(a, b, c) for a in range(fanout) for b in range(a + 1, fanout) for c in range(b + 1, fanout)]
    return np.array(idx, dtype=np.intp).reshape(-1, 3)


def zone_table(peaks: Peaks, params: MusicEngineParams, *, fanout: int) -> np.ndarray:
    """The first ``fanout`` peaks in each anchor's zone.

    The zone of an anchor at frame t1 and pitch f1 holds the later peaks (in
    the order of ``peaks``) with ``zone_min_frames <= t - t1 <=
    zone_max_frames`` and ``|f - f1| <= zone_max_semitones``.

    Returns
    -------
    ndarray of int64, shape (n_peaks, fanout)
        Peak indices, -1 where the zone has fewer members.
    """
    n = len(peaks)
    t = peaks.frame.astype(np.int64)
    f = peaks.midi.astype(np.float64)
    table = np.full((n, fanout), -1, dtype=np.int64)
    if n < 2:
        return table
    # Peaks are sorted by frame, so the zone ends within this many peaks: at
    # most one budget's worth of peaks per block, over the blocks it touches.
    quota = int(round(max(params.index_peaks_per_s, params.query_peaks_per_s) * params.budget_block_s))
    blocks = int(np.ceil(params.zone_max_frames / (params.budget_block_s * params.frames_per_s))) + 1
    max_ahead = min(quota * blocks + 1, n - 1)
    anchors = np.arange(n)
    cand = anchors[:, None] + np.arange(1, max_ahead + 1)[None, :]
    inside = cand < n
    cand_c = np.minimum(cand, n - 1)
    dt = t[cand_c] - t[:, None]
    dfreq = np.abs(f[cand_c] - f[:, None])
    ok = inside & (dt >= params.zone_min_frames) & (dt <= params.zone_max_frames) & (dfreq <= params.zone_max_semitones)
    if getattr(params, "zone_by_strength", False):
        return _strongest_in_zone(peaks, cand, ok, fanout)
    rank = np.cumsum(ok, axis=1) - 1
    ok &= rank < fanout
    rows, cols = np.nonzero(ok)
    table[rows, rank[rows, cols]] = cand[rows, cols]
    return table


def _strongest_in_zone(peaks: Peaks, cand: np.ndarray, ok: np.ndarray, fanout: int) -> np.ndarray:
    """Version 2's zone table: the ``fanout`` strongest peaks of each zone, in time order (-1 after them).

    Version 1 takes the first peaks of the zone in time; then a peak that a
    query has and the index has not (a weaker partial the query's larger
    budget keeps, or one that noise made) and that comes early in the zone
    pushes the index's own peaks out of the query's quads.  The strongest
    peaks of a zone are the ones an altered copy keeps, so both sides take
    those.  Ties go to the earlier peak.
    """
    n, width = cand.shape
    strength = np.where(ok, peaks.strength[np.minimum(cand, len(peaks) - 1)].astype(np.float64), -np.inf)
    k = min(fanout, width)
    order = np.argsort(-strength, axis=1, kind="stable")[:, :k]
    chosen = np.take_along_axis(strength, order, axis=1) > -np.inf
    cols = np.sort(np.where(chosen, order, width), axis=1)  # time order, missing ones last
    table = np.full((n, fanout), -1, dtype=np.int64)
    real = cols < width
    rows = np.broadcast_to(np.arange(n)[:, None], cols.shape)
    table[:, :k] = np.where(real, cand[rows, np.minimum(cols, width - 1)], -1)
    return table


def make_quads(peaks: Peaks, params: MusicEngineParams, *, fanout: int) -> Quads:
    """Join each anchor peak with every three of the first ``fanout`` peaks in its zone.

    A quad (i, j, k, l) needs strictly increasing frames ``t_i < t_j < t_k <
    t_l`` and at least two distinct pitches (a sustained partial seen four
    times says nothing about which work it is).

    Returns
    -------
    Quads
    """
    n = len(peaks)
    if n < 4:
        return _empty_quads()
    t = peaks.frame.astype(np.int64)
    f = peaks.midi.astype(np.float64)
    table = zone_table(peaks, params, fanout=fanout)
    combos = _triples(fanout)
    j = table[:, combos[:, 0]]
    k = table[:, combos[:, 1]]
    l = table[:, combos[:, 2]]
    i = np.broadcast_to(np.arange(n)[:, None], j.shape)
    valid = l >= 0  # l is the last of the three, so j and k exist too
    i, j, k, l = i[valid], j[valid], k[valid], l[valid]
    keep = (t[j] < t[k]) & (t[k] < t[l])
    flat = (np.abs(f[j] - f[i]) < 0.5) & (np.abs(f[k] - f[i]) < 0.5) & (np.abs(f[l] - f[i]) < 0.5)
    keep &= ~flat
    return _describe(t, f, i[keep], j[keep], k[keep], l[keep], params)


def _empty_quads() -> Quads:
    return Quads(np.zeros(0, np.int32), np.zeros(0, np.float32), np.zeros(0, np.int32), np.zeros((N_COMPONENTS, 0)))


def _describe(t, f, i, j, k, l, params: MusicEngineParams) -> Quads:
    if i.size == 0:
        return _empty_quads()
    span = (t[l] - t[i]).astype(np.float64)
    values = np.empty((N_COMPONENTS, i.size), dtype=np.float64)
    step = semitone_step(params)
    values[DF2] = (f[j] - f[i]) / step + 0.5
    values[DF3] = (f[k] - f[i]) / step + 0.5
    values[DF4] = (f[l] - f[i]) / step + 0.5
    values[BAND] = (f[i] - params.min_midi) / params.anchor_band_semitones
    values[SPAN] = np.log(span / params.zone_min_frames) / params.log_span_step
    values[R2] = (t[j] - t[i]) / span * params.ratio_bins
    values[R3] = (t[k] - t[i]) / span * params.ratio_bins
    return Quads(
        anchor_frame=t[i].astype(np.int32),
        anchor_midi=f[i].astype(np.float32),
        span_frames=span.astype(np.int32),
        values=values,
    )


def semitone_step(params: MusicEngineParams) -> float:
    """Step of the quantised pitch differences (semitones): 1 in version 1, ``params.semitone_step`` after."""
    return float(getattr(params, "semitone_step", 1.0))


def df_offset(params: MusicEngineParams) -> int:
    """Added to a quantised pitch difference to make it >= 0 (steps in ``zone_max_semitones``)."""
    return int(round(params.zone_max_semitones / semitone_step(params)))


def component_sizes(params: MusicEngineParams) -> tuple[int, ...]:
    """Number of quantised values of each component, in the order of the rows of :attr:`Quads.values`."""
    n_df = 2 * df_offset(params) + 1
    n_band = int(np.ceil((params.max_midi - params.min_midi + 1) / params.anchor_band_semitones)) + 1
    n_span = int(np.floor(np.log(params.zone_max_frames / params.zone_min_frames) / params.log_span_step)) + 1
    return n_df, n_df, n_df, n_band, n_span, params.ratio_bins, params.ratio_bins


#: Order of the components in the key, most significant first.
KEY_ORDER = (BAND, SPAN, DF2, DF3, DF4, R2, R3)


def pack_key(q: np.ndarray, params: MusicEngineParams) -> np.ndarray:
    """Pack quantised components into 32-bit hash keys.

    Parameters
    ----------
    q : ndarray of int64, shape (7, m)
        Quantised components, each in ``range(component_sizes(params)[c])``.

    Returns
    -------
    ndarray of uint32, shape (m,)
        Mixed-radix number in :data:`KEY_ORDER`; R3 is the least significant
        digit, so its neighbours are adjacent keys and can be found with one
        range search.
    """
    sizes = component_sizes(params)
    if params.version != "1":
        return mix_key(descriptor(q, params))
    key = np.zeros(q.shape[1], dtype=np.int64)
    for c in KEY_ORDER:
        key = key * sizes[c] + q[c]
    return key.astype(np.uint32)


def descriptor(q: np.ndarray, params: MusicEngineParams) -> np.ndarray:
    """Quantised components (shape (7, m)) as one mixed-radix uint64 per quad, in :data:`KEY_ORDER`."""
    sizes = component_sizes(params)
    key = np.zeros(q.shape[1], dtype=np.uint64)
    for c in KEY_ORDER:
        key = key * np.uint64(sizes[c]) + q[c].astype(np.uint64)
    return key


_GOLDEN_GAMMA = np.uint64(0x9E3779B97F4A7C15)


def mix_key(desc: np.ndarray) -> np.ndarray:
    """Version 2's 32-bit key of a uint64 descriptor: xor-shift, multiply by 2**64 / golden ratio, xor-shift, top half.

    Mixed-radix keys crowd into a few regions of the key space (pitch
    differences and ratios take few values often); mixed keys spread evenly
    over the 2**32 values, so the index's buckets stay even and the key says
    nothing about its neighbours (each alternative of a query quad is its own
    point lookup).  Distinct descriptors of version 2 number about 2**31, so
    two of them rarely share a key.

    Parameters
    ----------
    desc : ndarray of uint64, shape (m,)

    Returns
    -------
    ndarray of uint32, shape (m,)
    """
    x = np.asarray(desc, dtype=np.uint64)
    x = x ^ (x >> np.uint64(31))
    x = x * _GOLDEN_GAMMA
    x = x ^ (x >> np.uint64(29))
    return (x >> np.uint64(32)).astype(np.uint32)


def key_space(params: MusicEngineParams) -> int:
    """Number of distinct keys (must fit in 32 bits)."""
    return int(np.prod([int(x) for x in component_sizes(params)], dtype=object))


def quantise(values: np.ndarray, params: MusicEngineParams) -> np.ndarray:
    """Quantise quad values (shape (7, m)) to in-range integer components."""
    q = np.floor(values).astype(np.int64)
    sizes = component_sizes(params)
    for c in (DF2, DF3, DF4):
        q[c] += df_offset(params)
    for c in range(N_COMPONENTS):
        np.clip(q[c], 0, sizes[c] - 1, out=q[c])
    return q


def index_hashes(samples: np.ndarray, params: MusicEngineParams):
    """Hashes to store for a registered work.

    Returns
    -------
    keys : ndarray of uint32, shape (m,)
    anchor_frame : ndarray of int32, shape (m,)
    anchor_midi : ndarray of float32, shape (m,)
    """
    peaks = pick_peaks(log_spectrogram(samples, params), params, peaks_per_s=params.index_peaks_per_s)
    quads = make_quads(peaks, params, fanout=params.index_fanout)
    keys = pack_key(quantise(quads.values, params), params)
    return keys, quads.anchor_frame, quads.anchor_midi


@dataclass(frozen=True)
class QueryHashes:
    """Key ranges to look up for a query, each tied to one query quad.

    Attributes
    ----------
    key_lo, key_hi : ndarray of uint32, shape (r,)
        Inclusive key range to look up.
    owner : ndarray of int64, shape (r,)
        Index of the query quad each range belongs to.
    quads : Quads
        The query's quads (anchor frames and pitches are needed to verify).
    """

    key_lo: np.ndarray
    key_hi: np.ndarray
    owner: np.ndarray
    quads: Quads


def query_hashes(samples: np.ndarray, params: MusicEngineParams) -> QueryHashes:
    """Hashes of a query, expanded to tolerate what may have been done to it."""
    peaks = pick_peaks(log_spectrogram(samples, params), params, peaks_per_s=params.query_peaks_per_s)
    quads = make_quads(peaks, params, fanout=params.query_fanout)
    return expand_query(quads, params)


def expand_query(quads: Quads, params: MusicEngineParams) -> QueryHashes:
    """Key ranges (version 1) or keys (version 2) for each query quad; see :func:`expand_query_v1` and
    :func:`expand_query_v2`."""
    if params.version == "1":
        return expand_query_v1(quads, params)
    return expand_query_v2(quads, params)


def expand_query_v2(quads: Quads, params: MusicEngineParams) -> QueryHashes:
    """Version 2: a point key (``key_lo == key_hi``) for every alternative of each query quad.

    A component is looked up in its neighbouring bin only when the quad's
    value lies within tolerance of that bin's edge (pitch differences within
    ``semitone_tolerance``, ratios within ``ratio_tolerance_bins``, the span
    within a speed change of ``max_speed_change``); the anchor's band over
    ``±max_pitch_shift_semitones``.  A quad far from every edge is one key.
    """
    m = len(quads)
    if m == 0:
        z = np.zeros(0, np.uint32)
        return QueryHashes(z, z, np.zeros(0, np.int64), quads)
    v = quads.values
    frac = v - np.floor(v)
    base = quantise(v, params)  # offset and clipped as on the index side
    tolerances = {
        BAND: params.max_pitch_shift_semitones / params.anchor_band_semitones,
        SPAN: min(0.49, (np.log1p(params.max_speed_change) + params.log_span_tolerance) / params.log_span_step),
        DF2: params.semitone_tolerance / semitone_step(params),
        DF3: params.semitone_tolerance / semitone_step(params),
        DF4: params.semitone_tolerance / semitone_step(params),
        R2: params.ratio_tolerance_bins,
        R3: params.ratio_tolerance_bins,
    }
    # Each quad's own alternatives: its bin, and the neighbour (or the bin again).
    # Combination j of quad i picks, for each component that has a neighbour,
    # bit b of j (b counts those components in the order of the components).
    # The key's descriptor is a sum of each component times its place value
    # (descriptor()), so a combination's descriptor is the quad's own plus
    # the steps of the neighbours it picks: integer sums, the same numbers
    # as packing each combination's components (tests/engines/test_engine_v2.py).
    sizes = component_sizes(params)
    place = {}
    weight = 1
    for c in reversed(KEY_ORDER):
        place[c] = weight
        weight *= int(sizes[c])
    own = descriptor(base, params).astype(np.int64)
    n_alt = np.ones(m, dtype=np.int64)
    n_bits = np.zeros(m, dtype=np.int64)
    bad = np.zeros(m, dtype=np.int64)  # bits of neighbours outside the component's range
    steps = []  # (bit of each quad's neighbour, 0 where none; its step of the descriptor)
    for c in range(N_COMPONENTS):
        a = base[c].copy()
        a[frac[c] < tolerances[c]] -= 1
        a[frac[c] > 1.0 - tolerances[c]] += 1
        has = a != base[c]
        if not has.any():
            continue
        bit = np.where(has, np.left_shift(1, n_bits), 0)
        bad |= np.where((a < 0) | (a >= sizes[c]), bit, 0)
        steps.append((bit, (a - base[c]) * place[c]))
        n_bits += has
        n_alt <<= has.astype(np.int64)
    owner = np.repeat(np.arange(m), n_alt)
    j = np.arange(owner.size) - np.repeat(np.cumsum(n_alt) - n_alt, n_alt)
    ok = (j & bad[owner]) == 0
    owner, j = owner[ok], j[ok]
    desc = own[owner]
    for bit, step in steps:
        desc += np.where((j & bit[owner]) != 0, step[owner], 0)
    key = mix_key(desc.astype(np.uint64))
    return QueryHashes(key_lo=key, key_hi=key, owner=owner.astype(np.int64), quads=quads)


def expand_query_v1(quads: Quads, params: MusicEngineParams) -> QueryHashes:
    """Key ranges for each query quad.

    Each quad is looked up under every combination of quantised components
    that its value could have had in the original: the anchor's pitch band
    over ``±max_pitch_shift_semitones``; DF2-DF4, SPAN and R2 in the
    neighbouring bin when within tolerance of a bin edge; R3 as a range of
    ±1 bin (adjacent keys).
    """
    m = len(quads)
    if m == 0:
        z = np.zeros(0, np.uint32)
        return QueryHashes(z, z, np.zeros(0, np.int64), quads)
    v = quads.values
    base = np.floor(v).astype(np.int64)
    frac = v - base
    tolerances = {
        DF2: params.semitone_tolerance,
        DF3: params.semitone_tolerance,
        DF4: params.semitone_tolerance,
        BAND: params.max_pitch_shift_semitones / params.anchor_band_semitones,
        SPAN: min(0.49, (np.log1p(params.max_speed_change) + params.log_span_tolerance) / params.log_span_step),
        R2: params.ratio_tolerance_bins,
    }
    comps = list(tolerances)
    alternatives = {}
    for c, tol in tolerances.items():
        alt = base[c].copy()
        alt[frac[c] < tol] -= 1
        alt[frac[c] > 1.0 - tol] += 1
        alternatives[c] = alt
    sizes = component_sizes(params)
    keys_lo, keys_hi, owners = [], [], []
    for mask in range(1 << len(comps)):
        use = np.ones(m, dtype=bool)
        for bit, c in enumerate(comps):
            if mask >> bit & 1:
                use &= alternatives[c] != base[c]
        if not use.any():
            continue
        q = base[:, use].copy()
        for bit, c in enumerate(comps):
            if mask >> bit & 1:
                q[c] = alternatives[c][use]
        for c in (DF2, DF3, DF4):
            q[c] += params.zone_max_semitones
        in_range = np.ones(q.shape[1], dtype=bool)
        for c in comps:
            in_range &= (q[c] >= 0) & (q[c] < sizes[c])
        q = q[:, in_range]
        np.clip(q[R3], 0, sizes[R3] - 1, out=q[R3])
        centre = pack_key(q, params).astype(np.int64)
        keys_lo.append(centre - np.minimum(q[R3], 1))
        keys_hi.append(centre + np.minimum(sizes[R3] - 1 - q[R3], 1))
        owners.append(np.flatnonzero(use)[in_range])
    return QueryHashes(
        key_lo=np.concatenate(keys_lo).astype(np.uint32),
        key_hi=np.concatenate(keys_hi).astype(np.uint32),
        owner=np.concatenate(owners).astype(np.int64),
        quads=quads,
    )
