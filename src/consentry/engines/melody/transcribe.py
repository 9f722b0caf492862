"""Audio in, notes out: basic-pitch's ONNX model run through onnxruntime.

The `basic-pitch` package (Spotify, Apache-2.0) ships its trained network as
an ONNX file; consentry ships a copy of that file (from basic-pitch 0.4.0,
see :mod:`consentry.weights`), so basic-pitch itself, whose Python modules
import TensorFlow and librosa, is not needed. Windowing, overlap handling
and note extraction are written here.

The model
---------
Input: mono float32 audio at 22050 Hz in windows of 43844 samples (2 s
minus one 256-sample hop), shape (batch, 43844, 1). Outputs, each shape
(batch, 172, ...), one frame per 256 samples (86.13 frames/s), frame ``k``
at ``k * 256 / 22050`` s from the window's start:

- ``note`` (172, 88): probability that piano key ``p`` (MIDI 21 + p) sounds;
- ``onset`` (172, 88): probability that a note of that key starts;
- ``contour`` (172, 264): pitch salience at 1/3 semitone (not used here).

Consecutive windows start ``(172 - OVERLAP_FRAMES) * 256`` samples apart (a
whole number of frames, so the frame grid of every window is the same); the
first and last ``OVERLAP_FRAMES // 2`` frames of each window, where the
network sees little context, are dropped and the middles joined. The audio
is padded with ``OVERLAP_FRAMES // 2`` frames of silence in front so that
the first kept frame is at time 0.

Note extraction
---------------
1. Onset candidates: frames where a key's onset probability is a local
   maximum in time and above ``onset_threshold``.
2. From the latest candidate to the earliest (so that a repeated note ends
   where the next one starts), a note is followed forward while its key's
   note probability stays above ``frame_threshold``, tolerating gaps of up
   to ``max_gap_s``; frames already given to a note are not reused.
3. Notes shorter than ``min_note_s`` are dropped. A note's amplitude is the
   mean note probability over its frames.
"""

from __future__ import annotations

import functools
import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from consentry import weights

__all__ = [
    "MODEL_SAMPLE_RATE_HZ",
    "ModelUnavailable",
    "Note",
    "Posteriorgrams",
    "extract_notes",
    "find_model_path",
    "posteriorgrams",
    "transcribe",
    "transcribe_file",
]

#: The model's input sample rate (Hz).
MODEL_SAMPLE_RATE_HZ = 22050
#: Samples per output frame.
HOP_SAMPLES = 256
#: Output frames per second.
FRAME_RATE_HZ = MODEL_SAMPLE_RATE_HZ / HOP_SAMPLES
#: Input samples per window, and output frames per window.
WINDOW_SAMPLES = 43844
WINDOW_FRAMES = 172
#: Frames shared by consecutive windows; half of them is dropped at each inner edge.
OVERLAP_FRAMES = 30
#: MIDI number of the first of the 88 keys.
LOWEST_MIDI = 21
#: Windows per onnxruntime call (bounded memory for long inputs).
BATCH_WINDOWS = 8

_MODEL_RELPATH = ("saved_models", "icassp_2022", "nmp.onnx")


class ModelUnavailable(RuntimeError):
    """basic-pitch's ONNX model is missing from the install, or onnxruntime is not installed."""


@dataclass(frozen=True)
class Note:
    """A transcribed note.

    Attributes
    ----------
    start_s, end_s : float
        Onset and offset (seconds from the start of the audio).
    midi_pitch : int
        MIDI note number (60 = middle C).
    amplitude : float
        Mean note probability over the note's frames, in (0, 1].
    """

    start_s: float
    end_s: float
    midi_pitch: int
    amplitude: float


@dataclass(frozen=True)
class Posteriorgrams:
    """The model's frame-wise outputs for a whole recording.

    Attributes
    ----------
    note, onset : numpy.ndarray of float32, shape (n_frames, 88)
        Probabilities per frame and key (column ``p`` is MIDI ``21 + p``).
    frame_rate_hz : float
        Frames per second; frame ``k`` is at ``k / frame_rate_hz`` s.
    """

    note: np.ndarray
    onset: np.ndarray
    frame_rate_hz: float = FRAME_RATE_HZ


