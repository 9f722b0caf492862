"""``run_voice.py --windowed``: a brief voice inside 60 s of other speech or music, fitted on one half of the
speakers and measured on the other (docs/voice.md, benchmarks/RESULTS.md).

The outputs (:func:`windowed_mixes`) and their window prints (:func:`windowed_outputs`, cached with
``--cache``) are made once; :func:`decision_rows` turns them into one row per output for a decision
statistic (the best raw window, or the best cohort-normalised window), a least speech per window and an
enrolment (one 12-s utterance, or that with up to :data:`EXTRA_ENROLMENT` more, averaged or kept as a set);
:func:`windowed` fits each statistic's threshold on half A and measures it on half B.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np

from consentry.engines.voice.encoder import embed_voice
from consentry.engines.voice.score import COHORT_MIN, cohort_normalised, equal_error_rate
from consentry.io.decode.audio import decode_audio
from run_voice import (RATE_HZ, build_utterances, may_be_same, music_backgrounds, speaker_half, speakers_fillets,
                       speakers_klettres, speakers_ktuberling)

#: Outputs per human speaker in ``--windowed``: (background, seconds of the speaker's voice pasted in).
WINDOWED_OUTPUTS = (("speech", 5), ("speech", 5), ("speech", 5), ("speech", 5), ("music", 5), ("music", 5),
                    ("speech", 20), ("speech", 20), ("music", 20))
#: Speakers whose speech makes the background of an output "in other speech": of the pasted speaker's half.
BACKGROUND_SPEAKERS = 3
#: Version of the outputs' recipe, kept in the cache (an old cache is refused, not silently reused).
#: 3: windows with at least :data:`WINDOW_SPEECH_FLOOR_S` of speech are kept, with their speech, so that the
#: check's least speech per window can be compared; extra enrolment utterances (:data:`EXTRA_ENROLMENT`).
WINDOWED_RECIPE = 3
#: Least speech (s) of the windows the cache keeps; the statistics then keep those with the speech they ask for.
WINDOW_SPEECH_FLOOR_S = 0.5
#: Utterances of >= 12 s beyond the 5 the outputs draw on, printed as extra enrolment where a speaker has them.
EXTRA_ENROLMENT = 3


def windowed_people(*, extra: int = 0) -> dict[str, tuple[str, list[np.ndarray]]]:
    """Speakers of ``--windowed`` with 3-5 utterances of >= 12 s: name -> (data set, utterances).

    The outputs draw on the first 5 at most; with ``extra``, up to that many
    more follow them (the same shuffle, so the first 5 are unchanged), for
    extra enrolment only.
    """
    people: dict[str, tuple[str, list[np.ndarray]]] = {}
    for name, loader in (("klettres", speakers_klettres), ("ktuberling", speakers_ktuberling), ("fillets", speakers_fillets)):
        for speaker, files in loader().items():
            utts = build_utterances(files, utterance_s=12.0, max_utterances=5 + extra, seed=speaker)
            if len(utts) >= 3:
                people[speaker] = (name, utts)
    return people


def windowed_mixes(people: dict, enrolled: dict, music_dir: Path | None = None):
    """The 60-s outputs of ``--windowed`` (16 kHz), in a fixed order: yields ``(meta, samples)``.

    ``meta``: ``probe`` (the pasted speaker), ``present`` (the background
    speakers), ``dataset``, ``half``, ``background`` ("speech" or "music"),
    ``voice_s`` and ``at_s`` (where the voice was pasted).  See
    :func:`windowed_outputs`.
    """
    rng = np.random.default_rng(77)
    n_out = RATE_HZ * 60
    for speaker, (dataset, utts) in people.items():
        if speaker not in enrolled:
            continue
        half = speaker_half(speaker)
        pool = sorted(s for s in people if s != speaker and speaker_half(s) == half)
        tracks = music_backgrounds(half, music_dir)
        utts = utts[:5]  # what follows is extra enrolment (windowed_people(extra=...))
        for k, (kind, dur) in enumerate(WINDOWED_OUTPUTS):
            source = np.concatenate(utts[1:]) if dur > 5 else utts[1 + k % (len(utts) - 1)]
            p0 = int(rng.integers(0, max(1, source.size - dur * RATE_HZ)))
            probe = source[p0:p0 + dur * RATE_HZ]
            present, at, x = mix_output(rng, probe, kind, dur, pool, lambda s: people[s][1][1:5], tracks, n_out)
            yield ({"probe": speaker, "present": present, "dataset": dataset, "half": half,
                    "background": kind, "voice_s": dur, "at_s": at / RATE_HZ}, x)


def cached(cache: Path, recipe: int, what: str, option: str) -> dict:
    """The prints kept in ``cache``, refused (exit) when an older ``recipe`` made them."""
    with open(cache, "rb") as fh:
        data = pickle.load(fh)
    if data.get("recipe") != recipe:
        raise SystemExit(f"{cache}: made by an older {what}; delete it or name another {option}")
    return data


def mix_output(rng, probe: np.ndarray, kind: str, dur: int, pool: list[str], utterances_of, tracks: list,
               n_out: int) -> tuple[list[str], int, np.ndarray]:
    """One output of ``n_out`` samples: ``probe`` (``dur`` s of the pasted voice) put 5 s or more from either
    end, over :data:`BACKGROUND_SPEAKERS` speakers of ``pool`` (their utterances by ``utterances_of``, shuffled)
    when ``kind`` is ``"speech"``, else over a stretch of one of ``tracks`` (peak 0.5).

    Returns ``(present, at, samples)``: the background speakers, where the voice starts (samples), the output.
    The random draws are made in one fixed order, so a seed gives the same outputs.
    """
    present: list[str] = []
    if kind == "speech":
        present = [pool[i] for i in sorted(rng.choice(len(pool), BACKGROUND_SPEAKERS, replace=False))]
        others = [u for s in present for u in utterances_of(s)]
        order = rng.permutation(len(others))
        bg = np.concatenate([others[i] for i in order])[:n_out]
    else:
        music = decode_audio(tracks[int(rng.integers(len(tracks)))], sample_rate_hz=RATE_HZ).samples
        m0 = int(rng.integers(0, max(1, music.size - n_out)))
        bg = music[m0:m0 + n_out] / max(1e-6, float(np.abs(music[m0:m0 + n_out]).max())) * 0.5
    x = np.zeros(n_out, np.float32)
    x[: bg.size] = bg
    at = int(rng.integers(5 * RATE_HZ, (55 - dur) * RATE_HZ))
    x[at:at + probe.size] = probe
    return present, at, x


def windowed_outputs(cache: Path | None = None, music_dir: Path | None = None) -> dict:
    """The outputs of ``--windowed`` as window prints of both models (cached in ``cache`` when given).

    Per human speaker: utterance 0 (>= 12 s) is enrolled; for each entry of
    :data:`WINDOWED_OUTPUTS`, 5 or 20 s of the speaker's other utterances are
    pasted at a random place into a 60-s background: other speakers' speech
    (the other utterances of :data:`BACKGROUND_SPEAKERS` other speakers of
    the *same* half, shuffled and joined; they are listed in the output's
    ``present``) or unregistered music (a whole track of the same half as
    the speaker, from ``music_dir``).  So an output of half A holds nothing
    of half B: no speaker of half B is pasted, heard in the background or
    (in :func:`windowed`) compared with it.  Each output keeps its GE2E
    windows (3 s every 1.5 s), the gate's verdict on each and, for those
    that pass, the CAM++ print of the window's audio, exactly as
    ``consentry check`` makes them (consentry.engines.voice.model).
    """
    from consentry.engines.voice.model import load_voice_model, voice_print

    if cache is not None and cache.is_file():
        return cached(cache, WINDOWED_RECIPE, "--windowed recipe", "--cache")
    model = load_voice_model()
    people = windowed_people(extra=EXTRA_ENROLMENT)
    enrolled = {}
    for s, (dataset, u) in people.items():
        new = voice_print(u[0], sample_rate_hz=RATE_HZ, model=model).vector
        old = embed_voice(u[0], sample_rate_hz=RATE_HZ, encoder=model.ge2e).vector
        if new is not None and old is not None:
            extra = [voice_print(v, sample_rate_hz=RATE_HZ, model=model).vector for v in u[5:]]
            enrolled[s] = {"dataset": dataset, "half": speaker_half(s), "ge2e": old, "campplus": new,
                           "campplus_extra": [v for v in extra if v is not None]}
    outputs = [meta | output_prints(model, x) for meta, x in windowed_mixes(people, enrolled, music_dir)]
    data = {"enrolled": enrolled, "outputs": outputs, "engine": model.engine, "recipe": WINDOWED_RECIPE}
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        with open(cache, "wb") as fh:
            pickle.dump(data, fh)
    return data


def output_prints(model, x: np.ndarray) -> dict:
    """One output's speech-gated windows as ``consentry check`` makes them: starts (s), speech (s), GE2E and
    CAM++ prints (rows), for windows with at least :data:`WINDOW_SPEECH_FLOOR_S` of speech."""
    from consentry.engines.voice.encoder import embed_voice_windows
    from consentry.engines.voice.gate import is_speech
    from consentry.engines.voice.model import window_prints
    from consentry.services.check.service import VOICE_HOP_S, VOICE_WINDOW_S

    track = embed_voice_windows(x, sample_rate_hz=RATE_HZ, encoder=model.ge2e, window_s=VOICE_WINDOW_S,
                                hop_s=VOICE_HOP_S, min_window_speech_s=WINDOW_SPEECH_FLOOR_S)
    ge2e = np.stack([w.vector for w in track.windows]) if track.windows else np.zeros((0, 256), np.float32)
    keep = is_speech(ge2e) if len(ge2e) else np.zeros(0, bool)
    gated = [(w.start_s, w.end_s) for w, k in zip(track.windows, keep) if k]
    return {"starts": np.array([w[0] for w in gated]),
            "speech_s": np.array([w.speech_s for w, k in zip(track.windows, keep) if k]),
            "ge2e": ge2e[keep] if len(ge2e) else ge2e, "campplus": window_prints(model, x, gated)}


#: The decision statistics compared: (name, statistic, least speech per window in s, enrolment).  The first is
#: the check before 2026-12-07 14:00 (best raw window, windows with >= 1.5 s of speech, one enrolment clip).
VARIANTS = (
    ("best_window", "best_window", 1.5, "one"),
    ("best_window_speech_1s", "best_window", 1.0, "one"),
    ("best_window_speech_0.5s", "best_window", 0.5, "one"),
    ("cohort", "cohort", 1.5, "one"),
    ("cohort_speech_1s", "cohort", 1.0, "one"),
    ("cohort_speech_0.5s", "cohort", 0.5, "one"),
    ("best_window_enrol_mean", "best_window", 1.5, "mean"),
    ("best_window_enrol_set", "best_window", 1.5, "set"),
    ("cohort_enrol_set", "cohort", 1.5, "set"),
    ("mean_of_best_two", "mean_of_best_two", 1.5, "one"),
)


def _unit(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, dtype=np.float64)
    return v / (float(np.linalg.norm(v)) or 1.0)


def enrolled_prints(entry: dict, enrolment: str, model: str = "campplus") -> np.ndarray:
    """A speaker's enrolled print(s), shape (k, d): ``one`` clip, the ``mean`` of all clips, or the ``set``."""
    first = _unit(entry[model])
    extra = [_unit(v) for v in entry.get(f"{model}_extra", [])] if model == "campplus" else []
    if enrolment == "one" or not extra:
        return first[None, :]
    if enrolment == "mean":
        return _unit(np.sum([first, *extra], axis=0))[None, :]
    return np.stack([first, *extra])


