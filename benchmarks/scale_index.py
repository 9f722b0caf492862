"""Query latency, index size and false matches as the index grows to 100, 1,000 and 10,000 hours.

    python benchmarks/scale_index.py --registry benchmarks/work/bench.db \\
        --hours 100 1000 10000 --queries 100 --out benchmarks/work/scale.json

Registering 10,000 hours of real music is out of reach here, so the extra
hours are synthetic postings beside the real index of ``--registry`` (any
registry made by ``consentry register``).  How they are drawn:

- The registry's works are split in two halves by a hash of their work id.
  Queries are cut from half A only; the synthetic postings take their **whole
  keys** from the postings of half B: each distinct key of half B appears in
  the synthetic segment ``Poisson(n * c / N)`` times, where ``c`` is its count
  in half B, ``N`` the number of half B's postings and ``n`` the number of
  postings of the synthetic hours (the real number of postings per hour of the
  registry).  So the synthetic index has the real joint distribution of the
  key's components and the real frequency of each key, and a query meets the
  chance postings that music of half B would give it: for any one key of a
  query, the expected number of its synthetic copies is the same as with the
  key's true frequency (half B never holds the query's own work, so the query's
  keys are not counted in their own frequency).  What is not kept: keys that
  half B never holds are never drawn (fewer chance hits than real music
  would give), and keys that half B holds are drawn more often than their
  true frequency (more); in expectation over the choice of half B the two
  balance.  The order of keys within a work is not kept either: each
  synthetic posting has a random synthetic work (a block of 4 minutes) and a
  random anchor frame and pitch.
- A match to a synthetic work is a **false match** and is counted, as is a
  best match that names another real work than the one the query was cut
  from (``wrong_top``).

What is timed (``p50_ms``, ``p95_ms``; ``cpu_ms_mean`` is the CPU time of the
same calls, this process's user + system time, with ``cpu_p50_ms`` and
``cpu_p95_ms``: on a shared machine, and under ``nice``, the wall time
mostly measures the other jobs, the CPU time what a query costs;
``load_average`` is the 1-minute load when the size's run ended): for each
query, the wall time of
``Registry.identify(path)`` in this process, one query at a time, after one
warm-up query that is not counted: reading the query's WAV file (10 s, mono,
written beforehand at the engine's own rate, 8 kHz, so the timed decode
resamples nothing: a query as a 44.1-kHz stereo or compressed file costs its
decoding and resampling on top; ``--query-format mp3`` writes the queries so,
as 44.1-kHz stereo MP3s at 128 kbit/s, and then the timed call includes that decoding
and resampling), hashing, the index lookup in every segment
(the real ones and the synthetic one, memory-mapped; the first run of a size
reads cold pages too) and verification.  Not timed: cutting the excerpts
from the registered files and writing the WAV files (before the runs).  The false matches are
counted by a second, untimed search of the same samples through the engine
(``engines.get("music")...locate``), which also reports matches to works the
registry does not know (the synthetic ones), which ``identify`` drops.

For each size the registry (database and index folder) is copied into
``--workdir``, the synthetic segment is written there and adopted, and the
copy is deleted after the run.  ``--engine-version`` picks the engine whose
segments are read (default: the registry's current one; a v1 registry can be
measured with ``--engine-version 1``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import time
import wave
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import run_info  # noqa: E402

WORK_S = 240.0
SYNTHETIC_FP_BASE = 1_000_000
#: About how many synthetic postings are made and written at a time (bounds memory).
POSTINGS_CHUNK = 20_000_000


def half_of(work_id: str) -> str:
    """'A' (queries) or 'B' (source of the synthetic keys), from a hash of the work id."""
    return "A" if hashlib.sha256(work_id.encode()).digest()[0] % 2 == 0 else "B"


def write_synthetic_segment(store, engine, hours: float, postings_per_s: float, keys_b: np.ndarray,
                            counts_b: np.ndarray, *, seed: int) -> tuple[str, int]:
    """Write a sorted synthetic segment into the registry's index folder; returns (stem, entries)."""
    rng = np.random.default_rng(seed)
    n_total = hours * 3600 * postings_per_s
    n_works = int(np.ceil(hours * 3600 / WORK_S))
    frames_per_work = int(WORK_S * engine.params.frames_per_s)
    copies = rng.poisson(n_total * counts_b / counts_b.sum())
    n = int(copies.sum())
    stem = store.new_segment_stem()
    kpath = store.index_dir / f"{stem}.keys.npy"
    vpath = store.index_dir / f"{stem}.values.npy"
    keys_out = np.lib.format.open_memmap(kpath, mode="w+", dtype=np.uint32, shape=(n,))
    vals_out = np.lib.format.open_memmap(vpath, mode="w+", dtype=np.uint64, shape=(n,))
    pos = 0
    # Chunks of about POSTINGS_CHUNK postings (whole keys), so memory stays bounded at any size.
    cum = np.cumsum(copies)
    cuts = np.unique(np.searchsorted(cum, np.arange(POSTINGS_CHUNK, n, POSTINGS_CHUNK), side="right"))
    for start, stop in zip(np.r_[0, cuts], np.r_[cuts, keys_b.size]):
        c = copies[start:stop]
        m = int(c.sum())
        if m == 0:
            continue
        keys_out[pos:pos + m] = np.repeat(keys_b[start:stop], c)
        fp = rng.integers(SYNTHETIC_FP_BASE, SYNTHETIC_FP_BASE + n_works, m)
        frames = rng.integers(0, frames_per_work, m)
        midi = rng.uniform(40.0, 100.0, m).astype(np.float32)
        vals_out[pos:pos + m] = pack_many(fp, frames, midi)
        pos += m
    keys_out.flush()
    vals_out.flush()
    del keys_out, vals_out
    return stem, n


