"""``run_voice.py --windowed --channel-cache FILE``: a statistic for small registries, chosen on dev speakers.

The cohort statistic (``consentry.engines.voice.score.cohort_normalised``) measures a window against the
registry's *other* creators, so it needs more than ``COHORT_MIN`` of them; a smaller registry falls back to the
raw best window, which falsely matched 14 of 126 outputs against the 7 Asterisk voices alone (voices recorded
alike).  The candidates here measure each window against a fixed *reference cohort* instead: half A's 20
speakers (the fitting half: KDE volunteers and fillets-ng actors), each as recorded and through one telephone
channel (voice_channel.py), 40 prints; no speaker of half B or of the Asterisk set is in it.

Dev data (half A only) in two conditions: ``wide`` (the ``--windowed`` outputs) and ``phone`` (its speech
outputs and enrolments through the telephone channel, so that every voice of an output shares it).  A cohort
must not hold the speakers it scores, so half A is split in two by language (:func:`language_folds`): each
fold's outputs are scored against a registry of that fold's voices and a cohort of the other fold's members,
less those that may be heard in the output.  Each candidate gets one threshold, 1 % of the dev outputs with a
false match, then is measured on dev with registries of 1, 3 and 7 voices; :func:`dev_winner` applies the rule
written down before (docs/voice.md).  With ``--fresh-cache``, the winner is measured once on the held-out sets
(half B, and the Asterisk speakers, both seen before for other decisions) with registries of 1, 3, 7 and 21
(:func:`held_out_report`).
"""

from __future__ import annotations

import numpy as np

from run_voice import language_of, may_be_same
from voice_windowed import enrolled_prints, score_outputs

#: Registry sizes reported (the brief's).
REGISTRY_SIZES = (1, 3, 7, 21)
#: A reference member whose print is at least this similar to a creator's enrolled print is left out of that
#: creator's cohort (it may be the creator): ``DEFAULT_THRESHOLD``, CAM++'s 1 % false-accept point for clips.
EXCLUDE_AT = 0.425
#: The reference variants compared.  ``reference``: each window against the cohort's members; ``reference_registry``:
#: against them and the registry's other creators; ``reference_centred``: minus the members' mean only;
#: ``reference_floor``: as ``reference`` with the spread floored at 0.1.
VARIANTS = ("reference", "reference_registry", "reference_centred", "reference_floor")
#: The spread each variant divides by is floored at (None: the cohort's mean is subtracted only).
SPREAD_FLOOR = {"reference": 0.01, "reference_registry": 0.01, "reference_centred": None, "reference_floor": 0.1}
#: Dev conditions: half A as recorded, and through one telephone channel (voice_channel.py).
CONDITIONS = ("wide", "phone")


def _unit_rows(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, dtype=np.float64)
    return m / np.maximum(np.linalg.norm(m, axis=1, keepdims=True), 1e-12)


def reference_members(dev: dict[str, dict]) -> tuple[list[str], list[str], np.ndarray]:
    """The reference cohort from the dev conditions: per half-A speaker (sorted) and condition, its enrolment
    print.  Returns ``(speakers, channels, prints)``, one entry per member; prints shape (members, 192)."""
    speakers, channels, rows = [], [], []
    for s in sorted(x for x, e in dev["wide"]["enrolled"].items() if e["half"] == "A"):
        for c in CONDITIONS:
            if s in dev[c]["enrolled"]:
                speakers.append(s)
                channels.append(c)
                rows.append(dev[c]["enrolled"][s]["campplus"])
    return speakers, channels, _unit_rows(np.stack(rows))


