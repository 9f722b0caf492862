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
   got busier or quieter during the run shows up as two different decode times;
6. the parts of step 3, each in ``--workers`` processes, nothing stored: the
   decode to the engine's rate alone (``decode_audio``: PyAV, mixing down,
   resampling), and the decode plus ``engine.index_hashes``: the
   **fingerprints alone**, which is what issue 17's target (registration
   ≤ 1.5× plain decode) measures;
7. with ``--lookup``: the look-up that ``register`` makes when the registry
   already holds other creators' works (docs/claims.md): each file decoded
   and identified whole (``Registry.identify_samples``) in the registry of
   step 3.  Here every file finds itself, which a new work would not: its own
   work is one more candidate to verify, so this is an upper bound.  The
   look-up alone is this step minus the decode of step 6.

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


def decode_at_rate(path: str, params) -> float:
    """Decode to the engine's rate, mono, as registration does; returns seconds of audio."""
    from consentry.io.decode import decode_audio

    return decode_audio(path, sample_rate_hz=params.sample_rate_hz).duration_s


def fingerprint_alone(path: str, params) -> int:
    """Decode as registration does and compute the work's hashes (nothing stored); returns their number."""
    from consentry.engines.music import engine
    from consentry.io.decode import decode_audio

    audio = decode_audio(path, sample_rate_hz=params.sample_rate_hz)
    return int(engine.index_hashes(audio.samples, params)[0].size)


_LOOKUP_REGISTRY: dict = {}


def lookup_whole(path: str, db: str, params) -> int:
    """Decode as registration does and identify the whole file in registry ``db``; returns the matches found."""
    from consentry import Registry
    from consentry.io.decode import decode_audio

    reg = _LOOKUP_REGISTRY.get(db)
    if reg is None:
        reg = _LOOKUP_REGISTRY[db] = Registry.open(db, create=False, params=params)
    audio = decode_audio(path, sample_rate_hz=params.sample_rate_hz)
    return len(reg.identify_samples(audio.samples))


