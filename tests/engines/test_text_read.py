"""Reading a text row in one pass (engines/text/read.sniff_utf8, issue 18): the answers of sniff_kind and
extract_text, or None when the row needs them."""

from __future__ import annotations

import random

import pytest

from consentry.engines.text.read import extract_text, sniff_kind, sniff_utf8
from textkit import prose


def _cases() -> list[bytes]:
    rng = random.Random(5)
    text = prose(90, 700)
    out = [text.encode(), text[:300].encode(), b"short", b" \n\t", ("é" * 300).encode()]
    # A multi-byte character cut at 512 and at 4096 bytes.
    for cut in (512, 4096):
        pad = "a" * (cut - 1)
        out += [(pad + "€" + text).encode(), (pad + "😀" + text).encode()]
    out += [("<!DOCTYPE html><html><body><p>" + text + "</p></body></html>").encode(),
            ("<b>x</b> " + text[:800] + " <p>rest</p>").encode(),          # HTML markers only past 512 bytes
            ("  \n<div>" + text[:200]).encode(), ("\ufeff" + text).encode(),  # a BOM
            text.encode("utf-16"), text.encode("latin-1", "replace") + b"\xe9\xe8",
            text[:3000].encode() + b"\x00" + text[:100].encode(),             # NUL past 512 bytes
            text[:600].encode() + "\u0085".encode() * 40,                      # C1 controls (NEL) past 512 bytes
            ("°" + text[:900] + "\u0085").encode(),                             # one C1 control among 0xC2 letters
            text[:5000].encode() + b"\x01" * 200,                              # controls past 4 KiB
            b"%PDF-1.4 " + text[:100].encode(), b"PK\x03\x04" + text[:100].encode(), b"\x0b\x0c" + text[:50].encode()]
    for _ in range(20):   # random mixtures of text, markup and control characters
        parts = [rng.choice([text[:rng.randrange(1, 900)], "<p>", "\x07", "ü", "\r\n", "\x0c", "€"])
                 for _ in range(rng.randrange(1, 6))]
        out.append("".join(parts).encode())
    return out


@pytest.mark.parametrize("data", _cases())
def test_one_pass_read_agrees_with_sniffing_and_extracting(data):
    got = sniff_utf8(data)
    if got is None:
        return   # the caller sniffs as usual: nothing to agree with
    kind, text = got
    assert kind == sniff_kind(data[:512]) and sniff_kind(data[:4096]) is not None
    if kind == "text":
        assert text == extract_text(data, label="row")[0]
    else:
        assert text is None and kind == "html"


def test_plain_utf8_text_is_read_in_one_pass_and_other_bytes_are_left_to_the_sniffer():
    text = prose(91, 400)
    assert sniff_utf8(text.encode()) == ("text", text)
    assert sniff_utf8(("a" * 511 + "€" + text).encode())[0] == "text"
    assert sniff_utf8(("© 2026, 30 °C: " + text).encode()) == ("text", "© 2026, 30 °C: " + text)  # 0xC2, no C1
    assert sniff_utf8(b"<html><body><p>x</p></body></html>") == ("html", None)
    for other in (b"", ("\ufeff" + text).encode(), text.encode("utf-16"), b"caf\xe9 " + text.encode(),
                  text.encode() + b"\x01", ("°" + text + "\u0085").encode(), b"%PDF-1.7\n", b"PK\x03\x04rest"):
        assert sniff_utf8(other) is None
