"""The shipped voice check (band prints on, the narrow-output penalty, the shipped thresholds) on the Asterisk outputs.

    nice -n 10 .venv/bin/python benchmarks/voice_shipped.py [--pairs] [--out FILE]

Since session 7 ``consentry voices enroll`` keeps a telephone-band print beside each wideband print, and
``consentry check`` lowers the band-limited windows' similarities by ``VOICE_NARROW_BAND_PENALTY`` in outputs whose
speech windows are mostly band-limited (voice_twoprints.py's rule ``two_prints``).  This re-measures that
configuration on the Asterisk telephone prompts (voice-fresh-v1.pkl) with registries drawn exactly as
voice_reference.held_out_report drew them (seed 2107; 1, 3, 7 of the Asterisk voices, 21 of the Asterisk and half B
voices).  **The set is not fresh:** it was scored in sessions 5, 6 and 7, so this is a re-measurement of the shipped
check, not a held-out test; nothing is fitted or chosen here.

The Asterisk band prints are made here from each speaker's enrolment clip (the first 12-s utterance, as
voice_fresh.py enrols), through the product's :func:`consentry.engines.voice.band.telephone_band`, and kept in
``--asterisk-prints-cache``; the clip's wideband print is made again and compared with the cached one, so the band
print is known to be of the same clip.  Half B's band prints are voice_twoprints.py's.

``--pairs``: cosine similarity of the enrolled prints of every pair of KDE/fillets voices (wideband, first clip and
extra clips), and half B's false matches with 21 voices, to judge whether two voices of different languages are one
person; ``--pitch LANG ...``: a rough pitch of klettres recordings (adult or child voice).  Both decide nothing.
"""

from __future__ import annotations

import argparse
import pickle
import time
from pathlib import Path

import numpy as np

#: Version of the Asterisk band prints' recipe (kept in the cache).
SHIPPED_RECIPE = 1


def asterisk_band_prints(cache: Path, fresh: dict) -> dict:
    """``{"prints": name -> band print (none where the gate refused), "same_clip": name -> cosine of the wideband
    print made again with the cached one}`` for the Asterisk voices enrolled in ``fresh``."""
    if cache.is_file():
        data = pickle.loads(cache.read_bytes())
        if data.get("recipe") == SHIPPED_RECIPE:
            return data
    from run_voice import RATE_HZ
    from voice_fresh import fresh_people

    from consentry.engines.voice.band import telephone_band
    from consentry.engines.voice.model import load_voice_model, voice_print

    model = load_voice_model()
    prints, same = {}, {}
    for s, utts in fresh_people().items():
        if s not in fresh["enrolled"]:
            continue
        again = voice_print(utts[0], sample_rate_hz=RATE_HZ, model=model).vector
        same[s] = None if again is None else round(float(_cos(again, fresh["enrolled"][s]["campplus"])), 6)
        v = voice_print(telephone_band(utts[0], sample_rate_hz=RATE_HZ), sample_rate_hz=RATE_HZ, model=model)
        if v.vector is not None:
            prints[s] = v.vector
    data = {"recipe": SHIPPED_RECIPE, "prints": prints, "same_clip": same}
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_bytes(pickle.dumps(data))
    return data


