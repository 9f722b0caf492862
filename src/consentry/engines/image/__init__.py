"""The image engine: PDQ for whole-image near duplicates, ORB keypoints with RANSAC for parts (``docs/images.md``).

=====================  ===========================================================
interface              image engine
=====================  ===========================================================
``id``                 ``consentry-image-pdq-orb`` / ``ENGINE_VERSION`` / ``ImageEngineParams.param_hash()``
``sniff``              JPEG, PNG, WebP, TIFF, GIF, BMP, HEIC/HEIF, AVIF by magic bytes
``decode``             Pillow, EXIF orientation applied, bounded (:mod:`.decode`)
``fingerprint``        ORB keypoints (keys: descriptor bits), PDQ bands, the record (:mod:`.features`)
``query_print``        keypoints of the query and of its mirror image, both PDQ hashes
``candidates``         keypoint keys and PDQ bands (one bit apart) in each segment (:mod:`.search`)
``verify``             RANSAC similarity fit per work; PDQ distance for whole images
``min_score_for``      ``params.min_inliers`` (the query's keypoints are capped, so chance does not grow with size)
=====================  ===========================================================

Boxes in :class:`Located` are ``[x0, y0, x1, y1]`` in each image's pixels
(EXIF orientation applied), end exclusive; :class:`ImageExtra` has the
transform (scale, rotation, mirrored) and the affine map behind it.  When the
registered image's size is known (its PDQ bands were reached, or
:meth:`ImageEngine.refine` is given its signal) the boxes are the query's
frame mapped into the work and back; otherwise they box the matched points.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Sequence

import numpy as np

from ..base import EngineId, Fingerprint, Located, SegmentLike, Signal, Source
from . import features as F
from .params import DEFAULT_PARAMS, ENGINE_NAME, ENGINE_VERSION, ImageEngineParams
from .search import ImageExtra, ImageHits, MatchedPoints, QueryPrint, QuerySide, candidates, local_confidence, verify

__all__ = ["ImageEngine", "ImageExtra", "ImageEngineParams", "MatchedPoints", "DEFAULT_PARAMS",
           "ENGINE_NAME", "ENGINE_VERSION"]

MEDIUM = "image"


@dataclass(frozen=True)
class ImageEngine:
    """The image engine as a :class:`~consentry.engines.base.MediaEngine`.

    Parameters
    ----------
    params : ImageEngineParams
        Frozen engine parameters (default: version 1's).
    """

    params: ImageEngineParams = DEFAULT_PARAMS
    medium: str = MEDIUM
    #: Asked before music (50) and text (90): image magic bytes are exact.
    sniff_order: ClassVar[int] = 20
    #: Suffixes a folder walk or an archive (WebDataset members) takes as image items (content still decides).
    extensions: ClassVar[tuple[str, ...]] = (".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".gif", ".bmp",
                                             ".heic", ".heif", ".avif")

    @property
    def id(self) -> EngineId:
        return EngineId(ENGINE_NAME, ENGINE_VERSION, self.params.param_hash())

    # -- input ------------------------------------------------------------------
    def sniff(self, head: bytes, *, name: str | None = None) -> bool:
        """True when the magic bytes say an image format this engine decodes."""
        from .decode import sniff_image

        return sniff_image(head) is not None

    def decode(self, source: Source, *, max_extent: float | None = None, name: str | None = None) -> Signal:
        """Decode to the working image (:func:`.decode.decode_image`); ``max_extent`` bounds the pixels.

        Raises :class:`consentry.errors.DecodeError` (one line naming the input).
        """
        from .decode import decode_image

        limit = self.params.max_pixels if max_extent is None else min(self.params.max_pixels, int(max_extent))
        return decode_image(source, work_side_px=self.params.work_side_px, max_pixels=limit,
                            max_side_px=self.params.max_side_px, name=name)

    def signal(self, pixels: np.ndarray) -> Signal:
        """Wrap already decoded pixels, uint8 (h, w) or (h, w, 3) RGB, as the working signal (resized as decode does)."""
        from PIL import Image

        from .decode import working_size

        px = np.asarray(pixels)
        if px.dtype != np.uint8 or px.ndim not in (2, 3) or (px.ndim == 3 and px.shape[2] != 3) or px.size == 0:
            raise ValueError(f"image pixels must be uint8 of shape (h, w) or (h, w, 3), not {px.dtype} {px.shape}")
        if px.ndim == 2:
            px = np.repeat(px[:, :, None], 3, axis=2)
        h, w = px.shape[:2]
        ww, wh = working_size(w, h, self.params.work_side_px)
        if (ww, wh) != (w, h):
            px = np.asarray(Image.fromarray(np.ascontiguousarray(px)).resize(
                (ww, wh), Image.Resampling.BILINEAR, reducing_gap=2.0))
        return Signal(MEDIUM, np.ascontiguousarray(px), ww / w, (float(w), float(h)), "px")

    def _grey(self, rgb: np.ndarray) -> np.ndarray:
        """The grey image keypoints are found in: luminance, contrast stretched (``max_contrast_gain``)."""
        return F.stretched(F.grey(rgb), max_gain=self.params.max_contrast_gain,
                           fence_iqr=self.params.contrast_fence_iqr,
                           fence_min_span=self.params.contrast_fence_min_span)

    def _pixels(self, signal: Signal) -> np.ndarray:
        if signal.medium != MEDIUM or signal.unit != "px":
            raise ValueError(f"the image engine needs an image signal, not {signal.medium} in {signal.unit}")
        return signal.data

    # -- fingerprints and the index ---------------------------------------------
    def fingerprint(self, signal: Signal) -> Fingerprint:
        """The registered image's postings: ``keys`` uint32 (m,) and ``fields["payload"]`` uint64 (m,).

        ``index_keypoints`` keypoints, 16 PDQ bands (none for an image too
        flat for PDQ to trust) and 9 record postings (:mod:`.features`);
        no key depends on the work's id.
        """
        rgb = self._pixels(signal)
        width, height = (int(round(v)) for v in signal.extent)
        kp = F.stable_keypoints(self._grey(rgb), n=self.params.index_keypoints, params=self.params)
        keys, check = F.descriptor_keys(kp.descriptors, self.params)
        pdq = F.pdq_hash(rgb)
        rid = F.record_id(pdq, width, height, kp.descriptors)
        bands = F.band_keys(pdq.bits) if pdq.quality >= self.params.pdq_min_quality else np.zeros(0, np.uint32)
        scale = (width / rgb.shape[1], height / rgb.shape[0])
        keys = np.concatenate([keys, bands, np.full(F.RECORD_CHUNKS, F.TAG_RECORD | np.uint32(rid), np.uint32)])
        payload = np.concatenate([
            F.keypoint_payload(kp, check, scale_xy=scale, shift=F.coordinate_shift(width, height)),
            np.full(bands.size, rid, np.uint64), F.pack_record(pdq, width, height)])
        return Fingerprint(self.id, keys.astype(np.uint32), {"payload": payload.astype(np.uint64)}, signal.extent, "px")

    def unfindable_reason(self, fp: Fingerprint) -> str | None:
        """Why no copy of this registered image could ever be identified, or None when one could.

        A match needs ``min_inliers`` keypoints or the PDQ bands (whole-image
        near duplicates): a flat colour, a fully transparent image (shown over
        white) or one too plain for either has neither, and registering it stores
        a work that no scan, check or identify will ever report.

        Parameters
        ----------
        fp : Fingerprint
            A fingerprint made by :meth:`fingerprint` with this engine's parameters.
        """
        tags = np.asarray(fp.keys, np.uint32) & F.TAG_MASK
        keypoints = int(np.count_nonzero(tags == F.TAG_KEYPOINT))
        if keypoints >= self.params.min_inliers or np.any(tags == F.TAG_BAND):
            return None
        return (f"nothing to identify it by ({keypoints} keypoint{'' if keypoints == 1 else 's'}, a match needs "
                f"{self.params.min_inliers}, and too flat for a whole-image hash): a single colour or fully "
                "transparent image? No copy of it can be found")

    def postings(self, fp: Fingerprint, *, fp_id: int) -> tuple[np.ndarray, np.ndarray]:
        """``(keys, values)``: values are ``fp_id << 38 | payload`` (the keys do not depend on ``fp_id``)."""
        if fp.engine != self.id:
            raise ValueError(f"a fingerprint of {fp.engine} cannot go into an index of {self.id}")
        if not 0 <= int(fp_id) < (1 << F.FP_ID_BITS):
            raise ValueError(f"fp_id {fp_id} does not fit the image index (0 .. {(1 << F.FP_ID_BITS) - 1})")
        values = (np.uint64(fp_id) << np.uint64(F.PAYLOAD_BITS)) | fp.fields["payload"].astype(np.uint64)
        return fp.keys, values

    def fp_ids(self, values: np.ndarray) -> np.ndarray:
        return (np.asarray(values, np.uint64) >> np.uint64(F.PAYLOAD_BITS)).astype(np.int64)

    def describe(self, signal: Signal) -> dict[str, Any]:
        """Facts about one image that a registry stores beside its postings (JSON-safe).

        ``{"width_px", "height_px", "pdq", "pdq_quality", "iscc"}``: the PDQ
        hash as 64 hex digits and the ISCC Image-Code (ISO 24138) for
        interoperability with other registries.
        """
        rgb = self._pixels(signal)
        pdq = F.pdq_hash(rgb)
        return {"width_px": int(round(signal.extent[0])), "height_px": int(round(signal.extent[1])),
                "pdq": pdq.hex(), "pdq_quality": pdq.quality,
                "iscc": F.iscc_image_code(rgb, bits=self.params.iscc_bits)}

    # -- search -----------------------------------------------------------------
    def query_print(self, signal: Signal) -> QueryPrint:
        """Keypoints (``query_keypoints``), keys and PDQ hash of the query, and of its mirror image."""
        rgb = self._pixels(signal)
        g = self._grey(rgb)
        kp = F.orb_keypoints(g, n=self.params.query_keypoints, params=self.params)
        sides = []
        for mirrored in (False, True):
            if mirrored:  # the same keypoints described in the mirror image (detection commutes with it)
                kp = F.mirrored_keypoints(g, kp, params=self.params) if self.params.query_mirrored else \
                    F.Keypoints(np.zeros((0, 2), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int16),
                                np.zeros((0, 32), np.uint8))
                g = np.ascontiguousarray(g[:, ::-1])
            keys, check = F.descriptor_keys(kp.descriptors, self.params)
            jk, jc = [], []
            for turn in ((-self.params.query_angle_jitter_deg, self.params.query_angle_jitter_deg)
                         if self.params.query_angle_jitter_deg > 0 else ()):
                desc = F.described_at(g, kp, turn_deg=turn, params=self.params)
                if desc is not None:
                    k, c = F.descriptor_keys(desc, self.params)
                    jk.append(k)
                    jc.append(c)
            jitter = (np.stack(jk, axis=1), np.stack(jc, axis=1)) if jk else ()
            pdq = F.pdq_hash(np.ascontiguousarray(rgb[:, ::-1]) if mirrored else rgb)
            sides.append(QuerySide(mirrored, kp, keys, check, pdq, *jitter))
        width, height = (int(round(v)) for v in signal.extent)
        return QueryPrint(tuple(sides), width, height, rgb.shape[1], rgb.shape[0])

    def candidates(self, query: QueryPrint, segments: Sequence[SegmentLike], *, with_keys: bool = False) -> ImageHits:
        """Keypoint and PDQ-band hits, and the records of the works they reach (:func:`.search.candidates`)."""
        return candidates(query, segments, self.params, with_keys=with_keys)

    def verify(self, candidates: ImageHits, query: QueryPrint, *, min_score: float, searched: float,
               with_evidence: bool = False, max_evidence: int | None = None) -> list[Located[ImageExtra]]:
        """Works located in the query, best first (:func:`.search.verify`); evidence is :class:`MatchedPoints`."""
        return verify(candidates, query, self.params, min_score=min_score, with_evidence=with_evidence,
                      max_evidence=max_evidence)

    def locate(self, signal: Signal, segments: Sequence[SegmentLike], *, min_score: float | None = None,
               searched: float | None = None, with_evidence: bool = False,
               max_evidence: int | None = None) -> list[Located[ImageExtra]]:
        searched = signal.size if searched is None else searched
        q = self.query_print(signal)
        return self.verify(self.candidates(q, segments, with_keys=with_evidence), q,
                           min_score=self.min_score_for(searched) if min_score is None else min_score,
                           searched=searched, with_evidence=with_evidence, max_evidence=max_evidence)

    def refine(self, signal: Signal, match: Located, work_signal: Signal) -> Located:
        """The match with boxes from the fitted transform and the registered image's own size.

        Without the work's size (a keypoint match that reached no PDQ band of
        the work) the engine boxes the matched points; the services call this
        with the registered file, when it is still at its path, and the boxes
        become the query's frame mapped into the work (cut to the work) and
        that region mapped into the query.
        """
        from dataclasses import replace

        from .search import _boxes, matched_region

        x = match.extra
        if x.method != "keypoints":
            return match
        m = np.asarray(x.work_to_query, np.float64).reshape(2, 3)
        ww, hw = work_signal.extent[0], work_signal.extent[1]
        if x.matched_work_box is not None and x.work_share is None:
            b = x.matched_work_box
            match = replace(match, extra=replace(x, work_share=matched_region(
                np.array([[b[0], b[1]], [b[2], b[3]]]), (ww, hw))[1]))
        boxes = _boxes(m, signal.extent[0], signal.extent[1], ww, hw)
        return match if boxes is None else replace(match, query=boxes[0], work=boxes[1])

    # -- decision and evidence --------------------------------------------------
    def min_score_for(self, searched: float) -> float:
        """``params.min_inliers``: the query's keypoints are capped, so the chance of a fit does not grow with pixels."""
        return float(self.params.min_inliers)

    def confidence(self, score: float, *, searched: float) -> float:
        return local_confidence(score, self.params)

    def match_fields(self, match: Located, *, work: Any = None) -> dict[str, Any]:
        """The fields of an image match in ``consentry identify --json`` (docs/images.md).

        ``query_box`` and ``work_box`` are ``[x0, y0, x1, y1]`` in each image's
        pixels (EXIF orientation applied, end exclusive); ``transform`` says
        how the work appears in the query; ``method`` whether keypoints or
        the whole-image PDQ hash found it; ``matched_work_box`` the box around
        the matched points in the work and ``work_share`` the fraction of the
        work's area inside it (None when the work's size is not known): a
        small share is a part of the work, such as a logo, not the whole
        (the registered work's pixel count, its ``duration_s``, gives the
        share when the engine did not know the work's size).
        """
        x = match.extra
        return {"query_box": [round(v, 1) for v in match.query.as_box()],
                "work_box": [round(v, 1) for v in match.work.as_box()],
                "transform": {"scale": x.scale, "rotation_deg": x.rotation_deg, "mirrored": x.mirrored},
                "method": x.method, "inliers": x.inliers, "pdq_distance": x.pdq_distance,
                "matched_work_box": None if x.matched_work_box is None else list(x.matched_work_box),
                "work_share": _work_share(x, work)}

    def evidence_facts(self, match: Located) -> dict[str, Any]:
        """Engine, boxes, transform and (with evidence) the matched points or both PDQ hashes, as JSON."""
        x = match.extra
        facts: dict[str, Any] = {
            "medium": MEDIUM, "engine": self.id.as_dict(), "method": x.method,
            "query_box": [round(v, 1) for v in match.query.as_box()],
            "work_box": [round(v, 1) for v in match.work.as_box()],
            "transform": {"scale": x.scale, "rotation_deg": x.rotation_deg, "mirrored": x.mirrored,
                          "work_to_query": list(x.work_to_query)},
            "score": match.score, "inliers": x.inliers, "pdq_distance": x.pdq_distance,
            "matched_work_box": None if x.matched_work_box is None else list(x.matched_work_box),
            "work_share": x.work_share,
        }
        ev = match.evidence
        if isinstance(ev, MatchedPoints):
            facts["matched_points_total"] = ev.total
            facts["matched_points"] = [
                {"query_xy": [round(float(a), 1), round(float(b), 1)], "work_xy": [round(float(c), 1), round(float(d), 1)]}
                | ({} if ev.keys is None else {"key": int(ev.keys[i])})
                for i, (a, b, c, d) in enumerate(np.hstack([ev.query_xy, ev.work_xy]).tolist())]
            if ev.query_pdq:
                facts["query_pdq"], facts["work_pdq"] = ev.query_pdq, ev.work_pdq
        return facts


def _work_share(extra: ImageExtra, work: Any) -> float | None:
    """``extra.work_share``, or the matched box's area over the registered work's pixels (``work.duration_s``)."""
    if extra.work_share is not None or extra.matched_work_box is None:
        return extra.work_share
    pixels = float(getattr(work, "duration_s", 0.0) or 0.0)
    if pixels <= 0:
        return None
    x0, y0, x1, y1 = extra.matched_work_box
    return round(min(1.0, max(0.0, (x1 - x0) * (y1 - y0)) / pixels), 3)
