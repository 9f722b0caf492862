"""Speaker embeddings with Resemblyzer's GE2E encoder, in NumPy.

The network
-----------
The `Resemblyzer` package (Resemble AI, Apache-2.0) ships the trained
weights of a GE2E speaker encoder (Wan et al., 2018, "Generalized
End-to-End Loss for Speaker Verification") as ``resemblyzer/pretrained.pt``
inside its wheel. Consentry ships its ``model_state`` tensors, converted
once to ``consentry/weights/ge2e-resemblyzer.npz`` (see
:mod:`consentry.weights`), so neither resemblyzer nor torch is needed; a
``.pt`` checkpoint given by path is read by
:func:`consentry.engines.voice.torchfile.load_state` (no torch). The state dict
describes, and :class:`SpeakerEncoder` computes:

1. three stacked LSTM layers, 256 hidden units each, over a partial
   utterance of 160 frames x 40 mel bands (PyTorch's LSTM equations, gate
   order input, forget, cell, output; both bias vectors added);
2. the last layer's hidden state after the last frame, through a 256 x 256
   linear layer and a ReLU;
3. division by its L2 norm: a partial embedding, shape (256,), all
   components >= 0 (so cosine similarities lie in [0, 1]).

``similarity_weight`` / ``similarity_bias`` in the checkpoint belong to the
training loss and are not used.

The utterance
-------------
An utterance (after loudness normalisation and pause removal, see
:mod:`consentry.engines.voice.features`) is cut into partial windows of 160 frames
(1.6 s) every 77 frames (about 1.3 windows per second); the last window is
zero-padded and kept if at least 75 % of it holds audio, and a clip shorter
than one window gives one padded window. The utterance embedding is the mean
of the partial embeddings, L2-normalised.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from consentry import weights
from consentry.domain.errors import InputError
from consentry.engines.voice import features
from consentry.engines.voice.torchfile import load_state

__all__ = [
    "ENGINE_NAME",
    "ENGINE_VERSION",
    "ModelUnavailable",
    "SpeakerEncoder",
    "VoicePrint",
    "VoiceTrack",
    "VoiceWindow",
    "embed_voice",
    "embed_voice_windows",
    "find_weights",
    "load_encoder",
    "read_weights",
    "partial_windows",
    "speech_of",
]

ENGINE_NAME = "voice-ge2e"
ENGINE_VERSION = "1"
#: Frames in one partial window (1.6 s).
PARTIAL_FRAMES = 160
#: Frames between the starts of consecutive partial windows (0.77 s).
PARTIAL_HOP_FRAMES = int(round(features.SAMPLE_RATE_HZ / 1.3 / features.HOP_SAMPLES))
#: Share of the last partial window that must hold audio for it to count.
MIN_LAST_COVERAGE = 0.75
#: Inputs shorter than this are refused as too short (seconds).
MIN_DURATION_S = 1.0
#: Less speech than this after pause removal means "no speech" (seconds).
MIN_SPEECH_S = 0.5

PARAMETERS = {
    "sample_rate_hz": features.SAMPLE_RATE_HZ,
    "window_samples": features.WINDOW_SAMPLES,
    "hop_samples": features.HOP_SAMPLES,
    "n_mels": features.N_MELS,
    "mel_scale": "slaney",
    "target_dbfs": features.TARGET_DBFS,
    "vad": "autocorr-0.45/loud-15dB/avg8/dil7",
    "partial_frames": PARTIAL_FRAMES,
    "partial_hop_frames": PARTIAL_HOP_FRAMES,
    "min_last_coverage": MIN_LAST_COVERAGE,
    "min_speech_s": MIN_SPEECH_S,
}


class ModelUnavailable(InputError):
    """The speaker model's weights are not installed."""


