"""Verification: turn raw hash hits into matched segments.

A hit says "query quad q has the same hash as a quad of work w".  Most
hits are chance.  A real occurrence of w in the query shows up as many hits
that agree on one geometry:

- the same pitch shift: query pitch - work pitch of the anchors is constant;
- the same time map: work frame = speed * query frame + offset.

For each candidate work, :func:`verify_work` takes candidate pitch shifts
from the shift histogram and from the densest cells of the joint (time offset,
pitch shift) histogram (so that a short copy inside a long query is not
crowded out by chance hits at other shifts), finds the (speed, offset) pair of
each by a Hough vote over a grid of speeds, keeps the hits within tolerance of
that line (the inliers), refines the line by least squares, scores it by the
distinct anchors of its densest run of inliers, and reports the best-scoring
run as the matched segment.  What is left can hold another segment of the
same work, so the search repeats on the remaining hits.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from consentry.engines.music.extract import Quads
from consentry.engines.music.params import MusicEngineParams
from consentry.engines.music.postings import Hits

#: Histogram bin for the pitch shift (semitones) and the window kept around it.
SHIFT_BIN_ST = 0.25
SHIFT_KEEP_ST = 0.4
SHIFT_FINAL_ST = 0.2
#: Hough bin of the offset (frames) and inlier tolerance (frames).
OFFSET_BIN_FRAMES = 3
INLIER_TOL_FRAMES = 2.5
#: Width (frames) of the offset bins that rank candidate works; two bins of
#: 24 frames (0.4 s each) are merged.
CANDIDATE_BIN_FRAMES = 24
#: Step of the speed grid (relative).
SPEED_STEP = 0.0025
#: Offset bin (frames) of the joint (offset, pitch shift) histogram whose
#: densest cells give candidate lines, and how far (frames) from a cell's
#: offset its coarse Hough vote looks (10% speed drift over 30 s, and more).
CELL_OFFSET_FRAMES = 24
CELL_WINDOW_FRAMES = 240
#: A gap (frames, 5 s) without inliers in the query ends a segment.
SEGMENT_GAP_FRAMES = 312


@dataclass(frozen=True)
class SegmentMatch:
    """One matched segment of one work.

    Frames are STFT frames of the engine (``params.frames_per_s`` per second).
    ``speed`` is work time / query time; ``pitch_shift_semitones`` is the
    query's pitch minus the work's.
    """

    fp_id: int
    inliers: int
    candidates: int
    query_start_frame: float
    query_end_frame: float
    work_start_frame: float
    work_end_frame: float
    speed: float
    pitch_shift_semitones: float
    #: Rows of the ``Hits`` that support the segment (its final inliers), only
    #: when :func:`match_segments` was asked for them (``with_hits=True``).
    inlier_hits: np.ndarray | None = field(default=None, compare=False, repr=False)


def match_segments(
    hits: Hits,
    quads: Quads,
    params: MusicEngineParams,
    *,
    min_inliers: int,
    max_candidates: int = 25,
    max_segments_per_work: int = 4,
    with_hits: bool = False,
) -> list[SegmentMatch]:
    """All segments of registered works supported by at least ``min_inliers`` hits.

    Parameters
    ----------
    hits : Hits
        From :func:`postings.lookup`.
    quads : Quads
        The query's quads (``hits.owner`` indexes them).
    params : MusicEngineParams
    min_inliers : int
        Fewest consistent hits that make a segment.
    max_candidates : int
        Works with the most raw hits that are verified.
    with_hits : bool
        Also give each segment the rows of ``hits`` that support it
        (:attr:`SegmentMatch.inlier_hits`); the segments are the same either way.

    Returns
    -------
    list of SegmentMatch, most inliers first.
    """
    if len(hits) == 0:
        return []
    shift = quads.anchor_midi[hits.owner].astype(np.float64) - hits.midi
    ok = np.abs(shift) <= params.max_pitch_shift_semitones + SHIFT_KEEP_ST
    rows_ok = np.flatnonzero(ok)  # the hits within the pitch shifts searched (a quarter, typically)
    # Candidates: works ranked by their best coarse time alignment, counted in
    # distinct query anchors.  Common hashes give a work many hits at random
    # offsets; a real occurrence puts many into one offset bin (wide enough
    # for the drift of a 10% speed change over the bins' span).
    fp_ok = hits.fp_id[ok]
    q_anchor = quads.anchor_frame[hits.owner[ok]].astype(np.int64)
    coarse = np.floor((hits.frame[ok] - q_anchor) / CANDIDATE_BIN_FRAMES).astype(np.int64)
    coarse -= coarse.min() if coarse.size else 0
    span = int(coarse.max()) + 2 if coarse.size else 1
    votes = []
    for shift_bins in (0, 1):  # two staggered grids, so a line on a bin edge is not split
        cell = fp_ok * span + (coarse + shift_bins) // 2
        pairs = _distinct(cell * (1 << 22) + np.minimum(q_anchor, (1 << 22) - 1))
        cells, n = _runs(pairs >> 22)
        votes.append((cells // span, n))
    all_fp = np.concatenate([v[0] for v in votes])
    all_n = np.concatenate([v[1] for v in votes])
    fp_ids = _distinct(all_fp)
    counts = np.zeros(fp_ids.size, dtype=np.int64)
    np.maximum.at(counts, np.searchsorted(fp_ids, all_fp), all_n)
    order = np.argsort(-counts, kind="stable")
    results: list[SegmentMatch] = []
    for idx in order[:max_candidates]:
        if counts[idx] < min_inliers:
            break
        fp = int(fp_ids[idx])
        rows = rows_ok[fp_ok == fp]  # this work's hits, in their order
        owner = hits.owner[rows]
        q_frame = quads.anchor_frame[owner].astype(np.float64)
        found = verify_work(
                fp,
                q_frame=q_frame,
                q_end=q_frame + quads.span_frames[owner],
                w_frame=hits.frame[rows].astype(np.float64),
                shift=shift[rows],
                q_quad=owner,
                params=params,
                min_inliers=min_inliers,
                max_segments=max_segments_per_work,
            )
        if with_hits:
            found = [replace(m, inlier_hits=rows[m.inlier_hits]) for m in found]
        else:
            found = [replace(m, inlier_hits=None) for m in found]
        results.extend(found)
    results.sort(key=lambda m: -m.inliers)
    return results


def _speed_grid(max_change: float) -> np.ndarray:
    n = int(np.ceil(np.log1p(max_change) / SPEED_STEP))
    return np.exp(np.arange(-n, n + 1) * SPEED_STEP)


def verify_work(
    fp_id: int,
    *,
    q_frame: np.ndarray,
    q_end: np.ndarray,
    w_frame: np.ndarray,
    shift: np.ndarray,
    q_quad: np.ndarray,
    params: MusicEngineParams,
    min_inliers: int,
    max_segments: int,
) -> list[SegmentMatch]:
    """Find up to ``max_segments`` consistent segments among one work's hits.

    All arrays have shape (h,): query anchor frame, query quad end frame,
    work anchor frame, pitch shift (semitones) and query quad index.  Each
    segment's ``inlier_hits`` indexes these arrays.
    """
    found: list[SegmentMatch] = []
    remaining = np.ones(q_frame.shape[0], dtype=bool)
    speeds = _speed_grid(params.max_speed_change)
    for _ in range(max_segments):
        if remaining.sum() < min_inliers:
            break
        idx = np.flatnonzero(remaining)
        seg = _best_segment(
            q_frame[idx], q_end[idx], w_frame[idx], shift[idx], q_quad[idx], speeds, min_inliers
        )
        if seg is None:
            break
        inlier_local, match, members = seg
        remaining[idx[inlier_local]] = False
        found.append(
            SegmentMatch(
                fp_id=fp_id,
                inliers=match[0],
                candidates=int(q_frame.shape[0]),
                query_start_frame=match[1],
                query_end_frame=match[2],
                work_start_frame=match[3],
                work_end_frame=match[4],
                speed=match[5],
                pitch_shift_semitones=match[6],
                inlier_hits=idx[members],
            )
        )
    return found


def _hough(qf: np.ndarray, wf: np.ndarray, speeds: np.ndarray, bin_frames: float, *, top: int = 1):
    """Best lines ``wf = speed * qf + offset`` by votes, as a list of (speed, offset, votes).

    Votes are counted in offset bins of ``bin_frames``, each merged with its
    right neighbour so that a line on a bin edge is not split.
    """
    if qf.size == 0 or speeds.size == 0:
        return []
    offsets = wf[None, :] - speeds[:, None] * qf[None, :]
    obin = np.floor(offsets / bin_frames).astype(np.int64)
    omin = int(obin.min())
    width = int(obin.max()) - omin + 2
    cells = np.arange(speeds.size)[:, None] * width + (obin - omin)
    if speeds.size * width <= 4_000_000:
        votes = np.bincount(cells.ravel(), minlength=speeds.size * width)
        merged = votes[:-1] + votes[1:]
        k = min(top, merged.size)
        best = np.argpartition(-merged, k - 1)[:k]
        cell_ids, cell_votes = best, merged[best]
    else:
        uniq, counts = _runs(np.sort(cells.ravel()))
        right = np.minimum(np.searchsorted(uniq, uniq + 1), uniq.size - 1)
        merged = counts + np.where(uniq[right] == uniq + 1, counts[right], 0)
        k = min(top, merged.size)
        pick = np.argpartition(-merged, k - 1)[:k]
        cell_ids, cell_votes = uniq[pick], merged[pick]
    out = []
    for cell, v in zip(cell_ids.tolist(), cell_votes.tolist()):
        s_idx, o_idx = divmod(int(cell), width)
        out.append((float(speeds[s_idx]), (o_idx + omin + 1.0) * bin_frames, int(v)))
    out.sort(key=lambda x: -x[2])
    return out


def _shift_windows(shift: np.ndarray, min_hits: int, top: int = 3) -> list[float]:
    """Centres (semitones) of the densest windows of the pitch-shift histogram."""
    bins = np.floor(shift / SHIFT_BIN_ST).astype(np.int64)
    bmin = int(bins.min())
    hist = np.bincount(bins - bmin)
    smooth = hist + np.r_[0, hist[:-1]] + np.r_[hist[1:], 0]
    centres = []
    for b in np.argsort(-smooth, kind="stable"):
        if smooth[b] < min_hits or len(centres) == top:
            break
        if all(abs(b - c) > 1 for c in centres):
            centres.append(int(b))
    out = []
    for c in centres:
        near = np.abs(bins - bmin - c) <= 1
        out.append(_median(shift[near]))
    return out


def _dense_cells(qf: np.ndarray, wf: np.ndarray, shift: np.ndarray, min_hits: int, top: int = 3):
    """Densest cells of the joint (time offset, pitch shift) histogram, as (shift centre, offset centre).

    The offset is ``work frame - query frame`` in bins of
    :data:`CELL_OFFSET_FRAMES`, the shift in bins of :data:`SHIFT_BIN_ST`;
    a cell counts the distinct query anchors in a box of 2 offset bins x 3
    shift bins around it.  A short copy inside a long query puts its hits
    into one such box, while the chance hits of the rest of the query spread
    over all offsets; so its shift shows here even when chance hits at other
    shifts outnumber it in the shift histogram alone.  Returns up to ``top``
    cells with at least ``min_hits`` anchors, densest first, no two within
    2 bins of each other on both axes.
    """
    if qf.size == 0:
        return []
    obin = np.floor((wf - qf) / CELL_OFFSET_FRAMES).astype(np.int64)
    sbin = np.floor(shift / SHIFT_BIN_ST).astype(np.int64)
    obin -= obin.min()
    sbin -= sbin.min()
    n_o, n_s = int(obin.max()) + 2, int(sbin.max()) + 3
    if n_o * n_s > 8_000_000:
        return []
    # Distinct query anchors per cell (one anchor has many quads).
    cell = obin * n_s + sbin
    q = np.minimum(qf.astype(np.int64), (1 << 24) - 1)
    uniq = _distinct(cell * (1 << 24) + q) >> 24
    grid = np.bincount(uniq, minlength=n_o * n_s).reshape(n_o, n_s).astype(np.int64)
    # Box sum: offset bins o and o+1, shift bins b-1..b+1.
    smooth = grid.copy()
    smooth[:-1] += grid[1:]
    side = smooth.copy()
    smooth[:, 1:] += side[:, :-1]
    smooth[:, :-1] += side[:, 1:]
    out: list[tuple[float, float]] = []
    chosen: list[tuple[int, int]] = []
    flat = smooth.ravel()
    k = min(flat.size, 8 * top)
    cand = np.argpartition(-flat, k - 1)[:k]
    for c in cand[np.argsort(-flat[cand], kind="stable")]:
        if flat[c] < min_hits or len(out) == top:
            break
        o, b = divmod(int(c), n_s)
        if any(abs(o - o2) <= 2 and abs(b - b2) <= 2 for o2, b2 in chosen):
            continue
        chosen.append((o, b))
        near = (obin >= o) & (obin <= o + 1) & (np.abs(sbin - b) <= 1)
        out.append((_median(shift[near]), _median((wf - qf)[near])))
    return out


def _line_for(qf_k, wf_k, speeds, coarse_sel=None):
    """Best (speed, offset, votes) among ``qf_k, wf_k``: a coarse Hough (on ``coarse_sel`` if given), then a fine one."""
    best = None
    qc, wc = (qf_k, wf_k) if coarse_sel is None else (qf_k[coarse_sel], wf_k[coarse_sel])
    for c_speed, c_offset, _ in _hough(qc, wc, speeds[::4], 4 * OFFSET_BIN_FRAMES, top=3 if coarse_sel is None else 1):
        resid = wf_k - (c_speed * qf_k + c_offset)
        local = np.abs(resid) <= 4 * OFFSET_BIN_FRAMES + np.abs(qf_k) * 3 * SPEED_STEP * 4
        near_speeds = speeds[np.abs(np.log(speeds) - np.log(c_speed)) <= 2.5 * SPEED_STEP * 4]
        for speed, offset, votes in _hough(qf_k[local], wf_k[local], near_speeds, OFFSET_BIN_FRAMES):
            if best is None or votes > best[2]:
                best = (speed, offset, votes)
    return best


def _best_segment(qf, qe, wf, shift, qt, speeds, min_inliers):
    # 1. Hypotheses of the pitch shift: the densest windows of the shift
    #    histogram (repeated material in the work can outnumber the true
    #    line, so several are tried), and the shifts of the densest cells of
    #    the joint (offset, shift) histogram, each with its offset (a short
    #    copy in a long query: chance hits from the rest of the query can
    #    outnumber it at every shift, but not in one offset cell).
    # 2. For each, a Hough vote over (speed, offset): coarse speeds with wide
    #    offset bins (for a cell, only on the hits near its offset), then
    #    fine speeds and offsets around the best coarse cells, on all hits of
    #    the shift window.
    # 3. Each hypothesis's line is refined and scored (distinct anchors);
    #    the best score wins.
    hyps = [(c, None) for c in _shift_windows(shift, min_inliers)]
    hyps += [(c, o) for c, o in _dense_cells(qf, wf, shift, min_inliers)]
    best = None
    for centre, cell_offset in hyps:
        keep = np.flatnonzero(np.abs(shift - centre) <= SHIFT_KEEP_ST)
        qf_k, wf_k = qf[keep], wf[keep]
        coarse_sel = None
        if cell_offset is not None:
            coarse_sel = np.abs(wf_k - qf_k - cell_offset) <= CELL_WINDOW_FRAMES
        line = _line_for(qf_k, wf_k, speeds, coarse_sel)
        if line is None or line[2] < min_inliers:
            continue
        seg = _score_line(qf, qe, wf, shift, keep, line[0], line[1], speeds)
        if seg is not None and (best is None or seg[1][0] > best[1][0]):
            best = seg
    if best is None or best[1][0] < min_inliers:
        return None
    return best


def _score_line(qf, qe, wf, shift, keep, speed, offset, speeds):
    """Refine the line ``wf = speed * qf + offset`` on the hits ``keep`` and score it: (on_line, match, members)."""
    qf_k, wf_k = qf[keep], wf[keep]
    resid = wf_k - (speed * qf_k + offset)
    inl = np.abs(resid) <= INLIER_TOL_FRAMES + OFFSET_BIN_FRAMES
    # Refine the line on the inliers and take the final inliers.
    for _ in range(2):
        if inl.sum() < 2:
            break
        x, y = qf_k[inl], wf_k[inl]
        if np.ptp(x) >= 60:
            a, b = np.polyfit(x, y, 1)
            if abs(np.log(a)) <= np.log(speeds[-1]) + SPEED_STEP:
                speed, offset = float(a), float(b)
            else:
                offset = _median(y - speed * x)
        else:
            offset = _median(y - speed * x)
        resid = wf_k - (speed * qf_k + offset)
        inl = np.abs(resid) <= INLIER_TOL_FRAMES
    # The true line's pitch shift is tight (partials move together); chance
    # hits are spread over the whole window.
    if inl.any():
        pitch = _median(shift[keep][inl])
        inl &= np.abs(shift[keep] - pitch) <= SHIFT_FINAL_ST
    members = keep[inl]
    if members.size == 0:
        return None
    # The segment is the densest run of inliers: in a long query, chance hits
    # that happen to lie on a copy's line tens of seconds away would
    # otherwise stretch the segment (and count).
    members = _densest_run(qf, wf, members)
    # Evidence is counted in distinct anchor times on both sides: many quads
    # share an anchor, and one chance coincidence of two anchors would
    # otherwise count once per quad.
    n_inliers = min(_n_distinct(qf[members]), _n_distinct(wf[members]))
    q_start = float(qf[members].min())
    q_stop = float(qe[members].max())
    pitch = _median(shift[members])
    match = (
        n_inliers,
        q_start,
        q_stop,
        speed * q_start + offset,
        speed * q_stop + offset,
        speed,
        pitch,
    )
    # Remove every hit on the line (not only final inliers) within the run
    # before looking again; another run of the same line can be found next.
    near = (np.abs(resid) <= INLIER_TOL_FRAMES + OFFSET_BIN_FRAMES) & (qf_k >= q_start - SEGMENT_GAP_FRAMES) & (
        qf_k <= float(qf[members].max()) + SEGMENT_GAP_FRAMES)
    on_line = keep[near]
    return on_line, match, members


def _densest_run(qf: np.ndarray, wf: np.ndarray, members: np.ndarray) -> np.ndarray:
    """The ``members`` whose query anchors form the run with the best score, runs split at gaps over :data:`SEGMENT_GAP_FRAMES`."""
    q = qf[members]
    order = np.argsort(q, kind="stable")
    cuts = np.flatnonzero(np.diff(q[order]) > SEGMENT_GAP_FRAMES) + 1
    if cuts.size == 0:
        return members
    best, best_n = members, -1
    for run in np.split(order, cuts):
        m = members[run]
        n = min(_n_distinct(qf[m]), _n_distinct(wf[m]))
        if n > best_n:
            best, best_n = m, n
    return np.sort(best)


# np.unique's values and counts by sorting (np.unique itself costs several times a sort on the short arrays
# verification makes, NumPy 2.4); the same results for the 1-D integer and frame arrays (no NaN) used here.
def _distinct(x: np.ndarray) -> np.ndarray:
    """Sorted distinct values of a 1-D array, as ``np.unique(x)``."""
    s = np.sort(x)
    if s.size < 2:
        return s
    new = np.empty(s.size, dtype=bool)
    new[0] = True
    np.not_equal(s[1:], s[:-1], out=new[1:])
    return s[new]


def _runs(s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct values of a *sorted* 1-D array and how often each occurs, as ``np.unique(s, return_counts=True)``."""
    if s.size == 0:
        return s, np.zeros(0, dtype=np.int64)
    starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])
    return s[starts], np.diff(np.r_[starts, s.size])


def _n_distinct(x: np.ndarray) -> int:
    """Number of distinct values of a 1-D array, as ``np.unique(x).size``."""
    if x.size < 2:
        return int(x.size)
    s = np.sort(x)
    return int(np.count_nonzero(s[1:] != s[:-1])) + 1


def _median(x: np.ndarray) -> float:
    """``float(np.median(x))`` for a 1-D float array without NaN: the same order statistics from one
    partition, and the mean of the middle two as ``np.median`` takes it, ``(a + b) / 2``, without its checks
    (on short arrays they cost more than the partition)."""
    n = x.shape[0]
    if n == 0:
        return float(np.median(x))
    k = n // 2
    if n % 2:
        return float(np.partition(x, k)[k])
    part = np.partition(x, (k - 1, k))
    return float((part[k - 1] + part[k]) / 2.0)
