"""Audio decoding with PyAV (FFmpeg): any container in, mono float32 out.

:func:`decode_audio` reads the first audio stream of a file (a video file's
sound track too), downmixes it to mono and resamples it to the rate a
fingerprint engine asks for, in one pass through FFmpeg's resampler.
:func:`read_tags` reads title, artist and album; :func:`iter_audio_files`
turns the paths a user names into the files to read.

Every failure becomes a one-line :class:`~consentry.domain.errors.DecodeError`
naming the input; no FFmpeg exception or traceback reaches the user.

Speed
-----
Decoded frames are small (1152 samples for MP3, 1024 for AAC), and pushing
each through the resampler's filter graph costs more than the resampling
itself.  Frames are therefore gathered in an :class:`av.AudioFifo` (in C, no
copy to NumPy) and resampled about one second at a time; the mono output
blocks are joined with a single :func:`numpy.concatenate`.

Downmix
-------
FFmpeg's default mono downmix adds the channels with gains that are not
normalised for float output: a stereo file with the same signal in both
channels comes out 3 dB louder (and can leave [-1, 1]), and the LFE channel
is dropped.  The resampler is given ``rematrix_maxval=1`` (the gains of a
mono output sum to 1, so identical channels keep their level, exactly the
mean for stereo) and ``lfe_mix_level=1`` (no channel of a 5.1 file is
silent in the mix).  Layouts up to 7.1 use every channel; of more exotic
layouts (22.2 and the like) FFmpeg leaves out the height channels.
"""

from __future__ import annotations

import io
import math
import numbers
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Iterable, Iterator

import av
import numpy as np

from consentry.domain.errors import DecodeError, InputError
from consentry.io.heldfiles import held_reason

__all__ = ["AUDIO_EXTENSIONS", "DecodedAudio", "decode_audio", "read_tags", "iter_audio_files"]

#: Suffixes (lower case, with the dot) that folder walks pick up: audio
#: formats, and the video containers whose sound track can be read.
AUDIO_EXTENSIONS: frozenset[str] = frozenset(
    {
        # uncompressed and lossless
        ".wav", ".wave", ".w64", ".rf64", ".aif", ".aiff", ".aifc", ".caf", ".au", ".snd",
        ".flac", ".alac", ".ape", ".wv", ".tta", ".tak", ".shn",
        # lossy audio
        ".mp3", ".mp2", ".mpga", ".ogg", ".oga", ".opus", ".spx", ".m4a", ".m4b", ".m4p", ".aac", ".adts",
        ".wma", ".ac3", ".eac3", ".dts", ".amr", ".awb", ".ra", ".mka", ".mpc", ".gsm", ".voc", ".dsf", ".dff",
        # video containers with a sound track
        ".mp4", ".m4v", ".mov", ".qt", ".mkv", ".webm", ".avi", ".wmv", ".asf", ".flv", ".3gp", ".3g2",
        ".mpg", ".mpeg", ".vob", ".ts", ".mts", ".m2ts", ".ogv", ".dv",
    }
)

#: Below this start offset (seconds) decoding begins at the start of the file
#: and the leading audio is discarded: exact, and cheaper than a seek.
_SEEK_MIN_S = 10.0
#: A seek goes this far (seconds) before the asked start, to land on a key
#: frame and let the decoder settle (MP3's bit reservoir, AAC's overlap).
_SEEK_MARGIN_S = 1.0
#: Undecodable packets tolerated beyond ``_BAD_PER_GOOD`` per decoded frame.
#: More than that, and the input is judged not to be audio at all: random
#: bytes named ``.mp3`` do contain the odd "frame" that decodes (to noise).
_MAX_BAD_PACKETS = 64
_BAD_PER_GOOD = 4
#: Resampler options (libswresample): normalised mono downmix, LFE included.
_DOWNMIX_OPTIONS = {"rematrix_maxval": "1.0", "lfe_mix_level": "1.0"}
#: Largest single allocation FFmpeg may make (bytes).  FFmpeg's own cap is 2 GiB, and its demuxers trust
#: size fields: a 63-byte WAV whose LIST/INFO chunk declares 1.6 GB made the WAV demuxer allocate and zero
#: that much while probing (fuzz campaign, issue 15).  No audio decode needs one buffer this large (a
#: day-long MP4's sample index is about 90 MB); a refused allocation fails the open or drops the tag.
FFMPEG_MAX_ALLOC_BYTES = 128 * 1024 * 1024


