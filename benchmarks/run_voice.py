"""Voice-clone groundwork: equal error rate of the speaker encoder, and its speed.

Data (nothing is downloaded; install these Debian packages first)::

    apt-get install -y espeak-ng klettres-data ktuberling-data \
        fillets-ng-data-cs fillets-ng-data-nl

- klettres-data: letters and syllables spoken by one person per language
  (speaker = language folder);
- ktuberling-data: object names spoken by one person per language (the
  Serbian script variants ``sr@*`` repeat ``sr`` and are skipped);
- fillets-ng-data-cs / -nl: game dialogue of the two fish, small (``-m-``)
  and big (``-v-``), in Czech and in Dutch (four speakers; the other
  characters are left out because their actors are not credited apart);
- espeak-ng: synthesised voices, and synthesised "singing" (held vowels on
  a melody, see :func:`sung_melody`).

Per speaker, recordings are shuffled (fixed seed) and joined, with 0.15 s
of silence between them, into utterances of at least ``--utterance-s``
seconds, at most ``--max-utterances`` per speaker. Every pair of utterances
of one data set is a trial: same speaker (target) or not (non-target).
Speakers of different data sets are never paired, since the same volunteer
may have recorded for two KDE programs.

Prints one JSON object. Usage::

    .venv/bin/python benchmarks/run_voice.py [--quick] > voice.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time
from itertools import combinations
from pathlib import Path

import numpy as np

from consentry.decode.audio import decode_audio
from consentry.voice.encoder import embed_voice, find_weights, load_encoder
from consentry.voice.score import LogisticCalibration, equal_error_rate, threshold_at_false_accept

RATE_HZ = 16_000
GAP = np.zeros(int(0.15 * RATE_HZ), dtype=np.float32)

ENGLISH_SENTENCES = [
    "The quick brown fox jumps over the lazy dog while the children watch from the window.",
    "Please remember to bring your umbrella, because the forecast says it will rain all afternoon.",
    "Our train was delayed by forty minutes, so we missed the beginning of the concert.",
    "She planted tomatoes, beans and a row of sunflowers along the garden fence.",
    "If you turn left at the bakery, the museum is the large building on your right.",
    "The committee will publish its decision on the new library at the end of the month.",
    "He poured a cup of strong coffee and read the newspaper before anyone else woke up.",
    "Seven small boats sailed across the bay as the evening light faded behind the hills.",
]
ESPEAK_VOICES = [f"en+m{i}" for i in range(1, 8)] + [f"en+f{i}" for i in range(1, 5)] + [
    "en-us", "en-gb-scotland", "en-gb-x-rp", "en+klatt", "en+croak", "en+whisper",
]


def package_version(name: str) -> str | None:
    try:
        out = subprocess.run(["dpkg-query", "-W", "-f=${Version}", name], capture_output=True, text=True, check=False)
    except OSError:
        return None
    return out.stdout.strip() or None


def speakers_klettres(root=Path("/usr/share/klettres")) -> dict[str, list[Path]]:
    out = {}
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and p.name not in ("icons", "pics")) if root.is_dir() else []:
        files = sorted(folder.glob("*/*.ogg"))
        if files:
            out[f"klettres/{folder.name}"] = files
    return out


def speakers_ktuberling(root=Path("/usr/share/ktuberling/sounds")) -> dict[str, list[Path]]:
    out = {}
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and "@" not in p.name) if root.is_dir() else []:
        files = sorted(folder.glob("*.ogg"))
        if files:
            out[f"ktuberling/{folder.name}"] = files
    return out


def speakers_fillets(root=Path("/usr/share/games/fillets-ng/sound")) -> dict[str, list[Path]]:
    out: dict[str, list[Path]] = {}
    if not root.is_dir():
        return out
    for lang in ("cs", "nl"):
        for fish, code in (("small", "m"), ("big", "v")):
            files = sorted(root.glob(f"*/{lang}/*-{code}-*.ogg"))
            if files:
                out[f"fillets/{lang}-{fish}-fish"] = files
    return out


def build_utterances(files: list[Path], *, utterance_s: float, max_utterances: int, seed: str) -> list[np.ndarray]:
    order = list(files)
    random.Random(seed).shuffle(order)
    utterances, current, length = [], [], 0
    for path in order:
        try:
            samples = decode_audio(path, sample_rate_hz=RATE_HZ).samples
        except Exception:  # a broken file in a data package: skip it
            continue
        current += [samples, GAP]
        length += len(samples) + len(GAP)
        if length >= utterance_s * RATE_HZ:
            utterances.append(np.concatenate(current))
            current, length = [], 0
            if len(utterances) >= max_utterances:
                break
    return utterances


def espeak(text: str, voice: str, folder: Path, *, extra: tuple[str, ...] = ()) -> np.ndarray:
    path = folder / "say.wav"
    subprocess.run(["espeak-ng", "-v", voice, *extra, "-w", str(path), text], check=True, capture_output=True)
    return decode_audio(path, sample_rate_hz=RATE_HZ).samples


def sung_melody(voice: str, folder: Path, *, notes: list[int], syllable: str = "laa") -> np.ndarray:
    """Held syllables, one per note: espeak-ng's pitch (0-99) set per note, slow rate."""
    parts = []
    for pitch in notes:
        parts.append(espeak(syllable, voice, folder, extra=("-p", str(pitch), "-s", "80", "-g", "0")))
    return np.concatenate(parts)