def reference_normalised(scores: np.ndarray, cohort_scores: np.ndarray, keep: np.ndarray, *,
                         spread_floor: float | None = 0.01) -> np.ndarray:
    """Window scores measured against a cohort chosen per creator (test normalisation, "t-norm").

    Parameters
    ----------
    scores : numpy.ndarray, shape (windows, creators)
        Cosine similarity of each window's print to each creator's voice.
    cohort_scores : numpy.ndarray, shape (windows, members)
        Cosine similarity of each window's print to each cohort member.
    keep : numpy.ndarray of bool, shape (creators, members)
        Which members form each creator's cohort; each row needs at least two.
    spread_floor : float or None
        Floor of the standard deviation divided by; None: the mean is subtracted only (``reference_centred``).

    Returns
    -------
    numpy.ndarray of float64, shape (windows, creators)
        ``(s[w, j] - m[w, j]) / max(d[w, j], spread_floor)``, where ``m`` and ``d`` are the mean and the
        standard deviation of window ``w``'s scores with creator ``j``'s cohort members.
    """
    s = np.asarray(scores, dtype=np.float64)
    c = np.asarray(cohort_scores, dtype=np.float64)
    k = np.asarray(keep, dtype=np.float64)
    if s.ndim != 2 or c.ndim != 2 or c.shape[0] != s.shape[0] or k.shape != (s.shape[1], c.shape[1]):
        raise ValueError(f"reference_normalised: scores {s.shape}, cohort scores {c.shape} and keep {k.shape} "
                         f"do not fit (windows, creators), (windows, members), (creators, members)")
    n = k.sum(axis=1)
    if s.shape[1] and n.min() < 2:
        raise ValueError("reference_normalised: every creator needs a cohort of at least 2 members")
    mean = (c @ k.T) / n
    if spread_floor is None:
        return s - mean
    var = np.maximum((c * c) @ k.T / n - mean * mean, 0.0)
    return (s - mean) / np.maximum(np.sqrt(var), spread_floor)


def reference_normalised_reference(scores, cohort_scores, keep, *, spread_floor: float | None = 0.01) -> np.ndarray:
    """Slow, obviously correct :func:`reference_normalised`: each creator against an explicit list of its members."""
    s = np.asarray(scores, dtype=np.float64)
    out = np.empty_like(s)
    for w in range(s.shape[0]):
        for j in range(s.shape[1]):
            members = [float(cohort_scores[w, m]) for m in range(len(keep[j])) if keep[j][m]]
            centred = s[w, j] - float(np.mean(members))
            out[w, j] = centred if spread_floor is None else centred / max(float(np.std(members)), spread_floor)
    return out


def language_folds(names: list[str]) -> dict[str, int]:
    """Fold 0 or 1 of each speaker, one fold per language (speakers of one language may be one person), the
    data sets spread over both: each data set's speakers in turn (sorted) go to the fold that holds fewer of
    that data set, unless their language already has a fold."""
    of_language: dict[str, int] = {}
    folds: dict[str, int] = {}
    for dataset in sorted({s.split("/", 1)[0] for s in names}):
        for s in sorted(n for n in names if n.startswith(dataset + "/")):
            lang = language_of(s)
            if lang not in of_language:
                count = [sum(folds.get(n) == f for n in names if n.startswith(dataset + "/")) for f in (0, 1)]
                of_language[lang] = int(count[1] < count[0])
            folds[s] = of_language[lang]
    return folds


def keep_mask(prints: list[np.ndarray], members: np.ndarray) -> np.ndarray:
    """(creators, members) bool: members less similar than :data:`EXCLUDE_AT` to every print of the creator."""
    return np.stack([(np.asarray(p, np.float64) @ members.T).max(axis=0) < EXCLUDE_AT for p in prints])


def normaliser(variant: str, prints: list[np.ndarray], member_speakers: list[str], members: np.ndarray, *,
               drop_heard: bool):
    """``normalise(sims, output, windows)`` for :func:`voice_windowed.score_outputs`.

    ``drop_heard``: leave out the members that may be a speaker heard in the output (dev, whose cohort is of
    the same half as the outputs' background speakers).
    """
    base = keep_mask(prints, members)

    def normalise(sims: np.ndarray, output: dict, windows: np.ndarray) -> np.ndarray:
        keep = base.copy()
        if drop_heard:
            heard = [output["probe"], *output["present"]]
            keep &= np.array([not any(may_be_same(m, h) for h in heard) for m in member_speakers])[None, :]
        cohort = windows @ members.T
        if variant == "reference_registry":
            cohort = np.hstack([sims, cohort])
            keep = np.hstack([~np.eye(sims.shape[1], dtype=bool), keep])
        return reference_normalised(sims, cohort, keep, spread_floor=SPREAD_FLOOR[variant])

    return normalise