def _cap_ffmpeg_allocations(max_bytes: int) -> bool:
    """Set ``av_max_alloc`` of the libavutil PyAV runs on (process-wide); False if it cannot be found."""
    import ctypes
    import glob

    candidates: list[str] = []
    try:  # the library actually mapped into this process, as PyAV loaded it
        with open("/proc/self/maps") as maps:
            candidates += sorted({line.split()[-1] for line in maps if "libavutil" in line and "/" in line})
    except OSError:
        pass
    candidates += glob.glob(os.path.join(os.path.dirname(os.path.dirname(av.__file__)), "av.libs", "libavutil*.so*"))
    for path in candidates:
        try:
            lib = ctypes.CDLL(path)
            lib.av_max_alloc.argtypes = [ctypes.c_size_t]
            lib.av_max_alloc.restype = None
            lib.av_max_alloc(max_bytes)
            return True
        except (OSError, AttributeError):
            continue
    return False


_cap_ffmpeg_allocations(FFMPEG_MAX_ALLOC_BYTES)


@dataclass(frozen=True)
class DecodedAudio:
    """Decoded audio: mono, float32, at the rate that was asked for.

    Attributes
    ----------
    samples : numpy.ndarray of float32, shape (n,)
        Mono samples in [-1, 1].
    sample_rate_hz : int
        Sample rate of ``samples`` (Hz): the rate that was asked for.
    duration_s : float
        ``len(samples) / sample_rate_hz`` (seconds).
    source_sample_rate_hz : int
        Sample rate of the original audio stream (Hz).
    source_channels : int
        Number of channels of the original audio stream.
    codec : str
        FFmpeg's name of the original codec, e.g. ``"mp3"``, ``"flac"``,
        ``"pcm_s16le"``.
    """

    samples: np.ndarray
    sample_rate_hz: int
    duration_s: float
    source_sample_rate_hz: int
    source_channels: int
    codec: str


def decode_audio(
    source: str | os.PathLike | bytes | bytearray | memoryview | BinaryIO,
    *,
    sample_rate_hz: int,
    max_duration_s: float | None = None,
    start_s: float = 0.0,
    name: str | None = None,
) -> DecodedAudio:
    """Decode the first audio stream of a file (or of bytes) to mono float32.

    Parameters
    ----------
    source : str, os.PathLike, bytes or binary file object
        A path to an audio or video file, its contents, or an open binary
        file (read from its current position; it is not closed).
    sample_rate_hz : int
        Sample rate of the output (Hz).  Downmix and resampling happen in one
        pass through FFmpeg's resampler.
    max_duration_s : float, optional
        Return at most this much audio (seconds) and stop decoding soon
        after, so that huge inputs cost no more than that.
    start_s : float, default 0.0
        Skip this much audio (seconds) from the start of the stream.  Far
        offsets are reached by seeking; in VBR MP3 files without an index
        a seek can be off by a frame or two (tens of milliseconds).
    name : str, optional
        What to call the input in error messages; for bytes and file objects
        (a path names itself).

    Returns
    -------
    DecodedAudio
        ``samples`` is float32 of shape (n,), mono, in [-1, 1].

    Raises
    ------
    DecodeError
        If the input is missing, unreadable, empty, not audio, or holds no
        decodable audio (after ``start_s``).  The message is one line naming
        the input.  A damaged or truncated file whose beginning decodes is
        not an error: the audio that could be decoded is returned.
    InputError
        If ``sample_rate_hz``, ``max_duration_s`` or ``start_s`` is not a
        usable number.

    Examples
    --------
    >>> audio = decode_audio("song.flac", sample_rate_hz=8000)  # doctest: +SKIP
    >>> audio.samples.dtype, audio.sample_rate_hz  # doctest: +SKIP
    (dtype('float32'), 8000)
    """
    rate = _check_rate(sample_rate_hz)
    if not (_is_number(start_s) and math.isfinite(start_s) and start_s >= 0):
        raise InputError(f"start_s must be a number of seconds >= 0, not {start_s!r}")
    if max_duration_s is not None and not (_is_number(max_duration_s) and max_duration_s > 0):
        raise InputError(f"max_duration_s must be a number of seconds > 0, not {max_duration_s!r}")
    if max_duration_s is not None and math.isinf(max_duration_s):
        max_duration_s = None

    label = _label(source, name)
    handles: list[BinaryIO] = []
    try:
        container = _open_container(source, label, handles)
        try:
            return _decode_container(
                container, label, rate=rate, start_s=float(start_s), max_duration_s=max_duration_s
            )
        except DecodeError:
            raise
        except MemoryError:
            raise DecodeError(label, "too large to decode in memory; decode a part with max_duration_s") from None
        except (av.FFmpegError, OSError, ValueError, EOFError, RuntimeError) as exc:
            raise DecodeError(label, _reason(exc, opening=False)) from None
        finally:
            container.close()
    finally:
        for handle in handles:
            handle.close()


