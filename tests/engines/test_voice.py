"""Speaker embeddings: the torch-free checkpoint reader, the front end, the encoder, scores.

Media are made here: a synthetic voiced signal (pulse train through
formant resonators) and, where espeak-ng is installed, synthesised speech.
Tests that need the model use the GE2E weights that ship inside consentry
(``consentry/weights/ge2e-resemblyzer.npz``, see :mod:`consentry.weights`);
they skip only on an install that lacks them.
"""

from __future__ import annotations

import contextlib
import io
import os
import pickle
import shutil
import subprocess
import sys
import types
import zipfile
from pathlib import Path

import numpy as np
import pytest
from scipy.signal import lfilter

from consentry.engines.voice import features
from consentry.engines.voice.score import LogisticCalibration, decide, equal_error_rate, threshold_at_false_accept
from consentry.engines.voice.torchfile import LEGACY_MAGIC, CheckpointError, load_state

RATE = 16_000


# --------------------------------------------------------------------------- checkpoint writing helpers


@contextlib.contextmanager
def fake_torch():
    """Importable stand-ins named like torch's, so that pickle can write a checkpoint without torch."""
    torch = types.ModuleType("torch")
    utils = types.ModuleType("torch._utils")

    class FloatStorage:
        pass

    FloatStorage.__module__, FloatStorage.__qualname__ = "torch", "FloatStorage"

    def _rebuild_tensor_v2(*args):
        raise AssertionError("never called when writing")

    _rebuild_tensor_v2.__module__, _rebuild_tensor_v2.__qualname__ = "torch._utils", "_rebuild_tensor_v2"
    torch.FloatStorage = FloatStorage
    utils._rebuild_tensor_v2 = _rebuild_tensor_v2
    torch._utils = utils
    saved = {k: sys.modules.get(k) for k in ("torch", "torch._utils")}
    sys.modules["torch"], sys.modules["torch._utils"] = torch, utils
    try:
        yield torch
    finally:
        for k, v in saved.items():
            if v is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = v


class _Storage:
    def __init__(self, key: str, data: np.ndarray) -> None:
        self.key, self.data = key, data.astype("<f4").ravel()


class _Tensor:
    def __init__(self, storage: _Storage, offset: int, size: tuple, stride: tuple) -> None:
        self.args = (storage, offset, size, stride)


def _pickle_state(obj, torch) -> bytes:
    buffer = io.BytesIO()

    class Writer(pickle.Pickler):
        def persistent_id(self, o):
            if isinstance(o, _Storage):
                return ("storage", torch.FloatStorage, o.key, "cpu", len(o.data))
            return None

        def reducer_override(self, o):
            if isinstance(o, _Tensor):
                import collections

                return torch._utils._rebuild_tensor_v2, (*o.args, False, collections.OrderedDict())
            return NotImplemented

    Writer(buffer, protocol=2).dump(obj)
    return buffer.getvalue()


def write_legacy(path: Path, obj, storages: list[_Storage]) -> None:
    with fake_torch() as torch:
        body = _pickle_state(obj, torch)
    with open(path, "wb") as f:
        for header in (LEGACY_MAGIC, 1001, {"protocol_version": 1001, "little_endian": True, "type_sizes": {}}):
            f.write(pickle.dumps(header, protocol=2))
        f.write(body)
        f.write(pickle.dumps([s.key for s in storages], protocol=2))
        for s in storages:
            f.write(np.int64(len(s.data)).tobytes())
            f.write(s.data.tobytes())


def write_zip(path: Path, obj, storages: list[_Storage]) -> None:
    with fake_torch() as torch:
        body = _pickle_state(obj, torch)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as z:
        z.writestr("archive/data.pkl", body)
        for s in storages:
            z.writestr(f"archive/data/{s.key}", s.data.tobytes())