def decision_rows(data: dict, *, statistic: str, min_speech_s: float, enrolment: str = "one",
                  model: str = "campplus") -> list[dict]:
    """One row per output of ``data``: the target's statistic and every compared non-target's.

    The registry of an output is every speaker enrolled in its half; see :func:`score_outputs`.
    """
    enrolled, rows = data["enrolled"], []
    for half in ("A", "B"):
        names = sorted(s for s, e in enrolled.items() if e["half"] == half)
        if names:
            rows += score_outputs([o for o in data["outputs"] if o["half"] == half], names,
                                  [enrolled_prints(enrolled[s], enrolment, model) for s in names],
                                  statistic=statistic, min_speech_s=min_speech_s, model=model, half=half)
    return rows


def score_outputs(outputs: list[dict], names: list[str], prints: list[np.ndarray], *, statistic: str,
                  min_speech_s: float, model: str = "campplus", half: str, normalise=None) -> list[dict]:
    """One row per output against the registry ``names`` (enrolled ``prints``, shape (k, d) each).

    The speakers heard in an output's background, and any registered voice
    that may be one of them (:func:`run_voice.may_be_same`), are in the
    registry (so in the cohort of ``statistic="cohort"``) but not compared:
    a match to them is not false; nor is a match to a voice that may be the
    pasted speaker's.  Windows with less than ``min_speech_s`` of speech are
    left out, as the check leaves them out.  ``statistic``: ``best_window``
    (the best window's similarity), ``mean_of_best_two`` or ``cohort`` (the
    best window of :func:`consentry.engines.voice.score.cohort_normalised`
    scores); ``normalise(sims, output, windows)``, when given, replaces the latter
    (voice_reference.py: a reference cohort).
    """
    if statistic == "cohort" and len(names) < COHORT_MIN + 1:
        raise SystemExit(f"--windowed: {half} has {len(names)} speakers, the cohort needs {COHORT_MIN + 1}")
    rows = []
    for o in outputs:
        keep = o["speech_s"] >= min_speech_s - 1e-9
        windows = np.asarray(o[model], dtype=np.float64)[keep]
        starts = o["starts"][keep]
        if len(windows):
            sims = np.stack([(windows @ p.T).max(axis=1) for p in prints], axis=1)  # (windows, creators)
            if normalise is not None:
                scored = normalise(sims, o, windows)
            else:
                scored = cohort_normalised(sims) if statistic == "cohort" else sims
            if statistic == "mean_of_best_two":
                per = np.sort(scored, axis=0)[-2:].mean(axis=0)
            else:
                per = scored.max(axis=0)
            where = scored.argmax(axis=0)
        else:
            per, where = np.full(len(names), -10.0 if statistic in ("cohort", "reference") else 0.0), None
        value = dict(zip(names, per.tolist()))
        probe = o["probe"]
        compared = [s for s in names if s == probe or not any(may_be_same(s, p) for p in o["present"])]
        others = [s for s in compared if not may_be_same(s, probe)]
        j = names.index(probe) if probe in names else None  # a registry without the pasted voice: no target
        rows.append({"half": half, "background": o["background"], "voice_s": o["voice_s"], "probe": probe,
                     "present": o["present"], "target": value.get(probe), "voices": len(compared),
                     "nontargets": [value[s] for s in others], "nontarget_names": others,
                     "located": where is not None and j is not None
                     and abs(float(starts[where[j]]) - o["at_s"]) <= o["voice_s"] + 1.5})
    return rows


