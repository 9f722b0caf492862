"""Fuzz campaign (issue 15): hostile inputs for every reader, kept as a benchmark.

Every reader of outside bytes gets inputs mutated from real files that this
script makes itself (synthesised WAV/FLAC/MP3, manifests, zip and tar
archives, a published site's signal files, embedded XMP/ID3/C2PA, a signed
evidence bundle) and inputs made from small grammars (robots.txt lines, odd
encodings, deep nesting, billion laughs, zip and gzip bombs, hostile tar
members, truncated and empty files).  Mutations: bit flips, byte insert and
delete, chunk duplication, truncation, splice of two inputs, magic-byte swaps,
length-field corruption.

Each input runs in a worker process (one at a time) under a watchdog: over
``--hang-s`` seconds (default 10) is a hang (the worker's stack is dumped,
then it is killed); a peak RSS over ``--max-rss-mb`` (default 1024) is a
memory finding.  A crash is any exception that is not a ``ConsentryError``
(or a reader's documented problem type).  Crashing and hanging inputs are
saved to ``benchmarks/work/fuzz/`` with their traceback, deduplicated by
(reader, exception type, innermost frame).  Multipart uploads go to a real
``consentry serve`` on 127.0.0.1; batches of inputs go through ``consentry
register`` and ``consentry scan`` into a temporary SQLite registry, with
``PRAGMA integrity_check`` after each batch.

    .venv/bin/python benchmarks/run_fuzz.py --seed 1 --per-reader 1000   # about 10 minutes on 2 busy cores
"""

from __future__ import annotations

import argparse
import faulthandler
import gzip
import hashlib
import io
import json
import multiprocessing as mp
import os
import random
import resource
import shutil
import signal
import socket
import sqlite3
import struct
import subprocess
import sys
import tarfile
import tempfile
import time
import traceback
import zipfile
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "benchmarks" / "work" / "fuzz"
CLI = [sys.executable, "-m", "consentry.adapters.cli.main"]
SR = 22050

# -- the readers --------------------------------------------------------------------------------------

#: reader -> (family of seeds and grammar, file name the input is written as)
READERS: dict[str, tuple[str, str]] = {
    "decode.wav": ("wav", "input.wav"),
    "decode.flac": ("flac", "input.flac"),
    "decode.mp3": ("mp3", "input.mp3"),
    "manifest.csv": ("csv", "input.csv"),
    "manifest.jsonl": ("jsonl", "input.jsonl"),
    "manifest.parquet": ("parquet", "input.parquet"),
    "archive.zip": ("zip", "input.zip"),
    "archive.tar": ("tar", "input.tar"),
    "archive.tar.gz": ("tgz", "input.tar.gz"),
    "signals.robots.txt": ("robots", "robots.txt"),
    "signals.ai.txt": ("robots", "ai.txt"),
    "signals.tdmrep.json": ("tdmrep", ".well-known/tdmrep.json"),
    "signals.headers.json": ("headersjson", "headers.json"),
    "signals.terms.json": ("termsjson", "*terms/works/*.json"),
    "signals.page.html": ("html", "*terms/works/*.html"),
    "signals.rsl.xml": ("xml", "rsl.xml"),
    "signals.xmp": ("xmp", "packet.xmp"),
    "embedded.wav": ("emb_wav", "input.wav"),
    "embedded.mp3": ("emb_mp3", "input.mp3"),
    "embedded.flac": ("emb_flac", "input.flac"),
    "embedded.png": ("emb_png", "input.png"),
    "embedded.jpeg": ("emb_jpeg", "input.jpg"),
    "evidence.bundle": ("evidence", "input.evidence.zip"),
}


def _allowed(reader: str) -> tuple[type, ...]:
    """Exceptions that are a reader's documented answer, not a crash."""
    from consentry.domain.errors import ConsentryError

    allowed: list[type] = [ConsentryError]
    if reader == "signals.xmp":
        from consentry.formats.embed.xmp import XmpError

        allowed.append(XmpError)
    return tuple(allowed)


def _dataset_items(path: Path) -> str:
    """Read up to 300 items; item errors must be one line (a line break in one raises, to be counted)."""
    from consentry.domain.errors import InputError
    from consentry.io.sources import open_dataset

    ds = open_dataset(path)
    n = 0
    for n, item in enumerate(ds.items(), 1):
        if n > 300:
            break
        if item.error is not None:
            _clean([item.error])
        try:
            item.read_bytes(max_bytes=64 * 2**20)
        except InputError:
            pass
    return f"{n} items"


class UncleanMessage(Exception):
    """A problem or error message that is not one clean line (a line break, NUL, ESC...): counted, not a crash."""


def _clean(messages) -> None:
    for text in messages:
        if any(ord(c) < 32 and c != "\t" for c in str(text).strip()):
            raise UncleanMessage(repr(str(text)[:300]))


def run_reader(reader: str, path: Path, site: Path | None) -> str:
    """Run one reader on one input; returns a short outcome (exceptions propagate)."""
    if reader.startswith("decode."):
        from consentry.io.decode import decode_audio, read_tags

        read_tags(path)
        audio = decode_audio(path, sample_rate_hz=11025, max_duration_s=20.0)
        return f"decoded {audio.samples.size} samples"
    if reader.startswith(("manifest.", "archive.")):
        return _dataset_items(path)
    if reader.startswith("signals.") and reader != "signals.xmp":
        from consentry.services.verify import verify_target

        judged = "/" + path.relative_to(site).as_posix() if reader == "signals.page.html" else None
        report = verify_target(site, path=judged)
        _clean(m for p in report.problems for m in (p.message, p.source))
        return f"{len(report.resources)} resources" if hasattr(report, "resources") else "verified"
    if reader == "signals.xmp":
        from consentry.services.embed import signals_from_xmp
        from consentry.formats.embed.xmp import read_properties

        props = read_properties(path.read_bytes())
        found, bad = signals_from_xmp(props, file_label=path.name, location=str(path))
        _clean(m for p in bad for m in (p.message, p.source))
        return f"{len(found)} signals, {len(bad)} problems"
    if reader.startswith("embedded."):
        from consentry.services.embed import read_embedded_signals

        found, bad = read_embedded_signals(path)
        _clean(m for p in bad for m in (p.message, p.source))
        return f"{len(found)} signals, {len(bad)} problems"
    if reader == "evidence.bundle":
        from consentry.services.evidence import format_verify_result, verify_bundle
        from consentry.services.evidence import verify as ev

        # the registry's key is trusted, so that every check past the signer runs
        fingerprint = os.environ.get("CONSENTRY_FUZZ_EVIDENCE_KEY") or None
        result = verify_bundle(path, expected_fingerprint=fingerprint)
        format_verify_result(result)
        _clean(result.failures)
        if any("could not be verified (" in f for f in result.failures):
            # the last-resort catch hid an exception: run the steps again to see it
            ev._verify(path, ev.VerifyResult(path=str(path)), files_dir=None, rematch=None, expected_fingerprint=fingerprint,
                       tolerance_s=ev.OFFSET_TOLERANCE_S)
            return "last-resort catch (not reproduced)"
        return f"{len(result.failures)} failures"
    raise ValueError(reader)


def _hwm_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def worker_main(conn, stack_file: str) -> None:
    """The worker process: run requests from ``conn`` until it is closed."""
    resource.setrlimit(resource.RLIMIT_AS, (6 * 2**30, 6 * 2**30))  # backstop; the parent watches RSS at 1 GB
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    sys.setrecursionlimit(10_000)
    import consentry.io.decode, consentry.io.sources, consentry.services.verify, consentry.formats.embed, consentry.services.evidence  # noqa: E401,F401

    handle = open(stack_file, "w")
    faulthandler.register(signal.SIGUSR1, file=handle, all_threads=False)  # the parent's "where are you?"
    while True:
        try:
            req = conn.recv()
        except EOFError:
            return
        handle.seek(0)
        handle.truncate()
        faulthandler.dump_traceback_later(req["hang_s"] - 0.5, exit=False, file=handle)
        t0 = time.perf_counter()
        out = {"status": "ok"}
        try:
            out["outcome"] = run_reader(req["reader"], Path(req["path"]), Path(req["site"]) if req["site"] else None)
        except BaseException as exc:  # noqa: BLE001 - the point: classify everything
            if isinstance(exc, UncleanMessage):
                out = {"status": "unclean", "outcome": f"unclean message: {exc}"}
            elif isinstance(exc, _allowed(req["reader"])):
                text = str(exc)
                # not one clean line: a line break, or a control character (NUL, ESC) echoed from the input
                unclean = any(ord(c) < 32 and c != "\t" for c in text.strip())
                out = {"status": "unclean" if unclean else "rejected", "outcome": text[:300]}
            else:
                tb = traceback.extract_tb(exc.__traceback__)
                inner = tb[-1] if tb else None
                frame = f"{Path(inner.filename).name}:{inner.lineno} {inner.name}" if inner else "?"
                out = {"status": "crash", "exc_type": type(exc).__name__, "frame": frame,
                       "traceback": "".join(traceback.format_exception(exc))[-6000:]}
        finally:
            faulthandler.cancel_dump_traceback_later()
        out["seconds"] = round(time.perf_counter() - t0, 3)
        out["hwm_kib"] = _hwm_kib()
        conn.send(out)


