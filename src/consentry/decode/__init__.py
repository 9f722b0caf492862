"""Bytes in: audio decoding, tags, and discovery of audio files."""

from .audio import AUDIO_EXTENSIONS, DecodedAudio, decode_audio, iter_audio_files, read_tags

__all__ = ["AUDIO_EXTENSIONS", "DecodedAudio", "decode_audio", "iter_audio_files", "read_tags"]