def find_weights() -> Path:
    """Path of the GE2E weights: consentry's packaged ``.npz``, else ``pretrained.pt`` of an installed resemblyzer.

    The resemblyzer package is only located, never imported (importing it
    would import torch).

    Raises
    ------
    ModelUnavailable
        If neither is there (an install of consentry without its package data).
    """
    packaged = weights.find(weights.GE2E_NPZ)
    if packaged is not None:
        return packaged.path
    try:
        spec = importlib.util.find_spec("resemblyzer")
    except (ImportError, ValueError):
        spec = None
    for folder in (spec.submodule_search_locations or []) if spec is not None else []:
        candidate = Path(folder) / "pretrained.pt"
        if candidate.is_file():
            return candidate
    raise ModelUnavailable(f"the speaker model ({weights.GE2E_NPZ}) is missing from this install of consentry; "
                           f"{weights.REINSTALL_HINT}")


def read_weights(path: Path) -> tuple[dict, str]:
    """The state in a weights file, and the SHA-256 that names it in engine strings.

    Parameters
    ----------
    path : pathlib.Path
        A ``.npz`` archive of arrays (read without pickle), or a PyTorch
        checkpoint (read by :func:`consentry.engines.voice.torchfile.load_state`).

    Returns
    -------
    (dict, str)
        The state (tensor name to array for ``.npz``; the checkpoint's
        object for ``.pt``) and :func:`consentry.weights.identity_sha256`.

    Raises
    ------
    ModelUnavailable
        A packaged file that is damaged, or an ``.npz`` that is not one of arrays.
    consentry.engines.voice.torchfile.CheckpointError
        A ``.pt`` file that is unreadable, truncated or not a PyTorch checkpoint.
    """
    if path.suffix != ".npz":
        state = load_state(path)
        return state, weights.identity_sha256(path, weights.sha256_file(path))
    try:
        data = path.read_bytes()
        # A damaged packaged file is refused before it is parsed.
        identity = weights.identity_sha256(path, hashlib.sha256(data).hexdigest())
        return weights.read_npz(data, source=str(path)), identity
    except OSError as exc:
        raise ModelUnavailable(f"{path}: cannot be read ({exc.strerror or exc})") from None
    except ValueError as exc:  # weights.WeightsDamaged, or not an archive of arrays
        raise ModelUnavailable(str(exc)) from None


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


@dataclass(frozen=True)
class _LstmLayer:
    weight_ih_t: np.ndarray  # (in, 4H)
    weight_hh_t: np.ndarray  # (H, 4H)
    bias: np.ndarray  # (4H,)