def score(outputs: list[dict], enrolled: dict, names: list[str], variant: str | None, cohort, *,
          min_speech_s: float) -> list[dict]:
    """Rows of ``outputs`` against the registry ``names``: ``variant`` None is the check before this work (the
    raw best window with 10 or fewer creators, the other creators' cohort beyond), ``best_window`` the raw
    best window, else a reference variant with ``cohort`` = (member speakers, prints, drop_heard)."""
    from consentry.engines.voice.score import COHORT_MIN

    prints = [enrolled_prints(enrolled[s], "one") for s in names]
    if variant is None or variant == "best_window":
        stat = "cohort" if variant is None and len(names) > COHORT_MIN else "best_window"
        return score_outputs(outputs, names, prints, statistic=stat, min_speech_s=min_speech_s, half="x")
    speakers, members, drop = cohort
    return score_outputs(outputs, names, prints, statistic="reference", min_speech_s=min_speech_s, half="x",
                         normalise=normaliser(variant, prints, speakers, members, drop_heard=drop))


def fold_cohort(speakers: list[str], members: np.ndarray, folds: dict[str, int], fold: int):
    """The cohort of a dev fold: the other fold's members, leaving out those heard in each output."""
    i = [k for k, s in enumerate(speakers) if folds[s] != fold]
    return [speakers[k] for k in i], members[i], True


def fit_rows(dev: dict[str, dict], variant: str, *, min_speech_s: float) -> list[dict]:
    """The dev rows of ``variant`` (both conditions): each fold's outputs against a registry of that fold's
    voices (enrolled in the output's condition), with the other fold as the cohort."""
    speakers, _, members = reference_members(dev)
    folds = language_folds(sorted(set(speakers)))
    rows = []
    for condition in CONDITIONS:
        data = dev[condition]
        for fold in (0, 1):
            names = [s for s in sorted(data["enrolled"]) if data["enrolled"][s]["half"] == "A" and folds[s] == fold]
            outputs = [o for o in data["outputs"] if o["half"] == "A" and folds[o["probe"]] == fold]
            rows += [r | {"condition": condition} for r in score(
                outputs, data["enrolled"], names, variant, fold_cohort(speakers, members, folds, fold),
                min_speech_s=min_speech_s)]
    return rows


def threshold_for(fit: dict, n: int) -> float:
    """The fitted threshold for ``n`` creators: constant up to the fit's voices, then its tail per e-fold."""
    if n <= fit["voices"]:
        return fit["threshold"]
    return round(fit["threshold"] + fit["tail_scale"] * float(np.log(n / fit["voices"])), 4)


def registries(output: dict, pool: list[str], n: int, rng: np.random.Generator) -> tuple[list[str], list[str]]:
    """Two registries of up to ``n`` voices from ``pool`` for one output: with its pasted speaker (found) and
    without any voice that may be it (false matches); for ``n`` = 1 the latter holds no one heard in it."""
    probe = output["probe"]
    others = [s for s in pool if not may_be_same(s, probe)]
    with_probe = [probe] + [others[i] for i in sorted(rng.permutation(len(others))[:n - 1])]
    if n == 1:
        others = [s for s in others if not any(may_be_same(s, h) for h in output["present"])]
    without = [others[i] for i in sorted(rng.permutation(len(others))[:n])]
    return sorted(with_probe), sorted(without)


