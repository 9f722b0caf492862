"""Synthetic pictures for the image engine's tests and golden vector: shapes, edges and texture, seeded.

Real photographs cannot be shipped with the tests; these have what the
engine keys on (corners and edges at several scales, texture, no symmetry)
and are the same for a seed on every machine (NumPy's PCG64 stream, Pillow's
drawing of integer coordinates).
"""

from __future__ import annotations

import numpy as np

__all__ = ["picture"]


def picture(seed: int, *, width_px: int = 640, height_px: int = 480) -> np.ndarray:
    """A picture of random polygons, ellipses and lines over a smooth background with fine texture.

    Returns
    -------
    ndarray of uint8, shape (height_px, width_px, 3), RGB
    """
    from PIL import Image, ImageDraw, ImageFilter

    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height_px, 0:width_px].astype(np.float64)
    base = np.zeros((height_px, width_px, 3))
    for c in range(3):
        fx, fy, ph = rng.uniform(0.5, 3.0), rng.uniform(0.5, 3.0), rng.uniform(0, 6.28)
        base[:, :, c] = 128 + 60 * np.sin(2 * np.pi * (fx * xx / width_px + fy * yy / height_px) + ph)
    im = Image.fromarray(base.astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(im)
    scale = min(width_px, height_px)
    for _ in range(int(rng.integers(25, 40))):
        colour = tuple(int(v) for v in rng.integers(0, 256, 3))
        kind = int(rng.integers(0, 3))
        cx, cy = float(rng.uniform(0, width_px)), float(rng.uniform(0, height_px))
        r = float(rng.uniform(0.03, 0.2)) * scale
        if kind == 0:
            n = int(rng.integers(3, 7))
            ang = np.sort(rng.uniform(0, 2 * np.pi, n))
            rad = r * rng.uniform(0.5, 1.0, n)
            draw.polygon([(int(cx + a * np.cos(t)), int(cy + a * np.sin(t))) for t, a in zip(ang, rad)], fill=colour)
        elif kind == 1:
            draw.ellipse([int(cx - r), int(cy - r * 0.6), int(cx + r), int(cy + r * 0.6)], fill=colour,
                         outline=(0, 0, 0), width=2)
        else:
            x1, y1 = cx + rng.uniform(-2, 2) * r, cy + rng.uniform(-2, 2) * r
            draw.line([int(cx), int(cy), int(x1), int(y1)], fill=colour, width=int(rng.integers(2, 6)))
    im = im.filter(ImageFilter.GaussianBlur(0.6))
    px = np.asarray(im).astype(np.int16) + rng.integers(-12, 13, (height_px, width_px, 1)).astype(np.int16)
    return np.clip(px, 0, 255).astype(np.uint8)
