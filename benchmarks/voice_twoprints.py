"""A second, telephone-band print per enrolled voice: does the check then find telephone copies of voices enrolled
from wideband recordings, without new false matches?

    nice -n 10 .venv/bin/python benchmarks/voice_twoprints.py [--held-out] [--out FILE]

A voice enrolled from a good recording is almost never found in a telephone copy (0-1 of 96 dev outputs,
voice_bandwise.py).  ``consentry voices enroll`` now also keeps a print of the same clip through a plain
300-3400 Hz band-limit at 8 kHz (:func:`consentry.engines.voice.band.telephone_band`, which is voice_channel.py's
``band`` channel); ``consentry check --voice-band-prints`` compares a creator's both prints and, in an output
whose speech windows are mostly band-limited, lowers the band-limited windows' similarities by
``VOICE_NARROW_BAND_PENALTY`` (rule ``two_prints``).  Compared with the shipped check (``check_now``: wideband prints,
no penalty), and ``two_prints_band_step`` (the penalty in every output; decides nothing).

- dev (half A): outputs as recorded (``wide``) and through both telephone channels (``g711``, ``band``); registries
  of 1, 3, 7 of a language fold's voices; the second prints are voice_channel.py's ``band`` enrolments.
- held-out (``--held-out``, once): half B's speech outputs through ``g711`` (voice-channel-B-g711-v1.pkl, never
  scored before) and half B's wideband outputs; registries of 1, 3, 7 of half B's voices and 21 of half B's and
  half A's.  Half B's second prints are made here (``--b-prints-cache``), and the band levels of the g711 set's
  windows (``--b-levels-cache``).  The decision rules were written down before (the session-7 voice2 note).
"""

from __future__ import annotations

import argparse
import pickle
import time
from pathlib import Path

import numpy as np

#: Version of the caches' recipe.
TWO_PRINTS_RECIPE = 1
DEV_SEEDS = (77, 78)
HELD_OUT_SEED = 2107


def rules(penalty: float, share: float) -> dict:
    """The rules scored with two prints (``by_size`` rules: penalty, or (penalty, least narrow share))."""
    return {"two_prints": (penalty, share), "two_prints_band_step": penalty}


def with_second(enrolled: dict, second: dict) -> dict:
    """``enrolled`` with each voice's second print (``second``: name -> print; none where the gate refused)."""
    return {s: {**e, "campplus_extra": [second[s]] if s in second else []} for s, e in enrolled.items()}


def score(outputs: list[dict], enrolled: dict, pools, levels: dict, sizes, seed: int, penalty: float,
          share: float) -> dict:
    """``check_now`` (first print only, no penalty) and the two-print rules, same registry draws."""
    from voice_bandwise import by_size

    out = by_size(outputs, enrolled, pools, levels, {"check_now": 0.0}, sizes, seed=seed, enrolment="one")
    two = by_size(outputs, enrolled, pools, levels, rules(penalty, share), sizes, seed=seed, enrolment="set")
    for n, r in two.items():
        out[n].update(r)
    return out


def verdict(telephone: dict, wide: dict, rule: str = "two_prints") -> dict:
    """The rule written before scoring: telephone found > check_now's and >= 10 % of the draws, telephone false <=
    max(check_now's, 1 % of the draws); wideband found >= 99 % of check_now's, false <= check_now's."""
    from voice_bandwise import totals

    tn, tr = totals(telephone, "check_now", list(telephone)), totals(telephone, rule, list(telephone))
    wn, wr = totals(wide, "check_now", list(wide)), totals(wide, rule, list(wide))
    checks = {"telephone_found_more": tr[0] > tn[0] and tr[0] >= 0.10 * tr[2],
              "telephone_false_at_most": tr[1] <= max(tn[1], 0.01 * tr[2]),
              "wide_found_at_least_99pct": wr[0] >= 0.99 * wn[0],
              "wide_no_more_false": wr[1] <= wn[1]}
    return {"totals": {"telephone": {"check_now": tn, rule: tr}, "wide": {"check_now": wn, rule: wr}},
            "checks": checks, "wins": all(checks.values())}


