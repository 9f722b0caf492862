"""Decoding layer: formats, channels, rates, containers, bad inputs, tags, folder walks.

All media is made here, in tmp_path, with PyAV's encoders and NumPy tones.
"""

from __future__ import annotations

import io
import os
import wave
from pathlib import Path

import av
import numpy as np
import pytest

from consentry.io.decode import AUDIO_EXTENSIONS, DecodedAudio, decode_audio, iter_audio_files, read_tags
from consentry.io.decode import audio as audio_module
from consentry.domain.errors import DecodeError, InputError

TONE_HZ = 1000.0
AMPLITUDE = 0.5


# --------------------------------------------------------------------------- media


def tone(*, duration_s: float, sample_rate_hz: int, freq_hz: float = TONE_HZ, amplitude: float = AMPLITUDE) -> np.ndarray:
    """A sine, float32 of shape (n,)."""
    t = np.arange(int(round(duration_s * sample_rate_hz))) / sample_rate_hz
    return (amplitude * np.sin(2 * np.pi * freq_hz * t)).astype(np.float32)


def write_audio(
    path: Path,
    channels: np.ndarray,
    *,
    sample_rate_hz: int,
    codec: str,
    container_format: str | None = None,
    bitrate: int | None = None,
    tags: dict[str, str] | None = None,
) -> Path:
    """Encode ``channels`` (float32, shape (n_channels, n)) with PyAV.

    Layout: mono, stereo or 5.1 by channel count.
    """
    channels = np.atleast_2d(np.asarray(channels, dtype=np.float32))
    layout = {1: "mono", 2: "stereo", 6: "5.1"}[channels.shape[0]]
    with av.open(str(path), "w", format=container_format) as out:
        if tags:
            out.metadata.update(tags)
        stream = out.add_stream(codec, rate=sample_rate_hz)
        stream.layout = layout
        if bitrate:
            stream.bit_rate = bitrate
        _encode_audio(out, stream, channels, sample_rate_hz=sample_rate_hz, layout=layout)
    return path


def _encode_audio(out, stream, channels: np.ndarray, *, sample_rate_hz: int, layout: str) -> None:
    fmt = stream.codec_context.codec.audio_formats[0].name
    to_codec = av.AudioResampler(format=fmt, layout=layout, rate=sample_rate_hz)
    step = 1024
    for i in range(0, channels.shape[1], step):
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(channels[:, i : i + step]), format="fltp", layout=layout)
        frame.sample_rate = sample_rate_hz
        frame.pts = i
        for converted in to_codec.resample(frame):
            for packet in stream.encode(converted):
                out.mux(packet)
    for converted in to_codec.resample(None):
        for packet in stream.encode(converted):
            out.mux(packet)
    for packet in stream.encode(None):
        out.mux(packet)


def write_wav(path: Path, samples: np.ndarray, *, sample_rate_hz: int) -> Path:
    """16-bit mono WAV with the standard library (independent of FFmpeg's muxer)."""
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sample_rate_hz)
        w.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return path


def write_video(path: Path, *, duration_s: float, audio: bool, audio_codec: str = "aac", video_codec: str = "mpeg4") -> Path:
    """A tiny video (32x32, 10 fps, moving grey levels), with a 1 kHz sound track if ``audio``."""
    sr = 48000
    with av.open(str(path), "w") as out:
        video = out.add_stream(video_codec, rate=10)
        video.width = video.height = 32
        video.pix_fmt = "yuv420p"
        sound = None
        if audio:
            sound = out.add_stream(audio_codec, rate=sr)
            sound.layout = "stereo"
        for i in range(int(duration_s * 10)):
            picture = np.full((32, 32, 3), (i * 20) % 256, dtype=np.uint8)
            frame = av.VideoFrame.from_ndarray(picture, format="rgb24").reformat(format="yuv420p")
            frame.pts = i
            for packet in video.encode(frame):
                out.mux(packet)
        for packet in video.encode(None):
            out.mux(packet)
        if sound is not None:
            x = tone(duration_s=duration_s, sample_rate_hz=sr)
            _encode_audio(out, sound, np.stack([x, x]), sample_rate_hz=sr, layout="stereo")
    return path


