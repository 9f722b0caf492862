"""XMP packets: build, merge, parse, and carry them in JPEG, PNG, WebP and TIFF (pure, bytes in, bytes out).

Consentry writes the packet itself (no XMP toolkit): one ``rdf:Description``
with ``plus:DataMining``, ``plus:OtherConstraints``,
``xmpRights:WebStatement`` and Consentry's own ``consentry:*`` properties.
An existing packet is merged: every other property, in every namespace, is
kept; only the properties named above are replaced.

Every container function keeps each byte outside the XMP carrier as it
was: image data is never decoded or re-encoded.  A malformed container or
packet raises :class:`XmpError`; readers turn that into a
:class:`~consentry.domain.signals.SignalProblem`.
"""

from __future__ import annotations

import io
import struct
import zlib
from typing import Iterator, Mapping
from xml.etree import ElementTree as ET

__all__ = [
    "XmpError", "NS", "build_properties", "merge_packet", "parse_packet", "read_properties",
    "extract_xmp", "insert_xmp", "read_digital_source_types", "DIGITAL_SOURCE_TYPE",
]

NS = {
    "x": "adobe:ns:meta/",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "plus": "http://ns.useplus.org/ldf/xmp/1.0/",
    "xmpRights": "http://ns.adobe.com/xap/1.0/rights/",
    "consentry": "urn:consentry:xmp:terms:1:",
    "xml": "http://www.w3.org/XML/1998/namespace",
}
_RDF = "{%s}" % NS["rdf"]
_XML_LANG = "{%s}lang" % NS["xml"]
#: The properties Consentry owns: replaced on every write (Clark notation).
_OWNED_PLUS = {"{%s}DataMining" % NS["plus"], "{%s}OtherConstraints" % NS["plus"]}
_OWNED_RIGHTS = {"{%s}WebStatement" % NS["xmpRights"]}
#: IPTC Extension namespace; its ``DigitalSourceType`` declares AI-made content (read, never written).
IPTC_EXT_NS = "http://iptc.org/std/Iptc4xmpExt/2008-02-29/"
DIGITAL_SOURCE_TYPE = "{%s}DigitalSourceType" % IPTC_EXT_NS
_PACKET_HEAD = '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
_PACKET_TAIL = '\n<?xpacket end="w"?>'
#: Largest packet read (bytes): a larger one is reported, not parsed.
MAX_PACKET_BYTES = 4 * 1024 * 1024
_JPEG_XMP_ID = b"http://ns.adobe.com/xap/1.0/\x00"
_JPEG_MAX_PACKET = 65535 - 2 - len(_JPEG_XMP_ID)
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_XMP_KEY = b"XML:com.adobe.xmp\x00"


class XmpError(ValueError):
    """A malformed or hostile XMP packet or image container."""


# -- packets ------------------------------------------------------------------------------------------


def build_properties(*, data_mining: str, other_constraints: str, web_statement: str,
                     consentry: Mapping[str, str]) -> dict[str, object]:
    """The properties to write, keyed in Clark notation; Lang Alt values are ``("alt", text)``."""
    props: dict[str, object] = {
        "{%s}DataMining" % NS["plus"]: data_mining,
        "{%s}OtherConstraints" % NS["plus"]: ("alt", other_constraints),
        "{%s}WebStatement" % NS["xmpRights"]: web_statement,
    }
    for name, value in consentry.items():
        props["{%s}%s" % (NS["consentry"], name)] = value
    return props


def parse_packet(packet: bytes) -> ET.Element:
    """The root element of an XMP packet (``x:xmpmeta`` or ``rdf:RDF``).

    Refuses DTDs and entity declarations (no entity expansion of any kind),
    packets over :data:`MAX_PACKET_BYTES`, and text that is not UTF-8 XML.
    """
    if len(packet) > MAX_PACKET_BYTES:
        raise XmpError(f"XMP packet of {len(packet)} bytes is larger than {MAX_PACKET_BYTES}")
    try:
        text = packet.decode("utf-8")
    except UnicodeDecodeError:
        raise XmpError("XMP packet is not UTF-8") from None
    text = text.strip("\x00 \t\r\n")
    if "<!DOCTYPE" in text or "<!ENTITY" in text:
        raise XmpError("XMP packet declares a DTD or entities (refused)")
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise XmpError(f"XMP packet is not well-formed XML ({exc})") from None
    except LookupError as exc:  # e.g. an unknown encoding in the XML declaration
        raise XmpError(f"XMP packet has an unreadable XML declaration ({str(exc)[:80]})") from None
    if root.tag not in ("{adobe:ns:meta/}xmpmeta", "{adobe:ns:meta/}xapmeta", _RDF + "RDF"):
        raise XmpError(f"XMP packet root is {root.tag!r}, not x:xmpmeta or rdf:RDF")
    return root


