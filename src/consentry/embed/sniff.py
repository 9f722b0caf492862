"""What kind of media file this is, from its first bytes (not its name) (pure).

:func:`sniff_kind` reads magic numbers only; it never trusts an extension,
so a WAV named ``.mp3`` is written to as a WAV.
"""

from __future__ import annotations

import os

from ..heldfiles import refuse_held

__all__ = ["KINDS", "sniff_kind", "sniff_bytes"]

#: What each kind is, its MIME type (as c2pa-python names it) and the
#: metadata carriers Consentry writes into it.
#:
#: ``tags``: ``"id3"``, ``"vorbis"`` or ``"mp4"`` (mutagen), or ``None``;
#: ``xmp``: Consentry writes the XMP packet itself; ``c2pa``: c2pa-python
#: can sign this kind.
KINDS: dict[str, dict] = {
    "wav": {"mime": "audio/wav", "media": "audio", "tags": "id3", "xmp": False, "c2pa": True},
    "aiff": {"mime": "audio/aiff", "media": "audio", "tags": "id3", "xmp": False, "c2pa": False},
    "mp3": {"mime": "audio/mpeg", "media": "audio", "tags": "id3", "xmp": False, "c2pa": True},
    "flac": {"mime": "audio/flac", "media": "audio", "tags": "vorbis", "xmp": False, "c2pa": True},
    "ogg": {"mime": "audio/ogg", "media": "audio", "tags": "vorbis", "xmp": False, "c2pa": False},
    "mp4": {"mime": "audio/mp4", "media": "audio", "tags": "mp4", "xmp": False, "c2pa": True},
    "jpeg": {"mime": "image/jpeg", "media": "image", "tags": None, "xmp": True, "c2pa": True},
    "png": {"mime": "image/png", "media": "image", "tags": None, "xmp": True, "c2pa": True},
    "webp": {"mime": "image/webp", "media": "image", "tags": None, "xmp": True, "c2pa": True},
    "tiff": {"mime": "image/tiff", "media": "image", "tags": None, "xmp": True, "c2pa": True},
}


def sniff_bytes(head: bytes) -> str | None:
    """The kind of file whose first bytes (64 or more) are ``head``, or ``None``.

    MP3 is recognised by an ID3v2 header or an MPEG audio frame sync at the
    very start; MP4/M4A by an ``ftyp`` box; Ogg by its capture pattern (the
    codec inside is not needed: every Ogg audio codec mutagen knows carries
    Vorbis comments).
    """
    if len(head) < 12:
        return None
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "wav"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return "aiff"
    if head[:4] == b"fLaC":
        return "flac"
    if head[:4] == b"OggS":
        return "ogg"
    if head[4:8] == b"ftyp":
        return "mp4"
    if head[:3] == b"\xff\xd8\xff":
        return "jpeg"
    if head[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "tiff"
    if head[:3] == b"ID3":
        # An ID3v2 tag in front of FLAC happens too: look behind it.
        size = _syncsafe(head[6:10])
        if size is not None and len(head) >= 10 + size + 4 and head[10 + size:14 + size] == b"fLaC":
            return "flac"
        return "mp3"
    if head[0] == 0xFF and (head[1] & 0xE0) == 0xE0 and (head[1] & 0x06) != 0:
        return "mp3"  # MPEG audio frame sync, layer I-III
    return None


def sniff_kind(path: str | os.PathLike) -> str | None:
    """The kind of the file at ``path`` (see :func:`sniff_bytes`), or ``None``.

    Raises ``OSError`` if the file cannot be read, and
    :class:`~consentry.errors.InputError` if it is a file of a registry this
    process has open (see :mod:`consentry.heldfiles`).
    """
    refuse_held(path)
    with open(path, "rb") as handle:
        head = handle.read(64)
        kind = sniff_bytes(head)
        if kind == "mp3" and head[:3] == b"ID3":
            size = _syncsafe(head[6:10]) or 0
            handle.seek(10 + size)
            if handle.read(4) == b"fLaC":
                return "flac"
        return kind


def _syncsafe(raw: bytes) -> int | None:
    """An ID3v2 synchsafe integer (7 bits a byte), or ``None`` if malformed."""
    if len(raw) != 4 or any(b & 0x80 for b in raw):
        return None
    return (raw[0] << 21) | (raw[1] << 14) | (raw[2] << 7) | raw[3]