def write_wav(path: Path, samples: np.ndarray, rate_hz: int) -> None:
    pcm = np.clip(np.round(samples * 32767.0), -32768, 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate_hz)
        w.writeframes(pcm.tobytes())


def write_mp3(path: Path, samples: np.ndarray, rate_hz: int, bitrate: int = 128_000) -> None:
    """Write mono float samples as a stereo MP3 (both channels the same), as PyAV's bundled LAME encodes it."""
    import av

    stereo = np.ascontiguousarray(np.stack([samples, samples]).astype(np.float32))
    with av.open(str(path), "w", format="mp3") as out:
        stream = out.add_stream("libmp3lame", rate=rate_hz, layout="stereo")
        stream.bit_rate = bitrate
        frame = av.AudioFrame.from_ndarray(stereo, format="fltp", layout="stereo")
        frame.sample_rate = rate_hz
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)


def pack_many(fp_ids: np.ndarray, frames: np.ndarray, midis: np.ndarray) -> np.ndarray:
    """Postings of many works at once, laid out as :func:`consentry.engines.music.postings.pack_postings` does."""
    from consentry.engines.music.postings import FP_ID_BITS, FRAME_BITS, MIDI_BITS, MIDI_SCALE, pack_postings

    one = pack_postings(1, frames, midis) & np.uint64((1 << (FRAME_BITS + MIDI_BITS)) - 1)
    assert int(fp_ids.max()) < (1 << FP_ID_BITS)
    return one | (fp_ids.astype(np.uint64) << np.uint64(FRAME_BITS + MIDI_BITS))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--registry", required=True, help="a registry made by consentry register (or run_registration.py)")
    ap.add_argument("--hours", type=float, nargs="+", default=[100, 1000, 10000], help="synthetic hours to add")
    ap.add_argument("--queries", type=int, default=100, help="10-s excerpts of half A's works")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--engine-version", default=None, help="engine version whose segments are read (default: current)")
    ap.add_argument("--workdir", default="benchmarks/work/scale")
    ap.add_argument("--out", default=None, help="JSON file for the results")
    ap.add_argument("--query-format", choices=("wav8k", "mp3"), default="wav8k",
                    help="wav8k: 10-s mono WAV at the engine's rate (the timed call decodes almost nothing); mp3: "
                         "44.1-kHz stereo MP3 at 128 kbit/s, as a user's query comes (the timed call decodes and "
                         "resamples it: 'decode included')")
    args = ap.parse_args()

    from consentry import engines
    from consentry.engines.music.params import DEFAULT_PARAMS, ENGINE_NAME, params_for
    from consentry.io.decode import decode_audio
    from consentry.services.registry import Registry

    params = DEFAULT_PARAMS if args.engine_version is None else params_for(args.engine_version)
    engine = engines.get("music", params=params)
    src = Path(args.registry)
    if not src.is_file():
        sys.exit(f"scale_index: no registry at {src}")
    with Registry.open(src, create=False, params=params) as reg:
        segs = reg.store.index_segments(engine=ENGINE_NAME, engine_version=params.version, param_hash=params.param_hash())
        works = [w for w in reg.works() if (w.engine_version, w.param_hash) == (params.version, params.param_hash())]
        if not segs or not works:
            sys.exit(f"scale_index: {src} holds no works indexed with engine version {params.version}"
                     f" ({params.param_hash()}); run `consentry reindex` or pass --engine-version")
        keys = np.concatenate([np.asarray(s.keys) for s in segs])
        fp = np.concatenate([engine.fp_ids(np.asarray(s.values)) for s in segs])
    hours_real = sum(w.duration_s for w in works) / 3600
    postings_per_s = keys.size / (hours_real * 3600)
    half_a = [w for w in works if half_of(w.work_id) == "A"]
    b_ids = np.array(sorted(w.fp_id for w in works if half_of(w.work_id) == "B"), dtype=np.int64)
    keys_b, counts_b = np.unique(keys[np.isin(fp, b_ids)], return_counts=True)
    print(f"real registry: {len(works)} works, {hours_real:.2f} h, {postings_per_s:.1f} postings/s; queries from "
          f"{len(half_a)} works of half A; synthetic keys from the {counts_b.sum():,} postings of half B "
          f"({keys_b.size:,} distinct keys)", flush=True)

    rng = np.random.default_rng(args.seed)
    workdir = Path(args.workdir)
    if workdir.exists():
        shutil.rmtree(workdir)
    qdir = workdir / "queries"
    qdir.mkdir(parents=True)
    excerpts = []
    for i in range(args.queries):
        w = half_a[int(rng.integers(len(half_a)))]
        start = float(rng.uniform(0, max(0.0, w.duration_s - 10.5)))
        if args.query_format == "mp3":
            audio = decode_audio(w.source, sample_rate_hz=44_100, start_s=start, max_duration_s=10.0)
            path = qdir / f"q{i:04d}.mp3"
            write_mp3(path, audio.samples, 44_100)
        else:
            audio = decode_audio(w.source, sample_rate_hz=params.sample_rate_hz, start_s=start, max_duration_s=10.0)
            path = qdir / f"q{i:04d}.wav"
            write_wav(path, audio.samples, params.sample_rate_hz)
        excerpts.append((w, start, path))

    results = []
    for hours in args.hours:
        dst = workdir / "scale.db"
        shutil.copy(src, dst)
        shutil.copytree(str(src) + ".index", str(dst) + ".index")
        t0 = time.perf_counter()
        with Registry.open(dst, params=params) as reg:
            stem, n = write_synthetic_segment(reg.store, engine, hours, postings_per_s, keys_b, counts_b,
                                              seed=args.seed + int(hours))
            reg.store.adopt_segment(stem, engine=ENGINE_NAME, engine_version=params.version,
                                    param_hash=params.param_hash())
            build_s = time.perf_counter() - t0
            index_bytes = sum(f.stat().st_size for f in reg.store.index_dir.iterdir() if f.name.startswith(stem))
            segments = reg.store.index_segments(engine=ENGINE_NAME, engine_version=params.version,
                                                param_hash=params.param_hash())
            reg.identify(str(excerpts[0][2]))  # warm-up, not counted
            lat, cpu, top1, false_matches, wrong_top = [], [], 0, 0, 0
            for w, start, path in excerpts:
                t, c = time.perf_counter(), time.process_time()
                matches = reg.identify(str(path))
                lat.append(time.perf_counter() - t)
                cpu.append(time.process_time() - c)
                top1 += bool(matches and matches[0].work_id == w.work_id)
                wrong_top += bool(matches and matches[0].work_id != w.work_id)
                located = engine.locate(engine.decode(str(path)), segments)
                false_matches += sum(1 for m in located if m.fp_id >= SYNTHETIC_FP_BASE)
        row = {
            "query_format": args.query_format,
            "synthetic_hours": hours,
            "total_hours": round(hours + hours_real, 2),
            "entries": n,
            "segment_bytes": index_bytes,
            "bytes_per_hour": round(index_bytes / hours),
            "build_s": round(build_s, 1),
            "queries": len(lat),
            "p50_ms": round(1000 * float(np.percentile(lat, 50)), 1),
            "p95_ms": round(1000 * float(np.percentile(lat, 95)), 1),
            "cpu_ms_mean": round(1000 * float(np.mean(cpu)), 1),
            "cpu_p50_ms": round(1000 * float(np.percentile(cpu, 50)), 1),
            "cpu_p95_ms": round(1000 * float(np.percentile(cpu, 95)), 1),
            "load_average": round(os.getloadavg()[0], 2),
            "top1": round(top1 / len(lat), 4),
            "false_matches": false_matches,
            "wrong_top": wrong_top,
        }
        results.append(row)
        print(json.dumps(row), flush=True)
        shutil.rmtree(str(dst) + ".index")
        dst.unlink()
        for side in workdir.glob("scale.db-*"):
            side.unlink()
    shutil.rmtree(workdir)
    print(f"\nengine {ENGINE_NAME}/{params.version}/{params.param_hash()}\n"
          "| index hours | entries | MB per hour | p50 ms | p95 ms | CPU p50 ms | CPU p95 ms | top-1 | false matches |"
          " load |\n|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['total_hours']:,.0f} | {r['entries']:,} | {r['bytes_per_hour'] / 1e6:.2f} | {r['p50_ms']} | "
              f"{r['p95_ms']} | {r['cpu_p50_ms']} | {r['cpu_p95_ms']} | {r['top1']:.3f} | {r['false_matches']} | "
              f"{r['load_average']} |")
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps({
            **run_info(), "engine": f"{ENGINE_NAME}/{params.version}/{params.param_hash()}",
            "postings_per_s": postings_per_s, "real_hours": hours_real, "half_b_postings": int(counts_b.sum()),
            "results": results}, indent=1) + "\n")


if __name__ == "__main__":
    main()