def by_registry_size(outputs: list[dict], enrolled: dict, pools: dict[int, list[str]], rules: dict, cohort_of, *,
                     min_speech_s: float, seed: int) -> dict:
    """Found and false-match counts per rule and registry size (95 % Wilson intervals).

    ``pools``: registry size -> the voices a registry of that size is drawn from (:func:`registries`, one
    draw per output, fixed ``seed``).  ``rules``: name -> (variant for :func:`score`, threshold as a function
    of the number of creators enrolled).  ``cohort_of(output)``: the cohort for a reference variant.
    """
    from fitting import wilson

    out: dict = {}
    for n, pool in pools.items():
        rng = np.random.default_rng(seed + n)
        draws = [registries(o, pool, n, rng) for o in outputs]
        for name, (variant, threshold_of) in rules.items():
            found = false = compared = 0
            for o, regs in zip(outputs, draws):
                for k, names in enumerate(regs):
                    row = score([o], enrolled, names, variant, cohort_of(o), min_speech_s=min_speech_s)[0]
                    limit = threshold_of(len(names))
                    if k == 0:
                        found += row["target"] >= limit
                    else:
                        compared += len(row["nontargets"])
                        false += max(row["nontargets"], default=-np.inf) >= limit
            m = len(outputs)
            out.setdefault(str(n), {})[name] = {
                "found": [int(found), m, [round(v, 4) for v in wilson(int(found), m)]],
                "outputs_with_a_false_match": [int(false), m, [round(v, 4) for v in wilson(int(false), m)]],
                "voices_compared_per_output_without_it": round(compared / m, 2)}
    return out


def _check_before(n: int) -> float:
    from consentry.engines.voice.score import COHORT_MIN, cohort_threshold, window_threshold

    return cohort_threshold(n) if n > COHORT_MIN else window_threshold(n)


def _best_window(n: int) -> float:
    from consentry.engines.voice.score import window_threshold

    return window_threshold(n)


def unenrolled_voice_report(data: dict, fresh: dict | None, *, min_speech_s: float) -> dict:
    """The two statistics the check has used, on outputs whose pasted voice is *not* enrolled, with registries
    of 11, 14 and 21 voices (the cohort statistic's range): half A (dev), and with ``fresh`` half B and the
    Asterisk set.  The cohort threshold was fitted with the pasted voice enrolled (run_voice.py --windowed);
    an output that uses no enrolled voice is the false-alarm case the issue names."""
    enrolled = {**data["enrolled"], **(fresh or {"enrolled": {}})["enrolled"]}
    rules = {"check_before": (None, _check_before), "best_window": ("best_window", _best_window)}
    half = {h: sorted(s for s, e in data["enrolled"].items() if e["half"] == h) for h in ("A", "B")}
    sets = {"half_A": ([o for o in data["outputs"] if o["half"] == "A"], half["A"])}
    if fresh is not None:
        asterisk = sorted(fresh["enrolled"])
        sets |= {"half_B": ([o for o in data["outputs"] if o["half"] == "B"], half["B"] + asterisk),
                 "asterisk": (fresh["outputs"], asterisk + half["B"])}
    return {name: by_registry_size(outputs, enrolled, {n: pool for n in (11, 14, 21)}, rules, lambda o: None,
                                   min_speech_s=min_speech_s, seed=2107) for name, (outputs, pool) in sets.items()}