def dev(wide: dict, phone: dict[str, dict], levels: dict, penalty: float, share: float) -> dict:
    """Half A, per language fold, registries of 1, 3, 7; second prints from the ``band`` channel's enrolments."""
    from voice_bandwise import DEV_SIZES, _sum_into
    from voice_reference import language_folds

    half_a = {s: e for s, e in wide["enrolled"].items() if e["half"] == "A"}
    enrolled = with_second(half_a, {s: e["campplus"] for s, e in phone["band"]["enrolled"].items()})
    folds = language_folds(sorted(enrolled))
    sets = {"wide": [o for o in wide["outputs"] if o["half"] == "A"], **{c: d["outputs"] for c, d in phone.items()}}
    report: dict = {"voices_with_two_prints": [sum(bool(e["campplus_extra"]) for e in enrolled.values()),
                                               len(enrolled)], "conditions": {}}
    for name, outputs in sets.items():
        total: dict = {}
        for fold in (0, 1):
            part = score([o for o in outputs if folds.get(o["probe"]) == fold], enrolled,
                         sorted(s for s in enrolled if folds[s] == fold), levels[name], DEV_SIZES,
                         DEV_SEEDS[fold], penalty, share)
            _sum_into(total, part)
        report["conditions"][name] = total
    c = report["conditions"]
    report["verdict"] = verdict({k: c[k] for k in phone}, {"wide": c["wide"]})
    return report


def b_second_prints(cache: Path) -> dict:
    """Half B's enrolment clips (the first utterance, as voice_channel.py enrols) through the product's band-limit,
    printed; name -> print (none where the gate refused)."""
    if cache.is_file():
        data = pickle.loads(cache.read_bytes())
        if data.get("recipe") == TWO_PRINTS_RECIPE:
            return data["prints"]
    from run_voice import RATE_HZ, speaker_half
    from voice_windowed import EXTRA_ENROLMENT, windowed_people

    from consentry.engines.voice.band import telephone_band
    from consentry.engines.voice.model import load_voice_model, voice_print

    model = load_voice_model()
    prints = {}
    for s, (_, utts) in windowed_people(extra=EXTRA_ENROLMENT).items():
        if speaker_half(s) == "B":
            v = voice_print(telephone_band(utts[0], sample_rate_hz=RATE_HZ), sample_rate_hz=RATE_HZ, model=model)
            if v.vector is not None:
                prints[s] = v.vector
    cache.write_bytes(pickle.dumps({"recipe": TWO_PRINTS_RECIPE, "prints": prints}))
    return prints


def b_g711_levels(cache: Path, b_g711: dict, music_dir: Path | None) -> dict:
    """The upper-band level of each cached window of half B's g711 outputs (voice_bandwise.band_levels' measure)."""
    if cache.is_file():
        data = pickle.loads(cache.read_bytes())
        if data.get("recipe") == TWO_PRINTS_RECIPE:
            return data["levels"]
    from voice_bandwise import _key, window_levels_at
    from voice_channel import telephone
    from voice_windowed import EXTRA_ENROLMENT, windowed_mixes, windowed_people

    starts = {_key(o): o["starts"] for o in b_g711["outputs"]}
    people = windowed_people(extra=EXTRA_ENROLMENT)
    levels = {}
    for meta, x in windowed_mixes(people, dict.fromkeys(people), music_dir):
        k = _key(meta)
        if k in starts:
            levels[k] = window_levels_at(telephone(x, channel="g711"), starts[k])
    if len(levels) != len(starts):
        raise SystemExit(f"--b-levels-cache: {len(starts) - len(levels)} outputs not made again")
    cache.write_bytes(pickle.dumps({"recipe": TWO_PRINTS_RECIPE, "levels": levels}))
    return levels


