"""Audio decoding with PyAV (FFmpeg), straight to mono at the engine's rate.

Every failure becomes a :class:`~consentry.errors.DecodeError` with a short
reason; no FFmpeg exception or traceback reaches the user.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Iterable, Iterator

import av
import numpy as np
import soxr

from ..errors import DecodeError, InputError

#: Suffixes (lower case) that folder scans pick up: audio formats and the
#: video containers whose audio track can be read.
AUDIO_EXTENSIONS: frozenset[str] = frozenset(
    {
        ".wav", ".wave", ".flac", ".mp3", ".mp2", ".ogg", ".oga", ".opus", ".m4a", ".aac", ".mp4", ".m4b",
        ".aif", ".aiff", ".aifc", ".wma", ".wv", ".ape", ".ac3", ".amr", ".caf", ".au", ".snd",
        ".webm", ".mkv", ".mka", ".mov", ".avi", ".m4v", ".3gp", ".flv", ".mpg", ".mpeg", ".ts",
    }
)


@dataclass(frozen=True)
class DecodedAudio:
    """Decoded mono audio.

    Attributes
    ----------
    samples : ndarray of float32, shape (n,)
        Mono, nominally in [-1, 1].
    sample_rate_hz : int
        The rate that was asked for.
    duration_s : float
        ``len(samples) / sample_rate_hz``.
    source_sample_rate_hz, source_channels : int
        Of the original stream.
    codec : str
        FFmpeg's name of the original codec, e.g. ``"mp3"``.
    """

    samples: np.ndarray
    sample_rate_hz: int
    duration_s: float
    source_sample_rate_hz: int
    source_channels: int
    codec: str


def _describe_av_error(exc: Exception) -> str:
    text = str(exc).lower()
    if "invalid data" in text:
        return "not an audio file FFmpeg can read (invalid data)"
    if "permission" in text:
        return "permission denied"
    if "no such file" in text:
        return "file not found"
    return f"cannot decode ({type(exc).__name__}: {str(exc).splitlines()[0][:120] if str(exc) else 'unknown error'})"


_SCALE = {np.dtype(np.int16): 1 / 32768.0, np.dtype(np.int32): 1 / 2147483648.0, np.dtype(np.uint8): 1 / 128.0}


class _MonoResampler:
    """Downmix decoded frames to mono and resample them with soxr, in blocks.

    Frames are collected until about a second of audio is waiting, then mixed
    (mean of the channels) and streamed through :class:`soxr.ResampleStream`,
    so memory stays proportional to the output, not to the source.
    """

    BLOCK_SAMPLES = 48000

    def __init__(self, rate_hz: int) -> None:
        self.rate_hz = rate_hz
        self.in_rate: int | None = None
        self.stream = None
        self.pending: list[np.ndarray] = []
        self.pending_n = 0
        self.out: list[np.ndarray] = []
        self.have = 0
        self.first_time_s: float | None = None

    def have_estimate(self) -> int:
        """Output samples so far, counting those still waiting to be resampled."""
        if self.in_rate is None:
            return 0
        return self.have + int(self.pending_n * self.rate_hz / self.in_rate)

    def add(self, frame) -> None:
        arr = frame.to_ndarray()
        n_ch = len(frame.layout.channels)
        if not frame.format.is_planar:
            arr = arr.reshape(-1, n_ch).T
        if arr.dtype in _SCALE:
            scale = _SCALE[arr.dtype]
            arr = arr.astype(np.float32)
            if frame.format.name.startswith("u8"):
                arr -= 128.0
            arr *= scale
        rate = int(frame.sample_rate)
        if self.in_rate is not None and rate != self.in_rate:
            self._flush(last=True)
            self.stream = None
        if self.stream is None:
            self.in_rate = rate
            self.stream = soxr.ResampleStream(rate, self.rate_hz, 1, dtype="float32", quality="MQ")
        self.pending.append(arr)
        self.pending_n += arr.shape[1]
        if self.pending_n >= self.BLOCK_SAMPLES:
            self._flush(last=False)

    def _flush(self, *, last: bool) -> None:
        if self.stream is None:
            return
        if self.pending:
            block = np.concatenate(self.pending, axis=1)
            mono = block[0] if block.shape[0] == 1 else block.mean(axis=0, dtype=np.float32)
            mono = np.ascontiguousarray(mono, dtype=np.float32)
        else:
            mono = np.zeros(0, dtype=np.float32)
        self.pending, self.pending_n = [], 0
        y = self.stream.resample_chunk(mono, last=last)
        if y.size:
            self.out.append(y)
            self.have += y.shape[0]

    def finish(self) -> np.ndarray:
        self._flush(last=True)
        if not self.out:
            return np.zeros(0, dtype=np.float32)
        return np.concatenate(self.out).astype(np.float32, copy=False)


def decode_audio(
    source: str | os.PathLike | bytes | BinaryIO,
    *,
    sample_rate_hz: int,
    max_duration_s: float | None = None,
    start_s: float = 0.0,
    name: str | None = None,
) -> DecodedAudio:
    """Decode the first audio stream of a file (or bytes) to mono float32.

    Parameters
    ----------
    source : path, bytes or binary file object
    sample_rate_hz : int
        Output rate; FFmpeg's resampler downmixes and resamples in one pass.
    max_duration_s : float, optional
        Stop after this much audio (seconds), for very long inputs.
    start_s : float
        Skip this much audio first (seconds).
    name : str, optional
        How to call a bytes/file-object source in error messages.

    Raises
    ------
    DecodeError
        With the source and a short reason.
    """
    label = name or (str(source) if isinstance(source, (str, os.PathLike)) else "<bytes>")
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.exists():
            raise DecodeError(label, "file not found")
        if path.is_dir():
            raise DecodeError(label, "is a folder, not an audio file")
        try:
            size = path.stat().st_size
        except OSError as exc:
            raise DecodeError(label, exc.strerror or "cannot read") from None
        if size == 0:
            raise DecodeError(label, "empty file")
        if not os.access(path, os.R_OK):
            raise DecodeError(label, "permission denied")
        opener: str | BinaryIO = str(path)
    elif isinstance(source, (bytes, bytearray, memoryview)):
        if len(source) == 0:
            raise DecodeError(label, "empty data")
        opener = io.BytesIO(bytes(source))
    else:
        opener = source
    try:
        container = av.open(opener, mode="r", metadata_errors="ignore")
    except av.FFmpegError as exc:
        raise DecodeError(label, _describe_av_error(exc)) from None
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise DecodeError(label, f"cannot open ({exc})") from None
    with container:
        if not container.streams.audio:
            raise DecodeError(label, "no audio stream (not an audio file, or a video without sound)")
        stream = container.streams.audio[0]
        codec = stream.codec_context.name if stream.codec_context else "unknown"
        src_rate = int(stream.rate or stream.codec_context.sample_rate or 0)
        src_channels = int(stream.codec_context.channels or 0) if stream.codec_context else 0
        mixer = _MonoResampler(sample_rate_hz)
        skip = int(round(start_s * sample_rate_hz))
        want = None if max_duration_s is None else int(round(max_duration_s * sample_rate_hz))
        errors = 0
        try:
            if start_s > 0 and stream.time_base:
                # Seek near the start (to a key frame before it), then skip exactly.
                try:
                    container.seek(int(max(0.0, start_s - 1.0) / stream.time_base), stream=stream, any_frame=False, backward=True)
                except av.FFmpegError:
                    container.seek(0, stream=stream)
            for packet in container.demux(stream):
                try:
                    frames = packet.decode()
                except av.FFmpegError:
                    # A damaged packet (e.g. a truncated file): keep what decodes.
                    errors += 1
                    if errors > 50 and mixer.have == 0:
                        break
                    continue
                for frame in frames:
                    if skip and mixer.first_time_s is None and frame.time is not None:
                        mixer.first_time_s = max(0.0, float(frame.time))
                    mixer.add(frame)
                if want is not None:
                    first = int(round((mixer.first_time_s or 0.0) * sample_rate_hz))
                    if mixer.have_estimate() >= max(0, skip - first) + want + sample_rate_hz:
                        break
            samples = mixer.finish()
        except av.FFmpegError as exc:
            if mixer.have == 0:
                raise DecodeError(label, _describe_av_error(exc)) from None
            samples = mixer.finish()
        except (ValueError, MemoryError) as exc:
            raise DecodeError(label, f"cannot decode ({exc})") from None
    if samples.shape[0] == 0:
        raise DecodeError(label, "no audio samples could be decoded (empty or damaged audio stream)")
    if skip and mixer.first_time_s is not None:
        # We seeked: the first decoded sample is at first_time_s, not at 0.
        skip = max(0, skip - int(round(mixer.first_time_s * sample_rate_hz)))
    if skip:
        samples = samples[skip:]
    if want is not None:
        samples = samples[:want]
    if samples.size == 0:
        raise DecodeError(label, f"no audio after {start_s:g} s")
    np.nan_to_num(samples, copy=False)
    return DecodedAudio(
        samples=samples,
        sample_rate_hz=sample_rate_hz,
        duration_s=samples.shape[0] / sample_rate_hz,
        source_sample_rate_hz=src_rate,
        source_channels=src_channels,
        codec=codec,
    )


def read_tags(path: str | os.PathLike) -> dict:
    """Title, artist and album from the file's tags; ``None`` for each that is missing.

    Never raises: a file whose tags cannot be read gets all ``None``.
    """
    out: dict = {"title": None, "artist": None, "album": None}
    try:
        with av.open(str(path), metadata_errors="ignore") as c:
            meta = {k.lower(): v for k, v in (c.metadata or {}).items()}
            if c.streams.audio:
                for k, v in (c.streams.audio[0].metadata or {}).items():
                    meta.setdefault(k.lower(), v)
        for key in out:
            value = meta.get(key)
            if isinstance(value, str) and value.strip():
                out[key] = value.strip()
    except Exception:  # noqa: BLE001 - tags are optional, never fatal
        pass
    if out["title"] is None or out["artist"] is None:
        try:
            import mutagen

            f = mutagen.File(str(path), easy=True)
            if f is not None and f.tags:
                for key in out:
                    if out[key] is None and f.tags.get(key):
                        value = str(f.tags.get(key)[0]).strip()
                        out[key] = value or None
        except Exception:  # noqa: BLE001
            pass
    return out


def iter_audio_files(paths: Iterable[str | os.PathLike], *, recursive: bool = True) -> Iterator[Path]:
    """Files to register: given files as they are, folders walked for audio files.

    Folders are walked in sorted order, skipping hidden entries and not
    following symbolic links to folders (no loops).

    Raises
    ------
    InputError
        If a path does not exist.
    """
    for p in paths:
        path = Path(p).expanduser()
        if not path.exists():
            raise InputError(f"{p}: no such file or folder")
        if path.is_file():
            yield path
            continue
        if not recursive:
            continue
        for root, dirs, files in os.walk(path, followlinks=False):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for f in sorted(files):
                if f.startswith("."):
                    continue
                if Path(f).suffix.lower() in AUDIO_EXTENSIONS:
                    yield Path(root) / f