class SpeakerEncoder:
    """The GE2E network: mel frames in, unit-norm speaker embeddings out.

    Parameters
    ----------
    state : dict of str to numpy.ndarray
        The checkpoint's ``model_state``: ``lstm.{weight_ih,weight_hh,
        bias_ih,bias_hh}_l{k}`` and ``linear.{weight,bias}``.
    weights_sha256 : str
        SHA-256 of the weights file, part of :attr:`parameter_hash`.
    """

    def __init__(self, state: dict, *, weights_sha256: str = "") -> None:
        layers = []
        k = 0
        while f"lstm.weight_ih_l{k}" in state:
            w_ih = np.asarray(state[f"lstm.weight_ih_l{k}"], dtype=np.float32)
            w_hh = np.asarray(state[f"lstm.weight_hh_l{k}"], dtype=np.float32)
            bias = np.asarray(state[f"lstm.bias_ih_l{k}"], np.float32) + np.asarray(state[f"lstm.bias_hh_l{k}"], np.float32)
            hidden = w_hh.shape[1]
            if w_ih.shape[0] != 4 * hidden or w_hh.shape != (4 * hidden, hidden) or bias.shape != (4 * hidden,):
                raise ValueError(f"LSTM layer {k} has inconsistent shapes")
            layers.append(_LstmLayer(np.ascontiguousarray(w_ih.T), np.ascontiguousarray(w_hh.T), bias))
            k += 1
        if not layers or layers[0].weight_ih_t.shape[0] != features.N_MELS:
            raise ValueError("checkpoint has no LSTM taking 40 mel bands")
        self.layers = tuple(layers)
        self.linear_weight_t = np.ascontiguousarray(np.asarray(state["linear.weight"], np.float32).T)
        self.linear_bias = np.asarray(state["linear.bias"], np.float32)
        self.embedding_size = self.linear_bias.shape[0]
        self.weights_sha256 = weights_sha256

    @property
    def parameter_hash(self) -> str:
        """SHA-256 (hex, 16 chars) of the front-end parameters and the weights."""
        blob = json.dumps({**PARAMETERS, "weights_sha256": self.weights_sha256}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def embed_partials(self, mels: np.ndarray) -> np.ndarray:
        """Embed a batch of partial windows.

        Parameters
        ----------
        mels : numpy.ndarray, shape (batch, frames, 40)
            Mel power frames (see :func:`~consentry.engines.voice.features.mel_power_frames`).

        Returns
        -------
        numpy.ndarray of float32, shape (batch, 256)
            Unit-norm embeddings (a row that the ReLU zeroes entirely stays 0).
        """
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=1, user_api="blas"):
            return self._embed_partials(np.asarray(mels, dtype=np.float32))

    def _embed_partials(self, x: np.ndarray) -> np.ndarray:
        # OpenBLAS threads only spin on (batch, 256) x (256, 1024) products:
        # measured 4.0 s with 2 threads on a busy 2-core machine, 0.15 s with one.
        batch, n_frames, _ = x.shape
        h = np.zeros((batch, 0), np.float32)
        for layer in self.layers:
            hidden = layer.weight_hh_t.shape[0]
            inputs = x @ layer.weight_ih_t + layer.bias  # (batch, frames, 4H)
            h = np.zeros((batch, hidden), np.float32)
            c = np.zeros((batch, hidden), np.float32)
            outputs = np.empty((batch, n_frames, hidden), np.float32)
            for t in range(n_frames):
                gates = inputs[:, t] + h @ layer.weight_hh_t
                i = _sigmoid(gates[:, :hidden])
                f = _sigmoid(gates[:, hidden:2 * hidden])
                g = np.tanh(gates[:, 2 * hidden:3 * hidden])
                o = _sigmoid(gates[:, 3 * hidden:])
                c = f * c + i * g
                h = o * np.tanh(c)
                outputs[:, t] = h
            x = outputs
        raw = np.maximum(h @ self.linear_weight_t + self.linear_bias, 0.0)
        norms = np.linalg.norm(raw, axis=1, keepdims=True)
        return (raw / np.where(norms > 0, norms, 1.0)).astype(np.float32)

    def embed_partials_reference(self, mels: np.ndarray) -> np.ndarray:
        """Slow version of :meth:`embed_partials`: one window, one step at a time, float64."""
        out = []
        for window in np.asarray(mels, dtype=np.float64):
            sequence = list(window)
            for layer in self.layers:
                hidden = layer.weight_hh_t.shape[0]
                w_ih = layer.weight_ih_t.astype(np.float64)
                w_hh = layer.weight_hh_t.astype(np.float64)
                h = np.zeros(hidden)
                c = np.zeros(hidden)
                next_sequence = []
                for frame in sequence:
                    z = frame @ w_ih + h @ w_hh + layer.bias
                    i, f, g, o = (z[j * hidden:(j + 1) * hidden] for j in range(4))
                    c = 1 / (1 + np.exp(-f)) * c + 1 / (1 + np.exp(-i)) * np.tanh(g)
                    h = 1 / (1 + np.exp(-o)) * np.tanh(c)
                    next_sequence.append(h)
                sequence = next_sequence
            raw = np.maximum(h @ self.linear_weight_t.astype(np.float64) + self.linear_bias, 0.0)
            out.append(raw / np.linalg.norm(raw))
        return np.array(out)


