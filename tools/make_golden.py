#!/usr/bin/env python3
"""Write the engines' golden vectors: a fixed input and its expected output, as data files.

    .venv/bin/python tools/make_golden.py                 # write tests/data/golden/{music,music_v2,melody,voice,campplus,text}.npz
    .venv/bin/python tools/make_golden.py --check         # recompute and compare; exit 1 on any difference
    .venv/bin/python tools/make_golden.py --only music    # one engine

The *inputs* are made once by the synthesisers below (NumPy's random stream,
which NumPy does not promise to keep) and then kept: when a file exists, its
stored input is reused and only the expected output is recomputed, so that
the golden vector of a deliberately changed engine is rewritten against the
same input.  ``--new-inputs`` synthesises the inputs again (only when a file
is first made, or on purpose).  Rewriting a music file is only right together
with a new ``ENGINE_VERSION`` (docs/engine.md, "Versioning").

What each file holds (all arrays; ``np.load(..., allow_pickle=False)``):

``music.npz``
    ``samples`` float32 (48000,): 6 s at 8 kHz, the input of the music
    engine's historic golden vector (``notes(20261123, duration_s=6.0)`` of
    tests/engines/test_engine.py); ``keys`` uint32, ``anchor_frame`` int32,
    ``anchor_midi`` float32 of :func:`index_hashes`; ``query_sha256``: the
    digest of :func:`query_hashes`' ``key_lo``, ``key_hi``, ``owner``;
    ``match_work`` int16 (80000,): 10 s at 8 kHz of ``consentry.testing.synth.synthesise_piece(11)``
    (the 6-s input holds too few hashes to match an altered excerpt), and
    ``match`` float64 (k, 9): what :func:`identify_segments` finds (default
    threshold) for seconds 2-9 of it played 3% faster (resampled 100/103)
    in an index of it alone: fp_id, inliers, candidates, query_start_frame,
    query_end_frame, work_start_frame, work_end_frame, speed, pitch_shift_semitones;
    ``engine``: ``name/version/param_hash``.
``music_v2.npz``
    The same inputs and arrays for engine version 2 (``MusicEngineParams2``):
    its keys are hashed 32-bit keys, its query keys are points
    (``key_lo == key_hi``), its match uses version 2's threshold.  Both files
    are checked: version 1 stays in use for v1 registries and evidence.
``melody.npz``
    ``samples`` int16 at ``sample_rate_hz`` (11025): a 16-note tune
    (tests/engines/test_melody.py's ``_tune`` at 0.25 s a beat) as harmonic tones;
    ``notes`` float64 (k, 4): start_s, end_s, midi_pitch, amplitude of
    :func:`consentry.engines.melody.transcribe`; ``intervals``, ``rhythm`` of its contour;
    ``engine``.
``voice.npz``
    ``samples`` float32 (48000,): 3 s at 16 kHz, ``voiced(4, duration_s=3.0)``
    of tests/engines/test_voice.py (the input of its historic golden components);
    ``ge2e`` float32 (256,) of :func:`consentry.engines.voice.embed_voice`;
    ``campplus`` float32 (192,) of CAM++'s ``embed`` of the same samples;
    ``ge2e_engine``, ``campplus_engine``.
``text.npz``
    A 2,400-word text and an altered excerpt, as UTF-8 bytes; the text
    engine's fingerprint, word digest and match (``tools/golden_text.py``).
``campplus.npz``
    ``a`` float32 (64000,) and ``b`` float32 (32000,) at 16 kHz: the inputs
    whose PyTorch CAM++ embeddings tests/data/campplus_golden.npz holds (that
    file has their parameters and RMS; tests/engines/test_campplus.py's docstring
    says how it was made).  Float32, because rounding to 16 bits moves the
    embedding by more than the test's 1e-4.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "data" / "golden"
TESTS = ROOT / "tests"

#: Tolerances the tests use (and ``--check``), with why.
#: Music hashes are integers: exact.  Pitches are compared in the index's
#: own unit (1/64 semitone), exact.  Match geometry: 1e-6 relative (a least-squares fit).
MUSIC_MATCH_RTOL = 1e-6
#: Transcription runs a float32 ONNX network: pitches exact, times within one model frame (256 / 22050 s).
MELODY_TIME_TOL_S = 256 / 22050
MELODY_AMPLITUDE_TOL = 0.02
#: Speaker embeddings (unit vectors of float32 network outputs): 1e-4 per component.
VOICE_ATOL = 1e-4


# ---------------------------------------------------------------------------- music
def music_expected(inputs, *, version: str = "1") -> dict[str, np.ndarray]:
    """Everything ``music.npz`` (engine version 1) or ``music_v2.npz`` (version 2) holds beside its inputs."""
    from consentry.engines.music import MusicEngine
    from consentry.engines.music.engine import identify_segments
    from consentry.engines.music.extract import index_hashes, query_hashes
    from consentry.engines.music.params import params_for
    from consentry.engines.music.postings import pack_postings
    from consentry.store.segments import IndexSegment, build_directory

    P = params_for(version)
    samples = inputs["samples"]
    keys, frames, midis = index_hashes(samples, P)
    q = query_hashes(samples, P)
    h = hashlib.sha256()
    for a, dtype in ((q.key_lo, "<u4"), (q.key_hi, "<u4"), (q.owner, "<i8")):
        h.update(np.ascontiguousarray(a).astype(dtype).tobytes())
    work, query = music_match_signals(inputs["match_work"])
    wk, wf, wm = index_hashes(work, P)
    order = np.argsort(wk, kind="stable")
    k = wk[order]
    index = [IndexSegment(k, pack_postings(1, wf, wm)[order], *build_directory(k))]
    found = identify_segments(query, index, P)
    match = np.array([[m.fp_id, m.inliers, m.candidates, m.query_start_frame, m.query_end_frame, m.work_start_frame,
                       m.work_end_frame, m.speed, m.pitch_shift_semitones] for m in found], dtype=np.float64)
    return {"keys": keys.astype(np.uint32), "anchor_frame": frames.astype(np.int32),
            "anchor_midi": midis.astype(np.float32), "query_sha256": np.array(h.hexdigest()),
            "match": match.reshape(-1, 9), "sample_rate_hz": np.array(P.sample_rate_hz),
            "engine": np.array(str(MusicEngine(P).id))}


def music_match_signals(match_work_int16: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The match golden's work (float32 at 8 kHz) and its query: seconds 2-9 of it played 3% faster."""
    from scipy.signal import resample_poly

    work = match_work_int16.astype(np.float32) / 32767.0
    return work, resample_poly(work[2 * 8000:9 * 8000], 100, 103).astype(np.float32)


