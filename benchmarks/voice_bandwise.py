"""A voice decision that uses the measured bandwidth: a stricter threshold for band-limited windows, fitted on dev.

    nice -n 10 .venv/bin/python benchmarks/voice_bandwise.py --music-dir benchmarks/work/fa-outputs \\
        [--held-out] [--out FILE]

On telephone-band audio CAM++ prints of different people come out alike: the raw best window (0.59) falsely
matched 59-95 of 96 dev outputs through one 8-kHz channel (docs/voice.md, "Telephone-band audio").  The check
already measures each window's upper band (``upper_band_db``: power in 4.2-7.5 kHz against 0.1-7.5 kHz) and
cautions a finding under ``VOICE_NARROW_BAND_DB`` (-40 dB).  The candidate here, ``band_step``, judges a window
under that level against the window threshold raised by a penalty fitted on dev telephone outputs; wideband
windows keep the shipped threshold.  The enrolment's band is not stored in the registry, so the rule uses the
output window's band only.

Data (all from the caches of ``run_voice.py --windowed``; the audio is made again only to measure each cached
window's upper band, :func:`band_levels`, kept in ``--levels-cache``):

- dev ``wide``: half A's outputs and enrolments as recorded (voice-windowed-v4.pkl);
- dev ``g711`` and ``band``: half A's speech outputs through two telephone channels (voice_channel.py), scored
  against the same channel's enrolments (``phone``: voices recorded alike) and against the wideband enrolments
  (``wide_enrolment``: a voice registered from a good recording, heard over a telephone);
- held-out (``--held-out``, once): the Asterisk outputs (telephone prompts; voice-fresh-v1.pkl) and half B's.

Each registry of 1, 3 or 7 voices is drawn per output from the fold's voices, with the pasted voice (found)
and without any voice that may be it (false matches), as voice_reference.py does.  :func:`gate_refusals`
counts the speech gate's refusals of enrolment clips through each channel.
"""

from __future__ import annotations

import argparse
import json
import pickle
import resource
import time
from pathlib import Path

import numpy as np

#: Version of the levels' recipe (kept in the cache).
LEVELS_RECIPE = 1
#: The check's rate for the upper-band measure (it decodes outputs at MELODY_SAMPLE_RATE_HZ).
CHECK_RATE_HZ = 22_050


def _key(meta: dict) -> tuple:
    return (meta["half"], meta["probe"], round(float(meta["at_s"]), 4), int(meta["voice_s"]), meta["background"])