def held_out(wide: dict, phone_band: dict, b_g711: dict, b_prints: dict, levels_wide: dict, levels_b: dict,
             penalty: float, share: float) -> dict:
    """Run once: half B's g711 outputs and wideband outputs, registries of 1, 3, 7 of half B's voices and 21 of
    half B's and half A's (half A's second prints: the band channel's dev enrolments)."""
    from voice_bandwise import HELD_OUT_SIZES

    second = {**{s: e["campplus"] for s, e in phone_band["enrolled"].items()}, **b_prints}
    enrolled = with_second(wide["enrolled"], second)
    half_b = sorted(s for s, e in enrolled.items() if e["half"] == "B")
    half_a = sorted(s for s, e in enrolled.items() if e["half"] == "A")
    pools = {n: half_b if n < 21 else half_b + half_a for n in HELD_OUT_SIZES}
    out: dict = {"voices_with_two_prints": {"B": [sum(s in second for s in half_b), len(half_b)]}}
    for name, outputs, lv in (("g711_B", b_g711["outputs"], levels_b),
                              ("wide_B", [o for o in wide["outputs"] if o["half"] == "B"], levels_wide)):
        out[name] = {"outputs": len(outputs),
                     "by_registry_size": score(outputs, enrolled, pools, lv, HELD_OUT_SIZES, HELD_OUT_SEED,
                                               penalty, share)}
    out["verdict"] = verdict({"g711_B": out["g711_B"]["by_registry_size"]},
                             {"wide_B": out["wide_B"]["by_registry_size"]})
    return out


def write_float_wav(path: Path, x: np.ndarray, rate: int) -> Path:
    """Mono 32-bit float WAV (no rounding to 16 bits: the product reads the samples made; beyond +-1 it clips)."""
    import struct

    data = np.asarray(x, "<f4").tobytes()
    fmt = struct.pack("<HHIIHH", 3, 1, rate, rate * 4, 4, 32)
    path.write_bytes(b"RIFF" + struct.pack("<I", 4 + 8 + len(fmt) + 8 + len(data)) + b"WAVE"
                     + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data)) + data)
    return path


def end_to_end(wide: dict, phone: dict[str, dict], levels: dict, n: int, workdir: Path,
               music_dir: Path | None) -> dict:
    """Dev only: half A's voices enrolled with ``consentry voices enroll``'s code (both prints) in a new registry,
    and the first ``n`` half-A speech outputs through ``g711`` checked with ``consentry check``'s code; each
    creator's decision against this benchmark's for the same registry (``two_prints`` from the caches)."""
    from run_voice import RATE_HZ, may_be_same
    from voice_bandwise import _key, rows_of
    from voice_channel import telephone
    from voice_windowed import EXTRA_ENROLMENT, windowed_mixes, windowed_people

    from consentry.engines.voice.score import window_threshold
    from consentry.services.check import service
    from consentry.services.registry import Registry
    from consentry.services.check.service import VOICE_NARROW_BAND_PENALTY, VOICE_NARROW_OUTPUT_SHARE

    workdir.mkdir(parents=True, exist_ok=True)
    people = windowed_people(extra=EXTRA_ENROLMENT)
    half_a = sorted(s for s, e in wide["enrolled"].items() if e["half"] == "A")
    enrolled = with_second({s: wide["enrolled"][s] for s in half_a},
                           {s: e["campplus"] for s, e in phone["band"]["enrolled"].items()})
    cached_out = {_key(o): o for o in phone["g711"]["outputs"]}
    rows, agree, total = [], 0, 0
    with Registry.open(workdir / "e2e.db") as reg:
        for s in half_a:
            clip = write_float_wav(workdir / f"{s.replace('/', '_')}.wav", people[s][1][0], RATE_HZ)
            service.enroll_voices(reg, creator=s, paths=[clip])
        ctx = service.prepare_check(reg, melody=False)
        threshold = window_threshold(len(half_a))
        for meta, x in windowed_mixes(people, dict.fromkeys(people), music_dir):
            if len(rows) >= n:
                break
            o = cached_out.get(_key(meta))
            if o is None:
                continue
            path = write_float_wav(workdir / "out.wav", telephone(x, channel="g711"), RATE_HZ)
            res = service.check_output(ctx, path)
            bench = rows_of([o], enrolled, half_a, levels["g711"], (VOICE_NARROW_BAND_PENALTY,
                                                                     VOICE_NARROW_OUTPUT_SHARE), enrolment="set")[0]
            judged = [s for s in half_a if s == o["probe"] or not any(may_be_same(s, p) for p in
                                                                      [o["probe"], *o["present"]])]
            product = {f["creator"]: f["is_match"] for f in res.voice}
            value = dict(zip(bench["nontarget_names"], bench["nontargets"])) | {o["probe"]: bench["target"]}
            for s in judged:
                total += 1
                agree += bool(product.get(s, False)) == bool(value[s] >= threshold)
            rows.append({"probe": o["probe"], "found_by_check": bool(product.get(o["probe"])),
                         "found_by_benchmark": bool(bench["target"] >= threshold),
                         "false_by_check": sorted(s for s in judged if s != o["probe"] and product.get(s)),
                         "false_by_benchmark": sorted(s for s in judged if s != o["probe"] and value[s] >= threshold),
                         "notes": res.notes})
    from fitting import wilson

    return {"outputs": len(rows), "voices": len(half_a), "decisions": total, "agree": agree,
            "agree_interval": [round(v, 4) for v in wilson(agree, total)],
            "found_by_check": sum(r["found_by_check"] for r in rows),
            "found_by_benchmark": sum(r["found_by_benchmark"] for r in rows),
            "outputs_false_by_check": sum(bool(r["false_by_check"]) for r in rows),
            "outputs_false_by_benchmark": sum(bool(r["false_by_benchmark"]) for r in rows), "rows": rows}


