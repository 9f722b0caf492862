"""Registration speed as a ratio to plain decoding, both measured in this run.

    python benchmarks/run_registration.py --registry benchmarks/work/bench.db \\
        --corpus benchmarks/corpus --workers 2 --out benchmarks/work/registration.json

The files are every registered music file of the corpus (benchmarks/corpus_lists.py).
``--engine-version 1`` registers with the music engine's version 1 (default: the current one).  After their bytes
are read once (so that no step pays for the first read from disk):

1. plain decode, one process: every frame of each file's first audio stream
   decoded with PyAV and turned into an array (``frame.to_ndarray()``) at the
   file's own rate: no resampling, no mixing down;
2. plain decode again, in ``--workers`` processes;
3. ``Registry.register(files, workers=--workers, melody=False)`` into a fresh
   registry (fingerprinting only): every file whose name starts with the
   registry file's name (the database, its -wal/-shm/.lock files, its index
   folder) is deleted first;
4. with ``--melody both`` (the default) or ``on``: the same with
   ``melody=True``, what ``consentry register`` does by default (each work's
   melody transcribed and stored as well), into a second fresh registry
   (``REGISTRY`` with ``-melody`` before its suffix);
5. plain decode in ``--workers`` processes once more, so that a machine that
   got busier or quieter during the run shows up as two different decode times.

The ratio is registration time / plain decode time with the same number of
processes, against the *faster* of the two decode runs (the conservative
choice), with melodies off and on.  Each step's **CPU time** is measured
too: user + system time of this process and of its worker processes (which
are joined at the end of each step, so ``getrusage(RUSAGE_CHILDREN)`` holds
them), so the CPU ratio (registration CPU / plain decode CPU, against the
smallest decode CPU of the runs) does not depend on what else the machine
runs.  The wall ratio does: on a shared machine read the CPU one.  Also reported: hours of audio, x realtime per core
(audio seconds / registration seconds / workers) and the registry's size on
disk (every file whose name starts with the registry file's name, folders
included) in bytes and MB per hour of audio.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import av

from corpus_lists import registered_files as corpus_registered_files
from machine import run_info

RATIO_TARGET = 1.5


def registered_files(corpus: Path) -> list[str]:
    """Every registered music file (benchmarks/corpus_lists.py), as strings."""
    return [str(f) for f in corpus_registered_files(corpus)]


def cpu_s() -> float:
    """User + system CPU seconds of this process and of its joined children so far."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def plain_decode(path: str) -> float:
    """Decode every frame of the first audio stream to an array; returns seconds of audio."""
    frames = 0
    with av.open(path) as container:
        stream = container.streams.audio[0]
        for frame in container.decode(stream):
            frame.to_ndarray()
            frames += frame.samples
        return frames / stream.rate


def decode_all(files: list[str], workers: int) -> tuple[float, float, float]:
    """Plain-decode every file in ``workers`` processes (1: this process).
    Returns (wall seconds, audio seconds, CPU seconds of this process and the workers)."""
    t0, c0 = time.perf_counter(), cpu_s()
    if workers <= 1:
        audio_s = sum(plain_decode(f) for f in files)
    else:
        with ProcessPoolExecutor(workers) as pool:
            audio_s = sum(pool.map(plain_decode, files))
    return time.perf_counter() - t0, audio_s, cpu_s() - c0


def registry_side_files(db: Path) -> list[Path]:
    """The registry file and everything beside it whose name starts with its name."""
    if not db.parent.is_dir():
        return []
    return sorted(p for p in db.parent.iterdir() if p.name.startswith(db.name))


def size_on_disk(paths: list[Path]) -> int:
    total = 0
    for p in paths:
        if p.is_dir():
            total += sum(f.stat().st_size for f in p.rglob("*") if f.is_file())
        elif p.is_file():
            total += p.stat().st_size
    return total


