"""What a file holds, from its first bytes (the one magic-byte sniffer; pure except :func:`sniff_kind`).

:func:`sniff_media` names the media type of a file from its magic bytes, so
that files without an extension (or archive members without one) can be
taken as audio or counted as skipped with a reason a user understands
(``"not audio (image/jpeg)"``).  :func:`is_audio_media` says whether a media
type is one whose sound track the decoder can read.

Sniffing only needs the start of a file: :data:`SNIFF_BYTES` is enough for
every signature checked here.

:func:`sniff_bytes` and :func:`sniff_kind` name the *kind* of file that
:mod:`consentry.formats.embed` writes terms into (:data:`KINDS`), from the same
signatures; they never trust an extension, so a WAV named ``.mp3`` is
written to as a WAV.
"""

from __future__ import annotations

import codecs
import os
import re

__all__ = ["SNIFF_BYTES", "sniff_media", "sniff_magic", "is_audio_media", "KINDS", "sniff_bytes", "sniff_kind"]

#: Bytes from the start of a file that :func:`sniff_media` looks at (an MPEG
#: transport stream needs its second sync byte at offset 188).
SNIFF_BYTES = 512

#: ``ftyp`` brands of MPEG-4 files that hold sound only.
_AUDIO_MP4_BRANDS = frozenset({b"M4A ", b"M4B ", b"M4P ", b"F4A ", b"F4B "})
#: ``ftyp`` brands of still images in an ISO base media file (HEIF, AVIF).
_IMAGE_MP4_BRANDS = {
    b"heic": "image/heic", b"heix": "image/heic", b"hevc": "image/heic", b"heim": "image/heic",
    b"heis": "image/heic", b"mif1": "image/heif", b"msf1": "image/heif",
    b"avif": "image/avif", b"avis": "image/avif",
}
#: Video containers whose sound track the decoder reads (as for the video
#: suffixes in :data:`consentry.io.decode.audio.AUDIO_EXTENSIONS`).
_VIDEO_WITH_SOUND = frozenset(
    {
        "video/mp4", "video/quicktime", "video/3gpp", "video/webm", "video/x-matroska",
        "video/x-msvideo", "video/x-ms-asf", "video/x-flv", "video/mpeg", "video/mp2t", "video/ogg",
    }
)
#: Signatures at offset 0 that need no further check, longest first where
#: one is a prefix of another.
_PREFIXES: tuple[tuple[bytes, str], ...] = (
    (b"fLaC", "audio/flac"),
    (b"OggS", "audio/ogg"),
    (b"ID3", "audio/mpeg"),
    (b"#!AMR", "audio/amr"),
    (b"MAC ", "audio/x-ape"),
    (b"wvpk", "audio/x-wavpack"),
    (b"MPCK", "audio/x-musepack"),
    (b"MP+", "audio/x-musepack"),
    (b"caff", "audio/x-caf"),
    (b".snd", "audio/basic"),
    (b"DSD ", "audio/x-dsf"),
    (b"FRM8", "audio/x-dff"),
    (b"tBaK", "audio/x-tak"),
    (b"TTA1", "audio/x-tta"),
    (b"\x30\x26\xb2\x75\x8e\x66\xcf\x11", "video/x-ms-asf"),
    (b"FLV\x01", "video/x-flv"),
    (b"\x00\x00\x01\xba", "video/mpeg"),
    (b"\x00\x00\x01\xb3", "video/mpeg"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
    (b"%PDF-", "application/pdf"),
    (b"PK\x03\x04", "application/zip"),
    (b"PK\x05\x06", "application/zip"),
    (b"\x1f\x8b", "application/gzip"),
    (b"BZh", "application/x-bzip2"),
    (b"\xfd7zXZ\x00", "application/x-xz"),
    (b"\x28\xb5\x2f\xfd", "application/zstd"),
    (b"7z\xbc\xaf\x27\x1c", "application/x-7z-compressed"),
    (b"Rar!\x1a\x07", "application/vnd.rar"),
    (b"PAR1", "application/vnd.apache.parquet"),
    (b"SQLite format 3\x00", "application/vnd.sqlite3"),
)
#: :data:`_PREFIXES` by their first byte, in the same order (one dictionary look-up instead of 35 comparisons).
_PREFIXES_BY_BYTE: dict[int, tuple[tuple[bytes, str], ...]] = {
    b: tuple(p for p in _PREFIXES if p[0][0] == b) for b in {p[0][0] for p in _PREFIXES}}
#: Control characters that do not occur in text (all of C0 except tab,
#: line feed, form feed, carriage return and escape).
_BINARY_CONTROLS = frozenset(range(0x20)) - {0x09, 0x0A, 0x0C, 0x0D, 0x1B}
#: The same characters as a pattern (searched in C: a Python loop over a 4 KiB head cost ~0.7 ms per item).
_BINARY_CONTROL_RE = re.compile("[" + "".join(f"\\x{c:02x}" for c in sorted(_BINARY_CONTROLS)) + "]")


def sniff_media(head: bytes) -> str:
    """The media type of a file, from its first bytes.

    Parameters
    ----------
    head : bytes
        The start of the file; :data:`SNIFF_BYTES` bytes (fewer if the file
        is shorter) are enough for every signature.

    Returns
    -------
    str
        A media type such as ``"audio/wav"``, ``"audio/flac"``,
        ``"audio/ogg"``, ``"audio/mpeg"``, ``"audio/aac"``, ``"audio/mp4"``,
        ``"video/mp4"``, ``"audio/aiff"``, ``"video/webm"``,
        ``"image/jpeg"``, ``"application/pdf"``, ``"application/zip"``,
        ``"application/json"`` or ``"text/plain"`` (the bytes decode as
        UTF-8 text); ``"application/x-empty"`` for no bytes at all, and
        ``"application/octet-stream"`` when nothing is recognised.

    Examples
    --------
    >>> sniff_media(b"RIFF\\x24\\x00\\x00\\x00WAVEfmt ")
    'audio/wav'
    >>> sniff_media(b'{"path": "a.wav"}')
    'application/json'
    """
    head = bytes(head[:SNIFF_BYTES])
    if not head:
        return "application/x-empty"
    return sniff_magic(head) or _text_type(head)


def sniff_magic(head: bytes) -> str | None:
    """The media type a magic number at the start of a file names (as :func:`sniff_media`), or None.

    None when no signature :func:`sniff_media` knows matches: :func:`sniff_media`
    then names the file by whether its bytes decode as text.  A text dataset's
    rows are asked this first, so that a row of text is not sniffed for audio
    and images (``services/scan_text.py``).

    Examples
    --------
    >>> sniff_magic(b"fLaC\\x00\\x00\\x00\\x22")
    'audio/flac'
    >>> sniff_magic(b"The quick brown fox") is None
    True
    """
    head = bytes(head[:SNIFF_BYTES])
    if not head:
        return None
    riff = _riff_type(head)
    if riff:
        return riff
    if head[4:8] == b"ftyp":
        return _ftyp_type(head[8:12])
    if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return "audio/aiff"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "video/webm" if b"webm" in head[:64] else "video/x-matroska"
    for prefix, media_type in _PREFIXES_BY_BYTE.get(head[0], ()):
        if head.startswith(prefix):
            return media_type
    frame = _mpeg_frame_type(head)
    if frame:
        return frame
    if len(head) > 188 and head[0] == 0x47 and head[188] == 0x47:
        return "video/mp2t"
    if len(head) >= 262 and head[257:262] == b"ustar":
        return "application/x-tar"
    if head[:2] == b"\x0b\x77":
        return "audio/ac3"
    return None


def is_audio_media(media_type: str) -> bool:
    """Whether a media type holds sound the decoder can read.

    Parameters
    ----------
    media_type : str
        A media type as :func:`sniff_media` returns it.

    Returns
    -------
    bool
        True for every ``audio/...`` type and for video containers that
        carry a sound track (``video/mp4``, ``video/webm``,
        ``video/x-matroska``, ``video/quicktime`` and the like).
    """
    media_type = media_type.strip().lower()
    return media_type.startswith("audio/") or media_type in _VIDEO_WITH_SOUND


def _riff_type(head: bytes) -> str | None:
    """The type of a RIFF (or RF64) file from its form type, else None."""
    if head[:4] not in (b"RIFF", b"RIFX", b"RF64", b"BW64"):
        return None
    form = head[8:12]
    if form in (b"WAVE", b"BW64"):
        return "audio/wav"
    if form == b"WEBP":
        return "image/webp"
    if form[:3] == b"AVI":
        return "video/x-msvideo"
    return "application/octet-stream"


def _ftyp_type(brand: bytes) -> str:
    """The type of an ISO base media file (MP4, M4A, MOV, 3GP, HEIF) from its brand."""
    if brand in _AUDIO_MP4_BRANDS:
        return "audio/mp4"
    if brand in _IMAGE_MP4_BRANDS:
        return _IMAGE_MP4_BRANDS[brand]
    if brand == b"qt  ":
        return "video/quicktime"
    if brand[:3] in (b"3gp", b"3g2"):
        return "video/3gpp"
    return "video/mp4"


def _mpeg_frame_type(head: bytes) -> str | None:
    """``audio/mpeg`` or ``audio/aac`` when the bytes start with a valid frame header."""
    if len(head) < 4 or head[0] != 0xFF or head[1] & 0xE0 != 0xE0:
        return None
    version = (head[1] >> 3) & 0b11
    layer = (head[1] >> 1) & 0b11
    if layer == 0:
        # ADTS (AAC): MPEG version bit pattern 1x, layer 00.
        if head[1] & 0xF6 == 0xF0 and (head[2] >> 2) & 0x0F < 13:
            return "audio/aac"
        return None
    bitrate_index = head[2] >> 4
    rate_index = (head[2] >> 2) & 0b11
    if version == 0b01 or bitrate_index == 0x0F or rate_index == 0b11:
        return None
    return "audio/mpeg"


def _text_type(head: bytes) -> str:
    """``application/json``, ``text/plain`` or ``application/octet-stream``."""
    body = head[3:] if head.startswith(codecs.BOM_UTF8) else head
    try:
        # final=False: the head may end inside a multi-byte character (the incremental decoder's own call).
        text, _ = codecs.utf_8_decode(body, "strict", False)
    except UnicodeDecodeError:
        return "application/octet-stream"
    if _BINARY_CONTROL_RE.search(text):
        return "application/octet-stream"
    stripped = text.lstrip()
    if stripped[:1] in ("{", "["):
        return "application/json"
    return "text/plain"


# ---------------------------------------------------------------- kinds of file terms are embedded in

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
#: The kind of each media type :func:`sniff_media` names that terms can be embedded in.
_KIND_OF_MEDIA = {"audio/wav": "wav", "image/webp": "webp", "audio/aiff": "aiff", "audio/flac": "flac",
                  "audio/ogg": "ogg", "image/jpeg": "jpeg", "image/png": "png", "image/tiff": "tiff"}


def sniff_bytes(head: bytes) -> str | None:
    """The kind (a key of :data:`KINDS`) of a file whose first bytes (64 or more) are ``head``, or ``None``.

    From :func:`sniff_media`'s signatures, narrowed to what mutagen and the
    XMP writer handle: only a ``RIFF`` WAVE or WebP (not RF64 or RIFX); any
    ``ftyp`` box is MP4 (mutagen's MP4 tags); an ID3v2 header is MP3 unless
    ``fLaC`` follows the tag (FLAC with ID3 in front); an MPEG audio frame
    sync of layer I-III at the very start is MP3.
    """
    if len(head) < 12:
        return None
    if head[4:8] == b"ftyp":
        return "mp4"
    if head[:3] == b"ID3":
        size = _syncsafe(head[6:10])
        if size is not None and len(head) >= 10 + size + 4 and head[10 + size:14 + size] == b"fLaC":
            return "flac"
        return "mp3"
    kind = _KIND_OF_MEDIA.get(sniff_media(head))
    if kind in ("wav", "webp") and not (head[:4] == b"RIFF" and head[8:12] in (b"WAVE", b"WEBP")):
        kind = None
    if kind is not None:
        return kind
    if head[0] == 0xFF and (head[1] & 0xE0) == 0xE0 and (head[1] & 0x06) != 0:
        return "mp3"  # MPEG audio frame sync, layer I-III
    return None


def sniff_kind(path: str | os.PathLike) -> str | None:
    """The kind of the file at ``path`` (see :func:`sniff_bytes`), or ``None``.

    Raises ``OSError`` if the file cannot be read, and
    :class:`~consentry.domain.errors.InputError` if it is a file of a registry this
    process has open (see :mod:`consentry.io.heldfiles`).
    """
    from consentry.io.heldfiles import refuse_held

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