@functools.lru_cache(maxsize=2)
def load_encoder(weights_path: str | os.PathLike | None = None) -> SpeakerEncoder:
    """Load (once per process) the encoder from ``weights_path`` (``.npz`` or ``.pt``) or :func:`find_weights` ()."""
    path = Path(weights_path) if weights_path is not None else find_weights()
    state, digest = read_weights(path)
    model_state = state if path.suffix == ".npz" else state.get("model_state") if isinstance(state, dict) else None
    if not isinstance(model_state, dict):
        raise ModelUnavailable(f"{path}: has no model_state; not a Resemblyzer checkpoint")
    try:
        return SpeakerEncoder(model_state, weights_sha256=digest)
    except (KeyError, ValueError) as exc:
        raise ModelUnavailable(f"{path}: not a Resemblyzer speaker encoder ({exc})") from None


def partial_windows(n_samples: int) -> list[int]:
    """First frame of each partial window for an utterance of ``n_samples`` at 16 kHz.

    Returns
    -------
    list of int
        Frame indices ``s``; window ``s`` covers frames ``s .. s + 159``
        (samples ``160 s .. 160 (s + 160)``, zero-padded past the end).
    """
    n_frames = math.ceil((n_samples + 1) / features.HOP_SAMPLES)
    last_possible = max(1, n_frames - PARTIAL_FRAMES + PARTIAL_HOP_FRAMES + 1)
    starts = list(range(0, last_possible, PARTIAL_HOP_FRAMES))
    window_samples = PARTIAL_FRAMES * features.HOP_SAMPLES
    coverage = (n_samples - starts[-1] * features.HOP_SAMPLES) / window_samples
    if coverage < MIN_LAST_COVERAGE and len(starts) > 1:
        starts.pop()
    return starts


@dataclass(frozen=True)
class VoicePrint:
    """A speaker embedding of one clip, or the reason there is none.

    Attributes
    ----------
    vector : numpy.ndarray of float32, shape (256,), or None
        Unit-norm embedding; None when the clip has no usable speech.
    duration_s : float
        Length of the input (seconds).
    speech_s : float
        Speech kept after pause removal (seconds).
    n_partials : int
        Partial windows averaged into ``vector``.
    no_speech_reason : str or None
        Why there is no vector, in words a user can act on.
    engine : str
        ``"voice-ge2e/1/<parameter hash>"``.
    """

    vector: np.ndarray | None
    duration_s: float
    speech_s: float
    n_partials: int
    no_speech_reason: str | None
    engine: str

    @property
    def has_speech(self) -> bool:
        return self.vector is not None


def embed_voice(
    samples: np.ndarray,
    *,
    sample_rate_hz: int,
    encoder: SpeakerEncoder | None = None,
) -> VoicePrint:
    """Speaker embedding of a clip, or a "no speech" result; never raises on content.

    Parameters
    ----------
    samples : numpy.ndarray, shape (n,)
        Audio, float in [-1, 1]: shape (n,), or (n, channels) / (channels, n),
        which is mixed down. NaN or infinite samples count as 0.
    sample_rate_hz : int
        Sample rate of ``samples`` (Hz); resampled to 16 kHz if different.
    encoder : SpeakerEncoder, optional
        Defaults to :func:`load_encoder` ().

    Returns
    -------
    VoicePrint
    """
    return speech_of(samples, sample_rate_hz=sample_rate_hz, encoder=encoder)[1]


def speech_of(
    samples: np.ndarray,
    *,
    sample_rate_hz: int,
    encoder: SpeakerEncoder | None = None,
) -> tuple[np.ndarray, VoicePrint]:
    """A clip's speech with the pauses removed (16 kHz, loudness raised) and its GE2E print.

    The same as :func:`embed_voice`, which returns only the print; the
    speech is empty when the print has no vector.
    """
    found = _analyse(samples, sample_rate_hz, encoder or load_encoder())
    return found.x[found.kept], found.whole


