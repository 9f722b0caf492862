"""Deterministic benchmark queries cut from the Debian corpus.

    python benchmarks/make_queries.py --seed 1 --out benchmarks/work/queries_seed1
    python benchmarks/make_queries.py --seed 2 --out benchmarks/work/queries_seed2

Positives: ``--n-positive`` excerpts of the registered packages, each at a
random offset in a file drawn with probability proportional to its duration
(so every second of registered music is equally likely to be picked).  Every
excerpt is written in every variant below.  Negatives: ``--n-negative``
excerpts of the never-registered songs, drawn the same way, in the variants
of ``--negative-variants`` (all of them by default).  Which files are
registered and which are negatives is said once, in ``corpus_lists.py``
(issue 17 added openarena-088-data, xmoto-data and frozen-bubble-data; some
of their files are negatives).  A Frets on Fire song is a folder of stems
(``song.ogg`` is the backing track, ``guitar.ogg`` the lead guitar, sometimes
``rhythm.ogg``); they are summed into the full song, which is what a
listener hears; any other negative is one file.

Nothing here uses Consentry: sources are decoded with PyAV at their own
sample rate and channel count, the alterations come from the SoX program
(Debian's ``sox``), the pink noise from SoX's ``synth``, the MP3 from LAME
through PyAV, and WAV files are written with the standard library.  A bug in
Consentry's own decoder or alterations therefore cannot hide in the ground
truth.  All random draws come from ``numpy.random.default_rng(seed)`` in the
main process and SoX runs with ``-R`` (repeatable dither), so the same seed
gives byte-identical audio and ``queries.jsonl``.

Variants (each query is ``duration_s`` long, 10 s or 5 s):

==============  ===========================================================
clean           the excerpt itself
mp3_64k         LAME (libmp3lame through PyAV) at 64 kbit/s, ``.mp3``
noise_10db      plus SoX pink noise scaled to exactly 10 dB below the
                excerpt's mean power (one independent noise window per channel)
speed_+3/-3     ``sox speed 1.03`` / ``0.97`` (pitch and tempo together)
pitch_+2st/-2st ``sox pitch 200`` / ``-200`` (cents; tempo kept)
tempo_+5/-5     ``sox tempo -m 1.05`` / ``0.95`` (pitch kept)
phone           ``sox sinc 300-3400 channels 1 rate 8000``, 8-bit mu-law
reverb          ``sox reverb 50``
short_5s        the first 5 s of the clean excerpt
==============  ===========================================================

Each SoX chain starts with ``gain -10`` and ends with ``gain -n -1``, so no
effect clips and every SoX-made query peaks at -1 dBFS.

For speed and tempo the cut is ``duration_s * factor`` long, so that the
query still lasts ``duration_s``; ``source_duration_s`` in the ground truth
says how much of the source a query holds.

Output: the audio files and ``queries.jsonl``, one JSON object per query:
``path`` (absolute), ``variant``, ``source_file`` (absolute path of the
registered file; for a negative, of the song's folder), ``source_start_s``,
``source_duration_s``, ``duration_s``, ``expected`` (``"positive"`` or
``"negative"``), and for study ``excerpt_id``, ``seed``, ``package``,
``rms_dbfs`` (level of the cut before alteration) and ``alteration``.
``manifest.json`` records the arguments, tool versions and timing.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import wave
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import av
import numpy as np

from corpus_lists import negative_sources, registered_files, stems, stream_duration_s


EXCERPT_S = 10.0
SHORT_S = 5.0
#: Excerpts end at least this far from the end of the source.
END_MARGIN_S = 0.5
NOISE_SNR_DB = 10.0
#: Length of the one pink-noise recording that noise windows are cut from.
NOISE_BANK_S = 60.0
MP3_BITRATE = 64_000

#: variant -> (SoX effects, or None; time factor: source seconds per query second)
SOX_VARIANTS: dict[str, tuple[list[str], float]] = {
    "speed_+3": (["speed", "1.03"], 1.03),
    "speed_-3": (["speed", "0.97"], 0.97),
    "pitch_+2st": (["pitch", "200"], 1.0),
    "pitch_-2st": (["pitch", "-200"], 1.0),
    "tempo_+5": (["tempo", "-m", "1.05"], 1.05),
    "tempo_-5": (["tempo", "-m", "0.95"], 0.95),
    "phone": (["sinc", "300-3400", "channels", "1", "rate", "8000"], 1.0),
    "reverb": (["reverb", "50"], 1.0),
}
#: Around every SoX chain: 10 dB of headroom so that no effect clips (SoX's
#: own -G guard still let tempo, sinc and reverb clip now and then), then
#: normalisation to a peak of -1 dBFS.
SOX_HEADROOM = ["gain", "-10"]
SOX_NORMALISE = ["gain", "-n", "-1"]
PHONE_OUTPUT = ["-e", "u-law", "-b", "8"]
VARIANTS = ["clean", "mp3_64k", "noise_10db", "speed_+3", "speed_-3", "pitch_+2st", "pitch_-2st",
            "tempo_+5", "tempo_-5", "phone", "reverb", "short_5s"]


def time_factor(variant: str) -> float:
    """Seconds of source audio in one second of a query of this variant."""
    return SOX_VARIANTS[variant][1] if variant in SOX_VARIANTS else 1.0


def query_duration(variant: str) -> float:
    return SHORT_S if variant == "short_5s" else EXCERPT_S


# -- corpus ------------------------------------------------------------------
# Which files are registered and which are negatives: corpus_lists.py.

def package_of(path: Path, corpus: Path) -> str:
    return path.resolve().relative_to(corpus.resolve()).parts[0]


# -- audio in and out ---------------------------------------------------------

def decode(path: Path) -> tuple[np.ndarray, int]:
    """Decode the first audio stream at its own rate.

    Returns
    -------
    samples : np.ndarray, float32, shape (channels, frames), full scale 1.0
    rate_hz : int

    Time zero is the container's: samples that the decoder hands out before
    it (FFmpeg's Vorbis decoder gives 128 samples of pre-roll with a negative
    timestamp) are dropped, as libvorbis and SoX drop them.
    """
    chunks = []
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        rate = stream.rate
        for frame in container.decode(stream):
            a = frame.to_ndarray()
            channels = len(frame.layout.channels)
            if not frame.format.is_planar:
                a = a.reshape(-1, channels).T
            if a.dtype.kind in "iu":
                half = (int(np.iinfo(a.dtype).max) + 1) / (2 if a.dtype.kind == "u" else 1)
                a = (a.astype(np.float64) - (half if a.dtype.kind == "u" else 0)) / half
            if frame.pts is not None and frame.pts < 0 and frame.time_base:
                a = a[:, int(round(-frame.pts * frame.time_base * rate)):]
            chunks.append(a.astype(np.float32))
    if not chunks:
        raise ValueError(f"{path}: no audio frames")
    return np.concatenate(chunks, axis=1), rate


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    """Read a 16-bit PCM WAV; float32 (channels, frames) and the rate in Hz."""
    with wave.open(str(path), "rb") as w:
        if w.getsampwidth() != 2:
            raise ValueError(f"{path}: expected 16-bit PCM")
        data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
        return (data.reshape(-1, w.getnchannels()).T / 32768.0).astype(np.float32), w.getframerate()


def write_wav(path: Path, samples: np.ndarray, rate_hz: int) -> None:
    """Write float samples, shape (channels, frames), as 16-bit PCM (clipped at full scale)."""
    pcm = np.clip(np.round(samples.T * 32767.0), -32768, 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(samples.shape[0])
        w.setsampwidth(2)
        w.setframerate(rate_hz)
        w.writeframes(pcm.tobytes())


def write_mp3(path: Path, samples: np.ndarray, rate_hz: int, *, bit_rate: int) -> None:
    """Encode with LAME (PyAV's libmp3lame) at a constant bit rate in bits/s."""
    layout = "mono" if samples.shape[0] == 1 else "stereo"
    with av.open(str(path), "w", format="mp3") as out:
        stream = out.add_stream("libmp3lame", rate=rate_hz, layout=layout)
        stream.bit_rate = bit_rate
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(samples[:2], dtype=np.float32),
                                           format="fltp", layout=layout)
        frame.sample_rate = rate_hz
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)