GROUPS = (("speech", 5), ("speech", 20), ("music", 5), ("music", 20), ("all", None))


def measure(rows: list[dict], threshold: float, half: str) -> dict:
    """Detection and false matches of one half's rows at ``threshold``, per background and voice length."""
    from fitting import wilson

    out = {}
    for background, voice_s in GROUPS:
        sel = [r for r in rows if r["half"] == half and background in ("all", r["background"])
               and voice_s in (None, r["voice_s"])]
        if not sel:
            continue
        t = np.array([r["target"] for r in sel])
        n = np.array([v for r in sel for v in r["nontargets"]])
        hit = int((t >= threshold).sum())
        false_out = sum(max(r["nontargets"], default=-np.inf) >= threshold for r in sel)
        false_cmp = int((n >= threshold).sum())
        out[background + (f"_{voice_s}s" if voice_s else "")] = {
            "outputs": len(sel), "nontarget_trials": len(n),
            "eer": round(equal_error_rate(t, n)[0], 4) if len(n) else None,
            "detected": [hit, len(sel), round(hit / len(sel), 4), [round(v, 4) for v in wilson(hit, len(sel))]],
            "located": round(float(np.mean([r["located"] for r in sel if r["target"] >= threshold])), 4) if hit else None,
            "false_accepts_per_comparison": [false_cmp, len(n), [round(v, 5) for v in wilson(false_cmp, len(n))]],
            "outputs_with_a_false_match": [false_out, len(sel), [round(v, 4) for v in wilson(false_out, len(sel))]],
        }
    return out