class Supervisor:
    """One worker process at a time, restarted after a hang, a memory finding or a death."""

    def __init__(self, work: Path, *, hang_s: float, max_rss_kib: int) -> None:
        self.work = work
        self.hang_s = hang_s
        self.max_rss_kib = max_rss_kib
        self.stack_file = work / "worker-stack.txt"
        self.ctx = mp.get_context("spawn")
        self.proc = None
        self.conn = None

    def _start(self) -> None:
        parent, child = self.ctx.Pipe()
        self.proc = self.ctx.Process(target=worker_main, args=(child, str(self.stack_file)), daemon=True)
        self.proc.start()
        child.close()
        self.conn = parent

    def stop(self) -> None:
        if self.proc is not None:
            self.conn.close()
            self.proc.kill()
            self.proc.join(5)
            self.proc = None

    def _rss_kib(self) -> int:
        try:
            for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        except OSError:
            pass
        return 0

    def run(self, reader: str, path: Path, site: Path | None) -> dict:
        if self.proc is None or not self.proc.is_alive():
            self._start()
        self.conn.send({"reader": reader, "path": str(path), "site": str(site) if site else None,
                        "hang_s": self.hang_s})
        t0 = time.monotonic()
        peak = 0
        while True:
            if self.conn.poll(0.05):
                try:
                    out = self.conn.recv()
                except EOFError:
                    out = None
                break
            peak = max(peak, self._rss_kib())
            if peak > self.max_rss_kib:
                os.kill(self.proc.pid, signal.SIGUSR1)
                time.sleep(0.3)
                stack = self.stack_file.read_text(errors="replace") if self.stack_file.exists() else ""
                self.stop()
                return {"status": "memory", "rss_kib": peak, "seconds": round(time.monotonic() - t0, 2),
                        "traceback": stack[-6000:], "frame": _innermost_dump_frame(stack)}
            if time.monotonic() - t0 > self.hang_s + 2:
                time.sleep(0.2)
                stack = self.stack_file.read_text(errors="replace") if self.stack_file.exists() else ""
                self.stop()
                return {"status": "hang", "seconds": round(time.monotonic() - t0, 2), "traceback": stack[-6000:],
                        "frame": _innermost_dump_frame(stack)}
            if not self.proc.is_alive():
                out = None
                break
        if out is None:
            code = self.proc.exitcode
            self.stop()
            return {"status": "crash", "exc_type": f"worker died (exit {code})", "frame": "?",
                    "traceback": f"the worker process died with exit code {code}"}
        if out.get("hwm_kib", 0) > self.max_rss_kib:
            self.stop()  # a fresh worker, so that the next input's peak is its own
            out = {**out, "status": "memory", "rss_kib": out["hwm_kib"]}
        elif out["status"] == "ok" and out["seconds"] > self.hang_s:
            out = {**out, "status": "hang", "frame": "?", "traceback": "finished, but after the hang limit"}
        return out


def _innermost_dump_frame(stack: str) -> str:
    """The innermost frame of the main thread in a faulthandler dump."""
    lines = stack.splitlines()
    for i, line in enumerate(lines):
        if "most recent call first" in line and i + 1 < len(lines):
            frame = lines[i + 1].strip()
            if "File " in frame:
                name = frame.split('"')[1] if '"' in frame else frame
                rest = frame.split(",", 1)[1].strip() if "," in frame else ""
                return f"{Path(name).name} {rest}"
    return "?"


# -- real files ---------------------------------------------------------------------------------------


def _encode(path: Path, samples, *, codec: str, fmt: str | None = None, bitrate: int | None = None) -> Path:
    import av
    import numpy as np

    with av.open(str(path), "w", format=fmt) as out:
        stream = out.add_stream(codec, rate=SR)
        stream.layout = "mono"
        if bitrate:
            stream.bit_rate = bitrate
        pcm = (np.clip(samples, -1, 1) * 32767).astype("<i2").reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
        frame.sample_rate = SR
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