def speakers_espeak(folder: Path, n_sentences: int) -> dict[str, list[np.ndarray]]:
    out = {}
    for voice in ESPEAK_VOICES:
        clips = []
        for i in range(n_sentences):
            # Two sentences per utterance: about 8-10 s of speech.
            a = espeak(ENGLISH_SENTENCES[(2 * i) % len(ENGLISH_SENTENCES)], voice, folder)
            b = espeak(ENGLISH_SENTENCES[(2 * i + 1) % len(ENGLISH_SENTENCES)], voice, folder)
            clips.append(np.concatenate([a, GAP, b]))
        out[f"espeak/{voice}"] = clips
    return out


class Timer:
    def __init__(self) -> None:
        self.compute_s = 0.0
        self.audio_s = 0.0

    def embed(self, samples: np.ndarray) -> np.ndarray | None:
        start = time.perf_counter()
        print_ = embed_voice(samples, sample_rate_hz=RATE_HZ)
        self.compute_s += time.perf_counter() - start
        self.audio_s += len(samples) / RATE_HZ
        return print_.vector


def summarise(embeddings: dict[str, list[np.ndarray]]) -> tuple[dict, np.ndarray, np.ndarray]:
    items = [(speaker, v) for speaker, vs in embeddings.items() for v in vs]
    targets, nontargets = [], []
    for (sa, va), (sb, vb) in combinations(items, 2):
        (targets if sa == sb else nontargets).append(float(va @ vb))
    t, n = np.array(targets), np.array(nontargets)
    return stats(t, n) | {"n_speakers": len(embeddings), "n_utterances": len(items)}, t, n