class Progress:
    """Prints registration progress to stderr at most once a second."""

    def __init__(self) -> None:
        self.last = 0.0

    def __call__(self, done: int, total: int, *_: object) -> None:
        now = time.monotonic()
        if now - self.last >= 1.0 or done == total:
            self.last = now
            print(f"\rregistered {done}/{total} files", end="", file=sys.stderr, flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--registry", default="benchmarks/work/bench.db",
                    help="registry file to create (replaced, with its side files, if it exists)")
    ap.add_argument("--corpus", default="benchmarks/corpus", help="folder filled by fetch_corpus.sh")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--out", default=None, help="JSON file for the results")
    ap.add_argument("--engine-version", default=None,
                    help="music engine version to register with (default: the current one; 1 for version 1)")
    ap.add_argument("--melody", choices=("off", "on", "both"), default="both",
                    help="register without melodies, with them (consentry register's default), or both (default)")
    args = ap.parse_args()

    from consentry import Registry
    from consentry.engines.music.params import DEFAULT_PARAMS, params_for

    params = DEFAULT_PARAMS if args.engine_version is None else params_for(args.engine_version)
    files = registered_files(Path(args.corpus))
    db = Path(args.registry).resolve()
    db.parent.mkdir(parents=True, exist_ok=True)
    info = run_info()

    for f in files:  # into the page cache
        Path(f).read_bytes()
    decode_1_s, audio_s, decode_1_cpu = decode_all(files, 1)
    print(f"plain decode, 1 process: {decode_1_s:.1f} s ({decode_1_cpu:.1f} CPU-s) for {audio_s / 3600:.2f} h",
          file=sys.stderr)
    decode_n_s, _, decode_n_cpu = decode_all(files, args.workers)
    print(f"plain decode, {args.workers} processes: {decode_n_s:.1f} s ({decode_n_cpu:.1f} CPU-s)", file=sys.stderr)

    def register(path: Path, melody: bool):
        for p in registry_side_files(path):
            print(f"removing {p}", file=sys.stderr)
            shutil.rmtree(p) if p.is_dir() else p.unlink()
        t0, c0 = time.perf_counter(), cpu_s()
        reg = Registry.open(path, params=params)
        try:
            summary = reg.register(files, workers=args.workers, progress=Progress(), melody=melody)
        finally:
            reg.close()
        seconds, cpu = time.perf_counter() - t0, cpu_s() - c0
        print(f"\nregistration, {args.workers} processes, melodies {'on' if melody else 'off'}: {seconds:.1f} s"
              f" ({cpu:.1f} CPU-s)", file=sys.stderr)
        return summary, seconds, cpu

    register_s = melody_s = register_cpu = melody_cpu = None
    if args.melody in ("off", "both"):
        summary, register_s, register_cpu = register(db, False)
    melody_db = db.with_name(db.stem + "-melody" + db.suffix)
    if args.melody in ("on", "both"):
        melody_summary, melody_s, melody_cpu = register(melody_db, True)
        if register_s is None:
            summary, register_s, register_cpu, db = melody_summary, melody_s, melody_cpu, melody_db

    decode_n2_s, _, decode_n2_cpu = decode_all(files, args.workers)
    print(f"plain decode, {args.workers} processes, after: {decode_n2_s:.1f} s ({decode_n2_cpu:.1f} CPU-s)",
          file=sys.stderr)
    decode_ref_cpu = min(decode_1_cpu, decode_n_cpu, decode_n2_cpu)

    side = registry_side_files(db)
    registry_bytes = size_on_disk(side)
    hours = audio_s / 3600
    decode_ref_s = min(decode_n_s, decode_n2_s)
    result = {
        **info,
        "registry": str(db),
        "engine": f"{params.version}/{params.param_hash()}",
        "files": len(files),
        "registered": len(summary.registered),
        "duplicates": len(summary.duplicates),
        "errors": [list(e) for e in summary.errors],
        "audio_hours": round(hours, 4),
        "workers": args.workers,
        "plain_decode_1_process_s": round(decode_1_s, 2),
        "plain_decode_workers_s": [round(decode_n_s, 2), round(decode_n2_s, 2)],
        "register_s": round(register_s, 2),
        "ratio_register_to_decode": round(register_s / decode_ref_s, 3),
        "ratio_target": RATIO_TARGET,
        "ratio_met": register_s / decode_ref_s <= RATIO_TARGET,
        "ratio_register_to_1_process_decode": round(register_s / decode_1_s, 3),
        "load_average_at_end": [round(v, 2) for v in os.getloadavg()],
        "cpu_s": {"plain_decode_1_process": round(decode_1_cpu, 2),
                  "plain_decode_workers": [round(decode_n_cpu, 2), round(decode_n2_cpu, 2)],
                  "register": round(register_cpu, 2),
                  "register_with_melody": round(melody_cpu, 2) if melody_cpu is not None else None},
        "cpu_ratio_register_to_decode": round(register_cpu / decode_ref_cpu, 3),
        "cpu_ratio_register_with_melody_to_decode": (round(melody_cpu / decode_ref_cpu, 3)
                                                     if melody_cpu is not None else None),
        "melody": args.melody,
        "register_with_melody_s": round(melody_s, 2) if melody_s is not None else None,
        "ratio_register_with_melody_to_decode": round(melody_s / decode_ref_s, 3) if melody_s is not None else None,
        "registry_with_melody_bytes": size_on_disk(registry_side_files(melody_db)) if melody_s is not None else None,
        "x_realtime_per_core": round(audio_s / register_s / args.workers, 1),
        "plain_decode_x_realtime_per_core": round(audio_s / decode_ref_s / args.workers, 1),
        "registry_bytes": registry_bytes,
        "registry_mb_per_hour": round(registry_bytes / 1e6 / hours, 3),
        "registry_files": {p.name: size_on_disk([p]) for p in side},
    }
    print(f"""
| | wall seconds | CPU seconds | x realtime per core (wall) |
|---|---|---|---|
| plain PyAV decode, 1 process | {decode_1_s:.1f} | {decode_1_cpu:.1f} | {audio_s / decode_1_s:.0f} |
| plain PyAV decode, {args.workers} processes (before / after) | {decode_n_s:.1f} / {decode_n2_s:.1f} | {decode_n_cpu:.1f} / {decode_n2_cpu:.1f} | {result['plain_decode_x_realtime_per_core']:.0f} |
| registration, {args.workers} processes{' (melodies on)' if args.melody == 'on' else ''} | {register_s:.1f} | {register_cpu:.1f} | {result['x_realtime_per_core']:.0f} |
{f"| registration with melodies, {args.workers} processes | {melody_s:.1f} | {melody_cpu:.1f} | {audio_s / melody_s / args.workers:.0f} |" if melody_s is not None and args.melody == 'both' else ''}

{len(files)} files, {hours:.2f} h of audio; {len(summary.registered)} registered, {len(summary.duplicates)} duplicates, \
{len(summary.errors)} errors.
Registration / plain decode ({args.workers} processes, the faster decode run): \
**{result['ratio_register_to_decode']:.2f}x** (target ≤ {RATIO_TARGET}x: {'met' if result['ratio_met'] else 'missed'}){
f"; with melodies (consentry register's default): **{result['ratio_register_with_melody_to_decode']:.2f}x**" if melody_s is not None and args.melody == 'both' else ''}.
In CPU time (against the smallest plain-decode CPU, {decode_ref_cpu:.1f} s): registration \
**{result['cpu_ratio_register_to_decode']:.2f}x**{
f", with melodies **{result['cpu_ratio_register_with_melody_to_decode']:.2f}x**" if melody_cpu is not None and args.melody == 'both' else ''}.
Registry on disk: {registry_bytes / 1e6:.1f} MB, {result['registry_mb_per_hour']:.2f} MB per hour of audio.""")
    for path, reason in summary.errors:
        print(f"error: {path}: {reason}")
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(result, indent=1, default=str) + "\n")
        print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