def _cli(*args: str, registry: Path, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess:
    r = subprocess.run([*CLI, "--registry", str(registry), *args], capture_output=True, text=True, timeout=timeout,
                       cwd=ROOT)
    if check and r.returncode not in (0, 2):
        raise SystemExit(f"consentry {' '.join(args[:2])} failed: {r.stderr.strip()[-800:]}")
    return r


def _pki(d: Path) -> tuple[Path, Path]:
    """A throw-away CA and an ES256 leaf certificate chain (PEM) for C2PA signing."""
    from consentry.testing.pki import write_signer

    return write_signer(d, subject="Fuzz Signer", organisation="Consentry fuzz")


def build_seeds(seeds: Path) -> dict:
    """Make the real files every reader's inputs are mutated from; returns family -> list of bytes, and paths."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    from consentry.testing.synth import synthesise_piece

    seeds.mkdir(parents=True, exist_ok=True)
    audio = seeds / "audio"
    audio.mkdir(exist_ok=True)
    pieces = [synthesise_piece(s, duration_s=6.0, sample_rate_hz=SR) for s in (11, 12, 13)]
    files = {}
    for i, x in enumerate(pieces):
        x = np.asarray(x, np.float32)
        files[f"wav{i}"] = _encode(audio / f"p{i}.wav", x, codec="pcm_s16le", fmt="wav")
        files[f"flac{i}"] = _encode(audio / f"p{i}.flac", x, codec="flac")
        files[f"mp3{i}"] = _encode(audio / f"p{i}.mp3", x, codec="libmp3lame", bitrate=64000)
    fam: dict[str, list[bytes]] = {k: [files[f"{k}{i}"].read_bytes() for i in range(3)] for k in ("wav", "flac", "mp3")}

    # a registry with the first two pieces: published site, embedded files, an evidence bundle
    reg = seeds / "seed.db"
    if not reg.exists():
        _cli("register", str(files["wav0"]), str(files["flac1"]), "--creator", "Fuzz Creator", "--terms", "deny",
             registry=reg)
    site = seeds / "site"
    if not site.exists():
        _cli("publish", "--out", str(site), "--base-url", "https://fuzz.example.org", registry=reg)
    from PIL import Image

    gradient = np.add.outer(np.arange(48), np.arange(64)).astype(np.uint8) * 2
    image = Image.fromarray(np.stack([gradient, gradient[::-1], 255 - gradient], axis=-1))
    image.save(audio / "cover.png")
    image.save(audio / "cover.jpg", quality=80)
    emb = seeds / "embedded"
    if not any(emb.glob("*.png")):
        emb.mkdir(exist_ok=True)
        chain, key = _pki(seeds)
        work = json.loads(_cli("works", "list", "--json", registry=reg).stdout.splitlines()[0])["work_id"]
        for f in (files["wav0"], files["mp3" + "0"], files["flac0"], audio / "cover.png", audio / "cover.jpg"):
            _cli("embed", str(f), "--work", work, "--base-url", "https://fuzz.example.org", "--cert", str(chain),
                 "--key", str(key), "--alg", "es256", "--out", str(emb), registry=reg)
    for kind in ("wav", "mp3", "flac"):
        fam[f"emb_{kind}"] = [p.read_bytes() for p in sorted(emb.glob(f"*.{kind}"))] or fam[kind]
    fam["emb_png"] = [p.read_bytes() for p in sorted(emb.glob("*.png"))]
    fam["emb_jpeg"] = [p.read_bytes() for p in sorted(emb.glob("*.jpg"))]
    ev = seeds / "evidence"
    if not any(ev.glob("*.evidence.zip")):
        query = audio / "query.wav"
        x = np.concatenate([np.zeros(SR, np.float32), np.asarray(pieces[0], np.float32)[SR: 5 * SR]])
        _encode(query, x, codec="pcm_s16le", fmt="wav")
        _cli("check", str(query), "--evidence", str(ev), "--no-pdf", "--no-melody", "--no-voice", registry=reg)
    fam["evidence"] = [p.read_bytes() for p in sorted(ev.glob("*.evidence.zip"))]
    from consentry.services.evidence import key_fingerprint, load_or_create_signing_key

    os.environ["CONSENTRY_FUZZ_EVIDENCE_KEY"] = key_fingerprint(load_or_create_signing_key(seeds))  # for the worker

    # signal files, from the published site
    fam["robots"] = [(site / "robots.txt").read_bytes(), (site / "ai.txt").read_bytes()]
    fam["tdmrep"] = [(site / ".well-known" / "tdmrep.json").read_bytes()]
    fam["termsjson"] = [p.read_bytes() for p in sorted(site.glob("terms/works/*.json"))][:3] or [b"{}"]
    fam["headersjson"] = [(site / "headers.json").read_bytes()]
    fam["html"] = [p.read_bytes() for p in sorted(site.glob("terms/works/*.html"))][:3] or [b"<html></html>"]
    fam["xml"] = [p.read_bytes() for p in sorted(site.rglob("*.xml"))][:3] or [b"<rsl/>"]
    from consentry.formats.embed.xmp import extract_xmp
    from consentry.formats.sniff import sniff_bytes

    packets = []
    for blob in fam["emb_png"] + fam["emb_jpeg"]:
        try:
            p = extract_xmp(sniff_bytes(blob[:4096]), blob)
        except Exception:  # noqa: BLE001 - a seed without XMP
            p = None
        if p:
            packets.append(p)
    fam["xmp"] = packets or [b'<x:xmpmeta xmlns:x="adobe:ns:meta/"/>']

    # manifests and archives over the audio files
    names = [f"p{i}.{k}" for i in range(3) for k in ("wav", "flac", "mp3")]
    csv_text = "path,title,license\n" + "".join(f"{n},Piece {n},cc-by\n" for n in names)
    jsonl = "".join(json.dumps({"audio": n, "title": f"Piece {n}", "license": "cc-by"}) + "\n" for n in names)
    fam["csv"] = [csv_text.encode()]
    fam["jsonl"] = [jsonl.encode()]
    pq_seeds = []
    for table in (pa.table({"path": names, "title": names}),
                  pa.table({"audio": [{"bytes": fam["wav"][0][:40000], "path": "a.wav"},
                                      {"bytes": fam["mp3"][1], "path": "b.mp3"}], "title": ["a", "b"]})):
        buf = io.BytesIO()
        pq.write_table(table, buf)
        pq_seeds.append(buf.getvalue())
    fam["parquet"] = pq_seeds
    zbuf = io.BytesIO()
    with zipfile.ZipFile(zbuf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("a/p0.wav", fam["wav"][0])
        z.writestr("b/p1.mp3", fam["mp3"][1])
        z.writestr("readme.txt", "hello")
    fam["zip"] = [zbuf.getvalue()]
    fam["tar"] = [_tar_bytes([("s0.wav", fam["wav"][0]), ("s0.json", b'{"title": "p0"}'),
                              ("s1.flac", fam["flac"][1]), ("s1.txt", b"p1")])]
    fam["tgz"] = [gzip.compress(fam["tar"][0], compresslevel=6, mtime=0)]
    return {"families": fam, "site": site, "audio": audio, "registry": reg, "files": files}


def _tar_bytes(members: list[tuple[str, bytes]], *, fmt=tarfile.PAX_FORMAT) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as t:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


# -- mutations ------------------------------------------------------------------------------------------

MAGICS = [b"RIFF", b"RIFX", b"fLaC", b"ID3\x04\x00", b"\xff\xfb\x90", b"OggS", b"PK\x03\x04", b"PK\x05\x06",
          b"\x1f\x8b\x08", b"PAR1", b"<?xml", b"{", b"[", b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff", b"\x00\x00\x00",
          b"ftypM4A ", b"FORM", b"\x89PNG", b"%PDF-", b"BZh9", b"\xfd7zXZ"]
LENGTH_MARKERS = [(b"PK\x03\x04", (18, 22, 26, 28)), (b"PK\x01\x02", (20, 24, 28, 30, 42)), (b"PK\x05\x06", (8, 10, 12, 16, 20)),
                  (b"RIFF", (4,)), (b"data", (4,)), (b"fmt ", (4, 6, 8, 12, 18)), (b"LIST", (4,)), (b"ID3", (6,)),
                  (b"fLaC", (5, 10, 14)), (b"PAR1", (-8,)), (b"ustar", (-133,))]
EXTREMES = [0, 1, 0x7F, 0x80, 0xFF, 0x7FFF, 0x8000, 0xFFFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF]


def _bitflip(rng, d, others):
    b = bytearray(d)
    for _ in range(rng.randint(1, 8)):
        if b:
            i = rng.randrange(len(b))
            b[i] ^= 1 << rng.randrange(8)
    return bytes(b)


def _insert(rng, d, others):
    i = rng.randint(0, len(d))
    blob = rng.choice([rng.randbytes(rng.randint(1, 64)), rng.choice(MAGICS), b"\x00" * rng.randint(1, 4096),
                       b"\xff" * rng.randint(1, 64), bytes([rng.randrange(256)])])
    return d[:i] + blob + d[i:]


def _delete(rng, d, others):
    if not d:
        return d
    i = rng.randrange(len(d))
    return d[:i] + d[i + rng.randint(1, min(4096, len(d) - i)):]


def _dup(rng, d, others):
    if not d:
        return d
    i = rng.randrange(len(d))
    chunk = d[i:i + rng.randint(1, 2048)]
    times = rng.choice([1, 2, 16, 256])
    j = rng.randint(0, len(d))
    return (d[:j] + chunk * times + d[j:])[: 8 * 2**20]


def _truncate(rng, d, others):
    return d[: rng.randint(0, len(d))] if d else d


def _splice(rng, d, others):
    o = rng.choice(others)
    return d[: rng.randint(0, len(d))] + o[rng.randint(0, len(o)):]


def _magic(rng, d, others):
    m = rng.choice(MAGICS)
    at = rng.choice([0, 0, 0, 8, 12, 257]) if d else 0
    return d[:at] + m + d[at + len(m):]


def _length(rng, d, others):
    b = bytearray(d)
    spots = []
    for marker, offsets in LENGTH_MARKERS:
        start = b.find(marker)
        while start >= 0 and len(spots) < 64:
            spots += [start + o for o in offsets if 0 <= start + o < len(b) - 4]
            start = b.find(marker, start + 1)
    pos = rng.choice(spots) if spots and rng.random() < 0.8 else rng.randrange(max(1, min(len(b), 512)))
    if pos >= len(b) - 4:
        return bytes(b)
    value = rng.choice(EXTREMES + [len(d), len(d) + 1, len(d) - 1, rng.getrandbits(32)]) & 0xFFFFFFFF
    width, order = rng.choice([(4, "<"), (4, ">"), (2, "<"), (2, ">")])
    packed = struct.pack(order + ("I" if width == 4 else "H"), value & (0xFFFFFFFF if width == 4 else 0xFFFF))
    b[pos:pos + width] = packed
    return bytes(b)


MUTATORS = {"bitflip": _bitflip, "insert": _insert, "delete": _delete, "duplicate": _dup, "truncate": _truncate,
            "splice": _splice, "magic": _magic, "length": _length}


def mutate(rng: random.Random, data: bytes, others: list[bytes]) -> tuple[bytes, str]:
    names = [rng.choice(list(MUTATORS)) for _ in range(rng.choice([1, 1, 1, 2, 3]))]
    for name in names:
        data = MUTATORS[name](rng, data, others)
    return data, "+".join(names)


# -- grammars ---------------------------------------------------------------------------------------------


def _encodings(rng, text: str) -> bytes:
    how = rng.choice(["utf8", "utf8", "utf16", "utf16-nobom", "utf16be", "latin1", "invalid", "nul", "bom8"])
    if how == "utf16":
        return text.encode("utf-16")
    if how == "utf16-nobom":
        return text.encode("utf-16-le")
    if how == "utf16be":
        return text.encode("utf-16-be")
    if how == "latin1":
        return text.encode("latin-1", "replace")
    if how == "invalid":
        b = bytearray(text.encode())
        for _ in range(rng.randint(1, 5)):
            b.insert(rng.randint(0, len(b)), rng.choice([0x80, 0xC0, 0xFF, 0xED, 0xF8]))
        return bytes(b)
    if how == "nul":
        return text.replace("\n", "\x00\n", rng.randint(1, 3)).encode()
    if how == "bom8":
        return b"\xef\xbb\xbf" + text.encode()
    return text.encode()


ODD = ["", "*", "$", "/", "/*", "*$", "/works/", "/%2F%2e%2E/", "/%ZZ", "/\u00e9\u4e2d", "\t", " " * 50, "\ufeff",
       "/a" * 5000, "*" * 3000, "?q=1", "#frag", "\\", "\x00", "\r", "/works/*/song.mp3$", "//", "%", "/%00"]


def gram_robots(rng) -> bytes:
    keys = ["User-agent", "user-AGENT", "Allow", "Disallow", "Content-Usage", "Content-Signal", "Sitemap",
            "Crawl-delay", "Host", "DisallowAI", "", ":", "User-agent ", "Noindex"]
    agents = ["*", "GPTBot", "CCBot", "Google-Extended", "anthropic-ai", "gptbot", "\u00e9bot", "", "x" * 2000]
    usage = ["train-ai=n", "ai=y", "train-ai=n, search=y", "bogus", "train-ai=", "=n", "train-ai=n;x=y",
             "train-genai=n", "a=b=c", "train-ai=n " * 200]
    lines = []
    for _ in range(rng.choice([0, 1, 5, 30, 300])):
        k = rng.choice(keys)
        v = (rng.choice(agents) if "agent" in k.lower() else rng.choice(usage) if "Content" in k
             else rng.choice(ODD) if rng.random() < 0.6 else rng.choice(usage))
        if rng.random() < 0.2 and "Content" not in k:
            v = f"{rng.choice(ODD)} {rng.choice(usage)}"
        sep = rng.choice([": ", ":", " : ", "=", " ", "::"])
        lines.append(k + sep + v + rng.choice(["", " # comment", "#", " \t"]))
    if rng.random() < 0.1:
        lines.append("Disallow: /" + "a" * rng.choice([10**5, 2 * 10**6]))
    if rng.random() < 0.1:
        lines = lines * 50
    eol = rng.choice(["\n", "\r\n", "\r", "\n\n"])
    return _encodings(rng, eol.join(lines))


def _deep_json(rng) -> str:
    depth = rng.choice([100, 1000, 100_000])
    opener, closer = rng.choice([("[", "]"), ('{"a":', "}")])
    return opener * depth + "1" + closer * depth


def _odd_value(rng):
    return rng.choice([None, True, 0, -1, 2**64, 1e308, float("inf"), "", "x" * 10**5, [], {}, [1, 2], {"a": 1},
                       "1", "0", "\u0000", "../../etc/passwd", "/dev/zero", "http://127.0.0.1:1/x", "file:///etc/passwd",
                       "\ud800", 1.5, "NaN"])


def _json_dumps(rng, obj) -> str:
    try:
        return json.dumps(obj, allow_nan=True)
    except (ValueError, TypeError, OverflowError):
        return json.dumps(str(obj))


def gram_tdmrep(rng) -> bytes:
    choice = rng.random()
    if choice < 0.15:
        return _encodings(rng, _deep_json(rng))
    if choice < 0.3:
        return _encodings(rng, _json_dumps(rng, _odd_value(rng)))
    rules = []
    for _ in range(rng.choice([0, 1, 3, 20, 5000])):
        r = {}
        for key in ("location", "tdm-reservation", "tdm-policy", "TDM-Reservation", "extra"):
            if rng.random() < 0.7:
                r[key] = rng.choice([rng.choice(ODD), _odd_value(rng), 1, 0, "1", "/works/*"])
        rules.append(r if rng.random() < 0.9 else _odd_value(rng))
    text = _json_dumps(rng, rules if rng.random() < 0.8 else {"rules": rules})
    if rng.random() < 0.1:
        text = text.replace("}", "}," * 2, 1)
    return _encodings(rng, text)


HEADER_VALUES = {
    "Link": ['<https://fuzz.example.org/rsl.xml>; rel="license"; type="application/rsl+xml"', "<<<>>>", ";;;", "<>",
             '<https://fuzz.example.org/terms/works/x.json>; rel=license', '<a>; rel="license', '<file:///etc/passwd>; rel="license"',
             '<http://127.0.0.1:9/x>; rel="license"', ", " * 5000, '<x>; rel="license"; ' * 500, "<\u00e9>; rel=\"license\""],
    "Content-Usage": ["train-ai=n", "train-ai=y, search=n", "", "bogus", "train-ai=?", "a" * 100000, "train-ai=n;;"],
    "X-Robots-Tag": ["noai, noimageai", "GPTBot: noai", "unavailable_after: bogus", "none", ": :", "noai," * 3000],
    "tdm-reservation": ["1", "0", "", "2", "yes", "-1", "1e9"],
    "tdm-policy": ["https://fuzz.example.org/policy.json", "/policy.json", "", "http://[::1", "file:///etc/passwd",
                   "/../../../../etc/passwd", "/.well-known/tdmrep.json"],
    "Content-Type": ["text/html", "audio/mpeg", "", "text/html; charset=utf-16", "text/html; charset=bogus"],
}


def gram_headers(rng) -> bytes:
    if rng.random() < 0.15:
        return _encodings(rng, _deep_json(rng) if rng.random() < 0.5 else _json_dumps(rng, _odd_value(rng)))
    rules = []
    for _ in range(rng.choice([0, 1, 3, 30, 3000])):
        headers = {}
        for _h in range(rng.randint(0, 5)):
            name = rng.choice(list(HEADER_VALUES) + ["", "X" * 300, "link"])
            headers[name] = rng.choice(HEADER_VALUES.get(name, [""]) + [rng.choice(ODD)])
        rule = {"path": rng.choice(["/works/*", "/", "*"] + ODD), "headers": headers}
        if rng.random() < 0.1:
            rule = rng.choice([{"path": 3}, {"headers": []}, [1, 2], "x", {"path": "/", "headers": {"a": 1}}])
        rules.append(rule)
    return _encodings(rng, _json_dumps(rng, rules))


def gram_html(rng) -> bytes:
    parts = ["<!doctype html><html><head>"]
    for _ in range(rng.choice([0, 1, 5, 50, 5000])):
        c = rng.random()
        if c < 0.3:
            parts.append(f'<meta name="{rng.choice(["robots", "GPTBot", "tdm-reservation", "tdm-policy", "ROBOTS", ""])}" '
                         f'content="{rng.choice(HEADER_VALUES["X-Robots-Tag"] + HEADER_VALUES["tdm-reservation"] + ODD)}">')
        elif c < 0.5:
            parts.append(f'<link rel="{rng.choice(["license", "LICENSE", "license alternate", ""])}" '
                         f'href="{rng.choice(HEADER_VALUES["tdm-policy"] + ODD)}" type="{rng.choice(["application/rsl+xml", "application/json", ""])}">')
        elif c < 0.6:
            parts.append("<div>" * rng.choice([100, 100_000] if len(parts) < 50 else [100]))
        elif c < 0.7:
            parts.append(rng.choice(["<meta", "<link rel=", "<!--", "<![CDATA[", "<script>", "&#x110000;", "&#0;", "</head>",
                                     "<meta charset=utf-16>", "<meta http-equiv=X-Robots-Tag content=noai>"]))
        else:
            parts.append(f'<meta property="og:{rng.choice(ODD)}" content="{"x" * rng.choice([1, 10**5] if len(parts) < 50 else [1])}">')
    parts.append("</head><body></body></html>")
    return _encodings(rng, "".join(parts))


def gram_json_doc(rng) -> bytes:
    choice = rng.random()
    if choice < 0.2:
        return _encodings(rng, _deep_json(rng))
    keys = ["work_id", "title", "terms", "uses", "ai_training", "decision", "price", "currency", "valid_from",
            "valid_until", "version", "policy", "creator", "licence", "license", "url"]

    def obj(depth):
        if depth > 4 or rng.random() < 0.3:
            return _odd_value(rng)
        if rng.random() < 0.2:
            return [obj(depth + 1) for _ in range(rng.randint(0, 4))]
        return {rng.choice(keys): obj(depth + 1) for _ in range(rng.randint(0, 6))}

    text = _json_dumps(rng, obj(0))
    if rng.random() < 0.1:
        text = text[: rng.randint(0, len(text))]
    return _encodings(rng, text)


BILLION_LAUGHS = ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
                  + "".join(f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">' for i in range(1, 10))
                  + ']><x:xmpmeta xmlns:x="adobe:ns:meta/">&lol9;</x:xmpmeta>')
XXE = ('<?xml version="1.0"?><!DOCTYPE r [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
       '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
       '<rdf:Description xmlns:plus="http://ns.useplus.org/ldf/xmp/1.0/" plus:DataMining="&e;"/></rdf:RDF></x:xmpmeta>')
RDF = ('<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
       '<rdf:Description rdf:about="" xmlns:plus="http://ns.useplus.org/ldf/xmp/1.0/" '
       'xmlns:xmpRights="http://ns.adobe.com/xap/1.0/rights/" xmlns:dc="http://purl.org/dc/elements/1.1/" '
       'xmlns:consentry="urn:consentry:xmp:terms:1:" {attrs}>{body}</rdf:Description></rdf:RDF></x:xmpmeta>')


def gram_xml(rng) -> bytes:
    c = rng.random()
    if c < 0.1:
        return _encodings(rng, BILLION_LAUGHS)
    if c < 0.2:
        return _encodings(rng, XXE)
    if c < 0.3:
        depth = rng.choice([100, 10_000, 200_000])
        return ("<a>" * depth + "</a>" * depth).encode()
    if c < 0.35:
        return b'<?xml version="1.0" encoding="' + rng.choice([b"ebcdic", b"utf-32", b"x-unknown", b"utf-16", b""]) + b'"?><a/>'
    props = ["plus:DataMining", "consentry:Terms", "consentry:AiTraining", "consentry:Tdm", "consentry:WorkId",
             "consentry:TermsVersion", "plus:OtherConstraints", "xmpRights:WebStatement", "dc:rights"]
    values = ["http://ns.useplus.org/ldf/vocab/DMI-PROHIBITED", "DMI-ALLOWED", "", "x" * 10**5, "&amp;", "&#0;",
              "&#x110000;", "\u00e9", "{\"a\":1}", "[[[[", '{"uses": {"ai_training": {"decision": 7}}}', "\ufffe",
              "deny", "allow", "license", "-1", "99999999999999999999", "1e400", '{"terms": {"uses": []}}',
              '{"terms": {"uses": {"ai_training": "deny"}}, "iscc": 3}', "[" * 5000 + "]" * 5000,
              '{"terms": {"uses": {"ai_training": {"decision": "license", "price": "NaN"}}}}']
    attrs = " ".join(f'{rng.choice(props)}="{rng.choice(values)}"' for _ in range(rng.randint(0, 4)))
    body = "".join(f"<{p}>{rng.choice(values)}</{p}>" for p in rng.sample(props, rng.randint(0, 4)))
    if rng.random() < 0.2:
        body += "<rdf:Bag>" + "<rdf:li>x</rdf:li>" * rng.choice([10, 100_000]) + "</rdf:Bag>"
    text = RDF.format(attrs=attrs, body=body)
    if rng.random() < 0.2:
        text = text[: rng.randint(0, len(text))]
    return _encodings(rng, text)


def _wav_header(rng) -> bytes:
    ch = rng.choice([0, 1, 2, 65535, 8])
    rate = rng.choice([0, 1, 8000, 44100, 2**31 - 1, 2**32 - 1])
    bits = rng.choice([0, 1, 8, 16, 24, 32, 64, 65535])
    fmt_tag = rng.choice([1, 3, 0xFFFE, 0, 0x55, 0x1234])
    data = rng.randbytes(rng.choice([0, 1, 3, 4000]))
    fmt = struct.pack("<HHIIHH", fmt_tag, ch & 0xFFFF, rate, (rate * max(ch, 1) * max(bits, 8) // 8) & 0xFFFFFFFF,
                      (ch * bits // 8) & 0xFFFF, bits)
    data_len = rng.choice([len(data), 0, 0xFFFFFFFF, 0x7FFFFFFF, len(data) + 1])
    body = b"WAVE" + b"fmt " + struct.pack("<I", rng.choice([16, 18, 40, 0, 0xFFFFFFFF])) + fmt
    if rng.random() < 0.2:
        body += b"LIST" + struct.pack("<I", 0xFFFFFFF0) + b"INFOINAM"
    body += b"data" + struct.pack("<I", data_len) + data
    return b"RIFF" + struct.pack("<I", rng.choice([len(body), 0, 0xFFFFFFFF])) + body


def gram_audio(rng, fam) -> bytes:
    c = rng.random()
    if c < 0.1:
        return b""
    if c < 0.15:
        return rng.choice(MAGICS)
    if c < 0.45:
        return _wav_header(rng)
    if c < 0.6:
        size = rng.choice([0, 10, 0x7F7F7F7F])
        syncsafe = bytes([(size >> 21) & 0x7F, (size >> 14) & 0x7F, (size >> 7) & 0x7F, size & 0x7F])
        frame = b"TIT2" + struct.pack(">I", rng.choice([1, 5, 0x7FFFFFFF])) + b"\x00\x00" + b"\x03" + b"x" * 20
        return b"ID3\x04\x00\x00" + syncsafe + frame + rng.choice([b"", b"\xff\xfb\x90\x00" * 50, rng.randbytes(500)])
    if c < 0.75:
        block = rng.choice([0, 4, 6])  # VORBIS_COMMENT, PICTURE, bogus
        length = rng.choice([0, 34, 0xFFFFFF, 10])
        payload = rng.randbytes(rng.choice([0, 34, 200]))
        if block == 4 and rng.random() < 0.5:
            payload = struct.pack("<I", 3) + b"abc" + struct.pack("<I", 0xFFFFFFFF) + b"k=v"
        return b"fLaC" + bytes([0x80 | block]) + length.to_bytes(3, "big") + payload
    if c < 0.85:
        return (b"\xff\xfb" + bytes([rng.randrange(256)]) + b"\x00" + rng.randbytes(100)) * rng.choice([1, 50, 2000])
    seed = rng.choice(fam)
    return seed[: rng.choice([1, 4, 12, 44, 100, 1000])]


def gram_csv(rng) -> bytes:
    paths = ["p0.wav", "p1.flac", "../p0.wav", "/etc/passwd", "/dev/zero", "/dev/null", "/proc/self/mem", "fifo",
             "", " ", "p0.wav\x00.txt", "http://127.0.0.1:9/x.wav", "file:///etc/passwd", "s3://b/k.wav",
             "~/x.wav", "p0.wav" * 1000, "missing.wav", "C:\\x.wav", "\u00e9.wav", "p2.mp3", "=cmd|' /C calc'!A0",
             "sub/../../p0.wav", "data:audio/wav;base64,UklGRg=="]
    cols = rng.choice([["path"], ["audio"], ["path", "title", "license"], ["file", "path"], ["", ""], ["x"],
                       ["path"] * 3, ["p\u00e9th"], ["path,title"]])
    rows = []
    for _ in range(rng.choice([0, 1, 5, 50, 2000])):
        row = []
        for _c in cols:
            v = rng.choice(paths) if rng.random() < 0.7 else rng.choice(ODD)
            q = rng.random()
            row.append(f'"{v}"' if q < 0.2 else f'"{v}' if q < 0.25 else v.replace(",", ";"))
        if rng.random() < 0.1:
            row.append("extra")
        rows.append(",".join(row))
    text = ",".join(cols) + "\n" + "\n".join(rows)
    if rng.random() < 0.05:
        text += "\n" + '"' + "x" * 2 * 10**6
    return _encodings(rng, text)


def gram_jsonl(rng) -> bytes:
    lines = []
    for _ in range(rng.choice([0, 1, 5, 100, 3000])):
        c = rng.random()
        if c < 0.1:
            lines.append(_deep_json(rng) if rng.random() < 0.2 else "[" * 50 + "]" * 50)
        elif c < 0.2:
            lines.append(_json_dumps(rng, _odd_value(rng)))
        elif c < 0.3:
            lines.append(rng.choice(["{", "}", "", "  ", "null", "{'a': 1}", '{"audio": "p0.wav",}', "\x00"]))
        else:
            row = {rng.choice(["audio", "path", "file", "url", "title", "bytes"]):
                   rng.choice(["p0.wav", "p1.flac", "../p0.wav", "/dev/zero", "/etc/passwd", "fifo",
                               {"bytes": "UklGRiQAAABXQVZF", "path": "a.wav"}, {"bytes": None}, {"path": 3},
                               _odd_value(rng)]) for _ in range(rng.randint(0, 3))}
            lines.append(_json_dumps(rng, row))
    if rng.random() < 0.05:
        lines.append('{"audio": "' + "x" * 3 * 10**6 + '"}')
    return _encodings(rng, "\n".join(lines))


def gram_parquet(rng, fam) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    c = rng.random()
    if c < 0.3:
        body = rng.randbytes(rng.choice([0, 8, 100]))
        footer = struct.pack("<I", rng.choice([0, 8, 0xFFFFFFFF, 0x7FFFFFFF, len(body)]))
        return b"PAR1" + body + footer + b"PAR1"
    n = rng.choice([0, 1, 3, 500])
    choice = rng.randrange(7)
    if choice == 0:
        table = pa.table({"path": pa.array([rng.choice(["p0.wav", "/dev/zero", "../p0.wav", "", "fifo"]) for _ in range(n)])})
    elif choice == 1:
        table = pa.table({"audio": pa.array([{"bytes": rng.randbytes(rng.choice([0, 10, 1000])), "path": "x.wav"}
                                             for _ in range(n)])})
    elif choice == 2:
        table = pa.table({"path": pa.array(list(range(n)), pa.int64())})
    elif choice == 3:
        table = pa.table({"audio": pa.array([{"bytes": None, "path": None} for _ in range(n)],
                                            pa.struct([("bytes", pa.binary()), ("path", pa.string())]))})
    elif choice == 4:
        table = pa.table({"audio": pa.array([[1, 2]] * n, pa.list_(pa.int32()))})
    elif choice == 5:
        table = pa.table({f"c{i}": pa.array([1] * n) for i in range(rng.choice([1, 300]))})
    else:
        table = pa.table({"audio": pa.array([{"bytes": {"inner": b"x"}} for _ in range(n)])})
    buf = io.BytesIO()
    pq.write_table(table, buf, compression=rng.choice(["none", "snappy", "zstd"]))
    return buf.getvalue()


_BOMB_CACHE: dict[str, bytes] = {}


def _zeros_deflated(n_bytes: int) -> tuple[bytes, int]:
    """A raw deflate stream of ``n_bytes`` zeros (made in 1 MiB steps) and its CRC-32."""
    key = f"deflate{n_bytes}"
    if key not in _BOMB_CACHE:
        comp = zlib.compressobj(9, zlib.DEFLATED, -15)
        chunk = b"\0" * 2**20
        parts, crc = [], 0
        for _ in range(n_bytes // 2**20):
            parts.append(comp.compress(chunk))
            crc = zlib.crc32(chunk, crc)
        parts.append(comp.flush())
        _BOMB_CACHE[key] = b"".join(parts)
        _BOMB_CACHE[key + "crc"] = crc.to_bytes(4, "little")
    return _BOMB_CACHE[key], int.from_bytes(_BOMB_CACHE[key + "crc"], "little")


def _zip_bomb(n_bytes: int, *, name: str = "bomb.wav", lie: bool = False) -> bytes:
    data, crc = _zeros_deflated(n_bytes)
    size = 1000 if lie else n_bytes
    local = struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 20, 0, 8, 0, 0, crc, len(data), size, len(name), 0) + name.encode()
    central = struct.pack("<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", 20, 20, 0, 8, 0, 0, crc, len(data), size, len(name),
                          0, 0, 0, 0, 0o644 << 16, 0) + name.encode()
    end = struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, 1, 1, len(central), len(local) + len(data), 0)
    return local + data + central + end


def gram_zip(rng, fam) -> bytes:
    c = rng.random()
    if c < 0.08:
        return _zip_bomb(rng.choice([64, 256]) * 2**20, lie=rng.random() < 0.5)
    if c < 0.12:  # nested: a zip of zips
        inner = _zip_bomb(16 * 2**20)
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            for i in range(rng.choice([2, 10])):
                z.writestr(f"inner{i}.zip", inner)
        return buf.getvalue()
    buf = io.BytesIO()
    names = ["../../evil.wav", "/abs/x.wav", "C:\\win.wav", "a/../../b.wav", "ok.wav", "ok.wav", "dir/", "\u00e9.mp3",
             "x" * 5000 + ".wav", "nul\x00.wav", ".wav", "a//b.flac", "./c.wav", "link.wav", "dev.wav"]
    with zipfile.ZipFile(buf, "w", rng.choice([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])) as z:
        count = rng.choice([0, 1, 4, 20, 3000])
        for _ in range(count):
            name = rng.choice(names)
            info = zipfile.ZipInfo(name.replace("\x00", "_") if "\x00" in name else name)
            kind = rng.random()
            if kind < 0.15:
                info.external_attr = (0o120777 << 16)  # a symlink
                payload = b"/etc/passwd"
            elif kind < 0.2:
                info.external_attr = (0o020644 << 16)  # a character device
                payload = b""
            else:
                payload = rng.choice(fam["wav"] + fam["mp3"] + [b"", rng.randbytes(100)]) if count <= 20 else b"RIFF"
            info.compress_type = rng.choice([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
            if rng.random() < 0.05:
                info.flag_bits |= 0x1  # claims to be encrypted
            import warnings
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                z.writestr(info, payload)
        if rng.random() < 0.1:
            z.comment = b"c" * 65535
    data = buf.getvalue()
    if rng.random() < 0.15:
        i = data.find(b"PK\x03\x04")
        if i >= 0:
            data = data[:i + 8] + rng.choice([b"\x0e\x00", b"\x63\x00", b"\x0c\x00", b"\x5d\x00"]) + data[i + 10:]
    return data


def gram_tar(rng, fam, *, compressed: bool) -> bytes:
    c = rng.random()
    if compressed and c < 0.1:  # a gzip bomb
        key = "gzbomb"
        if key not in _BOMB_CACHE:
            comp = zlib.compressobj(9, zlib.DEFLATED, 31)
            header = tarfile.TarInfo("bomb.wav")
            header.size = 512 * 2**20
            parts = [comp.compress(header.tobuf(tarfile.PAX_FORMAT))]
            chunk = b"\0" * 2**20
            for _ in range(512):
                parts.append(comp.compress(chunk))
            parts.append(comp.flush())
            _BOMB_CACHE[key] = b"".join(parts)
        return _BOMB_CACHE[key]
    buf = io.BytesIO()
    fmt = rng.choice([tarfile.PAX_FORMAT, tarfile.GNU_FORMAT, tarfile.USTAR_FORMAT])
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as t:
        count = rng.choice([0, 1, 4, 20, 2000])
        for i in range(count):
            key = rng.choice([f"s{i}", "s0", "../up", "/abs/s", "a/../../b", "x" * 300, "\u00e9", ".hidden", "noext",
                              "dots.in.name", "s0.", ""])
            ext = rng.choice(["wav", "mp3", "flac", "json", "txt", "cls", "WAV", "tar", ""])
            name = f"{key}.{ext}" if ext else key
            info = tarfile.TarInfo(name)
            kind = rng.random()
            if kind < 0.1:
                info.type, info.linkname = tarfile.SYMTYPE, rng.choice(["/etc/passwd", "../../x", "s0.wav"])
                data = b""
            elif kind < 0.15:
                info.type, info.linkname = tarfile.LNKTYPE, rng.choice(["s0.wav", "/etc/shadow", name])
                data = b""
            elif kind < 0.2:
                info.type = rng.choice([tarfile.FIFOTYPE, tarfile.CHRTYPE, tarfile.BLKTYPE, tarfile.DIRTYPE])
                data = b""
            else:
                data = rng.choice([b"", b"{", b'{"title": 1}', _deep_json(rng).encode()[:200_000], rng.randbytes(64)]
                                  if ext in ("json", "txt", "cls") else fam["wav"] + fam["mp3"] + [b"", rng.randbytes(50)] if count <= 20 else [b"RIFF"])
            info.size = len(data)
            if fmt == tarfile.PAX_FORMAT and rng.random() < 0.05:
                info.pax_headers = {"path": rng.choice(["../pax.wav", "/etc/x.wav", "\udcff.wav"]),
                                    "size": rng.choice(["-1", "99999999999999", "x"])}
            try:
                t.addfile(info, io.BytesIO(data) if data else None)
            except (ValueError, UnicodeError, tarfile.TarError):
                continue
    data = buf.getvalue()
    b = bytearray(data)
    if rng.random() < 0.2 and len(b) >= 512:  # a size field no reader should trust
        b[124:136] = rng.choice([b"77777777777\0", b"\x80" + b"\xff" * 11, b"-1\0\0\0\0\0\0\0\0\0\0", b"zzzzzzzzzzz\0"])
    if rng.random() < 0.1 and len(b) >= 512:  # a bad checksum
        b[148:156] = b"0000000\0"
    data = bytes(b)
    return gzip.compress(data, mtime=0) if compressed else data


def _evidence_members(blob: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(blob)) as z:
        return {n: z.read(n) for n in z.namelist()}


def gram_evidence(rng, fam) -> bytes:
    members = _evidence_members(rng.choice(fam["evidence"]))
    c = rng.random()
    names = list(members)
    if c < 0.5:  # one member replaced by a grammar document or mutated
        name = rng.choice(names)
        if name.endswith(".json") and rng.random() < 0.5:
            members[name] = gram_json_doc(rng) if rng.random() < 0.5 else _mutate_json(rng, members[name])
        else:
            members[name], _ = mutate(rng, members[name], list(members.values()))
    elif c < 0.6:
        members.pop(rng.choice(names))
    elif c < 0.7:
        members[rng.choice(["../../x.json", "/abs.json", "facts.json/../facts.json", "dir/"])] = b"{}"
    elif c < 0.75:
        return _zip_bomb(64 * 2**20, name="facts.json", lie=rng.random() < 0.5)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for n, d in members.items():
            z.writestr(n, d)
        if rng.random() < 0.1:
            import warnings
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                z.writestr(rng.choice(names), b"duplicate")
    return buf.getvalue()


def _mutate_json(rng, data: bytes) -> bytes:
    """Replace one value of a JSON document by an odd one (structure-aware)."""
    try:
        doc = json.loads(data)
    except ValueError:
        return data
    paths = []

    def walk(node, path):
        paths.append(path)
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, path + [k])
        elif isinstance(node, list):
            for i, v in enumerate(node[:20]):
                walk(v, path + [i])

    walk(doc, [])
    path = rng.choice(paths)
    if not path:
        return _json_dumps(rng, _odd_value(rng)).encode()
    node = doc
    for p in path[:-1]:
        node = node[p]
    node[path[-1]] = _odd_value(rng) if rng.random() < 0.8 else [[[]]]
    return _json_dumps(rng, doc).encode()


def gram_embedded(rng, fam, kind) -> bytes:
    from consentry.formats.embed.xmp import insert_xmp

    base = rng.choice(fam[f"emb_{kind}"])
    packet = gram_xml(rng)
    try:
        return insert_xmp(kind, base, packet)
    except Exception:  # noqa: BLE001 - the writer refused the packet: a raw splice instead
        i = rng.randint(0, len(base))
        return base[:i] + packet + base[i:]


def generate(rng: random.Random, family: str, fam: dict) -> tuple[bytes, str]:
    """One hostile input of a family: a mutated real file (60%) or a grammar input (40%)."""
    seeds = fam[family]
    if rng.random() < {"evidence": 0.3, "xmp": 0.4}.get(family, 0.6):
        return mutate(rng, rng.choice(seeds), [s for f in fam.values() for s in f[:2]])
    if family in ("wav", "flac", "mp3"):
        return gram_audio(rng, seeds), "grammar:audio"
    if family == "robots":
        return gram_robots(rng), "grammar:robots"
    if family == "tdmrep":
        return gram_tdmrep(rng), "grammar:tdmrep"
    if family == "headersjson":
        return gram_headers(rng), "grammar:headers"
    if family == "html":
        return gram_html(rng), "grammar:html"
    if family == "termsjson":
        return (gram_json_doc(rng) if rng.random() < 0.5 else _mutate_json(rng, rng.choice(seeds))), "grammar:json"
    if family in ("xml", "xmp"):
        return gram_xml(rng), "grammar:xml"
    if family == "csv":
        return gram_csv(rng), "grammar:csv"
    if family == "jsonl":
        return gram_jsonl(rng), "grammar:jsonl"
    if family == "parquet":
        return gram_parquet(rng, fam), "grammar:parquet"
    if family == "zip":
        return gram_zip(rng, fam), "grammar:zip"
    if family in ("tar", "tgz"):
        return gram_tar(rng, fam, compressed=family == "tgz"), "grammar:tar"
    if family == "evidence":
        return gram_evidence(rng, fam), "grammar:evidence"
    if family.startswith("emb_"):
        return gram_embedded(rng, fam, family[4:]), "grammar:embedded-xmp"
    raise ValueError(family)


# -- findings ------------------------------------------------------------------------------------------


class Findings:
    """Crashes, hangs and memory findings, deduplicated and saved with their inputs."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.out.mkdir(parents=True, exist_ok=True)
        self.distinct: dict[tuple, dict] = {}

    def record(self, reader: str, kind: str, result: dict, data: bytes, how: str) -> None:
        exc = result.get("exc_type") or kind
        key = (reader, exc, result.get("frame", "?"))
        if key in self.distinct:
            self.distinct[key]["count"] += 1
            if len(data) < len(self.distinct[key]["_data"]):  # keep the smallest input
                self._save(key, data, result, how)
            return
        self.distinct[key] = {"reader": reader, "kind": kind, "exc_type": exc, "frame": key[2], "count": 1}
        self._save(key, data, result, how)

    def _save(self, key: tuple, data: bytes, result: dict, how: str) -> None:
        entry = self.distinct[key]
        stem = "-".join(str(k) for k in key)
        stem = "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in stem)[:120]
        stem += "-" + hashlib.sha256(repr(key).encode()).hexdigest()[:8]
        (self.out / f"{stem}.bin").write_bytes(data)
        (self.out / f"{stem}.txt").write_text(
            f"reader: {key[0]}\nkind: {entry['kind']}\nexception: {key[1]}\nframe: {key[2]}\nmade by: {how}\n"
            f"input bytes: {len(data)}\nseconds: {result.get('seconds')}\nrss_kib: {result.get('rss_kib')}\n\n"
            f"{result.get('traceback', '')}\n")
        entry["_data"] = data
        entry["file"] = str((self.out / f"{stem}.bin").relative_to(ROOT)) if self.out.is_relative_to(ROOT) else str(self.out / f"{stem}.bin")
        entry["summary"] = (result.get("traceback") or "").strip().splitlines()[-1:] or [""]


def _example(row: dict, result: dict) -> None:
    """Keep a few distinct answers of each status, for the record."""
    text = result.get("outcome")
    if not text:
        return
    bucket = row.setdefault("examples", {}).setdefault(result["status"], [])
    if len(bucket) < 6 and text[:80] not in [t[:80] for t in bucket]:
        bucket.append(text[:240])


# -- the reader campaign --------------------------------------------------------------------------------


def fuzz_readers(args, seeds: dict, findings: Findings, table: dict) -> None:
    work = Path(tempfile.mkdtemp(prefix="consentry-fuzz-"))
    sup = Supervisor(work, hang_s=args.hang_s, max_rss_kib=args.max_rss_mb * 1024)
    fam = seeds["families"]
    try:
        # the folder dataset inputs sit in: the audio seeds (relative manifest paths resolve) and a fifo
        data_dir = work / "data"
        shutil.copytree(seeds["audio"], data_dir)
        os.mkfifo(data_dir / "fifo")
        readers = [r for r in READERS if not args.readers or r in args.readers.split(",")]
        for n_reader, reader in enumerate(readers):
            family, target = READERS[reader]
            rng = random.Random(f"{args.seed}:{reader}")
            site = None
            if reader.startswith("signals.") and reader != "signals.xmp":
                site = work / f"site-{n_reader}"
                shutil.copytree(seeds["site"], site)
                if target.startswith("*"):
                    matches = sorted(p for p in site.glob(target[1:]) if p.is_file())
                    path = matches[0] if matches else site / target[1:]
                else:
                    path = site / target
                original = path.read_bytes() if path.exists() else b""
            else:
                path = data_dir / target
            row = table.setdefault(reader, {"inputs": 0, "ok": 0, "rejected": 0, "unclean": 0, "crash": 0, "hang": 0,
                                            "memory": 0, "seconds": 0.0, "max_input_s": 0.0})
            t0 = time.monotonic()
            for i in range(args.per_reader):
                if time.monotonic() - t0 > args.seconds:
                    break
                data, how = generate(rng, family, fam)
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
                result = sup.run(reader, path, site)
                status = result["status"]
                row["inputs"] += 1
                row[status] += 1
                row["max_input_s"] = max(row["max_input_s"], result.get("seconds") or 0)
                _example(row, result)
                if status in ("crash", "hang", "memory"):
                    findings.record(reader, status, result, data, how)
                elif status == "unclean":
                    findings.record(reader, "unclean", {**result, "exc_type": "unclean message", "frame": "-",
                                                        "traceback": result.get("outcome", "")}, data, how)
                    print(f"  {reader}: {status} {result.get('exc_type', '')} at {result.get('frame', '?')} ({how})",
                          flush=True)
                if site is not None:
                    path.write_bytes(original)
            row["seconds"] = round(time.monotonic() - t0, 1)
            print(f"{reader}: {row}", flush=True)
    finally:
        sup.stop()
        shutil.rmtree(work, ignore_errors=True)


# -- the server: multipart uploads ----------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _multipart(fields: list[tuple[str, str | None, bytes]], boundary: str) -> bytes:
    out = []
    for name, filename, data in fields:
        disp = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename is not None else "")
        out.append(f"--{boundary}\r\nContent-Disposition: {disp}\r\n"
                   + ("Content-Type: application/octet-stream\r\n" if filename is not None else "") + "\r\n")
        out.append(data)
        out.append("\r\n")
    out.append(f"--{boundary}--\r\n")
    return b"".join(p.encode("utf-8", "surrogateescape") if isinstance(p, str) else p for p in out)


