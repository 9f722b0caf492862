"""Bytes in: audio decoding, tags, and discovery of audio files."""

from consentry.io.decode.audio import AUDIO_EXTENSIONS, DecodedAudio, decode_audio, iter_audio_files, read_tags

__all__ = ["AUDIO_EXTENSIONS", "DecodedAudio", "decode_audio", "iter_audio_files", "read_tags"]