def music_input() -> dict[str, np.ndarray]:
    sys.path[:0] = [str(TESTS), str(TESTS / "engines")]  # conftest, and the test modules whose makers it uses
    from test_engine import notes  # the historic golden input's synthesiser

    from consentry.testing.synth import synthesise_piece

    piece = synthesise_piece(11, duration_s=10.0, sample_rate_hz=8000)
    return {"samples": notes(20261123, duration_s=6.0),
            "match_work": np.round(np.clip(piece, -1, 1) * 32767).astype(np.int16)}


def music_v2_input() -> dict[str, np.ndarray]:
    """Version 2's golden input: the same arrays as version 1's (taken from music.npz when it is there)."""
    path = GOLDEN / "music.npz"
    if path.is_file():
        stored = np.load(path, allow_pickle=False)
        return {k: stored[k] for k in INPUTS["music"]}
    return music_input()


# ---------------------------------------------------------------------------- melody
MELODY_RATE_HZ = 11025


def melody_expected(inputs) -> dict[str, np.ndarray]:
    from consentry.services.check.engines import melody_engine_id
    from consentry.engines.melody import contour_of, melody_from_notes, transcribe

    x = inputs["samples"].astype(np.float32) / 32767.0
    found = transcribe(x, sample_rate_hz=MELODY_RATE_HZ)
    notes = np.array([[n.start_s, n.end_s, n.midi_pitch, n.amplitude] for n in found], dtype=np.float64).reshape(-1, 4)
    c = contour_of(melody_from_notes(found))
    return {"notes": notes, "intervals": np.asarray(c.intervals, np.int64), "rhythm": np.asarray(c.rhythm, np.int64),
            "sample_rate_hz": np.array(MELODY_RATE_HZ), "engine": np.array(melody_engine_id())}