def _server_body(rng, fam, endpoint: str) -> tuple[bytes, str, str]:
    """A multipart body for an endpoint: (body, content type, how)."""
    field = {"/api/v1/identify": "file", "/api/v1/works": "files", "/api/v1/scans": "dataset"}[endpoint]
    family = {"/api/v1/identify": rng.choice(["wav", "mp3", "flac"]), "/api/v1/works": rng.choice(["wav", "mp3", "flac"]),
              "/api/v1/scans": rng.choice(["zip", "tar", "csv", "jsonl"])}[endpoint]
    data, how = generate(rng, family, fam)
    ext = {"wav": "wav", "mp3": "mp3", "flac": "flac", "zip": "zip", "tar": "tar", "csv": "csv", "jsonl": "jsonl"}[family]
    filename = rng.choice([f"input.{ext}"] * 6 + ["../../etc/x." + ext, "/abs." + ext, "", "a\x00b." + ext,
                                                  "\u00e9" * 300 + "." + ext, "x" * 5000, "con." + ext, ".." ])
    fields = [(field, filename, data)]
    if endpoint == "/api/v1/works":
        fields.append(("creator", None, b"Fuzz Creator"))
        fields.append(("terms", None, rng.choice([b"deny"] * 6 + [b"allow", b"license", b"", b"\xff\xfe", b"x" * 10000])))
        if rng.random() < 0.3:
            fields.append(("price", None, rng.choice([b"NaN", b"-1", b"1e309", b"12", b"abc"])))
    if rng.random() < 0.1:
        fields += [(field, "more." + ext, data)] * rng.choice([2, 50])
    boundary = "----fuzz" + "%016x" % rng.getrandbits(64)
    body = _multipart(fields, boundary)
    ctype = f"multipart/form-data; boundary={boundary}"
    c = rng.random()
    if c < 0.25:  # the multipart framing itself is hostile
        how += "+multipart"
        k = rng.randrange(9)
        if k == 0:
            body = body[: rng.randint(0, len(body))]
        elif k == 1:
            body = body.replace(b"\r\n", b"\n")
        elif k == 2:
            ctype = rng.choice(["multipart/form-data", "multipart/form-data; boundary=", "multipart/form-data; boundary=\"\"",
                                "multipart/form-data; boundary=" + "b" * 5000, "text/plain", "multipart/mixed; boundary=x",
                                "multipart/form-data; boundary=" + boundary + "; charset=utf-16"])
        elif k == 3:
            body = body.replace(b"Content-Disposition: form-data", b"Content-Disposition: " + b"x" * 100_000, 1)
        elif k == 4:
            body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\ny\r\n".encode()) * 20000 + body
        elif k == 5:
            body = body.replace(b'filename="', b"filename*=UTF-8''%C0%AE%C0%AE%2F; filename=\"", 1)
        elif k == 6:
            body, _ = mutate(rng, body, [body])
        elif k == 7:
            body = body.replace(b"\r\n\r\n", b"\r\n" + b"X-Header: v\r\n" * 5000 + b"\r\n", 1)
        else:
            body = b"\r\n" * 10000 + body
    return body, ctype, how