def main() -> None:
    from voice_channel import CHANNEL_RECIPE
    from voice_windowed import WINDOWED_RECIPE, cached

    from consentry.services.check.service import VOICE_NARROW_BAND_PENALTY, VOICE_NARROW_OUTPUT_SHARE

    from voice_bandwise import cache_options

    ap = cache_options(argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter))
    ap.add_argument("--b-g711-cache", default="benchmarks/work/voice-channel-B-g711-v1.pkl")
    ap.add_argument("--b-prints-cache", default="benchmarks/work/voice-twoprints-B-v1.pkl")
    ap.add_argument("--b-levels-cache", default="benchmarks/work/voice-bands-B-g711-v1.pkl")
    ap.add_argument("--held-out", action="store_true", help="also score the held-out sets (once)")
    ap.add_argument("--end-to-end", type=int, default=0, metavar="N",
                    help="dev only: enrol half A and check its first N g711 outputs with the product's code")
    ap.add_argument("--workdir", default="benchmarks/work/voice-twoprints-e2e")
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    t0, c0 = time.time(), time.process_time()
    wide = cached(Path(a.cache), WINDOWED_RECIPE, "--windowed recipe", "--cache")
    phone = {"g711": cached(Path(a.g711_cache), CHANNEL_RECIPE, "channel recipe", "--g711-cache"),
             "band": cached(Path(a.band_cache), CHANNEL_RECIPE, "channel recipe", "--band-cache")}
    for name, d in phone.items():
        if d.get("channel", "g711") != name or d.get("half", "A") != "A":
            raise SystemExit(f"--{name}-cache: not half A through the {name} channel")
    levels = pickle.loads(Path(a.levels_cache).read_bytes())
    penalty, share = VOICE_NARROW_BAND_PENALTY, VOICE_NARROW_OUTPUT_SHARE
    report: dict = {"penalty": penalty, "narrow_output_share": share,
                    "dev": dev(wide, phone, levels, penalty, share)}
    if a.end_to_end:
        report["end_to_end"] = end_to_end(wide, phone, levels, a.end_to_end, Path(a.workdir), Path(a.music_dir))
    if a.held_out:
        b_g711 = cached(Path(a.b_g711_cache), CHANNEL_RECIPE, "channel recipe", "--b-g711-cache")
        if b_g711.get("half") != "B" or b_g711.get("channel") != "g711":
            raise SystemExit("--b-g711-cache: not half B through the g711 channel")
        b_prints = b_second_prints(Path(a.b_prints_cache))
        levels_b = b_g711_levels(Path(a.b_levels_cache), b_g711, Path(a.music_dir))
        report["held_out"] = held_out(wide, phone["band"], b_g711, b_prints, levels["wide"], levels_b, penalty,
                                      share)
    from voice_bandwise import write_report

    write_report(report, a.out, t0, c0)


if __name__ == "__main__":
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    main()
