"""``run_voice.py --windowed --fresh-cache FILE``: the voice check measured on speakers that no fit has seen.

Half B of ``--windowed`` was looked at when the check's statistic was chosen (2026-12-07), so it no longer
measures a choice independently.  These outputs are made in the same way from the Asterisk telephone prompts
(:func:`run_voice.speakers_asterisk`: professional speakers, recorded at 8 kHz, none of whom is in the
KDE or fillets-ng data), pasted into the speech of the other Asterisk speakers or into half B's unregistered
music.  Each output is compared with a registry of the Asterisk voices and half B's voices: no speaker of the
fitting half (A) is pasted, heard or compared, and half B's voices are distractors only (never pasted).
Thresholds are the ones fitted on half A (:func:`voice_windowed.windowed`); nothing is fitted here.

Install first (nothing is downloaded at run time)::

    apt-get install -y --no-install-recommends asterisk-core-sounds-en-wav asterisk-core-sounds-es-wav \\
        asterisk-core-sounds-fr-wav asterisk-core-sounds-it-wav asterisk-core-sounds-ru-wav \\
        asterisk-prompt-es-co asterisk-prompt-fr-armelle asterisk-prompt-it-menardi-wav
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

from consentry.engines.voice.encoder import embed_voice
from run_voice import RATE_HZ, build_utterances, may_be_same, music_backgrounds, speakers_asterisk
from voice_windowed import (WINDOWED_OUTPUTS, cached, enrolled_prints, measure, mix_output, output_prints,
                            score_outputs)

#: Version of the fresh outputs' recipe, kept in the cache.
FRESH_RECIPE = 1
#: Outputs per fresh speaker: the half-A recipe twice (the speakers have far more speech than the KDE ones).
FRESH_OUTPUTS = WINDOWED_OUTPUTS * 2
#: Utterances of >= 12 s per fresh speaker: the first is enrolled, the others are pasted and heard.
FRESH_UTTERANCES = 9
#: Half of the unregistered music heard behind the fresh speakers (half A's tracks are the fit's).
FRESH_MUSIC_HALF = "B"


def fresh_people() -> dict[str, list[np.ndarray]]:
    """Asterisk speakers with at least 3 utterances of >= 12 s (up to :data:`FRESH_UTTERANCES`)."""
    people = {}
    for speaker, files in speakers_asterisk().items():
        utts = build_utterances(files, utterance_s=12.0, max_utterances=FRESH_UTTERANCES, seed=speaker)
        if len(utts) >= 3:
            people[speaker] = utts
    return people


def fresh_mixes(people: dict[str, list[np.ndarray]], music_dir: Path | None = None):
    """The fresh 60-s outputs (16 kHz), in a fixed order: yields ``(meta, samples)`` as
    :func:`voice_windowed.windowed_mixes` does, with ``half`` = ``"fresh"``.

    The background speakers of an output are other fresh speakers, never one who may be the pasted one
    (:func:`run_voice.may_be_same`: Allison's English and Spanish prompts).
    """
    rng = np.random.default_rng(2112)
    n_out = RATE_HZ * 60
    tracks = music_backgrounds(FRESH_MUSIC_HALF, music_dir)
    if not tracks:
        raise SystemExit("--fresh-cache: no half-B music in the --music-dir; run run_check.py false-alarms first")
    for speaker, utts in people.items():
        pool = sorted(s for s in people if not may_be_same(s, speaker))
        for k, (kind, dur) in enumerate(FRESH_OUTPUTS):
            source = np.concatenate(utts[1:]) if dur > 5 else utts[1 + k % (len(utts) - 1)]
            p0 = int(rng.integers(0, max(1, source.size - dur * RATE_HZ)))
            probe = source[p0:p0 + dur * RATE_HZ]
            present, at, x = mix_output(rng, probe, kind, dur, pool, lambda s: people[s][1:], tracks, n_out)
            yield ({"probe": speaker, "present": present, "dataset": "asterisk", "half": "fresh",
                    "background": kind, "voice_s": dur, "at_s": at / RATE_HZ}, x)


def fresh_outputs(cache: Path, music_dir: Path | None = None) -> dict:
    """The fresh outputs' window prints and the fresh speakers' enrolled prints (made once, kept in ``cache``)."""
    from consentry.engines.voice.model import load_voice_model, voice_print

    if cache.is_file():
        return cached(cache, FRESH_RECIPE, "fresh recipe", "--fresh-cache")
    model = load_voice_model()
    people = fresh_people()
    enrolled = {}
    for s, utts in people.items():
        new = voice_print(utts[0], sample_rate_hz=RATE_HZ, model=model).vector
        old = embed_voice(utts[0], sample_rate_hz=RATE_HZ, encoder=model.ge2e).vector
        if new is not None and old is not None:
            enrolled[s] = {"dataset": "asterisk", "half": "fresh", "ge2e": old, "campplus": new,
                           "campplus_extra": []}
    people = {s: u for s, u in people.items() if s in enrolled}
    outputs = [meta | output_prints(model, x) for meta, x in fresh_mixes(people, music_dir)]
    data = {"enrolled": enrolled, "outputs": outputs, "engine": model.engine, "recipe": FRESH_RECIPE}
    cache.parent.mkdir(parents=True, exist_ok=True)
    with open(cache, "wb") as fh:
        pickle.dump(data, fh)
    return data


def fresh_rows(fresh: dict, base: dict | None, *, statistic: str, min_speech_s: float,
               model: str = "campplus") -> list[dict]:
    """Rows (:func:`voice_windowed.score_outputs`) of the fresh outputs against the fresh and half-B voices
    (only the fresh ones when ``base`` is None)."""
    registry = {s: e for s, e in fresh["enrolled"].items()}
    registry |= {s: e for s, e in (base or {"enrolled": {}})["enrolled"].items() if e["half"] == "B"}
    names = sorted(registry)
    return score_outputs(fresh["outputs"], names, [enrolled_prints(registry[s], "one", model) for s in names],
                         statistic=statistic, min_speech_s=min_speech_s, model=model, half="fresh")


def fresh_report(rows: list[dict], threshold: float) -> dict:
    """Detection and false matches of the fresh rows at ``threshold``, per speaker and per kind of false match."""
    from fitting import wilson

    out = measure(rows, threshold, "fresh")
    out["per_speaker_detected"] = {s: [sum(r["target"] >= threshold for r in rows if r["probe"] == s),
                                       sum(r["probe"] == s for r in rows)] for s in sorted({r["probe"] for r in rows})}
    pairs = [(r["probe"], n) for r in rows for v, n in zip(r["nontargets"], r["nontarget_names"]) if v >= threshold]
    out["false_matches"] = [f"{a} -> {b}" for a, b in pairs]
    for name, in_group in (("fresh_voices", lambda n: n.startswith("asterisk/")),
                           ("half_B_voices", lambda n: not n.startswith("asterisk/"))):
        k = sum(in_group(b) for _, b in pairs)
        total = sum(in_group(n) for r in rows for n in r["nontarget_names"])
        out[f"false_accepts_per_comparison_with_{name}"] = [k, total, [round(v, 5) for v in wilson(k, total)]]
    return out