def _is_number(value: object) -> bool:
    """True for a real number that is not a bool or NaN."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and not math.isnan(value)


def _check_rate(sample_rate_hz: object) -> int:
    """``sample_rate_hz`` as a positive int, or an :class:`InputError`."""
    if not _is_number(sample_rate_hz):
        raise InputError(f"sample_rate_hz must be a whole number of Hz, not {sample_rate_hz!r}")
    if not (float(sample_rate_hz).is_integer() and 0 < sample_rate_hz <= 1_000_000):
        raise InputError(f"sample_rate_hz must be a whole number of Hz between 1 and 1000000, not {sample_rate_hz!r}")
    return int(sample_rate_hz)


def _label(source: object, name: str | None) -> str:
    """How the input is named in error messages."""
    if name:
        return name
    if isinstance(source, (str, os.PathLike)):
        return str(source)
    if isinstance(source, (bytes, bytearray, memoryview)):
        return "<bytes>"
    file_name = getattr(source, "name", None)
    return file_name if isinstance(file_name, str) and file_name else "<file object>"


def _open_container(source: object, label: str, handles: list[BinaryIO]) -> av.container.InputContainer:
    """Open ``source`` with PyAV, after the checks that give clearer reasons.

    A Python file this opens on the way is appended to ``handles`` for the
    caller to close.
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        if len(source) == 0:
            raise DecodeError(label, "empty data")
        target: str | BinaryIO = io.BytesIO(source)
    elif isinstance(source, (str, os.PathLike)):
        path = Path(source)
        _check_file(path, label)
        # "file:" keeps FFmpeg from reading a name such as "mix:take2.wav" as
        # a protocol ("mix") and a resource ("take2.wav").
        target = "file:" + os.path.abspath(path)
    elif hasattr(source, "read"):
        target = source  # type: ignore[assignment]
    else:
        raise TypeError(f"source must be a path, bytes or a binary file object, not {type(source).__name__}")

    try:
        try:
            return av.open(target, mode="r", metadata_errors="ignore")
        except UnicodeEncodeError:
            # A file name that is not valid UTF-8 (undecodable bytes kept as
            # surrogates): hand FFmpeg an open file instead of the name.
            handle = open(source, "rb")  # type: ignore[arg-type]  # noqa: SIM115 - closed by the caller
            handles.append(handle)
            return av.open(handle, mode="r", metadata_errors="ignore")
    except MemoryError:
        raise DecodeError(label, "too large to open in memory") from None
    except (av.FFmpegError, OSError, ValueError, EOFError, RuntimeError) as exc:
        raise DecodeError(label, _reason(exc, opening=True)) from None


