"""Registration speed as a ratio to plain decoding, measured in the same run.

1. Plain decode: every frame of the first audio stream of every registered
   file decoded with PyAV to arrays at the native rate (no resampling, no
   mixing), in as many processes as registration uses;
2. Registration of the same files into a fresh registry with ``--workers``.

Reports both times, their ratio, x realtime per core, and the registry's size
per hour of audio.

    python benchmarks/run_registration.py --corpus benchmarks/corpus \\
        --registry benchmarks/work/bench.db --workers 2
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import av

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from consentry import Registry  # noqa: E402

REGISTERED = ("wesnoth-1.16-music", "singularity-music")


def plain_decode(path: str) -> float:
    """Decode every audio frame to an array; returns seconds of audio."""
    samples = 0
    rate = 1
    with av.open(path) as c:
        stream = c.streams.audio[0]
        rate = stream.rate
        for frame in c.decode(stream):
            samples += frame.to_ndarray().shape[-1] if frame.format.is_planar else frame.samples
    return samples / rate


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", default="benchmarks/corpus")
    ap.add_argument("--registry", default="benchmarks/work/bench.db")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    corpus = Path(args.corpus)
    files = sorted(str(f) for p in REGISTERED for f in (corpus / p).rglob("*.ogg"))
    reg_path = Path(args.registry)
    reg_path.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm", ".lock"):
        Path(str(reg_path) + suffix).unlink(missing_ok=True)
    index_dir = Path(str(reg_path) + ".index")
    if index_dir.exists():
        for f in index_dir.iterdir():
            f.unlink()
        index_dir.rmdir()

    # Warm the page cache so neither side pays for first reads.
    for f in files:
        Path(f).read_bytes()
    t0 = time.perf_counter()
    with ProcessPoolExecutor(args.workers) as pool:
        audio_s = sum(pool.map(plain_decode, files))
    decode_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    with Registry.open(reg_path) as reg:
        summary = reg.register(files, workers=args.workers)
        register_s = time.perf_counter() - t0
        stats = reg.stats()
    total_bytes = sum(f.stat().st_size for f in reg_path.parent.glob(reg_path.name + "*") if f.is_file())
    total_bytes += sum(f.stat().st_size for f in index_dir.iterdir())
    hours = audio_s / 3600
    result = {
        "files": len(files),
        "registered": len(summary.registered),
        "errors": summary.errors,
        "hours": round(hours, 3),
        "workers": args.workers,
        "plain_decode_s": round(decode_s, 2),
        "register_s": round(register_s, 2),
        "ratio_register_to_decode": round(register_s / decode_s, 3),
        "x_realtime_per_core": round(audio_s / register_s / args.workers, 1),
        "index_entries": stats["index_entries"],
        "hashes_per_s_of_audio": round(stats["index_entries"] / audio_s, 1),
        "registry_bytes": total_bytes,
        "mb_per_hour": round(total_bytes / 1e6 / hours, 3),
    }
    print(json.dumps(result, indent=1))
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