def dominant_hz(samples: np.ndarray, sample_rate_hz: int) -> float:
    """Frequency (Hz) of the strongest FFT bin, Hann-windowed."""
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(samples.size)))
    return float(np.argmax(spectrum) * sample_rate_hz / samples.size)


def middle(samples: np.ndarray, sample_rate_hz: int) -> np.ndarray:
    """The samples without their first and last 0.1 s (codec and resampler edges)."""
    edge = int(0.1 * sample_rate_hz)
    return samples[edge:-edge]


def assert_clean_error(excinfo: pytest.ExceptionInfo, name: str, reason: str | None = None) -> None:
    """The error names the input, is one line, and (optionally) says ``reason``."""
    message = str(excinfo.value)
    assert name in message
    assert "\n" not in message and "Traceback" not in message
    assert message.startswith(name)
    if reason is not None:
        assert reason in message.lower()


@pytest.fixture(scope="module")
def mp3_tone(tmp_path_factory) -> Path:
    """Four seconds of a stereo 1 kHz tone at 44.1 kHz, 128 kbit/s MP3."""
    x = tone(duration_s=4.0, sample_rate_hz=44100)
    return write_audio(tmp_path_factory.mktemp("mp3") / "tone.mp3", np.stack([x, x]), sample_rate_hz=44100,
                       codec="libmp3lame", bitrate=128000)


# --------------------------------------------------------------------------- formats


FORMATS = [
    # suffix, codec, container format, source rate, expected codec name
    (".wav", "pcm_s16le", None, 44100, "pcm_s16le"),
    (".flac", "flac", None, 44100, "flac"),
    (".mp3", "libmp3lame", None, 44100, "mp3"),
    (".opus", "libopus", "ogg", 48000, "opus"),
    (".m4a", "aac", None, 44100, "aac"),
    (".aiff", "pcm_s16be", "aiff", 44100, "pcm_s16be"),
]


@pytest.mark.parametrize("suffix, codec, container_format, source_hz, codec_name", FORMATS, ids=[f[0] for f in FORMATS])
def test_round_trip_keeps_duration_pitch_and_level(tmp_path, suffix, codec, container_format, source_hz, codec_name):
    path = write_audio(tmp_path / f"tone{suffix}", tone(duration_s=2.0, sample_rate_hz=source_hz),
                       sample_rate_hz=source_hz, codec=codec, container_format=container_format)

    audio = decode_audio(path, sample_rate_hz=8000)

    assert isinstance(audio, DecodedAudio)
    assert audio.samples.dtype == np.float32 and audio.samples.ndim == 1
    assert audio.sample_rate_hz == 8000
    assert audio.duration_s == pytest.approx(audio.samples.size / 8000)
    assert audio.duration_s == pytest.approx(2.0, abs=0.06)  # lossy codecs pad a frame or so
    assert audio.source_sample_rate_hz == source_hz
    assert audio.source_channels == 1
    assert audio.codec == codec_name
    body = middle(audio.samples, 8000)
    assert dominant_hz(body, 8000) == pytest.approx(TONE_HZ, abs=2.0)
    assert np.abs(body).max() == pytest.approx(AMPLITUDE, rel=0.1)
    assert np.abs(audio.samples).max() <= 1.0


@pytest.mark.parametrize("source_hz, target_hz", [(8000, 8000), (8000, 11025), (192000, 8000), (192000, 11025), (44100, 11025)])
def test_any_source_rate_to_any_target_rate(tmp_path, source_hz, target_hz):
    path = write_wav(tmp_path / f"tone_{source_hz}.wav", tone(duration_s=1.0, sample_rate_hz=source_hz),
                     sample_rate_hz=source_hz)

    audio = decode_audio(path, sample_rate_hz=target_hz)

    assert audio.sample_rate_hz == target_hz
    assert audio.source_sample_rate_hz == source_hz
    assert audio.samples.size == pytest.approx(target_hz, abs=target_hz * 0.005)
    body = middle(audio.samples, target_hz)
    assert dominant_hz(body, target_hz) == pytest.approx(TONE_HZ, abs=2.0)
    assert np.abs(body).max() == pytest.approx(AMPLITUDE, rel=0.05)