def find_model_path() -> Path:
    """Path of basic-pitch's ``nmp.onnx``: the copy inside consentry, else the basic-pitch package's.

    The basic-pitch package is only located, never imported.

    Raises
    ------
    ModelUnavailable
        If neither is there (an install of consentry without its package data).
    """
    packaged = weights.find(weights.BASIC_PITCH_ONNX)
    if packaged is not None:
        return packaged.path
    spec = importlib.util.find_spec("basic_pitch")  # locates; does not execute the package
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for location in locations:
        path = Path(location).joinpath(*_MODEL_RELPATH)
        if path.is_file():
            return path
    raise ModelUnavailable(
        f"basic-pitch's ONNX model ({weights.BASIC_PITCH_ONNX}) is missing from this install of consentry; "
        f"{weights.REINSTALL_HINT}"
    )


@functools.lru_cache(maxsize=1)
def _session():
    """One onnxruntime session per process, one thread (see consentry.runtime.threads)."""
    try:
        import onnxruntime as ort
    except ImportError:  # pragma: no cover - depends on the environment
        raise ModelUnavailable("onnxruntime is not installed; run: pip install onnxruntime") from None
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3
    session = ort.InferenceSession(os.fspath(find_model_path()), options, providers=["CPUExecutionProvider"])
    outputs = {o.name: i for i, o in enumerate(session.get_outputs())}
    # Names as exported from TensorFlow: :0 contour (264 bins), :1 note, :2 onset.
    order = (outputs["StatefulPartitionedCall:1"], outputs["StatefulPartitionedCall:2"])
    return session, session.get_inputs()[0].name, order


def _prepare(samples: np.ndarray, sample_rate_hz: int) -> np.ndarray:
    """Mono float32 at the model's rate: channels averaged, NaN/inf zeroed, resampled with soxr."""
    x = np.asarray(samples, dtype=np.float64)
    if x.ndim == 2:  # (n, channels) or (channels, n): average the shorter axis
        x = x.mean(axis=1) if x.shape[1] <= x.shape[0] else x.mean(axis=0)
    elif x.ndim != 1:
        raise ValueError(f"audio must be 1-D (mono) or 2-D (channels), not shape {x.shape}")
    x = np.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0)
    if int(sample_rate_hz) != MODEL_SAMPLE_RATE_HZ and x.size:
        import soxr

        x = soxr.resample(x, int(sample_rate_hz), MODEL_SAMPLE_RATE_HZ, quality="HQ")
    return np.clip(x, -1.0, 1.0).astype(np.float32)


def posteriorgrams(samples: np.ndarray, *, sample_rate_hz: int) -> Posteriorgrams:
    """Run the model over a whole recording, window by window.

    Parameters
    ----------
    samples : numpy.ndarray, shape (n,) or (n, channels)
        Audio in [-1, 1]; stereo is averaged to mono.
    sample_rate_hz : int
        Sample rate of ``samples`` (Hz).

    Returns
    -------
    Posteriorgrams
        ``ceil(n_22050 / 256)`` frames (at least one window's worth is
        computed; frames past the end of the audio are cut off).
    """
    x = _prepare(samples, sample_rate_hz)
    n_frames = max(1, int(np.ceil(x.size / HOP_SAMPLES)))
    half = OVERLAP_FRAMES // 2
    kept = WINDOW_FRAMES - OVERLAP_FRAMES  # frames kept from each window
    hop = kept * HOP_SAMPLES  # samples between window starts: a whole number of frames, so no drift
    padded = np.concatenate([np.zeros(half * HOP_SAMPLES, np.float32), x])
    n_windows = max(1, int(np.ceil(n_frames / kept)))
    total = (n_windows - 1) * hop + WINDOW_SAMPLES
    padded = np.concatenate([padded, np.zeros(max(0, total - padded.size), np.float32)])
    starts = np.arange(n_windows) * hop
    session, input_name, (i_note, i_onset) = _session()
    note_parts, onset_parts = [], []
    for b in range(0, n_windows, BATCH_WINDOWS):
        batch = np.stack([padded[s:s + WINDOW_SAMPLES] for s in starts[b:b + BATCH_WINDOWS]])[:, :, None]
        out = session.run(None, {input_name: batch})
        note_parts.append(out[i_note][:, half:half + kept].reshape(-1, 88))
        onset_parts.append(out[i_onset][:, half:half + kept].reshape(-1, 88))
    note = np.concatenate(note_parts)[:n_frames].astype(np.float32)
    onset = np.concatenate(onset_parts)[:n_frames].astype(np.float32)
    return Posteriorgrams(note=note, onset=onset)