def _check_file(path: Path, label: str) -> None:
    """Fail with a plain reason if ``path`` is not a readable, non-empty file."""
    try:
        info = path.stat()
    except (FileNotFoundError, NotADirectoryError):
        raise DecodeError(label, "file not found") from None
    except OSError as exc:
        raise DecodeError(label, _reason(exc, opening=True)) from None
    except ValueError:  # e.g. a NUL byte in the name
        raise DecodeError(label, "not a valid file name") from None
    if stat.S_ISDIR(info.st_mode):
        raise DecodeError(label, "is a folder, not an audio file (give the files in it, or scan the folder)")
    if stat.S_ISREG(info.st_mode) and info.st_size == 0:
        raise DecodeError(label, "empty file")
    held = held_reason(path)
    if held is not None:
        raise DecodeError(label, held)
    try:
        with open(path, "rb"):
            pass
    except OSError as exc:
        raise DecodeError(label, _reason(exc, opening=True)) from None


def _reason(exc: BaseException, *, opening: bool) -> str:
    """A short, one-line reason for a PyAV/FFmpeg or OS error."""
    if isinstance(exc, PermissionError):
        return "permission denied"
    if isinstance(exc, FileNotFoundError):
        return "file not found"
    if isinstance(exc, IsADirectoryError):
        return "is a folder, not an audio file"
    if isinstance(exc, av.error.InvalidDataError):
        return "not an audio or video format FFmpeg recognises" if opening else "damaged or unreadable audio data"
    if isinstance(exc, av.error.DecoderNotFoundError):
        return "no decoder for this codec in the installed FFmpeg"
    if isinstance(exc, (av.error.DemuxerNotFoundError, av.error.ProtocolNotFoundError)):
        return "format not supported by the installed FFmpeg"
    if isinstance(exc, av.error.PatchWelcomeError):
        return "uses a codec feature FFmpeg does not support"
    if isinstance(exc, (EOFError, av.error.EOFError)):
        return "file ends before any audio (truncated?)"
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    text = " ".join(str(text).split())  # one line
    if len(text) > 100:
        text = text[:97] + "..."
    return f"cannot {'open' if opening else 'decode'} ({text})"


class _MonoConverter:
    """Decoded frames in; mono float32 blocks at ``rate_hz`` out.

    Frames wait in an :class:`av.AudioFifo` until about a second of audio is
    there, which then goes through :class:`av.AudioResampler` in one call.  A
    change of sample format, layout or rate mid-stream (concatenated MP3s,
    broadcast recordings) ends the current FIFO and resampler and starts new
    ones, so the output stays one continuous mono signal.

    The first ``discard_s`` seconds pushed are dropped in the FIFO, before
    resampling, so the first output sample is exactly the source sample at
    the start asked for (not one rounded to the output rate's grid).
    """

    def __init__(self, rate_hz: int, *, discard_s: float = 0.0) -> None:
        self.rate_hz = rate_hz
        self.discard_s = discard_s
        self.blocks: list[np.ndarray] = []
        self.n_out = 0
        self._signature: tuple | None = None
        self._fifo: av.AudioFifo | None = None
        self._resampler: av.AudioResampler | None = None
        self._block = 0

    def push(self, frame: av.AudioFrame) -> None:
        """Take one decoded frame (its ``pts`` is cleared)."""
        signature = (frame.format.name, frame.layout.name, frame.sample_rate)
        if signature != self._signature:
            self._end_segment()
            self._signature = signature
            self._fifo = av.AudioFifo()
            self._resampler = av.AudioResampler(
                format="fltp",
                layout="mono",
                rate=self.rate_hz,
                options={
                    **_DOWNMIX_OPTIONS,
                    "out_chlayout": "mono",
                    "out_sample_fmt": "fltp",
                    "out_sample_rate": str(self.rate_hz),
                },
            )
            self._block = max(4096, int(frame.sample_rate))  # about one second
        frame.pts = None  # the FIFO insists on gap-free timestamps otherwise
        self._fifo.write(frame)
        if self.discard_s > 0:
            wanted = round(self.discard_s * frame.sample_rate)
            n = min(self._fifo.samples, wanted)
            if n:
                self._fifo.read(n)
            self.discard_s = 0.0 if n >= wanted else self.discard_s - n / frame.sample_rate
        if self._fifo.samples >= self._block:
            self._resample(self._fifo.read())

    def finish(self) -> np.ndarray:
        """Flush everything and return the mono signal, float32 of shape (n,)."""
        self._end_segment()
        if not self.blocks:
            return np.zeros(0, dtype=np.float32)
        samples = self.blocks[0] if len(self.blocks) == 1 else np.concatenate(self.blocks)
        self.blocks = []
        return samples

    def _resample(self, frame: av.AudioFrame | None) -> None:
        for out in self._resampler.resample(frame):
            if out is None:  # a pass-through resampler answers a flush with [None]
                continue
            block = out.to_ndarray()[0]
            if block.size:
                self.blocks.append(block)
                self.n_out += block.size

    def _end_segment(self) -> None:
        if self._fifo is None:
            return
        if self._fifo.samples:
            self._resample(self._fifo.read())
        self._resample(None)
        self._fifo = self._resampler = self._signature = None