def melody_input() -> np.ndarray:
    sys.path[:0] = [str(TESTS), str(TESTS / "engines")]  # conftest, and the test modules whose makers it uses
    import test_melody as tm

    rng = np.random.default_rng(20261207)
    truth = tm._notes_of(tm._tune(beat_s=0.25), last_s=0.25)
    duration_s = truth[-1][1] + 0.3
    x = np.zeros(int(duration_s * MELODY_RATE_HZ))
    for start, end, midi in truth:
        i, n = int(start * MELODY_RATE_HZ), int((end - start) * MELODY_RATE_HZ)
        t = np.arange(n) / MELODY_RATE_HZ
        f0 = 440.0 * 2 ** ((midi - 69) / 12)
        env = (np.minimum(1, t / 0.01) * np.exp(-t * rng.uniform(1.5, 3))
               * np.minimum(1, (n - np.arange(n)) / (0.02 * MELODY_RATE_HZ)))
        x[i:i + n] += sum(np.sin(2 * np.pi * h * f0 * t) / h ** 1.2 for h in range(1, 7)) * env
    x = 0.8 * x / np.abs(x).max()
    return {"samples": np.round(x * 32767).astype(np.int16)}


# ---------------------------------------------------------------------------- voice
VOICE_RATE_HZ = 16_000


def voice_expected(inputs) -> dict[str, np.ndarray]:
    from consentry.engines.voice import campplus
    from consentry.engines.voice.campplus import load_campplus
    from consentry.engines.voice.encoder import embed_voice, load_encoder

    samples = inputs["samples"]
    found = embed_voice(samples, sample_rate_hz=VOICE_RATE_HZ, encoder=load_encoder())
    if not found.has_speech:
        raise SystemExit(f"the voice golden input has no speech: {found.no_speech_reason}")
    cam = load_campplus()
    return {"ge2e": found.vector.astype(np.float32), "campplus": cam.embed(samples).astype(np.float32),
            "sample_rate_hz": np.array(VOICE_RATE_HZ), "ge2e_engine": np.array(found.engine),
            "campplus_engine": np.array(f"{campplus.ENGINE_NAME}/{campplus.ENGINE_VERSION}/{cam.parameter_hash}")}


def voice_input() -> np.ndarray:
    sys.path[:0] = [str(TESTS), str(TESTS / "engines")]  # conftest, and the test modules whose makers it uses
    from test_voice import voiced  # the historic golden input's synthesiser

    return {"samples": voiced(4, duration_s=3.0)}


def campplus_input() -> dict[str, np.ndarray]:
    """The two inputs behind tests/data/campplus_golden.npz (PyTorch's CAM++ embeddings), made from its parameters.

    That file keeps each input's parameters and RMS, not the samples; the
    samples are kept here, checked against the stored RMS when made.
    """
    sys.path[:0] = [str(TESTS), str(TESTS / "engines")]  # conftest, and the test modules whose makers it uses
    from test_campplus import voice_like_signal

    golden = np.load(TESTS / "data" / "campplus_golden.npz", allow_pickle=False)
    out = {}
    for name in ("a", "b"):
        x = voice_like_signal(
            seed=int(golden[f"{name}_seed"]), duration_s=float(golden[f"{name}_duration_s"]),
            f0_start_hz=float(golden[f"{name}_f0_start_hz"]), f0_end_hz=float(golden[f"{name}_f0_end_hz"]),
            formants_hz=tuple(float(f) for f in golden[f"{name}_formants_hz"]),
            noise_db=float(golden[f"{name}_noise_db"]), n_harmonics=int(golden[f"{name}_n_harmonics"]))
        rms = float(np.sqrt(np.mean(x.astype(np.float64) ** 2)))
        if abs(rms - float(golden[f"{name}_input_rms"])) >= 1e-6:
            raise SystemExit(f"campplus input {name}: RMS {rms} is not the one PyTorch saw; NumPy's stream changed")
        out[name] = x
    return out


