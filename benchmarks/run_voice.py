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
import math
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

from consentry.io.decode.audio import decode_audio
from consentry.engines.voice.encoder import embed_voice, find_weights, load_encoder
from consentry.engines.voice.score import LogisticCalibration, equal_error_rate, threshold_at_false_accept

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


#: Voices of the Asterisk prompt packages, by the person the package or folder names (one person: the US English
#: and the Mexican Spanish prompts are both Allison's).  The Colombian Spanish prompts (``es``) credit no speaker.
ASTERISK_PEOPLE = {"en_US_f_Allison": "Allison", "es_MX_f_Allison": "Allison", "fr_CA_f_June": "June",
                   "it_IT_m_Carlo": "Carlo", "it_IT_f_Menardi": "Menardi", "ru_RU_f_IvrvoiceRU": "IvrvoiceRU",
                   "fr": "Armelle Desjardins"}


def speakers_asterisk(root=Path("/usr/share/asterisk/sounds")) -> dict[str, list[Path]]:
    """Telephone prompts (8 kHz) of the Asterisk voice packages: one professional speaker per folder.

    Packages: asterisk-core-sounds-{en,es,fr,it,ru}-wav (folders ``xx_YY_<sex>_<name>``),
    asterisk-prompt-es-co (``es``), asterisk-prompt-fr-armelle (``fr``) and asterisk-prompt-it-menardi-wav.
    The prompts shared at the top of ``root`` (``digits``, ``letters``, ...) belong to two packages and are
    left out, as are the ``silence`` files.
    """
    out: dict[str, list[Path]] = {}
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and (p.name in ASTERISK_PEOPLE or p.name == "es")) \
            if root.is_dir() else []:
        files = sorted(f for f in folder.rglob("*") if f.suffix in (".wav", ".gsm") and "silence" not in f.parts)
        if files:
            out[f"asterisk/{folder.name}"] = files
    return out


def language_of(speaker: str) -> str:
    """Primary language subtag of a speaker name: ``klettres/en_GB`` -> ``en``, ``fillets/cs-big-fish`` -> ``cs``."""
    tail = speaker.split("/", 1)[1]
    return tail.replace("-", "_").split("_")[0]


