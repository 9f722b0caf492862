"""Moved to :mod:`consentry.formats.sniff` (the one magic-byte sniffer); kept so old imports work."""

from consentry.formats.sniff import SNIFF_BYTES, is_audio_media, sniff_media

__all__ = ["SNIFF_BYTES", "sniff_media", "is_audio_media"]