def _proc_rss_kib(pid: int) -> int:
    total = 0
    pids = [pid]
    try:
        pids += [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        pass
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total = max(total, int(line.split()[1]))
        except OSError:
            pass
    return total


def fuzz_server(args, seeds: dict, findings: Findings, table: dict) -> None:
    import httpx

    work = Path(tempfile.mkdtemp(prefix="consentry-fuzz-server-"))
    reg = work / "server.db"
    shutil.copy(seeds["registry"], reg)
    if Path(str(seeds["registry"]) + ".index").exists():
        shutil.copytree(str(seeds["registry"]) + ".index", str(reg) + ".index")
    pw = work / "pw"
    pw.write_text("fuzz password 1234567\n")
    _cli("accounts", "create", "--email", "admin@example.org", "--role", "admin", "--password-file", str(pw),
         registry=reg)
    scopes = [x for scope in ("works:read", "works:write", "identify", "scan") for x in ("--scope", scope)]
    made = _cli("tokens", "create", "--account", "admin@example.org", "--name", "fuzz", *scopes, "--json", registry=reg)
    token = json.loads(made.stdout)["secret"]
    port = _free_port()
    log = open(work / "server.log", "w")
    server = subprocess.Popen([*CLI, "--registry", str(reg), "serve", "--port", str(port), "--data-dir", str(work / "data"),
                               "--rate", "10000", "--job-threads", "1", "--scan-workers", "1", "--log-level", "warning"],
                              stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    url = f"http://127.0.0.1:{port}"
    rng = random.Random(f"{args.seed}:server")
    fam = seeds["families"]
    jobs: list[tuple[str, str, bytes, str]] = []
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(url + "/api/v1/jobs", headers={"Authorization": f"Bearer {token}"}, timeout=2).status_code < 500:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit(f"the server did not start: {(work / 'server.log').read_text()[-2000:]}")
            time.sleep(0.3)
        client = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=args.hang_s)
        t0 = time.monotonic()
        for i in range(args.server_inputs):
            if time.monotonic() - t0 > args.seconds * 2:
                break
            endpoint = rng.choice(["/api/v1/identify"] * 3 + ["/api/v1/works", "/api/v1/scans"])
            reader = "server" + endpoint.replace("/api/v1", "")
            row = table.setdefault(reader, {"inputs": 0, "ok": 0, "rejected": 0, "unclean": 0, "crash": 0, "hang": 0,
                                            "memory": 0, "seconds": 0.0, "max_input_s": 0.0})
            body, ctype, how = _server_body(rng, fam, endpoint)
            log_mark = (work / "server.log").stat().st_size
            t1 = time.monotonic()
            try:
                try:
                    r = client.post(endpoint, content=body, headers={"Content-Type": ctype})
                except (httpx.ReadError, httpx.RemoteProtocolError, httpx.WriteError):
                    # a keep-alive connection the server closed after an early answer to the previous
                    # request: once more on a fresh connection, so that only a server fault counts
                    client.close()
                    client = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"},
                                          timeout=args.hang_s)
                    r = client.post(endpoint, content=body, headers={"Content-Type": ctype})
                status = "ok" if r.status_code < 400 else "rejected" if r.status_code < 500 else "crash"
                result = {"status": status, "exc_type": f"HTTP {r.status_code}", "frame": endpoint,
                          "traceback": r.text[:2000]}
                if status == "rejected":
                    try:
                        detail = json.dumps(r.json())
                    except ValueError:
                        detail = r.text
                    if "Traceback" in detail or any(ord(c) < 32 and c != "\t" for c in detail):
                        result["status"] = "unclean"
                    result["outcome"] = f"HTTP {r.status_code} {detail[:200]}"
                if r.status_code == 202:
                    jobs.append((reader, r.json().get("job_id") or r.json().get("id"), body, how))
            except httpx.TimeoutException:
                result = {"status": "hang", "frame": endpoint, "traceback": "no answer within the hang limit"}
            except httpx.HTTPError as exc:
                alive = server.poll() is None
                result = {"status": "crash", "exc_type": type(exc).__name__ + ("" if alive else " (server died)"),
                          "frame": endpoint, "traceback": str(exc)}
            result["seconds"] = round(time.monotonic() - t1, 3)
            text = (work / "server.log").read_text(errors="replace")[log_mark:]
            if "Traceback" in text and result["status"] != "crash":
                result = {**result, "status": "crash", "exc_type": "logged traceback",
                          "frame": text.strip().splitlines()[-1][:120], "traceback": text[-6000:]}
            if _proc_rss_kib(server.pid) > args.max_rss_mb * 1024:
                result = {**result, "status": "memory", "rss_kib": _proc_rss_kib(server.pid)}
            row["inputs"] += 1
            row[result["status"]] += 1
            row["max_input_s"] = max(row["max_input_s"], result["seconds"])
            _example(row, result)
            if result["status"] in ("crash", "hang", "memory"):
                time.sleep(0.5)  # let the server finish logging
                log_text = (work / "server.log").read_text(errors="replace")[log_mark:]
                result["traceback"] = (f"POST {endpoint}\nContent-Type: {ctype[:300]}\n\n{result.get('traceback', '')}"
                                       f"\n\nserver log:\n{log_text[-6000:]}")
                findings.record(reader, result["status"], result, body, how)
                print(f"  {reader}: {result['status']} {result.get('exc_type', '')} ({how})", flush=True)
                if server.poll() is not None or result["status"] == "memory":
                    break
        # the background jobs: a job that failed with "internal error" is a crash
        deadline = time.monotonic() + 180
        for reader, job_id, body, how in jobs:
            while True:
                job = client.get(f"/api/v1/jobs/{job_id}").json()
                if job.get("status") in ("succeeded", "failed") or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            row = table[reader]
            row.setdefault("jobs", 0)
            row["jobs"] += 1
            if job.get("status") not in ("succeeded", "failed"):
                row["hang"] += 1
                findings.record(reader, "hang", {"frame": "job", "traceback": json.dumps(job)[:3000]}, body, how)
            elif "internal error" in str(job.get("error")) or "Traceback" in json.dumps(job):
                row["crash"] += 1
                findings.record(reader, "crash", {"exc_type": "job internal error", "frame": str(job.get("error"))[:100],
                                                  "traceback": json.dumps(job)[:3000]}, body, how)
        table.setdefault("server", {})["alive_at_end"] = server.poll() is None
        table["server"]["peak_rss_mb"] = round(_proc_rss_kib(server.pid) / 1024)
        client.close()
    finally:
        server.terminate()
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
        shutil.rmtree(work, ignore_errors=True)