def test_high_frequencies_above_the_target_nyquist_are_filtered_out(tmp_path):
    # 6 kHz cannot exist at 8 kHz; it must not fold back as a 2 kHz alias.
    path = write_wav(tmp_path / "high.wav", tone(duration_s=1.0, sample_rate_hz=44100, freq_hz=6000.0),
                     sample_rate_hz=44100)
    audio = decode_audio(path, sample_rate_hz=8000)
    assert np.sqrt(np.mean(middle(audio.samples, 8000) ** 2)) < 0.01


# --------------------------------------------------------------------------- channels


def test_stereo_with_the_same_signal_in_both_channels_keeps_its_level(tmp_path):
    x = tone(duration_s=1.0, sample_rate_hz=44100)
    path = write_audio(tmp_path / "stereo.flac", np.stack([x, x]), sample_rate_hz=44100, codec="flac")

    audio = decode_audio(path, sample_rate_hz=8000)

    assert audio.source_channels == 2
    # FFmpeg's default mono mix would give 0.707 here (+3 dB).
    assert np.abs(middle(audio.samples, 8000)).max() == pytest.approx(AMPLITUDE, rel=0.02)


def test_full_scale_stereo_stays_within_minus_one_to_one(tmp_path):
    x = tone(duration_s=1.0, sample_rate_hz=44100, amplitude=0.999)
    path = write_audio(tmp_path / "loud.flac", np.stack([x, x]), sample_rate_hz=44100, codec="flac")
    audio = decode_audio(path, sample_rate_hz=8000)
    assert np.abs(audio.samples).max() <= 1.0
    assert np.abs(audio.samples).max() > 0.95


def test_stereo_with_the_signal_in_one_channel_is_half_as_loud(tmp_path):
    x = tone(duration_s=1.0, sample_rate_hz=44100)
    path = write_audio(tmp_path / "left.flac", np.stack([x, np.zeros_like(x)]), sample_rate_hz=44100, codec="flac")
    audio = decode_audio(path, sample_rate_hz=8000)
    assert np.abs(middle(audio.samples, 8000)).max() == pytest.approx(AMPLITUDE / 2, rel=0.02)


@pytest.mark.parametrize("channel", [0, 1, 2, 3, 4, 5], ids=["FL", "FR", "FC", "LFE", "BL", "BR"])
def test_six_channels_with_a_tone_in_one_channel_decode_to_audible_mono(tmp_path, channel):
    x = tone(duration_s=1.0, sample_rate_hz=48000)
    data = np.zeros((6, x.size), dtype=np.float32)
    data[channel] = x
    path = write_audio(tmp_path / f"surround_{channel}.flac", data, sample_rate_hz=48000, codec="flac")

    audio = decode_audio(path, sample_rate_hz=8000)

    assert audio.source_channels == 6
    body = middle(audio.samples, 8000)
    assert np.sqrt(np.mean(body**2)) > 0.01  # not silent (FFmpeg's default mix drops the LFE)
    assert dominant_hz(body, 8000) == pytest.approx(TONE_HZ, abs=2.0)


def test_six_channels_with_the_same_signal_everywhere_keep_its_level(tmp_path):
    x = tone(duration_s=1.0, sample_rate_hz=48000)
    path = write_audio(tmp_path / "all.flac", np.repeat(x[None, :], 6, axis=0), sample_rate_hz=48000, codec="flac")
    audio = decode_audio(path, sample_rate_hz=8000)
    assert np.abs(middle(audio.samples, 8000)).max() == pytest.approx(AMPLITUDE, rel=0.02)


# --------------------------------------------------------------------------- containers with video


@pytest.mark.parametrize("suffix, audio_codec, video_codec", [(".mp4", "aac", "mpeg4"), (".mkv", "libopus", "mpeg4")])
def test_video_file_gives_its_sound_track(tmp_path, suffix, audio_codec, video_codec):
    path = write_video(tmp_path / f"clip{suffix}", duration_s=2.0, audio=True, audio_codec=audio_codec,
                       video_codec=video_codec)
    with av.open(str(path)) as c:
        assert c.streams.video and c.streams.audio  # the test file really has both

    audio = decode_audio(path, sample_rate_hz=8000)

    assert audio.source_channels == 2
    assert audio.duration_s == pytest.approx(2.0, abs=0.06)
    assert dominant_hz(middle(audio.samples, 8000), 8000) == pytest.approx(TONE_HZ, abs=2.0)