def dev_report(dev: dict[str, dict], *, min_speech_s: float) -> tuple[dict, dict]:
    """Each rule fitted on both dev conditions (1 % of outputs with a false match), then measured on dev with
    registries of 1, 3 and 7 of a fold's voices.  Returns ``(report, fits)``."""
    from fitting import fit_window_threshold

    speakers, channels, members = reference_members(dev)
    folds = language_folds(sorted(set(speakers)))
    report: dict = {"cohort": [f"{s} ({c})" for s, c in zip(speakers, channels)], "folds": folds, "fits": {}}
    fits = {}
    for variant in ("best_window", *VARIANTS):
        rows = fit_rows(dev, variant, min_speech_s=min_speech_s)
        fits[variant] = fit_window_threshold(rows) | {"rows": rows}
        report["fits"][variant] = {k: v for k, v in fits[variant].items() if k != "rows"}
    rules = {"check_before": (None, _check_before)}
    rules |= {f"{v}_refit" if v == "best_window" else v: (v, lambda n, f=fits[v]: threshold_for(f, n))
              for v in ("best_window", *VARIANTS)}
    report["by_registry_size"] = _dev_sizes(dev, rules, speakers, members, folds, min_speech_s=min_speech_s)
    report["winner"] = dev_winner(report["by_registry_size"])
    # A diagnostic that decides nothing: each candidate at a threshold fitted on the wideband outputs only,
    # measured in both conditions (does a cohort with telephone members keep a wideband threshold honest?).
    wide = {}
    for variant in ("best_window", *VARIANTS):
        fit = fit_window_threshold([r for r in fits[variant]["rows"] if r["condition"] == "wide"])
        wide[variant] = (variant, lambda n, f=fit: threshold_for(f, n))
        report.setdefault("wide_only_thresholds", {})[variant] = fit["threshold"]
    report["by_registry_size_wide_only_thresholds"] = _dev_sizes(dev, wide, speakers, members, folds,
                                                                 min_speech_s=min_speech_s)
    return report, fits


def _dev_sizes(dev: dict, rules: dict, speakers: list[str], members: np.ndarray, folds: dict, *,
               min_speech_s: float) -> dict:
    """:func:`by_registry_size` on dev: per condition, each fold's outputs with registries of 1, 3 and 7 of the
    fold's voices and the other fold as the cohort, the folds summed."""
    out: dict = {}
    for condition in CONDITIONS:
        data = dev[condition]
        for fold in (0, 1):
            names = [s for s in sorted(data["enrolled"]) if data["enrolled"][s]["half"] == "A" and folds[s] == fold]
            outputs = [o for o in data["outputs"] if o["half"] == "A" and folds[o["probe"]] == fold]
            cohort = fold_cohort(speakers, members, folds, fold)
            part = by_registry_size(outputs, data["enrolled"], {n: names for n in REGISTRY_SIZES[:3]}, rules,
                                    lambda o, c=cohort: c, min_speech_s=min_speech_s, seed=77 + fold)
            _add(out.setdefault(condition, {}), part)
    return out


#: Candidates in the order a tie is broken (the simpler first).
CANDIDATES = ("best_window_refit", *VARIANTS)


def dev_winner(by_size: dict) -> str | None:
    """The dev rule (docs/voice.md): a candidate wins if, summed over the dev registry sizes and conditions, it
    finds at least as many voices as ``check_before`` and has no more outputs with a false match, one of the
    two strictly; among winners the fewest false matches, then the most found, then the simpler."""
    def totals(rule: str) -> tuple[int, int]:
        cells = [sizes[rule] for condition in by_size.values() for sizes in condition.values()]
        return sum(c["found"][0] for c in cells), sum(c["outputs_with_a_false_match"][0] for c in cells)

    found0, false0 = totals("check_before")
    winners = [(totals(c)[1], -totals(c)[0], k, c) for k, c in enumerate(CANDIDATES)
               if totals(c)[0] >= found0 and totals(c)[1] <= false0 and totals(c) != (found0, false0)]
    return min(winners)[3] if winners else None


def _add(total: dict, part: dict) -> None:
    """Sum the counts of ``part`` into ``total`` (same layout as :func:`by_registry_size`), intervals redone."""
    from fitting import wilson

    for n, rules in part.items():
        for name, r in rules.items():
            t = total.setdefault(n, {}).setdefault(name, {"found": [0, 0], "outputs_with_a_false_match": [0, 0],
                                                          "compared": 0.0})
            for key in ("found", "outputs_with_a_false_match"):
                t[key] = [t[key][0] + r[key][0], t[key][1] + r[key][1]]
                t[key] = t[key][:2] + [[round(v, 4) for v in wilson(*t[key][:2])]]
            t["compared"] += r["voices_compared_per_output_without_it"] * r["found"][1]