def sox(inp: Path, out: Path, effects: list[str], output_options: list[str] | None = None) -> str:
    """Run SoX with -R (repeatable dither).  Returns SoX's warnings (empty if none)."""
    run = subprocess.run(["sox", "-R", "-q", str(inp), *(output_options or []), str(out), *effects],
                         capture_output=True, text=True, env={**os.environ, "SOX_OPTS": ""})
    if run.returncode != 0:
        raise RuntimeError(f"sox {' '.join(effects)} on {inp} failed: {run.stderr.strip()}")
    return run.stderr.strip()


def pink_noise_bank(rate_hz: int, tmp: Path) -> np.ndarray:
    """NOISE_BANK_S seconds of SoX pink noise, float32, shape (frames,)."""
    path = tmp / f"pink_{rate_hz}.wav"
    subprocess.run(["sox", "-R", "-q", "-n", "-r", str(rate_hz), "-c", "1", "-b", "16", str(path),
                    "synth", str(NOISE_BANK_S), "pinknoise", "gain", "-6"],  # -6 dB: no clipping at any rate
                   check=True, env={**os.environ, "SOX_OPTS": ""})
    noise, _ = read_wav(path)
    return noise[0]


def add_noise(x: np.ndarray, noise: np.ndarray, starts: list[int], *, snr_db: float) -> np.ndarray:
    """Add noise windows (one per channel, from ``starts``) at exactly ``snr_db`` below x's mean power."""
    x64 = x.astype(np.float64)
    n = np.stack([noise[s: s + x.shape[1]] for s in starts[: x.shape[0]]]).astype(np.float64)
    gain = np.sqrt(np.mean(x64 ** 2) / (np.mean(n ** 2) * 10.0 ** (snr_db / 10.0)))
    y = x64 + gain * n
    peak = np.abs(y).max()
    if peak > 0.999:  # one gain for signal and noise: the SNR stays as it is
        y *= 0.999 / peak
    return y.astype(np.float32)