def test_video_without_sound_is_a_clean_error(tmp_path):
    path = write_video(tmp_path / "silent_film.mp4", duration_s=1.0, audio=False)
    with pytest.raises(DecodeError) as excinfo:
        decode_audio(path, sample_rate_hz=8000)
    assert_clean_error(excinfo, str(path), "no audio stream")


# --------------------------------------------------------------------------- parts of a file


def test_max_duration_stops_early(mp3_tone):
    audio = decode_audio(mp3_tone, sample_rate_hz=8000, max_duration_s=1.5)
    assert audio.samples.size == 12000
    assert audio.duration_s == pytest.approx(1.5)


def test_max_duration_longer_than_the_file_returns_it_all(mp3_tone):
    assert decode_audio(mp3_tone, sample_rate_hz=8000, max_duration_s=60).duration_s == pytest.approx(4.0, abs=0.06)


@pytest.mark.parametrize("start_s", [0.5, 2.25])
def test_start_skips_exactly(tmp_path, start_s):
    # A click train: the decoded excerpt must line up with the full decode.
    sr = 8000
    x = np.zeros(4 * sr, dtype=np.float32)
    x[::997] = 0.9
    path = write_wav(tmp_path / "clicks.wav", x, sample_rate_hz=sr)
    full = decode_audio(path, sample_rate_hz=sr).samples
    part = decode_audio(path, sample_rate_hz=sr, start_s=start_s, max_duration_s=1.0).samples
    offset = int(start_s * sr)
    assert part.size == sr
    np.testing.assert_allclose(part, full[offset : offset + sr], atol=1e-6)


def test_far_start_seeks_and_lines_up_with_the_full_decode(tmp_path, monkeypatch):
    monkeypatch.setattr(audio_module, "_SEEK_MIN_S", 1.0)  # force the seeking path on a short file
    sr = 44100
    rng = np.random.default_rng(7)
    x = (0.3 * rng.standard_normal(6 * sr)).astype(np.float32)
    path = write_audio(tmp_path / "noise.flac", x, sample_rate_hz=sr, codec="flac")
    full = decode_audio(path, sample_rate_hz=8000).samples
    part = decode_audio(path, sample_rate_hz=8000, start_s=3.5, max_duration_s=1.0).samples
    ref = full[28000:36000]
    corr = float(np.dot(ref, part) / np.sqrt(np.dot(ref, ref) * np.dot(part, part)))
    assert part.size == 8000 and corr > 0.999


def test_start_after_the_end_is_a_clean_error(mp3_tone):
    with pytest.raises(DecodeError) as excinfo:
        decode_audio(mp3_tone, sample_rate_hz=8000, start_s=5.0)
    assert_clean_error(excinfo, str(mp3_tone), "no audio after")


@pytest.mark.parametrize("kwargs", [dict(sample_rate_hz=0), dict(sample_rate_hz=8000.5), dict(sample_rate_hz=8000, start_s=-1.0),
                                    dict(sample_rate_hz=8000, max_duration_s=0.0)])
def test_bad_arguments_are_input_errors(mp3_tone, kwargs):
    with pytest.raises(InputError):
        decode_audio(mp3_tone, **kwargs)


# --------------------------------------------------------------------------- other sources


def test_bytes_and_file_objects(mp3_tone):
    data = mp3_tone.read_bytes()
    from_bytes = decode_audio(data, sample_rate_hz=8000)
    from_buffer = decode_audio(io.BytesIO(data), sample_rate_hz=8000)
    with open(mp3_tone, "rb") as fh:
        from_file = decode_audio(fh, sample_rate_hz=8000)
    from_path = decode_audio(mp3_tone, sample_rate_hz=8000)
    for audio in (from_bytes, from_buffer, from_file):
        assert audio.codec == "mp3"
        np.testing.assert_allclose(audio.samples, from_path.samples, atol=1e-6)


def test_bad_bytes_name_the_input(tmp_path):
    with pytest.raises(DecodeError) as excinfo:
        decode_audio(b"definitely not audio" * 50, sample_rate_hz=8000, name="upload.mp3")
    assert_clean_error(excinfo, "upload.mp3")
    with pytest.raises(DecodeError) as excinfo:
        decode_audio(b"", sample_rate_hz=8000)
    assert_clean_error(excinfo, "<bytes>", "empty")