def _check_split(data: dict) -> None:
    leaks = [o for o in data["outputs"] if any(speaker_half(s) != o["half"] for s in [o["probe"], *o["present"]])]
    if leaks:  # the split is the point of this benchmark: refuse to report across it
        raise SystemExit(f"--windowed: {len(leaks)} outputs hold a speaker of the other half")


def windowed(args) -> dict:
    """Each decision statistic of :data:`VARIANTS` fitted on half A and measured on half B; the shipped one recorded.

    Thresholds (:func:`fitting.fit_window_threshold`): 1 % of half A's
    outputs with a false match (the issue's rate, "false alarms <= 1 % on
    outputs that use nothing registered").  Over windows with at least
    ``VOICE_MIN_WINDOW_SPEECH_S`` of speech, one print per enrolled sample,
    the check decides on the best cohort-normalised window
    (``COHORT_THRESHOLD``) when more than ``COHORT_MIN`` creators are
    enrolled, else on the best window's CAM++ similarity (``campplus`` in
    the output: ``WINDOW_THRESHOLD``); ``ge2e`` is the latter with GE2E
    prints.  With ``--record FILE``, half A's rows of both (the data of the
    fits) are written there for tests/engines/test_constants.py.  With
    ``--fresh-cache FILE``, each one-clip statistic is also measured, at
    its half-A threshold, on speakers no fit has seen (:func:`fresh`).
    """
    from fitting import fit_window_threshold

    from consentry.services.check.service import VOICE_MIN_WINDOW_SPEECH_S

    cache = Path(args.cache) if getattr(args, "cache", None) else None
    music_dir = Path(args.music_dir) if getattr(args, "music_dir", None) else None
    data = windowed_outputs(cache, music_dir)
    _check_split(data)
    enrolled = data["enrolled"]
    out: dict = {"engine": data["engine"], "speakers": len(enrolled), "outputs": len(data["outputs"]),
                 "speakers_per_half": {h: sum(e["half"] == h for e in enrolled.values()) for h in ("A", "B")},
                 "speakers_with_extra_enrolment": sum(bool(e["campplus_extra"]) for e in enrolled.values()),
                 "outputs_per_speaker": [list(o) for o in WINDOWED_OUTPUTS],
                 "background_speakers": BACKGROUND_SPEAKERS, "variants": {}}
    out["shipped"] = {"statistic": f"cohort (more than {COHORT_MIN} creators), else best_window",
                      "min_window_speech_s": VOICE_MIN_WINDOW_SPEECH_S, "enrolment": "one"}
    for name, statistic, min_speech_s, enrolment in VARIANTS:
        rows = decision_rows(data, statistic=statistic, min_speech_s=min_speech_s, enrolment=enrolment)
        fit = fit_window_threshold([r for r in rows if r["half"] == "A"])
        out["variants"][name] = {"statistic": statistic, "min_window_speech_s": min_speech_s, "enrolment": enrolment,
                                 "fit_half_A": fit, "half_A": measure(rows, fit["threshold"], "A"),
                                 "half_B": measure(rows, fit["threshold"], "B")}
    rows = decision_rows(data, statistic="best_window", min_speech_s=VOICE_MIN_WINDOW_SPEECH_S)
    fit_rows = [r for r in rows if r["half"] == "A"]
    fit = fit_window_threshold(fit_rows)
    out["campplus"] = {"fit_half_A": fit, "half_A": measure(rows, fit["threshold"], "A"),
                       "half_B": measure(rows, fit["threshold"], "B")}
    record = {"command": "benchmarks/run_voice.py --windowed", "engine": data["engine"], "recipe": WINDOWED_RECIPE,
              "statistic": "best_window", "min_window_speech_s": VOICE_MIN_WINDOW_SPEECH_S,
              "nontargets": "compared voices that may not be the pasted speaker (run_voice.may_be_same)", "fit": fit,
              "rows_half_A": [{"target": round(r["target"], 6), "nontargets": [round(v, 6) for v in r["nontargets"]],
                               "probe": r["probe"], "present": r["present"], "nontarget_names": r["nontarget_names"]}
                              for r in fit_rows]}
    cohort_rows = [r for r in decision_rows(data, statistic="cohort", min_speech_s=VOICE_MIN_WINDOW_SPEECH_S)
                   if r["half"] == "A"]
    record["cohort"] = {"statistic": "cohort", "cohort_min": COHORT_MIN, "fit": fit_window_threshold(cohort_rows),
                        "rows_half_A": [{"target": round(r["target"], 6),
                                         "nontargets": [round(v, 6) for v in r["nontargets"]]} for r in cohort_rows]}
    ge2e = decision_rows(data, statistic="best_window", min_speech_s=VOICE_MIN_WINDOW_SPEECH_S, model="ge2e")
    fit = fit_window_threshold([r for r in ge2e if r["half"] == "A"])
    out["ge2e"] = {"fit_half_A": fit, "half_A": measure(ge2e, fit["threshold"], "A"),
                   "half_B": measure(ge2e, fit["threshold"], "B")}
    fresh_data = None
    if getattr(args, "fresh_cache", None):
        out["fresh"] = fresh(Path(args.fresh_cache), music_dir, data, out["variants"])
        from voice_fresh import fresh_outputs

        fresh_data = fresh_outputs(Path(args.fresh_cache), music_dir)
    if getattr(args, "channel_cache", None):
        from voice_reference import reference

        out["reference"], chosen = reference(args, data, fresh_data, music_dir)
        if chosen.get("winner"):  # a statistic chosen on dev: its fit and rows, for the test that refits it
            record["reference"] = chosen
    if getattr(args, "record", None):
        Path(args.record).write_text(json.dumps(record, indent=0) + "\n")
    return out