# -- one source: all its excerpts ---------------------------------------------

def make_for_source(job: dict) -> list[dict]:
    """Decode one source (a file, or a song folder whose stems are summed) and
    write every variant of each of its excerpts.  Returns ground-truth records."""
    out = Path(job["out"])
    source = Path(job["source"])
    if job["expected"] == "positive":
        audio, rate = decode(source)
    else:
        parts = [decode(f) for f in stems(source)]
        rate = parts[0][1]
        if any(r != rate for _, r in parts):
            raise ValueError(f"{source}: stems at different sample rates")
        channels = max(a.shape[0] for a, _ in parts)
        audio = np.zeros((channels, max(a.shape[1] for a, _ in parts)), dtype=np.float64)
        for a, _ in parts:
            audio[:, : a.shape[1]] += a  # a mono stem plays on every channel
        audio /= max(1.0, np.abs(audio).max() / 0.999)  # one gain for the whole song, as a mix would
        audio = audio.astype(np.float32)
    records = []
    with tempfile.TemporaryDirectory(prefix="make_queries_") as tmp_name:
        tmp = Path(tmp_name)
        noise = pink_noise_bank(rate, tmp) if "noise_10db" in job["variants"] else None
        for ex in job["excerpts"]:
            start = int(ex["start_frame"])
            cut_full = audio[:, start: start + int(round(EXCERPT_S * rate))]
            rms = float(np.sqrt(np.mean(cut_full.astype(np.float64) ** 2)))
            for variant in job["variants"]:
                frames = int(round(query_duration(variant) * time_factor(variant) * rate))
                cut = audio[:, start: start + frames]
                if cut.shape[1] != frames:
                    raise ValueError(f"{source}: excerpt at {start / rate:.3f} s runs past the end")
                stem = f"{ex['prefix']}{ex['id']:04d}_{variant}"
                if variant == "mp3_64k":
                    path = out / f"{stem}.mp3"
                    write_mp3(path, cut, rate, bit_rate=MP3_BITRATE)
                    alteration = f"LAME {MP3_BITRATE // 1000} kbit/s via PyAV libmp3lame"
                elif variant == "noise_10db":
                    path = out / f"{stem}.wav"
                    write_wav(path, add_noise(cut, noise, ex["noise_starts"], snr_db=NOISE_SNR_DB), rate)
                    alteration = f"SoX pink noise at {NOISE_SNR_DB:g} dB SNR, windows {ex['noise_starts']}"
                elif variant in SOX_VARIANTS:
                    path = out / f"{stem}.wav"
                    base = tmp / "cut.wav"
                    write_wav(base, cut, rate)
                    effects = [*SOX_HEADROOM, *SOX_VARIANTS[variant][0], *SOX_NORMALISE]
                    options = PHONE_OUTPUT if variant == "phone" else []
                    warnings = sox(base, path, effects, options)
                    alteration = "sox " + " ".join([*options, *effects])
                    if warnings:
                        alteration += f" ({warnings})"
                else:  # clean, short_5s
                    path = out / f"{stem}.wav"
                    write_wav(path, cut, rate)
                    alteration = "none"
                records.append({
                    "path": str(path.resolve()),
                    "variant": variant,
                    "source_file": str(source),
                    "source_start_s": round(start / rate, 6),
                    "source_duration_s": round(frames / rate, 6),
                    "duration_s": query_duration(variant),
                    "expected": job["expected"],
                    "excerpt_id": f"{ex['prefix']}{ex['id']:04d}",
                    "seed": job["seed"],
                    "package": job["package"],
                    "rms_dbfs": round(20 * np.log10(max(rms, 1e-10)), 1),
                    "alteration": alteration,
                })
    return records


