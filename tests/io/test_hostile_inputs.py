"""Regression tests for what the fuzz campaign (issue 15, benchmarks/run_fuzz.py) found.

Each test builds the smallest input that showed the bug (no binary blobs)
and checks that the reader now answers with a one-line error or its
documented problem result, quickly.
"""

from __future__ import annotations

import gzip
import io
import struct
import subprocess
import sys
import tarfile
import time
import wave
from pathlib import Path

import pytest

from consentry.io.sources import open_dataset


def _wav_bytes(frames: int = 400) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(struct.pack("<h", 1000) * frames)
    return out.getvalue()


def _tar_with_forged_size(size: str) -> bytes:
    """A shard: one good sample, then a member whose PAX header declares ``size`` bytes that are not there."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        data = _wav_bytes()
        good = tarfile.TarInfo("s0.wav")
        good.size = len(data)
        t.addfile(good, io.BytesIO(data))
        forged = tarfile.TarInfo("s1.wav")
        forged.size = 0
        forged.pax_headers = {"size": size}
        t.addfile(forged)
    return buf.getvalue()


@pytest.mark.parametrize("compressed", [False, True], ids=["tar", "tar.gz"])
@pytest.mark.parametrize("size", ["99999999999999", str(8 * 2**30)])
def test_tar_member_with_forged_size_ends_the_shard_at_once(tmp_path, compressed, size):
    """Fuzz finding: tarfile's stream mode skips a member by reading up to its declared size, so a
    forged size at the end of a shard kept the reader reading nothing for hours (a hang)."""
    data = _tar_with_forged_size(size)
    path = tmp_path / ("shard.tar.gz" if compressed else "shard.tar")
    path.write_bytes(gzip.compress(data, mtime=0) if compressed else data)
    t0 = time.monotonic()
    items = list(open_dataset(path).items())
    assert time.monotonic() - t0 < 60  # a hang bound, not a speed target: the unfixed reader read for hours
    assert items[0].item_id.endswith("#s0") and items[0].error is None
    errors = [i.error for i in items if i.error]
    assert errors and "forged size field" in errors[-1] and "\n" not in errors[-1]


def _wav_with_forged_info_chunk() -> bytes:
    """The fuzz finding, rebuilt: a 63-byte WAV whose LIST chunk declares 4 GiB and whose INFO/INAM entry
    declares 1.6 GB (its size field is the ASCII of "data")."""
    fmt = struct.pack("<HHIIHH", 3, 8, 44100, 0xAC4353BC, 0xFFFF, 0xFFFF)  # float, 8 channels, odd block/bit sizes
    body = (b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
            + b"LIST" + struct.pack("<I", 0xFFFFFFF0) + b"INFO" + b"INAM" + b"data" + struct.pack("<I", 3) + b"x\xcd\x09")
    return b"RIFF" + struct.pack("<I", 55) + body


def test_wav_with_forged_info_chunk_size_is_refused_without_a_huge_allocation(tmp_path):
    """Fuzz finding: FFmpeg's WAV demuxer allocated (and zeroed) the 1.6 GB an INFO entry declares while
    probing a 63-byte file: RSS 1.6 GB and 7 s in read_tags, again in decode_audio. Now capped
    (decode.audio.FFMPEG_MAX_ALLOC_BYTES): a one-line DecodeError, in little memory and time."""
    path = tmp_path / "forged.wav"
    data = _wav_with_forged_info_chunk()
    assert len(data) == 63
    path.write_bytes(data)
    # a fresh interpreter, so that the peak RSS measured is this file's alone: VmHWM, the peak of this
    # process image (getrusage's ru_maxrss would also count the parent's RSS at the fork, kept across exec)
    code = ("import sys\n"
            "from consentry.io.decode import decode_audio, read_tags\n"
            "from consentry.domain.errors import DecodeError\n"
            "assert read_tags(sys.argv[1]) == {'title': None, 'artist': None, 'album': None}\n"
            "try:\n"
            "    decode_audio(sys.argv[1], sample_rate_hz=11025)\n"
            "    print('decoded')\n"
            "except DecodeError as exc:\n"
            "    print('error', str(exc))\n"
            "print('rss_mib', next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmHWM:')) // 1024)\n")
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    lines = dict(line.split(" ", 1) for line in out.stdout.strip().splitlines())
    assert lines["error"].startswith(str(path) + ": ") and "\n" not in lines["error"]
    assert int(lines["rss_mib"]) < 400


@pytest.mark.parametrize("suffix,text", [(".csv", "path,title\np0.wav,one\n"),
                                         (".jsonl", '{"audio": "p0.wav"}\n')])
@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_utf16_manifest_without_bom_is_refused_as_not_utf8(tmp_path, suffix, text, encoding):
    """Fuzz finding: UTF-16 without a byte order mark is valid UTF-8 (every other byte NUL), so the
    manifest was read and the error named NUL-riddled column names ("columns: \\x00p\\x00a..."). Now
    the same one line as any text that is not UTF-8, naming the line."""
    from consentry.domain.errors import InputError

    path = tmp_path / f"manifest{suffix}"
    path.write_bytes(text.encode(encoding))
    with pytest.raises(InputError) as err:
        list(open_dataset(path).items())
    message = str(err.value)
    assert message.startswith(f"{path}: not UTF-8 text (line 1") and "\x00" not in message and "\n" not in message


def test_licence_link_that_is_not_a_valid_url_is_a_problem_not_a_crash(tmp_path):
    """Fuzz finding: ``<link rel="license" href="http://[::1">`` in a page (or the same URL in a Link
    header) made ``verify`` crash with ValueError "Invalid IPv6 URL" from urljoin. Now a SignalProblem."""
    import json

    from consentry.services.verify import verify_target

    site = tmp_path / "site"
    site.mkdir()
    (site / "page.html").write_text('<html><head><link rel="license" href="http://[::1" type="application/json">'
                                    "</head><body></body></html>")
    (site / "headers.json").write_text(json.dumps([{"path": "/song.mp3",
                                                    "headers": {"Link": '<http://[::1>; rel="license"'}}]))
    for path in ("/page.html", "/song.mp3"):
        report = verify_target(site, path=path)
        bad = [p for p in report.problems if "not a valid URL" in p.message]
        assert len(bad) == 1 and "[::1" in bad[0].source, report.problems


def test_evidence_bundle_with_corrupt_deflate_data_is_a_failure_line_not_a_last_resort_catch(tmp_path):
    """Fuzz finding: a bundle member whose deflate stream is corrupt (CRC and sizes untouched) raised
    zlib.error, which only the verifier's last-resort catch stopped ("could not be verified (error: ...)",
    and no other check ran). Now that member "cannot be read from the zip" and the other checks run."""
    import zipfile

    from consentry.services.evidence import verify_bundle, write_bundle

    output = tmp_path / "output.wav"
    output.write_bytes(_wav_bytes(8000))
    bundle = write_bundle(tmp_path / "out", output_path=output,
                          findings={"engines": [], "recording": [], "melody": [], "voice": [], "terms": {}},
                          references=[], registry_dir=tmp_path, tool_version="0.1.0", pdf=False)
    data = bytearray(bundle.read_bytes())
    with zipfile.ZipFile(bundle) as z:
        info = next(i for i in z.infolist() if i.compress_type == zipfile.ZIP_DEFLATED and i.compress_size > 64)
    name_len, extra_len = struct.unpack("<HH", data[info.header_offset + 26:info.header_offset + 30])
    start = info.header_offset + 30 + name_len + extra_len
    data[start:start + 8] = b"\xff" * 8  # an invalid deflate block
    bundle.write_bytes(bytes(data))
    result = verify_bundle(bundle)
    assert not result.ok
    assert not any("could not be verified" in f for f in result.failures), result.failures
    assert any(f.startswith(f"{info.filename}: cannot be read from the zip (Error -3") for f in result.failures), \
        result.failures
    assert all("\n" not in f for f in result.failures)


def test_multipart_boundary_over_256_bytes_is_a_one_line_input_error(tmp_path):
    """Fuzz finding: a Content-Type boundary longer than python-multipart's 256-byte maximum raised
    FormParserError from the parser's constructor: HTTP 500 "internal error" and a traceback in the
    server log. Now the same InputError (HTTP 400) as any other malformed multipart body."""
    import asyncio

    from consentry.domain.errors import InputError
    from consentry.services.uploads import UploadLimits, receive_multipart

    boundary = "b" * 5000

    async def body():
        yield f"--{boundary}\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\ny\r\n--{boundary}--\r\n".encode()

    with pytest.raises(InputError) as err:
        asyncio.run(receive_multipart(body(), content_type=f"multipart/form-data; boundary={boundary}",
                                      temp_dir=tmp_path / "in", limits=UploadLimits()))
    assert str(err.value).startswith("malformed multipart body (Boundary length 5000") and "\n" not in str(err.value)


def test_manifest_errors_do_not_echo_control_characters(tmp_path):
    """Fuzz finding: column names (a zip's "PK\\x03\\x04" spliced into a CSV header) and pyarrow's reasons
    (a thrift type byte) were echoed raw into the one-line error: NUL, ESC or CR reach the terminal.
    Now escaped (column names, at most 20 of them listed) or blanked (reasons)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from consentry.domain.errors import InputError

    csv = tmp_path / "manifest.csv"
    csv.write_bytes(b"PK\x03\x04\x1b[31m,title\r\nx,y\n")
    with pytest.raises(InputError) as err:
        list(open_dataset(csv).items())
    message = str(err.value)
    assert "no column holds paths" in message and "PK\\x03\\x04\\x1b[31m" in message
    assert not any(ord(c) < 32 for c in message)

    wide = tmp_path / "wide.parquet"
    pq.write_table(pa.table({f"c{i}": [1] for i in range(300)}), wide)
    with pytest.raises(InputError) as err:
        list(open_dataset(wide).items())
    assert "c19, ... (300 in all)" in str(err.value) and "c20," not in str(err.value)


def test_reasons_from_libraries_lose_their_control_characters():
    from consentry.io.sources import manifest, webdataset, ziparchive

    for module in (manifest, webdataset, ziparchive):
        assert module._reason(ValueError("Couldn't deserialize thrift: don't know what type: \x0e\x00")) == \
            "Couldn't deserialize thrift: don't know what type:"


def test_rsl_declaring_a_multibyte_encoding_is_a_problem_not_a_crash():
    """Fuzz finding: ``<?xml version="1.0" encoding="utf-32"?>`` made expat raise ValueError ("multi-byte
    encodings are not supported"), which escaped read_rsl and crashed ``verify``. Now a SignalProblem;
    a DTD is still refused as a DTD (not relabelled by the wider catch)."""
    from consentry.formats.rsl import read_rsl

    document, problems = read_rsl(b'<?xml version="1.0" encoding="utf-32"?><a/>', document_url="/site/rsl.xml")
    assert document is None and len(problems) == 1
    assert "unreadable XML declaration (multi-byte encodings are not supported)" in problems[0].message
    _, problems = read_rsl(b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY e "x">]><rsl>&e;</rsl>', document_url="/r.xml")
    assert "DTD" in problems[0].message


def test_signal_problems_quoting_a_document_stay_one_clean_line(tmp_path):
    """Fuzz finding: a CR in a tdmrep.json location, a Content-Usage header or a <meta> content was
    quoted raw into the problem ("rule 1 (\\r): ..."). A SignalProblem now escapes control characters."""
    import json

    from consentry.domain.signals import SignalProblem
    from consentry.services.verify import verify_target

    assert SignalProblem("tdmrep", "rule 1 (\r)", "a\x1b[31m\x00b").source == "rule 1 (\\r)"
    assert SignalProblem("tdmrep", "x", "a\x1b[31m\x00b").message == "a\\x1b[31m\\x00b"
    site = tmp_path / "site"
    (site / ".well-known").mkdir(parents=True)
    (site / ".well-known" / "tdmrep.json").write_text(json.dumps([{"location": "\r", "tdm-reservation": "/works/*"}]))
    report = verify_target(site)
    assert report.problems and all(not any(ord(c) < 32 for c in p.source + p.message) for p in report.problems)


def test_item_names_that_are_not_utf8_are_escaped(tmp_path):
    """Fuzz finding: a tar member named with undecodable bytes (b"\\xff.wav", read by tarfile as "\\udcff.wav")
    gave an item id that SQLite cannot store: the server's scan job failed with "internal error:
    UnicodeEncodeError" and ``consentry scan`` with the same. The same for a file name in a folder."""
    import os

    data = _wav_bytes()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as t:
        info = tarfile.TarInfo("\udcff.wav")
        info.size = len(data)
        t.addfile(info, io.BytesIO(data))
    (tmp_path / "shard.tar").write_bytes(buf.getvalue())
    folder = tmp_path / "folder"
    folder.mkdir()
    with open(os.path.join(os.fsencode(folder), b"\xff.wav"), "wb") as handle:
        handle.write(data)
    for spec, item_id in ((tmp_path / "shard.tar", "shard.tar#\\udcff"), (folder, "\\udcff.wav")):
        (item,) = list(open_dataset(spec).items())
        assert item.item_id == item_id and item.error is None
        assert item.name.encode("utf-8") and item.read_bytes() == data


def test_evidence_facts_with_a_lone_surrogate_escape_are_a_failure_line():
    """Fuzz finding: facts.json holding "\\ud800" (valid JSON, half a UTF-16 pair) parsed, then failed
    to re-encode as canonical JSON with UnicodeEncodeError, stopped only by the last-resort catch."""
    from consentry.services.evidence.canonical import is_canonical, parse_canonical

    with pytest.raises(ValueError, match=r"not Unicode text \(a lone surrogate escape, '\\ud800'\)"):
        parse_canonical(b'{"title": "x\\ud800y"}')
    assert not is_canonical(b'{"title":"x\\ud800y"}')
    assert parse_canonical(b'{"title": "\\ud83d\\ude00"}') == {"title": "\U0001F600"}