# -- batches through the real registry -------------------------------------------------------------------


def fuzz_registry(args, seeds: dict, findings: Findings, table: dict) -> None:
    work = Path(tempfile.mkdtemp(prefix="consentry-fuzz-registry-"))
    reg = work / "fuzz.db"
    shutil.copy(seeds["registry"], reg)
    if Path(str(seeds["registry"]) + ".index").exists():
        shutil.copytree(str(seeds["registry"]) + ".index", str(reg) + ".index")
    rng = random.Random(f"{args.seed}:registry")
    fam = seeds["families"]
    batches = []
    try:
        for b in range(args.registry_batches):
            for command in ("register", "scan"):
                batch = work / f"{command}{b}"
                batch.mkdir()
                inputs = []
                if command == "register":
                    for i in range(args.batch_size):
                        family = rng.choice(["wav", "flac", "mp3"])
                        data, how = generate(rng, family, fam)
                        (batch / f"in{i}.{family}").write_bytes(data)
                        inputs.append((batch / f"in{i}.{family}", data, how))
                    cmd = ["register", *[str(p) for p, _, _ in inputs], "--creator", "Fuzz Batch", "--terms", "allow",
                           "--workers", "1", "--json"]
                else:
                    family = rng.choice(["zip", "tar", "csv", "jsonl", "parquet"])
                    ext = {"zip": "zip", "tar": "tar", "csv": "csv", "jsonl": "jsonl", "parquet": "parquet"}[family]
                    for name in os.listdir(seeds["audio"]):
                        shutil.copy(seeds["audio"] / name, batch / name)
                    data, how = generate(rng, family, fam)
                    (batch / f"dataset.{ext}").write_bytes(data)
                    inputs.append((batch / f"dataset.{ext}", data, how))
                    cmd = ["scan", str(batch / f"dataset.{ext}"), "--workers", "1", "--json", str(batch / "scan.json")]
                t0 = time.monotonic()
                try:
                    r = _cli(*cmd, registry=reg, check=False, timeout=max(120, args.hang_s * (len(inputs) + 2)))
                    code, err = r.returncode, r.stderr
                except subprocess.TimeoutExpired:
                    code, err = None, "timeout"
                con = sqlite3.connect(f"file:{reg}?mode=ro", uri=True)
                try:
                    integrity = con.execute("PRAGMA integrity_check").fetchone()[0]
                finally:
                    con.close()
                entry = {"batch": f"{command}{b}", "inputs": len(inputs), "exit": code, "integrity": integrity,
                         "seconds": round(time.monotonic() - t0, 1)}
                if command == "register" and code is not None:
                    try:
                        summary = json.loads(r.stdout)
                        entry.update({k: len(summary.get(k) or []) for k in ("registered", "duplicates", "errors")})
                    except ValueError:
                        pass
                elif code == 1:
                    entry["error"] = (err.strip().splitlines() or [""])[-1][:200]
                elif code is not None:
                    try:
                        totals = json.loads((batch / "scan.json").read_text())["scan"]["totals"]
                        entry["items"] = {k: v for k, v in totals.items() if isinstance(v, int)}
                    except (OSError, ValueError, KeyError, TypeError):
                        pass
                batches.append(entry)
                crashed = code is None or code not in (0, 1, 2) or "Traceback" in err
                if crashed or integrity != "ok":
                    kind = "hang" if code is None else "crash"
                    data = inputs[0][1] if len(inputs) == 1 else b"".join(d for _, d, _ in inputs[:1])
                    findings.record(f"registry.{command}", kind,
                                    {"exc_type": f"exit {code}", "frame": (err.strip().splitlines() or ["?"])[-1][:120],
                                     "traceback": err[-6000:]}, data, inputs[0][2])
                    entry["problem"] = (err.strip().splitlines() or ["?"])[-1][:200]
                print(f"registry batch {entry}", flush=True)
                shutil.rmtree(batch, ignore_errors=True)
    finally:
        table["registry_batches"] = batches
        shutil.rmtree(work, ignore_errors=True)