def extract_notes(
    post: Posteriorgrams,
    *,
    onset_threshold: float = 0.5,
    frame_threshold: float = 0.3,
    min_note_s: float = 0.058,
    max_gap_s: float = 0.06,
) -> list[Note]:
    """Turn posteriorgrams into notes (see the module docstring).

    Parameters
    ----------
    post : Posteriorgrams
    onset_threshold : float
        Minimum onset probability of a note's start.
    frame_threshold : float
        A note lasts while its key's note probability is above this.
    min_note_s : float
        Shorter notes are dropped (seconds).
    max_gap_s : float
        Dips below ``frame_threshold`` up to this long do not end a note (seconds).

    Returns
    -------
    list of Note
        Sorted by start time, then pitch.
    """
    note, onset = post.note, post.onset
    n_frames = note.shape[0]
    if n_frames < 3:
        return []
    fps = post.frame_rate_hz
    # Local maxima of onset probability in time, above threshold.
    peak = np.zeros_like(onset, dtype=bool)
    peak[1:-1] = (onset[1:-1] >= onset[:-2]) & (onset[1:-1] > onset[2:]) & (onset[1:-1] >= onset_threshold)
    frames, keys = np.nonzero(peak)
    order = np.argsort(-frames, kind="stable")  # latest first
    used = np.zeros_like(note, dtype=bool)
    active = note >= frame_threshold
    max_gap = max(0, int(round(max_gap_s * fps)))
    min_frames = max(1, int(round(min_note_s * fps)))
    notes: list[Note] = []
    for f0, k in zip(frames[order], keys[order]):
        if used[f0, k]:
            continue
        col_active = active[f0:, k] & ~used[f0:, k]
        end = _note_end(col_active, max_gap)
        if end < min_frames:
            continue
        f1 = f0 + end
        used[f0:f1, k] = True
        amp = float(note[f0:f1, k].mean())
        notes.append(Note(start_s=float(f0 / fps), end_s=float(f1 / fps), midi_pitch=int(k + LOWEST_MIDI), amplitude=amp))
    notes.sort(key=lambda n: (n.start_s, n.midi_pitch))
    return notes


def _note_end(active: np.ndarray, max_gap: int) -> int:
    """Frames a note lasts: up to its first run of more than ``max_gap`` inactive frames, trailing gap trimmed.

    ``active`` is bool of shape (n,), the key's activity from the onset on.
    """
    padded = np.concatenate([[True], active, [True]]).astype(np.int8)
    edges = np.diff(padded)
    run_starts = np.flatnonzero(edges == -1)  # first inactive frame of each run
    run_ends = np.flatnonzero(edges == 1)  # one past its last
    long_runs = np.flatnonzero(run_ends - run_starts > max_gap)
    end = int(run_starts[long_runs[0]]) if long_runs.size else active.size
    if end == active.size and run_ends.size and run_ends[-1] == active.size:
        end = int(run_starts[-1])  # a short gap at the very end is not part of the note
    return end


def transcribe(samples: np.ndarray, *, sample_rate_hz: int, **note_options: float) -> list[Note]:
    """Notes of a recording: :func:`posteriorgrams` then :func:`extract_notes`.

    Silence, noise and very short inputs give an empty or short list, never
    an error. ``note_options`` are passed to :func:`extract_notes`.
    """
    x = np.asarray(samples)
    if x.size == 0:
        return []
    return extract_notes(posteriorgrams(x, sample_rate_hz=sample_rate_hz), **note_options)


def transcribe_file(path: str | os.PathLike, *, max_duration_s: float | None = None) -> list[Note]:
    """Decode a file with :func:`consentry.io.decode.decode_audio` (mono, 22050 Hz) and transcribe it."""
    from consentry.io.decode import decode_audio

    audio = decode_audio(path, sample_rate_hz=MODEL_SAMPLE_RATE_HZ, max_duration_s=max_duration_s)
    return transcribe(audio.samples, sample_rate_hz=MODEL_SAMPLE_RATE_HZ)
