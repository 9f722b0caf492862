"""Each alteration of the benchmark, on synthesised music, through the whole registry."""

from __future__ import annotations

import numpy as np
import pytest

from consentry import Registry
from consentry import alterations as alt
from consentry.synth import synthesise_piece

SR = 22050
SEEDS = (31, 32, 33, 34)


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    root = tmp_path_factory.mktemp("robust")
    pieces = {s: synthesise_piece(s, duration_s=40.0, sample_rate_hz=SR) for s in SEEDS}
    for s, x in pieces.items():
        alt.write_wav(root / f"piece{s}.wav", x, sample_rate_hz=SR)
    reg = Registry.open(root / "r.db")
    reg.register([root], workers=2)
    yield reg, pieces, root
    reg.close()


EXPECTED = {  # variant -> (speed, pitch shift in semitones) the match should report
    "clean": (1.0, 0.0), "mp3_64k": (1.0, 0.0), "noise_10db": (1.0, 0.0), "speed_+3": (1.03, 0.51),
    "speed_-3": (0.97, -0.53), "pitch_+2st": (1.0, 2.0), "pitch_-2st": (1.0, -2.0), "tempo_+5": (1.05, 0.0),
    "tempo_-5": (0.95, 0.0), "phone": (1.0, 0.0), "reverb": (1.0, 0.0),
}


@pytest.mark.parametrize("variant", list(alt.VARIANTS))
def test_variant_is_identified_with_geometry(registry, variant, tmp_path):
    reg, pieces, root = registry
    hits = 0
    for i, seed in enumerate(SEEDS):
        start = 6.0 + 7 * i
        clip = alt.excerpt(pieces[seed], start_s=start, duration_s=10.0, sample_rate_hz=SR)
        y, rate = alt.apply_variant(variant, clip, sample_rate_hz=SR, seed=i)
        path = alt.write_wav(tmp_path / f"{variant}_{seed}.wav", y, sample_rate_hz=rate)
        matches = reg.identify(path)
        if not matches or matches[0].title != f"piece{seed}":
            continue
        m = matches[0]
        speed, pitch = EXPECTED[variant]
        assert abs(m.speed - speed) < 0.01, (variant, m)
        assert abs(m.pitch_shift_semitones - pitch) < 0.2, (variant, m)
        assert abs(m.work_start_s - m.query_start_s * m.speed - start) < 0.5, (variant, m)
        hits += 1
    # Synthesised pieces are harder than real recordings in places (sparse,
    # percussive); three of four excerpts must be found, with the right geometry.
    assert hits >= 3, f"{variant}: {hits} of {len(SEEDS)} found"


def test_unrelated_pieces_are_not_identified(registry, tmp_path):
    reg, _, _ = registry
    for seed in range(100, 106):
        path = alt.write_wav(tmp_path / f"u{seed}.wav", synthesise_piece(seed, duration_s=12.0, sample_rate_hz=SR), sample_rate_hz=SR)
        assert reg.identify(path) == [], seed