@pytest.mark.parametrize("file_name", ["Canção_ñ_日本.wav", "mix:take 2.wav", "#1 ?&% [live].wav"])
def test_unusual_file_names(tmp_path, file_name):
    path = write_wav(tmp_path / file_name, tone(duration_s=0.5, sample_rate_hz=22050), sample_rate_hz=22050)
    audio = decode_audio(path, sample_rate_hz=8000)
    assert audio.duration_s == pytest.approx(0.5, abs=0.01)
    assert dominant_hz(middle(audio.samples, 8000), 8000) == pytest.approx(TONE_HZ, abs=4.0)


def test_file_name_that_is_not_utf8(tmp_path):
    path = Path(os.fsdecode(os.fsencode(str(tmp_path)) + b"/caf\xe9 \xff.wav"))
    try:
        write_wav(path, tone(duration_s=0.5, sample_rate_hz=8000), sample_rate_hz=8000)
    except (OSError, UnicodeError):
        pytest.skip("this file system wants UTF-8 names")
    assert decode_audio(path, sample_rate_hz=8000).duration_s == pytest.approx(0.5)
    assert list(iter_audio_files([tmp_path])) == [path]


def test_non_ascii_name_in_error_message(tmp_path):
    path = tmp_path / "Canção_ñ_日本.mp3"
    path.write_bytes(b"\x00" * 100)
    with pytest.raises(DecodeError) as excinfo:
        decode_audio(path, sample_rate_hz=8000)
    assert_clean_error(excinfo, str(path))


def test_short_file_decodes(tmp_path):
    path = write_wav(tmp_path / "blip.wav", tone(duration_s=0.2, sample_rate_hz=44100), sample_rate_hz=44100)
    audio = decode_audio(path, sample_rate_hz=8000)
    assert audio.duration_s == pytest.approx(0.2, abs=0.005)


def test_mid_stream_sample_rate_change_decodes_it_all(tmp_path):
    # Two MP3s glued together (as in some stream rips): 44.1 kHz, then 22.05 kHz.
    a = write_audio(tmp_path / "a.mp3", tone(duration_s=1.0, sample_rate_hz=44100), sample_rate_hz=44100, codec="libmp3lame")
    b = write_audio(tmp_path / "b.mp3", tone(duration_s=1.0, sample_rate_hz=22050, freq_hz=500.0),
                    sample_rate_hz=22050, codec="libmp3lame")
    glued = tmp_path / "glued.mp3"
    glued.write_bytes(a.read_bytes() + b.read_bytes())
    audio = decode_audio(glued, sample_rate_hz=8000)
    assert audio.duration_s == pytest.approx(2.0, abs=0.15)
    assert dominant_hz(audio.samples[800:7200], 8000) == pytest.approx(TONE_HZ, abs=2.0)
    assert dominant_hz(audio.samples[-7200:-800], 8000) == pytest.approx(500.0, abs=2.0)


# --------------------------------------------------------------------------- bad inputs


def test_missing_file(tmp_path):
    path = tmp_path / "nowhere.mp3"
    with pytest.raises(DecodeError) as excinfo:
        decode_audio(path, sample_rate_hz=8000)
    assert_clean_error(excinfo, str(path), "file not found")


def test_directory(tmp_path):
    with pytest.raises(DecodeError) as excinfo:
        decode_audio(tmp_path, sample_rate_hz=8000)
    assert_clean_error(excinfo, str(tmp_path), "folder")


def test_empty_file(tmp_path):
    path = tmp_path / "empty.mp3"
    path.touch()
    with pytest.raises(DecodeError) as excinfo:
        decode_audio(path, sample_rate_hz=8000)
    assert_clean_error(excinfo, str(path), "empty file")


def test_wav_without_samples(tmp_path):
    path = write_wav(tmp_path / "nothing.wav", np.zeros(0, dtype=np.float32), sample_rate_hz=44100)
    with pytest.raises(DecodeError) as excinfo:
        decode_audio(path, sample_rate_hz=8000)
    assert_clean_error(excinfo, str(path), "no audio samples")