def run_step(function, files: list[str], workers: int) -> tuple[float, float, list]:
    """``function(file)`` for every file in ``workers`` processes (1: this one): (wall s, CPU s, results)."""
    t0, c0 = time.perf_counter(), cpu_s()
    if workers <= 1:
        got = [function(f) for f in files]
    else:
        with ProcessPoolExecutor(workers) as pool:
            got = list(pool.map(function, files))
    return time.perf_counter() - t0, cpu_s() - c0, got


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
    ap.add_argument("--lookup", action="store_true",
                    help="also time the look-up among other creators' works (each file identified whole, step 7)")
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

    from functools import partial

    rate_s, rate_cpu, _ = run_step(partial(decode_at_rate, params=params), files, args.workers)
    print(f"decode to {params.sample_rate_hz} Hz alone: {rate_s:.1f} s ({rate_cpu:.1f} CPU-s)", file=sys.stderr)
    fp_s, fp_cpu, _ = run_step(partial(fingerprint_alone, params=params), files, args.workers)
    print(f"fingerprints alone (decode + index_hashes): {fp_s:.1f} s ({fp_cpu:.1f} CPU-s)", file=sys.stderr)
    lookup_s = lookup_cpu = None
    if args.lookup:
        lookup_s, lookup_cpu, _ = run_step(partial(lookup_whole, db=str(db), params=params), files, args.workers)
        print(f"decode + look-up among the registered works: {lookup_s:.1f} s ({lookup_cpu:.1f} CPU-s)",
              file=sys.stderr)

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
        "decode_at_rate_s": round(rate_s, 2),
        "fingerprints_alone_s": round(fp_s, 2),
        "cpu_s_parts": {"decode_at_rate": round(rate_cpu, 2), "fingerprints_alone": round(fp_cpu, 2),
                        "decode_and_lookup": round(lookup_cpu, 2) if lookup_cpu is not None else None},
        "cpu_ratio_decode_at_rate_to_decode": round(rate_cpu / decode_ref_cpu, 3),
        "cpu_ratio_fingerprints_alone_to_decode": round(fp_cpu / decode_ref_cpu, 3),
        "cpu_ratio_fingerprints_alone_met": fp_cpu / decode_ref_cpu <= RATIO_TARGET,
        "cpu_ratio_lookup_alone_to_decode": (round((lookup_cpu - rate_cpu) / decode_ref_cpu, 3)
                                             if lookup_cpu is not None else None),
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
    rows = [("plain PyAV decode, 1 process", f"{decode_1_s:.1f}", f"{decode_1_cpu:.1f}", f"{audio_s / decode_1_s:.0f}"),
            (f"plain PyAV decode, {args.workers} processes (before / after)", f"{decode_n_s:.1f} / {decode_n2_s:.1f}",
             f"{decode_n_cpu:.1f} / {decode_n2_cpu:.1f}", f"{result['plain_decode_x_realtime_per_core']:.0f}"),
            (f"registration, {args.workers} processes{' (melodies on)' if args.melody == 'on' else ''}",
             f"{register_s:.1f}", f"{register_cpu:.1f}", f"{result['x_realtime_per_core']:.0f}")]
    if melody_s is not None and args.melody == "both":
        rows.append((f"registration with melodies, {args.workers} processes", f"{melody_s:.1f}", f"{melody_cpu:.1f}",
                     f"{audio_s / melody_s / args.workers:.0f}"))
    rows.append((f"decode to {params.sample_rate_hz} Hz alone, {args.workers} processes", f"{rate_s:.1f}",
                 f"{rate_cpu:.1f}", f"{audio_s / rate_s / args.workers:.0f}"))
    rows.append((f"fingerprints alone (decode + index_hashes), {args.workers} processes", f"{fp_s:.1f}",
                 f"{fp_cpu:.1f}", f"{audio_s / fp_s / args.workers:.0f}"))
    if lookup_s is not None:
        rows.append((f"decode + look-up among the registered works, {args.workers} processes", f"{lookup_s:.1f}",
                     f"{lookup_cpu:.1f}", f"{audio_s / lookup_s / args.workers:.0f}"))
    table = "\n".join("| " + " | ".join(r) + " |" for r in rows)
    print(f"""
| | wall seconds | CPU seconds | x realtime per core (wall) |
|---|---|---|---|
{table}

{len(files)} files, {hours:.2f} h of audio; {len(summary.registered)} registered, {len(summary.duplicates)} duplicates, \
{len(summary.errors)} errors.
Registration / plain decode ({args.workers} processes, the faster decode run): \
**{result['ratio_register_to_decode']:.2f}x** (target ≤ {RATIO_TARGET}x: {'met' if result['ratio_met'] else 'missed'}){
f"; with melodies (consentry register's default): **{result['ratio_register_with_melody_to_decode']:.2f}x**" if melody_s is not None and args.melody == 'both' else ''}.
In CPU time (against the smallest plain-decode CPU, {decode_ref_cpu:.1f} s): registration \
**{result['cpu_ratio_register_to_decode']:.2f}x**{
f", with melodies **{result['cpu_ratio_register_with_melody_to_decode']:.2f}x**" if melody_cpu is not None and args.melody == 'both' else ''}.
Fingerprints alone (the target's measure), in CPU: **{result['cpu_ratio_fingerprints_alone_to_decode']:.2f}x** \
(target ≤ {RATIO_TARGET}x: {'met' if result['cpu_ratio_fingerprints_alone_met'] else 'missed'}), of which the decode to \
{params.sample_rate_hz} Hz alone {result['cpu_ratio_decode_at_rate_to_decode']:.2f}x{
f"; the look-up among other creators' works alone (upper bound: every file finds itself) **{result['cpu_ratio_lookup_alone_to_decode']:.2f}x**" if lookup_cpu is not None else ''}.
Registry on disk: {registry_bytes / 1e6:.1f} MB, {result['registry_mb_per_hour']:.2f} MB per hour of audio.""")
    for path, reason in summary.errors:
        print(f"error: {path}: {reason}")
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(result, indent=1, default=str) + "\n")
        print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