# -- main -------------------------------------------------------------------------------------------------


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seed", type=int, default=1, help="seed of every random draw (reported)")
    p.add_argument("--per-reader", type=int, default=1000, help="inputs per reader (at most)")
    p.add_argument("--seconds", type=float, default=150.0, help="time per reader (at most), seconds")
    p.add_argument("--readers", default="", help="comma-separated readers to run (default: all; 'none': none)")
    p.add_argument("--server-inputs", type=int, default=600, help="multipart uploads to the server (0: skip)")
    p.add_argument("--registry-batches", type=int, default=5, help="register+scan batches into a temp registry")
    p.add_argument("--batch-size", type=int, default=10, help="files per register batch")
    p.add_argument("--hang-s", type=float, default=10.0, help="an input taking longer is a hang (seconds)")
    p.add_argument("--max-rss-mb", type=int, default=1024, help="peak RSS over this is a memory finding (MiB)")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where crashing inputs and results go")
    a = p.parse_args()

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from machine import run_info

    info = run_info()
    info["seed"] = a.seed
    print(json.dumps(info), flush=True)
    a.out.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    seeds = build_seeds(a.out / "seeds")
    print(f"seeds ready in {time.monotonic() - t0:.0f} s", flush=True)
    findings = Findings(a.out / "findings")
    table: dict = {}
    fuzz_readers(a, seeds, findings, table)
    if a.server_inputs:
        fuzz_server(a, seeds, findings, table)
    if a.registry_batches:
        fuzz_registry(a, seeds, findings, table)
    info["seconds"] = round(time.monotonic() - t0)
    info["readers"] = table
    info["findings"] = [{k: v for k, v in f.items() if not k.startswith("_")} for f in findings.distinct.values()]
    readers = {k: v for k, v in table.items() if isinstance(v, dict) and "inputs" in v}
    info["totals"] = {k: sum(v[k] for v in readers.values())
                      for k in ("inputs", "ok", "rejected", "unclean", "crash", "hang", "memory")}
    (a.out / f"results-seed{a.seed}.json").write_text(json.dumps(info, indent=1))
    print("\n| reader | inputs | ok | rejected (one-line error) | unclean message | crashes | hangs > {:.0f} s "
          "| RSS > {} MiB |".format(a.hang_s, a.max_rss_mb))
    print("|---|---|---|---|---|---|---|---|")
    for name, row in readers.items():
        print(f"| {name} | {row['inputs']} | {row['ok']} | {row['rejected']} | {row['unclean']} | {row['crash']} "
              f"| {row['hang']} | {row['memory']} |")
    t = info["totals"]
    print(f"| **total** | {t['inputs']} | {t['ok']} | {t['rejected']} | {t['unclean']} | {t['crash']} | {t['hang']} "
          f"| {t['memory']} |")
    for f in info["findings"]:
        print(f"- {f['reader']} {f['kind']} {f['exc_type']} at {f['frame']} x{f['count']}: {f.get('file')}")
    for b in table.get("registry_batches", []):
        print(f"- registry {b['batch']}: exit {b['exit']}, integrity {b['integrity']}")
    print(f"results: {a.out / f'results-seed{a.seed}.json'} ({info['seconds']} s)")


if __name__ == "__main__":
    main()