def _decode_container(
    container: av.container.InputContainer,
    label: str,
    *,
    rate: int,
    start_s: float,
    max_duration_s: float | None,
) -> DecodedAudio:
    """Decode the first audio stream of an open container (see :func:`decode_audio`)."""
    if not container.streams.audio:
        what = "a video without sound" if container.streams.video else "not an audio file"
        raise DecodeError(label, f"no audio stream ({what})")
    stream = container.streams.audio[0]
    codec = _codec_name(stream)
    origin_s = float(stream.start_time * stream.time_base) if stream.start_time is not None and stream.time_base else 0.0

    seek_to_s = origin_s + start_s - _SEEK_MARGIN_S if start_s >= _SEEK_MIN_S else None
    settings = dict(rate=rate, start_s=start_s, max_duration_s=max_duration_s, origin_s=origin_s)
    run = _decode_stream(container, stream, label, seek_to_s=seek_to_s, **settings)
    if run is None:
        # The seek landed after start_s, or lost the position: decode from
        # the start instead (without a seek this always returns a result).
        _rewind(container, stream, label)
        run = _decode_stream(container, stream, label, seek_to_s=None, **settings)
    samples, src_rate, src_channels = run

    if samples.size == 0:
        if src_rate and start_s > 0:
            raise DecodeError(label, f"no audio after start_s={start_s:g} s (the audio ends before that)")
        raise DecodeError(label, "no audio samples (the audio stream is empty or could not be decoded)")
    if max_duration_s is not None and samples.size > math.ceil(max_duration_s * rate):
        samples = samples[: math.ceil(max_duration_s * rate)].copy()  # a copy frees the rest
    np.nan_to_num(samples, copy=False)
    np.clip(samples, -1.0, 1.0, out=samples)  # resampling rings past full scale on clipped masters
    return DecodedAudio(
        samples=samples,
        sample_rate_hz=rate,
        duration_s=samples.size / rate,
        source_sample_rate_hz=src_rate,
        source_channels=src_channels,
        codec=codec,
    )


