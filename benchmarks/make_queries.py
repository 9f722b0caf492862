"""Deterministic benchmark queries from the Debian corpus.

Positives: 10-second excerpts (5 s for ``short_5s``) of registered files at
random offsets (files weighted by duration), each in every variant.  The
alterations come from an implementation independent of Consentry's own: the
SoX program (Debian's ``sox``) for speed, pitch, tempo, reverb and the
telephone band, SoX's pink noise for the noise, and LAME (through PyAV) for
MP3.  Negatives: excerpts of songs that are never registered (clean and MP3).

    python benchmarks/make_queries.py --corpus benchmarks/corpus --seed 1 \\
        --out benchmarks/work/queries_seed1

writes the audio files and ``queries.jsonl`` (one ground-truth record per query).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import av
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from consentry.alterations import encode_to_bytes, write_wav  # noqa: E402
from consentry.decode import decode_audio  # noqa: E402

RATE = 44100
REGISTERED = ("wesnoth-1.16-music", "singularity-music")
NEGATIVE = ("fretsonfire-songs-muldjord", "fretsonfire-songs-sectoid")
SOX_EFFECTS = {
    "speed_+3": ["speed", "1.03"],
    "speed_-3": ["speed", "0.97"],
    "pitch_+2st": ["pitch", "200"],
    "pitch_-2st": ["pitch", "-200"],
    "tempo_+5": ["tempo", "-m", "1.05"],
    "tempo_-5": ["tempo", "-m", "0.95"],
    "reverb": ["reverb", "50", "50", "80"],
}
VARIANTS = ["clean", "mp3_64k", "noise_10db", *SOX_EFFECTS, "phone", "short_5s"]


def registered_files(corpus: Path) -> list[Path]:
    return sorted(f for p in REGISTERED for f in (corpus / p).rglob("*.ogg"))


def negative_songs(corpus: Path) -> list[Path]:
    """Folders of never-registered songs (each has song.ogg and maybe guitar.ogg stems)."""
    return sorted({f.parent for p in NEGATIVE for f in (corpus / p).rglob("song.ogg")})


def duration_s(path: Path) -> float:
    with av.open(str(path)) as c:
        return float(c.duration or 0) / 1e6


def sox(inp: Path, out: Path, effects: list[str], out_args: list[str] | None = None) -> None:
    # -G: SoX lowers the gain where an effect would otherwise clip.
    subprocess.run(["sox", "-q", "-G", str(inp), *(out_args or []), str(out), *effects], check=True)


def make_one(job: dict) -> list[dict]:
    """Cut one excerpt and write its variants; returns ground-truth records."""
    out_dir = Path(job["out_dir"])
    records = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if job["expected"] == "positive":
            src = Path(job["source"])
            x = decode_audio(src, sample_rate_hz=RATE, start_s=job["start_s"], max_duration_s=10.0).samples
        else:
            folder = Path(job["source"])
            stems = [decode_audio(f, sample_rate_hz=RATE, start_s=job["start_s"], max_duration_s=10.0).samples
                     for f in sorted(folder.glob("*.ogg")) if f.name in ("song.ogg", "guitar.ogg", "rhythm.ogg")]
            n = min(s.size for s in stems)
            x = np.sum([s[:n] for s in stems], axis=0)
            x = (x / max(1e-9, np.abs(x).max()) * 0.9).astype(np.float32)
        base = tmp / "base.wav"
        write_wav(base, x, sample_rate_hz=RATE)
        for variant in job["variants"]:
            stem = f"{job['id']:04d}_{variant}"
            if variant == "mp3_64k":
                data, suffix = encode_to_bytes(x, sample_rate_hz=RATE, codec="mp3", bitrate_kbps=64)
                path = out_dir / (stem + suffix)
                path.write_bytes(data)
            elif variant == "clean":
                path = out_dir / (stem + ".wav")
                shutil.copy(base, path)
            elif variant == "short_5s":
                path = out_dir / (stem + ".wav")
                write_wav(path, x[: 5 * RATE], sample_rate_hz=RATE)
            elif variant == "noise_10db":
                noise = tmp / "noise.wav"
                subprocess.run(["sox", "-q", "-n", "-r", str(RATE), "-c", "1", str(noise), "synth", "10", "pinknoise"],
                               check=True, env={"PATH": "/usr/bin:/bin", "SOX_OPTS": ""})
                nz = decode_audio(noise, sample_rate_hz=RATE).samples.astype(np.float64)
                nz = np.resize(nz, x.size)
                # Different noise for every query: rotate by a seeded amount.
                nz = np.roll(nz, int(job["noise_shift"]))
                nz *= np.sqrt(np.mean(x.astype(np.float64) ** 2) / (np.mean(nz**2) * 10.0))
                y = x + nz
                path = out_dir / (stem + ".wav")
                write_wav(path, y / max(1.0, np.abs(y).max() / 0.99), sample_rate_hz=RATE)
            elif variant == "phone":
                path = out_dir / (stem + ".wav")
                sox(base, path, ["sinc", "300-3400", "rate", "8000"], ["-e", "u-law", "-b", "8"])
            else:
                path = out_dir / (stem + ".wav")
                sox(base, path, SOX_EFFECTS[variant])
            records.append({
                "path": str(path.resolve()),
                "variant": variant,
                "source_file": str(Path(job["source"]).resolve()),
                "source_start_s": round(job["start_s"], 3),
                "duration_s": 5.0 if variant == "short_5s" else 10.0,
                "expected": job["expected"],
            })
    return records


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", default="benchmarks/corpus")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", required=True)
    ap.add_argument("--n-positive", type=int, default=150)
    ap.add_argument("--n-negative", type=int, default=120)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    if shutil.which("sox") is None:
        sys.exit("make_queries: the sox program is needed (apt-get install sox libsox-fmt-all)")
    corpus = Path(args.corpus)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(args.seed)
    files = registered_files(corpus)
    durations = np.array([duration_s(f) for f in files])
    usable = durations > 12
    weights = np.where(usable, durations, 0) / durations[usable].sum()
    jobs = []
    for i in range(args.n_positive):
        k = int(rng.choice(len(files), p=weights))
        start = float(rng.uniform(0, durations[k] - 11))
        jobs.append({"id": i, "source": str(files[k]), "start_s": start, "expected": "positive", "variants": VARIANTS,
                     "out_dir": str(out), "noise_shift": int(rng.integers(0, 10 * RATE))})
    songs = negative_songs(corpus)
    song_durations = np.array([duration_s(s / "song.ogg") for s in songs])
    for j in range(args.n_negative):
        k = int(rng.integers(len(songs)))
        start = float(rng.uniform(0, song_durations[k] - 11))
        jobs.append({"id": args.n_positive + j, "source": str(songs[k]), "start_s": start, "expected": "negative",
                     "variants": ["clean", "mp3_64k"], "out_dir": str(out), "noise_shift": 0})
    records = []
    with ProcessPoolExecutor(args.workers) as pool:
        for recs in pool.map(make_one, jobs):
            records.extend(recs)
    with open(out / "queries.jsonl", "w") as fh:
        for r in records:
            fh.write(json.dumps(r) + "\n")
    print(f"{len(records)} queries ({args.n_positive} positive excerpts x {len(VARIANTS)} variants, "
          f"{args.n_negative} negative excerpts x 2) in {out}")


if __name__ == "__main__":
    main()