def campplus_expected(inputs) -> dict[str, np.ndarray]:
    """Nothing computed here: the expected embeddings are PyTorch's, in tests/data/campplus_golden.npz."""
    return {"sample_rate_hz": np.array(VOICE_RATE_HZ)}


#: The arrays of each file that are inputs (kept when a file is rewritten).
INPUTS = {"music": ("samples", "match_work"), "music_v2": ("samples", "match_work"), "melody": ("samples",), "voice": ("samples",), "campplus": ("a", "b"),
          "text": ("work", "query")}

ENGINES = {
    "music": (music_input, music_expected),
    "music_v2": (music_v2_input, lambda inputs: music_expected(inputs, version="2")),
    "melody": (melody_input, melody_expected),
    "voice": (voice_input, voice_expected),
    "campplus": (campplus_input, campplus_expected),
    "text": (lambda: _golden_text().text_input(), lambda inputs: _golden_text().text_expected(inputs)),
}


def _golden_text():
    """tools/golden_text.py: the text engine's golden input and expected output (documented there)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import golden_text

    return golden_text


def compare(name: str, stored, fresh: dict[str, np.ndarray]) -> list[str]:
    """Differences between a stored golden file and freshly computed outputs (the tests' tolerances)."""
    bad = []
    for key, value in fresh.items():
        old = stored[key]
        if key == "match":
            ok = old.shape == value.shape and np.allclose(old, value, rtol=MUSIC_MATCH_RTOL, atol=0)
        elif key == "anchor_midi":
            ok = np.array_equal(np.round(old.astype(np.float64) * 64), np.round(value.astype(np.float64) * 64))
        elif key == "notes":
            ok = (old.shape == value.shape and np.array_equal(old[:, 2], value[:, 2])
                  and np.allclose(old[:, :2], value[:, :2], rtol=0, atol=MELODY_TIME_TOL_S)
                  and np.allclose(old[:, 3], value[:, 3], rtol=0, atol=MELODY_AMPLITUDE_TOL))
        elif key in ("ge2e", "campplus"):
            ok = np.allclose(old, value, rtol=0, atol=VOICE_ATOL)
        else:
            ok = old.shape == value.shape and np.array_equal(old, value)
        if not ok:
            bad.append(f"{name}: {key} differs")
    return bad


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", choices=sorted(ENGINES), action="append", help="engine(s) to do (default: all)")
    ap.add_argument("--check", action="store_true", help="compare with the stored files; write nothing")
    ap.add_argument("--new-inputs", action="store_true", help="synthesise the inputs again instead of reusing them")
    ap.add_argument("--out", type=Path, default=GOLDEN, help=f"folder (default: {GOLDEN.relative_to(ROOT)})")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT / "src"))
    problems: list[str] = []
    for name in args.only or sorted(ENGINES):
        make_input, expected = ENGINES[name]
        path = args.out / f"{name}.npz"
        stored = np.load(path, allow_pickle=False) if path.is_file() else None
        if args.check:
            if stored is None:
                problems.append(f"{name}: {path} is missing")
                continue
            problems += compare(name, stored, expected(stored))
            continue
        if stored is None or args.new_inputs:
            inputs = make_input()
        else:
            inputs = {k: stored[k] for k in stored.files if k in INPUTS[name]}
        args.out.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(path, **inputs, **expected(inputs))
        print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path} ({path.stat().st_size:,} bytes)")
    for p in problems:
        print(p, file=sys.stderr)
    if args.check and not problems:
        print("golden vectors: all match")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