def _rdf(root: ET.Element) -> ET.Element:
    if root.tag == _RDF + "RDF":
        return root
    rdf = root.find(_RDF + "RDF")
    if rdf is None:
        raise XmpError("XMP packet has no rdf:RDF element")
    return rdf


def _prefixes(packet: bytes) -> dict[str, str]:
    """Namespace URI -> prefix as declared in ``packet`` (first declaration wins)."""
    found: dict[str, str] = {}
    try:
        for _event, (prefix, uri) in ET.iterparse(io.BytesIO(packet.strip(b"\x00 \t\r\n")), events=("start-ns",)):
            if prefix and uri not in found:
                found[uri] = prefix
    except (ET.ParseError, LookupError, ValueError):
        pass
    return found


def _owned(tag: str) -> bool:
    return tag in _OWNED_PLUS or tag in _OWNED_RIGHTS or tag.startswith("{%s}" % NS["consentry"])


def merge_packet(existing: bytes | None, props: Mapping[str, object]) -> bytes:
    """An XMP packet with ``props`` replacing Consentry's properties in ``existing``.

    Everything else in ``existing`` is kept.  A ``rdf:Description`` left
    empty by the removal is dropped, so writing twice gives one description.
    """
    prefixes = {uri: p for p, uri in NS.items()}
    if existing:
        root = parse_packet(existing)
        for uri, prefix in _prefixes(existing).items():
            if uri not in prefixes and prefix not in prefixes.values():
                prefixes[uri] = prefix
        if root.tag == _RDF + "RDF":
            meta = ET.Element("{adobe:ns:meta/}xmpmeta")
            meta.append(root)
            root = meta
        rdf = _rdf(root)
        for desc in list(rdf.findall(_RDF + "Description")):
            for key in [k for k in desc.attrib if _owned(k)]:
                del desc.attrib[key]
            for child in [c for c in desc if _owned(c.tag)]:
                desc.remove(child)
            if len(desc) == 0 and set(desc.attrib) <= {_RDF + "about"}:
                rdf.remove(desc)
    else:
        root = ET.Element("{adobe:ns:meta/}xmpmeta")
        rdf = ET.SubElement(root, _RDF + "RDF")
    desc = ET.SubElement(rdf, _RDF + "Description", {_RDF + "about": ""})
    for tag, value in props.items():
        element = ET.SubElement(desc, tag)
        if isinstance(value, tuple) and value[0] == "alt":
            alt = ET.SubElement(element, _RDF + "Alt")
            li = ET.SubElement(alt, _RDF + "li", {_XML_LANG: "x-default"})
            li.text = str(value[1])
        else:
            element.text = str(value)
    return (_PACKET_HEAD + _serialize(root, prefixes) + _PACKET_TAIL).encode("utf-8")


def _serialize(root: ET.Element, prefixes: dict[str, str]) -> str:
    """XML text of ``root`` with every namespace it uses declared on the root element."""
    used: dict[str, str] = {}
    numbers = iter(range(1, 1_000_000))

    def qname(tag: str) -> str:
        if not tag.startswith("{"):
            return tag
        uri, local = tag[1:].split("}", 1)
        if uri == NS["xml"]:
            return "xml:" + local
        if uri not in used:
            prefix = prefixes.get(uri)
            while prefix is None or prefix in used.values():
                prefix = f"ns{next(numbers)}"
            used[uri] = prefix
        return f"{used[uri]}:{local}"

    def walk(el: ET.Element, depth: int, out: list[str]) -> None:
        pad = " " * depth
        name = qname(el.tag)
        attrs = "".join(f' {qname(k)}="{_escape(v, attr=True)}"' for k, v in el.attrib.items())
        out.append(f"{pad}<{name}{_DECLS if el is root else ''}{attrs}")
        children = list(el)
        if not children:
            out.append(f">{_escape(el.text)}</{name}>\n" if el.text else "/>\n")
            return
        out.append(">\n")
        for child in children:
            walk(child, depth + 1, out)
        out.append(f"{pad}</{name}>\n")

    parts: list[str] = []
    walk(root, 0, parts)
    decls = "".join(f' xmlns:{p}="{_escape(u, attr=True)}"' for u, p in used.items())
    return "".join(parts).rstrip("\n").replace(_DECLS, decls, 1)