@pytest.mark.parametrize("suffix", [".mp3", ".txt"])
def test_text_file(tmp_path, suffix):
    path = tmp_path / f"notes{suffix}"
    path.write_text("These are my lyrics.\nNot a song, though.\n" * 40, encoding="utf-8")
    with pytest.raises(DecodeError) as excinfo:
        decode_audio(path, sample_rate_hz=8000)
    assert_clean_error(excinfo, str(path))


@pytest.mark.parametrize("seed", range(8))
def test_random_bytes_named_mp3(tmp_path, seed):
    path = tmp_path / f"random{seed}.mp3"
    path.write_bytes(np.random.default_rng(seed).integers(0, 256, 200_000, dtype=np.uint8).tobytes())
    with pytest.raises(DecodeError) as excinfo:
        decode_audio(path, sample_rate_hz=8000)
    assert_clean_error(excinfo, str(path))


def test_mp3_cut_in_half_decodes_the_first_half(tmp_path, mp3_tone):
    data = mp3_tone.read_bytes()
    path = tmp_path / "half.mp3"
    path.write_bytes(data[: len(data) // 2])
    audio = decode_audio(path, sample_rate_hz=8000)
    assert audio.duration_s == pytest.approx(2.0, abs=0.2)
    assert dominant_hz(middle(audio.samples, 8000), 8000) == pytest.approx(TONE_HZ, abs=2.0)


def test_flac_cut_short_decodes_what_is_there(tmp_path):
    path = write_audio(tmp_path / "whole.flac", tone(duration_s=2.0, sample_rate_hz=44100), sample_rate_hz=44100, codec="flac")
    cut = tmp_path / "cut.flac"
    data = path.read_bytes()
    cut.write_bytes(data[: int(len(data) * 0.6)])
    audio = decode_audio(cut, sample_rate_hz=8000)
    assert 0.8 < audio.duration_s < 1.6


@pytest.mark.parametrize("n_bytes", [100, 300])
def test_mp3_cut_to_a_few_bytes_is_a_clean_error(tmp_path, mp3_tone, n_bytes):
    path = tmp_path / f"stub{n_bytes}.mp3"
    path.write_bytes(mp3_tone.read_bytes()[:n_bytes])
    with pytest.raises(DecodeError) as excinfo:
        decode_audio(path, sample_rate_hz=8000)
    assert_clean_error(excinfo, str(path))


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root can read any file")
def test_unreadable_file(tmp_path, mp3_tone):
    path = tmp_path / "locked.mp3"
    path.write_bytes(mp3_tone.read_bytes())
    path.chmod(0)
    try:
        with pytest.raises(DecodeError) as excinfo:
            decode_audio(path, sample_rate_hz=8000)
    finally:
        path.chmod(0o644)
    assert_clean_error(excinfo, str(path), "permission denied")


def test_permission_denied_is_reported_as_such(tmp_path, mp3_tone, monkeypatch):
    # Runs as root too: the OS refusal is simulated where the module opens the file.
    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(audio_module, "open", refuse, raising=False)
    with pytest.raises(DecodeError) as excinfo:
        decode_audio(mp3_tone, sample_rate_hz=8000)
    assert_clean_error(excinfo, str(mp3_tone), "permission denied")


def test_ffmpeg_errors_never_escape(mp3_tone, monkeypatch):
    def broken_open(*args, **kwargs):
        raise av.error.UndefinedError(-1, "something odd\nwith two lines")

    monkeypatch.setattr(audio_module.av, "open", broken_open)
    with pytest.raises(DecodeError) as excinfo:
        decode_audio(mp3_tone, sample_rate_hz=8000)
    assert_clean_error(excinfo, str(mp3_tone))


# --------------------------------------------------------------------------- tags


def test_tags_from_container_metadata(tmp_path):
    path = write_audio(tmp_path / "tagged.mp3", tone(duration_s=0.5, sample_rate_hz=44100), sample_rate_hz=44100,
                       codec="libmp3lame", tags={"title": "Água de Beber", "artist": "Zé", "album": "日本"})
    assert read_tags(path) == {"title": "Água de Beber", "artist": "Zé", "album": "日本"}


def test_tags_are_case_insensitive_and_read_from_the_stream(tmp_path):
    # Ogg keeps Vorbis comments on the stream; keys here are upper case.
    path = tmp_path / "tagged.opus"
    with av.open(str(path), "w", format="ogg") as out:
        stream = out.add_stream("libopus", rate=48000)
        stream.layout = "mono"
        stream.metadata["TITLE"] = "Upper"
        stream.metadata["Artist"] = "Mixed"
        _encode_audio(out, stream, tone(duration_s=0.5, sample_rate_hz=48000)[None, :], sample_rate_hz=48000, layout="mono")
    assert read_tags(path) == {"title": "Upper", "artist": "Mixed", "album": None}


def test_tags_fall_back_to_mutagen(tmp_path, monkeypatch):
    path = write_audio(tmp_path / "tagged.flac", tone(duration_s=0.5, sample_rate_hz=44100), sample_rate_hz=44100,
                       codec="flac", tags={"title": "Via Mutagen", "album": "B-sides"})

    def broken_open(*args, **kwargs):
        raise av.error.InvalidDataError(-1, "nope")

    monkeypatch.setattr(audio_module.av, "open", broken_open)
    assert read_tags(path) == {"title": "Via Mutagen", "artist": None, "album": "B-sides"}


def test_tags_never_raise(tmp_path):
    junk = tmp_path / "junk.mp3"
    junk.write_bytes(b"\xff\xfb" + b"junk" * 100)
    empty = tmp_path / "empty.flac"
    empty.touch()
    nothing = {"title": None, "artist": None, "album": None}
    for path in (junk, empty, tmp_path / "missing.ogg", tmp_path):
        assert read_tags(path) == nothing
    untagged = write_wav(tmp_path / "plain.wav", tone(duration_s=0.2, sample_rate_hz=8000), sample_rate_hz=8000)
    assert read_tags(untagged) == nothing


# --------------------------------------------------------------------------- folders


def test_audio_extensions_are_lower_case_suffixes():
    assert all(ext.startswith(".") and ext == ext.lower() for ext in AUDIO_EXTENSIONS)
    for ext in (".wav", ".flac", ".mp3", ".ogg", ".oga", ".opus", ".m4a", ".aac", ".mp4", ".aif", ".aiff", ".aifc",
                ".wma", ".webm", ".mkv", ".mov", ".avi", ".m4v"):
        assert ext in AUDIO_EXTENSIONS


def _tree(root: Path) -> None:
    for rel in ["b.mp3", "a.WAV", "notes.txt", ".hidden.mp3", "z/clip.mp4", "z/y/deep.flac", ".git/obj.mp3",
                "c/song.ogg", "c/cover.jpg", "c/.cache/x.flac"]:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")


def test_folder_walk_is_sorted_recursive_and_skips_hidden(tmp_path):
    _tree(tmp_path)
    found = [p.relative_to(tmp_path).as_posix() for p in iter_audio_files([tmp_path])]
    assert found == ["a.WAV", "b.mp3", "c/song.ogg", "z/clip.mp4", "z/y/deep.flac"]
    assert found == [p.relative_to(tmp_path).as_posix() for p in iter_audio_files([str(tmp_path)])]


def test_folder_walk_non_recursive(tmp_path):
    _tree(tmp_path)
    found = [p.name for p in iter_audio_files([tmp_path], recursive=False)]
    assert found == ["a.WAV", "b.mp3"]


def test_explicit_files_are_yielded_as_given(tmp_path):
    _tree(tmp_path)
    given = [tmp_path / "notes.txt", tmp_path / ".hidden.mp3", str(tmp_path / "b.mp3")]
    assert list(iter_audio_files(given)) == [Path(p) for p in given]


def test_symlinked_folders_are_not_followed(tmp_path):
    _tree(tmp_path)
    try:
        (tmp_path / "z" / "loop").symlink_to(tmp_path, target_is_directory=True)
        (tmp_path / "link.mp3").symlink_to(tmp_path / "b.mp3")
    except OSError:
        pytest.skip("no symlinks here")
    found = [p.relative_to(tmp_path).as_posix() for p in iter_audio_files([tmp_path])]
    assert found == ["a.WAV", "b.mp3", "c/song.ogg", "link.mp3", "z/clip.mp4", "z/y/deep.flac"]


def test_missing_path_is_an_input_error(tmp_path):
    missing = tmp_path / "gone"
    with pytest.raises(InputError, match=r"gone: no such file or folder$"):
        list(iter_audio_files([tmp_path, missing]))