@dataclass(frozen=True)
class _Analysis:
    """What :func:`speech_of` and :func:`embed_voice_windows` share: the prepared clip, its speech, its print.

    ``x`` is the clip at 16 kHz (loudness raised once it has sound), ``mask``
    the voice-activity mask over it and ``kept`` the indices it keeps;
    ``starts`` / ``partials`` the partial windows over the kept speech and
    their embeddings. When ``whole`` has no vector, the arrays are empty.
    """

    x: np.ndarray
    mask: np.ndarray
    kept: np.ndarray
    starts: list[int]
    partials: np.ndarray
    whole: VoicePrint


def _analyse(samples: np.ndarray, sample_rate_hz: int, encoder: SpeakerEncoder) -> _Analysis:
    """Prepare a clip, find its speech and embed it: the print, or the reason there is none."""
    engine = f"{ENGINE_NAME}/{ENGINE_VERSION}/{encoder.parameter_hash}"
    x, duration_s = _prepare(samples, sample_rate_hz)

    def nothing(reason: str, speech_s: float = 0.0) -> _Analysis:
        return _Analysis(x, np.zeros(0, bool), np.zeros(0, np.int64), [], np.zeros((0, 256), np.float32),
                         VoicePrint(None, duration_s, speech_s, 0, reason, engine))

    if duration_s < MIN_DURATION_S:
        return nothing(f"clip is {duration_s:.2f} s long; a voice needs at least {MIN_DURATION_S:.0f} s of audio")
    if not np.any(np.abs(x) > 1e-4):
        return nothing("clip is silent: no speech to compare")
    x = features.normalise_loudness(x)
    mask = features.speech_mask(x)
    kept = np.flatnonzero(mask)
    speech_s = len(kept) / features.SAMPLE_RATE_HZ
    if speech_s < MIN_SPEECH_S:
        return nothing(f"no speech found ({speech_s:.2f} s of voice-like sound, at least {MIN_SPEECH_S} s needed)",
                       speech_s)
    starts, partials = _speech_partials(x[kept], encoder)
    mean = partials.mean(axis=0)
    norm = float(np.linalg.norm(mean))
    if norm == 0.0:
        return nothing("the model found no voice features in this clip", speech_s)
    whole = VoicePrint((mean / norm).astype(np.float32), duration_s, speech_s, len(starts), None, engine)
    return _Analysis(x, mask, kept, starts, partials, whole)


def _prepare(samples: np.ndarray, sample_rate_hz: int) -> tuple[np.ndarray, float]:
    """Mono float32 at 16 kHz in [-1, 1], NaN-free, and the input's duration (s)."""
    x = np.asarray(samples, dtype=np.float32)
    if x.ndim == 2:  # (n, channels) or (channels, n): mix down
        x = x.mean(axis=1 if x.shape[1] <= x.shape[0] else 0)
    x = np.nan_to_num(x.reshape(-1), nan=0.0, posinf=0.0, neginf=0.0)
    duration_s = len(x) / sample_rate_hz if sample_rate_hz > 0 else 0.0
    if duration_s >= MIN_DURATION_S and sample_rate_hz != features.SAMPLE_RATE_HZ:
        import soxr

        x = soxr.resample(x, sample_rate_hz, features.SAMPLE_RATE_HZ).astype(np.float32)
    return np.clip(x, -1.0, 1.0), duration_s


def _speech_partials(speech: np.ndarray, encoder: SpeakerEncoder) -> tuple[list[int], np.ndarray]:
    """Partial-window starts (frames of ``speech``) and their embeddings, shape (k, 256)."""
    starts = partial_windows(len(speech))
    end = (starts[-1] + PARTIAL_FRAMES) * features.HOP_SAMPLES
    padded = np.pad(speech, (0, max(0, end - len(speech))))
    mels = features.mel_power_frames(padded)
    batch = np.stack([mels[s:s + PARTIAL_FRAMES] for s in starts])
    return starts, encoder.embed_partials(batch)