def held_out_report(dev: dict[str, dict], fresh: dict, fits: dict, variant: str | None, *,
                    min_speech_s: float) -> dict:
    """The check before and ``variant`` (if any; with the shipped cohort: every dev member), at their dev
    thresholds, on the Asterisk outputs and half B's, with registries of 1, 3 and 7 of the set's own voices and
    21 (both sets' voices)."""
    speakers, _, members = reference_members(dev)
    data = dev["wide"]
    enrolled = {**data["enrolled"], **fresh["enrolled"]}
    held_speakers = {s for s, e in enrolled.items() if e["half"] != "A"}
    held_speakers |= {s for o in fresh["outputs"] for s in [o["probe"], *o["present"]]}
    if set(speakers) & held_speakers:
        raise SystemExit("--reference: a held-out speaker is in the reference cohort")
    rules = {"check_before": (None, _check_before), "best_window": ("best_window", _best_window)}
    if variant is not None:
        base = "best_window" if variant == "best_window_refit" else variant
        rules[variant] = (base, lambda n, f=fits[base]: threshold_for(f, n))
    asterisk = sorted(fresh["enrolled"])
    half_b = sorted(s for s, e in data["enrolled"].items() if e["half"] == "B")
    out = {}
    for name, outputs, own, other in (("asterisk", fresh["outputs"], asterisk, half_b),
                                      ("half_B", [o for o in data["outputs"] if o["half"] == "B"], half_b, asterisk)):
        pools = {n: own if n < 21 else own + other for n in REGISTRY_SIZES}
        out[name] = {"outputs": len(outputs), "pools": {str(n): len(p) for n, p in pools.items()},
                     "by_registry_size": by_registry_size(outputs, enrolled, pools, rules,
                                                          lambda o: (speakers, members, False),
                                                          min_speech_s=min_speech_s, seed=2107)}
    return out


def reference(args, data: dict, fresh: dict | None, music_dir) -> tuple[dict, dict]:
    """``--channel-cache``: the dev report, the winner's held-out report (with ``--fresh-cache``), and its record
    (the winner, its fit and dev rows, the cohort); ``--write-cohort FILE`` writes the cohort's prints there."""
    from pathlib import Path

    from voice_channel import channel_outputs

    from consentry.services.check.service import VOICE_MIN_WINDOW_SPEECH_S

    dev = {"wide": data, "phone": channel_outputs(Path(args.channel_cache), music_dir,
                                                  getattr(args, "channel", None) or "g711")}
    report, fits = dev_report(dev, min_speech_s=VOICE_MIN_WINDOW_SPEECH_S)
    report["unenrolled_voice"] = unenrolled_voice_report(data, fresh, min_speech_s=VOICE_MIN_WINDOW_SPEECH_S)
    winner = report["winner"]
    record: dict = {"winner": winner, "exclude_at": EXCLUDE_AT, "cohort": report["cohort"]}
    if winner is None:  # the held-out sets measure the shipped check only, and nothing is written
        if fresh is not None:
            report["held_out"] = held_out_report(dev, fresh, fits, None, min_speech_s=VOICE_MIN_WINDOW_SPEECH_S)
        return report, record
    base = "best_window" if winner == "best_window_refit" else winner
    record |= {"fit": {k: v for k, v in fits[base].items() if k != "rows"},
               "rows_dev": [{"target": round(r["target"], 6), "nontargets": [round(v, 6) for v in r["nontargets"]]}
                            for r in fits[base]["rows"]]}
    if fresh is not None:
        report["held_out"] = held_out_report(dev, fresh, fits, winner, min_speech_s=VOICE_MIN_WINDOW_SPEECH_S)
    if getattr(args, "write_cohort", None):
        speakers, channels, members = reference_members(dev)
        np.savez(args.write_cohort, prints=members.astype(np.float32), speakers=np.array(speakers),
                 channels=np.array(channels), engine=np.array(data["engine"]))
    return report, record