# -- the draw ------------------------------------------------------------------

def draw_excerpts(rng: np.random.Generator, durations: np.ndarray, n: int, rates: list[int],
                  *, prefix: str, longest_cut_s: float) -> list[tuple[int, dict]]:
    """Pick ``n`` (source index, excerpt) pairs: a source with probability
    proportional to its duration, then a uniform start inside it."""
    usable = durations >= longest_cut_s + END_MARGIN_S
    if not usable.any():
        sys.exit("make_queries: no source is long enough for an excerpt")
    weights = np.where(usable, durations, 0.0)
    weights /= weights.sum()
    picks = []
    for i in range(n):
        k = int(rng.choice(len(durations), p=weights))
        start_s = float(rng.uniform(0.0, durations[k] - longest_cut_s - END_MARGIN_S))
        rate = rates[k]
        noise_room = int(NOISE_BANK_S * rate) - int(longest_cut_s * rate) - 1
        picks.append((k, {
            "id": i,
            "prefix": prefix,
            "start_frame": int(round(start_s * rate)),
            "noise_starts": [int(v) for v in rng.integers(0, noise_room, size=2)],
        }))
    return picks


def stream_rate(path: Path) -> int:
    with av.open(str(path)) as container:
        return int(container.streams.audio[0].rate)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", default="benchmarks/corpus", help="folder filled by fetch_corpus.sh")
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--out", required=True, help="folder for the audio files and queries.jsonl")
    ap.add_argument("--n-positive", type=int, default=150, help="registered excerpts (each in every variant)")
    ap.add_argument("--n-negative", type=int, default=120, help="never-registered excerpts")
    ap.add_argument("--negative-variants", default=",".join(VARIANTS),
                    help="comma-separated variants for the negatives (default: all)")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--force", action="store_true", help="replace the queries already in --out")
    args = ap.parse_args()
    negative_variants = [v for v in args.negative_variants.split(",") if v]
    unknown = sorted(set(negative_variants) - set(VARIANTS))
    if unknown:
        sys.exit(f"make_queries: unknown variants {unknown}; choose from {VARIANTS}")
    if shutil.which("sox") is None:
        sys.exit("make_queries: the sox program is needed (apt-get install sox libsox-fmt-all, "
                 "or run bash benchmarks/fetch_corpus.sh)")
    corpus = Path(args.corpus)
    out = Path(args.out).resolve()
    if out.exists() and any(out.iterdir()):
        if not args.force:
            sys.exit(f"make_queries: {out} already holds files; pass --force to replace them")
        for f in out.iterdir():
            if f.is_file() and (f.suffix in {".wav", ".mp3"} or f.name in {"queries.jsonl", "manifest.json"}):
                f.unlink()
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()

    rng = np.random.default_rng(args.seed)
    longest_cut = EXCERPT_S * max(time_factor(v) for v in VARIANTS)
    files = registered_files(corpus)
    file_durations = np.array([stream_duration_s(f) for f in files])
    positives = draw_excerpts(rng, file_durations, args.n_positive, [stream_rate(f) for f in files],
                              prefix="p", longest_cut_s=longest_cut)
    songs = negative_sources(corpus)
    song_durations = np.array([min(stream_duration_s(f) for f in stems(s)) for s in songs])
    negatives = draw_excerpts(rng, song_durations, args.n_negative, [stream_rate(stems(s)[0]) for s in songs],
                              prefix="n", longest_cut_s=longest_cut)

    jobs: dict[tuple[str, int], dict] = {}
    for kind, sources, picks, variants in (("positive", files, positives, VARIANTS),
                                           ("negative", songs, negatives, negative_variants)):
        for k, excerpt in picks:
            job = jobs.setdefault((kind, k), {
                "source": str(sources[k]), "expected": kind, "variants": variants, "excerpts": [],
                "out": str(out), "seed": args.seed, "package": package_of(sources[k], corpus),
            })
            job["excerpts"].append(excerpt)
    # Longest jobs first, so the pool's last job is a short one.
    ordered = sorted(jobs.values(), key=lambda j: -len(j["excerpts"]))
    records: list[dict] = []
    with ProcessPoolExecutor(max(1, args.workers)) as pool:
        for done, recs in enumerate(pool.map(make_for_source, ordered), 1):
            records += recs
            print(f"\r{done}/{len(ordered)} sources", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    order = {v: i for i, v in enumerate(VARIANTS)}
    records.sort(key=lambda r: (r["expected"] != "positive", r["excerpt_id"], order[r["variant"]]))
    with open(out / "queries.jsonl", "w") as fh:
        for r in records:
            fh.write(json.dumps(r) + "\n")
    elapsed = time.perf_counter() - started

    n_pos = sum(r["expected"] == "positive" for r in records)
    n_neg = len(records) - n_pos
    audio_bytes = sum(Path(r["path"]).stat().st_size for r in records)
    manifest = {
        "command": " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]]),
        "seed": args.seed,
        "n_positive_excerpts": args.n_positive,
        "n_negative_excerpts": args.n_negative,
        "variants": VARIANTS,
        "negative_variants": negative_variants,
        "positive_queries": n_pos,
        "negative_queries": n_neg,
        "distinct_positive_sources": len({r["source_file"] for r in records if r["expected"] == "positive"}),
        "distinct_negative_songs": len({r["source_file"] for r in records if r["expected"] == "negative"}),
        "audio_bytes": audio_bytes,
        "sox": subprocess.run(["sox", "--version"], capture_output=True, text=True).stdout.strip(),
        "pyav": av.__version__,
        "numpy": np.__version__,
        "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "elapsed_s": round(elapsed, 1),
        "workers": args.workers,
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    print(f"seed {args.seed}: {n_pos} positive queries ({args.n_positive} excerpts x {len(VARIANTS)} variants) "
          f"from {manifest['distinct_positive_sources']} files, {n_neg} negative queries "
          f"({args.n_negative} excerpts x {len(negative_variants)} variants) from "
          f"{manifest['distinct_negative_songs']} songs; {audio_bytes / 1e6:.0f} MB in {out}; "
          f"{elapsed:.0f} s with {args.workers} workers")


if __name__ == "__main__":
    main()