#: Placeholder for the root's namespace declarations (a NUL never survives :func:`_escape`).
_DECLS = "\x00decls\x00"


def _escape(text: str, *, attr: bool = False) -> str:
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    if attr:
        text = text.replace('"', "&quot;").replace("\n", "&#10;").replace("\t", "&#9;")
    return "".join(c if c in "\t\n" or ord(c) >= 0x20 else f"&#{ord(c)};" for c in text if _xml_char(c))


def _xml_char(c: str) -> bool:
    code = ord(c)
    return code in (0x9, 0xA, 0xD) or 0x20 <= code <= 0xD7FF or 0xE000 <= code <= 0xFFFD or code >= 0x10000


def read_properties(packet: bytes) -> dict[str, str]:
    """Consentry-relevant properties of a packet: Clark name -> text (Lang Alt: the x-default item)."""
    rdf = _rdf(parse_packet(packet))
    wanted = _OWNED_PLUS | _OWNED_RIGHTS
    out: dict[str, str] = {}
    for desc in rdf.iter(_RDF + "Description"):
        for key, value in desc.attrib.items():
            if key in wanted or key.startswith("{%s}" % NS["consentry"]):
                out.setdefault(key, value)
        for child in desc:
            if not (child.tag in wanted or child.tag.startswith("{%s}" % NS["consentry"])):
                continue
            value = _value_of(child)
            if value is not None:
                out.setdefault(child.tag, value)
    return out


def read_digital_source_types(packet: bytes) -> list[str]:
    """Every IPTC ``Iptc4xmpExt:DigitalSourceType`` value of a packet (attribute, element or ``rdf:resource`` form).

    Raises :class:`XmpError` for a packet :func:`parse_packet` refuses.
    """
    rdf = _rdf(parse_packet(packet))
    out: list[str] = []
    for desc in rdf.iter(_RDF + "Description"):
        if DIGITAL_SOURCE_TYPE in desc.attrib:
            out.append(desc.attrib[DIGITAL_SOURCE_TYPE])
        for child in desc:
            if child.tag == DIGITAL_SOURCE_TYPE:
                value = _value_of(child)
                if value:
                    out.append(value)
    return out[:16]


def _value_of(element: ET.Element) -> str | None:
    resource = element.get(_RDF + "resource")
    if resource is not None:
        return resource
    container = next((c for c in element if c.tag in (_RDF + "Alt", _RDF + "Bag", _RDF + "Seq")), None)
    if container is not None:
        items = [li for li in container if li.tag == _RDF + "li"]
        chosen = next((li for li in items if li.get(_XML_LANG) == "x-default"), items[0] if items else None)
        return (chosen.text or "").strip() if chosen is not None else None
    return (element.text or "").strip()


# -- containers -------------------------------------------------------------------------------------


def extract_xmp(kind: str, data: bytes) -> bytes | None:
    """The XMP packet carried by an image of ``kind`` (``jpeg``, ``png``, ``webp``, ``tiff``), or ``None``."""
    if kind == "jpeg":
        for marker, start, end in _jpeg_segments(data):
            if marker == 0xE1 and data[start + 4:start + 4 + len(_JPEG_XMP_ID)] == _JPEG_XMP_ID:
                return data[start + 4 + len(_JPEG_XMP_ID):end]
        return None
    if kind == "png":
        for ctype, start, end in _png_chunks(data):
            if ctype == b"iTXt" and data[start:start + len(_PNG_XMP_KEY)] == _PNG_XMP_KEY:
                return _png_itxt_text(data[start + len(_PNG_XMP_KEY):end])
        return None
    if kind == "webp":
        for fourcc, start, end in _webp_chunks(data):
            if fourcc == b"XMP ":
                return data[start:end]
        return None
    if kind == "tiff":
        found = _tiff_xmp_entry(data)
        return None if found is None else data[found[1]:found[1] + found[2]]
    raise XmpError(f"no XMP carrier for {kind}")