def fresh(cache: Path, music_dir: Path | None, data: dict, variants: dict) -> dict:
    """Each one-clip variant at its half-A threshold, measured on the fresh speakers (voice_fresh.py)."""
    from voice_fresh import fresh_outputs, fresh_report, fresh_rows

    new = fresh_outputs(cache, music_dir)
    out = {"engine": new["engine"], "speakers": sorted(new["enrolled"]), "outputs": len(new["outputs"]),
           "registry": len(new["enrolled"]) + sum(e["half"] == "B" for e in data["enrolled"].values()),
           "variants": {}}
    if new["engine"] != data["engine"]:
        raise SystemExit(f"--fresh-cache: made with {new['engine']}, the fit with {data['engine']}")
    known = set(data["enrolled"])
    if known & set(new["enrolled"]) or any(s in known for o in new["outputs"] for s in [o["probe"], *o["present"]]):
        raise SystemExit("--fresh-cache: a fresh output holds a speaker of the fitting data")
    for name, v in variants.items():
        if v["enrolment"] == "one":
            rows = fresh_rows(new, data, statistic=v["statistic"], min_speech_s=v["min_window_speech_s"])
            out["variants"][name] = {"threshold_half_A": v["fit_half_A"]["threshold"]} | fresh_report(
                rows, v["fit_half_A"]["threshold"])
    # The check's statistic with 10 or fewer creators, against a registry of the fresh voices only.
    v = variants["best_window_speech_0.5s"]
    rows = fresh_rows(new, None, statistic="best_window", min_speech_s=v["min_window_speech_s"])
    out["best_window_fresh_registry_only"] = {"registry": len(new["enrolled"])} | fresh_report(
        rows, v["fit_half_A"]["threshold"])
    return out