class _SystemCall:
    """Pickles as a call of os.system: what a hostile checkpoint does."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


# --------------------------------------------------------------------------- the checkpoint reader


@pytest.mark.parametrize("writer", [write_legacy, write_zip])
def test_reader_round_trip_with_shared_and_strided_storage(tmp_path, writer):
    base = np.arange(24, dtype=np.float32)
    shared = _Storage("0", base)
    other = _Storage("1", np.array([7.5], np.float32))
    state = {
        "step": 3,
        "model_state": {
            "a": _Tensor(shared, 0, (2, 3), (3, 1)),
            "b_transposed": _Tensor(shared, 6, (3, 2), (1, 3)),
            "c": _Tensor(other, 0, (1,), (1,)),
        },
    }
    path = tmp_path / "model.pt"
    writer(path, state, [shared, other])
    loaded = load_state(path)
    assert loaded["step"] == 3
    ms = loaded["model_state"]
    np.testing.assert_array_equal(ms["a"], base[:6].reshape(2, 3))
    np.testing.assert_array_equal(ms["b_transposed"], base[6:12].reshape(2, 3).T)
    np.testing.assert_array_equal(ms["c"], [7.5])
    assert ms["b_transposed"].flags.c_contiguous and ms["a"].dtype == np.float32


@pytest.mark.parametrize("writer", [write_legacy, write_zip])
def test_reader_refuses_hostile_pickle_without_running_it(tmp_path, writer):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    writer(path, {"model_state": _SystemCall(f"touch {marker}")}, [])
    with pytest.raises(CheckpointError, match="forbidden name (posix|os|nt).system"):
        load_state(path)
    assert not marker.exists()


def test_reader_refuses_builtins_eval_and_tensor_past_storage(tmp_path):
    evil = tmp_path / "eval.pt"
    with zipfile.ZipFile(evil, "w") as z:
        z.writestr("archive/data.pkl", b"\x80\x02cbuiltins\neval\nX\x04\x00\x00\x001+1\x85R.")
    with pytest.raises(CheckpointError, match="forbidden name builtins.eval"):
        load_state(evil)
    short = _Storage("0", np.zeros(4, np.float32))
    path = tmp_path / "oob.pt"
    write_legacy(path, {"w": _Tensor(short, 2, (3,), (1,))}, [short])
    with pytest.raises(CheckpointError, match="past the end"):
        load_state(path)


@pytest.mark.parametrize("name", ["../../etc/evil/data.pkl", "/abs/data.pkl", "archive/..\\x/data.pkl"])
def test_reader_refuses_path_traversal_in_zip(tmp_path, name):
    path = tmp_path / "trav.pt"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(name, pickle.dumps({}, protocol=2))
    with pytest.raises(CheckpointError, match="unsafe zip member"):
        load_state(path)


def test_reader_refuses_huge_members_and_truncation(tmp_path):
    path = tmp_path / "bomb.pt"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("archive/data.pkl", pickle.dumps({}, protocol=2))
        z.writestr("archive/data/0", b"\0" * (4 << 20))  # 4 MiB of zeros, a few KiB compressed
    assert path.stat().st_size < 64 << 10
    with pytest.raises(CheckpointError, match="more than the limit"):
        load_state(path, max_bytes=1 << 20)
    storage = _Storage("0", np.zeros(100, np.float32))
    legacy = tmp_path / "cut.pt"
    write_legacy(legacy, {"w": _Tensor(storage, 0, (100,), (1,))}, [storage])
    legacy.write_bytes(legacy.read_bytes()[:-40])
    with pytest.raises(CheckpointError, match="truncated"):
        load_state(legacy)
    for junk in (b"", b"not a checkpoint at all", b"PK\x03\x04garbage"):
        (tmp_path / "junk.pt").write_bytes(junk)
        with pytest.raises(CheckpointError):
            load_state(tmp_path / "junk.pt")
    with pytest.raises(CheckpointError, match="cannot be read"):
        load_state(tmp_path / "missing.pt")


# --------------------------------------------------------------------------- front end


def test_mel_scale_and_filterbank_match_reference():
    np.testing.assert_allclose(features.hz_to_mel([0.0, 1000.0, 6400.0]), [0.0, 15.0, 42.0], atol=1e-9)
    np.testing.assert_allclose(features.mel_to_hz(features.hz_to_mel([123.0, 4321.0])), [123.0, 4321.0])
    np.testing.assert_allclose(features.mel_filterbank(), features.mel_filterbank_reference(), atol=1e-8)
    x = np.random.default_rng(1).standard_normal(3000).astype(np.float32) * 0.1
    fast, slow = features.mel_power_frames(x), features.mel_power_frames_reference(x)
    assert fast.shape == slow.shape == (1 + 3000 // 160, 40)
    np.testing.assert_allclose(fast, slow, rtol=1e-4, atol=1e-6 * slow.max())


def voiced(seed: int, *, duration_s: float, f0_hz: float = 120.0) -> np.ndarray:
    """Speech-like test signal: a glottal pulse train with vibrato through changing formants, syllable envelope."""
    rng = np.random.default_rng(seed)
    n = int(duration_s * RATE)
    t = np.arange(n) / RATE
    f0 = f0_hz * (1 + 0.05 * np.sin(2 * np.pi * 3 * t))
    phase = np.cumsum(f0) / RATE
    pulses = (np.diff(np.floor(phase), prepend=0) > 0).astype(np.float64)
    out = np.zeros(n)
    syllable = int(0.25 * RATE)
    for start in range(0, n, syllable):
        seg = pulses[start:start + syllable]
        y = seg
        for formant in (rng.uniform(300, 800), rng.uniform(900, 2200), rng.uniform(2400, 3200)):
            r = 0.97
            theta = 2 * np.pi * formant / RATE
            y = lfilter([1 - r], [1, -2 * r * np.cos(theta), r * r], y)
        out[start:start + len(y)] = y * np.hanning(len(y))
    return (0.5 * out / np.abs(out).max()).astype(np.float32)


def test_speech_mask_keeps_voiced_drops_noise_and_silence():
    assert features.speech_mask(voiced(0, duration_s=2.0)).mean() > 0.8
    rng = np.random.default_rng(2)
    white = rng.standard_normal(2 * RATE).astype(np.float32) * 0.1
    brown = np.cumsum(rng.standard_normal(2 * RATE)).astype(np.float32)
    brown = 0.3 * brown / np.abs(brown).max()
    for noise in (white, brown, np.zeros(2 * RATE, np.float32)):
        assert features.speech_mask(noise).mean() < 0.1


# --------------------------------------------------------------------------- encoder (needs the weights)


def _encoder():
    from consentry.engines.voice.encoder import ModelUnavailable, load_encoder

    try:
        return load_encoder()
    except ModelUnavailable as exc:
        pytest.skip(f"speaker model not installed ({exc})")


def test_real_checkpoint_reads_without_torch():
    encoder = _encoder()
    assert "torch" not in sys.modules
    assert len(encoder.layers) == 3 and encoder.embedding_size == 256


def test_fast_encoder_agrees_with_reference():
    encoder = _encoder()
    mels = features.mel_power_frames(voiced(3, duration_s=0.5))[None, :40]
    mels = np.concatenate([mels, mels[:, ::-1]])
    np.testing.assert_allclose(encoder.embed_partials(mels), encoder.embed_partials_reference(mels), atol=2e-5)


def test_embedding_is_unit_norm_deterministic_and_golden():
    from consentry.engines.voice.encoder import embed_voice

    _encoder()
    x = np.load(GOLDEN_FILE, allow_pickle=False)["samples"]  # voiced(4, duration_s=3.0) as stored
    a = embed_voice(x, sample_rate_hz=RATE)
    b = embed_voice(x.copy(), sample_rate_hz=RATE)
    assert a.has_speech and a.vector.shape == (256,) and a.vector.dtype == np.float32
    assert abs(float(np.linalg.norm(a.vector)) - 1.0) < 1e-5 and (a.vector >= 0).all()
    np.testing.assert_array_equal(a.vector, b.vector)
    assert a.engine.startswith("voice-ge2e/1/")
    # Golden vector: a change of the front end or of the network shows here.
    np.testing.assert_allclose(a.vector[list(GOLDEN)], list(GOLDEN.values()), atol=2e-3)
    # 44.1 kHz and stereo input are resampled / mixed down to the same voice.
    from scipy.signal import resample_poly

    hi = resample_poly(x, 441, 160).astype(np.float32)
    stereo = embed_voice(np.stack([hi, hi], axis=1), sample_rate_hz=44_100)
    assert float(stereo.vector @ a.vector) > 0.95


#: Largest components of the embedding of ``voiced(4, duration_s=3.0)`` (stored in :data:`GOLDEN_FILE`).
GOLDEN = {113: 0.197, 132: 0.172, 182: 0.206, 213: 0.194, 218: 0.236, 239: 0.189}

GOLDEN_FILE = Path(__file__).parents[1] / "data" / "golden" / "voice.npz"


def test_embeddings_golden_vector():
    """The stored input (``voiced(4, duration_s=3.0)`` as made once, float32 at 16 kHz) and both models' prints.

    GE2E's and CAM++'s embeddings are unit vectors of float32 networks run in
    NumPy: each component within 1e-4 of the stored one (BLAS may sum in
    another order).  If this fails, a front end or a network changed: bump
    the engine's version and rewrite the file with
    ``tools/make_golden.py --only voice``.
    """
    from consentry.engines.voice import campplus
    from consentry.engines.voice.encoder import ModelUnavailable, embed_voice

    encoder = _encoder()
    golden = np.load(GOLDEN_FILE, allow_pickle=False)
    x = golden["samples"]
    assert x.dtype == np.float32 and int(golden["sample_rate_hz"]) == RATE
    a = embed_voice(x, sample_rate_hz=RATE, encoder=encoder)
    assert a.has_speech and a.engine == str(golden["ge2e_engine"])
    np.testing.assert_allclose(a.vector, golden["ge2e"], rtol=0, atol=1e-4)
    # The historic components still hold on the stored input.
    np.testing.assert_allclose(a.vector[list(GOLDEN)], list(GOLDEN.values()), atol=2e-3)
    try:
        cam = campplus.load_campplus()
    except ModelUnavailable as exc:
        pytest.skip(f"CAM++ model not installed ({exc})")
    assert f"{campplus.ENGINE_NAME}/{campplus.ENGINE_VERSION}/{cam.parameter_hash}" == str(golden["campplus_engine"])
    np.testing.assert_allclose(cam.embed(x), golden["campplus"], rtol=0, atol=1e-4)


@pytest.mark.parametrize(
    "make, reason",
    [
        (lambda: np.zeros(3 * RATE, np.float32), "silent"),
        (lambda: voiced(5, duration_s=0.6), "at least 1 s"),
        (lambda: np.zeros(0, np.float32), "at least 1 s"),
        (lambda: np.random.default_rng(6).standard_normal(3 * RATE).astype(np.float32) * 0.2, "no speech"),
        (lambda: np.full(3 * RATE, np.nan, np.float32), "silent"),
    ],
    ids=["silence", "short", "empty", "white-noise", "nan"],
)
def test_bad_input_gives_no_speech_not_a_crash(make, reason):
    from consentry.engines.voice.encoder import embed_voice

    _encoder()
    result = embed_voice(make(), sample_rate_hz=RATE)
    assert not result.has_speech and result.vector is None
    assert reason in result.no_speech_reason


def _espeak(text: str, voice: str, tmp_path: Path) -> np.ndarray:
    from consentry.io.decode.audio import decode_audio

    path = tmp_path / f"{voice}-{abs(hash(text))}.wav"
    subprocess.run(["espeak-ng", "-v", voice, "-w", str(path), text], check=True, capture_output=True)
    return decode_audio(path, sample_rate_hz=RATE).samples


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed (apt-get install espeak-ng)")
def test_same_espeak_voice_is_closer_than_other_voices(tmp_path):
    from consentry.engines.voice.encoder import embed_voice

    _encoder()
    first = "The quick brown fox jumps over the lazy dog while the children watch from the window."
    second = "Please remember to bring your umbrella, because the forecast says it will rain all afternoon."
    vec = {
        (voice, i): embed_voice(_espeak(text, voice, tmp_path), sample_rate_hz=RATE).vector
        for voice in ("en+m1", "en+f2")
        for i, text in enumerate((first, second))
    }
    same_m = float(vec["en+m1", 0] @ vec["en+m1", 1])
    same_f = float(vec["en+f2", 0] @ vec["en+f2", 1])
    across = [float(vec["en+m1", i] @ vec["en+f2", j]) for i in range(2) for j in range(2)]
    assert min(same_m, same_f) > max(across) + 0.1


# --------------------------------------------------------------------------- scores


def test_eer_threshold_and_calibration():
    rng = np.random.default_rng(7)
    targets = rng.normal(0.8, 0.05, 2000)
    nontargets = rng.normal(0.6, 0.05, 2000)
    eer, threshold = equal_error_rate(targets, nontargets)
    assert 0.02 < eer < 0.04 and abs(threshold - 0.7) < 0.01  # Phi(-2) = 0.023
    assert equal_error_rate([0.9, 0.8], [0.1, 0.2]) == (0.0, 0.8)
    far1 = threshold_at_false_accept(nontargets, false_accept_rate=0.01)
    assert np.mean(nontargets >= far1) <= 0.01 < np.mean(nontargets >= far1 - 0.01)
    calibration = LogisticCalibration.fit(targets, nontargets)
    assert abs(calibration.probability(0.7) - 0.5) < 0.05
    assert calibration.probability(0.9) > 0.99 and calibration.probability(0.5) < 0.01
    decision = decide(0.95)
    assert decision.is_match and decision.probability > 0.5
    assert not decide(0.2).is_match


# --------------------------------------------------------------------------- windows and the speech gate


def test_windows_share_the_whole_print_and_sit_where_the_speech_is():
    from consentry.engines.voice.encoder import embed_voice, embed_voice_windows

    encoder = _encoder()
    x = np.zeros(20 * RATE, np.float32)
    x[8 * RATE: 13 * RATE] = voiced(7, duration_s=5.0)
    track = embed_voice_windows(x, sample_rate_hz=RATE, encoder=encoder)
    whole = embed_voice(x, sample_rate_hz=RATE, encoder=encoder)
    assert np.array_equal(track.whole.vector, whole.vector) and track.whole.speech_s == whole.speech_s
    assert track.windows, "a 5-s voice gives windows"
    for w in track.windows:
        assert 6.5 <= w.start_s and w.end_s <= 14.5 and w.end_s - w.start_s == pytest.approx(3.0)
        assert w.speech_s >= 1.5 and abs(float(np.linalg.norm(w.vector)) - 1) < 1e-5
    assert track.partials.shape == (whole.n_partials, 256) and track.partial_centres_s.shape == (whole.n_partials,)
    assert np.all((track.partial_centres_s >= 7.5) & (track.partial_centres_s <= 13.5))


@pytest.mark.parametrize("make", [lambda: np.zeros(10 * RATE, np.float32), lambda: np.zeros(100, np.float32),
                                  lambda: np.random.default_rng(3).standard_normal(8 * RATE).astype(np.float32) * 0.2,
                                  lambda: np.full(5 * RATE, np.inf, np.float32)],
                         ids=["silence", "tiny", "noise", "inf"])
def test_windows_of_bad_input_are_empty_not_a_crash(make):
    from consentry.engines.voice.encoder import embed_voice_windows

    track = embed_voice_windows(make(), sample_rate_hz=RATE, encoder=_encoder())
    assert track.windows == [] and not track.whole.has_speech and track.whole.no_speech_reason
    assert track.partials.shape == (0, 256)


def test_speech_gate_shapes_and_refuses_wrong_sizes():
    from consentry.engines.voice.gate import is_speech, speech_likeness

    v = np.random.default_rng(0).random((4, 256))
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    assert speech_likeness(v).shape == (4,) and is_speech(v).dtype == bool
    assert speech_likeness(v[0]).shape == (1,)
    with pytest.raises(ValueError, match="256"):
        speech_likeness(np.ones((2, 40)))


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed (apt-get install espeak-ng)")
def test_speech_gate_passes_speech_and_stops_synthesised_music(tmp_path):
    from consentry.testing.synth import synthesise_piece
    from consentry.engines.voice.encoder import embed_voice_windows
    from consentry.engines.voice.gate import is_speech

    encoder = _encoder()
    speech = _espeak("Our train was delayed by forty minutes, so we missed the beginning of the concert.", "en+m2",
                     tmp_path)
    sp = embed_voice_windows(speech, sample_rate_hz=RATE, encoder=encoder)
    assert sp.windows and is_speech(np.stack([w.vector for w in sp.windows])).mean() >= 0.75
    music = synthesise_piece(3, duration_s=30.0, sample_rate_hz=RATE)
    mu = embed_voice_windows(0.5 * music / np.abs(music).max(), sample_rate_hz=RATE, encoder=encoder)
    if mu.windows:  # the VAD calls instruments voiced; the gate must not
        assert is_speech(np.stack([w.vector for w in mu.windows])).mean() <= 0.1


def test_window_threshold_rises_with_the_creators_compared():
    """Up to the voices it was measured with the threshold is the measured one; beyond, it rises by the tail.

    (The fitted values themselves are checked against their command's record in tests/engines/test_constants.py.)
    """
    from consentry.engines.voice.score import (
        WINDOW_THRESHOLD, WINDOW_THRESHOLD_TAIL, WINDOW_THRESHOLD_VOICES, window_threshold,
    )

    n0 = WINDOW_THRESHOLD_VOICES
    assert [window_threshold(n) for n in (0, 1, 5, n0)] == [WINDOW_THRESHOLD] * 4
    values = [window_threshold(n) for n in (n0 + 1, 2 * n0, 5 * n0, 50 * n0, 10**6)]
    assert all(a < b for a, b in zip([WINDOW_THRESHOLD] + values, values))
    # Each doubling of the creators compared adds the tail's scale times ln 2 (rounded to 4 decimals).
    assert window_threshold(2 * n0) - WINDOW_THRESHOLD == pytest.approx(WINDOW_THRESHOLD_TAIL * np.log(2), abs=1e-4)
    assert window_threshold(50 * n0) == pytest.approx(WINDOW_THRESHOLD + WINDOW_THRESHOLD_TAIL * np.log(50), abs=1e-4)


def test_cohort_threshold_rises_with_the_creators_compared_as_the_window_threshold_does():
    from consentry.engines.voice.score import (
        COHORT_THRESHOLD, COHORT_THRESHOLD_TAIL, COHORT_THRESHOLD_VOICES, cohort_threshold,
    )

    n0 = COHORT_THRESHOLD_VOICES
    assert [cohort_threshold(n) for n in (1, 11, n0)] == [COHORT_THRESHOLD] * 3
    values = [cohort_threshold(n) for n in (n0 + 1, 2 * n0, 50 * n0, 10**6)]
    assert all(a < b for a, b in zip([COHORT_THRESHOLD] + values, values))
    assert cohort_threshold(2 * n0) - COHORT_THRESHOLD == pytest.approx(COHORT_THRESHOLD_TAIL * np.log(2), abs=1e-4)


def test_cohort_normalised_agrees_with_its_reference_and_refuses_a_small_cohort():
    from consentry.engines.voice.score import COHORT_MIN, cohort_normalised, cohort_normalised_reference

    rng = np.random.default_rng(21)
    scores = rng.uniform(-0.2, 0.9, size=(9, COHORT_MIN + 6))
    scores[:, 3] = 0.5  # a constant column: its cohorts still vary
    assert np.allclose(cohort_normalised(scores), cohort_normalised_reference(scores), atol=1e-12)
    # A window that is close to every voice (a house sound) does not stand out; one close to a single voice does.
    flat = np.full((1, COHORT_MIN + 1), 0.6)
    assert np.allclose(cohort_normalised(flat), 0.0)
    lone = np.full((1, COHORT_MIN + 1), 0.2)
    lone[0, 4] = 0.6
    z = cohort_normalised(lone)[0]
    assert z.argmax() == 4 and z[4] > 10 and np.all(np.delete(z, 4) < 0)
    with pytest.raises(ValueError, match="creators"):
        cohort_normalised(np.zeros((3, COHORT_MIN)))