def insert_xmp(kind: str, data: bytes, packet: bytes) -> bytes:
    """``data`` with its XMP packet replaced by (or given) ``packet``; every other byte kept."""
    if kind == "jpeg":
        return _jpeg_insert(data, packet)
    if kind == "png":
        return _png_insert(data, packet)
    if kind == "webp":
        return _webp_insert(data, packet)
    if kind == "tiff":
        return _tiff_insert(data, packet)
    raise XmpError(f"no XMP carrier for {kind}")


# JPEG: APP1 "http://ns.adobe.com/xap/1.0/\0" + packet (XMP Specification Part 3, 1.1.3).

def _jpeg_segments(data: bytes) -> Iterator[tuple[int, int, int]]:
    """``(marker, segment start, segment end)`` of each marker segment before the scan data."""
    if data[:2] != b"\xff\xd8":
        raise XmpError("not a JPEG (no SOI marker)")
    pos, n = 2, len(data)
    while pos < n:
        if data[pos] != 0xFF:
            raise XmpError(f"JPEG marker expected at byte {pos}")
        while pos + 1 < n and data[pos + 1] == 0xFF:
            pos += 1  # fill bytes
        if pos + 1 >= n:
            raise XmpError("JPEG ends inside a marker")
        marker = data[pos + 1]
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:
            pos += 2
            continue
        if marker == 0xD9:
            return
        if pos + 4 > n:
            raise XmpError("JPEG ends inside a segment header")
        length = struct.unpack(">H", data[pos + 2:pos + 4])[0]
        if length < 2 or pos + 2 + length > n:
            raise XmpError(f"JPEG segment at byte {pos} runs past the end of the file")
        yield marker, pos, pos + 2 + length
        if marker == 0xDA:
            return
        pos += 2 + length
    raise XmpError("JPEG has no image scan")


def _jpeg_insert(data: bytes, packet: bytes) -> bytes:
    if len(packet) > _JPEG_MAX_PACKET:
        raise XmpError(f"XMP packet of {len(packet)} bytes does not fit one JPEG APP1 segment")
    segments = list(_jpeg_segments(data))
    if not segments or segments[-1][0] != 0xDA:
        raise XmpError("JPEG has no image scan")
    payload = _JPEG_XMP_ID + packet
    new_segment = b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload
    insert_at = 2
    for marker, start, end in segments:
        exif = marker == 0xE1 and data[start + 4:start + 10] == b"Exif\x00\x00"
        if marker == 0xE0 or exif:
            insert_at = end
        else:
            break
    out = bytearray(data[:insert_at])
    out += new_segment
    pos = insert_at
    for marker, start, end in segments:
        if start < insert_at:
            continue
        if marker == 0xE1 and data[start + 4:start + 4 + len(_JPEG_XMP_ID)] == _JPEG_XMP_ID:
            out += data[pos:start]
            pos = end
    out += data[pos:]
    return bytes(out)


# PNG: iTXt chunk, keyword "XML:com.adobe.xmp", uncompressed (XMP Specification Part 3, 1.1.5).

def _png_chunks(data: bytes) -> Iterator[tuple[bytes, int, int]]:
    """``(type, data start, data end)`` of each chunk up to IEND (CRC checked)."""
    if data[:8] != _PNG_SIGNATURE:
        raise XmpError("not a PNG (bad signature)")
    pos, n = 8, len(data)
    while pos + 12 <= n:
        length = struct.unpack(">I", data[pos:pos + 4])[0]
        ctype = data[pos + 4:pos + 8]
        end = pos + 8 + length
        if end + 4 > n:
            raise XmpError(f"PNG chunk {ctype!r} at byte {pos} runs past the end of the file")
        if zlib.crc32(data[pos + 4:end]) != struct.unpack(">I", data[end:end + 4])[0]:
            raise XmpError(f"PNG chunk {ctype!r} at byte {pos} has a bad CRC")
        yield ctype, pos + 8, end
        if ctype == b"IEND":
            return
        pos = end + 4
    raise XmpError("PNG ends without an IEND chunk")


