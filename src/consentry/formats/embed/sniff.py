"""Moved to :mod:`consentry.formats.sniff` (the one magic-byte sniffer); kept so old imports work."""

from consentry.formats.sniff import KINDS, sniff_bytes, sniff_kind

__all__ = ["KINDS", "sniff_kind", "sniff_bytes"]