def stats(t: np.ndarray, n: np.ndarray) -> dict:
    if len(t) == 0 or len(n) == 0:
        return {"n_target": len(t), "n_nontarget": len(n)}
    eer, eer_threshold = equal_error_rate(t, n)
    far1 = threshold_at_false_accept(n, false_accept_rate=0.01)
    calibration = LogisticCalibration.fit(t, n)
    return {
        "n_target": len(t),
        "n_nontarget": len(n),
        "target_mean": round(float(t.mean()), 4),
        "target_p05": round(float(np.percentile(t, 5)), 4),
        "nontarget_mean": round(float(n.mean()), 4),
        "nontarget_p99": round(float(np.percentile(n, 99)), 4),
        "eer": round(eer, 4),
        "eer_threshold": round(eer_threshold, 4),
        "threshold_far_1pct": round(far1, 4),
        "false_reject_at_far_1pct": round(float(np.mean(t < far1)), 4),
        "calibration": {"slope": round(calibration.slope, 3), "offset": round(calibration.offset, 3)},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--utterance-s", type=float, default=3.0, help="minimum utterance length (s)")
    parser.add_argument("--max-utterances", type=int, default=8, help="utterances per recorded speaker")
    parser.add_argument("--espeak-sentences", type=int, default=4, help="utterances per espeak-ng voice")
    parser.add_argument("--quick", action="store_true", help="3 utterances per speaker, 2 per voice")
    args = parser.parse_args(argv)
    if args.quick:
        args.max_utterances, args.espeak_sentences = 3, 2

    encoder = load_encoder()
    timer = Timer()
    result: dict = {
        "engine": f"voice-ge2e/1/{encoder.parameter_hash}",
        "weights": str(find_weights()),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "packages": {
            name: package_version(name)
            for name in ("espeak-ng", "klettres-data", "ktuberling-data", "fillets-ng-data-cs", "fillets-ng-data-nl")
        },
        "settings": vars(args),
        "datasets": {},
    }
    pooled_t, pooled_n = [], []
    for name, loader in (("klettres", speakers_klettres), ("ktuberling", speakers_ktuberling), ("fillets", speakers_fillets)):
        speakers = loader()
        embeddings: dict[str, list[np.ndarray]] = {}
        no_speech = 0
        for speaker, files in speakers.items():
            for utterance in build_utterances(files, utterance_s=args.utterance_s, max_utterances=args.max_utterances, seed=speaker):
                vector = timer.embed(utterance)
                if vector is None:
                    no_speech += 1
                else:
                    embeddings.setdefault(speaker, []).append(vector)
        embeddings = {s: v for s, v in embeddings.items() if len(v) >= 2}
        if len(embeddings) < 2:
            result["datasets"][name] = {"skipped": "package not installed or too few speakers"}
            continue
        summary, t, n = summarise(embeddings)
        result["datasets"][name] = summary | {"no_speech_utterances": no_speech}
        pooled_t.append(t)
        pooled_n.append(n)
    if pooled_t:
        result["datasets"]["human_pooled"] = stats(np.concatenate(pooled_t), np.concatenate(pooled_n))

    clips: dict[str, list[np.ndarray]] = {}
    if shutil.which("espeak-ng"):
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            clips = speakers_espeak(folder, args.espeak_sentences)
            embeddings = {s: [v for v in map(timer.embed, cs) if v is not None] for s, cs in clips.items()}
            summary, _, _ = summarise(embeddings)
            result["datasets"]["espeak"] = summary
            # Singing: the same voice sung vs spoken, and sung vs other voices spoken.
            melody = [30, 40, 50, 60, 70, 60, 50, 40, 55, 65, 75, 45]
            sung_same, sung_other = [], []
            for voice in ("en+m1", "en+m3", "en+f2", "en+f4"):
                sung = timer.embed(sung_melody(voice, folder, notes=melody))
                if sung is None:
                    continue
                for other, vectors in embeddings.items():
                    scores = [float(sung @ v) for v in vectors]
                    (sung_same if other == f"espeak/{voice}" else sung_other).extend(scores)
            espeak_t, espeak_n = _pairs(embeddings)
            result["singing"] = {
                "sung_vs_same_voice_spoken_mean": round(float(np.mean(sung_same)), 4) if sung_same else None,
                "sung_vs_other_voices_spoken_mean": round(float(np.mean(sung_other)), 4) if sung_other else None,
                "share_of_same_voice_above_espeak_eer_threshold": (
                    round(float(np.mean(np.array(sung_same) >= equal_error_rate(espeak_t, espeak_n)[1])), 4)
                    if sung_same else None
                ),
                "note": "espeak-ng 'singing' = held 'laa' per note with the pitch option; not a real singer",
            }
    else:
        result["datasets"]["espeak"] = {"skipped": "espeak-ng not installed"}

    # Speed on one long clip as well (a 60 s output): compute seconds per audio second.
    source = next(iter(clips.values()), None)
    if source:
        long_clip = np.tile(np.concatenate(source), 10)[: 60 * RATE_HZ]
    else:  # no espeak-ng: time the same path on noise (stops at the VAD)
        long_clip = np.random.default_rng(0).standard_normal(60 * RATE_HZ).astype(np.float32) * 0.1
    start = time.perf_counter()
    embed_voice(long_clip, sample_rate_hz=RATE_HZ)
    long_s = time.perf_counter() - start
    result["speed"] = {
        "all_clips_compute_per_audio_s": round(timer.compute_s / max(timer.audio_s, 1e-9), 4),
        "audio_s": round(timer.audio_s, 1),
        "compute_s": round(timer.compute_s, 1),
        "clip_60s_compute_per_audio_s": round(long_s / 60.0, 4),
    }
    json.dump(result, sys.stdout, indent=2)
    print()
    return 0


def _pairs(embeddings: dict[str, list[np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    _, t, n = summarise(embeddings)
    return t, n


if __name__ == "__main__":
    raise SystemExit(main())