def _png_itxt_text(body: bytes) -> bytes:
    """The text of an iTXt chunk body after its keyword (decompressed, size-capped)."""
    if len(body) < 2:
        raise XmpError("PNG iTXt chunk is truncated")
    compressed, method = body[0], body[1]
    rest = body[2:]
    parts = rest.split(b"\x00", 2)
    if len(parts) != 3:
        raise XmpError("PNG iTXt chunk is truncated")
    text = parts[2]
    if compressed == 0:
        return text
    if compressed != 1 or method != 0:
        raise XmpError("PNG iTXt chunk uses an unknown compression")
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(text, MAX_PACKET_BYTES + 1)
    except zlib.error:
        raise XmpError("PNG iTXt chunk does not decompress") from None
    if len(out) > MAX_PACKET_BYTES:
        raise XmpError("compressed XMP in PNG expands past the size limit")
    return out


def _png_chunk(ctype: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + ctype + body + struct.pack(">I", zlib.crc32(ctype + body))


def _png_insert(data: bytes, packet: bytes) -> bytes:
    chunks = list(_png_chunks(data))
    if not chunks or chunks[0][0] != b"IHDR":
        raise XmpError("PNG does not start with IHDR")
    new_chunk = _png_chunk(b"iTXt", _PNG_XMP_KEY + b"\x00\x00\x00\x00" + packet)
    out = bytearray(data[:chunks[0][2] + 4])
    out += new_chunk
    pos = chunks[0][2] + 4
    for ctype, start, end in chunks[1:]:
        if ctype == b"iTXt" and data[start:start + len(_PNG_XMP_KEY)] == _PNG_XMP_KEY:
            out += data[pos:start - 8]
            pos = end + 4
    out += data[pos:]
    return bytes(out)


# WebP: "XMP " chunk in the extended format, VP8X flag 0x04 (WebP Container Specification).

def _webp_chunks(data: bytes) -> Iterator[tuple[bytes, int, int]]:
    """``(fourcc, data start, data end)`` of each chunk of a RIFF WEBP file."""
    if data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        raise XmpError("not a WebP (no RIFF WEBP header)")
    riff_end = 8 + struct.unpack("<I", data[4:8])[0]
    if riff_end > len(data):
        raise XmpError("WebP RIFF size runs past the end of the file")
    pos = 12
    while pos + 8 <= riff_end:
        fourcc = data[pos:pos + 4]
        size = struct.unpack("<I", data[pos + 4:pos + 8])[0]
        end = pos + 8 + size
        if end > riff_end:
            raise XmpError(f"WebP chunk {fourcc!r} at byte {pos} runs past the end of the file")
        yield fourcc, pos + 8, end
        pos = end + (size & 1)


def _webp_canvas(fourcc: bytes, body: bytes) -> tuple[int, int, bool]:
    """Width, height (pixels) and alpha flag of a simple-format WebP image chunk."""
    if fourcc == b"VP8L":
        if len(body) < 5 or body[0] != 0x2F:
            raise XmpError("WebP VP8L chunk has a bad header")
        bits = int.from_bytes(body[1:5], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1, bool((bits >> 28) & 1)
    if fourcc == b"VP8 ":
        if len(body) < 10 or body[3:6] != b"\x9d\x01\x2a":
            raise XmpError("WebP VP8 chunk has a bad header")
        width, height = struct.unpack("<HH", body[6:10])
        return width & 0x3FFF, height & 0x3FFF, False
    raise XmpError(f"WebP starts with an unknown chunk {fourcc!r}")


def _webp_insert(data: bytes, packet: bytes) -> bytes:
    chunks = list(_webp_chunks(data))
    if not chunks:
        raise XmpError("WebP has no chunks")
    out = bytearray(b"RIFF\x00\x00\x00\x00WEBP")
    first, start, end = chunks[0]
    if first == b"VP8X":
        if end - start < 10:
            raise XmpError("WebP VP8X chunk is truncated")
        vp8x = bytearray(data[start:end])
        vp8x[0] |= 0x04
        out += data[start - 8:start] + vp8x + data[end:end + ((end - start) & 1)]
        rest = chunks[1:]
    else:
        width, height, alpha = _webp_canvas(first, data[start:end])
        flags = 0x04 | (0x10 if alpha else 0)
        body = bytes([flags, 0, 0, 0]) + (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
        out += b"VP8X" + struct.pack("<I", len(body)) + body
        rest = chunks
    for fourcc, cstart, cend in rest:
        if fourcc == b"XMP ":
            continue
        out += data[cstart - 8:cend + ((cend - cstart) & 1)]
    out += b"XMP " + struct.pack("<I", len(packet)) + packet + (b"\x00" if len(packet) & 1 else b"")
    out[4:8] = struct.pack("<I", len(out) - 8)
    return bytes(out)


# TIFF: tag 700 (XMP) in IFD 0 (TIFF/EP; XMP Specification Part 3, 1.1.6).

def _tiff_header(data: bytes) -> tuple[str, int]:
    if data[:4] == b"II*\x00":
        order = "<"
    elif data[:4] == b"MM\x00*":
        order = ">"
    else:
        raise XmpError("not a classic TIFF (BigTIFF is not supported)")
    if len(data) < 8:
        raise XmpError("TIFF header is truncated")
    ifd = struct.unpack(order + "I", data[4:8])[0]
    if ifd < 8 or ifd + 2 > len(data):
        raise XmpError("TIFF IFD 0 offset points outside the file")
    return order, ifd


def _tiff_entries(data: bytes, order: str, ifd: int) -> tuple[list[bytes], int]:
    count = struct.unpack(order + "H", data[ifd:ifd + 2])[0]
    end = ifd + 2 + 12 * count
    if end + 4 > len(data):
        raise XmpError("TIFF IFD 0 runs past the end of the file")
    entries = [data[ifd + 2 + 12 * i:ifd + 14 + 12 * i] for i in range(count)]
    next_ifd = struct.unpack(order + "I", data[end:end + 4])[0]
    return entries, next_ifd


def _tiff_xmp_entry(data: bytes) -> tuple[int, int, int] | None:
    """``(entry offset, data offset, byte count)`` of tag 700 in IFD 0, or ``None``."""
    order, ifd = _tiff_header(data)
    entries, _ = _tiff_entries(data, order, ifd)
    for i, entry in enumerate(entries):
        tag, typ, count, value = struct.unpack(order + "HHII", entry)
        if tag != 700:
            continue
        if typ not in (1, 7):
            raise XmpError(f"TIFF XMP tag has type {typ}, not BYTE or UNDEFINED")
        entry_at = ifd + 2 + 12 * i
        offset = entry_at + 8 if count <= 4 else value
        if offset + count > len(data):
            raise XmpError("TIFF XMP data runs past the end of the file")
        return entry_at, offset, count
    return None


def _tiff_insert(data: bytes, packet: bytes) -> bytes:
    order, ifd = _tiff_header(data)
    entries, next_ifd = _tiff_entries(data, order, ifd)
    out = bytearray(data)
    found = _tiff_xmp_entry(data)
    if found is not None:
        entry_at, offset, count = found
        if count > 4 and len(packet) <= count:
            # Rewrite in place, padded with whitespace inside the packet
            # wrapper (where XMP allows padding).
            tail = _PACKET_TAIL.encode()
            body = packet[:-len(tail)] if packet.endswith(tail) else packet
            out[offset:offset + count] = body + b" " * (count - len(packet)) + (tail if body is not packet else b"")
            out[entry_at + 4:entry_at + 8] = struct.pack(order + "I", count)
            return bytes(out)
        if len(out) & 1:
            out += b"\x00"
        at = len(out)
        out += packet
        out[entry_at + 2:entry_at + 12] = struct.pack(order + "HII", 7, len(packet), at)
        return bytes(out)
    # No XMP yet: append the packet and a copy of IFD 0 with tag 700 added.
    if len(out) & 1:
        out += b"\x00"
    xmp_at = len(out)
    out += packet
    if len(out) & 1:
        out += b"\x00"
    new_ifd = len(out)
    new_entry = struct.pack(order + "HHII", 700, 7, len(packet), xmp_at)
    merged = sorted(entries + [new_entry], key=lambda e: struct.unpack(order + "H", e[:2])[0])
    out += struct.pack(order + "H", len(merged)) + b"".join(merged) + struct.pack(order + "I", next_ifd)
    out[4:8] = struct.pack(order + "I", new_ifd)
    return bytes(out)
