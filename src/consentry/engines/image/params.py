"""Frozen parameters of the image engine, its name and version.

Every field that changes a fingerprint, a posting or a decision is here;
:meth:`ImageEngineParams.param_hash` covers them all and is stored with every
fingerprint and index segment (``docs/engines.md``).  Changing a default that
changes the output bumps :data:`ENGINE_VERSION` and rewrites the golden
vector (``tools/make_golden_image.py``).

Where the decision constants come from (version 4; versions 2 and 3 came the same way): ``min_inliers`` (two
above the best chance score), the chance-inlier tail (``chance_inliers_at``,
``chance_inliers_per_e``) and the check of ``pdq_max_distance`` (the PDQ
paper's 31 bits for 256-bit hashes, Facebook, "The TMK+PDQF and PDQ hashing
algorithms", 2019; no chance match came within it at ``pdq_min_quality`` 1)
are measured by ``benchmarks/run_image.py --seed 1 --calibrate 3000`` on the
calibration negatives, never-registered images that share none with the test
negatives (benchmarks/RESULTS.md, "Images").
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from functools import cached_property, lru_cache

import numpy as np

__all__ = ["ENGINE_NAME", "ENGINE_VERSION", "ImageEngineParams", "DEFAULT_PARAMS"]

ENGINE_NAME = "consentry-image-pdq-orb"
ENGINE_VERSION = "4"


@dataclass(frozen=True)
class ImageEngineParams:
    """Parameters of the image engine (pixels are those of the image unless named ``work``).

    Attributes
    ----------
    max_pixels : int
        Larger images (width x height, from the header, before any pixel is
        read) are refused as decompression bombs.
    max_side_px : int
        Longest side accepted, pixels.
    work_side_px : int
        Longest side of the working image that features are computed on
        (smaller images are not enlarged).
    orb_levels, orb_scale_factor, orb_fast_threshold, orb_edge_px :
        OpenCV ORB's pyramid levels, scale step, FAST threshold and border (working pixels).
    orb_detect_factor : int
        ORB detects this many times the keypoints wanted, strongest first, before the grid
        choice (a strong local pattern, such as a box of text, must not use up the detector's budget).
    max_contrast_gain : float
        The grey image is stretched (:func:`.features.stretched`) by at most this factor before
        keypoints are found (faint pictures); 1: not stretched.
    contrast_fence_iqr : float
        The stretch's percentiles are taken of the grey levels within Tukey's fences, this many
        interquartile ranges beyond the quartiles (0: of all levels, versions 1-3): an overlay or
        black corners then do not set the gain (:func:`.features.stretched`).  Version 4: 1.5,
        Tukey's usual fences, not fitted.
    contrast_fence_min_span : int
        The fenced percentiles are used only when they lie at least this many grey levels apart;
        otherwise those of all levels (a white diagram's quartiles are both 255: its fences hold
        one level).  Version 4: 16 (0 with the fences would stretch a flat picture's noise), set
        from the spans of the grey images before any run of found copies: the fenced spans of the
        64 development works are 0-8 or at least 25 levels, those of 513 calibration negatives
        under 8 or at least 16 but for 3 (benchmarks/RESULTS.md, "Images, session 7").
    index_keypoints : int
        Keypoints kept per registered image (the index budget: each is one 12-byte posting).
    stable_candidates : int
        A registered image's keypoints are chosen from this many times ``index_keypoints``
        candidates, by how many views they survive (:func:`.features.stable_keypoints`).
    stable_view_scales : tuple of float
        Scales of the views of a registered image that its candidate keypoints are looked for
        again in (empty: keypoints chosen by strength alone).  Version 3: a quarter octave down,
        a quarter and a half octave up, the scales at which the issue's copies show the picture
        (a 50 % area crop is shown 2^0.5 times larger at the same working size, a 70 % crop 2^0.25
        times); not fitted to any image.
    query_keypoints : int
        Keypoints detected per query image (and again on its mirror image).
    grid_cells : int
        Keypoints are chosen round-robin over a ``grid_cells x grid_cells`` grid,
        strongest first, so that every part of an image keeps some (for crops).
    key_bits, check_bits : int
        A posting's key is ``key_bits`` bits of the 256-bit ORB descriptor and
        its value keeps ``check_bits`` more to reject chance hits.
    key_bit_positions : tuple of int
        Which descriptor bits (0-255, in ``np.unpackbits`` order): the key's, then the check
        bits.  A fixed random choice (``np.random.default_rng(19).permutation(256)[:26]``, version
        1's), not fitted: bits chosen for stability measured worse, as they are correlated and
        give more chance matches at the same found rate (docs/images.md).
    max_check_distance : int
        Most differing check bits of a kept keypoint correspondence.
    query_key_flips : int
        1: each query key is also looked up with each of its bits flipped
        (``key_bits + 1`` lookups a keypoint); 0: the key alone; 2: also every two bits flipped
        (211 lookups at 20 bits; explored, not used: benchmarks/RESULTS.md).
    query_angle_jitter_deg : float
        Each query keypoint is also described with its orientation turned this many degrees
        either way, and those descriptors' keys are looked up too (0: not).
    max_postings_per_key : int
        Keys holding more postings than this are skipped at query time (stop words).
    max_postings_per_query : int
        At most this many keypoint postings are read by a query's lookup (and by each guided lookup
        of a near miss), those of the rarest keys first (the fewest postings; 0: no limit, versions
        1-4).  Bounds a query's cost as the catalogue grows: a key shared by thousands of works
        carries no evidence for any one of them.
    max_candidate_works : int
        Works, ranked by voting query keypoints, that go on to geometric verification.
    min_votes : int
        Fewest voting query keypoints for a work to be verified.
    ransac_work_px : float
        RANSAC reprojection threshold, in query working pixels.
    ransac_iterations : int
    min_scale, max_scale : float
        Query pixels per work pixel that a geometric match may have.
    max_rotation_deg : float
        Largest rotation (degrees, either way) of a geometric match: copies are "slightly
        rotated"; hits whose keypoint orientations differ by more are not counted.
    inlier_cell_px : float
        A fit's inliers count once per cell of this many query working pixels (about half of
        ORB's 31-pixel patch: nearer keypoints share most of their pixels; 0: not merged).
        Version 3.
    min_inliers : int
        The decision rule: fewest geometrically verified keypoints reported.
    guided_min_inliers : int
        A fit with at least this many inliers but fewer than ``min_inliers`` (a near miss) is
        extended: the query's keys are looked up again two bits away, for that work only, and the
        hits that the fit's transform maps within ``ransac_work_px`` of their query keypoint join
        its inliers (:func:`.search.verify`; 0: not).  Version 4: 4 (``min_votes``, the fewest voting
        keypoints that a work needs to be verified at all), not fitted.
    chance_inliers_at, chance_inliers_per_e : float
        The measured tail of the best chance match's inliers,
        ``P(chance >= s) ~ exp(-(s - at) / per_e)``, behind :meth:`confidence`.
    pdq_max_distance : int
        Most differing bits (of 256) of a whole-image PDQ near-duplicate.
    pdq_min_quality : int
        PDQ quality (0-100) below which an image's PDQ hash is not trusted (flat images).
    query_mirrored : bool
        Also search the query's mirror image (local features; PDQ always tries both).
    iscc_bits : int
        Bits of the ISCC Image-Code stored for interoperability.
    """

    max_pixels: int = 100_000_000
    max_side_px: int = 30_000
    work_side_px: int = 512
    orb_levels: int = 6
    orb_scale_factor: float = 1.3
    orb_fast_threshold: int = 7
    orb_edge_px: int = 31
    orb_detect_factor: int = 3
    max_contrast_gain: float = 4.0
    contrast_fence_iqr: float = 1.5
    contrast_fence_min_span: int = 16
    index_keypoints: int = 120
    stable_candidates: int = 3
    stable_view_scales: tuple[float, ...] = (2 ** -0.25, 2 ** 0.25, 2 ** 0.5)
    query_keypoints: int = 600
    grid_cells: int = 4
    key_bits: int = 20
    check_bits: int = 6
    key_bit_positions: tuple[int, ...] = (163, 110, 103, 217, 53, 143, 246, 120, 156, 253, 144, 248, 181, 98, 15,
                                           198, 225, 240, 135, 236, 1, 28, 250, 218, 60, 27)
    max_check_distance: int = 1
    query_key_flips: int = 1
    query_angle_jitter_deg: float = 0.0
    max_postings_per_key: int = 4000
    max_postings_per_query: int = 0
    max_candidate_works: int = 24
    min_votes: int = 4
    ransac_work_px: float = 3.0
    ransac_iterations: int = 600
    min_scale: float = 0.05
    max_scale: float = 20.0
    max_rotation_deg: float = 20.0
    inlier_cell_px: float = 16.0
    min_inliers: int = 7
    guided_min_inliers: int = 4
    chance_inliers_at: float = 3.0
    chance_inliers_per_e: float = 0.12
    pdq_max_distance: int = 31
    pdq_min_quality: int = 1
    query_mirrored: bool = True
    iscc_bits: int = 64

    def __post_init__(self) -> None:
        if not 8 <= self.key_bits <= 30:
            raise ValueError(f"key_bits must be 8..30, not {self.key_bits}")
        if not 0 <= self.check_bits <= 6:
            raise ValueError(f"check_bits must be 0..6 (a posting has room for 6), not {self.check_bits}")
        bits = tuple(int(b) for b in self.key_bit_positions)
        if len(bits) != self.key_bits + self.check_bits or len(set(bits)) != len(bits) or \
                not all(0 <= b < 256 for b in bits):
            raise ValueError(f"key_bit_positions must be key_bits + check_bits = {self.key_bits + self.check_bits} "
                             f"distinct bits 0..255, not {self.key_bit_positions}")
        if not 64 <= self.work_side_px <= 1024:
            raise ValueError(f"work_side_px must be 64..1024, not {self.work_side_px}")

    def param_hash(self) -> str:
        """SHA-256 (first 16 hex digits) of the parameters as canonical JSON (computed once per parameter set)."""
        return _param_hash(self)

    @cached_property
    def descriptor_bits(self) -> np.ndarray:
        """Positions (int64, shape (key_bits + check_bits,)) of the descriptor bits kept: key bits, then check bits."""
        return np.asarray(self.key_bit_positions, np.int64)


#: Fields added after version 3, and the value that leaves the engine as version 3 had it (version 4 sets the
#: first three; ``max_postings_per_query`` is not set by any version yet).
_ADDED_AFTER_V3 = {"contrast_fence_iqr": 0.0, "contrast_fence_min_span": 0, "guided_min_inliers": 0,
                   "max_postings_per_query": 0}


@lru_cache(maxsize=64)
def _param_hash(params: ImageEngineParams) -> str:
    # A scan asks every work's engine id: hashing the JSON each time cost seconds (benchmarks/RESULTS.md).
    # Fields added after version 3 are hashed only when set: a version 3 parameter set keeps its hash.
    fields = {k: v for k, v in asdict(params).items() if _ADDED_AFTER_V3.get(k, object()) != v}
    blob = json.dumps(fields, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


DEFAULT_PARAMS = ImageEngineParams()
