"""Fingerprint algorithms (music: :mod:`.music`); the media-engine interface over them is :mod:`consentry.engines` (docs/engines.md)."""