def window_levels_at(x16: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """``upper_band_db`` (the check's) of the 3-s windows of ``x16`` (16 kHz) that start at ``starts`` (s), measured
    as the check measures them, on the audio at :data:`CHECK_RATE_HZ`; NaN where it says None."""
    import soxr

    from consentry.services.check.service import VOICE_WINDOW_S, upper_band_db

    y = soxr.resample(np.asarray(x16, np.float32), 16_000, CHECK_RATE_HZ)
    n = int(VOICE_WINDOW_S * CHECK_RATE_HZ)
    out = []
    for s in np.asarray(starts, dtype=np.float64):
        i = int(round(s * CHECK_RATE_HZ))
        level = upper_band_db(y[i:i + n], CHECK_RATE_HZ)
        out.append(np.nan if level is None else level)
    return np.array(out, dtype=np.float64)


def band_levels(cache: Path, *, wide: dict, phone: dict[str, dict], fresh: dict | None,
                music_dir: Path | None) -> dict:
    """Per cached output and condition, the upper-band level of each of its cached windows (same order as its
    ``starts``): ``{condition: {key: levels}}``; made once (the outputs are made again, not printed)."""
    from voice_channel import telephone
    from voice_windowed import EXTRA_ENROLMENT, windowed_mixes, windowed_people

    if cache.is_file():
        with open(cache, "rb") as fh:
            data = pickle.load(fh)
        if data.get("recipe") == LEVELS_RECIPE and (fresh is None or "fresh" in data):
            return data
    starts = {"wide": {_key(o): o["starts"] for o in wide["outputs"]}}
    for name, d in phone.items():
        starts[name] = {_key(o): o["starts"] for o in d["outputs"]}
    out: dict = {"recipe": LEVELS_RECIPE, **{c: {} for c in starts}}
    people = windowed_people(extra=EXTRA_ENROLMENT)
    for meta, x in windowed_mixes(people, dict.fromkeys(people), music_dir):
        k = _key(meta)
        if k in starts["wide"]:
            out["wide"][k] = window_levels_at(x, starts["wide"][k])
        for name in phone:
            if k in starts[name]:
                out[name][k] = window_levels_at(telephone(x, channel=name), starts[name][k])
    if fresh is not None:
        from voice_fresh import fresh_mixes, fresh_people

        people = {s: u for s, u in fresh_people().items() if s in fresh["enrolled"]}
        have = {_key(o): o["starts"] for o in fresh["outputs"]}
        out["fresh"] = {_key(m): window_levels_at(x, have[_key(m)])
                        for m, x in fresh_mixes(people, music_dir) if _key(m) in have}
    missing = {c: len(starts[c]) - len(out[c]) for c in starts if len(out[c]) != len(starts[c])}
    if missing:
        raise SystemExit(f"--levels-cache: outputs not made again: {missing}")
    cache.parent.mkdir(parents=True, exist_ok=True)
    with open(cache, "wb") as fh:
        pickle.dump(out, fh)
    return out


#: Registry sizes drawn on dev (a fold holds about 10 voices) and on the held-out sets.
DEV_SIZES = (1, 3, 7)
HELD_OUT_SIZES = (1, 3, 7, 21)
#: Share of dev telephone outputs with a false match the penalty is fitted to (the issue's rate).
PER_OUTPUT_RATE = 0.01
#: ``band_output`` (a dev diagnostic proposed after the held-out run, never scored on a held-out set): the penalty
#: applies only in outputs where at least this share of the kept windows is band-limited.
OUTPUT_NARROW_SHARE = 0.5


def penalised(levels: np.ndarray, delta: float, min_share: float = 0.0):
    """``normalise(sims, output, windows)`` for :func:`voice_windowed.score_outputs`: each window's similarities
    less ``delta`` where its upper band is under ``VOICE_NARROW_BAND_DB`` (``levels``: key -> per-window dB),
    in an output where at least ``min_share`` of the kept windows are so (0: every output)."""
    from consentry.services.check.service import VOICE_MIN_WINDOW_SPEECH_S, VOICE_NARROW_BAND_DB

    def normalise(sims: np.ndarray, output: dict, windows: np.ndarray) -> np.ndarray:
        keep = output["speech_s"] >= VOICE_MIN_WINDOW_SPEECH_S - 1e-9
        level = levels[_key(output)][keep]
        narrow = np.nan_to_num(level, nan=0.0) < VOICE_NARROW_BAND_DB
        if narrow.size and narrow.mean() < min_share:
            return sims
        return sims - delta * narrow[:, None]

    return normalise


def split_maxima(levels: dict, wide_side: bool):
    """``normalise`` that keeps one side of the level: the narrow windows (``wide_side`` False) or the others,
    the far side lowered by 10 (so a row's non-targets are that side's best similarities)."""
    from consentry.services.check.service import VOICE_MIN_WINDOW_SPEECH_S, VOICE_NARROW_BAND_DB

    def normalise(sims: np.ndarray, output: dict, windows: np.ndarray) -> np.ndarray:
        keep = output["speech_s"] >= VOICE_MIN_WINDOW_SPEECH_S - 1e-9
        narrow = np.nan_to_num(levels[_key(output)][keep], nan=0.0) < VOICE_NARROW_BAND_DB
        return sims - 10.0 * (narrow if wide_side else ~narrow)[:, None]

    return normalise


def fit_record(wide: dict, phone: dict[str, dict], levels: dict) -> dict:
    """What :func:`fit_penalty` needs to be run again without the audio (``--record``): per dev telephone row, each
    non-target's best similarity in wideband windows and in band-limited ones (a penalty ``d`` makes it
    ``max(wide, narrow - d)``), and the fit."""
    from voice_reference import language_folds
    from voice_windowed import enrolled_prints, score_outputs

    from consentry.engines.voice.score import window_threshold
    from consentry.services.check.service import VOICE_MIN_WINDOW_SPEECH_S, VOICE_NARROW_BAND_DB

    sets = dev_sets(wide, phone)
    rows = []
    for c in [c for c in sets if c.endswith("_phone")]:
        outputs, enrolled, cond = sets[c]
        half_a = sorted(s for s, e in enrolled.items() if e["half"] == "A")
        folds = language_folds(half_a)
        for fold in (0, 1):
            names = [s for s in half_a if folds[s] == fold]
            prints = [enrolled_prints(enrolled[s], "one") for s in names]
            mine = [o for o in outputs if folds.get(o["probe"]) == fold]
            sides = [score_outputs(mine, names, prints, statistic="best_window", half="x",
                                   min_speech_s=VOICE_MIN_WINDOW_SPEECH_S, normalise=split_maxima(levels[cond], w))
                     for w in (True, False)]
            rows += [{"condition": c, "probe": a["probe"], "wide": [round(v, 6) for v in a["nontargets"]],
                      "narrow": [round(v, 6) for v in b["nontargets"]]} for a, b in zip(*sides)]
    threshold = window_threshold(7)
    return {"command": "benchmarks/voice_bandwise.py --record benchmarks/fits/voice_band_penalty.json",
            "level_db": VOICE_NARROW_BAND_DB, "threshold": threshold, "rate": PER_OUTPUT_RATE, "rows": rows,
            "fit": fit_penalty(lambda d: recorded_rows(rows, d), threshold)}


def recorded_rows(rows: list[dict], delta: float) -> list[dict]:
    """:func:`fit_record`'s rows as scored with penalty ``delta``."""
    return [{"nontargets": [max(w, n - delta) for w, n in zip(r["wide"], r["narrow"])]} for r in rows]


def rows_of(outputs: list[dict], enrolled: dict, names: list[str], levels: dict, delta, *,
            enrolment: str = "one") -> list[dict]:
    """:func:`voice_windowed.score_outputs` rows of ``outputs`` against ``names`` with the band penalty ``delta``
    (0: the shipped raw best window; or ``(delta, min_share)``, :func:`penalised`); ``enrolment`` "set": every
    print of a voice (:func:`both_prints`)."""
    from voice_windowed import enrolled_prints, score_outputs

    from consentry.services.check.service import VOICE_MIN_WINDOW_SPEECH_S

    prints = [enrolled_prints(enrolled[s], enrolment) for s in names]
    return score_outputs(outputs, names, prints, statistic="best_window", min_speech_s=VOICE_MIN_WINDOW_SPEECH_S,
                         half="x", normalise=penalised(levels, *np.atleast_1d(delta)) if np.any(delta) else None)


def dev_sets(wide: dict, phone: dict[str, dict]) -> dict[str, tuple[list[dict], dict, str]]:
    """Dev conditions: name -> (outputs, enrolled prints, levels' condition)."""
    out = {"wide": ([o for o in wide["outputs"] if o["half"] == "A"], wide["enrolled"], "wide")}
    for name, d in phone.items():
        out[f"{name}_phone"] = (d["outputs"], d["enrolled"], name)
        out[f"{name}_wide_enrolment"] = (d["outputs"], wide["enrolled"], name)
    return out


def fold_rows(outputs: list[dict], enrolled: dict, levels: dict, delta: float) -> list[dict]:
    """Each language fold's outputs (voice_reference.language_folds of half A) against a registry of that fold's
    enrolled voices."""
    from voice_reference import language_folds

    half_a = sorted(s for s, e in enrolled.items() if e["half"] == "A")
    folds = language_folds(half_a)
    rows = []
    for fold in (0, 1):
        names = [s for s in half_a if folds[s] == fold]
        rows += rows_of([o for o in outputs if folds.get(o["probe"]) == fold], enrolled, names, levels, delta)
    return rows


def false_share(rows: list[dict], threshold: float) -> float:
    return float(np.mean([max(r["nontargets"], default=-np.inf) >= threshold for r in rows]))


def fit_penalty(rows_at, threshold: float, *, rate: float = PER_OUTPUT_RATE) -> dict:
    """The least penalty (to 1e-4, rounded up) under which at most ``rate`` of the rows ``rows_at(delta)`` have
    a false match at ``threshold``; the share falls as the penalty grows, so it is found by bisection."""
    lo, hi = 0.0, 1.0
    if false_share(rows_at(hi), threshold) > rate:
        raise SystemExit("fit_penalty: no penalty up to 1.0 brings the dev false matches to the rate")
    if false_share(rows_at(lo), threshold) <= rate:
        return {"penalty": 0.0, "outputs": len(rows_at(lo))}
    while hi - lo > 1e-5:
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if false_share(rows_at(mid), threshold) > rate else (lo, mid)
    penalty = float(np.ceil(hi * 1e4) / 1e4)
    rows = rows_at(penalty)
    return {"penalty": penalty, "outputs": len(rows), "threshold": threshold, "rate": rate,
            "outputs_with_a_false_match": int(round(false_share(rows, threshold) * len(rows)))}


def by_size(outputs: list[dict], enrolled: dict, pool: list[str] | dict[int, list[str]], levels: dict,
            rules: dict, sizes, *, seed: int, enrolment: str = "one") -> dict:
    """Found and outputs with a false match per registry size and rule (``rules``: name -> penalty, or
    ``(penalty, min_share)``: :func:`penalised`), one draw of registries per output (voice_reference.registries),
    at ``window_threshold`` of the registry's size."""
    from fitting import wilson
    from voice_reference import registries

    from consentry.engines.voice.score import window_threshold

    out: dict = {}
    for n in sizes:
        voices = pool[n] if isinstance(pool, dict) else pool
        rng = np.random.default_rng(seed + n)
        draws = [registries(o, voices, n, rng) for o in outputs]
        for name, delta in rules.items():
            found = false = 0
            for o, (with_probe, without) in zip(outputs, draws):
                found += rows_of([o], enrolled, with_probe, levels, delta, enrolment=enrolment)[0][
                    "target"] >= window_threshold(len(with_probe))
                row = rows_of([o], enrolled, without, levels, delta, enrolment=enrolment)[0]
                false += max(row["nontargets"], default=-np.inf) >= window_threshold(len(without))
            m = len(outputs)
            out.setdefault(str(n), {})[name] = {
                "found": [int(found), m, [round(v, 4) for v in wilson(int(found), m)]],
                "outputs_with_a_false_match": [int(false), m, [round(v, 4) for v in wilson(int(false), m)]]}
    return out


def totals(report: dict, rule: str, conditions) -> tuple[int, int, int]:
    """(found, outputs with a false match, outputs) of ``rule`` summed over sizes and ``conditions``."""
    cells = [sizes[rule] for c in conditions for sizes in report[c].values()]
    return (sum(c["found"][0] for c in cells), sum(c["outputs_with_a_false_match"][0] for c in cells),
            sum(c["found"][1] for c in cells))


def dev_report(wide: dict, phone: dict[str, dict], levels: dict) -> dict:
    """The penalty fitted on the dev telephone outputs, then ``check_now`` and ``band_step`` on every dev
    condition with registries of 1, 3 and 7 of a fold's voices, and the pre-registered rule's verdict."""
    from voice_reference import language_folds

    sets = dev_sets(wide, phone)
    fit_on = [c for c in sets if c.endswith("_phone")]

    def rows_at(delta: float) -> list[dict]:
        return [r for c in fit_on for r in fold_rows(sets[c][0], sets[c][1], levels[sets[c][2]], delta)]

    from consentry.engines.voice.score import window_threshold

    fit = fit_penalty(rows_at, window_threshold(7)) | {"fitted_on": fit_on}
    rules = {"check_now": 0.0, "band_step": fit["penalty"],
             "band_output": (fit["penalty"], OUTPUT_NARROW_SHARE)}  # the last decides nothing (after the held-out)
    report: dict = {"fit": fit, "conditions": {}}
    for name, (outputs, enrolled, cond) in sets.items():
        half_a = sorted(s for s, e in enrolled.items() if e["half"] == "A")
        folds = language_folds(half_a)
        total: dict = {}
        for fold in (0, 1):
            part = by_size([o for o in outputs if folds.get(o["probe"]) == fold], enrolled,
                           [s for s in half_a if folds[s] == fold], levels[cond], rules, DEV_SIZES, seed=77 + fold)
            _sum_into(total, part)
        report["conditions"][name] = total
    report["narrow_windows"] = {c: _narrow_share(levels[c]) for c in levels if c != "recipe"}
    report["verdict"] = dev_verdict(report["conditions"])
    return report


def _sum_into(total: dict, part: dict) -> None:
    from fitting import wilson

    for n, rules in part.items():
        for name, r in rules.items():
            t = total.setdefault(n, {}).setdefault(name, {"found": [0, 0], "outputs_with_a_false_match": [0, 0]})
            for key in ("found", "outputs_with_a_false_match"):
                k, m = t[key][0] + r[key][0], t[key][1] + r[key][1]
                t[key] = [k, m, [round(v, 4) for v in wilson(k, m)]]


def _narrow_share(levels: dict) -> list:
    """[windows under the level, windows measured] of one condition."""
    from consentry.services.check.service import VOICE_NARROW_BAND_DB

    v = np.concatenate([np.asarray(x, np.float64) for x in levels.values()]) if levels else np.zeros(0)
    v = v[np.isfinite(v)]
    return [int((v < VOICE_NARROW_BAND_DB).sum()), int(v.size)]


def dev_verdict(conditions: dict) -> dict:
    """The dev rule written down before scoring (docs/voice.md, the s7 note)."""
    phone = [c for c in conditions if c != "wide"]
    same = [c for c in conditions if c.endswith("_phone")]
    now, new = totals(conditions, "check_now", phone), totals(conditions, "band_step", phone)
    wide_now, wide_new = totals(conditions, "check_now", ["wide"]), totals(conditions, "band_step", ["wide"])
    same_now, same_new = totals(conditions, "check_now", same), totals(conditions, "band_step", same)
    checks = {"telephone_fewer_false": new[1] < now[1],
              "wide_found_at_least_99pct": wide_new[0] >= 0.99 * wide_now[0],
              "wide_no_more_false": wide_new[1] <= wide_now[1],
              "phone_found_at_least_50pct": same_new[0] >= 0.5 * same_now[0]}
    return {"totals": {"telephone": {"check_now": now, "band_step": new},
                       "wide": {"check_now": wide_now, "band_step": wide_new},
                       "phone_enrolment": {"check_now": same_now, "band_step": same_new}},
            "checks": checks, "wins": all(checks.values())}


def held_out(wide: dict, fresh: dict, levels: dict, penalty: float) -> dict:
    """Run once: ``check_now`` and ``band_step`` on the Asterisk outputs and half B's, registries of 1, 3, 7 of
    the set's own voices and 21 of both sets' (voice_reference.held_out_report's draws), and the held-out rule."""
    enrolled = {**wide["enrolled"], **fresh["enrolled"]}
    asterisk = sorted(fresh["enrolled"])
    half_b = sorted(s for s, e in wide["enrolled"].items() if e["half"] == "B")
    rules = {"check_now": 0.0, "band_step": penalty}
    out: dict = {}
    for name, outputs, own, other, lv in (("asterisk", fresh["outputs"], asterisk, half_b, levels["fresh"]),
                                          ("half_B", [o for o in wide["outputs"] if o["half"] == "B"], half_b,
                                           asterisk, levels["wide"])):
        pools = {n: own if n < 21 else own + other for n in HELD_OUT_SIZES}
        out[name] = {"outputs": len(outputs), "pools": {str(n): len(p) for n, p in pools.items()},
                     "by_registry_size": by_size(outputs, enrolled, pools, lv, rules, HELD_OUT_SIZES, seed=2107)}
    a = {r: totals({"x": out["asterisk"]["by_registry_size"]}, r, ["x"]) for r in rules}
    b = {r: totals({"x": out["half_B"]["by_registry_size"]}, r, ["x"]) for r in rules}
    checks = {"asterisk_fewer_false": a["band_step"][1] < a["check_now"][1],
              "asterisk_found_at_least_50pct": a["band_step"][0] >= 0.5 * a["check_now"][0],
              "half_B_found_at_least_99pct": b["band_step"][0] >= 0.99 * b["check_now"][0],
              "half_B_no_more_false": b["band_step"][1] <= b["check_now"][1]}
    out["narrow_windows"] = {"asterisk": _narrow_share(levels["fresh"]),
                             "half_B": _narrow_share({k: v for k, v in levels["wide"].items() if k[0] == "B"})}
    out["verdict"] = {"totals": {"asterisk": a, "half_B": b}, "checks": checks, "ship": all(checks.values())}
    return out


def both_prints(wide: dict, second: dict) -> dict:
    """Half A's enrolled voices, each with its wideband print and, as a second print of the same creator, the print
    of the same enrolment clip through a telephone channel (``second``'s enrolments; a voice whose telephone clip
    the gate refused keeps its wideband print only)."""
    out = {}
    for s, e in wide["enrolled"].items():
        if e["half"] == "A":
            extra = [second["enrolled"][s]["campplus"]] if s in second["enrolled"] else []
            out[s] = {**e, "campplus_extra": extra}
    return out


def both_prints_report(wide: dict, phone: dict[str, dict], levels: dict, penalty: float) -> dict:
    """A dev diagnostic that decides nothing: a registry that keeps, per voice, the wideband print and its
    ``band``-channel print (a band-matched enrolment), scored with ``check_now`` and ``band_step`` on the wideband
    dev outputs and on both channels' telephone outputs; registries of 1, 3 and 7 of a fold's voices."""
    from voice_reference import language_folds

    enrolled = both_prints(wide, phone["band"])
    half_a = sorted(enrolled)
    folds = language_folds(half_a)
    rules = {"check_now": 0.0, "band_step": penalty, "band_output": (penalty, OUTPUT_NARROW_SHARE)}
    report: dict = {"second_print": "band channel", "voices_with_two_prints": sum(
        bool(e["campplus_extra"]) for e in enrolled.values()), "voices": len(enrolled), "conditions": {}}
    sets = {"wide": ([o for o in wide["outputs"] if o["half"] == "A"], "wide")}
    sets |= {name: (d["outputs"], name) for name, d in phone.items()}
    for name, (outputs, cond) in sets.items():
        total: dict = {}
        for fold in (0, 1):
            part = by_size([o for o in outputs if folds.get(o["probe"]) == fold], enrolled,
                           [s for s in half_a if folds[s] == fold], levels[cond], rules, DEV_SIZES, seed=77 + fold,
                           enrolment="set")
            _sum_into(total, part)
        report["conditions"][name] = total
    return report


def gate_refusals(channels=("wide", "g711", "band")) -> dict:
    """Enrolment clips the speech gate refuses, per channel: every half-A and half-B speaker's enrolment
    utterances (the first and the extra ones, >= 12 s) as recorded and through each telephone channel, and the
    Asterisk speakers' utterances (recorded at 8 kHz) as they are.  [refused, clips] with 95 % intervals."""
    from fitting import wilson
    from run_voice import RATE_HZ
    from voice_channel import telephone
    from voice_fresh import fresh_people
    from voice_windowed import EXTRA_ENROLMENT, windowed_people

    from consentry.engines.voice.encoder import load_encoder, speech_of
    from consentry.engines.voice.gate import is_speech

    encoder = load_encoder()

    def refused(x: np.ndarray) -> bool:
        _, found = speech_of(x, sample_rate_hz=RATE_HZ, encoder=encoder)
        return (not found.has_speech) or not bool(is_speech(found.vector)[0])

    counts: dict = {}
    refused_clips: dict = {}
    for s, (_, utts) in windowed_people(extra=EXTRA_ENROLMENT).items():
        clips = [utts[0], *utts[5:]]
        for c in channels:
            r = [refused(u if c == "wide" else telephone(u, channel=c)) for u in clips]
            k = counts.setdefault(c, [0, 0])
            k[0], k[1] = k[0] + sum(r), k[1] + len(r)
            if any(r):
                refused_clips.setdefault(c, []).append(f"{s}: {sum(r)} of {len(r)}")
    r_all = {s: [refused(u) for u in utts] for s, utts in fresh_people().items()}
    counts["asterisk_as_recorded"] = [sum(sum(v) for v in r_all.values()), sum(len(v) for v in r_all.values())]
    refused_clips["asterisk_as_recorded"] = [f"{s}: {sum(v)} of {len(v)}" for s, v in r_all.items() if any(v)]
    return {c: {"refused": k, "interval": [round(v, 4) for v in wilson(*k)], "speakers": refused_clips.get(c, [])}
            for c, k in counts.items()}


def cache_options(ap: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The caches both voice band benchmarks read (dev half A's windows, its telephone channels, their levels)."""
    ap.add_argument("--music-dir", default="benchmarks/work/fa-outputs")
    ap.add_argument("--cache", default="benchmarks/work/voice-windowed-v4.pkl")
    ap.add_argument("--g711-cache", default="benchmarks/work/voice-channel-v1.pkl")
    ap.add_argument("--band-cache", default="benchmarks/work/voice-channel-band-v1.pkl")
    ap.add_argument("--levels-cache", default="benchmarks/work/voice-bands-v1.pkl")
    return ap


def main() -> None:
    from voice_channel import CHANNEL_RECIPE
    from voice_fresh import FRESH_RECIPE
    from voice_windowed import WINDOWED_RECIPE, cached

    ap = cache_options(argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter))
    ap.add_argument("--fresh-cache", default="benchmarks/work/voice-fresh-v1.pkl")
    ap.add_argument("--held-out", action="store_true", help="also score the held-out sets (once)")
    ap.add_argument("--both-prints", action="store_true",
                    help="also the dev diagnostic of a registry with a telephone-band print per voice")
    ap.add_argument("--gate", action="store_true", help="also count the speech gate's refusals per channel")
    ap.add_argument("--make-channel", choices=("g711", "band"), default=None,
                    help="only make half B's outputs through this channel (a held-out set for a later rule: "
                         "benchmarks/work/voice-channel-B-<channel>-v1.pkl); nothing is scored")
    ap.add_argument("--record", default=None,
                    help="write the penalty's fit and the rows it was fitted on (benchmarks/fits/voice_band_penalty.json)")
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    t0, c0 = time.time(), time.process_time()
    if a.make_channel:
        from voice_channel import channel_outputs

        made = channel_outputs(Path(f"benchmarks/work/voice-channel-B-{a.make_channel}-v1.pkl"), Path(a.music_dir),
                               a.make_channel, half="B")
        print(json.dumps({"half": "B", "channel": a.make_channel, "enrolled": sorted(made["enrolled"]),
                          "outputs": len(made["outputs"]), "wall_s": round(time.time() - t0, 1)}))
        return
    wide = cached(Path(a.cache), WINDOWED_RECIPE, "--windowed recipe", "--cache")
    phone = {"g711": cached(Path(a.g711_cache), CHANNEL_RECIPE, "channel recipe", "--g711-cache"),
             "band": cached(Path(a.band_cache), CHANNEL_RECIPE, "channel recipe", "--band-cache")}
    for name, d in phone.items():
        if d.get("channel", "g711") != name:
            raise SystemExit(f"--{name}-cache: made with the {d.get('channel', 'g711')} channel")
    fresh = cached(Path(a.fresh_cache), FRESH_RECIPE, "fresh recipe", "--fresh-cache")
    levels = band_levels(Path(a.levels_cache), wide=wide, phone=phone, fresh=fresh, music_dir=Path(a.music_dir))
    report: dict = {"dev": dev_report(wide, phone, levels)}
    if a.record:
        rec = fit_record(wide, phone, levels)
        if rec["fit"]["penalty"] != report["dev"]["fit"]["penalty"]:
            raise SystemExit(f"--record: the recorded rows fit {rec['fit']['penalty']}, the scored ones "
                             f"{report['dev']['fit']['penalty']}")
        Path(a.record).write_text(json.dumps(rec, indent=0) + "\n")
    if a.both_prints:
        report["both_prints"] = both_prints_report(wide, phone, levels, report["dev"]["fit"]["penalty"])
    if a.held_out:
        report["held_out"] = held_out(wide, fresh, levels, report["dev"]["fit"]["penalty"])
    if a.gate:
        report["gate_refusals"] = gate_refusals()
    write_report(report, a.out, t0, c0)


def write_report(report: dict, out: str | None, t0: float, c0: float) -> None:
    """Add the run's cost (wall and CPU seconds since ``t0`` / ``c0``) to ``report``, print it, and write it to ``out``."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    report["cost"] = {"wall_s": round(time.time() - t0, 1), "cpu_s": round(time.process_time() - c0, 1),
                      "user_cpu_s": round(usage.ru_utime, 1)}
    text = json.dumps(report, indent=1)
    print(text)
    if out:
        Path(out).write_text(text + "\n")


if __name__ == "__main__":
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    main()
