"""Ownership claims by content for images: a registered image that holds much of another creator's opens one."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from consentry import Registry
from consentry.testing.pictures import picture


def _save_jpeg(path, px: np.ndarray, quality: int = 85) -> None:
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(px)).save(buf, "JPEG", quality=quality)
    path.write_bytes(buf.getvalue())


@pytest.mark.parametrize("workers", [1, 2])
def test_a_crop_of_another_creators_image_opens_an_ownership_claim_with_area_shares(tmp_path, workers):
    photo = picture(611, width_px=900, height_px=600)
    _save_jpeg(tmp_path / "harbour.jpg", photo, 95)
    # Bo's "work": three quarters of Ana's photograph (its left part), re-encoded; and a picture of his own.
    _save_jpeg(tmp_path / "my_harbour.jpg", photo[:, :675], 80)
    _save_jpeg(tmp_path / "own.jpg", picture(612, width_px=800, height_px=600), 90)
    with Registry.open(tmp_path / "r.db") as reg:
        wa = reg.register([tmp_path / "harbour.jpg"], creator="Ana", terms="deny", workers=1).registered[0]
        s = reg.register([tmp_path / "my_harbour.jpg", tmp_path / "own.jpg"], creator="Bo", terms="allow",
                         workers=workers)
        assert len(s.registered) == 2 and len(s.claims) == 1, s.claims
        claim = s.claims[0].as_dict()
        assert claim["party_a"]["work_id"] == wa.work_id and claim["party_b"]["name"] == "Bo"
        basis = claim["basis"]
        assert basis["match"] == "fingerprint"
        assert basis["share_of_new"] >= 0.9  # all of Bo's image is Ana's
        assert 0.6 <= basis["share_of_registered"] <= 0.9  # three quarters of Ana's
        seg = basis["segments"][0]
        assert len(seg["query_box"]) == 4 and len(seg["work_box"]) == 4 and seg["work_box"][2] <= 700
        # Ana registering another part of her own photograph (mostly outside Bo's copy) opens nothing; nor does
        # anyone with detection off.
        _save_jpeg(tmp_path / "detail.jpg", photo[:, 600:], 85)
        assert reg.register([tmp_path / "detail.jpg"], creator="Ana", terms="deny", workers=1).claims == []
        _save_jpeg(tmp_path / "cy.jpg", photo[:, 200:], 85)
        assert reg.register([tmp_path / "cy.jpg"], creator="Cy", terms="deny", workers=1,
                            detect_claims=False).claims == []


def test_a_small_part_of_an_image_does_not_open_a_claim(tmp_path):
    """A registered image that holds a fifth of another creator's picture, inside more of its own, is below
    the half that either side must share."""
    photo = picture(621, width_px=900, height_px=600)
    _save_jpeg(tmp_path / "a.jpg", photo, 95)
    canvas = picture(622, width_px=1200, height_px=900)
    canvas[300:570, 400:760] = photo[:270, :360]  # 270 x 360 of 600 x 900: 18 % of Ana's, 9 % of the canvas
    _save_jpeg(tmp_path / "b.jpg", canvas, 90)
    with Registry.open(tmp_path / "r.db") as reg:
        reg.register([tmp_path / "a.jpg"], creator="Ana", terms="deny", workers=1)
        s = reg.register([tmp_path / "b.jpg"], creator="Bo", terms="deny", workers=1)
        assert len(s.registered) == 1 and s.claims == []