def _decode_stream(
    container: av.container.InputContainer,
    stream: av.audio.stream.AudioStream,
    label: str,
    *,
    rate: int,
    start_s: float,
    max_duration_s: float | None,
    origin_s: float,
    seek_to_s: float | None,
) -> tuple[np.ndarray, int, int] | None:
    """Demux and decode; ``(samples, source rate, source channels)``.

    Returns ``None`` if a seek landed after ``start_s``, or somewhere unknown
    (the caller then decodes from the start).
    """
    seeked = False
    if seek_to_s is not None and stream.time_base:
        try:
            container.seek(max(0, int(seek_to_s / stream.time_base)), stream=stream, backward=True, any_frame=False)
            seeked = True
        except (av.FFmpegError, OSError, ValueError):
            pass  # not seekable: nothing was read yet, so decode from the start and skip

    converter = _MonoConverter(rate)
    limit = None if max_duration_s is None else math.ceil(max_duration_s * rate)
    src_rate = src_channels = 0
    n_frames = 0
    n_bad = 0
    try:
        for packet in container.demux(stream):
            try:
                frames = packet.decode()
            except (av.FFmpegError, ValueError):
                # A damaged packet (a cut or corrupted file): the decoder
                # resynchronises on the next good one.  Bad packets far
                # outnumbering good frames mean "not audio": stop reading.
                n_bad += 1
                if n_bad > _MAX_BAD_PACKETS + _BAD_PER_GOOD * n_frames:
                    break
                continue
            for frame in frames:
                if frame.samples == 0:
                    continue
                if n_frames == 0:
                    src_rate = int(frame.sample_rate)
                    src_channels = int(frame.layout.nb_channels)
                    at_s = 0.0
                    if seeked:
                        if frame.time is None:
                            return None  # position unknown after the seek
                        at_s = float(frame.time) - origin_s
                        if at_s > start_s + 0.001:
                            return None
                    converter.discard_s = max(0.0, start_s - at_s)
                n_frames += 1
                converter.push(frame)
            if limit is not None and converter.n_out >= limit:
                break
    except (av.FFmpegError, OSError, ValueError, EOFError) as exc:
        # The demuxer gave up mid-file (truncated or corrupted container):
        # keep the audio decoded so far, if there is any.
        if n_frames == 0:
            raise DecodeError(label, _reason(exc, opening=False)) from None
    if n_bad > _BAD_PER_GOOD * n_frames:
        if n_frames == 0:
            raise DecodeError(label, "no audio samples (the audio data cannot be decoded; damaged, or not audio)")
        raise DecodeError(label, f"not audio, or badly damaged: {n_bad} of {n_bad + n_frames} audio packets cannot be decoded")
    return converter.finish(), src_rate, src_channels


def _rewind(container: av.container.InputContainer, stream: av.audio.stream.AudioStream, label: str) -> None:
    """Seek back to the start of the stream, or fail with a clear reason."""
    try:
        container.seek(0, stream=stream, backward=True, any_frame=False)
    except (av.FFmpegError, OSError, ValueError):
        raise DecodeError(label, "cannot seek in this input; decode it without start_s") from None


def _codec_name(stream: av.audio.stream.AudioStream) -> str:
    """FFmpeg's codec name (``"mp3"``, not the decoder's ``"mp3float"``)."""
    try:
        codec = stream.codec_context.codec
        return str(getattr(codec, "canonical_name", None) or codec.name)
    except (AttributeError, av.FFmpegError, ValueError):
        return "unknown"


_TAG_KEYS = ("title", "artist", "album")