def _cos(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def asterisk_report(wide: dict, fresh: dict, levels_fresh: dict, b_prints: dict, ast_prints: dict,
                    penalty: float, share: float) -> dict:
    """``check_now`` (wideband prints, no penalty: the check before band prints) and the shipped ``two_prints`` on
    the Asterisk outputs, registries as voice_reference.held_out_report draws them (seed 2107)."""
    from voice_bandwise import HELD_OUT_SIZES, totals
    from voice_twoprints import HELD_OUT_SEED, score, with_second

    half_b = sorted(s for s, e in wide["enrolled"].items() if e["half"] == "B")
    asterisk = sorted(fresh["enrolled"])
    enrolled = with_second({**{s: wide["enrolled"][s] for s in half_b}, **fresh["enrolled"]},
                           {**b_prints, **ast_prints})
    pools = {n: asterisk if n < 21 else asterisk + half_b for n in HELD_OUT_SIZES}
    by = score(fresh["outputs"], enrolled, pools, levels_fresh, HELD_OUT_SIZES, HELD_OUT_SEED, penalty, share)
    details = [r for n in HELD_OUT_SIZES for r in false_matches(fresh["outputs"], enrolled, pools[n], levels_fresh, n)
               if r["rule"] == "two_prints"]
    return {"outputs": len(fresh["outputs"]), "pools": {str(n): len(p) for n, p in pools.items()},
            "voices_with_band_print": {"asterisk": [sum(s in ast_prints for s in asterisk), len(asterisk)],
                                       "half_B": [sum(s in b_prints for s in half_b), len(half_b)]},
            "narrow_outputs": narrow_outputs(fresh["outputs"], levels_fresh, share),
            "by_registry_size": by,
            "shipped_false_matches": details,
            "totals": {r: totals({"x": by}, r, ["x"]) for r in ("check_now", "two_prints", "two_prints_band_step")}}


def narrow_outputs(outputs: list[dict], levels: dict, share: float, *, windows: bool = False) -> list[int]:
    """[outputs where the penalty applies (at least ``share`` of the kept windows band-limited), outputs]; with
    ``windows``: [band-limited kept windows, kept windows] over ``outputs``."""
    from voice_bandwise import _key

    from consentry.services.check.service import VOICE_MIN_WINDOW_SPEECH_S, VOICE_NARROW_BAND_DB

    n = k = m = 0
    for o in outputs:
        keep = o["speech_s"] >= VOICE_MIN_WINDOW_SPEECH_S - 1e-9
        narrow = np.nan_to_num(levels[_key(o)][keep], nan=0.0) < VOICE_NARROW_BAND_DB
        n += bool(narrow.size) and narrow.mean() >= share
        k, m = k + int(narrow.sum()), m + narrow.size
    return [int(k), int(m)] if windows else [int(n), len(outputs)]


def voice_pairs(wide: dict, names: list[str]) -> dict:
    """Cosine similarities of enrolled wideband prints: each of ``names``' pairs (first clips, and the best and mean
    over all clip pairs), beside the distribution over every pair of different-language voices of the KDE /
    fillets sets (first clips) and over each voice's own clips (first against its extra clips)."""
    from run_voice import language_of, may_be_same

    def clips(s: str) -> list[np.ndarray]:
        e = wide["enrolled"][s]
        return [np.asarray(e["campplus"]), *[np.asarray(v) for v in e.get("campplus_extra", [])]]

    voices = sorted(wide["enrolled"])
    cross = [_cos(clips(a)[0], clips(b)[0]) for i, a in enumerate(voices) for b in voices[i + 1:]
             if not may_be_same(a, b) and language_of(a) != language_of(b)]
    own = [_cos(c[0], x) for s in voices for c in [clips(s)] for x in c[1:]]
    pairs = {}
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            all_pairs = [_cos(x, y) for x in clips(a) for y in clips(b)]
            first = _cos(clips(a)[0], clips(b)[0])
            pairs[f"{a} ~ {b}"] = {"first_clips": round(first, 4), "best_clip_pair": round(max(all_pairs), 4),
                                   "mean_clip_pairs": round(float(np.mean(all_pairs)), 4),
                                   "cross_language_pairs_at_or_above": int(sum(v >= first for v in cross))}

    def summary(v: list[float]) -> dict:
        q = np.quantile(v, [0.5, 0.95, 0.99]) if v else [np.nan] * 3
        return {"pairs": len(v), "median": round(float(q[0]), 4), "p95": round(float(q[1]), 4),
                "p99": round(float(q[2]), 4), "max": round(float(max(v, default=np.nan)), 4),
                "min": round(float(min(v, default=np.nan)), 4)}

    own_of = {s: [round(_cos(clips(s)[0], x), 4) for x in clips(s)[1:]] for s in names}
    return {"pairs": pairs, "own_clips": own_of, "different_language_voices": summary(cross),
            "same_voice_other_clip": summary(own),
            "same_voice_below": {k: int(sum(v < p["first_clips"] for v in own)) for k, p in pairs.items()}}


def false_matches(outputs: list[dict], enrolled: dict, pool: list[str], levels: dict, n: int) -> list[dict]:
    """The outputs with a false match at registry size ``n`` under ``check_now`` and the shipped ``two_prints``,
    registries drawn from ``pool`` as :func:`voice_bandwise.by_size` draws them (seed 2107 + ``n``): who matched, at
    what score, and who is heard."""
    from voice_bandwise import rows_of
    from voice_reference import registries
    from voice_twoprints import HELD_OUT_SEED

    from consentry.engines.voice.score import window_threshold
    from consentry.services.check.service import VOICE_NARROW_BAND_PENALTY, VOICE_NARROW_OUTPUT_SHARE

    rng = np.random.default_rng(HELD_OUT_SEED + n)
    draws = [registries(o, pool, n, rng) for o in outputs]
    out = []
    for o, (_, without) in zip(outputs, draws):
        for rule, delta, enrolment in (("check_now", 0.0, "one"),
                                       ("two_prints", (VOICE_NARROW_BAND_PENALTY, VOICE_NARROW_OUTPUT_SHARE), "set")):
            row = rows_of([o], enrolled, without, levels, delta, enrolment=enrolment)[0]
            hits = {s: round(v, 4) for s, v in zip(row["nontarget_names"], row["nontargets"])
                    if v >= window_threshold(len(without))}
            if hits:
                out.append({"voices": n, "rule": rule, "probe": o["probe"], "present": o["present"],
                            "background": o["background"], "voice_s": o["voice_s"], "at_s": round(o["at_s"], 2),
                            "windows_band_limited": narrow_outputs([o], levels, 0.0, windows=True), "false": hits})
    return out


def half_b_false_at_21(wide: dict, b_prints: dict, levels_wide: dict) -> list[dict]:
    """:func:`false_matches` of half B's wideband outputs with 21 voices of half B and half A, as
    voice_twoprints.held_out drew them."""
    from voice_twoprints import with_second

    enrolled = with_second(wide["enrolled"], b_prints)
    pool = sorted(s for s, e in enrolled.items() if e["half"] == "B")
    pool += sorted(s for s, e in enrolled.items() if e["half"] == "A")
    return false_matches([o for o in wide["outputs"] if o["half"] == "B"], enrolled, pool, levels_wide, 21)


def frame_f0(x: np.ndarray, rate: int, *, lo_hz: float = 60.0, hi_hz: float = 500.0) -> list[float]:
    """Pitch (Hz) of the voiced 40-ms frames (10-ms hop) of ``x`` (mono, shape (n,)): the lag of the highest
    normalised autocorrelation between 1/``hi_hz`` and 1/``lo_hz``, kept where it is above 0.6 and the frame's level
    is at least half the clip's RMS.  A rough estimate for telling adult from child voices, not a pitch tracker."""
    x = np.asarray(x, np.float64)
    n, hop = int(0.04 * rate), int(0.01 * rate)
    level = np.sqrt(np.mean(x ** 2)) + 1e-12
    lo, hi = int(rate / hi_hz), int(rate / lo_hz)
    out = []
    for i in range(0, x.size - n, hop):
        f = x[i:i + n] - x[i:i + n].mean()
        if np.sqrt(np.mean(f ** 2)) < 0.5 * level:
            continue
        ac = np.correlate(f, f, "full")[n - 1:]
        ac = ac / (ac[0] + 1e-12)
        k = lo + int(np.argmax(ac[lo:hi]))
        if ac[k] > 0.6:
            out.append(rate / k)
    return out


def pitch_of(languages: list[str], root: Path = Path("/usr/share/klettres"), files: int = 60) -> dict:
    """10th, 50th and 90th percentile of :func:`frame_f0` over the first ``files`` recordings of each klettres
    language (letters, then syllables, sorted by path)."""
    from consentry.io.decode import decode_audio

    out = {}
    for lang in languages:
        f0: list[float] = []
        for f in sorted((root / lang).glob("*/*.ogg"))[:files]:
            f0 += frame_f0(decode_audio(f, sample_rate_hz=16_000).samples, 16_000)
        q = np.quantile(f0, [0.1, 0.5, 0.9]) if f0 else [np.nan] * 3
        out[lang] = {"frames": len(f0), "f0_p10_p50_p90_hz": [round(float(v)) for v in q]}
    return out


def main() -> None:
    from voice_bandwise import cache_options, write_report
    from voice_fresh import FRESH_RECIPE
    from voice_twoprints import b_second_prints
    from voice_windowed import WINDOWED_RECIPE, cached

    from consentry.services.check.service import VOICE_NARROW_BAND_PENALTY, VOICE_NARROW_OUTPUT_SHARE

    ap = cache_options(argparse.ArgumentParser(description=__doc__,
                                               formatter_class=argparse.RawDescriptionHelpFormatter))
    ap.add_argument("--fresh-cache", default="benchmarks/work/voice-fresh-v1.pkl")
    ap.add_argument("--b-prints-cache", default="benchmarks/work/voice-twoprints-B-v1.pkl")
    ap.add_argument("--asterisk-prints-cache", default="benchmarks/work/voice-shipped-asterisk-v1.pkl")
    ap.add_argument("--pairs", nargs="*", default=None, metavar="VOICE",
                    help="also the print similarities of these voices' pairs (default: klettres pt_BR, tn, lt)")
    ap.add_argument("--pitch", nargs="+", default=None, metavar="LANG",
                    help="also a rough median pitch of these klettres languages' recordings (e.g. pt_BR tn lt)")
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    t0, c0 = time.time(), time.process_time()
    wide = cached(Path(a.cache), WINDOWED_RECIPE, "--windowed recipe", "--cache")
    fresh = cached(Path(a.fresh_cache), FRESH_RECIPE, "fresh recipe", "--fresh-cache")
    levels = pickle.loads(Path(a.levels_cache).read_bytes())
    if "fresh" not in levels:
        raise SystemExit("--levels-cache: no levels of the Asterisk outputs; run voice_bandwise.py first")
    ast = asterisk_band_prints(Path(a.asterisk_prints_cache), fresh)
    b_prints = b_second_prints(Path(a.b_prints_cache))
    penalty, share = VOICE_NARROW_BAND_PENALTY, VOICE_NARROW_OUTPUT_SHARE
    report: dict = {"penalty": penalty, "narrow_output_share": share,
                    "asterisk_same_clip_cosine": ast["same_clip"],
                    "asterisk": asterisk_report(wide, fresh, levels["fresh"], b_prints, ast["prints"], penalty, share)}
    if a.pairs is not None:
        report["voice_pairs"] = voice_pairs(wide, a.pairs or ["klettres/pt_BR", "klettres/tn", "klettres/lt"])
        report["half_B_false_at_21"] = half_b_false_at_21(wide, b_prints, levels["wide"])
    if a.pitch:
        report["pitch"] = pitch_of(a.pitch)
    write_report(report, a.out, t0, c0)


if __name__ == "__main__":
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    main()