@dataclass(frozen=True)
class VoiceWindow:
    """The voice print of one stretch of a clip (see :func:`embed_voice_windows`).

    Attributes
    ----------
    start_s, end_s : float
        Where the window lies in the clip (seconds).
    speech_s : float
        Speech the voice-activity detector kept inside it (seconds).
    vector : numpy.ndarray of float32, shape (256,)
        Unit-norm mean of the partial embeddings centred in the window.
    n_partials : int
    """

    start_s: float
    end_s: float
    speech_s: float
    vector: np.ndarray
    n_partials: int


@dataclass(frozen=True)
class VoiceTrack:
    """A clip's whole voice print, and the prints of its windows along time.

    ``whole`` is exactly what :func:`embed_voice` returns for the clip;
    ``windows`` hold only stretches with enough speech (possibly none), and
    ``partials`` / ``partial_centres_s`` the encoder's 1.6-s partial
    embeddings (shape (k, 256)) with the time of each one's centre in the clip.
    """

    whole: VoicePrint
    windows: list[VoiceWindow]
    partials: np.ndarray
    partial_centres_s: np.ndarray


def embed_voice_windows(
    samples: np.ndarray,
    *,
    sample_rate_hz: int,
    encoder: SpeakerEncoder | None = None,
    window_s: float = 3.0,
    hop_s: float = 1.5,
    min_window_speech_s: float = 1.5,
) -> VoiceTrack:
    """Voice prints of a clip as a whole and of windows along it, from one pass of the encoder.

    The clip is prepared as in :func:`embed_voice` (loudness, pause removal)
    and its partial windows embedded once; each partial is placed at the time
    (in the original clip) of the speech sample at its centre.  Window ``i``
    covers ``[i * hop_s, i * hop_s + window_s)``; it gets a print (the
    normalised mean of the partials centred in it) when the voice-activity
    detector kept at least ``min_window_speech_s`` of speech in it.  So a
    voice heard for a few seconds of a long clip is not averaged away.

    Parameters
    ----------
    samples : numpy.ndarray, shape (n,)
        Audio, float in [-1, 1] (see :func:`embed_voice`).
    sample_rate_hz : int
        Sample rate of ``samples`` (Hz).
    window_s, hop_s, min_window_speech_s : float
        Window length, step between window starts and least speech (seconds).

    Returns
    -------
    VoiceTrack
    """
    found = _analyse(samples, sample_rate_hz, encoder or load_encoder())
    if not found.whole.has_speech:
        return VoiceTrack(found.whole, [], found.partials, np.zeros(0))
    x, mask, kept, starts, partials = found.x, found.mask, found.kept, found.starts, found.partials
    half = PARTIAL_FRAMES * features.HOP_SAMPLES // 2
    centre_idx = np.minimum(np.asarray(starts) * features.HOP_SAMPLES + half, len(kept) - 1)
    centres_s = kept[centre_idx] / features.SAMPLE_RATE_HZ
    # Speech per window from the cumulative count of kept samples.
    cum = np.concatenate([[0], np.cumsum(mask, dtype=np.int64)])
    windows = []
    t0 = 0.0
    clip_s = len(x) / features.SAMPLE_RATE_HZ
    while t0 < max(clip_s - window_s, 0.0) + hop_s / 2:
        t1 = min(t0 + window_s, clip_s)
        a = min(int(t0 * features.SAMPLE_RATE_HZ), len(mask))
        b = min(int(t1 * features.SAMPLE_RATE_HZ), len(mask))
        w_speech = (cum[b] - cum[a]) / features.SAMPLE_RATE_HZ
        sel = (centres_s >= t0) & (centres_s < t1)
        if w_speech >= min_window_speech_s and sel.any():
            v = partials[sel].mean(axis=0)
            n = float(np.linalg.norm(v))
            if n > 0:
                windows.append(VoiceWindow(round(t0, 3), round(t1, 3), round(float(w_speech), 3),
                                           (v / n).astype(np.float32), int(sel.sum())))
        t0 += hop_s
    return VoiceTrack(found.whole, windows, partials, centres_s)