def read_tags(path: str | os.PathLike) -> dict[str, str | None]:
    """Title, artist and album from a file's tags.

    Reads the container's and the first audio stream's metadata with PyAV
    (keys compared case-insensitively, so ID3, Vorbis comments, MP4 atoms
    and RIFF INFO all work), then fills what is still missing with
    ``mutagen.File(path, easy=True)``.

    Parameters
    ----------
    path : str or os.PathLike
        An audio or video file.

    Returns
    -------
    dict
        ``{"title": str | None, "artist": str | None, "album": str | None}``;
        ``None`` where a tag is missing or empty.  Never raises: a file whose
        tags cannot be read (or that does not exist) gets all ``None``.
    """
    tags: dict[str, str | None] = dict.fromkeys(_TAG_KEYS)
    if held_reason(path) is not None:
        return tags
    try:
        with av.open("file:" + os.path.abspath(path), mode="r", metadata_errors="ignore") as container:
            found = _lower_keys(container.metadata)
            if container.streams.audio:
                for key, value in _lower_keys(container.streams.audio[0].metadata).items():
                    found.setdefault(key, value)
        for key in _TAG_KEYS:
            tags[key] = _clean_tag(found.get(key))
    except Exception:  # noqa: BLE001 - tags are optional; never fatal
        pass
    if any(value is None for value in tags.values()):
        try:
            import mutagen

            easy = mutagen.File(os.fspath(path), easy=True)
            if easy is not None and easy.tags is not None:
                for key in _TAG_KEYS:
                    if tags[key] is None:
                        values = easy.tags.get(key) or []
                        tags[key] = next((v for v in map(_clean_tag, values) if v), None)
        except Exception:  # noqa: BLE001 - mutagen raises many kinds on odd files
            pass
    return tags


def _lower_keys(metadata: object) -> dict[str, object]:
    """Metadata with lower-cased keys (the first of duplicates wins)."""
    out: dict[str, object] = {}
    for key, value in dict(metadata or {}).items():
        out.setdefault(str(key).lower(), value)
    return out


def _clean_tag(value: object) -> str | None:
    """A tag value as a stripped string, or ``None`` if there is nothing in it."""
    if value is None:
        return None
    text = str(value).replace("\x00", " ").strip()
    return text or None


def iter_audio_files(paths: Iterable[str | os.PathLike], *, recursive: bool = True,
                     extensions: Iterable[str] = ()) -> Iterator[Path]:
    """The files to read, from the files and folders a user named.

    Parameters
    ----------
    paths : iterable of str or os.PathLike
        Files and folders, in the user's order.
    recursive : bool, default True
        Walk sub-folders too; if false, only the files directly in each folder.
    extensions : iterable of str, optional
        More lower-cased suffixes (``".txt"``) to pick up in folders besides
        :data:`AUDIO_EXTENSIONS` (the other media's engines name theirs:
        :func:`consentry.services.media.folder_extensions`).

    Yields
    ------
    Path
        A file given explicitly is yielded as it is, whatever its suffix
        (the decoder then says what is wrong with it).  In a folder, files
        whose lower-cased suffix is in :data:`AUDIO_EXTENSIONS`, in sorted
        path order (a folder's entries sorted by name, sub-folders visited
        where they sort); hidden files and folders (name starting with
        ``"."``) are skipped, and symbolic links to folders are not followed
        (no loops, no double counting).

    Raises
    ------
    InputError
        If a path does not exist (``"<path>: no such file or folder"``) or a
        folder cannot be listed.
    """
    for given in paths:
        path = Path(given).expanduser()  # "~/catalogue" from Python as from a shell
        if not path.exists():
            raise InputError(f"{given}: no such file or folder")
        if path.is_dir():
            yield from _walk(path, recursive=recursive, suffixes=AUDIO_EXTENSIONS | frozenset(extensions))
        else:
            yield path


def _walk(folder: Path, *, recursive: bool, suffixes: frozenset[str] = AUDIO_EXTENSIONS) -> Iterator[Path]:
    """Files in ``folder`` whose suffix is in ``suffixes``, depth first in sorted name order."""
    try:
        with os.scandir(folder) as scan:
            entries = sorted(scan, key=lambda entry: entry.name)
    except OSError as exc:
        raise InputError(f"{folder}: cannot list folder ({exc.strerror or exc})") from None
    for entry in entries:
        if entry.name.startswith("."):
            continue
        try:
            if entry.is_dir(follow_symlinks=False):
                if recursive:
                    yield from _walk(folder / entry.name, recursive=True, suffixes=suffixes)
            elif entry.is_file() and os.path.splitext(entry.name)[1].lower() in suffixes:
                yield folder / entry.name
        except OSError:
            continue  # vanished or unreadable entry: nothing to yield
