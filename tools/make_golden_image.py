#!/usr/bin/env python3
"""Write the image engine's golden vector: a fixed picture and its expected fingerprint, as a data file.

    .venv/bin/python tools/make_golden_image.py            # write tests/data/golden/image.npz
    .venv/bin/python tools/make_golden_image.py --check    # recompute and compare; exit 1 on any difference

The input is made once by :func:`consentry.testing.pictures.picture` (seed
20261207, 320 x 240) and then kept: when the file exists its stored pixels
are reused and only the expected output is recomputed (``--new-inputs``
makes them again).  Rewriting it is only right with a new
``ENGINE_VERSION`` (src/consentry/engines/image/params.py).

``image.npz`` holds (``np.load(..., allow_pickle=False)``): ``pixels`` uint8
(240, 320, 3); ``keys`` uint32 and ``payload`` uint64 of
``ImageEngine.fingerprint`` (shape (m,)); ``pdq`` (64 hex digits) and
``iscc`` of ``ImageEngine.describe``; ``engine``: ``name/version/param_hash``.
Everything is integers: compared exactly.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "data" / "golden" / "image.npz"
SEED = 20261207


def expected(pixels: np.ndarray) -> dict[str, np.ndarray]:
    from consentry.engines.image import ImageEngine

    e = ImageEngine()
    sig = e.signal(pixels)
    fp = e.fingerprint(sig)
    facts = e.describe(sig)
    return {"keys": fp.keys, "payload": fp.fields["payload"], "pdq": np.array(facts["pdq"]),
            "iscc": np.array(facts["iscc"]), "engine": np.array(str(e.id))}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true", help="compare with the stored file; write nothing")
    ap.add_argument("--new-inputs", action="store_true", help="draw the picture again instead of reusing it")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT / "src"))
    stored = np.load(GOLDEN, allow_pickle=False) if GOLDEN.is_file() else None
    if args.check:
        if stored is None:
            print(f"{GOLDEN} is missing", file=sys.stderr)
            return 1
        now = expected(stored["pixels"])
        bad = [k for k, v in now.items() if not np.array_equal(v, stored[k])]
        for k in bad:
            print(f"image: {k} differs", file=sys.stderr)
        if not bad:
            print("golden vector: matches")
        return 1 if bad else 0
    if stored is None or args.new_inputs:
        from consentry.testing.pictures import picture

        pixels = picture(SEED, width_px=320, height_px=240)
    else:
        pixels = stored["pixels"]
    GOLDEN.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(GOLDEN, pixels=pixels, **expected(pixels))
    print(f"wrote {GOLDEN.relative_to(ROOT)} ({GOLDEN.stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