def may_be_same(a: str, b: str) -> bool:
    """Whether speakers ``a`` and ``b`` may be one person, so that neither is the other's non-target.

    Two voices named after different people (Asterisk's) are different; the two fish of one fillets-ng
    language are credited to different actors.  Otherwise the volunteers are not named, and the same person
    may have recorded one language for several packages (klettres/uk and ktuberling/uk, or klettres' en
    and en_GB): any two speakers of one language may be one person.
    """
    if a == b:
        return True
    name_a = ASTERISK_PEOPLE.get(a.split("/", 1)[1]) if a.startswith("asterisk/") else None
    name_b = ASTERISK_PEOPLE.get(b.split("/", 1)[1]) if b.startswith("asterisk/") else None
    if name_a and name_b:
        return name_a == name_b
    if a.startswith("fillets/") and b.startswith("fillets/"):
        return False
    return language_of(a) == language_of(b)


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
    """Prints of the model under test (``"ge2e"``: embed_voice; ``"campplus"``: the check's voice_print), timed."""

    def __init__(self, model: str = "ge2e") -> None:
        self.model = model
        self.compute_s = 0.0
        self.audio_s = 0.0

    def embed(self, samples: np.ndarray) -> np.ndarray | None:
        from consentry.engines.voice.model import voice_print

        start = time.perf_counter()
        if self.model == "campplus":
            print_ = voice_print(samples, sample_rate_hz=RATE_HZ)
        else:
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
    parser.add_argument("--model", choices=("ge2e", "campplus"), default="campplus",
                        help="speaker model: campplus (what consentry check compares, the default) or ge2e (the old one)")
    parser.add_argument("--windowed", action="store_true",
                        help="only the windowed experiment: a 5-s voice inside 60 s of other speech or music")
    parser.add_argument("--fit-gate", action="store_true", help="only fit and measure the speech gate")
    parser.add_argument("--cache", help="with --windowed: keep the outputs' window prints in this file and reuse them")
    parser.add_argument("--fresh-cache", help="with --windowed: also measure every statistic, at its half-A "
                        "threshold, on the fresh Asterisk speakers (benchmarks/voice_fresh.py), whose window "
                        "prints are kept in this file")
    parser.add_argument("--channel-cache", help="with --windowed: also fit and choose a small-registry statistic "
                        "on half A as recorded and through a telephone channel (benchmarks/voice_reference.py), "
                        "whose window prints are kept in this file; with --fresh-cache, measure the choice there")
    parser.add_argument("--channel", choices=("g711", "band"), default="g711",
                        help="with --channel-cache: the telephone channel of the dev outputs (benchmarks/voice_channel.py)")
    parser.add_argument("--write-cohort", help="with --channel-cache: write the reference cohort's prints here (.npz)")
    parser.add_argument("--write", action="store_true", help="with --fit-gate: write src/consentry/engines/voice/gate_weights.py")
    parser.add_argument("--music-dir", help="with --fit-gate / --windowed: the outputs of run_check.py false-alarms "
                        "(default benchmarks/work/fa-outputs)")
    parser.add_argument("--record", help="write the fit and its data here (JSON), for tests/engines/test_constants.py "
                        "(whole clips: the pooled human trials behind score.DEFAULT_THRESHOLD and DEFAULT_CALIBRATION)")
    args = parser.parse_args(argv)
    if args.fit_gate:
        json.dump(fit_gate(args), sys.stdout, indent=2)
        print()
        return 0
    if args.windowed:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from voice_windowed import windowed

        json.dump(windowed(args), sys.stdout, indent=2)
        print()
        return 0
    if args.quick:
        args.max_utterances, args.espeak_sentences = 3, 2

    encoder = load_encoder()
    timer = Timer(args.model)
    if args.model == "campplus":
        from consentry.engines.voice.model import load_voice_model

        engine = load_voice_model().engine
    else:
        engine = f"voice-ge2e/1/{encoder.parameter_hash}"
    result: dict = {
        "engine": engine,
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
        if args.record and args.model == "campplus":
            write_clip_record(args.record, result, np.concatenate(pooled_t), np.concatenate(pooled_n))

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
    long_timer = Timer(args.model)
    long_timer.embed(long_clip)
    long_s = long_timer.compute_s
    result["speed"] = {
        "all_clips_compute_per_audio_s": round(timer.compute_s / max(timer.audio_s, 1e-9), 4),
        "audio_s": round(timer.audio_s, 1),
        "compute_s": round(timer.compute_s, 1),
        "clip_60s_compute_per_audio_s": round(long_s / 60.0, 4),
    }
    json.dump(result, sys.stdout, indent=2)
    print()
    return 0


def write_clip_record(path: str, result: dict, targets: np.ndarray, nontargets: np.ndarray) -> None:
    """Write the pooled whole-clip trials and what they fit (``score.DEFAULT_THRESHOLD``, ``DEFAULT_CALIBRATION``).

    tests/engines/test_constants.py fits the recorded scores again with the
    same functions and checks the shipped constants against them.
    """
    fitted = stats(targets, nontargets)
    record = {
        "what": "whole-clip voice decision: score.DEFAULT_THRESHOLD (1 % false accepts) and DEFAULT_CALIBRATION",
        "command": "benchmarks/run_voice.py --record " + path,
        "engine": result["engine"], "packages": result["packages"],
        "settings": {k: result["settings"][k] for k in ("utterance_s", "max_utterances", "model")},
        "false_accept_rate": 0.01,
        "threshold_far_1pct": fitted["threshold_far_1pct"], "calibration": fitted["calibration"],
        # What ships: the 1 % threshold rounded UP to 4 digits (rounded to nearest, 0.42501 gave 0.425, which
        # accepts one non-target more than 1 %).
        "threshold_shipped": math.ceil(threshold_at_false_accept(nontargets, false_accept_rate=0.01) * 1e4) / 1e4,
        "eer": fitted["eer"], "eer_threshold": fitted["eer_threshold"],
        "false_reject_at_far_1pct": fitted["false_reject_at_far_1pct"],
        "targets": [float(x) for x in targets], "nontargets": [float(x) for x in nontargets],
    }
    Path(path).write_text(json.dumps(record, separators=(",", ":")) + "\n")


def speaker_half(name: str) -> str:
    """Calibration ("A") or test ("B") half of a speaker, fixed by a hash of its name."""
    import hashlib

    return "A" if hashlib.sha256(name.encode()).digest()[0] % 2 == 0 else "B"


#: Where ``run_check.py false-alarms`` writes its outputs of unregistered music (``--music-dir`` changes it).
MUSIC_DIR = Path(__file__).resolve().parent / "work" / "fa-outputs"


def music_backgrounds(half: str, folder: Path | None = None) -> list[Path]:
    """Whole unregistered tracks of one half, as benchmarks/run_check.py false-alarms wrote them."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from run_check import half_of

    folder = Path(folder or MUSIC_DIR)
    return sorted(p for p in folder.glob("*.wav") if "@" not in p.name and "__" in p.name
                  and half_of(p.stem.replace("__", "/")) == half)


def fit_gate(args) -> dict:
    """Fit the speech gate (consentry.engines.voice.gate) on half A and measure it on half B; write its weights.

    Windows (3 s, hop 1.5 s) of: the clean 30-s excerpts of unregistered music
    written by ``run_check.py false-alarms`` (music; half of its track), and
    three 12-s utterances of every human speaker plus two of every espeak-ng
    voice (speech; half of its speaker, :func:`speaker_half`).  A logistic
    model (classes weighted equally, L2 penalty 0.1) on half A
    (:func:`fitting.fit_speech_gate`); its threshold lets 99% of half A's
    speech windows through.  With ``--write``, the weights go to
    src/consentry/engines/voice/gate_weights.py; with ``--record FILE``, the fit and
    its data (half A's window prints, as float16, in ``FILE`` with the
    suffix ``.npz``) are written for tests/engines/test_constants.py.
    """
    from fitting import fit_speech_gate, wilson

    from consentry.engines.voice.encoder import embed_voice_windows

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from run_check import half_of

    vecs, is_speech_, halves, groups = [], [], [], []

    def add(samples, speech: bool, half: str, group: str) -> None:
        for w in embed_voice_windows(samples, sample_rate_hz=RATE_HZ).windows:
            vecs.append(w.vector)
            is_speech_.append(speech)
            halves.append(half)
            groups.append(group)

    folder = Path(getattr(args, "music_dir", None) or MUSIC_DIR)
    for path in sorted(folder.glob("*@*.wav")):
        if path.stem.count(".") == 0:  # clean excerpts only ("track@start.wav")
            track = path.stem.split("@")[0].replace("__", "/")
            add(decode_audio(path, sample_rate_hz=RATE_HZ).samples, False, half_of(track), track)
    if not vecs:
        raise SystemExit(f"--fit-gate: no music excerpts in {folder}; run run_check.py false-alarms first")
    for loader in (speakers_klettres, speakers_ktuberling, speakers_fillets):
        for speaker, files in loader().items():
            for u in build_utterances(files, utterance_s=12.0, max_utterances=3, seed=speaker):
                add(u, True, speaker_half(speaker), speaker)
    if shutil.which("espeak-ng"):
        with tempfile.TemporaryDirectory() as tmp:
            for voice in ESPEAK_VOICES:
                for i in range(2):
                    a = espeak(ENGLISH_SENTENCES[2 * i], voice, Path(tmp))
                    b = espeak(ENGLISH_SENTENCES[2 * i + 1], voice, Path(tmp))
                    add(np.concatenate([a, GAP, b]), True, speaker_half(f"espeak/{voice}"), f"espeak/{voice}")
    x = np.array(vecs, dtype=np.float64)
    y = np.array(is_speech_, dtype=bool)
    train = np.array(halves) == "A"
    fit = fit_speech_gate(x[train], y[train])
    w = np.array(fit["weights"])
    z = x @ w + fit["bias"]
    threshold = fit["threshold"]
    test = ~train
    out = {"windows": {"train_speech": int((train & y).sum()), "train_music": int((train & ~y).sum()),
                       "test_speech": int((test & y).sum()), "test_music": int((test & ~y).sum())},
           "speakers": {h: len({g for g, hh, s in zip(groups, halves, y) if s and hh == h}) for h in ("A", "B")},
           "music_tracks": {h: len({g for g, hh, s in zip(groups, halves, y) if not s and hh == h}) for h in ("A", "B")},
           "threshold": threshold, "bias": fit["bias"]}
    for name, m in (("train", train), ("test", test)):
        for cls, sel in (("speech", m & y), ("music", m & ~y)):
            k, n = int((z[sel] >= threshold).sum()), int(sel.sum())
            out[f"{name}_{cls}_pass"] = [k, n, round(k / max(1, n), 4), [round(v, 4) for v in wilson(k, n)]]
    if args.write:
        target = Path(__file__).resolve().parents[1] / "src" / "consentry" / "engines" / "voice" / "gate_weights.py"
        rows = [", ".join(f"{v:.6f}" for v in w[i:i + 8]) for i in range(0, len(w), 8)]
        text = target.read_text()
        head = text[: text.index("WEIGHTS = (")]
        target.write_text(head + "WEIGHTS = (\n" + "".join(f"    {r},\n" for r in rows) + ")\n"
                          + f"BIAS = {fit['bias']:.6f}\nTHRESHOLD = {threshold:.6f}\n")
    if getattr(args, "record", None):
        record = Path(args.record)
        np.savez_compressed(record.with_suffix(".npz"), x=x[train].astype(np.float16), is_speech=y[train])
        record.write_text(json.dumps({"command": "benchmarks/run_voice.py --fit-gate", "fit": fit, "measured": out},
                                     indent=0) + "\n")
    return out


def _pairs(embeddings: dict[str, list[np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    _, t, n = summarise(embeddings)
    return t, n


if __name__ == "__main__":
    raise SystemExit(main())
